/* Ray casting of a synthetic street scene (synth_scene.c builds it): one pinhole ray per pixel,
 * nearest hit among the ground plane and the objects whose screen rectangle holds the pixel,
 * then class, instance, inverse depth and a shaded colour (Lambertian sun + ambient,
 * procedural textures, sky gradient with clouds, haze, sensor noise), and stereo-like depth
 * dropouts. Label and depth noise for training live in synth.c, not here. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "data/synth-impl.h"
#include "runtime/runtime-impl.h"

#define HIT_EPS 1e-3f

static inline v3 add(v3 a, v3 b) { v3 r = {a.x + b.x, a.y + b.y, a.z + b.z}; return r; }
static inline v3 scale(v3 a, float s) { v3 r = {a.x * s, a.y * s, a.z * s}; return r; }
static inline float dot(v3 a, v3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
static inline float comp(v3 a, int k) { return k == 0 ? a.x : k == 1 ? a.y : a.z; }
static inline float clamp01(float x) { return x < 0 ? 0 : x > 1 ? 1 : x; }
static inline float fract(float x) { return x - floorf(x); }

/* ---- procedural noise ------------------------------------------------------------------------ */

static inline float hash01(int32_t x, int32_t y, uint32_t s) {
  uint32_t h = (uint32_t)x * 0x8da6b343u ^ (uint32_t)y * 0xd8163841u ^ s * 0xcb1ab31fu;
  h ^= h >> 16; h *= 0x7feb352du; h ^= h >> 15; h *= 0x846ca68bu; h ^= h >> 16;
  return (float)(h >> 8) * (1.0f / 16777216.0f);
}

/* Smooth value noise in [0, 1) on a unit lattice. */
static float vnoise(float x, float y, uint32_t s) {
  float fx = floorf(x), fy = floorf(y);
  int32_t ix = (int32_t)fx, iy = (int32_t)fy;
  float tx = x - fx, ty = y - fy;
  tx = tx * tx * (3 - 2 * tx);
  ty = ty * ty * (3 - 2 * ty);
  float a = hash01(ix, iy, s), b = hash01(ix + 1, iy, s);
  float c = hash01(ix, iy + 1, s), d = hash01(ix + 1, iy + 1, s);
  return a + (b - a) * tx + (c - a) * ty + (a - b - c + d) * tx * ty;
}

/* ---- intersections (ray o + t·d, d not normalised; t is the camera z depth) ------------------ */

typedef struct hit { float t; int prim; v3 n; } hit;

static void hit_box(const synth_prim *p, v3 o, v3 d, v3 inv, hit *h, int idx) {
  float t0 = (p->a.x - o.x) * inv.x, t1 = (p->b.x - o.x) * inv.x;
  float tn = fminf(t0, t1), tf = fmaxf(t0, t1);
  int ax = 0;
  t0 = (p->a.y - o.y) * inv.y; t1 = (p->b.y - o.y) * inv.y;
  if (fminf(t0, t1) > tn) { tn = fminf(t0, t1); ax = 1; }
  tf = fminf(tf, fmaxf(t0, t1));
  t0 = (p->a.z - o.z) * inv.z; t1 = (p->b.z - o.z) * inv.z;
  if (fminf(t0, t1) > tn) { tn = fminf(t0, t1); ax = 2; }
  tf = fminf(tf, fmaxf(t0, t1));
  if (!(tn <= tf) || tn < HIT_EPS || tn >= h->t) return;
  h->t = tn;
  h->prim = idx;
  v3 n = {0, 0, 0};
  float s = comp(d, ax) > 0 ? -1.0f : 1.0f;
  if (ax == 0) n.x = s; else if (ax == 1) n.y = s; else n.z = s;
  h->n = n;
}

