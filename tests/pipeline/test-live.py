#!/usr/bin/env python3
"""Live chains on the tiny model (TAP): a live, self-timestamping appsrc
feeding vvtts into a syncing sink must render every buffer, at the text's
time plus the latency; the LATENCY query answers the latency property; a
generation later than the live clock allows warns to raise the latency; an
idle live feed ends in a clean EOS; the Python example application
(docs/examples/live-tts.py) runs and reports each utterance.

Environment from meson: VV_TINY_MODEL, VV_EXAMPLES_DIR, GST_PLUGIN_PATH.
"""
import os
import subprocess
import sys
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

Gst.init(None)
MODEL = os.environ["VV_TINY_MODEL"]
EX = os.environ["VV_EXAMPLES_DIR"]
VOICES = f"1={EX}/voice-a.wav,2={EX}/voice-b.wav"
# the two windows of two-speakers-pause.txt: seeds 3 and 4 give 4 and 3
# frames on the tiny model (tests/pipeline/test-pipeline.sh)
with open(os.path.join(EX, "two-speakers-pause.txt"), encoding="utf-8") as f:
    LINES = [ln.rstrip("\n") for ln in f if ln.strip()]
TEXT1 = "\n".join(LINES[0:2])
TEXT2 = "\n".join(LINES[3:5])

n = 0


def ok(cond, name, *info):
    global n
    n += 1
    print(f"{'ok' if cond else 'not ok'} {n} - {name}")
    if not cond:
        for line in info:
            print(f"# {line}")
    sys.stdout.flush()


def run_live(texts, latency=None, at=(0.4, 1.2), extra="", max_lateness_ms=20):
    """Pushes @texts into a live appsrc at the running times @at (s); returns
    what reached the sink, what it rendered, and the bus messages."""
    desc = (f"appsrc name=src is-live=true do-timestamp=true format=time "
            f"caps=text/x-raw,format=utf8 ! vvtts name=tts model={MODEL} voices={VOICES} "
            f"seed=3 {extra} ! fakesink name=sink sync=true qos=true "
            f"max-lateness={max_lateness_ms * 1000000} signal-handoffs=true")
    pipe = Gst.parse_launch(desc)
    if latency is not None:
        pipe.get_by_name("tts").set_property("latency", latency)
    src, sink = pipe.get_by_name("src"), pipe.get_by_name("sink")
    arrived, rendered = [], []

    def probe(pad, info):
        buf = info.get_buffer()
        arrived.append((buf.pts, buf.duration))
        return Gst.PadProbeReturn.OK
    sink.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, probe)
    sink.connect("handoff", lambda s, buf, pad: rendered.append(buf.pts))
    bus = pipe.get_bus()
    pipe.set_state(Gst.State.PLAYING)
    t0 = time.monotonic()

    for t, text in zip(at, texts):
        time.sleep(max(0.0, t - (time.monotonic() - t0)))
        src.emit("push-buffer", Gst.Buffer.new_wrapped(text.encode("utf-8")))
    src.emit("end-of-stream")
    msgs = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        msg = bus.timed_pop(Gst.SECOND)
        if msg is None:
            continue
        msgs.append(msg)
        if msg.type in (Gst.MessageType.EOS, Gst.MessageType.ERROR):
            break
    # asked at the end: a live sink completes PLAYING with its first buffer
    latency_answer = None
    q = Gst.Query.new_latency()
    if pipe.query(q):
        latency_answer = q.parse_latency()
    pipe.set_state(Gst.State.NULL)
    return arrived, rendered, msgs, latency_answer


def utterances(msgs):
    return [m.get_structure() for m in msgs if m.type == Gst.MessageType.ELEMENT
            and m.get_structure().get_name() == "vv-utterance"]


def of_type(msgs, t):
    return [m for m in msgs if m.type == t]


def text_of(msgs):
    out = []
    for m in msgs:
        if m.type == Gst.MessageType.WARNING:
            out.append("warning: " + m.parse_warning()[0].message)
        elif m.type == Gst.MessageType.ERROR:
            out.append("error: " + m.parse_error()[0].message)
        elif m.type == Gst.MessageType.QOS:
            out.append("qos: " + str(m.parse_qos_stats()))
    return out


# --- on time: every buffer rendered, at the text's time --------------------
arrived, rendered, msgs, lat = run_live([TEXT1, TEXT2], latency=1000)
ok(of_type(msgs, Gst.MessageType.EOS) and not of_type(msgs, Gst.MessageType.ERROR),
   "live appsrc -> vvtts -> syncing fakesink ends in EOS", *text_of(msgs))
