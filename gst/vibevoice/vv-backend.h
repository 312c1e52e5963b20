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

/**
 * VvAffineOp:
 * @VV_AFFINE_DIV_SUB: y = x / a − b (latent to decoder input, MODEL-SPEC §2.5)
 * @VV_AFFINE_ADD_MUL: y = (x + b) · a (encoder mean to LM feature, §4)
 *
 * Scalar affine maps in the order the reference computes them (so results
 * are bit-identical to its two separate tensor ops).
 */
typedef enum {
  VV_AFFINE_DIV_SUB,
  VV_AFFINE_ADD_MUL,
} VvAffineOp;

typedef struct _VvBackend VvBackend;

/**
 * VvDeviceStats:
 * @bytes_up: bytes copied from host memory to the device
 * @bytes_down: bytes copied from the device to host memory
 * @n_launches: backend ops run on the device (kernel launches); a graph
 *   launch counts as one, and the ops recorded into a graph count nothing
 * @bytes_allocated: device memory held now
 * @n_graph_launches: graphs replayed (vv_backend_graph_launch())
 * @n_graph_captures: graphs captured (vv_backend_graph_end())
 *
 * Counters of one device since the process started (host devices count
 * launches only). Differences between two readings give the traffic of
 * what ran in between.
 */
typedef struct {
  guint64 bytes_up;
  guint64 bytes_down;
  guint64 n_launches;
  guint64 bytes_allocated;
  guint64 n_graph_launches;
  guint64 n_graph_captures;
} VvDeviceStats;

VvBackend   *vv_backend_new_cpu (gint n_threads, GError **error);
VvBackend   *vv_backend_new_by_name (const gchar *name, gint n_threads, GError **error);
VvBackend   *vv_backend_new_auto (gint n_threads, GError **error);
void         vv_backend_free (VvBackend *be);
const gchar *vv_backend_get_name (VvBackend *be);
gint         vv_backend_get_n_threads (VvBackend *be);
gboolean     vv_backend_is_host (VvBackend *be);
VvDevice    *vv_backend_get_device (VvBackend *be);

/* Devices: one per memory space per process, shared by every backend
 * instance computing there (so sessions share weights). */
const gchar *vv_device_get_name (VvDevice *device);
gboolean     vv_device_is_host (VvDevice *device);
void         vv_device_get_stats (VvDevice *device, VvDeviceStats *stats);
void         vv_backend_get_stats (VvBackend *be, VvDeviceStats *stats);
/* The device of @t (the host device for host memory). */
VvDevice    *vv_tensor_get_device (const VvTensor *t);
VvDevice    *vv_device_host (void);

/* Tensors in a backend's memory (zero-filled host tensors on host
 * backends, uninitialised device memory otherwise). Free them with
 * vv_tensor_free() or vv_backend_tensor_free(). */
VvTensor    *vv_backend_tensor_new (VvBackend *be, VvDType dtype, gint ndim,
                                    const gint64 *shape, GError **error);
gboolean     vv_backend_tensor_upload (VvBackend *be, VvTensor *dst,
                                       const VvTensor *host_src, GError **error);
gboolean     vv_backend_tensor_download (VvBackend *be, VvTensor *host_dst,
                                         const VvTensor *src, GError **error);
void         vv_backend_tensor_free (VvBackend *be, VvTensor *t);
/* Buffer operations, separate from compute ops. Offsets and sizes in bytes
 * within the (contiguous) tensor @t, which may be a view. */
gboolean     vv_backend_tensor_set (VvBackend *be, VvTensor *t, gsize offset,
                                    gconstpointer host_src, gsize n_bytes, GError **error);
gboolean     vv_backend_tensor_get (VvBackend *be, const VvTensor *t, gsize offset,
                                    gpointer host_dst, gsize n_bytes, GError **error);
