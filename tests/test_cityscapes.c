/* CityScapes-layout reader (src/data/cityscapes.c) on small fixture trees written here: 8-bit
 * PNGs with stb_image_write, 16-bit ones (instanceIds, disparity) with a minimal stored-deflate
 * encoder below, since stb_image_write has no 16-bit PNG. Checks order, both label mappings
 * against tables written out here, instances, disparity, resizing, and that every kind of bad
 * file is reported by name (failing open, or left out and counted with skip_bad). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "clmtl/data.h"
#include "test_util.h"

/* Static, so these never clash with the library's own copy of the writer. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#if defined(__has_include)
#if __has_include(<stb_image_write.h>)
#include <stb_image_write.h>
#else
#include <stb/stb_image_write.h>
#endif
#else
#include <stb/stb_image_write.h>
#endif
#pragma GCC diagnostic pop

#define FH 8  /* fixture height */
#define FW 16 /* fixture width */

/* ---- 16-bit grayscale PNG writer (stored deflate blocks) ------------------------------------ */

static uint32_t crc32_update(uint32_t crc, const unsigned char *p, size_t n) {
  crc = ~crc;
  for (size_t i = 0; i < n; i++) {
    crc ^= p[i];
    for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

static void put32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

static void chunk(FILE *f, const char *type, const unsigned char *data, size_t n) {
  unsigned char hdr[8];
  put32(hdr, (uint32_t)n);
  memcpy(hdr + 4, type, 4);
  fwrite(hdr, 1, 8, f);
  if (n) fwrite(data, 1, n, f);
  uint32_t crc = crc32_update(crc32_update(0, (const unsigned char *)type, 4), data, n);
  unsigned char c[4];
  put32(c, crc);
  fwrite(c, 1, 4, f);
}

static int write_png16(const char *path, int w, int h, const uint16_t *v) {
  size_t raw_n = (size_t)h * (1 + 2 * (size_t)w);
  unsigned char *raw = malloc(raw_n);
  size_t blocks = raw_n / 65535 + 1;
  unsigned char *z = malloc(2 + raw_n + 5 * blocks + 4);
  if (!raw || !z) exit(1);
  size_t k = 0;
  for (int y = 0; y < h; y++) {
    raw[k++] = 0; /* filter: none */
    for (int x = 0; x < w; x++) {
      raw[k++] = (unsigned char)(v[y * w + x] >> 8);
      raw[k++] = (unsigned char)v[y * w + x];
    }
  }
  size_t zn = 0;
  z[zn++] = 0x78;
  z[zn++] = 0x01;
  for (size_t off = 0; off < raw_n || off == 0;) {
    size_t len = raw_n - off > 65535 ? 65535 : raw_n - off;
    z[zn++] = off + len == raw_n ? 1 : 0;
    z[zn++] = (unsigned char)len;
    z[zn++] = (unsigned char)(len >> 8);
    z[zn++] = (unsigned char)~len;
    z[zn++] = (unsigned char)(~len >> 8);
    memcpy(z + zn, raw + off, len);
    zn += len;
    off += len;
    if (len == 0) break;
  }
  uint32_t a = 1, b = 0;
  for (size_t i = 0; i < raw_n; i++) {
    a = (a + raw[i]) % 65521;
    b = (b + a) % 65521;
  }
  put32(z + zn, (b << 16) | a);
  zn += 4;
  FILE *f = fopen(path, "wb");
  if (!f) exit(1);
  static const unsigned char sig[8] = {137, 'P', 'N', 'G', '\r', '\n', 26, '\n'};
  fwrite(sig, 1, 8, f);
  unsigned char ihdr[13];
  put32(ihdr, (uint32_t)w);
  put32(ihdr + 4, (uint32_t)h);
  ihdr[8] = 16; /* bit depth */
  ihdr[9] = 0;  /* grayscale */
  ihdr[10] = ihdr[11] = ihdr[12] = 0;
  chunk(f, "IHDR", ihdr, 13);
  chunk(f, "IDAT", z, zn);
  chunk(f, "IEND", NULL, 0);
  int ok = fclose(f) == 0;
  free(raw);
  free(z);
  return ok;
}

/* ---- fixture contents ------------------------------------------------------------------------ */

/* Images in creation order (not sorted); rank is the position in the sorted order. */
static const struct { const char *city, *name; int rank; } FIXTURE[3] = {
  {"bochum", "bochum_000000_000313", 2},
  {"aachen", "aachen_000001_000019", 1},
  {"aachen", "aachen_000000_000019", 0},
};

static int fx_label(int x, int y, int rank) { return (x + FW * y + rank) % 34; }
static int fx_thing(int id) { return id >= 24 && id <= 33; }
/* Raw instanceIds: things label*1000 + x/4 + rank, except for x >= 14 (plain ids, as crowd
 * regions);
 * label 11 (building, no instances) also carries a value >= 1000, which must be dropped. */
static int fx_instance_raw(int x, int y, int rank) {
  int id = fx_label(x, y, rank);
  if (fx_thing(id) && x < 14) return id * 1000 + x / 4 + rank;
  if (id == 11) return 11003;
  return id;
}
static int fx_disparity_raw(int x, int y, int rank) {
  return x == 0 || y == FH - 1 ? 0 : 1 + 100 * x + 10 * y + rank;
}
static unsigned char fx_rgb(int x, int y, int rank, int c) {
  return (unsigned char)(c == 0 ? 15 * x + 3 : c == 1 ? 30 * y + 5 : 50 + 60 * rank);
}

/* The reference mappings, written from the official labels table. */
static int ref_category(int id) {
  if (id <= 6) return 255;
  if (id <= 10) return 0;
  if (id <= 16) return 1;
  if (id <= 20) return 2;
  if (id <= 22) return 3;
  if (id == 23) return 4;
  if (id <= 25) return 5;
  return 6;
}
static int ref_train_id(int id) {
  static const int pairs[19][2] = {{7, 0},   {8, 1},   {11, 2},  {12, 3},  {13, 4},
                                   {17, 5},  {19, 6},  {20, 7},  {21, 8},  {22, 9},
                                   {23, 10}, {24, 11}, {25, 12}, {26, 13}, {27, 14},
                                   {28, 15}, {31, 16}, {32, 17}, {33, 18}};
  for (int i = 0; i < 19; i++)
    if (pairs[i][0] == id) return pairs[i][1];
  return 255;
}

static void mkdirs(const char *path) {
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++)
    if (*p == '/') {
      *p = '\0';
      mkdir(buf, 0755);
      *p = '/';
    }
  mkdir(buf, 0755);
}

static void fx_path(char *buf, size_t size, const char *root, int i, const char *kind) {
  const char *city = FIXTURE[i].city, *name = FIXTURE[i].name;
  if (!strcmp(kind, "image"))
    snprintf(buf, size, "%s/leftImg8bit/train/%s/%s_leftImg8bit.png", root, city, name);
  else if (!strcmp(kind, "label"))
    snprintf(buf, size, "%s/gtFine/train/%s/%s_gtFine_labelIds.png", root, city, name);
  else if (!strcmp(kind, "instance"))
    snprintf(buf, size, "%s/gtFine/train/%s/%s_gtFine_instanceIds.png", root, city, name);
  else
    snprintf(buf, size, "%s/disparity/train/%s/%s_disparity.png", root, city, name);
}

static void write_label(const char *path, int w, int h, int rank) {
  unsigned char v[FH * FW * 4];
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) v[y * w + x] = (unsigned char)fx_label(x, y, rank);
  if (!stbi_write_png(path, w, h, 1, v, w)) exit(1);
}