static void hit_ellipsoid(const synth_prim *p, v3 o, v3 d, hit *h, int idx) {
  v3 oc = {(o.x - p->a.x) / p->b.x, (o.y - p->a.y) / p->b.y, (o.z - p->a.z) / p->b.z};
  v3 dd = {d.x / p->b.x, d.y / p->b.y, d.z / p->b.z};
  float a = dot(dd, dd), b = dot(oc, dd), c = dot(oc, oc) - 1.0f;
  float disc = b * b - a * c;
  if (disc < 0) return;
  float t = (-b - sqrtf(disc)) / a;
  if (t < HIT_EPS || t >= h->t) return;
  h->t = t;
  h->prim = idx;
  v3 q = add(oc, scale(dd, t)); /* unit-sphere point; normal = q / radii */
  v3 n = {q.x / p->b.x, q.y / p->b.y, q.z / p->b.z};
  h->n = scale(n, 1.0f / sqrtf(dot(n, n)));
}

static void hit_cylinder(const synth_prim *p, v3 o, v3 d, hit *h, int idx) {
  int k = p->axis, i = (k + 1) % 3, j = (k + 2) % 3;
  float r = p->b.x, lo = comp(p->a, k), hi = lo + p->b.y;
  float oi = comp(o, i) - comp(p->a, i), oj = comp(o, j) - comp(p->a, j);
  float di = comp(d, i), dj = comp(d, j), ok = comp(o, k), dk = comp(d, k);
  float best = h->t;
  float n[3] = {0, 0, 0};
  int found = 0;
  float A = di * di + dj * dj;
  if (A > 1e-12f) {
    float B = oi * di + oj * dj, C = oi * oi + oj * oj - r * r;
    float disc = B * B - A * C;
    if (disc >= 0) {
      float t = (-B - sqrtf(disc)) / A;
      float y = ok + t * dk;
      if (t >= HIT_EPS && t < best && y >= lo && y <= hi) {
        best = t;
        found = 1;
        n[i] = (oi + t * di) / r;
        n[j] = (oj + t * dj) / r;
        n[k] = 0;
      }
    }
  }
  if (dk != 0) { /* caps facing the ray origin */
    float plane = ok > hi ? hi : ok < lo ? lo : NAN;
    if (plane == plane) {
      float t = (plane - ok) / dk;
      float qi = oi + t * di, qj = oj + t * dj;
      if (t >= HIT_EPS && t < best && qi * qi + qj * qj <= r * r) {
        best = t;
        found = 1;
        n[i] = n[j] = 0;
        n[k] = ok > hi ? 1.0f : -1.0f;
      }
    }
  }
  if (!found) return;
  h->t = best;
  h->prim = idx;
  h->n.x = n[0]; h->n.y = n[1]; h->n.z = n[2];
}

/* ---- shading ----------------------------------------------------------------------------------- */

static void sky_colour(const synth_scene *sc, v3 d, float *c) {
  v3 dn = scale(d, 1.0f / sqrtf(dot(d, d)));
  float e = dn.y > 0 ? dn.y : 0;
  float s = sqrtf(clamp01(e / 0.4f));
  for (int k = 0; k < 3; k++) c[k] = sc->sky_horizon[k] + (sc->sky_zenith[k] - sc->sky_horizon[k]) * s;
  if (sc->cloudiness > 0.05f) {
    float px = dn.x / (e + 0.08f), pz = dn.z / (e + 0.08f);
    float cl = 0.6f * vnoise(px * 1.5f, pz * 1.5f, sc->tex_seed ^ 0xc10du) +
               0.4f * vnoise(px * 4.0f, pz * 4.0f, sc->tex_seed ^ 0xc10eu);
    float cover = clamp01((cl - 1.0f + sc->cloudiness) * 2.5f);
    for (int k = 0; k < 3; k++) c[k] += (0.93f - c[k]) * cover * 0.85f;
  }
  float cs = dot(dn, sc->sun);
  if (cs > 0.97f) {
    float g = (cs - 0.97f) / 0.03f;
    g = g * g * g * 0.5f;
    for (int k = 0; k < 3; k++) c[k] += g;
  }
}

/* Fraction of direct light at ground point (x, z) under the soft car and people shadows. */
static float ground_shadow(const synth_scene *sc, float x, float z) {
  float light = 1.0f;
  for (int i = 0; i < sc->nshadow; i++) {
    const float *s = sc->shadow[i];
    float dx = (x - s[0]) / s[2], dz = (z - s[1]) / s[3];
    float q = dx * dx + dz * dz;
    if (q < 1.0f) light *= 0.35f + 0.65f * q * q;
  }
  return light;
}

