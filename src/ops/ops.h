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

#include "clmtl/kinds.h"
#include "runtime/runtime-impl.h"

static inline int clm_tensor_present(const clm_tensor *t) { return t && t->buf; }

/* ---- GEMM (cl/gemm.cl, src/ops/gemm.c) ---------------------------------------------------- */

/* Variants of the same product: results agree up to float rounding. */
typedef enum clm_gemm_variant {
  CLM_GEMM_SIMPLE = 0, /* one work-item per element of C, plain loop: the reference variant */
  CLM_GEMM_TILED,      /* float16 register tiles per work-item, no local memory: CPUs (PoCL) */
  CLM_GEMM_LOCAL,      /* work-group tiles staged in local memory, barriers: GPUs */
  CLM_GEMM_CLBLAST,    /* CLBlastSgemm (serialised with clm_blas_lock) */
  CLM_GEMM_VARIANT_COUNT
} clm_gemm_variant;

const char *clm_gemm_variant_name(clm_gemm_variant v);

/* Row-major C (m×n) = alpha·op(A)·op(B) + beta·C; op(A) is m×k (A stored k×m when trans_a),
 * op(B) k×n (B stored n×k when trans_b). beta == 0 overwrites C (even NaN/Inf there).
 * Matrices start at their view's offset; lda, ldb, ldc are the stored row lengths, and the
 * stored matrix must lie inside the view (CLM_ERR_SHAPE otherwise). Sizes may be 0. TILED is
 * fast for NN, TN and NT; its TT runs the simple kernel. */
clm_status clm_gemm(clm_context *ctx, clm_gemm_variant v, int trans_a, int trans_b, int m, int n,
                    int k, float alpha, const clm_tensor *a, int lda, const clm_tensor *b, int ldb,
                    float beta, const clm_tensor *c, int ldc);

/* ---- convolution (cl/conv.cl, src/ops/conv.c) --------------------------------------------- */

/* Variants of the same convolution: results agree up to float rounding. The scheduler picks
 * one per node and device; tests run all of them. */
typedef enum clm_conv_variant {
  CLM_CONV_DIRECT = 0, /* one work-item per output element, plain loops */
  CLM_CONV_GEMM = 1,   /* im2col / col2im + CLBlast SGEMM */
  CLM_CONV_TILED,      /* im2col / col2im + clm_gemm TILED (CPUs) */
  CLM_CONV_LOCAL,      /* im2col / col2im + clm_gemm LOCAL (GPUs) */
  CLM_CONV_IMPLICIT,   /* stride 1: implicit GEMM, float16 register tiles, no workspace;
                          other strides run the DIRECT kernels */
  CLM_CONV_WINOGRAD,   /* 3×3 stride 1 dilation 1: Winograd F(2×2, 3×3) forward and backward
                          data (input/weight transforms, batched GEMM, output transform);
                          its backward weight and other shapes run IMPLICIT's paths */
  CLM_CONV_WINOGRAD4,  /* the same with F(4×4, 3×3): 4× fewer multiplications than direct
                          (F(2×2): 2.25×), more rounding */
  CLM_CONV_VARIANT_COUNT
} clm_conv_variant;

const char *clm_conv_variant_name(clm_conv_variant v);

/* The three passes of a convolution, each of which may run its own variant. */
enum { CLM_CONV_FORWARD = 0, CLM_CONV_BACKWARD_DATA, CLM_CONV_BACKWARD_WEIGHT, CLM_CONV_PASSES };

typedef struct clm_conv_params {
  int stride, pad, dilation;
} clm_conv_params;

/* Output size of a convolution along one axis; <= 0 means the input is too small. */
static inline int clm_conv_out_size(int in, int k, const clm_conv_params *p) {
  return (in + 2 * p->pad - p->dilation * (k - 1) - 1) / p->stride + 1;
}

/* Floats of workspace the variant needs for these shapes (0 for DIRECT, and for the GEMM
 * family on a 1×1 kernel whose output plane is its input plane: see conv.c).
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

/* Activations (clm_activation, clmtl/kinds.h): element-wise (cl/eltwise.cl) or fused after
 * batch norm (cl/norm.cl). */

