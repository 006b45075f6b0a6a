"""The table bench/tiering.py prints (and bench/RESULTS.md keeps) from its JSON: python bench/tiering_report.py."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path


def _median(runs: list[dict]) -> float | None:
    times = [t for r in runs if "times" in r for t in r["times"]]
    return statistics.median(times) if times else None


def render(res: dict) -> str:
    bw = res["disk"]["r1_qd8_1mib_gbps"]
    gb = 1e9
    out = [
        f"budget {res['budget'] / gb:.2f} GB for {sum(1 for _ in [0]) and ''}a model of "
        f"{4 * (res['shape']['layers'] * (4 * res['shape']['hidden'] ** 2 + 3 * res['shape']['hidden'] * res['shape']['inter']) + 2 * res['shape']['vocab'] * res['shape']['hidden']) / gb:.2f} GB; "
        f"disk O_DIRECT: {bw:.2f} GB/s (ours, qd 8 x 1 MiB), {res['disk']['dd_direct_4mib_gbps']:.2f} GB/s (dd 4 MiB)",
        "",
        "| batch | configuration | median s | peak memory growth GB | streamed GB/run | read GB/s (share of disk) "
        "| I/O time s | hidden | vs r1 tiered |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for batch, got in res["batches"].items():
        ours = _median(got.get("r1 tiered", []))
        for kind, runs in got.items():
            t = _median(runs)
            if t is None:
                err = next((r.get("error", "") for r in runs), "").strip().splitlines()
                out.append(f"| {batch} | {kind} | failed: {err[-1][:80] if err else '?'} | | | | | | |")
                continue
            grew = max(r["grew"] for r in runs if "grew" in r) / gb
            rep = next((r["report"] for r in reversed(runs) if r.get("report")), {})
            streamed = rep.get("streamed_bytes_last_run")
            cells = ["", "", "", ""]
            if streamed is not None:
                read_gbps = rep["read_gbps"]
                cells = [
                    f"{streamed / gb:.2f}",
                    f"{read_gbps:.2f} ({read_gbps / bw:.0%})",
                    f"{streamed / gb / bw:.2f}",
                    f"{rep['hidden_fraction']:.0%}",
                ]
            ratio = f"{t / ours:.2f}x" if ours else ""
            out.append(f"| {batch} | {kind} | {t:.2f} | {grew:.2f} | " + " | ".join(cells) + f" | {ratio} |")
    return "\n".join(out)


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "tiering.json"
    print(render(json.loads(path.read_text())))
