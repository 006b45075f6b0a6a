"""bench/cpu_vs_peers.py's worker protocol. A worker (`cpu_vs_peers.py --worker SPEC`, worker_main) loads one
engine on one model with one thread count and answers JSON lines on its own copy of stdout: "run N WARMUP" times N
runs, "finish PATH" saves the outputs and reports the peak RSS. Worker is the coordinator's handle on one.
"""

from __future__ import annotations

import inspect
import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from cpu_vs_peers_common import short

PROTO = "@@cpu_vs_peers "
SCRIPT = Path(__file__).resolve().with_name("cpu_vs_peers.py")  # a worker is `cpu_vs_peers.py --worker SPEC`


# --------------------------------------------------------------------------------------------------
# Worker: one engine, one model, one thread count; talks JSON lines on its own copy of stdout.


def _rss_mb() -> dict:
    out = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(("VmHWM:", "VmRSS:")):
                out[line.split(":")[0]] = int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    out["ru_maxrss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _load_r1(path, threads, precision, opt_level, kwargs):
    import deepseek_r1 as r1

    params = inspect.signature(r1.InferenceEngine.__init__).parameters
    kwargs["num_threads"] = threads
    if "precision" in params:
        kwargs["precision"] = precision
    elif precision != "fp32":
        raise RuntimeError("this InferenceEngine has no precision argument")
    if opt_level is not None and "optimization_level" in params:
        kwargs["optimization_level"] = opt_level
    eng = r1.InferenceEngine(str(path), **kwargs)
    if eng.num_threads != threads:
        raise RuntimeError(f"asked for {threads} threads, engine has {eng.num_threads}")
    return eng.run


def _load_ort(path, threads, cfg):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    cfg.update(graph_optimization_level="ORT_ENABLE_ALL", intra_op=threads, inter_op=1)
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return lambda feeds: dict(zip(names, sess.run(None, feeds)))


def _load_ov(path, threads, precision, cfg):
    import openvino as ov

    cfg.update(INFERENCE_NUM_THREADS=threads, PERFORMANCE_HINT="LATENCY")
    if precision:
        cfg["INFERENCE_PRECISION_HINT"] = precision
    compiled = ov.Core().compile_model(str(path), "CPU", dict(cfg))
    req, outs = compiled.create_infer_request(), compiled.outputs
    names = [o.get_any_name() for o in outs]

    def run(feeds):  # zero-copy in and out, as ORT and r1 hand back their own buffers
        res = req.infer(feeds, share_inputs=True, share_outputs=True)
        return {n: res[o] for n, o in zip(names, outs)}

    prec = compiled.get_property("INFERENCE_PRECISION_HINT")
    cfg["precision_used"] = prec.get_type_name() if hasattr(prec, "get_type_name") else str(prec)
    return run


def _load(engine, spec, settings: dict):
    """Returns run(feeds) -> {name: array}; fills `settings` with what it passed (before it can fail)."""
    path, t = spec["onnx"], spec["threads"]
    if engine.startswith("r1-"):
        return _load_r1(spec["r1_path"] or path, t, engine[3:], spec["opt_level"], settings)
    if engine == "ort":
        return _load_ort(path, t, settings)
    return _load_ov(path, t, "f32" if engine == "ov-f32" else None, settings)


def worker_main(spec: dict) -> int:
    sys.path[:0] = [x for x in spec.get("sys_path", []) if x not in sys.path]
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # library chatter on stdout must not mix with the protocol

    def send(obj):
        proto.write(PROTO + json.dumps(obj) + "\n")

    base = _rss_mb()
    feeds = dict(np.load(spec["feeds"]))
    settings: dict = {}
    try:
        t0 = time.perf_counter()
        run = _load(spec["engine"], spec, settings)
        load_s = time.perf_counter() - t0
        out = None
        for _ in range(spec["warmup"]):
            out = run(feeds)
    except Exception as e:
        send({"ok": False, "error": short(e), "settings": settings})
        return 0
    send(
        {
            "ok": True,
            "load_s": load_s,
            "settings": settings,
            "base_rss_mb": base.get("VmRSS"),
            "loaded_rss_mb": _rss_mb().get("VmRSS"),
        }
    )
    for line in sys.stdin:
        cmd = line.split()
        if cmd and cmd[0] == "run":
            try:
                for _ in range(int(cmd[2])):
                    out = run(feeds)
                times = []
                for _ in range(int(cmd[1])):
                    t0 = time.perf_counter()
                    out = run(feeds)
                    times.append((time.perf_counter() - t0) * 1e3)
                send({"times_ms": times})
            except Exception as e:
                send({"error": short(e)})
                return 0
        elif cmd and cmd[0] == "finish":
            if out is None:
                out = run(feeds)
            np.savez(cmd[1], **{k: np.asarray(v).astype(np.float32) for k, v in out.items()})
            rss = _rss_mb()
            send({"peak_rss_mb": rss.get("VmHWM", rss["ru_maxrss"]), "ru_maxrss_mb": rss["ru_maxrss"]})
            return 0
    return 0


class Worker:
    def __init__(self, engine: str, spec: dict, timeout: float, logdir: Path):
        self.engine, self.timeout, self.buf, self.error = engine, timeout, b"", None
        self.log = logdir / f"{engine}.stderr"
        self.proc = subprocess.Popen(
            [sys.executable, str(SCRIPT), "--worker", json.dumps({**spec, "engine": engine})],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log.open("wb"),
        )

    def _reply(self) -> dict:
        deadline = time.monotonic() + self.timeout
        fd = self.proc.stdout.fileno()
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                if line.startswith(PROTO.encode()):
                    return json.loads(line[len(PROTO) :])
            left = deadline - time.monotonic()
            if left <= 0:
                self.proc.kill()
                raise RuntimeError(f"no answer in {self.timeout:.0f} s")
            if select.select([fd], [], [], left)[0]:
                chunk = os.read(fd, 65536)
                if not chunk:
                    self.proc.wait()
                    rc = self.proc.returncode
                    tail = self.log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
                    how = f"killed by signal {-rc}" if rc < 0 else f"exited with {rc}"
                    raise RuntimeError(f"worker {how}" + (f": {tail[0]}" if tail[0] else ""))
                self.buf += chunk

    def ask(self, cmd: str | None = None) -> dict:
        try:
            if cmd:
                self.proc.stdin.write((cmd + "\n").encode())
                self.proc.stdin.flush()
            rep = self._reply()
        except (RuntimeError, OSError, ValueError) as e:
            rep = {"error": short(e)}
        if rep.get("error") or rep.get("ok") is False:
            self.error = self.error or rep.get("error", "failed")
            self.close()
        return rep

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
