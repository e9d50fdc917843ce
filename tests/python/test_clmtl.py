"""The clmtl Python package (python/clmtl) against the clmtl program, run by tests/test_python.sh:
devices against `clmtl devices`; an end-to-end train (tiny model, 32x64, one epoch) whose
on_epoch reports must equal the trainer's own log.jsonl; predict against `clmtl infer --raw`
on the same image (softmax probabilities, offsets, disparity); evaluate against
`clmtl eval --json`; errors as clmtl.Error with clmtl's message; `pip install ./python` into a
folder, and the library found next to the package.
Environment: CLMTL_LIBRARY (libclmtl.so), CLMTL_CLI (the clmtl program), CLMTL_SOURCE."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import clmtl

CLI = os.environ["CLMTL_CLI"]
SRC = os.environ["CLMTL_SOURCE"]
SIZE = (32, 64)


def cli(*args, **kw):
    return subprocess.run([CLI, *args], check=True, capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "tiny"
    seen = []
    r = clmtl.train(model="models/tiny.cfg", epochs=1, out=out, size=SIZE, batch=4, train_count=16,
                    val_count=8, seed=7, device="cpu", on_epoch=seen.append)
    return r, seen


def test_devices_match_the_cli():
    devs = clmtl.devices()
    assert devs, "no device"
    listing = cli("devices").stdout
    for d in devs:
        assert d["name"] in listing, (d["name"], listing)
        assert d["kind"] in ("cpu", "gpu", "accelerator", "other")
        assert d["global_mem_bytes"] > 0 and d["compute_units"] > 0


def test_train_reports_each_epoch_as_logged(run):
    r, seen = run
    assert len(seen) == 1 and seen == r["epochs"]
    assert os.path.isfile(r["best"]) and os.path.isfile(r["last"])
    logged = [json.loads(l) for l in open(os.path.join(r["out"], "log.jsonl")) if '"epoch"' in l]
    logged = [e for e in logged if e.get("event") == "epoch"]
    assert len(logged) == 1
    rep, log = seen[0], logged[0]
    assert rep["epoch"] == log["epoch"] == 1 and rep["best"] is True
    assert rep["val_loss"] == pytest.approx(log["val_loss"], rel=1e-5)
    assert set(rep["tasks"]) == {"semantic", "instance", "depth"}
    for name, t in rep["tasks"].items():
        for key in ("train_loss", "val_loss", "miou", "pixel_accuracy", "mae", "rmse"):
            if key in log["tasks"][name]:
                assert t[key] == pytest.approx(log["tasks"][name][key], rel=1e-5, abs=1e-6), (name, key)


def test_predict_matches_clmtl_infer(run, tmp_path):
    r, _ = run
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (SIZE[0], SIZE[1], 3), dtype=np.uint8)
    # the same image as a PNG for the CLI, written with zlib alone
    import zlib, struct
    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(SIZE[0]))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", SIZE[1], SIZE[0], 8, 2, 0, 0, 0)) \
        + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    (tmp_path / "im.png").write_bytes(png)
    cli("infer", "--model", r["best"], "--raw", "--device", "cpu", "--out", str(tmp_path / "out"),
        str(tmp_path / "im.png"))
    m = clmtl.Model.load(r["best"], device="cpu", batch=2)
    assert m.size == SIZE and [t["name"] for t in m.tasks] == ["semantic", "instance", "depth"]
    out = m.predict(img)
    probs = np.load(tmp_path / "out" / "im_semantic_probs.npy")
    offsets = np.load(tmp_path / "out" / "im_instance_offsets.npy")
    depth = np.load(tmp_path / "out" / "im_depth.npy")
    assert out["semantic"].shape == (1, 7) + SIZE
    np.testing.assert_allclose(out["semantic"][0], probs, atol=1e-5)
    np.testing.assert_allclose(out["instance"][0], offsets, atol=1e-4)
    np.testing.assert_allclose(out["depth"][0], depth, atol=1e-5)
    assert (out["semantic"].argmax(1)[0] == probs.argmax(0)).all()
    # uint8 and float input agree; batches of 2 over 5 images equal one image at a time
    five = rng.integers(0, 256, (5, SIZE[0], SIZE[1], 3), dtype=np.uint8)
    many = m.predict(five)
    f = m.predict(five.astype(np.float32) / 255, logits=True)
    for i in range(5):
        one = m.predict(five[i], logits=True)
        for k in one:
            np.testing.assert_allclose(f[k][i], one[k][0], atol=1e-5)
    np.testing.assert_allclose(many["semantic"].sum(1), 1, atol=1e-5)
    # another resolution: recompiled, fully convolutional
    assert m.predict(np.zeros((1, 64, 64, 3), np.uint8))["depth"].shape == (1, 1, 64, 64)
    m.close()


def test_evaluate_matches_clmtl_eval(run, tmp_path):
    r, seen = run
    ev = clmtl.evaluate(r["best"], device="cpu", count=8)
    cli("eval", "--model", r["best"], "--count", "8", "--device", "cpu", "--json", str(tmp_path / "e.json"))
    ref = {t["name"]: t for t in json.load(open(tmp_path / "e.json"))["tasks"]}
    assert ev["samples"] == 8 and ev["split"] == "val"
    for name, t in ev["tasks"].items():
        assert t["loss"] == pytest.approx(ref[name]["loss"], rel=1e-6)
        if "miou" in t:
            assert 100 * t["miou"] == pytest.approx(ref[name]["miou_percent"], rel=1e-9)
            assert 100 * t["pixel_accuracy"] == pytest.approx(ref[name]["pixel_accuracy_percent"], rel=1e-9)
        else:
            assert t["mae"] == pytest.approx(ref[name]["mae"], rel=1e-6)
            assert t["rmse"] == pytest.approx(ref[name]["rmse"], rel=1e-6)
        # the validation of the epoch that wrote best.safetensors, on the same 8 samples
        assert t["loss"] == pytest.approx(seen[0]["tasks"][name]["val_loss"], rel=1e-5)


def test_errors_carry_clmtl_messages(tmp_path):
    with pytest.raises(clmtl.Error) as e:
        clmtl.Model.load(tmp_path / "missing.safetensors", device="cpu")
    assert "missing.safetensors" in str(e.value) and e.value.status.startswith("CLM_ERR_")
    with pytest.raises(clmtl.Error) as e:
        clmtl.train(model="models/tiny.cfg", epochs=1, out=tmp_path / "x", bogus_option=3)
    assert "bogus_option" in str(e.value) and e.value.status == "CLM_ERR_INVALID_ARG"
    with pytest.raises(clmtl.Error) as e:
        clmtl.train(model="models/tiny.cfg", epochs=1, out=tmp_path / "x", weighting="nonsense")
    assert "nonsense" in str(e.value)
    bad = tmp_path / "bad.cfg"
    bad.write_text("[input]\ntype = input\nchannels = 3\n\n[c]\ntype = conv\nfrom = nowhere\nfilters = 2\nsize = 3\n")
    with pytest.raises(clmtl.Error) as e:
        clmtl.train(model=bad, epochs=1, out=tmp_path / "y", size=SIZE, device="cpu")
    assert "bad.cfg" in str(e.value) and "nowhere" in str(e.value)
    m = clmtl.Model.__new__(clmtl.Model)
    with pytest.raises(ValueError, match="N x H x W x 3"):
        clmtl.Model.predict(m, np.zeros((2, 8, 8), np.uint8))


def test_callback_exception_is_raised_after_training(tmp_path):
    def boom(report):
        raise RuntimeError("from on_epoch %d" % report["epoch"])
    with pytest.raises(RuntimeError, match="from on_epoch 1"):
        clmtl.train(model="models/tiny.cfg", epochs=1, out=tmp_path / "z", size=SIZE, batch=4, train_count=8,
                    val_count=4, device="cpu", on_epoch=boom)


def test_pip_install_and_library_next_to_the_package(tmp_path):
    import shutil
    target = tmp_path / "site"
    pkg = tmp_path / "python"  # a copy: pip's build leaves build/ and *.egg-info/ beside the sources
    shutil.copytree(os.path.join(SRC, "python"), pkg, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    p = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--no-index",
                        "--target", str(target), str(pkg)], capture_output=True, text=True)
    if p.returncode != 0 and "No module named pip" in p.stderr:
        pytest.skip("pip is not installed for " + sys.executable)
    assert p.returncode == 0, p.stdout + p.stderr
    assert (target / "clmtl" / "__init__.py").is_file()
    lib = os.path.realpath(os.environ["CLMTL_LIBRARY"])
    code = "import clmtl; print(clmtl.library_path()); print(len(clmtl.devices()))"
    env = {k: v for k, v in os.environ.items() if k not in ("CLMTL_LIBRARY", "PYTHONPATH")}
    env["PYTHONPATH"] = str(target)
    # without the env var and with no copy next to the package: the error names what was tried
    q = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path)
    if q.returncode != 0:
        assert "CLMTL_LIBRARY" in q.stderr, q.stderr
    # a copy next to the package is found without the env var
    shutil.copy(lib, target / "clmtl" / "libclmtl.so.0")
    q = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert q.returncode == 0, q.stderr
    assert q.stdout.splitlines()[0] == str(target / "clmtl" / "libclmtl.so.0")
    assert int(q.stdout.splitlines()[1]) >= 1


def test_example_script_runs(tmp_path):
    p = subprocess.run([sys.executable, os.path.join(SRC, "examples", "train_predict.py"), str(tmp_path / "ex"), "cpu"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert lines[1].startswith("epoch 1 val loss ") and "mIoU" in lines[1], lines
    assert lines[2] == "classes (2, 32, 64) depth (2, 1, 32, 64) offsets (2, 2, 32, 64)", lines
    assert lines[3].startswith("eval mIoU ") and lines[3].split()[-1] == lines[1].split()[-1], lines