/* A fresh tree under a new temporary directory; root receives its path. */
static void fx_tree(char *root, size_t size, int with_disparity) {
  snprintf(root, size, "/tmp/clmtl_cityscapes_XXXXXX");
  if (!mkdtemp(root)) {
    perror("mkdtemp");
    exit(1);
  }
  char path[1024], dir[1024];
  for (int i = 0; i < 3; i++) {
    int r = FIXTURE[i].rank;
    const char *city = FIXTURE[i].city;
    snprintf(dir, sizeof dir, "%s/leftImg8bit/train/%s", root, city);
    mkdirs(dir);
    snprintf(dir, sizeof dir, "%s/gtFine/train/%s", root, city);
    mkdirs(dir);
    unsigned char rgb[FH * FW * 3];
    uint16_t inst[FH * FW], disp[FH * FW];
    for (int y = 0; y < FH; y++)
      for (int x = 0; x < FW; x++) {
        for (int c = 0; c < 3; c++) rgb[(y * FW + x) * 3 + c] = fx_rgb(x, y, r, c);
        inst[y * FW + x] = (uint16_t)fx_instance_raw(x, y, r);
        disp[y * FW + x] = (uint16_t)fx_disparity_raw(x, y, r);
      }
    fx_path(path, sizeof path, root, i, "image");
    if (!stbi_write_png(path, FW, FH, 3, rgb, FW * 3)) exit(1);
    fx_path(path, sizeof path, root, i, "label");
    write_label(path, FW, FH, r);
    fx_path(path, sizeof path, root, i, "instance");
    if (!write_png16(path, FW, FH, inst)) exit(1);
    if (with_disparity) {
      snprintf(dir, sizeof dir, "%s/disparity/train/%s", root, city);
      mkdirs(dir);
      fx_path(path, sizeof path, root, i, "disparity");
      if (!write_png16(path, FW, FH, disp)) exit(1);
    }
  }
}

