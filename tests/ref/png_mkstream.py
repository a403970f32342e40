#!/usr/bin/python3
"""Write a small ms stream (ms-stream(5)) to stdout, independently of the C library.

usage: png_mkstream.py SPEC...
SPEC is ID:NAME:DTYPE:SHAPE:FILL[:KEY=VALUE;...], SHAPE like 3x8x8, DTYPE u8 u16 i32 f32,
FILL a number (every element) or "ramp" (element i = i / (n - 1) for f32, i mod 256 for
integers). An empty ID writes no id= line.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import msstream  # noqa: E402

DT = {"u8": np.uint8, "u16": np.uint16, "i32": np.int32, "f32": np.float32}


def record(out, spec):
    parts = spec.split(":")
    rid, name, dtype, shape, fill = parts[:5]
    shape = [int(v) for v in shape.split("x")] if shape else []
    n = int(np.prod(shape)) if shape else 1
    if fill == "ramp":
        a = np.arange(n, dtype=np.float64)
        a = a / max(n - 1, 1) if dtype == "f32" else a % 256
    else:
        a = np.full(n, float(fill))
    meta = {"id": rid} if rid else {}
    if len(parts) > 5 and parts[5]:
        meta.update(kv.split("=", 1) for kv in parts[5].split(";"))
    msstream.write(out, name, meta, a.astype(DT[dtype]).reshape(shape))


def main():
    out = sys.stdout.buffer
    for spec in sys.argv[1:]:
        record(out, spec)


if __name__ == "__main__":
    main()
