"""clmtl from Python: multi-task scene understanding (semantic segmentation, instance centroid
offsets, inverse depth) trained and run on any OpenCL device, through ctypes over libclmtl.so.

    import clmtl
    clmtl.devices()                                   # every OpenCL device
    run = clmtl.train(model="models/tiny.cfg", epochs=1, out="runs/py", size=(32, 64),
                      on_epoch=lambda r: print(r["epoch"], r["val_loss"]))
    m = clmtl.Model.load(run["best"], device="cpu")
    out = m.predict(images)                           # N x H x W x 3, uint8 or float in [0, 1]
    out["semantic"].argmax(1), out["depth"]           # per task, by the model file's task name
    clmtl.evaluate(run["best"], device="cpu")         # {"tasks": {"semantic": {"miou": ...}}}

Errors of the library raise clmtl.Error with clmtl's message (clm_last_error()).
"""
import ctypes
import json
import os

import numpy as np

from . import _lib

__version__ = "0.1.0"
__all__ = ["Error", "devices", "Model", "train", "evaluate", "models_dir", "library_path"]

_L = None


def _lib_handle():
    global _L
    if _L is None:
        _L = _lib.load()
    return _L


class Error(Exception):
    """A clmtl call failed: status is the clm_status name ("CLM_ERR_PARSE"), message clmtl's
    own (clm_last_error(): the file, line, layer or option it is about)."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def _check(status):
    if status != 0:
        L = _lib_handle()
        raise Error(L.clm_status_name(status).decode(), L.clm_last_error().decode("utf-8", "replace"))


def _text(ptr):
    """A string the flat API returned (char * in a c_void_p), freed after reading."""
    try:
        return ctypes.string_at(ptr.value).decode("utf-8")
    finally:
        _lib_handle().clm_free(ptr)


def _b(s):
    return None if s is None else os.fsencode(s)


def library_path():
    """The path of the libclmtl.so in use."""
    return _lib_handle()._clmtl_path


def models_dir():
    """Where the shipped model files are: $CLMTL_MODELS_DIR, else share/clmtl/models of the
    library's install prefix, else the models/ folder of the source tree this package is in."""
    env = os.environ.get("CLMTL_MODELS_DIR")
    if env:
        return env
    libdir = os.path.dirname(os.path.realpath(library_path()))
    here = os.path.dirname(os.path.abspath(__file__))
    for d in (os.path.join(libdir, "..", "share", "clmtl", "models"),
              os.path.join(libdir, "..", "..", "share", "clmtl", "models"),
              os.path.join(here, "..", "..", "models")):
        if os.path.isfile(os.path.join(d, "default.cfg")):
            return os.path.normpath(d)
    return None


def _model_path(model):
    """A model file as given, or a shipped one ("models/tiny.cfg", "tiny.cfg", "tiny")."""
    if os.path.exists(model):
        return model
    d = models_dir()
    if d:
        name = os.path.basename(model)
        for cand in (name, name + ".cfg"):
            if os.path.isfile(os.path.join(d, cand)):
                return os.path.join(d, cand)
    return model


_KINDS = {1: "cpu", 2: "gpu", 4: "accelerator", 8: "other"}


def devices():
    """Every OpenCL device of every platform, as dicts: "spec" ("P:D", for device=),
    "name", "platform", "vendor", "version", "driver", "kind" (cpu, gpu, ...),
    "compute_units", "global_mem_bytes", "unified_memory"."""
    L = _lib_handle()
    arr = ctypes.POINTER(_lib.DeviceInfo)()
    n = ctypes.c_int(0)
    _check(L.clm_device_list(ctypes.byref(arr), ctypes.byref(n)))
    out = []
    try:
        for i in range(n.value):
            d = arr[i]
            out.append({
                "spec": "%d:%d" % (d.platform_index, d.device_index),
                "name": d.name.decode(errors="replace"), "platform": d.platform.decode(errors="replace"),
                "vendor": d.vendor.decode(errors="replace"), "version": d.version.decode(errors="replace"),
                "driver": d.driver.decode(errors="replace"), "kind": _KINDS.get(d.kind, "other"),
                "compute_units": d.compute_units, "global_mem_bytes": d.global_mem_bytes,
                "unified_memory": bool(d.unified_memory),
            })
    finally:
        L.clm_free(arr)
    return out


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