static void rm_tree(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    DIR *dp = opendir(path);
    struct dirent *e;
    while (dp && (e = readdir(dp))) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      char sub[1024];
      snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
      rm_tree(sub);
    }
    if (dp) closedir(dp);
    rmdir(path);
  } else {
    unlink(path);
  }
}

static clm_cityscapes_options fx_options(const char *root, int h, int w, clm_label_mode m,
                                         int skip_bad) {
  clm_cityscapes_options o = {root, CLM_SPLIT_TRAIN, h, w, m, skip_bad};
  return o;
}

/* ---- tests ----------------------------------------------------------------------------------- */

/* Loads sample `index` at h x w; NULL (and a failure recorded) on error. */
static int load(clm_dataset *d, int index, clm_sample *s) {
  int h, w;
  clm_dataset_size(d, &h, &w);
  if (clm_sample_alloc(s, h, w) != CLM_OK) return 0;
  clm_status st = clm_dataset_load(d, index, s);
  test_status("load", st);
  return st == CLM_OK;
}

static void test_native(const char *root) {
  for (int mode = 0; mode < 2; mode++) {
    clm_cityscapes_options o = fx_options(root, FH, FW, (clm_label_mode)mode, 0);
    clm_dataset *d = NULL;
    clm_status st = clm_cityscapes_open(&o, &d);
    test_status("open", st);
    if (st != CLM_OK) return;
    test_true("three samples", clm_dataset_count(d) == 3, NULL);
    test_true("nothing skipped", clm_cityscapes_skipped(d, NULL, 0) == 0, NULL);
    for (int r = 0; r < 3; r++) {
      clm_sample s;
      if (!load(d, r, &s)) break;
      int img = 1, sem = 0, inst = 1, dep = 1;
      size_t n = (size_t)FH * FW;
      for (int y = 0; y < FH; y++)
        for (int x = 0; x < FW; x++) {
          size_t i = (size_t)y * FW + x;
          for (int c = 0; c < 3; c++)
            img &= fabsf(s.image[c * n + i] - fx_rgb(x, y, r, c) / 255.0f) < 1e-6f;
          int id = fx_label(x, y, r);
          int want = mode ? ref_train_id(id) : ref_category(id);
          sem += s.semantic[i] == (float)want;
          int raw = fx_instance_raw(x, y, r);
          inst &= s.instance[i] == (raw >= 1000 && fx_thing(raw / 1000) ? raw : 0);
          inst &= !s.instance[i] || fx_thing(id); /* only on thing pixels */
          int p = fx_disparity_raw(x, y, r);
          dep &= s.depth_valid[i] == (p > 0 ? 1.0f : 0.0f);
          dep &= s.depth[i] == (p > 0 ? (float)(p - 1) / 256.0f : 0.0f);
        }
      char name[96], detail[64];
      snprintf(name, sizeof name, "%s sample %d: image, sorted order (blue = rank)",
               mode ? "train ids" : "categories", r);
      test_true(name, img, NULL);
      snprintf(name, sizeof name, "%s sample %d: every label mapped", mode ? "train ids" : "categories",
               r);
      snprintf(detail, sizeof detail, "%d of %d pixels", sem, FH * FW);
      test_true(name, sem == FH * FW, detail);
      snprintf(name, sizeof name, "sample %d: instance ids on things only", r);
      test_true(name, inst, NULL);
      snprintf(name, sizeof name, "sample %d: disparity (p-1)/256, invalid where p = 0", r);
      test_true(name, dep, NULL);
      if (r == 0) {
        /* Hand-checked pixels of sample 0 (label id = x + 16 y mod 34). */
        const float *sm = s.semantic;
        if (mode == 0) {
          test_true("(7,0) road -> flat 0", sm[7] == 0.0f, NULL);
          test_true("(3,0) void 3 -> ignore", sm[3] == 255.0f, NULL);
          test_true("(3,1) traffic light 19 -> object 2", sm[16 + 3] == 2.0f, NULL);
          test_true("(7,1) sky 23 -> 4", sm[16 + 7] == 4.0f, NULL);
          test_true("(8,1) person 24 -> human 5", sm[16 + 8] == 5.0f, NULL);
          test_true("(13,1) caravan 29 -> vehicle 6", sm[16 + 13] == 6.0f, NULL);
        } else {
          test_true("(7,0) road -> 0", sm[7] == 0.0f, NULL);
          test_true("(9,0) parking 9 -> ignore", sm[9] == 255.0f, NULL);
          test_true("(3,1) traffic light 19 -> 6", sm[16 + 3] == 6.0f, NULL);
          test_true("(2,1) polegroup 18 -> ignore", sm[16 + 2] == 255.0f, NULL);
          test_true("(8,1) person 24 -> 11", sm[16 + 8] == 11.0f, NULL);
          test_true("(13,1) caravan 29 -> ignore", sm[16 + 13] == 255.0f, NULL);
          test_true("(15,1) train 31 -> 16", sm[16 + 15] == 16.0f, NULL);
        }
        test_true("(8,1) person instance 24002", s.instance[16 + 8] == 24002, NULL);
        test_true("(13,1) caravan instance 29003", s.instance[16 + 13] == 29003, NULL);
        test_true("(11,0) building 11003 -> no instance", s.instance[11] == 0, NULL);
        test_true("(15,1) train, plain id 31 -> no instance", s.instance[16 + 15] == 0, NULL);
        test_true("(5,2) disparity (1+500+20-1)/256", s.depth[2 * 16 + 5] == 520.0f / 256.0f, NULL);
      }
      clm_sample_free(&s);
    }
    clm_dataset_free(d);
  }
}

