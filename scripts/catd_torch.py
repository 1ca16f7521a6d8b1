"""catd architectures and model files as PyTorch modules, for the scripts that
compare catd with PyTorch and ONNX Runtime (bench-ort.sh, torch_train_bench.py).

A catd architecture ("input 3x64x64; conv 8 k3 s1 p1; relu; ...", model/arch.go)
is an nn.Sequential whose module i is layer i, so a catd model file's
parameters (PyTorch state_dict names and layouts) load into it as they are:

    conv OUT kK sS pP  nn.Conv2d(C, OUT, K, S, P)
    dwconv kK sS pP    nn.Conv2d(C, C, K, S, P, groups=C)
    bn                 nn.BatchNorm2d(C) (eps 1e-5, momentum 0.1)
    relu, maxpool 2    nn.ReLU(), nn.MaxPool2d(2)
    gap, flatten       nn.AdaptiveAvgPool2d(1), nn.Flatten()
    dense OUT          nn.Linear(features, OUT)
"""
import numpy as np
import torch
import torch.nn as nn

from safetensors_io import read_safetensors, write_safetensors

# The built-in architectures, as model/arch.go spells them.
CATNET64 = ("input 3x64x64; conv 8 k3 s1 p1; relu; maxpool 2; conv 16 k3 s1 p1; relu; maxpool 2; "
            "conv 32 k3 s1 p1; relu; maxpool 2; conv 64 k3 s1 p1; relu; gap; flatten; dense 1")


def _sep_block(out, stride):
    return f"dwconv k3 s{stride} p1; bn; relu; conv {out} k1 s1 p0; bn; relu; "


CATSEP64 = ("input 3x64x64; conv 24 k3 s1 p1; bn; relu; "
            + _sep_block(48, 2) + _sep_block(48, 1) + _sep_block(96, 2) + _sep_block(96, 1)
            + _sep_block(192, 2) + _sep_block(192, 1) + _sep_block(384, 2) + _sep_block(384, 1)
            + "gap; flatten; dense 1")

ARCHS = {"catnet64": CATNET64, "catsep64": CATSEP64}

# What catd writes into a model file's metadata besides the architecture.
IMAGENET_MEAN = "0.485,0.456,0.406"
IMAGENET_STD = "0.229,0.224,0.225"
BN_EPS = 1e-5


def parse_arch(spec):
    """Returns ((C, H, W), [(kind, {options})...]) for a catd architecture."""
    parts = [p.strip() for p in spec.split(";")]
    if parts and parts[-1] == "":
        parts.pop()
    f = parts[0].split()
    if len(f) != 2 or f[0] != "input":
        raise ValueError(f"architecture must start with 'input CxHxW', got {parts[0]!r}")
    c, h, w = (int(v) for v in f[1].split("x"))
    layers = []
    for i, part in enumerate(parts[1:]):
        f = part.split()
        kind, opts = f[0], {"k": 3, "s": 1, "p": 0}
        rest = f[1:]
        if kind == "conv":
            opts["out"], rest = int(f[1]), f[2:]
        elif kind == "dense":
            opts = {"out": int(f[1])}
            rest = []
        elif kind == "maxpool":
            if f[1:] != ["2"]:
                raise ValueError(f"layer {i} {part!r}: only maxpool 2")
            rest = []
        elif kind not in ("dwconv", "relu", "gap", "flatten", "bn"):
            raise ValueError(f"layer {i} {part!r}: unknown layer {kind!r}")
        for o in rest:
            opts[o[0]] = int(o[1:])
        layers.append((kind, opts))
    return (c, h, w), layers


