/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * vv-cuda-rt.h on the CUDA runtime. cuBLAS is loaded with dlopen when the
 * first backend is made, so the module itself loads (and says why CUDA is
 * off) on machines with the toolkit's runtime but no driver or GPU.
 */
#include "vv-cuda-rt.h"

#include <cuda_runtime_api.h>
#include <cublas_v2.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VVCU_BLAS_BASE 100000   /* cublasStatus_t + this */
#define VVCU_DL_ERROR 200000    /* dlopen/dlsym failed: see dl_message */

static char dl_message[512];

const char *
vvcu_error_string (int code)
{
  static char buf[64];
  if (code == VVCU_DL_ERROR)
    return dl_message;
  if (code >= VVCU_BLAS_BASE) {
    switch (code - VVCU_BLAS_BASE) {
      case CUBLAS_STATUS_NOT_INITIALIZED: return "cuBLAS: not initialized";
      case CUBLAS_STATUS_ALLOC_FAILED: return "cuBLAS: allocation failed";
      case CUBLAS_STATUS_INVALID_VALUE: return "cuBLAS: invalid value";
      case CUBLAS_STATUS_ARCH_MISMATCH: return "cuBLAS: architecture mismatch";
      case CUBLAS_STATUS_EXECUTION_FAILED: return "cuBLAS: execution failed";
      case CUBLAS_STATUS_INTERNAL_ERROR: return "cuBLAS: internal error";
      case CUBLAS_STATUS_NOT_SUPPORTED: return "cuBLAS: not supported";
      default:
        snprintf (buf, sizeof buf, "cuBLAS status %d", code - VVCU_BLAS_BASE);
        return buf;
    }
  }
  return cudaGetErrorString ((cudaError_t) code);
}

int
vvcu_init (char *why, size_t why_len)
{
  int n = 0;
  cudaError_t e = cudaGetDeviceCount (&n);
  if (e != cudaSuccess) {
    snprintf (why, why_len, "cudaGetDeviceCount: %s", cudaGetErrorString (e));
    return (int) e;
  }
  if (n == 0) {
    snprintf (why, why_len, "no CUDA device");
    return (int) cudaErrorNoDevice;
  }
  e = cudaSetDevice (0);
  if (e != cudaSuccess) {
    snprintf (why, why_len, "cudaSetDevice(0): %s", cudaGetErrorString (e));
    return (int) e;
  }
  /* keep freed pool memory for reuse instead of returning it at every sync */
  cudaMemPool_t pool;
  if (cudaDeviceGetDefaultMemPool (&pool, 0) == cudaSuccess) {
    uint64_t keep = UINT64_MAX;
    cudaMemPoolSetAttribute (pool, cudaMemPoolAttrReleaseThreshold, &keep);
  }
  return 0;
}

int
vvcu_device_description (char *buf, size_t len)
{
  struct cudaDeviceProp p;
  cudaError_t e = cudaGetDeviceProperties (&p, 0);
  if (e != cudaSuccess)
    return (int) e;
  snprintf (buf, len, "%s, %.0f GiB, sm_%d%d", p.name,
      (double) p.totalGlobalMem / (1024.0 * 1024 * 1024), p.major, p.minor);
  return 0;
}

int
vvcu_mem_info (size_t *free_bytes, size_t *total_bytes)
{
  return (int) cudaMemGetInfo (free_bytes, total_bytes);
}

int
vvcu_malloc (void **ptr, size_t bytes)
{
  return (int) cudaMallocAsync (ptr, bytes, 0);
}

int
vvcu_free (void *ptr)
{
  return (int) cudaFreeAsync (ptr, 0);
}

int
vvcu_memcpy_htod (void *dst, const void *src, size_t bytes)
{
  return (int) cudaMemcpy (dst, src, bytes, cudaMemcpyHostToDevice);
}

int
vvcu_memcpy_dtoh (void *dst, const void *src, size_t bytes)
{
  return (int) cudaMemcpy (dst, src, bytes, cudaMemcpyDeviceToHost);
}

int
vvcu_memcpy_dtod (void *dst, const void *src, size_t bytes)
{
  /* cudaMemcpy device-to-device handles overlap like memmove? It does
   * not promise it; the engine's copies never overlap (KV growth copies
   * into a new tensor). */
  return (int) cudaMemcpy (dst, src, bytes, cudaMemcpyDeviceToDevice);
}

int
vvcu_memset0 (void *dst, size_t bytes)
{
  return (int) cudaMemset (dst, 0, bytes);
}

