/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * CUDA Graphs on the CUDA backend ($VV_TEST_BACKEND, default cuda-emu;
 * tests/cuda/run-on-gpu.sh runs it on "cuda"), docs/CUDA.md:
 *
 * - the backend API: ops between graph_begin and graph_end are recorded,
 *   not run; a launch replays them with the inputs' current contents; one
 *   node per kernel or copy; an upload or a synchronising op in a capture
 *   fails and the capture gives no graph;
 * - the diffusion head's sampling: frames with different noise and
 *   conditions replayed from one graph give the same bits as the same
 *   frames run eagerly on a backend with graphs off, a replayed frame is
 *   one launch (the eager frame hundreds), and changing the scale, the
 *   step count or a tensor's address records a new graph.
 */
#include <vibevoice/vibevoice.h>
#include "vv-test-util.h"
#include <string.h>

static gchar *tmp_root, *model_dir;
static VvModel *model;
static VvBackend *env_backend;
static const gchar *backend_name;

static VvBackend *
new_backend (gboolean graphs)
{
  g_autoptr (GError) error = NULL;
  VvBackend *be = vv_backend_new_by_name (backend_name, 1, &error);
  g_assert_no_error (error);
  vv_backend_set_graphs_enabled (be, graphs);
  return be;
}

static VvTensor *
new_2d (VvBackend *be, gint64 rows, gint64 cols)
{
  g_autoptr (GError) error = NULL;
  gint64 shape[2] = { rows, cols };
  VvTensor *t = vv_backend_tensor_new (be, VV_DTYPE_F32, 2, shape, &error);
  g_assert_no_error (error);
  return t;
}

static void
set_random (VvBackend *be, VvTensor *t, guint32 seed, gdouble range)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GRand) r = g_rand_new_with_seed (seed);
  gint64 n = vv_tensor_n_elements (t);
  g_autofree gfloat *h = g_new (gfloat, n);
  for (gint64 i = 0; i < n; i++)
    h[i] = (gfloat) g_rand_double_range (r, -range, range);
  g_assert_true (vv_backend_tensor_set (be, t, 0, h, sizeof (gfloat) * n, &error));
  g_assert_no_error (error);
}

static gfloat *
get_all (VvBackend *be, const VvTensor *t)
{
  g_autoptr (GError) error = NULL;
  gfloat *h = g_new (gfloat, vv_tensor_n_elements (t));
  g_assert_true (vv_backend_tensor_get (be, t, 0, h, vv_tensor_n_bytes (t), &error));
  g_assert_no_error (error);
  return h;
}

