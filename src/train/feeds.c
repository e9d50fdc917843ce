/* Binding graph inputs to data arrays by name (feeds.h). Uses only the graph's public API. */
#include <stdio.h>
#include <string.h>
#include "runtime/runtime-impl.h"
#include "clmtl/feeds.h"

static const char *kind_name(clm_target_kind k) {
  switch (k) {
  case CLM_TARGET_IMAGE: return "image";
  case CLM_TARGET_LABELS: return "labels";
  case CLM_TARGET_VALUES: return "values";
  case CLM_TARGET_OFFSETS: return "centroid offsets";
  case CLM_TARGET_MASK: return "mask";
  }
  return "?";
}

const char *clm_feeds_task_name(const clm_layer *loss) {
  return loss->name + (strncmp(loss->name, "task.", 5) ? 0 : 5);
}

static const clm_target_info *find_source(const clm_target_info *t, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (!strcmp(t[i].name, name)) return &t[i];
  return NULL;
}

/* "image (3), semantic (1), ..." for messages. */
static void list_sources(const clm_target_info *t, int n, char *buf, size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < n && used + 1 < size; i++) {
    int k = snprintf(buf + used, size - used, "%s%s (%d channel%s%s)", i ? ", " : "", t[i].name,
                     t[i].channels, t[i].channels == 1 ? "" : "s", t[i].available ? "" : ", absent here");
    if (k < 0) break;
    used += (size_t)k;
  }
}

static clm_status add_feed(clm_feeds *f, const char *layer, const clm_target_info *src, int channels,
                           int luma, float pad) {
  for (int i = 0; i < f->count; i++)
    if (!strcmp(f->feed[i].layer, layer)) return CLM_OK; /* one target of several tasks */
  if (f->count == CLM_FEEDS_MAX) CLM_FAIL(CLM_ERR_INVALID_ARG, "more than %d input layers", CLM_FEEDS_MAX);
  clm_feed *d = &f->feed[f->count++];
  snprintf(d->layer, sizeof d->layer, "%s", layer);
  d->source = src;
  d->channels = channels;
  d->luma = luma;
  d->pad = pad;
  return CLM_OK;
}

static int is_target_of_a_loss(const clm_graph *g, const char *name) {
  for (int i = 0; i < clm_graph_loss_count(g); i++) {
    const clm_layer *l = clm_graph_loss_layer(g, i);
    if (!strcmp(l->target, name) || (l->mask[0] && !strcmp(l->mask, name))) return 1;
  }
  return 0;
}

/* Inputs that are no loss's target or mask: the data array of their name, else the image. */
static clm_status bind_inputs(clm_graph *g, const clm_target_info *t, int nt, clm_feeds *f) {
  char have[512];
  for (int i = 0; i < clm_graph_layer_count(g); i++) {
    const clm_layer *l = clm_graph_layer(g, i);
    if (l->type != CLM_LAYER_INPUT || is_target_of_a_loss(g, l->name)) continue;
    clm_tensor x;
    CLM_TRY(clm_graph_tensor(g, l->name, &x));
    const clm_target_info *src = find_source(t, nt, l->name);
    if (!src) src = find_source(t, nt, CLM_DATA_IMAGE);
    if (!src) CLM_FAIL(CLM_ERR_NOT_FOUND, "%s:%d: input layer '%s': the data offers no image", l->file, l->line, l->name);
    int luma = src->kind == CLM_TARGET_IMAGE && x.c == 1 && src->channels == 3;
    if (x.c != src->channels && !luma) {
      list_sources(t, nt, have, sizeof have);
      CLM_FAIL(CLM_ERR_SHAPE,
               "%s:%d: input layer '%s' takes %d channels, but the data's '%s' (%s) has %d%s "
               "(the data offers: %s)", l->file, l->line, l->name, x.c, src->name, kind_name(src->kind),
               src->channels, src->kind == CLM_TARGET_IMAGE ? "; a 1-channel input gets the image's luma" : "",
               have);
    }
    if (!src->available)
      CLM_FAIL(CLM_ERR_NOT_FOUND, "%s:%d: input layer '%s' takes the data's '%s', which this dataset lacks",
               l->file, l->line, l->name, src->name);
    CLM_TRY(add_feed(f, l->name, src, x.c, luma, 0.0f));
  }
  if (f->count == 0) CLM_FAIL(CLM_ERR_NOT_FOUND, "the model has no input layer that takes the image");
  return CLM_OK;
}

