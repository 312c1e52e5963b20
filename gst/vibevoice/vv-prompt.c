/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-prompt.h"

#include "vv-lm.h"
#include "vv-processor.h"

#include <math.h>
#include <string.h>

G_DEFINE_QUARK (vv-prompt-error-quark, vv_prompt_error)

#define PROMPT_MAGIC "VVPR"
#define PROMPT_VERSION 1u
#define PROMPT_MAX_VOICES 64u
#define PROMPT_MAX_DIM 4096

struct _VvPrompt {
  gint ref_count;
  GArray *ids;                  /* gint32 */
  GArray *positions;            /* gint32 */
  guint n_voices;
  gint latent_dim;
  gsize *frames;                /* [n_voices] */
  gsize *offsets;               /* [n_voices] row offsets into means */
  gfloat *means;                /* [sum frames][latent_dim] */
};

G_DEFINE_BOXED_TYPE (VvPrompt, vv_prompt, vv_prompt_ref, vv_prompt_unref)

VvPrompt *
vv_prompt_ref (VvPrompt *prompt)
{
  g_atomic_int_inc (&prompt->ref_count);
  return prompt;
}

void
vv_prompt_unref (VvPrompt *prompt)
{
  if (prompt == NULL || !g_atomic_int_dec_and_test (&prompt->ref_count))
    return;
  g_clear_pointer (&prompt->ids, g_array_unref);
  g_clear_pointer (&prompt->positions, g_array_unref);
  g_free (prompt->frames);
  g_free (prompt->offsets);
  g_free (prompt->means);
  g_free (prompt);
}

static VvPrompt *
prompt_alloc (guint n_voices, gint latent_dim)
{
  VvPrompt *p = g_new0 (VvPrompt, 1);
  p->ref_count = 1;
  p->ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  p->positions = g_array_new (FALSE, FALSE, sizeof (gint32));
  p->n_voices = n_voices;
  p->latent_dim = latent_dim;
  p->frames = g_new0 (gsize, MAX (n_voices, 1));
  p->offsets = g_new0 (gsize, MAX (n_voices, 1));
  return p;
}

static gboolean
check_positions (VvPrompt *p, GError **error)
{
  gsize total = 0;
  for (guint i = 0; i < p->n_voices; i++)
    total += p->frames[i];
  if (total != p->positions->len) {
    g_set_error (error, VV_PROMPT_ERROR, VV_PROMPT_ERROR_INVALID,
        "the prompt holds %u voice placeholders but the voices have %" G_GSIZE_FORMAT
        " frames", p->positions->len, total);
    return FALSE;
  }
  gint64 prev = -1;
  for (guint i = 0; i < p->positions->len; i++) {
    gint32 pos = g_array_index (p->positions, gint32, i);
    if (pos <= prev || (guint) pos >= p->ids->len
        || g_array_index (p->ids, gint32, pos) != VV_TOKEN_DIFFUSION) {
      g_set_error (error, VV_PROMPT_ERROR, VV_PROMPT_ERROR_INVALID,
          "voice placeholder %u at position %d is not an ascending ⟨diffusion⟩ position "
          "inside the %u prompt ids", i, pos, p->ids->len);
      return FALSE;
    }
    prev = pos;
  }
  if (p->ids->len == 0) {
    g_set_error (error, VV_PROMPT_ERROR, VV_PROMPT_ERROR_INVALID, "the prompt has no tokens");
    return FALSE;
  }
  return TRUE;
}

