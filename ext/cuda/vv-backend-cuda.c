/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * The CUDA backend: the op table of vv-backend-impl.h on one CUDA stream
 * per backend, kernels from vv-cuda-kernels.cuh and GEMMs through cuBLAS,
 * all behind vv-cuda-rt.h. Built twice: as module "cuda" (nvcc, the CUDA
 * runtime, cuBLAS) and, with VV_CUDA_EMU, as module "cuda-emu" (the same
 * kernels under the host emulator), which is how this file is tested on
 * machines without a GPU (docs/CUDA.md).
 *
 * Linear layers: up to VVK_GEMV_MAX_ROWS rows (every decode step) use a
 * GEMV kernel that reads the weights once in their stored dtype with F32
 * activations; more rows (prefill, convolutions) use cuBLAS. cuBLAS needs
 * A and B of one type, so F32 activations against BF16/F16 weights are
 * split into hi + lo halves of the weights' type and multiplied twice
 * (≈16 mantissa bits of the activations kept, F32 accumulation), rather
 * than rounding activations to 8 bits or widening the weights.
 */
#include <vibevoice/vv-backend-impl.h>

#include <gmodule.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vv-cuda-rt.h"

#ifdef VV_CUDA_EMU
#define BACKEND_NAME "cuda-emu"
#else
#define BACKEND_NAME "cuda"
#endif

typedef struct {
  VvkStream stream;
  VvcuBlas *blas;
  VvkErrors *d_err;             /* device error word */
  /* two scratch areas: [0] for an op's own temporaries (im2col columns,
   * attention partials), [1] for the split activations of a GEMM inside */
  void *scratch[2];
  gsize scratch_bytes[2];
  /* frees asked for while capturing a graph, done when it ends */
  GPtrArray *deferred_frees;
#ifdef VV_CUDA_EMU
  gchar *order;                 /* $VV_CUDA_EMU_ORDER when it was made */
#endif
} CudaBackend;

/* Graph capture (docs/CUDA.md). While a backend's stream captures, any use
 * of the legacy default stream — where allocation, uploads, downloads and
 * device copies go — fails and invalidates the capture. So those calls
 * take legacy_lock, which the capturing thread holds from graph_begin to
 * graph_end: other threads' transfers wait for the capture (a few hundred
 * recorded launches), and the capturing thread's own device copies and
 * memsets go to its stream (tl_capture) to be recorded; its allocations,
 * uploads and downloads fail, and its frees wait for the capture's end. */
static GRecMutex legacy_lock;
static _Thread_local CudaBackend *tl_capture;

#ifdef VV_CUDA_EMU
/* cuda-emu.cc */
int vv_cuda_emu_set_order (const char *spec);

/* Each emulated backend keeps the thread order it was made with, so a
 * test can run the same ops in forward, reverse and shuffled order side by
 * side (test-backend-ops: results must be bit-identical). */
static inline CudaBackend *
cu_enter (VvBackend *be)
{
  CudaBackend *c = be->priv;
  vv_cuda_emu_set_order (c->order);
  return c;
}
#define CU(be) cu_enter (be)
#else
#define CU(be) ((CudaBackend *) (be)->priv)
#endif

static gboolean
check (int rc, const gchar *op, GError **error)
{
  if (rc == 0)
    return TRUE;
  g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_DEVICE, BACKEND_NAME ": %s: %s", op,
      vvcu_error_string (rc));
  return FALSE;
}

static VvkType
kt (const VvTensor *t)
{
  if (t == NULL)
    return VVK_NONE;
  switch (t->dtype) {
    case VV_DTYPE_F16: return VVK_F16;
    case VV_DTYPE_BF16: return VVK_BF16;
    default: return VVK_F32;
  }
}

static const void *
data_or_null (const VvTensor *t)
{
  return t ? t->data : NULL;
}

/* ---------------------------------------------------------------------- */
/* The device: memory from the CUDA pool; sizes kept for the counter */

static GMutex alloc_lock;
static GHashTable *alloc_sizes;         /* device pointer -> size */

