/* `clmtl export --onnx OUT.onnx CKPT`: a trained checkpoint's inference graph as an ONNX model
 * (clm_onnx_export, clmtl/onnx.h), for ONNX Runtime, OpenVINO or TensorRT. No device needed. */
#include <stdio.h>
#include "cli.h"

static const char *export_usage =
    "usage: clmtl export --onnx OUT.onnx CKPT.safetensors [--size HxW] [--batch N]\n"
    "  writes the checkpoint's inference graph as an ONNX model (opset 13): batch norm folded\n"
    "  into the convolutions, weights as initializers; no OpenCL device is needed\n"
    "  input   one per input layer, named after it: float32 (N, 3, H, W), planar RGB in [0, 1]\n"
    "          as 'clmtl infer' feeds the network\n"
    "  outputs one per task, named after it ('semantic' for [task.semantic]): the raw\n"
    "          prediction (N, C, H, W); classification tasks give logits (softmax and argmax\n"
    "          are yours: 'clmtl infer --raw' writes the softmax of the same logits)\n"
    "  --onnx FILE  the ONNX file to write (required)\n"
    "  --size HxW   fix the input's height and width (default: symbolic 'height', 'width')\n"
    "  --batch N    fix the batch dimension (default: symbolic 'batch')\n";

int cmd_export(int argc, char **argv) {
  const char *onnx = NULL, *ckpt = NULL;
  clm_onnx_options o = {0, 0, 0};
  int npos;
  const cli_opt opts[] = {CLI_OPT_STRING("--onnx", &onnx), CLI_OPT_SIZE("--size", &o.height, &o.width),
                          CLI_OPT_BATCH("--batch", &o.batch), CLI_OPT_END};
  int rc = cli_args_parse("export", export_usage, opts, argc, argv, &ckpt, 1, &npos);
  if (rc) return rc < 0 ? 0 : rc;
  if (!onnx) return cli_usage_error("'export' needs --onnx OUT.onnx (the only format so far)");
  if (!ckpt) return cli_usage_error("'export' needs a checkpoint (CKPT.safetensors)");
  if (clm_onnx_export(ckpt, onnx, &o) != CLM_OK) {
    fprintf(stderr, "clmtl export: %s\n", cli_error());
    return 1;
  }
  printf("wrote %s\n", onnx);
  return 0;
}
