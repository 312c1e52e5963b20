/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VV_VOICES_ERROR (vv_voices_error_quark ())
GQuark vv_voices_error_quark (void);

/**
 * VvVoicesError:
 * @VV_VOICES_ERROR_SYNTAX: an entry with `=` lacks the label or the file
 * @VV_VOICES_ERROR_UTF8: an entry is not valid UTF-8
 */
typedef enum {
  VV_VOICES_ERROR_SYNTAX,
  VV_VOICES_ERROR_UTF8,
} VvVoicesError;

/**
 * VvVoiceEntry:
 * @key: "label" or "label:emotion" (label canonical as
 *   vv_speaker_label_canonical() gives it, emotion lower-cased), or %NULL
 *   for a positional entry (a bare file: the n-th speaker to appear)
 * @path: the voice file, surrounding white space removed; never empty
 * @index: 1-based number of the entry in the spec (empty entries count)
 */
typedef struct {
  gchar *key;
  gchar *path;
  guint index;
} VvVoiceEntry;

void vv_voice_entry_free (VvVoiceEntry *e);

/* "Speaker 1" / "speaker_1" / "1" -> "1"; names lower-cased. The key under
 * which the voices spec and the turns of a script meet. Invalid UTF-8 (a
 * turn from an element other than vvdialogparse) has its bad bytes replaced
 * by U+FFFD first: GLib's case mapping reads past the end of such a string. */
gchar *vv_speaker_label_canonical (const gchar *label);

/**
 * vv_voices_parse:
 * @spec: (nullable): the `voices` property of vvtokenize: entries separated
 *   by `,` or `;`, each `label=FILE`, `label:emotion=FILE` or `FILE`;
 *   empty entries are skipped
 * @entries: (out) (transfer full): #VvVoiceEntry in spec order. On failure,
 *   the entries before the bad one, so a caller that opens files as it goes
 *   reports the same first error as one that parses and opens in one pass
 * @error: return location for a #GError
 *
 * Returns: %TRUE if the whole spec parsed; an error names the entry.
 */
gboolean vv_voices_parse (const gchar *spec, GPtrArray **entries, GError **error);

G_END_DECLS
