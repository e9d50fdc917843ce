/* Writes the synthetic dataset to disk in the CityScapes layout, so that the CityScapes reader
 * (and other tools) can read it:
 *   leftImg8bit/<split>/synth/synth_<index>_000019_leftImg8bit.png    8-bit RGB
 *   gtFine/<split>/synth/synth_<index>_000019_gtFine_labelIds.png     8-bit label ids
 *   gtFine/<split>/synth/synth_<index>_000019_gtFine_instanceIds.png  16-bit: id·1000 + k
 *   disparity/<split>/synth/synth_<index>_000019_disparity.png        16-bit: d·256 + 1, 0 invalid
 * 8-bit PNGs go through clm_png_write8 (infer.h), 16-bit grey PNGs through png16.c. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "clmtl/infer.h"
#include "clmtl/util.h"
#include "data/png16.h"
#include "data/synth-impl.h"
#include "runtime/runtime-impl.h"

typedef struct bufs {
  clm_sample s;
  uint8_t *labels, *inst_labels, *rgb;
  uint16_t *u16;
} bufs;

static void bufs_free(bufs *b) {
  clm_sample_free(&b->s);
  free(b->labels);
  free(b->inst_labels);
  free(b->rgb);
  free(b->u16);
}

static clm_status write_sample(const char *dir, const clm_synth_options *opt, clm_split split,
                               int index, bufs *b) {
  int H = opt->height, W = opt->width;
  size_t n = (size_t)H * W;
  const char *sp = clm_split_name(split);
  char path[4200];
  CLM_TRY(synth_load_sample(opt, split, index, &b->s, b->labels, b->inst_labels));

  for (size_t i = 0; i < n; i++)
    for (int c = 0; c < 3; c++)
      b->rgb[3 * i + c] = (uint8_t)lrintf(b->s.image[c * n + i] * 255.0f);
  snprintf(path, sizeof path, "%s/leftImg8bit/%s/synth/synth_%06d_000019_leftImg8bit.png", dir,
           sp, index);
  CLM_TRY(clm_png_write8(path, H, W, 3, b->rgb));

  snprintf(path, sizeof path, "%s/gtFine/%s/synth/synth_%06d_000019_gtFine_labelIds.png", dir,
           sp, index);
  CLM_TRY(clm_png_write8(path, H, W, 1, b->labels));

  /* instance pixels: clean label id · 1000 + (instance id − 1); other pixels: the label id */
  for (size_t i = 0; i < n; i++)
    b->u16[i] = b->s.instance[i] > 0
                    ? (uint16_t)(b->inst_labels[i] * 1000 + (b->s.instance[i] - 1) % 1000)
                    : b->labels[i];
  snprintf(path, sizeof path, "%s/gtFine/%s/synth/synth_%06d_000019_gtFine_instanceIds.png",
           dir, sp, index);
  CLM_TRY(clm_png_write16(path, W, H, b->u16));

  for (size_t i = 0; i < n; i++) {
    float p = b->s.depth[i] * 256.0f + 1.0f;
    b->u16[i] = b->s.depth_valid[i] == 0 ? 0 : p >= 65535.0f ? 65535 : (uint16_t)lrintf(p);
  }
  snprintf(path, sizeof path, "%s/disparity/%s/synth/synth_%06d_000019_disparity.png", dir, sp,
           index);
  return clm_png_write16(path, W, H, b->u16);
}

clm_status clm_synth_write(const char *dir, const clm_synth_options *opt) {
  if (!dir || !*dir || !opt || opt->count < 0 || opt->height <= 0 || opt->width <= 0)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "clm_synth_write needs a directory, count >= 0 and a size");
  if (strlen(dir) > 3900) CLM_FAIL(CLM_ERR_INVALID_ARG, "directory name too long");
  static const char *const kinds[3] = {"leftImg8bit", "gtFine", "disparity"};
  char path[4096];
  for (int sp = 0; sp < 3; sp++)
    for (int k = 0; k < 3; k++) {
      snprintf(path, sizeof path, "%s/%s/%s/synth", dir, kinds[k], clm_split_name((clm_split)sp));
      CLM_TRY(clm_mkdir_p(path, 0777));
    }
  bufs b;
  memset(&b, 0, sizeof b);
  clm_status st = clm_sample_alloc(&b.s, opt->height, opt->width);
  if (st != CLM_OK) return st;
  size_t n = (size_t)opt->height * opt->width;
  b.labels = malloc(n);
  b.inst_labels = malloc(n);
  b.rgb = malloc(3 * n);
  b.u16 = malloc(n * sizeof *b.u16);
  if (!b.labels || !b.inst_labels || !b.rgb || !b.u16) {
    bufs_free(&b);
    CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  }
  for (int sp = 0; sp < 3 && st == CLM_OK; sp++)
    for (int i = 0; i < opt->count && st == CLM_OK; i++)
      st = write_sample(dir, opt, (clm_split)sp, i, &b);
  bufs_free(&b);
  return st;
}
