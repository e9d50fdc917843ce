"""A clmtl model in PyTorch: the network of a model file (ClmtlNet, built from what
clmtl_cfg.load_model returns: layers with their keys and shapes, execution order, losses), the
per-task losses as cl/loss.cl computes them (means over valid targets), the multi-task
weighting of cl/mtl.cl, and the weights and batch `clmtl model --steps` starts from
(clmtl_init, clmtl_inputs). Parameter names follow clmtl's (enc1.weight, enc1.bn.running_mean)
under the net's `mods.` prefix. Checkpoints both ways (read_checkpoint, write_checkpoint,
state_dict_from_clmtl, clmtl_from_state_dict): a clmtl checkpoint loads into ClmtlNet with
load_state_dict(strict=True), and a ClmtlNet's state dict becomes a checkpoint clmtl eval/infer
open. Optimizer state both ways (clmtl_adam, adam_state_from_clmtl, clmtl_optimizer_from_adam):
a checkpoint's Adam/AdamW moments and step load into torch.optim with load_state_dict, so a
run continues in PyTorch (or back in clmtl) where it stopped. Used by tools/bench_torch.py;
importable by other tools:

  from clmtl_cfg import load_model
  from clmtl_torch import ClmtlNet
  net = ClmtlNet(load_model("models/default.cfg", 128, 256))
  heads = net(inputs, with_losses=False)"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from clmtl_cfg import LOSS_TYPES

CLAMP_SIGMA2 = (1e-3, 10.0)  # uncertainty-clamped default: sigma^2 range (mtl_strategy.h)
MASK64 = (1 << 64) - 1


def act_fn(kind, slope):
    if kind == "relu":
        return F.relu
    if kind == "leaky":
        return lambda x: F.leaky_relu(x, slope)
    if kind == "sigmoid":
        return torch.sigmoid
    return None


class ConvBlock(nn.Module):
    """conv or deconv, then optional bn and activation: one clmtl conv/deconv layer."""

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


def xent_loss(logits, labels, ignore):
    """cl/loss.cl: Σ over pixels whose label is not `ignore` of logsumexp - logit[label],
    divided by max(that count, 1)."""
    s = F.cross_entropy(logits, labels, ignore_index=ignore, reduction="sum")
    cnt = (labels != ignore).sum().to(logits.dtype)
    return s / cnt.clamp(min=1.0), cnt


def regression_loss(t, pred, target, mask):
    """cl/loss.cl: Σ |d| (l1) or d² (l2) over elements whose mask pixel is non-zero, divided
    by max(C · valid pixels, 1) (all N·C·H·W elements without a mask): the mean over valid
    elements, channels included."""
    d = pred - target
    e = d.abs() if t == "l1" else d * d
    if mask is None:
        return e.sum() / max(e.numel(), 1), torch.tensor(float(e.numel()))
    valid = mask != 0
    e = torch.where(valid, e, torch.zeros((), dtype=e.dtype))
    cnt = valid.sum().to(e.dtype) * pred.shape[1]
    return e.sum() / cnt.clamp(min=1.0), cnt


class ClmtlNet(nn.Module):
    """The network of model = (layers by name, execution order, losses, parameter count), as
    clmtl_cfg.load_model returns it, with one task parameter per loss (clmtl's
    task.<name>.task_param, s or u, from 0)."""

    def __init__(self, model):
        super().__init__()
        self.by, self.order, self.losses = model[0], model[1], model[2]
        by = self.by
        self.mods = nn.ModuleDict()
        self.key = {}
        for i, nm in enumerate(self.order):
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
        self.task_param = nn.Parameter(torch.zeros(len(self.losses)))
        # the last layer reading each output (and each max-pool's indices), so dead tensors
        # are dropped as soon as possible
        self.last_use, self.last_idx = {}, {}
        for i, nm in enumerate(self.order):
            l = by[nm]
            for d in l["from"] + [n for n in (l["target"], l["mask"])
                                  if n and l["type"] in LOSS_TYPES]:
                self.last_use[d] = i
            if l["type"] == "unpool":
                self.last_idx[l["indices"]] = i

    def forward(self, inputs, with_losses):
        """with_losses: (task losses, valid counts) in model order; else the heads."""
        by, losses = self.by, self.losses
        val, idx, out = {}, {}, {}
        heads = {by[nm]["from"][0] for nm in losses}
        keep = heads | set(losses)
        for i, nm in enumerate(self.order):
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
                y = F.max_unpool2d(x, idx[l["indices"]], 2, 2, output_size=l["shape"][1:])
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


def weigh(net, task_loss, counts, par, weighting):
    """cl/mtl.cl mtl_step without gating, for the strategy named `weighting`: a task with no
    valid target is left out."""
    kinds = [net.by[nm]["kind"] for nm in net.losses]
    fixed_w = [net.by[nm]["weight"] for nm in net.losses]
    total = 0.0
    K = len(task_loss)
    for i, (L, n) in enumerate(zip(task_loss, counts)):
        s = par[i]
        a = 0.5 if kinds[i] == "regression" else 1.0
        if weighting == "fixed":
            c = fixed_w[i] * L
        elif weighting == "equal":
            c = L / K
        elif weighting == "uncertainty":
            c = a * torch.exp(-s) * L + 0.5 * s
        elif weighting == "uncertainty-clamped":
            sc = s.clamp(math.log(CLAMP_SIGMA2[0]), math.log(CLAMP_SIGMA2[1]))
            c = a * torch.exp(-sc) * L + 0.5 * sc
        elif weighting == "uncertainty-simple":
            c = torch.exp(-s) * L + s
        else:  # softplus
            sp = F.softplus(s)
            c = torch.exp(-sp) * L + sp
        total = total + torch.where(n > 0, c, torch.zeros((), dtype=c.dtype))
    return total


def make_inputs(net, N, H, W, gen):
    """Image-like inputs in [0, 1]; class labels with ~5% ignore pixels; regression targets
    in [-1, 1] (offsets, several channels) or [0, 1] (depth-like, one channel); masks 1 on
    ~80% of pixels."""
    by, inputs = net.by, {}
    for nm in net.order:
        l = by[nm]
        if l["type"] != "input":
            continue
        C = l["shape"][0]
        users = [by[u] for u in net.losses]
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
    from a xorshift64* stream, batch norm weight 1 and bias 0, and one draw (of bound 0) for
    each loss's task parameter."""
    st = [(0 * 0x9e3779b97f4a7c15 + 0x632be59bd9b4e019) & MASK64]

    def uniform01():
        x = st[0]
        x ^= x >> 12
        x ^= (x << 25) & MASK64
        x ^= x >> 27
        st[0] = x
        return (((x * 0x2545f4914f6cdd1d) & MASK64) >> 11) / 2.0**53

    with torch.no_grad():
        for nm in net.order:
            l = net.by[nm]
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