int
vvcu_stream_create (VvkStream *stream)
{
  cudaStream_t s;
  cudaError_t e = cudaStreamCreate (&s);       /* blocking: ordered with stream 0 */
  *stream = e == cudaSuccess ? (VvkStream) s : NULL;
  return (int) e;
}

int
vvcu_stream_destroy (VvkStream stream)
{
  return (int) cudaStreamDestroy ((cudaStream_t) stream);
}

int
vvcu_stream_synchronize (VvkStream stream)
{
  return (int) cudaStreamSynchronize ((cudaStream_t) stream);
}

int
vvcu_memcpy_dtoh_async (void *dst, const void *src, size_t bytes, VvkStream stream)
{
  cudaError_t e = cudaMemcpyAsync (dst, src, bytes, cudaMemcpyDeviceToHost,
      (cudaStream_t) stream);
  if (e == cudaSuccess)
    e = cudaStreamSynchronize ((cudaStream_t) stream);
  return (int) e;
}

int
vvcu_memset0_async (void *dst, size_t bytes, VvkStream stream)
{
  return (int) cudaMemsetAsync (dst, 0, bytes, (cudaStream_t) stream);
}

int
vvcu_memcpy_dtod_async (void *dst, const void *src, size_t bytes, VvkStream stream)
{
  return (int) cudaMemcpyAsync (dst, src, bytes, cudaMemcpyDeviceToDevice,
      (cudaStream_t) stream);
}

/* ---------------------------------------------------------------------- */
/* CUDA Graphs: the handles are the runtime's own, cast */

int
vvcu_stream_begin_capture (VvkStream stream)
{
  /* thread-local: only this thread's unsafe calls would break the capture;
   * the backend keeps other threads off the legacy stream meanwhile */
  return (int) cudaStreamBeginCapture ((cudaStream_t) stream, cudaStreamCaptureModeThreadLocal);
}

int
vvcu_stream_end_capture (VvkStream stream, VvcuGraph **graph)
{
  cudaGraph_t g = NULL;
  cudaError_t e = cudaStreamEndCapture ((cudaStream_t) stream, &g);
  if (e != cudaSuccess && g != NULL) {
    cudaGraphDestroy (g);
    g = NULL;
  }
  *graph = (VvcuGraph *) g;
  return (int) e;
}

int
vvcu_graph_n_nodes (VvcuGraph *graph, size_t *n_nodes)
{
  return (int) cudaGraphGetNodes ((cudaGraph_t) graph, NULL, n_nodes);
}

int
vvcu_graph_instantiate (VvcuGraphExec **exec, VvcuGraph *graph)
{
  cudaGraphExec_t x = NULL;
  cudaError_t e = cudaGraphInstantiate (&x, (cudaGraph_t) graph, 0);
  *exec = e == cudaSuccess ? (VvcuGraphExec *) x : NULL;
  return (int) e;
}

int
vvcu_graph_launch (VvcuGraphExec *exec, VvkStream stream)
{
  return (int) cudaGraphLaunch ((cudaGraphExec_t) exec, (cudaStream_t) stream);
}

void
vvcu_graph_destroy (VvcuGraph *graph)
{
  if (graph != NULL)
    cudaGraphDestroy ((cudaGraph_t) graph);
}

void
vvcu_graph_exec_destroy (VvcuGraphExec *exec)
{
  if (exec != NULL)
    cudaGraphExecDestroy ((cudaGraphExec_t) exec);
}

/* ---------------------------------------------------------------------- */
/* cuBLAS through dlopen */

typedef cublasStatus_t (*CreateFn) (cublasHandle_t *);
typedef cublasStatus_t (*DestroyFn) (cublasHandle_t);
typedef cublasStatus_t (*SetStreamFn) (cublasHandle_t, cudaStream_t);
typedef cublasStatus_t (*SetWorkspaceFn) (cublasHandle_t, void *, size_t);
typedef cublasStatus_t (*GemmFn) (cublasHandle_t, cublasOperation_t, cublasOperation_t,
    int, int, int, const void *, const void *, cudaDataType, int, long long int,
    const void *, cudaDataType, int, long long int, const void *, void *, cudaDataType, int,
    long long int, int, cublasComputeType_t, cublasGemmAlgo_t);

static struct {
  void *lib;
  CreateFn create;
  DestroyFn destroy;
  SetStreamFn set_stream;
  SetWorkspaceFn set_workspace;
  GemmFn gemm;
} cublas;

