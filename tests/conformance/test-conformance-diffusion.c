/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * Diffusion head and DPM-Solver++ 2M CFG sampler against the original Python
 * implementation (vectors from gen_diffusion_vectors.py, tiny checkpoint
 * made here with `vibevoice make-model`, checked by sha256). Tolerance (fp32):
 *   max|ours − ref| ≤ 1e-4 · (1 + max|ref|)
 *
 * - head outputs for seeded (x, condition) at several t (MODEL-SPEC §3);
 * - the scheduler's timesteps and σ for 5 / 10 / 20 steps (§4.2);
 * - the reference's per-frame noise torch.randn(2, 64) (§12.3);
 * - every step's x of sample_speech_tokens with cfg 1.3 (§2.4, §4.3).
 */
#include <vibevoice/vibevoice.h>
#include "vv-test-util.h"
#include <vibevoice/vv-npy.h>
#include <json-glib/json-glib.h>
#include <math.h>

#define NOISE_SEED 1234           /* as in gen_diffusion_vectors.py */
#define CFG_SCALE 1.3f

static gchar *vec_dir;
static gchar *tmp_root;
static gchar *model_dir;
static VvModel *model;
static VvBackend *backend;

static const gint head_timesteps[] = { 999, 949, 500, 37, 1, 0 };
static const gint sample_steps[] = { 5, 10, 20 };

static VvDiffusionHead *
new_head (void)
{
  g_autoptr (GError) error = NULL;
  /* 4 rows: the batch of the head vectors */
  VvDiffusionHead *head = vv_diffusion_head_new_full (model, backend, 4, &error);
  g_assert_no_error (error);
  g_assert_nonnull (head);
  g_assert_cmpint (vv_diffusion_head_get_latent_size (head), ==, 64);
  return head;
}

static void
test_head (gconstpointer data)
{
  gint t = GPOINTER_TO_INT (data);
  g_autoptr (VvNpyArray) x = vv_test_load_npy (vec_dir, "head-x.npy");
  g_autoptr (VvNpyArray) cond = vv_test_load_npy (vec_dir, "head-cond.npy");
  g_autoptr (VvDiffusionHead) head = new_head ();
  gint64 rows = x->shape[0];
  g_assert_cmpint (cond->shape[0], ==, rows);
  g_assert_cmpint (cond->shape[1], ==, vv_diffusion_head_get_hidden_size (head));
  g_autofree gfloat *v = g_new0 (gfloat, rows * 64);
  g_autoptr (GError) error = NULL;
  g_assert_true (vv_diffusion_head_set_condition_host (head, cond->data, (gint) rows, &error));
  g_assert_no_error (error);
  g_assert_true (vv_diffusion_head_forward_host (head, x->data, (gfloat) t, v, &error));
  g_assert_no_error (error);
  g_autofree gchar *name = g_strdup_printf ("head-v-t%d.npy", t);
  vv_test_check_vec (vec_dir, name, v, rows, 64);
}

static void
test_schedule (gconstpointer data)
{
  gint n = GPOINTER_TO_INT (data);
  g_autoptr (GError) error = NULL;
  g_autoptr (VvScheduler) s = vv_scheduler_new (n, 64, &error);
  g_assert_no_error (error);
  g_autofree gfloat *ts = g_new (gfloat, n);
  g_autofree gfloat *sg = g_new (gfloat, n + 1);
  for (gint i = 0; i < n; i++)
    ts[i] = (gfloat) vv_scheduler_get_timestep (s, i);
  for (gint i = 0; i <= n; i++)
    sg[i] = vv_scheduler_get_sigma (s, i);
  g_autofree gchar *tn = g_strdup_printf ("sample-timesteps-%d.npy", n);
  g_autofree gchar *sn = g_strdup_printf ("sample-sigmas-%d.npy", n);
  g_autoptr (VvNpyArray) tref = vv_test_load_npy (vec_dir, tn);
  for (gint i = 0; i < n; i++)
    g_assert_cmpfloat (ts[i], ==, tref->data[i]);
  /* σ is relative: compare each value to its own magnitude */
  g_autoptr (VvNpyArray) sref = vv_test_load_npy (vec_dir, sn);
  g_assert_cmpint (sref->n, ==, n + 1);
  gdouble worst = 0.0;
  for (gint i = 0; i <= n; i++)
    worst = MAX (worst, fabs (sg[i] - sref->data[i]) / (1.0 + fabs (sref->data[i])));
  g_test_message ("sigmas (%d steps): max|ours - ref|/(1 + |ref|) = %.3g", n, worst);
  g_assert_cmpfloat (worst, <=, 1e-6);
}