/* Reference bilinear sample (half-pixel centres, clamped) of channel c of fixture rank r. */
static float ref_bilinear(int r, int c, int y, int x, int H, int W) {
  double fy = (y + 0.5) * FH / H - 0.5, fx = (x + 0.5) * FW / W - 0.5;
  fy = fy < 0 ? 0 : fy > FH - 1 ? FH - 1 : fy;
  fx = fx < 0 ? 0 : fx > FW - 1 ? FW - 1 : fx;
  int y0 = (int)fy, x0 = (int)fx;
  int y1 = y0 + 1 < FH ? y0 + 1 : y0, x1 = x0 + 1 < FW ? x0 + 1 : x0;
  double ty = fy - y0, tx = fx - x0;
  double top = fx_rgb(x0, y0, r, c) * (1 - tx) + fx_rgb(x1, y0, r, c) * tx;
  double bot = fx_rgb(x0, y1, r, c) * (1 - tx) + fx_rgb(x1, y1, r, c) * tx;
  return (float)((top * (1 - ty) + bot * ty) / 255.0);
}

static void test_resize(const char *root, int H, int W) {
  clm_cityscapes_options o = fx_options(root, H, W, CLM_LABELS_TRAIN_IDS, 0);
  clm_dataset *d = NULL;
  clm_status st = clm_cityscapes_open(&o, &d);
  test_status("open resized", st);
  if (st != CLM_OK) return;
  clm_sample s;
  const int r = 1;
  if (load(d, r, &s)) {
    size_t n = (size_t)H * W;
    int sem = 1, inst = 1, dep = 1, in01 = 1;
    double img_err = 0;
    float scale = (float)W / FW;
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++) {
        /* nearest source pixel: 4x8 -> (2y+1, 2x+1); 16x32 -> (y/2, x/2) */
        int sy = H < FH ? 2 * y + 1 : y / 2, sx = W < FW ? 2 * x + 1 : x / 2;
        size_t i = (size_t)y * W + x;
        sem &= s.semantic[i] == (float)ref_train_id(fx_label(sx, sy, r));
        int raw = fx_instance_raw(sx, sy, r);
        inst &= s.instance[i] == (raw >= 1000 && fx_thing(raw / 1000) ? raw : 0);
        int p = fx_disparity_raw(sx, sy, r);
        dep &= s.depth_valid[i] == (p > 0 ? 1.0f : 0.0f);
        dep &= fabsf(s.depth[i] - (p > 0 ? (float)(p - 1) / 256.0f * scale : 0.0f)) < 1e-5f;
        for (int c = 0; c < 3; c++) {
          float v = s.image[c * n + i];
          in01 &= v >= 0.0f && v <= 1.0f;
          double e = fabs(v - ref_bilinear(r, c, y, x, H, W));
          if (e > img_err) img_err = e;
          if (H < FH) { /* exactly the mean of the 2x2 block */
            float m = (fx_rgb(2 * x, 2 * y, r, c) + fx_rgb(2 * x + 1, 2 * y, r, c) +
                       fx_rgb(2 * x, 2 * y + 1, r, c) + fx_rgb(2 * x + 1, 2 * y + 1, r, c)) /
                      (4.0f * 255.0f);
            e = fabs(v - m);
            if (e > img_err) img_err = e;
          }
        }
      }
    char name[96];
    snprintf(name, sizeof name, "%dx%d: labels nearest", H, W);
    test_true(name, sem, NULL);
    snprintf(name, sizeof name, "%dx%d: instances nearest", H, W);
    test_true(name, inst, NULL);
    snprintf(name, sizeof name, "%dx%d: disparity nearest, scaled by %g", H, W, scale);
    test_true(name, dep, NULL);
    snprintf(name, sizeof name, "%dx%d: image within [0, 1]", H, W);
    test_true(name, in01, NULL);
    snprintf(name, sizeof name, "%dx%d: image bilinear (abs err)", H, W);
    test_check(name, img_err, 1e-6);
    clm_sample_free(&s);
  }
  clm_dataset_free(d);
}