/* Fails unless act is a known activation and a leaky relu's slope is finite and > 0; op names
 * the caller in the message (src/ops/eltwise.c). */
clm_status clm_activation_check(const char *op, clm_activation act, float slope);

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

/* Batch norm fused with the activation after it: y = act(batchnorm(x)) in one pass, the
 * batch-norm output never stored. Training and eval as above (y may alias x). */
clm_status clm_batchnorm_act_forward_train(clm_context *ctx, clm_activation act, float slope,
                                           const clm_tensor *x, const clm_tensor *gamma,
                                           const clm_tensor *beta, const clm_tensor *y,
                                           const clm_tensor *saved,
                                           const clm_tensor *running_mean,
                                           const clm_tensor *running_var, float momentum,
                                           float eps);
clm_status clm_batchnorm_act_forward_eval(clm_context *ctx, clm_activation act, float slope,
                                          const clm_tensor *x, const clm_tensor *gamma,
                                          const clm_tensor *beta, const clm_tensor *running_mean,
                                          const clm_tensor *running_var, float eps,
                                          const clm_tensor *y);
/* Backward of the fused pair in one kernel: dy is the gradient of the activation's output y
 * (y unused, may be NULL, when act is NONE); the activation's gradient is recomputed from y
 * inside the batch-norm backward. dx (=/+=), dgamma +=, dbeta += as above; dx may alias dy. */
clm_status clm_batchnorm_act_backward(clm_context *ctx, clm_activation act, float slope,
                                      const clm_tensor *x, const clm_tensor *y,
                                      const clm_tensor *dy, const clm_tensor *gamma,
                                      const clm_tensor *saved, const clm_tensor *dx,
                                      const clm_tensor *dgamma, const clm_tensor *dbeta,
                                      int accumulate);

/* Eval-mode batch norm folded into the convolution before it, for inference: with
 * s = gamma / sqrt(running_var + eps), w_out = w * s along w's output-channel axis and
 * b_out (1, K, 1, 1) = (b - running_mean) * s + beta (b optional: 0 when absent). w is a conv
 * weight (K, C, R, S), or with `transposed` a transposed-conv weight (Cin, K, R, S); w_out has
 * w's shape. Outputs must not overlap the inputs. */
clm_status clm_batchnorm_fold(clm_context *ctx, int transposed, const clm_tensor *w,
                              const clm_tensor *b, const clm_tensor *gamma, const clm_tensor *beta,
                              const clm_tensor *running_mean, const clm_tensor *running_var,
                              float eps, const clm_tensor *w_out, const clm_tensor *b_out);

/* ---- element-wise (cl/eltwise.cl, src/ops/eltwise.c) -------------------------------------- */

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

/* Floats of workspace clm_reduce and clm_reduce_sum need for n inputs (at most 256). */
size_t clm_reduce_workspace(const clm_context *ctx, size_t n);
/* Floats of workspace a task-loss forward over n elements needs (partial sums and counts). */
size_t clm_loss_workspace(const clm_context *ctx, size_t n);
/* The one two-stage reduction (cl/reduce.cl): out[0] = Σ x[0..n) (CLM_REDUCE_SUM) or
 * sqrt(Σ x[i]²) (CLM_REDUCE_NORM2, the L2 norm), deterministic (fixed tree order). out is a
 * (1,1,1,1) view; ws holds clm_reduce_workspace(ctx, n) floats. */
typedef enum clm_reduce_mode { CLM_REDUCE_SUM = 0, CLM_REDUCE_NORM2 } clm_reduce_mode;
clm_status clm_reduce(clm_context *ctx, const clm_tensor *x, size_t n, clm_reduce_mode mode,
                      const clm_tensor *out, const clm_tensor *ws);
/* clm_reduce in CLM_REDUCE_SUM mode. */
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

