"""One kernel on a GPU device, for the gpu/ tests, and the random inputs they feed it.

y, = run(dev, "Relu", [x])                          # _core.run_kernel: host arrays in and out
x = rand(rng, (3, 4), np.float16)                   # floats uniform in [lo, hi], ints within +-1000
"""

from __future__ import annotations

import numpy as np

from deepseek_r1 import _core


def run(dev, op, inputs, attrs=None, opset=17, num_outputs=1, domain=""):
    return _core.run_kernel(dev, op, list(inputs), attrs or {}, opset, num_outputs, domain)


def rand(rng, shape, dtype, lo=-3.0, hi=3.0):
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(max(info.min, -1000), min(info.max, 1000), size=shape, endpoint=True).astype(dtype)
    return rng.uniform(lo, hi, size=shape).astype(dtype)
