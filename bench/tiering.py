"""Memory tiering: a Llama-shaped model four times larger than its memory budget, streamed from disk, against
the disk's own O_DIRECT bandwidth, the fully resident run, and peers on the same weights.

    python bench/tiering.py                        # 24 layers, hidden 2048 (5.5 GB fp32), budget 1/4, b1 and b16
    python bench/tiering.py --layers 4 --batches 1 --runs 2     # a quick look

The model (helpers/llama_onnx.py: random weights, ONNX with external data, then .r1 for this CPU and a
safetensors copy for torch) is generated once into --cache (default ~/.cache/deepseek_r1/bench/tiering).
Measured in the same run, each configuration in its own process (bench/tiering_worker.py), rounds interleaved,
medians over all timed runs; before each timed run the weight files are evicted from the page cache:
  disk         our DirectReader over the whole .r1 file, queue depth 8, 1 MiB requests, O_DIRECT (and dd
               iflag=direct bs=4M as a cross-check): the device's sequential read limit
  r1 resident  no budget: every weight in memory (from the page cache: compute time)
  r1 tiered    memory_budget={"cpu": budget}: weights stream from the .r1 file
  accelerate   Hugging Face accelerate: load_checkpoint_and_dispatch(max_memory={"cpu": budget},
               offload_folder=...) on an equivalent torch module (CPU torch); weights past the budget are read
               from the safetensors file on disk at each forward
  onnxruntime  has no weight offload: it loads every weight; shown with its peak memory (it cannot keep a budget)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _page_cache import evict
from _paths import r1_pythonpath, use_test_helpers

use_test_helpers()

import numpy as np  # noqa: E402

from helpers.llama_onnx import LlamaShape, build_llama, llama_weights  # noqa: E402

HERE = Path(__file__).resolve().parent


def ensure_model(shape: LlamaShape, cache: Path) -> dict:
    import deepseek_r1 as r1

    d = cache / f"llama-h{shape.hidden}-i{shape.inter}-l{shape.layers}-v{shape.vocab}"
    d.mkdir(parents=True, exist_ok=True)
    onnx_path, r1_path, st_path = d / "llama.onnx", d / "llama.r1", d / "llama.safetensors"
    if not onnx_path.exists():
        print(f"building {onnx_path} ({shape.weight_bytes() / 1e9:.2f} GB of weights)", flush=True)
        build_llama(d / "llama.tmp.onnx", shape, data_name="llama.onnx.data")
        os.replace(d / "llama.tmp.onnx", onnx_path)  # last: an interrupted build is redone
    if not r1_path.exists():
        print("converting to .r1 (weights packed for this CPU)", flush=True)
        r1.ModelConverter(str(onnx_path), output_path=d / "llama.tmp.r1", target_hardware="native").convert()
        os.replace(d / "llama.tmp.r1", r1_path)
    if not st_path.exists():
        print("writing the safetensors copy for torch", flush=True)
        from safetensors.numpy import save_file

        ws = llama_weights(onnx_path, shape)
        names = {"embed": "embed", "final_norm": "final_norm", "lm_head": "lm_head"}
        for n in range(shape.layers):
            for w in ("attn_norm", "ffn_norm", "wq", "wk", "wv", "wo", "w_gate", "w_up", "w_down"):
                names[f"l{n}.{w}"] = f"layers.{n}.{w}"
        save_file({names[k]: np.ascontiguousarray(v) for k, v in ws.items()}, str(d / "llama.tmp.safetensors"))
        os.replace(d / "llama.tmp.safetensors", st_path)
    return {"dir": d, "onnx": str(onnx_path), "r1": str(r1_path), "safetensors": str(st_path)}


def disk_bandwidth(path: str, rounds: int) -> dict:
    from deepseek_r1 import _core

    size = os.path.getsize(path)
    chunk = 64 << 20
    buf = np.empty(chunk + 4096, np.uint8)
    out = buf[(-buf.ctypes.data) % 4096 :][:chunk]
    ours, dd = [], []
    for _ in range(rounds):
        evict(path)
        r = _core.DirectReader(path, queue_depth=8, request_bytes=1 << 20)
        t = time.perf_counter()
        for off in range(0, size - size % 4096, chunk):
            r.read_into(off, out[: min(chunk, size - size % 4096 - off)])
        ours.append(size / (time.perf_counter() - t) / 1e9)
        evict(path)
        t = time.perf_counter()
        subprocess.run(["dd", f"if={path}", "of=/dev/null", "bs=4M", "iflag=direct"], check=True, capture_output=True)
        dd.append(size / (time.perf_counter() - t) / 1e9)
    return {"r1_qd8_1mib_gbps": statistics.median(ours), "dd_direct_4mib_gbps": statistics.median(dd)}


def worker(cfg: dict) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(r1_pythonpath() + sys.path))
    p = subprocess.run(
        [sys.executable, str(HERE / "tiering_worker.py"), json.dumps(cfg)], capture_output=True, text=True, env=env
    )
    if p.returncode != 0:
        return {"error": (p.stderr or p.stdout)[-1500:]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", type=int, default=24)
    ap.add_argument("--hidden", type=int, default=2048)
    ap.add_argument("--inter", type=int, default=5632)
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--batches", default="1,16")
    ap.add_argument("--budget-frac", type=float, default=0.25)
    ap.add_argument("--runs", type=int, default=3, help="timed runs per configuration and round")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--peers", default="accelerate,onnxruntime")
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/deepseek_r1/bench/tiering"))
    ap.add_argument("--json", default=str(HERE / "tiering.json"))
    a = ap.parse_args()
    shape = LlamaShape(a.hidden, a.inter, a.layers, a.vocab, a.heads)
    files = ensure_model(shape, Path(a.cache))
    budget = int(shape.weight_bytes() * a.budget_frac)
    disk = disk_bandwidth(files["r1"], a.rounds + 1)
    print(f"disk: ours {disk['r1_qd8_1mib_gbps']:.2f} GB/s, dd {disk['dd_direct_4mib_gbps']:.2f} GB/s", flush=True)
    kinds = ["r1 resident", "r1 tiered"] + [p for p in a.peers.split(",") if p]
    results: dict = {"shape": shape.__dict__, "budget": budget, "disk": disk, "batches": {}}
    for batch in (int(b) for b in a.batches.split(",")):
        got: dict[str, list] = {k: [] for k in kinds}
        for rnd in range(a.rounds):
            order = kinds if rnd % 2 == 0 else kinds[::-1]
            for kind in order:
                cfg = {
                    "kind": kind.split()[0],
                    "model": files["r1"],
                    "onnx": files["onnx"],
                    "safetensors": files["safetensors"],
                    "offload_dir": str(files["dir"] / "accelerate-offload"),
                    "budget": None if kind == "r1 resident" or kind == "onnxruntime" else budget,
                    "batch": batch,
                    "seq": a.seq,
                    "runs": a.runs,
                    "threads": a.threads,
                    "shape": shape.__dict__,
                }
                r = worker(cfg)
                got[kind].append(r)
                brief = (
                    r.get("error", "").splitlines()[-1:] if "error" in r else [f"{statistics.median(r['times']):.2f} s"]
                )
                print(f"b{batch} round {rnd} {kind}: {brief[0] if brief else 'failed'}", flush=True)
        results["batches"][str(batch)] = got
    Path(a.json).write_text(json.dumps(results, indent=1))
    from tiering_report import render

    print(render(results))


if __name__ == "__main__":
    main()
