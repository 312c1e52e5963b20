#!/usr/bin/env python3
"""Live text-to-speech with vvtts, through GObject Introspection.

Each line of text is pushed into a live `appsrc` (is-live, do-timestamp) at
the moment it "arrives", so it carries the running time of its arrival; vvtts
speaks it at that time plus the pipeline latency. The application watches
the bus: the `vv-utterance` element message of every utterance (text time,
audio time and duration, real-time factor, first-audio latency), warnings
(a generation that fell behind the live clock) and errors.

    python3 docs/examples/live-tts.py --model build/tools/tiny-model \\
        --voices 1=docs/examples/voice-a.wav,2=docs/examples/voice-b.wav \\
        --line "Speaker 1: Hello and welcome." --line "Speaker 2: Thanks!"

Options: --interval S (seconds between lines), --latency MS (the vvtts
latency property; default: the element's), --seed N, --sink DESC (default
autoaudiosink; the tests use "fakesink sync=true"), --default-speaker L
(for lines without a speaker label), --stdin (read lines from standard input
as they come instead of --line).
"""
import argparse
import sys
import threading

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GLib", "2.0")
from gi.repository import GLib, Gst  # noqa: E402


def seconds(ns):
    return "none" if ns == Gst.CLOCK_TIME_NONE else f"{ns / Gst.SECOND:.3f} s"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--voices", required=True)
    ap.add_argument("--line", action="append", default=[])
    ap.add_argument("--stdin", action="store_true")
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--latency", type=int, default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--default-speaker", default=None)
    ap.add_argument("--sink", default="autoaudiosink")
    args = ap.parse_args()

    Gst.init(None)
    desc = ("appsrc name=src is-live=true do-timestamp=true format=time "
            "caps=text/x-raw,format=utf8 ! vvtts name=tts ! "
            # generation runs ahead of the clock instead of waiting for each
            # frame to play (a syncing sink blocks the streaming thread)
            "queue max-size-buffers=0 max-size-bytes=0 max-size-time=60000000000 ! "
            "audioconvert ! audioresample ! "
            + args.sink)
    pipe = Gst.parse_launch(desc)
    src = pipe.get_by_name("src")
    tts = pipe.get_by_name("tts")
    tts.set_property("model", args.model)
    tts.set_property("voices", args.voices)
    tts.set_property("seed", args.seed)
    if args.latency is not None:
        tts.set_property("latency", args.latency)
    if args.default_speaker:
        tts.set_property("default-speaker", args.default_speaker)

    loop = GLib.MainLoop()
    status = {"code": 0, "utterances": 0}

    def push(text):
        # do-timestamp: appsrc stamps the buffer with the running time now
        src.emit("push-buffer", Gst.Buffer.new_wrapped(text.encode("utf-8")))
        print(f"text: {text!r}", flush=True)

    def feed_lines():
        lines = list(args.line)

        def next_line():
            if lines:
                push(lines.pop(0))
                return True
            src.emit("end-of-stream")
            return False
        GLib.timeout_add(int(args.interval * 1000), next_line)

    def feed_stdin():
        # readline, not iteration: a pipe is read ahead in blocks otherwise
        for line in iter(sys.stdin.readline, ""):
            if line.strip():
                GLib.idle_add(push, line.rstrip("\n"))
        GLib.idle_add(lambda: src.emit("end-of-stream") and False)

    def on_message(bus, msg):
        t = msg.type
        if t == Gst.MessageType.ELEMENT:
            s = msg.get_structure()
            if s.get_name() == "vv-utterance":
                status["utterances"] += 1
                ffl = s.get_value("first-frame-latency")
                print(f"utterance {s.get_value('index')}: text at "
                      f"{seconds(s.get_value('input-pts'))}, audio at "
                      f"{seconds(s.get_value('pts'))}, {s.get_value('frames')} frames "
                      f"({seconds(s.get_value('duration'))}), RTF "
                      f"{s.get_value('real-time-factor'):.3f}, first audio after "
                      f"{seconds(ffl)}, late {seconds(s.get_value('late'))}, stop "
                      f"{s.get_value('stop-reason')}", flush=True)
        elif t == Gst.MessageType.ASYNC_DONE and msg.src == pipe:
            q = Gst.Query.new_latency()
            if pipe.query(q):
                live, lmin, lmax = q.parse_latency()
                print(f"pipeline latency: live {live}, {seconds(lmin)}", flush=True)
        elif t == Gst.MessageType.WARNING:
            err, _ = msg.parse_warning()
            print(f"warning from {msg.src.get_name()}: {err.message}", flush=True)
        elif t == Gst.MessageType.ERROR:
            err, dbg = msg.parse_error()
            print(f"error from {msg.src.get_name()}: {err.message}\n{dbg or ''}",
                  file=sys.stderr, flush=True)
            status["code"] = 1
            loop.quit()
        elif t == Gst.MessageType.EOS:
            print(f"end of stream: {status['utterances']} utterances", flush=True)
            loop.quit()

    bus = pipe.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    if pipe.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        # the error message says why
        msg = bus.timed_pop_filtered(Gst.SECOND, Gst.MessageType.ERROR)
        if msg:
            print(f"error: {msg.parse_error()[0].message}", file=sys.stderr)
        pipe.set_state(Gst.State.NULL)
        return 1
    if args.stdin:
        threading.Thread(target=feed_stdin, daemon=True).start()
    else:
        feed_lines()
    loop.run()
    pipe.set_state(Gst.State.NULL)
    return status["code"]


if __name__ == "__main__":
    sys.exit(main())
