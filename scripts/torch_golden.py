"""Generate the PyTorch golden files that catd's Go tests compare against.

Usage (from the repository root; `make golden` calls exactly this):

    /usr/bin/python3 scripts/torch_golden.py

Needs only torch (Debian's 1.13 is fine) and numpy; the `safetensors` python
package is NOT needed: a tiny writer/reader is included below.  Every run
overwrites the files listed here and is deterministic (fixed seeds, one
thread): running it twice gives byte-identical files.  At the end the script
re-reads every file with its own reader and self-checks a few values,
including one convolution recomputed with naive numpy loops.

Conventions (all files):
  * layouts are PyTorch's: activations NCHW, conv weights OIHW [O,C,K,K],
    linear weights [out,in]; every tensor is stored as F32 (little-endian);
  * inputs/weights are drawn as float32; unless stated otherwise reference
    values are computed in float64 from those float32 values (cast to double)
    and rounded to float32 only when stored;
  * gradients g* are the gradients of sum(y * gy) for a random upstream gy;
  * all `__metadata__` values are strings (safetensors rule).

Files
-----
conv/testdata/torch_conv.safetensors  (layer kernels, float64 reference)
  conv{i}.x [N,C,H,W] .w [O,C,K,K] .b [O] .y .gy .gx .gw .gb,
      i < meta conv_cases; meta conv{i} = '{"stride":S,"pad":P}'
  pool{i}.x .y .gy .gx    MaxPool2d(2) (stride 2, floor mode), meta pool_cases
  gap{i}.x .y [N,C] .gy [N,C] .gx    AdaptiveAvgPool2d(1)+flatten, meta gap_cases
  fc{i}.x [N,in] .w [out,in] .b [out] .y .gy .gx .gw .gb    meta fc_cases
  relu.x .y .gy .gx       x has exact zeros; PyTorch gives gx = 0 where x == 0

model/testdata/torch_catnet64_init.safetensors
  catd model file (see save_catd_model) of catnet64 after torch.manual_seed(0).
model/testdata/torch_catnet64_case.safetensors  (float64 reference, init weights)
  x [4,3,64,64], y [4] = 1,0,0,1, logits [4], loss [1] (BCEWithLogitsLoss mean),
  grad.<param>, wloss [1] = sum(w_i*l_i)/sum(w_i) with w = 3,1,1,3, wgrad.<param>,
  act.<k> [1,...] output of Sequential layer k (k = 0..13) for example 0 only.
model/testdata/torch_catnet64_traj.safetensors  (float64, PyTorch optimizers)
  init.<param>, batch{j}.x [4,3,64,64], batch{j}.y [4] (j = 0..3);
  step t = 0..19 uses batch t%4; loss = BCEWithLogitsLoss mean;
  {opt}.loss [20] (loss *before* step t), {opt}.step1.<param>, {opt}.final.<param>
  for opt in sgd (lr .01), momentum (lr .01, momentum .9), adam (lr 1e-3 defaults);
  momentum_exp.loss, momentum_exp.final.<param>: momentum .9 with
  lr_t = 0.05*exp(-0.1*t) set on the param group before step t.
model/testdata/torch_trained.safetensors
  catd model file: catnet64 (init seed 1) trained in float32 for 30 Adam steps
  (lr 1e-3) on random batches of 8, label = mean(red channel) > 0; threshold 0.42.
model/testdata/torch_trained_probs.safetensors  (float32 on purpose)
  x [8,3,64,64] fresh draws from the training distribution (randn, red channel
  shifted by 0.5*randn per example), probs [8] = sigmoid(model(x)) as float32
  PyTorch gives (eval mode, no_grad).

Parameter names are catnet64's state_dict names:
  0.weight 0.bias 3.weight 3.bias 6.weight 6.bias 9.weight 9.bias 13.weight 13.bias
(24,593 parameters).  Network inputs in these files are raw tensors already in
"normalised" space: the mean/std metadata is not applied to them.
"""
import copy
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

PARAM_NAMES = ["0.weight", "0.bias", "3.weight", "3.bias", "6.weight", "6.bias",
               "9.weight", "9.bias", "13.weight", "13.bias"]

