"""The infer route's own guards: cross-site pages may not run inference; transient refusals say when to retry."""

from __future__ import annotations

import json

import pytest

import deepseek_r1 as r1
from helpers.serve_fixtures import add_relu_model, add_version, http_request


def _infer(url: str, headers: dict):
    body = json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}]})
    return http_request(url, body.encode(), headers, "POST")  # (status, body, headers)


def test_cross_site_infer_is_refused_same_site_is_served(tmp_path):
    add_version(tmp_path, "m", 1, add_relu_model(4))
    with r1.InferenceServer(repository=tmp_path, poll_interval_s=None) as s:
        url = f"{s.url}/v2/models/m/infer"
        status, body, _ = _infer(url, {"Origin": "https://evil.example", "Content-Type": "text/plain"})
        assert status == 403 and b"cross-site" in body, body
        status, body, _ = _infer(url, {"Origin": s.url, "Content-Type": "application/json"})
        assert status == 200, body
        assert json.loads(body)["outputs"][0]["shape"] == [1, 4]
        status, _, _ = _infer(url, {})  # curl, scripts: no Origin at all
        assert status == 200
    with r1.InferenceServer(repository=tmp_path, poll_interval_s=None, allowed_origins="*") as s:
        status, _, _ = _infer(f"{s.url}/v2/models/m/infer", {"Origin": "https://evil.example"})
        assert status == 200


def test_unavailable_model_answers_503_with_retry_after(tmp_path):
    add_version(tmp_path, "m", 1, add_relu_model(4))
    with r1.InferenceServer(repository=tmp_path, poll_interval_s=None) as s:
        unload = http_request(f"{s.url}/v2/repository/models/m/unload", b"{}", {"Content-Type": "application/json"})
        assert unload[0] == 200
        status, body, headers = _infer(f"{s.url}/v2/models/m/infer", {})
        assert status == 503 and headers.get("Retry-After") == "1", (status, headers, body)


def _get(url: str, host: str):
    status, body, _ = http_request(url, headers={"Host": host})
    return status, body


def test_dns_rebinding_a_loopback_server_answers_only_localhost_names(tmp_path):
    """A page whose own name was re-resolved to 127.0.0.1 sends Origin and Host with that name: they agree, so
    only the Host rule stops it."""
    add_version(tmp_path, "m", 1, add_relu_model(4))
    with r1.InferenceServer(repository=tmp_path, poll_interval_s=None) as s:
        evil = f"rebind.example:{s.port}"
        status, body = _get(f"{s.url}/v2/models/m", evil)
        assert status == 403 and b"loopback" in body, body
        status, body, _ = _infer(f"{s.url}/v2/models/m/infer", {"Host": evil, "Origin": f"http://{evil}"})
        assert status == 403, body
        for ok in (f"localhost:{s.port}", f"127.0.0.1:{s.port}"):
            assert _get(f"{s.url}/v2/models/m", ok)[0] == 200
        assert _get(f"{s.url}/v2/health/live", evil)[0] == 200  # probes stay open
    with r1.InferenceServer(repository=tmp_path, poll_interval_s=None, allowed_hosts=["models.example"]) as s:
        assert _get(f"{s.url}/v2/models/m", f"models.example:{s.port}")[0] == 200
        assert _get(f"{s.url}/v2/models/m", f"rebind.example:{s.port}")[0] == 403


def test_host_rule_defaults():
    from deepseek_r1.serve.same_site import host_rule

    assert host_rule("0.0.0.0", None) is None  # exposed on purpose: any name
    assert host_rule("127.0.0.1", None) == frozenset()  # loopback names only
    assert host_rule("127.0.0.1", "*") is None
    with pytest.raises(ValueError, match="allowed_hosts"):
        host_rule("127.0.0.1", ["http://x"])


def test_error_messages_do_not_echo_a_whole_request(tmp_path):
    add_version(tmp_path, "m", 1, add_relu_model(4))
    with r1.InferenceServer(repository=tmp_path, poll_interval_s=None) as s:
        body = json.dumps(
            {
                "inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}],
                "outputs": [{"name": "o" * 100_000}],
            }
        ).encode()
        status, reply, _ = http_request(f"{s.url}/v2/models/m/infer", body)
        assert status == 400 and len(reply) < 1200 and b"truncated" in reply, reply[:200]
