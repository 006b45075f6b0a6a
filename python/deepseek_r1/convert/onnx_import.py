"""ONNX -> r1 graph. The onnx package parses the protobuf; tensors reach C++ without copies.

Weights stored inside the model are viewed in place (np.frombuffer over raw_data); weights in
external data files are memory-mapped, so a large model's weights are never read into memory
twice. Constant nodes become initializers.
"""

from __future__ import annotations

import math
import mmap
import os
from pathlib import Path

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, numpy_helper

from .. import _core
from .._core import ModelError
from ..dtypes import ONNX_TO_NUMPY, ONNX_TO_R1


def _c_contiguous(a: np.ndarray) -> np.ndarray:
    """C-contiguous without changing the rank (np.ascontiguousarray turns 0-d arrays into 1-d)."""
    a = np.asarray(a)
    return a if a.flags.c_contiguous else np.array(a, order="C")


# The ONNX default-domain opsets whose semantics the kernels implement.
# The newest opset is what the pinned onnx package defines; per-op schemas bound the semantics.
MIN_OPSET, MAX_OPSET = 7, onnx.defs.onnx_opset_version()

ModelSource = str | os.PathLike | bytes | onnx.ModelProto


def _type_name(elem_type: int) -> str:
    try:
        return TensorProto.DataType.Name(elem_type)
    except ValueError:
        return str(elem_type)


def _np_dtype(elem_type: int, what: str) -> np.dtype:
    dt = ONNX_TO_NUMPY.get(elem_type)
    if dt is None:
        raise ModelError(
            f"{what} has element type {_type_name(elem_type)}, which the engine does not support "
            f"(supported: {', '.join(sorted(ONNX_TO_R1.values()))})"
        )
    return dt


class _ExternalData:
    """Maps external-data files once each; arrays view the mapping."""

    def __init__(self, base_dir: Path | None):
        self.base_dir = base_dir
        self.maps: dict[str, mmap.mmap] = {}

    def array(self, t: TensorProto, dtype: np.dtype) -> np.ndarray:
        info = {e.key: e.value for e in t.external_data}
        if self.base_dir is None:
            raise ModelError(f"initializer '{t.name}' uses external data, but the model was not loaded from a file")
        loc = info.get("location", "")
        path = (self.base_dir / loc).resolve()
        if not path.is_relative_to(self.base_dir.resolve()):
            raise ModelError(f"initializer '{t.name}': external data location '{loc}' leaves the model directory")
        if not path.is_file():
            raise ModelError(f"initializer '{t.name}': external data file '{loc}' not found next to the model")
        count = math.prod(int(d) for d in t.dims)
        try:
            offset = int(info.get("offset", 0))
            length = int(info.get("length", count * dtype.itemsize))
        except ValueError:
            raise ModelError(f"initializer '{t.name}': external data offset/length are not integers: {info}") from None
        if offset < 0 or length < 0:
            raise ModelError(f"initializer '{t.name}': negative external data offset/length {offset}/{length}")
        mm = self.maps.get(str(path))
        if mm is None:
            if path.stat().st_size == 0:
                raise ModelError(f"initializer '{t.name}': external data file '{loc}' is empty")
            with open(path, "rb") as f:
                try:
                    mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                except (OSError, ValueError) as e:
                    raise ModelError(f"initializer '{t.name}': cannot map '{loc}': {e}") from None
            self.maps[str(path)] = mm
        if offset + length > len(mm) or length < count * dtype.itemsize:
            raise ModelError(
                f"initializer '{t.name}': external data range {offset}+{length} is outside '{loc}' ({len(mm)} bytes)"
            )
        return np.frombuffer(mm, dtype=dtype, count=count, offset=offset).reshape(tuple(t.dims))


