/* CityScapes-layout reader: scans root/leftImg8bit/<split>/<city>/ (sorted, so the order is
 * deterministic), pairs each image with its gtFine labelIds and instanceIds and, when
 * root/disparity/ exists, its disparity; checks every sample once at open; loads a sample by
 * decoding the PNGs (stb_image, compiled in png_read.c) and resizing to the dataset's size.
 * Label ids map to the 7 categories or the 19 train ids; instance ids are kept for "thing"
 * classes only. Nothing here prints: errors go through CLM_FAIL, left-out samples are
 * counted and their first messages kept for clm_cityscapes_skipped. */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <stb_image.h>
#include "data/dataset-impl.h"
#include "data/png_check.h"
#include "runtime/runtime-impl.h"

#define CS_LABEL_IDS 34      /* CityScapes label ids 0..33 (license plate, -1, never in PNGs) */
#define CS_REPORT_KEEP 8     /* messages kept of the samples left out */
#define CS_MSG 512

static const char IMAGE_SUFFIX[] = "_leftImg8bit.png";

/* Label id -> category id - 1 (void -> ignore), per the official CityScapes labels table. */
static const unsigned char CATEGORY[CS_LABEL_IDS] = {
  255, 255, 255, 255, 255, 255, 255, /* 0..6 void */
  0, 0, 0, 0,                        /* 7..10 flat: road, sidewalk, parking, rail track */
  1, 1, 1, 1, 1, 1,                  /* 11..16 construction */
  2, 2, 2, 2,                        /* 17..20 object: pole, polegroup, light, sign */
  3, 3,                              /* 21..22 nature: vegetation, terrain */
  4,                                 /* 23 sky */
  5, 5,                              /* 24..25 human: person, rider */
  6, 6, 6, 6, 6, 6, 6, 6             /* 26..33 vehicle */
};

/* Label id -> the 19 train ids (255: not evaluated). */
static const unsigned char TRAIN_ID[CS_LABEL_IDS] = {
  255, 255, 255, 255, 255, 255, 255, /* 0..6 void */
  0, 1, 255, 255,                    /* road, sidewalk, parking, rail track */
  2, 3, 4, 255, 255, 255,            /* building, wall, fence, guard rail, bridge, tunnel */
  5, 255, 6, 7,                      /* pole, polegroup, traffic light, traffic sign */
  8, 9, 10,                          /* vegetation, terrain, sky */
  11, 12,                            /* person, rider */
  13, 14, 15, 255, 255, 16, 17, 18   /* car, truck, bus, caravan, trailer, train, moto, bike */
};

/* "Thing" classes whose pixels carry instances: person 24 .. bicycle 33 (caravan and trailer
 * included, as in the official table's hasInstances). */
static int is_thing(int label_id) { return label_id >= 24 && label_id <= 33; }

typedef struct cs_sample {
  char *image, *label, *instance, *disparity; /* disparity NULL when the dataset has none */
  int height, width;                          /* of the files (all four agree) */
} cs_sample;

typedef struct cs_data {
  cs_sample *samples;
  int count, cap;
  int height, width; /* output resolution */
  clm_label_mode labels;
  int skipped;
  char report[CS_REPORT_KEEP][CS_MSG];
} cs_data;

/* ---- paths and directories ----------------------------------------------------------------- */

/* malloc'd formatted string, NULL when out of memory. */
static char *str_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *str_fmt(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return NULL;
  char *s = malloc((size_t)n + 1);
  if (!s) return NULL;
  va_start(ap, fmt);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return s;
}

static int is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, int n) {
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
}

/* Sorted names in dir: subdirectories (want_dirs) or regular files ending in suffix. Hidden
 * entries are ignored. */
