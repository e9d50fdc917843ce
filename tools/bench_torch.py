#!/usr/bin/env python3
"""Builds the network of a clmtl model file in PyTorch, times training and inference on the
CPU, and prints clmtl's numbers (from `clmtl bench --json`) beside PyTorch's with the ratio.

  python3 tools/bench_torch.py models/default.cfg --size 128x256 --batch 8
  python3 tools/bench_torch.py models/default.cfg --clmtl-json bench.json --markdown cmp.md
  python3 tools/bench_torch.py models/tiny.cfg --size 32x64 --no-clmtl --json torch.json
  python3 tools/bench_torch.py models/segnet-mtl.cfg --params-only

The model file is read by clmtl (`clmtl model --json`: layers, keys, shapes, parameters), or,
where there is no clmtl binary, by tools/clmtl_cfg.py's own reader (configparser, checked as
src/graph does it). The network, the per-task losses (cl/loss.cl: means over valid targets),
the multi-task weighting (cl/mtl.cl), in tools/clmtl_torch.py, and Adam with clmtl's defaults (PyTorch's: lr 1e-3, betas 0.9/0.999, eps 1e-8, no weight decay) are the
same as clmtl's; the parameter count, task parameters included, is checked against
`clmtl model FILE` whenever the clmtl binary is there.

Timing: each phase runs in its own child process (this script with --phase), so the
inference figures and memory are not polluted by training: warm-up steps, then --reps
repetitions of --steps steps; the median ms per step (zero_grad, forward, weighted loss,
backward, Adam step) or per forward (eval mode, inference_mode, network heads only). Peak
memory is the resident-set high-water mark (VmHWM, reset through /proc/self/clear_refs) minus
the resident set just before the model and inputs are built.

Exit status: 0 done, 1 a run failed (clmtl, PyTorch, parameter mismatch), 2 bad arguments or
a bad model file. Needs only the standard library, plus torch in the child processes."""
import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from clmtl_cfg import ModelError, default_binary, load_model, usable

STRATEGIES = ("fixed", "equal", "uncertainty", "uncertainty-simple", "uncertainty-clamped",
              "softplus")
NO_TORCH = 3  # exit status of a child process that cannot import torch


# ---- PyTorch side (child processes only) -------------------------------------------------

def rss():
    """The resident set and its high-water mark (VmRSS, VmHWM) of this process, in bytes."""
    got = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                k, v = line.split(":")
                got[k] = int(v.split()[0]) * 1024
    return got.get("VmRSS", 0), got.get("VmHWM", 0)


def reset_hwm():
    """Resets VmHWM to the current resident set; False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def verify_step(net, args, losses, N, H, W):
    """The losses and total of clmtl model --steps 1's first step."""
    from clmtl_torch import clmtl_init, clmtl_inputs, weigh
    clmtl_init(net)
    net.train()
    task_loss, counts = net(clmtl_inputs(net, N, H, W), True)
    total = weigh(net, task_loss, counts, net.task_param, args.weighting)
    return {"losses": {nm[5:]: float(v) for nm, v in zip(losses, task_loss)},
            "total": float(total)}


def step_function(net, args, phase, inputs):
    """One timed unit of work: a training step (zero_grad, forward, weighted loss, backward,
    Adam step) or an inference forward."""
    import torch
    from clmtl_torch import weigh
    if phase == "train":
        net.train()
        opt = torch.optim.Adam(net.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8,
                               weight_decay=0.0)
        learned = args.weighting not in ("fixed", "equal")

        def work():
            opt.zero_grad(set_to_none=True)
            task_loss, counts = net(inputs, True)
            total = weigh(net, task_loss, counts, net.task_param if learned
                          else net.task_param.detach(), args.weighting)
            total.backward()
            opt.step()
            return total
        return work
    net.eval()

    def work():
        with torch.inference_mode():
            return net(inputs, False)
    return work


