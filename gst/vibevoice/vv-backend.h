/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "vv-tensor.h"

G_BEGIN_DECLS

#define VV_BACKEND_ERROR (vv_backend_error_quark ())
GQuark vv_backend_error_quark (void);

typedef enum {
  VV_BACKEND_ERROR_SHAPE,       /* operands do not fit together */
  VV_BACKEND_ERROR_DTYPE,       /* dtype the op does not take */
  VV_BACKEND_ERROR_NO_MEMORY,
  VV_BACKEND_ERROR_DEVICE,      /* device (CUDA, BLAS) reported a failure */
  VV_BACKEND_ERROR_UNAVAILABLE, /* backend not compiled in / no device */
} VvBackendError;

/**
 * VvUnaryOp:
 * @VV_UNARY_SILU: x·sigmoid(x)
 * @VV_UNARY_GELU: exact GELU, x·Φ(x) with erf (MODEL-SPEC §5.1)
 */
typedef enum {
  VV_UNARY_SILU,
  VV_UNARY_GELU,
} VvUnaryOp;

/**
 * VvBinaryOp:
 * @VV_BINARY_ADD: y = a + b
 * @VV_BINARY_MUL: y = a · b
 *
 * b is either the same shape as a, or one row (its element count equals a's
 * last dimension) broadcast over every row of a.
 */
typedef enum {
  VV_BINARY_ADD,
  VV_BINARY_MUL,
} VvBinaryOp;

typedef struct _VvBackend VvBackend;

/**
 * VvBackendOps: (skip)
 *
 * The op table every backend implements (cf. ggml's one directory per
 * backend). The public vv_backend_*() wrappers check shapes and dtypes once,
 * so implementations may assume valid, contiguous operands:
 *
 * - activations (x, y, a, b) are F32 and contiguous, in backend memory;
 * - weights (w, table, norm weights, biases) are F32, F16 or BF16, contiguous,
 *   and are read in their stored dtype (never converted wholesale);
 * - all arithmetic accumulates in F32.
 */
typedef struct {
  const gchar *name;
  /* frees the backend's private state and @be itself */
  void      (*destroy)     (VvBackend *be);

  /* memory; all NULL on a host backend (one computing on host memory,
   * see vv_backend_is_host()) */
  gpointer  (*mem_alloc)   (VvBackend *be, gsize bytes, GError **error);
  void      (*mem_free)    (VvBackend *be, gpointer mem);
  gboolean  (*mem_upload)  (VvBackend *be, gpointer dst, gconstpointer host_src, gsize bytes, GError **error);
  gboolean  (*mem_download)(VvBackend *be, gpointer host_dst, gconstpointer src, gsize bytes, GError **error);
  gboolean  (*synchronize) (VvBackend *be, GError **error);

  /* y[n, out] = x[n, in] · w[out, in]ᵀ (+ bias[out]) */
  gboolean  (*linear)      (VvBackend *be, VvTensor *y, const VvTensor *x,
                            const VvTensor *w, const VvTensor *bias, GError **error);
  /* per row of length d: y = x · rsqrt(mean(x²) + eps) (· w if w) */
  gboolean  (*rms_norm)    (VvBackend *be, VvTensor *y, const VvTensor *x,
                            const VvTensor *w, gfloat eps, GError **error);
  gboolean  (*unary)       (VvBackend *be, VvUnaryOp op, VvTensor *y,
                            const VvTensor *x, GError **error);
  gboolean  (*binary)      (VvBackend *be, VvBinaryOp op, VvTensor *y,
                            const VvTensor *a, const VvTensor *b, GError **error);
  /* y = a · s */
  gboolean  (*scale)       (VvBackend *be, VvTensor *y, const VvTensor *a,
                            gfloat s, GError **error);
  /* y[i, :] = f32(table[ids[i], :]) */
  gboolean  (*get_rows)    (VvBackend *be, VvTensor *y, const VvTensor *table,
                            const gint32 *ids, gint n_ids, GError **error);

  /* Convolutions over time on time-major activations x[T, C] (one row per
   * time step, MODEL-SPEC §5). Every output row is computed by the same
   * instruction sequence whatever T_in and the thread count, so a stream
   * cut into chunks gives bit-identical rows (§5.6). */
  /* "valid" conv: y[T_out, C_out], T_out = (T_in − k)/stride + 1, from
   * x[T_in, C_in] and w[C_out, C_in/groups, k] (+ bias[C_out]);
   * groups is 1 or C_in (depthwise, C_out = C_in) */
  gboolean  (*conv1d)      (VvBackend *be, VvTensor *y, const VvTensor *x,
                            const VvTensor *w, const VvTensor *bias,
                            gint stride, gint groups, GError **error);
  /* raw transposed conv (no trim): y[(T_in − 1)·stride + k, C_out] from
   * x[T_in, C_in] and w[C_in, C_out, k] (+ bias[C_out] on every row) */
  gboolean  (*conv_transpose1d) (VvBackend *be, VvTensor *y, const VvTensor *x,
                            const VvTensor *w, const VvTensor *bias,
                            gint stride, GError **error);

  /* Attention (MODEL-SPEC §6); may be NULL on backends without them. */
  /* rotate-half RoPE on x[n, heads·d] (y may be x): for each row i, head h
   * and j < d/2, with a = positions[i]·θ^(−2j/d):
   * y[j] = x[j]·cos a − x[j+d/2]·sin a, y[j+d/2] = x[j+d/2]·cos a + x[j]·sin a */
  gboolean  (*rope)        (VvBackend *be, VvTensor *y, const VvTensor *x,
                            gint head_dim, const gint32 *positions, gdouble theta,
                            GError **error);
  /* causal GQA attention: y[n, H_q·d] from q[n, H_q·d] against k, v
   * [T, H_kv·d] (past + the n new rows last); query row i sits at position
   * T − n + i and sees keys 0 … T − n + i; query head h uses kv head
   * h / (H_q / H_kv); scale 1/sqrt(d), softmax in F32 with max subtraction */
  gboolean  (*attention)   (VvBackend *be, VvTensor *y, const VvTensor *q,
                            const VvTensor *k, const VvTensor *v, gint head_dim,
                            GError **error);
} VvBackendOps;