static void shade_road(const synth_scene *sc, v3 p, float *alb) {
  uint32_t s = sc->tex_seed;
  float g = 0.8f + 0.3f * vnoise(p.x * 0.4f, p.z * 0.4f, s) +
            0.18f * (hash01((int32_t)floorf(p.x * 25), (int32_t)floorf(p.z * 25), s) - 0.5f);
  for (int k = 0; k < 3; k++) alb[k] = sc->road_grey[k] * g;
  float ax = fabsf(p.x);
  int paint = 0;
  if (ax < 0.06f && fmodf(p.z + sc->dash_offset + 900.0f, 9.0f) < 3.0f) paint = 1;
  if (fabsf(ax - (sc->road_half - 0.3f)) < 0.07f) paint = 1;
  if (sc->crosswalk_z > 0 && p.z > sc->crosswalk_z && p.z < sc->crosswalk_z + 3.5f &&
      ax < sc->road_half - 0.5f && fmodf(p.x + 100.25f, 1.0f) < 0.5f)
    paint = 1;
  if (paint) {
    float w = 0.78f + 0.12f * vnoise(p.x * 3, p.z * 3, s ^ 7u);
    alb[0] = alb[1] = alb[2] = w;
  }
}

static void shade_facade(const synth_prim *pr, v3 p, v3 n, float *alb) {
  float base = 0.85f + 0.15f * vnoise(p.x * 0.7f + p.z * 0.7f, p.y * 0.7f, pr->id);
  for (int k = 0; k < 3; k++) alb[k] = pr->col[k] * base;
  if (n.y > 0.5f) { for (int k = 0; k < 3; k++) alb[k] *= 0.55f; return; }
  float u = fabsf(n.x) > 0.5f ? p.z : p.x;
  float fh = pr->p0 > 0 ? pr->p0 : 3.0f, ws = pr->p1 > 0 ? pr->p1 : 2.5f;
  float vv = p.y / fh, uu = u / ws + (float)(pr->id & 255) / 256.0f;
  int fl = (int)floorf(vv), cu = (int)floorf(uu);
  float fv = vv - fl, fu = uu - cu;
  if (fv < 0.05f) { for (int k = 0; k < 3; k++) alb[k] *= 0.8f; return; }
  int window;
  if (fl >= 1) window = fu > 0.22f && fu < 0.78f && fv > 0.3f && fv < 0.82f;
  else window = (pr->id & 2) && fu > 0.08f && fu < 0.92f && fv > 0.12f && fv < 0.85f;
  if (window) {
    float b = 0.04f + 0.22f * hash01(cu, fl, pr->id);
    alb[0] = b * 0.85f; alb[1] = b * 0.95f; alb[2] = b * 1.1f;
  } else if (fl >= 1 && fu > 0.2f && fu < 0.8f && fv > 0.25f && fv < 0.3f) {
    for (int k = 0; k < 3; k++) alb[k] = 0.75f; /* sill */
  }
}

