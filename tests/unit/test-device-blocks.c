/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * Blocks on the simulated device ('sim': memory the host cannot touch,
 * computed by the CPU kernels) against the same blocks on 'cpu': the
 * outputs must be equal byte for byte, and a diffusion sample must not copy
 * anything between host and device (its inputs and outputs are device
 * tensors, the scheduler's state lives there).
 */
#include <vibevoice/vibevoice.h>
#include "vv-test-util.h"
#include <string.h>

static gchar *tmp_root, *model_dir;
static VvModel *model;
static VvBackend *env_backend, *cpu, *sim;

typedef struct {
  gint H_lm, L, n_steps;
  gfloat *h_pos, *h_neg, *noise;
} Inputs;

static void
inputs_init (Inputs *in, gint H_lm, gint L, gint n_steps, guint32 seed)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (seed);
  in->H_lm = H_lm;
  in->L = L;
  in->n_steps = n_steps;
  in->h_pos = g_new (gfloat, H_lm);
  in->h_neg = g_new (gfloat, H_lm);
  in->noise = g_new (gfloat, L);
  for (gint i = 0; i < H_lm; i++) {
    in->h_pos[i] = (gfloat) g_rand_double_range (r, -2, 2);
    in->h_neg[i] = (gfloat) g_rand_double_range (r, -2, 2);
  }
  for (gint i = 0; i < L; i++)
    in->noise[i] = (gfloat) g_rand_double_range (r, -1, 1);
}

static void
inputs_clear (Inputs *in)
{
  g_free (in->h_pos);
  g_free (in->h_neg);
  g_free (in->noise);
}

static VvTensor *
upload (VvBackend *be, const gfloat *data, gint64 rows, gint64 cols)
{
  g_autoptr (GError) error = NULL;
  gint64 shape[2] = { rows, cols };
  VvTensor host;
  vv_tensor_init_view (&host, VV_DTYPE_F32, 2, shape, (gpointer) data);
  VvTensor *t = vv_backend_tensor_new_from_host (be, &host, &error);
  g_assert_no_error (error);
  return t;
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
download (VvBackend *be, const VvTensor *t, gfloat *out)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (vv_backend_tensor_get (be, t, 0, out, vv_tensor_n_bytes (t), &error));
  g_assert_no_error (error);
}

/* Two samples on @be (the second checks that no state leaks from the
 * first); z and the second trajectory go to host memory. @stats_during
 * (nullable) receives the device traffic of the second sample alone. */
static void
sample_on (VvBackend *be, const Inputs *in, gfloat *z_out, gfloat *traj_out,
    VvDeviceStats *during)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VvDiffusionHead) head = vv_diffusion_head_new (model, be, &error);
  g_assert_no_error (error);
  g_autoptr (VvScheduler) sched = vv_scheduler_new (in->n_steps, in->L, &error);
  g_assert_no_error (error);
  g_autoptr (VvTensor) hp = upload (be, in->h_pos, 1, in->H_lm);
  g_autoptr (VvTensor) hn = upload (be, in->h_neg, 1, in->H_lm);
  g_autoptr (VvTensor) noise = upload (be, in->noise, 1, in->L);
  g_autoptr (VvTensor) z = new_2d (be, 1, in->L);
  g_autoptr (VvTensor) traj = new_2d (be, in->n_steps, in->L);
  /* a first latent with swapped conditions and another scale (the
   * scheduler gets bound here) */
  g_assert_true (vv_diffusion_sample (head, sched, hn, hp, 1.7f, in->n_steps, noise, z, &error));
  g_assert_no_error (error);

  VvDeviceStats before, after;
  vv_device_get_stats (vv_backend_get_device (be), &before);
  g_assert_true (vv_diffusion_sample_full (head, sched, hp, hn, 1.3f, in->n_steps, noise, z,
          traj, &error));
  g_assert_no_error (error);
  vv_device_get_stats (vv_backend_get_device (be), &after);
  if (during != NULL) {
    during->bytes_up = after.bytes_up - before.bytes_up;
    during->bytes_down = after.bytes_down - before.bytes_down;
    during->n_launches = after.n_launches - before.n_launches;
  }
  download (be, z, z_out);
  download (be, traj, traj_out);
}