static gboolean
refused_in_capture (const gchar *op, GError **error)
{
  if (tl_capture == NULL)
    return FALSE;
  g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_DEVICE,
      BACKEND_NAME ": %s: not possible while a graph is being captured", op);
  return TRUE;
}

static gpointer
cuda_alloc (VvDevice *dev, gsize bytes, GError **error)
{
  if (refused_in_capture ("alloc", error))
    return NULL;
  void *p = NULL;
  g_rec_mutex_lock (&legacy_lock);
  int rc = vvcu_malloc (&p, bytes);
  g_rec_mutex_unlock (&legacy_lock);
  if (rc != 0) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_NO_MEMORY,
        BACKEND_NAME ": cannot allocate %" G_GSIZE_FORMAT " bytes of device memory: %s", bytes,
        vvcu_error_string (rc));
    return NULL;
  }
  g_mutex_lock (&alloc_lock);
  if (alloc_sizes == NULL)
    alloc_sizes = g_hash_table_new (g_direct_hash, g_direct_equal);
  g_hash_table_insert (alloc_sizes, p, GSIZE_TO_POINTER (bytes));
  g_mutex_unlock (&alloc_lock);
  __atomic_add_fetch (&dev->bytes_allocated, (gint64) bytes, __ATOMIC_RELAXED);
  return p;
}

static void
cuda_free (VvDevice *dev, gpointer mem)
{
  g_mutex_lock (&alloc_lock);
  gpointer size;
  gboolean found = alloc_sizes && g_hash_table_lookup_extended (alloc_sizes, mem, NULL, &size);
  if (found)
    g_hash_table_remove (alloc_sizes, mem);
  g_mutex_unlock (&alloc_lock);
  if (!found)
    g_error (BACKEND_NAME ": free of %p, which is not a device allocation", mem);
  if (tl_capture != NULL) {
    /* a graph being recorded may still use it; freed at graph_end */
    g_ptr_array_add (tl_capture->deferred_frees, mem);
    __atomic_sub_fetch (&dev->bytes_allocated, (gint64) GPOINTER_TO_SIZE (size), __ATOMIC_RELAXED);
    return;
  }
  g_rec_mutex_lock (&legacy_lock);
  int rc = vvcu_free (mem);
  g_rec_mutex_unlock (&legacy_lock);
  if (rc != 0)
    g_warning (BACKEND_NAME ": freeing device memory: %s", vvcu_error_string (rc));
  __atomic_sub_fetch (&dev->bytes_allocated, (gint64) GPOINTER_TO_SIZE (size), __ATOMIC_RELAXED);
}

static gboolean
cuda_set (VvDevice *dev, gpointer dst, gconstpointer src, gsize bytes, GError **error)
{
  if (refused_in_capture ("upload", error))
    return FALSE;
  g_rec_mutex_lock (&legacy_lock);
  int rc = vvcu_memcpy_htod (dst, src, bytes);
  g_rec_mutex_unlock (&legacy_lock);
  return check (rc, "upload", error);
}

static gboolean
cuda_get (VvDevice *dev, gpointer dst, gconstpointer src, gsize bytes, GError **error)
{
  if (refused_in_capture ("download", error))
    return FALSE;
  g_rec_mutex_lock (&legacy_lock);
  int rc = vvcu_memcpy_dtoh (dst, src, bytes);
  g_rec_mutex_unlock (&legacy_lock);
  return check (rc, "download", error);
}

/* A device copy: recorded on the capturing stream, else on the legacy one. */
static int
copy_dtod (void *dst, const void *src, gsize bytes)
{
  if (tl_capture != NULL)
    return vvcu_memcpy_dtod_async (dst, src, bytes, tl_capture->stream);
  g_rec_mutex_lock (&legacy_lock);
  int rc = vvcu_memcpy_dtod (dst, src, bytes);
  g_rec_mutex_unlock (&legacy_lock);
  return rc;
}