def sequential(spec):
    """The nn.Sequential of a catd architecture (PyTorch's default init)."""
    (c, h, w), layers = parse_arch(spec)
    mods = []
    for kind, o in layers:
        if kind == "conv":
            mods.append(nn.Conv2d(c, o["out"], o["k"], o["s"], o["p"]))
            c = o["out"]
            h, w = (h + 2 * o["p"] - o["k"]) // o["s"] + 1, (w + 2 * o["p"] - o["k"]) // o["s"] + 1
        elif kind == "dwconv":
            mods.append(nn.Conv2d(c, c, o["k"], o["s"], o["p"], groups=c))
            h, w = (h + 2 * o["p"] - o["k"]) // o["s"] + 1, (w + 2 * o["p"] - o["k"]) // o["s"] + 1
        elif kind == "bn":
            mods.append(nn.BatchNorm2d(c, eps=BN_EPS, momentum=0.1))
        elif kind == "relu":
            mods.append(nn.ReLU())
        elif kind == "maxpool":
            mods.append(nn.MaxPool2d(2))
            h, w = h // 2, w // 2
        elif kind == "gap":
            mods.append(nn.AdaptiveAvgPool2d(1))
            h = w = 1
        elif kind == "flatten":
            mods.append(nn.Flatten())
            c, h, w = c * h * w, 1, 1
        elif kind == "dense":
            mods.append(nn.Linear(c, o["out"]))
            c = o["out"]
    return nn.Sequential(*mods)


def read_model(path):
    """Loads a catd float model file: (nn.Sequential in eval mode, metadata)."""
    tensors, meta = read_safetensors(path)
    if meta.get("format") != "catd-model":
        raise ValueError(f"{path}: format {meta.get('format')!r}, want a catd float model (catd-model)")
    m = sequential(meta["arch"])
    sd = m.state_dict()
    missing = sorted(set(sd) - set(tensors))
    extra = sorted(set(tensors) - set(sd))
    if missing or extra:
        raise ValueError(f"{path}: parameters do not match {meta['arch']!r}: missing {missing}, unexpected {extra}")
    for k, v in tensors.items():
        if tuple(v.shape) != tuple(sd[k].shape):
            raise ValueError(f"{path}: {k} has shape {list(v.shape)}, want {list(sd[k].shape)}")
        sd[k] = torch.from_numpy(np.array(v))
    m.load_state_dict(sd)
    return m.eval(), meta


def write_model(path, model, spec, name, threshold=0.5):
    """Writes model's parameters (no batch norms) as a catd model file."""
    meta = {"format": "catd-model", "version": "1", "arch_name": name, "arch": spec,
            "mean": IMAGENET_MEAN, "std": IMAGENET_STD, "threshold": str(threshold)}
    sd = model.state_dict()
    if any(k.endswith("num_batches_tracked") for k in sd):
        raise ValueError("write_model writes F32 only: no batch norms")
    write_safetensors(path, sd, meta)


def folded(model):
    """The inference network catd runs: every batch norm that follows a
    convolution folded into it (conv.FoldBatchNorm's arithmetic, in float64,
    rounded to float32), the batch norms left out. Returns a new nn.Sequential
    in eval mode."""
    out = []
    mods = list(model)
    for m in mods:
        if isinstance(m, nn.BatchNorm2d):
            conv = out[-1] if out else None
            if not isinstance(conv, nn.Conv2d) or conv.out_channels != m.num_features:
                raise ValueError("a batch norm that does not follow a convolution cannot be folded")
            s = m.weight.detach().double() / torch.sqrt(m.running_var.detach().double() + m.eps)
            w = conv.weight.detach().double() * s.view(-1, 1, 1, 1)
            b = (conv.bias.detach().double() - m.running_mean.detach().double()) * s + m.bias.detach().double()
            conv.weight.data = w.float()
            conv.bias.data = b.float()
            continue
        if isinstance(m, nn.Conv2d):
            c = nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                          groups=m.groups, bias=True)
            c.weight.data = m.weight.detach().clone()
            c.bias.data = (m.bias.detach().clone() if m.bias is not None
                           else torch.zeros(m.out_channels))
            out.append(c)
        else:
            out.append(m)
    return nn.Sequential(*out).eval()

