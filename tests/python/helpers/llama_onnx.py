"""A decoder-only transformer of Llama shape as an ONNX file, random weights, for the memory-tiering tests and
bench/tiering.py: token embedding, per layer RMSNorm -> Q/K/V/O attention (causal, through a mask input) and
RMSNorm -> SwiGLU feed-forward with residuals, a final RMSNorm and the LM head on the last position.
(No rotary embedding: it has no weights, and what the tiering work is about is the weights.)

    path = build_llama(tmp / "llama.onnx", LlamaShape(hidden=128, inter=352, layers=4, vocab=512, heads=4))
    feeds = llama_inputs(shape, batch=2, seq=16)        # {"input_ids": ..., "mask": ...}
    ws = llama_weights(path)                            # name -> np.ndarray (a view of the external data)

Weights go to an external data file written tensor by tensor (a model of several GB is never whole in memory).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class LlamaShape:
    hidden: int
    inter: int
    layers: int
    vocab: int
    heads: int

    def weight_bytes(self) -> int:
        h, i = self.hidden, self.inter
        return 4 * (self.layers * (4 * h * h + 3 * h * i + 2 * h) + 2 * self.vocab * h + h)


def _weights(shape: LlamaShape):
    """(name, dims) in file order."""
    h, i = shape.hidden, shape.inter
    yield "embed", (shape.vocab, h)
    for n in range(shape.layers):
        yield f"l{n}.attn_norm", (h,)
        for w in ("wq", "wk", "wv", "wo"):
            yield f"l{n}.{w}", (h, h)
        yield f"l{n}.ffn_norm", (h,)
        yield f"l{n}.w_gate", (h, i)
        yield f"l{n}.w_up", (h, i)
        yield f"l{n}.w_down", (i, h)
    yield "final_norm", (h,)
    yield "lm_head", (h, shape.vocab)


def build_llama(path: str | os.PathLike, shape: LlamaShape, seed: int = 0, data_name: str | None = None) -> Path:
    """Writes the graph to `path` and the weights to `data_name` (default: path's name + ".data") beside it."""
    from onnx import TensorProto, helper

    path = Path(path)
    data_name = data_name or path.name + ".data"
    rng = np.random.default_rng(seed)
    inits = []
    offset = 0
    with open(path.parent / data_name, "wb") as f:
        for name, dims in _weights(shape):
            if len(dims) == 1:
                w = (1.0 + 0.1 * rng.standard_normal(dims)).astype(np.float32)
            else:
                w = rng.standard_normal(dims, dtype=np.float32)
                w *= np.float32(1.0 / np.sqrt(dims[0]))
            raw = w.tobytes()
            f.write(raw)
            t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=list(dims))
            t.data_location = TensorProto.EXTERNAL
            for k, v in (("location", data_name), ("offset", str(offset)), ("length", str(len(raw)))):
                entry = t.external_data.add()
                entry.key, entry.value = k, v
            inits.append(t)
            offset += len(raw)
            pad = (-offset) % 4096  # page-aligned tensors: the file maps as onnx expects
            f.write(b"\0" * pad)
            offset += pad
    h, nh = shape.hidden, shape.heads
    hd = h // nh
    consts = {
        "axes_last": np.array([-1], np.int64),
        "eps": np.array(1e-5, np.float32),
        "scale": np.array(1.0 / np.sqrt(hd), np.float32),
        "split_heads": np.array([0, 0, nh, hd], np.int64),
        "merge_heads": np.array([0, 0, h], np.int64),
        "last_start": np.array([-1], np.int64),
        "last_end": np.array([np.iinfo(np.int64).max], np.int64),
        "axis1": np.array([1], np.int64),
    }
    inits += [
        helper.make_tensor(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape, v.flatten().tolist())
        for k, v in consts.items()
    ]
    nodes = [helper.make_node("Gather", ["embed", "input_ids"], ["x0"])]

    def rms(x: str, g: str, out: str) -> None:
        nodes.extend(
            [
                helper.make_node("Mul", [x, x], [out + "_sq"]),
                helper.make_node("ReduceMean", [out + "_sq", "axes_last"], [out + "_ms"], keepdims=1),
                helper.make_node("Add", [out + "_ms", "eps"], [out + "_mse"]),
                helper.make_node("Sqrt", [out + "_mse"], [out + "_rms"]),
                helper.make_node("Div", [x, out + "_rms"], [out + "_n"]),
                helper.make_node("Mul", [out + "_n", g], [out]),
            ]
        )

    x = "x0"
    for n in range(shape.layers):
        p = f"l{n}."
        rms(x, p + "attn_norm", p + "h")
        for w in ("q", "k", "v"):
            nodes.append(helper.make_node("MatMul", [p + "h", p + "w" + w], [p + w]))
            nodes.append(helper.make_node("Reshape", [p + w, "split_heads"], [p + w + "_4d"]))
        nodes += [
            helper.make_node("Transpose", [p + "q_4d"], [p + "qt"], perm=[0, 2, 1, 3]),
            helper.make_node("Transpose", [p + "k_4d"], [p + "kt"], perm=[0, 2, 3, 1]),
            helper.make_node("Transpose", [p + "v_4d"], [p + "vt"], perm=[0, 2, 1, 3]),
            helper.make_node("MatMul", [p + "qt", p + "kt"], [p + "s"]),
            helper.make_node("Mul", [p + "s", "scale"], [p + "ss"]),
            helper.make_node("Add", [p + "ss", "mask"], [p + "sm"]),
            helper.make_node("Softmax", [p + "sm"], [p + "pr"], axis=-1),
            helper.make_node("MatMul", [p + "pr", p + "vt"], [p + "ctx"]),
            helper.make_node("Transpose", [p + "ctx"], [p + "ctx_t"], perm=[0, 2, 1, 3]),
            helper.make_node("Reshape", [p + "ctx_t", "merge_heads"], [p + "ctx_m"]),
            helper.make_node("MatMul", [p + "ctx_m", p + "wo"], [p + "o"]),
            helper.make_node("Add", [x, p + "o"], [p + "x1"]),
        ]
        rms(p + "x1", p + "ffn_norm", p + "f")
        nodes += [
            helper.make_node("MatMul", [p + "f", p + "w_gate"], [p + "g"]),
            helper.make_node("Sigmoid", [p + "g"], [p + "gs"]),
            helper.make_node("Mul", [p + "g", p + "gs"], [p + "silu"]),
            helper.make_node("MatMul", [p + "f", p + "w_up"], [p + "u"]),
            helper.make_node("Mul", [p + "silu", p + "u"], [p + "a"]),
            helper.make_node("MatMul", [p + "a", p + "w_down"], [p + "d"]),
            helper.make_node("Add", [p + "x1", p + "d"], [p + "x2"]),
        ]
        x = p + "x2"
    nodes.append(helper.make_node("Slice", [x, "last_start", "last_end", "axis1"], ["x_last"]))
    rms("x_last", "final_norm", "hn")
    nodes.append(helper.make_node("MatMul", ["hn", "lm_head"], ["logits"]))
    graph = helper.make_graph(
        nodes,
        "llama",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 1, "seq", "seq"]),
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 1, shape.vocab])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    with open(path, "wb") as f:  # the weights are in the data file already: write the graph only
        f.write(model.SerializeToString())
    return path


def llama_inputs(shape: LlamaShape, batch: int, seq: int, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    mask = np.triu(np.full((seq, seq), -1e9, np.float32), k=1)[None, None]
    return {"input_ids": rng.integers(0, shape.vocab, (batch, seq), dtype=np.int64), "mask": mask}


def llama_weights(path: str | os.PathLike, shape: LlamaShape) -> dict[str, np.ndarray]:
    """The weights as arrays over the external data file (np.memmap: read as they are touched)."""
    path = Path(path)
    data = np.memmap(path.parent / (path.name + ".data"), dtype=np.uint8, mode="r")
    out, offset = {}, 0
    for name, dims in _weights(shape):
        n = 4 * int(np.prod(dims))
        out[name] = data[offset : offset + n].view(np.float32).reshape(dims)
        offset += n + (-(offset + n)) % 4096
    return out
