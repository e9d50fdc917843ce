/* A program using the installed clmtl: lists the OpenCL devices, builds a network from a model
 * file, compiles it for inference and runs one forward pass on a grey image, printing each
 * task's output shape and first value. Usage: forward MODEL.cfg [DEVICE] */
#include <stdio.h>
#include <stdlib.h>
#include <clmtl/clmtl.h>

#define TRY(call) do { if ((call) != CLM_OK) { fprintf(stderr, "%s\n", clm_last_error()); return 1; } } while (0)

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: %s MODEL.cfg [DEVICE]\n", argv[0]); return 2; }
  clm_device_info *devs;
  int ndev;
  TRY(clm_device_list(&devs, &ndev));
  for (int i = 0; i < ndev; i++) printf("device %d:%d %s\n", devs[i].platform_index, devs[i].device_index, devs[i].name);
  free(devs);
  clm_context *ctx;
  clm_graph *g;
  TRY(clm_context_create(argc > 2 ? argv[2] : NULL, &ctx));
  TRY(clm_graph_create(ctx, &g));
  TRY(clm_graph_load(g, argv[1]));
  clm_graph_options opt = {1, 32, 64, 0, -1, 0}; /* batch 1, 32 x 64, inference */
  TRY(clm_graph_compile(g, &opt));
  float *image = malloc(3 * 32 * 64 * sizeof *image);
  for (int i = 0; i < 3 * 32 * 64; i++) image[i] = 0.5f;
  TRY(clm_graph_set_input(g, "input", image));
  TRY(clm_graph_forward(g));
  for (int i = 0; i < clm_graph_loss_count(g); i++) {
    const clm_layer *loss = clm_graph_loss_layer(g, i);
    clm_tensor t;
    TRY(clm_graph_tensor(g, loss->from[0], &t));
    float *out = malloc(clm_tensor_numel(&t) * sizeof *out);
    TRY(clm_tensor_download(ctx, &t, out));
    printf("%s: %s (%d, %d, %d, %d) first %g\n", loss->name, loss->from[0], t.n, t.c, t.h, t.w, out[0]);
    free(out);
  }
  printf("clmtl %s on %s\n", CLMTL_VERSION, clm_context_device(ctx)->name);
  free(image);
  clm_graph_free(g);
  clm_context_free(ctx);
  return 0;
}
