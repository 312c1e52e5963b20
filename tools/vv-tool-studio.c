/* gst-vibevoice — `vibevoice studio`: a web page to write a dialogue, pick
 * voices and hear it as it is generated.
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * An HTTP server (libsoup 3) that serves the page (a GResource, so the
 * binary needs no data folder) and a small JSON API (docs/STUDIO.md). Each
 * job is one pipeline
 *
 *   appsrc (the script) ! vvtts ! audioconvert ! S16LE 24 kHz mono ! appsink
 *
 * and every pipeline is given the server's one VvEngine through the
 * `vv.engine` context before it starts, so the weights are loaded once and
 * all jobs share one thread pool (the backend serialises their ops). The
 * appsink posts each buffer on the pipeline's bus, so all job state lives in
 * the main loop: audio, progress and the vv-utterance messages arrive there
 * in stream order and are appended to the job and to the chunked HTTP
 * responses streaming it.
 */
#include "vv-tool.h"
#include "vv-build-config.h"

#include <gst/gst.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <gio/gio.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define STUDIO_RATE 24000
#define STUDIO_FRAME_SAMPLES 3200
/* Finished jobs kept for download (their audio stays in memory). */
#define STUDIO_KEEP_FINISHED 8
/* JSON requests (a script and its settings); the script itself is further
 * bounded by --max-script-bytes. */
#define STUDIO_MAX_JSON_BYTES (2 * 1024 * 1024)
#define STUDIO_MAX_NAME 64
#define STUDIO_UPLOAD_DECODE_TIMEOUT_S 30

GResource *vv_studio_get_resource (void);

typedef enum {
  JOB_QUEUED,
  JOB_RUNNING,
  JOB_DONE,
  JOB_FAILED,
  JOB_STOPPED,
} JobState;

static const gchar *const job_state_names[] = { "queued", "running", "done", "failed", "stopped" };

typedef struct _Studio Studio;

typedef struct {
  guint index, frames;
  gdouble audio_seconds, processing_seconds, rtf;
  gdouble first_frame_latency_ms;
  gchar *stop_reason;
} Utterance;

typedef struct {
  Studio *studio;
  guint id;
  JobState state;
  gchar *script;
  gchar *voices_spec;
  gint steps;
  gdouble cfg;
  gint64 seed;
  guint max_turns;
  /* progress estimate from the script (see estimate_windows) */
  guint windows_expected;
  GArray *window_est_frames;    /* guint per expected window */
  guint frames, frames_in_window;
  GArray *utterances;           /* Utterance */
  gchar *error;
  GstElement *pipeline;
  GByteArray *pcm;              /* S16LE mono 24 kHz, everything so far */
  GList *streams;               /* Stream */
  gboolean had_stream;
  gint64 t_created, t_started, t_first_audio, t_finished;
} Job;

typedef struct {
  Job *job;
  SoupServerMessage *msg;
  GSource *hup;                 /* watches the socket for the client closing it */
  gsize offset;
  gboolean completed;
} Stream;

struct _Studio {
  SoupServer *server;
  GMainLoop *loop;
  VvModel *model;
  VvEngine *engine;
  VvTokenizer *tokenizer;
  gchar *voices_dir;
  gchar *uploads_dir;
  GHashTable *jobs;             /* id -> Job */
  GQueue queue;                 /* queued Job */
  GQueue finished;              /* finished Job, oldest first */
  guint n_running;
  guint next_id;
  /* limits */
  guint max_running, max_queue;
  gsize max_upload_bytes, max_script_bytes;
  gdouble max_upload_seconds, max_job_seconds;
  guint max_frames;
  gboolean shutting_down;
  gboolean loopback;            /* listening on a loopback address only */
  guint pending_teardowns;      /* pipelines going to NULL off the main loop */
};

/* ---- JSON replies ---- */

static void
reply_node (SoupServerMessage *msg, guint status, JsonNode *node)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_root (gen, node);
  gsize len = 0;
  gchar *text = json_generator_to_data (gen, &len);
  soup_server_message_set_status (msg, status, NULL);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
      "Cache-Control", "no-store");
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, text, len);
}

static void
reply_builder (SoupServerMessage *msg, guint status, JsonBuilder *b)
{
  JsonNode *root = json_builder_get_root (b);
  reply_node (msg, status, root);
  json_node_unref (root);
}

/* Every 4xx/5xx is {"error": MESSAGE, "field": FIELD[, "line": N]}. */
static void
reply_error (SoupServerMessage *msg, guint status, const gchar *field, guint line,
    const gchar *format, ...) G_GNUC_PRINTF (5, 6);

static void
reply_error (SoupServerMessage *msg, guint status, const gchar *field, guint line,
    const gchar *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree gchar *text = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "error");
  json_builder_add_string_value (b, text);
  if (field != NULL) {
    json_builder_set_member_name (b, "field");
    json_builder_add_string_value (b, field);
  }
  if (line > 0) {
    json_builder_set_member_name (b, "line");
    json_builder_add_int_value (b, line);
  }
  json_builder_end_object (b);
  reply_builder (msg, status, b);
}

/* ---- voices ---- */

static const gchar *const audio_suffixes[] = {
  ".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".webm", ".aiff", ".aif",
  NULL
};

/* Names are what the API and the page use for a voice file; they cannot
 * hold a path separator or "..", so they never name a file outside the
 * folders (and lookups only match names listed from the folders anyway). */
static gboolean
valid_name (const gchar *name)
{
  gsize n = strlen (name);
  if (n == 0 || n > STUDIO_MAX_NAME || !g_ascii_isalnum (name[0]) || strstr (name, ".."))
    return FALSE;
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isalnum (name[i]) && name[i] != '-' && name[i] != '_' && name[i] != '.')
      return FALSE;
  return TRUE;
}

/* name -> absolute path, for the audio files of @dir (not recursive). */
static void
list_voices_in (GHashTable *out, const gchar *dir, gboolean uploaded, GHashTable *kinds)
{
  if (dir == NULL)
    return;
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  if (d == NULL)
    return;
  const gchar *file;
  while ((file = g_dir_read_name (d)) != NULL) {
    g_autofree gchar *lower = g_ascii_strdown (file, -1);
    for (guint i = 0; audio_suffixes[i]; i++) {
      if (!g_str_has_suffix (lower, audio_suffixes[i]))
        continue;
      g_autofree gchar *name = g_strndup (file, strlen (file) - strlen (audio_suffixes[i]));
      g_autofree gchar *path = g_build_filename (dir, file, NULL);
      if (valid_name (name) && g_file_test (path, G_FILE_TEST_IS_REGULAR)
          && !g_hash_table_contains (out, name)) {
        if (kinds)
          g_hash_table_insert (kinds, g_strdup (name), GINT_TO_POINTER (uploaded));
        g_hash_table_insert (out, g_steal_pointer (&name), g_steal_pointer (&path));
      }
      break;
    }
  }
}

static GHashTable *
list_voices (Studio *s, GHashTable *kinds)
{
  GHashTable *t = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  list_voices_in (t, s->voices_dir, FALSE, kinds);
  list_voices_in (t, s->uploads_dir, TRUE, kinds);
  return t;
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const gchar **) a, *(const gchar **) b);
}

static void
add_voice_list (Studio *s, JsonBuilder *b)
{
  g_autoptr (GHashTable) kinds = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GHashTable) voices = list_voices (s, kinds);
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, voices);
  while (g_hash_table_iter_next (&it, &key, NULL))
    g_ptr_array_add (names, key);
  g_ptr_array_sort (names, compare_strings);
  json_builder_begin_array (b);
  for (guint i = 0; i < names->len; i++) {
    const gchar *name = names->pdata[i];
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "name");
    json_builder_add_string_value (b, name);
    json_builder_set_member_name (b, "uploaded");
    json_builder_add_boolean_value (b, GPOINTER_TO_INT (g_hash_table_lookup (kinds, name)));
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
}

/* ---- jobs ---- */

static void job_finish (Job *job, JobState state, const gchar *error);
static void schedule (Studio *s);

static void
utterance_clear (gpointer p)
{
  g_free (((Utterance *) p)->stop_reason);
}

static void
job_free (Job *job)
{
  g_assert (job->pipeline == NULL && job->streams == NULL);
  g_free (job->script);
  g_free (job->voices_spec);
  g_free (job->error);
  g_array_unref (job->window_est_frames);
  g_array_unref (job->utterances);
  g_byte_array_unref (job->pcm);
  g_free (job);
}

static gint
job_position (Job *job)
{
  if (job->state != JOB_QUEUED)
    return 0;
  gint i = g_queue_index (&job->studio->queue, job);
  return i < 0 ? 0 : i + 1;
}

