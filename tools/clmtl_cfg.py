"""clmtl model files read in Python: the layers of a models/*.cfg file as src/graph/parse.c
reads them (configparser with inline_comment_prefixes (';', '#') on the file decoded as
utf-8-sig, same keys, defaults, ranges and errors with file:line; what configparser would read
otherwise than clmtl, continued values and non-ASCII white space, refused as clmtl refuses it),
then the checks, execution order and shapes of src/graph/compile.c (tensor and parameter
sizes bounded as there), and the parameter count that `clmtl model FILE` prints (task
parameters included). No PyTorch here: tools/bench_torch.py builds the network from what this
returns. tests/test_model_cfg.sh checks that both readers accept and refuse the same files and
read the same layers from them.

  layers = parse_model("models/default.cfg")
  by_name, order, losses, nparams = compile_model(layers, 128, 256)"""
import configparser
import math
import os
import re
import stat

LAYER_TYPES = ("input", "conv", "deconv", "batchnorm", "activation", "maxpool", "unpool",
               "upsample", "concat", "add", "softmax_xent", "l1", "l2", "laplace_nll",
               "gaussian_nll", "logit_noise_xent")
LOSS_TYPES = ("softmax_xent", "l1", "l2", "laplace_nll", "gaussian_nll", "logit_noise_xent")
# heteroscedastic losses: from = prediction, log-variance (the prediction's shape; one channel
# for the classification one); classification losses take labels as targets
HETERO_TYPES = ("laplace_nll", "gaussian_nll", "logit_noise_xent")
LABEL_TYPES = ("softmax_xent", "logit_noise_xent")
NAME_MAX = 64  # CLM_NAME_MAX, terminating NUL included
LINE_MAX = 1023  # bytes of one line (parse.c)
TENSOR_MAX = 2**31 - 1  # CLM_TENSOR_FLOATS_MAX: elements of one tensor or flat buffer
MODEL_FILE_MAX = 16 << 20  # CLM_MODEL_FILE_MAX: bytes of a model file
MAX_INPUTS = 8  # CLM_MAX_INPUTS
ACTS = {"relu": "relu", "leaky": "leaky", "leaky_relu": "leaky", "sigmoid": "sigmoid",
        "linear": None, "none": None}
CONV_KEYS = ("filters", "size", "stride", "pad", "dilation", "bias", "bn", "act", "slope",
             "bn_momentum", "bn_eps", "output_padding")
KEYS = {"input": ("channels",), "conv": CONV_KEYS, "deconv": CONV_KEYS,
        "batchnorm": ("momentum", "eps"), "activation": ("act", "slope"),
        "unpool": ("indices",), "softmax_xent": ("target", "mask", "kind", "ignore", "weight"),
        "l1": ("target", "mask", "kind", "ignore", "weight"),
        "l2": ("target", "mask", "kind", "ignore", "weight"),
        "laplace_nll": ("target", "mask", "kind", "ignore", "weight"),
        "gaussian_nll": ("target", "mask", "kind", "ignore", "weight"),
        "logit_noise_xent": ("target", "mask", "kind", "ignore", "weight")}
# ranges as parse.c checks them: integer key -> (lo, hi); number key -> (field, lo, hi)
INT_KEYS = {"channels": (1, 1 << 16), "filters": (1, 1 << 16), "size": (1, 64),
            "stride": (1, 64), "pad": (0, 256), "dilation": (1, 64), "output_padding": (0, 63),
            "bias": (0, 1), "bn": (0, 1), "ignore": (-1, 65535)}
FLOAT_KEYS = {"slope": ("slope", 1e-6, 1.0), "bn_momentum": ("bn_momentum", 0.0, 1.0),
              "momentum": ("bn_momentum", 0.0, 1.0), "bn_eps": ("bn_eps", 1e-12, 1.0),
              "eps": ("bn_eps", 1e-12, 1.0), "weight": ("weight", 0.0, 1e6)}


