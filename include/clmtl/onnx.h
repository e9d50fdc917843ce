/* ONNX export of a trained checkpoint (src/export/onnx.c): the inference graph of the model
 * text stored in the checkpoint, written as an ONNX ModelProto (opset 13, IR version 7) by
 * clmtl's own protobuf encoder, so that ONNX Runtime, OpenVINO or TensorRT can run it.
 *
 * What the file holds:
 *   - one graph input per input layer the task heads depend on, named after it: float32
 *     (N, C, H, W), the image as clmtl feeds it (planar RGB in [0, 1], no mean or scale);
 *   - one graph output per task, named after the task ("semantic" for [task.semantic]): the
 *     raw prediction of the layer the task reads, float32 (N, C, H', W'); for classification
 *     tasks these are the logits (softmax and argmax are left to the caller);
 *   - convolutions with batch norm folded into their weights and bias (w' = w·γ/√(var+ε),
 *     b' = (b − mean)·γ/√(var+ε) + β, computed in double), every weight an initializer with
 *     float32 raw_data in PyTorch's layouts: Conv (K, C, R, S), ConvTranspose (C, K, R, S);
 *   - ops: Conv, ConvTranspose, BatchNormalization (a batch-norm layer of its own), Relu,
 *     LeakyRelu, Sigmoid, MaxPool (2x2, stride 2, floor) with its Indices where an unpool layer
 *     reads them, MaxUnpool (output shape = the pooled input's, via Shape), Resize (linear,
 *     half_pixel, scales 2: clmtl's bilinear upsample, edges clamped), Concat, Add, Identity;
 *   - metadata_props: "clmtl_version", "model_fnv1a64", "label_set", "class_names" when the
 *     checkpoint records them.
 * Loss layers and the inputs only they read (targets, masks) are left out. */
#ifndef CLMTL_ONNX_H
#define CLMTL_ONNX_H

#include "clmtl/export.h"
#include "clmtl/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clm_onnx_options {
  int batch;         /* the inputs' batch dimension; 0: symbolic ("batch") */
  int height, width; /* their spatial size; 0: symbolic ("height", "width") */
} clm_onnx_options;

/* Writes the inference graph of the checkpoint at `checkpoint` (written by clmtl train; its
 * model text checked against its hash, every tensor's shape and finiteness checked) to `out`.
 * No OpenCL device is needed. opts NULL: symbolic batch, height and width. A layer type that
 * has no ONNX form is CLM_ERR_UNSUPPORTED naming the layer, its model file and line; nothing
 * is written on failure (a partial file is removed). */
CLMTL_API clm_status clm_onnx_export(const char *checkpoint, const char *out,
                                     const clm_onnx_options *opts);

#ifdef __cplusplus
}
#endif

#endif
