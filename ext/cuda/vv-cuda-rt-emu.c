/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * vv-cuda-rt.h emulated on the host, for backend "cuda-emu": device memory
 * is host memory, streams run everything at once (launches complete before
 * they return) except while they capture a graph (cuda-emu-stream.h: the
 * work is recorded, and replayed by a graph launch; legacy-stream calls
 * during a capture fail as on CUDA), and the GEMM wrapper is a CPU GEMM with cuBLAS's
 * column-major semantics: operands widened to F32 (as cuBLAS's compute
 * type) and multiplied by OpenBLAS's column-major sgemm.
 */
#include "vv-cuda-rt.h"
#include "cuda-emu-stream.h"

#include <cblas.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vibevoice/vv-tensor.h>

enum {
  EMU_NO_MEMORY = 2,            /* as cudaErrorMemoryAllocation */
  EMU_INVALID_VALUE = 1,        /* as cudaErrorInvalidValue */
  EMU_BLAS_INVALID = 100007,    /* as CUBLAS_STATUS_INVALID_VALUE + 100000 */
  EMU_BLAS_NOT_SUPPORTED = 100015,
};

const char *
vvcu_error_string (int code)
{
  switch (code) {
    case 0: return "no error";
    case EMU_INVALID_VALUE: return "invalid argument";
    case EMU_NO_MEMORY: return "out of memory";
    case EMU_BLAS_INVALID: return "cuBLAS: invalid value";
    case EMU_BLAS_NOT_SUPPORTED: return "cuBLAS: not supported (A and B types differ)";
    case VV_EMU_ILLEGAL_STATE: return "the operation is not permitted in the stream's capture state";
    case VV_EMU_CAPTURE_UNSUPPORTED: return "operation not permitted when stream is capturing";
    case VV_EMU_CAPTURE_INVALIDATED: return "operation failed due to a previous error during capture";
    default: return vvk_error_string (code);
  }
}

int
vvcu_init (char *why, size_t why_len)
{
  return 0;
}

int
vvcu_device_description (char *buf, size_t len)
{
  snprintf (buf, len, "CUDA emulator on the host CPU");
  return 0;
}

int
vvcu_mem_info (size_t *free_bytes, size_t *total_bytes)
{
  *free_bytes = *total_bytes = 0;
  return 0;
}

/* A legacy-stream call while a stream captures: refused, and the capture
 * is invalid from then on (as CUDA does with blocking streams). */
static int
legacy_refused (void)
{
  if (!vv_emu_any_capturing ())
    return 0;
  vv_emu_invalidate_captures ();
  return VV_EMU_CAPTURE_UNSUPPORTED;
}

int
vvcu_malloc (void **ptr, size_t bytes)
{
  int rc = legacy_refused ();
  if (rc != 0)
    return rc;
  /* 256-byte alignment, as cudaMalloc gives */
  *ptr = NULL;
  if (posix_memalign (ptr, 256, bytes ? bytes : 1) != 0)
    return EMU_NO_MEMORY;
  return 0;
}

int
vvcu_free (void *ptr)
{
  int rc = legacy_refused ();
  if (rc != 0)
    return rc;
  free (ptr);
  return 0;
}

int
vvcu_memcpy_htod (void *dst, const void *src, size_t bytes)
{
  int rc = legacy_refused ();
  if (rc != 0)
    return rc;
  memcpy (dst, src, bytes);
  return 0;
}

int
vvcu_memcpy_dtoh (void *dst, const void *src, size_t bytes)
{
  int rc = legacy_refused ();
  if (rc != 0)
    return rc;
  memcpy (dst, src, bytes);
  return 0;
}

int
vvcu_memcpy_dtod (void *dst, const void *src, size_t bytes)
{
  int rc = legacy_refused ();
  if (rc != 0)
    return rc;
  memcpy (dst, src, bytes);     /* the backend never passes overlapping ranges */
  return 0;
}

int
vvcu_memset0 (void *dst, size_t bytes)
{
  int rc = legacy_refused ();
  if (rc != 0)
    return rc;
  memset (dst, 0, bytes);
  return 0;
}

int
vvcu_stream_create (VvkStream *stream)
{
  *stream = vv_emu_stream_new ();
  return *stream != NULL ? 0 : EMU_NO_MEMORY;
}

int
vvcu_stream_destroy (VvkStream stream)
{
  vv_emu_stream_free (stream);
  return 0;
}