CATD_META = {
    "format": "catd-model",
    "version": "1",
    "arch_name": "catnet64",
    "arch": "input 3x64x64; conv 8 k3 s1 p1; relu; maxpool 2; conv 16 k3 s1 p1; relu; "
            "maxpool 2; conv 32 k3 s1 p1; relu; maxpool 2; conv 64 k3 s1 p1; relu; gap; "
            "flatten; dense 1",
    "mean": "0.485,0.456,0.406",
    "std": "0.229,0.224,0.225",
    "threshold": "0.5",
}


from safetensors_io import read_safetensors, write_safetensors  # noqa: E402


# --------------------------------------------------------------------------
# Model.
# --------------------------------------------------------------------------
def catnet():
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 1))


def save_catd_model(path, model, extra_meta=None):
    """Write `model`'s state_dict as a catd model file (F32, PyTorch layouts)."""
    sd = model.state_dict()
    assert list(sd.keys()) == PARAM_NAMES, list(sd.keys())
    meta = dict(CATD_META)
    if extra_meta:
        meta.update(extra_meta)
    write_safetensors(path, {k: sd[k] for k in PARAM_NAMES}, meta)


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
# 1. Layer kernels.
# --------------------------------------------------------------------------
CONV_CASES = [(1, 3, 7, 7, 4, 3, 1, 1), (2, 3, 8, 9, 5, 3, 2, 0), (1, 4, 11, 6, 3, 5, 2, 2),
              (2, 8, 5, 5, 16, 1, 1, 0), (1, 3, 64, 64, 8, 3, 1, 1), (3, 2, 6, 7, 3, 3, 1, 2),
              (1, 5, 9, 9, 2, 2, 2, 0), (2, 16, 8, 8, 32, 3, 1, 1), (1, 1, 1, 1, 1, 1, 1, 0),
              (1, 3, 13, 13, 6, 3, 2, 1)]
POOL_CASES = [(1, 3, 8, 8), (2, 5, 7, 9), (1, 1, 2, 2), (1, 64, 5, 4)]
GAP_CASES = [(1, 8, 4, 4), (2, 3, 5, 7), (1, 64, 8, 8)]
FC_CASES = [(1, 64, 1), (4, 7, 3), (2, 1, 5)]


def make_conv_file(path):
    g = gen(1234)
    T, M = {}, {}
    for i, (N, C, H, W, O, K, s, p) in enumerate(CONV_CASES):
        x32, w32 = randn32(g, N, C, H, W), randn32(g, O, C, K, K) * (1.0 / math.sqrt(C * K * K))
        b32 = randn32(g, O) * 0.1
        x, w, b = d(x32), d(w32), d(b32)
        y = F.conv2d(x, w, b, stride=s, padding=p)
        gy = randn32(g, *y.shape)
        (y * gy.double()).sum().backward()
        T.update({f"conv{i}.x": x32, f"conv{i}.w": w32, f"conv{i}.b": b32, f"conv{i}.y": y,
                  f"conv{i}.gy": gy, f"conv{i}.gx": x.grad, f"conv{i}.gw": w.grad,
                  f"conv{i}.gb": b.grad})
        M[f"conv{i}"] = json.dumps({"stride": s, "pad": p}, separators=(",", ":"))
    M["conv_cases"] = str(len(CONV_CASES))

    for i, (N, C, H, W) in enumerate(POOL_CASES):
        x32 = randn32(g, N, C, H, W)
        x = d(x32)
        y = F.max_pool2d(x, 2)  # kernel 2, stride 2, floor mode
        gy = randn32(g, *y.shape)
        (y * gy.double()).sum().backward()
        T.update({f"pool{i}.x": x32, f"pool{i}.y": y, f"pool{i}.gy": gy, f"pool{i}.gx": x.grad})
    M["pool_cases"] = str(len(POOL_CASES))
    M["pool"] = "MaxPool2d(2): kernel 2, stride 2, no padding, floor mode (odd last row/col dropped)"

    for i, (N, C, H, W) in enumerate(GAP_CASES):
        x32 = randn32(g, N, C, H, W)
        x = d(x32)
        y = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)  # [N,C]
        gy = randn32(g, *y.shape)
        (y * gy.double()).sum().backward()
        T.update({f"gap{i}.x": x32, f"gap{i}.y": y, f"gap{i}.gy": gy, f"gap{i}.gx": x.grad})
    M["gap_cases"] = str(len(GAP_CASES))
    M["gap"] = "AdaptiveAvgPool2d(1) then flatten: y [N,C]"

    for i, (N, fin, fout) in enumerate(FC_CASES):
        x32, w32 = randn32(g, N, fin), randn32(g, fout, fin) * (1.0 / math.sqrt(fin))
        b32 = randn32(g, fout) * 0.1
        x, w, b = d(x32), d(w32), d(b32)
        y = F.linear(x, w, b)
        gy = randn32(g, *y.shape)
        (y * gy.double()).sum().backward()
        T.update({f"fc{i}.x": x32, f"fc{i}.w": w32, f"fc{i}.b": b32, f"fc{i}.y": y,
                  f"fc{i}.gy": gy, f"fc{i}.gx": x.grad, f"fc{i}.gw": w.grad, f"fc{i}.gb": b.grad})
    M["fc_cases"] = str(len(FC_CASES))

    x32 = randn32(g, 2, 3, 4, 5)
    flat = x32.view(-1)
    flat[::7] = 0.0  # exact (+0.0) zeros; the rest is half negative
    x = d(x32)
    y = F.relu(x)
    gy = randn32(g, *y.shape)
    (y * gy.double()).sum().backward()
    assert torch.all(x.grad[x32 == 0] == 0)
    T.update({"relu.x": x32, "relu.y": y, "relu.gy": gy, "relu.gx": x.grad})
    M["relu"] = "gx = gy where x > 0, else 0 (also 0 at x == 0)"

    M["grads"] = "g* = gradient of sum(y*gy); float64 reference rounded to F32"
    write_safetensors(path, T, M)


