/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:element-vvtts
 * @title: vvtts
 *
 * Text in, speech out: a bin holding
 * `vvdialogparse ! vvtokenize ! vvdiffuse ! vvvocode`, with the main
 * properties of its children proxied. Takes a dialogue script
 * (`text/x-raw, format=utf8`, or `application/json`) and outputs 24 kHz mono
 * F32 audio (exactly 24000 Hz mono).
 *
 * Timestamped text (subparse cues, a live `appsrc do-timestamp=true`): each
 * buffer is one utterance, spoken at its running time; `latency` (added to
 * the LATENCY query in live pipelines), `overflow` (clip / overlap / shift)
 * and `default-speaker` (for unlabelled text) are those of vvdiffuse and
 * vvdialogparse. See docs/ELEMENTS.md, "Live chains".
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=script.txt ! vvtts model=/models/VibeVoice-1.5B \
 *     voices="1=alice.wav,2=bob.wav" seed=1 ! audioconvert ! wavenc ! \
 *     filesink location=out.wav
 * ]|
 * |[
 * gst-launch-1.0 filesrc location=talk.srt ! subparse ! vvtts model=DIR \
 *     voices="1=alice.wav,2=bob.wav" ! audioconvert ! wavenc ! filesink location=talk.wav
 * ]| Each subtitle cue spoken at its time.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "gstvvelements.h"

GST_DEBUG_CATEGORY_STATIC (gst_vv_tts_debug);
#define GST_CAT_DEFAULT gst_vv_tts_debug

#define GST_TYPE_VV_TTS (gst_vv_tts_get_type ())
G_DECLARE_FINAL_TYPE (GstVvTts, gst_vv_tts, GST, VV_TTS, GstBin)

struct _GstVvTts {
  GstBin parent;
  GstElement *parse, *tokenize, *diffuse, *vocode;
};

G_DEFINE_TYPE (GstVvTts, gst_vv_tts, GST_TYPE_BIN);
GST_ELEMENT_REGISTER_DEFINE (vvtts, "vvtts", GST_RANK_NONE, GST_TYPE_VV_TTS);

/* Proxied properties: our id -> (child, child property name). */
enum {
  PROP_0,
  PROP_MODEL,
  PROP_TOKENIZER,
  PROP_VOICES,
  PROP_MAX_TURNS,
  PROP_SEED,
  PROP_STEPS,
  PROP_CFG_SCALE,
  PROP_MAX_FRAMES,
  PROP_DEVICE,
  PROP_THREADS,
  PROP_DETERMINISTIC_VOICE,
  PROP_LAST_SEED,
  PROP_LATENCY,
  PROP_OVERFLOW,
  PROP_KV_CACHE_DTYPE,
  PROP_WEIGHTS,
  PROP_POWER,
  PROP_BATCH_STREAMS,
  PROP_DEFAULT_SPEAKER,
  N_PROPS
};

typedef struct {
  const gchar *name;
  gint child;                   /* 0 dialogparse, 1 tokenize, 2 diffuse */
} Proxy;

static const Proxy proxies[N_PROPS] = {
  [PROP_MODEL] = { "model", 1 },
  [PROP_TOKENIZER] = { "tokenizer", 1 },
  [PROP_VOICES] = { "voices", 1 },
  [PROP_MAX_TURNS] = { "max-turns", 1 },
  [PROP_SEED] = { "seed", 2 },
  [PROP_STEPS] = { "steps", 2 },
  [PROP_CFG_SCALE] = { "cfg-scale", 2 },
  [PROP_MAX_FRAMES] = { "max-frames", 2 },
  [PROP_DEVICE] = { "device", 2 },
  [PROP_THREADS] = { "threads", 2 },
  [PROP_DETERMINISTIC_VOICE] = { "deterministic-voice", 2 },
  [PROP_LAST_SEED] = { "last-seed", 2 },
  [PROP_LATENCY] = { "latency", 2 },
  [PROP_OVERFLOW] = { "overflow", 2 },
  [PROP_KV_CACHE_DTYPE] = { "kv-cache-dtype", 2 },
  [PROP_WEIGHTS] = { "weights", 2 },
  [PROP_POWER] = { "power", 2 },
  [PROP_BATCH_STREAMS] = { "batch-streams", 2 },
  [PROP_DEFAULT_SPEAKER] = { "default-speaker", 0 },
};

