"""The `r1` command line.

r1 convert model.onnx -o model.r1        compile an ONNX model to a .r1 file
r1 info model.r1                         inputs, outputs, ops and the IR
r1 run model.r1 [--input name=x.npy]     run once (random inputs when none are given)
r1 bench model.r1 --runs 50 --threads 1  latency: median / p90
r1 demo                                  sentence embeddings with all-MiniLM-L6-v2, end to end
r1 optimize model.r1 --level 3 --print-ir-after all   what each compiler pass did, and the IR after it
r1 hw [--json]                           CPU features, the hardware profile row in use, tile sizes
r1 profile model.r1 --dim seq=128        kernel time per op type and the slowest nodes
r1 serve model.r1 --port 8080            KServe v2 server (or --repository repo/), dynamic batching on
r1 quantize model.onnx -o m.int8.r1      int8 weights, per-layer policy, accuracy guard (quantize/cli.py)
r1 quantize model.onnx --mode weights_only   group-wise int4 weights (decode-bound language models)
r1 sparsify model.onnx -o m.sparse.r1    2:4 sparse FFN weights by magnitude, int8, accuracy report
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from . import InferenceEngine, ModelConverter, R1Error, load_model
from .model import COMPILE_KEYS
from .quantize import cli as quantize_cli


def _random_inputs(engine: InferenceEngine, dims: dict[str, int]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    feeds = {}
    for t in engine.inputs:
        shape = []
        for d in t.shape or ():
            if isinstance(d, int):
                shape.append(d)
            else:
                shape.append(dims.get(str(d), 1))
        dt = t.numpy_dtype
        if dt.kind == "f":
            feeds[t.name] = rng.standard_normal(shape).astype(dt)
        elif dt.kind == "b":
            feeds[t.name] = rng.random(shape) > 0.5
        else:
            feeds[t.name] = rng.integers(0, 2 if ("mask" in t.name or "type" in t.name) else 100, shape).astype(dt)
    return feeds


def _parse_dims(items: list[str]) -> dict[str, int]:
    out = {}
    for it in items or []:
        k, _, v = it.partition("=")
        out[k] = int(v)
    return out


def cmd_convert(a) -> int:
    t0 = time.perf_counter()
    conv = ModelConverter(
        input_model=a.model,
        framework="onnx",
        output_path=a.output,
        target_hardware=a.target,
        precision=a.precision,
        optimization_level=a.level,
        disabled_passes=a.disable or (),
    )
    out = conv.convert()
    m = load_model(out)
    size_mb = Path(out).stat().st_size / 1e6
    print(
        f"wrote {out} ({size_mb:.1f} MB, {m.graph.num_nodes} nodes, target {conv.target_hardware}) "
        f"in {time.perf_counter() - t0:.2f} s"
    )
    return 0


def cmd_info(a) -> int:
    from .engine import _as_model

    model = _as_model(a.model)
    print(f"model: {a.model}")
    info = model.compile_info
    if info is None:
        print("compiled: no (the graph as imported: an engine runs every pass at load)")
    else:
        print(
            f"compiled: by {info.compiler}, optimization level {info.level}, target {info.target}, "
            f"precision {info.precision}"
        )
        print(f"  graph passes (ran at convert time): {', '.join(info.graph_passes) or '-'}")
        print(f"  device passes (ran at convert time): {', '.join(info.device_passes) or '- (they run at load)'}")
    for k, v in model.metadata.items():
        if k not in COMPILE_KEYS:
            print(f"  {k}: {v}")
    g = model.graph
    print("inputs:")
    for name, dtype, shape in g.inputs:
        print(f"  {name}: {dtype}{list(shape or [])}")
    print("outputs:")
    for name, dtype, shape in g.outputs:
        print(f"  {name}: {dtype}{list(shape or [])}")
    ops = Counter(g.op_types())
    print(f"ops ({sum(ops.values())} nodes): " + ", ".join(f"{k} x{v}" for k, v in ops.most_common()))
    if a.ir:
        print(g)
    return 0


def _engine(a) -> InferenceEngine:
    return InferenceEngine(
        a.model,
        device=a.device,
        num_threads=a.threads,
        optimization_level=a.level,
        precision=a.precision,
        memory_budget=a.memory_budget,
        offload_dir=a.offload_dir,
    )


def _print_tiering(engine: InferenceEngine) -> None:
    r = engine.tiering_report()
    if not r["enabled"]:
        return

    def size(n: int) -> str:
        return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"

    print(
        f"tiering: budget {', '.join(f'{k}={size(v)}' for k, v in r['budget_bytes'].items())}; "
        f"{r['resident_weights']}/{r['weights']} weights resident ({size(r['resident_weight_bytes'])}); "
        f"last run streamed {size(r['streamed_bytes_last_run'])} at {r['read_gbps']:.2f} GB/s, "
        f"stalled {r['stall_ms_last_run']:.1f} ms ({r['hidden_fraction']:.0%} of the reads hidden behind compute)"
    )


def cmd_optimize(a) -> int:
    from .compiler import optimize
    from .engine import _as_model

    after = None
    if a.print_ir_after:
        after = "all" if "all" in a.print_ir_after else a.print_ir_after
    _, report = optimize(
        _as_model(a.model), level=a.level, precision=a.precision, print_ir_after=after, disabled=a.disable or ()
    )
    print(report)
    return 0


def cmd_run(a) -> int:
    engine = _engine(a)
    feeds = _random_inputs(engine, _parse_dims(a.dim))
    for item in a.input or []:
        name, _, path = item.partition("=")
        feeds[name] = np.load(path)
    t0 = time.perf_counter()
    out = engine.run(feeds)
    ms = (time.perf_counter() - t0) * 1e3
    for k, v in out.items():
        print(f"{k}: {v.dtype}{list(v.shape)}  mean={float(np.mean(v.astype(np.float64))):.6g}")
        if a.save:
            np.save(f"{a.save}_{k}.npy", v)
    print(f"ran in {ms:.2f} ms")
    _print_tiering(engine)
    return 0


def cmd_bench(a) -> int:
    engine = _engine(a)
    feeds = _random_inputs(engine, _parse_dims(a.dim))
    for _ in range(a.warmup):
        engine.run(feeds)
    times = []
    for _ in range(a.runs):
        t0 = time.perf_counter()
        engine.run(feeds)
        times.append((time.perf_counter() - t0) * 1e3)
    t = np.array(times)
    print(
        f"{a.model}: threads={engine.num_threads} runs={a.runs} median={np.median(t):.3f} ms "
        f"p90={np.percentile(t, 90):.3f} ms min={t.min():.3f} ms"
    )
    _print_tiering(engine)
    return 0


def cmd_profile(a) -> int:
    from .profiler import profile

    engine = _engine(a)
    feeds = _random_inputs(engine, _parse_dims(a.dim))
    print(profile(engine, feeds, runs=a.runs, warmup=a.warmup))
    if a.trace:
        from .trace import write_trace

        n = write_trace(engine, feeds, a.trace)
        print(f"wrote {n} trace events to {a.trace} (chrome://tracing or ui.perfetto.dev)")
    _print_tiering(engine)
    return 0


def cmd_hw(a) -> int:
    from .hardware import format_info, hardware_info

    info = hardware_info()
    if a.json:
        import json

        print(json.dumps(info, indent=2, sort_keys=True))
    else:
        print(format_info(info))
    return 0


def cmd_demo(a) -> int:
    from .tools.demo import main as demo_main

    return demo_main(a.workdir)


def cmd_serve(a) -> int:
    from .serve import InferenceServer

    if (a.model is None) == (a.repository is None):
        raise ValueError("give a model file or --repository DIR (not both)")
    keys = None
    if a.api_key or a.api_keys_file:
        keys = {}
        for item in (a.api_key or []) + _read_key_file(a.api_keys_file):
            key, _, level = item.partition(":")
            keys[key] = level or "standard"
    server = InferenceServer(
        a.model,
        repository=a.repository,
        batch_size=a.batch_size,
        dynamic_batching=not a.no_batching,
        max_queue_delay_ms=a.max_delay_ms,
        api_keys=keys,
        host=a.host,
        precision=a.precision,
        variants=tuple(a.variant or ()),
        num_threads=a.threads,
        poll_interval_s=a.poll_s if a.poll_s > 0 else None,
        tokenizer={"file": str(Path(a.tokenizer).resolve()), "max_length": a.max_length} if a.tokenizer else None,
        device=a.device,
        fallback_device=a.fallback_device,
        memory_budget=a.memory_budget,
    )
    if a.auto_precision is not None:
        server.set_auto_precision(a.auto_precision)
    server.run(port=a.port, log_level=a.log_level)
    return 0


def _read_key_file(path: str | None) -> list[str]:
    """One `key[:priority]` a line; keys in a file stay out of `ps` output and shell history."""
    if not path:
        return []
    return [ln.strip() for ln in Path(path).read_text().splitlines() if ln.strip() and not ln.startswith("#")]


def _budget_args(p) -> None:
    p.add_argument(
        "--memory-budget",
        metavar="TIER=SIZE[,...]",
        help="e.g. cpu=2GiB (or cuda:0=8GiB,cpu=32GiB): weights that do not fit stream from the .r1 file",
    )
    p.add_argument("--offload-dir", help="where weights with no .r1 home are written first (default: temp dir)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="r1", description="deepseek_r1 inference engine")
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("convert", help="compile an ONNX model to .r1")
    c.add_argument("model")
    c.add_argument("-o", "--output")
    c.add_argument(
        "--target",
        default="cpu",
        help="cpu (portable, default), native (this CPU: weights stored packed), a CPU or GPU profile row (r1 hw)",
    )
    c.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "int8", "fp16"], help="default precision")
    c.add_argument("--level", type=int, default=3, help="graph optimization level 0-3 (default 3)")
    c.add_argument("--disable", action="append", metavar="PASS", help="skip this pass (repeatable)")
    c.set_defaults(fn=cmd_convert)
    i = sub.add_parser("info", help="describe a model")
    i.add_argument("model")
    i.add_argument("--ir", action="store_true", help="print the IR")
    i.set_defaults(fn=cmd_info)
    for name, fn in (("run", cmd_run), ("bench", cmd_bench), ("profile", cmd_profile)):
        r = sub.add_parser(name, help=f"{name} a model (.r1 or .onnx)")
        r.add_argument("model")
        r.add_argument("--threads", type=int, default=None)
        r.add_argument("--dim", action="append", help="value of a symbolic dim, e.g. batch=4")
        r.add_argument("--level", type=int, default=3, help="graph optimization level 0-3 (default 3)")
        r.add_argument(
            "--precision",
            default=None,
            choices=["fp32", "bf16", "int8", "fp16"],
            help="default: the one the .r1 was compiled with; int8 quantizes dynamically at load (CPU); fp16 "
            "needs a GPU device; on a GPU fp16/bf16 convert the whole graph",
        )
        r.add_argument("--device", default="cpu", help="cpu (default), cuda:N or hip:N (see r1.devices())")
        _budget_args(r)
        if name == "profile":
            r.add_argument("--trace", metavar="OUT.json", help="write a Chrome trace of one run: compute and I/O lanes")
        if name == "run":
            r.add_argument("--input", action="append", help="name=file.npy")
            r.add_argument("--save", help="prefix for saving outputs as .npy")
        else:
            r.add_argument("--runs", type=int, default=50 if name == "bench" else 20)
            r.add_argument("--warmup", type=int, default=5)
        r.set_defaults(fn=fn)
    o = sub.add_parser("optimize", help="run the compiler passes and report what each did")
    o.add_argument("model")
    o.add_argument("--level", type=int, default=3, help="optimization level 0-3 (default 3)")
    o.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    o.add_argument(
        "--print-ir-after", action="append", metavar="PASS", help="print the IR after this pass (repeatable), or 'all'"
    )
    o.add_argument("--disable", action="append", metavar="PASS", help="skip this pass (repeatable)")
    o.set_defaults(fn=cmd_optimize)
    h = sub.add_parser("hw", help="detected CPU features, the chosen hardware profile row and its tiles")
    h.add_argument("--json", action="store_true", help="print hardware_info() as JSON")
    h.set_defaults(fn=cmd_hw)
    d = sub.add_parser("demo", help="export all-MiniLM-L6-v2, compile it, embed sentences")
    d.add_argument("--workdir", default=None)
    d.set_defaults(fn=cmd_demo)
    s = sub.add_parser("serve", help="serve a model (or a repository) over KServe v2 HTTP")
    s.add_argument("model", nargs="?", help="a .r1 or .onnx file (or use --repository)")
    s.add_argument("--repository", help="a model repository: DIR/<model>/<version>/model.r1")
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1: loopback only)")
    s.add_argument("--batch-size", type=int, default=32, help="max batch size of the dynamic batcher")
    s.add_argument("--no-batching", action="store_true", help="run each request alone")
    s.add_argument("--max-delay-ms", type=float, default=None, help="fixed queue delay (default: adaptive)")
    s.add_argument("--threads", type=int, default=None)
    s.add_argument("--precision", default=None, choices=["fp32", "bf16", "int8"], help="default: the .r1 file's")
    s.add_argument("--variant", action="append", choices=["bf16"], help="lower-precision variant to compile")
    s.add_argument(
        "--auto-precision",
        type=float,
        default=None,
        metavar="PRESSURE",
        help="use the variant when queued requests exceed PRESSURE x batch size",
    )
    s.add_argument("--api-key", action="append", metavar="KEY[:PRIORITY]", help="require this API key")
    s.add_argument("--api-keys-file", help="file with one KEY[:PRIORITY] a line")
    s.add_argument("--poll-s", type=float, default=2.0, help="repository scan interval for hot reload (0: off)")
    s.add_argument("--tokenizer", help="tokenizer.json: the model also takes a BYTES input 'text'")
    s.add_argument("--max-length", type=int, default=512, help="token limit with --tokenizer (default 512)")
    s.add_argument("--log-level", default="warning")
    s.add_argument("--device", default="cpu", help="where the models run: cpu (default), cuda:N or hip:N")
    s.add_argument("--fallback-device", help="rerun a batch that fails with a device error here (e.g. cpu)")
    s.add_argument(
        "--memory-budget",
        metavar="TIER=SIZE[,...]",
        help="one budget for every model (e.g. cpu=8GiB): recently used models stay resident, the rest stream",
    )
    s.set_defaults(fn=cmd_serve)
    quantize_cli.add_parser(sub)
    a = p.parse_args(argv)
    try:
        return a.fn(a)
    except (R1Error, FileNotFoundError, ValueError) as e:
        print(f"r1 {a.cmd}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
