#!/usr/bin/env python3
"""Prints how tools/clmtl_cfg.py reads a model file, in the lines tests/dump_model.c prints for
clmtl: one per layer with every field, then the parameter count at batch 1, 32x64, or "error"
(the message on stderr).   dump_model.py FILE.cfg"""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from clmtl_cfg import ModelError, compile_model, parse_model  # noqa: E402


def f32(v):
    """%.9g of v rounded to float, as C prints a float field."""
    return "%.9g" % struct.unpack("f", struct.pack("f", v))[0]


def main():
    try:
        layers = parse_model(sys.argv[1])
        params = compile_model(layers, 32, 64, batch=1)[3]
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
    print(f"params {params}")


main()