static gdouble
job_progress (Job *job)
{
  if (job->state == JOB_DONE)
    return 1.0;
  if (job->windows_expected == 0)
    return 0.0;
  /* windows finished, plus the current one's frames against a length
   * estimated from its text (capped: the model decides when it ends) */
  guint done = MIN (job->utterances->len, job->windows_expected);
  gdouble p = done;
  if (done < job->windows_expected) {
    guint est = g_array_index (job->window_est_frames, guint, done);
    p += MIN (0.95, (gdouble) job->frames_in_window / MAX (est, 1));
  }
  return MIN (p / job->windows_expected, 0.99);
}

static gdouble
ms_between (gint64 a, gint64 b)
{
  return a > 0 && b > 0 ? (b - a) / 1000.0 : -1.0;
}

static void
add_double (JsonBuilder *b, const gchar *name, gdouble v)
{
  json_builder_set_member_name (b, name);
  if (v < 0)
    json_builder_add_null_value (b);
  else
    json_builder_add_double_value (b, v);
}

static void
add_job (JsonBuilder *b, Job *job)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_int_value (b, job->id);
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, job_state_names[job->state]);
  json_builder_set_member_name (b, "position");
  json_builder_add_int_value (b, job_position (job));
  json_builder_set_member_name (b, "error");
  if (job->error)
    json_builder_add_string_value (b, job->error);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "frames");
  json_builder_add_int_value (b, job->frames);
  json_builder_set_member_name (b, "audio_seconds");
  json_builder_add_double_value (b, job->pcm->len / 2.0 / STUDIO_RATE);
  json_builder_set_member_name (b, "progress");
  json_builder_add_double_value (b, job_progress (job));
  json_builder_set_member_name (b, "windows_expected");
  json_builder_add_int_value (b, job->windows_expected);
  /* server-side times: queued -> started, started -> first audio buffer at
   * the appsink, started -> end */
  add_double (b, "queued_ms", ms_between (job->t_created, job->t_started));
  add_double (b, "first_audio_ms", ms_between (job->t_started, job->t_first_audio));
  add_double (b, "elapsed_ms", ms_between (job->t_started,
          job->t_finished ? job->t_finished : g_get_monotonic_time ()));
  json_builder_set_member_name (b, "utterances");
  json_builder_begin_array (b);
  for (guint i = 0; i < job->utterances->len; i++) {
    Utterance *u = &g_array_index (job->utterances, Utterance, i);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "index");
    json_builder_add_int_value (b, u->index);
    json_builder_set_member_name (b, "frames");
    json_builder_add_int_value (b, u->frames);
    add_double (b, "audio_seconds", u->audio_seconds);
    add_double (b, "processing_seconds", u->processing_seconds);
    add_double (b, "real_time_factor", u->rtf);
    add_double (b, "first_frame_latency_ms", u->first_frame_latency_ms);
    json_builder_set_member_name (b, "stop_reason");
    json_builder_add_string_value (b, u->stop_reason);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  g_autofree gchar *audio = g_strdup_printf ("/api/jobs/%u/audio", job->id);
  g_autofree gchar *wav = g_strdup_printf ("/api/jobs/%u/wav", job->id);
  json_builder_set_member_name (b, "audio_url");
  json_builder_add_string_value (b, audio);
  json_builder_set_member_name (b, "wav_url");
  json_builder_add_string_value (b, wav);
  json_builder_end_object (b);
}

static void
reply_job (SoupServerMessage *msg, guint status, Job *job)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  add_job (b, job);
  reply_builder (msg, status, b);
}

/* 44-byte canonical WAV header for S16LE mono 24 kHz; @data_bytes
 * G_MAXUINT32 for a stream of unknown length. */
static void
wav_header (guint8 h[44], guint32 data_bytes)
{
  guint32 riff = data_bytes == G_MAXUINT32 ? G_MAXUINT32 : data_bytes + 36;
  guint32 v;
  memcpy (h, "RIFF", 4);
  v = GUINT32_TO_LE (riff);
  memcpy (h + 4, &v, 4);
  memcpy (h + 8, "WAVEfmt ", 8);
  v = GUINT32_TO_LE (16);
  memcpy (h + 16, &v, 4);
  guint16 fmt[2] = { GUINT16_TO_LE (1), GUINT16_TO_LE (1) };     /* PCM, mono */
  memcpy (h + 20, fmt, 4);
  v = GUINT32_TO_LE (STUDIO_RATE);
  memcpy (h + 24, &v, 4);
  v = GUINT32_TO_LE (STUDIO_RATE * 2);
  memcpy (h + 28, &v, 4);
  guint16 align[2] = { GUINT16_TO_LE (2), GUINT16_TO_LE (16) };
  memcpy (h + 32, align, 4);
  memcpy (h + 36, "data", 4);
  v = GUINT32_TO_LE (data_bytes);
  memcpy (h + 40, &v, 4);
}

/* Sends what @st has not sent yet; completes the response when the job is
 * over. */
static void
stream_push (Stream *st)
{
  Job *job = st->job;
  if (st->completed)
    return;
  SoupMessageBody *body = soup_server_message_get_response_body (st->msg);
  gboolean sent = FALSE;
  if (st->offset < job->pcm->len) {
    soup_message_body_append (body, SOUP_MEMORY_COPY, job->pcm->data + st->offset,
        job->pcm->len - st->offset);
    st->offset = job->pcm->len;
    sent = TRUE;
  }
  if (job->state >= JOB_DONE) {
    soup_message_body_complete (body);
    st->completed = TRUE;
    sent = TRUE;
  }
  if (sent)
    soup_server_message_unpause (st->msg);
}

static void
job_push_streams (Job *job)
{
  for (GList *l = job->streams; l; l = l->next)
    stream_push (l->data);
}

static void
on_stream_finished (SoupServerMessage *msg, gpointer user_data)
{
  Stream *st = user_data;
  Job *job = st->job;
  job->streams = g_list_remove (job->streams, st);
  g_signal_handlers_disconnect_by_data (msg, st);
  if (st->hup) {
    g_source_destroy (st->hup);
    g_source_unref (st->hup);
  }
  gboolean client_left = !st->completed;
  g_object_unref (st->msg);
  g_free (st);
  /* The page streams every job it starts: when the last listener goes away
   * (tab closed, fetch aborted) nobody will hear the rest, so stop it. */
  if (client_left && job->streams == NULL && job->state <= JOB_RUNNING)
    job_finish (job, JOB_STOPPED, "the audio stream was closed by the client");
}

/* While a response streams, libsoup does not read the connection, so a
 * closed tab would only be noticed at the next write, and a job that has
 * not made audio yet would run on. Watch the socket instead: readable with
 * nothing to read is the client's FIN. */
static gboolean
on_stream_socket (GSocket *sock, GIOCondition cond, gpointer user_data)
{
  Stream *st = user_data;
  gchar byte;
  GInputVector v = { &byte, 1 };
  gint flags = G_SOCKET_MSG_PEEK;
  g_autoptr (GError) error = NULL;
  gssize n = (cond & (G_IO_HUP | G_IO_ERR)) ? 0 : g_socket_receive_message (sock, NULL, &v, 1,
      NULL, NULL, &flags, NULL, &error);
  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return G_SOURCE_CONTINUE;
  /* data (a pipelined request) is libsoup's to read: stop watching */
  g_clear_pointer (&st->hup, g_source_unref);
  if (n <= 0 && st->job->state <= JOB_RUNNING)
    job_finish (st->job, JOB_STOPPED, "the audio stream was closed by the client");
  return G_SOURCE_REMOVE;
}

static void
handle_audio (Studio *s, Job *job, SoupServerMessage *msg)
{
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  soup_message_headers_set_encoding (h, SOUP_ENCODING_CHUNKED);
  soup_message_headers_set_content_type (h, "audio/wav", NULL);
  soup_message_headers_replace (h, "Cache-Control", "no-store");
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  SoupMessageBody *body = soup_server_message_get_response_body (msg);
  /* chunks are dropped once written: the job keeps its own copy */
  soup_message_body_set_accumulate (body, FALSE);
  guint8 hdr[44];
  wav_header (hdr, G_MAXUINT32);
  soup_message_body_append (body, SOUP_MEMORY_COPY, hdr, sizeof hdr);
  Stream *st = g_new0 (Stream, 1);
  st->job = job;
  st->msg = g_object_ref (msg);
  job->streams = g_list_prepend (job->streams, st);
  job->had_stream = TRUE;
  g_signal_connect (msg, "finished", G_CALLBACK (on_stream_finished), st);
  GSocket *sock = soup_server_message_get_socket (msg);
  if (sock != NULL && job->state <= JOB_RUNNING) {
    st->hup = g_socket_create_source (sock, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
    g_source_set_callback (st->hup, G_SOURCE_FUNC (on_stream_socket), st, NULL);
    g_source_attach (st->hup, NULL);
  }
  /* not paused: libsoup writes the headers and the WAV header now, and
   * waits by itself when the chunked body runs dry (stream_push unpauses it
   * when there is more) */
  stream_push (st);
}

static void
handle_wav (Job *job, SoupServerMessage *msg)
{
  if (job->state != JOB_DONE && job->state != JOB_STOPPED) {
    reply_error (msg, SOUP_STATUS_CONFLICT, "id", 0, "job %u is %s: the WAV is ready when "
        "it is done (stream it from /api/jobs/%u/audio)", job->id,
        job_state_names[job->state], job->id);
    return;
  }
  gsize len = 44 + job->pcm->len;
  guint8 *data = g_malloc (len);
  wav_header (data, job->pcm->len);
  memcpy (data + 44, job->pcm->data, job->pcm->len);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  g_autofree gchar *disp = g_strdup_printf ("attachment; filename=\"studio-%u.wav\"", job->id);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
      "Content-Disposition", disp);
  soup_server_message_set_response (msg, "audio/wav", SOUP_MEMORY_TAKE, (gchar *) data, len);
}

