/* The op layer: one function per kernel-level operation, working on tensor views. The graph
 * executor calls these; tests call them directly against tests/ref. Nothing here allocates
 * device memory: workspaces are passed in (size from the matching *_workspace function).
 *
 * Gradient convention (llm.c): parameter gradients ACCUMULATE (+=) into the flat gradient
 * buffer, which the trainer zeroes once per step; activation gradients are WRITTEN (=) unless
 * `accumulate` is nonzero, which the autograd sets for the second and later contributions to
 * one tensor's gradient (fan-out). An optional tensor is passed as NULL or with buf == NULL.
 * Labels and pool indices are stored as float32 holding exact integers. */
#ifndef CLMTL_OPS_H
#define CLMTL_OPS_H

#include "runtime/runtime-impl.h"

static inline int clm_tensor_present(const clm_tensor *t) { return t && t->buf; }

/* ---- convolution (cl/conv.cl, src/ops/conv.c) --------------------------------------------- */

/* Variants of the same convolution: results agree up to float rounding. The scheduler picks
 * one per node and device; tests run all of them. */
typedef enum clm_conv_variant {
  CLM_CONV_DIRECT = 0, /* one work-item per output element, plain loops */
  CLM_CONV_GEMM = 1,   /* im2col / col2im + CLBlast SGEMM */
  CLM_CONV_VARIANT_COUNT
} clm_conv_variant;

const char *clm_conv_variant_name(clm_conv_variant v);

typedef struct clm_conv_params {
  int stride, pad, dilation;
} clm_conv_params;

/* Output size of a convolution along one axis; <= 0 means the input is too small. */
static inline int clm_conv_out_size(int in, int k, const clm_conv_params *p) {
  return (in + 2 * p->pad - p->dilation * (k - 1) - 1) / p->stride + 1;
}

/* Floats of workspace the variant needs for these shapes (0 for DIRECT).
 * x (N, C, H, W), w (K, C, R, S), y (N, K, Ho, Wo). */
size_t clm_conv2d_workspace(clm_conv_variant v, const clm_tensor *x, const clm_tensor *w,
                            const clm_tensor *y);

/* y (N, K, Ho, Wo) = conv(x (N, C, H, W), w (K, C, R, S)) + b (1, K, 1, 1) optional. */
clm_status clm_conv2d_forward(clm_context *ctx, clm_conv_variant v, const clm_conv_params *p,
                              const clm_tensor *x, const clm_tensor *w, const clm_tensor *b,
                              const clm_tensor *y, const clm_tensor *ws);

/* dx (N, C, H, W) (=, or += with accumulate) from dy (N, K, Ho, Wo) and w (K, C, R, S).
 * dx's shape fixes H, W (as for a transposed convolution's output). */
clm_status clm_conv2d_backward_data(clm_context *ctx, clm_conv_variant v, const clm_conv_params *p,
                                    const clm_tensor *dy, const clm_tensor *w, const clm_tensor *dx,
                                    const clm_tensor *ws, int accumulate);

/* dw (K, C, R, S) += x ⋆ dy; db (1, K, 1, 1) += Σ dy over N, Ho, Wo (db optional). */
clm_status clm_conv2d_backward_weight(clm_context *ctx, clm_conv_variant v,
                                      const clm_conv_params *p, const clm_tensor *x,
                                      const clm_tensor *dy, const clm_tensor *dw,
                                      const clm_tensor *db, const clm_tensor *ws);

/* Transposed convolution, PyTorch ConvTranspose2d layout: x (N, Cin, H, W), w (Cin, Cout, R, S),
 * b (1, Cout, 1, 1) optional -> y (N, Cout, Ho, Wo), Ho = (H-1)s - 2p + d(R-1) + out_pad + 1
 * (y's shape carries Ho, Wo). It is the adjoint of conv2d, so it reuses the conv kernels:
 * forward = conv backward-data, backward-data = conv forward, backward-weight = conv
 * backward-weight with the roles of x and dy swapped. */
size_t clm_deconv2d_workspace(clm_conv_variant v, const clm_tensor *x, const clm_tensor *w,
                              const clm_tensor *y);
clm_status clm_deconv2d_forward(clm_context *ctx, clm_conv_variant v, const clm_conv_params *p,
                                const clm_tensor *x, const clm_tensor *w, const clm_tensor *b,
                                const clm_tensor *y, const clm_tensor *ws);
