"""serve/errors.py: the one mapping from what fails while serving to the HTTP status, gRPC code and metrics reason."""

import numpy as np
import pytest

import deepseek_r1 as r1
from deepseek_r1.kserve import InvalidMessage, LimitExceeded
from deepseek_r1.serve.errors import (
    REASONS,
    BadRequest,
    ClientGone,
    ModelFailed,
    NotFound,
    PayloadTooLarge,
    QueueFull,
    RequestTimeout,
    ServeError,
    Unauthorized,
    Unavailable,
    grpc_code_name,
    is_expected,
    to_serve_error,
)
from helpers.small_models import add_relu_model

# exception -> (ServeError type, HTTP status, gRPC code name, metrics reason)
ENGINE_ERRORS = [
    (r1.InputError("input 'x' must be float32, got float64"), BadRequest, 400, "INVALID_ARGUMENT", "bad_request"),
    (r1.ModelError("kernel exploded"), ModelFailed, 500, "INTERNAL", "model_error"),
    (r1.DeviceError("device lost"), ModelFailed, 500, "INTERNAL", "model_error"),
    (r1.InternalError("broken invariant"), ModelFailed, 500, "INTERNAL", "model_error"),
    (r1.R1Error("something else"), ModelFailed, 500, "INTERNAL", "model_error"),
]
CODEC_ERRORS = [
    (InvalidMessage("input 'x': unknown datatype"), BadRequest, 400, "INVALID_ARGUMENT", "bad_request"),
    (LimitExceeded("body over the limit"), PayloadTooLarge, 413, "RESOURCE_EXHAUSTED", "too_large"),
]
SERVE_ERRORS = [
    (BadRequest("bad"), BadRequest, 400, "INVALID_ARGUMENT", "bad_request"),
    (Unauthorized("key"), Unauthorized, 401, "UNAUTHENTICATED", "unauthorized"),
    (NotFound("nope"), NotFound, 404, "NOT_FOUND", "not_found"),
    (PayloadTooLarge("big"), PayloadTooLarge, 413, "RESOURCE_EXHAUSTED", "too_large"),
    (QueueFull("full"), QueueFull, 429, "RESOURCE_EXHAUSTED", "queue_full"),
    (QueueFull("full", 503), QueueFull, 503, "UNAVAILABLE", "queue_full"),  # on_full="unavailable"
    (ClientGone("gone"), ClientGone, 499, "CANCELLED", "cancelled"),
    (Unavailable("unloading"), Unavailable, 503, "UNAVAILABLE", "unavailable"),
    (RequestTimeout("late"), RequestTimeout, 504, "DEADLINE_EXCEEDED", "timeout"),
    (ServeError("method not allowed", 405), ServeError, 405, "UNIMPLEMENTED", "internal"),
]


@pytest.mark.parametrize("exc,kind,status,code,reason", ENGINE_ERRORS + CODEC_ERRORS + SERVE_ERRORS)
def test_each_error_maps_to_one_status_code_and_reason(exc, kind, status, code, reason):
    err = to_serve_error(exc)
    assert type(err) is kind and (err.status, grpc_code_name(err), err.reason) == (status, code, reason)
    assert reason in REASONS  # a label the server chose: metrics never see client-supplied strings
    assert str(exc) in err.message  # the original message travels to the client
    assert is_expected(exc)


def test_grpc_code_names_are_grpc_status_codes():
    grpc = pytest.importorskip("grpc")
    from deepseek_r1.serve.grpc_server import status_code

    for exc, *_ in ENGINE_ERRORS + CODEC_ERRORS + SERVE_ERRORS:
        err = to_serve_error(exc)
        assert status_code(err) is getattr(grpc.StatusCode, grpc_code_name(err))


def test_a_bug_is_internal_and_not_expected():
    exc = KeyError("oops")
    err = to_serve_error(exc)
    assert (type(err), err.status, err.reason, grpc_code_name(err)) == (ServeError, 500, "internal", "INTERNAL")
    assert err.message == "internal error: KeyError: 'oops'"
    assert not is_expected(exc)  # the transports log it with its traceback


def test_every_call_gives_a_fresh_instance():
    """A batch that fails fails each of its requests with its own exception (tracebacks are per raise)."""
    for exc in (QueueFull("full", 503), r1.InputError("bad"), InvalidMessage("bad")):
        a, b = to_serve_error(exc), to_serve_error(exc)
        assert a is not b and a is not exc and (a.message, a.status) == (b.message, b.status)


def test_a_real_engine_input_error_is_a_400():
    engine = r1.InferenceEngine(r1.Model(r1.load_onnx(add_relu_model(width=8))))
    with pytest.raises(r1.InputError) as e:
        engine.run({"x": np.ones((1, 7), np.float32)})
    err = to_serve_error(e.value)
    assert (err.status, grpc_code_name(err)) == (400, "INVALID_ARGUMENT") and "dim 1 must be 8" in err.message