static void
on_audio (Job *job, GstBuffer *buf)
{
  Studio *s = job->studio;
  GstMapInfo map;
  if (!gst_buffer_map (buf, &map, GST_MAP_READ))
    return;
  gsize max_bytes = (gsize) (s->max_job_seconds * STUDIO_RATE) * 2;
  if (job->pcm->len + map.size > max_bytes) {
    gst_buffer_unmap (buf, &map);
    g_autofree gchar *e = g_strdup_printf ("the audio is longer than the limit of %.0f s "
        "(--max-job-seconds)", s->max_job_seconds);
    job_finish (job, JOB_FAILED, e);
    return;
  }
  if (job->t_first_audio == 0 && map.size > 0)
    job->t_first_audio = g_get_monotonic_time ();
  g_byte_array_append (job->pcm, map.data, (guint) map.size);
  gst_buffer_unmap (buf, &map);
  job_push_streams (job);
}

static void
on_utterance (Job *job, const GstStructure *st)
{
  Utterance u = { 0 };
  guint64 ffl = 0;
  gst_structure_get_uint (st, "index", &u.index);
  gst_structure_get_uint (st, "frames", &u.frames);
  gst_structure_get_double (st, "audio-seconds", &u.audio_seconds);
  gst_structure_get_double (st, "processing-seconds", &u.processing_seconds);
  gst_structure_get_double (st, "real-time-factor", &u.rtf);
  /* an utterance without frames has no first frame (GST_CLOCK_TIME_NONE) */
  u.first_frame_latency_ms = gst_structure_get_uint64 (st, "first-frame-latency", &ffl)
      && GST_CLOCK_TIME_IS_VALID (ffl) ? ffl / 1e6 : -1.0;
  u.stop_reason = g_strdup (gst_structure_get_string (st, "stop-reason"));
  g_array_append_val (job->utterances, u);
  job->frames_in_window = 0;
}

