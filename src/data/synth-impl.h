/* Internals of the synthetic street-scene generator shared by its files: the random number
 * generator, the scene model (primitives grouped into objects, camera, lighting) built by
 * synth_scene.c and ray cast by synth_render.c, and the CityScapes label ids the writer needs.
 * World frame: x right, y up, z along the street; metres; the road is the plane y = 0. */
#ifndef CLMTL_SYNTH_IMPL_H
#define CLMTL_SYNTH_IMPL_H

#include <stdint.h>
#include "clmtl/data.h"
#include "clmtl/util.h"

/* ---- random numbers: splitmix64, deterministic everywhere --------------------------------- */

typedef struct synth_rng { uint64_t s; } synth_rng;

/* The next value of the stream (clm_splitmix64, util.h). */
static inline uint64_t synth_next(synth_rng *r) { return clm_splitmix64(&r->s); }
/* Uniform in [lo, hi). */
static inline float synth_uniform(synth_rng *r, float lo, float hi) {
  return lo + (hi - lo) * (float)((synth_next(r) >> 40) * (1.0 / 16777216.0));
}
static inline int synth_int(synth_rng *r, int lo, int hi) { /* inclusive */
  return lo + (int)(synth_next(r) % (uint64_t)(hi - lo + 1));
}

/* ---- CityScapes label ids the generator uses ---------------------------------------------- */

enum {
  SYNTH_LABEL_ROAD = 7, SYNTH_LABEL_SIDEWALK = 8, SYNTH_LABEL_BUILDING = 11,
  SYNTH_LABEL_POLE = 17, SYNTH_LABEL_LIGHT = 19, SYNTH_LABEL_SIGN = 20,
  SYNTH_LABEL_VEGETATION = 21, SYNTH_LABEL_TERRAIN = 22, SYNTH_LABEL_SKY = 23,
  SYNTH_LABEL_PERSON = 24, SYNTH_LABEL_CAR = 26
};
/* Category (CLM_CLASS_*) of a CityScapes label id; CLM_IGNORE_LABEL for void ids. */
int synth_label_class(int label_id);
/* The label id that stands for a category (flat -> road, ..., vehicle -> car). */
int synth_class_label(int cls);

/* ---- scene model -------------------------------------------------------------------------- */

typedef struct v3 { float x, y, z; } v3;

enum { SYNTH_BOX, SYNTH_ELLIPSOID, SYNTH_CYLINDER };
enum {
  MAT_ROAD, MAT_TERRAIN, MAT_SIDEWALK, MAT_FACADE, MAT_FOLIAGE, MAT_TRUNK, MAT_METAL,
  MAT_SIGN, MAT_PAINT, MAT_GLASS, MAT_TIRE, MAT_SKIN, MAT_CLOTH
};

/* box: a = min corner, b = max corner; ellipsoid: a = centre, b = radii;
 * cylinder: axis `axis` (0 x, 1 y, 2 z), a = centre of the low cap, b.x = radius, b.y = length. */
typedef struct synth_prim {
  int type, axis, mat, label;
  int32_t instance;  /* 0 for stuff */
  v3 a, b;
  float col[3];      /* base colour */
  float p0, p1;      /* material parameters (facade: floor height, window spacing) */
  uint32_t id;       /* texture hash seed */
} synth_prim;

/* A group of primitives with one bounding box, tested only inside its screen rectangle. */
typedef struct synth_obj {
  int first, count;
  v3 lo, hi;
  int r0, r1, c0, c1; /* pixel rows and columns it may cover (inclusive); r0 > r1: none */
} synth_obj;

#define SYNTH_MAX_PRIMS 384
#define SYNTH_MAX_OBJS 128
#define SYNTH_MAX_SHADOWS 32

typedef struct synth_scene {
  synth_prim prim[SYNTH_MAX_PRIMS];
  synth_obj obj[SYNTH_MAX_OBJS];
  int nprim, nobj;
  /* ground shadows of cars and people: ellipses (cx, cz, rx, rz) on y = 0 */
  float shadow[SYNTH_MAX_SHADOWS][4];
  int nshadow;
  /* camera: position and orthonormal basis (forward, right, up); focal f = focal_w · width */
  v3 eye, fwd, right, up;
  float focal_w;
  /* street layout */
  float road_half, walk_width, curb;
  float dash_offset, crosswalk_z; /* crosswalk_z < 0: none */
  /* light and atmosphere */
  v3 sun;
  float ambient, diffuse, fog_dist;
  float sky_zenith[3], sky_horizon[3], haze[3], road_grey[3], terrain_col[3];
  float gain[3], sensor_sigma, cloudiness;
  uint32_t tex_seed;
  int ncars, npeople;
} synth_scene;

/* Builds the scene of a seed (resolution independent). */
void synth_scene_build(synth_scene *sc, uint64_t scene_seed);
/* Ray casts the scene into s (allocated); label_ids (H·W, may be NULL) receives the CityScapes
 * label id of every pixel. Targets are clean: no label or depth noise. */
void synth_scene_render(const synth_scene *sc, uint64_t scene_seed, clm_sample *s,
                        uint8_t *label_ids);
/* clm_synth_render with the label ids (clean targets). */
clm_status synth_render_labels(uint64_t scene_seed, clm_sample *out, uint8_t *label_ids);
/* The scene seed of sample `index` of `split`: a bijection of (split, index) for each
 * dataset seed, so different splits never share a scene. */
uint64_t synth_scene_seed(uint64_t seed, clm_split split, int index);
/* Sample `index` of a split as clm_synth_open serves it (noise applied); label_ids (may be
 * NULL) gets the label ids after semantic noise, inst_label (may be NULL) the clean label id
 * of each pixel, for the instanceIds image. */
clm_status synth_load_sample(const clm_synth_options *opt, clm_split split, int index,
                             clm_sample *out, uint8_t *label_ids, uint8_t *inst_label);

#endif
