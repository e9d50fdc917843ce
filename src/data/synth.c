/* The synthetic dataset: scene seeds per (seed, split, index), target noise, and the
 * clm_dataset that renders samples on load. Scenes themselves: synth_scene.c and
 * synth_render.c; files on disk: synth_write.c.
 *
 * Target noise: noise_semantic and noise_depth are applied here, deterministically from the
 * scene seed. noise_instance is not: instance ids cannot carry Gaussian noise, so the trainer
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
      !(opt->noise_instance >= 0))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "noise options must be >= 0 (noise_semantic <= 1)");
  synth_set *s = malloc(sizeof *s);
  if (!s) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  s->opt = *opt;
  s->split = split;
  return clm_dataset_make(&synth_ops, s, opt->count, opt->height, opt->width, out);
}