static void
test_sample_cpu_sim (gconstpointer data)
{
  gint n_steps = GPOINTER_TO_INT (data);
  const VvConfig *cfg = vv_model_get_config (model);
  gint H_lm = cfg->lm.hidden_size, L = cfg->head.latent_size;
  Inputs in;
  inputs_init (&in, H_lm, L, n_steps, 77 + n_steps);
  g_autofree gfloat *z_cpu = g_new (gfloat, L), *z_sim = g_new (gfloat, L);
  g_autofree gfloat *t_cpu = g_new (gfloat, n_steps * L), *t_sim = g_new (gfloat, n_steps * L);
  VvDeviceStats during;
  sample_on (cpu, &in, z_cpu, t_cpu, NULL);
  sample_on (sim, &in, z_sim, t_sim, &during);

  /* no host<->device copy inside a sample, but the work ran on the device */
  g_assert_cmpuint (during.bytes_up, ==, 0);
  g_assert_cmpuint (during.bytes_down, ==, 0);
  g_assert_cmpuint (during.n_launches, >=, (guint64) n_steps * cfg->head.n_layers);

  g_assert_cmpmem (z_cpu, sizeof (gfloat) * L, z_sim, sizeof (gfloat) * L);
  g_assert_cmpmem (t_cpu, sizeof (gfloat) * n_steps * L, t_sim, sizeof (gfloat) * n_steps * L);
  g_assert_cmpmem (z_cpu, sizeof (gfloat) * L, t_cpu + (n_steps - 1) * L, sizeof (gfloat) * L);

  /* the host-pointer convenience gives the same latent */
  g_autoptr (GError) error = NULL;
  g_autoptr (VvDiffusionHead) head = vv_diffusion_head_new (model, sim, &error);
  g_assert_no_error (error);
  g_autoptr (VvScheduler) sched = vv_scheduler_new (n_steps, L, &error);
  g_assert_no_error (error);
  g_autofree gfloat *z_host = g_new (gfloat, L);
  g_assert_true (vv_diffusion_sample_host (head, sched, in.h_pos, in.h_neg, 1.3f, n_steps,
          in.noise, z_host, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (z_cpu, sizeof (gfloat) * L, z_host, sizeof (gfloat) * L);
  g_assert_true (vv_scheduler_get_backend (sched) == sim);
  inputs_clear (&in);
}

/* The head alone on a batch of 3 conditions, cpu against sim. */
static void
test_head_cpu_sim (void)
{
  const VvConfig *cfg = vv_model_get_config (model);
  gint H_lm = cfg->lm.hidden_size, L = cfg->head.latent_size;
  g_autoptr (GRand) r = g_rand_new_with_seed (5);
  g_autofree gfloat *h = g_new (gfloat, 3 * H_lm), *x = g_new (gfloat, 3 * L);
  for (gint i = 0; i < 3 * H_lm; i++)
    h[i] = (gfloat) g_rand_double_range (r, -2, 2);
  for (gint i = 0; i < 3 * L; i++)
    x[i] = (gfloat) g_rand_double_range (r, -2, 2);
  gfloat *v[2] = { g_new (gfloat, 3 * L), g_new (gfloat, 3 * L) };
  VvBackend *bes[2] = { cpu, sim };
  for (gint b = 0; b < 2; b++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (VvDiffusionHead) head = vv_diffusion_head_new_full (model, bes[b], 3, &error);
    g_assert_no_error (error);
    g_assert_cmpint (vv_diffusion_head_get_max_rows (head), ==, 3);
    g_autoptr (VvTensor) dh = upload (bes[b], h, 3, H_lm);
    g_autoptr (VvTensor) dx = upload (bes[b], x, 3, L);
    g_autoptr (VvTensor) dv = new_2d (bes[b], 3, L);
    g_assert_true (vv_diffusion_head_set_condition (head, dh, &error));
    g_assert_no_error (error);
    g_assert_true (vv_diffusion_head_forward (head, dx, 500.0f, dv, &error));
    g_assert_no_error (error);
    download (bes[b], dv, v[b]);
  }
  g_assert_cmpmem (v[0], sizeof (gfloat) * 3 * L, v[1], sizeof (gfloat) * 3 * L);
  g_free (v[0]);
  g_free (v[1]);
}

/* Scratch is allocated once for max_rows: more conditions are refused
 * (naming the limit), as are tensors of the wrong shape or device. */
static void
test_head_limits (void)
{
  const VvConfig *cfg = vv_model_get_config (model);
  gint H_lm = cfg->lm.hidden_size, L = cfg->head.latent_size;
  g_autoptr (GError) error = NULL;
  g_autoptr (VvDiffusionHead) head = vv_diffusion_head_new (model, sim, &error);
  g_assert_no_error (error);
  g_assert_cmpint (vv_diffusion_head_get_max_rows (head), ==, 2);
  g_autofree gfloat *h = g_new0 (gfloat, 3 * H_lm);
  g_autoptr (VvTensor) h3 = upload (sim, h, 3, H_lm);
  g_assert_false (vv_diffusion_head_set_condition (head, h3, &error));
  g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "max_rows"));
  g_assert_nonnull (strstr (error->message, "≤ 2"));
  g_clear_error (&error);
  g_assert_false (vv_diffusion_head_set_condition_host (head, h, 3, &error));
  g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "1 to 2 rows"));
  g_clear_error (&error);

  g_assert_null (vv_diffusion_head_new_full (model, sim, VV_DIFFUSION_HEAD_MAX_ROWS + 1, &error));
  g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "1 to 1024"));
  g_clear_error (&error);

  /* host memory handed to a sim head: the backend refuses it */
  g_autoptr (VvTensor) h2 = upload (sim, h, 2, H_lm);
  g_assert_true (vv_diffusion_head_set_condition (head, h2, &error));
  g_assert_no_error (error);
  g_autofree gfloat *x = g_new0 (gfloat, 2 * L);
  VvTensor hx, hv;
  gint64 shape[2] = { 2, L };
  vv_tensor_init_view (&hx, VV_DTYPE_F32, 2, shape, x);
  vv_tensor_init_view (&hv, VV_DTYPE_F32, 2, shape, x);
  g_assert_false (vv_diffusion_head_forward (head, &hx, 1.0f, &hv, &error));
  g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_DEVICE);
  g_clear_error (&error);
  /* x with the wrong row count */
  g_autoptr (VvTensor) x1 = new_2d (sim, 1, L);
  g_autoptr (VvTensor) v2 = new_2d (sim, 2, L);
  g_assert_false (vv_diffusion_head_forward (head, x1, 1.0f, v2, &error));
  g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE);
  g_clear_error (&error);

  /* a 1-row head cannot do CFG */
  g_autoptr (VvDiffusionHead) one = vv_diffusion_head_new_full (model, sim, 1, &error);
  g_assert_no_error (error);
  g_autoptr (VvScheduler) sched = vv_scheduler_new (3, L, &error);
  g_autoptr (VvTensor) hp = new_2d (sim, 1, H_lm);
  g_autoptr (VvTensor) z = new_2d (sim, 1, L);
  g_assert_false (vv_diffusion_sample (one, sched, hp, hp, 1.3f, 3, z, z, &error));
  g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "CFG needs 2"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_autoptr (GError) error = NULL;
  vv_test_make_checkpoint (3, &tmp_root, &model_dir, &model, &env_backend);
  cpu = vv_backend_new_by_name ("cpu", 2, &error);
  g_assert_no_error (error);
  sim = vv_backend_new_by_name ("sim", 2, &error);
  g_assert_no_error (error);

  g_test_add_data_func ("/device-blocks/sample/1", GINT_TO_POINTER (1), test_sample_cpu_sim);
  g_test_add_data_func ("/device-blocks/sample/5", GINT_TO_POINTER (5), test_sample_cpu_sim);
  g_test_add_data_func ("/device-blocks/sample/10", GINT_TO_POINTER (10), test_sample_cpu_sim);
  g_test_add_func ("/device-blocks/head", test_head_cpu_sim);
  g_test_add_func ("/device-blocks/head-limits", test_head_limits);
  gint ret = g_test_run ();

  vv_backend_free (cpu);
  vv_backend_free (sim);
  vv_test_free_checkpoint (tmp_root, model_dir, model, env_backend);
  return ret;
}
