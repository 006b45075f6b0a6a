"""Exporting the real-model fixtures to ONNX with both torch exporters, cached on disk.

Exporters: "legacy" = torch.onnx.export(dynamo=False, opset_version=17) with dynamic_axes;
"dynamo" = torch.onnx.export(dynamo=True) with dynamic_shapes (its own default opset).

The cache directory is $R1_TEST_CACHE (default ~/.cache/deepseek_r1/test-models). Each export lives
in its own directory named by model, exporter, torch version and FIXTURE_VERSION; it is written to a
temporary directory and renamed, so a reader never sees half an export. An export that fails is
recorded as `<key>.failed` holding the exporter's error; export_model raises ExportFailed with it.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import traceback
from pathlib import Path

from helpers.model_builders import ExportFailed
from helpers.model_specs import SPECS, ModelSpec

FIXTURE_VERSION = "v1"  # bump when a model definition or export setting changes
EXPORTERS = ("legacy", "dynamo")
LEGACY_OPSET = 17


def cache_dir() -> Path:
    d = Path(os.environ.get("R1_TEST_CACHE", Path.home() / ".cache" / "deepseek_r1" / "test-models")).expanduser()
    d.mkdir(parents=True, exist_ok=True)
    return d


def _torch_version() -> str:
    import torch

    return torch.__version__.split("+")[0]


def model_key(name: str, exporter: str) -> str:
    return f"{name}-{exporter}-torch{_torch_version()}-{FIXTURE_VERSION}"


# --------------------------------------------------------------------------------------------------
# Export


def _export(spec: ModelSpec, exporter: str, path: Path) -> None:
    import torch

    module = spec.build()
    args = spec.example_inputs()
    outs = [n for n in spec.output_names]
    with torch.no_grad():
        if exporter == "legacy":
            torch.onnx.export(
                module,
                args,
                str(path),
                dynamo=False,
                opset_version=LEGACY_OPSET,
                input_names=spec.input_names,
                output_names=outs,
                dynamic_axes=spec.dynamic_axes,
                do_constant_folding=True,
            )
        elif exporter == "dynamo":
            dims = {}
            for dname, (lo, hi) in spec.dim_ranges.items():
                dims[dname] = torch.export.Dim(dname, min=lo, max=hi)
            # Positional (the forward's arg names need not match the ONNX input names).
            shapes = tuple(
                {ax: dims[d] for ax, d in spec.dynamic_axes.get(n, {}).items()} or None for n in spec.input_names
            )
            prog = torch.onnx.export(
                module,
                args,
                None,
                dynamo=True,
                input_names=spec.input_names,
                output_names=outs,
                dynamic_shapes=shapes,
                optimize=True,
            )
            prog.save(str(path), external_data=True)
        else:
            raise ValueError(f"unknown exporter {exporter!r}; expected one of {EXPORTERS}")
    if not path.is_file():
        raise ExportFailed(f"{exporter} exporter wrote no file for {spec.name}")


def export_for_test(name: str, exporter: str = "legacy") -> Path:
    """export_model for tests: an export that fails fails the test (a fixture that cannot be built is a
    failure, never a skip)."""
    import pytest

    try:
        return export_model(name, exporter)
    except ExportFailed as e:
        pytest.fail(str(e))


def _summarize_error(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}"
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) > 25:
        lines = lines[:20] + ["..."] + lines[-4:]
    return "\n".join(lines)


def export_model(name: str, exporter: str, verbose: bool = False) -> Path:
    """Exports SPECS[name] with `exporter` into the cache (once) and returns the .onnx path.

    Raises ExportFailed (with the exporter's error) when the exporter cannot export the model. A failure
    is not cached: the next call tries again.
    """
    if name not in SPECS:
        raise KeyError(f"unknown model {name!r}; known: {sorted(SPECS)}")
    if exporter not in EXPORTERS:
        raise KeyError(f"unknown exporter {exporter!r}; known: {EXPORTERS}")
    root = cache_dir()
    key = model_key(name, exporter)
    final = root / key
    path = final / "model.onnx"
    if path.is_file():
        return path
    tmp = root / f"{key}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    t0 = time.time()
    try:
        _export(SPECS[name], exporter, tmp / "model.onnx")
    except Exception as e:
        shutil.rmtree(tmp, ignore_errors=True)
        msg = f"{exporter} export of {name} failed: {_summarize_error(e)}"
        if verbose:
            traceback.print_exc()
        raise ExportFailed(msg) from None
    try:
        os.rename(tmp, final)
    except OSError:  # another process finished first
        shutil.rmtree(tmp, ignore_errors=True)
    if verbose:
        print(f"exported {key} in {time.time() - t0:.1f}s", file=sys.stderr)
    return path
