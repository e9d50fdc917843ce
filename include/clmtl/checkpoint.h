/* Checkpoints as safetensors files: every named tensor of a graph (parameters and batch-norm
 * running statistics), optionally the optimizer's moments and step counter, and string
 * metadata. Saving is atomic (temporary file, fsync, rename); loading is strict and validates
 * the whole file before touching the graph: its structure, its standard metadata, the model
 * text against its hash, and every value (finite; variances not negative). Training loops and
 * --resume live elsewhere.
 *
 * File layout (https://github.com/huggingface/safetensors): an 8-byte little-endian u64 N, N
 * bytes of JSON header, then the raw little-endian float32 data, tensors packed in header order
 * with data_offsets relative to the start of the data section. The header is padded with
 * spaces to a multiple of 8 bytes.
 *
 * Tensor names are clm_graph_named's ("enc1.weight", "enc1.bn.running_mean",
 * "task.semantic.task_param"), shaped as a PyTorch state dict stores them:
 *   conv/deconv weight                      (K, C, R, S), 4-D even for 1x1 kernels
 *   bias, BN weight/bias/running stats      (C), 1-D
 *   task_param                              (1), 1-D (not 0-D: one float, one dimension)
 * plus, when an optimizer state is given, "optimizer.m" and "optimizer.v" (n), 1-D, in the
 * layout of the flat parameter buffer (clm_graph_params), and "optimizer.step" (1), 1-D.
 *
 * __metadata__ (string values only): "format" = "clmtl-1", "model_fnv1a64" = 16 lowercase hex
 * digits of the FNV-1a 64-bit hash of the model file text, "step", "epoch" (decimal),
 * "strategy", then the caller's extra pairs in the order given. */
#ifndef CLMTL_CHECKPOINT_H
#define CLMTL_CHECKPOINT_H

#include <stdint.h>
#include "clmtl/graph.h"
#include "clmtl/mtl.h"
#include "clmtl/optim.h"
#include "clmtl/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CLM_CHECKPOINT_FORMAT "clmtl-1"

/* One metadata entry. Strings are NUL-terminated UTF-8. */
typedef struct clm_checkpoint_meta {
  const char *key;
  const char *value;
} clm_checkpoint_meta;

/* What every checkpoint records besides the tensors. */
typedef struct clm_checkpoint_info {
  const char *model_text; /* model file text, hashed into "model_fnv1a64"; NULL: key omitted */
  long long step;         /* optimizer steps taken so far */
  int epoch;              /* epochs completed */
  const char *strategy;   /* multi-task weighting name; NULL: "" */
} clm_checkpoint_info;

/* What the first bytes of a file look like: safetensors starts with an 8-byte little-endian
 * header length then '{'; a model file is text whose first non-blank, non-comment line is a
 * '[section]'. Used where a model file or a checkpoint is expected, so that the other kind is
 * named in the message. */
typedef enum clm_file_kind {
  CLM_FILE_UNKNOWN = 0,
  CLM_FILE_SAFETENSORS = 1,
  CLM_FILE_MODEL_TEXT = 2
} clm_file_kind;
CLMTL_API clm_file_kind clm_file_sniff(const void *bytes, size_t n);
/* "a safetensors checkpoint", "a model file (text with [sections])", "neither". */
CLMTL_API const char *clm_file_kind_name(clm_file_kind k);

/* FNV-1a 64-bit hash of `text` as 16 lowercase hex digits (out holds 17 chars). */
CLMTL_API void clm_checkpoint_model_hash(const char *text, char out[17]);

/* Writes the named tensors of compiled graph g (and opt's m, v, step when opt is not NULL;
 * opt->n must equal the parameter count) to `path`. The file is first written to
 * "<path>.tmp.<pid>", flushed and fsync'd, then renamed over `path`, and the directory is
 * fsync'd. On failure the temporary file is removed and an existing file at `path` is left as
 * it was. extra: nextra additional metadata pairs; their keys must differ from the standard
 * ones and from each other. info may be NULL (step 0, epoch 0, no model hash). */
CLMTL_API clm_status clm_checkpoint_save(const char *path, clm_graph *g, const clm_optim_state *opt,
                               const clm_checkpoint_info *info, const clm_checkpoint_meta *extra,
                               int nextra);

/* Reads `path` into compiled graph g (and opt when not NULL: then "optimizer.m", "optimizer.v"
 * and "optimizer.step" are required; when NULL they are skipped). Every check is done before
 * anything is uploaded: header length against the file size, well-formed JSON, each entry's
 * dtype (F32 only), shape and data_offsets (in the data section, size 4 * numel, no overlap),
 * every graph tensor present, no unknown tensor, shapes equal to the graph's, the file size
 * exactly header + data, every value finite (NaN or Inf: CLM_ERR_NUMERIC naming the tensor and
 * the index of the first bad element; so is a negative value in a "*.running_var" or
 * "optimizer.v"), the standard metadata well-formed (below). A failed load leaves g and opt unchanged (short of a device failure
 * during the final uploads); the message names the file and the tensor.
 * meta_out / nmeta_out (either may be NULL): every __metadata__ pair in file order, in one
 * malloc'd block released by clm_checkpoint_meta_free. */