/* dst = src on the device (same dtype and element count, may overlap) */
gboolean     vv_backend_tensor_copy (VvBackend *be, VvTensor *dst, const VvTensor *src,
                                     GError **error);
gboolean     vv_backend_tensor_zero (VvBackend *be, VvTensor *t, GError **error);
/* A device copy of the host tensor @host (any dtype). */
VvTensor    *vv_backend_tensor_new_from_host (VvBackend *be, const VvTensor *host,
                                              GError **error);
gboolean     vv_backend_synchronize (VvBackend *be, GError **error);

gboolean     vv_backend_linear (VvBackend *be, VvTensor *y, const VvTensor *x,
                                const VvTensor *w, const VvTensor *bias, GError **error);
gboolean     vv_backend_rms_norm (VvBackend *be, VvTensor *y, const VvTensor *x,
                                  const VvTensor *w, gfloat eps, GError **error);
gboolean     vv_backend_unary (VvBackend *be, VvUnaryOp op, VvTensor *y,
                               const VvTensor *x, GError **error);
gboolean     vv_backend_binary (VvBackend *be, VvBinaryOp op, VvTensor *y,
                                const VvTensor *a, const VvTensor *b, GError **error);
gboolean     vv_backend_convert (VvBackend *be, VvTensor *y, const VvTensor *x,
                                 GError **error);
gboolean     vv_backend_scale (VvBackend *be, VvTensor *y, const VvTensor *a,
                               gfloat s, GError **error);
gboolean     vv_backend_affine (VvBackend *be, VvAffineOp op, VvTensor *y, const VvTensor *x,
                                gfloat a, gfloat b, GError **error);
/* y[i, :] = f32 (table[ids[i], :]); ids: I32 [n] */
gboolean     vv_backend_get_rows (VvBackend *be, VvTensor *y, const VvTensor *table,
                                  const VvTensor *ids, GError **error);
gboolean     vv_backend_conv1d (VvBackend *be, VvTensor *y, const VvTensor *x,
                                const VvTensor *w, const VvTensor *bias,
                                gint stride, gint groups, GError **error);
gboolean     vv_backend_conv_transpose1d (VvBackend *be, VvTensor *y, const VvTensor *x,
                                          const VvTensor *w, const VvTensor *bias,
                                          gint stride, GError **error);

/* positions: I32 [n], one per row of x */
gboolean     vv_backend_rope (VvBackend *be, VvTensor *y, const VvTensor *x,
                              gint head_dim, const VvTensor *positions, gdouble theta,
                              GError **error);
gboolean     vv_backend_attention (VvBackend *be, VvTensor *y, const VvTensor *q,
                                   const VvTensor *k, const VvTensor *v, gint head_dim,
                                   GError **error);

/* Diffusion-head and sampler ops (MODEL-SPEC §3, §2.4, §4.3). Each keeps
 * the float expression order of the host loops it replaced, so cpu results
 * did not change. Column offsets select a [n, d] block of a wider [n, C]
 * tensor (the adaLN chunks of `ada`), since views must be contiguous. */

/* every row of y [.., 2·half]: y[k] = cos (t·f_k), y[half + k] = sin (t·f_k),
 * f_k = expf (fp32 (−ln max_period) · k / half) */
gboolean     vv_backend_timestep_embedding (VvBackend *be, VvTensor *y, gfloat t,
                                            gdouble max_period, GError **error);
/* y[r, k] = x[r, k] · (1 + ada[r, scale_col + k]) + ada[r, shift_col + k];
 * x, y [n, d] (y may be x), ada [n, C] with both column ranges inside C */
gboolean     vv_backend_modulate (VvBackend *be, VvTensor *y, const VvTensor *x,
                                  const VvTensor *ada, gint shift_col, gint scale_col,
                                  GError **error);
/* y[r, k] = x[r, k] + ada[r, gate_col + k] · o[r, k]; x, o, y [n, d] (y may be x) */
gboolean     vv_backend_gated_add (VvBackend *be, VvTensor *y, const VvTensor *x,
                                   const VvTensor *ada, gint gate_col, const VvTensor *o,
                                   GError **error);