static gboolean
on_bus (GstBus *bus, GstMessage *m, gpointer user_data)
{
  Job *job = user_data;
  if (job->pipeline == NULL)
    return G_SOURCE_REMOVE;
  switch (GST_MESSAGE_TYPE (m)) {
    case GST_MESSAGE_APPLICATION:{
      const GstStructure *st = gst_message_get_structure (m);
      const GValue *v = gst_structure_get_value (st, "buffer");
      if (v != NULL)
        on_audio (job, gst_value_get_buffer (v));
      break;
    }
    case GST_MESSAGE_ELEMENT:{
      const GstStructure *st = gst_message_get_structure (m);
      /* vv-progress after each token (vvdiffuse), vv-utterance after each
       * window (vvdiffuse; vvtts forwards its children's messages) */
      if (gst_structure_has_name (st, "vv-progress")) {
        guint frames = 0;
        if (gst_structure_get_uint (st, "frames", &frames)) {
          job->frames += frames > job->frames_in_window ? frames - job->frames_in_window : 0;
          job->frames_in_window = frames;
        }
      } else if (gst_structure_has_name (st, "vv-utterance")) {
        on_utterance (job, st);
      }
      break;
    }
    case GST_MESSAGE_ERROR:{
      g_autoptr (GError) err = NULL;
      g_autofree gchar *dbg = NULL;
      gst_message_parse_error (m, &err, &dbg);
      g_autofree gchar *text = dbg && *dbg ? g_strdup_printf ("%s (%s)", err->message, dbg)
          : g_strdup (err->message);
      job_finish (job, JOB_FAILED, text);
      return G_SOURCE_REMOVE;
    }
    case GST_MESSAGE_EOS:
      job_finish (job, JOB_DONE, NULL);
      return G_SOURCE_REMOVE;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

/* appsink streaming thread: hand the buffer to the main loop through the
 * bus, so it is ordered with the element messages. */
static GstFlowReturn
on_new_sample (GstAppSink *sink, gpointer user_data)
{
  GstSample *sample = gst_app_sink_pull_sample (sink);
  if (sample == NULL)
    return GST_FLOW_EOS;
  GstStructure *st = gst_structure_new ("studio-audio", "buffer", GST_TYPE_BUFFER,
      gst_sample_get_buffer (sample), NULL);
  gst_sample_unref (sample);
  gst_element_post_message (GST_ELEMENT (sink), gst_message_new_application (GST_OBJECT (sink),
          st));
  return GST_FLOW_OK;
}

static gboolean
job_start (Job *job, GError **error)
{
  Studio *s = job->studio;
  g_autoptr (GstElement) pipeline = gst_parse_launch ("appsrc name=src format=bytes "
      "caps=text/x-raw,format=utf8 ! vvtts name=tts ! audioconvert dithering=none ! "
      "audio/x-raw,format=S16LE,rate=24000,channels=1 ! appsink name=sink sync=false", error);
  if (pipeline == NULL)
    return FALSE;
  gst_object_ref_sink (pipeline);
  g_autoptr (GstElement) tts = gst_bin_get_by_name (GST_BIN (pipeline), "tts");
  g_autoptr (GstElement) src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_object_set (tts, "model", vv_model_get_dir (s->model), "voices", job->voices_spec,
      "steps", job->steps, "cfg-scale", (gfloat) job->cfg, "seed", job->seed,
      "max-frames", s->max_frames, "max-turns", job->max_turns, NULL);
  /* the server's engine: vvtokenize, vvdiffuse and vvvocode find it in
   * their own context and load nothing; vvtokenize also takes the
   * server's tokenizer from it */
  GstContext *ctx = gst_context_new ("vv.engine", TRUE);
  gst_structure_set (gst_context_writable_structure (ctx), "model", VV_TYPE_MODEL, s->model,
      "model-dir", G_TYPE_STRING, vv_model_get_dir (s->model), "engine", VV_TYPE_ENGINE,
      s->engine, "device", G_TYPE_STRING, vv_engine_get_device_name (s->engine),
      "tokenizer", VV_TYPE_TOKENIZER, s->tokenizer, "tokenizer-dir", G_TYPE_STRING,
      vv_tool_default_tokenizer_dir (), NULL);
  gst_element_set_context (pipeline, ctx);
  gst_context_unref (ctx);

  GstAppSinkCallbacks cb = { .new_sample = on_new_sample };
  gst_app_sink_set_callbacks (GST_APP_SINK (sink), &cb, NULL, NULL);
  gsize len = strlen (job->script);
  GstBuffer *buf = gst_buffer_new_memdup (job->script, len);
  if (gst_app_src_push_buffer (GST_APP_SRC (src), buf) != GST_FLOW_OK
      || gst_app_src_end_of_stream (GST_APP_SRC (src)) != GST_FLOW_OK) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot queue the script");
    return FALSE;
  }
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  gst_bus_add_watch (bus, on_bus, job);
  job->pipeline = g_steal_pointer (&pipeline);
  job->state = JOB_RUNNING;
  job->t_started = g_get_monotonic_time ();
  s->n_running++;
  if (gst_element_set_state (job->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    /* the ERROR message on the bus names the cause; it finishes the job */
    g_debug ("job %u: set_state PLAYING failed", job->id);
  }
  return TRUE;
}

static gboolean
teardown_done (gpointer user_data)
{
  Studio *s = user_data;
  s->pending_teardowns--;
  return G_SOURCE_REMOVE;
}

/* GStreamer's thread pool: PAUSED->READY waits for the streaming threads,
 * which finish the frame or voice encoding they are in (tens of ms to a
 * second); the main loop keeps serving meanwhile. */
static void
teardown_async (GstElement *pipeline, gpointer user_data)
{
  gst_element_set_state (pipeline, GST_STATE_NULL);
  g_main_context_invoke (NULL, teardown_done, user_data);
}

static void
job_finish (Job *job, JobState state, const gchar *error)
{
  Studio *s = job->studio;
  if (job->state >= JOB_DONE)
    return;
  if (job->state == JOB_QUEUED)
    g_queue_remove (&s->queue, job);
  if (job->pipeline != NULL) {
    /* PAUSED->READY aborts the generation between two frames; the job is
     * over now for the API and its slot is free */
    GstElement *p = g_steal_pointer (&job->pipeline);
    g_autoptr (GstBus) bus = gst_element_get_bus (p);
    gst_bus_remove_watch (bus);
    s->pending_teardowns++;
    gst_element_call_async (p, teardown_async, s, NULL);
    gst_object_unref (p);
    s->n_running--;
  }
  job->state = state;
  g_free (job->error);
  job->error = g_strdup (error);
  job->t_finished = g_get_monotonic_time ();
  g_print ("job %u: %s%s%s (%.2f s of audio)\n", job->id, job_state_names[state],
      error ? ": " : "", error ? error : "", job->pcm->len / 2.0 / STUDIO_RATE);
  job_push_streams (job);
  g_queue_push_tail (&s->finished, job);
  if (s->shutting_down)
    return;
  /* forget the oldest finished jobs nobody is streaming */
  for (GList *l = s->finished.head; l && s->finished.length > STUDIO_KEEP_FINISHED;) {
    Job *old = l->data;
    GList *next = l->next;
    if (old->streams == NULL) {
      g_queue_delete_link (&s->finished, l);
      g_hash_table_remove (s->jobs, GUINT_TO_POINTER (old->id));
    }
    l = next;
  }
  schedule (s);
}

static gboolean
schedule_idle (gpointer user_data)
{
  Studio *s = user_data;
  while (s->n_running < s->max_running && !g_queue_is_empty (&s->queue)) {
    Job *job = g_queue_pop_head (&s->queue);
    g_autoptr (GError) error = NULL;
    if (!job_start (job, &error)) {
      job->state = JOB_RUNNING;   /* so job_finish does not look in the queue */
      job_finish (job, JOB_FAILED, error->message);
    }
  }
  return G_SOURCE_REMOVE;
}

/* Starting a pipeline from inside a bus callback or a request handler is
 * fine, but finishing one there (a start error) would re-enter schedule:
 * start the next jobs from an idle callback. */
static void
schedule (Studio *s)
{
  g_idle_add (schedule_idle, s);
}

/* ---- POST /api/jobs ---- */

typedef struct {
  gchar *label;                 /* canonical */
  guint line;
} ScriptSpeaker;

/* Estimates the windows vvtokenize will make (a new one after each pause
 * and every max_turns turns) and each one's frames from its text: about 15
 * characters a second of speech at 7.5 frames a second. Only the progress
 * bar uses it. */
static void
estimate_windows (Job *job, GPtrArray *turns)
{
  guint chars = 0, in_window = 0;
  for (guint i = 0; i <= turns->len; i++) {
    VvDialogTurn *t = i < turns->len ? turns->pdata[i] : NULL;
    gboolean close = t == NULL || (in_window > 0 && (t->pause_ms > 0
            || (job->max_turns > 0 && in_window >= job->max_turns)));
    if (close && in_window > 0) {
      guint est = MAX (1, (guint) (chars / 15.0 * 7.5));
      g_array_append_val (job->window_est_frames, est);
      job->windows_expected++;
      chars = in_window = 0;
    }
    if (t != NULL && t->text[0] != '\0') {
      chars += g_utf8_strlen (t->text, -1);
      in_window++;
    }
  }
}

static gboolean
get_int_member (SoupServerMessage *msg, JsonObject *o, const gchar *name, gint64 lo, gint64 hi,
    gint64 *out)
{
  JsonNode *n = json_object_get_member (o, name);
  if (n == NULL || JSON_NODE_HOLDS_NULL (n))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64) {
    reply_error (msg, SOUP_STATUS_BAD_REQUEST, name, 0, "%s: must be an integer", name);
    return FALSE;
  }
  gint64 v = json_node_get_int (n);
  if (v < lo || v > hi) {
    reply_error (msg, SOUP_STATUS_BAD_REQUEST, name, 0, "%s: %" G_GINT64_FORMAT " is out of "
        "range [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "]", name, v, lo, hi);
    return FALSE;
  }
  *out = v;
  return TRUE;
}

/* The string member @name of @o, or NULL when it is absent or no string
 * (json-glib's getters are critical about the wrong node type). */
static const gchar *
member_string (JsonObject *o, const gchar *name)
{
  JsonNode *n = json_object_get_member (o, name);
  return n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING
      ? json_node_get_string (n) : NULL;
}

static gboolean
valid_label (const gchar *l)
{
  gsize n = strlen (l);
  return n > 0 && n <= STUDIO_MAX_NAME && g_utf8_validate (l, -1, NULL)
      && strpbrk (l, "=,;:") == NULL;
}

/* Builds the voices spec of vvtts from "speakers": [{"name", "voice",
 * "emotions": {EMOTION: VOICE}}], for the speakers of the script. */
static gchar *
build_voices_spec (Studio *s, SoupServerMessage *msg, JsonNode *speakers, GPtrArray *script_speakers)
{
  if (speakers == NULL || !JSON_NODE_HOLDS_ARRAY (speakers)) {
    reply_error (msg, SOUP_STATUS_BAD_REQUEST, "speakers", 0,
        "speakers: must be an array of {\"name\", \"voice\", \"emotions\"}");
    return NULL;
  }
  JsonArray *arr = json_node_get_array (speakers);
  if (json_array_get_length (arr) > VV_DIALOG_MAX_SPEAKERS) {
    reply_error (msg, SOUP_STATUS_BAD_REQUEST, "speakers", 0, "speakers: at most %d",
        VV_DIALOG_MAX_SPEAKERS);
    return NULL;
  }
  g_autoptr (GHashTable) voices = list_voices (s, NULL);
  g_autoptr (GHashTable) labels = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GString) spec = g_string_new (NULL);
  for (guint i = 0; i < json_array_get_length (arr); i++) {
    JsonNode *n = json_array_get_element (arr, i);
    g_autofree gchar *field = g_strdup_printf ("speakers[%u]", i);
    if (!JSON_NODE_HOLDS_OBJECT (n)) {
      reply_error (msg, SOUP_STATUS_BAD_REQUEST, field, 0, "%s: must be an object", field);
      return NULL;
    }
    JsonObject *o = json_node_get_object (n);
    const gchar *name = member_string (o, "name");
    const gchar *voice = member_string (o, "voice");
    g_autofree gchar *fname = g_strdup_printf ("%s.name", field);
    g_autofree gchar *fvoice = g_strdup_printf ("%s.voice", field);
    if (name == NULL || !valid_label (name)) {
      reply_error (msg, SOUP_STATUS_BAD_REQUEST, fname, 0, "%s: a speaker name of 1-%d "
          "characters without '=', ',', ';' or ':'", fname, STUDIO_MAX_NAME);
      return NULL;
    }
    g_autofree gchar *label = vv_speaker_label_canonical (name);
    if (g_hash_table_contains (labels, label)) {
      reply_error (msg, SOUP_STATUS_BAD_REQUEST, fname, 0, "%s: speaker '%s' is listed twice",
          fname, name);
      return NULL;
    }
    for (guint k = 0; k <= 1; k++) {
      /* k = 0: the plain voice; k = 1: the emotion variants */
      GList *members = NULL;
      JsonObject *emo = NULL;
      if (k == 1) {
        JsonNode *en = json_object_get_member (o, "emotions");
        if (en == NULL || JSON_NODE_HOLDS_NULL (en))
          break;
        if (!JSON_NODE_HOLDS_OBJECT (en)) {
          reply_error (msg, SOUP_STATUS_BAD_REQUEST, field, 0,
              "%s.emotions: must be an object {EMOTION: VOICE}", field);
          return NULL;
        }
        emo = json_node_get_object (en);
        members = json_object_get_members (emo);
      } else {
        members = g_list_prepend (NULL, NULL);
      }
      for (GList *l = members; l; l = l->next) {
        const gchar *emotion = l->data;
        g_autofree gchar *f = emotion ? g_strdup_printf ("%s.emotions.%s", field, emotion)
            : g_strdup (fvoice);
        const gchar *v = voice;
        if (emotion) {
          JsonNode *vn = json_object_get_member (emo, emotion);
          v = JSON_NODE_HOLDS_VALUE (vn) && json_node_get_value_type (vn) == G_TYPE_STRING
              ? json_node_get_string (vn) : NULL;
          if (!valid_label (emotion)) {
            reply_error (msg, SOUP_STATUS_BAD_REQUEST, f, 0, "%s: an emotion name without "
                "'=', ',', ';' or ':'", f);
            g_list_free (members);
            return NULL;
          }
        }
        const gchar *path = NULL;
        if (v == NULL || !valid_name (v)) {
          reply_error (msg, SOUP_STATUS_BAD_REQUEST, f, 0, "%s: a voice name (letters, digits, "
              "'-', '_', '.', no '..' or '/', at most %d characters)", f, STUDIO_MAX_NAME);
          g_list_free (members);
          return NULL;
        }
        if ((path = g_hash_table_lookup (voices, v)) == NULL) {
          reply_error (msg, SOUP_STATUS_NOT_FOUND, f, 0, "%s: no voice named '%s' (see "
              "/api/voices)", f, v);
          g_list_free (members);
          return NULL;
        }
        if (strpbrk (path, ",;") != NULL) {
          reply_error (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, f, 0, "%s: the voice path %s "
              "holds ',' or ';', which the voices property cannot take", f, path);
          g_list_free (members);
          return NULL;
        }
        g_autofree gchar *elabel = emotion ? g_ascii_strdown (emotion, -1) : NULL;
        g_string_append_printf (spec, "%s%s%s%s=%s", spec->len ? "," : "", label,
            emotion ? ":" : "", emotion ? elabel : "", path);
      }
      g_list_free (members);
    }
    g_hash_table_add (labels, g_steal_pointer (&label));
  }
  for (guint i = 0; i < script_speakers->len; i++) {
    ScriptSpeaker *sp = script_speakers->pdata[i];
    if (!g_hash_table_contains (labels, sp->label)) {
      reply_error (msg, SOUP_STATUS_BAD_REQUEST, "speakers", sp->line, "speakers: speaker "
          "'%s' of the script (line %u) has no voice", sp->label, sp->line);
      return NULL;
    }
  }
  return g_string_free (g_steal_pointer (&spec), FALSE);
}

