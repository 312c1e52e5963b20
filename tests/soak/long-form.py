#!/usr/bin/python3
"""Long-form run on the tiny model: one generation through the whole 64K context.

Not part of `meson test` (it runs for many minutes); docs/PERFORMANCE.md
("Long form") has its figures and docs/long-form.png its plot.

The tiny preset's config allows 65 536 positions, like VibeVoice-1.5B. The
script is long enough that vvtokenize's context budget (a third of the
positions, so that the reference's limit of twice the prompt length still
fits) closes a first window of about 21 800 prompt tokens; the rest of the
script continues in a second window with the same voices. The random-weight
model practically never emits EOS, so each window runs to the reference's
limit, min(P - L, 2 L) frames: about 43 700 frames (97 minutes of audio) in
the first window, which takes the positive branch's context to ~65 500.

The pipeline is the four elements into a non-syncing fakesink. Pad probes
count latent frames and audio samples and check that audio timestamps are
continuous (each buffer starts where the previous one ended, to the
nanosecond rounding of the sample clock). A thread samples this process's RSS
every SAMPLE_S seconds. At the end the run fails if a frame is missing (audio
samples != 3200 x frames from the vv-utterance messages), a timestamp jumps,
or the RSS grew by more than RSS_TOL_MB between the first sample after the
caches reached their final size and the end.

Usage (from the source root, with a build in `build`):
  GST_PLUGIN_PATH=build/plugins VV_TOOL=build/tools/vibevoice \\
    /usr/bin/python3 tests/soak/long-form.py OUT.tsv [PLOT.png]
Environment: LF_THREADS (2), LF_TOKENS (total prompt tokens of the script,
25000), LF_SAMPLE_S (5), LF_RSS_TOLERANCE_MB (16), VV_TINY_MODEL.
The plot needs python3-matplotlib (not needed by the test suite).
"""
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(HERE, "..", "..", "docs", "examples")
THREADS = int(os.environ.get("LF_THREADS", 2))
TOKENS = int(os.environ.get("LF_TOKENS", 25000))
SAMPLE_S = float(os.environ.get("LF_SAMPLE_S", 5))
RSS_TOL_MB = float(os.environ.get("LF_RSS_TOLERANCE_MB", 16))
FRAME_SAMPLES = 3200
TICK = 256  # frames per ms/frame point

WORDS = ("the morning news starts with weather traffic and a story about the river "
         "festival where music boats and lanterns fill the old harbour every summer "
         "people travel from far away to listen and the town keeps its doors open late").split()


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def make_script(path, tool, target_tokens):
    """Alternating two-speaker lines until the tokenizer counts target_tokens."""
    lines, i = [], 0
    while True:
        # long turns: vvtokenize's budget counts 8 tokens of overhead per turn, so
        # with long turns its estimate is close to the real prompt length and the
        # first window fills the context
        n = 60 + (i * 7) % 31
        words = [WORDS[(i * 13 + j * 5) % len(WORDS)] for j in range(n)]
        lines.append(f"Speaker {1 + i % 2}: {' '.join(words).capitalize()}.")
        i += 1
        if i % 20 == 0:
            with open(path, "w") as f:
                f.write("\n".join(lines) + "\n")
            out = subprocess.run([tool, "tokenize", "-f", path], capture_output=True,
                                 text=True, check=True)
            # vvtokenize's estimate: the turn's ids + 8 per turn
            count = len(out.stdout.split()) + 8 * len(lines)
            if count >= target_tokens:
                return len(lines), count


