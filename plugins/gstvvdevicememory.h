/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Device memory between the vv elements (docs/CUDA.md).
 *
 * A GstVvDeviceMemory wraps one VvTensor in the memory of a VvEngine's
 * backend (it holds a reference on the engine, so the backend outlives the
 * buffer). It is what a buffer negotiated with the caps feature
 * memory:CUDAMemory carries between vvdiffuse and vvvocode: the latents of
 * a frame, and the audio attached to them (GstVvAudioMeta).
 *
 * It is not a GstCudaMemory: GStreamer 1.22's CUDA allocator only makes
 * video planes, so no other CUDA element can take these buffers; we use the
 * memory:CUDAMemory feature name for our own media types only.
 *
 * Mapping:
 * - GST_MAP_READ downloads the whole tensor once into a host staging copy
 *   kept with the memory (the backend counts it as a download), so any
 *   element can still read the bytes.
 * - GST_MAP_WRITE is refused (the map fails): the host copy would have to
 *   be uploaded on unmap, and no element of ours writes into these
 *   buffers. Copy to system memory (gst_vv_buffer_to_system()) to modify.
 * - gst_memory_copy() of the whole memory is a device-to-device copy
 *   (vv_backend_tensor_copy()); of a part, a host copy in system memory.
 */
#pragma once

#include <gst/gst.h>
#include <vibevoice/vibevoice.h>

G_BEGIN_DECLS

#define GST_VV_DEVICE_MEMORY_TYPE "VvDeviceMemory"

/* The allocator (a singleton; (transfer none)). It cannot allocate from
 * gst_allocator_alloc(): device memory needs an engine, so use the
 * constructors below. */
GstAllocator   *gst_vv_device_allocator_get (void);

/* Wraps @tensor (transfer full: freed with the memory on the engine's
 * backend), a contiguous tensor in the memory of @engine's backend. */
GstMemory      *gst_vv_device_memory_new_wrapped (VvEngine *engine, VvTensor *tensor);

/* A new device tensor holding a device-to-device copy of @src (a tensor on
 * @engine's backend, valid during the call only), wrapped; NULL with
 * @error set. */
GstMemory      *gst_vv_device_memory_new_copy (VvEngine *engine, const VvTensor *src,
                                               GError **error);

gboolean        gst_is_vv_device_memory (GstMemory *mem);
/* The wrapped tensor when @mem covers all of it (else NULL: a part of it,
 * from gst_memory_share()); transfer none. */
const VvTensor *gst_vv_device_memory_get_tensor (GstMemory *mem);
/* (transfer none) */
VvEngine       *gst_vv_device_memory_get_engine (GstMemory *mem);

/* The device memory when @buf is exactly one GstVvDeviceMemory covering
 * its whole tensor, else NULL (transfer none). */
GstMemory      *gst_vv_buffer_peek_device_memory (GstBuffer *buf);

/* TRUE if any memory of @buf is a GstVvDeviceMemory. */
gboolean        gst_vv_buffer_has_device_memory (GstBuffer *buf);

/* @buf in system memory: a new buffer with its bytes (one download for
 * device memory, through the backend directly, no staging copy kept), its
 * flags, timestamps and offsets, without metas. NULL with @error set. */
GstBuffer      *gst_vv_buffer_to_system (GstBuffer *buf, GError **error);

G_END_DECLS