# --------------------------------------------------------------------------
# 2. catnet64.
# --------------------------------------------------------------------------
def params64(model):
    return dict(model.named_parameters())


def make_case_file(path, model32):
    g = gen(42)
    m = copy.deepcopy(model32).double()
    x32 = randn32(g, 4, 3, 64, 64)
    y32 = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=torch.float32)
    w = torch.tensor([3.0, 1.0, 1.0, 3.0], dtype=torch.float64)
    x, y = x32.double(), y32.double()
    T = {"x": x32, "y": y32}

    m.zero_grad()
    logits = m(x).reshape(-1)
    loss = F.binary_cross_entropy_with_logits(logits, y)
    loss.backward()
    T["logits"] = logits
    T["loss"] = loss.reshape(1)
    P = params64(m)
    for n in PARAM_NAMES:
        T["grad." + n] = P[n].grad.clone()

    m.zero_grad()
    logits = m(x).reshape(-1)
    li = F.binary_cross_entropy_with_logits(logits, y, reduction="none")
    wloss = (w * li).sum() / w.sum()
    wloss.backward()
    T["wloss"] = wloss.reshape(1)
    for n in PARAM_NAMES:
        T["wgrad." + n] = P[n].grad.clone()

    with torch.no_grad():
        a = x[:1]
        for k, layer in enumerate(m):
            a = layer(a)
            T[f"act.{k}"] = a
    M = {
        "weights": "torch_catnet64_init.safetensors (catnet64, torch.manual_seed(0))",
        "compute": "float64 from the float32 weights/inputs, stored rounded to F32",
        "labels": "1,0,0,1",
        "loss_def": "mean_i l_i, l_i = max(z,0) - z*y + log(1+exp(-|z|)) (BCEWithLogitsLoss mean)",
        "wloss_weights": "3,1,1,3",
        "wloss_def": "sum(w_i*l_i)/sum(w_i)",
        "grad": "grad.<param> = d loss/d param; wgrad.<param> = d wloss/d param",
        "act": "act.<k> = output of Sequential layer k (0..13) for example 0 only, shape [1,...]",
        "act_layers": "0 conv,1 relu,2 maxpool,3 conv,4 relu,5 maxpool,6 conv,7 relu,8 maxpool,"
                      "9 conv,10 relu,11 gap [1,64,1,1],12 flatten [1,64],13 dense [1,1]",
    }
    write_safetensors(path, T, M)


