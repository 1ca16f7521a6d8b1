"""Generate the PyTorch golden file for catd's depthwise convolution and batch
normalisation kernels (conv/depthwise.go, conv/batchnorm.go).

Usage (from the repository root; `make golden` calls exactly this):

    /usr/bin/python3 scripts/torch_golden_layers2.py

Needs only torch (Debian's 1.13 is fine) and numpy.  The tiny safetensors
writer/reader is copied from scripts/torch_golden.py.  Every run overwrites
the file below and is deterministic (fixed seeds, one thread).  At the end
the script re-reads the file and self-checks it against naive numpy loops.

Conventions are those of scripts/torch_golden.py: PyTorch layouts
(activations NCHW, depthwise weights [C,1,K,K]), every tensor stored as F32,
inputs and parameters drawn as float32, references computed in float64 from
them and rounded to F32 when stored, g* = gradients of sum(y * gy) for a
random upstream gy, metadata values are strings.

File
----
conv/testdata/torch_layers2.safetensors
  dw{i}.x [N,C,H,W] .w [C,1,K,K] .b [C] .y .gy .gx .gw .gb
      Conv2d(C, C, K, stride=S, padding=P, groups=C); i < meta dw_cases;
      meta dw{i} = '{"stride":S,"pad":P}'
  bn{i}.x [N,C,H,W] .gamma [C] .beta [C] .rm0 [C] .rv0 [C] (running stats
      before) .rm1 .rv1 (after one training step) .y .gy .gx .ggamma .gbeta
      BatchNorm2d in training mode: batch mean, biased batch variance for y,
      running_var updated with the unbiased variance; i < meta bn_cases;
      meta bn{i} = '{"eps":E,"momentum":M}'
  bneval.x .gamma .beta .rm .rv .y   BatchNorm2d in eval mode (running stats);
      meta bneval = '{"eps":E}'
"""
import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


from safetensors_io import read_safetensors, write_safetensors  # noqa: E402


def gen(seed):
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def randn32(g, *shape):
    return torch.randn(*shape, generator=g, dtype=torch.float32)


def d(t):
    """float32 tensor -> float64 leaf requiring grad."""
    return t.detach().to(torch.float64).requires_grad_(True)


# --------------------------------------------------------------------------
# Cases.
# --------------------------------------------------------------------------
# (N, C, H, W, K, stride, pad)
DW_CASES = [(1, 8, 9, 9, 3, 1, 1), (2, 5, 8, 7, 3, 2, 1), (1, 3, 6, 6, 5, 1, 2),
            (2, 16, 4, 4, 1, 1, 0), (1, 32, 32, 32, 3, 2, 1)]
# (N, C, H, W, eps, momentum)
BN_CASES = [(4, 8, 5, 5, 1e-5, 0.1), (2, 3, 7, 6, 1e-3, 0.3), (16, 64, 1, 1, 1e-5, 0.1)]
BN_EVAL = (2, 6, 4, 5, 1e-5)


def running_stats(g, c):
    rm = randn32(g, c) * 0.5
    rv = torch.rand(c, generator=g, dtype=torch.float32) * 2 + 0.1
    return rm, rv