static void
test_noise (void)
{
  VvTorchGenerator gen;
  vv_torch_generator_init (&gen, NOISE_SEED);
  gfloat noise[64], both[128];
  VvTorchGenerator copy = gen;
  vv_diffusion_draw_noise (&gen, 64, noise);
  vv_torch_randn (&copy, both, 128, TRUE);
  g_assert_cmpmem (noise, sizeof noise, both, sizeof noise);
  g_assert_cmpmem (&gen, sizeof gen, &copy, sizeof copy);   /* 128 values consumed */
  vv_test_check_vec (vec_dir, "sample-noise.npy", both, 2, 64);
}

static void
test_sample (gconstpointer data)
{
  gint n = GPOINTER_TO_INT (data);
  g_autoptr (VvNpyArray) hp = vv_test_load_npy (vec_dir, "sample-h-pos.npy");
  g_autoptr (VvNpyArray) hn = vv_test_load_npy (vec_dir, "sample-h-neg.npy");
  g_autoptr (VvNpyArray) noise = vv_test_load_npy (vec_dir, "sample-noise.npy");
  g_autoptr (VvDiffusionHead) head = new_head ();
  g_autoptr (GError) error = NULL;
  g_autoptr (VvScheduler) s = vv_scheduler_new (n, 64, &error);
  g_assert_no_error (error);
  g_autofree gfloat *traj = g_new0 (gfloat, n * 64);
  gfloat z[64];
  /* twice: the scheduler and head state must not leak between latents */
  for (gint rep = 0; rep < 2; rep++) {
    g_assert_true (vv_diffusion_sample_full_host (head, s, hp->data, hn->data, CFG_SCALE, n,
            noise->data, z, traj, &error));
    g_assert_no_error (error);
  }
  g_assert_cmpmem (z, sizeof z, traj + (n - 1) * 64, sizeof z);
  g_autofree gchar *name = g_strdup_printf ("sample-traj-%d.npy", n);
  vv_test_check_vec (vec_dir, name, traj, n, 64);
}

static void
test_model_matches_manifest (void)
{
  vv_test_check_manifest_checkpoint (vec_dir, model_dir, "gen_diffusion_vectors.py");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  const gchar *tool = g_getenv ("VV_TOOL");
  vec_dir = g_strdup (g_getenv ("VV_DIFFUSION_CONFORMANCE_DIR"));
  if (tool == NULL || vec_dir == NULL) {
    g_printerr ("VV_TOOL / VV_DIFFUSION_CONFORMANCE_DIR are not set: run through meson test\n");
    return 77;
  }

  g_autoptr (GError) error = NULL;
  vv_test_make_checkpoint (11, &tmp_root, &model_dir, &model, &backend);

  g_test_add_func ("/conformance/diffusion/model-matches-manifest", test_model_matches_manifest);
  for (guint i = 0; i < G_N_ELEMENTS (head_timesteps); i++) {
    g_autofree gchar *name = g_strdup_printf ("/conformance/diffusion/head/t%d", head_timesteps[i]);
    g_test_add_data_func (name, GINT_TO_POINTER (head_timesteps[i]), test_head);
  }
  g_test_add_func ("/conformance/diffusion/noise", test_noise);
  for (guint i = 0; i < G_N_ELEMENTS (sample_steps); i++) {
    g_autofree gchar *sname = g_strdup_printf ("/conformance/diffusion/schedule/%d", sample_steps[i]);
    g_test_add_data_func (sname, GINT_TO_POINTER (sample_steps[i]), test_schedule);
    g_autofree gchar *name = g_strdup_printf ("/conformance/diffusion/sample/%d", sample_steps[i]);
    g_test_add_data_func (name, GINT_TO_POINTER (sample_steps[i]), test_sample);
  }

  gint ret = g_test_run ();

  vv_test_free_checkpoint (tmp_root, model_dir, model, backend);
  g_free (vec_dir);
  return ret;
}
