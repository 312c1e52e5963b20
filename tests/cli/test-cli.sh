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

echo "1..$n"
[ "$fails" -eq 0 ]
