/* Umbrella header: the whole public API of clmtl. */
#ifndef CLMTL_CLMTL_H
#define CLMTL_CLMTL_H

#include "clmtl/status.h"
#include "clmtl/device.h"
#include "clmtl/tensor.h"
#include "clmtl/graph.h"
#include "clmtl/optim.h"
#include "clmtl/mtl.h"
#include "clmtl/metrics.h"
#include "clmtl/checkpoint.h"
#include "clmtl/data.h"
#include "clmtl/infer.h"
#include "clmtl/tune.h"
#include "clmtl/bench.h"
#include "clmtl/version.h" /* generated: CLMTL_VERSION, CLMTL_COMMIT */

#endif
