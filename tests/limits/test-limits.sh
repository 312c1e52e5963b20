#!/usr/bin/env bash
# Input ceilings under a small address space (TAP output; docs/TESTING.md,
# "Limits under load"). Every command runs under `ulimit -v` of
# VV_LIMITS_VMEM_KB (default 1.5 GiB): enough for the tiny model's normal
# work (the first checks prove it), far below what an input past a ceiling
# would need if it were allocated. Each input past a ceiling must end in a
# clean error: exit status 1, a message naming the input and the limit, no
# signal (GLib aborts with SIGTRAP/SIGABRT when g_malloc fails).
# VV_TOOL and VV_DATA_DIR come from meson's test environment.
set -u
tool=${VV_TOOL:?run through meson test}
ex=${VV_EXAMPLES_DIR:?run through meson test}
vmem_kb=${VV_LIMITS_VMEM_KB:-1572864}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
fails=0
ok() { n=$((n+1)); echo "ok $n - $1${2:+ # SKIP $2}"; }
not_ok() { n=$((n+1)); fails=$((fails+1)); echo "not ok $n - $1"; shift; printf '%s\n' "$@" | sed 's/^/# /'; }

if ! (ulimit -v "$vmem_kb") 2>/dev/null; then
  echo "1..0 # SKIP cannot set ulimit -v here"
  exit 77
fi
# One BLAS thread, one engine thread (--threads 1 below) and at most two
# malloc arenas: OpenBLAS buffers, thread stacks and glibc's per-thread
# arenas (64 MB of address space each) would otherwise make the address
# space needed depend on the machine's core count.
export OPENBLAS_NUM_THREADS=1 MALLOC_ARENA_MAX=2

# limited CMD...: runs CMD under the address-space limit; sets $out, $status
limited() {
  out=$( (ulimit -v "$vmem_kb"; "$@") 2>&1 ); status=$?
}
# check NAME EXPECTED_STATUS GREP_PATTERN [PENDING] -- CMD...
# A status above 128 is a signal: always a failure (or, for a case marked
# PENDING, a skip naming what it waits for).
check() {
  local name=$1 want=$2 pattern=$3 pending=
  if [ "$4" != "--" ]; then pending=$4; shift; fi
  shift 4
  limited "$@"
  local why=
  if [ "$status" -gt 128 ]; then
    why="killed by signal $((status - 128))"
  elif [ "$status" -ne "$want" ]; then
    why="exit $status, expected $want"
  elif [ -n "$pattern" ] && ! grep -qE -- "$pattern" <<<"$out"; then
    why="output does not match /$pattern/"
  fi
  if [ -z "$why" ]; then ok "$name"
  elif [ -n "$pending" ]; then ok "$name" "$pending ($why)"
  else not_ok "$name" "$why" "$(tail -n 5 <<<"$out")"
  fi
}
synth() { "$tool" synth --threads 1 --max-frames 2 --out "$tmp/out.wav" "$@"; }

"$tool" make-model --preset tiny --seed 1 "$tmp/tiny" >/dev/null || { not_ok "make-model"; echo "1..$n"; exit 1; }
m=$tmp/tiny
script=$ex/two-speakers.txt
voices=(--voice "$ex/voice-a.wav" --voice "$ex/voice-b.wav")

# --- the limit is enough for normal work ---------------------------------
check "synth works under the limit" 0 "frames, stop:" -- synth --model "$m" --script "$script" "${voices[@]}"
check "encode works under the limit" 0 "frames x 64" -- "$tool" encode --threads 1 --model "$m" "$ex/voice-a.wav" --out "$tmp/a.npy"
check "decode works under the limit" 0 "frames ->" -- "$tool" decode --threads 1 --model "$m" "$tmp/a.npy" --out "$tmp/a.wav"