def randomize_bn(net):
    """Batch-norm statistics and affine parameters drawn from torch's global generator, so that
    inference tests more than a fresh net's identity normalisation: running mean in [-0.5, 0.5],
    running variance in [0.5, 2], weight in [0.5, 1.5], bias in [-0.3, 0.3]."""
    with torch.no_grad():
        for mod in net.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 2.0)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.3, 0.3)


def clmtl_inputs(net, N, H, W):
    """The random batch of `clmtl model --steps` (cli_fill_inputs in tools/cli.c): a
    xorshift64 stream over every input layer in layer order (uniform in [-1, 1]), then over
    each loss's target (class ids for softmax_xent, else uniform in [-1, 1]) and mask (1 with
    probability 0.8), each written over the first pass's values."""
    by = net.by
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
    for nm in net.losses:
        l = by[nm]
        for which, name in (("target", l["target"]), ("mask", l["mask"])):
            if not name:
                continue
            C = by[name]["shape"][0]
            kind = "mask" if which == "mask" else \
                "label" if l["type"] == "softmax_xent" else "uniform"
            vals = fill(N * C * H * W, kind, by[l["from"][0]]["shape"][0])
            inputs[name] = torch.tensor(vals).view(N, C, H, W)
    for nm in net.losses:  # class ids as PyTorch's cross-entropy takes them
        if by[nm]["type"] == "softmax_xent":
            t = by[nm]["target"]
            inputs[t] = inputs[t].view(N, H, W).long()
    return inputs