/* Synchronising a capturing stream is an error that invalidates it. */
static int
sync_refused (VvkStream stream)
{
  if (!vv_emu_stream_is_capturing (stream))
    return 0;
  vv_emu_invalidate_captures ();
  return VV_EMU_CAPTURE_UNSUPPORTED;
}

int
vvcu_stream_synchronize (VvkStream stream)
{
  return sync_refused (stream);
}

int
vvcu_memcpy_dtoh_async (void *dst, const void *src, size_t bytes, VvkStream stream)
{
  /* returns when done (it synchronises), which a capture cannot */
  int rc = sync_refused (stream);
  if (rc != 0)
    return rc;
  memcpy (dst, src, bytes);
  return 0;
}

typedef struct {
  void *dst;
  const void *src;
  size_t bytes;
} CopyArgs;

static int
run_copy (const void *args)
{
  const CopyArgs *a = args;
  if (a->src != NULL)
    memcpy (a->dst, a->src, a->bytes);
  else
    memset (a->dst, 0, a->bytes);
  return 0;
}

int
vvcu_memset0_async (void *dst, size_t bytes, VvkStream stream)
{
  CopyArgs a = { dst, NULL, bytes };
  if (vv_emu_stream_is_capturing (stream))
    return vv_emu_stream_record_call (stream, run_copy, &a, sizeof a);
  return run_copy (&a);
}

int
vvcu_memcpy_dtod_async (void *dst, const void *src, size_t bytes, VvkStream stream)
{
  CopyArgs a = { dst, src, bytes };
  if (bytes == 0)
    return 0;
  if (vv_emu_stream_is_capturing (stream))
    return vv_emu_stream_record_call (stream, run_copy, &a, sizeof a);
  return run_copy (&a);
}

/* ---------------------------------------------------------------------- */
/* Graphs: the recorded nodes (a graph), and an instantiated copy of them */

struct _VvcuGraph {
  VvEmuGraph *g;
};

struct _VvcuGraphExec {
  VvEmuGraph *g;
};

int
vvcu_stream_begin_capture (VvkStream stream)
{
  return vv_emu_stream_begin_capture (stream);
}

int
vvcu_stream_end_capture (VvkStream stream, VvcuGraph **graph)
{
  *graph = NULL;
  VvEmuGraph *g = NULL;
  int rc = vv_emu_stream_end_capture (stream, &g);
  if (rc != 0)
    return rc;
  VvcuGraph *w = g_try_new0 (VvcuGraph, 1);
  if (w == NULL) {
    vv_emu_graph_free (g);
    return EMU_NO_MEMORY;
  }
  w->g = g;
  *graph = w;
  return 0;
}

int
vvcu_graph_n_nodes (VvcuGraph *graph, size_t *n_nodes)
{
  *n_nodes = vv_emu_graph_n_nodes (graph->g);
  return 0;
}

int
vvcu_graph_instantiate (VvcuGraphExec **exec, VvcuGraph *graph)
{
  *exec = NULL;
  VvcuGraphExec *e = g_try_new0 (VvcuGraphExec, 1);
  if (e == NULL || (e->g = vv_emu_graph_copy (graph->g)) == NULL) {
    g_free (e);
    return EMU_NO_MEMORY;
  }
  *exec = e;
  return 0;
}

int
vvcu_graph_launch (VvcuGraphExec *exec, VvkStream stream)
{
  return vv_emu_graph_launch (exec->g, stream);
}

void
vvcu_graph_destroy (VvcuGraph *graph)
{
  if (graph == NULL)
    return;
  vv_emu_graph_free (graph->g);
  g_free (graph);
}

void
vvcu_graph_exec_destroy (VvcuGraphExec *exec)
{
  if (exec == NULL)
    return;
  vv_emu_graph_free (exec->g);
  g_free (exec);
}

struct _VvcuBlas {
  VvkStream stream;
};

int
vvcu_blas_create (VvcuBlas **blas, VvkStream stream)
{
  *blas = g_new0 (VvcuBlas, 1);
  (*blas)->stream = stream;
  return 0;
}

void
vvcu_blas_destroy (VvcuBlas *blas)
{
  g_free (blas);
}

