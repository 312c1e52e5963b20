/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-batcher.h"

/* How long a step waits for the other generations, from the last joint
 * step's duration: waiting up to about what a joint step costs is what
 * joining saves the others (one read of the LM and head weights). Each
 * joint step that ran without everyone halves the wait (down to the
 * minimum), so a stream that stays away (paused downstream, say) soon
 * costs the others next to nothing; a full batch restores it. */
#define WAIT_FIRST_US   20000
#define WAIT_MIN_US     2000
#define WAIT_MAX_US     250000

typedef struct {
  VvSession *session;
  gint n_steps;                 /* only equal step counts share a batch */
  gboolean finished, ok;
  GError *error;
} Entry;

struct _VvBatcher {
  GMutex lock;
  GCond cond;
  guint n_active;               /* generations between prefill and finish */
  GPtrArray *waiting;           /* Entry *, in arrival order */
  gboolean running;             /* a thread is running a joint step */
  gint64 last_joint_us;
  guint short_batches;          /* joint steps in a row that ran without everyone */
  gint64 fixed_wait_us;         /* > 0: always wait this long (vv_batcher_new_with_wait) */
};

VvBatcher *
vv_batcher_new (void)
{
  return vv_batcher_new_with_wait (0);
}

/**
 * vv_batcher_new_with_wait: (skip)
 * @wait_us: how long a step waits for the other generations, fixed (0: the
 *   adaptive wait of vv_batcher_new())
 *
 * A batcher whose steps always wait up to @wait_us for everyone: tests use
 * it so that streams batch whatever the machine's load.
 *
 * Returns: (transfer full): a batcher
 */
VvBatcher *
vv_batcher_new_with_wait (gint64 wait_us)
{
  VvBatcher *b = g_new0 (VvBatcher, 1);
  b->fixed_wait_us = MAX (wait_us, 0);
  g_mutex_init (&b->lock);
  g_cond_init (&b->cond);
  b->waiting = g_ptr_array_new ();
  return b;
}

void
vv_batcher_free (VvBatcher *b)
{
  if (b == NULL)
    return;
  g_warn_if_fail (b->n_active == 0 && b->waiting->len == 0);
  g_ptr_array_unref (b->waiting);
  g_cond_clear (&b->cond);
  g_mutex_clear (&b->lock);
  g_free (b);
}

static gint64
wait_budget (VvBatcher *b)
{
  if (b->fixed_wait_us > 0)
    return b->fixed_wait_us;
  if (b->last_joint_us <= 0)
    return WAIT_FIRST_US;
  return CLAMP (b->last_joint_us >> MIN (b->short_batches, 20), WAIT_MIN_US, WAIT_MAX_US);
}

/* Under the lock: takes the first waiting entry and the others with its
 * step count (at most VV_SESSION_MAX_BATCH) off the queue, runs their joint
 * step without the lock, and marks them finished. */
static void
lead (VvBatcher *b)
{
  Entry *batch[VV_SESSION_MAX_BATCH];
  VvSession *ss[VV_SESSION_MAX_BATCH];
  guint n = 0, want = MIN (b->n_active, VV_SESSION_MAX_BATCH);
  gint n_steps = ((Entry *) b->waiting->pdata[0])->n_steps;
  for (guint i = 0; i < b->waiting->len && n < VV_SESSION_MAX_BATCH;) {
    Entry *e = b->waiting->pdata[i];
    if (e->n_steps == n_steps) {
      batch[n] = e;
      ss[n++] = e->session;
      g_ptr_array_remove_index (b->waiting, i);
    } else {
      i++;
    }
  }
  b->running = TRUE;
  g_mutex_unlock (&b->lock);

  GError *error = NULL;
  gint64 t0 = g_get_monotonic_time ();
  gboolean ok = vv_session_step_batch_joint (ss, n, &error);
  gint64 dt = g_get_monotonic_time () - t0;

  g_mutex_lock (&b->lock);
  for (guint k = 0; k < n; k++) {
    batch[k]->ok = ok;
    batch[k]->error = error ? g_error_copy (error) : NULL;
    batch[k]->finished = TRUE;
  }
  g_clear_error (&error);
  b->last_joint_us = dt;
  b->short_batches = n < want ? b->short_batches + 1 : 0;
  b->running = FALSE;
  g_cond_broadcast (&b->cond);
}

/* One step's joint half for @s through the batcher (blocking). */
static gboolean
joint_step (VvBatcher *b, VvSession *s, GError **error)
{
  Entry e = { s, vv_session_get_diffusion_steps (s), FALSE, FALSE, NULL };
  g_mutex_lock (&b->lock);
  g_ptr_array_add (b->waiting, &e);
  g_cond_broadcast (&b->cond);          /* maybe everyone is here now */
  gint64 deadline = g_get_monotonic_time () + wait_budget (b);
  while (!e.finished) {
    guint want = MIN (b->n_active, VV_SESSION_MAX_BATCH);
    gboolean all_here = b->waiting->len >= want;
    if (!b->running && (all_here || g_get_monotonic_time () >= deadline)) {
      lead (b);                         /* may run a batch without us */
      continue;
    }
    if (b->running || all_here)
      g_cond_wait (&b->cond, &b->lock);
    else
      g_cond_wait_until (&b->cond, &b->lock, deadline);
  }
  g_mutex_unlock (&b->lock);
  if (!e.ok) {
    g_propagate_error (error, e.error);
    return FALSE;
  }
  return TRUE;
}

static void
set_active (VvBatcher *b, gint delta)
{
  g_mutex_lock (&b->lock);
  b->n_active += delta;
  g_cond_broadcast (&b->cond);          /* those waiting may now be all */
  g_mutex_unlock (&b->lock);
}

/**
 * vv_batcher_generate_prompt: (skip)
 * @batcher: the engine's batcher
 * @session: a session on the engine's model and backend
 * @prompt: the prompt
 * @params: (nullable): parameters and callbacks, as for
 *   vv_session_generate_prompt(); the callbacks run on the calling thread
 *   (abort may run on another generation's thread)
 * @out: (out caller-allocates) (optional): the result
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
vv_batcher_generate_prompt (VvBatcher *b, VvSession *s, VvPrompt *prompt,
    const VvSessionParams *params, VvSessionResult *out, GError **error)
{
  g_return_val_if_fail (b != NULL && s != NULL && prompt != NULL, FALSE);
  if (!vv_session_prefill (s, prompt, params, error))
    return FALSE;
  set_active (b, 1);
  gboolean done = FALSE, ok = TRUE;
  gint32 token;
  while (ok && !done)
    ok = joint_step (b, s, error) && vv_session_step_batch_complete (s, &token, &done, error);
  set_active (b, -1);
  VvSessionResult res;
  vv_session_finish (s, &res);
  if (ok && out)
    *out = res;
  return ok;
}
