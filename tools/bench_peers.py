#!/usr/bin/env python3
"""Inference of one clmtl model in clmtl and in the engines a user would pick instead, with
the same weights on the same input: clmtl (its Python package over libclmtl), PyTorch eager,
ONNX Runtime and OpenVINO (fp32 pinned with INFERENCE_PRECISION_HINT f32; bf16, where the CPU
has it, as a separate labelled row). Prints one table: img/s, ms per batch, clmtl's speed
relative to each, and how far each engine's outputs are from clmtl's.

  /usr/bin/python3 tools/bench_peers.py models/default.cfg --size 128x256 --batch 8 --install

The network is tools/clmtl_torch.py's ClmtlNet with random weights and random batch-norm
statistics (seed --seed), written as a clmtl checkpoint (clmtl predicts from it) and exported
with torch.onnx (legacy exporter, opset 13) for ONNX Runtime and OpenVINO. Outputs are the
task heads (classification logits, regression values); agreement is the largest absolute
difference from clmtl's divided by the largest |value| of clmtl's, and for classification the
share of pixels whose argmax agrees.

Threads: --threads for every engine (PyTorch set_num_threads, ONNX Runtime intra-op threads,
OpenVINO INFERENCE_NUM_THREADS, PoCL POCL_MAX_PTHREAD_COUNT, set before libclmtl loads).
Timing: --warmup runs, then the median of --reps runs of one batch (host input to host
outputs, each engine's own API). The load average is printed before and after.

ONNX Runtime and OpenVINO run in a child process with the Python of a virtual environment
(--venv, default ~/.cache/clmtl/peers-venv, created with --system-site-packages so it sees
the system's numpy); --install creates it and pip-installs onnxruntime and openvino there.
Without them their rows say why. This process needs torch, onnx and numpy (Debian's
python3-torch, python3-onnx) and libclmtl (--lib, or $CLMTL_LIBRARY, or the build tree).

Exit status: 0 done, 1 a run failed or an engine's outputs disagree beyond --tolerance,
2 bad arguments."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
DEFAULT_VENV = os.path.join(os.path.expanduser("~"), ".cache", "clmtl", "peers-venv")


def fail(msg, code=1):
    print(f"bench_peers: {msg}", file=sys.stderr)
    sys.exit(code)


def load1():
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except (OSError, ValueError):
        return float("nan")


def time_runs(work, warmup, reps):
    """Median ms of reps calls of work() after warmup calls; also the last result."""
    out = None
    for _ in range(warmup):
        out = work()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        out = work()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), times, out


# ---- child: ONNX Runtime and OpenVINO (run with the virtual environment's Python) ----------

def peers_child(args):
    import numpy as np
    x = np.load(args.input)
    res = []

    def save(tag, outs):
        path = os.path.join(args.out, tag + ".npz")
        np.savez(path, *outs)
        return path

    try:
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(args.onnx, so, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        ms, reps, outs = time_runs(lambda: sess.run(None, {name: x}), args.warmup, args.reps)
        res.append({"engine": f"ONNX Runtime {ort.__version__}", "tag": "ort", "ms": ms,
                    "reps": reps, "outputs": save("ort", outs)})
    except Exception as e:  # noqa: BLE001 - reported as the row's error
        res.append({"engine": "ONNX Runtime", "tag": "ort", "error": f"{type(e).__name__}: {e}"})

    try:
        import openvino as ov
        core = ov.Core()
        caps = core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
        precisions = ["f32"] + (["bf16"] if "BF16" in caps else [])
        for prec in precisions:
            cfg = {"INFERENCE_PRECISION_HINT": prec, "INFERENCE_NUM_THREADS": args.threads,
                   "PERFORMANCE_HINT": "LATENCY"}
            compiled = core.compile_model(args.onnx, "CPU", cfg)
            got = compiled.get_property("INFERENCE_PRECISION_HINT")
            req = compiled.create_infer_request()

            def work():
                r = req.infer({0: x})
                return [r[o] for o in compiled.outputs]
            ms, reps, outs = time_runs(work, args.warmup, args.reps)
            res.append({"engine": f"OpenVINO {ov.__version__.split('-')[0]}, {prec}",
                        "tag": "ov_" + prec, "ms": ms, "reps": reps, "precision": str(got),
                        "outputs": save("ov_" + prec, [np.asarray(o) for o in outs])})
    except Exception as e:  # noqa: BLE001
        res.append({"engine": "OpenVINO", "tag": "ov", "error": f"{type(e).__name__}: {e}"})
    print(json.dumps(res))


# ---- main: the network, clmtl, PyTorch, the table ------------------------------------------

def venv_python(venv, install):
    py = os.path.join(venv, "bin", "python")
    if install:
        if not os.path.exists(py):
            print(f"creating {venv}", file=sys.stderr, flush=True)
            subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", venv],
                           check=True)
        print("pip install onnxruntime openvino", file=sys.stderr, flush=True)
        subprocess.run([py, "-m", "pip", "install", "--quiet", "onnxruntime", "openvino"],
                       check=True)
    return py if os.path.exists(py) else None


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="model file (.cfg)")
    p.add_argument("--size", default="128x256", help="HxW (128x256)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--venv", default=DEFAULT_VENV)
    p.add_argument("--install", action="store_true",
                   help="create --venv and pip-install onnxruntime and openvino there")
    p.add_argument("--lib", help="libclmtl.so (default $CLMTL_LIBRARY, else the build tree)")
    p.add_argument("--clmtl", help="clmtl program, to read the model file (default: found "
                   "as tools/clmtl_cfg.py finds it)")
    p.add_argument("--device", default="cpu", help="clmtl's device (cpu)")
    p.add_argument("--tolerance", type=float, default=1e-3,
                   help="largest relative output difference from clmtl's accepted for fp32 "
                        "engines (1e-3)")
    p.add_argument("--json", help="write the rows as JSON here")
    p.add_argument("--phase", help=argparse.SUPPRESS)
    p.add_argument("--onnx", help=argparse.SUPPRESS)
    p.add_argument("--input", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    a = p.parse_args()
    try:
        a.height, a.width = (int(v) for v in a.size.lower().split("x"))
    except ValueError:
        p.error(f"--size: HxW wanted, got '{a.size}'")
    for k in ("batch", "threads", "reps"):
        if getattr(a, k) < 1:
            p.error(f"--{k} must be >= 1")
    return a


def agreement(ref, got, classification):
    import numpy as np
    scale = float(np.abs(ref).max()) or 1.0
    rel = float(np.abs(ref - got).max()) / scale
    agree = float((ref.argmax(1) == got.argmax(1)).mean()) if classification else None
    return rel, agree


def main():
    args = parse_args()
    if args.phase == "peers":
        return peers_child(args)
    os.environ["POCL_MAX_PTHREAD_COUNT"] = str(args.threads)  # before libclmtl loads PoCL
    lib = args.lib or os.environ.get("CLMTL_LIBRARY")
    if not lib:
        for cand in ("build/libclmtl.so", os.path.join(SRC, "build", "libclmtl.so")):
            if os.path.exists(cand):
                lib = cand
                break
    if lib:
        os.environ["CLMTL_LIBRARY"] = os.path.abspath(lib)
    sys.path[:0] = [HERE, os.path.join(SRC, "python")]
    try:
        import numpy as np
        import torch
        import clmtl
        from clmtl_cfg import ModelError, load_model
        from clmtl_torch import ClmtlNet, clmtl_from_state_dict, randomize_bn, write_checkpoint
    except ImportError as e:
        fail(f"{e} (this script needs torch, onnx and numpy: run it with /usr/bin/python3 on "
             f"Debian, python3-torch python3-onnx)")
    torch.set_num_threads(args.threads)
    H, W, N = args.height, args.width, args.batch
    try:
        model = load_model(args.model, H, W, binary=args.clmtl)
    except ModelError as e:
        fail(str(e), 2)
    torch.manual_seed(args.seed)
    net = ClmtlNet(model)
    randomize_bn(net)
    net.eval()
    heads = [net.by[nm]["from"][0] for nm in net.losses]
    inputs = [nm for nm in net.order if net.by[nm]["type"] == "input"]

    class Heads(torch.nn.Module):
        """The network from the image to its task heads, in loss order."""

        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            feed = {nm: x if nm == "input" else None for nm in inputs}
            out = self.net(feed, False)
            return tuple(out[h] for h in heads)

    wrapped = Heads(net).eval()
    rng = np.random.default_rng(args.seed)
    images = rng.random((N, H, W, 3), dtype=np.float32)
    x = np.ascontiguousarray(images.transpose(0, 3, 1, 2))
    work = tempfile.mkdtemp(prefix="clmtl-peers-")
    ckpt, onnx_path = os.path.join(work, "net.safetensors"), os.path.join(work, "net.onnx")
    with open(args.model, encoding="utf-8") as f:
        text = f.read()
    write_checkpoint(ckpt, clmtl_from_state_dict(net, net.state_dict()), text, H, W)
    load0 = load1()
    rows = []

    # clmtl
    m = clmtl.Model.load(ckpt, device=args.device, batch=N)
    tasks = {t["prediction"]: t for t in m.tasks}
    ms, reps, got = time_runs(lambda: m.predict(images, logits=True), args.warmup, args.reps)
    ref = [got[tasks[h]["name"]] for h in heads]
    kinds = [tasks[h]["kind"] == "classification" for h in heads]
    rows.append({"engine": "clmtl", "tag": "clmtl", "device": m.device_name, "ms": ms,
                 "reps": reps})
    m.close()

    # PyTorch eager
    xt = torch.from_numpy(x)

    def eager():
        with torch.inference_mode():
            return [t.numpy() for t in wrapped(xt)]
    ms, reps, outs = time_runs(eager, args.warmup, args.reps)
    rows.append({"engine": f"PyTorch {torch.__version__} eager", "tag": "torch", "ms": ms,
                 "reps": reps, "outs": outs})

    # ONNX Runtime, OpenVINO
    try:
        import warnings
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the legacy exporter's shape-inference notes
            torch.onnx.export(wrapped, (xt,), onnx_path, opset_version=13,
                              input_names=["image"], output_names=heads)
        exported = None
    except Exception as e:  # noqa: BLE001 - reported in the table
        exported = f"ONNX export failed: {type(e).__name__}: {str(e)[:200]}"
    py = venv_python(args.venv, args.install)
    if exported:
        rows.append({"engine": "ONNX Runtime / OpenVINO", "error": exported})
    elif not py:
        rows.append({"engine": "ONNX Runtime / OpenVINO",
                     "error": f"no virtual environment at {args.venv} (run with --install)"})
    else:
        np.save(os.path.join(work, "x.npy"), x)
        cmd = [py, os.path.abspath(__file__), args.model, "--phase", "peers", "--onnx",
               onnx_path, "--input", os.path.join(work, "x.npy"), "--out", work,
               "--threads", str(args.threads), "--warmup", str(args.warmup), "--reps",
               str(args.reps)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            rows.append({"engine": "ONNX Runtime / OpenVINO",
                         "error": f"child failed (exit {r.returncode}): {r.stderr[-400:]}"})
        else:
            for row in json.loads(r.stdout.strip().splitlines()[-1]):
                if "outputs" in row:
                    z = np.load(row.pop("outputs"))
                    row["outs"] = [z[f"arr_{i}"] for i in range(len(z.files))]
                rows.append(row)
    load_end = load1()

    clmtl_ms = rows[0]["ms"]
    bad = []
    print(f"{args.model}: batch {N}, {H}x{W}, {args.threads} threads each (clmtl on "
          f"{rows[0]['device']}); median of "
          f"{args.reps} batches after {args.warmup} warm-up; load average {load0:.2f} at the "
          f"start, {load_end:.2f} at the end")
    print(f"{'engine':34} {'img/s':>8} {'ms/batch':>9} {'clmtl relative':>15}  agreement with "
          f"clmtl (max |diff| / max |clmtl|; argmax)")
    for row in rows:
        if "error" in row:
            print(f"{row['engine']:34} {'-':>8} {'-':>9} {'-':>15}  {row['error']}")
            continue
        agree = ""
        if "outs" in row:
            parts = []
            for h, r_, o, cls in zip(heads, ref, row["outs"], kinds):
                rel, am = agreement(r_, o.reshape(r_.shape), cls)
                parts.append(f"{h} {rel:.1e}" + (f" ({100 * am:.2f}%)" if cls else ""))
                row.setdefault("agreement", {})[h] = {"max_rel_diff": rel, "argmax": am}
                if rel > args.tolerance and "bf16" not in row["tag"]:
                    bad.append(f"{row['engine']} {h}: {rel:.2e}")
            agree = "; ".join(parts)
            del row["outs"]
        else:
            agree = "(reference)"
        row["img_s"] = N * 1e3 / row["ms"]
        row["clmtl_relative"] = row["ms"] / clmtl_ms
        print(f"{row['engine']:34} {row['img_s']:8.1f} {row['ms']:9.1f} "
              f"{row['clmtl_relative']:14.2f}x  {agree}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": args.model, "batch": N, "height": H, "width": W,
                       "threads": args.threads, "load_start": load0, "load_end": load_end,
                       "rows": rows}, f, indent=1)
    for b in bad:
        print(f"bench_peers: outputs disagree beyond {args.tolerance}: {b}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