clm_status clm_deconv2d_backward_data(clm_context *ctx, clm_conv_variant v,
                                      const clm_conv_params *p, const clm_tensor *dy,
                                      const clm_tensor *w, const clm_tensor *dx,
                                      const clm_tensor *ws, int accumulate);
clm_status clm_deconv2d_backward_weight(clm_context *ctx, clm_conv_variant v,
                                        const clm_conv_params *p, const clm_tensor *x,
                                        const clm_tensor *dy, const clm_tensor *dw,
                                        const clm_tensor *db, const clm_tensor *ws);

/* ---- batch normalisation (cl/norm.cl, src/ops/norm.c) ------------------------------------- */

/* Training mode: per-channel batch mean and biased variance over (N, H, W);
 * y = gamma (x - mean) / sqrt(var + eps) + beta. saved (1, 2C, 1, 1) receives mean then
 * 1/sqrt(var + eps) for the backward pass. running_mean/var (1, C, 1, 1) are updated as in
 * PyTorch: r = (1 - momentum) r + momentum * stat, with the unbiased variance. */
clm_status clm_batchnorm_forward_train(clm_context *ctx, const clm_tensor *x,
                                       const clm_tensor *gamma, const clm_tensor *beta,
                                       const clm_tensor *y, const clm_tensor *saved,
                                       const clm_tensor *running_mean,
                                       const clm_tensor *running_var, float momentum, float eps);
/* Eval mode: normalises with the running statistics. */
clm_status clm_batchnorm_forward_eval(clm_context *ctx, const clm_tensor *x,
                                      const clm_tensor *gamma, const clm_tensor *beta,
                                      const clm_tensor *running_mean,
                                      const clm_tensor *running_var, float eps,
                                      const clm_tensor *y);
/* dx (=/+=), dgamma += , dbeta += from x, dy and the saved statistics of the training pass. */
clm_status clm_batchnorm_backward(clm_context *ctx, const clm_tensor *x, const clm_tensor *dy,
                                  const clm_tensor *gamma, const clm_tensor *saved,
                                  const clm_tensor *dx, const clm_tensor *dgamma,
                                  const clm_tensor *dbeta, int accumulate);

/* ---- element-wise (cl/eltwise.cl, src/ops/eltwise.c) -------------------------------------- */

typedef enum clm_activation {
  CLM_ACT_NONE = 0,
  CLM_ACT_RELU,
  CLM_ACT_LEAKY_RELU, /* slope for x < 0, must be > 0 */
  CLM_ACT_SIGMOID
} clm_activation;

/* y = act(x); y may alias x (in place). */
clm_status clm_activation_forward(clm_context *ctx, clm_activation act, float slope,
                                  const clm_tensor *x, const clm_tensor *y);
/* dx from the OUTPUT y and dy (valid in place): relu dy·[y>0], leaky dy·(y>0 ? 1 : slope),
 * sigmoid dy·y(1-y). */
clm_status clm_activation_backward(clm_context *ctx, clm_activation act, float slope,
                                   const clm_tensor *y, const clm_tensor *dy, const clm_tensor *dx,
                                   int accumulate);

/* y = a + b, same shapes. Backward is a copy of dy into each input gradient. */
clm_status clm_add_forward(clm_context *ctx, const clm_tensor *a, const clm_tensor *b,
                           const clm_tensor *y);
/* dst = src, or dst += src with accumulate; same element count. */
clm_status clm_copy(clm_context *ctx, const clm_tensor *src, const clm_tensor *dst, int accumulate);

/* Channel slice copy: dst[:, dst_c0 + c] (=/+=) src[:, src_c0 + c] for c < channels; src and
 * dst share N, H, W. Concat forward and backward are made of these. */
clm_status clm_channel_copy(clm_context *ctx, const clm_tensor *src, int src_c0,
                            const clm_tensor *dst, int dst_c0, int channels, int accumulate);

/* ---- pooling and resizing (cl/pool.cl, src/ops/pool.c) ------------------------------------ */

/* 2x2 max-pool, stride 2, floor: x (N, C, H, W) -> y (N, C, H/2, W/2); idx (same as y) holds
 * the argmax as a flat index h*W + w within its (n, c) plane (first maximum wins). */
clm_status clm_maxpool2x2_forward(clm_context *ctx, const clm_tensor *x, const clm_tensor *y,
                                  const clm_tensor *idx);
