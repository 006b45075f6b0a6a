"""A U-Net-like ONNX model for activation spilling (tests/python/runtime/test_activation_spill.py,
bench/activation_spill.py): a chain of MatMuls whose first two results are read again only at the end.

    path = build_skip_model(dir / "skips.onnx", width=256, chain=10)   # input x: [rows, width] float32

decoder=False: the last two steps add the two skips (h9 + h1, then + h0). decoder=True: as a U-Net's decoder, two
MatMuls before each skip is added (d = d @ wd1a @ wd1b + h1, then the same with h0; the add fuses into the second
MatMul), so a skip's read-back can overlap the first of them.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def build_skip_model(path, width: int = 256, chain: int = 10, seed: int = 7, decoder: bool = False) -> str:
    rng = np.random.default_rng(seed)
    inits, nodes = [], []
    prev = "x"
    for k in range(chain):
        w = (rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32)
        inits.append(numpy_helper.from_array(w, f"w{k}"))
        nodes.append(helper.make_node("MatMul", [prev, f"w{k}"], [f"h{k}"], name=f"mm{k}"))
        prev = f"h{k}"
    if decoder:
        for k in (1, 0):
            for j in "ab":
                w = (rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32)
                inits.append(numpy_helper.from_array(w, f"wd{k}{j}"))
                nodes.append(helper.make_node("MatMul", [prev, f"wd{k}{j}"], [f"m{k}{j}"], name=f"up{k}{j}"))
                prev = f"m{k}{j}"
            nodes.append(helper.make_node("Add", [prev, f"h{k}"], ["y" if k == 0 else "s1"], name=f"skip{k}"))
            prev = "s1"
    else:
        nodes.append(helper.make_node("Add", [prev, "h1"], ["s1"], name="skip1"))
        nodes.append(helper.make_node("Add", ["s1", "h0"], ["y"], name="skip0"))
    graph = helper.make_graph(
        nodes,
        "skips",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["rows", width])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["rows", width])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return str(path)