/* Albedo of the hit; returns 1 when the colour is emitted (lit lamps), not lit by the sun. */
static int albedo(const synth_scene *sc, const synth_prim *pr, v3 p, v3 n, float *alb) {
  float fx, fy;
  switch (pr->mat) {
  case MAT_SIDEWALK: {
    float g = 0.9f + 0.2f * hash01((int32_t)floorf(p.x * 2), (int32_t)floorf(p.z * 2), pr->id);
    if (n.y > 0.5f && (fract(p.x * 2) < 0.06f || fract(p.z * 2) < 0.06f)) g *= 0.72f;
    if (n.y < 0.5f) g = 1.15f;
    for (int k = 0; k < 3; k++) alb[k] = pr->col[k] * g;
    return 0;
  }
  case MAT_FACADE: shade_facade(pr, p, n, alb); return 0;
  case MAT_FOLIAGE: {
    float g = 0.45f + 0.55f * vnoise(p.x * 2.5f + p.z * 1.7f, p.y * 2.5f, pr->id) +
              0.35f * (hash01((int32_t)floorf((p.x + p.z) * 14), (int32_t)floorf(p.y * 14),
                              pr->id) - 0.5f);
    for (int k = 0; k < 3; k++) alb[k] = pr->col[k] * g;
    return 0;
  }
  case MAT_SIGN:
    fx = (p.x - pr->a.x) / (pr->b.x - pr->a.x);
    fy = (p.y - pr->a.y) / (pr->b.y - pr->a.y);
    if (n.z > -0.5f) { alb[0] = alb[1] = alb[2] = 0.5f; return 0; }
    if (fx < 0.1f || fx > 0.9f || fy < 0.1f || fy > 0.9f) { alb[0] = alb[1] = alb[2] = 0.9f; return 0; }
    memcpy(alb, pr->col, 3 * sizeof *alb);
    return 0;
  case MAT_METAL:
    memcpy(alb, pr->col, 3 * sizeof *alb);
    if (pr->label == SYNTH_LABEL_LIGHT && n.z < -0.5f) {
      float h = (pr->b.y - pr->a.y) / 3;
      int cell = (int)floorf((p.y - pr->a.y) / h);
      float dx = p.x - 0.5f * (pr->a.x + pr->b.x), dy = p.y - pr->a.y - (cell + 0.5f) * h;
      if (dx * dx + dy * dy < 0.11f * 0.11f) {
        static const float lamp[3][3] = {{0.2f, 0.95f, 0.4f}, {1.0f, 0.75f, 0.1f}, {1.0f, 0.15f, 0.1f}};
        if ((uint32_t)cell == pr->id % 3) { memcpy(alb, lamp[cell], 3 * sizeof *alb); return 1; }
        alb[0] = alb[1] = alb[2] = 0.08f;
      }
    }
    return 0;
  case MAT_PAINT:
    memcpy(alb, pr->col, 3 * sizeof *alb);
    if (n.z < -0.5f) { /* rear: tail lights and plate */
      fx = (p.x - pr->a.x) / (pr->b.x - pr->a.x);
      fy = (p.y - pr->a.y) / (pr->b.y - pr->a.y);
      if (fy > 0.5f && fy < 0.78f && (fx < 0.17f || fx > 0.83f)) { alb[0] = 0.75f; alb[1] = 0.06f; alb[2] = 0.05f; }
      else if (fy > 0.2f && fy < 0.4f && fx > 0.38f && fx < 0.62f) alb[0] = alb[1] = alb[2] = 0.85f;
    }
    return 0;
  case MAT_GLASS: {
    float refl = n.y > 0.5f ? 0.35f : 0.15f;
    for (int k = 0; k < 3; k++) alb[k] = pr->col[k] + refl * sc->sky_horizon[k];
    return 0;
  }
  case MAT_TIRE:
    memcpy(alb, pr->col, 3 * sizeof *alb);
    if (fabsf(n.x) > 0.5f) {
      float dy = p.y - pr->a.y, dz = p.z - pr->a.z;
      if (dy * dy + dz * dz < 0.36f * pr->b.x * pr->b.x) alb[0] = alb[1] = alb[2] = 0.5f;
    }
    return 0;
  default: {
    float g = 0.92f + 0.16f * hash01((int32_t)floorf(p.y * 30), (int32_t)floorf((p.x + p.z) * 30), pr->id);
    for (int k = 0; k < 3; k++) alb[k] = pr->col[k] * g;
    return 0;
  }
  }
}

/* ---- the render loop ----------------------------------------------------------------------------- */

