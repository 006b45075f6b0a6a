"""bench/cpu_vs_peers.py's report: ratios and thread scaling, the markdown section (latency, peak RSS, targets), its
place between the markers of bench/RESULTS.md, and the versions it names.
"""

from __future__ import annotations

import platform
import re
from pathlib import Path

import numpy as np

from cpu_vs_peers_common import CASES, short

BEGIN, END = "<!-- cpu_vs_peers:begin -->", "<!-- cpu_vs_peers:end -->"


# --------------------------------------------------------------------------------------------------
# Report


def _ratio(num, den):
    return num["median_ms"] / den["median_ms"] if num.get("median_ms") and den.get("median_ms") else None


def fmt(x, spec=".2f", none="-"):
    return none if x is None else format(x, spec)


def _cell(r, key_fmt):
    if r is None:
        return "-"
    if r.get("error"):
        return f"error: {short(r['error'], 90)}"
    return key_fmt(r)


def summarize(results: list[dict], engines: list[str], cases: list[str], threads: list[int]) -> dict:
    by = {(r["case"], r["threads"], r["engine"]): r for r in results}
    ratios, scaling = [], []
    for c in cases:
        for t in threads:
            g = lambda e, c=c, t=t: by.get((c, t, e), {})
            bf = g("r1-bf16")
            ratios.append(
                {
                    "case": c,
                    "threads": t,
                    "r1_fp32_over_ort": _ratio(g("r1-fp32"), g("ort")),
                    "r1_fp32_over_ov_f32": _ratio(g("r1-fp32"), g("ov-f32")),
                    "r1_bf16_over_ov_default": _ratio(bf, g("ov-default")),
                    "bf16_cos_vs_fp32": bf.get("cos_vs_r1_fp32"),
                    "r1_fp32_rss_le_ort": (
                        g("r1-fp32")["peak_rss_mb"] <= g("ort")["peak_rss_mb"]
                        if g("r1-fp32").get("peak_rss_mb") and g("ort").get("peak_rss_mb")
                        else None
                    ),
                }
            )
        if 1 in threads and 2 in threads:
            for e in engines:
                x = _ratio(by.get((c, 2, e), {}), by.get((c, 1, e), {}))
                scaling.append({"case": c, "engine": e, "t2_over_t1": x, "ok": None if x is None else x <= 1.0})
    return {"ratios": ratios, "scaling": scaling}


