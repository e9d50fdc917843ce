"""ONNX export against clmtl's own inference, run by test_onnx_export.sh (one call per step).

  onnx_check.py random CFG H W OUT.safetensors [NAN_TENSOR]
  onnx_check.py random-unlabelled CFG H W OUT.safetensors
      a clmtl checkpoint of model file CFG at H x W with random weights and random batch-norm
      statistics (so folding is exercised), written from `clmtl model --json` (numpy only);
      the program is taken from $CLMTL_PROGRAM; NAN_TENSOR: that tensor's element 3 is NaN;
      random-unlabelled: without the label_set metadata (a checkpoint from elsewhere)
  onnx_check.py compare TAG MODEL.onnx INFER_DIR IMAGE...
      onnx.checker.check_model (full check) on the file, then ONNX Runtime on the images
      (PIL, planar RGB / 255, its luma for a 1-channel input: what clmtl infer feeds the
      network) against the .npy files of
      `clmtl infer --raw` in INFER_DIR (images at the network's resolution, so infer's resize is
      the identity): per classification task the argmax of the ONNX logits must agree with
      the argmax of STEM_TASK_probs.npy on 100% of pixels (and the softmax is compared);
      regression outputs (STEM_TASK_offsets.npy, STEM_TASK.npy) within 1e-4, max abs diff
      printed. Exit 1 on any failure."""
import json
import os
import struct
import subprocess
import sys

import numpy as np


def fnv1a64(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def random_checkpoint(cfg, height, width, out, nan_in=None, label_set="categories"):
    doc = json.loads(subprocess.check_output([os.environ["CLMTL_PROGRAM"], "model", "--json", cfg,
                                              "--size", "%dx%d" % (height, width), "--batch", "1"]))
    rng = np.random.default_rng(7)
    weights = {}
    for layer in doc["layers"]:
        if layer["type"] in ("conv", "deconv"):
            weights[layer["name"] + ".weight"] = layer
    tensors = {}
    for p in doc["parameters"]:
        name, shape = p["name"], p["shape"]
        if name in weights:  # (K, C, R, S), deconv (C, K, R, S)
            bound = np.sqrt(6.0 / (shape[1] * shape[2] * shape[3]))  # He: activations stay O(1)
            v = rng.uniform(-bound, bound, shape)
        else:
            n = int(np.prod(shape))
            shape = [n]
            if name.endswith("running_var"):
                v = rng.uniform(0.5, 2.0, n)
            elif name.endswith("running_mean") or name.endswith(".bias"):
                v = rng.uniform(-0.3, 0.3, n)
            elif name.endswith(".weight"):  # batch norm's gamma
                v = rng.uniform(0.5, 1.5, n)
            else:  # task parameters
                v = np.zeros(n)
        tensors[name] = np.asarray(v, dtype="<f4").reshape(shape)
        if name == nan_in:
            tensors[name].reshape(-1)[3] = np.nan
    text = open(cfg, "rb").read()
    meta = {"format": "clmtl-1", "model_fnv1a64": fnv1a64(text), "step": "0", "epoch": "0",
            "strategy": "", "height": str(height), "width": str(width), "data_seed": "1",
            "model_cfg": text.decode("utf-8")}
    if label_set:
        meta["label_set"] = label_set
    header, blobs, off = {"__metadata__": meta}, [], 0
    for name, t in tensors.items():
        b = t.tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def compare(tag, model, infer_dir, images):
    import onnx
    import onnxruntime as ort
    from PIL import Image
    failures = []

    def check(name, ok, detail=""):
        print("[%s] %s: %s %s" % ("PASS" if ok else "FAIL", tag, name, detail))
        if not ok:
            failures.append(name)

    try:
        onnx.checker.check_model(onnx.load(model), full_check=True)
        check("onnx.checker.check_model (onnx %s)" % onnx.__version__, True)
    except Exception as e:  # noqa: BLE001 - the checker's exceptions differ between versions
        check("onnx.checker.check_model", False, str(e).splitlines()[0][:300])
    x = np.stack([np.asarray(Image.open(p).convert("RGB"), dtype=np.float32).transpose(2, 0, 1) / 255.0
                  for p in images]).astype(np.float32)
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    (inp,) = sess.get_inputs()
    check("one graph input, '%s'" % inp.name, True)
    if inp.shape[1] == 1:  # clm_image_convert: a 1-channel input gets the image's luma
        x = (np.float32(0.299) * x[:, 0] + np.float32(0.587) * x[:, 1] + np.float32(0.114) * x[:, 2])[:, None]
    names = [o.name for o in sess.get_outputs()]
    got = dict(zip(names, sess.run(None, {inp.name: x})))
    for task, y in got.items():
        for i, path in enumerate(images):
            stem = os.path.join(infer_dir, os.path.splitext(os.path.basename(path))[0] + "_" + task)
            if os.path.exists(stem + "_probs.npy"):
                ref = np.load(stem + "_probs.npy")
                z = y[i] - y[i].max(0, keepdims=True)
                p = np.exp(z) / np.exp(z).sum(0, keepdims=True)
                agree = float((p.argmax(0) == ref.argmax(0)).mean())
                check("%s[%d] argmax agreement 100%%" % (task, i), agree == 1.0, "(%.4f%%)" % (100 * agree))
                diff = float(np.abs(p - ref).max())
                check("%s[%d] softmax max abs diff < 1e-5" % (task, i), diff < 1e-5, "(%.2e)" % diff)
                continue
            for suffix in ("_offsets.npy", ".npy"):
                if os.path.exists(stem + suffix):
                    ref = np.load(stem + suffix)
                    break
            else:
                check("%s[%d] has a clmtl infer --raw file" % (task, i), False, stem + "*.npy")
                continue
            ok_shape = ref.shape == y[i].shape
            diff = float(np.abs(y[i] - ref).max()) if ok_shape else float("inf")
            check("%s[%d] max abs diff < 1e-4" % (task, i), diff < 1e-4,
                  "(%.2e; values up to %.3g)" % (diff, float(np.abs(ref).max())) if ok_shape else
                  "(shapes %s and %s)" % (y[i].shape, ref.shape))
    return 1 if failures else 0


if __name__ == "__main__":
    if sys.argv[1] == "random-unlabelled":
        random_checkpoint(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], label_set=None)
        sys.exit(0)
    if sys.argv[1] == "random":
        random_checkpoint(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5],
                          sys.argv[6] if len(sys.argv) > 6 else None)
        sys.exit(0)
    sys.exit(compare(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]))
