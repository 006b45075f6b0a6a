"""A decoded inference request, as both transports (HTTP/JSON and gRPC/protobuf) hand it to the server.

req = http_codec.parse_infer_request(body, header_length, limits)     # or grpc_codec.parse_model_infer_request
outputs = run(req.inputs)
items = select_outputs(outputs, req.outputs)                          # what the response carries
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from .errors import InvalidMessage

# The receiver's check of one tensor's header, before its data is decoded: (name, datatype, shape) -> None, or
# raises (the server holds each tensor to the model's declared inputs, so a tensor it cannot take costs nothing).
TensorCheck = Callable[[str, str, list], None]

# Triton extensions on requested outputs that we do not serve: refused, not silently ignored.
UNSUPPORTED_OUTPUT_PARAMS = ("shared_memory_region", "classification")


@dataclass
class RequestedOutput:
    name: str
    binary: bool | None = None  # None: follow the request's binary_data_output
    parameters: dict = field(default_factory=dict)


@dataclass
class InferRequest:
    id: str | None
    inputs: dict[str, np.ndarray]  # BYTES -> object array of `bytes`; binary inputs are read-only views
    parameters: dict  # request-level ("priority", "timeout", "binary_data_output", ...)
    outputs: list[RequestedOutput] | None  # None (or []) = all outputs

    @property
    def binary_output(self) -> bool:
        """Default encoding for outputs that don't say (tritonclient sets it when it names no outputs)."""
        return self.parameters.get("binary_data_output", False)


def check_output_parameters(name: str, params: Mapping) -> None:
    for k in UNSUPPORTED_OUTPUT_PARAMS:
        if params.get(k):
            raise InvalidMessage(f"requested output '{name}': parameter '{k}' (a Triton extension) is not supported")


def select_outputs(
    outputs: Mapping[str, np.ndarray], requested: list[RequestedOutput] | None
) -> list[tuple[RequestedOutput, np.ndarray]]:
    """The outputs a response carries, in the order requested (all of them, in model order, when none are named)."""
    if requested is None:
        return [(RequestedOutput(name), arr) for name, arr in outputs.items()]
    items = []
    for r in requested:
        if r.name not in outputs:
            raise InvalidMessage(f"requested output '{r.name}' does not exist; available: {sorted(outputs)}")
        items.append((r, outputs[r.name]))
    return items