CLMTL_API clm_status clm_checkpoint_load(const char *path, clm_graph *g, clm_optim_state *opt,
                               clm_checkpoint_meta **meta_out, int *nmeta_out);

/* Reads and validates only the header of `path` and returns its metadata as above (for
 * --resume to find step and epoch before building anything). Tensor data is not read, but the
 * header's entries and the file size are checked as in clm_checkpoint_load.
 * Both readers refuse a path that is not a regular file (a FIFO is refused, never waited on)
 * and check the standard metadata when present: "step" and "epoch" decimal integers in
 * [0, LLONG_MAX] and [0, INT_MAX], "model_fnv1a64" 16 lowercase hex digits, and a "model_cfg"
 * entry (the model text clmtl train stores) must hash to "model_fnv1a64" (an edited model text
 * is refused). */
CLMTL_API clm_status clm_checkpoint_read_meta(const char *path, clm_checkpoint_meta **meta_out,
                                    int *nmeta_out);

/* Value of `key` among n pairs, or NULL. */
CLMTL_API const char *clm_checkpoint_meta_get(const clm_checkpoint_meta *meta, int n, const char *key);

/* Frees what clm_checkpoint_load / clm_checkpoint_read_meta returned; NULL does nothing. */
CLMTL_API void clm_checkpoint_meta_free(clm_checkpoint_meta *meta);

/* Checked conversions of metadata `key` of the checkpoint at `path` (named in messages): the
 * whole value must be a decimal integer (a number strtod reads) within [lo, hi]; NaN never is.
 * CLM_ERR_NOT_FOUND when the key is absent, CLM_ERR_PARSE otherwise, naming file, key, value. */
CLMTL_API clm_status clm_checkpoint_meta_int(const char *path, const clm_checkpoint_meta *meta, int n,
                                   const char *key, long long lo, long long hi, long long *out);
CLMTL_API clm_status clm_checkpoint_meta_double(const char *path, const clm_checkpoint_meta *meta, int n,
                                      const char *key, double lo, double hi, double *out);
/* count comma-separated numbers in metadata `key`, nothing else (NaN allowed: a task without
 * samples has a NaN mean); same errors as clm_checkpoint_meta_int. */
CLMTL_API clm_status clm_checkpoint_meta_list(const char *path, const clm_checkpoint_meta *meta, int n,
                                              const char *key, double *out, int count);

/* The multi-task weighting's state (mtl.h, clm_mtl_state) in a checkpoint's metadata (src/train/
 * checkpoint_mtl.c): "mtl_steps", "gradnorm_l0", "skipped_steps", "skipped_in_a_row" (in that
 * order in out[0..3]), then "dwa_epochs", "dwa_last", "dwa_before" (the epoch means, out[4..6]).
 * The values are written into *text, which must outlive out. */
#define CLM_CHECKPOINT_MTL_KEYS 7
typedef struct clm_checkpoint_mtl_text {
  char steps[24], l0[512], skipped[2][24], epochs[16], means[2][512];
} clm_checkpoint_mtl_text;
CLMTL_API void clm_checkpoint_mtl_meta(const clm_mtl_state *st, clm_checkpoint_mtl_text *text,
                                       clm_checkpoint_meta out[CLM_CHECKPOINT_MTL_KEYS]);
/* The state of `ntasks` tasks back from those keys, every value checked: the epoch means are
 * required; checkpoints from before the others were saved leave them as a fresh run's (0).
 * clm_mtl_state_set then restores it in one call. */
CLMTL_API clm_status clm_checkpoint_mtl_state(const char *path, const clm_checkpoint_meta *meta, int n,
                                              int ntasks, clm_mtl_state *out);

/* Whether the checkpoint at `path` (its metadata meta, n) was written for the model `text`
 * (read from `text_name`, for messages): "model_fnv1a64" must be present and, when the file
 * stores a "model_cfg", that text must hash to it. text NULL checks only that. On a mismatch
 * (CLM_ERR_INVALID_ARG) the message names the first differing line of the two texts and the
 * [section] it is in. */
CLMTL_API clm_status clm_checkpoint_check_model(const char *path, const clm_checkpoint_meta *meta, int n,
                                      const char *text, const char *text_name);

/* For a program's SIGINT / SIGTERM handler: removes the temporary file of the save in progress
 * (if any; with saves running on several threads at once, the latest one's) so that an
 * interrupted save leaves nothing behind. Async-signal-safe; call it, then let the signal end
 * the process (the interrupted save must not continue). Files left by a process that was
 * killed outright (SIGKILL) are removed by clm_rundir_open at the next start. */
CLMTL_API void clm_checkpoint_signal_cleanup(void);

#ifdef __cplusplus
}
#endif

#endif
