/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-connector.h"

#include <string.h>

/*
 * Device-resident (issue 9): weights from the model's store for the
 * backend's device, scratch as device tensors (allocated at construction
 * for one row, the per-frame case, and grown only at the start of a call
 * that brings more rows: they hold nothing between calls).
 */

#define CONNECTOR_RMS_EPS 1e-6f   /* hard-coded in the reference, §12.7 */

struct _VvConnector {
  VvBackend *be;
  const VvTensor *fc1_w, *fc1_b, *norm_w, *fc2_w, *fc2_b;
  gint d_in, d_out;
  gint64 rows;                  /* capacity of the scratch */
  VvTensor *hidden, *normed;    /* device scratch [rows, d_out] */
  VvTensor *io_in, *io_out;     /* device staging of the _host API */
};

void
vv_connector_free (VvConnector *conn)
{
  if (conn == NULL)
    return;
  vv_tensor_free (conn->hidden);
  vv_tensor_free (conn->normed);
  vv_tensor_free (conn->io_in);
  vv_tensor_free (conn->io_out);
  g_free (conn);
}

static gboolean
ensure_scratch (VvConnector *c, gint64 rows, GError **error)
{
  if (rows <= c->rows)
    return TRUE;
  g_clear_pointer (&c->hidden, vv_tensor_free);
  g_clear_pointer (&c->normed, vv_tensor_free);
  c->rows = 0;
  gint64 shape[2] = { rows, c->d_out };
  if ((c->hidden = vv_backend_tensor_new (c->be, VV_DTYPE_F32, 2, shape, error)) == NULL
      || (c->normed = vv_backend_tensor_new (c->be, VV_DTYPE_F32, 2, shape, error)) == NULL) {
    g_prefix_error (error, "connector: scratch for %" G_GINT64_FORMAT " rows: ", rows);
    return FALSE;
  }
  c->rows = rows;
  return TRUE;
}

/**
 * vv_connector_new: (skip)
 * @model: a loaded model (must outlive the connector)
 * @be: the backend to run on (any device)
 * @kind: which connector
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the connector
 */
VvConnector *
vv_connector_new (VvModel *model, VvBackend *be, VvSpeechTokenizerKind kind, GError **error)
{
  const gchar *root = kind == VV_SPEECH_TOKENIZER_ACOUSTIC ? "model.acoustic_connector"
      : "model.semantic_connector";
  g_autoptr (VvConnector) c = g_new0 (VvConnector, 1);
  c->be = be;
  const VvTensor **slots[] = { &c->fc1_w, &c->fc1_b, &c->norm_w, &c->fc2_w, &c->fc2_b };
  const gchar *names[] = { "fc1.weight", "fc1.bias", "norm.weight", "fc2.weight", "fc2.bias" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    g_autofree gchar *name = g_strdup_printf ("%s.%s", root, names[i]);
    *slots[i] = vv_model_require_tensor_on (model, be, name, error);
    if (*slots[i] == NULL)
      return NULL;
  }
  if (c->fc1_w->ndim != 2 || c->fc2_w->ndim != 2) {
    g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_TENSOR_SHAPE,
        "connector: %s.fc1.weight and fc2.weight must be 2-D", root);
    return NULL;
  }
  c->d_in = (gint) c->fc1_w->shape[1];
  c->d_out = (gint) c->fc2_w->shape[0];
  if (!ensure_scratch (c, 1, error))
    return NULL;
  return g_steal_pointer (&c);
}

gint
vv_connector_get_input_dim (VvConnector *conn)
{
  return conn->d_in;
}

gint
vv_connector_get_output_dim (VvConnector *conn)
{
  return conn->d_out;
}

static gboolean
check_rows (gint64 n_rows, GError **error)
{
  if (n_rows < 1 || n_rows > G_MAXINT32) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "connector: need 1..%d rows of input, got %" G_GINT64_FORMAT, G_MAXINT32, n_rows);
    return FALSE;
  }
  return TRUE;
}