static GObject *
proxy_child (GstVvTts *self, guint prop_id)
{
  switch (proxies[prop_id].child) {
    case 0:
      return G_OBJECT (self->parse);
    case 1:
      return G_OBJECT (self->tokenize);
    default:
      return G_OBJECT (self->diffuse);
  }
}

static void
gst_vv_tts_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  GstVvTts *self = GST_VV_TTS (object);
  if (prop_id == 0 || prop_id >= N_PROPS) {
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    return;
  }
  g_object_set_property (proxy_child (self, prop_id), proxies[prop_id].name, value);
  /* threads also sizes the voice encoder's pool */
  if (prop_id == PROP_THREADS)
    g_object_set_property (G_OBJECT (self->tokenize), "threads", value);
  /* and so does the power preset's thread count */
  if (prop_id == PROP_POWER) {
    gint threads = 0;
    g_object_get (self->diffuse, "threads", &threads, NULL);
    g_object_set (self->tokenize, "threads", threads, NULL);
  }
}

static void
gst_vv_tts_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstVvTts *self = GST_VV_TTS (object);
  if (prop_id == 0 || prop_id >= N_PROPS) {
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    return;
  }
  g_object_get_property (proxy_child (self, prop_id), proxies[prop_id].name, value);
}

static GstElement *
make_child (GstVvTts *self, const gchar *factory)
{
  GstElement *e = gst_element_factory_make (factory, factory);
  if (e == NULL) {
    GST_ERROR_OBJECT (self, "element %s is missing from the plugin", factory);
    return NULL;
  }
  gst_bin_add (GST_BIN (self), e);
  return e;
}

static void
gst_vv_tts_init (GstVvTts *self)
{
  self->parse = make_child (self, "vvdialogparse");
  self->tokenize = make_child (self, "vvtokenize");
  self->diffuse = make_child (self, "vvdiffuse");
  self->vocode = make_child (self, "vvvocode");
  if (!self->parse || !self->tokenize || !self->diffuse || !self->vocode)
    return;
  gst_element_link_many (self->parse, self->tokenize, self->diffuse, self->vocode, NULL);
  GstPad *sink = gst_element_get_static_pad (self->parse, "sink");
  GstPad *src = gst_element_get_static_pad (self->vocode, "src");
  GstElementClass *klass = GST_ELEMENT_GET_CLASS (self);
  gst_element_add_pad (GST_ELEMENT (self), gst_ghost_pad_new_from_template ("sink", sink,
          gst_element_class_get_pad_template (klass, "sink")));
  gst_element_add_pad (GST_ELEMENT (self), gst_ghost_pad_new_from_template ("src", src,
          gst_element_class_get_pad_template (klass, "src")));
  gst_object_unref (sink);
  gst_object_unref (src);
}

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("text/x-raw, format=(string)utf8; application/json"));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS,
    /* what VibeVoice makes: 24 kHz mono F32 (acoustic tokenizer of every
     * published checkpoint; vvvocode checks the model's rate) */
    GST_STATIC_CAPS ("audio/x-raw(memory:CUDAMemory), format=(string)F32LE, "
        "layout=(string)interleaved, rate=(int)24000, channels=(int)1; "
        "audio/x-raw, format=(string)F32LE, layout=(string)interleaved, rate=(int)24000, "
        "channels=(int)1"));

