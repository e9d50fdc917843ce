/* `clmtl bench merge`: placeholder. */
#include "bench_report.h"
int bench_merge(int argc, char **argv) { (void)argc; (void)argv; return 2; }