/**
 * vv_connector_forward: (skip)
 * @conn: a connector
 * @x: F32 [n, input_dim] in the connector backend's memory
 * @y: F32 [n, output_dim] in the connector backend's memory
 * @error: return location for a #GError
 *
 * fc1 → RMSNorm → fc2, on the device only (no host transfer).
 *
 * Returns: %TRUE on success
 */
gboolean
vv_connector_forward (VvConnector *conn, const VvTensor *x, VvTensor *y, GError **error)
{
  if (x == NULL || y == NULL || x->ndim != 2 || y->ndim != 2
      || x->shape[1] != conn->d_in || y->shape[1] != conn->d_out
      || x->shape[0] != y->shape[0]) {
    g_autofree gchar *sx = x ? vv_tensor_shape_string (x) : g_strdup ("(missing)");
    g_autofree gchar *sy = y ? vv_tensor_shape_string (y) : g_strdup ("(missing)");
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "connector: x %s and y %s must be [n, %d] and [n, %d]", sx, sy, conn->d_in,
        conn->d_out);
    return FALSE;
  }
  gint64 n = x->shape[0];
  if (!check_rows (n, error) || !ensure_scratch (conn, n, error))
    return FALSE;
  VvTensor h, nrm;
  vv_tensor_init_rows (&h, conn->hidden, 0, n);
  vv_tensor_init_rows (&nrm, conn->normed, 0, n);
  return vv_backend_linear (conn->be, &h, x, conn->fc1_w, conn->fc1_b, error) &&
      vv_backend_rms_norm (conn->be, &nrm, &h, conn->norm_w, CONNECTOR_RMS_EPS, error) &&
      vv_backend_linear (conn->be, y, &nrm, conn->fc2_w, conn->fc2_b, error);
}

/* Host memory as is on host backends, else a device staging tensor (grown
 * between calls) viewed as [rows, cols]. */
static gboolean
io_bind (VvConnector *c, VvTensor **stage, gpointer host, gint64 rows, gint64 cols,
    VvTensor *v, GError **error)
{
  gint64 shape[2] = { rows, cols };
  if (vv_backend_is_host (c->be)) {
    vv_tensor_init_view (v, VV_DTYPE_F32, 2, shape, host);
    return TRUE;
  }
  if (*stage == NULL || vv_tensor_n_elements (*stage) < rows * cols) {
    g_clear_pointer (stage, vv_tensor_free);
    gint64 n = rows * cols;
    if ((*stage = vv_backend_tensor_new (c->be, VV_DTYPE_F32, 1, &n, error)) == NULL)
      return FALSE;
  }
  vv_tensor_init_view (v, VV_DTYPE_F32, 2, shape, (*stage)->data);
  v->device = (*stage)->device;
  return TRUE;
}

/**
 * vv_connector_forward_host: (skip)
 * @conn: a connector
 * @x: (array): n_rows × input_dim floats, host memory
 * @n_rows: number of rows
 * @out: (array): n_rows × output_dim floats, host memory
 * @error: return location for a #GError
 *
 * vv_connector_forward() on host memory.
 *
 * Returns: %TRUE on success
 */
gboolean
vv_connector_forward_host (VvConnector *conn, const gfloat *x, gsize n_rows, gfloat *out,
    GError **error)
{
  if (x == NULL || out == NULL || n_rows == 0 || n_rows > G_MAXINT32) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "connector: need 1..%d rows of input and an output buffer", G_MAXINT32);
    return FALSE;
  }
  gint64 n = (gint64) n_rows;
  gboolean host = vv_backend_is_host (conn->be);
  VvTensor xin, y;
  return io_bind (conn, &conn->io_in, (gpointer) x, n, conn->d_in, &xin, error)
      && (host || vv_backend_tensor_set (conn->be, &xin, 0, x, vv_tensor_n_bytes (&xin), error))
      && io_bind (conn, &conn->io_out, out, n, conn->d_out, &y, error)
      && vv_connector_forward (conn, &xin, &y, error)
      && (host || vv_backend_tensor_get (conn->be, &y, 0, out, vv_tensor_n_bytes (&y), error));
}
