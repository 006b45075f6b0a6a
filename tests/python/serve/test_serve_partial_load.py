"""A load that fails part-way (one of the versions it wants is broken) leaves nothing running behind it."""

from __future__ import annotations

import gc
import json
import time

import deepseek_r1 as r1
from deepseek_r1.serve.model_version import ModelVersion
from helpers.serve_fixtures import add_relu_model, add_version


def _running_versions() -> list[ModelVersion]:
    gc.collect()
    return [o for o in gc.get_objects() if type(o) is ModelVersion and o.batcher is not None]


def test_versions_started_by_a_failed_load_are_retired(tmp_path):
    add_version(tmp_path, "m", 1, add_relu_model(4, seed=1))
    add_version(tmp_path, "m", 2, add_relu_model(4, seed=2))
    (tmp_path / "m" / "3").mkdir()
    (tmp_path / "m" / "3" / "model.r1").write_bytes(b"not a model" * 10)
    (tmp_path / "m" / "config.json").write_text(json.dumps({"versions": 2}))  # wants 2 and 3
    before = len(_running_versions())
    with r1.InferenceServer(repository=tmp_path, poll_interval_s=None) as s:
        entry = s.repository.entries["m"]
        assert not entry.versions and "3/model.r1" in entry.reason, entry.reason
        deadline = time.monotonic() + 10
        while len(_running_versions()) > before:  # version 2 was started, then the load failed on 3
            assert time.monotonic() < deadline, "a version started by the failed load is still running"
            time.sleep(0.02)
        assert entry.fingerprints == {}
