/* Internal: a run's options as JSON (train_options.c), for trainer.c. */
#ifndef CLMTL_TRAIN_OPTIONS_IMPL_H
#define CLMTL_TRAIN_OPTIONS_IMPL_H

#include "clmtl/train.h"

/* The options as one JSON object keyed by the command line's option names ("lr", "size", ...);
 * model_name is what "model" records. malloc'd; NULL when out of memory. */
char *clm__train_options_json(const clm_train_options *o, const char *model_name);

/* Compares a run's stored options (JSON from its checkpoint at path) with this run's: an option
 * that may not change on resume and differs fails naming it and both values; *changes receives
 * a JSON object {"epochs":{"from":6,"to":8},...} of the allowed changes (malloc'd), or NULL. */
clm_status clm__train_options_compare(const char *path, const char *stored, const char *now,
                                      char **changes);

/* The string value of key in a JSON object into out: 1, or 0 when it has none. */
int clm__train_options_string(const char *json, const char *key, char *out, size_t size);

#endif