# --- scripts: VV_SCRIPT_MAX_BYTES (8 MiB) -----------------------------------
truncate -s 3G "$tmp/huge-script.txt"   # sparse: no disk used
check "synth: a 3 GB script names the 8 MiB limit" 1 "huge-script.txt: the script is longer than 8388608 bytes" -- \
  synth --model "$m" --script "$tmp/huge-script.txt" "${voices[@]}"
rm -f "$tmp/huge-script.txt"
check "synth: an endless script on a pipe stops at the limit" 1 "the script is longer than 8388608 bytes" -- \
  sh -c 'yes "Speaker 1: hello there." | "$0" synth --threads 1 --max-frames 2 --out "$1/out.wav" --model "$2" --script /dev/stdin --voice "$3"' \
  "$tool" "$tmp" "$m" "$ex/voice-a.wav"

# --- voice clips: VV_VOICE_MAX_SAMPLES (10 minutes at 24 kHz) -----------------
# wav PATH FRAMES [CHANNELS]: 16-bit 24 kHz WAV header declaring FRAMES, sparse body
wav() {
  python3 - "$1" "$2" "${3:-1}" <<'PY'
import struct, sys
n, ch = int(sys.argv[2]), int(sys.argv[3]); data = 2 * ch * n
hdr = (b"RIFF" + struct.pack("<I", 36 + data) + b"WAVEfmt "
       + struct.pack("<IHHIIHH", 16, 1, ch, 24000, 48000 * ch, 2 * ch, 16) + b"data"
       + struct.pack("<I", data))
with open(sys.argv[1], "wb") as f:
    f.write(hdr)
    f.truncate(len(hdr) + data)
PY
}
wav "$tmp/601s.wav" $((601 * 24000))
check "synth: a 601 s voice names the file and the 600 s limit" 1 "601s.wav is longer than the 600 s a voice sample may last" -- \
  synth --model "$m" --script "$script" --voice "$tmp/601s.wav" --voice "$ex/voice-b.wav"
rm -f "$tmp/601s.wav"
# 500 M samples: 2 GB as floats, more than the address-space limit
wav "$tmp/huge.wav" 500000000
check "synth: a 5.8-hour voice is refused after at most 600 s of it are decoded" 1 "huge.wav is longer than the 600 s a voice sample may last" -- \
  synth --model "$m" --script "$script" --voice "$tmp/huge.wav" --voice "$ex/voice-b.wav"
rm -f "$tmp/huge.wav"
# encode has no duration ceiling, only memory: 150 M stereo frames read as
# 1.2 GB of floats, then the mono mix does not fit
wav "$tmp/stereo.wav" 150000000 2
check "encode: a clip too long for memory is an error, not an abort" 1 "stereo.wav: too long to load" -- \
  "$tool" encode --threads 1 --model "$m" "$tmp/stereo.wav" --out "$tmp/x.npy"
rm -f "$tmp/stereo.wav"

# --- checkpoints: tensors declared far larger than the file -------------------
# st MODE DIR: a copy of the tiny model with its first tensor's header edited
st() {
  cp -r "$m" "$2"
  python3 - "$2/model.safetensors" "$1" <<'PY'
import json, struct, sys
path, mode = sys.argv[1:3]
d = open(path, "rb").read()
n = struct.unpack("<Q", d[:8])[0]
h = json.loads(d[8:8 + n])
t = h[next(k for k in h if k != "__metadata__")]
if mode == "header-length":
    open(path, "wb").write(struct.pack("<Q", 1 << 40) + d[8:])
    sys.exit()
if mode == "giant":          # 2 TiB, shape and offsets consistent
    t["shape"], t["data_offsets"] = [1 << 20, 1 << 20], [0, 2 << 40]
elif mode == "overflow":     # shape whose byte count overflows 64 bits
    t["shape"] = [1 << 31, 1 << 31, 1 << 31]
hb = json.dumps(h).encode()
open(path, "wb").write(struct.pack("<Q", len(hb)) + hb + d[8 + n:])
PY
}
st giant "$tmp/st-giant"
check "checkpoint: a 2 TiB tensor runs past the file" 1 "st-giant/model.safetensors: tensor '.*': data_offsets \\[0, 2199023255552\\] run past the end of the data region" -- \
  "$tool" info "$tmp/st-giant"
