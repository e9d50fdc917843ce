/* The synthetic street-scene generator: determinism, label/instance/depth consistency, class
 * coverage, disjoint splits, render time, target noise, and the CityScapes-layout writer.
 * Host only: no OpenCL device is needed. Previews are left in the printed temp directory. */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "data/synth-impl.h"
#include "test_util.h"

/* From stb_image_write, compiled into the library (src/data/png_write.c). */
int stbi_write_png(char const *filename, int w, int h, int comp, const void *data, int stride);

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static size_t npix(const clm_sample *s) { return (size_t)s->height * s->width; }

static int samples_equal(const clm_sample *a, const clm_sample *b) {
  size_t n = npix(a);
  return !memcmp(a->image, b->image, 3 * n * sizeof(float)) &&
         !memcmp(a->semantic, b->semantic, n * sizeof(float)) &&
         !memcmp(a->instance, b->instance, n * sizeof(int32_t)) &&
         !memcmp(a->depth, b->depth, n * sizeof(float)) &&
         !memcmp(a->depth_valid, b->depth_valid, n * sizeof(float));
}

static void preview(const char *path, const clm_sample *s, int what) {
  size_t n = npix(s);
  static const unsigned char pal[7][3] = {{128, 64, 128}, {70, 70, 70}, {250, 170, 30},
                                          {107, 142, 35}, {70, 130, 180}, {220, 20, 60},
                                          {0, 0, 142}};
  unsigned char *rgb = malloc(3 * n);
  if (!rgb) return;
  for (size_t i = 0; i < n; i++)
    for (int c = 0; c < 3; c++) {
      float v;
      if (what == 0) v = s->image[c * n + i] * 255.0f;
      else if (what == 1) v = pal[(int)s->semantic[i] % 7][c];
      else v = s->depth_valid[i] ? fminf(255.0f, s->depth[i] * 8.0f) : (c == 0 ? 255.0f : 0.0f);
      rgb[3 * i + c] = (unsigned char)v;
    }
  stbi_write_png(path, s->width, s->height, 3, rgb, 3 * s->width);
  free(rgb);
}

