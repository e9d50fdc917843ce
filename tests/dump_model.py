#!/usr/bin/env python3
"""Prints how a model file is read, one line per layer (in file order) with every field, then
the layers in execution order with their output shapes, the losses and the parameter count,
at batch 1, 32x64, or "error" (the message on stderr), for
tests/test_model_cfg.sh to compare the two readers:
  dump_model.py FILE.cfg               tools/clmtl_cfg.py's own reader (configparser)
  dump_model.py --clmtl BIN FILE.cfg   clmtl's, from `BIN model --json` (clm_graph_json)"""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from clmtl_cfg import ModelError, compile_model, from_json, model_json, parse_model  # noqa: E402


def f32(v):
    """%.9g of v rounded to float, as C prints a float field."""
    return "%.9g" % struct.unpack("f", struct.pack("f", v))[0]


def main():
    args = sys.argv[1:]
    binary = args[1] if args[:1] == ["--clmtl"] else None
    path = args[-1]
    try:
        if binary:
            by, order, losses, params = from_json(model_json(path, 32, 64, batch=1,
                                                             binary=binary))
            layers = [l for l in by.values() if not l["implicit"]]
        else:
            layers = parse_model(path)
            by, order, losses, params = compile_model(layers, 32, 64, batch=1)
    except ModelError as e:
        print("error")
        print(e, file=sys.stderr)
        return
    for l in layers:
        print("|".join([l["name"], l["type"], ",".join(l["from"])] +
                       [str(l[k]) for k in ("channels", "filters", "size", "stride", "pad",
                                            "dilation", "output_padding", "bias", "bn")] +
                       [l["act"] or "none", f32(l["slope"]), f32(l["bn_momentum"]),
                        f32(l["bn_eps"]), l["indices"], l["target"], l["mask"], str(l["ignore"]),
                        l["kind"], f32(l["weight"]), str(l["line"])]))
    for nm in order:  # execution order and every output shape (C, H, W), implicit inputs too
        print(f"shape {nm} {','.join(map(str, by[nm]['shape']))}")
    print(f"losses {','.join(losses)}")
    print(f"params {params}")


main()