static gboolean
cuda_copy (VvDevice *dev, gpointer dst, gconstpointer src, gsize bytes, GError **error)
{
  const guint8 *d = dst, *s = src;
  if (d == s || bytes == 0)
    return TRUE;
  if (d + bytes <= s || s + bytes <= d)
    return check (copy_dtod (dst, src, bytes), "copy", error);
  /* overlapping ranges (memmove semantics): through a temporary */
  void *tmp = cuda_alloc (dev, bytes, error);
  if (tmp == NULL)
    return FALSE;
  gboolean ok = check (copy_dtod (tmp, src, bytes), "copy", error)
      && check (copy_dtod (dst, tmp, bytes), "copy", error);
  cuda_free (dev, tmp);
  return ok;
}

static gboolean
cuda_memset0 (VvDevice *dev, gpointer dst, gsize bytes, GError **error)
{
  if (tl_capture != NULL)
    return check (vvcu_memset0_async (dst, bytes, tl_capture->stream), "zero", error);
  g_rec_mutex_lock (&legacy_lock);
  int rc = vvcu_memset0 (dst, bytes);
  g_rec_mutex_unlock (&legacy_lock);
  return check (rc, "zero", error);
}

static const VvDeviceOps cuda_device_ops = {
  .alloc = cuda_alloc,
  .free = cuda_free,
  .set = cuda_set,
  .get = cuda_get,
  .copy = cuda_copy,
  .memset0 = cuda_memset0,
};

static VvDevice cuda_device = { .name = BACKEND_NAME, .is_host = FALSE, .ops = &cuda_device_ops };

/* ---------------------------------------------------------------------- */

static void *
scratch (VvBackend *be, gint slot, gsize bytes, GError **error)
{
  CudaBackend *c = CU (be);
  if (bytes <= c->scratch_bytes[slot])
    return c->scratch[slot];
  /* stream-ordered free: the old area's last users are queued before it */
  if (c->scratch[slot] != NULL)
    cuda_free (&cuda_device, c->scratch[slot]);
  c->scratch[slot] = NULL;
  c->scratch_bytes[slot] = 0;
  gsize want = MAX (bytes, c->scratch_bytes[slot] + c->scratch_bytes[slot] / 2);
  c->scratch[slot] = cuda_alloc (&cuda_device, want, error);
  if (c->scratch[slot] == NULL)
    return NULL;
  c->scratch_bytes[slot] = want;
  return c->scratch[slot];
}

static gboolean
int_dims (const gchar *op, GError **error, gint64 a, gint64 b, gint64 c)
{
  if (a > G_MAXINT || b > G_MAXINT || c > G_MAXINT) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        BACKEND_NAME ": %s: GEMM dimension above %d", op, G_MAXINT);
    return FALSE;
  }
  return TRUE;
}

/* Parts the F32 activations are split into for cuBLAS against 16-bit
 * weights: 3 keeps every bit (the default), 1 rounds them to the weights'
 * type as the reference's bf16 model does (faster; $VV_CUDA_SPLIT=1|2|3). */
static gint
split_parts (void)
{
  const gchar *env = g_getenv ("VV_CUDA_SPLIT");
  gint p = env ? atoi (env) : 3;
  return CLAMP (p, 1, 3);
}

/* y (column-major m×n) = op(W) (m×k) · X (column-major k×n, F32) */
static gboolean
gemm_wx (VvBackend *be, const gchar *op, gint trans_w, gint64 m, gint64 n, gint64 k,
    const void *w, VvkType wt, gint64 ldw, const gfloat *x, gfloat *y, GError **error)
{
  CudaBackend *c = CU (be);
  if (!int_dims (op, error, m, n, k))
    return FALSE;
  if (wt == VVK_F32)
    return check (vvcu_gemm (c->blas, trans_w, 0, (int) m, (int) n, (int) k, w, VVK_F32, ldw, 0,
            x, VVK_F32, k, 0, 0.0f, y, m, 0, 1), op, error);
  gint n_parts = split_parts ();
  gsize elems = (gsize) (k * n);
  guint16 *parts = scratch (be, 1, elems * n_parts * sizeof (guint16), error);
  if (parts == NULL || !check (vvk_split (c->stream, parts, wt, x, (int64_t) elems, n_parts),
          op, error))
    return FALSE;
  for (gint p = 0; p < n_parts; p++)
    if (!check (vvcu_gemm (c->blas, trans_w, 0, (int) m, (int) n, (int) k, w, wt, ldw, 0,
                parts + (gsize) p * elems, wt, k, 0, p == 0 ? 0.0f : 1.0f, y, m, 0, 1), op,
            error))
      return FALSE;
  return TRUE;
}