/* Pixel rectangle an object's box may cover; none when it lies behind the camera. */
static void screen_rect(const synth_scene *sc, const synth_obj *o, float f, int H, int W, int *r) {
  float umin = 1e30f, umax = -1e30f, vmin = 1e30f, vmax = -1e30f;
  int behind = 0, front = 0;
  for (int c = 0; c < 8; c++) {
    v3 q = {(c & 1 ? o->hi.x : o->lo.x) - sc->eye.x, (c & 2 ? o->hi.y : o->lo.y) - sc->eye.y,
            (c & 4 ? o->hi.z : o->lo.z) - sc->eye.z};
    float zc = dot(q, sc->fwd);
    if (zc < 0.05f) { behind++; continue; }
    front++;
    float u = dot(q, sc->right) / zc, v = -dot(q, sc->up) / zc;
    umin = fminf(umin, u); umax = fmaxf(umax, u);
    vmin = fminf(vmin, v); vmax = fmaxf(vmax, v);
  }
  if (!front) { r[0] = 1; r[1] = 0; r[2] = 1; r[3] = 0; return; }
  if (behind) { r[0] = 0; r[1] = H - 1; r[2] = 0; r[3] = W - 1; return; }
  float r0 = floorf(vmin * f + 0.5f * H - 0.5f) - 1, r1 = ceilf(vmax * f + 0.5f * H - 0.5f) + 1;
  float c0 = floorf(umin * f + 0.5f * W - 0.5f) - 1, c1 = ceilf(umax * f + 0.5f * W - 0.5f) + 1;
  r[0] = r0 < 0 ? 0 : r0 > H ? H : (int)r0;
  r[1] = r1 < -1 ? -1 : r1 > H - 1 ? H - 1 : (int)r1;
  r[2] = c0 < 0 ? 0 : c0 > W ? W : (int)c0;
  r[3] = c1 < -1 ? -1 : c1 > W - 1 ? W - 1 : (int)c1;
}

static float gauss(synth_rng *r) { /* approximately N(0, 1): sum of four uniforms */
  uint64_t x = synth_next(r);
  float s = (float)(x & 0xffff) + (float)((x >> 16) & 0xffff) + (float)((x >> 32) & 0xffff) +
            (float)(x >> 48);
  return (s / 65536.0f - 2.0f) * 1.7320508f;
}

/* Stereo-like dropouts: blobs of invalid depth over 2–5 % of the non-sky pixels. */
static void dropouts(synth_rng *r, clm_sample *s) {
  int H = s->height, W = s->width;
  size_t n = (size_t)H * W, target = (size_t)(synth_uniform(r, 0.02f, 0.05f) * (float)n), done = 0;
  for (int blob = 0; blob < 200 && done < target; blob++) {
    int ci = synth_int(r, 0, H - 1), cj = synth_int(r, 0, W - 1);
    float rx = synth_uniform(r, 0.01f, 0.05f) * W, ry = rx * synth_uniform(r, 0.4f, 1.0f);
    if (s->semantic[(size_t)ci * W + cj] == CLM_CLASS_SKY) continue;
    for (int i = (int)fmaxf(0, ci - ry); i <= (int)fminf(H - 1, ci + ry); i++)
      for (int j = (int)fmaxf(0, cj - rx); j <= (int)fminf(W - 1, cj + rx); j++) {
        float dy = (i - ci) / ry, dx = (j - cj) / rx;
        size_t k = (size_t)i * W + j;
        if (dx * dx + dy * dy > 1 || s->semantic[k] == CLM_CLASS_SKY || s->depth_valid[k] == 0)
          continue;
        s->depth_valid[k] = 0;
        s->depth[k] = 0;
        done++;
      }
  }
}

