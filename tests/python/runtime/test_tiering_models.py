"""Every end-to-end model (helpers/models.py, legacy exports) gives bit-identical outputs when its weights stream
from disk under a memory budget of a third of them, and at the smallest budget the engine names (plus room for
the activations): the tiered runs read the same bytes into the same kernels as the resident ones.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import deepseek_r1 as r1
from deepseek_r1 import InputError
from helpers.models import SPECS, export_for_test

pytest.importorskip("torch")


@pytest.mark.parametrize("model", list(SPECS))
def test_streamed_weights_give_the_resident_outputs(model, tmp_path):
    spec = SPECS[model]
    path = r1.ModelConverter(str(export_for_test(model, "legacy")), output_path=tmp_path / "m.r1",
                             target_hardware="native").convert()  # fmt: skip
    feeds = spec.feeds(np.random.default_rng(7), **spec.test_sizes[0])
    want = r1.InferenceEngine(path, num_threads=2).run(feeds)
    with pytest.raises(InputError, match="smallest budget") as e:
        r1.InferenceEngine(path, memory_budget={"cpu": 4096})
    low = int(re.search(r"smallest budget that can work is (\d+) bytes", str(e.value)).group(1))
    probe = r1.InferenceEngine(path, memory_budget={"cpu": 1 << 40})
    probe.run(feeds)
    rep = probe.tiering_report()
    room = rep["activation_bytes"] + (16 << 20)
    for budget in (low + room, low + room + rep["weight_bytes"] // 3):
        eng = r1.InferenceEngine(path, num_threads=2, memory_budget={"cpu": budget})
        for _ in range(2):
            got = eng.run(feeds)
            for name, w in want.items():
                assert got[name].dtype == w.dtype and got[name].shape == w.shape, name
                np.testing.assert_array_equal(got[name], w, err_msg=f"{model} output {name} at budget {budget}")
        assert eng.tiering_report()["streamed_bytes_last_run"] > 0