ok(len(arrived) == 7, "7 frames of audio (4 + 3) reach the sink", f"arrived {len(arrived)}")
ok(len(rendered) == len(arrived) and not of_type(msgs, Gst.MessageType.QOS),
   "the syncing sink renders every buffer (no QOS drop)",
   f"rendered {len(rendered)} of {len(arrived)}", *text_of(msgs))
u = utterances(msgs)
ok(len(u) == 2, "one vv-utterance message per text buffer", f"{len(u)} messages")
if len(u) == 2:
    in0, pts0 = u[0].get_value("input-pts"), u[0].get_value("pts")
    in1, pts1 = u[1].get_value("input-pts"), u[1].get_value("pts")
    def on_sample(t):
        # the running time rounded to a sample, as vvdiffuse counts
        return (t * 24000 + Gst.SECOND // 2) // Gst.SECOND * Gst.SECOND // 24000
    ok(abs(in0 - 0.4 * Gst.SECOND) < 0.3 * Gst.SECOND and pts0 == on_sample(in0),
       "the first audio starts at the first text's running time",
       f"text {in0}, audio {pts0}")
    ok(arrived and arrived[0][0] == pts0, "the first buffer's PTS is that time",
       f"{arrived[0][0] if arrived else None} vs {pts0}")
    end0 = pts0 + u[0].get_value("duration")
    ok(abs(pts1 - max(on_sample(in1), end0)) <= 1,
       "the second starts at its text's time, or where the first ended (clip)",
       f"text {in1}, first ends {end0}, audio {pts1}")
    ok(u[0].get_value("duration") == Gst.util_uint64_scale(4 * 3200, Gst.SECOND, 24000) and u[0].get_value("real-time-factor") > 0
       and u[0].get_value("late") == 0,
       "the message gives the actual duration, RTF and no lateness")
    ffl = [x.get_value("first-frame-latency") for x in u]
    print(f"# measured first-audio latency (tiny model): "
          f"{', '.join(f'{v / 1e6:.1f} ms' for v in ffl)}")
ok(lat is not None and lat[0] and lat[1] >= Gst.SECOND,
   "the pipeline latency includes latency=1000 ms", f"{lat}")
if lat:
    print(f"# pipeline latency reported: live {lat[0]}, min {lat[1] / 1e6:.1f} ms")

# --- default latency, and an idle feed that ends without text ---------------
arrived, rendered, msgs, lat = run_live([], latency=None, at=())
ok(lat is not None and lat[0] and lat[1] >= 4 * Gst.SECOND,
   "default latency: the LATENCY query answers at least 4000 ms", f"{lat}")
if lat:
    print(f"# default latency reported: min {lat[1] / 1e6:.1f} ms")
ok(of_type(msgs, Gst.MessageType.EOS) and not of_type(msgs, Gst.MessageType.ERROR),
   "EOS without any text is a clean EOS", *text_of(msgs))
ok(any("no turn" in m.parse_warning()[0].message for m in of_type(msgs, Gst.MessageType.WARNING)),
   "... with a warning", *text_of(msgs))

# --- latency too small: shifted with a warning, still all rendered ----------
# (the shift puts the first frame at the moment it is made: 100 ms of slack
# for a loaded machine between that check and the sink)
arrived, rendered, msgs, lat = run_live([TEXT1], latency=0, at=(0.3,), max_lateness_ms=100)
warn = [m.parse_warning()[0].message for m in of_type(msgs, Gst.MessageType.WARNING)]
ok(any("raise the latency property" in w for w in warn),
   "latency=0: a warning says to raise the latency", *text_of(msgs))
u = utterances(msgs)
ok(u and u[0].get_value("late") > 0, "the utterance reports how late it was")
ok(len(arrived) == 4 and len(rendered) == len(arrived),
   "the shifted utterance is still rendered whole",
   f"rendered {len(rendered)} of {len(arrived)}", *text_of(msgs))

# --- the example application -------------------------------------------------
here = os.path.dirname(os.path.abspath(__file__))
app = os.path.join(here, "..", "..", "docs", "examples", "live-tts.py")
p = subprocess.run([sys.executable, app, "--model", MODEL, "--voices", VOICES, "--seed", "3",
                    "--latency", "1000", "--interval", "0.4", "--sink", "fakesink sync=true",
                    "--default-speaker", "1", "--line", TEXT1, "--line", TEXT2,
                    "--line", "A line without a label."],
                   capture_output=True, text=True, timeout=120)
out = p.stdout
ok(p.returncode == 0 and "end of stream: 3 utterances" in out,
   "docs/examples/live-tts.py runs to EOS with 3 utterances", out, p.stderr)
ok("utterance 0: text at" in out and "4 frames" in out and "3 frames" in out,
   "... and prints each vv-utterance message", out)
ok("pipeline latency: live True" in out, "... and the pipeline latency", out)

print(f"1..{n}")
