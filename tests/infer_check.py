"""Reads back what `clmtl infer --raw` wrote for one image and checks it (test_infer_cli.sh).

Standard library only (PNG decoded with zlib, .npy parsed by hand), so it runs without numpy.
usage: infer_check.py OUTDIR STEM WIDTH HEIGHT NET_H NET_W FIT
Checks: every file is at the input's resolution; the JSON names the files that exist and the
letterbox box computed here from the sizes (FIT tile: the canvas, scale and window starts
computed here from the rules in --help, each window inside the canvas, neighbours overlapping
by at least a quarter of a window, the last at the border); labelIds is the argmax of the probabilities and the
probabilities sum to 1; the disparity PNG decodes to the .npy values within 1/256 (0 where the
value is <= 0); instanceIds holds the class id on stuff pixels and class*1000 + k on instance
pixels of the class labelIds has there; the JSON's instances match instanceIds (pixels, box,
centroid); the panel is one input-wide tile per task plus the input, above a footer.
Prints one line per failed check and exits 1 if any failed.
"""
import json
import os
import struct
import sys
import zlib

failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("  FAILED: " + what)


def read_png(path):
    """(width, height, channels, bit depth, rows of samples) of a non-interlaced PNG."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = ihdr
    assert interlace == 0
    ch = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
    bpp = ch * depth // 8
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
        prev = line
        if depth == 16:
            rows.append([line[2 * i] * 256 + line[2 * i + 1] for i in range(w * ch)])
        else:
            rows.append(list(line))
    return w, h, ch, depth, rows


def read_npy(path):
    data = open(path, "rb").read()
    assert data[:6] == b"\x93NUMPY", path
    hl = struct.unpack("<H", data[8:10])[0]
    header = eval(data[10:10 + hl].decode())  # a Python dict literal, as NumPy writes it
    assert header["descr"] == "<f4" and not header["fortran_order"], header
    shape = header["shape"]
    count = 1
    for s in shape:
        count *= s
    values = struct.unpack("<%df" % count, data[10 + hl:10 + hl + 4 * count])
    return shape, values


def main():
    out, stem, w, h, nh, nw, fit = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), \
        int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
    doc = json.load(open(os.path.join(out, stem + ".json")))
    check(doc["width"] == w and doc["height"] == h, "JSON size %dx%d" % (w, h))
    box = doc["network"]["image_box"]
    if fit == "letterbox":
        s = min(nh / h, nw / w)
        bh, bw = max(1, min(nh, int(h * s + 0.5))), max(1, min(nw, int(w * s + 0.5)))
        want = {"y": (nh - bh) // 2, "x": (nw - bw) // 2, "height": bh, "width": bw}
    elif fit == "tile":
        s = max(nh / h, nw / w)
        ch, cw = max(nh, int(h * s + 0.5)), max(nw, int(w * s + 0.5))
        want = {"y": 0, "x": 0, "height": ch, "width": cw}
        t = doc["network"]["tiles"]
        check(abs(t["scale"] - s) < 1e-12 and (t["canvas_height"], t["canvas_width"]) == (ch, cw),
              "tile canvas %s, computed here scale %g, %d x %d" % (t, s, ch, cw))
        for side, length, win in (("y", ch, nh), ("x", cw, nw)):
            ov = min(-(-win // 4), win - 1) if win > 1 else 0
            n = 1 if length == win else 1 + -(-(length - win) // (win - ov))
            starts = [0] if n == 1 else [i * (length - win) // (n - 1) for i in range(n)]
            got = t["starts"][side]
            check(got == starts, "tile starts along %s: %s, computed here %s" % (side, got, starts))
            ok = got[0] == 0 and got[-1] == length - win and all(0 <= a and a + win <= length for a in got) and \
                all(a + win - b >= ov for a, b in zip(got, got[1:]))
            check(ok, "tile windows along %s inside, overlapping by >= %d, the last at the border" % (side, ov))
        print("  tile: canvas %dx%d, %d x %d windows" % (cw, ch, len(t["starts"]["x"]), len(t["starts"]["y"])))
    else:
        want = {"y": 0, "x": 0, "height": nh, "width": nw}
    check(box == want, "image box %s, computed here %s" % (box, want))
    check(doc["network"]["fit"] == fit and (doc["network"]["height"], doc["network"]["width"]) == (nh, nw),
          "network %s" % doc["network"])
    files = [f for t in doc["tasks"] for f in t["files"]] + doc["files"]
    for f in files:
        check(f.startswith(stem) and os.path.exists(os.path.join(out, f)), "listed file %s exists" % f)
    kinds = {t["name"]: t["kind"] for t in doc["tasks"]}
    hw = w * h
    labels = None
    for name, kind in kinds.items():
        if kind == "classes":
            pw, ph, ch, depth, rows = read_png(os.path.join(out, "%s_%s_labelIds.png" % (stem, name)))
            check((pw, ph, ch, depth) == (w, h, 1, 8), "labelIds is %dx%d 8-bit grey" % (w, h))
            labels = [v for r in rows for v in r]
            shape, p = read_npy(os.path.join(out, "%s_%s_probs.npy" % (stem, name)))
            k = shape[0]
            check(shape == (k, h, w), "probs shape %s" % (shape,))
            bad_sum = bad_arg = 0
            for i in range(hw):
                col = [p[c * hw + i] for c in range(k)]
                bad_sum += abs(sum(col) - 1) > 1e-4
                bad_arg += col.index(max(col)) != labels[i]
            check(bad_sum == 0, "probabilities sum to 1 (%d pixels do not)" % bad_sum)
            check(bad_arg == 0, "labelIds is the argmax of the probabilities (%d pixels differ)" % bad_arg)
        elif kind == "depth":
            pw, ph, ch, depth, rows = read_png(os.path.join(out, "%s_%s_disparity.png" % (stem, name)))
            check((pw, ph, ch, depth) == (w, h, 1, 16), "disparity is %dx%d 16-bit grey" % (w, h))
            shape, d = read_npy(os.path.join(out, "%s_%s.npy" % (stem, name)))
            check(shape == (1, h, w), "depth npy shape %s" % (shape,))
            enc = [v for r in rows for v in r]
            worst = 0.0
            for i in range(hw):
                if d[i] <= 0:
                    check(enc[i] == 0, "disparity <= 0 encoded as 0 (pixel %d)" % i)
                else:
                    worst = max(worst, abs((enc[i] - 1) / 256.0 - d[i]))
            check(worst <= 1 / 256.0, "disparity PNG decodes to the .npy within 1/256 (worst %.5f)" % worst)
            print("  %s: disparity %.3f..%.3f, PNG decodes within %.5f" % (name, min(d), max(d), worst))
        elif kind == "instances":
            shape, _ = read_npy(os.path.join(out, "%s_%s_offsets.npy" % (stem, name)))
            check(shape == (2, h, w), "offsets npy shape %s" % (shape,))
    ipath = os.path.join(out, stem + "_instanceIds.png")
    if labels is not None and os.path.exists(ipath):
        pw, ph, ch, depth, rows = read_png(ipath)
        check((pw, ph, ch, depth) == (w, h, 1, 16), "instanceIds is %dx%d 16-bit grey" % (w, h))
        ids = [v for r in rows for v in r]
        bad = sum(1 for i in range(hw) if (ids[i] if ids[i] < 1000 else ids[i] // 1000) != labels[i])
        check(bad == 0, "instanceIds agrees with labelIds (%d pixels differ)" % bad)
        for inst in doc["instances"]:
            px = [i for i in range(hw) if ids[i] == inst["id"]]
            xs, ys = [i % w for i in px], [i // w for i in px]
            ok = len(px) == inst["pixels"] and inst["id"] // 1000 == inst["class"] and \
                inst["bbox"] == {"x0": min(xs), "y0": min(ys), "x1": max(xs), "y1": max(ys)} and \
                abs(inst["centroid"]["x"] - sum(xs) / len(px)) < 1e-6 and \
                abs(inst["centroid"]["y"] - sum(ys) / len(px)) < 1e-6
            check(ok, "JSON instance %d matches instanceIds" % inst["id"])
        print("  %d instances, %d instance pixels" % (len(doc["instances"]), sum(1 for v in ids if v >= 1000)))
    pw, ph, _, _, _ = read_png(os.path.join(out, stem + "_panel.png"))
    check(pw == (len(kinds) + 1) * w and ph > h, "panel %dx%d: %d tiles of %d, footer below" % (pw, ph, len(kinds) + 1, w))
    for name, kind in kinds.items():
        pw, ph, _, _, _ = read_png(os.path.join(out, "%s_%s.png" % (stem, name)))
        check((pw, ph) == (w, h), "%s picture at the input's size" % name)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