static clm_status list_dir(const char *dir, int want_dirs, const char *suffix, char ***out,
                           int *count) {
  *out = NULL;
  *count = 0;
  DIR *dp = opendir(dir);
  if (!dp) CLM_FAIL(CLM_ERR_NOT_FOUND, "cannot open directory %s", dir);
  char **names = NULL;
  int n = 0, cap = 0;
  clm_status st = CLM_OK;
  size_t slen = suffix ? strlen(suffix) : 0;
  struct dirent *e;
  while ((e = readdir(dp))) {
    if (e->d_name[0] == '.') continue;
    size_t len = strlen(e->d_name);
    if (suffix && (len <= slen || strcmp(e->d_name + len - slen, suffix) != 0)) continue;
    char *full = str_fmt("%s/%s", dir, e->d_name);
    if (!full) { st = CLM_ERROR(CLM_ERR_HOST_MEMORY, "out of host memory"); break; }
    int keep = want_dirs ? is_dir(full) : is_file(full);
    free(full);
    if (!keep) continue;
    if (n == cap) {
      int ncap = cap ? 2 * cap : 64;
      char **grown = realloc(names, (size_t)ncap * sizeof *grown);
      if (!grown) { st = CLM_ERROR(CLM_ERR_HOST_MEMORY, "out of host memory"); break; }
      names = grown;
      cap = ncap;
    }
    if (!(names[n] = str_fmt("%s", e->d_name))) {
      st = CLM_ERROR(CLM_ERR_HOST_MEMORY, "out of host memory");
      break;
    }
    n++;
  }
  closedir(dp);
  if (st != CLM_OK) {
    free_names(names, n);
    return st;
  }
  if (n > 1) qsort(names, (size_t)n, sizeof *names, cmp_str);
  *out = names;
  *count = n;
  return CLM_OK;
}

/* ---- checks at open ----------------------------------------------------------------------------- */

static const char *png_reason(void) {
  const char *r = stbi_failure_reason();
  return r ? r : "unknown reason";
}

/* Header of one target file: must be a PNG of one channel, 16-bit or 8-bit as asked, the size of
 * its image. Writes the problem into msg and returns CLM_ERR_PARSE. */
static clm_status check_header(const cs_sample *s, const char *path, int want16, char *msg,
                               size_t size) {
  int w, h, c;
  if (!stbi_info(path, &w, &h, &c)) {
    snprintf(msg, size, "%s: not a readable PNG (%s)", path, png_reason());
    return CLM_ERR_PARSE;
  }
  int is16 = stbi_is_16_bit(path);
  if (c != 1 || is16 != want16) {
    snprintf(msg, size, "%s: expected a %d-bit single-channel PNG, found %d-bit with %d channel%s",
             path, want16 ? 16 : 8, is16 ? 16 : 8, c, c == 1 ? "" : "s");
    return CLM_ERR_PARSE;
  }
  if (w != s->width || h != s->height) {
    snprintf(msg, size, "%s: is %dx%d (width x height), its image %s is %dx%d", path, w, h,
             s->image, s->width, s->height);
    return CLM_ERR_PARSE;
  }
  return CLM_OK;
}

/* Checks one paired sample: headers of all files, every file decoded, and every label and
 * instance id in range. */