class Model:
    """A checkpoint written by clmtl train (or clmtl.train), opened for inference on one device.
    Fully convolutional: predict() takes images of any size the network's pooling divides, and
    recompiles for a new size once (kept for later calls)."""

    def __init__(self, path, device=None, batch=4, size=None):
        self.path = os.fspath(path)
        self.device = device
        self.batch = int(batch)
        self._pred = {}
        h, w = size if size else (0, 0)
        handle = self._open(h, w)
        self.info = json.loads(self._info(handle))
        self.size = (self.info["height"], self.info["width"])
        self._pred[self.size] = handle
        self.tasks = self.info["tasks"]

    @classmethod
    def load(cls, path, device=None, batch=4, size=None):
        """Opens path on `device` (a spec as for clmtl devices: "cpu", "gpu", "P:D", a name;
        None: the first GPU, else the first device), for `batch` images at a time, at `size`
        (H, W) or the checkpoint's training resolution."""
        return cls(path, device, batch, size)

    def _open(self, h, w):
        L = _lib_handle()
        p = ctypes.c_void_p()
        _check(L.clm_predictor_open(_b(self.path), _b(self.device), self.batch, h, w, ctypes.byref(p)))
        return p

    @staticmethod
    def _info(handle):
        L = _lib_handle()
        s = ctypes.c_void_p()
        _check(L.clm_predictor_info(handle, ctypes.byref(s)))
        return _text(s)

    def close(self):
        L = _lib_handle() if self._pred else None
        for p in self._pred.values():
            L.clm_predictor_free(p)
        self._pred = {}

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def device_name(self):
        return self.info["device"]

    @property
    def class_names(self):
        return self.info.get("class_names")

    def predict(self, images, logits=False):
        """images: N x H x W x 3 (or one H x W x 3), uint8 (0..255) or float in [0, 1].
        Returns {task name: float32 array (N, C, H, W)}: for a classification task its softmax
        probabilities over the C classes (their logits with logits=True), for a regression task
        its values (instance offsets (dy, dx) in pixels, disparity, ...) as the network gives
        them."""
        x = np.asarray(images)
        if x.ndim == 3:
            x = x[None]
        if x.ndim != 4 or x.shape[3] != 3 or x.shape[0] < 1:
            raise ValueError("images: N x H x W x 3 wanted, got shape %s" % (x.shape,))
        if x.dtype == np.uint8:
            x = x.astype(np.float32) / 255.0
        elif np.issubdtype(x.dtype, np.floating):
            x = x.astype(np.float32)
        else:
            raise ValueError("images: uint8 or float wanted, got %s" % x.dtype)
        n, h, w = x.shape[:3]
        handle = self._pred.get((h, w))
        if handle is None:
            handle = self._pred[(h, w)] = self._open(h, w)
        planar = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        outs = {t["name"]: np.empty((n, t["channels"], h, w), np.float32) for t in self.tasks}
        L = _lib_handle()
        fp = ctypes.POINTER(ctypes.c_float)
        for b0 in range(0, n, self.batch):
            cnt = min(self.batch, n - b0)
            chunk = planar[b0:b0 + cnt]
            parts = [np.empty((cnt, t["channels"], h, w), np.float32) for t in self.tasks]
            ptrs = (fp * len(parts))(*[p.ctypes.data_as(fp) for p in parts])
            _check(L.clm_predictor_run(handle, chunk.ctypes.data_as(fp), cnt, ptrs))
            for t, part in zip(self.tasks, parts):
                outs[t["name"]][b0:b0 + cnt] = part
        if not logits:
            for t in self.tasks:
                if t["kind"] == "classification":
                    outs[t["name"]] = _softmax(outs[t["name"]], 1).astype(np.float32)
        return outs

    def evaluate(self, data=None, split="val", count=0, seed=0):
        """This model scored as `clmtl eval` scores it (see clmtl.evaluate)."""
        L = _lib_handle()
        s = ctypes.c_void_p()
        _check(L.clm_predictor_evaluate(self._pred[self.size], _b(data), _b(split), int(count), int(seed),
                                        ctypes.byref(s)))
        return json.loads(_text(s))


def evaluate(checkpoint, data=None, split="val", count=0, seed=0, device=None, batch=8, size=None):
    """A checkpoint scored on a CityScapes tree `data` or (None) the built-in synthetic scenes
    (`count` samples, default 64, the checkpoint's data seed unless `seed`): {"split",
    "samples", "height", "width", "tasks": {name: {"loss", "miou", "pixel_accuracy", "iou"} or
    {"loss", "mae", "rmse", "rel_error", "l1_per_pixel"}}}."""
    with Model.load(checkpoint, device=device, batch=batch, size=size) as m:
        return m.evaluate(data, split, count, seed)


def train(model="models/default.cfg", data=None, weighting="uncertainty", epochs=None, out="runs/python",
          on_epoch=None, size=None, device=None, **options):
    """Trains `model` (a model file; "models/NAME.cfg" finds the shipped ones) on a CityScapes
    tree `data` or (None) built-in synthetic scenes, with a multi-task `weighting` strategy, into
    the run directory `out` (log.jsonl, best.safetensors, last.safetensors). on_epoch(report) is
    called after each epoch with its report: {"epoch" (from 1, as in log.jsonl), "val_loss",
    "best", "stop", "seconds", "tasks": {name: {"train_loss", "val_loss", metrics...}}}. size: (H, W). Other
    options as clmtl train's, by their names with "_" for "-": batch, train_count, val_count,
    lr, optimizer, schedule, seed, patience, ... Returns {"out", "best", "last", "epochs": every
    report}. An exception raised by on_epoch is raised again when training ends."""
    opts = {"model": _model_path(os.fspath(model)), "weighting": weighting, "out": os.fspath(out)}
    if data is not None:
        opts["data"] = os.fspath(data)
    if epochs is not None:
        opts["epochs"] = epochs
    if size is not None:
        opts["size"] = "%dx%d" % tuple(size)
    if device is not None:
        opts["device"] = device
    opts.update(options)
    keys = [k.encode() for k in opts]
    vals = [(str(int(v)) if isinstance(v, bool) else str(v)).encode() for v in opts.values()]
    reports, errors = [], []

    def cb(_user, text):
        r = json.loads(text.decode("utf-8"))
        reports.append(r)
        if on_epoch is not None and not errors:
            try:
                on_epoch(r)
            except BaseException as e:  # raised again after clm_train_kv returns
                errors.append(e)

    fn = _lib.EPOCH_FN(cb)
    L = _lib_handle()
    st = L.clm_train_kv((ctypes.c_char_p * len(keys))(*keys), (ctypes.c_char_p * len(vals))(*vals), len(keys),
                        fn, None)
    if errors:
        raise errors[0]
    _check(st)
    o = opts["out"]
    return {"out": o, "best": os.path.join(o, "best.safetensors"), "last": os.path.join(o, "last.safetensors"),
            "epochs": reports}
