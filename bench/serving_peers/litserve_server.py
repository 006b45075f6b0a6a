"""LitServe peer: the ONNX model behind LitServe's own batching (decode_request/batch/predict/unbatch).

Request body (LitServe has no fixed tensor protocol; this is the natural JSON for it): one example per
request, each input a flat list without the batch dimension, e.g. {"input_ids": [...128 ints],
"attention_mask": [...], "token_type_ids": [...]}. Response: {"<output>": [... flat list]}.
--max-batch-size 1 turns LitServe's batching off.
"""

from __future__ import annotations

import litserve as ls
import numpy as np
from _common import HOST, io_specs, make_session, parse_args


class OnnxLitAPI(ls.LitAPI):
    def __init__(self, model: str, threads: int, **kw):
        super().__init__(**kw)
        self.model_path, self.threads = model, threads
        self.batching = kw.get("max_batch_size", 1) > 1

    def setup(self, device):
        self.sess = make_session(self.model_path, self.threads)
        self.inputs, self.outputs = io_specs(self.sess)

    def decode_request(self, request):
        return {name: np.asarray(request[name], dtype=dt) for name, dt in self.inputs}

    def batch(self, inputs):
        return {name: np.stack([x[name] for x in inputs]) for name, _ in self.inputs}

    def predict(self, x):
        if not self.batching:  # LitServe skips batch()/unbatch(): one example without its batch dim
            x = {k: v[None] for k, v in x.items()}
            return {k: v[0] for k, v in zip(self.outputs, self.sess.run(self.outputs, x))}
        return dict(zip(self.outputs, self.sess.run(self.outputs, x)))

    def unbatch(self, output):
        n = len(next(iter(output.values())))
        return [{k: v[i] for k, v in output.items()} for i in range(n)]

    def encode_response(self, output):
        return {k: np.asarray(v).ravel().tolist() for k, v in output.items()}


def main():
    a = parse_args(__doc__)
    batching = a.max_batch_size > 1
    api = OnnxLitAPI(
        a.model, a.threads, max_batch_size=a.max_batch_size, batch_timeout=a.batch_timeout_ms / 1e3 if batching else 0.0
    )
    server = ls.LitServer(api, accelerator="cpu", devices=1, workers_per_device=1, timeout=120)
    server.run(host=HOST, port=a.port, generate_client_file=False, log_level="warning", num_api_servers=1)


if __name__ == "__main__":
    main()
