"""bench/gpu.py's report: versions, the latency / accuracy and micro tables, the markdown report and its JSON."""

from __future__ import annotations

import json
import platform
from pathlib import Path

from gpu_config import FP16_TARGET, MATMUL_PEAK_N, MODELS
from gpu_helpers import fmt, fmt_err, latency_cell, md_table, ratio, short, throughput

# --------------------------------------------------------------------------------------------------
# Report


def versions(r1) -> dict:
    v = {"python": platform.python_version()}
    for mod in ("numpy", "torch", "triton", "transformers", "torchvision", "onnx", "onnxruntime"):
        try:
            m = __import__(mod)
            v[mod] = getattr(m, "__version__", "?")
        except Exception as e:
            v[mod] = f"unavailable ({type(e).__name__})"
    try:
        import torch

        v["torch CUDA"] = str(torch.version.cuda)
        v["cuDNN"] = str(torch.backends.cudnn.version())
    except Exception:
        pass
    if r1 is not None:
        v["deepseek_r1"] = f"{getattr(r1, '__version__', '?')} ({Path(r1.__file__).parent})"
    else:
        v["deepseek_r1"] = "unavailable"
    return v


def model_tables(rows: list, peers_present: list) -> list[str]:
    """Latency table (host to host), then device-resident peers and accuracy."""
    engines = ["r1"] + peers_present
    head = (
        ["model", "batch", "precision"]
        + [f"{e} ms (median / p90)" for e in engines]
        + ["r1 samples/s"]
        + [f"r1 / {e}" for e in peers_present]
    )
    lat, acc = [], []
    for row in rows:
        label = MODELS[row["model"]].label
        if row.get("setup_error"):
            lat.append([label, row["batch"], row["precision"], "error: " + short(row["setup_error"], 100)])
            continue
        en = row["engines"]
        r1r = en.get("r1")
        lat.append(
            [label, row["batch"], row["precision"]]
            + [latency_cell(en.get(e)) for e in engines]
            + [fmt(throughput(row["batch"], (r1r or {}).get("median_ms")), ".1f")]
            + [fmt(ratio(r1r, en.get(e))) for e in peers_present]
        )
        err = row["max_rel_err"].get("r1")
        target = "-"
        if row["precision"] == "fp16" and err is not None:
            target = "yes" if err <= FP16_TARGET else "NO"
        dev = row["device_only"]
        acc.append(
            [
                label,
                row["batch"],
                row["precision"],
                fmt_err(err),
                target,
                fmt_err(row["max_rel_err"].get("torch-eager")),
                fmt_err(row["max_rel_err"].get("ort-cuda")),
                fmt(row.get("r1_attention_nodes"), "d"),
                fmt(row.get("r1_cpu_nodes"), "d"),
                fmt(dev.get("torch-eager", {}).get("median_ms"), ".3f"),
                fmt(dev.get("torch-compile", {}).get("median_ms"), ".3f"),
                row.get("reference", "-"),
            ]
        )
    out = [
        "Latency, host to host (numpy in, fp32 numpy out), ms median / p90; ratios are medians (below 1: "
        "deepseek_r1 is faster).",
        "",
        md_table(head, lat),
        "",
        f"Accuracy: max|out - ref| / max|ref| over all outputs against the reference (issue target for fp16: "
        f"<= {FP16_TARGET:g}); r1 Attention nodes = fused r1::Attention nodes in our compiled graph; r1 nodes on "
        f"CPU = nodes our GPU engine left to the CPU (see the notes for which); "
        f"device-only = torch peers with inputs already on the card and no copy back (CUDA events, median ms).",
        "",
        md_table(
            [
                "model",
                "batch",
                "precision",
                "r1 max rel err",
                f"fp16 <= {FP16_TARGET:g}",
                "torch-eager max rel err",
                "ort-cuda max rel err",
                "r1 Attention nodes",
                "r1 nodes on CPU",
                "torch-eager device-only ms",
                "torch-compile device-only ms",
                "reference",
            ],
            acc,
        ),
    ]
    return out


def micro_table(rows: list) -> str:
    body = []
    for r in rows:
        if r.get("error"):
            body.append([r["what"], r["shape"], r["precision"], "error: " + short(r["error"], 100), "-", "-", "-", "-"])
        else:
            body.append(
                [
                    r["what"],
                    r["shape"],
                    r["precision"],
                    fmt(r.get("ms"), ".3f"),
                    fmt(r.get("tflops"), ".1f"),
                    fmt(r.get("frac"), ".2f"),
                    fmt_err(r.get("err")),
                    r.get("how", ""),
                ]
            )
    return md_table(
        ["what", "shape", "precision", "ms (median)", "TFLOP/s", "of measured peak", "max rel err vs fp32", "how"], body
    )


def build_report(a, ctx: dict, model_rows: list, micro_rows: list, notes: list, partial: bool = False) -> str:
    info, v = ctx["device"], ctx["versions"]
    L = ["## GPU: deepseek_r1 vs PyTorch eager, torch.compile, onnxruntime-gpu", ""]
    if partial:
        L += ["**Partial: the run is still going (or stopped early).**", ""]
    if a.quick:
        L += ["**Smoke run (`--quick`, few iterations): checks the script, not a measurement.**", ""]
    L += [
        f"- command: `{ctx['command']}`",
        f"- date: {ctx['date']}",
        f"- device: {info['name']} (compute capability {info['capability']}, {info['multiprocessors']} SMs, "
        f"{info['memory_gib']} GiB); driver {info['driver']} (CUDA driver API {info['cuda_driver_api']}); "
        f"r1 device `{a.device}`",
        "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- timing: {a.warmup} warm-up runs, then {a.iters} timed runs per engine in {a.rounds} rotating rounds "
        f"(1 untimed run per round); host-to-host wall clock after torch.cuda.synchronize(); torch.compile "
        f"mode={a.compile_mode}, dynamic=False",
        "- inputs: token ids uniform, attention masks all ones (the ONNX exports were traced with a padded mask, "
        "so their graphs keep the mask path), images N(0, 1); every engine hands back fp32 numpy outputs",
    ]
    for why in ctx.get("skips", []):
        L.append(f"- {why}")
    L.append("")
    if model_rows:
        peers_present = [
            p
            for p in ("torch-eager", "torch-compile", "ort-cuda")
            if any(p in (r.get("engines") or {}) for r in model_rows)
        ]
        L += model_tables(model_rows, peers_present) + [""]
    if micro_rows:
        L += [
            f"Micro: TFLOP/s against the measured torch matmul peak at {MATMUL_PEAK_N}^3 of the same precision; "
            f"attention FLOPs = 4 b h s^2 d (Q.K^T and P.V), non-causal.",
            "",
            micro_table(micro_rows),
            "",
        ]
    if notes:
        L += ["Notes:", ""] + [f"- {short(n, 400)}" for n in notes] + [""]
    return "\n".join(L)


def write_report(a, ctx, model_rows, micro_rows, notes, partial=False) -> None:
    text = build_report(a, ctx, model_rows, micro_rows, notes, partial)
    Path(a.out).write_text(text)
    if a.json:
        Path(a.json).write_text(
            json.dumps(
                {
                    "command": ctx["command"],
                    "date": ctx["date"],
                    "device": ctx["device"],
                    "versions": ctx["versions"],
                    "models": model_rows,
                    "micro": micro_rows,
                    "notes": notes,
                    "partial": partial,
                },
                indent=1,
                default=str,
            )
            + "\n"
        )
