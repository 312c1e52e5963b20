#!/usr/bin/env bash
# The CUDA backend on a real GPU, in one short run (docs/CUDA.md): build,
# the op tests and the GEMM wrapper on "cuda", CUDA Graph capture/replay,
# a tiny-model synthesis on cuda (with and without graphs) vs cpu, then the
# 1.5B preset's speed with and without graphs (ms per frame, RTF, first
# audio, GPU memory). Meant for a borrowed GPU for a few minutes: every
# step has a time limit and the whole script stays under 8 minutes on an
# H100/H200-class machine, leaving time to run it again.
#
#   tests/cuda/run-on-gpu.sh [BUILD_DIR]     (default build-gpu)
#
# Prints one "== step" line per step and a summary; exits non-zero if a
# correctness step failed (speed figures are reported, not judged).
set -u
cd "$(dirname "$0")/../.."
B=${1:-build-gpu}
T0=$(date +%s)
fails=0
step () { echo; echo "== $* ($(( $(date +%s) - T0 )) s)"; }
run () {                        # run LIMIT_S CMD...: a step that must pass
  local limit=$1; shift
  if ! timeout "$limit" "$@"; then echo "!! FAILED: $*"; fails=$((fails + 1)); fi
}

step "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
nproc; uname -r

step "build"
if [ ! -d "$B" ]; then
  meson setup "$B" -Dcuda=enabled -Dintrospection=disabled >/dev/null || exit 1
fi
ninja -C "$B" >/dev/null || { echo "!! build failed"; ninja -C "$B" | tail -30; exit 1; }

step "GEMM wrapper on cuBLAS"
run 60 "$B/tests/cuda/test-cuda-gemm" --tap

step "every op on cuda vs the references (test-backend-ops, test-lm-ops)"
run 180 "$B/tests/test-backend-ops" --tap
VV_TEST_BACKEND=cuda run 60 "$B/tests/test-lm-ops" --tap

step "conformance and session tests on cuda (the cpu/sim/cuda-emu runs too, here on cuda)"
VV_TEST_BACKEND_OVERRIDE=cuda run 300 meson test -C "$B" --no-rebuild --suite conformance \
  --print-errorlogs session session-sim

step "device memory between vvdiffuse and vvvocode on cuda (element-cudamem)"
VV_CUDAMEM_DEVICE=cuda run 120 meson test -C "$B" --no-rebuild --print-errorlogs \
  element-cudamem

step "CUDA Graphs on cuda: capture, replay bit-identical to eager, re-capture (test-cuda-graph)"
# (through meson for its environment: the tool that makes the checkpoint)
VV_TEST_BACKEND=cuda run 120 meson test -C "$B" --no-rebuild --print-errorlogs cuda-graph

step "tiny model: synth on cuda (graphs, and VV_GRAPHS=0) vs cpu"
M=$B/tools/tiny-model
S=docs/examples/two-speakers-pause.txt
V="1=docs/examples/voice-a.wav,2=docs/examples/voice-b.wav"
run 120 "$B/tools/vibevoice" synth --model "$M" --voices "$V" --seed 3 --device cpu \
  -o "$B/gpu-cpu.wav" --script "$S"
run 120 "$B/tools/vibevoice" synth --model "$M" --voices "$V" --seed 3 --device cuda \
  -o "$B/gpu-cuda.wav" --script "$S"
VV_GRAPHS=0 run 120 "$B/tools/vibevoice" synth --model "$M" --voices "$V" --seed 3 \
  --device cuda -o "$B/gpu-cuda-eager.wav" --script "$S"
run 10 python3 tests/pipeline/wavcmp.py close "$B/gpu-cpu.wav" "$B/gpu-cuda.wav" 1e-3
# the graph replays the eager launches on the same stream: the same bits
run 10 cmp "$B/gpu-cuda.wav" "$B/gpu-cuda-eager.wav"

step "1.5B preset: speed on cuda (random weights)"
if [ ! -d "$B/vv-1.5b" ]; then
  timeout 240 "$B/tools/vibevoice" make-model --preset 1.5b --seed 1 -o "$B/vv-1.5b" >/dev/null
fi
timeout 150 "$B/tools/vibevoice" bench synth --model "$B/vv-1.5b" --device cuda --frames 20 \
  --steps 10 || echo "!! bench failed"
echo "-- the same without CUDA Graphs (VV_GRAPHS=0: the diffusion head eager)"
VV_GRAPHS=0 timeout 100 "$B/tools/vibevoice" bench synth --model "$B/vv-1.5b" --device cuda \
  --frames 20 --steps 10 || echo "!! bench failed"
nvidia-smi --query-gpu=memory.used --format=csv,noheader || true

step "summary"
echo "correctness failures: $fails; wall time $(( $(date +%s) - T0 )) s"
[ "$fails" -eq 0 ]