# ---- checkpoints both ways ---------------------------------------------------------------------
# clmtl's checkpoint (include/clmtl/checkpoint.h) is a safetensors file: tensors named as
# clm_graph_named names them, weights (K, C, R, S) (deconv (C_in, C_out, R, S), as
# ConvTranspose2d's), biases and batch-norm vectors 1-D, each loss's task parameter
# "task.<name>.task_param" (1); optionally "optimizer.m", "optimizer.v", "optimizer.step".
# ClmtlNet names the same tensors "mods.<layer>.<rest>", holds the task parameters as one
# vector "task_param" (K) in loss order, and batch norm's num_batches_tracked, which clmtl does
# not keep (set from the checkpoint's step; dropped on the way back).

def fnv1a64(text):
    """clm_checkpoint_model_hash: FNV-1a 64 of the model text's bytes, 16 hex digits."""
    h = 0xcbf29ce484222325
    for b in text.encode("utf-8") if isinstance(text, str) else text:
        h = ((h ^ b) * 0x100000001b3) & MASK64
    return "%016x" % h


def read_checkpoint(path):
    """({name: float32 tensor}, {metadata}) of a clmtl checkpoint (or any F32 safetensors)."""
    import json
    import struct
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    tensors = {}
    for name, e in header.items():
        if e["dtype"] != "F32":
            raise ValueError("%s: tensor %s is %s, F32 wanted" % (path, name, e["dtype"]))
        a, b = e["data_offsets"]
        t = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32) if b > a else torch.zeros(0)
        tensors[name] = t.reshape(e["shape"]).clone()
    return tensors, meta


def write_checkpoint(path, tensors, model_text, height, width, step=0, epoch=0, strategy="", extra=None):
    """A clmtl checkpoint of `tensors` ({name: tensor}, clmtl's names and shapes) for the model
    text `model_text` trained at height x width: the metadata clmtl eval and infer need (format,
    model hash and text, resolution, data seed 1) plus `extra` pairs."""
    import json
    import struct
    meta = {"format": "clmtl-1", "model_fnv1a64": fnv1a64(model_text), "step": str(int(step)),
            "epoch": str(int(epoch)), "strategy": strategy, "height": str(int(height)),
            "width": str(int(width)), "data_seed": "1", "model_cfg": model_text}
    meta.update(extra or {})
    header, blobs, off = {"__metadata__": meta}, [], 0
    for name, t in tensors.items():
        b = t.detach().to(torch.float32).contiguous().cpu().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def _layer_of(net, name):
    """(layer, rest) of a clmtl tensor name: the longest layer name that prefixes it."""
    best = None
    for nm in net.key:
        if name.startswith(nm + ".") and (best is None or len(nm) > len(best)):
            best = nm
    if best is None:
        raise KeyError("tensor %s belongs to no conv/deconv/batchnorm layer of the model" % name)
    return best, name[len(best) + 1:]