void synth_scene_render(const synth_scene *sc, uint64_t scene_seed, clm_sample *s,
                        uint8_t *label_ids) {
  int H = s->height, W = s->width;
  size_t n = (size_t)H * W;
  float f = sc->focal_w * (float)W, fb = f * CLM_STEREO_BASELINE_M;
  int rect[SYNTH_MAX_OBJS][4], active[SYNTH_MAX_OBJS];
  for (int o = 0; o < sc->nobj; o++) screen_rect(sc, &sc->obj[o], f, H, W, rect[o]);
  synth_rng rng = {clm_splitmix64_mix(scene_seed ^ 0x6e6f697365ull)};
  const float sun_tint[3] = {1.0f, 0.97f, 0.9f};

  for (int i = 0; i < H; i++) {
    int na = 0;
    for (int o = 0; o < sc->nobj; o++)
      if (rect[o][0] <= i && i <= rect[o][1]) active[na++] = o;
    float v = ((float)i + 0.5f - 0.5f * H) / f;
    for (int j = 0; j < W; j++) {
      float u = ((float)j + 0.5f - 0.5f * W) / f;
      v3 d = add(sc->fwd, add(scale(sc->right, u), scale(sc->up, -v)));
      v3 inv = {1.0f / d.x, 1.0f / d.y, 1.0f / d.z};
      hit h = {INFINITY, -1, {0, 1, 0}};
      if (d.y < 0) h.t = -sc->eye.y / d.y; /* ground plane y = 0 */
      for (int a = 0; a < na; a++) {
        const synth_obj *ob = &sc->obj[active[a]];
        if (j < rect[active[a]][2] || j > rect[active[a]][3]) continue;
        for (int q = ob->first; q < ob->first + ob->count; q++) {
          const synth_prim *pr = &sc->prim[q];
          if (pr->type == SYNTH_BOX) hit_box(pr, sc->eye, d, inv, &h, q);
          else if (pr->type == SYNTH_ELLIPSOID) hit_ellipsoid(pr, sc->eye, d, &h, q);
          else hit_cylinder(pr, sc->eye, d, &h, q);
        }
      }
      size_t k = (size_t)i * W + j;
      float col[3];
      int label;
      if (!(h.t < INFINITY)) {
        label = SYNTH_LABEL_SKY;
        s->instance[k] = 0;
        s->depth[k] = 0;
        sky_colour(sc, d, col);
      } else {
        v3 p = add(sc->eye, scale(d, h.t));
        float alb[3], light = 1.0f;
        int emit = 0;
        if (h.prim < 0) {
          label = fabsf(p.x) < sc->road_half ? SYNTH_LABEL_ROAD : SYNTH_LABEL_TERRAIN;
          s->instance[k] = 0;
          if (label == SYNTH_LABEL_ROAD) shade_road(sc, p, alb);
          else {
            float g = 0.75f + 0.4f * vnoise(p.x * 1.3f, p.z * 1.3f, sc->tex_seed ^ 99u);
            for (int c = 0; c < 3; c++) alb[c] = sc->terrain_col[c] * g;
          }
        } else {
          const synth_prim *pr = &sc->prim[h.prim];
          label = pr->label;
          s->instance[k] = pr->instance;
          emit = albedo(sc, pr, p, h.n, alb);
        }
        if (h.n.y > 0.9f && p.y < 0.25f) light = ground_shadow(sc, p.x, p.z);
        float diff = dot(h.n, sc->sun);
        float lam = sc->ambient * (0.8f + 0.2f * h.n.y) + sc->diffuse * (diff > 0 ? diff : 0) * light;
        float fog = 1.0f - expf(-h.t / sc->fog_dist);
        for (int c = 0; c < 3; c++) {
          float lit = emit ? alb[c] : alb[c] * lam * sun_tint[c] * (0.7f + 0.3f * light);
          col[c] = lit + (sc->haze[c] - lit) * fog;
        }
        s->depth[k] = fb / h.t;
      }
      s->semantic[k] = (float)synth_label_class(label);
      s->depth_valid[k] = 1.0f;
      if (label_ids) label_ids[k] = (uint8_t)label;
      for (int c = 0; c < 3; c++)
        s->image[c * n + k] = clamp01(col[c] * sc->gain[c] + sc->sensor_sigma * gauss(&rng));
    }
  }
  dropouts(&rng, s);
}

clm_status synth_render_labels(uint64_t scene_seed, clm_sample *out, uint8_t *label_ids) {
  if (!out || !out->image || !out->semantic || !out->instance || !out->depth ||
      !out->depth_valid || out->height <= 0 || out->width <= 0)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "clm_synth_render needs an allocated sample");
  synth_scene *sc = malloc(sizeof *sc);
  if (!sc) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory for a synthetic scene");
  synth_scene_build(sc, scene_seed);
  synth_scene_render(sc, scene_seed, out, label_ids);
  free(sc);
  return CLM_OK;
}

clm_status clm_synth_render(uint64_t scene_seed, clm_sample *out) {
  return synth_render_labels(scene_seed, out, NULL);
}
