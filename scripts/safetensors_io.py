"""Minimal safetensors writer (F32) and reader (F32, and I64 for batch norm's
num_batches_tracked) for the scripts: PyTorch 1.13 in Debian has no safetensors package, and writing the
format by hand also checks catd's reader against the specification."""
import json
import os
import struct

import numpy as np
import torch


def _to_f32_bytes(t):
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu().to(torch.float32).contiguous().numpy()
    a = np.ascontiguousarray(np.asarray(t, dtype=np.float32))
    return list(a.shape), a.astype("<f4").tobytes()


def write_safetensors(path, tensors, metadata=None):
    """tensors: ordered dict name -> tensor/array (stored as F32, in this order)."""
    header = {}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(v, str):
                raise TypeError(f"metadata {k} must be str")
        header["__metadata__"] = dict(metadata)
    blobs = []
    off = 0
    for name, t in tensors.items():
        if name == "__metadata__":
            raise ValueError("reserved name")
        shape, raw = _to_f32_bytes(t)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    hj = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    hj += b" " * ((-len(hj)) % 8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


_DTYPES = {"F32": "<f4", "I64": "<i8"}


def read_safetensors(path):
    """Returns (dict name -> numpy array, metadata dict): F32 tensors as
    float32, I64 ones (batch norm's num_batches_tracked) as int64."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    assert n % 8 == 0, "header not padded"
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    body = data[8 + n:]
    out = {}
    end_max = 0
    for name, info in header.items():
        dtype = _DTYPES.get(info["dtype"])
        assert dtype is not None, f"{name}: dtype {info['dtype']} (want F32 or I64)"
        b, e = info["data_offsets"]
        a = np.frombuffer(body[b:e], dtype=dtype)
        assert a.size == int(np.prod(info["shape"], dtype=np.int64)), name
        out[name] = a.reshape(info["shape"])
        end_max = max(end_max, e)
    assert end_max == len(body), "trailing/missing bytes"
    return out, meta
