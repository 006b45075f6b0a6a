"""The engines bench/gpu.py times (deepseek_r1, torch eager / compile, onnxruntime-gpu), each behind a host-to-host
run(), and their timing: rotating rounds of wall clock, CUDA events for device-resident runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from gpu_config import TORCH_DEVICE
from gpu_helpers import maybe_traceback, rotate, short, summarize

# --------------------------------------------------------------------------------------------------
# Engines: each gives run() -> {name: np.ndarray} (host to host) and optionally device() (inputs on the card)


@dataclass
class Engine:
    name: str
    run: object = None  # () -> dict of numpy outputs, host to host, synchronous
    device: object = None  # () -> None, device-resident forward (torch peers only)
    error: str | None = None
    skipped: str | None = None
    setup_s: float | None = None
    note: str = ""
    first_out: dict | None = None
    times: list = field(default_factory=list)


def torch_dtype(precision: str):
    import torch

    return {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[precision]


def torch_callables(module, feeds: dict, precision: str, output_names, device: str | None = None):
    """(host-to-host run, device-resident run) around a torch module already on `device`."""
    import torch

    dt = torch_dtype(precision)
    dev = torch.device(device or TORCH_DEVICE)

    def to_dev(v):
        t = torch.from_numpy(v).to(dev)
        return t.to(dt) if t.is_floating_point() else t

    def as_tuple(o):
        return o if isinstance(o, (tuple, list)) else (o,)

    resident = {k: to_dev(v) for k, v in feeds.items()}

    def run():
        with torch.inference_mode():
            outs = as_tuple(module(**{k: to_dev(v) for k, v in feeds.items()}))
            host = [o.float().cpu().numpy() for o in outs]
        return dict(zip(output_names, host))

    def device():
        with torch.inference_mode():
            module(**resident)

    return run, device


def ort_status():
    """(onnxruntime module or None, why it is skipped)."""
    try:
        import onnxruntime as ort
    except Exception as e:
        return None, f"onnxruntime does not import ({short(e, 80)})"
    provs = ort.get_available_providers()
    if "CUDAExecutionProvider" not in provs:
        return None, (
            f"onnxruntime {ort.__version__} has no CUDAExecutionProvider (providers: {', '.join(provs)}); "
            f"it needs the onnxruntime-gpu package"
        )
    return ort, None


def ort_fp16_model(name: str, fp32_path: Path) -> tuple[Path, str]:
    """The fp32 export made fp16 the way onnxruntime's docs do it (its transformers optimizer's fusions for
    BERT / GPT-2, then float16 conversion with fp32 inputs and outputs kept); cached next to the fp32 file."""
    out = fp32_path.with_name("model.ort-fp16.onnx")
    how_file = fp32_path.with_name("ort-fp16.txt")
    if out.is_file() and how_file.is_file():
        return out, how_file.read_text().strip()
    model_type = {"bert-base": "bert", "gpt2": "gpt2"}.get(name)
    how, failed = None, ""
    if model_type:
        try:
            from onnxruntime.transformers import optimizer

            m = optimizer.optimize_model(str(fp32_path), model_type=model_type, opt_level=0, use_gpu=True)
            fused = {k: v for k, v in m.get_fused_operator_statistics().items() if v}
            m.convert_float_to_float16(keep_io_types=True)
            m.save_model_to_file(str(out))
            how = (
                f"onnxruntime.transformers optimize_model(model_type={model_type!r}, opt_level=0, use_gpu=True) "
                f"(fused: {fused or 'none'}), then convert_float_to_float16(keep_io_types=True)"
            )
        except Exception as e:
            maybe_traceback()
            failed = f"optimize_model failed ({short(e, 80)}); "
    if how is None:
        import onnx
        from onnxruntime.transformers.float16 import convert_float_to_float16

        model = convert_float_to_float16(onnx.load(str(fp32_path)), keep_io_types=True)
        onnx.save(model, str(out))
        how = failed + "onnxruntime.transformers.float16.convert_float_to_float16(keep_io_types=True)"
    how_file.write_text(how + "\n")
    return out, how


def ort_engine(ort, path: Path, feeds: dict, precision: str) -> Engine:
    import numpy as np

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    sess = ort.InferenceSession(
        str(path), so, providers=[("CUDAExecutionProvider", {"device_id": 0}), "CPUExecutionProvider"]
    )
    if sess.get_providers()[0] != "CUDAExecutionProvider":
        raise RuntimeError(
            f"onnxruntime fell back to {sess.get_providers()}: the CUDA provider did not load "
            f"(its CUDA / cuDNN libraries?)"
        )
    casts = {"tensor(float16)": np.float16, "tensor(float)": np.float32}
    ins = {}
    for i in sess.get_inputs():
        v = feeds[i.name]
        if v.dtype.kind == "f":
            if i.type not in casts:
                raise RuntimeError(f"input {i.name} is {i.type}: onnxruntime's numpy API cannot feed it")
            v = v.astype(casts[i.type])
        ins[i.name] = v
    names = [o.name for o in sess.get_outputs()]

    def run():
        return dict(zip(names, sess.run(None, ins)))

    return Engine("ort-cuda", run=run, note=f"{precision} conversion of the fp32 export")


def placement(eng) -> dict | None:
    """Where the engine runs its nodes ({'device': n, 'cpu': m, 'cpu_ops': {...}}), when the engine says."""
    try:
        return dict(eng.placement)
    except Exception:
        return None


def r1_engine(r1, model, feeds: dict, device: str, precision: str) -> tuple[Engine, object]:
    eng = r1.InferenceEngine(model, device=device, precision=precision)
    ins = {t.name: feeds[t.name] for t in eng.inputs}

    def run():  # the arrays view the engine's memory: copied only where they are kept (first_out)
        return eng.run(ins)

    return Engine("r1", run=run), eng


# --------------------------------------------------------------------------------------------------
# Timing


def time_host(engines: list[Engine], iters: int, warmup: int, rounds: int, sync) -> None:
    """Wall-clock ms per run of each engine's run(), after warm-up; rounds rotate the engine order so that
    a drift of the card's clocks falls on every engine alike. A failing engine gets .error and drops out."""
    live = [e for e in engines if e.run and not e.error and not e.skipped]
    for e in live:
        try:
            for _ in range(warmup):
                e.run()
            sync()
        except Exception as ex:
            maybe_traceback()
            e.error = f"warm-up: {short(ex)}"
    rounds = max(1, min(rounds, iters))
    per = -(-iters // rounds)
    for r in range(rounds):
        n = min(per, iters - r * per)
        if n <= 0:
            break
        for e in rotate([e for e in live if not e.error], r):
            try:
                e.run()  # one untimed run per round
                sync()
                for _ in range(n):
                    t0 = time.perf_counter()
                    e.run()
                    sync()
                    e.times.append((time.perf_counter() - t0) * 1e3)
            except Exception as ex:
                maybe_traceback()
                e.error = f"run: {short(ex)}"


def time_device(fn, iters: int, warmup: int) -> list[float]:
    """ms per call from CUDA events around each call (work already on the card)."""
    import torch

    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    ev = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(iters)]
    for a, b in ev:
        a.record()
        fn()
        b.record()
    torch.cuda.synchronize()
    return [a.elapsed_time(b) for a, b in ev]


def result(e: Engine) -> dict:
    r = {"engine": e.name, "note": e.note}
    if e.setup_s is not None:
        r["setup_s"] = e.setup_s
    if e.skipped:
        r["skipped"] = e.skipped
    elif e.error:
        r["error"] = e.error
    else:
        r.update(summarize(e.times))
        r["times_ms"] = [round(t, 4) for t in e.times]
    return r