static void
script_speaker_free (gpointer p)
{
  g_free (((ScriptSpeaker *) p)->label);
  g_free (p);
}

static void
handle_post_job (Studio *s, SoupServerMessage *msg)
{
  g_autoptr (GBytes) bytes = soup_message_body_flatten (soup_server_message_get_request_body
      (msg));
  gsize len = 0;
  const gchar *data = g_bytes_get_data (bytes, &len);
  if (len > STUDIO_MAX_JSON_BYTES) {
    reply_error (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "body", 0,
        "the request is larger than %d bytes", STUDIO_MAX_JSON_BYTES);
    return;
  }
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  if (len == 0 || !json_parser_load_from_data (parser, data, (gssize) len, &error)) {
    reply_error (msg, SOUP_STATUS_BAD_REQUEST, "body", 0, "the body is not JSON: %s",
        error ? error->message : "empty");
    return;
  }
  JsonNode *root = json_parser_get_root (parser);
  if (!JSON_NODE_HOLDS_OBJECT (root)) {
    reply_error (msg, SOUP_STATUS_BAD_REQUEST, "body", 0, "the body must be a JSON object");
    return;
  }
  JsonObject *o = json_node_get_object (root);
  static const gchar *const known[] = { "script", "speakers", "steps", "cfg", "seed",
    "max_turns", NULL };
  g_autoptr (GList) members = json_object_get_members (o);
  for (GList *l = members; l; l = l->next)
    if (!g_strv_contains (known, l->data)) {
      reply_error (msg, SOUP_STATUS_BAD_REQUEST, l->data, 0, "%s: unknown field (known: "
          "script, speakers, steps, cfg, seed, max_turns)", (const gchar *) l->data);
      return;
    }
  JsonNode *sn = json_object_get_member (o, "script");
  if (sn == NULL || !JSON_NODE_HOLDS_VALUE (sn) || json_node_get_value_type (sn) != G_TYPE_STRING) {
    reply_error (msg, SOUP_STATUS_BAD_REQUEST, "script", 0, "script: a string is required");
    return;
  }
  const gchar *script = json_node_get_string (sn);
  if (strlen (script) > s->max_script_bytes) {
    reply_error (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "script", 0,
        "script: longer than %" G_GSIZE_FORMAT " bytes", s->max_script_bytes);
    return;
  }
  gint64 steps = 10, seed = 0, max_turns = 0;
  if (!get_int_member (msg, o, "steps", 1, 100, &steps)
      || !get_int_member (msg, o, "seed", 0, G_MAXINT64, &seed)
      || !get_int_member (msg, o, "max_turns", 0, 1000, &max_turns))
    return;
  gdouble cfg = 1.3;
  JsonNode *cn = json_object_get_member (o, "cfg");
  if (cn != NULL && !JSON_NODE_HOLDS_NULL (cn)) {
    if (!JSON_NODE_HOLDS_VALUE (cn) || (json_node_get_value_type (cn) != G_TYPE_DOUBLE
            && json_node_get_value_type (cn) != G_TYPE_INT64)) {
      reply_error (msg, SOUP_STATUS_BAD_REQUEST, "cfg", 0, "cfg: must be a number");
      return;
    }
    cfg = json_node_get_double (cn);
    if (!(cfg >= 0.0 && cfg <= 10.0)) {
      reply_error (msg, SOUP_STATUS_BAD_REQUEST, "cfg", 0, "cfg: %g is out of range [0, 10]",
          cfg);
      return;
    }
  }

  /* the same parser as vvdialogparse, so a bad script is reported here,
   * with its line, before it is queued */
  g_autoptr (GPtrArray) turns = g_ptr_array_new_with_free_func ((GDestroyNotify)
      vv_dialog_turn_free);
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  VvDialogParser *dp = vv_dialog_parser_new ();
  gboolean ok = vv_dialog_parser_feed (dp, script, strlen (script), turns, warnings, &error)
      && vv_dialog_parser_finish (dp, turns, warnings, &error);
  vv_dialog_parser_free (dp);
  if (!ok) {
    guint line = 0;
    const gchar *at = strstr (error->message, "line ");
    if (at == NULL || sscanf (at, "line %u", &line) != 1)
      line = 0;
    reply_error (msg, SOUP_STATUS_BAD_REQUEST, "script", line, "script: %s", error->message);
    return;
  }
  g_autoptr (GPtrArray) sps = g_ptr_array_new_with_free_func (script_speaker_free);
  for (guint i = 0; i < turns->len; i++) {
    VvDialogTurn *t = turns->pdata[i];
    if (t->text[0] == '\0')
      continue;
    g_autofree gchar *label = vv_speaker_label_canonical (t->speaker);
    gboolean seen = FALSE;
    for (guint k = 0; k < sps->len && !seen; k++)
      seen = strcmp (((ScriptSpeaker *) sps->pdata[k])->label, label) == 0;
    if (!seen) {
      ScriptSpeaker *sp = g_new0 (ScriptSpeaker, 1);
      sp->label = g_steal_pointer (&label);
      sp->line = t->line;
      g_ptr_array_add (sps, sp);
    }
  }
  g_autofree gchar *spec = build_voices_spec (s, msg, json_object_get_member (o, "speakers"),
      sps);
  if (spec == NULL)
    return;
  if (g_queue_get_length (&s->queue) >= s->max_queue) {
    reply_error (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "queue", 0, "the queue is full (%u "
        "jobs waiting, --queue %u): try again later", g_queue_get_length (&s->queue),
        s->max_queue);
    return;
  }
  Job *job = g_new0 (Job, 1);
  job->studio = s;
  job->id = ++s->next_id;
  job->state = JOB_QUEUED;
  job->script = g_strdup (script);
  job->voices_spec = g_steal_pointer (&spec);
  job->steps = (gint) steps;
  job->cfg = cfg;
  job->seed = seed;
  job->max_turns = (guint) max_turns;
  job->window_est_frames = g_array_new (FALSE, FALSE, sizeof (guint));
  job->utterances = g_array_new (FALSE, TRUE, sizeof (Utterance));
  g_array_set_clear_func (job->utterances, utterance_clear);
  job->pcm = g_byte_array_new ();
  job->t_created = g_get_monotonic_time ();
  estimate_windows (job, turns);
  g_hash_table_insert (s->jobs, GUINT_TO_POINTER (job->id), job);
  g_queue_push_tail (&s->queue, job);
  schedule (s);
  reply_job (msg, SOUP_STATUS_CREATED, job);
}

/* ---- POST /api/voices?name=NAME (body: an audio file) ---- */

typedef struct {
  Studio *studio;
  SoupServerMessage *msg;
  GBytes *upload;
  gchar *name;
  gchar *out_path;
  gsize max_samples;
  /* results */
  guint status;
  gchar *error;
  gdouble seconds;
} Upload;

static void
upload_free (Upload *u)
{
  g_object_unref (u->msg);
  g_bytes_unref (u->upload);
  g_free (u->name);
  g_free (u->out_path);
  g_free (u->error);
  g_free (u);
}

/* Worker thread: decodes the upload with decodebin to S16LE mono 24 kHz,
 * at most max_samples, and writes it as a WAV into the uploads folder. */