/* y[n, out] = x[n, in] · w[out, in]ᵀ (+ bias) */
static gboolean
linear_rows (VvBackend *be, const gchar *op, gfloat *y, const gfloat *x, gint64 n, gint64 in,
    const VvTensor *w, gint64 out, const VvTensor *bias, GError **error)
{
  CudaBackend *c = CU (be);
  if (n == 0)
    return TRUE;
  /* F16's narrow exponent range makes split activations lose bits (small
   * parts go subnormal), so F16 weights stay on the GEMV kernel, eight rows
   * per pass over the weights, unless $VV_CUDA_SPLIT asks for cuBLAS. */
  gboolean gemv = n <= VVK_GEMV_MAX_ROWS || in == 0 || (kt (w) == VVK_F16 && g_getenv ("VV_CUDA_SPLIT") == NULL);
  if (gemv) {
    for (gint64 r = 0; r < n; r += VVK_GEMV_MAX_ROWS)
      if (!check (vvk_gemv (c->stream, y + r * out, x + r * in, w->data, kt (w),
                  data_or_null (bias), kt (bias), (int) MIN (n - r, VVK_GEMV_MAX_ROWS), in, out),
              op, error))
        return FALSE;
    return TRUE;
  }
  /* row-major y[n, out] is column-major out×n = wᵀ(out×in)·x(in×n) */
  if (!gemm_wx (be, op, 1, out, n, in, w->data, kt (w), in, x, y, error))
    return FALSE;
  return bias == NULL
      || check (vvk_add_bias (c->stream, y, bias->data, kt (bias), n, out), op, error);
}

static gboolean
cuda_linear (VvBackend *be, VvTensor *y, const VvTensor *x, const VvTensor *w,
    const VvTensor *bias, GError **error)
{
  gint64 in = w->shape[1], out = w->shape[0];
  gint64 n = 1;
  for (gint i = 0; i < x->ndim - 1; i++)
    n *= x->shape[i];
  if (out == 0)
    return TRUE;
  return linear_rows (be, "linear", y->data, x->data, n, in, w, out, bias, error);
}

static gboolean
cuda_rms_norm (VvBackend *be, VvTensor *y, const VvTensor *x, const VvTensor *w, gfloat eps,
    GError **error)
{
  gint64 d = x->shape[x->ndim - 1];
  return check (vvk_rms_norm (CU (be)->stream, y->data, x->data, data_or_null (w), kt (w),
          vv_tensor_n_elements (x) / d, d, eps), "rms_norm", error);
}

static gboolean
cuda_unary (VvBackend *be, VvUnaryOp op, VvTensor *y, const VvTensor *x, GError **error)
{
  return check (vvk_unary (CU (be)->stream, op == VV_UNARY_SILU ? VVK_SILU : VVK_GELU, y->data,
          x->data, vv_tensor_n_elements (x)), "unary", error);
}

static gboolean
cuda_binary (VvBackend *be, VvBinaryOp op, VvTensor *y, const VvTensor *a, const VvTensor *b,
    GError **error)
{
  return check (vvk_binary (CU (be)->stream, op == VV_BINARY_ADD ? VVK_ADD : VVK_MUL, y->data,
          a->data, b->data, vv_tensor_n_elements (a), vv_tensor_n_elements (b)), "binary", error);
}

static gboolean
cuda_convert (VvBackend *be, VvTensor *y, const VvTensor *x, GError **error)
{
  gint64 n = vv_tensor_n_elements (x);
  if (y->dtype == VV_DTYPE_F32)
    return check (vvk_scale (CU (be)->stream, y->data, x->data, 1.0f, n), "convert", error);
  /* one part of the split is the rounded value */
  return check (vvk_split (CU (be)->stream, y->data,
          y->dtype == VV_DTYPE_BF16 ? VVK_BF16 : VVK_F16, x->data, n, 1), "convert", error);
}

