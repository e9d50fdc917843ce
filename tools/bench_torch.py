#!/usr/bin/env python3
"""Builds the network of a clmtl model file in PyTorch, times training and inference on the
CPU, and prints clmtl's numbers (from `clmtl bench --json`) beside PyTorch's with the ratio.

  python3 tools/bench_torch.py models/default.cfg --size 128x256 --batch 8
  python3 tools/bench_torch.py models/default.cfg --clmtl-json bench.json --markdown cmp.md
  python3 tools/bench_torch.py models/tiny.cfg --size 32x64 --no-clmtl --json torch.json
  python3 tools/bench_torch.py models/segnet-mtl.cfg --params-only

The model file is read with configparser and checked as src/graph/parse.c and compile.c do
(same keys, defaults, ranges and errors, with file:line). The network, the per-task losses
(cl/loss.cl: means over valid targets), the multi-task weighting (cl/mtl.cl) and Adam with
clmtl's defaults (PyTorch's: lr 1e-3, betas 0.9/0.999, eps 1e-8, no weight decay) are the
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

from clmtl_cfg import LOSS_TYPES, ModelError, compile_model, parse_model

STRATEGIES = ("fixed", "equal", "uncertainty", "uncertainty-simple", "uncertainty-clamped",
              "softplus")
CLAMP_SIGMA2 = (1e-3, 10.0)  # uncertainty-clamped default: sigma^2 range (mtl.h)
MASK64 = (1 << 64) - 1
NO_TORCH = 3  # exit status of a child process that cannot import torch


# ---- PyTorch side (child processes only) -------------------------------------------------

def torch_side(args, phase):
    """Runs one phase ("train", "infer", "params" or "verify") and returns its results."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    H, W, N = args.height, args.width, args.batch
    by, order, losses, count = compile_model(parse_model(args.model), H, W)

    def act_fn(kind, slope):
        if kind == "relu":
            return F.relu
        if kind == "leaky":
            return lambda x: F.leaky_relu(x, slope)
        if kind == "sigmoid":
            return torch.sigmoid
        return None

    class ConvBlock(nn.Module):
        """conv or deconv, then optional bn and activation. Parameter names follow clmtl's
        (<layer>.weight, <layer>.bias, <layer>.bn.weight, <layer>.bn.running_mean, ...) under
        the Net's `mods.` prefix."""

        def __init__(self, l, cin):
            super().__init__()
            k, self.l = l["size"], l
            self.transposed = l["type"] == "deconv"
            shape = (cin, l["filters"], k, k) if self.transposed else (l["filters"], cin, k, k)
            fan_in = shape[1] * k * k  # PyTorch: weight.size(1) * kernel area
            bound = 1.0 / math.sqrt(fan_in)
            self.weight = nn.Parameter(torch.empty(shape).uniform_(-bound, bound))
            if l["bias"] > 0 or (l["bias"] < 0 and not l["bn"]):
                self.bias = nn.Parameter(torch.empty(l["filters"]).uniform_(-bound, bound))
            else:
                self.register_parameter("bias", None)
            self.bn = (nn.BatchNorm2d(l["filters"], eps=l["bn_eps"], momentum=l["bn_momentum"])
                       if l["bn"] else None)
            self.act = act_fn(l["act"], l["slope"])
            d = l["dilation"]
            self.pad = l["pad"] if l["pad"] >= 0 else (d * (k - 1) // 2 if not self.transposed
                                                        else 0)

        def forward(self, x):
            l = self.l
            if self.transposed:
                y = F.conv_transpose2d(x, self.weight, self.bias, l["stride"], self.pad,
                                       l["output_padding"], 1, l["dilation"])
            else:
                y = F.conv2d(x, self.weight, self.bias, l["stride"], self.pad, l["dilation"])
            if self.bn is not None:
                y = self.bn(y)
            return self.act(y) if self.act else y

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.mods = nn.ModuleDict()
            self.key = {}
            for i, nm in enumerate(order):
                l = by[nm]
                m = None
                if l["type"] in ("conv", "deconv"):
                    m = ConvBlock(l, by[l["from"][0]]["shape"][0])
                elif l["type"] == "batchnorm":
                    m = nn.BatchNorm2d(l["shape"][0], eps=l["bn_eps"], momentum=l["bn_momentum"])
                if m is not None:
                    key = nm if "." not in nm and not hasattr(self.mods, nm) else f"layer_{i}"
                    self.mods[key] = m
                    self.key[nm] = key
            # one task parameter per loss, as clmtl's task.<name>.task_param (s or u, from 0)
            self.task_param = nn.Parameter(torch.zeros(len(losses)))
            # the last layer reading each output (and each max-pool's indices), so dead
            # tensors are dropped as soon as possible
            self.last_use, self.last_idx = {}, {}
            for i, nm in enumerate(order):
                l = by[nm]
                for d in l["from"] + [n for n in (l["target"], l["mask"])
                                      if n and l["type"] in LOSS_TYPES]:
                    self.last_use[d] = i
                if l["type"] == "unpool":
                    self.last_idx[l["indices"]] = i

        def forward(self, inputs, with_losses):
            """with_losses: (task losses, valid counts) in model order; else the heads."""
            val, idx, out = {}, {}, {}
            heads = {by[nm]["from"][0] for nm in losses}
            keep = heads | set(losses)
            for i, nm in enumerate(order):
                l = by[nm]
                t = l["type"]
                x = val.get(l["from"][0]) if l["from"] else None
                if t == "input":
                    y = inputs[nm]
                elif t in ("conv", "deconv", "batchnorm"):
                    y = self.mods[self.key[nm]](x)
                elif t == "activation":
                    y = act_fn(l["act"], l["slope"])(x)
                elif t == "maxpool":
                    y, idx[nm] = F.max_pool2d(x, 2, 2, return_indices=True)
                elif t == "unpool":
                    y = F.max_unpool2d(x, idx[l["indices"]], 2, 2,
                                       output_size=l["shape"][1:])
                elif t == "upsample":
                    y = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
                elif t == "concat":
                    y = torch.cat([val[f] for f in l["from"]], 1)
                elif t == "add":
                    y = x + val[l["from"][1]]
                elif not with_losses:
                    continue
                elif t == "softmax_xent":
                    y = xent_loss(x, inputs[l["target"]], l["ignore"])
                else:
                    y = regression_loss(t, x, inputs[l["target"]],
                                        inputs[l["mask"]] if l["mask"] else None)
                val[nm] = y
                if nm in heads and not with_losses:
                    out[nm] = y
                for d in list(val):
                    if self.last_use.get(d, -1) <= i and d not in keep and d != nm:
                        del val[d]
                for d in list(idx):
                    if self.last_idx.get(d, -1) <= i and d != nm:
                        del idx[d]
            if not with_losses:
                return out
            return [val[nm][0] for nm in losses], [val[nm][1] for nm in losses]

    def xent_loss(logits, labels, ignore):
        """cl/loss.cl: Σ over pixels whose label is not `ignore` of logsumexp - logit[label],
        divided by max(that count, 1)."""
        s = F.cross_entropy(logits, labels, ignore_index=ignore, reduction="sum")
        cnt = (labels != ignore).sum().to(logits.dtype)
        return s / cnt.clamp(min=1.0), cnt

    def regression_loss(t, pred, target, mask):
        """cl/loss.cl: Σ |d| (l1) or d² (l2) over elements whose mask pixel is non-zero,
        divided by max(C · valid pixels, 1) (all N·C·H·W elements without a mask): the mean
        over valid elements, channels included."""
        d = pred - target
        e = d.abs() if t == "l1" else d * d
        if mask is None:
            return e.sum() / max(e.numel(), 1), torch.tensor(float(e.numel()))
        valid = mask != 0
        e = torch.where(valid, e, torch.zeros((), dtype=e.dtype))
        cnt = valid.sum().to(e.dtype) * pred.shape[1]
        return e.sum() / cnt.clamp(min=1.0), cnt

    kinds = [by[nm]["kind"] for nm in losses]
    fixed_w = [by[nm]["weight"] for nm in losses]

    def weigh(task_loss, counts, par):
        """cl/mtl.cl mtl_step without gating: a task with no valid target is left out."""
        total = 0.0
        K = len(task_loss)
        for i, (L, n) in enumerate(zip(task_loss, counts)):
            s = par[i]
            a = 0.5 if kinds[i] == "regression" else 1.0
            if args.weighting == "fixed":
                c = fixed_w[i] * L
            elif args.weighting == "equal":
                c = L / K
            elif args.weighting == "uncertainty":
                c = a * torch.exp(-s) * L + 0.5 * s
            elif args.weighting == "uncertainty-clamped":
                sc = s.clamp(math.log(CLAMP_SIGMA2[0]), math.log(CLAMP_SIGMA2[1]))
                c = a * torch.exp(-sc) * L + 0.5 * sc
            elif args.weighting == "uncertainty-simple":
                c = torch.exp(-s) * L + s
            else:  # softplus
                sp = F.softplus(s)
                c = torch.exp(-sp) * L + sp
            total = total + torch.where(n > 0, c, torch.zeros((), dtype=c.dtype))
        return total

    def make_inputs(gen):
        """Image-like inputs in [0, 1]; class labels with ~5% ignore pixels; regression
        targets in [-1, 1] (offsets, several channels) or [0, 1] (depth-like, one channel);
        masks 1 on ~80% of pixels."""
        inputs = {}
        for nm in order:
            l = by[nm]
            if l["type"] != "input":
                continue
            C = l["shape"][0]
            users = [by[u] for u in losses]
            as_label = [u for u in users if u["target"] == nm and u["type"] == "softmax_xent"]
            as_target = [u for u in users if u["target"] == nm and u["type"] != "softmax_xent"]
            as_mask = [u for u in users if u["mask"] == nm]
            if as_label:
                u = as_label[0]
                K = by[u["from"][0]]["shape"][0]
                lab = torch.randint(0, K, (N, H, W), generator=gen)
                lab[torch.rand(N, H, W, generator=gen) < 0.05] = u["ignore"]
                inputs[nm] = lab
            elif as_mask:
                inputs[nm] = (torch.rand(N, 1, H, W, generator=gen) < 0.8).float()
            elif as_target and C > 1:
                inputs[nm] = torch.rand(N, C, H, W, generator=gen) * 2 - 1
            else:
                inputs[nm] = torch.rand(N, C, H, W, generator=gen)
        return inputs

    def clmtl_init(net):
        """The weights `clmtl model` trains from (clm_graph_init_params with seed 0): over the
        nodes in execution order, every conv/deconv weight and bias uniform in ±1/sqrt(fan_in)
        from a xorshift64* stream, batch norm weight 1 and bias 0, and one draw (of bound 0)
        for each loss's task parameter."""
        st = [(0 * 0x9e3779b97f4a7c15 + 0x632be59bd9b4e019) & MASK64]

        def uniform01():
            x = st[0]
            x ^= x >> 12
            x ^= (x << 25) & MASK64
            x ^= x >> 27
            st[0] = x
            return (((x * 0x2545f4914f6cdd1d) & MASK64) >> 11) / 2.0**53

        with torch.no_grad():
            for nm in order:
                l = by[nm]
                if l["type"] in LOSS_TYPES:
                    uniform01()
                if l["type"] not in ("conv", "deconv"):
                    continue
                m = net.mods[net.key[nm]]
                k = l["size"]
                fan_in = m.weight.shape[1] * k * k
                bound = 1.0 / math.sqrt(fan_in)
                for p in (m.weight, m.bias):
                    if p is not None:
                        vals = [(2.0 * uniform01() - 1.0) * bound for _ in range(p.numel())]
                        p.copy_(torch.tensor(vals, dtype=torch.float64).view(p.shape))

    def clmtl_inputs():
        """The random batch of `clmtl model --steps` (fill_inputs in tools/cmd_model.c): a
        xorshift64 stream over every input layer in layer order (uniform in [-1, 1]), then over
        each loss's target (class ids for softmax_xent, else uniform in [-1, 1]) and mask
        (1 with probability 0.8), each written over the first pass's values."""
        st = [(1 * 0x9e3779b97f4a7c15 + 1) & MASK64]

        def fill(n, kind, classes=0):
            out = []
            s = st[0]
            for _ in range(n):
                s ^= (s << 13) & MASK64
                s ^= s >> 7
                s ^= (s << 17) & MASK64
                u = (s >> 11) / 2.0**53
                out.append(float(u < 0.8) if kind == "mask" else float(int(u * classes))
                           if kind == "label" else 2.0 * u - 1.0)
            st[0] = s
            return out

        inputs = {}
        for nm, l in by.items():
            if l["type"] == "input":
                C = l["shape"][0]
                inputs[nm] = torch.tensor(fill(N * C * H * W, "uniform")).view(N, C, H, W)
        for nm in losses:
            l = by[nm]
            for which, name in (("target", l["target"]), ("mask", l["mask"])):
                if not name:
                    continue
                C = by[name]["shape"][0]
                kind = "mask" if which == "mask" else \
                    "label" if l["type"] == "softmax_xent" else "uniform"
                vals = fill(N * C * H * W, kind, by[l["from"][0]]["shape"][0])
                inputs[name] = torch.tensor(vals).view(N, C, H, W)
        for nm in losses:  # class ids as PyTorch's cross-entropy takes them
            if by[nm]["type"] == "softmax_xent":
                t = by[nm]["target"]
                inputs[t] = inputs[t].view(N, H, W).long()
        return inputs

    def rss():
        got = {}
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    k, v = line.split(":")
                    got[k] = int(v.split()[0]) * 1024
        return got.get("VmRSS", 0), got.get("VmHWM", 0)

    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    rss0, _ = rss()
    reset = True
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current resident set
    except OSError:
        reset = False
    net = Net()
    nparams = sum(p.numel() for p in net.parameters())
    res = {"phase": phase, "parameters": nparams, "parameters_from_file": count,
           "torch_version": torch.__version__, "threads": torch.get_num_threads()}
    if phase == "params":
        return res
    if phase == "verify":  # the losses and total of clmtl model --steps 1's first step
        clmtl_init(net)
        net.train()
        task_loss, counts = net(clmtl_inputs(), True)
        total = weigh(task_loss, counts, net.task_param)
        res.update(losses={nm[5:]: float(v) for nm, v in zip(losses, task_loss)},
                   total=float(total))
        return res
    inputs = make_inputs(gen)
    times = []
    if phase == "train":
        net.train()
        opt = torch.optim.Adam(net.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8,
                               weight_decay=0.0)
        learned = args.weighting not in ("fixed", "equal")

        def work():
            opt.zero_grad(set_to_none=True)
            task_loss, counts = net(inputs, True)
            total = weigh(task_loss, counts, net.task_param if learned
                          else net.task_param.detach())
            total.backward()
            opt.step()
            return total
    else:
        net.eval()

        def work():
            with torch.inference_mode():
                return net(inputs, False)
    for _ in range(args.warmup):
        last = work()
    cpu = []  # CPU time of the process (all threads): a check on a busy machine
    for _ in range(args.reps):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(args.steps):
            last = work()
        times.append((time.perf_counter() - t0) * 1e3 / args.steps)
        cpu.append((time.process_time() - c0) * 1e3 / args.steps)
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
           "--seed", str(args.seed)]
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
        _, _, _, file_params = compile_model(parse_model(args.model), args.height, args.width)
    except ModelError as e:
        fail(str(e), 2)

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    binary = args.clmtl or os.path.join(repo, "build", "clmtl")
    have_binary = os.path.isfile(binary) and os.access(binary, os.X_OK)
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
