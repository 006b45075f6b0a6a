"""The KServe v2 wire codec, shared by the server (serve/) and the client (client.py); it imports neither.

    from deepseek_r1.kserve import encode_infer_request, parse_infer_response, CodecError
    body, headers = encode_infer_request({"x": x})
    outputs, meta = parse_infer_response(resp.content, resp.headers.get(HEADER_LENGTH))

http_codec: whole HTTP/REST messages (JSON + binary tensor extension); grpc_codec: the gRPC messages (needs the
`[grpc]` extra, so it is not imported here); tensors: one tensor; infer_request: the decoded request both
transports produce; limits; errors. Datatypes come from deepseek_r1.dtypes.
"""

from ..dtypes import KSERVE_TO_NUMPY
from .errors import CodecError, InvalidMessage, InvalidResponse, LimitExceeded
from .http_codec import (
    HEADER_LENGTH,
    check_infer_header,
    encode_infer_request,
    encode_infer_response,
    error_body,
    parse_infer_request,
    parse_infer_response,
)
from .infer_request import InferRequest, RequestedOutput
from .limits import CLIENT_LIMITS, Limits
from .tensors import decode_bytes_tensor, encode_bytes_tensor, numpy_to_kserve

__all__ = [
    "CLIENT_LIMITS",
    "HEADER_LENGTH",
    "KSERVE_TO_NUMPY",
    "CodecError",
    "InferRequest",
    "InvalidMessage",
    "InvalidResponse",
    "LimitExceeded",
    "Limits",
    "RequestedOutput",
    "check_infer_header",
    "decode_bytes_tensor",
    "encode_bytes_tensor",
    "encode_infer_request",
    "encode_infer_response",
    "error_body",
    "numpy_to_kserve",
    "parse_infer_request",
    "parse_infer_response",
]
