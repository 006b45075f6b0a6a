"""The one check of a model's inputs, for InferenceEngine and the server's batcher alike.

    arrays = arrange(engine.inputs, {"x": x})       # names (or positions) and dtypes -> arrays in input order
    check_shapes(engine.inputs, arrays)             # ranks, fixed dims, a symbolic dim bound to one size
    arrays = check_inputs(engine.inputs, {"x": x})  # both, for a dict of inputs (the batcher)

Every failure is a deepseek_r1.InputError naming the input, what the model expects and what it got. The shape
messages are word for word the executor's (cpp/r1/runtime/executor.cc check_inputs), so a bad shape reads the same
whether the server's batcher or the engine catches it; tests/python/runtime/test_input_check.py holds the two to it.
The engine runs arrange() only: its batch_infer() hands it samples whose batch dim is still missing, and the
executor checks shapes on every run anyway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np

from ._core import InputError
from .dtypes import R1_TO_NUMPY


class InputSpec(Protocol):
    """What the check needs of a model input (TensorInfo has it): dims are ints, symbol names or None."""

    @property
    def name(self) -> str: ...
    @property
    def dtype(self) -> str: ...
    @property
    def shape(self) -> tuple | None: ...


def _names(specs: Sequence[InputSpec]) -> list[str]:
    return [s.name for s in specs]


def _values(specs: Sequence[InputSpec], inputs) -> list:
    """The given values in the model's input order, from a dict, a list/tuple, or one array (one-input models)."""
    if isinstance(inputs, Mapping):
        names = _names(specs)
        unknown = [k for k in inputs if k not in names]
        if unknown:
            raise InputError(f"unknown input name(s) {unknown}; the model's inputs are {names}")
        missing = [n for n in names if n not in inputs]
        if missing:
            raise InputError(f"missing input(s) {missing}; the model's inputs are {names}")
        return [inputs[n] for n in names]
    if isinstance(inputs, (list, tuple)):
        if len(inputs) != len(specs):
            raise InputError(f"the model takes {len(specs)} inputs {_names(specs)}, got {len(inputs)}")
        return list(inputs)
    if isinstance(inputs, np.ndarray) and len(specs) == 1:
        return [inputs]
    raise InputError(f"inputs must be a dict of name -> array or a list of arrays, got {type(inputs).__name__}")


def _array(spec: InputSpec, v, what: str) -> np.ndarray:
    a = np.asarray(v)
    if spec.dtype == "string" and a.dtype.kind in "US":
        a = a.astype(object)  # numpy's fixed-width str / bytes: the engine's strings are objects
    if a.dtype != R1_TO_NUMPY[spec.dtype]:
        raise InputError(f"{what} '{spec.name}' must be {spec.dtype}, got {a.dtype}")
    return a


def arrange(specs: Sequence[InputSpec], inputs) -> list:
    """The inputs in the model's input order, each of its input's dtype (nothing is converted): arrays, and for
    inputs of ONNX's sequence / optional types the tagged forms the executor takes: ("sequence", dtype, [arrays])
    for a list, ("none", dtype, of_sequence) for None."""
    values: list = []
    for spec, v in zip(specs, _values(specs, inputs)):
        kind = getattr(spec, "kind", "tensor")
        if kind.startswith("optional") and v is None:
            values.append(("none", spec.dtype, kind == "optional sequence"))
        elif kind.endswith("sequence"):
            if not isinstance(v, (list, tuple)):
                raise InputError(f"input '{spec.name}' is a sequence: pass a list of arrays, got {type(v).__name__}")
            values.append(("sequence", spec.dtype, [_array(spec, e, "each element of input") for e in v]))
        else:
            values.append(_array(spec, v, "input"))
    return values


def _shape_str(dims) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in dims) + "]"


def check_shapes(specs: Sequence[InputSpec], arrays: Sequence[np.ndarray]) -> None:
    """Ranks and fixed dims as declared; every symbolic dim one size across all the inputs that use it."""
    bound: dict[str, tuple[int, str]] = {}  # symbol -> (size, the input that bound it)
    for spec, a in zip(specs, arrays):
        if spec.shape is None:
            continue  # rank unknown: nothing to hold it to
        want = _shape_str(spec.shape)
        if a.ndim != len(spec.shape):
            raise InputError(
                f"input '{spec.name}' must have shape {want} (rank {len(spec.shape)}), "
                f"got {_shape_str(a.shape)} (rank {a.ndim})"
            )
        for i, (d, got) in enumerate(zip(spec.shape, a.shape)):
            if isinstance(d, int):
                if d != got:
                    raise InputError(
                        f"input '{spec.name}' must have shape {want}, got {_shape_str(a.shape)} (dim {i} must be {d})"
                    )
            elif isinstance(d, str):
                size, by = bound.setdefault(d, (got, spec.name))
                if size != got:
                    raise InputError(f"dim '{d}' is {size} in input '{by}' but {got} in input '{spec.name}'")


def check_inputs(specs: Sequence[InputSpec], inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A dict of inputs checked in full (names, dtypes, shapes): name -> array, in the model's input order."""
    if not isinstance(inputs, Mapping):
        raise InputError(f"inputs must be a dict of name -> array, got {type(inputs).__name__}")
    arrays = arrange(specs, inputs)
    check_shapes(specs, arrays)
    return dict(zip(_names(specs), arrays))
