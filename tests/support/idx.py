"""IDX encoding of uint8 arrays, for the MNIST files the data tests make."""

import struct

import numpy as np

__all__ = ["uint8_idx_bytes"]


def uint8_idx_bytes(array):
    """Uncompressed IDX content of a uint8 array: magic 0x0803 (images) or 0x0801 (labels)."""
    header = struct.pack(">I", 0x0800 + array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
