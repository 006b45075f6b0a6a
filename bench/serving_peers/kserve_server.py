"""KServe peer: kserve.Model + kserve.ModelServer speaking the Open Inference (v2) protocol.

POST /v2/models/<name>/infer with a v2 JSON body (KServe also parses the binary tensor extension).
KServe's Python model server has no in-process dynamic batching (KServe batches with a separate agent
sidecar in Kubernetes), so every request runs alone: this peer is "batching off" by construction.
"""

from __future__ import annotations

import uvicorn
from _common import HOST, io_specs, make_session, model_name, numpy_to_v2, parse_args

# KServe hard-codes host="0.0.0.0" in its uvicorn.Config; the benchmark is loopback-only, so pin the
# bind address before kserve builds its server.
_config_init = uvicorn.Config.__init__


def _loopback_config(self, *args, **kw):
    kw["host"] = HOST
    _config_init(self, *args, **kw)


uvicorn.Config.__init__ = _loopback_config

import kserve  # noqa: E402
from kserve import InferOutput, InferRequest, InferResponse  # noqa: E402


class OnnxModel(kserve.Model):
    def __init__(self, name: str, path: str, threads: int):
        super().__init__(name)
        self.path, self.threads = path, threads

    def load(self) -> bool:
        self.sess = make_session(self.path, self.threads)
        self.inputs, self.outputs = io_specs(self.sess)
        self.ready = True
        return self.ready

    def predict(self, payload: InferRequest, headers=None, response_headers=None) -> InferResponse:
        feeds = {t.name: t.as_numpy() for t in payload.inputs}
        result = self.sess.run(self.outputs, feeds)
        outs = []
        for name, arr in zip(self.outputs, result):
            o = InferOutput(name=name, shape=list(arr.shape), datatype=numpy_to_v2(arr.dtype))
            o.set_data_from_numpy(arr, binary_data=bool(payload.use_binary_outputs))
            outs.append(o)
        return InferResponse(
            response_id=payload.id or "",
            model_name=self.name,
            infer_outputs=outs,
            use_binary_outputs=bool(payload.use_binary_outputs),
        )


def main():
    a = parse_args(__doc__)
    model = OnnxModel(model_name(a.model), a.model, a.threads)
    model.load()
    kserve.ModelServer(
        http_port=a.port, workers=1, enable_grpc=False, enable_latency_logging=False, enable_docs_url=False
    ).start([model])


if __name__ == "__main__":
    main()