VvPrompt *
vv_prompt_new (VvTokenizer *tok, GArray *turns, const gfloat *const *voice_means,
    const gsize *voice_frames, guint n_voices, gint latent_dim, GError **error)
{
  g_return_val_if_fail (tok != NULL && turns != NULL, NULL);
  if (n_voices > PROMPT_MAX_VOICES || latent_dim < 1 || latent_dim > PROMPT_MAX_DIM
      || (n_voices > 0 && (voice_means == NULL || voice_frames == NULL))) {
    g_set_error (error, VV_PROMPT_ERROR, VV_PROMPT_ERROR_INVALID,
        "invalid voices (%u voices, latent width %d)", n_voices, latent_dim);
    return NULL;
  }
  /* §1.3: only the first len(speakers) voices are used */
  if (n_voices > 0)
    n_voices = MIN (n_voices, vv_script_count_speakers (turns));
  g_autoptr (VvPrompt) p = prompt_alloc (n_voices, latent_dim);
  gsize total = 0;
  for (guint i = 0; i < n_voices; i++) {
    if (voice_means[i] == NULL || voice_frames[i] == 0) {
      g_set_error (error, VV_PROMPT_ERROR, VV_PROMPT_ERROR_INVALID, "voice %u is empty", i);
      return NULL;
    }
    p->frames[i] = voice_frames[i];
    p->offsets[i] = total;
    total += voice_frames[i];
  }
  p->means = g_new (gfloat, MAX (total, 1) * latent_dim);
  for (guint i = 0; i < n_voices; i++)
    memcpy (p->means + p->offsets[i] * latent_dim, voice_means[i],
        voice_frames[i] * latent_dim * sizeof (gfloat));
  if (!vv_prompt_build (tok, turns, voice_frames, n_voices, p->ids, p->positions, error))
    return NULL;
  if (!check_positions (p, error))
    return NULL;
  return g_steal_pointer (&p);
}

const gint32 *
vv_prompt_get_ids (VvPrompt *prompt, gsize *n_ids)
{
  *n_ids = prompt->ids->len;
  return (const gint32 *) prompt->ids->data;
}

const gint32 *
vv_prompt_get_voice_positions (VvPrompt *prompt, gsize *n_positions)
{
  *n_positions = prompt->positions->len;
  return (const gint32 *) prompt->positions->data;
}

guint
vv_prompt_get_n_voices (VvPrompt *prompt)
{
  return prompt->n_voices;
}

gint
vv_prompt_get_latent_dim (VvPrompt *prompt)
{
  return prompt->latent_dim;
}

gsize
vv_prompt_get_voice_frames (VvPrompt *prompt, guint voice)
{
  g_return_val_if_fail (voice < prompt->n_voices, 0);
  return prompt->frames[voice];
}

const gfloat *
vv_prompt_get_voice_means (VvPrompt *prompt, guint voice)
{
  g_return_val_if_fail (voice < prompt->n_voices, NULL);
  return prompt->means + prompt->offsets[voice] * prompt->latent_dim;
}

static void
put_u32 (GByteArray *b, guint32 v)
{
  guint32 le = GUINT32_TO_LE (v);
  g_byte_array_append (b, (const guint8 *) &le, 4);
}

GBytes *
vv_prompt_serialize (VvPrompt *p)
{
  GByteArray *b = g_byte_array_new ();
  g_byte_array_append (b, (const guint8 *) PROMPT_MAGIC, 4);
  put_u32 (b, PROMPT_VERSION);
  put_u32 (b, p->ids->len);
  put_u32 (b, p->positions->len);
  put_u32 (b, p->n_voices);
  put_u32 (b, (guint32) p->latent_dim);
  for (guint i = 0; i < p->ids->len; i++)
    put_u32 (b, (guint32) g_array_index (p->ids, gint32, i));
  for (guint i = 0; i < p->positions->len; i++)
    put_u32 (b, (guint32) g_array_index (p->positions, gint32, i));
  gsize total = 0;
  for (guint i = 0; i < p->n_voices; i++) {
    put_u32 (b, (guint32) p->frames[i]);
    total += p->frames[i];
  }
  for (gsize i = 0; i < total * p->latent_dim; i++) {
    guint32 u;
    memcpy (&u, &p->means[i], 4);
    put_u32 (b, u);
  }
  return g_byte_array_free_to_bytes (b);
}

typedef struct {
  const guint8 *data;
  gsize size;
  gsize pos;
} Reader;

static gboolean
get_u32 (Reader *r, guint32 *v)
{
  if (r->size - r->pos < 4)
    return FALSE;
  guint32 le;
  memcpy (&le, r->data + r->pos, 4);
  r->pos += 4;
  *v = GUINT32_FROM_LE (le);
  return TRUE;
}

