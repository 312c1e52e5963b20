#!/usr/bin/python3
"""The engine through GObject Introspection, as a Python app uses it (TAP).
meson sets GI_TYPELIB_PATH / LD_LIBRARY_PATH to the build tree."""
import os
import sys
import tempfile

n = 0
failed = 0


def check(name, cond, detail=""):
    global n, failed
    n += 1
    print(("ok" if cond else "not ok") + f" {n} - {name}")
    if not cond:
        failed += 1
        for line in str(detail).splitlines():
            print("# " + line)


try:
    import gi
    gi.require_version("GstVibeVoice", "1.0")
    from gi.repository import GLib, GstVibeVoice as V
except (ImportError, ValueError) as e:
    print(f"1..0 # SKIP GObject Introspection unavailable: {e}")
    sys.exit(0)

tok = V.Tokenizer.new_from_dir(os.path.join(os.environ["VV_DATA_DIR"], "qwen2-tokenizer"))
ids = tok.tokenize(" Speaker 0: Hello there.\n")
check("tokenize prompt piece", list(ids) == [29073, 220, 15, 25, 21927, 1052, 624], ids)
check("decode", tok.decode([9707, 1879]) == "Hello world")
check("special token id", tok.token_to_id("<|vision_start|>") == 151652)
try:
    tok.tokenize("abc\udcff")
    check("invalid text raises", False)
except Exception as e:   # PyGObject refuses lone surrogates before the call
    check("invalid text raises", True)

model_dir = os.environ["VV_TINY_MODEL"]
m = V.Model.load(model_dir, V.ModelLoadFlags.DEFAULT)
c = m.get_config()
check("config through bindings", c.lm.hidden_size == 64 and c.lm.vocab_size == 151936, c.lm.hidden_size)
check("component params", m.get_component_params(V.Component.PREDICTION_HEAD) > 0)
check("bytes", m.get_n_bytes() > 30_000_000, m.get_n_bytes())
with tempfile.TemporaryDirectory() as d:
    try:
        V.Model.load(os.path.join(d, "missing"), V.ModelLoadFlags.DEFAULT)
        check("missing folder raises GLib.Error naming it", False)
    except GLib.Error as e:
        check("missing folder raises GLib.Error naming it", "missing" in e.message, e.message)

preset = V.Config.new_preset(getattr(V.Preset, "1_5B"))  # not an identifier in Python
check("1.5b preset", preset.lm.n_layers == 28 and preset.head.ffn_dim == 4608)
print(f"1..{n}")
sys.exit(1 if failed else 0)