/* The backend API on a few ops: y = 2·x, w = y (a copy), v = y + w. */
static void
test_backend_graph (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VvBackend) be = new_backend (TRUE);
  g_assert_true (vv_backend_graphs_enabled (be));
  const gint64 n = 1000;
  g_autoptr (VvTensor) x = new_2d (be, 1, n);
  g_autoptr (VvTensor) y = new_2d (be, 1, n);
  g_autoptr (VvTensor) w = new_2d (be, 1, n);
  g_autoptr (VvTensor) v = new_2d (be, 1, n);
  g_assert_true (vv_backend_tensor_zero (be, v, &error));
  set_random (be, x, 1, 1.0);

  VvDeviceStats s0, s1, s2;
  vv_backend_get_stats (be, &s0);
  g_assert_true (vv_backend_graph_begin (be, &error));
  g_assert_no_error (error);
  g_assert_true (vv_backend_scale (be, y, x, 2.0f, &error));
  g_assert_true (vv_backend_tensor_copy (be, w, y, &error));
  g_assert_true (vv_backend_binary (be, VV_BINARY_ADD, v, y, w, &error));
  g_assert_no_error (error);
  g_autoptr (VvBackendGraph) g = vv_backend_graph_end (be, &error);
  g_assert_no_error (error);
  g_assert_nonnull (g);
  vv_backend_get_stats (be, &s1);
  /* recorded, not run: v still zero; nothing counted as launched */
  g_autofree gfloat *v0 = get_all (be, v);
  for (gint64 i = 0; i < n; i++)
    g_assert_cmpfloat (v0[i], ==, 0.0f);
  g_assert_cmpuint (s1.n_launches, ==, s0.n_launches);
  g_assert_cmpuint (s1.n_graph_captures, ==, s0.n_graph_captures + 1);
  /* a kernel, a copy, a kernel */
  g_assert_cmpuint (vv_backend_graph_get_n_nodes (g), ==, 3);

  for (guint32 frame = 0; frame < 3; frame++) {
    set_random (be, x, 10 + frame, 1.0);
    g_autofree gfloat *hx = get_all (be, x);
    vv_backend_get_stats (be, &s1);
    g_assert_true (vv_backend_graph_launch (be, g, &error));
    g_assert_no_error (error);
    vv_backend_get_stats (be, &s2);
    g_assert_cmpuint (s2.n_launches - s1.n_launches, ==, 1);
    g_assert_cmpuint (s2.n_graph_launches - s1.n_graph_launches, ==, 1);
    g_autofree gfloat *hv = get_all (be, v);
    for (gint64 i = 0; i < n; i++)
      g_assert_cmpfloat (hv[i], ==, 2.0f * hx[i] + 2.0f * hx[i]);
  }

  /* a graph of another backend kind is refused */
  g_autoptr (VvBackend) cpu = vv_backend_new_cpu (1, &error);
  g_assert_no_error (error);
  g_assert_false (vv_backend_graphs_enabled (cpu));
  g_assert_false (vv_backend_graph_launch (cpu, g, &error));
  g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE);
  g_clear_error (&error);
  g_assert_false (vv_backend_graph_begin (cpu, &error));
  g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE);
  g_clear_error (&error);
}

/* What cannot be recorded fails, and the capture then gives no graph. */
static void
test_backend_graph_refusals (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VvBackend) be = new_backend (TRUE);
  g_autoptr (VvTensor) x = new_2d (be, 1, 16);
  gfloat host[16] = { 0 };

  /* an upload (legacy stream, host memory) */
  g_assert_true (vv_backend_graph_begin (be, &error));
  g_assert_false (vv_backend_tensor_set (be, x, 0, host, sizeof host, &error));
  g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_DEVICE);
  g_assert_nonnull (strstr (error->message, "while a graph is being captured"));
  g_clear_error (&error);
  VvBackendGraph *g = vv_backend_graph_end (be, &error);
  g_assert_no_error (error);    /* nothing reached the stream: an empty graph */
  g_assert_cmpuint (vv_backend_graph_get_n_nodes (g), ==, 0);
  vv_backend_graph_free (g);

  /* an op that reads the device error word back (synchronises) */
  gint64 shape[1] = { 1 };
  g_autoptr (VvTensor) ids_h = vv_tensor_new (VV_DTYPE_I32, 1, shape);
  ((gint32 *) ids_h->data)[0] = 0;
  g_autoptr (VvTensor) ids = vv_backend_tensor_new_from_host (be, ids_h, &error);
  g_assert_no_error (error);
  g_autoptr (VvTensor) table = new_2d (be, 4, 16);
  g_assert_true (vv_backend_graph_begin (be, &error));
  g_assert_false (vv_backend_get_rows (be, x, table, ids, &error));
  g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_DEVICE);
  g_clear_error (&error);
  g = vv_backend_graph_end (be, &error);
  g_assert_null (g);
  g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_DEVICE);
  g_assert_nonnull (strstr (error->message, "cudaStreamEndCapture"));
  g_clear_error (&error);

  /* the backend works as before afterwards */
  g_assert_true (vv_backend_get_rows (be, x, table, ids, &error));
  g_assert_no_error (error);
  g_assert_true (vv_backend_tensor_set (be, x, 0, host, sizeof host, &error));
  g_assert_no_error (error);
  /* end without begin */
  g_assert_null (vv_backend_graph_end (be, &error));
  g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE);
}

/* Another thread's transfers while a backend captures: they wait for the
 * capture's end instead of breaking it (a legacy-stream call during a
 * capture invalidates it, in the emulator as on CUDA). */