TRAJ_STEPS = 20
TRAJ_BATCH = 4
TRAJ_LABELS = [[1, 0, 0, 1], [0, 1, 1, 0], [1, 1, 0, 0], [0, 0, 1, 1]]


def make_traj_file(path, model32):
    g = gen(7)
    batches = []
    T = {}
    for n in PARAM_NAMES:
        T["init." + n] = model32.state_dict()[n]
    for j in range(4):
        bx = randn32(g, TRAJ_BATCH, 3, 64, 64) * 1.0
        by = torch.tensor(TRAJ_LABELS[j][:TRAJ_BATCH], dtype=torch.float32)
        T[f"batch{j}.x"], T[f"batch{j}.y"] = bx, by
        batches.append((bx.double(), by.double()))

    def run(name, make_opt, lr_sched=None, keep_step1=True):
        m = copy.deepcopy(model32).double()
        opt = make_opt(m.parameters())
        losses = []
        for t in range(TRAJ_STEPS):
            if lr_sched is not None:
                for pg in opt.param_groups:
                    pg["lr"] = lr_sched(t)
            bx, by = batches[t % 4]
            opt.zero_grad(set_to_none=False)
            loss = F.binary_cross_entropy_with_logits(m(bx).reshape(-1), by)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            if t == 0 and keep_step1:
                sd = m.state_dict()
                for n in PARAM_NAMES:
                    T[f"{name}.step1.{n}"] = sd[n].clone()
        T[f"{name}.loss"] = torch.tensor(losses, dtype=torch.float64)
        sd = m.state_dict()
        for n in PARAM_NAMES:
            T[f"{name}.final.{n}"] = sd[n].clone()

    run("sgd", lambda p: torch.optim.SGD(p, lr=0.01))
    run("momentum", lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9))
    run("adam", lambda p: torch.optim.Adam(p, lr=1e-3))
    run("momentum_exp", lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
        lr_sched=lambda t: 0.05 * math.exp(-0.1 * t), keep_step1=False)
    M = {
        "compute": "float64 copy of the float32 init weights, PyTorch optimizers; stored as F32",
        "steps": str(TRAJ_STEPS),
        "batches": "4",
        "batch_size": str(TRAJ_BATCH),
        "batch_order": "step t (0-based) uses batch{t%4}",
        "loss_def": "BCEWithLogitsLoss mean over the batch; {opt}.loss[t] = loss before step t "
                    "(the one whose gradient step t applies)",
        "sgd": "torch.optim.SGD(lr=0.01): p -= lr*g",
        "momentum": "torch.optim.SGD(lr=0.01, momentum=0.9): v = g at step 0, else v = 0.9*v + g; "
                    "p -= lr*v",
        "adam": "torch.optim.Adam(lr=1e-3, betas=(0.9,0.999), eps=1e-8): m=b1*m+(1-b1)*g, "
                "v=b2*v+(1-b2)*g^2, p -= lr/(1-b1^k) * m / (sqrt(v)/sqrt(1-b2^k) + eps), k = t+1",
        "momentum_exp": "as momentum but lr_t = 0.05*exp(-0.1*t) set on the param group before "
                        "step t (t = 0 is the first step); only loss and final stored",
        "names": "init.<p>; {opt}.loss [20]; {opt}.step1.<p> (sgd,momentum,adam) = after 1 step; "
                 "{opt}.final.<p> = after 20 steps",
    }
    write_safetensors(path, T, M)


