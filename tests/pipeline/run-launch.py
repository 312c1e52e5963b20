#!/usr/bin/env python3
"""Runs a gst-launch-style pipeline description to EOS or ERROR, then shuts
it down, through GObject Introspection. Exit 0 at EOS, 1 on an error
(printed with its debug text, as gst-launch-1.0 prints it), 3 on timeout.

gst-launch-1.0 1.22 sometimes hangs at shutdown when an element errors while
prerolling (also with stock elements: `identity error-after=1`), so the
error-path tests use this instead.
"""
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

Gst.init(None)
timeout_s = 120
desc = " ".join(sys.argv[1:])
try:
    pipe = Gst.parse_launch(desc)
except Exception as e:  # a parse error
    print(f"ERROR: {e}", file=sys.stderr)
    sys.exit(1)
bus = pipe.get_bus()
ret = pipe.set_state(Gst.State.PLAYING)
status = 0
msg = bus.timed_pop_filtered(timeout_s * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
if msg is None:
    print(f"ERROR: no EOS or error after {timeout_s} s", file=sys.stderr)
    status = 3
elif msg.type == Gst.MessageType.ERROR:
    err, dbg = msg.parse_error()
    print(f"ERROR: from element {msg.src.get_path_string()}: {err.message}", file=sys.stderr)
    if dbg:
        print(f"Additional debug info:\n{dbg}", file=sys.stderr)
    status = 1
elif ret == Gst.StateChangeReturn.FAILURE:
    status = 1
pipe.set_state(Gst.State.NULL)
sys.exit(status)
