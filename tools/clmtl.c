/* The clmtl command-line program: one executable, one sub-command per job. SIGINT, SIGTERM
 * and SIGHUP: while training, the first only sets cli_stop_signal (the trainer polls it after
 * each step, saves and stops); otherwise, or at the second, they remove a checkpoint's
 * temporary file when they arrive during a save, then end the program as they would have. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

volatile sig_atomic_t cli_stop_signal, cli_stop_graceful;
const char *cli_program = "clmtl";

int cli_usage_error(const char *msg) {
  fprintf(stderr, "clmtl: %s (see 'clmtl help')\n", msg);
  return 2;
}

static int usage(FILE *to) {
  fprintf(to,
          "clmtl %s: multi-task scene understanding on any OpenCL device\n\n"
          "usage: clmtl <command> [options]\n\n"
          "commands:\n"
          "  devices              list every OpenCL device of every platform\n"
          "  train [options]      train a model (default: models/default.cfg on built-in synthetic\n"
          "                       scenes, uncertainty weighting, Adam); 'clmtl train --help'\n"
          "  eval --model CKPT    per-task metrics of a checkpoint on a split, per-class IoU by class\n"
          "                       name, delta_m%% against single-task runs; 'clmtl eval --help'\n"
          "                       [--data DIR] [--split val|test|train] [--count N] [--batch N]\n"
          "                       [--labels categories|trainids: must match the checkpoint's]\n"
          "                       [--baseline] [--baseline-runs TASK=DIR,...] [--json FILE]\n"
          "  infer --model CKPT INPUT...  PNG/JPEG images, folders or @lists: per task of the model,\n"
          "                       at each image's resolution, colour pictures, CityScapes labelIds /\n"
          "                       instanceIds / disparity PNGs, a JSON and a panel per image\n"
          "                       [--out DIR (created)] [--size HxW] [--fit letterbox|stretch|tile]\n"
          "                       [--raw (.npy)] [--depth-range MIN,MAX]; 'clmtl infer --help'\n"
          "  export --onnx OUT.onnx CKPT   the checkpoint's inference graph as an ONNX model (batch\n"
          "                       norm folded, one output per task); 'clmtl export --help'\n"
          "  synth --out DIR      write synthetic street scenes in the CityScapes layout\n"
          "                       [--count N per split] [--size HxW] [--seed N]\n"
          "  model FILE.cfg       check a model file: layers, shapes, parameters, memory;\n"
          "                       --steps N trains N Adam steps on one random batch\n"
          "                       --json prints the compiled graph (layers, keys, shapes,\n"
          "                       parameters, tasks) as JSON, planned without a device\n"
          "                       [--batch N] [--size HxW] [--steps N] [--lr X] [--device D]\n"
          "                       [--weighting fixed|equal|uncertainty|uncertainty-simple|\n"
          "                        uncertainty-clamped|uncertainty-exact|softplus|gradnorm|dwa|rlw|gls|pcgrad|\n"
          "                        mgda-ub|cagrad|imtl-g|aligned-mtl]\n"
          "  tune [MODEL.cfg]     time every convolution variant on the model's shapes and keep\n"
          "                       the fastest per shape in this device's tuning file\n"
          "                       [--size HxW (64x128)] [--batch N (8)] [--reps N] [--device D]\n"
          "                       [--reset: remove the tuning file]\n"
          "  bench [MODEL.cfg]    train and inference speed, memory, start-up times, per-op profile\n"
          "                       and a bandwidth/FLOP probe of one or every device\n"
          "                       [--size HxW (128x256)] [--batch N (8)] [--steps N] [--warmup N]\n"
          "                       [--device D | --all-devices] [--ops] [--weighting W] [--json FILE]\n"
          "                       [--csv FILE] [--markdown FILE] [--png FILE]; 'clmtl bench --help'\n"
          "  bench merge A.json B.json ...   one table and chart from results of several machines\n"
          "  compare STUDY.ini    run a study (baselines, weightings, fixed-weight grids over seeds),\n"
          "                       resumable; tables (mean ± std, delta_m%%) and a Pareto plot;\n"
          "                       'clmtl compare --help'\n"
          "  help [COMMAND]       this text, or the command's ('clmtl COMMAND --help' too)\n"
          "  --version            the version and the git commit it was built from\n\n"
          "environment:\n"
          "  CLMTL_DEVICE         device to use: P:D, cpu, gpu, or part of a device/vendor/platform name\n"
          "  CLMTL_KERNEL_DIR     load kernels from this directory instead of the embedded copies\n"
          "  CLMTL_CACHE_DIR      program binary cache (default ~/.cache/clmtl); CLMTL_CACHE=0 disables it\n"
          "  CLMTL_TUNING=0       ignore the device's tuning file ('clmtl tune')\n"
          "  CLMTL_CONV_VARIANT   force one convolution variant everywhere\n"
          "  CLMTL_DEBUG=1        error messages also name the clmtl source line that raised them\n",
          CLMTL_VERSION);
  return to == stderr ? 2 : 0;
}

static const char *synth_usage =
    "usage: clmtl synth --out DIR [--count N] [--size HxW] [--seed N]\n"
    "  writes synthetic street scenes in the CityScapes layout under DIR: leftImg8bit/ and\n"
    "  gtFine/ (labelIds, instanceIds) and disparity/ for the train, val and test splits\n"
    "  --count N    scenes per split    --size HxW   resolution    --seed N   scene seed\n";

static int cmd_devices(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      printf("usage: clmtl devices\n  lists every device of every OpenCL platform; the one "
             "marked (default) is what --device\n  (or CLMTL_DEVICE) left unset picks\n");
      return 0;
    }
    fprintf(stderr, "clmtl devices: unknown option '%s'\n", argv[i]);
    return 2;
  }
  clm_device_info *list;
  int n;
  clm_status st = clm_device_list(&list, &n);
  if (st != CLM_OK) {
    fprintf(stderr, "clmtl devices: %s\n", cli_error());
    return 1;
  }
  clm_device_info chosen;
  int have_default = clm_device_select(cli_device(NULL), &chosen) == CLM_OK;
  for (int i = 0; i < n; i++) {
    char buf[4096];
    clm_device_describe(&list[i], buf, sizeof buf);
    int is_default = have_default && chosen.platform_index == list[i].platform_index &&
                     chosen.device_index == list[i].device_index;
    printf("%s%s\n", buf, is_default ? "  (default)\n" : "");
  }
  free(list);
  return 0;
}

static void on_signal(int sig) {
  if (cli_stop_graceful && !cli_stop_signal) {
    cli_stop_signal = sig;
    return;
  }
  clm_checkpoint_signal_cleanup();
  signal(sig, SIG_DFL);
  raise(sig);
}

static void install_signal_handlers(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
    struct sigaction old;
    /* a signal ignored by whoever started us (nohup, `cmd &` in a script) stays ignored */
    if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN) sigaction(sigs[i], &sa, NULL);
  }
}