/* One task's target and mask. */
static clm_status bind_task(clm_graph *g, int i, const clm_target_info *t, int nt, clm_feeds *f) {
  const clm_layer *l = clm_graph_loss_layer(g, i);
  const char *task = clm_feeds_task_name(l);
  int xent = clm_layer_type_takes_labels(l->type);
  clm_tensor pred, target;
  CLM_TRY(clm_graph_tensor(g, l->from[0], &pred));
  CLM_TRY(clm_graph_tensor(g, l->target, &target));
  char have[512], where[512];
  list_sources(t, nt, have, sizeof have);
  snprintf(where, sizeof where, "%s:%d: task '%s' (layer '%s', from '%s')", l->file, l->line, task,
           l->name, l->from[0]);
  const clm_target_info *src = find_source(t, nt, l->target);
  if (!src)
    CLM_FAIL(CLM_ERR_NOT_FOUND, "%s: its target '%s' (%d channel%s of %s) is not offered by the data, which has: %s",
             where, l->target, target.c, target.c == 1 ? "" : "s", xent ? "labels" : "values", have);
  if (xent && src->kind != CLM_TARGET_LABELS)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: softmax_xent wants class labels as target '%s', but the data's '%s' is %s (%d channel%s)",
             where, l->target, src->name, kind_name(src->kind), src->channels, src->channels == 1 ? "" : "s");
  if (!xent && (src->kind == CLM_TARGET_LABELS || src->kind == CLM_TARGET_IMAGE))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: %s regression wants values as target '%s', but the data's '%s' is %s",
             where, clm_layer_type_name(l->type), l->target, src->name, kind_name(src->kind));
  if (target.c != src->channels)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: its target '%s' needs %d channel%s (the prediction '%s' has %d), the data's '%s' has %d",
             where, l->target, target.c, target.c == 1 ? "" : "s", l->from[0], pred.c, src->name, src->channels);
  if (xent) {
    const clm_label_set *ls = src->labels;
    if (ls && ls->classes > pred.c)
      CLM_FAIL(CLM_ERR_SHAPE, "%s: the head '%s' has %d classes, the data's '%s' labels (label set '%s') have %d classes",
               where, l->from[0], pred.c, src->name, ls->name, ls->classes);
    if (ls && l->ignore != ls->ignore)
      CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: ignores label %d, the data's '%s' marks unlabelled pixels with %d",
               where, l->ignore, src->name, ls->ignore);
    if (ls && f->labels && f->labels != ls)
      CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: label set '%s' differs from another task's '%s'", where, ls->name, f->labels->name);
    if (ls) f->labels = ls;
  }
  const clm_target_info *msrc = NULL;
  if (l->mask[0]) {
    msrc = find_source(t, nt, l->mask);
    if (!msrc || msrc->kind != CLM_TARGET_MASK || msrc->channels != 1)
      CLM_FAIL(CLM_ERR_NOT_FOUND, "%s: its mask '%s' (1 channel) is %s; the data has: %s", where, l->mask,
               msrc ? "not a mask in the data" : "not offered by the data", have);
  }
  f->unmasked[i] = !xent && !msrc;
  f->available[i] = src->available && (!msrc || msrc->available);
  if (!f->available[i]) {
    if (!msrc)
      CLM_FAIL(CLM_ERR_NOT_FOUND, "%s: this dataset lacks its target '%s', and the task has no mask to mark it missing",
               where, l->target);
    if (f->nnotes < CLM_FEEDS_NOTES)
      snprintf(f->notes[f->nnotes++], sizeof f->notes[0],
               "%s: this dataset lacks '%s'%s: the task has no valid target, trains on nothing and is "
               "left out of the validation loss", where, src->available ? msrc->name : src->name,
               src->available ? "" : " (e.g. no disparity/ folder)");
  }
  CLM_TRY(add_feed(f, l->target, src, target.c, 0, xent ? (float)l->ignore : 0.0f));
  if (msrc) CLM_TRY(add_feed(f, l->mask, msrc, 1, 0, 0.0f));
  return CLM_OK;
}

clm_status clm_feeds_bind(clm_graph *g, const clm_target_info *targets, int ntargets,
                          int image_only, clm_feeds *out) {
  memset(out, 0, sizeof *out);
  out->ntasks = clm_graph_loss_count(g);
  if (out->ntasks > CLM_METRICS_MAX_TASKS) CLM_FAIL(CLM_ERR_INVALID_ARG, "too many tasks (%d)", out->ntasks);
  CLM_TRY(bind_inputs(g, targets, ntargets, out));
  for (int i = 0; i < out->ntasks && !image_only; i++) CLM_TRY(bind_task(g, i, targets, ntargets, out));
  return CLM_OK;
}

void clm_image_convert(const float *rgb, size_t hw, int channels, float *out) {
  if (channels == 1)
    for (size_t i = 0; i < hw; i++) out[i] = 0.299f * rgb[i] + 0.587f * rgb[hw + i] + 0.114f * rgb[2 * hw + i];
  else
    memcpy(out, rgb, (size_t)channels * hw * sizeof *out);
}

clm_status clm_feed_fill(const clm_feed *f, const clm_sample *s, float *out, float *rgb) {
  size_t hw = (size_t)s->height * s->width;
  if (!f->source->available) {
    memset(out, 0, (size_t)f->channels * hw * sizeof *out);
    return CLM_OK;
  }
  if (!f->luma) return clm_sample_target(s, f->source->name, out);
  CLM_TRY(clm_sample_target(s, f->source->name, rgb));
  clm_image_convert(rgb, hw, 1, out);
  return CLM_OK;
}