/* Opens without skip_bad (must fail with `want` and an error holding needle1 and needle2), then
 * with skip_bad (must hold `left` samples and report `skipped`, naming needle1). */
static void expect_bad(const char *what, const char *root, clm_status want, const char *needle1,
                       const char *needle2, int left, int skipped) {
  clm_cityscapes_options o = fx_options(root, FH, FW, CLM_LABELS_CATEGORIES, 0);
  clm_dataset *d = NULL;
  clm_status st = clm_cityscapes_open(&o, &d);
  const char *err = clm_last_error();
  char name[128], detail[2400];
  snprintf(name, sizeof name, "%s: open fails with %s", what, clm_status_name(want));
  snprintf(detail, sizeof detail, "%s: %s", clm_status_name(st), st ? err : "opened");
  test_true(name, st == want && !d, detail);
  snprintf(name, sizeof name, "%s: error names the file and the problem", what);
  test_true(name, strstr(err, needle1) && (!needle2 || strstr(err, needle2)), err);
  clm_dataset_free(d);
  d = NULL;

  o.skip_bad = 1;
  st = clm_cityscapes_open(&o, &d);
  snprintf(name, sizeof name, "%s: skip_bad opens", what);
  test_status(name, st);
  if (st != CLM_OK) return;
  char report[2048];
  int n = clm_cityscapes_skipped(d, report, sizeof report);
  snprintf(name, sizeof name, "%s: skip_bad keeps %d, reports %d skipped", what, left, skipped);
  snprintf(detail, sizeof detail, "kept %d, skipped %d: %s", clm_dataset_count(d), n, report);
  test_true(name, clm_dataset_count(d) == left && n == skipped && strstr(report, needle1), detail);
  clm_dataset_free(d);
}

static void truncate_file(const char *path, long keep) {
  FILE *f = fopen(path, "rb");
  if (!f) exit(1);
  unsigned char buf[65536];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  if (keep < 0) keep = (long)n / 2;
  f = fopen(path, "wb");
  if (!f) exit(1);
  fwrite(buf, 1, (size_t)keep < n ? (size_t)keep : n, f);
  fclose(f);
}

/* Overwrites 4 bytes at `offset` with v, big-endian (a PNG length or dimension field). */
static void patch_be32(const char *path, long offset, uint32_t v) {
  FILE *f = fopen(path, "r+b");
  unsigned char b[4];
  put32(b, v);
  if (!f || fseek(f, offset, SEEK_SET) != 0 || fwrite(b, 1, 4, f) != 4) exit(1);
  fclose(f);
}

/* Byte offsets in the fixture PNGs, which hold IHDR, one IDAT and IEND: the signature is 8
 * bytes and IHDR 12 + 13, so IHDR's width and height sit at 16 and 20 and IDAT's length at 33. */