def tensor_to_array(t: TensorProto, ext: _ExternalData | None = None) -> np.ndarray:
    """A numpy view of an ONNX tensor, without copying where the data allows."""
    dtype = _np_dtype(t.data_type, f"tensor '{t.name}'")
    dims = tuple(int(d) for d in t.dims)
    if any(d < 0 for d in dims):
        raise ModelError(f"tensor '{t.name}' has negative dims {dims}")
    count = math.prod(dims)  # Python ints: no silent overflow on hostile dims
    if t.data_location == TensorProto.EXTERNAL:
        return ext.array(t, dtype) if ext else _ExternalData(None).array(t, dtype)
    if t.HasField("raw_data"):
        raw = t.raw_data
        if len(raw) != count * dtype.itemsize:
            raise ModelError(
                f"tensor '{t.name}' holds {len(raw)} bytes but shape {list(dims)} of "
                f"{_type_name(t.data_type)} needs {count * dtype.itemsize}"
            )
        return np.frombuffer(raw, dtype=dtype).reshape(dims)
    if t.data_type == TensorProto.STRING:
        arr = np.array([b.decode("utf-8", errors="replace") for b in t.string_data], dtype=object)
        if arr.size != count:
            raise ModelError(f"tensor '{t.name}' holds {arr.size} strings but its shape {list(dims)} needs {count}")
        return arr.reshape(dims)
    if t.data_type in (TensorProto.FLOAT16, TensorProto.BFLOAT16):
        # 16-bit floats in typed storage are kept as their bit patterns in int32_data.
        bits = np.asarray(t.int32_data, dtype=np.uint16)
        arr = bits.view(dtype)
    else:
        try:
            arr = numpy_helper.to_array(t)
        except Exception as e:  # malformed typed fields
            raise ModelError(f"tensor '{t.name}' could not be read: {e}") from None
        arr = arr.astype(dtype, copy=False)
    if arr.size != count:
        raise ModelError(f"tensor '{t.name}' holds {arr.size} values but its shape {list(dims)} needs {count}")
    return _c_contiguous(arr.reshape(dims))


def _attribute(node: onnx.NodeProto, a: AttributeProto, ext: _ExternalData):
    T = AttributeProto
    if a.type == T.INT:
        return ("int", int(a.i))
    if a.type == T.FLOAT:
        return ("float", float(a.f))
    if a.type == T.STRING:
        return ("string", a.s.decode("utf-8", errors="replace"))
    if a.type == T.INTS:
        return ("ints", [int(v) for v in a.ints])
    if a.type == T.FLOATS:
        return ("floats", [float(v) for v in a.floats])
    if a.type == T.STRINGS:
        return ("strings", [s.decode("utf-8", errors="replace") for s in a.strings])
    if a.type == T.TENSOR:
        return ("tensor", tensor_to_array(a.t, ext))
    if a.type == T.TYPE_PROTO:  # Optional's type: its kind and element type, as a string attribute
        kind, dtype = _value_type(a.tp, f"attribute '{a.name}' of node '{node.name}'")
        return ("string", f"{kind}:{dtype}")
    kind = T.AttributeType.Name(a.type)
    raise ModelError(
        f"unsupported op '{node.op_type}' in node '{node.name}': attribute '{a.name}' of kind {kind} "
        "(lists of subgraphs and sparse tensors are not supported)"
    )


def _value_type(tp, what: str) -> tuple[str, str]:
    """(kind, element dtype) of a sequence, optional or tensor TypeProto: kind is "tensor", "sequence", "optional"
    or "optional sequence"; maps and nested sequences are a ModelError naming `what`."""
    optional = tp.HasField("optional_type")
    if optional:
        tp = tp.optional_type.elem_type
    if tp.HasField("sequence_type"):
        elem = tp.sequence_type.elem_type
        if not elem.HasField("tensor_type"):
            raise ModelError(f"{what} is a sequence of non-tensors, which the engine does not support")
        kind, tt = "sequence", elem.tensor_type
    elif tp.HasField("tensor_type"):
        kind, tt = "tensor", tp.tensor_type
    else:
        raise ModelError(f"{what} is not a tensor, a sequence or an optional (maps are not supported)")
    dtype = ONNX_TO_R1.get(tt.elem_type)
    if dtype is None:
        raise ModelError(f"{what} has element type {_type_name(tt.elem_type)}, which the engine does not support")
    if optional:
        kind = "optional" if kind == "tensor" else "optional sequence"
    return kind, dtype