def make_trained_files(path_model, path_probs):
    torch.manual_seed(1)
    m = catnet()
    g = gen(99)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    losses = []
    for t in range(30):
        x = randn32(g, 8, 3, 64, 64)
        # per-example red offset so the label is learnable in 30 steps
        x[:, 0] += 0.5 * randn32(g, 8, 1, 1)
        y = (x[:, 0].mean(dim=(1, 2)) > 0).float()
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(m(x).reshape(-1), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    save_catd_model(path_model, m, {"threshold": "0.42"})
    m.eval()
    # fresh inputs from the training distribution, so the probabilities straddle
    # the threshold instead of all sitting near the prior
    x = randn32(g, 8, 3, 64, 64)
    x[:, 0] += 0.5 * randn32(g, 8, 1, 1)
    with torch.no_grad():
        probs = torch.sigmoid(m(x)).reshape(-1)
    assert probs.dtype == torch.float32
    write_safetensors(path_probs, {"x": x, "probs": probs}, {
        "model": "torch_trained.safetensors",
        "compute": "float32 PyTorch: probs = sigmoid(model(x)) (what a user's PyTorch gives)",
        "x": "randn [8,3,64,64] with red channel shifted by 0.5*randn per example",
    })
    return losses


# --------------------------------------------------------------------------
# Self-check.
# --------------------------------------------------------------------------
def naive_conv(x, w, b, s, p):
    N, C, H, W = x.shape
    O, _, K, _ = w.shape
    Ho, Wo = (H + 2 * p - K) // s + 1, (W + 2 * p - K) // s + 1
    y = np.zeros((N, O, Ho, Wo))
    for n in range(N):
        for o in range(O):
            for i in range(Ho):
                for j in range(Wo):
                    acc = float(b[o])
                    for c in range(C):
                        for ki in range(K):
                            for kj in range(K):
                                hi, wj = i * s - p + ki, j * s - p + kj
                                if 0 <= hi < H and 0 <= wj < W:
                                    acc += float(x[n, c, hi, wj]) * float(w[o, c, ki, kj])
                    y[n, o, i, j] = acc
    return y


def naive_conv_gw(x, gy, K, s, p):
    N, C, H, W = x.shape
    _, O, Ho, Wo = gy.shape
    gw = np.zeros((O, C, K, K))
    for n in range(N):
        for o in range(O):
            for i in range(Ho):
                for j in range(Wo):
                    for c in range(C):
                        for ki in range(K):
                            for kj in range(K):
                                hi, wj = i * s - p + ki, j * s - p + kj
                                if 0 <= hi < H and 0 <= wj < W:
                                    gw[o, c, ki, kj] += float(gy[n, o, i, j]) * float(x[n, c, hi, wj])
    return gw


def close(a, b, tol=1e-5):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    err = np.max(np.abs(a - b) / (1 + np.abs(b))) if a.size else 0.0
    assert err < tol, err
    return err


def self_check(paths):
    T, M = read_safetensors(paths["conv"])
    assert M["conv_cases"] == "10" and M["pool_cases"] == "4" and M["gap_cases"] == "3"
    for i in (1, 2, 9):  # stride-2 and padded cases, naive loops
        cfg = json.loads(M[f"conv{i}"])
        x, w, b = T[f"conv{i}.x"], T[f"conv{i}.w"], T[f"conv{i}.b"]
        close(naive_conv(x, w, b, cfg["stride"], cfg["pad"]), T[f"conv{i}.y"])
        close(naive_conv_gw(x, T[f"conv{i}.gy"], w.shape[2], cfg["stride"], cfg["pad"]),
              T[f"conv{i}.gw"])
        close(T[f"conv{i}.gy"].sum(axis=(0, 2, 3)), T[f"conv{i}.gb"])
    assert T["conv4.y"].shape == (1, 8, 64, 64) and T["conv1.y"].shape == (2, 5, 3, 4)
    x = T["pool1.x"]
    close(x[:, :, :6, :8].reshape(2, 5, 3, 2, 4, 2).max(axis=(3, 5)), T["pool1.y"])
    close(T["gap1.x"].astype(np.float64).mean(axis=(2, 3)), T["gap1.y"])
    close(T["fc1.x"].astype(np.float64) @ T["fc1.w"].T.astype(np.float64) + T["fc1.b"], T["fc1.y"])
    rx = T["relu.x"]
    assert (rx == 0).any() and (rx < 0).any()
    assert np.all(T["relu.gx"][rx <= 0] == 0) and np.array_equal(T["relu.gx"][rx > 0], T["relu.gy"][rx > 0])

    I, MI = read_safetensors(paths["init"])
    assert list(I.keys()) == PARAM_NAMES and MI["format"] == "catd-model"
    assert sum(v.size for v in I.values()) == 24593
    torch.manual_seed(0)
    ref = catnet().state_dict()
    for n in PARAM_NAMES:
        assert np.array_equal(I[n], ref[n].numpy()), n

    C, MC = read_safetensors(paths["case"])
    assert MC["wloss_def"] == "sum(w_i*l_i)/sum(w_i)"
    z = C["logits"].astype(np.float64)
    y = C["y"].astype(np.float64)
    l = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    close(l.mean(), C["loss"][0])
    wt = np.array([3, 1, 1, 3.0])
    close((wt * l).sum() / wt.sum(), C["wloss"][0])
    close(C["act.13"].reshape(-1)[0], C["logits"][0])
    close(C["act.12"] @ I["13.weight"].T.astype(np.float64) + I["13.bias"], C["act.13"])
    # dense-layer grad: d loss/d b = mean(sigmoid(z) - y)
    close((1 / (1 + np.exp(-z)) - y).mean(), C["grad.13.bias"][0])
    close((wt * (1 / (1 + np.exp(-z)) - y)).sum() / wt.sum(), C["wgrad.13.bias"][0])

    R, MR = read_safetensors(paths["traj"])
    for n in PARAM_NAMES:
        assert np.array_equal(R["init." + n], I[n])
    # sgd/momentum step 1 = init - lr * grad(batch0), grad recomputed here in float64
    m = catnet().double()
    m.load_state_dict({k: torch.from_numpy(v.astype(np.float64)) for k, v in I.items()})
    bx, by = torch.from_numpy(R["batch0.x"].astype(np.float64)), torch.from_numpy(R["batch0.y"].astype(np.float64))
    l0 = F.binary_cross_entropy_with_logits(m(bx).reshape(-1), by)
    l0.backward()
    close(l0.item(), R["sgd.loss"][0])
    for n, prm in m.named_parameters():
        ref1 = I[n].astype(np.float64) - 0.01 * prm.grad.numpy()
        close(ref1, R["sgd.step1." + n], 1e-6)
        close(ref1, R["momentum.step1." + n], 1e-6)
    assert R["sgd.loss"].shape == (TRAJ_STEPS,) and R["momentum_exp.loss"].shape == (TRAJ_STEPS,)
    assert np.array_equal(R["sgd.loss"][0], R["adam.loss"][0])
    # adam step 1 moves every (non-zero-grad) weight by ~lr
    dlt = np.abs(R["adam.step1.0.weight"].astype(np.float64) - R["init.0.weight"])
    assert np.all(dlt < 1.0001e-3) and np.median(dlt) > 9e-4, np.median(dlt)

    P, MP = read_safetensors(paths["probs"])
    TM, MT = read_safetensors(paths["trained"])
    assert MT["threshold"] == "0.42" and MT["arch_name"] == "catnet64"
    m = catnet()
    m.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in TM.items()})
    m.eval()
    with torch.no_grad():
        pr = torch.sigmoid(m(torch.from_numpy(P["x"].copy()))).reshape(-1).numpy()
    assert np.array_equal(pr, P["probs"])


