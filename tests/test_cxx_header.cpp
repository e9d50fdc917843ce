// The public API from C++: this file includes the umbrella header clmtl/clmtl.h and links against
// the C library. Each public header's extern "C" guards are what let it link: without them the
// clm_ names below would be looked up C++-mangled and the build of this test would fail. One
// function per header is referenced; a few are called. The version header must give the number
// CMake's project(VERSION) has (CLMTL_EXPECTED_VERSION, passed by tests/CMakeLists.txt).
#include "clmtl/clmtl.h"

#include <cstdio>
#include <cstring>

typedef void (*any_fn)(void);

// One function from each public header; volatile so the references are kept.
static any_fn volatile refs[] = {
    reinterpret_cast<any_fn>(&clm_status_name),           // status.h
    reinterpret_cast<any_fn>(&clm_context_create_with),   // device.h
    reinterpret_cast<any_fn>(&clm_buffer_alloc),          // tensor.h
    reinterpret_cast<any_fn>(&clm_layer_type_name),       // graph.h
    reinterpret_cast<any_fn>(&clm_optim_defaults),        // optim.h
    reinterpret_cast<any_fn>(&clm_mtl_defaults),          // mtl_strategy.h
    reinterpret_cast<any_fn>(&clm_mtl_step),              // mtl_device.h
    reinterpret_cast<any_fn>(&clm_mtl_create),            // mtl.h
    reinterpret_cast<any_fn>(&clm_metrics_create),        // metrics.h
    reinterpret_cast<any_fn>(&clm_checkpoint_model_hash), // checkpoint.h
    reinterpret_cast<any_fn>(&clm_path_join),            // rundir.h
    reinterpret_cast<any_fn>(&clm_sample_alloc),          // data.h
    reinterpret_cast<any_fn>(&clm_argmax_classes),        // infer.h
    reinterpret_cast<any_fn>(&clm_train_defaults),        // train.h
    reinterpret_cast<any_fn>(&clm_tuning_file),           // tune.h
    reinterpret_cast<any_fn>(&clm_probe_run),             // bench.h
    reinterpret_cast<any_fn>(&clm_feeds_bind),            // feeds.h
    reinterpret_cast<any_fn>(&clm_model_load),            // model.h
    reinterpret_cast<any_fn>(&clm_fnv1a64),               // util.h
};

int main() {
  int failed = 0;
  for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++)
    if (!refs[i]) failed++;
  const char *name = clm_status_name(CLM_ERR_PARSE);
  if (std::strcmp(name, "CLM_ERR_PARSE") != 0) failed++;
  clm_optim_config adam = clm_optim_defaults(CLM_OPTIM_ADAM);
  if (!(adam.lr > 0)) failed++;
  if (std::strcmp(CLMTL_VERSION_STRING, CLMTL_EXPECTED_VERSION) != 0) failed++;
  std::printf("[%s] C++ includes clmtl/clmtl.h, links %zu functions; clm_status_name: %s; "
              "version %s (CMake %s), commit %s\n",
              failed ? "FAIL" : "PASS", sizeof refs / sizeof refs[0], name, CLMTL_VERSION_STRING,
              CLMTL_EXPECTED_VERSION, CLMTL_GIT_COMMIT);
  std::printf("%d passed, %d failed\n", failed ? 0 : 1, failed ? 1 : 0);
  return failed ? 1 : 0;
}