def _constant_value(node: onnx.NodeProto, ext: _ExternalData) -> np.ndarray:
    for a in node.attribute:
        if a.name == "value":
            return tensor_to_array(a.t, ext)
        if a.name == "value_float":
            return np.array(a.f, dtype=np.float32)
        if a.name == "value_floats":
            return np.array(list(a.floats), dtype=np.float32)
        if a.name == "value_int":
            return np.array(a.i, dtype=np.int64)
        if a.name == "value_ints":
            return np.array(list(a.ints), dtype=np.int64)
    raise ModelError(
        f"Constant node '{node.name}' has no supported value attribute (got {[a.name for a in node.attribute]})"
    )


def _load_proto(source: ModelSource) -> tuple[onnx.ModelProto, Path | None]:
    if isinstance(source, onnx.ModelProto):
        return source, None
    if isinstance(source, (bytes, bytearray)):
        try:
            return onnx.load_model_from_string(bytes(source)), None
        except Exception as e:
            raise ModelError(f"not a valid ONNX model: {e}") from None
    path = Path(source)
    if not path.is_file():
        raise ModelError(f"model file '{path}' does not exist")
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as e:
        raise ModelError(f"'{path}' is not a valid ONNX model: {type(e).__name__}: {e}") from None
    return proto, path.parent


def _free_names(g: onnx.GraphProto) -> list[str]:
    """Names a (sub)graph reads but does not define: the outer-scope values it captures, in first-use order."""
    defined = {i.name for i in g.input} | {t.name for t in g.initializer}
    for node in g.node:
        defined.update(o for o in node.output if o)
    free: dict[str, None] = {}

    def use(name: str) -> None:
        if name and name not in defined:
            free[name] = None

    for node in g.node:
        for name in node.input:
            use(name)
        for a in node.attribute:
            if a.type == AttributeProto.GRAPH:
                for name in _free_names(a.g):
                    use(name)
    for out in g.output:
        use(out.name)
    return list(free)


def _node_captures(node: onnx.NodeProto) -> list[str]:
    caps: dict[str, None] = {}
    for a in node.attribute:
        if a.type == AttributeProto.GRAPH:
            caps.update(dict.fromkeys(_free_names(a.g)))
    return list(caps)


def _add_nodes(b, g: onnx.GraphProto, ext: _ExternalData, opsets: dict[str, int], depth: int) -> None:
    """Adds g's nodes to builder b. A node with subgraphs (If, Loop, Scan) reads the outer values they name as
    extra inputs, fed to each subgraph as extra inputs after its own (ir/ops/control_flow.cc)."""
    for i, node in enumerate(g.node):
        name = node.name or f"{node.op_type}_{i}"
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            if len(node.output) != 1:
                raise ModelError(f"Constant node '{name}' must have one output")
            b.add_initializer(node.output[0], _c_contiguous(_constant_value(node, ext)))
            continue
        caps = _node_captures(node)
        attrs = {}
        for a in node.attribute:
            if a.type == AttributeProto.GRAPH:
                attrs[a.name] = ("graph", _subgraph(a.g, caps, ext, opsets, depth + 1, f"{name}.{a.name}"))
            else:
                attrs[a.name] = _attribute(node, a, ext)
        inputs = list(node.input)
        if caps:
            if node.op_type == "Loop":
                attrs["r1_carried"] = ("int", len(inputs) - 2)
            elif node.op_type == "Scan":
                num_scan = next((int(a.i) for a in node.attribute if a.name == "num_scan_inputs"), 0)
                # Opset 8 puts sequence_lens first (as is_scan8 in ir/ops/control_flow.h decides: opset 1 to 8).
                lens = 1 if 0 < opsets.get("", opsets.get("ai.onnx", 0)) < 9 else 0
                attrs["r1_carried"] = ("int", len(inputs) - lens - num_scan)
            inputs += caps
        b.add_node(node.op_type, node.domain, name, inputs, list(node.output), attrs)