/* classifier-free guidance: y = uncond + scale · (cond − uncond), all one
 * shape (y may be either input) */
gboolean     vv_backend_cfg_combine (VvBackend *be, VvTensor *y, const VvTensor *cond,
                                     const VvTensor *uncond, gfloat scale, GError **error);

/**
 * VvDpmStep:
 * @order: 1 or 2
 * @alpha_s: α of the current step
 * @sigma_s: σ' of the current step
 * @ratio: σ'_{i+1} / σ'_i
 * @coef: α_{i+1}·(1 − e^{−h})
 * @half_coef: 0.5 · @coef (order 2)
 * @r_inv: 1 / r (order 2)
 *
 * The per-step scalars of one DPM-Solver++ 2M update, computed by the
 * scheduler on the host.
 */
typedef struct {
  gint order;
  gfloat alpha_s, sigma_s, ratio, coef, half_coef, r_inv;
} VvDpmStep;

/* One DPM-Solver++ update per element (v-prediction): d = α_s·x − σ_s·v;
 * order 1: y = ratio·x + coef·d; order 2: y = ratio·x + coef·d +
 * half_coef·(r_inv·(d − prev_d)); then prev_d = d. All one shape; y may be x. */
gboolean     vv_backend_dpm_step (VvBackend *be, VvTensor *y, const VvTensor *x,
                                  const VvTensor *v, VvTensor *prev_d, const VvDpmStep *step,
                                  GError **error);

/**
 * VvBackendGraph: (skip)
 *
 * A recorded sequence of a backend's ops and buffer copies that replays
 * with one launch (a CUDA Graph on the CUDA backends). It holds the device
 * addresses and host scalars of the ops as they were issued: replaying it
 * reads and writes the same tensors, so their addresses must still be
 * valid and the scalars still wanted (the caller keeps a key of what it
 * depends on and captures again when that changes).
 *
 * Optional: a backend that runs ops as they come (cpu, sim) has none, and
 * vv_backend_graphs_enabled() says so; callers then run the ops eagerly.
 * $VV_GRAPHS=0 (or vv_backend_set_graphs_enabled()) turns them off.
 */
typedef struct _VvBackendGraph VvBackendGraph;

gboolean     vv_backend_graphs_enabled (VvBackend *be);
void         vv_backend_set_graphs_enabled (VvBackend *be, gboolean enabled);
/* Starts recording: until vv_backend_graph_end() (which must follow, on the
 * same thread, also when an op failed), ops on @be and copies between its
 * tensors are recorded, not run; uploads, downloads and allocations fail.
 * Other threads' ops on @be wait. */
gboolean     vv_backend_graph_begin (VvBackend *be, GError **error);
/* Ends the recording: the graph, or NULL (error set if @error) when an op
 * could not be recorded or the graph could not be made. */
VvBackendGraph *vv_backend_graph_end (VvBackend *be, GError **error);
/* Replays @graph (made by a backend of the same kind and device) on @be. */
gboolean     vv_backend_graph_launch (VvBackend *be, VvBackendGraph *graph, GError **error);
/* the kernels and copies the graph holds */
guint        vv_backend_graph_get_n_nodes (VvBackendGraph *graph);
void         vv_backend_graph_free (VvBackendGraph *graph);

/* Registration of backends ("cpu" and "sim" register themselves the same
 * way; ext/cuda does at plugin load). */
typedef VvBackend *(*VvBackendNewFunc) (gint n_threads, GError **error);
void         vv_backend_register (const gchar *name, VvBackendNewFunc new_func);
/* "cpu" first, then the registered names; free with g_strfreev(). */
gchar      **vv_backend_list_names (void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VvBackend, vv_backend_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VvBackendGraph, vv_backend_graph_free)

G_END_DECLS
