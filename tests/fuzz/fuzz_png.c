/* Fuzz target: the CityScapes-layout loader (src/data/cityscapes.c) through its public API:
 * PNG decoding (stb_image), the header checks (channels, bit depth, matching sizes), the label
 * and instance id range checks at open, and loading one sample (resizing, label mapping,
 * instances, disparity).
 *
 * An input is a tiny dataset of one sample:
 *   byte 0   flags: bit 0 train ids (else categories), bit 1 skip_bad, bit 2 a disparity/
 *            directory exists
 *   byte 1,2 output height and width, 1 + b % 48
 *   then up to four files separated by "--8<--": the image, the labelIds, the instanceIds and
 *   the disparity PNG; a file that is not there is not written (a missing partner).
 * They are written into a private temporary directory (removed at exit) and the split is
 * opened with clm_cityscapes_open. When it opens, the one sample is loaded and every value is
 * checked against what data.h promises. tests/fuzz/make_seeds.py writes the seeds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "clmtl/data.h"
#include "fuzz.h"

#define SEP "--8<--"
#define CHECK(c)                                                                             \
  do {                                                                                       \
    if (!(c)) {                                                                              \
      fprintf(stderr, "%s:%d: loaded sample breaks: %s\n", __FILE__, __LINE__, #c);           \
      abort();                                                                               \
    }                                                                                        \
  } while (0)

static char root[256];
static char paths[4][512];
static const char *const DIRS[] = {"leftImg8bit", "leftImg8bit/train", "leftImg8bit/train/c",
                                   "gtFine", "gtFine/train", "gtFine/train/c"};
static char disp_dirs[3][512];

static void cleanup(void) {
  for (int i = 0; i < 4; i++) unlink(paths[i]);
  for (int i = 2; i >= 0; i--) rmdir(disp_dirs[i]);
  for (int i = 5; i >= 0; i--) {
    char d[512];
    snprintf(d, sizeof d, "%s/%s", root, DIRS[i]);
    rmdir(d);
  }
  rmdir(root);
}

static void setup(void) {
  const char *tmp = getenv("TMPDIR");
  snprintf(root, sizeof root, "%s/clmtl-fuzz-png-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
  if (!mkdtemp(root)) {
    perror("mkdtemp");
    abort();
  }
  for (int i = 0; i < 6; i++) {
    char d[512];
    snprintf(d, sizeof d, "%s/%s", root, DIRS[i]);
    if (mkdir(d, 0700) != 0) { perror(d); abort(); }
  }
  snprintf(disp_dirs[0], sizeof disp_dirs[0], "%s/disparity", root);
  snprintf(disp_dirs[1], sizeof disp_dirs[1], "%s/disparity/train", root);
  snprintf(disp_dirs[2], sizeof disp_dirs[2], "%s/disparity/train/c", root);
  snprintf(paths[0], sizeof paths[0], "%s/leftImg8bit/train/c/c_0_0_leftImg8bit.png", root);
  snprintf(paths[1], sizeof paths[1], "%s/gtFine/train/c/c_0_0_gtFine_labelIds.png", root);
  snprintf(paths[2], sizeof paths[2], "%s/gtFine/train/c/c_0_0_gtFine_instanceIds.png", root);
  snprintf(paths[3], sizeof paths[3], "%s/disparity/train/c/c_0_0_disparity.png", root);
  atexit(cleanup);
}

static void write_file(const char *path, const uint8_t *p, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
    perror(path);
    abort();
  }
}

/* Offset of the next separator at or after `from`, or size. */
static size_t find_sep(const uint8_t *data, size_t size, size_t from) {
  size_t m = strlen(SEP);
  for (size_t i = from; i + m <= size; i++)
    if (!memcmp(data + i, SEP, m)) return i;
  return size;
}

static void check_sample(const clm_sample *s, clm_label_mode labels) {
  size_t n = (size_t)s->height * s->width;
  int classes = labels == CLM_LABELS_TRAIN_IDS ? 19 : CLM_SEMANTIC_CLASSES;
  for (size_t i = 0; i < 3 * n; i++) CHECK(s->image[i] >= 0.0f && s->image[i] <= 1.0f);
  for (size_t i = 0; i < n; i++) {
    float c = s->semantic[i];
    CHECK(c == CLM_IGNORE_LABEL || (c >= 0 && c < classes && c == floorf(c)));
    int32_t v = s->instance[i];
    CHECK(v == 0 || (v >= 24000 && v <= 33999));
    CHECK(s->depth_valid[i] == 0.0f || s->depth_valid[i] == 1.0f);
    CHECK(isfinite(s->depth[i]) && s->depth[i] >= 0.0f);
    CHECK(s->depth_valid[i] == 1.0f || s->depth[i] == 0.0f);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3) return 0;
  if (!root[0]) setup();
  clm_cityscapes_options opt = {0};
  opt.root = root;
  opt.split = CLM_SPLIT_TRAIN;
  opt.labels = data[0] & 1 ? CLM_LABELS_TRAIN_IDS : CLM_LABELS_CATEGORIES;
  opt.skip_bad = (data[0] >> 1) & 1;
  opt.height = 1 + data[1] % 48;
  opt.width = 1 + data[2] % 48;
  if (data[0] & 4) {
    for (int i = 0; i < 3; i++) mkdir(disp_dirs[i], 0700);
  } else {
    unlink(paths[3]);
    for (int i = 2; i >= 0; i--) rmdir(disp_dirs[i]);
  }
  size_t at = 3; /* start of the next file; past size when there is none */
  for (int k = 0; k < 4; k++) {
    if (at > size || (k == 3 && !(data[0] & 4))) {
      unlink(paths[k]);
      continue;
    }
    size_t stop = find_sep(data, size, at);
    write_file(paths[k], data + at, stop - at);
    at = stop < size ? stop + strlen(SEP) : size + 1;
  }

  clm_dataset *ds = NULL;
  clm_clear_error();
  clm_status st = clm_cityscapes_open(&opt, &ds);
  if (st != CLM_OK) {
    CHECK(ds == NULL && st < CLM_OK && st >= CLM_ERR_NUMERIC && clm_last_error()[0]);
    return 0;
  }
  CHECK(clm_dataset_count(ds) == 1 && clm_cityscapes_skipped(ds, NULL, 0) == 0);
  clm_sample s;
  if (clm_sample_alloc(&s, opt.height, opt.width) != CLM_OK) abort();
  st = clm_dataset_load(ds, 0, &s);
  if (st != CLM_OK) fprintf(stderr, "load: %s\n", clm_last_error());
  CHECK(st == CLM_OK); /* the files did not change since they were checked */
  check_sample(&s, opt.labels);
  clm_sample_free(&s);
  clm_dataset_free(ds);
  return 0;
}
