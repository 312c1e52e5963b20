#!/usr/bin/env bash
# `vibevoice synth` == the element chain for every script form (TAP output).
# The tool reads scripts through vvdialogparse ! vvtokenize, so each form
# (Speaker N:, names, [Speaker X], [Role:X], continuation lines, pauses,
# emotions, JSON) must give the pipeline's samples exactly, with voices at
# 44.1 kHz and 16 kHz (both resampled by the same soxr HQ path) and file
# names that need the voices escaping. Environment from meson: VV_TOOL,
# VV_TINY_MODEL, GST_PLUGIN_PATH, GST_REGISTRY_1_0.
set -u
tool=${VV_TOOL:?run through meson test}
model=${VV_TINY_MODEL:?}
here=$(cd "$(dirname "$0")" && pwd)
wavcmp() { python3 "$here/wavcmp.py" "$@"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
ok() { n=$((n+1)); echo "ok $n - $1"; }
not_ok() { n=$((n+1)); echo "not ok $n - $1"; shift; printf '%s\n' "$@" | sed 's/^/# /'; }
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

# voices: 44.1 kHz mono and 16 kHz stereo, under names with , ; and =
mkdir -p "$tmp/v"
va="$tmp/v/a,1=x.wav"; vb="$tmp/v/b;2.wav"; vc="$tmp/v/c=happy.wav"
# the example voices (24 kHz) at other rates, written by GStreamer
ex=${VV_EXAMPLES_DIR:?}
mk() { gst-launch-1.0 -q filesrc location="$1" ! wavparse ! audioconvert ! audioresample ! "audio/x-raw,rate=$2,channels=$3" ! wavenc ! filesink location="$4"; }
mk "$ex/voice-a.wav" 44100 1 "$va" && mk "$ex/voice-b.wav" 16000 2 "$vb" && mk "$ex/voice-b.wav" 44100 1 "$vc"
check "a voice at 44.1 kHz mono" 0 "^44100 1 16 " -- wavcmp info "$va"
check "a voice at 16 kHz stereo" 0 "^16000 2 16 " -- wavcmp info "$vb"
esc() { printf '%s' "$1" | sed -e 's/[\\,;=]/\\&/g'; }

# texts long enough for the tiny model to speak a few frames
a='Welcome back to the show. Today we are talking about streaming speech synthesis.'
b='Thanks for having me! It is a topic I could talk about for hours.'
printf 'Speaker 1: %s\nSpeaker 2: %s\n' "$a" "$b" > "$tmp/numeric.txt"
printf 'Alice: %s\nBob: %s\n' "$a" "$b" > "$tmp/names.txt"
printf '[Speaker A] Welcome back to the show.\nToday we are talking about streaming speech synthesis.\n[Role:B] %s\n' "$b" > "$tmp/tags.txt"
printf 'Speaker 1: %s\n[pause:300ms]\nSpeaker 2: %s\n[Pause:Short]\n' "$a" "$b" > "$tmp/pause.txt"
printf 'Speaker 1: %s\n[Emotion:Happy]\nSpeaker 1: Good news, everyone, the show goes on!\nSpeaker 2: %s\n' "$a" "$b" > "$tmp/emotion.txt"
printf '[{"speaker": "1", "text": "%s"}, {"speaker": "2", "text": "%s", "pause_ms": 200}]\n' "$a" "$b" > "$tmp/json.json"

numeric="1=$(esc "$va"),2=$(esc "$vb")"
names="alice=$(esc "$va");bob=$(esc "$vb")"
tags="voices, a=\"$va\", b=\"$vb\""
emotion="1=$(esc "$va"),1:happy=$(esc "$vc"),2=$(esc "$vb")"
array="<\"$va\", \"$vb\">"

# form SCRIPT VOICES SEED
form() {
  local name=$1 script=$2 voices=$3 seed=$4
  # gst-launch unescapes property values once: its line needs \\ for \
  local launch_voices
  launch_voices=$(printf '%s' "$voices" | sed 's/\\/\\\\/g')
  check "$name: synth" 0 "[1-9][0-9]* frames, stop:" -- "$tool" synth --model "$model" --script "$script" --voices "$voices" --seed "$seed" --max-frames 4 --out "$tmp/$name-tool.wav"
  local caps=text/x-raw,format=utf8
  case $script in *.json) caps=application/json;; esac
  check "$name: pipeline" 0 "" -- gst-launch-1.0 -q filesrc location="$script" ! "$caps" ! vvdialogparse ! vvtokenize model="$model" voices="$launch_voices" ! vvdiffuse seed="$seed" max-frames=4 ! vvvocode ! wavenc ! filesink location="$tmp/$name-pipe.wav"
  check "$name: tool == pipeline, sample for sample" 0 "identical" -- wavcmp same "$tmp/$name-tool.wav" "$tmp/$name-pipe.wav"
}
form numeric "$tmp/numeric.txt" "$numeric" 4
form names "$tmp/names.txt" "$names" 4
form tags "$tmp/tags.txt" "$tags" 4
# seed 14: 4 frames with the BF16 KV cache (seed 10 spoke 0 frames after it became the default)
form pause "$tmp/pause.txt" "$numeric" 14
form emotion "$tmp/emotion.txt" "$emotion" 3
form json "$tmp/json.json" "$numeric" 3
form positional "$tmp/names.txt" "$array" 4
check "the positional array names the same voices as alice=, bob=" 0 "identical" -- wavcmp same "$tmp/positional-tool.wav" "$tmp/names-tool.wav"
# --voice FILE: the n-th speaker to appear, escaped by the tool
check "synth --voice (escaped for vvtokenize)" 0 "" -- "$tool" synth --model "$model" --script "$tmp/names.txt" --voice "$va" --voice "$vb" --seed 4 --max-frames 4 --out "$tmp/voice-flag.wav"
check "--voice == --voices" 0 "identical" -- wavcmp same "$tmp/voice-flag.wav" "$tmp/names-tool.wav"
# the pause script: 300 ms = 7200 zero samples after window 1 and 250 ms = 6000 at the end
check "pause script ends in 6000 zero samples" 0 "" -- python3 -c "
import subprocess, sys
n = int(sys.argv[1].split()[3]); sys.exit(subprocess.call([sys.executable, sys.argv[2], 'zeros', sys.argv[3], str(n - 6000), '6000']))" "$(wavcmp info "$tmp/pause-tool.wav")" "$here/wavcmp.py" "$tmp/pause-tool.wav"
check "synth with a missing --voices file names it" 1 "$tmp/v/nope.wav" -- "$tool" synth --model "$model" --script "$tmp/numeric.txt" --voices "1=$tmp/v/nope.wav,2=$(esc "$vb")" --out "$tmp/x.wav"
check "synth refuses a bad script line, naming it" 1 "line 2" -- sh -c 'printf "Speaker 1: hi\n[pause:99999s]\nSpeaker 2: x\n" > "$1/bad.txt"; "$0" synth --model "$2" --script "$1/bad.txt" --voices "$3" --out "$1/x.wav"' "$tool" "$tmp" "$model" "$numeric"

echo "1..$n"
