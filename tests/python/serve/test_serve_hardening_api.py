"""Hardening of the HTTP API: admin rights, priority ceilings, the cross-site guard, confined override paths,
failed reloads in the index, and the small ones (finite numbers, no path or repository leaks, Retry-After)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

tritonclient_http = pytest.importorskip("tritonclient.http")
from onnx import TensorProto, helper
from tritonclient.utils import InferenceServerException

import deepseek_r1 as r1
from deepseek_r1.serve import text_inputs
from deepseek_r1.serve.auth import require_admin
from deepseek_r1.serve.config import ModelConfig
from deepseek_r1.serve.errors import BadRequest, Forbidden, QueueFull, ServeError, Unavailable, grpc_code_name
from deepseek_r1.serve.infer_handler import request_priority, request_timeout_s
from deepseek_r1.serve.model_files import check_relative, read_model_file
from deepseek_r1.serve.same_site import allowed_origins, check_same_site
from deepseek_r1.serve.server import _keys
from helpers.serve_fixtures import add_relu_model, add_version, http_request

ADMIN, USER, CRIT = "admin-key-0123456789", "user-key-0123456789", "crit-key-0123456789"
KEYS = {ADMIN: {"priority": "premium", "admin": True}, USER: "standard", CRIT: {"priority": "critical"}}
REFUSED = "is not a regular file inside the model directory"


def ids_model():
    """ids_out = input_ids: a model a tokenizer config can feed."""
    ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"])
    out = helper.make_tensor_value_info("ids_out", TensorProto.INT64, ["batch", "seq"])
    g = helper.make_graph([helper.make_node("Identity", ["input_ids"], ["ids_out"])], "ids", [ids], [out])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def write_tokenizer(path):
    from tokenizers import Tokenizer, models, pre_tokenizers

    t = Tokenizer(models.WordLevel({"[UNK]": 0, "hello": 1, "world": 2}, unk_token="[UNK]"))
    t.pre_tokenizer = pre_tokenizers.Whitespace()
    path.write_text(t.to_str())


def make_repo(root):
    add_version(root, "addrelu", 1, add_relu_model(4, seed=1))
    add_version(root, "spare", 1, add_relu_model(4, seed=3))
    add_version(root, "tok", 1, ids_model())
    write_tokenizer(root / "tok" / "tokenizer.json")
    return root


def post(server, path, body=b"", headers=None, method="POST"):
    """(status, body, headers) of one request to `server` (serve_fixtures.http_request)."""
    return http_request(server.url + path, body if method == "POST" else None, headers, method)


def error(body: bytes) -> str:
    return json.loads(body)["error"]


JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return make_repo(tmp_path_factory.mktemp("repo"))


@pytest.fixture(scope="module")
def server(repo):  # keys off: the default
    s = r1.InferenceServer(repository=repo, poll_interval_s=None).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def keyed(repo):
    s = r1.InferenceServer(repository=repo, poll_interval_s=None, api_keys=KEYS).start()
    yield s
    s.stop()


def auth(key):
    return {"Authorization": f"Bearer {key}", **JSON}


# ---------------------------------------------------------------- M1: admin rights


def test_key_settings_are_normalised_and_checked():
    assert _keys(["list-key-0123"]) == {"list-key-0123": {"priority": "standard", "admin": False}}
    assert _keys({"str-key-0123": "premium"}) == {"str-key-0123": {"priority": "premium", "admin": False}}
    assert _keys(KEYS)[ADMIN] == {"priority": "premium", "admin": True}
    with pytest.raises(ValueError, match="'admin' must be True or False"):
        _keys({"bad-key-0123": {"admin": "yes"}})
    with pytest.raises(ValueError, match="unknown API key setting"):
        _keys({"bad-key-0123": {"admn": True}})


def test_require_admin():
    require_admin({}, None)  # keys off: the cross-site guard protects a local server instead
    require_admin({"priority": "standard", "admin": True}, KEYS)
    for settings in ({"priority": "critical", "admin": False}, {}):
        with pytest.raises(Forbidden, match="'admin' right") as e:
            require_admin(settings, KEYS)
        assert (e.value.status, e.value.reason, grpc_code_name(e.value)) == (403, "forbidden", "PERMISSION_DENIED")


def test_repository_changes_need_an_admin_key(keyed):
    for path in ("/v2/repository/models/spare/unload", "/v2/repository/models/spare/load"):
        status, body, _ = post(keyed, path, b"{}", auth(USER))
        assert status == 403 and "'admin' right" in error(body), body
        assert post(keyed, path, b"{}", JSON)[0] == 401
    config = json.dumps({"parameters": {"config": {"max_batch_size": 2}}}).encode()
    assert post(keyed, "/v2/repository/models/spare/load", config, auth(CRIT))[0] == 403  # critical is no admin
    status, body, _ = post(keyed, "/v2/repository/index", b"", auth(USER))  # reading the index is not admin
    assert status == 200 and any(r["name"] == "spare" for r in json.loads(body))
    assert post(keyed, "/v2/repository/models/spare/unload", b"{}", auth(ADMIN))[0] == 200
    assert post(keyed, "/v2/repository/models/spare/load", config, auth(ADMIN))[0] == 200
    status, body, _ = post(keyed, "/v2/models/spare/config", headers=auth(USER), method="GET")
    assert json.loads(body)["max_batch_size"] == 2


# ---------------------------------------------------------------- M2: a key's level is a ceiling


def test_priority_is_capped_by_the_key_level():
    standard, premium = {"priority": "standard", "admin": False}, {"priority": "premium", "admin": True}
    for asked in ("critical", "premium", 1, 2):
        with pytest.raises(Forbidden) as e:
            request_priority({"priority": asked}, standard)
        assert "standard" in e.value.message and ("critical" in e.value.message or "premium" in e.value.message)
    assert [request_priority({"priority": p}, standard) for p in ("standard", 3, 0)] == ["standard"] * 3
    assert request_priority({}, premium) == "premium"  # still the default
    assert request_priority({"priority": "standard"}, premium) == "standard"
    assert request_priority({"priority": "critical"}, {}) == "critical"  # keys off: no ceiling


def test_priority_ceiling_over_http(keyed):
    body = {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}

    def infer(key, priority):
        doc = dict(body, parameters={"priority": priority})
        return post(keyed, "/v2/models/addrelu/infer", json.dumps(doc).encode(), auth(key))

    status, text, _ = infer(USER, "critical")
    assert status == 403 and "'critical'" in error(text) and "'standard'" in error(text)
    assert infer(USER, 1)[0] == 403
    assert [infer(USER, p)[0] for p in ("standard", 3, 0)] == [200] * 3
    assert [infer(CRIT, p)[0] for p in ("critical", 1, "standard")] == [200] * 3


# ---------------------------------------------------------------- M6: the cross-site guard


def test_cross_site_posts_are_refused(server):
    own = f"http://127.0.0.1:{server.port}"
    unload, load = "/v2/repository/models/spare/unload", "/v2/repository/models/spare/load"
    for headers in (
        {"Origin": "http://evil.example", **JSON},
        {"Origin": "null", **JSON},  # sandboxed frames and file:// pages
        {"Origin": f"http://127.0.0.1:{server.port + 1}", **JSON},  # another port is another site
        {"Content-Type": "text/plain"},  # a "simple" request: no preflight in any browser
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Origin": own},  # a browser on our own page still declares its JSON
    ):
        status, body, _ = post(server, unload, b'{"parameters": {}}', headers)
        assert status == 403, (headers, body)
        assert "cross-site" in error(body) or "application/json" in error(body)
    status, body, _ = post(server, "/v2/repository/index", b"", {"Origin": "http://evil.example"})
    assert status == 403 and "cross-site" in error(body)
    assert post(server, "/v2/models/spare/ready", method="GET")[0] == 200  # nothing was unloaded
    assert post(server, unload, b"{}", {"Origin": own, **JSON})[0] == 200
    assert post(server, load, b"", {"Content-Type": "text/plain"})[0] == 200  # no body: nothing to misread
    c = tritonclient_http.InferenceServerClient(f"127.0.0.1:{server.port}")
    try:  # tritonclient sends JSON without Content-Type and no Origin: still served
        c.unload_model("spare")
        c.load_model("spare", config=json.dumps({"max_batch_size": 4}))
        assert c.is_model_ready("spare") and c.get_model_repository_index()
    finally:
        c.close()


def test_allowed_origins_keyword(repo):
    with pytest.raises(ValueError, match="allowed_origins"):
        r1.InferenceServer(repository=repo, allowed_origins=("ftp://x",))
    with pytest.raises(ValueError, match="allowed_origins"):
        r1.InferenceServer(repository=repo, allowed_origins=("https://x/path",))
    with r1.InferenceServer(repository=repo, poll_interval_s=None, allowed_origins=("https://dash.example",)) as s:
        index = "/v2/repository/index"
        assert post(s, index, b"", {"Origin": "https://dash.example:443"})[0] == 200
        assert post(s, index, b"", {"Origin": "http://dash.example"})[0] == 403  # the scheme is part of it
    with r1.InferenceServer(repository=repo, poll_interval_s=None, allowed_origins="*") as s:
        assert post(s, "/v2/repository/index", b"", {"Origin": "http://anywhere.example"})[0] == 200
        assert post(s, "/v2/repository/index", b"{}", {"Content-Type": "text/plain"})[0] == 403  # still JSON only


def test_same_site_rules():
    allowed = allowed_origins(("http://proxy.example:8080",))
    host = {"host": "internal:9000"}
    check_same_site({**host, "origin": "http://internal:9000"}, (), b"")
    check_same_site({"host": "[::1]:8080", "origin": "http://[::1]:8080"}, (), b"")
    check_same_site({"host": "example.com", "origin": "https://example.com"}, (), b"")  # default ports
    check_same_site({**host, "origin": "http://proxy.example:8080", "content-type": "application/json"}, allowed, b"{}")
    check_same_site({"content-type": "Application/JSON; charset=utf-8"}, (), b"{}")
    check_same_site({}, (), b"{}")  # a non-browser client: no Origin, no Content-Type
    for headers in (
        {**host, "origin": "http://internal:9001"},
        {"origin": "http://internal:9000"},  # no Host to compare with
        {**host, "origin": "http://internal:9000/path"},
        {**host, "origin": "javascript://internal:9000"},
    ):
        with pytest.raises(Forbidden, match="cross-site"):
            check_same_site(headers, allowed, b"")
    with pytest.raises(Forbidden, match="application/json"):
        check_same_site({**host, "origin": "http://internal:9000"}, (), b"{}")


# ---------------------------------------------------------------- H2: override paths stay in the model directory


def _load_tok(server, file):
    config = {"tokenizer": {"file": file}}
    return post(server, "/v2/repository/models/tok/load", json.dumps({"parameters": {"config": config}}).encode(), JSON)


def test_tokenizer_override_paths_are_confined(server, repo, tmp_path):
    model_dir = repo / "tok"
    outside = tmp_path / "secret.json"
    write_tokenizer(outside)  # a valid tokenizer, even: outside is outside
    links = {"in-passwd.json": "/etc/passwd", "in-zero.json": "/dev/zero", "in-ghost.json": str(tmp_path / "none")}
    links["in-secret.json"] = str(outside)
    for name, target in links.items():
        if not (model_dir / name).is_symlink():
            os.symlink(target, model_dir / name)
    if not (model_dir / "in-fifo.json").exists():
        os.mkfifo(model_dir / "in-fifo.json")
    (model_dir / "in-dir.json").mkdir(exist_ok=True)
    # absolute and '..' paths: refused when the override is parsed, one message whether or not they exist
    for file in ("/etc/passwd", "/no/such/file.json", str(outside), "../../etc/passwd", "../tok/tokenizer.json"):
        status, body, _ = _load_tok(server, file)
        assert status == 400 and "must be a path relative to the model directory" in error(body), (file, body)
    # symlinks out of the directory, devices, FIFOs, directories, missing files: one message for all
    messages = set()
    for file in (*links, "in-fifo.json", "in-dir.json", "missing.json"):
        status, body, _ = _load_tok(server, file)
        assert status == 400, body
        msg = error(body)
        assert REFUSED in msg and str(tmp_path) not in msg and str(repo) not in msg, msg
        messages.add(msg.replace(file, "<file>"))
    assert len(messages) == 1, messages
    assert post(server, "/v2/models/tok/ready", method="GET")[0] == 200  # the serving version kept serving
    assert _load_tok(server, "tokenizer.json")[0] == 200
    status, body, _ = post(server, "/v2/models/tok", method="GET")
    assert {"name": "text", "datatype": "BYTES", "shape": [-1]} in json.loads(body)["inputs"]


def test_tokenizer_file_is_read_to_a_limit(server, monkeypatch):
    monkeypatch.setattr(text_inputs, "MAX_TOKENIZER_BYTES", 100)
    status, body, _ = _load_tok(server, "tokenizer.json")
    assert status in (400, 503) and "the limit is 100" in error(body), body


def test_model_files_refuse_what_is_not_a_regular_file_inside(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "ok.json").write_text("{}")
    (tmp_path / "out.json").write_text("{}")
    os.symlink(tmp_path / "out.json", tmp_path / "m" / "link.json")
    os.symlink("ok.json", tmp_path / "m" / "inner-link.json")  # a link that stays inside is fine
    os.mkfifo(tmp_path / "m" / "fifo.json")  # opening must not wait for a writer
    assert read_model_file(tmp_path / "m", "ok.json", 10, "x") == b"{}"
    assert read_model_file(tmp_path / "m", "inner-link.json", 10, "x") == b"{}"
    assert read_model_file(tmp_path / "m", str(tmp_path / "out.json"), 10, "x") == b"{}"  # the operator's own
    for file in ("link.json", "fifo.json", "nope.json", "."):
        with pytest.raises(BadRequest, match=REFUSED):
            read_model_file(tmp_path / "m", file, 10, "x")
    with pytest.raises(BadRequest, match=REFUSED):
        read_model_file(tmp_path / "m", "/dev/zero", 1 << 30, "x")  # even the operator's path: not regular
    with pytest.raises(BadRequest, match="the limit is 1"):
        read_model_file(tmp_path / "m", "ok.json", 1, "x")
    for bad in ("/etc/passwd", "../out.json", "a/../../out.json", "C:\\x", "\\\\host\\share", "", None, "a\x00b"):
        with pytest.raises(BadRequest, match="relative to the model directory"):
            check_relative(bad, "tokenizer")
    with pytest.raises(BadRequest, match="relative"):  # config.json and overrides: checked when merged
        ModelConfig().merged({"tokenizer": {"file": "/dev/zero"}})


# ---------------------------------------------------------------- M5: a failed reload shows in the index


def test_failed_reload_shows_in_the_index_and_metrics(tmp_path):
    add_version(tmp_path, "m", 1, add_relu_model(4, seed=1))
    with r1.InferenceServer(repository=tmp_path, poll_interval_s=None) as s:
        (tmp_path / "m" / "2").mkdir()
        (tmp_path / "m" / "2" / "model.r1").write_bytes(b"not a model at all" * 100)
        status, body, _ = post(s, "/v2/repository/models/m/load", b"{}", JSON)
        assert status == 503 and str(tmp_path) not in error(body), body
        rows = {r["version"]: r for r in json.loads(post(s, "/v2/repository/index", b"", JSON)[1])}
        assert rows["1"]["state"] == "READY" and rows["2"]["state"] == "UNAVAILABLE"
        why = rows["2"]["reason"]
        assert why and str(tmp_path) not in why, why
        assert rows["1"]["reason"] == f"reload failed: {why}; serving the previously loaded version"
        c = tritonclient_http.InferenceServerClient(f"127.0.0.1:{s.port}")
        assert {r.get("version"): r["reason"] for r in c.get_model_repository_index()} == {
            v: r["reason"] for v, r in rows.items()
        }
        c.close()
        status_json = json.loads(post(s, "/status.json", method="GET")[1])
        assert {r.get("version"): r["state"] for r in status_json["index"]} == {"1": "READY", "2": "UNAVAILABLE"}
        metrics = post(s, "/metrics", method="GET")[1].decode()
        assert 'r1_model_load_failures_total{model="m"} 1.0' in metrics
        # a config override that fails to load keeps v1 serving, and says so on its row
        status, body, _ = post(s, "/v2/repository/models/m/load", b'{"parameters": {"config": {"versions": 0}}}', JSON)
        assert status == 400
        row = json.loads(post(s, "/v2/repository/index", b"", JSON)[1])[0]
        assert row["state"] == "READY" and row["reason"].startswith("reload failed: versions")
        add_version(tmp_path, "m", 2, add_relu_model(4, seed=2))  # fixed: the reasons clear
        assert post(s, "/v2/repository/models/m/load", b"{}", JSON)[0] == 200
        rows = json.loads(post(s, "/v2/repository/index", b"", JSON)[1])
        assert [(r["version"], r["state"], r["reason"]) for r in rows] == [("2", "READY", "")]


def test_load_errors_name_repository_relative_paths(tmp_path):
    add_version(tmp_path, "ok", 1, add_relu_model(4))
    (tmp_path / "broken" / "1").mkdir(parents=True)
    (tmp_path / "broken" / "1" / "model.r1").write_bytes(b"R1\x00garbage" * 10)
    add_version(tmp_path, "badconf", 1, add_relu_model(4))
    (tmp_path / "badconf" / "config.json").write_text("{not json")
    with r1.InferenceServer(repository=tmp_path, poll_interval_s=None) as s:
        rows = {r["name"]: r for r in json.loads(post(s, "/v2/repository/index", b"", JSON)[1])}
        for name in ("broken", "badconf"):
            assert rows[name]["state"] == "UNAVAILABLE" and str(tmp_path) not in rows[name]["reason"]
        assert rows["badconf"]["reason"].startswith("badconf/config.json: not valid JSON")
        status, body, _ = post(s, "/v2/repository/models/broken/load", b"{}", JSON)
        assert status == 503 and str(tmp_path) not in error(body)


def test_symlinked_files_inside_the_model_directory_still_load(tmp_path):
    """A Kubernetes ConfigMap mount: config.json and tokenizer.json are symlinks into ..data/ beside them."""
    add_version(tmp_path, "tok", 1, ids_model())
    data = tmp_path / "tok" / "..data"
    data.mkdir()
    write_tokenizer(data / "tokenizer.json")
    (data / "config.json").write_text(json.dumps({"max_batch_size": 3, "tokenizer": {"file": "tokenizer.json"}}))
    for name in ("config.json", "tokenizer.json"):
        os.symlink(f"..data/{name}", tmp_path / "tok" / name)
    with r1.InferenceServer(repository=tmp_path, poll_interval_s=None) as s:
        assert json.loads(post(s, "/v2/models/tok/config", method="GET")[1])["max_batch_size"] == 3
        assert any(i["name"] == "text" for i in json.loads(post(s, "/v2/models/tok", method="GET")[1])["inputs"])


# ---------------------------------------------------------------- the low findings


def test_timeout_must_be_a_finite_positive_number():
    for bad in (float("nan"), float("inf"), -float("inf"), 10**400, 1e300, True, 0):
        with pytest.raises(BadRequest, match="timeout"):
            request_timeout_s({"timeout": bad})
    assert request_timeout_s({"timeout": 86_400_000_000}) == 86_400.0


def test_nan_timeout_over_http_is_a_400(server):
    for raw in (b"NaN", b"Infinity", b"1e400", b"9" * 400):
        body = b'{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}],"parameters":{"timeout":'
        status, text, _ = post(server, "/v2/models/addrelu/infer", body + raw + b"}}", JSON)
        assert status == 400 and "timeout" in error(text), (raw, text)


@pytest.mark.parametrize(
    "overrides",
    [
        {"max_batch_size": True},
        {"num_threads": True},
        {"versions": True},
        {"preferred_batch_sizes": [True]},
        {"max_queue_delay_ms": True},
        {"max_queue_delay_ms": float("nan")},
        {"pad_values": {"x": float("inf")}},
        {"pad_values": {"x": float("nan")}},
        {"pad_values": {"x": 10**400}},
        {"pad_values": {"x": True}},
    ],
)
def test_config_rejects_bools_and_non_finite_numbers(overrides):
    with pytest.raises(BadRequest):
        ModelConfig().merged(overrides)


def test_unknown_model_404_does_not_list_the_repository(server):
    for path, method in (("/v2/models/zzz", "GET"), ("/v2/models/zzz/infer", "POST")):
        status, body, _ = post(server, path, b"{}", JSON, method=method)
        assert status == 404 and error(body) == "unknown model 'zzz'", body


def test_retry_after_on_transient_errors(server):
    for err in (QueueFull("full"), QueueFull("full", 503), Unavailable("unloading")):
        assert err.headers() == {"Retry-After": "1"}
    assert BadRequest("bad").headers() == {} and ServeError("x", retry_after_s=2.5).headers() == {"Retry-After": "3"}
    assert post(server, "/v2/repository/models/spare/unload", b"{}", JSON)[0] == 200
    try:
        status, _, headers = post(server, "/v2/models/spare", method="GET")
        assert status == 503 and headers.get("Retry-After") == "1"
    finally:
        assert post(server, "/v2/repository/models/spare/load", b"{}", JSON)[0] == 200


def test_json_answers_never_hold_nan(server, monkeypatch):
    live = server.repository.live_stats
    monkeypatch.setattr(server.repository, "live_stats", lambda: [*live(), {"name": "n", "x": float("nan")}])

    def strict(s):
        raise ValueError(f"bare {s} in JSON")

    status, body, _ = post(server, "/status.json", method="GET")
    assert status == 200
    doc = json.loads(body, parse_constant=strict)
    assert {"name": "n", "x": None} in doc["models"]


def test_text_input_max_length_rejects_bool(tmp_path):
    write_tokenizer(tmp_path / "tokenizer.json")
    engine = r1.InferenceEngine(r1.Model(r1.load_onnx(ids_model())))
    with pytest.raises(BadRequest, match="max_length"):
        text_inputs.TextInput({"file": "tokenizer.json", "max_length": True}, tmp_path, engine.inputs)
    ti = text_inputs.TextInput({"file": "tokenizer.json"}, tmp_path, engine.inputs)
    assert ti({"text": np.array([b"hello world"], object)})["input_ids"].tolist() == [[1, 2]]


def test_tritonclient_sees_forbidden_as_an_error(keyed):
    c = tritonclient_http.InferenceServerClient(f"127.0.0.1:{keyed.port}")
    try:
        with pytest.raises(InferenceServerException, match="admin"):
            c.unload_model("spare", headers={"Authorization": f"Bearer {USER}"})
    finally:
        c.close()
