"""H1: an operator copies a new model over the served file in place (`cp new.r1 repo/m/1/model.r1`).

It used to kill the server with SIGBUS on the next request (the old version served from a mapping of the
file that changed under it). Now the old version keeps serving its own copy of the weights until the new
content has loaded, through the truncated and half-written states a `cp` passes through.
"""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest

tritonclient_http = pytest.importorskip("tritonclient.http")

import deepseek_r1 as r1
from helpers.serve_fixtures import add_version, matmul_model


def _x(width=64):
    return np.random.default_rng(0).standard_normal((2, width)).astype(np.float32)


def _infer(c, x):
    i = tritonclient_http.InferInput("x", list(x.shape), "FP32")
    i.set_data_from_numpy(x)
    return c.infer("m", [i]).as_numpy("y")


def _wait(cond, what, timeout_s=20.0):
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_in_place_copy_keeps_the_old_version_serving_until_the_new_one_loads(tmp_path):
    served = add_version(tmp_path / "repo", "m", 1, matmul_model(64, seed=1))
    new = add_version(tmp_path / "new", "m", 1, matmul_model(64, seed=2))
    old_want = r1.InferenceEngine(served).run({"x": _x()})["y"]
    new_want = r1.InferenceEngine(new).run({"x": _x()})["y"]
    with r1.InferenceServer(repository=tmp_path / "repo", poll_interval_s=0.02) as s:
        c = tritonclient_http.InferenceServerClient(f"127.0.0.1:{s.port}")
        np.testing.assert_allclose(_infer(c, _x()), old_want, rtol=1e-5)
        entry = s.repository.entries["m"]
        ino = served.stat().st_ino
        with open(served, "r+b") as f:  # cp's first step: truncate the same inode...
            f.truncate(0)
            f.flush()
            # ...the old version still answers, from its own copy, while the file is empty
            np.testing.assert_allclose(_infer(c, _x()), old_want, rtol=1e-5)
            _wait(lambda: entry.failed, "the truncated file was never tried")
            np.testing.assert_allclose(_infer(c, _x()), old_want, rtol=1e-5)
            data = new.read_bytes()
            f.write(data[: len(data) // 2])  # half written: still the old version
            f.flush()
            np.testing.assert_allclose(_infer(c, _x()), old_want, rtol=1e-5)
            f.write(data[len(data) // 2 :])
        assert served.stat().st_ino == ino
        _wait(lambda: np.allclose(_infer(c, _x()), new_want, rtol=1e-5), "the new content was never served")
        assert s.repository.index()[0]["state"] == "READY"
        c.close()


def test_single_model_file_copied_in_place(tmp_path):
    served = add_version(tmp_path, "m", 1, matmul_model(64, seed=1)).rename(tmp_path / "m.r1")
    new = add_version(tmp_path / "new", "m", 1, matmul_model(64, seed=2))
    new_want = r1.InferenceEngine(new).run({"x": _x()})["y"]
    with r1.InferenceServer(model_path=served, poll_interval_s=0.02) as s:
        c = tritonclient_http.InferenceServerClient(f"127.0.0.1:{s.port}")
        before = _infer(c, _x())
        with open(new, "rb") as src, open(served, "r+b") as dst:
            dst.truncate(0)
            shutil.copyfileobj(src, dst)
        got = _infer(c, _x())  # the old weights, or the new ones if the poll was quick: never a mix, no crash
        assert np.allclose(got, before, rtol=1e-5) or np.allclose(got, new_want, rtol=1e-5)
        _wait(lambda: np.allclose(_infer(c, _x()), new_want, rtol=1e-5), "the new content was never served")
        c.close()