def make_file(path):
    g = gen(2024)
    T, M = {}, {}
    for i, (N, C, H, W, K, s, p) in enumerate(DW_CASES):
        x32 = randn32(g, N, C, H, W)
        w32 = randn32(g, C, 1, K, K) * (1.0 / K)
        b32 = randn32(g, C) * 0.1
        x, w, b = d(x32), d(w32), d(b32)
        y = F.conv2d(x, w, b, stride=s, padding=p, groups=C)
        gy = randn32(g, *y.shape)
        (y * gy.double()).sum().backward()
        T.update({f"dw{i}.x": x32, f"dw{i}.w": w32, f"dw{i}.b": b32, f"dw{i}.y": y,
                  f"dw{i}.gy": gy, f"dw{i}.gx": x.grad, f"dw{i}.gw": w.grad,
                  f"dw{i}.gb": b.grad})
        M[f"dw{i}"] = json.dumps({"stride": s, "pad": p}, separators=(",", ":"))
    M["dw_cases"] = str(len(DW_CASES))
    M["dw"] = "Conv2d(C, C, K, stride, padding, groups=C, bias=True); weights [C,1,K,K]"

    for i, (N, C, H, W, eps, mom) in enumerate(BN_CASES):
        x32 = randn32(g, N, C, H, W) * 1.5 + 0.3
        gamma32 = 1 + 0.5 * randn32(g, C)
        beta32 = 0.5 * randn32(g, C)
        rm32, rv32 = running_stats(g, C)
        bn = nn.BatchNorm2d(C, eps=eps, momentum=mom).double().train()
        with torch.no_grad():
            bn.weight.copy_(gamma32.double())
            bn.bias.copy_(beta32.double())
            bn.running_mean.copy_(rm32.double())
            bn.running_var.copy_(rv32.double())
        x = d(x32)
        y = bn(x)
        gy = randn32(g, *y.shape)
        (y * gy.double()).sum().backward()
        T.update({f"bn{i}.x": x32, f"bn{i}.gamma": gamma32, f"bn{i}.beta": beta32,
                  f"bn{i}.rm0": rm32, f"bn{i}.rv0": rv32,
                  f"bn{i}.rm1": bn.running_mean, f"bn{i}.rv1": bn.running_var,
                  f"bn{i}.y": y, f"bn{i}.gy": gy, f"bn{i}.gx": x.grad,
                  f"bn{i}.ggamma": bn.weight.grad, f"bn{i}.gbeta": bn.bias.grad})
        M[f"bn{i}"] = json.dumps({"eps": eps, "momentum": mom}, separators=(",", ":"))
    M["bn_cases"] = str(len(BN_CASES))
    M["bn"] = ("BatchNorm2d(C, eps, momentum) in training mode: y uses the batch mean and "
               "biased variance; running_var moves towards the unbiased variance")

    N, C, H, W, eps = BN_EVAL
    x32 = randn32(g, N, C, H, W)
    gamma32 = 1 + 0.5 * randn32(g, C)
    beta32 = 0.5 * randn32(g, C)
    rm32, rv32 = running_stats(g, C)
    bn = nn.BatchNorm2d(C, eps=eps).double().eval()
    with torch.no_grad():
        bn.weight.copy_(gamma32.double())
        bn.bias.copy_(beta32.double())
        bn.running_mean.copy_(rm32.double())
        bn.running_var.copy_(rv32.double())
        y = bn(x32.double())
    T.update({"bneval.x": x32, "bneval.gamma": gamma32, "bneval.beta": beta32,
              "bneval.rm": rm32, "bneval.rv": rv32, "bneval.y": y})
    M["bneval"] = json.dumps({"eps": eps}, separators=(",", ":"))

    M["grads"] = "g* = gradient of sum(y*gy); float64 reference rounded to F32"
    write_safetensors(path, T, M)


