/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define VV_DIALOG_ERROR (vv_dialog_error_quark ())
GQuark vv_dialog_error_quark (void);

/**
 * VvDialogError:
 * @VV_DIALOG_ERROR_SYNTAX: a line is not a turn and has no turn to continue,
 *   or a tag or JSON field is malformed
 * @VV_DIALOG_ERROR_UTF8: the text is not valid UTF-8
 * @VV_DIALOG_ERROR_TOO_MANY_SPEAKERS: more than 4 distinct speakers
 * @VV_DIALOG_ERROR_EMPTY: the script holds no turn
 * @VV_DIALOG_ERROR_UNKNOWN_TAG: a `[Name:value]` tag this parser does not know
 * @VV_DIALOG_ERROR_TOO_LONG: a line, or a turn's text, is longer than
 *   %VV_DIALOG_MAX_LINE_BYTES
 *
 * Every message names the line (or the JSON element) it is about.
 */
typedef enum {
  VV_DIALOG_ERROR_SYNTAX,
  VV_DIALOG_ERROR_UTF8,
  VV_DIALOG_ERROR_TOO_MANY_SPEAKERS,
  VV_DIALOG_ERROR_EMPTY,
  VV_DIALOG_ERROR_UNKNOWN_TAG,
  VV_DIALOG_ERROR_TOO_LONG,
} VvDialogError;

/* VibeVoice conditions on at most this many voices. */
#define VV_DIALOG_MAX_SPEAKERS 4

/* The longest script file `vibevoice synth` reads: 65536 tokens (the
 * largest max_position_embeddings of the shipped configs) times 128 bytes
 * (the longest token of the Qwen2.5 vocabulary). A longer text cannot fit in
 * any model's context, and reading and tokenizing it first would cost about
 * 6 bytes of memory per byte of script before the context check fails. */
#define VV_SCRIPT_MAX_BYTES (65536 * 128)

/* The streaming parser holds one unfinished line, and one turn's text
 * (continuation lines joined), of at most this many bytes: a whole script's
 * worth, since neither can fit in a context if it is longer. Without it a
 * text stream that never ends its line (or its turn) would grow in memory
 * without bound; past it vv_dialog_parser_feed() fails with
 * %VV_DIALOG_ERROR_TOO_LONG, naming the line and the limit. */
#define VV_DIALOG_MAX_LINE_BYTES VV_SCRIPT_MAX_BYTES

/* [Pause:Short|Medium|Long] in milliseconds. */
#define VV_DIALOG_PAUSE_SHORT_MS 250
#define VV_DIALOG_PAUSE_MEDIUM_MS 500
#define VV_DIALOG_PAUSE_LONG_MS 1000

/* One pause (a [Pause:...] tag, a JSON pause_ms) is at most 1 hour. */
#define VV_DIALOG_MAX_PAUSE_MS 3600000
/* All the silence before one turn (pauses in a row, also across a skipped
 * empty turn, or at the end of the script) is at most 1 hour as well:
 * downstream turns it into samples, so it must stay bounded. */
#define VV_DIALOG_MAX_GAP_MS 3600000

/**
 * VvDialogTurn:
 * @speaker: the label as written: "1" for `Speaker 1:`, "A" for
 *   `[Speaker A]` / `[Role:A]`, "Alice" for `Alice:`; "" for a pause-only
 *   turn at the end of a script
 * @text: the words, continuation lines joined with one space ("" for a
 *   pause-only turn)
 * @emotion: (nullable): from `[Emotion:X]`, lower-cased
 * @pause_ms: silence requested before this turn, at most
 *   %VV_DIALOG_MAX_GAP_MS
 * @line: 1-based line where the turn starts (JSON: 1-based element index)
 */
typedef struct {
  gchar *speaker;
  gchar *text;
  gchar *emotion;
  guint pause_ms;
  guint line;
} VvDialogTurn;

void vv_dialog_turn_free (VvDialogTurn *turn);

/**
 * VvDialogParser:
 *
 * Streaming parser for dialogue scripts (docs/SCRIPT-FORMAT.md): feed text
 * in chunks of any size (a chunk may end inside a UTF-8 sequence or between
 * `\r` and `\n`); complete turns come out as soon as the next turn line
 * starts, or at the end of their line with flush-on-newline.
 */
typedef struct _VvDialogParser VvDialogParser;

VvDialogParser *vv_dialog_parser_new (void);
void            vv_dialog_parser_free (VvDialogParser *parser);
/* Push each turn as soon as its line ends (no continuation lines). */
void            vv_dialog_parser_set_flush_on_newline (VvDialogParser *parser, gboolean flush);
/**
 * vv_dialog_parser_feed:
 * @parser: a parser
 * @data: (array length=len): UTF-8 text
 * @len: bytes
 * @turns: (element-type VvDialogTurn): completed turns are appended (the
 *   array should free them with vv_dialog_turn_free)
 * @warnings: (element-type utf8) (nullable): notes on accepted input
 * @error: return location for a #GError
 *
 * Returns: %FALSE on a hard error (the parser must then be reset)
 */
gboolean        vv_dialog_parser_feed (VvDialogParser *parser, const gchar *data, gsize len,
                                       GPtrArray *turns, GPtrArray *warnings, GError **error);
/**
 * vv_dialog_parser_set_default_speaker:
 * @parser: a parser
 * @label: (nullable): speaker label for text lines that name no speaker and
 *   continue no turn (NULL or "": such a line is an error)
 */
void            vv_dialog_parser_set_default_speaker (VvDialogParser *parser,
                                                      const gchar *label);
/**
 * vv_dialog_parser_flush:
 * @parser: a parser
 * @turns: (element-type VvDialogTurn): completed turns are appended
 * @warnings: (element-type utf8) (nullable): notes on accepted input
 * @error: return location for a #GError
 *
 * Ends the text fed so far as if a new turn started: the partial line is
 * parsed and the open turn is emitted (one timestamped text buffer = one
 * utterance). Tag lines without a turn yet stay pending for the next turn.
 *
 * Returns: %FALSE on a hard error (the parser must then be reset)
 */
gboolean        vv_dialog_parser_flush (VvDialogParser *parser, GPtrArray *turns,
                                        GPtrArray *warnings, GError **error);
/* End of input: flushes the last line and turn; an error if the whole
 * script held no turn. */
gboolean        vv_dialog_parser_finish (VvDialogParser *parser, GPtrArray *turns,
                                         GPtrArray *warnings, GError **error);
/* Forget everything (after a flush). */
void            vv_dialog_parser_reset (VvDialogParser *parser);

/**
 * vv_dialog_parse_json:
 * @data: (array length=len): a JSON document: `[{"speaker": "1", "text": "…",
 *   "emotion": "…", "pause_ms": 500}, …]` or `{"turns": [ … ]}`
 * @len: bytes
 * @warnings: (element-type utf8) (nullable): notes on accepted input
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (element-type VvDialogTurn) (nullable): the turns
 */
GPtrArray      *vv_dialog_parse_json (const gchar *data, gsize len, GPtrArray *warnings,
                                      GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VvDialogParser, vv_dialog_parser_free)

G_END_DECLS
