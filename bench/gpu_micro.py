"""bench/gpu.py's micro section: the card's measured matmul peak, our GEMM and our fused attention (one-node and chained
ONNX models, per-op time by difference), torch SDPA as the peer.
"""

from __future__ import annotations

import functools
import math

from gpu_config import ATTN_HEAD_DIM, ATTN_HEADS, ATTN_SEQS, ATTN_TOKENS, GEMM_N, MATMUL_PEAK_N, TORCH_DEVICE
from gpu_engines import Engine, placement, result, time_device, time_host, torch_dtype
from gpu_helpers import (
    attention_flops,
    chain_per_op_ms,
    fmt,
    fmt_err,
    log,
    matmul_flops,
    max_rel_err,
    maybe_traceback,
    short,
    summarize,
    tflops,
)

# --------------------------------------------------------------------------------------------------
# Micro: matmul peak, our GEMM, our fused attention


def gemm_model(n: int, chain: int, rng):
    """x [n, n] -> `chain` MatMuls with one shared fp32 initializer W (scaled so that values stay O(1)).
    Typed fp32 like the exported models: the engine's `precision` picks the arithmetic. Returns (model, W)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    f = TensorProto.FLOAT
    w = (rng.standard_normal((n, n)) / math.sqrt(n)).astype(np.float32)
    nodes, prev = [], "x"
    for i in range(chain):
        out = "y" if i == chain - 1 else f"h{i}"
        nodes.append(helper.make_node("MatMul", [prev, "w"], [out], name=f"matmul{i}"))
        prev = out
    g = helper.make_graph(
        nodes,
        f"gemm{chain}",
        [helper.make_tensor_value_info("x", f, [n, n])],
        [helper.make_tensor_value_info("y", f, [n, n])],
        [numpy_helper.from_array(w, "w")],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), w


def attention_model(batch: int, heads: int, seq: int, dim: int, chain: int, rng):
    """q [b, h, s, d] -> `chain` x (MatMul(q, Kt) -> Mul(1/sqrt(d)) -> Softmax -> MatMul(V)): the subgraph
    the exporters write for scaled dot-product attention, K given transposed as BERT's export has it; Kt and
    V are fp32 initializers; each block's output is the next block's q. Returns (model, Kt, V)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    f = TensorProto.FLOAT
    kt = rng.standard_normal((batch, heads, dim, seq)).astype(np.float32)
    v = rng.standard_normal((batch, heads, seq, dim)).astype(np.float32)
    nodes, prev = [], "q"
    for i in range(chain):
        out = "o" if i == chain - 1 else f"o{i}"
        nodes += [
            helper.make_node("MatMul", [prev, "kt"], [f"s{i}"], name=f"qk{i}"),
            helper.make_node("Mul", [f"s{i}", "scale"], [f"ss{i}"], name=f"scale{i}"),
            helper.make_node("Softmax", [f"ss{i}"], [f"p{i}"], axis=-1, name=f"softmax{i}"),
            helper.make_node("MatMul", [f"p{i}", "v"], [out], name=f"pv{i}"),
        ]
        prev = out
    shape = [batch, heads, seq, dim]
    inits = [
        numpy_helper.from_array(kt, "kt"),
        numpy_helper.from_array(v, "v"),
        helper.make_tensor("scale", f, [], [1.0 / math.sqrt(dim)]),
    ]
    g = helper.make_graph(
        nodes,
        f"attention{chain}",
        [helper.make_tensor_value_info("q", f, shape)],
        [helper.make_tensor_value_info("o", f, shape)],
        inits,
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), kt, v


def _time_r1(eng, feeds, a) -> dict:
    import torch

    e = Engine("r1", run=lambda: eng.run(feeds))
    time_host([e], a.iters, a.warmup, a.rounds, torch.cuda.synchronize)
    return result(e)


def _r1_chain(r1, build, feeds: dict, a, p: str, check=None) -> dict:
    """Times the 1-op and the a.chain-op models; {t: {chain: median ms}, ops: {chain: op types}, err: ...}."""
    import numpy as np

    out = {"t": {}, "ops": {}, "err": None}
    for c in (1, a.chain):
        proto = build(c)
        eng = r1.InferenceEngine(r1.Model(r1.load_onnx(proto)), device=a.device, precision=p)
        out["ops"][c] = list(eng.graph.op_types())
        where = placement(eng)
        if where and where.get("cpu"):
            out.setdefault("cpu", {})[c] = where.get("cpu_ops")
        if c == 1 and check is not None:
            got = {k: np.array(v, dtype=np.float32) for k, v in eng.run(feeds).items()}
            out["err"] = max_rel_err(got, check(proto))
        st = _time_r1(eng, feeds, a)
        if st.get("error"):
            raise RuntimeError(st["error"])
        out["t"][c] = st["median_ms"]
        del eng
    return out