class ModelError(Exception):
    """A model file that clmtl would reject; the message names the file and line."""


class NoJsonError(ModelError):
    """A clmtl binary that does not take `model --json` (built before it): its usage error."""


# ---- model file --------------------------------------------------------------------------

def comment_cut(line):
    """Where configparser cuts an inline comment (its own loop, inline_comment_prefixes
    (';', '#')): None when there is none."""
    cut, at = None, {";": -1, "#": -1}
    while cut is None and at:
        nxt = {}
        for prefix, index in at.items():
            index = line.find(prefix, index + 1)
            if index == -1:
                continue
            nxt[prefix] = index
            if index == 0 or (index > 0 and line[index - 1].isspace()):
                cut = index if cut is None else min(cut, index)
        at = nxt
    return cut


def key_lines(path, text):
    """{(section, key): line} and {section: header lines}, for messages (configparser keeps
    no line numbers); refuses what parse.c refuses before configparser would see it."""
    keys, sections, cur = {}, {}, None
    for n, raw in enumerate(text.split("\n"), 1):
        if len(raw.encode("utf-8", "surrogateescape")) > LINE_MAX:
            raise ModelError(f"{path}:{n}: line longer than {LINE_MAX} characters")
        t = raw[:comment_cut(raw)].strip()
        if not t or raw.strip()[:1] in ("#", ";"):
            continue
        if t[0] == "[":
            if "]" not in t or t.index("]") != len(t) - 1:
                raise ModelError(f"{path}:{n}: malformed section header '{t}'")
            cur = t[1:-1].strip()
            sections.setdefault(cur, []).append(n)
            continue
        cut = min([i for i in (t.find("="), t.find(":")) if i >= 0], default=-1)
        if cur is not None and cut >= 0:
            keys.setdefault((cur, t[:cut].strip().lower()), n)
    return keys, sections


def read_file(path, max_bytes=MODEL_FILE_MAX):
    """The bytes of a model file as clm_file_read_all reads them (src/runtime/file.c): a
    regular file or a pipe read once, never blocking on open; a directory, a device, a FIFO
    nobody writes to and a file over max_bytes are refused by name."""
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    try:
        mode = os.stat(path).st_mode
        for test, kind in kinds:
            if test(mode):
                raise ModelError(f"model file {path} is {kind}, not a regular file")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        raise ModelError(f"cannot open model file {path}: {e.strerror}")
    try:
        first = b""
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            try:
                first = os.read(fd, 1)
                if not first:
                    raise ModelError(f"model file {path} is a pipe that gave no data (nothing "
                                     "writes to it)")
            except BlockingIOError:
                pass
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = first + f.read(max_bytes + 1)
    except OSError as e:
        raise ModelError(f"cannot read model file {path}: {e.strerror}")
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise ModelError(f"model file {path} is more than the {max_bytes} bytes accepted")
    return data