VvPrompt *
vv_prompt_deserialize (GBytes *bytes, GError **error)
{
  g_return_val_if_fail (bytes != NULL, NULL);
  Reader r = { NULL, 0, 0 };
  r.data = g_bytes_get_data (bytes, &r.size);
  guint32 version, n_ids, n_pos, n_voices, dim;
  if (r.size < 24 || memcmp (r.data, PROMPT_MAGIC, 4) != 0) {
    g_set_error (error, VV_PROMPT_ERROR, VV_PROMPT_ERROR_FORMAT,
        "not a serialized prompt (%" G_GSIZE_FORMAT " bytes, no \"" PROMPT_MAGIC "\" header)",
        r.size);
    return NULL;
  }
  r.pos = 4;
  get_u32 (&r, &version);
  get_u32 (&r, &n_ids);
  get_u32 (&r, &n_pos);
  get_u32 (&r, &n_voices);
  get_u32 (&r, &dim);
  if (version != PROMPT_VERSION) {
    g_set_error (error, VV_PROMPT_ERROR, VV_PROMPT_ERROR_FORMAT,
        "serialized prompt version %u, this library reads version %u", version, PROMPT_VERSION);
    return NULL;
  }
  /* Bound every count by the bytes present before allocating. */
  gsize remaining = (r.size - r.pos) / 4;
  if (dim < 1 || dim > PROMPT_MAX_DIM || n_voices > PROMPT_MAX_VOICES
      || n_ids > remaining || n_pos > remaining - n_ids
      || n_voices > remaining - n_ids - n_pos) {
    g_set_error (error, VV_PROMPT_ERROR, VV_PROMPT_ERROR_FORMAT,
        "serialized prompt counts do not fit its %" G_GSIZE_FORMAT " bytes (ids %u, "
        "placeholders %u, voices %u, width %u)", r.size, n_ids, n_pos, n_voices, dim);
    return NULL;
  }
  g_autoptr (VvPrompt) p = prompt_alloc (n_voices, (gint) dim);
  g_array_set_size (p->ids, n_ids);
  g_array_set_size (p->positions, n_pos);
  guint32 v = 0;
  for (guint i = 0; i < n_ids; i++) {
    get_u32 (&r, &v);
    g_array_index (p->ids, gint32, i) = (gint32) v;
  }
  for (guint i = 0; i < n_pos; i++) {
    get_u32 (&r, &v);
    g_array_index (p->positions, gint32, i) = (gint32) v;
  }
  gsize total = 0;
  for (guint i = 0; i < n_voices; i++) {
    get_u32 (&r, &v);
    if (v == 0 || v > n_pos) {
      g_set_error (error, VV_PROMPT_ERROR, VV_PROMPT_ERROR_FORMAT,
          "serialized prompt: voice %u has %u frames (placeholders: %u)", i, v, n_pos);
      return NULL;
    }
    p->frames[i] = v;
    p->offsets[i] = total;
    total += v;
  }
  if (total != n_pos || (r.size - r.pos) != total * dim * 4) {
    g_set_error (error, VV_PROMPT_ERROR, VV_PROMPT_ERROR_FORMAT,
        "serialized prompt: %" G_GSIZE_FORMAT " voice frames for %u placeholders and %"
        G_GSIZE_FORMAT " bytes of means (expected %" G_GSIZE_FORMAT ")", total, n_pos,
        r.size - r.pos, total * dim * 4);
    return NULL;
  }
  p->means = g_new (gfloat, MAX (total, 1) * dim);
  for (gsize i = 0; i < total * dim; i++) {
    get_u32 (&r, &v);
    memcpy (&p->means[i], &v, 4);
    if (!isfinite (p->means[i])) {
      g_set_error (error, VV_PROMPT_ERROR, VV_PROMPT_ERROR_FORMAT,
          "serialized prompt: voice means value %" G_GSIZE_FORMAT " is not finite", i);
      return NULL;
    }
  }
  if (!check_positions (p, error)) {
    g_prefix_error (error, "serialized prompt: ");
    if (error && *error)
      (*error)->code = VV_PROMPT_ERROR_FORMAT;
    return NULL;
  }
  return g_steal_pointer (&p);
}
