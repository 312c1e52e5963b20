#!/usr/bin/env bash
# Smoke tests of the `vibevoice` tool as a user runs it (TAP output).
# VV_TOOL and VV_DATA_DIR come from meson's test environment.
set -u
tool=${VV_TOOL:?run through meson test}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
fails=0
ok() { n=$((n+1)); echo "ok $n - $1"; }
not_ok() { n=$((n+1)); fails=$((fails+1)); echo "not ok $n - $1"; shift; printf '%s\n' "$@" | sed 's/^/# /'; }
# check NAME EXPECTED_STATUS GREP_PATTERN -- CMD...
check() {
  local name=$1 want=$2 pattern=$3; shift 4
  local out status
  out=$("$@" 2>&1); status=$?
  if [ "$status" -ne "$want" ]; then
    not_ok "$name" "exit $status, expected $want" "$out"; return
  fi
  if [ -n "$pattern" ] && ! grep -qE -- "$pattern" <<<"$out"; then
    not_ok "$name" "output does not match /$pattern/" "$out"; return
  fi
  ok "$name"
}

check "usage without command" 2 "Usage: vibevoice COMMAND" -- "$tool"
check "help lists make-model" 0 "make-model" -- "$tool" --help
check "unknown command" 2 "unknown command 'frobnicate'" -- "$tool" frobnicate
check "make-model tiny" 0 "noise, not speech" -- "$tool" make-model --preset tiny --seed 1 "$tmp/tiny"
check "make-model refuses to overwrite" 1 "already holds a model" -- "$tool" make-model "$tmp/tiny"
check "make-model --force" 0 "wrote" -- "$tool" make-model --force --seed 1 --shard-size 4 "$tmp/tiny"
check "make-model wrote an index" 0 "" -- test -f "$tmp/tiny/model.safetensors.index.json"
check "make-model bad preset" 2 "unknown preset 'huge'" -- "$tool" make-model --preset huge "$tmp/x"
check "info tiny" 0 "language model +hidden 64, 2 layers, 4/2 heads" -- "$tool" info "$tmp/tiny"
check "info lists components" 0 "prediction_head" -- "$tool" info "$tmp/tiny"
check "info missing dir names it" 1 "$tmp/nowhere" -- "$tool" info "$tmp/nowhere"
check "tokenize" 0 "^9707 1879$" -- "$tool" tokenize "Hello world"
check "tokenize special token" 0 "151652" -- "$tool" tokenize "<|vision_start|>"
check "tokenize --decode" 0 "^Hello world$" -- "$tool" tokenize --decode 9707 1879
check "tokenize invalid utf-8" 1 "UTF-8" -- "$tool" tokenize $'abc\xff'
check "tokenize missing tokenizer dir" 1 "$tmp/notok" -- "$tool" tokenize --tokenizer "$tmp/notok" "Hello"
check "bench lists benchmarks" 0 "tokenizer" -- "$tool" bench --help
check "bench load" 0 "run 1: .* ms" -- "$tool" bench load --iters 1 "$tmp/tiny"
check "bench synth" 0 "real-time factor: [0-9.]+" -- "$tool" bench synth --model "$tmp/tiny" --frames 2 --iters 1 --bandwidth-mib 0
check "bench synth --json" 0 "^2 " -- sh -c '"$0" bench synth --model "$1/tiny" --frames 2 --iters 1 --bandwidth-mib 0 --json | python3 -c "import json, sys; d = json.load(sys.stdin); print(d[\"frames\"], d[\"ms_per_frame\"][\"total\"])"' "$tool" "$tmp"
# --position: KV bytes per token from the tiny config (layers × K and V ×
# kv_heads × head_dim, F32 or BF16 elements); the cache at the first frame
# holds N + L positive and N negative positions
kv_elems=$(python3 -c 'import json, sys; c = json.load(open(sys.argv[1]))["decoder_config"]; print(c["num_hidden_layers"] * 2 * c["num_key_value_heads"] * (c["hidden_size"] // c["num_attention_heads"]))' "$tmp/tiny/config.json")
check "bench synth --position 300: position and KV bytes from the config" 0 "^ok 300 " -- sh -c '"$0" bench synth --model "$1/tiny" --frames 2 --iters 1 --bandwidth-mib 0 --position 300 --json | python3 -c "
import json, sys
d = json.load(sys.stdin); e = int(sys.argv[1]); kv = d[\"kv_cache\"]; b = kv[\"bytes_per_token_per_branch\"]
good = b == 2 * e and kv[\"dtype\"] == \"bf16\" and kv[\"bytes_per_token_both_branches\"] == 2 * b \
    and kv[\"bytes_at_first_frame\"] == b * (2 * 300 + d[\"prompt_tokens\"]) \
    and d[\"first_frame_position\"] == 300 + d[\"prompt_tokens\"] and d[\"lm_ms_per_frame\"] > 0
print(\"ok\" if good else \"bad\", d[\"position\"], b, e, kv)" "$2"' "$tool" "$tmp" "$kv_elems"
check "bench synth --kv-dtype f32: 4-byte elements" 0 "^ok" -- sh -c '"$0" bench synth --model "$1/tiny" --frames 2 --iters 1 --bandwidth-mib 0 --position 10 --kv-dtype f32 --json | python3 -c "
import json, sys
kv = json.load(sys.stdin)[\"kv_cache\"]
print(\"ok\" if kv[\"dtype\"] == \"f32\" and kv[\"bytes_per_token_per_branch\"] == 4 * int(sys.argv[1]) else \"bad\", kv)" "$2"' "$tool" "$tmp" "$kv_elems"
# int8: a byte per element plus one F32 scale per (layer, K/V, KV head)
kv_scales=$(python3 -c 'import json, sys; c = json.load(open(sys.argv[1]))["decoder_config"]; print(c["num_hidden_layers"] * 2 * c["num_key_value_heads"])' "$tmp/tiny/config.json")
check "bench synth --kv-dtype int8: codes and scales" 0 "^ok" -- sh -c '"$0" bench synth --model "$1/tiny" --frames 2 --iters 1 --bandwidth-mib 0 --position 10 --kv-dtype int8 --json | python3 -c "
import json, sys
kv = json.load(sys.stdin)[\"kv_cache\"]
print(\"ok\" if kv[\"dtype\"] == \"int8\" and kv[\"bytes_per_token_per_branch\"] == int(sys.argv[1]) + 4 * int(sys.argv[2]) else \"bad\", kv)" "$2" "$3"' "$tool" "$tmp" "$kv_elems" "$kv_scales"
check "bench synth --kv-dtype int8 --device sim: refused naming I8" 1 "I8" -- "$tool" bench synth --model "$tmp/tiny" --frames 2 --iters 1 --bandwidth-mib 0 --kv-dtype int8 --device sim
# usage: CPU-s per audio-s in the JSON (> 0), energy null where no RAPL counters
check "bench synth --json: CPU-s per audio-s and energy" 0 "^ok" -- sh -c '"$0" bench synth --model "$1/tiny" --frames 2 --iters 1 --bandwidth-mib 0 --json | python3 -c "
import json, os, sys
d = json.load(sys.stdin); c = d[\"cpu_s_per_audio_s\"]; e = d[\"energy_j\"]
rapl = os.path.exists(\"/sys/class/powercap/intel-rapl:0/energy_uj\")
print(\"ok\" if c > 0 and (e is None) != rapl else \"bad\", c, e)"' "$tool" "$tmp"
# bench streams: batched sessions on one engine; its JSON has each count's figures
check "bench streams --json: counts 1, 3 with batched and one-by-one times" 0 "^ok" -- sh -c '"$0" bench streams --model "$1/tiny" --frames 2 --iters 1 --streams 1,3 --json | python3 -c "
import json, sys; d = json.load(sys.stdin); s = d[\"streams\"]
assert [x[\"n\"] for x in s] == [1, 3], s
assert all(x[\"batched_ms_per_step\"] > 0 and x[\"sequential_ms_per_step\"] > 0 for x in s), s
assert abs(s[0][\"batched_vs_one\"] - 1) < 1e-9 and s[1][\"batched_aggregate_rtf\"] > 0, s
print(\"ok\")"' "$tool" "$tmp"
check "bench streams: a count past the batch limit is refused" 2 "1 to 4" -- "$tool" bench streams --model "$tmp/tiny" --streams 1,5

# bench attention: the op alone; its figures, and bad shapes refused
check "bench attention (small)" 0 "ms per pass .* ns per \(row, key\) and thread" -- "$tool" bench attention --keys 600 --rows 3 --layers 2 --iters 1 --bandwidth-mib 0 --threads 2
check "bench attention --kv-dtype f32" 0 "F32 k/v" -- "$tool" bench attention --keys 300 --layers 1 --iters 1 --bandwidth-mib 0 --kv-dtype f32
check "bench attention --kv-dtype int8" 0 "I8 k/v" -- "$tool" bench attention --keys 300 --layers 1 --iters 1 --bandwidth-mib 0 --kv-dtype int8
check "bench attention: query heads not a multiple of kv heads" 2 "multiple of --kv-heads" -- "$tool" bench attention --q-heads 5 --kv-heads 2
check "bench synth --position past max_position_embeddings names it" 1 "bench position 65536 .*max_position_embeddings" -- "$tool" bench synth --model "$tmp/tiny" --frames 2 --iters 1 --bandwidth-mib 0 --position 65536
check "bench synth --position -1" 2 "position" -- "$tool" bench synth --model "$tmp/tiny" --frames 2 --position -1

# encode / decode (σ-VAE) on a generated stereo 16 kHz WAV (resampled to 24 kHz mono)
python3 - "$tmp/tone.wav" <<'PY'
import math, struct, sys, wave
w = wave.open(sys.argv[1], "wb"); w.setnchannels(2); w.setsampwidth(2); w.setframerate(16000)
w.writeframes(b"".join(struct.pack("<hh", int(8000 * math.sin(6.2832 * 440 * i / 16000)),
                                   int(4000 * math.sin(6.2832 * 660 * i / 16000))) for i in range(16000)))
w.close()
PY
check "encode acoustic (σ-VAE sample)" 0 "8 frames x 64 \\(acoustic, σ-VAE sample\\)" -- "$tool" encode --seed 3 --model "$tmp/tiny" "$tmp/tone.wav" --out "$tmp/s3a.npy"
check "encode same seed again" 0 "" -- "$tool" encode --seed 3 --model "$tmp/tiny" "$tmp/tone.wav" --out "$tmp/s3b.npy"
check "same seed, same sample" 0 "" -- cmp "$tmp/s3a.npy" "$tmp/s3b.npy"
check "encode acoustic mean" 0 "8 frames x 64 \\(acoustic, mean\\)" -- "$tool" encode --mean --model "$tmp/tiny" "$tmp/tone.wav" --out "$tmp/mean.npy"
check "sample differs from mean" 1 "" -- cmp -s "$tmp/s3a.npy" "$tmp/mean.npy"
check "encode acoustic" 0 "8 frames x 64" -- "$tool" encode --model "$tmp/tiny" "$tmp/tone.wav" --out "$tmp/lat.npy"
check "encode semantic" 0 "8 frames x 128" -- "$tool" encode --semantic --model "$tmp/tiny" "$tmp/tone.wav" --out "$tmp/sem.npy"
check "decode whole" 0 "8 frames -> 1.07 s" -- "$tool" decode --raw --model "$tmp/tiny" "$tmp/lat.npy" --out "$tmp/whole.wav" --dump "$tmp/whole.npy"
check "decode in chunks of 1" 0 "real-time factor" -- "$tool" decode --raw --model "$tmp/tiny" "$tmp/lat.npy" --out "$tmp/chunk1.wav" --chunk 1
check "decode chunk 1 == whole" 0 "" -- cmp "$tmp/whole.wav" "$tmp/chunk1.wav"
check "decode rejects 128-d latents" 1 "expected \\[frames, 64\\]" -- "$tool" decode --raw --model "$tmp/tiny" "$tmp/sem.npy" --out "$tmp/x.wav"
check "encode missing audio names it" 1 "$tmp/nope.wav" -- "$tool" encode --model "$tmp/tiny" "$tmp/nope.wav" --out "$tmp/x.npy"
check "decode missing latents names it" 1 "$tmp/nope.npy" -- "$tool" decode --raw --model "$tmp/tiny" "$tmp/nope.npy" --out "$tmp/x.wav"

check "decode in chunks of 3 == whole" 0 "" -- sh -c '"$0" decode --raw --model "$1/tiny" "$1/lat.npy" --out "$1/chunk3.wav" && cmp "$1/whole.wav" "$1/chunk3.wav"' "$tool" "$tmp"
check "decode --pcm16" 0 "" -- "$tool" decode --raw --pcm16 --model "$tmp/tiny" "$tmp/lat.npy" --out "$tmp/pcm16.wav"
check "decode --pcm16 wrote 16-bit PCM" 0 "^2 1 24000 25600$" -- python3 -c 'import sys, wave; w = wave.open(sys.argv[1]); print(w.getsampwidth(), w.getnchannels(), w.getframerate(), w.getnframes())' "$tmp/pcm16.wav"
# the same latents as [1, frames, 64] (header rewritten with the stdlib only),
# and as [64, frames] (wrong: transposed)
python3 - "$tmp/lat.npy" "$tmp/lat3.npy" "$tmp/latT.npy" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
hl = struct.unpack("<H", d[8:10])[0]
h = d[10:10 + hl].decode().rstrip()
for out, shape in ((sys.argv[2], "(1, 8, 64)"), (sys.argv[3], "(64, 8)")):
    new = h.replace("(8, 64)", shape, 1)
    open(out, "wb").write(d[:10] + (new.ljust(hl - 1) + "\n").encode() + d[10 + hl:])
PY
check "decode [1, frames, 64] latents" 0 "8 frames" -- "$tool" decode --raw --model "$tmp/tiny" "$tmp/lat3.npy" --out "$tmp/b3.wav" --dump "$tmp/b3.npy"
check "[1, frames, 64] decodes the same" 0 "" -- cmp "$tmp/whole.npy" "$tmp/b3.npy"
check "decode rejects [64, frames] naming the shape" 1 "latT.npy has shape \\[64, 8\\]" -- "$tool" decode --raw --model "$tmp/tiny" "$tmp/latT.npy" --out "$tmp/x.wav"
check "encode unwritable output names it" 1 "$tmp/nodir/x.npy" -- "$tool" encode --model "$tmp/tiny" "$tmp/tone.wav" --out "$tmp/nodir/x.npy"
check "decode unwritable output names it" 1 "$tmp/nodir/x.wav" -- "$tool" decode --raw --model "$tmp/tiny" "$tmp/lat.npy" --out "$tmp/nodir/x.wav"
check "encode non-audio input names it" 1 "$tmp/lat.npy: cannot read audio" -- "$tool" encode --model "$tmp/tiny" "$tmp/lat.npy" --out "$tmp/x.npy"
check "decode non-npy input names it" 1 "$tmp/tone.wav: not a .npy file" -- "$tool" decode --raw --model "$tmp/tiny" "$tmp/tone.wav" --out "$tmp/x.wav"
check "decode --chunk -1 is a usage error" 2 "--chunk" -- "$tool" decode --raw --chunk -1 --model "$tmp/tiny" "$tmp/lat.npy" --out "$tmp/x.wav"

# synth: the long-form generation loop on the tiny model (random weights: noise, and they
# rarely emit eos, hence --max-frames), two speakers with two voices
script2="$(dirname "$0")/../../docs/examples/two-speakers.txt"
python3 - "$tmp/voice2.wav" <<'PY'
import math, struct, sys, wave
w = wave.open(sys.argv[1], "wb"); w.setnchannels(1); w.setsampwidth(2); w.setframerate(24000)
w.writeframes(b"".join(struct.pack("<h", int(6000 * math.sin(6.2832 * 330 * i / 24000))) for i in range(12000)))
w.close()
PY
check "synth two speakers" 0 "[0-9]+ frames, stop: (eos|max-frames), [0-9.]+ s of audio .*real-time factor" -- "$tool" synth --model "$tmp/tiny" --script "$script2" --voice "$tmp/tone.wav" --voice "$tmp/voice2.wav" --max-frames 6 --out "$tmp/syn-a.wav"
check "synth wrote the WAV" 0 "" -- test -s "$tmp/syn-a.wav"
check "synth --pcm16" 0 "" -- "$tool" synth --pcm16 --model "$tmp/tiny" --script "$script2" --voice "$tmp/tone.wav" --voice "$tmp/voice2.wav" --max-frames 6 --out "$tmp/syn-p.wav"
check "synth wrote whole frames" 0 "^ok [1-9][0-9]*$" -- python3 -c 'import sys, wave; n = wave.open(sys.argv[1]).getnframes(); print("ok" if n % 3200 == 0 and n <= 6 * 3200 else "bad", n // 3200)' "$tmp/syn-p.wav"
check "synth same seed again" 0 "" -- "$tool" synth --model "$tmp/tiny" --script "$script2" --voice "$tmp/tone.wav" --voice "$tmp/voice2.wav" --max-frames 6 --out "$tmp/syn-b.wav"
check "synth same seed, same audio" 0 "" -- cmp "$tmp/syn-a.wav" "$tmp/syn-b.wav"
check "synth other seed" 0 "" -- "$tool" synth --seed 3 --model "$tmp/tiny" --script "$script2" --voice "$tmp/tone.wav" --voice "$tmp/voice2.wav" --max-frames 6 --out "$tmp/syn-c.wav"
check "synth other seed, other audio" 1 "" -- cmp -s "$tmp/syn-a.wav" "$tmp/syn-c.wav"
# the same synth on the simulated device (memory the host cannot touch):
# bit-identical audio, and per frame at most 1 KiB each way besides the audio
check "synth --device sim" 0 "transfers: [0-9]+ bytes up, [0-9]+ bytes down per frame on sim" -- sh -c '"$0" synth --device sim --model "$1/tiny" --script "$2" --voice "$1/tone.wav" --voice "$1/voice2.wav" --max-frames 6 --out "$1/syn-sim.wav" | tee "$1/sim.out"' "$tool" "$tmp" "$script2"
check "synth --device sim == cpu, bit for bit" 0 "" -- cmp "$tmp/syn-a.wav" "$tmp/syn-sim.wav"
check "sim: frames made, <= 1 KiB up and down per frame" 0 "^ok [1-9]" -- python3 -c 'import re, sys; t = open(sys.argv[1]).read(); f = int(re.search(r"(\d+) frames", t).group(1)); up, down = map(int, re.search(r"(\d+) bytes up, (\d+) bytes down", t).groups()); print("ok" if 0 < up <= 1024 and 0 < down <= 1024 else "bad", f, up, down)' "$tmp/sim.out"
# the emulated CUDA backend (ext/cuda's kernels on the CPU): the generation
# conformance tolerance against the CPU, and its transfers line
check "synth --device cuda-emu" 0 "transfers: [0-9]+ bytes up, [0-9]+ bytes down per frame on cuda-emu" -- "$tool" synth --device cuda-emu --model "$tmp/tiny" --script "$script2" --voice "$tmp/tone.wav" --voice "$tmp/voice2.wav" --max-frames 6 --out "$tmp/syn-emu.wav"
check "synth --device cuda-emu matches cpu within 1e-3 (1 + max)" 0 "^close: " -- python3 "$(dirname "$0")/../pipeline/wavcmp.py" close "$tmp/syn-a.wav" "$tmp/syn-emu.wav" 1e-3
# auto: CUDA where a GPU works, else the CPU with one line saying why
check "synth --device auto: cuda, or one line saying why CUDA is off" 0 "^ok" -- sh -c 'VV_DEVICE= "$0" synth --device auto --model "$1/tiny" --script "$2" --voice "$1/tone.wav" --voice "$1/voice2.wav" --max-frames 1 --out "$1/x.wav" > "$1/auto.out" 2>&1; python3 -c "import sys; t = open(sys.argv[1]).read(); n = t.count(\"CUDA is off (\"); print(\"ok\" if (n == 1 and \"on cpu\" in t) or (n == 0 and \"on cuda\" in t) else \"bad\", n)" "$1/auto.out"' "$tool" "$tmp" "$script2"
check "synth on cpu moves nothing" 0 "transfers: 0 bytes up, 0 bytes down per frame on cpu" -- "$tool" synth --model "$tmp/tiny" --script "$script2" --voice "$tmp/tone.wav" --voice "$tmp/voice2.wav" --max-frames 2 --out "$tmp/x.wav"
check "synth --device unknown names the choices" 1 "Unknown backend \"nope\" \(available: cpu, sim" -- "$tool" synth --device nope --model "$tmp/tiny" --script "$script2" --voice "$tmp/tone.wav" --voice "$tmp/voice2.wav" --out "$tmp/x.wav"
check "synth missing voice names it" 1 "$tmp/novoice.wav" -- "$tool" synth --model "$tmp/tiny" --script "$script2" --voice "$tmp/tone.wav" --voice "$tmp/novoice.wav" --out "$tmp/x.wav"
check "synth 2 speakers, 1 voice" 1 "No voice for speaker 2 \\(line 2\\)" -- "$tool" synth --model "$tmp/tiny" --script "$script2" --voice "$tmp/tone.wav" --out "$tmp/x.wav"
printf 'Speaker 1: Hello there.\n\0Speaker 2: never read\n' > "$tmp/nul-script.txt"
check "synth refuses a NUL byte, with its offset" 1 "nul-script.txt: NUL byte at offset 24" -- "$tool" synth --model "$tmp/tiny" --script "$tmp/nul-script.txt" --voice "$tmp/tone.wav" --voice "$tmp/voice2.wav" --out "$tmp/x.wav"
check "synth without --voice is a usage error" 2 "--voice" -- "$tool" synth --model "$tmp/tiny" --script "$script2" --out "$tmp/x.wav"

check "synth -o into a missing folder fails before loading the model" 1 "$tmp/no/such/dir/x.wav: cannot write: the folder $tmp/no/such/dir does not exist" -- "$tool" synth --model "$tmp/nomodel" --script "$script2" --voice "$tmp/tone.wav" --out "$tmp/no/such/dir/x.wav"
check "synth --dump-latents into a missing folder fails first" 1 "$tmp/nodir/z.npy: cannot write" -- "$tool" synth --model "$tmp/tiny" --script "$script2" --voice "$tmp/tone.wav" --voice "$tmp/voice2.wav" --out "$tmp/x.wav" --dump-latents "$tmp/nodir/z.npy"
check "synth -o a folder fails first" 1 "$tmp: cannot write: it is a folder" -- "$tool" synth --model "$tmp/nomodel" --script "$script2" --voice "$tmp/tone.wav" --out "$tmp"
# --dump-latents writes normalised z, which decode reads by default, and
# --dump-resets the decoder's reset points: the dump decodes to the synth's
# own audio, bit for bit
check "synth --dump-latents --dump-resets" 0 "" -- "$tool" synth --model "$tmp/tiny" --script "$script2" --voice "$tmp/tone.wav" --voice "$tmp/voice2.wav" --max-frames 6 --out "$tmp/syn-d.wav" --dump-latents "$tmp/syn-d.npy" --dump-resets "$tmp/syn-d.txt"
check "the decoder was reset mid-stream (after <speech_end>)" 0 "^0 [1-9]" -- sh -c 'tr "\n" " " < "$0"' "$tmp/syn-d.txt"
check "decode of the dump" 0 "frames" -- "$tool" decode --model "$tmp/tiny" "$tmp/syn-d.npy" --resets "$tmp/syn-d.txt" --out "$tmp/syn-dd.wav"
check "decode of the dump == synth audio, bit for bit" 0 "" -- cmp "$tmp/syn-d.wav" "$tmp/syn-dd.wav"
check "decode --raw of the dump differs" 1 "" -- sh -c '"$0" decode --raw --model "$1/tiny" "$1/syn-d.npy" --resets "$1/syn-d.txt" --out "$1/syn-dr.wav" >/dev/null && cmp -s "$1/syn-d.wav" "$1/syn-dr.wav"' "$tool" "$tmp"
check "decode without the resets differs" 1 "" -- sh -c '"$0" decode --model "$1/tiny" "$1/syn-d.npy" --out "$1/syn-dn.wav" >/dev/null && cmp -s "$1/syn-d.wav" "$1/syn-dn.wav"' "$tool" "$tmp"
printf '0\n99\n' > "$tmp/bad-resets.txt"
check "decode --resets past the end names the line" 1 "bad-resets.txt line 2: \"99\" is not a frame number" -- "$tool" decode --model "$tmp/tiny" "$tmp/syn-d.npy" --resets "$tmp/bad-resets.txt" --out "$tmp/x.wav"

check "synth reads a piped script once (--script /dev/stdin)" 0 "[0-9]+ frames, stop:" -- sh -c 'cat "$2" | "$0" synth --model "$1/tiny" --script /dev/stdin --voice "$1/tone.wav" --voice "$1/voice2.wav" --max-frames 2 --out "$1/pipe.wav"' "$tool" "$tmp" "$script2"
: > "$tmp/empty.txt"
check "synth of an empty script is an error naming it" 1 "empty.txt: .*holds no (turn|text)" -- "$tool" synth --model "$tmp/tiny" --script "$tmp/empty.txt" --voice "$tmp/tone.wav" --out "$tmp/x.wav"

echo "1..$n"
[ "$fails" -eq 0 ]
