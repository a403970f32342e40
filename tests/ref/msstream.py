"""Independent reader/writer of the ms record stream (ms-stream(5)) for tests.

    from msstream import read, write
    for name, meta, array in read(open("x.ms", "rb")): ...
    write(f, "image", {"id": "a"}, np.zeros((1, 8, 8), np.float32))
"""
import struct
import zlib

import numpy as np

DTYPES = {1: np.uint8, 2: np.uint16, 3: np.int32, 4: np.float32}
CODES = {np.dtype(v): k for k, v in DTYPES.items()}
HEAD = struct.Struct("<4sBBBB4IHHIQQ")  # 48 bytes


def _pad(n):
    return (64 - n % 64) % 64


def write(f, name, meta, array, compress=False):
    a = np.ascontiguousarray(array)
    if a.dtype == np.float64:
        a = a.astype(np.float32)
    code = CODES[a.dtype]
    shape = list(a.shape) + [0] * (4 - a.ndim)
    payload = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
    stored = zlib.compress(payload, 6) if compress else payload
    nb = name.encode()
    mb = "".join(f"{k}={v}\n" for k, v in meta.items()).encode()
    f.write(HEAD.pack(b"MSTR", 1, code, a.ndim, 1 if compress else 0, *shape,
                      len(nb), 0, len(mb), len(payload), len(stored)))
    f.write(nb + mb + b"\0" * _pad(48 + len(nb) + len(mb)))
    f.write(stored + b"\0" * _pad(len(stored)))


def read(f):
    while True:
        h = f.read(48)
        if not h:
            return
        magic, ver, code, rank, flags, *rest = HEAD.unpack(h)
        shape, (nlen, _, mlen, dlen, slen) = rest[:4], rest[4:]
        assert magic == b"MSTR" and ver == 1, "bad record"
        name = f.read(nlen).decode()
        meta = dict(l.split("=", 1) for l in f.read(mlen).decode().splitlines())
        f.read(_pad(48 + nlen + mlen))
        data = f.read(slen)
        f.read(_pad(slen))
        if flags & 1:
            data = zlib.decompress(data)
        yield name, meta, np.frombuffer(data, DTYPES[code]).reshape(shape[:rank])


def raw_records(data):
    """(name, bytes) of each record of a stream held in bytes, from the header alone"""
    i = 0
    while i < len(data):
        h = HEAD.unpack_from(data, i)
        nlen, mlen, slen = h[9], h[11], h[13]
        n = 48 + nlen + mlen
        end = i + n + _pad(n) + slen + _pad(slen)
        yield data[i + 48:i + 48 + nlen].decode(), data[i:end]
        i = end