# --------------------------------------------------------------------------
# Self-check.
# --------------------------------------------------------------------------
def naive_depthwise(x, w, b, s, p):
    N, C, H, W = x.shape
    K = w.shape[2]
    Ho, Wo = (H + 2 * p - K) // s + 1, (W + 2 * p - K) // s + 1
    x = x.astype(np.float64)
    y = np.zeros((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            acc = np.tile(b.astype(np.float64)[None, :], (N, 1))
            for ki in range(K):
                for kj in range(K):
                    hi, wj = i * s - p + ki, j * s - p + kj
                    if 0 <= hi < H and 0 <= wj < W:
                        acc += x[:, :, hi, wj] * w[:, 0, ki, kj].astype(np.float64)[None, :]
            y[:, :, i, j] = acc
    return y


def naive_depthwise_gw(x, gy, K, s, p):
    N, C, H, W = x.shape
    _, _, Ho, Wo = gy.shape
    gw = np.zeros((C, 1, K, K))
    for i in range(Ho):
        for j in range(Wo):
            for ki in range(K):
                for kj in range(K):
                    hi, wj = i * s - p + ki, j * s - p + kj
                    if 0 <= hi < H and 0 <= wj < W:
                        gw[:, 0, ki, kj] += (x[:, :, hi, wj].astype(np.float64) *
                                             gy[:, :, i, j].astype(np.float64)).sum(axis=0)
    return gw


def close(a, b, tol=1e-5):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    err = np.max(np.abs(a - b) / (1 + np.abs(b))) if a.size else 0.0
    assert err < tol, err
    return err


def self_check(path):
    T, M = read_safetensors(path)
    assert M["dw_cases"] == str(len(DW_CASES)) and M["bn_cases"] == str(len(BN_CASES))
    for i, (N, C, H, W, K, s, p) in enumerate(DW_CASES):
        cfg = json.loads(M[f"dw{i}"])
        assert (cfg["stride"], cfg["pad"]) == (s, p)
        x, w, b = T[f"dw{i}.x"], T[f"dw{i}.w"], T[f"dw{i}.b"]
        assert w.shape == (C, 1, K, K)
        close(naive_depthwise(x, w, b, s, p), T[f"dw{i}.y"])
        close(naive_depthwise_gw(x, T[f"dw{i}.gy"], K, s, p), T[f"dw{i}.gw"])
        close(T[f"dw{i}.gy"].astype(np.float64).sum(axis=(0, 2, 3)), T[f"dw{i}.gb"])
    assert T["dw4.y"].shape == (1, 32, 16, 16)
    for i, (N, C, H, W, eps, mom) in enumerate(BN_CASES):
        x = T[f"bn{i}.x"].astype(np.float64)
        n = N * H * W
        mean = x.mean(axis=(0, 2, 3))
        var = x.var(axis=(0, 2, 3))  # biased
        inv = 1 / np.sqrt(var + eps)
        xhat = (x - mean[None, :, None, None]) * inv[None, :, None, None]
        gamma, beta = T[f"bn{i}.gamma"].astype(np.float64), T[f"bn{i}.beta"].astype(np.float64)
        close(xhat * gamma[None, :, None, None] + beta[None, :, None, None], T[f"bn{i}.y"])
        close((1 - mom) * T[f"bn{i}.rm0"] + mom * mean, T[f"bn{i}.rm1"])
        close((1 - mom) * T[f"bn{i}.rv0"] + mom * var * n / (n - 1), T[f"bn{i}.rv1"])
        gy = T[f"bn{i}.gy"].astype(np.float64)
        sg, sgx = gy.sum(axis=(0, 2, 3)), (gy * xhat).sum(axis=(0, 2, 3))
        close(sg, T[f"bn{i}.gbeta"])
        close(sgx, T[f"bn{i}.ggamma"])
        k = (gamma * inv / n)[None, :, None, None]
        close(k * (n * gy - sg[None, :, None, None] - xhat * sgx[None, :, None, None]), T[f"bn{i}.gx"])
    eps = json.loads(M["bneval"])["eps"]
    x = T["bneval.x"].astype(np.float64)
    c = lambda v: v.astype(np.float64)[None, :, None, None]
    close((x - c(T["bneval.rm"])) / np.sqrt(c(T["bneval.rv"]) + eps) * c(T["bneval.gamma"]) +
          c(T["bneval.beta"]), T["bneval.y"])


def main():
    path = os.path.join(ROOT, "conv/testdata/torch_layers2.safetensors")
    make_file(path)
    self_check(path)
    print(f"{os.path.relpath(path, ROOT)}  {os.path.getsize(path)} bytes; self-check OK")


if __name__ == "__main__":
    main()
