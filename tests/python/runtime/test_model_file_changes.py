"""A model file changed under a running engine: never a crash, never an answer from mixed weights.

`cp new.r1 model.r1` rewrites the served file's inode in place: first truncating it, then writing. A
mapped engine must then fail its runs with a ModelError that names the file (a read past the new end
was a SIGBUS that killed the process); an engine that read the file into memory (mmap=False, what the
server uses) keeps serving the old weights; an atomic replacement (os.replace) or a `touch` changes nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import deepseek_r1 as r1
from helpers.serve_fixtures import matmul_model, save_r1


def _models(tmp_path: Path, width: int = 64) -> tuple[Path, Path]:
    """Two .r1 files of the same size with different weights."""
    a = save_r1(matmul_model(width, seed=1), tmp_path / "a.r1")
    b = save_r1(matmul_model(width, seed=2), tmp_path / "b.r1")
    assert a.stat().st_size == b.stat().st_size
    return a, b


def _x(width: int = 64) -> dict:
    return {"x": np.random.default_rng(0).standard_normal((2, width)).astype(np.float32)}


def _copy_in_place(src: Path, dst: Path) -> None:
    """What `cp src dst` does to an existing dst: same inode, truncated, then written."""
    ino = dst.stat().st_ino
    with open(src, "rb") as s, open(dst, "r+b") as d:
        d.truncate(0)
        shutil.copyfileobj(s, d)
    assert dst.stat().st_ino == ino


@pytest.mark.parametrize("level", [0, 3])
def test_mapped_engine_fails_clearly_after_in_place_copy(tmp_path, level):
    a, b = _models(tmp_path)
    served = tmp_path / "served.r1"
    shutil.copyfile(a, served)
    engine = r1.InferenceEngine(served, optimization_level=level)
    before = engine.run(_x())["y"]
    _copy_in_place(b, served)
    with pytest.raises(r1.ModelError, match=r"served\.r1' was modified while it was in use") as e:
        engine.run(_x())
    assert "os.replace" in str(e.value)
    # Sticky: the mapping no longer holds the loaded model, even though the file is whole again.
    with pytest.raises(r1.ModelError):
        engine.run(_x())
    # A fresh engine reads the new bytes.
    after = r1.InferenceEngine(served, optimization_level=level).run(_x())["y"]
    assert not np.allclose(before, after)


def test_truncated_file_is_an_error_not_a_crash(tmp_path):
    a, _ = _models(tmp_path)
    engine = r1.InferenceEngine(a, optimization_level=0)
    engine.run(_x())
    os.truncate(a, 100)
    with pytest.raises(r1.ModelError, match="changed size"):
        engine.run(_x())


@pytest.mark.parametrize("level", [0, 3])
def test_private_copy_keeps_serving_the_old_weights(tmp_path, level):
    a, b = _models(tmp_path)
    served = tmp_path / "served.r1"
    shutil.copyfile(a, served)
    engine = r1.InferenceEngine(served, optimization_level=level, mmap=False)
    before = engine.run(_x())["y"]
    # The copy holds the same model as the mapping (its pages are kept, never dropped after the checksum).
    np.testing.assert_allclose(before, r1.InferenceEngine(a, optimization_level=level).run(_x())["y"], rtol=1e-6)
    _copy_in_place(b, served)
    os.truncate(served, 10)
    np.testing.assert_array_equal(engine.run(_x())["y"], before)
    assert before.dtype == np.float32


def test_atomic_replace_and_touch_change_nothing(tmp_path):
    a, b = _models(tmp_path)
    served = tmp_path / "served.r1"
    shutil.copyfile(a, served)
    engine = r1.InferenceEngine(served, optimization_level=0)
    before = engine.run(_x())["y"]
    os.utime(served, ns=(1, 1))  # mtime moved, bytes the same: the content check passes once
    np.testing.assert_array_equal(engine.run(_x())["y"], before)
    tmp = tmp_path / "new.r1.tmp"
    shutil.copyfile(b, tmp)
    os.replace(tmp, served)  # the engine's inode is untouched
    np.testing.assert_array_equal(engine.run(_x())["y"], before)


def test_load_of_a_truncated_file_names_the_problem(tmp_path):
    a, _ = _models(tmp_path)
    os.truncate(a, a.stat().st_size // 2)
    for mmap in (True, False):
        with pytest.raises(r1.ModelError, match="truncated"):
            r1.load_model(a, mmap=mmap)


_RACE = textwrap.dedent(
    """
    import os, shutil, sys, threading, time
    import numpy as np
    import deepseek_r1 as r1
    a, served = sys.argv[1], sys.argv[2]
    x = {"x": np.ones((4, 1024), np.float32)}
    stop, errors, other, runs = False, [], [], [0]
    def truncate_and_restore():
        while not stop:
            with open(served, "r+b") as f:
                f.truncate(0)
                time.sleep(0.0005)
                f.write(open(a, "rb").read())
            time.sleep(0.01)
    # Level 0: the MatMul reads its 4 MB weight from the mapping on every run (no repacked copy).
    engines = [r1.InferenceEngine(served, optimization_level=0, num_threads=1) for _ in range(100)]
    t = threading.Thread(target=truncate_and_restore)
    t.start()
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and engines:
        e = engines[-1]
        try:
            e.run(x)
            runs[0] += 1
        except r1.ModelError as err:
            errors.append(str(err))
            engines.pop()  # stale for good: go on with the next one once the file is whole again
            time.sleep(0.02)
        except Exception as err:
            other.append(repr(err))
    stop = True
    t.join()
    print(len(errors), len(other), runs[0], sum("truncated" in e for e in errors), other[:1])
    """
)


def test_truncation_racing_runs_never_crashes(tmp_path):
    """Runs read a mapped 4 MB weight while another thread truncates and rewrites the file: a read past
    the end is caught (zero pages, then ModelError), where it used to kill the process with SIGBUS."""
    a = save_r1(matmul_model(1024, seed=1), tmp_path / "a.r1")
    served = tmp_path / "served.r1"
    shutil.copyfile(a, served)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))  # this process's deepseek_r1
    p = subprocess.run(
        [sys.executable, "-c", _RACE, str(a), str(served)], capture_output=True, text=True, env=env, timeout=120
    )
    assert p.returncode == 0, f"rc {p.returncode}: {p.stderr[-2000:]}"
    n_errors, n_other, n_runs, n_caught = (int(v) for v in p.stdout.split()[:4])
    assert n_other == 0, p.stdout
    assert n_errors >= 1 and n_runs >= 1, p.stdout
    assert n_caught >= 1, f"no read raced a truncation (the SIGBUS path went untested): {p.stdout}"