def _subgraph(g: onnx.GraphProto, caps: list[str], ext: _ExternalData, opsets: dict[str, int], depth: int, where: str):
    if depth > 64:
        raise ModelError(f"subgraph '{where}' is nested more than 64 deep")
    b = _core.GraphBuilder()
    for dom, ver in opsets.items():
        b.set_opset(dom, ver)
    if len(g.sparse_initializer):
        raise ModelError(f"subgraph '{where}' has sparse initializers, which the engine does not support")
    for t in g.initializer:
        b.add_initializer(t.name, tensor_to_array(t, ext))
    for inp in g.input:
        b.add_untyped_input(inp.name)
    for name in caps:
        b.add_untyped_input(name)
    _add_nodes(b, g, ext, opsets, depth)
    for out in g.output:
        b.add_output(out.name)
    return b.finish_subgraph()


def _upgrade(proto: onnx.ModelProto, opset: int) -> onnx.ModelProto:
    from onnx import version_converter

    try:
        return version_converter.convert_version(proto, MIN_OPSET)
    except Exception as e:
        raise ModelError(
            f"ONNX opset {opset} is not supported (supported opsets: {MIN_OPSET} to {MAX_OPSET}), and onnx's version "
            f"converter could not upgrade the model: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        ) from None


def load_onnx(source: ModelSource) -> _core.Graph:
    """Parses an ONNX model (path, bytes or ModelProto) and builds a verified r1 graph."""
    proto, base_dir = _load_proto(source)
    g = proto.graph
    if len(g.node) == 0 and len(g.output) == 0:
        raise ModelError("the ONNX model has an empty graph (is the file truncated or not a model?)")
    ext = _ExternalData(base_dir)
    b = _core.GraphBuilder()
    opsets = {(o.domain or ""): int(o.version) for o in proto.opset_import}
    default = opsets.get("", opsets.get("ai.onnx", 0))
    if 0 < default < MIN_OPSET:
        # Models older than opset 7 (legacy broadcasting, consumed_inputs...) are upgraded by onnx's version
        # converter, op by op; a model it cannot upgrade is refused as before.
        proto = _upgrade(proto, default)
        g = proto.graph
        opsets = {(o.domain or ""): int(o.version) for o in proto.opset_import}
        default = opsets.get("", opsets.get("ai.onnx", 0))
    if default and not (MIN_OPSET <= default <= MAX_OPSET):
        raise ModelError(f"ONNX opset {default} is not supported (supported opsets: {MIN_OPSET} to {MAX_OPSET})")
    for dom, ver in opsets.items():
        if not 0 < ver < 2**31:
            raise ModelError(f"opset version {ver} of domain '{dom or 'ai.onnx'}' is not valid")
        b.set_opset(dom, ver)

    init_names = {t.name for t in g.initializer}
    for t in g.initializer:
        b.add_initializer(t.name, tensor_to_array(t, ext))
    for inp in g.input:
        if inp.name in init_names:
            continue  # old exporters list weights as inputs too
        tt = inp.type.tensor_type
        if not inp.type.HasField("tensor_type"):
            kind, dtype_name = _value_type(inp.type, f"input '{inp.name}'")
            b.add_value_input(inp.name, dtype_name, kind)
            continue
        dtype = ONNX_TO_R1.get(tt.elem_type)
        if dtype is None:
            raise ModelError(
                f"input '{inp.name}' has element type {_type_name(tt.elem_type)}, which the engine does not support"
            )
        dims: list[int | str | None] = []
        for d in tt.shape.dim:
            if d.HasField("dim_value") and d.dim_value > 0:
                dims.append(int(d.dim_value))
            elif d.HasField("dim_value"):
                # -1 (and 0) is how several exporters (Keras/tf2onnx, older PyTorch) write "any size", and
                # onnxruntime runs such models: a dynamic dim, as an unnamed one is.
                dims.append(None)
            elif d.HasField("dim_param") and d.dim_param:
                dims.append(d.dim_param)
            else:
                dims.append(None)
        b.add_input(inp.name, dtype, dims)
    _add_nodes(b, g, ext, opsets, 0)
    for out in g.output:
        b.add_output(out.name)
    return b.finish()
