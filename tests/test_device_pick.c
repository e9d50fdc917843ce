/* Device selection order on a synthetic device list (clm_device_pick: no OpenCL call), so
 * machines this test never runs on are covered: an AMD CPU listed before an AMD GPU, an
 * accelerator, several GPUs of one vendor, "P:D", "cpu"/"gpu", the default and no match. The
 * expected index is written out by hand for each case from the documented rule: matching
 * devices, GPUs first, then accelerators, then CPUs, list order within a kind. */
#include <stdio.h>
#include <string.h>
#include "clmtl/clmtl.h"
#include "test_util.h"

static clm_device_info dev(int p, int d, clm_device_kind kind, const char *platform,
                           const char *name, const char *vendor) {
  clm_device_info o;
  memset(&o, 0, sizeof o);
  o.platform_index = p;
  o.device_index = d;
  o.kind = kind;
  snprintf(o.platform, sizeof o.platform, "%s", platform);
  snprintf(o.name, sizeof o.name, "%s", name);
  snprintf(o.vendor, sizeof o.vendor, "%s", vendor);
  return o;
}

static void expect(const clm_device_info *list, int n, const char *spec, int want) {
  char name[160], detail[160];
  int got = clm_device_pick(list, n, spec);
  snprintf(name, sizeof name, "\"%s\" picks %d", spec ? spec : "(none)", want);
  snprintf(detail, sizeof detail, "got %d (%s)", got, got >= 0 ? list[got].name : "none");
  test_true(name, got == want, detail);
}

int main(void) {
  /* PoCL lists the CPU first; ROCm's platform comes second. */
  clm_device_info amd[] = {
      dev(0, 0, CLM_DEVICE_CPU, "Portable Computing Language", "cpu-znver3-AMD Ryzen 9 5950X",
          "AuthenticAMD"),
      dev(1, 0, CLM_DEVICE_GPU, "AMD Accelerated Parallel Processing", "gfx1030",
          "Advanced Micro Devices, Inc."),
      dev(1, 1, CLM_DEVICE_GPU, "AMD Accelerated Parallel Processing", "gfx1100",
          "Advanced Micro Devices, Inc."),
  };
  expect(amd, 3, "amd", 1);     /* matches all three: the first GPU, not the CPU listed first */
  expect(amd, 3, "AMD", 1);
  expect(amd, 3, "ryzen", 0);   /* only the CPU matches */
  expect(amd, 3, "gfx1100", 2);
  expect(amd, 3, "cpu", 0);
  expect(amd, 3, "gpu", 1);
  expect(amd, 3, "0:0", 0);     /* an explicit index is never overridden */
  expect(amd, 3, "1:1", 2);
  expect(amd, 3, NULL, 1);      /* default: the first GPU */
  expect(amd, 3, "", 1);
  expect(amd, 3, "nvidia", -1);
  expect(amd, 3, "2:0", -1);

  /* CPU, accelerator, CPU from one vendor: the accelerator beats the CPUs; then list order. */
  clm_device_info intel[] = {
      dev(0, 0, CLM_DEVICE_CPU, "Intel(R) OpenCL", "Intel(R) Xeon(R) Gold 6338", "Intel(R) Corporation"),
      dev(0, 1, CLM_DEVICE_CPU, "Intel(R) OpenCL", "Intel(R) Xeon(R) Gold 6338 (2)", "Intel(R) Corporation"),
      dev(1, 0, CLM_DEVICE_ACCELERATOR, "Intel(R) FPGA SDK", "Intel(R) FPGA Emulation Device",
          "Intel(R) Corporation"),
      dev(2, 0, CLM_DEVICE_OTHER, "Intel custom", "Intel(R) custom device", "Intel(R) Corporation"),
  };
  expect(intel, 4, "intel", 2);
  expect(intel, 4, "xeon", 0);   /* two CPUs: the first listed */
  expect(intel, 4, NULL, 2);     /* no GPU: the accelerator */
  expect(intel, 4, "custom", 3);
  clm_device_info cpus_other[] = {intel[3], intel[1], intel[0]};
  expect(cpus_other, 3, "intel", 1); /* a CPU beats an unknown kind */

  /* A GPU listed last of several vendors' devices, matched by platform name. */
  clm_device_info mixed[] = {
      dev(0, 0, CLM_DEVICE_CPU, "Portable Computing Language", "cpu-haswell-Intel(R) Core(TM) i7",
          "GenuineIntel"),
      dev(1, 0, CLM_DEVICE_GPU, "NVIDIA CUDA", "NVIDIA H100 80GB HBM3", "NVIDIA Corporation"),
      dev(2, 0, CLM_DEVICE_GPU, "Intel(R) OpenCL Graphics", "Intel(R) UHD Graphics 770",
          "Intel(R) Corporation"),
  };
  expect(mixed, 3, "intel", 2);
  expect(mixed, 3, "portable", 0);
  expect(mixed, 3, NULL, 1);
  expect(mixed, 0, NULL, -1);    /* an empty list */
  return test_finish();
}
