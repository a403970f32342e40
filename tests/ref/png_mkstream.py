#!/usr/bin/python3
"""Write a small ms stream (ms-stream(5)) to stdout, independently of the C library.

usage: png_mkstream.py SPEC...
SPEC is ID:NAME:DTYPE:SHAPE:FILL[:KEY=VALUE;...], SHAPE like 3x8x8, DTYPE u8 u16 i32 f32,
FILL a number (every element) or "ramp" (element i = i / (n - 1) for f32, i mod 256 for
integers). An empty ID writes no id= line.
"""
import struct
import sys

import numpy as np

DT = {"u8": (1, np.uint8), "u16": (2, np.uint16), "i32": (3, np.int32), "f32": (4, np.float32)}


def pad(n):
    return b"\0" * ((64 - n % 64) % 64)


def record(spec):
    parts = spec.split(":")
    rid, name, dtype, shape, fill = parts[:5]
    code, npt = DT[dtype]
    shape = [int(v) for v in shape.split("x")] if shape else []
    n = int(np.prod(shape)) if shape else 1
    if fill == "ramp":
        a = np.arange(n, dtype=np.float64)
        a = a / max(n - 1, 1) if dtype == "f32" else a % 256
    else:
        a = np.full(n, float(fill))
    data = a.astype(npt).tobytes()
    meta = "id=%s\n" % rid if rid else ""
    if len(parts) > 5 and parts[5]:
        meta += "".join("%s\n" % kv for kv in parts[5].split(";"))
    meta = meta.encode()
    h = b"MSTR" + bytes([1, code, len(shape), 0])
    h += struct.pack("<4I", *(shape + [0] * (4 - len(shape))))
    h += struct.pack("<HH", len(name), 0) + struct.pack("<I", len(meta))
    h += struct.pack("<QQ", len(data), len(data))
    head = h + name.encode() + meta
    return head + pad(len(head)) + data + pad(len(data))


def main():
    out = sys.stdout.buffer
    for spec in sys.argv[1:]:
        out.write(record(spec))


if __name__ == "__main__":
    main()
