"""One configuration of bench/tiering.py, in its own process (so its peak memory is its own):

    python bench/tiering_worker.py '{"kind": "r1", "model": ..., "budget": 1400000000, "batch": 16, "runs": 3}'

kinds: r1 (budget None: fully resident), accelerate (torch CPU, max_memory + offload to disk), onnxruntime.
Prints one JSON line: the per-run seconds, the peak-memory growth (VmHWM) from before the model was loaded, the
engine's tiering report (r1) and a checksum of the logits. Two warm-up runs precede the timed ones. Before every timed run the weight files are evicted
from the page cache (fsync, posix_fadvise DONTNEED), so every engine reads them from the disk for real.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _page_cache import evict
from _paths import use_test_helpers

use_test_helpers()

import numpy as np  # noqa: E402

from helpers.llama_onnx import LlamaShape, llama_inputs  # noqa: E402


def hwm() -> int:
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def run_r1(cfg: dict, feeds: dict):
    import deepseek_r1 as r1

    kw = {"memory_budget": {"cpu": cfg["budget"]}} if cfg.get("budget") else {}
    if cfg.get("prefetch") is not None:
        kw["prefetch"] = cfg["prefetch"]
    eng = r1.InferenceEngine(cfg["model"], num_threads=cfg["threads"], **kw)
    return lambda: eng.run(feeds)["logits"], [cfg["model"]], eng.tiering_report


def run_accelerate(cfg: dict, feeds: dict):
    import torch
    from accelerate import init_empty_weights, load_checkpoint_and_dispatch

    torch.set_num_threads(cfg["threads"])
    shape = LlamaShape(**cfg["shape"])

    def rms(x, g):
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + 1e-5) * g

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            h, i = shape.hidden, shape.inter
            self.attn_norm = torch.nn.Parameter(torch.empty(h))
            self.ffn_norm = torch.nn.Parameter(torch.empty(h))
            for n, d in (("wq", (h, h)), ("wk", (h, h)), ("wv", (h, h)), ("wo", (h, h))):
                setattr(self, n, torch.nn.Parameter(torch.empty(d)))
            self.w_gate = torch.nn.Parameter(torch.empty(h, i))
            self.w_up = torch.nn.Parameter(torch.empty(h, i))
            self.w_down = torch.nn.Parameter(torch.empty(i, h))

        def forward(self, x, mask):
            b, s, h = x.shape
            nh = shape.heads
            hn = rms(x, self.attn_norm)
            q, k, v = ((hn @ w).view(b, s, nh, h // nh).transpose(1, 2) for w in (self.wq, self.wk, self.wv))
            p = torch.softmax(q @ k.transpose(-1, -2) * (h // nh) ** -0.5 + mask, -1)
            x = x + ((p @ v).transpose(1, 2).reshape(b, s, h) @ self.wo)
            f = rms(x, self.ffn_norm)
            g = f @ self.w_gate
            return x + ((g * torch.sigmoid(g)) * (f @ self.w_up)) @ self.w_down

    class Llama(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Parameter(torch.empty(shape.vocab, shape.hidden))
            self.layers = torch.nn.ModuleList(Block() for _ in range(shape.layers))
            self.final_norm = torch.nn.Parameter(torch.empty(shape.hidden))
            self.lm_head = torch.nn.Parameter(torch.empty(shape.hidden, shape.vocab))

        def forward(self, ids, mask):
            x = self.embed[ids]
            for layer in self.layers:
                x = layer(x, mask)
            return rms(x[:, -1:], self.final_norm) @ self.lm_head

    with init_empty_weights():
        model = Llama()
    budget = cfg["budget"]
    model = load_checkpoint_and_dispatch(
        model,
        checkpoint=cfg["safetensors"],
        device_map="auto",
        max_memory={"cpu": budget},
        no_split_module_classes=["Block"],
        offload_folder=cfg["offload_dir"],
    )
    ids, mask = torch.from_numpy(feeds["input_ids"]), torch.from_numpy(feeds["mask"])

    def once():
        with torch.inference_mode():
            return model(ids, mask).numpy()

    return once, [cfg["safetensors"]], lambda: {}


def run_onnxruntime(cfg: dict, feeds: dict):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = cfg["threads"]
    so.log_severity_level = 3
    sess = ort.InferenceSession(cfg["onnx"], so, providers=["CPUExecutionProvider"])
    return lambda: sess.run(None, feeds)[0], [cfg["onnx"] + ".data"], lambda: {}


def main() -> None:
    cfg = json.loads(sys.argv[1])
    feeds = llama_inputs(LlamaShape(**cfg["shape"]), cfg["batch"], cfg["seq"])
    before = hwm()
    make = {"r1": run_r1, "accelerate": run_accelerate, "onnxruntime": run_onnxruntime}[cfg["kind"]]
    t0 = time.perf_counter()
    once, files, report = make(cfg, feeds)
    load_s = time.perf_counter() - t0
    # Two warm-up runs for every engine: ours records its plan in the first (streaming every weight) and reads
    # the weights it keeps resident in the second; timed runs are the steady state a served model is in.
    for _ in range(2):
        out = once()
    times = []
    for _ in range(cfg["runs"]):
        evict(*files)
        t = time.perf_counter()
        out = once()
        times.append(time.perf_counter() - t)
    print(
        json.dumps(
            {
                "times": times,
                "load_s": load_s,
                "grew": hwm() - before,
                "report": report(),
                "logits": [float(np.abs(out).sum()), float(out.flatten()[0])],
            }
        )
    )


if __name__ == "__main__":
    main()
