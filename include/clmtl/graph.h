#ifndef CLMTL_GRAPH_H
#define CLMTL_GRAPH_H
#include "clmtl/tensor.h"
#endif
