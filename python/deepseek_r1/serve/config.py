"""Per-model serving configuration: server-wide defaults, overridden by `repo/<model>/config.json`.

    {"max_batch_size": 64, "preferred_batch_sizes": [16, 32], "max_queue_delay_ms": null,
     "dynamic_batching": true, "pad_values": {"input_ids": 0, "attention_mask": 0},
     "precision": "fp32", "variants": ["bf16"], "num_threads": 2, "versions": 1,
     "tokenizer": {"file": "tokenizer.json", "input": "text", "max_length": 128}}

`variants` lists lower-precision builds compiled from the same .r1 for auto precision (a `model.<precision>.r1`
file next to `model.r1` counts as a variant too). `versions` is Triton's "latest N" policy. Unknown keys are an
error: a typo in a config should not silently fall back to a default.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path

from ..engine import PRECISIONS
from .errors import BadRequest
from .model_files import check_relative, read_regular_file

MAX_CONFIG_BYTES = 64 * 1024


def _int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)  # True is an int to Python, not a count to anyone


def _number(v) -> bool:
    """A finite JSON number that fits a tensor element: 1e400 parses to inf, NaN is legal JSON in Python."""
    if _int(v):
        return -(2**63) <= v < 2**64
    return isinstance(v, float) and math.isfinite(v)


@dataclass(frozen=True)
class ModelConfig:
    max_batch_size: int = 32
    preferred_batch_sizes: tuple[int, ...] = ()
    max_queue_delay_ms: float | None = None  # None: adaptive (a lone request never waits)
    dynamic_batching: bool = True
    pad_values: dict | None = None  # input name -> pad value: ragged dims share a batch
    precision: str | None = None  # None: the one the .r1 file was compiled with (fp32 for an .onnx)
    variants: tuple[str, ...] = ()
    num_threads: int | None = None
    versions: int = 1
    tokenizer: dict | None = None  # {"file", "input", "max_length"}: a BYTES text input (text_inputs.py)
    device: str = "cpu"  # where the model runs: cpu, cuda:N, hip:N
    fallback_device: str | None = None  # where a run that fails with a device error reruns (failover.py)
    # {tier: bytes}: the server's one budget for every model (InferenceServer(memory_budget=...)), never per model
    memory_budget: dict | None = None

    def __post_init__(self):
        if not _int(self.max_batch_size) or not 1 <= self.max_batch_size <= 4096:
            raise BadRequest(f"max_batch_size must be an int from 1 to 4096, got {self.max_batch_size!r}")
        for b in self.preferred_batch_sizes:
            if not _int(b) or not 1 <= b <= self.max_batch_size:
                raise BadRequest(
                    f"preferred_batch_sizes must be ints from 1 to max_batch_size ({self.max_batch_size}), got {b!r}"
                )
        if self.max_queue_delay_ms is not None and not (
            _number(self.max_queue_delay_ms) and 0 <= self.max_queue_delay_ms <= 10_000
        ):
            raise BadRequest(f"max_queue_delay_ms must be null or 0..10000, got {self.max_queue_delay_ms!r}")
        for p in (self.precision, *self.variants):
            if p is not None and p not in PRECISIONS:
                raise BadRequest(f"precision '{p}' is not supported; supported: {', '.join(PRECISIONS)}")
        if self.num_threads is not None and not (_int(self.num_threads) and 1 <= self.num_threads <= 1024):
            raise BadRequest(f"num_threads must be null or an int from 1 to 1024, got {self.num_threads!r}")
        if not _int(self.versions) or not 1 <= self.versions <= 16:
            raise BadRequest(f"versions (latest N to serve) must be an int from 1 to 16, got {self.versions!r}")
        if self.tokenizer is not None and not isinstance(self.tokenizer, dict):
            raise BadRequest(
                f"tokenizer must be an object such as {{'file': 'tokenizer.json'}}, got {self.tokenizer!r}"
            )
        for key in ("device", "fallback_device"):
            v = getattr(self, key)
            if v is not None and not (isinstance(v, str) and re.fullmatch(r"cpu|(cuda|hip|sim):[0-9]+", v)):
                raise BadRequest(f"{key} must be cpu, cuda:N or hip:N, got {v!r}")
        if self.pad_values is not None and not (
            isinstance(self.pad_values, dict)
            and all(isinstance(k, str) and _number(v) for k, v in self.pad_values.items())
        ):
            raise BadRequest(f"pad_values must map input names to finite numbers, got {str(self.pad_values)[:200]}")

    def merged(self, overrides: dict) -> ModelConfig:
        """This config with `overrides` (parsed JSON) applied; unknown keys and bad types raise BadRequest."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise BadRequest(f"unknown config key(s) {unknown}; known keys: {sorted(known)}")
        if "memory_budget" in overrides:
            raise BadRequest(
                "memory_budget is the server's, one budget shared by every model: InferenceServer(memory_budget=...) "
                "or r1 serve --memory-budget, not a model's config"
            )
        values = dict(overrides)
        for key in ("preferred_batch_sizes", "variants"):
            if key in values:
                if not isinstance(values[key], list):
                    raise BadRequest(f"config '{key}' must be a list, got {type(values[key]).__name__}")
                values[key] = tuple(values[key])
        if "dynamic_batching" in values and not isinstance(values["dynamic_batching"], bool):
            raise BadRequest("config 'dynamic_batching' must be true or false")
        tokenizer = values.get("tokenizer")
        if isinstance(tokenizer, dict) and "file" in tokenizer:
            # config.json and load overrides name files inside the model's directory only (model_files.py)
            check_relative(tokenizer["file"], "tokenizer")
        return replace(self, **values)


def read_config_file(path: Path, defaults: ModelConfig, shown: str = "config.json") -> ModelConfig:
    """defaults + the JSON object in `path` (absent file: defaults). Bounded: a config is small. Errors name the
    file as `shown` (e.g. "bert/config.json"): load errors reach clients, and absolute server paths must not."""
    if not path.is_file():
        return defaults
    # resolved: a symlinked config.json (a Kubernetes ConfigMap mount) is read where it points
    raw = read_regular_file(path.resolve(), MAX_CONFIG_BYTES, "config", shown)
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadRequest(f"{shown}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise BadRequest(f"{shown}: a config must be a JSON object, got {type(data).__name__}")
    try:
        return defaults.merged(data)
    except BadRequest as e:
        raise BadRequest(f"{shown}: {e.message}") from None