def time_work(work, args):
    """--warmup calls, then --reps repetitions of --steps calls: the wall and CPU ms per call
    of each repetition, and the last call's result."""
    last = None
    for _ in range(args.warmup):
        last = work()
    times, cpu = [], []  # cpu: CPU time of the process (all threads), a check on a busy machine
    for _ in range(args.reps):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(args.steps):
            last = work()
        times.append((time.perf_counter() - t0) * 1e3 / args.steps)
        cpu.append((time.process_time() - c0) * 1e3 / args.steps)
    return times, cpu, last


def torch_side(args, phase):
    """Runs one phase ("train", "infer", "params" or "verify") and returns its results."""
    import torch
    from clmtl_torch import ClmtlNet, make_inputs

    torch.set_num_threads(args.threads)
    H, W, N = args.height, args.width, args.batch
    model = load_model(args.model, H, W, binary=args.clmtl)
    losses, count = model[2], model[3]
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    rss0, _ = rss()
    reset = reset_hwm()
    net = ClmtlNet(model)
    nparams = sum(p.numel() for p in net.parameters())
    res = {"phase": phase, "parameters": nparams, "parameters_from_file": count,
           "torch_version": torch.__version__, "threads": torch.get_num_threads()}
    if phase == "params":
        return res
    if phase == "verify":
        res.update(verify_step(net, args, losses, N, H, W))
        return res
    inputs = make_inputs(net, N, H, W, gen)
    times, cpu, last = time_work(step_function(net, args, phase, inputs), args)
    _, hwm = rss()
    ms = statistics.median(times)
    res.update(ms=ms, ms_reps=times, cpu_ms=statistics.median(cpu), img_s=N * 1e3 / ms,
               peak_rss_growth_bytes=max(hwm - rss0, 0), hwm_reset=reset)
    if phase == "train":
        res["final_total"] = float(last.detach())
    return res


# ---- clmtl side ----------------------------------------------------------------------------

def fail(msg, code=1):
    print(f"bench_torch: {msg}", file=sys.stderr)
    sys.exit(code)


def clmtl_param_count(binary, args):
    """`clmtl model FILE` prints "parameters: N" (task parameters included)."""
    model = args.model
    cmd = [binary, "model", model, "--size", f"{args.height}x{args.width}", "--batch", "1"]
    r = subprocess.run(cmd + (["--device", args.device] if args.device else []),
                       capture_output=True, text=True)
    m = re.search(r"^parameters: (\d+)", r.stdout, re.M)
    if r.returncode != 0 or not m:
        fail(f"'{binary} model {model}' failed (exit {r.returncode}): "
             f"{(r.stderr or r.stdout).strip()[-400:]}")
    return int(m.group(1))


def clmtl_first_step(binary, args):
    """Task losses and total of `clmtl model FILE --steps 1`'s step (before its update)."""
    cmd = [binary, "model", args.model, "--size", f"{args.height}x{args.width}", "--batch",
           str(args.batch), "--steps", "1", "--weighting", args.weighting]
    if args.device:
        cmd += ["--device", args.device]
    r = subprocess.run(cmd, capture_output=True, text=True)
    line = next((x for x in r.stdout.splitlines() if x.startswith("step ")), "")
    total = re.search(r"total (\S+)", line)
    if r.returncode != 0 or not total:
        fail(f"'{' '.join(cmd)}' failed (exit {r.returncode}): "
             f"{(r.stderr or r.stdout).strip()[-400:]}")
    losses = {m.group(1): float(m.group(2)) for m in re.finditer(r"(\S+) (\S+) \(w ", line)}
    return losses, float(total.group(1)), " ".join(cmd)