/* dx (N, C, H, W): dy at each argmax, 0 elsewhere (every element of dx written/accumulated). */
clm_status clm_maxpool2x2_backward(clm_context *ctx, const clm_tensor *dy, const clm_tensor *idx,
                                   const clm_tensor *dx, int accumulate);
/* Max-unpool: x (N, C, h, w) and idx (N, C, h, w) -> y (N, C, H, W): x at idx, 0 elsewhere. */
clm_status clm_maxunpool2x2_forward(clm_context *ctx, const clm_tensor *x, const clm_tensor *idx,
                                    const clm_tensor *y);
/* dx (N, C, h, w) = dy at idx. */
clm_status clm_maxunpool2x2_backward(clm_context *ctx, const clm_tensor *dy, const clm_tensor *idx,
                                     const clm_tensor *dx, int accumulate);
/* Bilinear x2 upsampling, align_corners = false (PyTorch's default):
 * x (N, C, H, W) -> y (N, C, 2H, 2W). */
clm_status clm_upsample2x_forward(clm_context *ctx, const clm_tensor *x, const clm_tensor *y);
clm_status clm_upsample2x_backward(clm_context *ctx, const clm_tensor *dy, const clm_tensor *dx,
                                   int accumulate);

/* ---- losses and reductions (cl/loss.cl, cl/reduce.cl, src/ops/loss.c) --------------------- */

/* Floats of workspace clm_reduce_sum needs for n inputs. */
size_t clm_reduce_workspace(const clm_context *ctx, size_t n);
/* Floats of workspace a task-loss forward over n elements needs (partial sums and counts). */
size_t clm_loss_workspace(const clm_context *ctx, size_t n);
/* out[0] = Σ x[0..n) (deterministic: fixed tree order). out is a (1,1,1,1) view. */
clm_status clm_reduce_sum(clm_context *ctx, const clm_tensor *x, size_t n, const clm_tensor *out,
                          const clm_tensor *ws);

/* Softmax cross-entropy over channels with an ignore label.
 * logits (N, K, H, W), labels (N, 1, H, W) -> loss (1) = mean over valid pixels of
 * -log softmax(logits)[label], count (1) = number of valid pixels. A label that is neither
 * `ignore` nor in [0, K) makes the loss NaN (caught by the NaN guard). ws: partial sums,
 * clm_loss_workspace(N*H*W) floats. The per-pixel losses are reduced as they are computed. */
clm_status clm_softmax_xent_forward(clm_context *ctx, const clm_tensor *logits,
                                    const clm_tensor *labels, int ignore, const clm_tensor *loss,
                                    const clm_tensor *count, const clm_tensor *ws);
/* dlogits = seed[0] / max(count[0], 1) · (softmax - onehot), 0 on ignored pixels. seed and
 * count are device scalars, so no host round trip is needed. */
clm_status clm_softmax_xent_backward(clm_context *ctx, const clm_tensor *logits,
                                     const clm_tensor *labels, int ignore, const clm_tensor *count,
                                     const clm_tensor *seed, const clm_tensor *dlogits,
                                     int accumulate);

typedef enum clm_regression_loss { CLM_LOSS_L1 = 1, CLM_LOSS_L2 = 2 } clm_regression_loss;

/* pred, target (N, C, H, W); mask (N, 1, H, W) optional (nonzero = valid; broadcast over C).
 * loss (1) = mean over valid elements of |pred - target| (L1) or (pred - target)² (L2);
 * count (1) = valid elements (pixels × C). ws: clm_loss_workspace(N*C*H*W) floats. */
clm_status clm_regression_loss_forward(clm_context *ctx, clm_regression_loss kind,
                                       const clm_tensor *pred, const clm_tensor *target,
                                       const clm_tensor *mask, const clm_tensor *loss,
                                       const clm_tensor *count, const clm_tensor *ws);
/* dpred = seed[0] / max(count[0], 1) · sign(pred - target) (L1; 0 at equality) or
 * · 2 (pred - target) (L2), 0 where masked out. */
clm_status clm_regression_loss_backward(clm_context *ctx, clm_regression_loss kind,
                                        const clm_tensor *pred, const clm_tensor *target,
                                        const clm_tensor *mask, const clm_tensor *count,
                                        const clm_tensor *seed, const clm_tensor *dpred,
                                        int accumulate);

#endif