def state_dict_from_clmtl(net, tensors, step=0):
    """The state dict of ClmtlNet `net` from a clmtl checkpoint's tensors (read_checkpoint):
    loads with net.load_state_dict(sd, strict=True). Optimizer tensors are left out; every
    other tensor must map onto one of net's (KeyError otherwise), with its shape."""
    sd = {}
    tasks = [None] * len(net.losses)
    for name, t in tensors.items():
        if name.startswith("optimizer."):
            continue
        if name.startswith("task.") and name.endswith(".task_param"):
            tasks[net.losses.index(name[:-len(".task_param")])] = t.reshape(())
            continue
        layer, rest = _layer_of(net, name)
        sd["mods.%s.%s" % (net.key[layer], rest)] = t.clone()
    if any(t is None for t in tasks):
        raise KeyError("checkpoint lacks task parameters of %s" %
                       [nm for nm, t in zip(net.losses, tasks) if t is None])
    sd["task_param"] = torch.stack(tasks)
    own = net.state_dict()
    for k, v in own.items():
        if k.endswith(".num_batches_tracked"):
            sd[k] = torch.tensor(int(step), dtype=v.dtype)
        elif k in sd and tuple(sd[k].shape) != tuple(v.shape):
            raise ValueError("%s: checkpoint shape %s, network %s" % (k, tuple(sd[k].shape), tuple(v.shape)))
    return sd


def clmtl_from_state_dict(net, sd):
    """clmtl's tensors ({name: float32 tensor}, checkpoint names and shapes) from a state dict
    of ClmtlNet `net` (net.state_dict() or one loaded from elsewhere); num_batches_tracked is
    dropped."""
    inv = {key: nm for nm, key in net.key.items()}
    out = {}
    for k, v in sd.items():
        if k.endswith(".num_batches_tracked"):
            continue
        if k == "task_param":
            for i, nm in enumerate(net.losses):
                out[nm + ".task_param"] = v.detach().reshape(-1)[i:i + 1].to(torch.float32).clone()
            continue
        if not k.startswith("mods."):
            raise KeyError("%s is not a ClmtlNet tensor" % k)
        key, rest = k[len("mods."):].split(".", 1)
        out["%s.%s" % (inv[key], rest)] = v.detach().to(torch.float32).clone()
    return out


# ---- optimizer state both ways ----------------------------------------------------------------
# clmtl keeps Adam's moments in its flat parameter layout (compile.c layout_params): every
# conv/deconv/batchnorm layer in execution order, within a layer weight, bias, bn.weight,
# bn.bias, then the K task parameters in loss order; "optimizer.step" counts the updates, one
# counter for all. Its update (cl/optim.cl) is torch.optim.Adam's / AdamW's: m = lerp(m, g,
# 1 - b1), v = b2 v + (1 - b2) g^2, w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps);
# Adam adds weight_decay * w to g first, AdamW multiplies w by 1 - lr * weight_decay first.
# Decay applies to conv/deconv weights always, to biases and batch-norm weights unless
# --no-decay-bias-norm, never to the task parameters, which take --task-lr: torch.optim
# parameter groups (clmtl_adam builds them). One difference: clmtl's betas are float32, torch's
# are Python floats (see clmtl_adam's float32_betas).

_SLOT_RANK = {"weight": 0, "bias": 1, "bn.weight": 2, "bn.bias": 3}


def flat_layout(net):
    """[(clmtl name, parameter of net, offset, count)] in clmtl's flat parameter order; the task
    parameters are one entry ("task_param", net.task_param, offset, K)."""
    params = dict(net.named_parameters())
    out, off = [], 0
    for nm in net.order:
        if nm not in net.key:
            continue
        key = net.key[nm]
        rests = sorted((r for r, _ in net.mods[key].named_parameters()), key=lambda r: _SLOT_RANK[r])
        for rest in rests:
            p = params["mods.%s.%s" % (key, rest)]
            out.append(("%s.%s" % (nm, rest), p, off, p.numel()))
            off += p.numel()
    out.append(("task_param", net.task_param, off, net.task_param.numel()))
    return out


