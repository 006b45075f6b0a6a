"""bench/gpu.py's model section: each model exported once, checked against an fp32 CPU reference and timed
against the torch and onnxruntime peers, per precision and batch size.
"""

from __future__ import annotations

import copy
import time

from gpu_config import MODELS, TORCH_DEVICE
from gpu_engines import (
    Engine,
    ort_engine,
    ort_fp16_model,
    placement,
    r1_engine,
    result,
    time_device,
    time_host,
    torch_callables,
    torch_dtype,
)
from gpu_helpers import batches_for, fmt_err, latency_cell, log, max_rel_err, maybe_traceback, short, summarize
from gpu_models import build_model, export_onnx, make_feeds
from gpu_report import write_report

# --------------------------------------------------------------------------------------------------
# Models


def bench_model(name: str, a, ctx: dict, out_rows: list, notes: list) -> None:
    import numpy as np
    import torch

    r1, r1_why = ctx["r1"], ctx["r1_error"]
    d = MODELS[name]
    log(f"== {name}: building and exporting")
    try:
        module, src = build_model(name)
        # a padded example, so that the exported graph keeps the mask path a deployed model needs
        example = {k: torch.from_numpy(v) for k, v in make_feeds(name, 2, padded=True).items()}
        onnx_path, how = export_onnx(name, module, src, "fp32", example, ctx["cache"])
        notes.append(f"{name}: {src}; ONNX: {how} ({onnx_path})")
    except Exception as e:
        maybe_traceback()
        for b in batches_for(name, a.batch):
            for p in a.precisions:
                out_rows.append({"model": name, "batch": b, "precision": p, "setup_error": short(e)})
        return

    r1_model, r1_model_err = None, r1_why
    if r1 is not None:
        try:
            r1_model = r1.Model(r1.load_onnx(str(onnx_path)))
        except Exception as e:
            maybe_traceback()
            r1_model_err = f"load_onnx: {short(e)}"

    # The fp32 CPU reference: deepseek_r1's own, else torch's (said so in the row).
    refs = {}
    for b in batches_for(name, a.batch):
        feeds = make_feeds(name, b, seed=b)
        ref, ref_src = None, None
        if r1_model is not None:
            try:
                eng = r1.InferenceEngine(r1_model, device="cpu", precision="fp32")
                ref = {
                    k: np.array(v, dtype=np.float32)
                    for k, v in eng.run({t.name: feeds[t.name] for t in eng.inputs}).items()
                }
                ref_src = "r1 fp32 CPU"
                del eng
            except Exception as e:
                maybe_traceback()
                ref_src = f"torch fp32 CPU (r1 fp32 CPU failed: {short(e, 80)})"
        if ref is None:
            with torch.inference_mode():
                outs = module(**{k: torch.from_numpy(v) for k, v in feeds.items()})
            outs = outs if isinstance(outs, (tuple, list)) else (outs,)
            ref = {n: o.float().numpy() for n, o in zip(d.outputs, outs)}
            ref_src = ref_src or f"torch fp32 CPU ({r1_model_err})"
        refs[b] = (feeds, ref, ref_src)

    ort, ort_why = ctx["ort"] if "ort" in a.peers and not a.skip_peers else (None, "not asked for")
    ort_hows: list[str] = []
    for p in a.precisions:
        dt = torch_dtype(p)
        gpu_module = None
        compiled = None
        compile_err = None
        ort_path, ort_err = None, None
        if not a.skip_peers:
            gpu_module = copy.deepcopy(module).to(TORCH_DEVICE, dt).eval()
            if "compile" in a.peers:
                try:
                    kw = {} if a.compile_mode == "default" else {"mode": a.compile_mode}
                    compiled = torch.compile(gpu_module, dynamic=False, **kw)
                except Exception as e:
                    maybe_traceback()
                    compile_err = f"torch.compile: {short(e)}"
            if ort is not None and p == "fp16":
                try:
                    ort_path, how = ort_fp16_model(name, onnx_path)
                    if how not in ort_hows:
                        ort_hows.append(how)
                        notes.append(f"{name} ort-cuda: {how}")
                except Exception as e:
                    maybe_traceback()
                    ort_err = f"fp16 conversion: {short(e)}"
        for b in batches_for(name, a.batch):
            feeds, ref, ref_src = refs[b]
            engines: list[Engine] = []
            eng = None
            r1_graph_attn = r1_place = None
            # ours
            if r1_model is None:
                engines.append(Engine("r1", error=r1_model_err))
            else:
                t0 = time.perf_counter()
                try:
                    e, eng = r1_engine(r1, r1_model, feeds, a.device, p)
                    e.setup_s = time.perf_counter() - t0
                    try:
                        r1_graph_attn = list(eng.graph.op_types()).count("Attention")
                    except Exception:
                        r1_graph_attn = None
                    r1_place = placement(eng)
                    if r1_place and r1_place.get("cpu"):
                        total = r1_place["cpu"] + r1_place.get("device", 0)
                        msg = (
                            f"{name} b{b} {p}: r1 runs {r1_place['cpu']} of {total} nodes on the CPU: "
                            f"{r1_place.get('cpu_ops')}"
                        )
                        log("   " + msg)
                        notes.append(msg)
                    engines.append(e)
                except Exception as ex:
                    maybe_traceback()
                    engines.append(Engine("r1", error=f"InferenceEngine({a.device}, {p}): {short(ex)}"))
            # peers
            dev_fns = {}
            if a.skip_peers:
                pass
            else:
                if "eager" in a.peers:
                    run, dev = torch_callables(gpu_module, feeds, p, d.outputs)
                    engines.append(Engine("torch-eager", run=run))
                    dev_fns["torch-eager"] = dev
                if "compile" in a.peers:
                    if compiled is None:
                        engines.append(Engine("torch-compile", error=compile_err or "not compiled"))
                    else:
                        run, dev = torch_callables(compiled, feeds, p, d.outputs)
                        e = Engine("torch-compile", run=run, note=f"mode={a.compile_mode}")
                        t0 = time.perf_counter()
                        try:
                            run()  # compiles for this shape
                            torch.cuda.synchronize()
                            e.setup_s = time.perf_counter() - t0
                            dev_fns["torch-compile"] = dev
                        except Exception as ex:
                            maybe_traceback()
                            e.error = f"torch.compile: {short(ex)}"
                        engines.append(e)
                if "ort" in a.peers:
                    if ort is None:
                        engines.append(Engine("ort-cuda", skipped=ort_why))
                    elif p != "fp16":
                        why = (
                            f"ort-cuda runs fp16 only: onnxruntime has no {p} converter for ONNX models "
                            f"(its transformers tools convert to fp16)"
                        )
                        if why not in ctx["skips"]:
                            ctx["skips"].append(why)
                        engines.append(Engine("ort-cuda", skipped=why))
                    elif ort_err or ort_path is None:
                        engines.append(Engine("ort-cuda", error=ort_err or "no export"))
                    else:
                        t0 = time.perf_counter()
                        try:
                            e = ort_engine(ort, ort_path, feeds, p)
                            e.setup_s = time.perf_counter() - t0
                            engines.append(e)
                        except Exception as ex:
                            maybe_traceback()
                            engines.append(Engine("ort-cuda", error=short(ex)))
            # one run each for the accuracy check (outputs kept), then the timed rounds
            for e in engines:
                if e.run and not e.error:
                    try:
                        e.first_out = {k: np.array(v, copy=True) for k, v in e.run().items()}
                    except Exception as ex:
                        maybe_traceback()
                        e.error = f"first run: {short(ex)}"
            time_host(engines, a.iters, a.warmup, a.rounds, torch.cuda.synchronize)
            row = {
                "model": name,
                "batch": b,
                "precision": p,
                "reference": ref_src,
                "r1_attention_nodes": r1_graph_attn,
                "r1_cpu_nodes": (r1_place or {}).get("cpu"),
                "engines": {},
                "device_only": {},
                "max_rel_err": {},
            }
            for e in engines:
                row["engines"][e.name] = result(e)
                if e.first_out is not None:
                    row["max_rel_err"][e.name] = max_rel_err(e.first_out, ref)
            for en, fn in dev_fns.items():
                if row["engines"].get(en, {}).get("error"):
                    continue
                try:
                    st = summarize(time_device(fn, a.iters, a.warmup))
                    row["device_only"][en] = st
                except Exception as ex:
                    maybe_traceback()
                    row["device_only"][en] = {"error": short(ex)}
            out_rows.append(row)
            _print_row(row)
            del engines, eng, dev_fns
            e = run = dev = None
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
            if a.out:
                write_report(a, ctx, out_rows, ctx.get("micro_rows", []), notes, partial=True)
        del gpu_module, compiled
        torch.cuda.empty_cache()


def _print_row(row: dict) -> None:
    for en, r in row["engines"].items():
        err = row["max_rel_err"].get(en)
        dev = row["device_only"].get(en, {})
        log(
            f"   {row['model']:<10} b{row['batch']:<3} {row['precision']:<5} {en:<14} {latency_cell(r):>24} ms"
            + (f"   device-only {dev['median_ms']:.3f} ms" if dev.get("median_ms") else "")
            + (f"   max rel err {fmt_err(err)}" if err is not None else "")
            + (f"   setup {r['setup_s']:.1f} s" if r.get("setup_s") is not None else "")
        )
