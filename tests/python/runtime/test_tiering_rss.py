"""Peak memory of a streaming engine, measured in a child process: the high-water mark of its resident memory
(VmHWM, which counts mapped file pages it touched as well as what it allocated) grows by at most the budget
plus 64 MiB from before the engine was made, for a model three times the budget; the resident engine's grows by
the whole model (the measurement sees what it must).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import deepseek_r1 as r1
from helpers.llama_onnx import LlamaShape, build_llama

SHAPE = LlamaShape(hidden=512, inter=1408, layers=12, vocab=4096, heads=8)  # 170 MiB of weights
BUDGET = 40 << 20
SLACK = 64 << 20

CHILD = r"""
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[3])
import deepseek_r1 as r1
from helpers.llama_onnx import LlamaShape, llama_inputs

def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024

shape = LlamaShape(**json.loads(sys.argv[2]))
feeds = llama_inputs(shape, 2, 32)
budget = json.loads(sys.argv[4])
before = hwm()
eng = r1.InferenceEngine(sys.argv[1], num_threads=2, memory_budget=budget)
for _ in range(3):
    out = eng.run(feeds)["logits"]
print(json.dumps({"grew": hwm() - before, "sum": float(np.abs(out).sum())}))
"""


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("llama_rss")
    onnx_path = build_llama(d / "llama.onnx", SHAPE)
    return r1.ModelConverter(str(onnx_path), output_path=d / "llama.r1", target_hardware="native").convert()


def _child(path, budget) -> dict:
    shape = json.dumps(SHAPE.__dict__)
    tests_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), shape, tests_dir, json.dumps(budget)],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_peak_memory_stays_within_the_budget_plus_64_mib(model):
    assert SHAPE.weight_bytes() > 3 * BUDGET
    tiered = _child(model, {"cpu": BUDGET})
    assert tiered["grew"] <= BUDGET + SLACK, f"grew {tiered['grew'] >> 20} MiB under a {BUDGET >> 20} MiB budget"
    resident = _child(model, None)
    assert resident["grew"] >= SHAPE.weight_bytes() * 0.9  # the measurement does see a model held whole
    assert tiered["sum"] == resident["sum"]
