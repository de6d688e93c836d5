"""A minimal reader of TensorFlow frozen graphs (GraphDef protobuf).

Only what weight conversion needs: node names, ops and their constant tensors.
The protobuf wire format is decoded by hand so no TensorFlow is required.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# TensorFlow DataType enum values we can decode.
_TF_DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64}


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes):
    """Yield (field_number, wire_type, value) for one serialized message."""
    pos = 0
    end = len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value = buf[pos : pos + 8]
            pos += 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value = buf[pos : pos + length]
            pos += length
        elif wire == 5:
            value = buf[pos : pos + 4]
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def _shape(buf: bytes) -> list[int]:
    """The dims of a TensorShapeProto."""
    dims = []
    for n2, _, v2 in _fields(buf):
        if n2 == 2:  # Dim
            dims.extend(v3 for n3, _, v3 in _fields(v2) if n3 == 1)
    return dims


def _packed_varints(value: bytes) -> list[int]:
    out, pos = [], 0
    while pos < len(value):
        v, pos = _varint(value, pos)
        out.append(v)
    return out


def _tensor_parts(buf: bytes) -> tuple[int, list[int], bytes, list[float], list[int]]:
    """(dtype code, dims, raw content, float_val, int_val) of a TensorProto."""
    dtype_code, dims, content = 1, [], b""
    float_vals: list[float] = []
    int_vals: list[int] = []
    for number, wire, value in _fields(buf):
        if number == 1:
            dtype_code = value
        elif number == 2:
            dims = _shape(value)
        elif number == 4:
            content = bytes(value)
        elif number == 5:  # float_val, packed or not
            float_vals.extend(np.frombuffer(value, "<f4").tolist())
        elif number == 7:  # int_val, packed or not
            int_vals.extend(_packed_varints(value) if wire == 2 else [value])
    return dtype_code, dims, content, float_vals, int_vals


def _tensor(buf: bytes) -> np.ndarray:
    """Decode a TensorProto into a numpy array."""
    dtype_code, dims, content, float_vals, int_vals = _tensor_parts(buf)
    if dtype_code not in _TF_DTYPES:
        raise ValueError(f"unsupported tensor dtype {dtype_code}")
    dtype = np.dtype(_TF_DTYPES[dtype_code]).newbyteorder("<")
    count = int(np.prod(dims)) if dims else 1
    if content:
        array = np.frombuffer(content, dtype).astype(dtype.newbyteorder("="))
    else:
        values = float_vals if dtype.kind == "f" else int_vals
        array = np.array(values, dtype.newbyteorder("="))
        if array.size == 1 and count > 1:
            array = np.full(count, array[0], array.dtype)
    return array.reshape(dims)


@dataclass
class GraphNode:
    """One node of a frozen graph: its name, op, inputs and constant value."""

    name: str
    op: str
    inputs: list[str] = field(default_factory=list)
    value: np.ndarray | None = None


def _attr_entry(buf: bytes) -> tuple[str, bytes]:
    """(key, AttrValue bytes) of one map<string, AttrValue> entry."""
    key, entry_value = "", b""
    for n3, _, v3 in _fields(buf):
        if n3 == 1:
            key = bytes(v3).decode()
        elif n3 == 2:
            entry_value = v3
    return key, entry_value


def _node(buf: bytes) -> GraphNode:
    """One NodeDef, its constant decoded."""
    node = GraphNode(name="", op="")
    attr_value = None
    for n2, _, v2 in _fields(buf):
        if n2 == 1:
            node.name = bytes(v2).decode()
        elif n2 == 2:
            node.op = bytes(v2).decode()
        elif n2 == 3:
            node.inputs.append(bytes(v2).decode())
        elif n2 == 5:
            key, value = _attr_entry(v2)
            if key == "value":
                attr_value = value
    if node.op == "Const" and attr_value is not None:
        for n3, _, v3 in _fields(attr_value):
            if n3 == 8:  # AttrValue.tensor
                node.value = _tensor(v3)
    return node


def read_graph(data: bytes) -> dict[str, GraphNode]:
    """Parse a serialized GraphDef, returning nodes by name (constants decoded)."""
    nodes: dict[str, GraphNode] = {}
    for number, _, node_buf in _fields(data):
        if number == 1:
            node = _node(node_buf)
            nodes[node.name] = node
    return nodes