static void
upload_decode (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Upload *u = task_data;
  g_autoptr (GError) error = NULL;
  gchar *tmp_path = NULL;
  gint fd = g_file_open_tmp ("vv-studio-upload-XXXXXX", &tmp_path, &error);
  g_autofree gchar *tmp = tmp_path;
  if (fd < 0) {
    u->status = SOUP_STATUS_INTERNAL_SERVER_ERROR;
    u->error = g_strdup (error->message);
    return;
  }
  close (fd);
  gsize len = 0;
  const gchar *data = g_bytes_get_data (u->upload, &len);
  if (!g_file_set_contents (tmp, data, (gssize) len, &error)) {
    u->status = SOUP_STATUS_INTERNAL_SERVER_ERROR;
    u->error = g_strdup (error->message);
    g_unlink (tmp);
    return;
  }
  GstElement *p = gst_parse_launch ("filesrc name=src ! decodebin ! audioconvert ! "
      "audioresample ! audio/x-raw,format=S16LE,rate=24000,channels=1 ! "
      "appsink name=sink sync=false", &error);
  if (p == NULL) {
    u->status = SOUP_STATUS_INTERNAL_SERVER_ERROR;
    u->error = g_strdup (error->message);
    g_unlink (tmp);
    return;
  }
  gst_object_ref_sink (p);
  GstElement *src = gst_bin_get_by_name (GST_BIN (p), "src");
  GstElement *sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  g_object_set (src, "location", tmp, NULL);
  g_autoptr (GByteArray) pcm = g_byte_array_new ();
  gst_element_set_state (p, GST_STATE_PLAYING);
  g_autoptr (GstBus) bus = gst_element_get_bus (p);
  gint64 deadline = g_get_monotonic_time () + STUDIO_UPLOAD_DECODE_TIMEOUT_S * G_USEC_PER_SEC;
  gboolean done = FALSE;
  while (!done) {
    GstMessage *m = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
    if (m != NULL) {
      g_autoptr (GError) err = NULL;
      gst_message_parse_error (m, &err, NULL);
      u->status = SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE;
      u->error = g_strdup_printf ("file: not audio that GStreamer can decode (%s)",
          err->message);
      gst_message_unref (m);
      break;
    }
    GstSample *sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 100 * GST_MSECOND);
    if (sample != NULL) {
      GstMapInfo map;
      GstBuffer *buf = gst_sample_get_buffer (sample);
      if (gst_buffer_map (buf, &map, GST_MAP_READ)) {
        g_byte_array_append (pcm, map.data, (guint) MIN (map.size, G_MAXUINT));
        gst_buffer_unmap (buf, &map);
      }
      gst_sample_unref (sample);
      if (pcm->len / 2 > u->max_samples) {
        u->status = SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE;
        u->error = g_strdup_printf ("file: longer than the limit of %.0f s", u->max_samples
            / (gdouble) STUDIO_RATE);
        break;
      }
    } else if (gst_app_sink_is_eos (GST_APP_SINK (sink))) {
      done = TRUE;
    } else if (g_get_monotonic_time () > deadline) {
      u->status = SOUP_STATUS_UNPROCESSABLE_ENTITY;
      u->error = g_strdup_printf ("file: decoding took longer than %d s",
          STUDIO_UPLOAD_DECODE_TIMEOUT_S);
      break;
    }
  }
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (p);
  g_unlink (tmp);
  if (!done)
    return;
  if (pcm->len < STUDIO_RATE / 10 * 2) {
    u->status = SOUP_STATUS_UNPROCESSABLE_ENTITY;
    u->error = g_strdup ("file: less than 0.1 s of audio");
    return;
  }
  gsize out_len = 44 + pcm->len;
  g_autofree guint8 *out = g_malloc (out_len);
  wav_header (out, pcm->len);
  memcpy (out + 44, pcm->data, pcm->len);
  if (!g_file_set_contents (u->out_path, (const gchar *) out, (gssize) out_len, &error)) {
    u->status = SOUP_STATUS_INTERNAL_SERVER_ERROR;
    u->error = g_strdup (error->message);
    return;
  }
  u->seconds = pcm->len / 2.0 / STUDIO_RATE;
  u->status = SOUP_STATUS_CREATED;
}

static void
upload_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Upload *u = g_task_get_task_data (G_TASK (res));
  if (u->status == SOUP_STATUS_CREATED) {
    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "name");
    json_builder_add_string_value (b, u->name);
    json_builder_set_member_name (b, "seconds");
    json_builder_add_double_value (b, u->seconds);
    json_builder_end_object (b);
    reply_builder (u->msg, SOUP_STATUS_CREATED, b);
  } else {
    reply_error (u->msg, u->status, "file", 0, "%s", u->error);
  }
  soup_server_message_unpause (u->msg);
}

static void
handle_upload (Studio *s, SoupServerMessage *msg, GHashTable *query)
{
  const gchar *name = query ? g_hash_table_lookup (query, "name") : NULL;
  if (name == NULL || !valid_name (name)) {
    reply_error (msg, SOUP_STATUS_BAD_REQUEST, "name", 0, "name: a voice name (letters, "
        "digits, '-', '_', '.', no '..' or '/', at most %d characters) is required: "
        "POST /api/voices?name=NAME", STUDIO_MAX_NAME);
    return;
  }
  g_autoptr (GHashTable) voices = list_voices (s, NULL);
  if (g_hash_table_contains (voices, name)) {
    reply_error (msg, SOUP_STATUS_CONFLICT, "name", 0, "name: a voice named '%s' exists",
        name);
    return;
  }
  g_autoptr (GBytes) bytes = soup_message_body_flatten (soup_server_message_get_request_body
      (msg));
  if (g_bytes_get_size (bytes) > s->max_upload_bytes) {
    reply_error (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "file", 0, "file: larger than "
        "%" G_GSIZE_FORMAT " bytes", s->max_upload_bytes);
    return;
  }
  if (g_bytes_get_size (bytes) == 0) {
    reply_error (msg, SOUP_STATUS_BAD_REQUEST, "file", 0, "file: the body is empty (send the "
        "audio file as the request body)");
    return;
  }
  Upload *u = g_new0 (Upload, 1);
  u->studio = s;
  u->msg = g_object_ref (msg);
  u->upload = g_bytes_ref (bytes);
  u->name = g_strdup (name);
  g_autofree gchar *file = g_strconcat (name, ".wav", NULL);
  u->out_path = g_build_filename (s->uploads_dir, file, NULL);
  u->max_samples = (gsize) (s->max_upload_seconds * STUDIO_RATE);
  soup_server_message_pause (msg);
  g_autoptr (GTask) task = g_task_new (NULL, NULL, upload_done, NULL);
  g_task_set_task_data (task, u, (GDestroyNotify) upload_free);
  g_task_run_in_thread (task, upload_decode);
}

/* Refuses a too large body from its headers, before it is read (libsoup
 * reads the whole request body before the handler runs). */
static void
on_got_headers (SoupServerMessage *msg, gpointer user_data)
{
  Studio *s = user_data;
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
  const gchar *path = g_uri_get_path (soup_server_message_get_uri (msg));
  gsize limit = g_strcmp0 (path, "/api/voices") == 0 ? s->max_upload_bytes
      : STUDIO_MAX_JSON_BYTES;
  SoupEncoding enc = soup_message_headers_get_encoding (h);
  /* a refused body is still read (HTTP/1.1 without Expect: 100-continue
   * sends it anyway) but not kept */
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  if (enc == SOUP_ENCODING_CHUNKED || enc == SOUP_ENCODING_EOF) {
    soup_message_body_set_accumulate (body, FALSE);
    reply_error (msg, SOUP_STATUS_LENGTH_REQUIRED, "body", 0, "send the body with a "
        "Content-Length (at most %" G_GSIZE_FORMAT " bytes)", limit);
    return;
  }
  if (enc == SOUP_ENCODING_CONTENT_LENGTH
      && (guint64) soup_message_headers_get_content_length (h) > limit) {
    soup_message_body_set_accumulate (body, FALSE);
    reply_error (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE,
        g_strcmp0 (path, "/api/voices") == 0 ? "file" : "body", 0,
        "the body (%" G_GOFFSET_FORMAT " bytes) is larger than the limit of %" G_GSIZE_FORMAT
        " bytes", soup_message_headers_get_content_length (h), limit);
  }
}

static void
on_request_started (SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
  g_signal_connect (msg, "got-headers", G_CALLBACK (on_got_headers), user_data);
}

/* ---- routing ---- */

