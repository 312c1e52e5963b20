#!/usr/bin/python3
"""Soak test of the elements on the tiny model (docs/TESTING.md, "Soak").
Not part of `meson test`: it runs for SOAK_SECONDS (default 7200).

A `vibevoice bench synth` child makes long generations with forced
frames (SOAK_BENCH_FRAMES, 1000, per run) the whole time. The soak process
runs vvtts pipelines over and over, cycling through: a whole
long script to EOS (max-frames forces long utterances on the random-weight
model, which rarely emits EOS), a run paused and resumed mid-stream, a run
stopped mid-stream (set to NULL) and restarted on the same pipeline object,
and a fresh pipeline each time. Between cycles, with every pipeline in NULL,
it samples its own RSS, thread count and open fds, and the child's. The baseline is the
sample after SOAK_WARMUP_SECONDS (first-use allocations: plugin registry,
model, BLAS buffers); the run fails if, at the end, the median of the last
three samples (for each process) exceeds the baseline by more than SOAK_RSS_TOLERANCE_MB (16)
or SOAK_THREADS_TOLERANCE / SOAK_FDS_TOLERANCE (2 each).

Usage (from a build dir `build`):
  GST_PLUGIN_PATH=build/plugins VV_TOOL=build/tools/vibevoice \\
    SOAK_SECONDS=900 /usr/bin/python3 tests/soak/soak.py [LOG.tsv]
Model: VV_TINY_MODEL, else one made with `$VV_TOOL make-model --preset tiny`.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(HERE, "..", "..", "docs", "examples")


def env_num(name, default):
    return type(default)(os.environ.get(name, default))


SECONDS = env_num("SOAK_SECONDS", 7200)
WARMUP = env_num("SOAK_WARMUP_SECONDS", min(120, max(SECONDS // 10, 1)))
INTERVAL = env_num("SOAK_INTERVAL", 30)
RSS_TOL_MB = env_num("SOAK_RSS_TOLERANCE_MB", 16.0)
THREADS_TOL = env_num("SOAK_THREADS_TOLERANCE", 2)
FDS_TOL = env_num("SOAK_FDS_TOLERANCE", 2)
MAX_FRAMES = env_num("SOAK_MAX_FRAMES", 40)
BENCH_FRAMES = env_num("SOAK_BENCH_FRAMES", 1000)


def sample(pid="self"):
    rss_kb = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
    return (rss_kb / 1024.0, len(os.listdir(f"/proc/{pid}/task")),
            len(os.listdir(f"/proc/{pid}/fd")))


def growth(name, samples, baseline):
    end = tuple(statistics.median(x[i] for x in samples[-3:]) for i in range(3))
    print(f"soak: {name}: baseline rss {baseline[0]:.1f} MB, {baseline[1]} threads, "
          f"{baseline[2]} fds; end (median of last 3) rss {end[0]:.1f} MB, {end[1]} threads, "
          f"{end[2]} fds")
    bad = []
    if end[0] - baseline[0] > RSS_TOL_MB:
        bad.append(f"{name}: RSS grew {end[0] - baseline[0]:.1f} MB (tolerance {RSS_TOL_MB} MB)")
    if end[1] - baseline[1] > THREADS_TOL:
        bad.append(f"{name}: threads grew by {end[1] - baseline[1]} (tolerance {THREADS_TOL})")
    if end[2] - baseline[2] > FDS_TOL:
        bad.append(f"{name}: fds grew by {end[2] - baseline[2]} (tolerance {FDS_TOL})")
    return bad


def run_until(pipe, seconds=None):
    """Runs the bus until EOS (True) or until @seconds pass (False). Errors are fatal."""
    bus = pipe.get_bus()
    deadline = None if seconds is None else time.monotonic() + seconds
    while True:
        left = 5 * Gst.SECOND if deadline is None else \
            max(int((deadline - time.monotonic()) * Gst.SECOND), 0)
        msg = bus.timed_pop_filtered(left, Gst.MessageType.EOS | Gst.MessageType.ERROR)
        if msg is None:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            continue
        if msg.type == Gst.MessageType.ERROR:
            err, dbg = msg.parse_error()
            sys.exit(f"soak: pipeline error: {err.message} ({dbg})")
        return True


def set_state(pipe, state):
    if pipe.set_state(state) == Gst.StateChangeReturn.FAILURE:
        sys.exit(f"soak: state change to {state.value_nick} failed")
    pipe.get_state(Gst.CLOCK_TIME_NONE)


def main():
    Gst.init(None)
    tool = os.environ.get("VV_TOOL", "vibevoice")
    tmp = tempfile.mkdtemp(prefix="vv-soak-")
    model = os.environ.get("VV_TINY_MODEL")
    if not model:
        model = os.path.join(tmp, "tiny")
        subprocess.run([tool, "make-model", "--preset", "tiny", "--seed", "2", model],
                       check=True, stdout=subprocess.DEVNULL)
    # a long script: the two-speaker example ten times, with pauses
    with open(os.path.join(EXAMPLES, "two-speakers.txt")) as f:
        text = f.read().strip()
    script = os.path.join(tmp, "long.txt")
    with open(script, "w") as f:
        f.write(("\n[Pause:Short]\n".join([text] * 10)) + "\n")
    voices = "1=%s,2=%s" % (os.path.join(EXAMPLES, "voice-a.wav"),
                            os.path.join(EXAMPLES, "voice-b.wav"))
    desc = (f'filesrc location="{script}" ! vvtts model="{model}" voices="{voices}" '
            f"max-frames={MAX_FRAMES} threads=1 name=tts ! audioconvert ! "
            "audio/x-raw,format=S16LE ! fakesink sync=false")

    # Long generation with forced frames, alongside: the tool's synth
    # benchmark takes <diffusion> at every step, so each run makes exactly
    # SOAK_BENCH_FRAMES frames; it repeats until the soak ends.
    bench = subprocess.Popen([tool, "bench", "synth", "--model", model, "--frames",
                              str(BENCH_FRAMES), "--iters", "1000000", "--bandwidth-mib", "0",
                              "--threads", "1"], stdout=subprocess.DEVNULL)
    log = open(sys.argv[1], "w") if len(sys.argv) > 1 else None
    header = "elapsed_s\tcycles\trss_mb\tthreads\tfds\tbench_rss_mb\tbench_threads\tbench_fds"
    print(header, file=log or sys.stdout, flush=True)
    t0 = time.monotonic()
    samples, bench_samples = [], []
    baseline = bench_baseline = None
    pipe = None
    cycle = 0
    next_sample = 0.0
    while True:
        elapsed = time.monotonic() - t0
        if elapsed >= next_sample or elapsed >= SECONDS:
            if bench.poll() is not None:
                sys.exit(f"soak: vibevoice bench synth exited with status {bench.returncode}")
            s, b = sample(), sample(bench.pid)
            samples.append(s)
            bench_samples.append(b)
            row = (f"{elapsed:.0f}\t{cycle}\t{s[0]:.1f}\t{s[1]}\t{s[2]}"
                   f"\t{b[0]:.1f}\t{b[1]}\t{b[2]}")
            print(row, file=log or sys.stdout, flush=True)
            if log:
                print(row, flush=True)
            if baseline is None and elapsed >= WARMUP:
                baseline, bench_baseline = s, b
            next_sample = elapsed + INTERVAL
        if elapsed >= SECONDS:
            break
        kind = cycle % 4
        if pipe is None or kind == 3:
            pipe = Gst.parse_launch(desc)  # a fresh pipeline (the old one is dropped)
        pipe.get_by_name("tts").set_property("seed", cycle)
        set_state(pipe, Gst.State.PLAYING)
        if kind == 0:      # the whole script
            run_until(pipe)
        elif kind == 1:    # pause and resume mid-stream, then to the end
            run_until(pipe, seconds=1.0)
            set_state(pipe, Gst.State.PAUSED)
            time.sleep(0.2)
            set_state(pipe, Gst.State.PLAYING)
            run_until(pipe)
        elif kind == 2:    # stop mid-stream; the next cycle restarts this object
            run_until(pipe, seconds=1.5)
        else:              # fresh pipeline, stopped mid-stream through READY
            run_until(pipe, seconds=1.0)
            set_state(pipe, Gst.State.READY)
        set_state(pipe, Gst.State.NULL)
        cycle += 1
        # let GLib's deferred work (bus, thread pools) run between cycles
        GLib.MainContext.default().iteration(False)

    if pipe is not None:
        set_state(pipe, Gst.State.NULL)
    bench.terminate()
    bench.wait()
    print(f"soak: {cycle} element cycles in {SECONDS} s")
    bad = growth("elements", samples, baseline or samples[0])
    bad += growth("bench synth", bench_samples, bench_baseline or bench_samples[0])
    for b in bad:
        print("soak: FAIL: " + b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
