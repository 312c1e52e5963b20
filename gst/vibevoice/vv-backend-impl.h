/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

/*
 * For backend writers (cf. ggml's ggml-backend-impl.h): the op table a
 * backend implements and the buffer operations of the device it computes
 * on. Not installed; users see only vv-backend.h.
 *
 * A device is a memory space, one object per process (host RAM, the
 * simulated device, one per GPU). Tensors point at their device, never at a
 * backend instance, so every backend on a device (one per session or
 * pipeline) can use the same uploaded weights.
 */

#include "vv-backend.h"

G_BEGIN_DECLS

/* Buffer operations of a device. Pointers are device addresses; a view at
 * an offset is the address plus the offset. */
typedef struct {
  gpointer  (*alloc)   (VvDevice *dev, gsize bytes, GError **error);
  void      (*free)    (VvDevice *dev, gpointer mem);
  gboolean  (*set)     (VvDevice *dev, gpointer dst, gconstpointer host_src, gsize bytes,
                        GError **error);
  gboolean  (*get)     (VvDevice *dev, gpointer host_dst, gconstpointer src, gsize bytes,
                        GError **error);
  gboolean  (*copy)    (VvDevice *dev, gpointer dst, gconstpointer src, gsize bytes,
                        GError **error);
  gboolean  (*memset0) (VvDevice *dev, gpointer dst, gsize bytes, GError **error);
} VvDeviceOps;

struct _VvDevice {
  const gchar *name;
  gboolean is_host;             /* tensors are plain host memory (device NULL) */
  const VvDeviceOps *ops;       /* NULL on the host device */
  gpointer priv;
  /* counters (atomic) */
  gint64 bytes_up, bytes_down, n_launches, bytes_allocated, n_graph_launches, n_graph_captures;
};

/* Frees device memory of @dev (used by vv_tensor_free()). */
void vv_device_mem_free (VvDevice *dev, gpointer mem);
/* A tensor header in @dev's memory (owned; freed by vv_tensor_free()). */
VvTensor *vv_device_tensor_new (VvDevice *dev, VvDType dtype, gint ndim,
                                const gint64 *shape, GError **error);

/**
 * VvBackendOps: (skip)
 *
 * The op table every backend implements (cf. ggml's one directory per
 * backend). The public vv_backend_*() wrappers check shapes, dtypes and
 * devices once, so implementations may assume valid, contiguous operands
 * in the backend's device memory:
 *
 * - activations (x, y, a, b) are F32; ids and positions I32;
 * - weights (w, table, norm weights, biases) are F32, F16 or BF16, and are
 *   read in their stored dtype (never converted wholesale);
 * - all arithmetic accumulates in F32.
 */
