import os
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Tests are grouped by layer (kernels/, compiler/, runtime/, serve/, gpu/); their shared helpers live in
# helpers/ and are imported as `from helpers.models import ...`.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# Property tests: enough examples to find broadcasting/axis bugs, bounded for a 2-core CI.
settings.register_profile("ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(config, items):
    # GPU tests skip cleanly where no device is present.
    import deepseek_r1

    has_gpu = any(d.split(":")[0] in ("cuda", "hip") for d in deepseek_r1.devices())  # not the test-only sim:0
    skip = pytest.mark.skip(reason="no GPU device present")
    # TensorFlow tests need the [tensorflow] extra; CI installs it and sets R1_REQUIRE_TENSORFLOW=1, so there a
    # missing TensorFlow fails the tests instead of skipping them.
    import importlib.util

    has_tf = importlib.util.find_spec("tensorflow") is not None or os.environ.get("R1_REQUIRE_TENSORFLOW") == "1"
    skip_tf = pytest.mark.skip(reason="TensorFlow is not installed: pip install '.[tensorflow]'")
    for item in items:
        if item.get_closest_marker("gpu") is not None and not has_gpu:  # the marker, not the gpu/ folder name
            item.add_marker(skip)
        if item.get_closest_marker("tensorflow") is not None and not has_tf:
            item.add_marker(skip_tf)


@pytest.fixture(scope="session")
def dev():
    """The first CUDA / HIP device (never the test-only sim:0) for GPU tests; skips where there is none."""
    import deepseek_r1

    devs = [d for d in deepseek_r1.devices() if d.split(":")[0] in ("cuda", "hip")]
    if not devs:
        pytest.skip("no GPU device present")
    return devs[0]


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
