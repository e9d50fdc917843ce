"""clmtl from Python: train the tiny model for one epoch on synthetic scenes, then predict on
images and score the checkpoint. Usage: python3 train_predict.py OUT_DIR [DEVICE]"""
import sys

import numpy as np

import clmtl

out, device = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
print([d["name"] for d in clmtl.devices()])
run = clmtl.train(model="models/tiny.cfg", weighting="uncertainty", epochs=1, out=out, size=(32, 64),
                  batch=4, train_count=16, val_count=8, device=device,
                  on_epoch=lambda r: print("epoch", r["epoch"], "val loss %.4f" % r["val_loss"],
                                           "mIoU %.3f" % r["tasks"]["semantic"]["miou"]))
model = clmtl.Model.load(run["best"], device=device)
images = np.random.default_rng(0).integers(0, 256, (2, 32, 64, 3), dtype=np.uint8)
pred = model.predict(images)
print("classes", pred["semantic"].argmax(1).shape, "depth", pred["depth"].shape, "offsets", pred["instance"].shape)
print("eval mIoU %.3f" % clmtl.evaluate(run["best"], device=device, count=8)["tasks"]["semantic"]["miou"])