static gboolean
cuda_scale (VvBackend *be, VvTensor *y, const VvTensor *a, gfloat s, GError **error)
{
  return check (vvk_scale (CU (be)->stream, y->data, a->data, s, vv_tensor_n_elements (a)),
      "scale", error);
}

static gboolean
cuda_affine (VvBackend *be, VvAffineOp op, VvTensor *y, const VvTensor *x, gfloat a, gfloat b,
    GError **error)
{
  return check (vvk_affine (CU (be)->stream, op == VV_AFFINE_DIV_SUB ? VVK_DIV_SUB : VVK_ADD_MUL,
          y->data, x->data, a, b, vv_tensor_n_elements (x)), "affine", error);
}

/* Reads the device error word (a synchronising download) and clears it. */
static gboolean
read_errors (VvBackend *be, VvkErrors *out, GError **error)
{
  CudaBackend *c = CU (be);
  return check (vvcu_memcpy_dtoh_async (out, c->d_err, sizeof *out, c->stream), "errors", error)
      && check (vvcu_memset0_async (c->d_err, sizeof *out, c->stream), "errors", error);
}

static gboolean
cuda_get_rows (VvBackend *be, VvTensor *y, const VvTensor *table, const VvTensor *ids,
    GError **error)
{
  CudaBackend *c = CU (be);
  gint64 n_ids = ids->shape[0];
  VvkErrors e;
  if (!check (vvk_get_rows (c->stream, y->data, table->data, kt (table), table->shape[0],
              table->shape[1], ids->data, n_ids, c->d_err), "get_rows", error)
      || !read_errors (be, &e, error))
    return FALSE;
  if (e.get_rows_index != 0) {
    gint64 i = n_ids - e.get_rows_index;
    gint32 id = 0;
    g_autofree gchar *st = vv_tensor_shape_string (table);
    cuda_get (&cuda_device, &id, (const gint32 *) ids->data + i, sizeof id, NULL);
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "get_rows: id %d (index %" G_GINT64_FORMAT ") is out of range for table %s with %"
        G_GINT64_FORMAT " rows", id, i, st, table->shape[0]);
    return FALSE;
  }
  return TRUE;
}

static gboolean
cuda_conv1d (VvBackend *be, VvTensor *y, const VvTensor *x, const VvTensor *w,
    const VvTensor *bias, gint stride, gint groups, GError **error)
{
  CudaBackend *c = CU (be);
  gint64 t_in = x->shape[0], c_in = x->shape[1], c_out = w->shape[0];
  gint k = (gint) w->shape[2];
  gint64 t_out = (t_in - k) / stride + 1;
  if (t_out <= 0)
    return TRUE;
  if (groups != 1)
    return check (vvk_conv_depthwise (c->stream, y->data, x->data, w->data, kt (w),
            data_or_null (bias), kt (bias), t_out, c_in, k, stride), "conv1d", error);
  /* im2col, then the linear layer with w as [C_out, C_in·k] */
  gfloat *col = scratch (be, 0, sizeof (gfloat) * (gsize) (t_out * c_in * k), error);
  if (col == NULL)
    return FALSE;
  VvTensor w2;
  gint64 shape[2] = { c_out, c_in * k };
  vv_tensor_init_view (&w2, w->dtype, 2, shape, w->data);
  return check (vvk_im2col (c->stream, col, x->data, t_out, c_in, k, stride), "conv1d", error)
      && linear_rows (be, "conv1d", y->data, col, t_out, c_in * k, &w2, c_out, bias, error);
}

static gboolean
cuda_conv_transpose1d (VvBackend *be, VvTensor *y, const VvTensor *x, const VvTensor *w,
    const VvTensor *bias, gint stride, GError **error)
{
  CudaBackend *c = CU (be);
  gint64 t_in = x->shape[0], c_in = x->shape[1], c_out = w->shape[1];
  gint k = (gint) w->shape[2];
  gint64 t_out = y->shape[0];
  if (t_in == 0)
    return TRUE;
  /* z[t_in, c_out·k] = x · W[c_in, c_out·k]: column-major (c_out·k)×t_in =
   * W(c_out·k × c_in, ld c_out·k) · x(c_in × t_in) */
  gfloat *z = scratch (be, 0, sizeof (gfloat) * (gsize) (t_in * c_out * k), error);
  if (z == NULL)
    return FALSE;
  return gemm_wx (be, "conv_transpose1d", 0, c_out * k, t_in, c_in, w->data, kt (w), c_out * k,
          x->data, z, error)
      && check (vvk_col2im_transposed (c->stream, y->data, z, data_or_null (bias), kt (bias),
          t_in, t_out, c_out, k, stride), "conv_transpose1d", error);
}