def decode(path, data):
    """The text of a model file: UTF-8 with an optional byte-order mark, no NUL or control
    characters, no white space that configparser would strip and clmtl would not."""
    if b"\0" in data:
        raise ModelError(f"{path}: contains NUL bytes; not a model file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
        line = data[:e.start].count(b"\n") + 1 if e.start >= start else 1
        col = e.start - data.rfind(b"\n", 0, e.start)
        raise ModelError(f"{path}:{line}: not UTF-8 text (byte 0x{data[e.start]:02x} at column "
                         f"{col})")
    for n, line in enumerate(text.split("\n"), 1):
        for col, c in enumerate(line, 1):
            if ord(c) < 32 and c not in "\t\r":
                raise ModelError(f"{path}:{n}: control character in the file (is it a model "
                                 "file?)")
            if ord(c) >= 128 and c.isspace():
                raise ModelError(f"{path}:{n}: non-ASCII white space at column {col} (use spaces"
                                 " or tabs)")
    return text


def layer_defaults(ltype, name):
    """clm_layer_defaults."""
    return {"name": name, "type": ltype, "from": [], "channels": 0, "filters": 0, "size": 0,
            "stride": 1, "pad": -1, "dilation": 1, "output_padding": 0, "bias": -1, "bn": 0,
            "act": None, "slope": 0.1, "bn_momentum": 0.1, "bn_eps": 1e-5, "indices": "",
            "target": "", "mask": "", "ignore": 255, "weight": 1.0,
            "kind": "classification" if ltype in LABEL_TYPES else "regression", "line": 0}


def parse_model(path):
    """Layers of a model file in file order (dicts as layer_defaults), as clm_graph_load."""
    text = decode(path, read_file(path))
    cp = configparser.ConfigParser(interpolation=None, strict=True, empty_lines_in_values=False,
                                   default_section="\0", comment_prefixes=("#", ";"),
                                   inline_comment_prefixes=(";", "#"))
    try:
        cp.read_string(text, source=path)
    except configparser.Error as e:
        msg = str(e).replace("\n", " ")
        line = getattr(e, "lineno", None)
        if line is None and getattr(e, "errors", None):
            line = e.errors[0][0]
        raise ModelError(f"{path}:{line}: {msg}" if line else f"{path}: {msg}")
    klines, slines = key_lines(path, text)
    layers, seen = [], {}
    for sec in cp.sections():
        name = sec.strip()
        at = slines.get(name, [0])[0]
        if name in seen:  # "[a]" and "[ a ]": two sections to configparser, one name to clmtl
            at = slines[name][1] if len(slines.get(name, [])) > 1 else at
            raise ModelError(f"{path}:{at}: duplicate layer name '{name}' (first defined at "
                             f"{path}:{seen[name]}: layer '{name}')")
        seen[name] = at
        if not name or len(name) >= NAME_MAX or "," in name:
            raise ModelError(f"{path}:{at}: bad layer name '[{name}]' (1 to {NAME_MAX - 1} "
                             "characters, no commas)")
        items = dict(cp.items(sec))

        def at_key(key):
            return f"{path}:{klines.get((name, key), at)}"

        def where(key):
            return f"{at_key(key)}: layer '{name}'"

        if "type" not in items:
            raise ModelError(f"{path}:{at}: layer '{name}' has no 'type'")
        ltype = items["type"]
        is_task = name.startswith("task.")
        if ltype not in LAYER_TYPES:
            raise ModelError(f"{where('type')}: unknown type '{ltype}' (valid: "
                             f"{', '.join(LAYER_TYPES)})")
        if is_task and ltype not in LOSS_TYPES:
            raise ModelError(f"{at_key('type')}: task section "
                             f"'{name}' needs a loss type (softmax_xent, l1, l2, laplace_nll, "
                             f"gaussian_nll, logit_noise_xent), not '{ltype}'")
        if not is_task and ltype in LOSS_TYPES:
            raise ModelError(f"{at_key('type')}: loss '{ltype}' "
                             "must be in a [task.<name>] section")
        layer = layer_defaults(ltype, name)
        layer["line"] = at
        for key, value in items.items():
            if "\n" in value:
                raise ModelError(f"{where(key)}: '{key}' continues over several lines, which "
                                 "clmtl does not read")
            if key == "type":
                continue
            allowed = KEYS.get(ltype, ()) + (("from",) if ltype != "input" else ())
            if key not in allowed:
                raise ModelError(f"{where(key)}: unknown key '{key}' for a {ltype} layer")
            if key == "from":
                names = []  # as strtok: empty tokens skipped, then each one trimmed
                for tok in (t for t in value.split(",") if t):
                    if not tok.strip() or len(tok.strip()) >= NAME_MAX:
                        raise ModelError(f"{where(key)}: bad name in 'from = {value}'")
                    if len(names) == MAX_INPUTS:
                        raise ModelError(f"{where(key)}: more than {MAX_INPUTS} inputs in 'from'")
                    names.append(tok.strip())
                if not names:
                    raise ModelError(f"{where(key)}: 'from' is empty")
                layer["from"] = names
            elif key in INT_KEYS:
                lo, hi = INT_KEYS[key]
                if not re.fullmatch(r"[+-]?[0-9]+", value) or not lo <= int(value) <= hi:
                    raise ModelError(f"{where(key)}: '{key} = {value}' is not an integer in "
                                     f"[{lo}, {hi}]")
                layer[key] = int(value)
            elif key in FLOAT_KEYS:
                field, lo, hi = FLOAT_KEYS[key]
                ok = re.fullmatch(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?", value)
                v = float(value) if ok else math.nan
                if not (math.isfinite(v) and lo <= v <= hi):
                    raise ModelError(f"{where(key)}: '{key} = {value}' is not a number in "
                                     f"[{lo:g}, {hi:g}]")
                layer[field] = v
            elif key == "act":
                if value not in ACTS:
                    raise ModelError(f"{where(key)}: unknown activation '{value}' (relu, leaky, "
                                     "sigmoid, linear)")
                layer["act"] = ACTS[value]
            elif key in ("indices", "target", "mask"):
                if not value or len(value) >= NAME_MAX or "," in value:
                    raise ModelError(f"{where(key)}: '{key}' needs one layer name (at most "
                                     f"{NAME_MAX - 1} characters)")
                layer[key] = value
            elif key == "kind":
                if value not in ("classification", "regression"):
                    raise ModelError(f"{where(key)}: kind must be classification or regression, "
                                     f"not '{value}'")
                layer["kind"] = value
        if ltype != "input" and not layer["from"]:
            raise ModelError(f"{path}:{at}: layer '{name}' ({ltype}) has no 'from'")
        if ltype == "input" and layer["channels"] == 0:
            raise ModelError(f"{path}:{at}: input '{name}' needs 'channels'")
        layer["file"] = path
        layers.append(layer)
    if not layers:
        raise ModelError(f"{path}: no layers (an empty model file?)")
    return layers


def compile_model(layers, height, width, batch=1):
    """As clm_graph_build_nodes: implicit target/mask inputs, checks, node names, execution
    order, shapes and sizes at this batch. Returns (layers by name, order of layer names,
    losses in file order, parameter count)."""
    layers = [dict(l) for l in layers]
    by = {l["name"]: l for l in layers}

    def where(l):
        return f"{l['file']}:{l['line']}: layer '{l['name']}'"

    def check_dims(l, what, dims, why):
        if min(dims) < 1:
            raise ModelError(f"{where(l)}: {what} would be {tuple(dims)}, empty ({why})")
        if max(dims) > TENSOR_MAX or math.prod(dims) > TENSOR_MAX:
            raise ModelError(f"{where(l)}: {what} would be {tuple(dims)}, more than the "
                             f"{TENSOR_MAX} elements a tensor can hold (kernels index with int)"
                             f" ({why})")

    for l in list(layers):
        if l["type"] not in LOSS_TYPES:
            continue
        for k, nm in enumerate((l["target"], l["mask"])):
            if nm and nm not in by:
                inp = layer_defaults("input", nm)
                inp.update(channels=1 if k == 1 or l["type"] in LABEL_TYPES else -1,
                           file=l["file"], line=l["line"])
                layers.append(inp)
                by[nm] = inp
    for l in layers:
        t, nfrom, want = l["type"], len(l["from"]), 1
        if t == "input":
            want = 0
        elif t in ("conv", "deconv"):
            if l["filters"] <= 0:
                raise ModelError(f"{where(l)}: needs filters > 0")
            if l["size"] <= 0:
                raise ModelError(f"{where(l)}: needs size > 0")
            op = l["output_padding"]
            if op and op >= l["stride"] and op >= l["dilation"]:
                raise ModelError(f"{where(l)}: output_padding must be smaller than stride or "
                                 "dilation")
        elif t == "concat":
            want = -2
        elif t == "add":
            want = 2
        elif t == "unpool" and not l["indices"]:
            raise ModelError(f"{where(l)}: unpool needs 'indices = <maxpool layer>'")
        elif t in LOSS_TYPES and not l["target"]:
            raise ModelError(f"{where(l)}: a loss needs 'target = <input name>'")
        elif t in HETERO_TYPES:
            want = 2
        elif t == "activation" and l["act"] is None:
            raise ModelError(f"{where(l)}: needs 'act'")
        if want == 0 and nfrom:
            raise ModelError(f"{where(l)}: an input layer takes no 'from'")
        if want > 0 and nfrom != want:
            raise ModelError(f"{where(l)}: {t} takes {want} input{'s' if want > 1 else ''} in "
                             f"'from', got {nfrom}")
        if want < 0 and nfrom < -want:
            raise ModelError(f"{where(l)}: {t} takes at least {-want} inputs in 'from', "
                             f"got {nfrom}")
    nodes = {}  # node names after expansion: conv/deconv add <name>.bn and <name>.act
    for l in layers:
        own = [l["name"]]
        if l["type"] in ("conv", "deconv"):
            own += [l["name"] + ".bn"] if l["bn"] else []
            own += [l["name"] + ".act"] if l["act"] else []
        for nm in own:
            if nm in nodes:
                a, b = sorted((nodes[nm], l), key=lambda x: layers.index(x))
                raise ModelError(f"{where(a)} and {where(b)} both make a node named '{nm}'")
            nodes[nm] = l
    deps = {}
    for l in layers:
        names = list(l["from"]) + ([l["indices"]] if l["type"] == "unpool" else [])
        if l["type"] in LOSS_TYPES:
            names += [n for n in (l["target"], l["mask"]) if n]
        for k, nm in enumerate(names):
            if nm not in by:
                raise ModelError(f"{where(l)}: unknown input '{nm}'")
            if nm == l["name"]:
                raise ModelError(f"{where(l)}: takes its own output as input (cycle)")
            if l["type"] in LOSS_TYPES and k >= len(l["from"]) and by[nm]["type"] != "input":
                raise ModelError(f"{where(l)}: '{nm}' must be an input layer (a target or mask)")
        if l["type"] == "unpool" and by[l["indices"]]["type"] != "maxpool":
            raise ModelError(f"{where(l)}: indices = '{l['indices']}' is not a maxpool layer")
        deps[l["name"]] = names
    # Kahn's algorithm, earliest ready layer first (file order where dependencies allow)
    order, done = [], set()
    while len(order) < len(layers):
        ready = [l["name"] for l in layers
                 if l["name"] not in done and all(d in done for d in deps[l["name"]])]
        if not ready:
            left = "".join(f"\n  {where(l)}" for l in layers if l["name"] not in done)
            raise ModelError(f"the layers form a cycle; layers on or after it:{left}")
        order.append(ready[0])
        done.add(ready[0])
    shape, params, losses = {}, 0, []
    for nm in order:
        l = by[nm]
        t = l["type"]
        x = shape[l["from"][0]] if l["from"] else None
        if t == "input":
            check_dims(l, "the input", (batch, max(l["channels"], 1), height, width),
                       "batch, 'channels', height and width")
            shape[nm] = (l["channels"], height, width)
        elif t in ("conv", "deconv"):
            k, s, d = l["size"], l["stride"], l["dilation"]
            p = l["pad"] if l["pad"] >= 0 else (d * (k - 1) // 2 if t == "conv" else 0)
            if t == "conv":  # PyTorch: floor((n + 2p - d(k-1) - 1) / s) + 1, padded >= span
                ho, wo = ((n + 2 * p - d * (k - 1) - 1) // s + 1
                          if n + 2 * p - d * (k - 1) - 1 >= 0 else -1 for n in x[1:])
                if ho <= 0 or wo <= 0:
                    raise ModelError(f"{where(l)}: input {x[1]}x{x[2]} is too small for a {k}x{k}"
                                     f" kernel (stride {s}, pad {p}, dilation {d})")
            else:
                ho, wo = ((n - 1) * s - 2 * p + d * (k - 1) + l["output_padding"] + 1
                          for n in x[1:])
                if ho <= 0 or wo <= 0:
                    raise ModelError(f"{where(l)}: output would be empty")
            check_dims(l, "the output", (batch, l["filters"], ho, wo), "'filters', 'size', "
                       "'stride', 'pad', 'dilation', 'output_padding'")
            check_dims(l, "the weight", (l["filters"], x[0], k, k),
                       "'filters' x input channels x 'size' x 'size'")
            shape[nm] = (l["filters"], ho, wo)
            params += l["filters"] * x[0] * k * k
            if l["bias"] > 0 or (l["bias"] < 0 and not l["bn"]):
                params += l["filters"]
            if l["bn"]:
                params += 2 * l["filters"]
        elif t == "batchnorm":
            shape[nm] = x
            params += 2 * x[0]
        elif t == "activation":
            shape[nm] = x
        elif t == "maxpool":
            if x[1] < 2 or x[2] < 2:
                raise ModelError(f"{where(l)}: input {x[1]}x{x[2]} is too small for 2x2 pooling")
            shape[nm] = (x[0], x[1] // 2, x[2] // 2)
        elif t == "unpool":
            pool = shape[l["indices"]]
            if x != pool:
                raise ModelError(f"{where(l)}: input is {x} but the indices of "
                                 f"'{l['indices']}' are {pool}")
            shape[nm] = (x[0],) + shape[by[l["indices"]]["from"][0]][1:]
        elif t == "upsample":
            check_dims(l, "the output", (batch, x[0], 2 * x[1], 2 * x[2]),
                       "twice the input's height and width")
            shape[nm] = (x[0], 2 * x[1], 2 * x[2])
        elif t == "concat":
            for f in l["from"]:
                if shape[f][1:] != x[1:]:
                    raise ModelError(f"{where(l)}: inputs differ in size: '{l['from'][0]}' is "
                                     f"{x[1]}x{x[2]}, '{f}' is {shape[f][1]}x{shape[f][2]}")
            shape[nm] = (sum(shape[f][0] for f in l["from"]),) + x[1:]
            check_dims(l, "the output", (batch,) + shape[nm],
                       "the sum of the inputs' channels in 'from'")
        elif t == "add":
            if shape[l["from"][1]] != x:
                raise ModelError(f"{where(l)}: channel or size mismatch: '{l['from'][0]}' is "
                                 f"{x}, '{l['from'][1]}' is {shape[l['from'][1]]}")
            shape[nm] = x
        else:
            want_c = 1 if t in LABEL_TYPES else x[0]
            tgt = l["target"]
            want_s = 1 if t in LABEL_TYPES else x[0]
            if t in HETERO_TYPES and shape[l["from"][1]] != (want_s,) + x[1:]:
                s_ = shape[l["from"][1]]
                what = "pixel" if t in LABEL_TYPES else "predicted value"
                raise ModelError(f"{where(l)}: log-variance '{l['from'][1]}' is ({s_[0]},{s_[1]},"
                                 f"{s_[2]}) but the prediction '{l['from'][0]}' needs ({want_s},"
                                 f"{x[1]},{x[2]}): one log-variance per {what}")
            if shape[tgt][0] == -1:
                shape[tgt] = (want_c,) + shape[tgt][1:]
                by[tgt]["channels"] = want_c
            if shape[tgt] != (want_c,) + x[1:]:
                raise ModelError(f"{where(l)}: target '{tgt}' is {shape[tgt]} but the prediction"
                                 f" '{l['from'][0]}' needs {(want_c,) + x[1:]}")
            if l["mask"] and shape[l["mask"]] != (1,) + x[1:]:
                raise ModelError(f"{where(l)}: mask '{l['mask']}' must be {(1,) + x[1:]}, is "
                                 f"{shape[l['mask']]}")
            if t in LABEL_TYPES and x[0] < 2:
                raise ModelError(f"{where(l)}: softmax cross-entropy needs at least 2 channels, "
                                 f"'{l['from'][0]}' has {x[0]}")
            shape[nm] = (1, 1, 1)
            params += 1  # the task parameter (s, u or a weight) clmtl keeps per loss
    for nm in order:
        if by[nm]["type"] == "input" and shape[nm][0] < 1:
            raise ModelError(f"{where(by[nm])}: cannot tell its channel count")
    if params > TENSOR_MAX:
        raise ModelError(f"{layers[0]['file']}: {params} parameters, more than the {TENSOR_MAX} "
                         "one flat buffer can hold")
    losses = [l["name"] for l in layers if l["type"] in LOSS_TYPES]
    for nm in order:
        by[nm]["shape"] = shape[nm]
    return by, order, losses, params


# ---- through the clmtl binary ------------------------------------------------------------

def default_binary():
    """<repo>/build/clmtl, where the README's build puts it."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "build",
                        "clmtl")


def usable(binary):
    return bool(binary) and os.path.isfile(binary) and os.access(binary, os.X_OK)


def model_json(path, height, width, batch=1, binary=None):
    """The compiled graph as `clmtl model --json` prints it (clm_graph_json in
    src/graph/json.c: layers with every key's effective value, shapes, parameters, tasks).
    ModelError with clmtl's message when clmtl refuses the file (exit 1), NoJsonError when
    the binary does not know --json (a usage error, exit 2: built before it)."""
    import json
    import subprocess
    cmd = [binary or default_binary(), "model", "--json", path, "--size", f"{height}x{width}",
           "--batch", str(batch)]
    try:  # close_fds off: a model given as a pipe (<(...), /dev/fd/N) reaches clmtl
        r = subprocess.run(cmd, capture_output=True, text=True, close_fds=False)
    except OSError as e:
        raise ModelError(f"cannot run {cmd[0]}: {e.strerror}")
    if r.returncode == 2:
        raise NoJsonError(f"{cmd[0]} does not print models as JSON: {r.stderr.strip()}")
    if r.returncode != 0:
        msg = r.stderr.strip()
        raise ModelError(msg[len("clmtl model: "):] if msg.startswith("clmtl model: ") else msg)
    return json.loads(r.stdout)


FIELD = {"momentum": "bn_momentum", "eps": "bn_eps"}  # batchnorm's names of the conv keys


def from_json(data):
    """(layers by name, execution order, losses in file order, parameter count) as
    compile_model returns them, from model_json's output: each layer a dict as layer_defaults
    with the keys clmtl read, its "shape" (C, H, W) and "implicit" (a target or mask input the
    compile added)."""
    by = {}
    for j in data["layers"]:
        l = layer_defaults(j["type"], j["name"])
        for key, value in j["keys"].items():
            l[FIELD.get(key, key)] = value
        l["act"] = None if l["act"] == "none" else l["act"]
        l.update({"from": list(j["from"]), "line": j["line"], "file": j["file"],
                  "shape": tuple(j["shape"][1:]), "implicit": j["implicit"]})
        by[j["name"]] = l
    losses = [j["name"] for j in data["layers"] if j["is_loss"]]
    return by, list(data["order"]), losses, data["parameter_count"]


def load_model(path, height, width, batch=1, binary=None):
    """compile_model's result for a model file: read by clmtl (`clmtl model --json`) when the
    binary is there and takes --json, else by this module's own reader (parse_model,
    compile_model), which needs no build: PyTorch-only runs of tools/bench_torch.py
    (--no-clmtl, --clmtl-json) on a machine without one, or with an older build."""
    binary = binary or default_binary()
    if usable(binary):
        try:
            return from_json(model_json(path, height, width, batch, binary))
        except NoJsonError:
            pass
    return compile_model(parse_model(path), height, width, batch)
