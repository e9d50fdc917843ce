/* Pictures from outputs: argmax, colour maps, and instance recovery from centroid votes on
 * hand-made scenes (two cars and a person with exact offsets, then noisy offsets). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clmtl/data.h"
#include "clmtl/infer.h"
#include "test_util.h"

#define H 48
#define W 64

/* Paints a box of class c whose pixels point at its centre (plus noise of amplitude `noise`). */
static void box(uint8_t *cls, float *off, int y0, int x0, int y1, int x1, int c, float noise,
                test_rng *r) {
  float cy = 0.5f * (float)(y0 + y1 - 1), cx = 0.5f * (float)(x0 + x1 - 1);
  for (int y = y0; y < y1; y++)
    for (int x = x0; x < x1; x++) {
      cls[y * W + x] = (uint8_t)c;
      off[y * W + x] = cy - (float)y + noise * test_uniform(r, -1, 1);
      off[H * W + y * W + x] = cx - (float)x + noise * test_uniform(r, -1, 1);
    }
}

static void scene(float noise) {
  static uint8_t cls[H * W];
  static float off[2 * H * W];
  static int32_t ids[H * W];
  test_rng r = test_rng_make(4);
  memset(cls, CLM_CLASS_FLAT, sizeof cls);
  memset(off, 0, sizeof off);
  box(cls, off, 20, 4, 36, 24, CLM_CLASS_VEHICLE, noise, &r);  /* car A */
  box(cls, off, 22, 24, 38, 44, CLM_CLASS_VEHICLE, noise, &r); /* car B, touching A */
  box(cls, off, 10, 50, 40, 58, CLM_CLASS_HUMAN, noise, &r);   /* a person */
  int n = 0;
  test_status("clustering", clm_cluster_instances(cls, off, H, W, NULL, ids, &n));
  char name[96], detail[96];
  snprintf(name, sizeof name, "three instances recovered (offset noise %.1f px)", noise);
  snprintf(detail, sizeof detail, "found %d", n);
  test_true(name, n == 3, detail);
  /* each box is one id, and the three ids differ */
  int a = ids[28 * W + 10], b = ids[30 * W + 34], p = ids[25 * W + 54];
  int pure = a && b && p && a != b && b != p && a != p;
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      int want = cls[y * W + x] == CLM_CLASS_FLAT ? 0 : x < 24 && cls[y * W + x] == CLM_CLASS_VEHICLE ? a
                 : cls[y * W + x] == CLM_CLASS_VEHICLE ? b : p;
      pure &= ids[y * W + x] == want;
    }
  snprintf(name, sizeof name, "every pixel in its own instance (noise %.1f px)", noise);
  test_true(name, pure, NULL);
}

/* Palettes for any number of classes: CityScapes colours for its label sets, distinct
 * colours otherwise (19 for a 19-class head trained on the categories, up to 256). */
static void palettes(void) {
  static uint8_t pal[256 * 3];
  clm_class_palette("trainids", 19, pal);
  test_true("trainids: CityScapes train-id colours (road, sky, bicycle)",
            pal[0] == 128 && pal[1] == 64 && pal[2] == 128 && pal[30] == 70 && pal[31] == 130 &&
                pal[32] == 180 && pal[54] == 119 && pal[55] == 11 && pal[56] == 32, NULL);
  clm_class_palette("categories", 7, pal);
  test_true("categories: CityScapes category colours (vehicle)", pal[18] == 0 && pal[19] == 0 && pal[20] == 142, NULL);
  const int counts[4] = {9, 19, 40, 256};
  const char *sets[4] = {"categories", "categories", NULL, ""};
  for (int k = 0; k < 4; k++) {
    clm_class_palette(sets[k], counts[k], pal);
    int distinct = 1;
    for (int i = 0; i < counts[k]; i++)
      for (int j = 0; j < i; j++) distinct &= memcmp(pal + 3 * i, pal + 3 * j, 3) != 0;
    char name[96];
    snprintf(name, sizeof name, "%d classes (label set %s): %d distinct colours", counts[k],
             sets[k] ? sets[k] : "none", counts[k]);
    test_true(name, distinct, NULL);
  }
  uint8_t cls[3] = {18, 3, 200}, rgb[9];
  clm_class_palette("trainids", 19, pal);
  clm_colorize_classes(cls, 1, 3, pal, 19, rgb);
  test_true("colorize_classes: palette entries, out of range black",
            !memcmp(rgb, pal + 54, 3) && !memcmp(rgb + 3, pal + 9, 3) && !rgb[6] && !rgb[7] && !rgb[8], NULL);
}

int main(void) {
  float logits[3 * 2 * 2] = {0, 5, 1, 1, /* class 0 */ 2, 1, 3, 0, /* class 1 */ 1, 0, 9, 4};
  uint8_t cls[4], rgb[4 * 3];
  clm_argmax_classes(logits, 3, 2, 2, cls);
  test_true("argmax per pixel", cls[0] == 1 && cls[1] == 0 && cls[2] == 2 && cls[3] == 2, NULL);
  cls[0] = CLM_CLASS_SKY;
  cls[1] = 255;
  clm_colorize_semantic(cls, 2, 2, rgb);
  test_true("sky is CityScapes sky blue, ignore black",
            rgb[0] == 70 && rgb[1] == 130 && rgb[2] == 180 && !rgb[3] && !rgb[4] && !rgb[5], NULL);
  float disp[4] = {0, 1, 2, NAN};
  clm_colorize_depth(disp, 2, 2, 2.0f, rgb);
  test_true("depth colour map: far dark, near bright, NaN as far",
            rgb[0] < rgb[6] && rgb[3] < rgb[6] && rgb[9] == rgb[0], NULL);
  scene(0.0f);
  scene(1.5f);
  palettes();
  uint8_t a[2 * 2 * 3], b[2 * 2 * 3], out[2 * 4 * 3];
  memset(a, 1, sizeof a);
  memset(b, 2, sizeof b);
  const uint8_t *imgs[2] = {a, b};
  clm_panel(imgs, 2, 2, 2, out);
  test_true("panel places images side by side", out[0] == 1 && out[6] == 2 && out[12] == 1 && out[18] == 2, NULL);
  return test_finish();
}