static gboolean
cuda_rope (VvBackend *be, VvTensor *y, const VvTensor *x, gint head_dim, const VvTensor *pos,
    gdouble theta, GError **error)
{
  CudaBackend *c = CU (be);
  gint64 n = x->shape[0];
  VvkErrors e;
  if (!check (vvk_rope (c->stream, y->data, x->data, n, x->shape[1], head_dim, pos->data, theta,
              c->d_err), "rope", error)
      || !read_errors (be, &e, error))
    return FALSE;
  if (e.rope_row != 0) {
    gint64 r = n - e.rope_row;
    gint32 p = 0;
    cuda_get (&cuda_device, &p, (const gint32 *) pos->data + r, sizeof p, NULL);
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "rope: negative position %d at row %" G_GINT64_FORMAT, p, r);
    return FALSE;
  }
  return TRUE;
}

#define VVK_ATTN_MAX_D_HOST 256

static gboolean
cuda_attention (VvBackend *be, VvTensor *y, const VvTensor *q, const VvTensor *k,
    const VvTensor *v, gint head_dim, GError **error)
{
  CudaBackend *c = CU (be);
  gint64 n = q->shape[0], t = k->shape[0];
  gint64 hq = q->shape[1] / head_dim, hkv = k->shape[1] / head_dim;
  if (head_dim > VVK_ATTN_MAX_D_HOST) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        BACKEND_NAME ": attention: head_dim %d above the kernel's %d", head_dim,
        VVK_ATTN_MAX_D_HOST);
    return FALSE;
  }
  if (n * hq > G_MAXUINT32) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        BACKEND_NAME ": attention: %" G_GINT64_FORMAT " rows × heads is too many", n * hq);
    return FALSE;
  }
  gint n_split = vvk_attention_n_split (t);
  gfloat *partial = scratch (be, 0, sizeof (gfloat) * (gsize) (n * hq * n_split * (head_dim + 2)),
      error);
  if (partial == NULL)
    return FALSE;
  return check (vvk_attention (c->stream, y->data, q->data, k->data, v->data,
          k->dtype == VV_DTYPE_BF16 ? VVK_BF16 : VVK_F32, n, t, hq, hkv, head_dim, n_split,
          partial), "attention", error);
}

static gboolean
cuda_timestep_embedding (VvBackend *be, VvTensor *y, gfloat t, gdouble max_period,
    GError **error)
{
  gint64 d = y->shape[y->ndim - 1];
  return check (vvk_timestep_embedding (CU (be)->stream, y->data, vv_tensor_n_elements (y) / d, d,
          t, (gfloat) (-log (max_period))), "timestep_embedding", error);
}

static gboolean
cuda_modulate (VvBackend *be, VvTensor *y, const VvTensor *x, const VvTensor *ada,
    gint shift_col, gint scale_col, GError **error)
{
  return check (vvk_modulate (CU (be)->stream, y->data, x->data, ada->data, x->shape[0],
          x->shape[1], ada->shape[1], shift_col, scale_col), "modulate", error);
}

static gboolean
cuda_gated_add (VvBackend *be, VvTensor *y, const VvTensor *x, const VvTensor *ada,
    gint gate_col, const VvTensor *o, GError **error)
{
  return check (vvk_gated_add (CU (be)->stream, y->data, x->data, ada->data, gate_col, o->data,
          x->shape[0], x->shape[1], ada->shape[1]), "gated_add", error);
}