/**
 * VvBackend:
 *
 * A compute device: a table of ops plus its private state.
 */
struct _VvBackend {
  /*< private >*/
  const VvBackendOps *ops;
  gint n_threads;
  gpointer priv;
};

VvBackend   *vv_backend_new_cpu (gint n_threads, GError **error);
VvBackend   *vv_backend_new_by_name (const gchar *name, gint n_threads, GError **error);
void         vv_backend_free (VvBackend *be);
const gchar *vv_backend_get_name (VvBackend *be);
gint         vv_backend_get_n_threads (VvBackend *be);
gboolean     vv_backend_is_host (VvBackend *be);

/* Device tensors (host tensors on the CPU backend). */
VvTensor    *vv_backend_tensor_new (VvBackend *be, VvDType dtype, gint ndim,
                                    const gint64 *shape, GError **error);
gboolean     vv_backend_tensor_upload (VvBackend *be, VvTensor *dst,
                                       const VvTensor *host_src, GError **error);
gboolean     vv_backend_tensor_download (VvBackend *be, VvTensor *host_dst,
                                         const VvTensor *src, GError **error);
void         vv_backend_tensor_free (VvBackend *be, VvTensor *t);
gboolean     vv_backend_synchronize (VvBackend *be, GError **error);

gboolean     vv_backend_linear (VvBackend *be, VvTensor *y, const VvTensor *x,
                                const VvTensor *w, const VvTensor *bias, GError **error);
gboolean     vv_backend_rms_norm (VvBackend *be, VvTensor *y, const VvTensor *x,
                                  const VvTensor *w, gfloat eps, GError **error);
gboolean     vv_backend_unary (VvBackend *be, VvUnaryOp op, VvTensor *y,
                               const VvTensor *x, GError **error);
gboolean     vv_backend_binary (VvBackend *be, VvBinaryOp op, VvTensor *y,
                                const VvTensor *a, const VvTensor *b, GError **error);
gboolean     vv_backend_scale (VvBackend *be, VvTensor *y, const VvTensor *a,
                               gfloat s, GError **error);
gboolean     vv_backend_get_rows (VvBackend *be, VvTensor *y, const VvTensor *table,
                                  const gint32 *ids, gint n_ids, GError **error);
gboolean     vv_backend_conv1d (VvBackend *be, VvTensor *y, const VvTensor *x,
                                const VvTensor *w, const VvTensor *bias,
                                gint stride, gint groups, GError **error);
gboolean     vv_backend_conv_transpose1d (VvBackend *be, VvTensor *y, const VvTensor *x,
                                          const VvTensor *w, const VvTensor *bias,
                                          gint stride, GError **error);

gboolean     vv_backend_rope (VvBackend *be, VvTensor *y, const VvTensor *x,
                              gint head_dim, const gint32 *positions, gdouble theta,
                              GError **error);
gboolean     vv_backend_attention (VvBackend *be, VvTensor *y, const VvTensor *q,
                                   const VvTensor *k, const VvTensor *v, gint head_dim,
                                   GError **error);

/* Registration of backends living outside gst/ (ext/cuda). */
typedef VvBackend *(*VvBackendNewFunc) (gint n_threads, GError **error);
void         vv_backend_register (const gchar *name, VvBackendNewFunc new_func);
/* "cpu" first, then the registered names; free with g_strfreev(). */
gchar      **vv_backend_list_names (void);

/* Implemented in vv-backend-cpu.c */
VvBackend   *vv_backend_cpu_new (gint n_threads, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VvBackend, vv_backend_free)

G_END_DECLS