def clmtl_adam(net, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False,
               task_lr=None, decay_bias_norm=True, float32_betas=True):
    """torch.optim.Adam (AdamW when decoupled) over net with clmtl train's parameter groups:
    decaying parameters, then (decay_bias_norm False) biases and batch-norm weights without
    decay, then the task parameters at task_lr (None: lr) without decay. float32_betas: the
    betas as clmtl holds them (float32: 0.999 is 0.99900001287, so 1 - beta2 is 1.3e-5 smaller
    than torch's double 0.001), so that steps continue clmtl's exactly; False: as given."""
    decay, no_decay = [], []
    for name, p, _, _ in flat_layout(net)[:-1]:
        layer, rest = name.rsplit(".", 1)
        conv_weight = rest == "weight" and net.by.get(layer, {}).get("type") in ("conv", "deconv")
        (decay if conv_weight or decay_bias_norm else no_decay).append(p)
    groups = [{"params": decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    groups.append({"params": [net.task_param], "lr": task_lr if task_lr else lr, "weight_decay": 0.0})
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    if float32_betas:
        betas = tuple(_f32(b) for b in betas)
    return cls(groups, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


def _f32(x):
    return torch.tensor(float(x), dtype=torch.float32).item()


def adam_state_from_clmtl(net, optimizer, tensors):
    """optimizer.state_dict() with the moments and step of a clmtl checkpoint's tensors
    (read_checkpoint): loads with optimizer.load_state_dict. optimizer is a torch.optim.Adam or
    AdamW over net's parameters (clmtl_adam, or any grouping of them)."""
    layout = flat_layout(net)
    total = layout[-1][2] + layout[-1][3]
    m, v = tensors["optimizer.m"].reshape(-1), tensors["optimizer.v"].reshape(-1)
    if m.numel() != total or v.numel() != total:
        raise ValueError("optimizer.m/v hold %d/%d values, the network has %d parameters" %
                         (m.numel(), v.numel(), total))
    step = float(tensors["optimizer.step"].reshape(-1)[0])
    where = {id(p): (off, n) for _, p, off, n in layout}
    sd = optimizer.state_dict()
    sd["state"] = {}
    for group, saved in zip(optimizer.param_groups, sd["param_groups"]):
        if group.get("amsgrad"):
            raise ValueError("clmtl's Adam has no AMSGrad (amsgrad=True)")
        for p, i in zip(group["params"], saved["params"]):
            if id(p) not in where:
                raise KeyError("the optimizer holds a tensor that is not a parameter of net")
            if step == 0:
                continue  # torch keeps no state before the first step
            off, n = where[id(p)]
            sd["state"][i] = {"step": torch.tensor(step),
                              "exp_avg": m[off:off + n].reshape(p.shape).clone(),
                              "exp_avg_sq": v[off:off + n].reshape(p.shape).clone()}
    return sd


def clmtl_optimizer_from_adam(net, optimizer):
    """{"optimizer.m", "optimizer.v", "optimizer.step"} in clmtl's layout from a torch Adam or
    AdamW over net's parameters (write_checkpoint takes them with the weights). Parameters
    without state count as zero moments; every parameter with state must be at the same step
    (clmtl keeps one counter)."""
    layout = flat_layout(net)
    total = layout[-1][2] + layout[-1][3]
    m, v = torch.zeros(total), torch.zeros(total)
    steps = set()
    for _, p, off, n in layout:
        st = optimizer.state.get(p)
        if not st:
            continue
        steps.add(float(st["step"]))
        m[off:off + n] = st["exp_avg"].detach().reshape(-1).to(torch.float32)
        v[off:off + n] = st["exp_avg_sq"].detach().reshape(-1).to(torch.float32)
    if len(steps) > 1:
        raise ValueError("parameters at different steps %s: clmtl keeps one step counter" % sorted(steps))
    return {"optimizer.m": m, "optimizer.v": v,
            "optimizer.step": torch.tensor([steps.pop() if steps else 0.0])}