def markdown(meta: dict, results: list[dict], summary: dict, engines, cases, threads) -> str:
    by = {(r["case"], r["threads"], r["engine"]): r for r in results}
    rat = {(x["case"], x["threads"]): x for x in summary["ratios"]}
    lat = lambda r: f"{r['median_ms']:.2f} / {r['p90_ms']:.2f}"
    L = ["## CPU vs peers", ""]
    if meta["quick"]:
        L += ["**Smoke run (`--quick`, few runs, shared machine): checks the script, not a measurement.**", ""]
    L += [
        f"- command: `{meta['command']}`",
        f"- date: {meta['date']}",
        f"- CPU: {meta['cpu']['brand']} ({meta['cpu']['summary']}; profile row `{meta['cpu_profile']}`), "
        f"{meta['logical_cpus']} logical CPUs",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
        f"- {meta['settings']['warmup']} warm-up runs, then {meta['settings']['runs']} timed runs in "
        f"{meta['settings']['rounds']} rotating rounds (1 untimed run per round), each engine in its own process; "
        f"ONNX exporter {meta['settings']['exporter']}; r1 loads {meta['settings']['r1_input']}",
        "- r1 settings: " + "; ".join(f"{e}: {s}" for e, s in meta["r1_settings"].items()),
        f"- OpenVINO: PERFORMANCE_HINT LATENCY, INFERENCE_NUM_THREADS = threads; ov-default ran in "
        f"{meta['ov_default_precision']}; all engines run the ONNX model with its dynamic input shapes",
        "",
        "Latency, ms (median / p90); ratios are medians (below 1: ours is faster); bf16 cos = cosine similarity "
        "of r1-bf16 outputs to r1-fp32's (worst output).",
        "",
        "| model | threads | " + " | ".join(engines) + " | r1-fp32 / ort | r1-fp32 / ov-f32 | r1-bf16 / ov-default "
        "| bf16 cos |",
        "|---|---|" + "---|" * (len(engines) + 4),
    ]
    for c in cases:
        for t in threads:
            x = rat[(c, t)]
            L.append(
                f"| {CASES[c][2]} | {t} | "
                + " | ".join(_cell(by.get((c, t, e)), lat) for e in engines)
                + f" | {fmt(x['r1_fp32_over_ort'])} | {fmt(x['r1_fp32_over_ov_f32'])} | "
                f"{fmt(x['r1_bf16_over_ov_default'])} | {fmt(x['bf16_cos_vs_fp32'], '.6f')} |"
            )
    L += [
        "",
        "Peak RSS, MB (VmHWM of the engine's own process: Python, numpy, the runtime, the model, its "
        "buffers); max rel err = max|out - ort| / max|ort|.",
        "",
        "| model | threads | "
        + " | ".join(engines)
        + " | r1-fp32 <= ort | max rel err vs ort ("
        + ", ".join(e for e in engines if e != "ort")
        + ") |",
        "|---|---|" + "---|" * (len(engines) + 2),
    ]
    for c in cases:
        for t in threads:
            ok = rat[(c, t)]["r1_fp32_rss_le_ort"]
            errs = ", ".join(fmt(by.get((c, t, e), {}).get("max_rel_err_vs_ort"), ".1e") for e in engines if e != "ort")
            L.append(
                f"| {CASES[c][2]} | {t} | "
                + " | ".join(_cell(by.get((c, t, e)), lambda r: f"{r['peak_rss_mb']:.0f}") for e in engines)
                + f" | {'-' if ok is None else ('yes' if ok else 'NO')} | {errs} |"
            )
    if summary["scaling"]:
        sc = {(x["case"], x["engine"]): x for x in summary["scaling"]}
        L += [
            "",
            "2 threads vs 1 thread: median(2) / median(1); 'NO' marks an engine slower at 2 threads.",
            "",
            "| model | " + " | ".join(engines) + " |",
            "|---|" + "---|" * len(engines),
        ]
        for c in cases:
            cells = []
            for e in engines:
                x = sc.get((c, e), {})
                ratio = x.get("t2_over_t1")
                cells.append("-" if ratio is None else f"{'yes' if x['ok'] else 'NO'} ({ratio:.2f})")
            L.append(f"| {CASES[c][2]} | " + " | ".join(cells) + " |")
    L += ["", "Targets: " + "; ".join(_targets(summary)) + "."]
    return "\n".join(L) + "\n"


def _targets(summary: dict) -> list[str]:
    """One line per issue target: how many measured (case, threads) meet it."""

    def tally(name, items):
        items = [x for x in items if x is not None]
        return f"{name}: {sum(items)} of {len(items)} met" if items else f"{name}: not measured"

    bf16 = [
        None
        if x["r1_bf16_over_ov_default"] is None or x["bf16_cos_vs_fp32"] is None
        else x["r1_bf16_over_ov_default"] <= 1.0 and x["bf16_cos_vs_fp32"] >= 0.999
        for x in summary["ratios"]
    ]
    rss = [x["r1_fp32_rss_le_ort"] for x in summary["ratios"]]
    scale = [x["ok"] for x in summary["scaling"] if x["engine"].startswith("r1")]
    return [
        tally("r1-bf16 <= 1.0x ov-default with cos >= 0.999", bf16),
        tally("r1-fp32 peak RSS <= ort", rss),
        tally("r1 2 threads <= 1 thread", scale),
    ]


def write_section(path: Path, section: str) -> None:
    text = path.read_text() if path.exists() else ""
    block = f"{BEGIN}\n{section}{END}\n"
    if BEGIN in text and END in text:
        text = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END) + r"\n?", lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + block
    path.write_text(text)


def versions() -> dict:
    v = {"python": platform.python_version(), "numpy": np.__version__}
    for mod in ("deepseek_r1", "onnxruntime", "openvino", "torch"):
        try:
            m = __import__(mod)
            v[mod] = m.get_version() if mod == "openvino" else getattr(m, "__version__", "?")
        except Exception as e:
            v[mod] = f"unavailable ({type(e).__name__})"
    return v