static clm_status check_sample(cs_sample *s, char *msg, size_t size) {
  const char *files[4] = {s->image, s->label, s->instance, s->disparity};
  for (int i = 0; i < 4; i++) {
    clm_status st = files[i] ? clm_png_check(files[i], msg, size) : CLM_OK;
    if (st != CLM_OK) return st;
  }
  int c;
  if (!stbi_info(s->image, &s->width, &s->height, &c)) {
    snprintf(msg, size, "%s: not a readable PNG (%s)", s->image, png_reason());
    return CLM_ERR_PARSE;
  }
  /* grey, grey + alpha and RGBA are read as RGB (grey replicated, alpha dropped), as infer
   * reads them */
  if (stbi_is_16_bit(s->image) || c < 1 || c > 4) {
    snprintf(msg, size, "%s: expected an 8-bit grey, RGB or RGBA PNG, found %d-bit with %d channel%s",
             s->image, stbi_is_16_bit(s->image) ? 16 : 8, c, c == 1 ? "" : "s");
    return CLM_ERR_PARSE;
  }
  clm_status st;
  if ((st = check_header(s, s->label, 0, msg, size)) != CLM_OK) return st;
  if ((st = check_header(s, s->instance, 1, msg, size)) != CLM_OK) return st;
  if (s->disparity && (st = check_header(s, s->disparity, 1, msg, size)) != CLM_OK) return st;

  size_t n = (size_t)s->width * s->height;
  int w, h;
  unsigned char *label = stbi_load(s->label, &w, &h, &c, 1);
  if (!label) {
    snprintf(msg, size, "%s: cannot decode (%s)", s->label, png_reason());
    return CLM_ERR_PARSE;
  }
  for (size_t i = 0; i < n; i++)
    if (label[i] >= CS_LABEL_IDS) {
      snprintf(msg, size, "%s: label id %d at pixel %zu (x %zu, y %zu) is outside 0..%d", s->label,
               label[i], i, i % (size_t)s->width, i / (size_t)s->width, CS_LABEL_IDS - 1);
      stbi_image_free(label);
      return CLM_ERR_PARSE;
    }
  stbi_image_free(label);

  stbi_us *inst = stbi_load_16(s->instance, &w, &h, &c, 1);
  if (!inst) {
    snprintf(msg, size, "%s: cannot decode (%s)", s->instance, png_reason());
    return CLM_ERR_PARSE;
  }
  for (size_t i = 0; i < n; i++) {
    int v = inst[i];
    if ((v < 1000 ? v : v / 1000) >= CS_LABEL_IDS) {
      snprintf(msg, size,
               "%s: instance id %d at pixel %zu (x %zu, y %zu) is neither a label id 0..%d nor "
               "label id * 1000 + index", s->instance, v, i, i % (size_t)s->width,
               i / (size_t)s->width, CS_LABEL_IDS - 1);
      stbi_image_free(inst);
      return CLM_ERR_PARSE;
    }
  }
  stbi_image_free(inst);

  /* The image and disparity bodies too: a header that reads fine does not make a decodable
   * file, and a bad one must be reported here, not when training reaches it. */
  unsigned char *rgb = stbi_load(s->image, &w, &h, &c, 3);
  if (!rgb) {
    snprintf(msg, size, "%s: cannot decode (%s)", s->image, png_reason());
    return CLM_ERR_PARSE;
  }
  stbi_image_free(rgb);
  if (s->disparity) {
    stbi_us *disp = stbi_load_16(s->disparity, &w, &h, &c, 1);
    if (!disp) {
      snprintf(msg, size, "%s: cannot decode (%s)", s->disparity, png_reason());
      return CLM_ERR_PARSE;
    }
    stbi_image_free(disp);
  }
  return CLM_OK;
}

static void sample_clear(cs_sample *s) {
  free(s->image);
  free(s->label);
  free(s->instance);
  free(s->disparity);
  memset(s, 0, sizeof *s);
}

static void cs_free(void *impl) {
  cs_data *d = impl;
  if (!d) return;
  for (int i = 0; i < d->count; i++) sample_clear(&d->samples[i]);
  free(d->samples);
  free(d);
}

/* A sample that failed a check: an error without skip_bad, else counted and its message kept. */
static clm_status reject(cs_data *d, int skip_bad, clm_status st, const char *msg) {
  if (!skip_bad) return CLM_ERROR(st, "%s", msg);
  if (d->skipped < CS_REPORT_KEEP) snprintf(d->report[d->skipped], CS_MSG, "%s", msg);
  d->skipped++;
  return CLM_OK;
}