int main(int argc, char **argv) {
  if (argc < 2) return usage(stderr);
  cli_program = argv[0];
  install_signal_handlers();
  const char *cmd = argv[1];
  if (!strcmp(cmd, "devices")) return cmd_devices(argc - 1, argv + 1);
  if (!strcmp(cmd, "model")) return cmd_model(argc - 1, argv + 1);
  if (!strcmp(cmd, "train")) return cmd_train(argc - 1, argv + 1);
  if (!strcmp(cmd, "eval")) return cmd_eval(argc - 1, argv + 1);
  if (!strcmp(cmd, "infer")) return cmd_infer(argc - 1, argv + 1);
  if (!strcmp(cmd, "export")) return cmd_export(argc - 1, argv + 1);
  if (!strcmp(cmd, "synth")) {
    for (int i = 2; i < argc; i++)
      if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return fputs(synth_usage, stdout), 0;
    return cmd_synth(argc - 1, argv + 1);
  }
  if (!strcmp(cmd, "tune")) return cmd_tune(argc - 1, argv + 1);
  if (!strcmp(cmd, "bench")) return cmd_bench(argc - 1, argv + 1);
  if (!strcmp(cmd, "compare")) return cmd_compare(argc - 1, argv + 1);
  if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
    printf("clmtl %s (commit %s)\n", CLMTL_VERSION_STRING, CLMTL_GIT_COMMIT);
    return 0;
  }
  if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
    if (argc > 2 && strcmp(argv[2], "--help") && strcmp(argv[2], "-h")) {
      /* `clmtl help train`: the command's own help */
      char *sub[] = {argv[2], (char *)"--help", NULL};
      if (!strcmp(argv[2], "train")) return cmd_train(2, sub);
      if (!strcmp(argv[2], "model")) return cmd_model(2, sub);
      if (!strcmp(argv[2], "devices")) return cmd_devices(2, sub);
      if (!strcmp(argv[2], "synth")) return fputs(synth_usage, stdout), 0;
      if (!strcmp(argv[2], "eval")) return cmd_eval(2, sub);
      if (!strcmp(argv[2], "infer")) return cmd_infer(2, sub);
      if (!strcmp(argv[2], "tune")) return cmd_tune(2, sub);
      if (!strcmp(argv[2], "bench")) return cmd_bench(2, sub);
      if (!strcmp(argv[2], "compare")) return cmd_compare(2, sub);
      if (!strcmp(argv[2], "export")) return cmd_export(2, sub);
    }
    return usage(stdout);
  }
  fprintf(stderr, "clmtl: unknown command '%s'\n\n", cmd);
  return usage(stderr);
}
