/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * vv-cuda-rt.h emulated on the host, for backend "cuda-emu": device memory
 * is host memory, streams run everything at once (launches complete before
 * they return), and the GEMM wrapper is a CPU GEMM with cuBLAS's
 * column-major semantics: operands widened to F32 (as cuBLAS's compute
 * type) and multiplied by OpenBLAS's column-major sgemm.
 */
#include "vv-cuda-rt.h"

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

int
vvcu_malloc (void **ptr, size_t bytes)
{
  /* 256-byte alignment, as cudaMalloc gives */
  *ptr = NULL;
  if (posix_memalign (ptr, 256, bytes ? bytes : 1) != 0)
    return EMU_NO_MEMORY;
  return 0;
}

int
vvcu_free (void *ptr)
{
  free (ptr);
  return 0;
}

int
vvcu_memcpy_htod (void *dst, const void *src, size_t bytes)
{
  memcpy (dst, src, bytes);
  return 0;
}

int
vvcu_memcpy_dtoh (void *dst, const void *src, size_t bytes)
{
  memcpy (dst, src, bytes);
  return 0;
}

int
vvcu_memcpy_dtod (void *dst, const void *src, size_t bytes)
{
  memcpy (dst, src, bytes);     /* the backend never passes overlapping ranges */
  return 0;
}

int
vvcu_memset0 (void *dst, size_t bytes)
{
  memset (dst, 0, bytes);
  return 0;
}

int
vvcu_stream_create (VvkStream *stream)
{
  static int token;
  *stream = &token;
  return 0;
}

int
vvcu_stream_destroy (VvkStream stream)
{
  return 0;
}

int
vvcu_stream_synchronize (VvkStream stream)
{
  return 0;
}

int
vvcu_memcpy_dtoh_async (void *dst, const void *src, size_t bytes, VvkStream stream)
{
  memcpy (dst, src, bytes);
  return 0;
}

int
vvcu_memset0_async (void *dst, size_t bytes, VvkStream stream)
{
  memset (dst, 0, bytes);
  return 0;
}

struct _VvcuBlas {
  int unused;
};

int
vvcu_blas_create (VvcuBlas **blas, VvkStream stream)
{
  *blas = g_new0 (VvcuBlas, 1);
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

int
vvcu_gemm (VvcuBlas *blas, int trans_a, int trans_b, int m, int n, int k,
    const void *a, VvkType ta, int64_t lda, int64_t stride_a,
    const void *b, VvkType tb, int64_t ldb, int64_t stride_b,
    float beta, float *c, int64_t ldc, int64_t stride_c, int batch)
{
  /* cuBLAS's argument checks */
  if (m < 0 || n < 0 || k < 0 || batch < 0 || ldc < MAX (1, m)
      || lda < MAX (1, trans_a ? k : m) || ldb < MAX (1, trans_b ? n : k))
    return EMU_BLAS_INVALID;
  if (ta != tb)
    return EMU_BLAS_NOT_SUPPORTED;
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
