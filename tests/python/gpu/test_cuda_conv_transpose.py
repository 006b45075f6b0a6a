"""GPU kernel of cuda/kernels/conv_transpose.cu against numpy (and the CPU kernel).

ConvTranspose in float32 / float16 / bfloat16, through _core.run_kernel on the first GPU (skipped without one).
References are float64 numpy from the inputs already rounded to the dtype; with auto_pad or output_shape the CPU
kernel (cpp/r1/cpu/kernels/) is the reference. Tolerances (helpers/cuda_norm_resize_harness.py): float32 1e-5
relative, float16 / bfloat16 1e-2 (of the output's magnitude or of the sum of absolute terms for sums).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers.cuda_norm_resize_harness import F32, assert_close, dtypes, f64, rand, run, seeds

pytestmark = pytest.mark.gpu

# ---------------------------------------------------------------- ConvTranspose


def conv_transpose_ref(x, w, b, group, strides, dils, pb, out):
    """float64 ConvTranspose: every (input position, tap) scattered to i * s + k * d, cropped from pads_begin."""
    x, w = f64(x), f64(w)
    n, c = x.shape[:2]
    in_sp, ks = x.shape[2:], w.shape[2:]
    nd = len(in_sp)
    mg = w.shape[1]
    cg = c // group
    full = [max(pb[i] + out[i], (in_sp[i] - 1) * strides[i] + (ks[i] - 1) * dils[i] + 1) for i in range(nd)]
    yf = np.zeros((n, mg * group, *full))
    for g in range(group):
        xg = x[:, g * cg : (g + 1) * cg]
        wg = w[g * cg : (g + 1) * cg]
        for k in np.ndindex(*ks):
            contrib = np.einsum("nc...,cm->nm...", xg, wg[(slice(None), slice(None)) + k])
            sl = tuple(
                slice(k[i] * dils[i], k[i] * dils[i] + (in_sp[i] - 1) * strides[i] + 1, strides[i]) for i in range(nd)
            )
            yf[(slice(None), slice(g * mg, (g + 1) * mg)) + sl] += contrib
    y = yf[(slice(None), slice(None)) + tuple(slice(pb[i], pb[i] + out[i]) for i in range(nd))]
    if b is not None:
        y = y + f64(b).reshape((1, -1) + (1,) * nd)
    return y


@st.composite
def conv_t_case(draw):
    nd = draw(st.integers(1, 3))
    group = draw(st.integers(1, 3))
    return dict(
        nd=nd,
        group=group,
        cg=draw(st.integers(1, 3)),
        mg=draw(st.integers(1, 3)),
        n=draw(st.integers(1, 2)),
        in_sp=[draw(st.integers(1, 5)) for _ in range(nd)],
        ks=[draw(st.integers(1, 3)) for _ in range(nd)],
        strides=[draw(st.integers(1, 3)) for _ in range(nd)],
        dils=[draw(st.integers(1, 2)) for _ in range(nd)],
        pads=[draw(st.integers(0, 2)) for _ in range(2 * nd)],
        opad=[draw(st.integers(0, 1)) for _ in range(nd)],
        bias=draw(st.booleans()),
    )


@given(conv_t_case(), dtypes, seeds)
def test_conv_transpose(dev, case, dt, seed):
    rng = np.random.default_rng(seed)
    nd, group = case["nd"], case["group"]
    c, mg = case["cg"] * group, case["mg"]
    x = rand(rng, (case["n"], c, *case["in_sp"]), dt)
    w = rand(rng, (c, mg, *case["ks"]), dt)
    b = rand(rng, (mg * group,), dt) if case["bias"] else None
    opad = [min(op, s - 1) for op, s in zip(case["opad"], case["strides"])]
    out = [
        case["strides"][i] * (case["in_sp"][i] - 1)
        + opad[i]
        + (case["ks"][i] - 1) * case["dils"][i]
        + 1
        - case["pads"][i]
        - case["pads"][nd + i]
        for i in range(nd)
    ]
    if min(out) <= 0:
        return
    attrs = {
        "group": group,
        "strides": case["strides"],
        "dilations": case["dils"],
        "pads": case["pads"],
        "output_padding": opad,
    }
    inputs = [x, w] + ([b] if b is not None else [])
    (y,) = run(dev, "ConvTranspose", inputs, attrs, 11)
    want = conv_transpose_ref(x, w, b, group, case["strides"], case["dils"], case["pads"][:nd], out)
    scale = conv_transpose_ref(
        np.abs(f64(x)),
        np.abs(f64(w)),
        None if b is None else np.abs(f64(b)),
        group,
        case["strides"],
        case["dils"],
        case["pads"][:nd],
        out,
    )
    assert_close(y, want, dt, scale=scale + 1e-3)


@given(conv_t_case(), st.sampled_from(["SAME_UPPER", "SAME_LOWER", "VALID", "output_shape"]), dtypes, seeds)
def test_conv_transpose_auto_pad_vs_cpu(dev, case, how, dt, seed):
    rng = np.random.default_rng(seed)
    group = case["group"]
    c, mg = case["cg"] * group, case["mg"]
    x = rand(rng, (case["n"], c, *case["in_sp"]), dt)
    w = rand(rng, (c, mg, *case["ks"]), dt)
    b = rand(rng, (mg * group,), dt)
    attrs = {"group": group, "strides": case["strides"], "dilations": case["dils"]}
    if how == "output_shape":
        attrs["output_shape"] = [s * i + e for s, i, e in zip(case["strides"], case["in_sp"], case["opad"])]
        attrs["auto_pad"] = "SAME_UPPER"
    else:
        attrs["auto_pad"] = how
    (cpu,) = run("cpu", "ConvTranspose", [x, w, b], attrs, 11)
    (y,) = run(dev, "ConvTranspose", [x, w, b], attrs, 11)
    assert y.shape == cpu.shape
    scale = np.abs(f64(x)).max() * np.abs(f64(w)).max() * case["cg"] * np.prod(case["ks"]) + abs(f64(b)).max()
    assert_close(y, f64(cpu), dt, scale=scale * (1e-1 if dt == F32 else 1.0))
