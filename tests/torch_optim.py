"""clmtl's Adam/AdamW state in torch.optim, run by test_torch_optim.sh: a clmtl checkpoint's
optimizer.m / optimizer.v / optimizer.step become a torch.optim.Adam (AdamW) state dict
(tools/clmtl_torch.py adam_state_from_clmtl) that loads with optimizer.load_state_dict and
converts back bit for bit (clmtl_optimizer_from_adam); then one PyTorch step from it equals one
clmtl step (tests/optim_step.c: clm_optim_step with clmtl train's decay mask and task range)
on the same gradients g = sin(3w) + 0.05: parameters within 1e-5, moments within 1e-6 of
their largest value, the same step count. For Adam with and without L2 decay and AdamW with decoupled
decay, --no-decay-bias-norm and a task learning rate of its own, with clmtl_adam's float32
betas (clmtl's); and once with torch's double betas, where v differs by up to ~1.3e-5 of its
largest value (1 - beta2 = 0.00099998713 in clmtl against 0.001).
  torch_optim.py CLMTL_PROGRAM OPTIM_STEP SOURCE_DIR WORK_DIR"""
import os
import subprocess
import sys

import torch

cli, optim_step, src, work = sys.argv[1:5]
sys.path[:0] = [os.path.join(src, "tools")]
from clmtl_cfg import load_model  # noqa: E402
from clmtl_torch import (ClmtlNet, adam_state_from_clmtl, clmtl_adam, clmtl_optimizer_from_adam,  # noqa: E402
                         read_checkpoint, state_dict_from_clmtl)

failures = []


def check(name, ok, detail=""):
    print("[%s] %s %s" % ("PASS" if ok else "FAIL", name, detail))
    if not ok:
        failures.append(name)


run = os.path.join(work, "run")
subprocess.run([cli, "train", "--model", os.path.join(src, "models", "tiny.cfg"), "--size", "16x32",
                "--train-count", "8", "--val-count", "2", "--batch", "4", "--epochs", "1", "--seed", "4",
                "--lr", "0.01", "--out", run], check=True, stdout=subprocess.DEVNULL)
ckpt = os.path.join(run, "last.safetensors")
tensors, meta = read_checkpoint(ckpt)
cfg = os.path.join(work, "model.cfg")
with open(cfg, "w") as f:
    f.write(meta["model_cfg"])
H, W = int(meta["height"]), int(meta["width"])
step0 = float(tensors["optimizer.step"][0])
check("the training run left an optimizer state", step0 > 0 and float(tensors["optimizer.v"].abs().max()) > 0,
      "(step %g)" % step0)

cases = [  # (name, kind, lr, weight decay, task lr, decay bias/norm, float32 betas, v tolerance)
    ("adam", "adam", 1e-3, 0.0, 0.0, 1, True, 1e-6),
    ("adam+L2", "adam", 2e-3, 0.01, 0.0, 1, True, 1e-6),
    ("adamw", "adamw", 1e-3, 0.05, 0.02, 0, True, 1e-6),
    # torch's own double betas: 1 - beta2 differs by 1.3e-5 (relative) from clmtl's float32
    ("adam, double betas", "adam", 1e-3, 0.0, 0.0, 1, False, 5e-5),
]
for name, kind, lr, wd, task_lr, dbn, f32, vtol in cases:
    net = ClmtlNet(load_model(cfg, H, W, binary=cli))
    net.load_state_dict(state_dict_from_clmtl(net, tensors, step=int(step0)), strict=True)
    opt = clmtl_adam(net, lr=lr, weight_decay=wd, decoupled=kind == "adamw", task_lr=task_lr or None,
                     decay_bias_norm=bool(dbn), float32_betas=f32)
    opt.load_state_dict(adam_state_from_clmtl(net, opt, tensors))
    back = clmtl_optimizer_from_adam(net, opt)
    same = all(torch.equal(back[k].reshape(-1), tensors[k].reshape(-1)) for k in back)
    check("%s: clmtl -> torch.optim -> clmtl moments and step bit for bit" % name, same)
    out = os.path.join(work, "%s.safetensors" % name)
    subprocess.run([optim_step, ckpt, out, kind, repr(lr), repr(wd), repr(task_lr), str(dbn)], check=True,
                   stdout=subprocess.DEVNULL)
    for p in net.parameters():
        p.grad = torch.sin(3 * p.detach()) + 0.05
    opt.step()
    ref, _ = read_checkpoint(out)
    want = state_dict_from_clmtl(net, ref, step=int(step0) + 1)
    got = net.state_dict()
    diff = max(float((got[k].float() - want[k].float()).abs().max()) for k in got
               if not k.endswith("num_batches_tracked"))
    moved = max(float((got[k].float() - state_dict_from_clmtl(net, tensors)[k].float()).abs().max())
                for k in got if not k.endswith("num_batches_tracked"))
    check("%s: one step, parameters within 1e-5 of clmtl's" % name, diff < 1e-5,
          "(max abs diff %.2e; the step moved them by up to %.2e)" % (diff, moved))
    back = clmtl_optimizer_from_adam(net, opt)
    for k in ("optimizer.m", "optimizer.v"):
        a, b = back[k].reshape(-1), ref[k].reshape(-1)
        rel = float((a - b).abs().max() / b.abs().max())
        tol = vtol if k == "optimizer.v" else 1e-6
        check("%s: %s after the step within %g of its largest value" % (name, k, tol), rel < tol,
              "(max abs diff / max abs value %.2e)" % rel)
    check("%s: step counter" % name, float(back["optimizer.step"][0]) == float(ref["optimizer.step"][0]) == step0 + 1,
          "(%g)" % float(ref["optimizer.step"][0]))

print("%d failed" % len(failures))
sys.exit(1 if failures else 0)
