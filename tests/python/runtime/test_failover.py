"""Failover: a run that fails on its device with a device error reruns on the fallback device, so no request
fails; the device is marked unhealthy for the cooldown and tried again after it. Faults are injected into the
test device sim:0 (an allocation failure, a lost device); bad inputs and broken models never fail over.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import deepseek_r1 as r1
from deepseek_r1 import DeviceError, InputError, _core
from helpers.llama_onnx import LlamaShape, build_llama, llama_inputs

SHAPE = LlamaShape(hidden=128, inter=352, layers=2, vocab=512, heads=4)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    _core._register_sim_device()
    d = tmp_path_factory.mktemp("failover")
    return r1.ModelConverter(str(build_llama(d / "m.onnx", SHAPE)), output_path=d / "m.r1").convert()


@pytest.fixture(autouse=True)
def no_faults_left():
    yield
    _core._sim_inject_faults("alloc", 0)
    _core._sim_inject_faults("lost", 0)


@pytest.mark.parametrize("fault", ["alloc", "lost"])
def test_an_injected_device_fault_reruns_on_the_fallback_with_the_same_answer(model, fault):
    feeds = llama_inputs(SHAPE, 2, 8)
    want = r1.InferenceEngine(model).run(feeds)["logits"]
    eng = r1.InferenceEngine(model, device="sim:0", fallback_device="cpu", fallback_cooldown_s=0.2)
    np.testing.assert_allclose(eng.run(feeds)["logits"], want, rtol=1e-5, atol=1e-6)
    assert eng.device_health["healthy"] and eng.device_health["failures"] == 0
    _core._sim_inject_faults(fault, 1)
    got = eng.run(feeds)["logits"]  # failed on sim:0, answered by the cpu
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    h = eng.device_health
    assert h == {**h, "device": "sim:0", "healthy": False, "failures": 1, "fallback_device": "cpu", "fallback_runs": 1}
    assert "injected fault" in h["last_error"]
    eng.run(feeds)  # unhealthy: straight to the fallback, the device is not tried
    assert eng.device_health["fallback_runs"] == 2 and eng.device_health["failures"] == 1
    time.sleep(0.25)  # after the cooldown the device is tried again, and works
    np.testing.assert_allclose(eng.run(feeds)["logits"], want, rtol=1e-5, atol=1e-6)
    assert eng.device_health["healthy"] and eng.device_health["fallback_runs"] == 2


def test_without_a_fallback_the_device_error_reaches_the_caller(model):
    eng = r1.InferenceEngine(model, device="sim:0")
    _core._sim_inject_faults("lost", 1)
    with pytest.raises(DeviceError, match="injected fault"):
        eng.run(llama_inputs(SHAPE, 1, 4))


def test_bad_inputs_do_not_fail_over(model):
    eng = r1.InferenceEngine(model, device="sim:0", fallback_device="cpu")
    with pytest.raises(InputError):
        eng.run({"input_ids": np.zeros((1, 4), np.float32), "mask": np.zeros((1, 1, 4, 4), np.float32)})
    assert eng.device_health["failures"] == 0 and eng.device_health["fallback_runs"] == 0


def test_fallback_settings_are_checked(model):
    with pytest.raises(ValueError, match="differ"):
        r1.InferenceEngine(model, fallback_device="cpu")
    with pytest.raises(DeviceError, match="not available"):
        r1.InferenceEngine(model, device="sim:0", fallback_device="cuda:7")
    with pytest.raises(ValueError, match="cooldown"):
        r1.InferenceEngine(model, device="sim:0", fallback_device="cpu", fallback_cooldown_s=-1)
    with pytest.raises(InputError, match="fault kind"):
        _core._sim_inject_faults("meteor", 1)