def main():
    paths = {
        "conv": os.path.join(ROOT, "conv/testdata/torch_conv.safetensors"),
        "init": os.path.join(ROOT, "model/testdata/torch_catnet64_init.safetensors"),
        "case": os.path.join(ROOT, "model/testdata/torch_catnet64_case.safetensors"),
        "traj": os.path.join(ROOT, "model/testdata/torch_catnet64_traj.safetensors"),
        "trained": os.path.join(ROOT, "model/testdata/torch_trained.safetensors"),
        "probs": os.path.join(ROOT, "model/testdata/torch_trained_probs.safetensors"),
    }
    make_conv_file(paths["conv"])
    torch.manual_seed(0)
    model = catnet()
    assert sum(p.numel() for p in model.parameters()) == 24593
    save_catd_model(paths["init"], model)
    make_case_file(paths["case"], model)
    make_traj_file(paths["traj"], model)
    losses = make_trained_files(paths["trained"], paths["probs"])
    self_check(paths)
    total = 0
    for k, p in paths.items():
        sz = os.path.getsize(p)
        total += sz
        print(f"{os.path.relpath(p, ROOT)}  {sz} bytes")
    print(f"total {total} bytes; trained-model loss {losses[0]:.4f} -> "
          f"mean(last 5) {sum(losses[-5:]) / 5:.4f}; self-check OK")


if __name__ == "__main__":
    main()
