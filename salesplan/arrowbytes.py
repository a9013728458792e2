"""Arrow text columns read as numpy arrays, and repeated values found in numpy arrays, shared by the
upload reader, the import's parser and the store (each reads text cells' bytes or 64-bit key hashes;
none may import the others' packages)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def cell_bytes(array: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """(the ``len + 1`` offsets, the data bytes) of a string array's cells, without copying; None
    for any other type (or an empty array). Raises nothing."""
    if pa.types.is_string(array.type):
        dtype: type = np.int32
    elif pa.types.is_large_string(array.type):
        dtype = np.int64
    else:
        return None
    count = len(array)
    buffers = array.buffers()
    if count == 0 or buffers[1] is None:
        return None
    itemsize = np.dtype(dtype).itemsize
    offsets: np.ndarray = np.frombuffer(buffers[1], dtype=dtype, count=count + 1, offset=array.offset * itemsize)
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else np.zeros(0, dtype=np.uint8)
    return offsets, data


def repeated(values: np.ndarray, *, in_place: bool = False) -> np.ndarray:
    """The values occurring more than once in ``values`` (uint64 hashes), sorted, each once: one
    sort (numpy's vectorised sort: ~0.02 CPU-s for 1M values) and a comparison of neighbours.
    ``in_place``: ``values`` is the caller's to spend, sorted as it is instead of a sorted copy.
    Raises nothing."""
    if in_place:
        values.sort()
    ordered = values if in_place else np.sort(values)
    same = ordered[1:] == ordered[:-1]
    return np.unique(ordered[1:][same]) if same.any() else ordered[:0]
