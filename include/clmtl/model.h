/* A trained model opened from its checkpoint (src/train/model_load.c), next to where clmtl
 * train writes the metadata it reads (checkpoint.h): the graph rebuilt from the model text in
 * the metadata, compiled at the training resolution (or another), the weights loaded and batch
 * norm folded for inference, and what the metadata says about the data it was trained on. */
#ifndef CLMTL_MODEL_H
#define CLMTL_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include "clmtl/export.h"
#include "clmtl/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clm_model_load_options {
  int batch;         /* rows of the compiled graph; 0: 1 */
  int height, width; /* the network's resolution; 0: the checkpoint's */
} clm_model_load_options;

typedef struct clm_model_info {
  int height, width;             /* the resolution the graph was compiled at */
  int train_height, train_width; /* the checkpoint's ("height", "width") */
  uint64_t seed;                 /* the synthetic data seed it was trained with ("data_seed"; 1) */
  char label_set[64];            /* "label_set"; "" when none is recorded */
  char **class_names;            /* "class_names" (a JSON array of strings), or NULL */
  int nclass_names;
} clm_model_info;

/* Opens the checkpoint at path: its model text (checked against its hash), the numbers with
 * their ranges, a graph created on ctx, compiled with opts (NULL: batch 1 at the checkpoint's
 * resolution), loaded and prepared for inference. On success *graph is the caller's
 * (clm_graph_free) and *info is filled (clm_model_info_free); on failure both are cleared and
 * the message names the file. */
CLMTL_API clm_status clm_model_load(clm_context *ctx, const char *path,
                                    const clm_model_load_options *opts, clm_graph **graph,
                                    clm_model_info *info);
/* Class c's name: the checkpoint's, else its label set's, else "class<c>" (written to buf). */
CLMTL_API const char *clm_model_class_name(const clm_model_info *info, int c, char *buf,
                                           size_t size);
/* Frees what info holds (the class names) and clears it; NULL does nothing. */
CLMTL_API void clm_model_info_free(clm_model_info *info);

#ifdef __cplusplus
}
#endif

#endif