static int png_ok(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  unsigned char sig[8] = {0};
  size_t got = fread(sig, 1, 8, f);
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fclose(f);
  static const unsigned char want[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  return got == 8 && !memcmp(sig, want, 8) && size > 50;
}

static int cmp_flt(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* --noise-depth-far: over 6 scenes, residuals (noisy - clean) on the far half of each image's
 * non-sky valid disparities (below the median, computed here) have mean 0 and standard
 * deviation σ (statistical bounds: 4 standard errors); the near half, sky and invalid pixels are
 * untouched; the image is untouched; loads are deterministic. Pixels within 4σ of 0 are left
 * out of the moments (the generator clips disparities at 0). */
static void test_far_noise(void) {
  const float sigma = 0.1f;
  clm_synth_options clean = {.seed = 11, .count = 6, .height = 64, .width = 128};
  clm_synth_options noisy = clean;
  noisy.noise_depth_far = sigma;
  clm_dataset *dc = NULL, *dn = NULL;
  test_status("open clean", clm_synth_open(&clean, CLM_SPLIT_TRAIN, &dc));
  test_status("open far-noise", clm_synth_open(&noisy, CLM_SPLIT_TRAIN, &dn));
  if (!dc || !dn) return;
  size_t m = (size_t)clean.height * clean.width, far = 0, far_changed = 0, near_changed = 0,
         other_changed = 0, used = 0, near = 0;
  double s1 = 0, s2 = 0;
  int image_same = 1, deterministic = 1;
  float *v = malloc(m * sizeof *v);
  clm_sample a, b, c;
  clm_sample_alloc(&a, clean.height, clean.width);
  clm_sample_alloc(&b, clean.height, clean.width);
  clm_sample_alloc(&c, clean.height, clean.width);
  for (int k = 0; k < clean.count; k++) {
    clm_dataset_load(dc, k, &a);
    clm_dataset_load(dn, k, &b);
    clm_dataset_load(dn, k, &c);
    deterministic &= samples_equal(&b, &c);
    image_same &= !memcmp(a.image, b.image, 3 * m * sizeof(float));
    size_t nv = 0;
    for (size_t i = 0; i < m; i++)
      if (a.depth_valid[i] && a.semantic[i] != CLM_CLASS_SKY && a.depth[i] != 0) v[nv++] = a.depth[i];
    qsort(v, nv, sizeof *v, cmp_flt);
    float median = nv ? v[nv / 2] : 0;
    for (size_t i = 0; i < m; i++) {
      int eligible = a.depth_valid[i] && a.semantic[i] != CLM_CLASS_SKY && a.depth[i] != 0;
      double r = (double)b.depth[i] - a.depth[i];
      if (!eligible) other_changed += r != 0;
      else if (!(a.depth[i] < median)) { near++; near_changed += r != 0; }
      else {
        far++;
        far_changed += r != 0;
        if (a.depth[i] > 4 * sigma) { s1 += r; s2 += r * r; used++; }
      }
    }
  }
  double mean = used ? s1 / used : 0, sd = used ? sqrt(s2 / used - mean * mean) : 0;
  char detail[200];
  snprintf(detail, sizeof detail, "%zu far pixels, %zu near, %zu used for moments", far, near, used);
  test_true("far-noise: both halves populated", far > 5000 && near > 5000 && used > 2000, detail);
  snprintf(detail, sizeof detail, "mean residual %.4f, bound %.4f", mean, 4 * sigma / sqrt((double)used));
  test_true("far-noise: far-half residual mean ~ 0", fabs(mean) < 4 * sigma / sqrt((double)used), detail);
  double se = sigma / sqrt(2.0 * (double)used);
  snprintf(detail, sizeof detail, "std %.4f vs sigma %.3f (bound ±%.4f)", sd, sigma, 4 * se);
  test_true("far-noise: far-half residual std = sigma", fabs(sd - sigma) < 4 * se, detail);
  snprintf(detail, sizeof detail, "%zu of %zu changed", far_changed, far);
  test_true("far-noise: every far pixel changed", far_changed > far * 99 / 100, detail);
  snprintf(detail, sizeof detail, "near changed %zu, sky/invalid changed %zu", near_changed, other_changed);
  test_true("far-noise: near half, sky and invalid pixels untouched", near_changed == 0 && other_changed == 0, detail);
  test_true("far-noise: image untouched", image_same, NULL);
  test_true("far-noise: loads deterministic", deterministic, NULL);
  clm_synth_options bad = noisy;
  bad.noise_depth_far = -1;
  clm_dataset *dbad = NULL;
  test_true("far-noise: negative sigma refused", clm_synth_open(&bad, CLM_SPLIT_TRAIN, &dbad) == CLM_ERR_INVALID_ARG, NULL);
  clm_sample_free(&a);
  clm_sample_free(&b);
  clm_sample_free(&c);
  free(v);
  clm_dataset_free(dc);
  clm_dataset_free(dn);
}

int main(void) {
  const int H = 128, W = 256;
  size_t n = (size_t)H * W;
  clm_sample a, b;
  test_status("alloc", clm_sample_alloc(&a, H, W));
  test_status("alloc", clm_sample_alloc(&b, H, W));

  /* determinism */
  test_status("render", clm_synth_render(42, &a));
  test_status("render again", clm_synth_render(42, &b));
  test_true("same seed, bit-identical sample", samples_equal(&a, &b), "");
  test_status("render other", clm_synth_render(43, &b));
  test_true("other seed differs", !samples_equal(&a, &b), "");

  /* consistency and class coverage over several scenes */
  int seen[CLM_SEMANTIC_CLASSES] = {0}, bad_inst = 0, bad_thing = 0, bad_sky = 0, bad_disp = 0;
  int bad_class = 0, main_classes = 0;
  double invalid_frac = 0, time_ms = 0, worst_ms = 0;
  const int scenes = 8;
  for (int sc = 0; sc < scenes; sc++) {
    double t0 = now_ms();
    clm_synth_render(1000 + (uint64_t)sc * 7919, &a);
    double dt = now_ms() - t0;
    time_ms += dt;
    if (dt > worst_ms) worst_ms = dt;
    int here[CLM_SEMANTIC_CLASSES] = {0};
    size_t invalid = 0;
    for (size_t i = 0; i < n; i++) {
      int c = (int)a.semantic[i];
      if (c < 0 || c >= CLM_SEMANTIC_CLASSES || (float)c != a.semantic[i]) { bad_class++; continue; }
      here[c] = 1;
      int thing = c == CLM_CLASS_HUMAN || c == CLM_CLASS_VEHICLE;
      if (a.instance[i] != 0 && !thing) bad_inst++;
      if (thing && a.instance[i] <= 0) bad_thing++;
      if (c == CLM_CLASS_SKY && (a.depth[i] != 0 || a.depth_valid[i] != 1)) bad_sky++;
      if (c != CLM_CLASS_SKY && a.depth_valid[i] && !(a.depth[i] > 0 && isfinite(a.depth[i])))
        bad_disp++;
      if (!a.depth_valid[i]) invalid++;
      for (int k = 0; k < 3; k++) {
        float v = a.image[k * n + i];
        if (!(v >= 0 && v <= 1)) bad_class++;
      }
    }
    invalid_frac += (double)invalid / n / scenes;
    for (int c = 0; c < CLM_SEMANTIC_CLASSES; c++) seen[c] += here[c];
    main_classes += here[CLM_CLASS_FLAT] && here[CLM_CLASS_CONSTRUCTION] && here[CLM_CLASS_SKY] &&
                    here[CLM_CLASS_VEHICLE];
  }
  char detail[256];
  snprintf(detail, sizeof detail, "%d instance pixels of stuff classes", bad_inst);
  test_true("instance ids only on human/vehicle", bad_inst == 0, detail);
  snprintf(detail, sizeof detail, "%d human/vehicle pixels without an instance", bad_thing);
  test_true("every human/vehicle pixel has an instance", bad_thing == 0, detail);
  snprintf(detail, sizeof detail, "%d sky pixels with disparity != 0 or invalid", bad_sky);
  test_true("sky: disparity 0, valid", bad_sky == 0, detail);
  snprintf(detail, sizeof detail, "%d non-sky valid pixels not > 0 and finite", bad_disp);
  test_true("non-sky disparity > 0, finite", bad_disp == 0, detail);
  test_true("classes in 0..6 and colours in [0, 1]", bad_class == 0, "");
  snprintf(detail, sizeof detail, "scenes per class: flat %d constr %d object %d nature %d sky %d "
           "human %d vehicle %d", seen[0], seen[1], seen[2], seen[3], seen[4], seen[5], seen[6]);
  int all = 1;
  for (int c = 0; c < CLM_SEMANTIC_CLASSES; c++) all &= seen[c] > 0;
  test_true("all 7 classes appear across 8 scenes", all, detail);
  snprintf(detail, sizeof detail, "%d of %d scenes", main_classes, scenes);
  test_true("road, building, sky and vehicle in most scenes", main_classes >= 6, detail);
  snprintf(detail, sizeof detail, "mean invalid depth fraction %.3f", invalid_frac);
  test_true("depth dropouts 1-6 %", invalid_frac > 0.01 && invalid_frac < 0.06, detail);
  printf("render 128x256: mean %.2f ms, worst %.2f ms over %d scenes\n", time_ms / scenes,
         worst_ms, scenes);
  snprintf(detail, sizeof detail, "mean %.2f ms", time_ms / scenes);
  test_true("render 128x256 < 200 ms", time_ms / scenes < 200.0, detail);

  /* splits: distinct seeds and distinct scenes */
  clm_synth_options opt = {.seed = 7, .count = 6, .height = 64, .width = 128};
  clm_dataset *ds[3] = {NULL, NULL, NULL};
  clm_sample sp[3][6];
  int dup = 0;
  for (int s = 0; s < 3; s++) {
    test_status("open split", clm_synth_open(&opt, (clm_split)s, &ds[s]));
    if (!ds[s]) return test_finish();
    for (int i = 0; i < opt.count; i++) {
      clm_sample_alloc(&sp[s][i], opt.height, opt.width);
      test_status("load", clm_dataset_load(ds[s], i, &sp[s][i]));
    }
  }
  for (int s = 0; s < 3; s++)
    for (int i = 0; i < opt.count; i++)
      for (int t = s; t < 3; t++)
        for (int j = 0; j < opt.count; j++) {
          if (t == s && j <= i) continue;
          if (samples_equal(&sp[s][i], &sp[t][j])) dup++;
        }
  test_true("no two samples equal within or across splits", dup == 0, "");
  /* scene seeds of 3 splits x 20000 indices, for a few dataset seeds: all distinct */
  enum { PER = 20000 };
  uint64_t *seeds = malloc(3 * PER * sizeof *seeds);
  int seed_dups = 0;
  for (uint64_t ds_seed = 0; seeds && ds_seed < 4; ds_seed++) {
    for (int s = 0; s < 3; s++)
      for (int i = 0; i < PER; i++) seeds[s * PER + i] = synth_scene_seed(ds_seed, (clm_split)s, i);
    qsort(seeds, 3 * PER, sizeof *seeds, cmp_u64);
    for (int i = 1; i < 3 * PER; i++) seed_dups += seeds[i] == seeds[i - 1];
  }
  free(seeds);
  test_true("scene seeds distinct across splits and indices", seed_dups == 0, "");
  clm_sample ref;
  clm_sample_alloc(&ref, opt.height, opt.width);
  clm_synth_render(synth_scene_seed(opt.seed, CLM_SPLIT_TEST, 2), &ref);
  test_true("dataset sample == clm_synth_render(scene seed)", samples_equal(&ref, &sp[2][2]), "");
  clm_sample_free(&ref);
  test_true("dataset count", clm_dataset_count(ds[0]) == opt.count, "");
  clm_sample again;
  clm_sample_alloc(&again, opt.height, opt.width);
  test_status("reload", clm_dataset_load(ds[1], 3, &again));
  test_true("reload is identical", samples_equal(&again, &sp[1][3]), "");

  /* noise: deterministic, changes the targets, leaves the image alone */
  clm_synth_options nopt = opt;
  nopt.noise_semantic = 0.1f;
  nopt.noise_depth = 0.5f;
  clm_dataset *nd = NULL;
  test_status("open noisy", clm_synth_open(&nopt, CLM_SPLIT_VAL, &nd));
  clm_sample x, y;
  clm_sample_alloc(&x, opt.height, opt.width);
  clm_sample_alloc(&y, opt.height, opt.width);
  clm_dataset_load(nd, 3, &x);
  clm_dataset_load(nd, 3, &y);
  test_true("noisy load deterministic", samples_equal(&x, &y), "");
  size_t m = (size_t)opt.height * opt.width, sem_changed = 0, dep_changed = 0, sky_changed = 0;
  for (size_t i = 0; i < m; i++) {
    sem_changed += x.semantic[i] != sp[1][3].semantic[i];
    if (sp[1][3].semantic[i] == CLM_CLASS_SKY) sky_changed += x.depth[i] != 0;
    else dep_changed += x.depth[i] != sp[1][3].depth[i];
  }
  double frac = (double)sem_changed / m;
  snprintf(detail, sizeof detail, "%.3f of labels changed (expect ~0.1*6/7)", frac);
  test_true("semantic noise rate", frac > 0.06 && frac < 0.12, detail);
  test_true("depth noise changes disparities", dep_changed > m / 2, "");
  test_true("depth noise leaves sky at 0", sky_changed == 0, "");
  test_true("noise leaves the image", !memcmp(x.image, sp[1][3].image, 3 * m * sizeof(float)), "");

  /* writer */
  char dir[] = "/tmp/clmtl_synth_XXXXXX";
  test_true("temp dir", mkdtemp(dir) != NULL, dir);
  clm_synth_options wopt = {.seed = 3, .count = 2, .height = 128, .width = 256};
  test_status("clm_synth_write", clm_synth_write(dir, &wopt));
  int files_ok = 1;
  const char *sps[3] = {"train", "val", "test"};
  for (int s = 0; s < 3; s++)
    for (int i = 0; i < 2; i++) {
      char p[512];
      const char *fmt[4] = {"%s/leftImg8bit/%s/synth/synth_%06d_000019_leftImg8bit.png",
                            "%s/gtFine/%s/synth/synth_%06d_000019_gtFine_labelIds.png",
                            "%s/gtFine/%s/synth/synth_%06d_000019_gtFine_instanceIds.png",
                            "%s/disparity/%s/synth/synth_%06d_000019_disparity.png"};
      for (int k = 0; k < 4; k++) {
        snprintf(p, sizeof p, fmt[k], dir, sps[s], i);
        if (!png_ok(p)) { files_ok = 0; printf("  missing or bad: %s\n", p); }
      }
    }
  test_true("writer: every PNG present with a PNG signature", files_ok, dir);
  char bad[600];
  snprintf(bad, sizeof bad, "%s/leftImg8bit/train/synth/synth_000000_000019_leftImg8bit.png/x", dir);
  clm_status st = clm_synth_write(bad, &wopt);
  test_true("writer reports an I/O error", st == CLM_ERR_IO && strstr(clm_last_error(), "synth"),
            clm_last_error());

  /* previews to look at */
  for (int k = 0; k < 3; k++) {
    char p[600];
    clm_synth_render(1000 + (uint64_t)k * 7919, &a);
    snprintf(p, sizeof p, "%s/preview%d_rgb.png", dir, k);
    preview(p, &a, 0);
    snprintf(p, sizeof p, "%s/preview%d_sem.png", dir, k);
    preview(p, &a, 1);
    snprintf(p, sizeof p, "%s/preview%d_disp.png", dir, k);
    preview(p, &a, 2);
  }
  printf("previews and written dataset in %s\n", dir);

  for (int s = 0; s < 3; s++) {
    for (int i = 0; i < opt.count; i++) clm_sample_free(&sp[s][i]);
    clm_dataset_free(ds[s]);
  }
  clm_dataset_free(nd);
  clm_sample_free(&x);
  clm_sample_free(&y);
  clm_sample_free(&again);
  clm_sample_free(&a);
  clm_sample_free(&b);
  test_far_noise();
  return test_finish();
}
