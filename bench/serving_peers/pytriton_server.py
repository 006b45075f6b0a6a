"""PyTriton peer: NVIDIA Triton Inference Server (bundled in the nvidia-pytriton wheel) with its dynamic
batcher, calling a Python function that runs the ONNX model through onnxruntime.

Clients speak the v2 protocol to tritonserver's HTTP endpoint (POST /v2/models/<name>/infer, JSON or the
binary tensor extension); tritonserver batches requests and hands each batch to this process over
PyTriton's proxy (python backend stub + ZeroMQ/shared memory). --max-batch-size 1 turns batching off.
"""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path

import numpy as np
from _common import HOST, io_specs, make_session, model_name, parse_args
from pytriton.decorators import batch
from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
from pytriton.triton import Triton, TritonConfig


def _match_libpython() -> None:
    """The python backend stub that tritonserver starts links libpython3.X.so.1.0 from the system's default
    library path. When that is another build than this interpreter (here: Debian's 3.11.2 vs pyenv's
    3.11.7) the stub runs this interpreter's stdlib on a different C core and fails at start-up
    ("'_thread.RLock' object has no attribute '_recursion_count'"). Putting this interpreter's own
    libpython first on LD_LIBRARY_PATH (inherited by tritonserver and the stub) makes them match."""
    libdir = sysconfig.get_config_var("LIBDIR")
    ldlib = sysconfig.get_config_var("LDLIBRARY") or ""
    if libdir and ldlib.endswith(".so") and Path(libdir, ldlib).exists():
        old = os.environ.get("LD_LIBRARY_PATH")
        os.environ["LD_LIBRARY_PATH"] = libdir + (os.pathsep + old if old else "")


def main():
    a = parse_args(__doc__)
    _match_libpython()
    sess = make_session(a.model, a.threads)
    inputs, outputs = io_specs(sess)
    batching = a.max_batch_size > 1
    ranks = {i.name: len(i.shape) for i in sess.get_inputs()}
    ranks.update({o.name: len(o.shape) for o in sess.get_outputs()})
    out_types = {o.name: o.type for o in sess.get_outputs()}

    def shape(name):  # Triton's model shape leaves out the batch dimension when batching is on
        return (-1,) * (ranks[name] - 1 if batching else ranks[name])

    def run(**feeds):
        return dict(zip(outputs, sess.run(outputs, feeds)))

    def run_each(requests):  # batching off: PyTriton hands over a list of unbatched requests
        return [run(**{k: r[k] for k in r.keys()}) for r in requests]

    infer = batch(run) if batching else run_each
    config = (
        ModelConfig(
            batching=True,
            max_batch_size=a.max_batch_size,
            batcher=DynamicBatcher(max_queue_delay_microseconds=int(a.batch_timeout_ms * 1e3)),
        )
        if batching
        else ModelConfig(batching=False)
    )
    out_dtype = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(double)": np.float64}
    tconf = TritonConfig(http_address=HOST, http_port=a.port, allow_grpc=False, allow_metrics=False, log_verbose=0)
    with Triton(config=tconf) as triton:
        triton.bind(
            model_name=model_name(a.model),
            infer_func=infer,
            inputs=[Tensor(name=n, dtype=dt, shape=shape(n)) for n, dt in inputs],
            outputs=[Tensor(name=n, dtype=out_dtype[out_types[n]], shape=shape(n)) for n in outputs],
            config=config,
            strict=False,
        )
        triton.serve()


if __name__ == "__main__":
    main()
