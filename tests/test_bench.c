/* Benchmark support: the device probe returns positive finite figures; the per-context device
 * memory counter follows every allocation and free exactly; the graph's profiling mode
 * records every (node, pass) once per run with FLOP and bytes equal to values computed by
 * hand, and does not change results; the bar chart comes back from its PNG pixel for pixel. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "clmtl/bench.h"
#include "chart.h" /* tools/chart.c: the bar chart of clmtl bench reports */
#include "test_util.h"

/* stb_image's decoder, compiled into the library (src/data/png_read.c). */
unsigned char *stbi_load(char const *filename, int *x, int *y, int *comp, int req_comp);
void stbi_image_free(void *retval_from_stbi_load);

static clm_context *ctx;

static void test_probe(void) {
  clm_probe_options o = {8u << 20, 3, 10}; /* small and quick; the CLI uses the defaults */
  clm_probe_result r;
  clm_status st = clm_probe_run(ctx, &o, &r);
  test_status("probe runs", st);
  if (st != CLM_OK) return;
  char detail[128];
  snprintf(detail, sizeof detail, "%.2f GB/s, %.2f GFLOP/s", r.bandwidth_gbs, r.peak_gflops);
  printf("probe: %s (copy buffers %zu bytes)\n", detail, r.bytes);
  test_true("probe bandwidth is positive and finite", isfinite(r.bandwidth_gbs) && r.bandwidth_gbs > 0, detail);
  test_true("probe FLOP/s is positive and finite", isfinite(r.peak_gflops) && r.peak_gflops > 0, detail);
  test_true("probe used the requested buffer size", r.bytes == o.bytes, detail);
  snprintf(detail, sizeof detail, "bandwidth %g <= %g <= %g, FLOP/s %g <= %g <= %g over %d runs",
           r.bandwidth_spread[0], r.bandwidth_spread[1], r.bandwidth_spread[2], r.gflops_spread[0],
           r.gflops_spread[1], r.gflops_spread[2], r.runs);
  test_true("probe spreads are ordered, over the requested runs, the best is the figure",
            r.runs == 3 && r.bandwidth_spread[0] > 0 && r.bandwidth_spread[0] <= r.bandwidth_spread[1] &&
                r.bandwidth_spread[1] <= r.bandwidth_spread[2] &&
                r.bandwidth_spread[2] == r.bandwidth_gbs && r.gflops_spread[0] > 0 &&
                r.gflops_spread[0] <= r.gflops_spread[1] && r.gflops_spread[1] <= r.gflops_spread[2] &&
                r.gflops_spread[2] == r.peak_gflops,
            detail);
  clm_probe_options bad = {32, 1, 1};
  test_true("a probe buffer under 64 bytes is refused", clm_probe_run(ctx, &bad, &r) == CLM_ERR_INVALID_ARG,
            clm_last_error());
}

static void expect_memory(const char *name, size_t want_current, size_t want_peak) {
  size_t cur, peak;
  clm_context_memory(ctx, &cur, &peak);
  char detail[160];
  snprintf(detail, sizeof detail, "current %zu (want %zu), peak %zu (want %zu)", cur, want_current,
           peak, want_peak);
  test_true(name, cur == want_current && peak == want_peak, detail);
}

static clm_status build_small_graph(clm_graph **out, int training);