static float
load (const void *p, VvkType t, int64_t i)
{
  switch (t) {
    case VVK_F32: return ((const float *) p)[i];
    case VVK_BF16: return vv_bf16_to_f32 (((const guint16 *) p)[i]);
    case VVK_F16: return vv_f16_to_f32 (((const guint16 *) p)[i]);
    default: return 0.0f;
  }
}

/* op(X) (rows×cols, column-major in X with leading dimension ld) widened
 * into a dense column-major F32 matrix */
static void
widen (float *dst, const void *x, VvkType t, int64_t ld, int trans, int rows, int cols)
{
  for (int j = 0; j < cols; j++)
    for (int i = 0; i < rows; i++)
      dst[i + (int64_t) j * rows] = load (x, t, trans ? j + (int64_t) i * ld : i + (int64_t) j * ld);
}

typedef struct {
  int trans_a, trans_b, m, n, k;
  const void *a;
  VvkType ta;
  int64_t lda, stride_a;
  const void *b;
  VvkType tb;
  int64_t ldb, stride_b;
  float beta;
  float *c;
  int64_t ldc, stride_c;
  int batch;
} GemmArgs;

static int run_gemm (const void *args);

int
vvcu_gemm (VvcuBlas *blas, int trans_a, int trans_b, int m, int n, int k,
    const void *a, VvkType ta, int64_t lda, int64_t stride_a,
    const void *b, VvkType tb, int64_t ldb, int64_t stride_b,
    float beta, float *c, int64_t ldc, int64_t stride_c, int batch)
{
  /* cuBLAS's argument checks (when called, also in a capture) */
  if (m < 0 || n < 0 || k < 0 || batch < 0 || ldc < MAX (1, m)
      || lda < MAX (1, trans_a ? k : m) || ldb < MAX (1, trans_b ? n : k))
    return EMU_BLAS_INVALID;
  if (ta != tb)
    return EMU_BLAS_NOT_SUPPORTED;
  GemmArgs g = { trans_a, trans_b, m, n, k, a, ta, lda, stride_a, b, tb, ldb, stride_b,
    beta, c, ldc, stride_c, batch };
  if (vv_emu_stream_is_capturing (blas->stream))
    return vv_emu_stream_record_call (blas->stream, run_gemm, &g, sizeof g);
  return run_gemm (&g);
}

static int
run_gemm (const void *args)
{
  const GemmArgs *g = args;
  const int trans_a = g->trans_a, trans_b = g->trans_b, m = g->m, n = g->n, k = g->k;
  const void *a = g->a, *b = g->b;
  const VvkType ta = g->ta, tb = g->tb;
  const int64_t lda = g->lda, stride_a = g->stride_a, ldb = g->ldb, stride_b = g->stride_b;
  const int64_t ldc = g->ldc, stride_c = g->stride_c;
  const float beta = g->beta;
  float *c = g->c;
  const int batch = g->batch;
  if (m == 0 || n == 0)
    return 0;
  size_t sa = (size_t) m * MAX (k, 1), sb = (size_t) MAX (k, 1) * n;
  float *wa = g_try_new (float, sa), *wb = g_try_new (float, sb);
  if (wa == NULL || wb == NULL) {
    g_free (wa);
    g_free (wb);
    return EMU_NO_MEMORY;
  }
  gsize esa = ta == VVK_F32 ? 4 : 2, esb = tb == VVK_F32 ? 4 : 2;
  for (int bi = 0; bi < batch; bi++) {
    const guint8 *ab = (const guint8 *) a + (gsize) (bi * stride_a) * esa;
    const guint8 *bb = (const guint8 *) b + (gsize) (bi * stride_b) * esb;
    float *cb = c + bi * stride_c;
    if (k == 0) {
      for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++)
          cb[i + (int64_t) j * ldc] = beta == 0.0f ? 0.0f : beta * cb[i + (int64_t) j * ldc];
      continue;
    }
    widen (wa, ab, ta, lda, trans_a, m, k);
    widen (wb, bb, tb, ldb, trans_b, k, n);
    /* beta = 0 must ignore C (it may hold NaN), as cuBLAS does */
    if (beta == 0.0f)
      for (int j = 0; j < n; j++)
        memset (cb + (int64_t) j * ldc, 0, sizeof (float) * m);
    cblas_sgemm (CblasColMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, wa, m, wb, k,
        beta, cb, (int) ldc);
  }
  g_free (wa);
  g_free (wb);
  return 0;
}
