/* Shared declarations of the clmtl command-line program's sub-commands. */
#ifndef CLMTL_CLI_H
#define CLMTL_CLI_H

#include <signal.h>
#include <stddef.h>
#include "clmtl/clmtl.h"

#define CLI_TRY(expr)                                                                        \
  do {                                                                                       \
    clm_status st_ = (expr);                                                                 \
    if (st_ != CLM_OK) return st_;                                                           \
  } while (0)

/* Bounds of --batch and --size (cli_args.c), the same for every sub-command that takes them. */
#define CLI_BATCH_MAX 4096
#define CLI_SIDE_MIN 4
#define CLI_SIDE_MAX 4096
/* Parse --batch N / --size HxW within those bounds: 0, or print "clmtl CMD: OPT VAL: what is
 * wanted" and return the usage-error status 2. */
int cli_parse_batch(const char *cmd, const char *opt, const char *val, int *batch);
int cli_parse_size(const char *cmd, const char *opt, const char *val, int *height, int *width);

/* A table-driven option parser (cli_args.c), the one style of every sub-command's options. */
typedef enum cli_opt_kind {
  CLI_FLAG,   /* no value: *(int *)out = 1 */
  CLI_STRING, /* *(const char **)out = the value (it points into argv) */
  CLI_INT,    /* *(int *)out: a decimal integer in [lo, hi] */
  CLI_FLOAT,  /* *(float *)out: a finite number > 0 */
  CLI_BATCH,  /* *(int *)out: as cli_parse_batch */
  CLI_SIZE,   /* *(int *)out = height, *out2 = width: as cli_parse_size */
  CLI_CHOICE, /* *(int *)out = the index of the value in choices (NULL-terminated) */
  CLI_LONG,   /* *(long *)out: a decimal integer in [lo, hi] */
  CLI_REAL,   /* *(float *)out: a finite number in [flo, fhi] */
  CLI_CALL    /* call(out, name, value): custom parsing; 0, or 2 with the message printed */
} cli_opt_kind;

typedef struct cli_opt {
  const char *name; /* "--batch"; the table ends with a NULL name */
  cli_opt_kind kind;
  void *out;
  int *out2;
  long lo, hi;
  const char *const *choices;
  double flo, fhi;
  int (*call)(void *ctx, const char *opt, const char *val);
} cli_opt;

/* Table rows, one per option kind; CLI_OPT_END ends the table. */
#define CLI_OPT_FLAG(name, p) {name, CLI_FLAG, p, NULL, 0, 0, NULL, 0, 0, NULL}
#define CLI_OPT_STRING(name, p) {name, CLI_STRING, p, NULL, 0, 0, NULL, 0, 0, NULL}
#define CLI_OPT_INT(name, p, lo, hi) {name, CLI_INT, p, NULL, lo, hi, NULL, 0, 0, NULL}
#define CLI_OPT_LONG(name, p, lo, hi) {name, CLI_LONG, p, NULL, lo, hi, NULL, 0, 0, NULL}
#define CLI_OPT_FLOAT(name, p) {name, CLI_FLOAT, p, NULL, 0, 0, NULL, 0, 0, NULL}
#define CLI_OPT_REAL(name, p, lo, hi) {name, CLI_REAL, p, NULL, 0, 0, NULL, lo, hi, NULL}
#define CLI_OPT_BATCH(name, p) {name, CLI_BATCH, p, NULL, 0, 0, NULL, 0, 0, NULL}
#define CLI_OPT_SIZE(name, h, w) {name, CLI_SIZE, h, w, 0, 0, NULL, 0, 0, NULL}
#define CLI_OPT_CHOICE(name, p, choices) {name, CLI_CHOICE, p, NULL, 0, 0, choices, 0, 0, NULL}
#define CLI_OPT_CALL(name, ctx, fn) {name, CLI_CALL, ctx, NULL, 0, 0, NULL, 0, 0, fn}
#define CLI_OPT_END {NULL, CLI_FLAG, NULL, NULL, 0, 0, NULL, 0, 0, NULL}

/* Parses argv[1..argc) against opts (ending with CLI_OPT_END). Positional arguments (those not
 * starting with '-', and a lone "-") go to pos[0..*npos), at most maxpos of them. Returns 0;
 * -1 after printing `usage` to stdout for --help or -h; 2 (the usage-error status) after
 * printing "clmtl CMD: ..." for an unknown option (named, followed by the usage), a missing
 * value, a value out of its range, or one positional argument too many. */
int cli_args_parse(const char *cmd, const char *usage, const cli_opt *opts, int argc, char **argv,
                   const char **pos, int maxpos, int *npos);

/* The context options from the environment (cli_env.c, the only reader of CLMTL_* variables):
 * CLMTL_DEVICE, CLMTL_CACHE, CLMTL_CACHE_DIR (default $XDG_CACHE_HOME/clmtl or ~/.cache/clmtl),
 * CLMTL_KERNEL_DIR, CLMTL_TUNING, CLMTL_CONV_VARIANT, CLMTL_FUSE, CLMTL_MEMORY_LIMIT; warnings
 * go to cli_message. Strings point into the environment or static storage. */
clm_context_options cli_context_options_from_env(void);
/* The --device value when given, else $CLMTL_DEVICE, else NULL (the library's default). */
const char *cli_device(const char *arg);
/* A context with the environment's options and this --device value (NULL: $CLMTL_DEVICE). */
clm_status cli_context_create(const char *device, clm_context **out);
/* The message callback of CLI contexts: "clmtl: message" on stderr. */
void cli_message(void *user, const char *message);

/* The signal that asked a training run to stop (0: none), and whether the handler should only
 * record it (1 while clm_train_run runs); clmtl.c's handler. */
extern volatile sig_atomic_t cli_stop_signal, cli_stop_graceful;
/* argv[0], for commands printed to the user ("./build/clmtl train --resume DIR"). */
extern const char *cli_program;

/* clm_last_error(), followed by " [at compile.c:265]" (clm_last_error_location) when
 * CLMTL_DEBUG=1 (cli_env.c). */
const char *cli_error(void);

/* Prints "clmtl: msg" and returns the usage-error exit status (2). */
int cli_usage_error(const char *msg);

/* Random data for every input of a compiled graph (cli.c): class ids for softmax
 * targets, 0/1 masks, uniform in [-1, 1] elsewhere; deterministic from seed. */
clm_status cli_fill_inputs(clm_context *ctx, clm_graph *g, uint64_t seed);

/* A shipped model named "models/NAME" that is not found from the current directory: the copy
 * installed beside the program (<bindir>/../share/clmtl/models/NAME), else the source tree's
 * (CLMTL_MODELS_DIR). Returns `path` itself when it exists or no copy does; the returned string
 * is static (one per call site is enough: the CLI runs one command). */
const char *cli_shipped_model(const char *path);

/* Opens checkpoint path (clm_model_load, model.h) at batch `batch` and height × width (0: the
 * checkpoint's). Prints what went wrong (naming the file) and returns 1 on failure. */
int cli_model_load(clm_context *ctx, const char *path, int batch, int height, int width,
                   clm_graph **g, clm_model_info *info);

int cmd_model(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_infer(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_tune(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_bench_ranks(int argc, char **argv); /* bench --ranks: cmd_bench_ranks.c */
int cmd_compare(int argc, char **argv);
int cmd_export(int argc, char **argv);

#endif