def read_clmtl_json(path):
    try:
        with open(path) as f:
            data = json.load(f)
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror}")
    except json.JSONDecodeError as e:
        fail(f"{path}:{e.lineno}: not JSON ({e.msg})")
    devs = data.get("devices") if isinstance(data, dict) else None
    if not isinstance(devs, list) or not devs or not all(isinstance(d, dict) for d in devs):
        fail(f"{path}: no 'devices' list (expected the JSON of `clmtl bench --json`)")
    return data


def run_clmtl_bench(args):
    fd, tmp = tempfile.mkstemp(prefix="clmtl-bench-", suffix=".json")
    os.close(fd)
    cmd = [args.clmtl, "bench", args.model, "--size", f"{args.height}x{args.width}",
           "--batch", str(args.batch), "--json", tmp]
    if args.device:
        cmd += ["--device", args.device]
    print("running:", " ".join(cmd), file=sys.stderr, flush=True)
    try:
        r = subprocess.run(cmd, stdout=sys.stderr, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            fail(f"'{' '.join(cmd)}' failed (exit {r.returncode}): {r.stderr.strip()[-800:]}")
        return read_clmtl_json(tmp)
    finally:
        os.unlink(tmp)


# ---- report --------------------------------------------------------------------------------

# metric, label, clmtl key, PyTorch key, lower is better, scale for printing
METRICS = (("train_step_ms", "train ms/step", "train_step_ms", "train_step_ms", True, 1),
           ("train_img_s", "train img/s", "train_img_s", "train_img_s", False, 1),
           ("infer_ms", "infer ms/forward", "infer_ms", "infer_ms", True, 1),
           ("infer_img_s", "infer img/s", "infer_img_s", "infer_img_s", False, 1),
           ("peak_memory_bytes", "peak memory MiB *", "peak_device_bytes",
            "train_peak_rss_growth_bytes", True, 1 / 2**20))
MEMORY_NOTE = ("* clmtl: peak_device_bytes (device buffers of the training graph); PyTorch: "
               "growth of the resident set over model build and training")


def num(v):
    """v when it is a finite number, else None."""
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    return v if ok else None


def compare(dev, torch_res):
    """One row per metric: both values, clmtl/PyTorch and which side is better by how much."""
    rows = []
    for metric, label, ck, tk, lower, scale in METRICS:
        c, t = num(dev.get(ck)), num(torch_res.get(tk))
        ratio = c / t if c is not None and t else None
        better, factor = None, None
        if ratio == 1:
            better, factor = "equal", 1.0
        elif ratio:
            better = "clmtl" if (ratio < 1) == lower else "pytorch"
            factor = max(ratio, 1 / ratio)
        rows.append({"metric": metric, "label": label, "clmtl": c, "pytorch": t, "ratio": ratio,
                     "better": better, "factor": factor, "scale": scale})
    return rows


def fmt(v, scale=1):
    if v is None:
        return "-"
    v *= scale
    return f"{v:.1f}" if abs(v) >= 100 else f"{v:.2f}" if abs(v) >= 1 else f"{v:.3g}"


def table(title, rows, clmtl_col, torch_col, markdown):
    """The comparison as aligned text or Markdown; clmtl_col None: PyTorch's column only."""
    if clmtl_col is None:
        head = ["metric", torch_col]
        body = [[r["label"], fmt(r["pytorch"], r["scale"])] for r in rows]
    else:
        head = ["metric", clmtl_col, torch_col, "clmtl/PyTorch", "better"]
        body = []
        for r in rows:
            better = {None: "-", "equal": "equal"}.get(r["better"])
            if better is None:
                better = f"{'clmtl' if r['better'] == 'clmtl' else 'PyTorch'} {r['factor']:.2f}x"
            body.append([r["label"], fmt(r["clmtl"], r["scale"]), fmt(r["pytorch"], r["scale"]),
                         "-" if r["ratio"] is None else f"{r['ratio']:.3g}", better])
    if markdown:
        align = ["---"] + ["---:"] * (len(head) - 1)
        if len(head) == 5:
            align[4] = "---"
        lines = [f"**{title}**", "", "| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
        return "\n".join(lines + ["| " + " | ".join(b) + " |" for b in body]) + "\n"
    widths = [max(len(x[i]) for x in [head] + body) for i in range(len(head))]

    def line(cells):
        return "  ".join(c.ljust(w) if i in (0, 4) else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return "\n".join([title, line(head), line(["-" * w for w in widths])] +
                     [line(b) for b in body]) + "\n"


# Interpreters tried for the PyTorch phases, in order: this one, then the system's (Debian's
# python3-torch installs for /usr/bin/python3, which a pyenv or venv python3 may hide).
PYTHONS = [sys.executable] + (["/usr/bin/python3"] if os.path.exists("/usr/bin/python3") and
                              os.path.realpath(sys.executable) != "/usr/bin/python3" else [])


def run_phase(args, phase):
    """One PyTorch phase in a child process (this script with --phase): its result dict."""
    cmd = [PYTHONS[0], os.path.abspath(__file__), args.model, "--phase", phase,
           "--size", f"{args.height}x{args.width}", "--batch", str(args.batch),
           "--threads", str(args.threads), "--steps", str(args.steps), "--reps", str(args.reps),
           "--warmup", str(args.warmup), "--weighting", args.weighting, "--lr", str(args.lr),
           "--seed", str(args.seed)] + (["--clmtl", args.clmtl] if args.clmtl else [])
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        err = r.stderr.strip()
        if r.returncode == NO_TORCH:
            if len(PYTHONS) > 1:
                PYTHONS.pop(0)
                return run_phase(args, phase)
            fail(f"{err.removeprefix('bench_torch: ')} (Debian: apt-get install python3-torch)")
        fail(f"the PyTorch {phase} phase failed (exit {r.returncode}):\n{err[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="model file (models/*.cfg)")
    ap.add_argument("--size", default=None,
                    help="HxW (default 128x256, or the --clmtl-json file's)")
    ap.add_argument("--batch", type=int, default=None,
                    help="batch size (default 8, or the --clmtl-json file's)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="torch.set_num_threads (default os.cpu_count())")
    ap.add_argument("--steps", type=int, default=3, help="steps per timed repetition (3)")
    ap.add_argument("--reps", type=int, default=5, help="timed repetitions (5)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first (2)")
    ap.add_argument("--weighting", default="uncertainty", choices=STRATEGIES)
    ap.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (1e-3)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--clmtl", default=None, help="clmtl binary (default <repo>/build/clmtl)")
    ap.add_argument("--device", default=None, help="passed to clmtl bench --device")
    ap.add_argument("--all-devices", action="store_true",
                    help="compare every device entry of the clmtl JSON (default: the first)")
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--clmtl-json", metavar="FILE", help="read clmtl's numbers from FILE "
                     "(written by `clmtl bench --json`) instead of running clmtl")
    src.add_argument("--no-clmtl", action="store_true", help="PyTorch only")
    src.add_argument("--params-only", action="store_true",
                     help="only check the parameter count against `clmtl model` (no timing)")
    ap.add_argument("--json", metavar="OUT", help="write both sides and the ratios as JSON")
    ap.add_argument("--markdown", metavar="OUT", help="write the table(s) as Markdown")
    src.add_argument("--verify", action="store_true",
                     help="check the parameter count and that PyTorch computes the losses and "
                     "total of `clmtl model --steps 1` from the same weights and batch (small "
                     "models and sizes: the weights are drawn in pure Python)")
    ap.add_argument("--phase", choices=("train", "infer", "params", "verify"),
                    help=argparse.SUPPRESS)
    return ap.parse_args()


def settle_shape(args, clmtl_data):
    """Batch and size from the options, else from the clmtl JSON, else 8 and 128x256; a
    JSON measured at another shape is an error."""
    if args.batch is None:
        args.batch = clmtl_data.get("batch", 8) if clmtl_data else 8
    if args.size is None:
        hw = (clmtl_data or {}).get("height"), (clmtl_data or {}).get("width")
        args.size = f"{hw[0]}x{hw[1]}" if None not in hw else "128x256"
    m = re.fullmatch(r"(\d+)x(\d+)", str(args.size))
    if not m:
        fail(f"--size wants HxW, e.g. 128x256, not '{args.size}'", 2)
    args.height, args.width = int(m.group(1)), int(m.group(2))
    if not isinstance(args.batch, int) or \
            min(args.height, args.width, args.batch, args.threads, args.steps, args.reps) < 1 \
            or args.warmup < 0 or not args.lr > 0:
        fail("--size, --batch, --threads, --steps, --reps and --lr must be positive, "
             "--warmup >= 0", 2)
    if clmtl_data:
        got = (clmtl_data.get("batch"), clmtl_data.get("height"), clmtl_data.get("width"))
        if got != (args.batch, args.height, args.width):
            fail(f"{args.clmtl_json} was measured at batch {got[0]}, {got[1]}x{got[2]}; this run "
                 f"is batch {args.batch}, {args.height}x{args.width} (leave out --batch and "
                 "--size to take the file's)", 2)
        if os.path.basename(str(clmtl_data.get("model", ""))) != os.path.basename(args.model):
            print(f"bench_torch: warning: {args.clmtl_json} is for model "
                  f"{clmtl_data.get('model')}, not {args.model}", file=sys.stderr)


def main():
    args = parse_args()
    clmtl_data = read_clmtl_json(args.clmtl_json) if args.clmtl_json else None
    settle_shape(args, clmtl_data)
    if args.phase:  # child process: one phase, its JSON on stdout
        try:
            import torch  # noqa: F401 (here only to tell a missing PyTorch apart)
        except ImportError as e:
            fail(f"PyTorch cannot be imported by {sys.executable}: {e}", NO_TORCH)
        try:
            print(json.dumps(torch_side(args, args.phase)))
        except ModelError as e:
            fail(str(e), 2)
        return
    try:
        file_params = load_model(args.model, args.height, args.width, binary=args.clmtl)[3]
    except ModelError as e:
        fail(str(e), 2)

    binary = args.clmtl or default_binary()
    have_binary = usable(binary)
    if not have_binary and (args.clmtl or not (args.no_clmtl or args.clmtl_json)):
        fail(f"clmtl binary not found at {binary} (build it, or pass --clmtl PATH, "
             "--clmtl-json FILE or --no-clmtl)")

    # the parameter count: model file, PyTorch network, clmtl (task parameters included)
    params = run_phase(args, "params")
    print(f"parameters: PyTorch {params['parameters']}, model file {file_params}")
    if not params["parameters"] == params["parameters_from_file"] == file_params:
        fail("the PyTorch network's parameter count differs from the model file's")
    if have_binary:
        n = clmtl_param_count(binary, args)
        print(f"parameters: clmtl {n} ({binary} model {args.model})")
        if n != params["parameters"]:
            fail(f"parameter counts differ: PyTorch {params['parameters']}, clmtl {n}")
        print("parameter counts: equal")
    else:
        print(f"parameter counts: clmtl's not checked (no binary at {binary})")
    if args.params_only:
        return
    if args.verify:
        if not have_binary:
            fail(f"--verify needs the clmtl binary (none at {binary})")
        mine = run_phase(args, "verify")
        theirs, total, cmd = clmtl_first_step(binary, args)
        bad = 0
        # clmtl prints 4 decimals
        pairs = [(f"task {k}", mine["losses"][k], theirs.get(k)) for k in mine["losses"]]
        for what, a, b in pairs + [("total", mine["total"], total)]:
            ok = b is not None and abs(a - b) <= 1e-4 + 1e-3 * abs(b)
            bad += not ok
            print(f"{what:24s} PyTorch {a:.6f}  clmtl {b if b is not None else '-'}  "
                  f"{'ok' if ok else 'DIFFERS'}")
        if bad:
            fail(f"{bad} of the first-step losses differ from `{cmd}`")
        print(f"first step: PyTorch computes the losses and total of `{cmd}`")
        return

    if not (args.no_clmtl or args.clmtl_json):
        clmtl_data = run_clmtl_bench(argparse.Namespace(**{**vars(args), "clmtl": binary}))
    print(f"PyTorch {params['torch_version']} CPU, {params['threads']} threads: training "
          f"({args.warmup} warm-up, {args.reps} x {args.steps} steps) ...", file=sys.stderr,
          flush=True)
    tr = run_phase(args, "train")
    print("PyTorch inference ...", file=sys.stderr, flush=True)
    inf = run_phase(args, "infer")
    torch_res = {"version": params["torch_version"], "device": "cpu", "threads": tr["threads"],
                 "parameters": params["parameters"], "train_step_ms": tr["ms"],
                 "train_img_s": tr["img_s"], "infer_ms": inf["ms"], "infer_img_s": inf["img_s"],
                 "train_peak_rss_growth_bytes": tr["peak_rss_growth_bytes"],
                 "infer_peak_rss_growth_bytes": inf["peak_rss_growth_bytes"],
                 "rss_high_water_reset": tr["hwm_reset"] and inf["hwm_reset"],
                 "train_step_ms_reps": tr["ms_reps"], "infer_ms_reps": inf["ms_reps"],
                 "train_step_ms_min": min(tr["ms_reps"]), "infer_ms_min": min(inf["ms_reps"]),
                 "train_step_cpu_ms": tr.get("cpu_ms"), "infer_cpu_ms": inf.get("cpu_ms"),
                 "load_average": [float(x) for x in open("/proc/loadavg").read().split()[:3]]
                 if os.path.exists("/proc/loadavg") else None,
                 "final_total_loss": tr["final_total"]}

    title = (f"{args.model}, batch {args.batch}, {args.height}x{args.width}, weighting "
             f"{args.weighting}, Adam; medians of {args.reps} x {args.steps} steps")
    torch_col = f"PyTorch {params['torch_version']} CPU {tr['threads']}t"
    devices = []
    if clmtl_data:
        devices = clmtl_data["devices"] if args.all_devices else clmtl_data["devices"][:1]
    text, md, comparisons = [], [], []
    for dev in devices or [None]:
        rows = compare(dev or {}, torch_res)
        col = f"clmtl {dev.get('device', '?')}" if dev else None
        text.append(table(title, rows, col, torch_col, False))
        md.append(table(title, rows, col, torch_col, True))
        if dev:
            comparisons.append({"device": dev.get("device"), "platform": dev.get("platform"),
                                "rows": [{k: v for k, v in r.items()
                                          if k not in ("label", "scale")} for r in rows]})
    notes = [MEMORY_NOTE] if devices else []
    notes.append(f"PyTorch inference: peak RSS growth "
                 f"{fmt(torch_res['infer_peak_rss_growth_bytes'], 1 / 2**20)} MiB; "
                 f"{params['parameters']} parameters")
    if torch_res["load_average"]:
        notes.append(f"load average {torch_res['load_average'][0]:.1f} (1 min) after the PyTorch "
                     f"training; {os.cpu_count()} CPUs")
    print("\n".join(text) + "\n".join(notes))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(md) + "\n" + "\n\n".join(notes) + "\n")
    if args.json:
        out = {"tool": "bench_torch", "model": args.model, "batch": args.batch,
               "height": args.height, "width": args.width, "weighting": args.weighting,
               "optimizer": "adam", "steps": args.steps, "reps": args.reps,
               "warmup": args.warmup, "pytorch": torch_res, "clmtl": clmtl_data,
               "comparisons": comparisons}
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
