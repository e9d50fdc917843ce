#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (standard library only):
tests/fuzz/model/ (variants of the shipped models; the models themselves, models/*.cfg, are
seeds too, read from there by run.sh and the replay test), tests/fuzz/safetensors/ (small
valid and broken files) and tests/fuzz/png/ (one-sample datasets in fuzz_png.c's format:
flags, height, width, then image, labelIds, instanceIds, disparity PNGs separated by
"--8<--"). Run from anywhere; rewrites the seeds, leaves regressions/ alone."""
import json
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "..", "..", "models")


def write(target, name, data):
    os.makedirs(os.path.join(HERE, target), exist_ok=True)
    with open(os.path.join(HERE, target, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


# ---- model files -------------------------------------------------------------------------

def models():
    tiny = open(os.path.join(MODELS, "tiny.cfg")).read()
    write("model", "every-type.cfg", """[input]
type = input
channels = 3
[c1]
type = conv
from = input
filters = 4
size = 3
bn = 1
act = leaky
slope = 0.2
[p1]
type = maxpool
from = c1
[d1]
type = deconv
from = p1
filters = 4
size = 2
stride = 2
output_padding = 0
[u1]
type = unpool
from = p1
indices = p1
[up]
type = upsample
from = p1
[cat]
type = concat
from = c1, d1, u1, up
[bn]
type = batchnorm
from = cat
momentum = 0.2
eps = 1e-3
[act]
type = activation
from = bn
act = sigmoid
[sum]
type = add
from = act, act
[head]
type = conv
from = sum
filters = 3
size = 1
dilation = 1
[task.seg]
type = softmax_xent
from = head
target = labels
ignore = 255
weight = 0.5
[task.depth]
type = l1
from = head
target = depth
mask = valid
kind = regression
""")
    write("model", "cycle.cfg", "[input]\ntype = input\nchannels = 1\n[a]\ntype = conv\nfrom = b\n"
          "filters = 1\nsize = 1\n[b]\ntype = conv\nfrom = a\nfilters = 1\nsize = 1\n")
    write("model", "unknown-input.cfg", "[input]\ntype = input\nchannels = 3\n[c]\ntype = conv\n"
          "from = enc9\nfilters = 2\nsize = 3\n")
    write("model", "duplicate-key.cfg", tiny.replace("type = conv", "type = conv\nsize = 5", 1))
    write("model", "bad-int.cfg", tiny.replace("filters", "filters = 1e9\n; ", 1))
    write("model", "deep-deconv.cfg", "[input]\ntype = input\nchannels = 1\n" + "".join(
        "[d%d]\ntype = deconv\nfrom = %s\nfilters = 1\nsize = 4\nstride = 8\n"
        % (i, "input" if i == 0 else "d%d" % (i - 1)) for i in range(4)))
    write("model", "too-small.cfg", "[input]\ntype = input\nchannels = 1\n[c]\ntype = conv\n"
          "from = input\nfilters = 1\nsize = 64\npad = 0\n")
    write("model", "colon-and-comments.cfg", "# comment\n; another\n[input]\ntype: input\n"
          "CHANNELS: 2\n\n[task.x]\ntype = l2\nfrom = input\ntarget = input\n")
    write("model", "truncated.cfg", tiny[: len(tiny) // 2])


# ---- safetensors ---------------------------------------------------------------------------

def st(header, data, pad_header=True, length=None):
    h = json.dumps(header, separators=(",", ":")).encode()
    if pad_header:
        h += b" " * (-len(h) % 8)
    n = len(h) if length is None else length
    return struct.pack("<Q", n) + h + data


def floats(n, start=0.0):
    return struct.pack("<%df" % n, *[start + 0.25 * i for i in range(n)])


def safetensors():
    meta = {"model": open(os.path.join(MODELS, "tiny.cfg")).read(), "epoch": "1", "step": "10"}
    good = {"__metadata__": meta,
            "enc1.weight": {"dtype": "F32", "shape": [2, 1, 3, 3], "data_offsets": [0, 72]},
            "enc1.bias": {"dtype": "F32", "shape": [2], "data_offsets": [72, 80]},
            "empty": {"dtype": "F32", "shape": [0, 4], "data_offsets": [80, 80]},
            "scalar": {"dtype": "F32", "shape": [], "data_offsets": [80, 84]}}
    body = floats(21)
    write("safetensors", "valid.safetensors", st(good, body))
    write("safetensors", "valid-no-meta.safetensors",
          st({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]}}, floats(3)))
    write("safetensors", "empty-header.safetensors", st({}, b""))
    write("safetensors", "truncated.safetensors", st(good, body)[:-5])
    write("safetensors", "trailing.safetensors", st(good, body + b"\0\0\0\0"))
    gap = dict(good, **{"enc1.bias": {"dtype": "F32", "shape": [2], "data_offsets": [76, 84]}})
    write("safetensors", "gap.safetensors", st(gap, body))
    over = dict(good, **{"enc1.bias": {"dtype": "F32", "shape": [2], "data_offsets": [68, 76]}})
    write("safetensors", "overlap.safetensors", st(over, body))
    f16 = dict(good, **{"enc1.bias": {"dtype": "F16", "shape": [4], "data_offsets": [72, 80]}})
    write("safetensors", "f16.safetensors", st(f16, body))
    write("safetensors", "length-too-big.safetensors", st(good, body, length=1 << 40))
    write("safetensors", "json-junk.safetensors",
          st({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, floats(1))[:-6]
          + b"}x" + floats(1))
    write("safetensors", "meta-not-string.safetensors",
          st({"__metadata__": {"epoch": 1}}, b""))
    write("safetensors", "big-shape.safetensors",
          st({"a": {"dtype": "F32", "shape": [1 << 30, 1 << 30, 4], "data_offsets": [0, 4]}},
             floats(1)))
    write("safetensors", "short.safetensors", b"\x02\0\0\0")


# ---- PNG datasets ----------------------------------------------------------------------------

def png(width, height, rows, depth, color):
    """rows: list of lists of samples (channels interleaved)."""
    raw = b""
    for r in rows:
        raw += b"\0" + (struct.pack(">%dH" % len(r), *r) if depth == 16 else bytes(r))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


W, H = 6, 4


def rgb(w=W, h=H, alpha=False):
    c = 4 if alpha else 3
    return png(w, h, [[(x * 40 + y * 20 + k * 60) % 256 for x in range(w) for k in range(c)]
                      for y in range(h)], 8, 6 if alpha else 2)


def label(w=W, h=H, bad=None):
    ids = [7, 11, 17, 21, 23, 24, 26, 0, 33]
    rows = [[ids[(x + 2 * y) % len(ids)] for x in range(w)] for y in range(h)]
    if bad is not None:
        rows[h - 1][w - 1] = bad
    return png(w, h, rows, 8, 0)


def instance(w=W, h=H, bad=None):
    vals = [7, 24000, 24001, 26000, 26002, 33005, 11, 23]
    rows = [[vals[(x + y) % len(vals)] for x in range(w)] for y in range(h)]
    if bad is not None:
        rows[0][0] = bad
    return png(w, h, rows, 16, 0)


def disparity(w=W, h=H):
    return png(w, h, [[(x * 997 + y * 131) % 65536 for x in range(w)] for y in range(h)], 16, 0)


def dataset(name, flags, oh, ow, files):
    write("png", name, bytes([flags, oh - 1, ow - 1]) + b"--8<--".join(files))


def pngs():
    dataset("valid-categories", 4, 8, 12, [rgb(), label(), instance(), disparity()])
    dataset("valid-trainids-down", 5, 2, 3, [rgb(), label(), instance(), disparity()])
    dataset("valid-no-disparity", 0, 5, 7, [rgb(alpha=True), label(), instance()])
    dataset("label-out-of-range", 4, 4, 6, [rgb(), label(bad=34), instance(), disparity()])
    dataset("instance-out-of-range", 2, 4, 6, [rgb(), label(), instance(bad=34000), disparity()])
    dataset("label-16bit", 4, 4, 6, [rgb(), instance(), instance(), disparity()])
    dataset("size-mismatch", 0, 4, 6, [rgb(), label(w=W + 1), instance()])
    dataset("gray-image", 0, 4, 6, [label(), label(), instance()])
    dataset("missing-disparity", 4, 4, 6, [rgb(), label(), instance()])
    dataset("truncated-label", 0, 4, 6, [rgb(), label()[:40], instance()])
    dataset("not-png", 0, 4, 6, [b"P6 6 4 255\n" + bytes(72), label(), instance()])


if __name__ == "__main__":
    for t in ("model", "safetensors", "png"):
        d = os.path.join(HERE, t)
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            if os.path.isfile(os.path.join(d, f)):
                os.remove(os.path.join(d, f))
    models()
    safetensors()
    pngs()
