"""Which precision each layer of a compiled graph gets: the layer kinds a policy names, and the decision.

    kinds = classify(graph.nodes())            # {"/layer.0/attention/self/query/MatMul_fused": "attention", ...}
    choices = decide(graph.nodes(), policy={"attention": "bf16", "ffn": "int8", "default": "fp32"})
    choices["/layer.0/intermediate/dense/MatMul_fused"]   # Choice("int8", reason="policy 'ffn'", kind="ffn")

A layer is a node whose compute precision can be chosen: r1::FusedMatMul, r1::Attention and r1::FusedConv
(and plain Conv with a constant weight, which compiles to FusedConv when it is not fp32). Kinds, found from
the graph's structure (not from names, which differ between exporters):
  attention  the attention core (r1::Attention, or a MatMul of two activations / Softmax where attention
             was not fused) and the products that feed it (Q, K, V) or read it (the output projection)
  ffn        feed-forward products: one with an activation epilogue (the up projection), its gated twin
             (SwiGLU's up, multiplied with the activated gate) and the product reading them (down)
  conv       convolutions
  embedding  a Gather of a constant float table of at least 64k values (stored int8 per row)
  matmul     any other product with a constant weight (poolers, heads)
Policy keys are these kinds, "matmul" (every product with a constant weight), "default", or globs over node
names ("*layer.5*"); a glob beats a kind, a kind beats "matmul", "matmul" beats "default".
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

PRECISIONS = ("fp32", "bf16", "int8", "int4")  # int4: group-wise weights (mode="weights_only")
KINDS = ("attention", "ffn", "conv", "matmul", "embedding")
# Ops data flows through between a product and the attention core or the next product (reshapes into
# heads, splits of a fused QKV, scaling, rotary embeddings, gating).
_THROUGH = {
    "Reshape", "Transpose", "Split", "Squeeze", "Unsqueeze", "Slice", "Concat", "Identity", "Cast", "Gather",
    "Mul", "Div", "Add", "Sub", "Neg", "Expand", "Flatten", "RotaryEmbedding", "Where", "IsNaN",
}  # fmt: skip
_MAX_HOPS = 6
EMBEDDING_MIN_ELEMS = 1 << 16  # precision.cc kMinTableElems: smaller tables stay fp32


@dataclass(frozen=True)
class Choice:
    precision: str
    reason: str
    kind: str = ""  # the layer's kind (classify)


def _is_product(n: dict) -> bool:
    return n["domain"] == "r1" and n["op"] == "FusedMatMul" and len(n["constant"]) > 1 and n["constant"][1]


def _is_attention_core(n: dict) -> bool:
    if n["domain"] == "r1" and n["op"] == "Attention":
        return True
    if n["domain"] in ("", "ai.onnx") and n["op"] == "Softmax":
        return True
    # Q @ K^T or P @ V where attention was not fused: a product of two activations.
    return n["op"] in ("MatMul", "FusedMatMul") and len(n["constant"]) > 1 and not any(n["constant"][:2])


def _is_embedding(n: dict) -> bool:
    """A Gather of a constant table (the precision pass stores large ones int8: at least 64k values)."""
    elems = n.get("float_elems") or [0]
    return n["domain"] in ("", "ai.onnx") and n["op"] == "Gather" and elems[0] >= EMBEDDING_MIN_ELEMS


def is_layer(n: dict) -> bool:
    if _is_product(n) or _is_embedding(n) or (n["domain"] == "r1" and n["op"] in ("Attention", "FusedConv")):
        return True
    return n["domain"] in ("", "ai.onnx") and n["op"] == "Conv" and len(n["constant"]) > 1 and n["constant"][1]


def classify(nodes: Iterable[dict]) -> dict[str, str]:
    """Kind of every layer, by node name."""
    nodes = list(nodes)
    producer = {o: n for n in nodes for o in n["outputs"] if o}
    consumers: dict[str, list[dict]] = {}
    for n in nodes:
        for i in n["inputs"]:
            if i:
                consumers.setdefault(i, []).append(n)

    def upstream(n: dict, want) -> bool:
        """A node satisfying `want` feeds n's activation input through pass-through ops."""
        frontier, seen = [v for v, c in zip(n["inputs"], n["constant"]) if v and not c], set()
        for _ in range(_MAX_HOPS):
            nxt = []
            for v in frontier:
                p = producer.get(v)
                if p is None or p["name"] in seen:
                    continue
                seen.add(p["name"])
                if want(p):
                    return True
                if p["op"] in _THROUGH:
                    nxt += [x for x, c in zip(p["inputs"], p["constant"]) if x and not c]
            frontier = nxt
        return False

    def downstream(n: dict, want) -> bool:
        frontier, seen = [o for o in n["outputs"] if o], set()
        for _ in range(_MAX_HOPS):
            nxt = []
            for v in frontier:
                for c in consumers.get(v, []):
                    if c["name"] in seen:
                        continue
                    seen.add(c["name"])
                    if want(c):
                        return True
                    if c["op"] in _THROUGH:
                        nxt += [o for o in c["outputs"] if o]
            frontier = nxt
        return False

    activated = lambda p: _is_product(p) and p["activation"] != ""
    kinds: dict[str, str] = {}
    for n in nodes:
        if not is_layer(n):
            continue
        if n["op"] in ("FusedConv", "Conv"):
            kinds[n["name"]] = "conv"
        elif _is_embedding(n):
            kinds[n["name"]] = "embedding"
        elif n["op"] == "Attention":
            kinds[n["name"]] = "attention"
        elif upstream(n, _is_attention_core) or downstream(n, _is_attention_core):
            kinds[n["name"]] = "attention"
        elif activated(n) or upstream(n, activated) or _gated_twin(n, consumers, producer):
            kinds[n["name"]] = "ffn"
        else:
            kinds[n["name"]] = "matmul"
    return kinds