#define PNG_WIDTH_AT 16
#define PNG_HEIGHT_AT 20
#define PNG_IDAT_LEN_AT 33

static void test_bad(void) {
  char root[256], path[1024], path2[1024];

  /* Garbage bytes in place of an image. */
  fx_tree(root, sizeof root, 1);
  fx_path(path, sizeof path, root, 1, "image");
  FILE *f = fopen(path, "wb");
  if (!f) exit(1);
  test_rng g = test_rng_make(7);
  for (int i = 0; i < 300; i++) fputc((int)test_uniform(&g, 0, 255.9f), f);
  fclose(f);
  expect_bad("corrupt image", root, CLM_ERR_PARSE, path, "not a readable PNG", 2, 1);
  rm_tree(root);

  /* A label file cut in half (header intact: caught by the full decode). */
  fx_tree(root, sizeof root, 1);
  fx_path(path, sizeof path, root, 2, "label");
  truncate_file(path, -1);
  expect_bad("truncated label", root, CLM_ERR_PARSE, path, NULL, 2, 1);
  rm_tree(root);

  /* An image cut inside its header. */
  fx_tree(root, sizeof root, 1);
  fx_path(path, sizeof path, root, 0, "image");
  truncate_file(path, 20);
  expect_bad("truncated image", root, CLM_ERR_PARSE, path, NULL, 2, 1);
  rm_tree(root);

  /* Lengths that would make stb_image allocate gigabytes before it finds the file short: an
   * IDAT chunk claiming 1 GiB, and a 30000x30000 header over a few hundred bytes of data. */
  fx_tree(root, sizeof root, 1);
  fx_path(path, sizeof path, root, 1, "instance");
  patch_be32(path, PNG_IDAT_LEN_AT, 1u << 30);
  expect_bad("IDAT longer than the file", root, CLM_ERR_PARSE, path, "claims 1073741824 bytes", 2,
             1);
  rm_tree(root);
  fx_tree(root, sizeof root, 1);
  fx_path(path, sizeof path, root, 0, "image");
  patch_be32(path, PNG_WIDTH_AT, 30000);
  patch_be32(path, PNG_HEIGHT_AT, 30000);
  expect_bad("huge header, little data", root, CLM_ERR_PARSE, path, "30000x30000 image", 2, 1);
  rm_tree(root);

  /* A label without its IEND chunk (the last 12 bytes). */
  fx_tree(root, sizeof root, 1);
  fx_path(path, sizeof path, root, 2, "label");
  {
    struct stat sb;
    if (stat(path, &sb) != 0) exit(1);
    truncate_file(path, (long)sb.st_size - 12);
  }
  expect_bad("no IEND", root, CLM_ERR_PARSE, path, "no IEND", 2, 1);
  rm_tree(root);

  /* Label 8x15 for an 8x16 image. */
  fx_tree(root, sizeof root, 1);
  fx_path(path, sizeof path, root, 1, "label");
  write_label(path, FW - 1, FH, 1);
  expect_bad("size mismatch", root, CLM_ERR_PARSE, path, "15x8", 2, 1);
  rm_tree(root);

  /* Label id 40 at (x 5, y 2), pixel 37. */
  fx_tree(root, sizeof root, 1);
  fx_path(path, sizeof path, root, 2, "label");
  {
    unsigned char v[FH * FW];
    for (int i = 0; i < FH * FW; i++) v[i] = (unsigned char)fx_label(i % FW, i / FW, 0);
    v[2 * FW + 5] = 40;
    if (!stbi_write_png(path, FW, FH, 1, v, FW)) exit(1);
  }
  expect_bad("label id 40", root, CLM_ERR_PARSE, path, "label id 40 at pixel 37", 2, 1);
  rm_tree(root);

  /* No instanceIds for one image. */
  fx_tree(root, sizeof root, 1);
  fx_path(path, sizeof path, root, 0, "instance");
  unlink(path);
  expect_bad("missing instanceIds", root, CLM_ERR_NOT_FOUND, path, "missing", 2, 1);
  rm_tree(root);

  /* 8-bit disparity. */
  fx_tree(root, sizeof root, 1);
  fx_path(path, sizeof path, root, 1, "disparity");
  {
    unsigned char v[FH * FW];
    memset(v, 9, sizeof v);
    if (!stbi_write_png(path, FW, FH, 1, v, FW)) exit(1);
  }
  expect_bad("8-bit disparity", root, CLM_ERR_PARSE, path, "expected a 16-bit", 2, 1);
  rm_tree(root);

  /* Two bad samples in one tree: both reported. */
  fx_tree(root, sizeof root, 1);
  fx_path(path, sizeof path, root, 2, "image");
  truncate_file(path, 10);
  fx_path(path2, sizeof path2, root, 0, "disparity");
  unlink(path2);
  expect_bad("two bad", root, CLM_ERR_PARSE, path, NULL, 1, 2);
  {
    clm_cityscapes_options o = fx_options(root, FH, FW, CLM_LABELS_CATEGORIES, 1);
    clm_dataset *d = NULL;
    char report[2048];
    if (clm_cityscapes_open(&o, &d) == CLM_OK) {
      clm_cityscapes_skipped(d, report, sizeof report);
      test_true("two bad: report names both", strstr(report, path) && strstr(report, path2),
                report);
      char tiny[8];
      int n = clm_cityscapes_skipped(d, tiny, sizeof tiny);
      test_true("two bad: report truncates safely", n == 2 && strlen(tiny) == 7, tiny);
    }
    clm_dataset_free(d);
  }
  rm_tree(root);

  /* Every sample bad: skip_bad still fails, naming the split. */
  fx_tree(root, sizeof root, 1);
  for (int i = 0; i < 3; i++) {
    fx_path(path, sizeof path, root, i, "instance");
    unlink(path);
  }
  {
    clm_cityscapes_options o = fx_options(root, FH, FW, CLM_LABELS_CATEGORIES, 1);
    clm_dataset *d = NULL;
    clm_status st = clm_cityscapes_open(&o, &d);
    test_true("all bad: fails even with skip_bad", st != CLM_OK && !d, clm_last_error());
    clm_dataset_free(d);
  }
  rm_tree(root);
}

