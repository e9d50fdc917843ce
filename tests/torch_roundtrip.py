"""Checkpoints between clmtl and PyTorch (tools/clmtl_torch.py), run by test_torch_roundtrip.sh.
1. clmtl -> PyTorch: a checkpoint `clmtl train` wrote loads into ClmtlNet with
   load_state_dict(strict=True), and converting back gives every tensor bit for bit; PyTorch's
   forward of it agrees with clmtl's (the Python package's predict).
2. PyTorch -> clmtl: a ClmtlNet with random weights and random batch-norm statistics (so batch
   norm folding is exercised), for tiny.cfg and for a model with a deconv layer (its weight
   layout against ConvTranspose2d), written as a clmtl checkpoint, is scored by clmtl (predict,
   and `clmtl eval` opens it) as PyTorch scores it: argmax agreement 100%, regression outputs
   within 1e-4.  Usage: torch_roundtrip.py CLMTL_PROGRAM SOURCE_DIR WORK_DIR"""
import os
import subprocess
import sys

import numpy as np
import torch

cli, src, work = sys.argv[1:4]
sys.path[:0] = [os.path.join(src, "tools"), os.path.join(src, "python")]
import clmtl  # noqa: E402
from clmtl_cfg import load_model  # noqa: E402
from clmtl_torch import (ClmtlNet, clmtl_from_state_dict, randomize_bn, read_checkpoint,  # noqa: E402
                         state_dict_from_clmtl, write_checkpoint)

H, W = 32, 64
failures = []


def check(name, ok, detail=""):
    print("[%s] %s %s" % ("PASS" if ok else "FAIL", name, detail))
    if not ok:
        failures.append(name)


def compare(tag, net, ckpt, images):
    """PyTorch's heads of net (eval mode) against clmtl's predict on images (N, H, W, 3)."""
    net.eval()
    x = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
    feed = {nm: torch.zeros((len(images),) + tuple(l["shape"])) for nm, l in net.by.items() if l["type"] == "input"}
    feed["input"] = x  # targets and masks are not read without losses
    with torch.no_grad():
        heads = net(feed, with_losses=False)
    m = clmtl.Model.load(ckpt, device="cpu", batch=len(images))
    got = m.predict(images, logits=True)
    for t in m.tasks:
        ref = heads[t["prediction"]].numpy()
        out = got[t["name"]]
        if t["kind"] == "classification":
            agree = float((ref.argmax(1) == out.argmax(1)).mean())
            check("%s: %s argmax agreement 100%%" % (tag, t["name"]), agree == 1.0, "(%.4f%%)" % (100 * agree))
        diff = float(np.abs(ref - out).max())
        check("%s: %s max abs diff < 1e-4" % (tag, t["name"]), diff < 1e-4, "(%.2e)" % diff)
    m.close()


rng = np.random.default_rng(5)
images = rng.random((3, H, W, 3), dtype=np.float32)
tiny = os.path.join(src, "models", "tiny.cfg")

# 1. clmtl -> PyTorch -> clmtl
run = os.path.join(work, "run")
subprocess.run([cli, "train", "--model", tiny, "--size", "%dx%d" % (H, W), "--epochs", "1", "--batch", "4",
                "--train-count", "16", "--val-count", "8", "--out", run, "--device", "cpu"],
               check=True, capture_output=True)
tensors, meta = read_checkpoint(os.path.join(run, "best.safetensors"))
net = ClmtlNet(load_model(tiny, H, W, binary=cli))
sd = state_dict_from_clmtl(net, tensors, step=int(meta["step"]))
res = net.load_state_dict(sd, strict=True)
check("clmtl checkpoint loads into ClmtlNet with strict=True", not res.missing_keys and not res.unexpected_keys)
back = clmtl_from_state_dict(net, net.state_dict())
model_keys = {k for k in tensors if not k.startswith("optimizer.")}
check("back to clmtl: the same tensor names", set(back) == model_keys, str(set(back) ^ model_keys))
same = all(k in back and back[k].shape == tensors[k].shape and torch.equal(back[k], tensors[k]) for k in model_keys)
check("back to clmtl: every tensor bit for bit, shapes as the checkpoint's", same)
compare("clmtl-trained, in PyTorch", net, os.path.join(run, "best.safetensors"), images)

# 2. PyTorch -> clmtl, tiny.cfg and a deconv model
deconv_cfg = os.path.join(work, "deconv.cfg")
with open(deconv_cfg, "w") as f:
    f.write("""[input]\ntype = input\nchannels = 3\n\n[enc1]\ntype = conv\nfrom = input\nfilters = 6\nsize = 3
stride = 2\nbn = 1\nact = relu\n\n[up]\ntype = deconv\nfrom = enc1\nfilters = 5\nsize = 3\nstride = 2\npad = 1
output_padding = 1\nbn = 1\nact = leaky\n\n[up2]\ntype = deconv\nfrom = up\nfilters = 4\nsize = 2\n
[seg]\ntype = conv\nfrom = up2\nfilters = 7\nsize = 2\n\n[depth_head]\ntype = conv\nfrom = up2\nfilters = 1\nsize = 2\n
[task.semantic]\ntype = softmax_xent\nfrom = seg\ntarget = semantic\n
[task.depth]\ntype = l1\nfrom = depth_head\ntarget = depth\nmask = depth_mask\nkind = regression\n""")
torch.manual_seed(11)
for tag, cfg in (("tiny", tiny), ("deconv", deconv_cfg)):
    net = ClmtlNet(load_model(cfg, H, W, binary=cli))
    randomize_bn(net)
    with torch.no_grad():
        net.task_param.uniform_(-0.5, 0.5)
    ckpt = os.path.join(work, tag + ".safetensors")
    text = open(cfg, encoding="utf-8").read()
    write_checkpoint(ckpt, clmtl_from_state_dict(net, net.state_dict()), text, H, W)
    compare("PyTorch %s -> clmtl" % tag, net, ckpt, images)
    p = subprocess.run([cli, "eval", "--model", ckpt, "--count", "4", "--device", "cpu"], capture_output=True, text=True)
    check("PyTorch %s -> clmtl: clmtl eval scores it" % tag, p.returncode == 0, p.stderr.strip()[-300:])
    tensors2, _ = read_checkpoint(ckpt)
    net2 = ClmtlNet(load_model(cfg, H, W, binary=cli))
    net2.load_state_dict(state_dict_from_clmtl(net2, tensors2), strict=True)
    same = all(torch.equal(a, b) for (ka, a), (kb, b) in zip(sorted(net.state_dict().items()),
                                                             sorted(net2.state_dict().items()))
               if not ka.endswith("num_batches_tracked"))
    check("PyTorch %s -> clmtl -> PyTorch: every tensor bit for bit" % tag, same)
print("%d failed" % len(failures))
sys.exit(1 if failures else 0)
