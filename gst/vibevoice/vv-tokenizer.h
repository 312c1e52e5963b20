/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define VV_TOKENIZER_ERROR (vv_tokenizer_error_quark ())
GQuark vv_tokenizer_error_quark (void);

/**
 * VvTokenizerError:
 * @VV_TOKENIZER_ERROR_FILE: a tokenizer file is missing, unreadable or malformed
 *   (the message names the file, and the line for merges.txt)
 * @VV_TOKENIZER_ERROR_INVALID_UTF8: the text to encode is not valid UTF-8
 *   (the message gives the byte offset)
 * @VV_TOKENIZER_ERROR_INVALID_ID: decode was given an id outside the vocabulary
 */
typedef enum {
  VV_TOKENIZER_ERROR_FILE,
  VV_TOKENIZER_ERROR_INVALID_UTF8,
  VV_TOKENIZER_ERROR_INVALID_ID,
} VvTokenizerError;

/* Token ids of the Qwen2.5 vocabulary that VibeVoice uses (MODEL-SPEC §1.4). */
#define VV_TOKEN_EOS            151643  /* <|endoftext|> */
#define VV_TOKEN_SPEECH_START   151652  /* <|vision_start|> */
#define VV_TOKEN_SPEECH_END     151653  /* <|vision_end|> */
#define VV_TOKEN_SPEECH_DIFFUSION 151654 /* <|vision_pad|> */
#define VV_TOKEN_PAD            151655  /* <|image_pad|> */

/* One tokenizer may be shared: encode and decode can run from several
 * threads at once (the per-word cache inside is locked). */
typedef struct _VvTokenizer VvTokenizer;

/* Loads a Qwen2 byte-level BPE from @dir: tokenizer.json, or vocab.json +
 * merges.txt (with or without a "#version" first line), plus
 * tokenizer_config.json for added/special tokens when present. */
VvTokenizer *vv_tokenizer_new_from_dir (const gchar *dir, GError **error);
#define VV_TYPE_TOKENIZER (vv_tokenizer_get_type ())
GType        vv_tokenizer_get_type (void);
VvTokenizer *vv_tokenizer_ref (VvTokenizer *tok);
void         vv_tokenizer_unref (VvTokenizer *tok);

/* Encodes UTF-8 @text (@len bytes, or -1 for NUL-terminated): NFC, added
 * tokens matched in the text, Qwen2 pre-tokenizer split (GRegex), byte-level
 * BPE. No BOS/EOS added. Appends gint32 ids to @ids. Added tokens are
 * matched on the raw text before NFC (leftmost, then longest), as the
 * reference does for tokens marked "normalized": false. Text that is not
 * UTF-8, or that holds a NUL byte within @len, fails with
 * VV_TOKENIZER_ERROR_INVALID_UTF8 and leaves @ids unchanged. */
gboolean     vv_tokenizer_encode (VvTokenizer *tok, const gchar *text, gssize len,
                                  GArray *ids, GError **error);
gint32      *vv_tokenizer_tokenize (VvTokenizer *tok, const gchar *text, gsize *n_ids,
                                    GError **error);
/* Returns: (transfer full): UTF-8 text; byte sequences that are not valid
 * UTF-8 on their own are replaced by U+FFFD, as the reference decoder does. */
gchar       *vv_tokenizer_decode (VvTokenizer *tok, const gint32 *ids, gsize n_ids,
                                  GError **error);
/* Id of a token string (regular or added), or -1. */
gint32       vv_tokenizer_token_to_id (VvTokenizer *tok, const gchar *token);
/* Returns: (nullable): the token string (byte-level symbols), NULL if out of range */
const gchar *vv_tokenizer_id_to_token (VvTokenizer *tok, gint32 id);
/* Number of ids: regular vocabulary + added tokens (151665 for Qwen2.5). */
guint        vv_tokenizer_get_n_ids (VvTokenizer *tok);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VvTokenizer, vv_tokenizer_unref)

G_END_DECLS
