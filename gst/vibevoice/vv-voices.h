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

/* The bytes a `\` must precede in a label or file of the flat form. */
#define VV_VOICES_SPECIAL "\\,;="

/**
 * vv_voices_parse:
 * @spec: (nullable): the flat form of the `voices` property of vvtokenize:
 *   entries separated by `,` or `;`, each `label=FILE`, `label:emotion=FILE`
 *   or `FILE`; empty entries are skipped. A `\` makes the next byte literal,
 *   so `\,`, `\;`, `\=` and `\\` put a comma, semicolon, equals sign or
 *   backslash in a file name (vv_voices_escape() writes them)
 * @entries: (out) (transfer full): #VvVoiceEntry in spec order. On failure,
 *   the entries before the bad one, so a caller that opens files as it goes
 *   reports the same first error as one that parses and opens in one pass
 * @error: return location for a #GError
 *
 * Returns: %TRUE if the whole spec parsed; an error names the entry.
 */
gboolean vv_voices_parse (const gchar *spec, GPtrArray **entries, GError **error);

/* @s with a `\` before each byte of %VV_VOICES_SPECIAL: a label or file
 * that vv_voices_parse() reads back unchanged (surrounding white space
 * apart). */
gchar *vv_voices_escape (const gchar *s);

/* One entry from an already split label (nullable: positional; may hold
 * `:emotion`) and file, canonicalised as vv_voices_parse() does; for the
 * structure and array forms the element parses with GStreamer. */
VvVoiceEntry *vv_voice_entry_new (const gchar *label, const gchar *path, guint index,
                                  GError **error);

G_END_DECLS
