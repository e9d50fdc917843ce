/* The scene model of the synthetic street generator: from a 64-bit seed, a street with road
 * and sidewalks, building facades on both sides, trees and hedges, poles with signs and
 * traffic lights, cars and pedestrians, a camera about 1.3 m above the road and the light.
 * Only geometry, materials and parameters live here; synth_render.c ray casts them. */
#include <math.h>
#include <string.h>
#include "data/synth-impl.h"

int synth_label_class(int id) {
  if (id >= 7 && id <= 10) return CLM_CLASS_FLAT;
  if (id >= 11 && id <= 16) return CLM_CLASS_CONSTRUCTION;
  if (id >= 17 && id <= 20) return CLM_CLASS_OBJECT;
  if (id == 21 || id == 22) return CLM_CLASS_NATURE;
  if (id == 23) return CLM_CLASS_SKY;
  if (id == 24 || id == 25) return CLM_CLASS_HUMAN;
  if (id >= 26 && id <= 33) return CLM_CLASS_VEHICLE;
  return CLM_IGNORE_LABEL;
}

int synth_class_label(int cls) {
  static const int ids[CLM_SEMANTIC_CLASSES] = {
      SYNTH_LABEL_ROAD, SYNTH_LABEL_BUILDING, SYNTH_LABEL_POLE, SYNTH_LABEL_VEGETATION,
      SYNTH_LABEL_SKY, SYNTH_LABEL_PERSON, SYNTH_LABEL_CAR};
  return cls >= 0 && cls < CLM_SEMANTIC_CLASSES ? ids[cls] : 0;
}

static v3 vec(float x, float y, float z) { v3 v = {x, y, z}; return v; }