static void test_memory_counter(void) {
  size_t c0, p0;
  clm_context_memory(ctx, &c0, &p0);
  clm_context_memory_reset_peak(ctx);
  expect_memory("reset peak starts from current", c0, c0);
  clm_mem a, b, z;
  test_status("alloc a", clm_buffer_alloc(ctx, 1000, &a));
  test_status("alloc b", clm_buffer_alloc(ctx, 3000, &b));
  expect_memory("two buffers counted", c0 + 16000, c0 + 16000);
  test_status("alloc of 0 floats", clm_buffer_alloc(ctx, 0, &z)); /* one float, as allocated */
  expect_memory("an empty buffer holds one float", c0 + 16004, c0 + 16004);
  clm_buffer_free(ctx, a);
  expect_memory("free a: current drops, peak stays", c0 + 12004, c0 + 16004);
  clm_context_memory_reset_peak(ctx);
  clm_buffer_free(ctx, z);
  clm_buffer_free(ctx, b);
  expect_memory("all freed", c0, c0 + 12004);
  clm_buffer_free(ctx, NULL);
  expect_memory("free(NULL) changes nothing", c0, c0 + 12004);

  clm_graph *g = NULL;
  test_status("compile a training graph", build_small_graph(&g, 1));
  if (!g) return;
  size_t cur;
  clm_context_memory(ctx, &cur, NULL);
  char detail[128];
  snprintf(detail, sizeof detail, "counted %zu, graph reports %zu", cur - c0, clm_graph_device_bytes(g));
  test_true("a compiled graph's buffers are counted", cur - c0 == clm_graph_device_bytes(g), detail);
  clm_optim_state opt = {0};
  test_status("optimizer state", clm_optim_state_init(ctx, clm_graph_params(g).w, &opt));
  size_t with_opt;
  clm_context_memory(ctx, &with_opt, NULL);
  test_true("optimizer state is counted", with_opt > cur, "");
  clm_optim_state_free(&opt);
  clm_graph_free(g);
  expect_memory("graph and optimizer freed", c0, with_opt);

  clm_context *other = NULL;
  test_status("a second context", clm_context_create_with(test_context_options(), &other));
  if (other) {
    test_status("alloc in it", clm_buffer_alloc(other, 250, &a));
    size_t oc;
    clm_context_memory(other, &oc, NULL);
    test_true("the second context counts its own buffer", oc == 1000, "");
    expect_memory("the first context is not charged", c0, with_opt);
    clm_buffer_free(other, a);
    clm_context_memory(other, &oc, NULL);
    test_true("and releases it", oc == 0, "");
    clm_context_free(other);
  }
}

/* image (2,3,8,12) -> c1: conv 3x3, 8 filters, bn, relu -> p1: maxpool -> u1: upsample ->
 * c2: conv 1x1, 2 filters, bias -> task.depth: l1 against target "depth" (2,2,8,12), no mask. */
#define N 2
#define H 8
#define W 12
static clm_status build_small_graph(clm_graph **out, int training) {
  clm_graph *g;
  clm_status st = clm_graph_create(ctx, &g);
  if (st != CLM_OK) return st;
  if ((st = clm_graph_input(g, "image", 3)) != CLM_OK ||
      (st = clm_graph_conv(g, "c1", "image", 8, 3, 1, 1, CLM_ACTIVATION_RELU)) != CLM_OK ||
      (st = clm_graph_maxpool(g, "p1", "c1")) != CLM_OK ||
      (st = clm_graph_upsample(g, "u1", "p1")) != CLM_OK ||
      (st = clm_graph_conv(g, "c2", "u1", 2, 1, 1, 0, CLM_ACTIVATION_NONE)) != CLM_OK ||
      (st = clm_graph_loss(g, "task.depth", CLM_LAYER_L1, "c2", "depth", NULL)) != CLM_OK) {
    clm_graph_free(g);
    return st;
  }
  clm_graph_options o = {N, H, W, training, -1, -1}; /* unfused: one entry per node */
  if ((st = clm_graph_compile(g, &o)) != CLM_OK) {
    clm_graph_free(g);
    return st;
  }
  *out = g;
  return CLM_OK;
}

/* The profile entry of (node, pass), or calls = -1 when there is none. */
static clm_op_profile find_entry(clm_graph *g, const char *node, clm_graph_pass pass) {
  clm_op_profile p = {0};
  for (int i = 0; i < clm_graph_profile_count(g); i++) {
    clm_graph_profile_get(g, i, &p);
    if (!strcmp(p.node, node) && p.pass == pass) return p;
  }
  p.calls = -1;
  return p;
}

static void expect_entry(clm_graph *g, const char *node, clm_graph_pass pass, double flop,
                         double bytes, int calls) {
  clm_op_profile p = find_entry(g, node, pass);
  char name[160], detail[200];
  snprintf(name, sizeof name, "profile %s %s: FLOP, bytes and calls", node, clm_graph_pass_name(pass));
  snprintf(detail, sizeof detail, "flop %.0f (want %.0f), bytes %.0f (want %.0f), calls %d (want %d), %.3f ms",
           p.flop, flop, p.bytes, bytes, p.calls, calls, p.ms);
  test_true(name, p.calls == calls && p.flop == flop && (bytes < 0 || p.bytes == bytes) &&
                      p.ms >= 0 && isfinite(p.ms), detail);
}