def _warn_cpu_fallback(res: dict, what: str, notes: list) -> None:
    for c, ops in (res.get("cpu") or {}).items():
        msg = f"WARNING: {what}, chain {c}: r1 ran nodes on the CPU ({ops}); its times include that"
        log(msg)
        notes.append(msg)


def bench_micro(a, ctx: dict, rows: list, notes: list) -> None:
    import numpy as np
    import torch
    import torch.nn.functional as F

    r1 = ctx["r1"]
    rng = np.random.default_rng(0)
    peaks = {}
    log("== micro")
    for p in a.precisions:
        dt = torch_dtype(p)
        # the card's measured dense peak (random data, never zeros), and torch at our GEMM's size
        for n, what in ((MATMUL_PEAK_N, "torch matmul (measured peak)"), (GEMM_N, "torch matmul")):
            try:
                x = torch.randn(n, n, device=TORCH_DEVICE, dtype=dt)
                y = torch.randn(n, n, device=TORCH_DEVICE, dtype=dt)
                z = torch.empty(n, n, device=TORCH_DEVICE, dtype=dt)
                st = summarize(
                    time_device(functools.partial(torch.matmul, x, y, out=z), max(a.iters, 10), max(a.warmup, 3))
                )
                tf = tflops(matmul_flops(n, n, n), st["median_ms"])
                if n == MATMUL_PEAK_N:
                    peaks[p] = tf
                rows.append(
                    dict(
                        what=what,
                        shape=f"{n}^3",
                        precision=p,
                        ms=st["median_ms"],
                        tflops=tf,
                        frac=(tf / peaks[p]) if peaks.get(p) and tf else None,
                        how="device, CUDA events",
                    )
                )
                del x, y, z
            except Exception as e:
                maybe_traceback()
                rows.append(dict(what=what, shape=f"{n}^3", precision=p, error=short(e)))
        torch.cuda.empty_cache()
        peak = peaks.get(p)

        def frac(tf, peak=peak):
            return tf / peak if tf and peak else None

        # our GEMM: one node (host to host) and a chain (per-GEMM device time by difference)
        n = GEMM_N
        if r1 is None:
            rows.append(dict(what="r1 MatMul", shape=f"{n}^3", precision=p, error=ctx["r1_error"]))
        else:
            try:
                x = rng.standard_normal((n, n)).astype(np.float32)
                wseed = int(rng.integers(1 << 31))

                def check(proto, x=x):  # fp32 on the card, TF32 off
                    from onnx import numpy_helper

                    w = numpy_helper.to_array(proto.graph.initializer[0])
                    y = torch.from_numpy(x).to(TORCH_DEVICE) @ torch.from_numpy(w).to(TORCH_DEVICE)
                    return {"y": y.cpu().numpy()}

                def build(c, n=n, seed=wseed):  # the same W for both chain lengths
                    return gemm_model(n, c, np.random.default_rng(seed))[0]

                res = _r1_chain(r1, build, {"x": x}, a, p, check)
                _warn_cpu_fallback(res, f"r1 MatMul {n}^3 {p}", notes)
                t = res["t"]
                tf1 = tflops(matmul_flops(n, n, n), t[1])
                rows.append(
                    dict(
                        what="r1 MatMul, one node",
                        shape=f"{n}^3",
                        precision=p,
                        ms=t[1],
                        tflops=tf1,
                        frac=frac(tf1),
                        err=res["err"],
                        how="host to host (fp32 copies in and out included)",
                    )
                )
                per = chain_per_op_ms(t[1], t[a.chain], a.chain)
                tfc = tflops(matmul_flops(n, n, n), per)
                rows.append(
                    dict(
                        what="r1 MatMul, per GEMM",
                        shape=f"{n}^3",
                        precision=p,
                        ms=per,
                        tflops=tfc,
                        frac=frac(tfc),
                        how=f"(t(chain of {a.chain}) - t(1)) / {a.chain - 1}",
                    )
                )
                notes.append(f"micro r1 MatMul {p}: compiled ops {sorted(set(res['ops'][1]))}")
            except Exception as e:
                maybe_traceback()
                rows.append(dict(what="r1 MatMul", shape=f"{n}^3", precision=p, error=short(e)))

        # attention: torch SDPA (the peer) and ours through the MatMul-Softmax-MatMul subgraph it should fuse
        for s in ATTN_SEQS:
            b, h, dd = max(1, ATTN_TOKENS // s), ATTN_HEADS, ATTN_HEAD_DIM
            shape = f"b{b} h{h} s{s} d{dd}"
            fl = attention_flops(b, h, s, s, dd)
            try:
                q, k, v = (torch.randn(b, h, s, dd, device=TORCH_DEVICE, dtype=dt) for _ in range(3))
                st = summarize(
                    time_device(
                        functools.partial(F.scaled_dot_product_attention, q, k, v), max(a.iters, 10), max(a.warmup, 3)
                    )
                )
                tf = tflops(fl, st["median_ms"])
                rows.append(
                    dict(
                        what="torch SDPA",
                        shape=shape,
                        precision=p,
                        ms=st["median_ms"],
                        tflops=tf,
                        frac=frac(tf),
                        how="device, CUDA events",
                    )
                )
                del q, k, v
                torch.cuda.empty_cache()
            except Exception as e:
                maybe_traceback()
                rows.append(dict(what="torch SDPA", shape=shape, precision=p, error=short(e)))
            if r1 is None:
                rows.append(dict(what="r1 attention", shape=shape, precision=p, error=ctx["r1_error"]))
                continue
            try:
                qn = rng.standard_normal((b, h, s, dd)).astype(np.float32)
                aseed = int(rng.integers(1 << 31))

                def check(proto, qn=qn):  # fp32 SDPA on the card
                    from onnx import numpy_helper

                    init = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
                    kt, vv = (torch.from_numpy(init[n]).to(TORCH_DEVICE) for n in ("kt", "v"))
                    o = F.scaled_dot_product_attention(torch.from_numpy(qn).to(TORCH_DEVICE), kt.transpose(-1, -2), vv)
                    return {"o": o.cpu().numpy()}

                def build(c, dims=(b, h, s, dd), seed=aseed):  # the same Kt, V for both chain lengths
                    return attention_model(*dims, c, np.random.default_rng(seed))[0]

                res = _r1_chain(r1, build, {"q": qn}, a, p, check)
                _warn_cpu_fallback(res, f"r1 attention {shape} {p}", notes)
                for c, ops in res["ops"].items():
                    if ops.count("Attention") != c:
                        msg = (
                            f"WARNING: r1 attention {shape} {p}, chain {c}: the compiled graph has "
                            f"{ops.count('Attention')} Attention node(s) for {c} block(s) "
                            f"(ops: {sorted(set(ops))}); the attention fusion did not fire, so these numbers "
                            f"time the unfused graph"
                        )
                        log(msg)
                        notes.append(msg)
                tag = "" if res["ops"][1].count("Attention") == 1 else " (NOT fused)"
                t = res["t"]
                tf1 = tflops(fl, t[1])
                rows.append(
                    dict(
                        what="r1 attention, one block" + tag,
                        shape=shape,
                        precision=p,
                        ms=t[1],
                        tflops=tf1,
                        frac=frac(tf1),
                        err=res["err"],
                        how="host to host (fp32 copies in and out included)",
                    )
                )
                per = chain_per_op_ms(t[1], t[a.chain], a.chain)
                tfc = tflops(fl, per)
                rows.append(
                    dict(
                        what="r1 attention, per block" + tag,
                        shape=shape,
                        precision=p,
                        ms=per,
                        tflops=tfc,
                        frac=frac(tfc),
                        how=f"(t(chain of {a.chain}) - t(1)) / {a.chain - 1}",
                    )
                )
            except Exception as e:
                maybe_traceback()
                rows.append(dict(what="r1 attention", shape=shape, precision=p, error=short(e)))
        for r in rows:
            if r.get("precision") != p:
                continue
            if r.get("error"):
                log(f"   {r['what']:<34} {r['shape']:<20} {p:<5} error: {r['error']}")
            else:
                log(
                    f"   {r['what']:<34} {r['shape']:<20} {p:<5} {fmt(r.get('ms'), '.3f'):>9} ms "
                    f"{fmt(r.get('tflops'), '.1f'):>7} TFLOP/s  {fmt(r.get('frac'), '.2f')} of peak"
                    + (f"  max rel err {fmt_err(r['err'])}" if r.get("err") is not None else "")
                )