/* Pairs, checks and appends (or rejects) the image `file` of `city`. */
static clm_status add_sample(cs_data *d, const clm_cityscapes_options *opt, const char *city,
                             const char *file, int has_disparity) {
  const char *root = opt->root, *split = clm_split_name(opt->split);
  int stem = (int)(strlen(file) - (sizeof IMAGE_SUFFIX - 1)); /* "<city>_<seq>_<frame>" */
  cs_sample s = {0};
  s.image = str_fmt("%s/leftImg8bit/%s/%s/%s", root, split, city, file);
  s.label = str_fmt("%s/gtFine/%s/%s/%.*s_gtFine_labelIds.png", root, split, city, stem, file);
  s.instance = str_fmt("%s/gtFine/%s/%s/%.*s_gtFine_instanceIds.png", root, split, city, stem,
                       file);
  if (has_disparity)
    s.disparity = str_fmt("%s/disparity/%s/%s/%.*s_disparity.png", root, split, city, stem, file);
  if (!s.image || !s.label || !s.instance || (has_disparity && !s.disparity)) {
    sample_clear(&s);
    CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  }
  char msg[CS_MSG];
  clm_status st = CLM_OK;
  const char *partners[3] = {s.label, s.instance, s.disparity};
  for (int k = 0; k < 3 && st == CLM_OK; k++)
    if (partners[k] && !is_file(partners[k])) {
      snprintf(msg, sizeof msg, "%s: missing %s", s.image, partners[k]);
      st = CLM_ERR_NOT_FOUND;
    }
  if (st == CLM_OK) st = check_sample(&s, msg, sizeof msg);
  if (st != CLM_OK) {
    sample_clear(&s);
    return reject(d, opt->skip_bad, st, msg);
  }
  if (d->count == d->cap) {
    int ncap = d->cap ? 2 * d->cap : 256;
    cs_sample *grown = realloc(d->samples, (size_t)ncap * sizeof *grown);
    if (!grown) {
      sample_clear(&s);
      CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
    }
    d->samples = grown;
    d->cap = ncap;
  }
  d->samples[d->count++] = s;
  return CLM_OK;
}

/* Scans every city of the split; *seen counts the images found, good or bad. */
static clm_status scan(cs_data *d, const clm_cityscapes_options *opt, const char *base,
                       int has_disparity, int *seen) {
  char **cities;
  int ncities;
  CLM_TRY(list_dir(base, 1, NULL, &cities, &ncities));
  clm_status st = CLM_OK;
  for (int c = 0; c < ncities && st == CLM_OK; c++) {
    char *dir = str_fmt("%s/%s", base, cities[c]);
    if (!dir) { st = CLM_ERROR(CLM_ERR_HOST_MEMORY, "out of host memory"); break; }
    char **files;
    int nfiles;
    st = list_dir(dir, 0, IMAGE_SUFFIX, &files, &nfiles);
    free(dir);
    if (st != CLM_OK) break;
    for (int f = 0; f < nfiles && st == CLM_OK; f++) {
      (*seen)++;
      st = add_sample(d, opt, cities[c], files[f], has_disparity);
    }
    free_names(files, nfiles);
  }
  free_names(cities, ncities);
  return st;
}

/* ---- loading -------------------------------------------------------------------------------- */

/* Source index of output index o under nearest-neighbour resizing from `in` to `out` samples:
 * floor((o + 0.5) * in / out), pixel centres aligned. */
static int nearest(int o, int in, int out) {
  long v = ((2L * o + 1) * in) / (2L * out);
  return v > in - 1 ? in - 1 : (int)v;
}

/* Bilinear source position of output index o (half-pixel centres, clamped at the borders):
 * the two source indices and the weight of the second. */
static void bilinear(int o, int in, int out, int *i0, int *i1, float *t) {
  double f = (o + 0.5) * in / out - 0.5;
  if (f < 0) f = 0;
  if (f > in - 1) f = in - 1;
  *i0 = (int)f;
  *i1 = *i0 + 1 < in ? *i0 + 1 : in - 1;
  *t = (float)(f - *i0);
}