static gboolean
cuda_cfg_combine (VvBackend *be, VvTensor *y, const VvTensor *cond, const VvTensor *uncond,
    gfloat scale, GError **error)
{
  return check (vvk_cfg_combine (CU (be)->stream, y->data, cond->data, uncond->data, scale,
          vv_tensor_n_elements (y)), "cfg_combine", error);
}

static gboolean
cuda_dpm_step (VvBackend *be, VvTensor *y, const VvTensor *x, const VvTensor *v,
    VvTensor *prev_d, const VvDpmStep *st, GError **error)
{
  return check (vvk_dpm_step (CU (be)->stream, y->data, x->data, v->data, prev_d->data,
          st->order, st->alpha_s, st->sigma_s, st->ratio, st->coef, st->half_coef, st->r_inv,
          vv_tensor_n_elements (x)), "dpm_step", error);
}

/* ---------------------------------------------------------------------- */
/* CUDA Graphs (the ops of vv-backend-impl.h) */

static gboolean
cuda_graph_begin (VvBackend *be, GError **error)
{
  CudaBackend *c = CU (be);
  if (tl_capture != NULL) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_DEVICE,
        BACKEND_NAME ": graph capture: this thread is already capturing a graph");
    return FALSE;
  }
  g_rec_mutex_lock (&legacy_lock);
  if (!check (vvcu_stream_begin_capture (c->stream), "graph: cudaStreamBeginCapture", error)) {
    g_rec_mutex_unlock (&legacy_lock);
    return FALSE;
  }
  tl_capture = c;
  return TRUE;
}

/* Ends the capture (always, so the stream leaves capture mode) and makes
 * the executable graph. */
static gboolean
cuda_graph_end (VvBackend *be, gpointer *graph, guint *n_nodes, GError **error)
{
  CudaBackend *c = CU (be);
  VvcuGraph *g = NULL;
  int rc = vvcu_stream_end_capture (c->stream, &g);
  tl_capture = NULL;
  for (guint i = 0; i < c->deferred_frees->len; i++) {
    int frc = vvcu_free (g_ptr_array_index (c->deferred_frees, i));
    if (frc != 0)
      g_warning (BACKEND_NAME ": freeing device memory: %s", vvcu_error_string (frc));
  }
  g_ptr_array_set_size (c->deferred_frees, 0);
  g_rec_mutex_unlock (&legacy_lock);
  if (!check (rc, "graph: cudaStreamEndCapture", error))
    return FALSE;
  size_t n = 0;
  VvcuGraphExec *exec = NULL;
  gboolean ok = check (vvcu_graph_n_nodes (g, &n), "graph: cudaGraphGetNodes", error)
      && check (vvcu_graph_instantiate (&exec, g), "graph: cudaGraphInstantiate", error);
  vvcu_graph_destroy (g);
  if (!ok)
    return FALSE;
  *graph = exec;
  *n_nodes = (guint) MIN (n, G_MAXUINT);
  return TRUE;
}

static gboolean
cuda_graph_launch (VvBackend *be, gpointer graph, GError **error)
{
  return check (vvcu_graph_launch (graph, CU (be)->stream), "graph: cudaGraphLaunch", error);
}

static void
cuda_graph_free (gpointer graph)
{
  /* cudaGraphExecDestroy waits for a launch in flight */
  vvcu_graph_exec_destroy (graph);
}

static gboolean
cuda_synchronize (VvBackend *be, GError **error)
{
  return check (vvcu_stream_synchronize (CU (be)->stream), "synchronize", error);
}

static void
cuda_destroy (VvBackend *be)
{
  CudaBackend *c = be->priv;
  if (c != NULL) {
    if (c->stream != NULL)
      vvcu_stream_synchronize (c->stream);
    for (gint i = 0; i < 2; i++)
      if (c->scratch[i] != NULL)
        cuda_free (&cuda_device, c->scratch[i]);
    if (c->d_err != NULL)
      cuda_free (&cuda_device, c->d_err);
    g_rec_mutex_lock (&legacy_lock);
    vvcu_blas_destroy (c->blas);
    if (c->stream != NULL)
      vvcu_stream_destroy (c->stream);
    g_rec_mutex_unlock (&legacy_lock);
    if (c->deferred_frees != NULL)
      g_ptr_array_unref (c->deferred_frees);
#ifdef VV_CUDA_EMU
    g_free (c->order);
#endif
    g_free (c);
  }
  g_free (be);
}

