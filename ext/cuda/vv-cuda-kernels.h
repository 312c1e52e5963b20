/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

/*
 * The CUDA kernels' launchers, callable from C (vv-backend-cuda.c). One
 * source (vv-cuda-kernels.cuh) is compiled twice: by nvcc for the GPU
 * (vv-cuda-kernels.cu) and by g++ against the emulator (cuda-emu.h, in
 * vv-cuda-kernels-emu.cc). Each returns 0 or a launch error code for
 * vvk_error_string(); operands are device pointers, shapes are checked by
 * the backend wrappers before they get here.
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* the stream a launch goes to (a cudaStream_t on the GPU) */
typedef void *VvkStream;

/* element types of weights (activations are always float) */
typedef enum {
  VVK_NONE = 0,                 /* no tensor (e.g. no bias) */
  VVK_F32,
  VVK_F16,
  VVK_BF16,
} VvkType;

/* the same unary / binary / affine / error codes as vv-backend.h */
enum { VVK_SILU = 0, VVK_GELU = 1 };
enum { VVK_ADD = 0, VVK_MUL = 1 };
enum { VVK_DIV_SUB = 0, VVK_ADD_MUL = 1 };

/* Rows handled by the GEMV kernel in one pass over the weights; more rows
 * go to cuBLAS. */
#define VVK_GEMV_MAX_ROWS 8

/* Device error word written by kernels that find bad ids or positions,
 * zeroed when clear: n − (the smallest offending index), taken with
 * atomicMax so the report does not depend on the order threads run. */
typedef struct {
  int32_t get_rows_index;
  int32_t rope_row;
} VvkErrors;

const char *vvk_error_string (int code);

/* y[r, o] = Σ_i x[r, i]·w[o, i] (+ bias[o]) for r < n ≤ VVK_GEMV_MAX_ROWS */
int vvk_gemv (VvkStream s, float *y, const float *x, const void *w, VvkType wt,
    const void *bias, VvkType bt, int n, int64_t in, int64_t out);
/* y[r, o] += bias[o] over n rows of length out */
int vvk_add_bias (VvkStream s, float *y, const void *bias, VvkType bt, int64_t n, int64_t out);
/* x (float) split into @n_parts arrays of type @t (F16 or BF16), one after
 * another in @parts: part p = round(x − parts before it). Three BF16 parts
 * hold all 24 bits of an F32 mantissa, so GEMMs on them lose nothing but
 * the F32 accumulation order. */
int vvk_split (VvkStream s, void *parts, VvkType t, const float *x, int64_t n, int n_parts);

int vvk_rms_norm (VvkStream s, float *y, const float *x, const void *w, VvkType wt,
    int64_t rows, int64_t d, float eps);
int vvk_unary (VvkStream s, int op, float *y, const float *x, int64_t n);
int vvk_binary (VvkStream s, int op, float *y, const float *a, const float *b, int64_t n,
    int64_t nb);
int vvk_scale (VvkStream s, float *y, const float *a, float k, int64_t n);
int vvk_affine (VvkStream s, int op, float *y, const float *x, float a, float b, int64_t n);
int vvk_get_rows (VvkStream s, float *y, const void *table, VvkType tt, int64_t table_rows,
    int64_t d, const int32_t *ids, int64_t n_ids, VvkErrors *err);

/* col[t, ci·k + j] = x[t·stride + j, ci] for t < t_out */
int vvk_im2col (VvkStream s, float *col, const float *x, int64_t t_out, int64_t c_in, int k,
    int stride);
/* depthwise: y[t, c] = Σ_j x[t·stride + j, c]·w[c, j] (+ bias[c]) */
int vvk_conv_depthwise (VvkStream s, float *y, const float *x, const void *w, VvkType wt,
    const void *bias, VvkType bt, int64_t t_out, int64_t c, int k, int stride);
/* transposed conv from z[t_in, c_out·k] = x·W: y[t, co] = bias[co] +
 * Σ_{j ≡ t mod stride} z[(t − j)/stride, co·k + j] */
int vvk_col2im_transposed (VvkStream s, float *y, const float *z, const void *bias,
    VvkType bt, int64_t t_in, int64_t t_out, int64_t c_out, int k, int stride);

int vvk_rope (VvkStream s, float *y, const float *x, int64_t n, int64_t width, int d,
    const int32_t *positions, double theta, VvkErrors *err);
/* Causal GQA attention in two kernels: partial softmax sums over n_split
 * ranges of keys, then their log-sum-exp merge. @partial holds
 * n·hq·n_split·(d + 2) floats. Keys and values are F32 or BF16 (@kvt). */
int vvk_attention (VvkStream s, float *y, const float *q, const void *k, const void *v,
    VvkType kvt, int64_t n, int64_t t, int64_t hq, int64_t hkv, int d, int n_split,
    float *partial);
/* splits used by vvk_attention for a context of @t keys */
int vvk_attention_n_split (int64_t t);

int vvk_timestep_embedding (VvkStream s, float *y, int64_t rows, int64_t d, float t,
    float neg_log_max_period);
int vvk_modulate (VvkStream s, float *y, const float *x, const float *ada, int64_t n,
    int64_t d, int64_t c, int shift_col, int scale_col);
int vvk_gated_add (VvkStream s, float *y, const float *x, const float *ada, int gate_col,
    const float *o, int64_t n, int64_t d, int64_t c);
int vvk_cfg_combine (VvkStream s, float *y, const float *cond, const float *uncond,
    float scale, int64_t n);
int vvk_dpm_step (VvkStream s, float *y, const float *x, const float *v, float *prev_d,
    int order, float alpha_s, float sigma_s, float ratio, float coef, float half_coef,
    float r_inv, int64_t n);

#ifdef __cplusplus
}
#endif