def main():
    out_tsv = sys.argv[1] if len(sys.argv) > 1 else "long-form.tsv"
    out_png = sys.argv[2] if len(sys.argv) > 2 else None
    Gst.init(None)
    tool = os.environ.get("VV_TOOL", "vibevoice")
    tmp = tempfile.mkdtemp(prefix="vv-long-")
    model = os.environ.get("VV_TINY_MODEL")
    if not model:
        model = os.path.join(tmp, "tiny")
        subprocess.run([tool, "make-model", "--preset", "tiny", "--seed", "2", model],
                       check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(model, "config.json")) as f:
        max_pos = json.load(f)["decoder_config"]["max_position_embeddings"]
    script = os.path.join(tmp, "long.txt")
    n_lines, n_tokens = make_script(script, tool, TOKENS)
    print(f"long-form: {n_lines} lines, ~{n_tokens:.0f} script tokens, "
          f"max_position_embeddings {max_pos}, {THREADS} thread(s)", flush=True)
    voices = "1=%s,2=%s" % (os.path.join(EXAMPLES, "voice-a.wav"),
                            os.path.join(EXAMPLES, "voice-b.wav"))
    pipe = Gst.parse_launch(
        f'filesrc location="{script}" ! vvdialogparse ! '
        f'vvtokenize model="{model}" voices="{voices}" ! '
        f"vvdiffuse name=diff seed=7 threads={THREADS} forced-diffusion=true ! vvvocode name=voc ! "
        "fakesink sync=false")

    state = {"frames": 0, "ticks": [], "samples": 0, "next_pts": None, "jumps": [],
             "t0": None}
    lock = threading.Lock()

    def on_latent(pad, info):
        buf = info.get_buffer()
        now = time.monotonic()
        with lock:
            if state["t0"] is None:
                state["t0"] = now
            nf = max(1, buf.get_size() // 4 // 64)  # F32 latents, 64 per frame (tiny and 1.5B)
            for _ in range(nf):
                state["frames"] += 1
                if state["frames"] % TICK == 0:
                    state["ticks"].append((state["frames"], now))
        return Gst.PadProbeReturn.OK

    def on_audio(pad, info):
        buf = info.get_buffer()
        n = buf.get_size() // 4
        with lock:
            if state["next_pts"] is not None and buf.pts != Gst.CLOCK_TIME_NONE:
                if abs(buf.pts - state["next_pts"]) > 1:
                    state["jumps"].append((state["samples"], buf.pts, state["next_pts"]))
            state["samples"] += n
            if buf.pts != Gst.CLOCK_TIME_NONE and buf.duration != Gst.CLOCK_TIME_NONE:
                state["next_pts"] = buf.pts + buf.duration
        return Gst.PadProbeReturn.OK

    pipe.get_by_name("diff").get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, on_latent)
    pipe.get_by_name("voc").get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, on_audio)

    rss = []  # (elapsed_s, frames, rss_mb)
    done = threading.Event()
    t_start = time.monotonic()

    def sampler():
        while not done.wait(SAMPLE_S):
            with lock:
                frames = state["frames"]
            rss.append((time.monotonic() - t_start, frames, rss_mb()))

    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    utterances = []
    pipe.set_state(Gst.State.PLAYING)
    bus = pipe.get_bus()
    err = None
    while True:
        msg = bus.timed_pop_filtered(Gst.CLOCK_TIME_NONE, Gst.MessageType.EOS |
                                     Gst.MessageType.ERROR | Gst.MessageType.ELEMENT)
        if msg.type == Gst.MessageType.ERROR:
            e, dbg = msg.parse_error()
            err = f"{e.message} ({dbg})"
            break
        if msg.type == Gst.MessageType.EOS:
            break
        s = msg.get_structure()
        if s is not None and s.get_name() == "vv-utterance":
            u = {k: s.get_value(k) for k in ("index", "frames", "prompt-tokens", "stop-reason",
                                             "audio-seconds", "processing-seconds")}
            utterances.append(u)
            print(f"long-form: window {u['index']}: {u['prompt-tokens']} prompt tokens, "
                  f"{u['frames']} frames ({u['audio-seconds'] / 60:.1f} min of audio) in "
                  f"{u['processing-seconds']:.0f} s, stop {u['stop-reason']}", flush=True)
    done.set()
    th.join()
    rss.append((time.monotonic() - t_start, state["frames"], rss_mb()))
    pipe.set_state(Gst.State.NULL)
    if err:
        sys.exit(f"long-form: pipeline error: {err}")

    # frame index -> context position (prompt tokens of its window + frames so far)
    bounds, acc = [], 0
    for u in utterances:
        bounds.append((acc, acc + u["frames"], u["prompt-tokens"], u["index"]))
        acc += u["frames"]

    def position(frame):
        for lo, hi, prompt, idx in bounds:
            if lo < frame <= hi:
                return idx, prompt + (frame - lo)
        return -1, -1

    with open(out_tsv, "w") as f:
        print("kind\telapsed_s\tframes\twindow\tposition\tms_per_frame\trss_mb", file=f)
        prev = None
        for frames, t in state["ticks"]:
            if prev is not None:
                w, pos = position(frames)
                w0, _ = position(prev[0])
                if w == w0:  # a window's first tick includes its prefill
                    ms = (t - prev[1]) * 1000.0 / (frames - prev[0])
                    print(f"tick\t{t - t_start:.1f}\t{frames}\t{w}\t{pos}\t{ms:.2f}\t", file=f)
            prev = (frames, t)
        for t, frames, mb in rss:
            w, pos = position(frames)
            print(f"rss\t{t:.1f}\t{frames}\t{w}\t{pos}\t\t{mb:.1f}", file=f)

    bad = []
    total_frames = sum(u["frames"] for u in utterances)
    if state["frames"] != total_frames:
        bad.append(f"{state['frames']} latent frames seen, the messages say {total_frames}")
    if state["samples"] != total_frames * FRAME_SAMPLES:
        bad.append(f"{state['samples']} audio samples, expected {total_frames * FRAME_SAMPLES}")
    if state["jumps"]:
        bad.append(f"{len(state['jumps'])} timestamp jumps, first at sample "
                   f"{state['jumps'][0][0]}: pts {state['jumps'][0][1]} != "
                   f"{state['jumps'][0][2]}")
    # The caches reach their final size by the time the first window is 90 % through
    # (growth is by doubling); RSS must be flat from there on.
    flat_from = bounds[0][0] + int(0.9 * (bounds[0][1] - bounds[0][0])) if bounds else 0
    tail = [r for r in rss if r[1] >= flat_from]
    if len(tail) >= 2:
        growth = max(r[2] for r in tail) - tail[0][2]
        print(f"long-form: RSS {tail[0][2]:.1f} MB at frame {tail[0][1]}, at most "
              f"{max(r[2] for r in tail):.1f} MB afterwards (growth {growth:.1f} MB); "
              f"peak over the run {max(r[2] for r in rss):.1f} MB")
        if growth > RSS_TOL_MB:
            bad.append(f"RSS grew {growth:.1f} MB after the caches were full "
                       f"(tolerance {RSS_TOL_MB} MB)")
    ticks = [line for line in open(out_tsv) if line.startswith("tick")]
    print(f"long-form: {total_frames} frames ({total_frames * FRAME_SAMPLES / 24000 / 60:.1f} "
          f"min of audio) in {rss[-1][0]:.0f} s; {len(ticks)} ms/frame points in {out_tsv}")
    if out_png:
        plot(out_tsv, out_png, max_pos)
    for b in bad:
        print("long-form: FAIL: " + b)
    return 1 if bad else 0


def plot(tsv, png, max_pos):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ticks, rss = [], []
    for line in open(tsv):
        p = line.rstrip("\n").split("\t")
        if p[0] == "tick":
            ticks.append((int(p[3]), int(p[4]), float(p[5])))
        elif p[0] == "rss":
            rss.append((float(p[1]), float(p[6])))
    fig, (a, b) = plt.subplots(2, 1, figsize=(8, 6.5))
    for w in sorted({t[0] for t in ticks}):
        pts = [t for t in ticks if t[0] == w]
        a.plot([t[1] for t in pts], [t[2] for t in pts], ".", ms=2, label=f"window {w}")
    a.set_xlabel("context position (prompt tokens + frames)")
    a.set_ylabel("ms per frame")
    a.set_xlim(0, max_pos)
    a.set_ylim(bottom=0)
    a.legend()
    a.set_title("tiny model, one pass through the 64K context")
    b.plot([r[0] for r in rss], [r[1] for r in rss])
    b.set_xlabel("elapsed s")
    b.set_ylabel("RSS MB")
    b.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(png, dpi=90)


if __name__ == "__main__":
    sys.exit(main())
