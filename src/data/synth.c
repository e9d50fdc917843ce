/* The synthetic dataset: scene seeds per (seed, split, index), target noise, and the
 * clm_dataset that renders samples on load. Scenes themselves: synth_scene.c and
 * synth_render.c; files on disk: synth_write.c.
 *
 * Target noise: noise_semantic, noise_depth and noise_depth_far are applied here,
 * deterministically from the scene seed. noise_instance is not: instance ids cannot carry Gaussian noise, so the trainer
 * adds it to the centroid offsets it derives with clm_instance_targets. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "data/dataset-impl.h"
#include "data/synth-impl.h"
#include "runtime/runtime-impl.h"

uint64_t synth_scene_seed(uint64_t seed, clm_split split, int index) {
  /* (split, index) packed without overlap, then two keyed rounds of a bijection: for one
   * dataset seed, distinct (split, index) always give distinct scene seeds. */
  uint64_t x = ((uint64_t)(unsigned)split << 40) | (uint64_t)(uint32_t)index;
  uint64_t k1 = clm_splitmix64_mix(seed ^ 0x243f6a8885a308d3ull);
  uint64_t k2 = clm_splitmix64_mix(seed + 0x13198a2e03707344ull);
  return clm_splitmix64_mix(clm_splitmix64_mix(x ^ k1) + k2);
}

static float normal(synth_rng *r) { /* Box-Muller */
  float u1 = synth_uniform(r, 1e-7f, 1.0f), u2 = synth_uniform(r, 0.0f, 6.2831853f);
  return sqrtf(-2.0f * logf(u1)) * cosf(u2);
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* Which pixels carry depth noise: valid, not sky, disparity not 0 (the same rule as
 * noise_depth). */
static int depth_noisy(const clm_sample *s, size_t i) {
  return s->depth_valid[i] != 0 && s->semantic[i] != CLM_CLASS_SKY && s->depth[i] != 0;
}

/* Spatially varying noise: Gaussian noise of σ sigma on the far half of the image's noisy-able
 * disparities (strictly below their median: smaller disparity is farther), none on the near
 * half; disparities stay >= 0. Its own random stream, so adding it leaves the other noises'
 * draws unchanged. */
static clm_status far_noise(float sigma, uint64_t scene, clm_sample *out) {
  size_t n = (size_t)out->height * out->width, m = 0;
  float *v = malloc((n ? n : 1) * sizeof *v);
  if (!v) CLM_FAIL(CLM_ERR_HOST_MEMORY, "synthetic far-depth noise: out of host memory");
  for (size_t i = 0; i < n; i++)
    if (depth_noisy(out, i)) v[m++] = out->depth[i];
  if (m) {
    qsort(v, m, sizeof *v, cmp_float);
    float median = v[m / 2];
    synth_rng r = {clm_splitmix64_mix(scene ^ 0x666172646e7aull)};
    for (size_t i = 0; i < n; i++) {
      if (!depth_noisy(out, i) || !(out->depth[i] < median)) continue;
      float d = out->depth[i] + sigma * normal(&r);
      out->depth[i] = d > 0 ? d : 0;
    }
  }
  free(v);
  return CLM_OK;
}

clm_status synth_load_sample(const clm_synth_options *opt, clm_split split, int index,
                             clm_sample *out, uint8_t *label_ids, uint8_t *inst_label) {
  uint64_t scene = synth_scene_seed(opt->seed, split, index);
  uint8_t *labels = label_ids ? label_ids : inst_label;
  CLM_TRY(synth_render_labels(scene, out, labels));
  size_t n = (size_t)out->height * out->width;
  if (inst_label && label_ids) memcpy(inst_label, label_ids, n);
  synth_rng r = {clm_splitmix64_mix(scene ^ 0x7a7267657473ull)};
  if (opt->noise_semantic > 0) {
    for (size_t i = 0; i < n; i++) {
      if (synth_uniform(&r, 0.0f, 1.0f) >= opt->noise_semantic) continue;
      int cls = synth_int(&r, 0, CLM_SEMANTIC_CLASSES - 1);
      if (cls == (int)out->semantic[i]) continue;
      out->semantic[i] = (float)cls;
      if (label_ids) label_ids[i] = (uint8_t)synth_class_label(cls);
    }
  }
  if (opt->noise_depth_far > 0) CLM_TRY(far_noise(opt->noise_depth_far, scene, out));
  if (opt->noise_depth > 0) {
    for (size_t i = 0; i < n; i++) {
      if (out->depth_valid[i] == 0 || out->semantic[i] == CLM_CLASS_SKY || out->depth[i] == 0)
        continue;
      float d = out->depth[i] + opt->noise_depth * normal(&r);
      out->depth[i] = d > 0 ? d : 0;
    }
  }
  return CLM_OK;
}

typedef struct synth_set {
  clm_synth_options opt;
  clm_split split;
} synth_set;

static clm_status set_load(void *impl, int index, clm_sample *out) {
  synth_set *s = impl;
  return synth_load_sample(&s->opt, s->split, index, out, NULL, NULL);
}

static void set_free(void *impl) { free(impl); }

static const clm_dataset_ops synth_ops = {set_load, set_free};

clm_status clm_synth_open(const clm_synth_options *opt, clm_split split, clm_dataset **out) {
  *out = NULL;
  if (!opt || opt->count < 0 || opt->height <= 0 || opt->width <= 0)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "synthetic dataset needs count >= 0 and a positive size");
  if (split != CLM_SPLIT_TRAIN && split != CLM_SPLIT_VAL && split != CLM_SPLIT_TEST)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "unknown split %d", (int)split);
  if (!(opt->noise_semantic >= 0 && opt->noise_semantic <= 1) || !(opt->noise_depth >= 0) ||
      !(opt->noise_instance >= 0) || !(opt->noise_depth_far >= 0))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "noise options must be >= 0 (noise_semantic <= 1)");
  synth_set *s = malloc(sizeof *s);
  if (!s) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  s->opt = *opt;
  s->split = split;
  return clm_dataset_make(&synth_ops, s, opt->count, opt->height, opt->width, out);
}