/* Installs our property @id as a copy of the child's pspec of that name. */
static void
install_proxy (GObjectClass *klass, guint id, GType child_type)
{
  GObjectClass *child_class = g_type_class_ref (child_type);
  GParamSpec *child = g_object_class_find_property (child_class, proxies[id].name);
  if (child == NULL) {
    g_warning ("vvtts: %s has no property %s", g_type_name (child_type), proxies[id].name);
    g_type_class_unref (child_class);
    return;
  }
  GParamSpec *copy;
  GParamFlags flags = child->flags & (G_PARAM_READWRITE | GST_PARAM_MUTABLE_READY);
  flags |= G_PARAM_STATIC_STRINGS;
  const gchar *nick = g_param_spec_get_nick (child), *blurb = g_param_spec_get_blurb (child);
  if (G_IS_PARAM_SPEC_STRING (child))
    copy = g_param_spec_string (proxies[id].name, nick, blurb,
        G_PARAM_SPEC_STRING (child)->default_value, flags);
  else if (G_IS_PARAM_SPEC_INT (child))
    copy = g_param_spec_int (proxies[id].name, nick, blurb, G_PARAM_SPEC_INT (child)->minimum,
        G_PARAM_SPEC_INT (child)->maximum, G_PARAM_SPEC_INT (child)->default_value, flags);
  else if (G_IS_PARAM_SPEC_UINT (child))
    copy = g_param_spec_uint (proxies[id].name, nick, blurb, G_PARAM_SPEC_UINT (child)->minimum,
        G_PARAM_SPEC_UINT (child)->maximum, G_PARAM_SPEC_UINT (child)->default_value, flags);
  else if (G_IS_PARAM_SPEC_INT64 (child))
    copy = g_param_spec_int64 (proxies[id].name, nick, blurb,
        G_PARAM_SPEC_INT64 (child)->minimum, G_PARAM_SPEC_INT64 (child)->maximum,
        G_PARAM_SPEC_INT64 (child)->default_value, flags);
  else if (G_IS_PARAM_SPEC_UINT64 (child))
    copy = g_param_spec_uint64 (proxies[id].name, nick, blurb,
        G_PARAM_SPEC_UINT64 (child)->minimum, G_PARAM_SPEC_UINT64 (child)->maximum,
        G_PARAM_SPEC_UINT64 (child)->default_value, flags);
  else if (G_IS_PARAM_SPEC_FLOAT (child))
    copy = g_param_spec_float (proxies[id].name, nick, blurb,
        G_PARAM_SPEC_FLOAT (child)->minimum, G_PARAM_SPEC_FLOAT (child)->maximum,
        G_PARAM_SPEC_FLOAT (child)->default_value, flags);
  else if (G_IS_PARAM_SPEC_BOOLEAN (child))
    copy = g_param_spec_boolean (proxies[id].name, nick, blurb,
        G_PARAM_SPEC_BOOLEAN (child)->default_value, flags);
  else if (G_IS_PARAM_SPEC_ENUM (child))
    copy = g_param_spec_enum (proxies[id].name, nick, blurb, child->value_type,
        G_PARAM_SPEC_ENUM (child)->default_value, flags);
  else {
    g_warning ("vvtts: cannot proxy %s", proxies[id].name);
    g_type_class_unref (child_class);
    return;
  }
  g_object_class_install_property (klass, id, copy);
  g_type_class_unref (child_class);
}

static void
gst_vv_tts_class_init (GstVvTtsClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GST_DEBUG_CATEGORY_INIT (gst_vv_tts_debug, "vvtts", 0, "VibeVoice text-to-speech bin");
  gobject_class->set_property = gst_vv_tts_set_property;
  gobject_class->get_property = gst_vv_tts_get_property;
  for (guint id = 1; id < N_PROPS; id++)
    install_proxy (gobject_class, id, proxies[id].child == 0 ? gst_vv_dialog_parse_get_type ()
        : proxies[id].child == 1 ? gst_vv_tokenize_get_type () : gst_vv_diffuse_get_type ());

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "VibeVoice text to speech",
      "Filter/Audio/Text", "Long-form multi-speaker speech from a dialogue script "
      "(vvdialogparse ! vvtokenize ! vvdiffuse ! vvvocode)", "gst-vibevoice developers");
  /* shown by gst-inspect-1.0 */
  gst_element_class_add_static_metadata (element_class, "example-launch-line",
      "gst-launch-1.0 filesrc location=script.txt ! vvtts model=DIR voices=1=a.wav,2=b.wav seed=1 ! audioconvert ! wavenc ! filesink location=out.wav");
}