/* cuBLAS's recommended workspace for Hopper (4 MiB do for older GPUs): set
 * by us so that no GEMM allocates one, which a graph capture cannot. */
#define VVCU_BLAS_WORKSPACE ((size_t) 32 << 20)

struct _VvcuBlas {
  cublasHandle_t h;
  void *workspace;
};

static int
load_cublas (void)
{
  if (cublas.lib != NULL)
    return 0;
  static const char *const names[] = { "libcublas.so.13", "libcublas.so.12", "libcublas.so" };
  void *lib = NULL;
  for (size_t i = 0; i < sizeof names / sizeof names[0] && lib == NULL; i++)
    lib = dlopen (names[i], RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    snprintf (dl_message, sizeof dl_message, "cannot load cuBLAS: %s", dlerror ());
    return VVCU_DL_ERROR;
  }
  cublas.create = (CreateFn) dlsym (lib, "cublasCreate_v2");
  cublas.destroy = (DestroyFn) dlsym (lib, "cublasDestroy_v2");
  cublas.set_stream = (SetStreamFn) dlsym (lib, "cublasSetStream_v2");
  cublas.set_workspace = (SetWorkspaceFn) dlsym (lib, "cublasSetWorkspace_v2");
  cublas.gemm = (GemmFn) dlsym (lib, "cublasGemmStridedBatchedEx");
  if (!cublas.create || !cublas.destroy || !cublas.set_stream || !cublas.set_workspace
      || !cublas.gemm) {
    snprintf (dl_message, sizeof dl_message, "cuBLAS lacks cublasGemmStridedBatchedEx or "
        "the handle functions");
    dlclose (lib);
    return VVCU_DL_ERROR;
  }
  cublas.lib = lib;
  return 0;
}

int
vvcu_blas_create (VvcuBlas **blas, VvkStream stream)
{
  *blas = NULL;
  int rc = load_cublas ();
  if (rc != 0)
    return rc;
  cublasHandle_t h;
  cublasStatus_t st = cublas.create (&h);
  if (st != CUBLAS_STATUS_SUCCESS)
    return VVCU_BLAS_BASE + (int) st;
  st = cublas.set_stream (h, (cudaStream_t) stream);
  if (st != CUBLAS_STATUS_SUCCESS) {
    cublas.destroy (h);
    return VVCU_BLAS_BASE + (int) st;
  }
  VvcuBlas *b = calloc (1, sizeof *b);
  if (b == NULL) {
    cublas.destroy (h);
    return (int) cudaErrorMemoryAllocation;
  }
  b->h = h;
  cudaError_t e = cudaMalloc (&b->workspace, VVCU_BLAS_WORKSPACE);
  if (e != cudaSuccess) {
    b->workspace = NULL;
    vvcu_blas_destroy (b);
    return (int) e;
  }
  st = cublas.set_workspace (h, b->workspace, VVCU_BLAS_WORKSPACE);
  if (st != CUBLAS_STATUS_SUCCESS) {
    vvcu_blas_destroy (b);
    return VVCU_BLAS_BASE + (int) st;
  }
  *blas = b;
  return 0;
}

void
vvcu_blas_destroy (VvcuBlas *blas)
{
  if (blas == NULL)
    return;
  cublas.destroy (blas->h);
  /* cudaFree synchronises the device: the handle's last GEMMs are done */
  if (blas->workspace != NULL)
    cudaFree (blas->workspace);
  free (blas);
}

static cudaDataType
cuda_type (VvkType t)
{
  return t == VVK_BF16 ? CUDA_R_16BF : t == VVK_F16 ? CUDA_R_16F : CUDA_R_32F;
}

int
vvcu_gemm (VvcuBlas *blas, int trans_a, int trans_b, int m, int n, int k,
    const void *a, VvkType ta, int64_t lda, int64_t stride_a,
    const void *b, VvkType tb, int64_t ldb, int64_t stride_b,
    float beta, float *c, int64_t ldc, int64_t stride_c, int batch)
{
  const float alpha = 1.0f;
  cublasStatus_t st = cublas.gemm (blas->h, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
      trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k, &alpha,
      a, cuda_type (ta), (int) lda, stride_a, b, cuda_type (tb), (int) ldb, stride_b,
      &beta, c, CUDA_R_32F, (int) ldc, stride_c, batch,
      CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  return st == CUBLAS_STATUS_SUCCESS ? 0 : VVCU_BLAS_BASE + (int) st;
}