/* Heteroscedastic regression (Kendall & Gal 2017) with a predicted log-variance s per element:
 * pred, logvar, target (N, C, H, W); mask (N, 1, H, W) optional as above. loss (1) = mean over
 * valid elements of e^{-s}|d| + s (CLM_LOSS_L1: Laplace, s = log b, σ = √2·e^{s}) or
 * ½e^{-s}d² + ½s (CLM_LOSS_L2: Gaussian, s = log σ²), d = pred - target, with s clamped to
 * [-15, 15] (cl/loss.cl HETERO_S_MIN/MAX; no s-gradient where the clamp holds). count as above.
 * ws: clm_loss_workspace(N*C*H*W) floats. */
clm_status clm_hetero_loss_forward(clm_context *ctx, clm_regression_loss kind,
                                   const clm_tensor *pred, const clm_tensor *logvar,
                                   const clm_tensor *target, const clm_tensor *mask,
                                   const clm_tensor *loss, const clm_tensor *count,
                                   const clm_tensor *ws);
/* dpred and dlogvar of seed[0] · loss, each written (=) or added (+=) as acc_pred and
 * acc_logvar say; 0 where masked out. */
clm_status clm_hetero_loss_backward(clm_context *ctx, clm_regression_loss kind,
                                    const clm_tensor *pred, const clm_tensor *logvar,
                                    const clm_tensor *target, const clm_tensor *mask,
                                    const clm_tensor *count, const clm_tensor *seed,
                                    const clm_tensor *dpred, int acc_pred,
                                    const clm_tensor *dlogvar, int acc_logvar);

/* Logit noise for classification (Kendall & Gal 2017), in the analytic form: logits f
 * (N, K, H, W) carry Gaussian noise of variance e^s, s = logvar (N, 1, H, W) per pixel, and the
 * expected softmax is approximated as softmax(κ f), κ = (1 + π e^s / 8)^{-1/2} (probit-style,
 * no sampling); s clamped to [-15, 15]. loss (1) = mean over valid pixels of
 * -log softmax(κ f)[label]; ignore label and NaN on invalid labels as clm_softmax_xent_forward.
 * ws: clm_loss_workspace(N*H*W) floats. */
clm_status clm_logit_noise_xent_forward(clm_context *ctx, const clm_tensor *logits,
                                        const clm_tensor *logvar, const clm_tensor *labels,
                                        int ignore, const clm_tensor *loss,
                                        const clm_tensor *count, const clm_tensor *ws);
/* dlogits, dlogvar of seed[0] · loss, each written or added by its flag; 0 on ignored pixels. */
clm_status clm_logit_noise_xent_backward(clm_context *ctx, const clm_tensor *logits,
                                         const clm_tensor *logvar, const clm_tensor *labels,
                                         int ignore, const clm_tensor *count,
                                         const clm_tensor *seed, const clm_tensor *dlogits,
                                         int acc_logits, const clm_tensor *dlogvar,
                                         int acc_logvar);

/* Softmax cross-entropy with a learned temperature σ² = e^s, s one device float: Kendall et
 * al. 2018's exact classification likelihood, loss (1) = mean over valid pixels of
 * -log softmax(f e^{-s})[label] (s clamped to [-15, 15]); labels, ignore and ws as
 * clm_softmax_xent_forward. */
clm_status clm_xent_temperature_forward(clm_context *ctx, const clm_tensor *logits,
                                        const clm_tensor *s, const clm_tensor *labels, int ignore,
                                        const clm_tensor *loss, const clm_tensor *count,
                                        const clm_tensor *ws);
/* Floats of workspace clm_xent_temperature_backward needs for N*H*W pixels. */
size_t clm_xent_temperature_workspace(const clm_context *ctx, size_t pixels);
/* dlogits of seed[0] · loss (written, or added with acc_logits), and its derivative in s
 * ADDED to ds[0] (a parameter gradient: it accumulates); 0 outside the clamp. */
clm_status clm_xent_temperature_backward(clm_context *ctx, const clm_tensor *logits,
                                         const clm_tensor *s, const clm_tensor *labels,
                                         int ignore, const clm_tensor *count,
                                         const clm_tensor *seed, const clm_tensor *dlogits,
                                         int acc_logits, const clm_tensor *ds,
                                         const clm_tensor *ws);

#endif