st overflow "$tmp/st-overflow"
check "checkpoint: a shape overflowing 64 bits" 1 "st-overflow/model.safetensors: tensor '.*': shape .* overflows 64-bit byte counts" -- \
  "$tool" info "$tmp/st-overflow"
st header-length "$tmp/st-header"
check "checkpoint: a 1 TiB header length" 1 "st-header/model.safetensors: header length 1099511627776 runs past the end of the file" -- \
  "$tool" info "$tmp/st-header"
rm -rf "$tmp"/st-*

# --- config.json: absurd sizes ------------------------------------------------
# cfg NAME PYTHON: a copy of the tiny model with config.json edited by PYTHON (on c)
cfg() {
  cp -r "$m" "$tmp/cfg-$1"
  python3 - "$tmp/cfg-$1/config.json" "$2" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
exec(sys.argv[2])
json.dump(c, open(sys.argv[1], "w"))
PY
}
cfg vocab 'c["decoder_config"]["vocab_size"] = 2147483647'
check "config: vocab_size 2147483647 is past its ceiling" 1 "cfg-vocab/config.json: field 'decoder_config.vocab_size' is out of range \\(2147483647; expected 1\\.\\.4194304\\)" -- \
  "$tool" info "$tmp/cfg-vocab"
cfg hidden 'c["decoder_config"]["hidden_size"] = 1 << 30'
check "config: hidden_size 2^30 disagrees with the head" 1 "cfg-hidden/config.json: .*hidden_size" -- \
  "$tool" info "$tmp/cfg-hidden"
cfg filters 'c["acoustic_tokenizer_config"]["encoder_n_filters"] = 1 << 28'
check "config: encoder_n_filters 2^28 is past its ceiling" 1 "cfg-filters/config.json: field 'acoustic_tokenizer_config.encoder_n_filters' is out of range \\(268435456; expected 1\\.\\.4096\\)" -- \
  "$tool" info "$tmp/cfg-filters"
# vv-config.c's per-field ceilings refuse this before any per-layer table
# is allocated (it used to abort).
cfg layers 'c["decoder_config"]["num_hidden_layers"] = 2147483647'
check "config: num_hidden_layers 2147483647 names the field" 1 "cfg-layers/config.json: .*num_hidden_layers" -- \
  "$tool" info "$tmp/cfg-layers"
rm -rf "$tmp"/cfg-*

# --- latents (.npy): declared shapes far past the data -------------------------
# npy PATH SHAPE: a float32 .npy header declaring SHAPE over 256 bytes of data
npy() {
  python3 - "$1" "$2" <<'PY'
import sys
h = "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % sys.argv[2]
h = h.ljust(118) + "\n"
open(sys.argv[1], "wb").write(b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h.encode() + bytes(256))
PY
}
npy "$tmp/giant.npy" "(4611686018427387904, 64)"
check "decode: a shape of 2^62 x 64 floats" 1 "giant.npy: shape too large" -- \
  "$tool" decode --threads 1 --model "$m" "$tmp/giant.npy" --out "$tmp/x.wav"
npy "$tmp/short.npy" "(100000000, 64)"
check "decode: 6.4 G values declared over 256 bytes" 1 "short.npy: data truncated: 256 bytes for 6400000000 values" -- \
  "$tool" decode --threads 1 --model "$m" "$tmp/short.npy" --out "$tmp/x.wav"
check "synth: a noise .npy with a giant shape" 1 "giant.npy: shape too large" -- \
  synth --model "$m" --script "$script" "${voices[@]}" --noise "$tmp/giant.npy"

echo "1..$n"
[ "$fails" -eq 0 ]