static clm_status decode(const char *path, int is16, int h, int w, int comp, void **out) {
  int fw, fh, fc;
  char msg[CS_MSG];
  clm_status st = clm_png_check(path, msg, sizeof msg);
  if (st != CLM_OK) CLM_FAIL(st, "%s", msg);
  *out = is16 ? (void *)stbi_load_16(path, &fw, &fh, &fc, comp)
              : (void *)stbi_load(path, &fw, &fh, &fc, comp);
  if (!*out) CLM_FAIL(CLM_ERR_PARSE, "%s: cannot decode (%s)", path, png_reason());
  if (fw != w || fh != h) {
    stbi_image_free(*out);
    *out = NULL;
    CLM_FAIL(CLM_ERR_PARSE, "%s: is %dx%d, it was %dx%d when the dataset was opened", path, fw, fh,
             w, h);
  }
  return CLM_OK;
}

static clm_status cs_load(void *impl, int index, clm_sample *out) {
  cs_data *d = impl;
  const cs_sample *s = &d->samples[index];
  const int h = s->height, w = s->width, H = out->height, W = out->width;
  const size_t n = (size_t)H * W;
  unsigned char *rgb = NULL, *label = NULL;
  stbi_us *inst = NULL, *disp = NULL;
  int *x0 = NULL, *x1 = NULL;
  float *tx = NULL;
  clm_status st;
  CLM_CHECK(st, decode(s->image, 0, h, w, 3, (void **)&rgb), done);
  CLM_CHECK(st, decode(s->label, 0, h, w, 1, (void **)&label), done);
  CLM_CHECK(st, decode(s->instance, 1, h, w, 1, (void **)&inst), done);
  if (s->disparity) CLM_CHECK(st, decode(s->disparity, 1, h, w, 1, (void **)&disp), done);

  /* Image: bilinear, (H, W, 3) interleaved bytes -> (3, H, W) planar floats in [0, 1]. */
  x0 = malloc((size_t)W * sizeof *x0);
  x1 = malloc((size_t)W * sizeof *x1);
  tx = malloc((size_t)W * sizeof *tx);
  if (!x0 || !x1 || !tx) {
    st = CLM_ERROR(CLM_ERR_HOST_MEMORY, "out of host memory");
    goto done;
  }
  for (int x = 0; x < W; x++) bilinear(x, w, W, &x0[x], &x1[x], &tx[x]);
  for (int y = 0; y < H; y++) {
    int y0, y1;
    float ty;
    bilinear(y, h, H, &y0, &y1, &ty);
    const unsigned char *r0 = rgb + (size_t)y0 * w * 3, *r1 = rgb + (size_t)y1 * w * 3;
    for (int x = 0; x < W; x++)
      for (int c = 0; c < 3; c++) {
        float a = r0[3 * x0[x] + c] + tx[x] * (r0[3 * x1[x] + c] - r0[3 * x0[x] + c]);
        float b = r1[3 * x0[x] + c] + tx[x] * (r1[3 * x1[x] + c] - r1[3 * x0[x] + c]);
        out->image[(size_t)c * n + (size_t)y * W + x] = (a + ty * (b - a)) * (1.0f / 255.0f);
      }
  }

  /* Targets: nearest neighbour. Disparity (p - 1) / 256 for p > 0, in pixels of the source
   * width, rescaled to pixels of the output width. */
  const unsigned char *map = d->labels == CLM_LABELS_TRAIN_IDS ? TRAIN_ID : CATEGORY;
  const float disp_scale = (float)W / (float)w / 256.0f;
  for (int y = 0; y < H; y++) {
    size_t row = (size_t)nearest(y, h, H) * w;
    for (int x = 0; x < W; x++) {
      size_t i = (size_t)y * W + x, j = row + (size_t)nearest(x, w, W);
      int id = label[j] < CS_LABEL_IDS ? label[j] : 0; /* checked at open */
      out->semantic[i] = (float)map[id];
      int v = inst[j];
      out->instance[i] = v >= 1000 && is_thing(v / 1000) ? v : 0;
      int p = disp ? disp[j] : 0;
      out->depth[i] = p > 0 ? (float)(p - 1) * disp_scale : 0.0f;
      out->depth_valid[i] = p > 0 ? 1.0f : 0.0f;
    }
  }
  st = CLM_OK;
done:
  stbi_image_free(rgb);
  stbi_image_free(label);
  stbi_image_free(inst);
  stbi_image_free(disp);
  free(x0);
  free(x1);
  free(tx);
  return st;
}