typedef struct {
  VvBackend *be;
  VvTensor *t;
  gint *phase;                  /* 1: capture started */
  gboolean ok, after_end;
  gint *ended;
} Uploader;

static gpointer
upload_thread (gpointer data)
{
  Uploader *u = data;
  while (!g_atomic_int_get (u->phase))
    g_usleep (1000);
  gfloat h[16] = { 1, 2, 3 };
  g_autoptr (GError) error = NULL;
  u->ok = vv_backend_tensor_set (u->be, u->t, 0, h, sizeof h, &error)
      && vv_backend_tensor_zero (u->be, u->t, &error);
  u->after_end = g_atomic_int_get (u->ended);
  g_assert_no_error (error);
  return NULL;
}

static void
test_backend_graph_threads (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VvBackend) a = new_backend (TRUE);
  g_autoptr (VvBackend) b = new_backend (TRUE);
  g_autoptr (VvTensor) x = new_2d (a, 1, 64);
  g_autoptr (VvTensor) y = new_2d (a, 1, 64);
  g_autoptr (VvTensor) t = new_2d (b, 1, 16);
  set_random (a, x, 5, 1.0);
  gint phase = 0, ended = 0;
  Uploader u = { b, t, &phase, FALSE, FALSE, &ended };
  GThread *th = g_thread_new ("uploader", upload_thread, &u);
  g_assert_true (vv_backend_graph_begin (a, &error));
  g_atomic_int_set (&phase, 1);
  g_usleep (100 * 1000);        /* the uploader is waiting now */
  g_assert_true (vv_backend_scale (a, y, x, 3.0f, &error));
  g_atomic_int_set (&ended, 1);
  g_autoptr (VvBackendGraph) g = vv_backend_graph_end (a, &error);
  g_assert_no_error (error);
  g_assert_nonnull (g);
  g_thread_join (th);
  g_assert_true (u.ok);
  g_assert_true (u.after_end);  /* it waited for the capture */
  g_assert_true (vv_backend_graph_launch (a, g, &error));
  g_autofree gfloat *hx = get_all (a, x), *hy = get_all (a, y);
  for (gint i = 0; i < 64; i++)
    g_assert_cmpfloat (hy[i], ==, 3.0f * hx[i]);
}

/* One generation's tensors on one backend, at fixed addresses. */
typedef struct {
  VvBackend *be;
  VvDiffusionHead *head;
  VvScheduler *sched;
  VvTensor *hp, *hn, *noise, *z;
} Gen;

static void
gen_init (Gen *g, VvBackend *be, gint n_steps)
{
  g_autoptr (GError) error = NULL;
  const VvConfig *cfg = vv_model_get_config (model);
  g->be = be;
  g->head = vv_diffusion_head_new (model, be, &error);
  g_assert_no_error (error);
  g->sched = vv_scheduler_new (n_steps, cfg->head.latent_size, &error);
  g_assert_no_error (error);
  g->hp = new_2d (be, 1, cfg->lm.hidden_size);
  g->hn = new_2d (be, 1, cfg->lm.hidden_size);
  g->noise = new_2d (be, 1, cfg->head.latent_size);
  g->z = new_2d (be, 1, cfg->head.latent_size);
}

static void
gen_clear (Gen *g)
{
  vv_diffusion_head_free (g->head);
  vv_scheduler_free (g->sched);
  vv_tensor_free (g->hp);
  vv_tensor_free (g->hn);
  vv_tensor_free (g->noise);
  vv_tensor_free (g->z);
}

/* One frame: fresh inputs from @seed, a sample, z on the host. @d gets the
 * counters of the sample alone. */
