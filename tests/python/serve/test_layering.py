"""Dependencies point one way: serve -> kserve and client -> kserve; the codec imports neither, and the client
does not pull in the server (uvicorn, starlette)."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "module,forbidden",
    [
        ("deepseek_r1.kserve", ("deepseek_r1.serve", "deepseek_r1.client")),
        ("deepseek_r1.kserve.grpc_codec", ("deepseek_r1.serve", "deepseek_r1.client")),
        ("deepseek_r1.client", ("deepseek_r1.serve", "uvicorn", "starlette")),
    ],
)
def test_module_does_not_import(module, forbidden):
    if module.endswith("grpc_codec"):
        pytest.importorskip("tritonclient.grpc")
    code = (
        f"import sys, {module}\n"
        f"bad = sorted(m for m in sys.modules if m.startswith({forbidden!r}))\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