static void test_profile(void) {
  clm_graph *g = NULL;
  clm_status st = build_small_graph(&g, 1);
  test_status("compile the profiled graph", st);
  if (st != CLM_OK) return;
  test_rng r = test_rng_make(7);
  float *img = test_random(&r, N * 3 * H * W, -1, 1), *dep = test_random(&r, N * 2 * H * W, -1, 1);
  test_status("image", clm_graph_set_input(g, "image", img));
  test_status("depth", clm_graph_set_input(g, "depth", dep));
  float plain = 0, profiled = 0;
  clm_tensor loss = clm_graph_loss_value(g, 0);
  test_true("profiling is off by default", clm_graph_profile_count(g) == 0, "");
  test_status("forward", clm_graph_forward(g));
  test_status("read loss", clm_tensor_download(ctx, &loss, &plain));
  test_status("profiling on", clm_graph_profile_enable(g, 1));
  test_status("profiled forward", clm_graph_forward(g));
  test_status("profiled backward", clm_graph_backward(g));
  test_status("read loss", clm_tensor_download(ctx, &loss, &profiled));
  test_true("profiling does not change the result", plain == profiled, "");

  /* hand-computed: conv 2·N·K·C·R·S·Ho·Wo; bytes 4 × floats read + written */
  double c1 = 2.0 * N * 8 * 3 * 3 * 3 * H * W, c2 = 2.0 * N * 2 * 8 * 1 * 1 * H * W;
  double x = N * 3 * H * W, w1 = 8 * 3 * 9, y1 = N * 8 * H * W, p = N * 8 * (H / 2) * (W / 2);
  double w2 = 2 * 8, y2 = N * 2 * H * W;
  expect_entry(g, "c1", CLM_PASS_FORWARD, c1, 4 * (x + w1 + y1), 1);
  expect_entry(g, "c1", CLM_PASS_BACKWARD_WEIGHT, c1, 4 * (x + y1 + 2 * w1), 1);
  expect_entry(g, "c2", CLM_PASS_FORWARD, c2, 4 * (y1 + w2 + y2), 1);
  expect_entry(g, "c2", CLM_PASS_BACKWARD_DATA, c2, 4 * (y2 + w2 + y1), 1);
  expect_entry(g, "c2", CLM_PASS_BACKWARD_WEIGHT, c2, 4 * (y1 + y2 + 2 * w2), 1);
  expect_entry(g, "p1", CLM_PASS_FORWARD, 0, 4 * (y1 + 2 * p), 1);
  expect_entry(g, "p1", CLM_PASS_BACKWARD, 0, 4 * (2 * p + y1), 1);
  expect_entry(g, "u1", CLM_PASS_FORWARD, 0, 4 * (p + y1), 1);
  expect_entry(g, "c1.bn", CLM_PASS_FORWARD, 0, 4 * (2 * y1), 1);
  expect_entry(g, "c1.act", CLM_PASS_BACKWARD, 0, 4 * (3 * y1), 1);
  expect_entry(g, "task.depth", CLM_PASS_FORWARD, 0, 4 * (2 * y2), 1);
  test_true("the input layer's own data gradient is not a pass",
            find_entry(g, "c1", CLM_PASS_BACKWARD_DATA).calls == -1, "");
  test_true("inputs are not profiled", find_entry(g, "image", CLM_PASS_FORWARD).calls == -1, "");
  clm_op_profile lp = find_entry(g, "task.depth", CLM_PASS_FORWARD);
  test_true("loss nodes are marked", lp.is_loss && !find_entry(g, "c2", CLM_PASS_FORWARD).is_loss, "");
  test_true("conv entries name their variant", find_entry(g, "c1", CLM_PASS_FORWARD).variant[0] != 0, "");
  /* launches and host transfers per run: one kernel each for max-pool and upsample, at
   * least one per entry, and no host transfer inside any node */
  clm_op_profile pp = find_entry(g, "p1", CLM_PASS_FORWARD), up = find_entry(g, "u1", CLM_PASS_FORWARD);
  char det[200];
  snprintf(det, sizeof det, "p1 %.1f, u1 %.1f launches", pp.launches, up.launches);
  test_true("profile counts one launch for max-pool and for upsample forward",
            pp.launches == 1 && up.launches == 1, det);
  int fewer = 0, moved = 0;
  for (int i = 0; i < clm_graph_profile_count(g); i++) {
    clm_op_profile e;
    clm_graph_profile_get(g, i, &e);
    fewer += e.calls > 0 && e.launches < 1;
    moved += e.transfers != 0 || e.transfer_bytes != 0;
  }
  test_true("every profiled (node, pass) launches at least one kernel", fewer == 0, "");
  test_true("no node transfers to or from the host", moved == 0, "");

  test_status("second profiled forward", clm_graph_forward(g));
  expect_entry(g, "c1", CLM_PASS_FORWARD, c1, -1, 2);
  expect_entry(g, "c1", CLM_PASS_BACKWARD_WEIGHT, c1, -1, 1);
  clm_graph_profile_reset(g);
  expect_entry(g, "c1", CLM_PASS_FORWARD, c1, -1, 0);
  test_status("profiling off", clm_graph_profile_enable(g, 0));
  test_true("off drops the records", clm_graph_profile_count(g) == 0, "");
  clm_graph_free(g);

  g = NULL;
  test_status("compile for inference", build_small_graph(&g, 0));
  if (g) {
    test_status("profiling on", clm_graph_profile_enable(g, 1));
    test_status("image", clm_graph_set_input(g, "image", img));
    test_status("profiled inference forward", clm_graph_forward(g));
    expect_entry(g, "c1", CLM_PASS_FORWARD, c1, 4 * (x + w1 + y1), 1);
    test_true("an inference graph has no backward entries",
              find_entry(g, "c2", CLM_PASS_BACKWARD_WEIGHT).calls == -1, "");
    clm_graph_free(g); /* frees the profile too */
  }
  free(img);
  free(dep);
}