static void
serve_resource (SoupServerMessage *msg, const gchar *path)
{
  static const struct {
    const gchar *path, *resource, *type;
  } files[] = {
    { "/", "/org/vibevoice/studio/index.html", "text/html; charset=utf-8" },
    { "/index.html", "/org/vibevoice/studio/index.html", "text/html; charset=utf-8" },
    { "/studio.js", "/org/vibevoice/studio/studio.js", "text/javascript; charset=utf-8" },
    { "/studio.css", "/org/vibevoice/studio/studio.css", "text/css; charset=utf-8" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (files); i++) {
    if (strcmp (path, files[i].path) != 0)
      continue;
    g_autoptr (GBytes) b = g_resource_lookup_data (vv_studio_get_resource (),
        files[i].resource, 0, NULL);
    if (b == NULL)
      break;
    soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
    gsize len = 0;
    const gchar *data = g_bytes_get_data (b, &len);
    soup_server_message_set_response (msg, files[i].type, SOUP_MEMORY_COPY, data, len);
    return;
  }
  reply_error (msg, SOUP_STATUS_NOT_FOUND, "path", 0, "no such page: %s", path);
}

static void
handle_info (Studio *s, SoupServerMessage *msg)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "version");
  json_builder_add_string_value (b, VV_VERSION);
  json_builder_set_member_name (b, "model");
  json_builder_add_string_value (b, vv_model_get_dir (s->model));
  json_builder_set_member_name (b, "device");
  json_builder_add_string_value (b, vv_engine_get_device_name (s->engine));
  json_builder_set_member_name (b, "voices");
  add_voice_list (s, b);
  json_builder_set_member_name (b, "limits");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "jobs");
  json_builder_add_int_value (b, s->max_running);
  json_builder_set_member_name (b, "queue");
  json_builder_add_int_value (b, s->max_queue);
  json_builder_set_member_name (b, "upload_bytes");
  json_builder_add_int_value (b, (gint64) s->max_upload_bytes);
  json_builder_set_member_name (b, "upload_seconds");
  json_builder_add_double_value (b, s->max_upload_seconds);
  json_builder_set_member_name (b, "script_bytes");
  json_builder_add_int_value (b, (gint64) s->max_script_bytes);
  json_builder_set_member_name (b, "job_seconds");
  json_builder_add_double_value (b, s->max_job_seconds);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "running");
  json_builder_add_int_value (b, s->n_running);
  json_builder_set_member_name (b, "queued");
  json_builder_add_int_value (b, g_queue_get_length (&s->queue));
  json_builder_end_object (b);
  reply_builder (msg, SOUP_STATUS_OK, b);
}

static void
handle_jobs_list (Studio *s, SoupServerMessage *msg)
{
  g_autoptr (GList) jobs = g_hash_table_get_values (s->jobs);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "jobs");
  json_builder_begin_array (b);
  for (guint id = 1; id <= s->next_id; id++) {
    Job *job = g_hash_table_lookup (s->jobs, GUINT_TO_POINTER (id));
    if (job)
      add_job (b, job);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  reply_builder (msg, SOUP_STATUS_OK, b);
}

/* The host part of a Host header or an Origin ("http://h:p"), lower-case. */
static gchar *
host_of (const gchar *value, gboolean origin)
{
  if (value == NULL)
    return NULL;
  g_autofree gchar *full = origin ? g_strdup (value) : g_strconcat ("http://", value, NULL);
  g_autoptr (GUri) uri = g_uri_parse (full, G_URI_FLAGS_NONE, NULL);
  return uri && g_uri_get_host (uri) ? g_ascii_strdown (g_uri_get_host (uri), -1) : NULL;
}

/* A page from another site cannot drive the studio: its requests carry its
 * Origin (browsers send it with every POST), and a DNS-rebinding name
 * pointing at 127.0.0.1 shows in the Host header. */
static gboolean
check_origin (Studio *s, SoupServerMessage *msg)
{
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
  const gchar *host_hdr = soup_message_headers_get_one (h, "Host");
  g_autofree gchar *host = host_of (host_hdr, FALSE);
  if (s->loopback && (host == NULL || (strcmp (host, "127.0.0.1") != 0
              && strcmp (host, "localhost") != 0 && strcmp (host, "[::1]") != 0
              && strcmp (host, "::1") != 0))) {
    reply_error (msg, SOUP_STATUS_FORBIDDEN, "Host", 0, "Host: %s is not this machine (the "
        "studio listens on a loopback address; open it as http://127.0.0.1:PORT/)",
        host_hdr ? host_hdr : "(none)");
    return FALSE;
  }
  const gchar *origin = soup_message_headers_get_one (h, "Origin");
  if (origin != NULL && strcmp (origin, "null") != 0) {
    g_autofree gchar *expected = g_strconcat ("http://", host_hdr ? host_hdr : "", NULL);
    if (g_ascii_strcasecmp (origin, expected) != 0) {
      reply_error (msg, SOUP_STATUS_FORBIDDEN, "Origin", 0, "Origin: %s is another site; "
          "only the studio's own page may call the API", origin);
      return FALSE;
    }
  }
  return TRUE;
}

static void
on_request (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
    gpointer user_data)
{
  Studio *s = user_data;
  /* on_got_headers may have answered already */
  if (soup_server_message_get_status (msg) != 0)
    return;
  if (!check_origin (s, msg))
    return;
  const gchar *method = soup_server_message_get_method (msg);
  gboolean get = strcmp (method, "GET") == 0 || strcmp (method, "HEAD") == 0;
  gboolean post = strcmp (method, "POST") == 0;
  if (!g_str_has_prefix (path, "/api/")) {
    if (!get)
      reply_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method", 0, "%s: only GET", path);
    else
      serve_resource (msg, path);
    return;
  }
  if (strcmp (path, "/api/info") == 0 && get) {
    handle_info (s, msg);
    return;
  }
  if (strcmp (path, "/api/voices") == 0) {
    if (get) {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      add_voice_list (s, b);
      reply_builder (msg, SOUP_STATUS_OK, b);
    } else if (post) {
      handle_upload (s, msg, query);
    } else {
      reply_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method", 0, "/api/voices: GET or POST");
    }
    return;
  }
  if (strcmp (path, "/api/jobs") == 0) {
    if (post)
      handle_post_job (s, msg);
    else if (get)
      handle_jobs_list (s, msg);
    else
      reply_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method", 0, "/api/jobs: GET or POST");
    return;
  }
  if (g_str_has_prefix (path, "/api/jobs/")) {
    const gchar *rest = path + strlen ("/api/jobs/");
    gchar *end = NULL;
    guint64 id = g_ascii_strtoull (rest, &end, 10);
    Job *job = end != rest && id <= G_MAXUINT ? g_hash_table_lookup (s->jobs,
        GUINT_TO_POINTER ((guint) id)) : NULL;
    if (job == NULL) {
      reply_error (msg, SOUP_STATUS_NOT_FOUND, "id", 0, "no job %.*s", (int) strcspn (rest, "/"),
          rest);
      return;
    }
    if (*end == '\0' && get) {
      reply_job (msg, SOUP_STATUS_OK, job);
    } else if (strcmp (end, "/audio") == 0 && get) {
      handle_audio (s, job, msg);
    } else if (strcmp (end, "/wav") == 0 && get) {
      handle_wav (job, msg);
    } else if (strcmp (end, "/stop") == 0 && post) {
      job_finish (job, JOB_STOPPED, "stopped");
      reply_job (msg, SOUP_STATUS_OK, job);
    } else {
      reply_error (msg, SOUP_STATUS_NOT_FOUND, "path", 0, "%s %s: no such call", method, path);
    }
    return;
  }
  reply_error (msg, SOUP_STATUS_NOT_FOUND, "path", 0, "%s %s: no such call", method, path);
}

/* ---- startup ---- */

static gboolean
on_signal (gpointer user_data)
{
  g_main_loop_quit (((Studio *) user_data)->loop);
  return G_SOURCE_CONTINUE;
}

/* Running from the build tree, the plugin is in build/plugins; installed,
 * in the prefix's plugin folder, which GStreamer may not scan. */
static gboolean
ensure_plugin (GError **error)
{
  g_autoptr (GstElementFactory) f = gst_element_factory_find ("vvtts");
  if (f == NULL) {
    GstRegistry *reg = gst_registry_get ();
    gst_registry_scan_path (reg, VV_BUILD_PLUGIN_DIR);
    gst_registry_scan_path (reg, VV_INSTALLED_PLUGIN_DIR);
    f = gst_element_factory_find ("vvtts");
  }
  if (f == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "the vibevoice GStreamer plugin "
        "(vvtts) is not found: set GST_PLUGIN_PATH to its folder (looked in %s and %s too)",
        VV_BUILD_PLUGIN_DIR, VV_INSTALLED_PLUGIN_DIR);
    return FALSE;
  }
  return TRUE;
}

static void
remove_dir (const gchar *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const gchar *f;
  while (d && (f = g_dir_read_name (d)) != NULL) {
    g_autofree gchar *p = g_build_filename (dir, f, NULL);
    g_unlink (p);
  }
  g_rmdir (dir);
}

static void
job_free_any (gpointer p)
{
  job_free (p);
}

