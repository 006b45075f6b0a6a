"""What `import deepseek_r1` does and does not do: it stays cheap (no onnx: serving a compiled .r1 never
parses ONNX) and leaves the caller's environment as it found it (OpenBLAS is told to stay single-threaded only
while _core loads)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CODE = """
import os, sys, json
import deepseek_r1
print(json.dumps({"onnx": "onnx" in sys.modules, "blas": os.environ.get("OPENBLAS_NUM_THREADS")}))
"""


def _import_in_fresh_process(env_blas: str | None) -> dict:
    import json

    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    if env_blas is not None:
        env["OPENBLAS_NUM_THREADS"] = env_blas
    out = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("env_blas", [None, "3"])
def test_import_leaves_the_environment_and_does_not_load_onnx(env_blas):
    got = _import_in_fresh_process(env_blas)
    assert got["blas"] == env_blas
    assert got["onnx"] is False