static void test_chart(void) {
  const char *labels[] = {"pthread-skylake (PoCL)", "NVIDIA H100 80GB", "gfx1100 [radeon]"};
  const double values[] = {9.85, 53.3, 1200, 4800, NAN, 310.5};
  cli_chart c = {"clmtl bench: models/default.cfg 128x256 b8", "img/s", 2, {"train", "infer"}, 3,
                 labels, values};
  unsigned char *px = NULL;
  int w = 0, h = 0;
  test_status("render", cli_chart_render(&c, &px, &w, &h));
  if (!px) return;
  char path[] = "/tmp/clmtl-test-chart-XXXXXX";
  int fd = mkstemp(path);
  if (fd >= 0) close(fd);
  test_status("write png", cli_chart_write_png(&c, path));
  int pw = 0, ph = 0, comp = 0;
  unsigned char *back = stbi_load(path, &pw, &ph, &comp, 3);
  char detail[128];
  snprintf(detail, sizeof detail, "png %dx%d (%d channels), rendered %dx%d", pw, ph, comp, w, h);
  test_true("the PNG decodes with the rendered size", back && pw == w && ph == h && comp == 3, detail);
  test_true("the PNG holds the rendered pixels", back && pw == w && ph == h &&
                                                     !memcmp(back, px, (size_t)w * h * 3), "");
  size_t blue = 0, red = 0, ink = 0;
  for (size_t i = 0; i < (size_t)w * h; i++) {
    const unsigned char *q = px + 3 * i;
    blue += q[0] == 66 && q[1] == 133 && q[2] == 244;
    red += q[0] == 234 && q[1] == 67 && q[2] == 53;
    ink += q[0] == 33 && q[1] == 33 && q[2] == 33;
  }
  snprintf(detail, sizeof detail, "%zu, %zu and %zu pixels", blue, red, ink);
  test_true("bars of both series and text are drawn", blue > 100 && red > 100 && ink > 1000, detail);
  if (back) stbi_image_free(back);
  free(px);
  unlink(path);
  cli_chart empty = {"x", "", 1, {"a"}, 0, labels, values};
  test_true("a chart without rows is refused", cli_chart_render(&empty, &px, &w, &h) == CLM_ERR_INVALID_ARG,
            cli_chart_error());
}

int main(void) {
  ctx = test_context();
  test_probe();
  test_memory_counter();
  test_profile();
  test_chart();
  clm_context_free(ctx);
  return test_finish();
}