int
vv_tool_studio (int argc, char **argv)
{
  g_autofree gchar *model_dir = NULL, *voices_dir = NULL, *listen = NULL, *device = NULL;
  gint port = 8765, jobs = 1, queue = 8, threads = 0, max_upload_kb = 10 * 1024;
  gdouble max_upload_s = 60, max_job_s = 600;
  gint max_frames = 4500;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_dir, "Model folder (default: the embedded tiny model of the build tree)", "DIR" },
    { "voices", 0, 0, G_OPTION_ARG_FILENAME, &voices_dir, "Folder of voice samples, any format GStreamer decodes (default: docs/examples)", "DIR" },
    { "port", 'p', 0, G_OPTION_ARG_INT, &port, "TCP port (default 8765; 0: any free port)", "N" },
    { "listen", 'l', 0, G_OPTION_ARG_STRING, &listen, "Address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)", "ADDR" },
    { "jobs", 'j', 0, G_OPTION_ARG_INT, &jobs, "Jobs generated at the same time (default 1)", "N" },
    { "queue", 'q', 0, G_OPTION_ARG_INT, &queue, "Jobs that may wait in the queue (default 8)", "N" },
    { "device", 'd', 0, G_OPTION_ARG_STRING, &device, "Engine device: cpu, sim or a registered backend (default: $VV_DEVICE, else cpu)", "NAME" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "CPU threads of the engine (0 = all)", "N" },
    { "max-upload-kb", 0, 0, G_OPTION_ARG_INT, &max_upload_kb, "Largest voice upload in KiB (default 10240)", "N" },
    { "max-upload-seconds", 0, 0, G_OPTION_ARG_DOUBLE, &max_upload_s, "Longest voice upload in seconds (default 60)", "S" },
    { "max-job-seconds", 0, 0, G_OPTION_ARG_DOUBLE, &max_job_s, "Longest audio of one job, pauses included (default 600)", "S" },
    { "max-frames", 0, 0, G_OPTION_ARG_INT, &max_frames, "Frames per utterance window at most (default 4500 = 10 min)", "N" },
    { NULL }
  };
  g_autoptr (GOptionContext) octx = g_option_context_new ("- the web studio");
  g_option_context_set_summary (octx,
      "Serves a page to write a dialogue, pick voices and hear it as it is generated,\n"
      "and its JSON API (docs/STUDIO.md). Prints the URL to open.");
  g_option_context_add_main_entries (octx, entries, NULL);
  g_option_context_add_group (octx, gst_init_get_option_group ());
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (octx, &argc, &argv, &error) || argc != 1) {
    fprintf (stderr, "vibevoice studio: %s\n", error ? error->message : "unexpected argument");
    return 2;
  }
  if (port < 0 || port > 65535 || jobs < 1 || jobs > 64 || queue < 0 || queue > 10000
      || max_upload_kb < 1 || max_upload_s <= 0 || max_job_s <= 0 || max_frames < 1) {
    fprintf (stderr, "vibevoice studio: --port 0-65535, --jobs 1-64, --queue 0-10000, and "
        "positive limits\n");
    return 2;
  }
  gst_init (NULL, NULL);
  if (model_dir == NULL)
    model_dir = g_strdup (VV_BUILD_TINY_MODEL);
  if (voices_dir == NULL)
    voices_dir = g_strdup (VV_SOURCE_DIR "/docs/examples");
  if (!g_file_test (voices_dir, G_FILE_TEST_IS_DIR)) {
    fprintf (stderr, "vibevoice studio: %s: not a folder (--voices)\n", voices_dir);
    return 1;
  }
  if (!ensure_plugin (&error)) {
    fprintf (stderr, "vibevoice studio: %s\n", error->message);
    return 1;
  }
  Studio s = { 0 };
  s.max_running = (guint) jobs;
  s.max_queue = (guint) queue;
  s.max_upload_bytes = (gsize) max_upload_kb * 1024;
  s.max_upload_seconds = max_upload_s;
  s.max_job_seconds = max_job_s;
  s.max_script_bytes = STUDIO_MAX_JSON_BYTES / 2;
  s.max_frames = (guint) max_frames;
  g_queue_init (&s.queue);
  g_queue_init (&s.finished);
  s.model = vv_model_load_shared (model_dir, VV_MODEL_LOAD_DEFAULT, &error);
  if (s.model == NULL) {
    fprintf (stderr, "vibevoice studio: cannot load the model %s (--model): %s\n", model_dir,
        error->message);
    return 1;
  }
  const gchar *dev = device ? device : g_getenv ("VV_DEVICE");
  s.engine = vv_engine_new (s.model, dev && *dev ? dev : "cpu", threads, &error);
  if (s.engine == NULL) {
    fprintf (stderr, "vibevoice studio: %s\n", error->message);
    vv_model_unref (s.model);
    return 1;
  }
  s.tokenizer = vv_tokenizer_new_from_dir (vv_tool_default_tokenizer_dir (), &error);
  if (s.tokenizer == NULL) {
    fprintf (stderr, "vibevoice studio: %s\n", error->message);
    vv_engine_unref (s.engine);
    vv_model_unref (s.model);
    return 1;
  }
  s.voices_dir = g_canonicalize_filename (voices_dir, NULL);
  s.uploads_dir = g_dir_make_tmp ("vv-studio-voices-XXXXXX", &error);
  int ret = 1;
  g_autoptr (GInetAddress) addr = NULL;
  g_autoptr (GSocketAddress) sa = NULL;
  if (s.uploads_dir == NULL) {
    fprintf (stderr, "vibevoice studio: %s\n", error->message);
    goto out;
  }
  s.jobs = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, job_free_any);
  s.server = soup_server_new ("server-header", "vibevoice-studio/" VV_VERSION, NULL);
  g_signal_connect (s.server, "request-started", G_CALLBACK (on_request_started), &s);
  soup_server_add_handler (s.server, NULL, on_request, &s, NULL);
  addr = g_inet_address_new_from_string (listen ? listen : "127.0.0.1");
  if (addr == NULL) {
    fprintf (stderr, "vibevoice studio: --listen %s: not an IP address\n", listen);
    goto out;
  }
  s.loopback = g_inet_address_get_is_loopback (addr);
  sa = g_inet_socket_address_new (addr, (guint16) port);
  if (!soup_server_listen (s.server, sa, 0, &error)) {
    fprintf (stderr, "vibevoice studio: cannot listen on %s port %d: %s\n",
        listen ? listen : "127.0.0.1", port, error->message);
    goto out;
  }
  GSList *uris = soup_server_get_uris (s.server);
  for (GSList *l = uris; l; l = l->next) {
    g_autofree gchar *u = g_uri_to_string (l->data);
    printf ("vibevoice studio: %s (model %s on %s, voices %s)\n", u, vv_model_get_dir (s.model),
        vv_engine_get_device_name (s.engine), s.voices_dir);
  }
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  fflush (stdout);
  s.loop = g_main_loop_new (NULL, FALSE);
  guint sig1 = g_unix_signal_add (SIGINT, on_signal, &s);
  guint sig2 = g_unix_signal_add (SIGTERM, on_signal, &s);
  g_main_loop_run (s.loop);
  g_source_remove (sig1);
  g_source_remove (sig2);
  ret = 0;

out:
  if (s.server) {
    s.shutting_down = TRUE;
    soup_server_disconnect (s.server);
    /* stop what runs; streams are finished by the disconnect */
    g_autoptr (GList) all = s.jobs ? g_hash_table_get_values (s.jobs) : NULL;
    for (GList *l = all; l; l = l->next)
      job_finish (l->data, JOB_STOPPED, "the server is shutting down");
    /* let the closing connections run their finished handlers, and the
     * pipelines reach NULL */
    while (g_main_context_iteration (NULL, FALSE));
    while (s.pending_teardowns > 0)
      g_main_context_iteration (NULL, TRUE);
    for (GList *l = all; l; l = l->next) {
      Job *job = l->data;
      for (GList *k = job->streams; k; k = k->next) {
        Stream *st = k->data;
        g_signal_handlers_disconnect_by_data (st->msg, st);
        if (st->hup) {
          g_source_destroy (st->hup);
          g_source_unref (st->hup);
        }
        g_object_unref (st->msg);
        g_free (st);
      }
      g_clear_pointer (&job->streams, g_list_free);
    }
    g_clear_object (&s.server);
  }
  g_clear_pointer (&s.jobs, g_hash_table_unref);
  g_queue_clear (&s.finished);
  g_clear_pointer (&s.loop, g_main_loop_unref);
  if (s.uploads_dir)
    remove_dir (s.uploads_dir);
  g_free (s.uploads_dir);
  g_free (s.voices_dir);
  vv_tokenizer_unref (s.tokenizer);
  vv_engine_unref (s.engine);
  vv_model_unref (s.model);
  return ret;
}
