"""Mean predicted σ on the far and near halves of clean synthetic test scenes (test_hetero_cli.sh).

Standard library only (PNG and .npy readers of infer_check.py). usage:
hetero_sigma.py SCENES_DIR INFER_OUT TASK
For every test scene under SCENES_DIR (clmtl synth, clean targets), reads its disparity PNG
(CityScapes encoding: d = (v - 1) / 256, v = 0 invalid or sky) and INFER_OUT/<stem>_TASK_sigma.npy
(clmtl infer --raw), splits the valid pixels at the image's median disparity exactly as
--noise-depth-far does (far: strictly below the median), and prints one JSON line: the mean σ
over far pixels, over near pixels, their ratio, and the pixel counts, over all scenes.
"""
import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from infer_check import read_npy, read_png  # noqa: E402


def main():
    scenes, out, task = sys.argv[1:4]
    sums, counts = [0.0, 0.0], [0, 0]
    pngs = sorted(glob.glob(os.path.join(scenes, "disparity", "test", "synth", "*_disparity.png")))
    for png in pngs:
        stem = os.path.basename(png)[:-len("_disparity.png")] + "_leftImg8bit"
        w, h, ch, depth, rows = read_png(png)
        shape, sigma = read_npy(os.path.join(out, stem + "_" + task + "_sigma.npy"))
        assert tuple(shape) == (1, h, w), (shape, h, w)
        d = [(v - 1) / 256.0 for row in rows for v in row]
        vals = sorted(x for x in d if x > 0)
        median = vals[len(vals) // 2]
        for i, x in enumerate(d):
            if x > 0:
                k = 0 if x < median else 1
                sums[k] += sigma[i]
                counts[k] += 1
    far, near = sums[0] / max(counts[0], 1), sums[1] / max(counts[1], 1)
    print(json.dumps({"scenes": len(pngs), "far_sigma": far, "near_sigma": near,
                      "ratio": far / near if near > 0 else float("inf"),
                      "far_pixels": counts[0], "near_pixels": counts[1]}))


main()