static const VvBackendOps cuda_ops = {
  .name = BACKEND_NAME,
  .destroy = cuda_destroy,
  .synchronize = cuda_synchronize,
  .linear = cuda_linear,
  .rms_norm = cuda_rms_norm,
  .unary = cuda_unary,
  .binary = cuda_binary,
  .scale = cuda_scale,
  .convert = cuda_convert,
  .affine = cuda_affine,
  .get_rows = cuda_get_rows,
  .conv1d = cuda_conv1d,
  .conv_transpose1d = cuda_conv_transpose1d,
  .rope = cuda_rope,
  .attention = cuda_attention,
  .timestep_embedding = cuda_timestep_embedding,
  .modulate = cuda_modulate,
  .gated_add = cuda_gated_add,
  .cfg_combine = cuda_cfg_combine,
  .dpm_step = cuda_dpm_step,
  .graph_begin = cuda_graph_begin,
  .graph_end = cuda_graph_end,
  .graph_launch = cuda_graph_launch,
  .graph_free = cuda_graph_free,
};

/* why the device is unusable ("" when it is fine), decided once */
static gchar init_why[512];
static gsize init_done;

static VvBackend *
vv_backend_cuda_new (gint n_threads, GError **error)
{
  if (g_once_init_enter (&init_done)) {
    if (vvcu_init (init_why, sizeof init_why) == 0)
      init_why[0] = '\0';
    else if (init_why[0] == '\0')
      g_strlcpy (init_why, "CUDA initialisation failed", sizeof init_why);
    g_once_init_leave (&init_done, 1);
  }
  if (init_why[0] != '\0') {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE, BACKEND_NAME ": %s",
        init_why);
    return NULL;
  }
  if (n_threads < 0) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE,
        BACKEND_NAME ": invalid thread count %d", n_threads);
    return NULL;
  }
  VvBackend *be = g_new0 (VvBackend, 1);
  CudaBackend *c = g_new0 (CudaBackend, 1);
  be->ops = &cuda_ops;
  be->device = &cuda_device;
  be->priv = c;
#ifdef VV_CUDA_EMU
  c->order = g_strdup (g_getenv ("VV_CUDA_EMU_ORDER"));
  if (!vv_cuda_emu_set_order (c->order)) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE,
        BACKEND_NAME ": VV_CUDA_EMU_ORDER=%s is not forward, reverse or shuffle[:SEED]",
        c->order);
    cuda_destroy (be);
    return NULL;
  }
#endif
  /* host threads do not matter to the GPU; kept as asked, like the CPU */
  be->n_threads = n_threads == 0 ? 1 : n_threads;
  g_rec_mutex_init (&be->lock);
  c->deferred_frees = g_ptr_array_new ();
  g_rec_mutex_lock (&legacy_lock);
  int rc = vvcu_stream_create (&c->stream);
  if (rc == 0)
    rc = vvcu_blas_create (&c->blas, c->stream);
  g_rec_mutex_unlock (&legacy_lock);
  if (rc != 0) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE, BACKEND_NAME ": %s",
        vvcu_error_string (rc));
    g_rec_mutex_clear (&be->lock);
    cuda_destroy (be);
    return NULL;
  }
  c->d_err = cuda_alloc (&cuda_device, sizeof (VvkErrors), error);
  if (c->d_err == NULL || !cuda_memset0 (&cuda_device, c->d_err, sizeof (VvkErrors), error)) {
    g_rec_mutex_clear (&be->lock);
    cuda_destroy (be);
    return NULL;
  }
  char desc[256];
  if (vvcu_device_description (desc, sizeof desc) == 0)
    g_debug (BACKEND_NAME " backend on %s", desc);
  return be;
}

/* The module's entry point, called by the engine when it loads the module
 * (vv-backend.c). */
G_MODULE_EXPORT void vv_backend_module_register (void);

G_MODULE_EXPORT void
vv_backend_module_register (void)
{
  vv_backend_register (BACKEND_NAME, vv_backend_cuda_new);
}