static gfloat *
gen_frame (Gen *g, guint32 seed, gfloat cfg_scale, VvDeviceStats *d)
{
  g_autoptr (GError) error = NULL;
  set_random (g->be, g->hp, seed, 2.0);
  set_random (g->be, g->hn, seed + 1000, 2.0);
  set_random (g->be, g->noise, seed + 2000, 1.0);
  VvDeviceStats s0, s1;
  vv_backend_get_stats (g->be, &s0);
  g_assert_true (vv_diffusion_sample (g->head, g->sched, g->hp, g->hn, cfg_scale,
          vv_scheduler_get_n_steps (g->sched), g->noise, g->z, &error));
  g_assert_no_error (error);
  vv_backend_get_stats (g->be, &s1);
  d->n_launches = s1.n_launches - s0.n_launches;
  d->n_graph_launches = s1.n_graph_launches - s0.n_graph_launches;
  d->n_graph_captures = s1.n_graph_captures - s0.n_graph_captures;
  d->bytes_up = s1.bytes_up - s0.bytes_up;
  d->bytes_down = s1.bytes_down - s0.bytes_down;
  return get_all (g->be, g->z);
}

static void
assert_same_bits (const gfloat *a, const gfloat *b, gint n)
{
  for (gint i = 0; i < n; i++)
    if (memcmp (&a[i], &b[i], sizeof (gfloat)) != 0)
      g_error ("element %d: graph %.9g, eager %.9g", i, a[i], b[i]);
}

static void
test_sample_replay (void)
{
  const gint L = vv_model_get_config (model)->head.latent_size;
  g_autoptr (VvBackend) bg = new_backend (TRUE);
  g_autoptr (VvBackend) be = new_backend (FALSE);
  Gen gg, ge;
  gen_init (&gg, bg, 5);
  gen_init (&ge, be, 5);
  g_autofree gfloat *first = NULL;
  guint64 eager_launches = 0;
  for (guint32 f = 0; f < 4; f++) {
    VvDeviceStats dg, de;
    g_autofree gfloat *zg = gen_frame (&gg, 100 + f, 1.3f, &dg);
    g_autofree gfloat *ze = gen_frame (&ge, 100 + f, 1.3f, &de);
    assert_same_bits (zg, ze, L);
    /* eager: every op a launch; graph: recorded on the first frame, then
     * replayed, one launch per frame, nothing moved to or from the host */
    g_assert_cmpuint (de.n_graph_launches, ==, 0);
    g_assert_cmpuint (de.n_launches, >, 100);
    eager_launches = de.n_launches;
    g_assert_cmpuint (dg.n_launches, ==, 1);
    g_assert_cmpuint (dg.n_graph_launches, ==, 1);
    g_assert_cmpuint (dg.n_graph_captures, ==, f == 0 ? 1 : 0);
    g_assert_cmpuint (dg.bytes_up + dg.bytes_down, ==, 0);
    /* the frames differ: the replay read the new inputs */
    if (f == 0)
      first = g_memdup2 (zg, sizeof (gfloat) * L);
    else
      g_assert_true (memcmp (first, zg, sizeof (gfloat) * L) != 0);
  }
  g_test_message ("eager frame: %" G_GUINT64_FORMAT " launches; replayed frame: 1",
      eager_launches);

  /* another scale: recorded again, and still the eager bits */
  VvDeviceStats dg, de;
  g_autofree gfloat *zg = gen_frame (&gg, 200, 1.7f, &dg);
  g_autofree gfloat *ze = gen_frame (&ge, 200, 1.7f, &de);
  assert_same_bits (zg, ze, L);
  g_assert_cmpuint (dg.n_graph_captures, ==, 1);
  g_clear_pointer (&zg, g_free);
  g_clear_pointer (&ze, g_free);
  zg = gen_frame (&gg, 201, 1.7f, &dg);
  ze = gen_frame (&ge, 201, 1.7f, &de);
  assert_same_bits (zg, ze, L);
  g_assert_cmpuint (dg.n_graph_captures, ==, 0);

  /* a tensor at another address: recorded again */
  VvTensor *moved = new_2d (bg, 1, L);     /* made while the old one is held */
  vv_tensor_free (gg.noise);
  gg.noise = moved;
  g_clear_pointer (&zg, g_free);
  g_clear_pointer (&ze, g_free);
  zg = gen_frame (&gg, 202, 1.7f, &dg);
  ze = gen_frame (&ge, 202, 1.7f, &de);
  assert_same_bits (zg, ze, L);
  g_assert_cmpuint (dg.n_graph_captures, ==, 1);

  /* another step count (a new scheduler): recorded again */
  vv_scheduler_free (gg.sched);
  vv_scheduler_free (ge.sched);
  g_autoptr (GError) error = NULL;
  gg.sched = vv_scheduler_new (3, L, &error);
  ge.sched = vv_scheduler_new (3, L, &error);
  g_assert_no_error (error);
  for (guint32 f = 0; f < 2; f++) {
    g_clear_pointer (&zg, g_free);
    g_clear_pointer (&ze, g_free);
    zg = gen_frame (&gg, 300 + f, 1.7f, &dg);
    ze = gen_frame (&ge, 300 + f, 1.7f, &de);
    assert_same_bits (zg, ze, L);
    g_assert_cmpuint (dg.n_graph_captures, ==, f == 0 ? 1 : 0);
    g_assert_cmpuint (dg.n_launches, ==, 1);
  }
  gen_clear (&gg);
  gen_clear (&ge);
}

