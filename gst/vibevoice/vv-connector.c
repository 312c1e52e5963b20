/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-connector.h"

#include <string.h>

#define CONNECTOR_RMS_EPS 1e-6f   /* hard-coded in the reference, §12.7 */

struct _VvConnector {
  VvBackend *be;
  const VvTensor *fc1_w, *fc1_b, *norm_w, *fc2_w, *fc2_b;
  gint d_in, d_out;
  VvTensor *hidden, *normed;    /* scratch, grown to the largest n_rows seen */
};

void
vv_connector_free (VvConnector *conn)
{
  if (conn == NULL)
    return;
  vv_tensor_free (conn->hidden);
  vv_tensor_free (conn->normed);
  g_free (conn);
}

/**
 * vv_connector_new: (skip)
 * @model: a loaded model (must outlive the connector)
 * @be: a host backend
 * @kind: which connector
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the connector
 */
VvConnector *
vv_connector_new (VvModel *model, VvBackend *be, VvSpeechTokenizerKind kind, GError **error)
{
  if (!vv_backend_is_host (be)) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE,
        "connector: backend '%s' is not supported yet (host backends only)", vv_backend_get_name (be));
    return NULL;
  }
  const gchar *root = kind == VV_SPEECH_TOKENIZER_ACOUSTIC ? "model.acoustic_connector"
      : "model.semantic_connector";
  g_autoptr (VvConnector) c = g_new0 (VvConnector, 1);
  c->be = be;
  const VvTensor **slots[] = { &c->fc1_w, &c->fc1_b, &c->norm_w, &c->fc2_w, &c->fc2_b };
  const gchar *names[] = { "fc1.weight", "fc1.bias", "norm.weight", "fc2.weight", "fc2.bias" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    g_autofree gchar *name = g_strdup_printf ("%s.%s", root, names[i]);
    *slots[i] = vv_model_require_tensor (model, name, error);
    if (*slots[i] == NULL)
      return NULL;
  }
  c->d_in = (gint) c->fc1_w->shape[1];
  c->d_out = (gint) c->fc2_w->shape[0];
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

/**
 * vv_connector_forward: (skip)
 * @conn: a connector
 * @x: (array): n_rows × input_dim floats
 * @n_rows: number of rows
 * @out: (array): n_rows × output_dim floats
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
vv_connector_forward (VvConnector *conn, const gfloat *x, gsize n_rows, gfloat *out,
    GError **error)
{
  if (x == NULL || out == NULL || n_rows == 0 || n_rows > G_MAXINT32) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "connector: need 1..%d rows of input and an output buffer", G_MAXINT32);
    return FALSE;
  }
  if (conn->hidden == NULL || conn->hidden->shape[0] < (gint64) n_rows) {
    vv_tensor_free (conn->hidden);
    vv_tensor_free (conn->normed);
    conn->hidden = vv_tensor_new_2d (VV_DTYPE_F32, n_rows, conn->d_out);
    conn->normed = vv_tensor_new_2d (VV_DTYPE_F32, n_rows, conn->d_out);
    if (conn->hidden == NULL || conn->normed == NULL) {
      g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_NO_MEMORY,
          "connector: out of memory for %" G_GSIZE_FORMAT " rows", n_rows);
      return FALSE;
    }
  }
  VvTensor xin, h, nrm, y;
  gint64 in_shape[2] = { (gint64) n_rows, conn->d_in };
  gint64 out_shape[2] = { (gint64) n_rows, conn->d_out };
  vv_tensor_init_view (&xin, VV_DTYPE_F32, 2, in_shape, (gpointer) x);
  vv_tensor_init_view (&h, VV_DTYPE_F32, 2, out_shape, conn->hidden->data);
  vv_tensor_init_view (&nrm, VV_DTYPE_F32, 2, out_shape, conn->normed->data);
  vv_tensor_init_view (&y, VV_DTYPE_F32, 2, out_shape, out);
  return vv_backend_linear (conn->be, &h, &xin, conn->fc1_w, conn->fc1_b, error) &&
      vv_backend_rms_norm (conn->be, &nrm, &h, conn->norm_w, CONNECTOR_RMS_EPS, error) &&
      vv_backend_linear (conn->be, &y, &nrm, conn->fc2_w, conn->fc2_b, error);
}