typedef struct {
  const gchar *name;
  /* frees the backend's private state and @be itself */
  void      (*destroy)     (VvBackend *be);
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
  /* y = x / a − b or (x + b) · a, see VvAffineOp */
  gboolean  (*affine)      (VvBackend *be, VvAffineOp op, VvTensor *y, const VvTensor *x,
                            gfloat a, gfloat b, GError **error);
  /* y = x rounded to y's dtype (F32, F16 or BF16; nearest even), x F32;
   * y I8 with scale groups (an int8 KV cache, host backends only: the
   * wrapper refuses it elsewhere) quantised per (row, group) */
  gboolean  (*convert)     (VvBackend *be, VvTensor *y, const VvTensor *x, GError **error);
  /* y[i, :] = f32(table[ids[i], :]), ids I32 [n] */
  gboolean  (*get_rows)    (VvBackend *be, VvTensor *y, const VvTensor *table,
                            const VvTensor *ids, GError **error);

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

  /* Attention (MODEL-SPEC §6). */
  /* rotate-half RoPE on x[n, heads·d] (y may be x): for each row i, head h
   * and j < d/2, with a = positions[i]·θ^(−2j/d):
   * y[j] = x[j]·cos a − x[j+d/2]·sin a, y[j+d/2] = x[j+d/2]·cos a + x[j]·sin a */
  gboolean  (*rope)        (VvBackend *be, VvTensor *y, const VvTensor *x,
                            gint head_dim, const VvTensor *positions, gdouble theta,
                            GError **error);
  /* causal GQA attention: y[n, H_q·d] from q[n, H_q·d] against k, v
   * [T, H_kv·d] (past + the n new rows last); query row i sits at position
   * T − n + i and sees keys 0 … T − n + i; query head h uses kv head
   * h / (H_q / H_kv); scale 1/sqrt(d), softmax in F32 with max subtraction;
   * k, v F32 or BF16, or I8 with a scale per (row, KV head) on host
   * backends (the wrapper refuses I8 on the others) */
  gboolean  (*attention)   (VvBackend *be, VvTensor *y, const VvTensor *q,
                            const VvTensor *k, const VvTensor *v, gint head_dim,
                            GError **error);

  /* Diffusion-head and sampler ops (see vv-backend.h for the formulas;
   * operands checked by the wrappers: y, x, o, v, prev_d, cond, uncond
   * share a shape; ada has the rows of x and holds the column ranges). */
  gboolean  (*timestep_embedding) (VvBackend *be, VvTensor *y, gfloat t, gdouble max_period,
                            GError **error);
  gboolean  (*modulate)    (VvBackend *be, VvTensor *y, const VvTensor *x,
                            const VvTensor *ada, gint shift_col, gint scale_col,
                            GError **error);
  gboolean  (*gated_add)   (VvBackend *be, VvTensor *y, const VvTensor *x,
                            const VvTensor *ada, gint gate_col, const VvTensor *o,
                            GError **error);
  gboolean  (*cfg_combine) (VvBackend *be, VvTensor *y, const VvTensor *cond,
                            const VvTensor *uncond, gfloat scale, GError **error);
  gboolean  (*dpm_step)    (VvBackend *be, VvTensor *y, const VvTensor *x,
                            const VvTensor *v, VvTensor *prev_d, const VvDpmStep *step,
                            GError **error);

  /* Graphs (optional: NULL on backends that run ops as they come, such as
   * the CPU; callers then run eagerly). Between graph_begin and graph_end
   * the ops and buffer copies issued to the backend are recorded, not run
   * (vv-backend.c holds the backend's lock meanwhile); graph_end returns the
   * replayable graph in @graph (and its node count), graph_launch replays it
   * in order with the backend's other work, graph_free (which must not need
   * the backend, it may be gone) releases it. graph_end is called after
   * every successful graph_begin, also when an op failed in between. */
  gboolean  (*graph_begin) (VvBackend *be, GError **error);
  gboolean  (*graph_end)   (VvBackend *be, gpointer *graph, guint *n_nodes, GError **error);
  gboolean  (*graph_launch) (VvBackend *be, gpointer graph, GError **error);
  void      (*graph_free)  (gpointer graph);
} VvBackendOps;

/**
 * VvBackend:
 *
 * A compute stream on a device: a table of ops plus its private state
 * (thread pool, CUDA stream, ...).
 */
struct _VvBackend {
  const VvBackendOps *ops;
  VvDevice *device;
  gint n_threads;
  gpointer priv;
  /* this instance's share of the device counters (atomic) */
  gint64 bytes_up, bytes_down, n_launches, n_graph_launches, n_graph_captures;
  /* graph capture in progress (ops are recorded, not counted as launches);
   * graphs_off: vv_backend_set_graphs_enabled (be, FALSE) */
  gboolean capturing, graphs_off;
  /* held around every op (see vv-backend.c); constructors g_rec_mutex_init()
   * it, vv_backend_free() clears it */
  GRecMutex lock;
};

/* Built-in backends (registered by vv-backend.c like any other). */
VvBackend *vv_backend_cpu_new (gint n_threads, GError **error);
VvBackend *vv_backend_sim_new (gint n_threads, GError **error);

/* Host memory for tensors and scratch, 64-byte aligned and zero-filled
 * (vv-tensor.c). Blocks of at least VV_HOST_MMAP_MIN bytes are mapped
 * directly, so that they go back to the kernel when freed: from malloc, a
 * buffer freed by a streaming thread stays in that thread's arena (glibc
 * gives each thread its own, and raises its mmap threshold after the first
 * large free), and those arenas fragment as pipelines come and go.
 * vv_host_mem_free needs the @bytes the block was allocated with. */
#define VV_HOST_MMAP_MIN ((gsize) 256 << 10)
gpointer  vv_host_mem_alloc (gsize bytes, GError **error);
void      vv_host_mem_free  (gpointer mem, gsize bytes);

G_END_DECLS