/* The trajectory output is part of the key too, and the scheduler can
 * still be stepped by hand after a replay (it was reset by the sample). */
static void
test_sample_trajectory (void)
{
  g_autoptr (GError) error = NULL;
  const gint L = vv_model_get_config (model)->head.latent_size;
  const gint n_steps = 4;
  g_autoptr (VvBackend) bg = new_backend (TRUE);
  g_autoptr (VvBackend) be = new_backend (FALSE);
  Gen gens[2];
  gen_init (&gens[0], bg, n_steps);
  gen_init (&gens[1], be, n_steps);
  gfloat *traj[2][2];
  for (gint b = 0; b < 2; b++) {
    Gen *g = &gens[b];
    g_autoptr (VvTensor) tr = new_2d (g->be, n_steps, L);
    for (gint f = 0; f < 2; f++) {
      set_random (g->be, g->hp, 400 + f, 2.0);
      set_random (g->be, g->hn, 500 + f, 2.0);
      set_random (g->be, g->noise, 600 + f, 1.0);
      g_assert_true (vv_diffusion_sample_full (g->head, g->sched, g->hp, g->hn, 1.3f, n_steps,
              g->noise, g->z, tr, &error));
      g_assert_no_error (error);
      traj[b][f] = get_all (g->be, tr);
    }
  }
  for (gint f = 0; f < 2; f++)
    assert_same_bits (traj[0][f], traj[1][f], n_steps * L);
  g_assert_true (memcmp (traj[0][0], traj[0][1], sizeof (gfloat) * n_steps * L) != 0);
  for (gint b = 0; b < 2; b++)
    for (gint f = 0; f < 2; f++)
      g_free (traj[b][f]);
  gen_clear (&gens[0]);
  gen_clear (&gens[1]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  backend_name = g_getenv ("VV_TEST_BACKEND");
  gboolean asked = backend_name != NULL && *backend_name != '\0';
  if (!asked)
    backend_name = "cuda-emu";
  g_autoptr (GError) error = NULL;
  g_autoptr (VvBackend) probe = vv_backend_new_by_name (backend_name, 1, &error);
  if (probe == NULL) {
    /* the default's module is absent (the sanitize setup loads none): a
     * skip; a backend asked for by name must work */
    if (asked)
      g_error ("backend %s: %s", backend_name, error->message);
    g_print ("1..0 # SKIP %s: %s\n", backend_name, error->message);
    return 0;
  }
  g_clear_pointer (&probe, vv_backend_free);
  vv_test_make_checkpoint (3, &tmp_root, &model_dir, &model, &env_backend);
  /* the model's weights live per device: the head uploads them there */
  g_test_add_func ("/cuda-graph/backend", test_backend_graph);
  g_test_add_func ("/cuda-graph/backend-refusals", test_backend_graph_refusals);
  g_test_add_func ("/cuda-graph/backend-threads", test_backend_graph_threads);
  g_test_add_func ("/cuda-graph/sample-replay", test_sample_replay);
  g_test_add_func ("/cuda-graph/sample-trajectory", test_sample_trajectory);
  gint ret = g_test_run ();
  vv_test_free_checkpoint (tmp_root, model_dir, model, env_backend);
  return ret;
}
