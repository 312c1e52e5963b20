/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

/*
 * Emulated CUDA streams with graph capture (C API, for vv-cuda-rt-emu.c;
 * implemented in cuda-emu.cc). Outside a capture a stream runs its work at
 * once. Between begin_capture and end_capture the work queued on it is
 * recorded instead of run — kernel launches with their grid, block and a
 * copy of their arguments (the launch lambda captures them by value), and
 * runtime calls (copies, memsets, GEMMs) as a function with a copy of its
 * argument block — and a graph launch replays the record in order. As on
 * CUDA, a legacy-stream call while any stream captures is refused and
 * invalidates the capture (vv-cuda-rt-emu.c checks vv_emu_any_capturing()).
 */

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _VvEmuStream VvEmuStream;
typedef struct _VvEmuGraph VvEmuGraph;
/* a recorded runtime call: returns 0 or an error code of vv-cuda-rt-emu.c */
typedef int (*VvEmuCallFunc) (const void *args);

enum {
  VV_EMU_ILLEGAL_STATE = 401,          /* as cudaErrorIllegalState */
  VV_EMU_CAPTURE_UNSUPPORTED = 900,    /* as cudaErrorStreamCaptureUnsupported */
  VV_EMU_CAPTURE_INVALIDATED = 901,    /* as cudaErrorStreamCaptureInvalidated */
};

VvEmuStream *vv_emu_stream_new (void);
void         vv_emu_stream_free (VvEmuStream *s);
int          vv_emu_stream_is_capturing (const VvEmuStream *s);
/* whether any stream of the process is capturing */
int          vv_emu_any_capturing (void);
/* marks every capture in progress invalid (a forbidden call was made) */
void         vv_emu_invalidate_captures (void);
int          vv_emu_stream_begin_capture (VvEmuStream *s);
/* records @fn with a copy of the @size bytes at @args (s capturing) */
int          vv_emu_stream_record_call (VvEmuStream *s, VvEmuCallFunc fn, const void *args,
                                        size_t size);
/* ends the capture: the graph, or VV_EMU_CAPTURE_INVALIDATED and none */
int          vv_emu_stream_end_capture (VvEmuStream *s, VvEmuGraph **graph);
/* an independent copy (what cudaGraphInstantiate makes of a graph) */
VvEmuGraph  *vv_emu_graph_copy (const VvEmuGraph *g);
size_t       vv_emu_graph_n_nodes (const VvEmuGraph *g);
/* replays the nodes in order on @s; stops at the first error */
int          vv_emu_graph_launch (const VvEmuGraph *g, VvEmuStream *s);
void         vv_emu_graph_free (VvEmuGraph *g);
/* kernels the emulator has run in this process (replays included) */
unsigned long vv_emu_kernels_run (void);

#ifdef __cplusplus
}
#endif