def _gated_twin(n: dict, consumers: dict, producer: dict) -> bool:
    """SwiGLU's plain up projection: multiplied with an activated product (or an activation of one)."""
    for c in consumers.get(n["outputs"][0], []):
        if c["op"] != "Mul":
            continue
        for other in c["inputs"]:
            p = producer.get(other)
            if p is None or p is n:
                continue
            if _is_product(p) and p["activation"]:
                return True
            if p["op"] in ("Sigmoid", "Silu", "Gelu", "Relu", "Swish") and (q := producer.get(p["inputs"][0])):
                if _is_product(q):
                    return True
    return False


def check_policy(policy: Mapping[str, str] | None) -> dict[str, str]:
    policy = dict(policy or {})
    for key, value in policy.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"policy keys must be layer kinds or node-name globs, got {key!r}")
        if value not in PRECISIONS:
            raise ValueError(f"policy[{key!r}] must be one of {PRECISIONS}, got {value!r}")
    return policy


def decide(
    nodes: Iterable[dict], policy: Mapping[str, str] | None, exclude: Iterable[str] = (), default: str = "int8"
) -> dict[str, Choice]:
    """The precision of every layer: exclude (kinds or globs: fp32) > name globs > kinds > matmul > default.
    int8 only where the layer computes with a constant weight (products); elsewhere it falls to fp32."""
    nodes = list(nodes)
    policy = check_policy(policy)
    kinds = classify(nodes)
    globs = {k: v for k, v in policy.items() if k not in KINDS and k != "default"}
    base = policy.get("default", default)
    exclude = list(exclude)
    out: dict[str, Choice] = {}
    for n in nodes:
        name = n["name"]
        if name not in kinds:
            continue
        kind = kinds[name]
        if any(e == kind or fnmatch.fnmatchcase(name, e) for e in exclude):
            out[name] = Choice("fp32", "excluded", kind)
            continue
        hit = next((g for g in globs if fnmatch.fnmatchcase(name, g)), None)
        if hit is not None:
            precision, reason = globs[hit], f"policy {hit!r}"
        elif kind in policy:
            precision, reason = policy[kind], f"policy {kind!r}"
        elif kind != "conv" and _is_product(n) and "matmul" in policy:
            precision, reason = policy["matmul"], "policy 'matmul'"
        else:
            precision, reason = base, "default"
        if precision == "int8" and n["op"] == "Attention":
            precision, reason = "bf16", reason + "; the attention core runs bf16 under int8"
        elif precision == "int8" and not (_is_product(n) or kind in ("conv", "embedding")):
            precision, reason = "fp32", reason + "; int8 needs a constant weight"
        elif precision == "int4" and not (_is_product(n) or kind == "embedding"):
            precision, reason = "fp32", reason + "; int4 is for the weights of products"
        out[name] = Choice(precision, reason, kind)
    return out


def as_overrides(choices: Mapping[str, Choice]) -> list[tuple[str, str]]:
    """(exact-name glob, precision) per layer, for the precision pass (glob characters escaped)."""
    return [(_escape(name), c.precision) for name, c in choices.items()]


def _escape(name: str) -> str:
    return "".join(f"[{ch}]" if ch in "*?[" else ch for ch in name)