static void test_layout(void) {
  char root[256], dir[512];
  /* Without disparity/: depth invalid everywhere. */
  fx_tree(root, sizeof root, 0);
  clm_cityscapes_options o = fx_options(root, FH, FW, CLM_LABELS_CATEGORIES, 0);
  clm_dataset *d = NULL;
  clm_status st = clm_cityscapes_open(&o, &d);
  test_status("no disparity: open", st);
  if (st == CLM_OK) {
    clm_sample s;
    if (load(d, 0, &s)) {
      int none = 1;
      for (int i = 0; i < FH * FW; i++) none &= s.depth_valid[i] == 0.0f && s.depth[i] == 0.0f;
      test_true("no disparity: depth_valid 0 everywhere", none && clm_dataset_count(d) == 3, NULL);
      clm_sample_free(&s);
    }
  }
  clm_dataset_free(d);

  /* A split that does not exist, and one with a city but no images. */
  o.split = CLM_SPLIT_VAL;
  d = NULL;
  st = clm_cityscapes_open(&o, &d);
  snprintf(dir, sizeof dir, "%s/leftImg8bit/val", root);
  test_true("missing split: fails naming the directory",
            st == CLM_ERR_NOT_FOUND && !d && strstr(clm_last_error(), dir), clm_last_error());
  snprintf(dir, sizeof dir, "%s/leftImg8bit/test/aachen", root);
  mkdirs(dir);
  o.split = CLM_SPLIT_TEST;
  st = clm_cityscapes_open(&o, &d);
  snprintf(dir, sizeof dir, "%s/leftImg8bit/test", root);
  test_true("empty split: fails naming the directory",
            st == CLM_ERR_NOT_FOUND && !d && strstr(clm_last_error(), dir), clm_last_error());

  /* Bad options. */
  o = fx_options(root, 0, FW, CLM_LABELS_CATEGORIES, 0);
  test_true("zero height rejected", clm_cityscapes_open(&o, &d) == CLM_ERR_INVALID_ARG, NULL);
  o = fx_options(NULL, FH, FW, CLM_LABELS_CATEGORIES, 0);
  test_true("no root rejected", clm_cityscapes_open(&o, &d) == CLM_ERR_INVALID_ARG, NULL);
  rm_tree(root);
}

int main(void) {
  char root[256];
  fx_tree(root, sizeof root, 1);
  test_native(root);
  test_resize(root, 4, 8);
  test_resize(root, 16, 32);
  rm_tree(root);
  test_bad();
  test_layout();
  return test_finish();
}