static void jitter(synth_rng *r, float *c, const float *base, float amount) {
  for (int k = 0; k < 3; k++) {
    float v = base[k] * (1.0f + synth_uniform(r, -amount, amount));
    c[k] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
}

/* ---- building the primitive list ------------------------------------------------------------ */

typedef struct builder {
  synth_scene *sc;
  synth_rng *rng;
  int open; /* index of the object being built, -1 when none */
} builder;

static void obj_begin(builder *b) {
  synth_scene *sc = b->sc;
  b->open = -1;
  if (sc->nobj >= SYNTH_MAX_OBJS) return;
  b->open = sc->nobj++;
  sc->obj[b->open].first = sc->nprim;
  sc->obj[b->open].count = 0;
}

static synth_prim *prim_add(builder *b, int type, int mat, int label, int32_t inst, v3 a, v3 bb,
                            const float *col) {
  synth_scene *sc = b->sc;
  if (b->open < 0 || sc->nprim >= SYNTH_MAX_PRIMS) return NULL;
  synth_prim *p = &sc->prim[sc->nprim++];
  memset(p, 0, sizeof *p);
  p->type = type;
  p->axis = 1;
  p->mat = mat;
  p->label = label;
  p->instance = inst;
  p->a = a;
  p->b = bb;
  jitter(b->rng, p->col, col, 0.12f);
  p->id = (uint32_t)synth_next(b->rng);
  sc->obj[b->open].count++;
  return p;
}

static synth_prim *box(builder *b, int mat, int label, int32_t inst, float x0, float y0, float z0,
                       float x1, float y1, float z1, const float *col) {
  return prim_add(b, SYNTH_BOX, mat, label, inst, vec(x0, y0, z0), vec(x1, y1, z1), col);
}

static synth_prim *cylinder(builder *b, int mat, int label, int32_t inst, int axis, v3 base,
                            float radius, float length, const float *col) {
  synth_prim *p = prim_add(b, SYNTH_CYLINDER, mat, label, inst, base, vec(radius, length, 0), col);
  if (p) p->axis = axis;
  return p;
}

static synth_prim *ellipsoid(builder *b, int mat, int label, int32_t inst, v3 c, v3 radii,
                             const float *col) {
  return prim_add(b, SYNTH_ELLIPSOID, mat, label, inst, c, radii, col);
}

static void prim_bounds(const synth_prim *p, v3 *lo, v3 *hi) {
  switch (p->type) {
  case SYNTH_BOX: *lo = p->a; *hi = p->b; break;
  case SYNTH_ELLIPSOID:
    *lo = vec(p->a.x - p->b.x, p->a.y - p->b.y, p->a.z - p->b.z);
    *hi = vec(p->a.x + p->b.x, p->a.y + p->b.y, p->a.z + p->b.z);
    break;
  default: {
    float r = p->b.x, l = p->b.y;
    *lo = vec(p->a.x - r, p->a.y - r, p->a.z - r);
    *hi = vec(p->a.x + r, p->a.y + r, p->a.z + r);
    if (p->axis == 0) { lo->x = p->a.x; hi->x = p->a.x + l; }
    else if (p->axis == 1) { lo->y = p->a.y; hi->y = p->a.y + l; }
    else { lo->z = p->a.z; hi->z = p->a.z + l; }
  }
  }
}

/* Closes the open object: its bounding box (the screen rectangle is set per resolution). */
static void obj_end(builder *b) {
  if (b->open < 0) return;
  synth_obj *o = &b->sc->obj[b->open];
  if (o->count == 0) { b->sc->nobj--; b->open = -1; return; }
  for (int i = 0; i < o->count; i++) {
    v3 lo, hi;
    prim_bounds(&b->sc->prim[o->first + i], &lo, &hi);
    if (i == 0 || lo.x < o->lo.x) o->lo.x = lo.x;
    if (i == 0 || lo.y < o->lo.y) o->lo.y = lo.y;
    if (i == 0 || lo.z < o->lo.z) o->lo.z = lo.z;
    if (i == 0 || hi.x > o->hi.x) o->hi.x = hi.x;
    if (i == 0 || hi.y > o->hi.y) o->hi.y = hi.y;
    if (i == 0 || hi.z > o->hi.z) o->hi.z = hi.z;
  }
  b->open = -1;
}

static void add_shadow(synth_scene *sc, float cx, float cz, float rx, float rz) {
  if (sc->nshadow >= SYNTH_MAX_SHADOWS) return;
  float *s = sc->shadow[sc->nshadow++];
  s[0] = cx; s[1] = cz; s[2] = rx; s[3] = rz;
}

/* ---- palettes --------------------------------------------------------------------------------- */

static const float facade_cols[][3] = {
    {0.78f, 0.72f, 0.62f}, {0.62f, 0.34f, 0.26f}, {0.82f, 0.82f, 0.80f}, {0.55f, 0.55f, 0.58f},
    {0.85f, 0.75f, 0.52f}, {0.70f, 0.52f, 0.40f}, {0.60f, 0.66f, 0.70f}, {0.90f, 0.88f, 0.82f}};
static const float car_cols[][3] = {
    {0.85f, 0.85f, 0.87f}, {0.08f, 0.08f, 0.09f}, {0.45f, 0.46f, 0.50f}, {0.60f, 0.08f, 0.07f},
    {0.10f, 0.20f, 0.50f}, {0.75f, 0.75f, 0.78f}, {0.20f, 0.32f, 0.22f}, {0.90f, 0.80f, 0.20f},
    {0.30f, 0.30f, 0.32f}, {0.95f, 0.95f, 0.95f}};
static const float cloth_cols[][3] = {
    {0.10f, 0.10f, 0.12f}, {0.15f, 0.20f, 0.40f}, {0.60f, 0.10f, 0.10f}, {0.85f, 0.85f, 0.80f},
    {0.30f, 0.45f, 0.25f}, {0.55f, 0.45f, 0.30f}, {0.90f, 0.60f, 0.10f}, {0.40f, 0.40f, 0.42f}};
static const float skin_cols[][3] = {
    {0.90f, 0.72f, 0.60f}, {0.75f, 0.55f, 0.40f}, {0.45f, 0.30f, 0.20f}, {0.95f, 0.80f, 0.70f}};
static const float sign_cols[][3] = {
    {0.80f, 0.10f, 0.10f}, {0.10f, 0.25f, 0.70f}, {0.95f, 0.85f, 0.10f}, {0.92f, 0.92f, 0.92f}};
static const float grey_metal[3] = {0.45f, 0.46f, 0.48f};
static const float dark_metal[3] = {0.12f, 0.12f, 0.13f};
static const float glass_col[3] = {0.10f, 0.13f, 0.16f};
static const float tire_col[3] = {0.05f, 0.05f, 0.05f};
static const float foliage_col[3] = {0.20f, 0.38f, 0.12f};
static const float trunk_col[3] = {0.33f, 0.24f, 0.16f};
static const float walk_col[3] = {0.62f, 0.60f, 0.56f};

#define PICK(r, arr) (arr)[synth_int((r), 0, (int)(sizeof(arr) / sizeof((arr)[0])) - 1)]

/* ---- scene elements --------------------------------------------------------------------------- */

static void add_tree(builder *b, float x, float z, float scale) {
  synth_rng *r = b->rng;
  float trunk_h = synth_uniform(r, 1.8f, 3.2f) * scale;
  float rx = synth_uniform(r, 1.1f, 2.2f) * scale, ry = synth_uniform(r, 1.3f, 2.6f) * scale;
  obj_begin(b);
  cylinder(b, MAT_TRUNK, SYNTH_LABEL_VEGETATION, 0, 1, vec(x, 0, z),
           synth_uniform(r, 0.10f, 0.2f) * scale, trunk_h + 0.5f * ry, trunk_col);
  ellipsoid(b, MAT_FOLIAGE, SYNTH_LABEL_VEGETATION, 0, vec(x, trunk_h + 0.8f * ry, z),
            vec(rx, ry, rx * synth_uniform(r, 0.85f, 1.15f)), foliage_col);
  obj_end(b);
}

/* A pole on the curb line, with a sign (facing the camera) or a traffic light, or bare. */
static void add_pole(builder *b, float x, float z) {
  synth_rng *r = b->rng;
  float h = synth_uniform(r, 3.2f, 7.5f);
  obj_begin(b);
  cylinder(b, MAT_METAL, SYNTH_LABEL_POLE, 0, 1, vec(x, 0, z), synth_uniform(r, 0.05f, 0.1f), h,
           grey_metal);
  int kind = synth_int(r, 0, 9);
  if (kind < 5) { /* sign */
    float y0 = synth_uniform(r, 2.0f, fminf(h - 0.5f, 3.0f)), w = synth_uniform(r, 0.3f, 0.45f);
    box(b, MAT_SIGN, SYNTH_LABEL_SIGN, 0, x - w, y0, z - 0.14f, x + w, y0 + 2 * w, z - 0.1f,
        PICK(r, sign_cols));
  } else if (kind < 8) { /* traffic light */
    float y0 = fminf(h, synth_uniform(r, 2.6f, 4.0f)) - 1.0f;
    box(b, MAT_METAL, SYNTH_LABEL_LIGHT, 0, x - 0.17f, y0, z - 0.32f, x + 0.17f, y0 + 1.0f,
        z - 0.08f, dark_metal);
  }
  obj_end(b);
}

/* A car (or van) with its centre of footprint at (x, z), heading along z. */
static void add_car(builder *b, float x, float z, int32_t inst) {
  synth_rng *r = b->rng;
  int van = synth_int(r, 0, 6) == 0;
  float len = van ? synth_uniform(r, 4.6f, 5.4f) : synth_uniform(r, 3.8f, 4.8f);
  float wid = synth_uniform(r, 1.70f, 1.95f);
  float wr = synth_uniform(r, 0.29f, 0.35f), y0 = 0.28f;
  float body_top = van ? synth_uniform(r, 1.7f, 2.1f) : y0 + synth_uniform(r, 0.55f, 0.75f);
  const float *paint = PICK(r, car_cols);
  obj_begin(b);
  box(b, MAT_PAINT, SYNTH_LABEL_CAR, inst, x - wid / 2, y0, z - len / 2, x + wid / 2, body_top,
      z + len / 2, paint);
  if (van) {
    /* windscreen band at the front (low z end faces the camera when ahead) */
    box(b, MAT_GLASS, SYNTH_LABEL_CAR, inst, x - wid / 2 + 0.05f, body_top - 0.7f,
        z - len / 2 - 0.02f, x + wid / 2 - 0.05f, body_top - 0.15f, z - len / 2 + 0.3f,
        glass_col);
  } else {
    float cl = len * synth_uniform(r, 0.45f, 0.58f), cz = z + synth_uniform(r, -0.2f, 0.3f);
    float ch = synth_uniform(r, 0.42f, 0.55f);
    box(b, MAT_GLASS, SYNTH_LABEL_CAR, inst, x - wid / 2 + 0.08f, body_top, cz - cl / 2,
        x + wid / 2 - 0.08f, body_top + ch, cz + cl / 2, glass_col);
    synth_prim *roof = box(b, MAT_PAINT, SYNTH_LABEL_CAR, inst, x - wid / 2 + 0.12f,
                           body_top + ch, cz - cl / 2 + 0.15f, x + wid / 2 - 0.12f,
                           body_top + ch + 0.06f, cz + cl / 2 - 0.15f, paint);
    if (roof) memcpy(roof->col, b->sc->prim[b->sc->nprim - 3].col, sizeof roof->col);
  }
  for (int k = 0; k < 4; k++) {
    float wx = (k & 1) ? x + wid / 2 - 0.2f : x - wid / 2 - 0.03f;
    float wz = z + ((k & 2) ? 1.0f : -1.0f) * (len / 2 - 0.85f);
    cylinder(b, MAT_TIRE, SYNTH_LABEL_CAR, inst, 0, vec(wx, wr, wz), wr, 0.23f, tire_col);
  }
  obj_end(b);
  add_shadow(b->sc, x, z, wid * 0.62f, len * 0.55f);
}

/* A pedestrian standing or walking at (x, z). */
static void add_person(builder *b, float x, float z, int32_t inst) {
  synth_rng *r = b->rng;
  float s = synth_uniform(r, 0.85f, 1.1f);
  int side = synth_int(r, 0, 1); /* walking along z (0) or across (1) */
  float stride = synth_uniform(r, -0.18f, 0.18f) * s;
  const float *legs = PICK(r, cloth_cols), *shirt = PICK(r, cloth_cols);
  const float *skin = PICK(r, skin_cols);
  obj_begin(b);
  for (int k = 0; k < 2; k++) {
    float o = (k ? 0.1f : -0.1f) * s, st = k ? stride : -stride;
    v3 base = side ? vec(x + st, 0, z + o) : vec(x + o, 0, z + st);
    cylinder(b, MAT_CLOTH, SYNTH_LABEL_PERSON, inst, 1, base, 0.075f * s, 0.9f * s, legs);
  }
  v3 rad = side ? vec(0.14f * s, 0.36f * s, 0.23f * s) : vec(0.23f * s, 0.36f * s, 0.14f * s);
  ellipsoid(b, MAT_CLOTH, SYNTH_LABEL_PERSON, inst, vec(x, 1.2f * s, z), rad, shirt);
  ellipsoid(b, MAT_SKIN, SYNTH_LABEL_PERSON, inst, vec(x, 1.64f * s, z),
            vec(0.1f * s, 0.125f * s, 0.11f * s), skin);
  obj_end(b);
  add_shadow(b->sc, x, z, 0.35f * s, 0.35f * s);
}

/* One side of the street (sign -1 left, +1 right): facades with gaps, hedges and parks. */
static void add_side(builder *b, float sign) {
  synth_scene *sc = b->sc;
  synth_rng *r = b->rng;
  float front = sc->road_half + sc->walk_width;
  float zend = synth_uniform(r, 90.0f, 220.0f);
  float floor_h = synth_uniform(r, 2.8f, 3.6f);
  for (float z = synth_uniform(r, -25.0f, -8.0f); z < zend;) {
    float len = synth_uniform(r, 7.0f, 26.0f);
    int kind = synth_int(r, 0, 9);
    if (kind == 0) { /* small park: trees behind a hedge */
      float x0 = front + 0.3f;
      obj_begin(b);
      box(b, MAT_FOLIAGE, SYNTH_LABEL_VEGETATION, 0, sign > 0 ? x0 : -x0 - 0.8f, 0, z,
          sign > 0 ? x0 + 0.8f : -x0, synth_uniform(r, 0.7f, 1.4f), z + len, foliage_col);
      obj_end(b);
      for (int t = 0; t < 2; t++)
        add_tree(b, sign * (x0 + synth_uniform(r, 3.0f, 8.0f)), z + len * (0.25f + 0.5f * t),
                 1.3f);
    } else {
      float setback = kind < 7 ? synth_uniform(r, 0.0f, 0.6f) : synth_uniform(r, 1.0f, 4.0f);
      float x0 = front + setback, x1 = x0 + synth_uniform(r, 10.0f, 20.0f);
      float h = synth_uniform(r, 6.0f, 32.0f);
      obj_begin(b);
      synth_prim *p = box(b, MAT_FACADE, SYNTH_LABEL_BUILDING, 0, sign > 0 ? x0 : -x1, 0, z,
                          sign > 0 ? x1 : -x0, h, z + len, PICK(r, facade_cols));
      if (p) {
        p->p0 = floor_h * synth_uniform(r, 0.95f, 1.05f);
        p->p1 = synth_uniform(r, 1.8f, 3.4f);
      }
      if (setback > 1.0f && synth_int(r, 0, 1)) /* hedge in front of a set-back building */
        box(b, MAT_FOLIAGE, SYNTH_LABEL_VEGETATION, 0, sign > 0 ? front + 0.2f : -x0 + 0.1f, 0,
            z + 0.5f, sign > 0 ? x0 - 0.1f : -front - 0.2f, synth_uniform(r, 0.6f, 1.3f),
            z + len - 0.5f, foliage_col);
      obj_end(b);
    }
    z += len + (synth_int(r, 0, 3) == 0 ? synth_uniform(r, 1.0f, 6.0f) : 0.0f);
  }
}

/* ---- the whole scene ---------------------------------------------------------------------------- */

/* Footprints taken so far: (x, z, half extent in x, half extent in z). */
typedef struct footprints { float f[48][4]; int n; } footprints;

static int overlaps(const footprints *u, float x, float z, float rx, float rz) {
  for (int i = 0; i < u->n; i++)
    if (fabsf(u->f[i][0] - x) < rx + u->f[i][2] && fabsf(u->f[i][1] - z) < rz + u->f[i][3])
      return 1;
  return 0;
}

static void take(footprints *u, float x, float z, float rx, float rz) {
  if (u->n >= 48) return;
  float *f = u->f[u->n++];
  f[0] = x; f[1] = z; f[2] = rx; f[3] = rz;
}

void synth_scene_build(synth_scene *sc, uint64_t scene_seed) {
  synth_rng rng = {clm_splitmix64_mix(scene_seed ^ 0x5eed5eed5eed5eedull)};
  synth_rng *r = &rng;
  memset(sc, 0, sizeof *sc);
  builder b = {sc, r, -1};

  sc->road_half = synth_uniform(r, 3.4f, 6.0f);
  sc->walk_width = synth_uniform(r, 2.5f, 4.5f);
  sc->curb = synth_uniform(r, 0.08f, 0.16f);
  sc->dash_offset = synth_uniform(r, 0.0f, 9.0f);
  sc->crosswalk_z = synth_int(r, 0, 3) == 0 ? synth_uniform(r, 8.0f, 35.0f) : -1.0f;
  sc->tex_seed = (uint32_t)synth_next(r);

  /* camera: right-hand lane, 1.3 m up, slight yaw and pitch (positive pitch looks down) */
  float lane = sc->road_half * 0.5f;
  sc->eye = vec(lane + synth_uniform(r, -0.6f, 0.6f), 1.3f + synth_uniform(r, -0.1f, 0.2f), 0.0f);
  float yaw = synth_uniform(r, -0.07f, 0.07f), pitch = synth_uniform(r, -0.02f, 0.06f);
  sc->fwd = vec(sinf(yaw) * cosf(pitch), -sinf(pitch), cosf(yaw) * cosf(pitch));
  sc->right = vec(cosf(yaw), 0.0f, -sinf(yaw));
  sc->up = vec(sc->fwd.y * sc->right.z - sc->fwd.z * sc->right.y,
               sc->fwd.z * sc->right.x - sc->fwd.x * sc->right.z,
               sc->fwd.x * sc->right.y - sc->fwd.y * sc->right.x);
  sc->focal_w = 0.9f;

  /* light: sun elevation 15..70 degrees, any azimuth */
  float el = synth_uniform(r, 0.26f, 1.22f), az = synth_uniform(r, 0.0f, 6.2831853f);
  sc->sun = vec(cosf(el) * sinf(az), sinf(el), cosf(el) * cosf(az));
  sc->ambient = synth_uniform(r, 0.35f, 0.55f);
  sc->diffuse = synth_uniform(r, 0.55f, 0.8f);
  sc->fog_dist = synth_uniform(r, 150.0f, 600.0f);
  float overcast = synth_uniform(r, 0.0f, 1.0f);
  sc->cloudiness = overcast;
  float zen[3] = {0.25f, 0.45f, 0.85f}, hor[3] = {0.72f, 0.80f, 0.90f};
  for (int k = 0; k < 3; k++) {
    sc->sky_zenith[k] = zen[k] + overcast * (0.7f - zen[k]) * 0.7f;
    sc->sky_horizon[k] = hor[k] + overcast * (0.82f - hor[k]) * 0.7f;
    sc->haze[k] = sc->sky_horizon[k];
    sc->gain[k] = synth_uniform(r, 0.92f, 1.08f);
  }
  float grey = synth_uniform(r, 0.22f, 0.38f);
  for (int k = 0; k < 3; k++) sc->road_grey[k] = grey * (1.0f + synth_uniform(r, -0.05f, 0.05f));
  jitter(r, sc->terrain_col, (const float[3]){0.35f, 0.40f, 0.20f}, 0.2f);
  sc->sensor_sigma = synth_uniform(r, 0.006f, 0.025f);

  /* sidewalks: raised boxes on both sides, one object each */
  float w0 = sc->road_half, w1 = sc->road_half + sc->walk_width;
  for (int s = -1; s <= 1; s += 2) {
    obj_begin(&b);
    box(&b, MAT_SIDEWALK, SYNTH_LABEL_SIDEWALK, 0, s > 0 ? w0 : -w1, 0.0f, -30.0f,
        s > 0 ? w1 : -w0, sc->curb, 600.0f, walk_col);
    obj_end(&b);
  }
  add_side(&b, -1.0f);
  add_side(&b, 1.0f);

  /* things on the sidewalks near the curb: trees and poles, not on top of each other */
  footprints used = {.n = 0};
  int ntrees = synth_int(r, 0, 8), npoles = synth_int(r, 2, 6);
  for (int i = 0; i < ntrees + npoles; i++) {
    for (int tries = 0; tries < 8; tries++) {
      float s = synth_int(r, 0, 1) ? 1.0f : -1.0f, z = synth_uniform(r, 4.0f, 70.0f);
      float x = s * (w0 + (i < ntrees ? 0.9f : 0.35f));
      if (overlaps(&used, x, z, 0.5f, 0.5f)) continue;
      if (i < ntrees) add_tree(&b, x, z, 1.0f);
      else add_pole(&b, x, z);
      take(&used, x, z, 0.5f, 0.5f);
      break;
    }
  }

  /* cars: parked along both curbs and driving in the two lanes, ids 1.. */
  int32_t next_id = 1;
  int ncars = synth_int(r, 2, 12);
  for (int i = 0; i < ncars; i++) {
    for (int tries = 0; tries < 10; tries++) {
      int slot = synth_int(r, 0, 3); /* 0 left parked, 1 left lane, 2 right lane, 3 right parked */
      float x = slot == 0 ? -w0 + 1.15f : slot == 1 ? -lane : slot == 2 ? lane : w0 - 1.15f;
      x += synth_uniform(r, -0.25f, 0.25f);
      float zmin = slot == 2 ? 8.0f : 3.5f;
      float z = zmin + 60.0f * powf(synth_uniform(r, 0.0f, 1.0f), 1.5f);
      if (overlaps(&used, x, z, 1.0f, 2.8f)) continue;
      if (fabsf(x - sc->eye.x) < 1.4f && z < 7.0f) continue;
      add_car(&b, x, z, next_id++);
      take(&used, x, z, 1.0f, 2.8f);
      break;
    }
  }
  sc->ncars = next_id - 1;

  /* pedestrians: on the sidewalks, sometimes on the crosswalk */
  int npeople = synth_int(r, 1, 10);
  for (int i = 0; i < npeople; i++) {
    for (int tries = 0; tries < 10; tries++) {
      float x, z;
      if (sc->crosswalk_z > 0 && synth_int(r, 0, 4) == 0) {
        x = synth_uniform(r, -w0 + 0.5f, w0 - 0.5f);
        z = sc->crosswalk_z + synth_uniform(r, 0.5f, 3.0f);
      } else {
        x = (synth_int(r, 0, 1) ? 1.0f : -1.0f) * (w0 + synth_uniform(r, 1.1f, sc->walk_width - 0.4f));
        z = synth_uniform(r, 3.0f, 45.0f);
      }
      if (overlaps(&used, x, z, 0.35f, 0.35f)) continue;
      if (fabsf(x - sc->eye.x) < 1.0f && z < 3.0f) continue;
      add_person(&b, x, z, next_id++);
      take(&used, x, z, 0.35f, 0.35f);
      break;
    }
  }
  sc->npeople = next_id - 1 - sc->ncars;
}
