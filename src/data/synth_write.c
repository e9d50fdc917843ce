/* Writes the synthetic dataset to disk in the CityScapes layout, so that the CityScapes reader
 * (and other tools) can read it:
 *   leftImg8bit/<split>/synth/synth_<index>_000019_leftImg8bit.png    8-bit RGB
 *   gtFine/<split>/synth/synth_<index>_000019_gtFine_labelIds.png     8-bit label ids
 *   gtFine/<split>/synth/synth_<index>_000019_gtFine_instanceIds.png  16-bit: id·1000 + k
 *   disparity/<split>/synth/synth_<index>_000019_disparity.png        16-bit: d·256 + 1, 0 invalid
 * 8-bit PNGs go through stb_image_write; it has no 16-bit writer, so 16-bit grey PNGs are
 * assembled here around its zlib compressor. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <stb_image_write.h>
#include "data/synth-impl.h"
#include "runtime/runtime-impl.h"

/* Defined by stb_image_write's implementation (png_write.c) but not declared in its header. */
unsigned char *stbi_zlib_compress(unsigned char *data, int data_len, int *out_len, int quality);

/* mkdir -p */
static clm_status make_dirs(const char *path) {
  char buf[4096];
  size_t len = strlen(path);
  if (len == 0 || len >= sizeof buf) CLM_FAIL(CLM_ERR_INVALID_ARG, "bad directory name '%s'", path);
  memcpy(buf, path, len + 1);
  for (size_t i = 1; i <= len; i++) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    char c = buf[i];
    buf[i] = '\0';
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
      CLM_FAIL(CLM_ERR_IO, "cannot create directory %s: %s", buf, strerror(errno));
    buf[i] = c;
  }
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
    CLM_FAIL(CLM_ERR_IO, "%s is not a directory", path);
  return CLM_OK;
}

static uint32_t crc32_png(const unsigned char *p, size_t n, uint32_t crc) {
  crc = ~crc;
  for (size_t i = 0; i < n; i++) {
    crc ^= p[i];
    for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

static int put_chunk(FILE *f, const char *type, const unsigned char *data, uint32_t len) {
  unsigned char hdr[8] = {(unsigned char)(len >> 24), (unsigned char)(len >> 16),
                          (unsigned char)(len >> 8), (unsigned char)len,
                          (unsigned char)type[0], (unsigned char)type[1],
                          (unsigned char)type[2], (unsigned char)type[3]};
  uint32_t crc = crc32_png(hdr + 4, 4, 0);
  crc = crc32_png(data, len, crc);
  unsigned char tail[4] = {(unsigned char)(crc >> 24), (unsigned char)(crc >> 16),
                           (unsigned char)(crc >> 8), (unsigned char)crc};
  return fwrite(hdr, 1, 8, f) == 8 && (len == 0 || fwrite(data, 1, len, f) == len) &&
         fwrite(tail, 1, 4, f) == 4;
}

/* 16-bit greyscale PNG (big-endian samples, "up" filter). */
static clm_status write_png16(const char *path, int w, int h, const uint16_t *px) {
  size_t stride = (size_t)w * 2 + 1, raw_n = stride * (size_t)h;
  if (raw_n > 0x7fffffff) CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: image too large", path);
  unsigned char *raw = malloc(raw_n);
  if (!raw) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory writing %s", path);
  for (int y = 0; y < h; y++) {
    unsigned char *row = raw + (size_t)y * stride;
    row[0] = y ? 2 : 0; /* up filter from the second row */
    for (int x = 0; x < w; x++) {
      uint16_t v = px[(size_t)y * w + x];
      unsigned char hi = (unsigned char)(v >> 8), lo = (unsigned char)v;
      if (y) {
        uint16_t u = px[(size_t)(y - 1) * w + x];
        hi = (unsigned char)(hi - (u >> 8));
        lo = (unsigned char)(lo - (u & 255));
      }
      row[1 + 2 * x] = hi;
      row[2 + 2 * x] = lo;
    }
  }
  int zlen = 0;
  unsigned char *z = stbi_zlib_compress(raw, (int)raw_n, &zlen, 8);
  free(raw);
  if (!z) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory compressing %s", path);
  FILE *f = fopen(path, "wb");
  if (!f) {
    free(z);
    CLM_FAIL(CLM_ERR_IO, "cannot open %s for writing: %s", path, strerror(errno));
  }
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  unsigned char ihdr[13] = {(unsigned char)(w >> 24), (unsigned char)(w >> 16),
                            (unsigned char)(w >> 8), (unsigned char)w,
                            (unsigned char)(h >> 24), (unsigned char)(h >> 16),
                            (unsigned char)(h >> 8), (unsigned char)h,
                            16, 0, 0, 0, 0}; /* depth 16, greyscale, deflate, no interlace */
  int ok = fwrite(sig, 1, 8, f) == 8 && put_chunk(f, "IHDR", ihdr, 13) &&
           put_chunk(f, "IDAT", z, (uint32_t)zlen) && put_chunk(f, "IEND", NULL, 0);
  free(z);
  if (fclose(f) != 0) ok = 0;
  if (!ok) CLM_FAIL(CLM_ERR_IO, "cannot write %s: %s", path, strerror(errno));
  return CLM_OK;
}

static clm_status write_png8(const char *path, int w, int h, int comp, const uint8_t *px) {
  if (!stbi_write_png(path, w, h, comp, px, w * comp))
    CLM_FAIL(CLM_ERR_IO, "cannot write %s: %s", path, errno ? strerror(errno) : "stb_image_write failed");
  return CLM_OK;
}

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
  CLM_TRY(write_png8(path, W, H, 3, b->rgb));

  snprintf(path, sizeof path, "%s/gtFine/%s/synth/synth_%06d_000019_gtFine_labelIds.png", dir,
           sp, index);
  CLM_TRY(write_png8(path, W, H, 1, b->labels));

  /* instance pixels: clean label id · 1000 + (instance id − 1); other pixels: the label id */
  for (size_t i = 0; i < n; i++)
    b->u16[i] = b->s.instance[i] > 0
                    ? (uint16_t)(b->inst_labels[i] * 1000 + (b->s.instance[i] - 1) % 1000)
                    : b->labels[i];
  snprintf(path, sizeof path, "%s/gtFine/%s/synth/synth_%06d_000019_gtFine_instanceIds.png",
           dir, sp, index);
  CLM_TRY(write_png16(path, W, H, b->u16));

  for (size_t i = 0; i < n; i++) {
    float p = b->s.depth[i] * 256.0f + 1.0f;
    b->u16[i] = b->s.depth_valid[i] == 0 ? 0 : p >= 65535.0f ? 65535 : (uint16_t)lrintf(p);
  }
  snprintf(path, sizeof path, "%s/disparity/%s/synth/synth_%06d_000019_disparity.png", dir, sp,
           index);
  return write_png16(path, W, H, b->u16);
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
      CLM_TRY(make_dirs(path));
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
