/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

/*
 * The thin layer between the CUDA backend (vv-backend-cuda.c) and the CUDA
 * runtime and cuBLAS: every call the backend makes outside its kernels.
 * Two implementations: vv-cuda-rt-cuda.c (the CUDA runtime, cuBLAS loaded
 * with dlopen) and vv-cuda-rt-emu.c (host memory and a CPU GEMM with
 * cuBLAS's column-major semantics), so the backend code is the same in the
 * "cuda" and "cuda-emu" modules.
 *
 * Functions return 0 on success or an error code for vvcu_error_string().
 */

#include <stddef.h>
#include <stdint.h>

#include "vv-cuda-kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _VvcuBlas VvcuBlas;

/* The device to use, or why there is none (in @why). */
int         vvcu_init (char *why, size_t why_len);
const char *vvcu_error_string (int code);
/* "NVIDIA H200, 139 GiB, sm_90" */
int         vvcu_device_description (char *buf, size_t len);
int         vvcu_mem_info (size_t *free_bytes, size_t *total_bytes);

/* Device memory from the device's stream-ordered pool; alloc, free, copies
 * and memset are ordered after all work already queued on the backends'
 * streams (they go to the legacy default stream, which every blocking
 * stream synchronises with). Copies to and from the host return when done. */
int         vvcu_malloc (void **ptr, size_t bytes);
int         vvcu_free (void *ptr);
int         vvcu_memcpy_htod (void *dst, const void *src, size_t bytes);
int         vvcu_memcpy_dtoh (void *dst, const void *src, size_t bytes);
int         vvcu_memcpy_dtod (void *dst, const void *src, size_t bytes);
int         vvcu_memset0 (void *dst, size_t bytes);

int         vvcu_stream_create (VvkStream *stream);
int         vvcu_stream_destroy (VvkStream stream);
int         vvcu_stream_synchronize (VvkStream stream);
/* copies on @stream, in order with its kernels */
int         vvcu_memcpy_dtoh_async (void *dst, const void *src, size_t bytes, VvkStream stream);
int         vvcu_memset0_async (void *dst, size_t bytes, VvkStream stream);
int         vvcu_memcpy_dtod_async (void *dst, const void *src, size_t bytes, VvkStream stream);

/* CUDA Graphs (docs/CUDA.md). Between begin and end capture, work queued on
 * @stream (kernels, the async copies above, GEMMs of a handle on it) is
 * recorded, not run; calls on the legacy default stream (vvcu_malloc,
 * vvcu_free, the synchronous copies) and synchronising @stream are errors
 * that invalidate the capture. End capture gives the recorded graph (or
 * the error that invalidated it), instantiate makes it launchable, and a
 * launch replays it on a stream, in order with the stream's other work. */
typedef struct _VvcuGraph VvcuGraph;
typedef struct _VvcuGraphExec VvcuGraphExec;
int         vvcu_stream_begin_capture (VvkStream stream);
int         vvcu_stream_end_capture (VvkStream stream, VvcuGraph **graph);
int         vvcu_graph_n_nodes (VvcuGraph *graph, size_t *n_nodes);
int         vvcu_graph_instantiate (VvcuGraphExec **exec, VvcuGraph *graph);
int         vvcu_graph_launch (VvcuGraphExec *exec, VvkStream stream);
void        vvcu_graph_destroy (VvcuGraph *graph);
void        vvcu_graph_exec_destroy (VvcuGraphExec *exec);

/* The one GEMM wrapper, with cuBLAS's column-major semantics (as
 * cublasGemmStridedBatchedEx with CUBLAS_COMPUTE_32F and alpha = 1): for
 * each batch b < @batch,
 *   C_b = op(A_b)·op(B_b) + beta·C_b,  C_b m×n, op(A_b) m×k, op(B_b) k×n,
 * where op(X) = X or Xᵀ (@trans_a / @trans_b nonzero), element (i, j) of
 * a column-major matrix X is X[i + j·ldx], and X_b = X + b·stride_x
 * elements. A and B have types @ta and @tb (F32, F16 or BF16; cuBLAS needs
 * them equal); C is F32. The handle has a workspace of its own, set when
 * it is made, so a GEMM allocates nothing and can be captured in a graph. */
int         vvcu_blas_create (VvcuBlas **blas, VvkStream stream);
void        vvcu_blas_destroy (VvcuBlas *blas);
int         vvcu_gemm (VvcuBlas *blas, int trans_a, int trans_b, int m, int n, int k,
                       const void *a, VvkType ta, int64_t lda, int64_t stride_a,
                       const void *b, VvkType tb, int64_t ldb, int64_t stride_b,
                       float beta, float *c, int64_t ldc, int64_t stride_c, int batch);

#ifdef __cplusplus
}
#endif