static const clm_dataset_ops CS_OPS = {cs_load, cs_free};

/* ---- open ----------------------------------------------------------------------------------- */

clm_status clm_cityscapes_open(const clm_cityscapes_options *opt, clm_dataset **out) {
  *out = NULL;
  if (!opt || !opt->root || !opt->root[0])
    CLM_FAIL(CLM_ERR_INVALID_ARG, "CityScapes options need a root directory");
  if (opt->split != CLM_SPLIT_TRAIN && opt->split != CLM_SPLIT_VAL && opt->split != CLM_SPLIT_TEST)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "unknown split %d", (int)opt->split);
  if (opt->labels != CLM_LABELS_CATEGORIES && opt->labels != CLM_LABELS_TRAIN_IDS)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "unknown label mode %d", (int)opt->labels);
  if (opt->height <= 0 || opt->width <= 0 || (size_t)opt->height * opt->width > ((size_t)1 << 28))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "resolution %dx%d is out of range", opt->height, opt->width);

  cs_data *d = calloc(1, sizeof *d);
  char *base = str_fmt("%s/leftImg8bit/%s", opt->root, clm_split_name(opt->split));
  char *disp_dir = str_fmt("%s/disparity", opt->root);
  clm_status st = CLM_OK;
  if (!d || !base || !disp_dir) {
    st = CLM_ERROR(CLM_ERR_HOST_MEMORY, "out of host memory");
    goto fail;
  }
  d->height = opt->height;
  d->width = opt->width;
  d->labels = opt->labels;
  int seen = 0;
  if (!is_dir(base)) {
    st = CLM_ERROR(CLM_ERR_NOT_FOUND, "no split directory %s", base);
    goto fail;
  }
  int has_disparity = is_dir(disp_dir);
  CLM_CHECK(st, scan(d, opt, base, has_disparity, &seen), fail);
  if (seen == 0) {
    st = CLM_ERROR(CLM_ERR_NOT_FOUND, "split directory %s holds no <city>/*%s images", base,
                   IMAGE_SUFFIX);
    goto fail;
  }
  if (d->count == 0) {
    st = CLM_ERROR(CLM_ERR_PARSE, "all %d samples of %s were left out; the first: %s", seen, base,
                   d->report[0]);
    goto fail;
  }
  free(base);
  free(disp_dir);
  CLM_TRY(clm_dataset_make(&CS_OPS, d, d->count, opt->height, opt->width, out));
  /* without disparity/ the tree offers no depth: a model that needs it is told so */
  clm_dataset_declare(*out, opt->labels, has_disparity);
  return CLM_OK;
fail:
  free(base);
  free(disp_dir);
  cs_free(d);
  return st;
}

int clm_cityscapes_skipped(const clm_dataset *d, char *buf, size_t size) {
  if (buf && size) buf[0] = '\0';
  if (!d || d->ops != &CS_OPS) return 0;
  const cs_data *cs = d->impl;
  size_t used = 0;
  int kept = cs->skipped < CS_REPORT_KEEP ? cs->skipped : CS_REPORT_KEEP;
  for (int i = 0; i < kept && buf && used + 1 < size; i++) {
    int n = snprintf(buf + used, size - used, "%s%s", i ? "\n" : "", cs->report[i]);
    if (n < 0) break;
    used += (size_t)n;
  }
  return cs->skipped;
}
