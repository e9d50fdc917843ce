"""Finding and declaring libclmtl.so for ctypes.

The library is looked for, in order, at $CLMTL_LIBRARY (a path to libclmtl.so), next to this
package (a libclmtl.so* copied into the package directory, or ../lib of an install prefix the
package sits under), under the Python prefix's lib/, and where the dynamic loader finds
libclmtl.so.0 (a system-wide install or the .deb). Only clmtl's flat API (clmtl/bindings.h) and
a few plain calls are declared: no struct layout but clm_device_info is mirrored.
"""
import ctypes
import ctypes.util
import glob
import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))


def _candidates():
    env = os.environ.get("CLMTL_LIBRARY")
    if env:
        yield env
        return
    yield from sorted(glob.glob(os.path.join(_here, "libclmtl.so*")))
    # site-packages under PREFIX/lib/pythonX.Y/... -> PREFIX/lib
    parts = _here.split(os.sep)
    for i in range(len(parts) - 1, 0, -1):
        if parts[i] in ("lib", "lib64"):
            yield os.sep.join(parts[: i + 1] + ["libclmtl.so.0"])
            break
    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix, "/usr/local", "/usr")):
        yield os.path.join(prefix, "lib", "libclmtl.so.0")
    found = ctypes.util.find_library("clmtl")
    if found:
        yield found
    yield "libclmtl.so.0"


def load():
    """The loaded library (ctypes.CDLL) with its functions declared; OSError naming every
    place tried when none loads."""
    tried = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append(path + " (missing)")
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
            continue
        _declare(lib)
        lib._clmtl_path = path
        return lib
    raise OSError("libclmtl.so not found; set CLMTL_LIBRARY to its path. Tried: " + "; ".join(tried))


class DeviceInfo(ctypes.Structure):
    """clm_device_info of include/clmtl/device.h, field for field."""
    _fields_ = [
        ("platform_index", ctypes.c_int), ("device_index", ctypes.c_int),
        ("platform", ctypes.c_char * 128), ("name", ctypes.c_char * 128),
        ("vendor", ctypes.c_char * 128), ("version", ctypes.c_char * 128),
        ("driver", ctypes.c_char * 128), ("kind", ctypes.c_int),
        ("compute_units", ctypes.c_uint), ("clock_mhz", ctypes.c_uint),
        ("global_mem_bytes", ctypes.c_uint64), ("local_mem_bytes", ctypes.c_uint64),
        ("max_alloc_bytes", ctypes.c_uint64), ("max_work_group", ctypes.c_size_t),
        ("mem_base_align_bytes", ctypes.c_uint), ("fp16", ctypes.c_int), ("fp64", ctypes.c_int),
        ("unified_memory", ctypes.c_int), ("has_intel_subgroups", ctypes.c_int),
    ]


EPOCH_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p)


def _declare(lib):
    c_int, c_char_p, c_void_p = ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p
    pp_char = ctypes.POINTER(ctypes.c_char_p)
    sigs = {
        "clm_last_error": (c_char_p, []),
        "clm_status_name": (c_char_p, [c_int]),
        "clm_free": (None, [c_void_p]),
        "clm_device_list": (c_int, [ctypes.POINTER(ctypes.POINTER(DeviceInfo)), ctypes.POINTER(c_int)]),
        "clm_predictor_open": (c_int, [c_char_p, c_char_p, c_int, c_int, c_int, ctypes.POINTER(c_void_p)]),
        "clm_predictor_free": (None, [c_void_p]),
        "clm_predictor_info": (c_int, [c_void_p, ctypes.POINTER(c_void_p)]),
        "clm_predictor_run": (c_int, [c_void_p, ctypes.POINTER(ctypes.c_float), c_int,
                                      ctypes.POINTER(ctypes.POINTER(ctypes.c_float))]),
        "clm_predictor_evaluate": (c_int, [c_void_p, c_char_p, c_char_p, c_int, ctypes.c_longlong,
                                           ctypes.POINTER(c_void_p)]),
        "clm_train_kv": (c_int, [pp_char, pp_char, c_int, EPOCH_FN, c_void_p]),
    }
    for name, (res, args) in sigs.items():
        f = getattr(lib, name)
        f.restype = res
        f.argtypes = args
    # clm_device_list's array is malloc'd and freed with free(): clm_free is free()
