"""Export catnet64 and catsep64 to ONNX for bench-ort.sh, and check that ONNX
Runtime computes what catd computes.

Usage (from the repository root; bench-ort.sh calls it):

    /usr/bin/python3 scripts/onnx_export.py --out build/ort --catd bin/catd \
        [--builtin model/default.safetensors] [--node node]

Writes, in --out:
  catnet64.safetensors  catnet64 with PyTorch's default init (seed 1), as a
                        catd model file
  catnet64.onnx         it, opset 13, input "input" [1,3,64,64] (NCHW,
                        normalised), output "logit" [1,1]
  catsep64.onnx         the built-in model (--builtin) with its batch norms
                        folded into the convolutions as catd's inference folds
                        them (conv.FoldBatchNorm's arithmetic)
  call.onnx             a model that only averages its input, same input and
                        output: what one session.run costs besides the network
  check/                the check's images (PNG) and their normalised inputs

The check: six 64x64 images (noise and smooth patterns) go through
`catd predict --json --model M` and, normalised with the model's mean and std,
through ONNX Runtime (scripts/ort_bench.js run, onnxruntime-node from
NODE_PATH) and the folded PyTorch module. The logits must agree within 1e-4
(catd's, from its float32 p(cat), within 1e-4 plus what 4 ulps of p move the
logit). Any disagreement ends the script with status 1.
"""
import argparse
import json
import math
import os
import struct
import subprocess
import sys
import zlib

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import catd_torch  # noqa: E402

TOL = 1e-4
N_CHECK = 6


def write_png(path, rgb):
    """rgb: uint8 [H, W, 3]. An 8-bit RGB PNG, no filtering."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(chunk(b"IEND", b""))


def check_images(n, h, w):
    """n uint8 [H, W, 3] images: half uniform noise, half smooth colour waves."""
    rng = np.random.RandomState(7)
    out = []
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    for i in range(n):
        if i % 2 == 0:
            img = rng.randint(0, 256, size=(h, w, 3))
        else:
            a, b, ph = rng.uniform(0.05, 0.4, size=3), rng.uniform(0.05, 0.4, size=3), rng.uniform(0, 6, size=3)
            img = np.stack([127.5 + 127.5 * np.sin(a[c] * xx + b[c] * yy + ph[c]) for c in range(3)], axis=-1)
        out.append(np.clip(np.rint(img), 0, 255).astype(np.uint8))
    return out


def normalise(img, meta):
    """catd's Info.NormalizePixels, as NCHW float32: px*(1/(255*std)) - mean/std."""
    mean = np.array([float(v) for v in meta["mean"].split(",")], dtype=np.float32)
    std = np.array([float(v) for v in meta["std"].split(",")], dtype=np.float32)
    scale = (np.float32(1) / (np.float32(255) * std)).astype(np.float32)
    offset = (-mean / std).astype(np.float32)
    x = img.astype(np.float32) * scale + offset
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None].astype(np.float32))


def export(model, path):
    x = torch.zeros(1, 3, 64, 64)
    with torch.no_grad():
        torch.onnx.export(model, x, path, opset_version=13, input_names=["input"],
                          output_names=["logit"], do_constant_folding=True)


class Mean(torch.nn.Module):
    """The whole input's mean as a [1,1] output."""

    def forward(self, x):
        return x.mean(dim=(1, 2, 3)).view(1, 1)


def ort_outputs(node, path, inputs):
    r = subprocess.run([node, os.path.join(os.path.dirname(os.path.abspath(__file__)), "ort_bench.js"),
                        "run", path, inputs], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"onnx_export: ONNX Runtime on {path} failed:\n{r.stderr}")
    return [o[0] for o in json.loads(r.stdout)["outputs"]]


def catd_logits(catd, model_path, pngs):
    r = subprocess.run([catd, "predict", "--json", "--model", model_path] + pngs,
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"onnx_export: catd predict --model {model_path} failed:\n{r.stderr}")
    p = {}
    for line in r.stdout.splitlines():
        o = json.loads(line)
        p[o["path"]] = o["p_cat"]
    out = []
    for f in pngs:
        pc = p.get(f)
        if pc is None or not 0 < pc < 1:
            sys.exit(f"onnx_export: catd predict gave p(cat) {pc} for {f}: want a value strictly between 0 and 1")
        out.append((math.log(pc / (1 - pc)), pc))
    return out


def check(name, model_file, folded, meta, onnx_path, out, catd, node):
    d = os.path.join(out, "check", name)
    os.makedirs(d, exist_ok=True)
    pngs, xs = [], []
    for i, img in enumerate(check_images(N_CHECK, 64, 64)):
        f = os.path.join(d, f"img{i}.png")
        write_png(f, img)
        pngs.append(f)
        xs.append(normalise(img, meta))
    inputs = os.path.join(d, "inputs.f32")
    np.concatenate(xs).astype("<f4").tofile(inputs)
    with torch.no_grad():
        torch_logits = folded(torch.from_numpy(np.concatenate(xs))).flatten().tolist()
    ort = ort_outputs(node, onnx_path, inputs)
    cd = catd_logits(catd, model_file, pngs)
    print(f"{name}: logits of {N_CHECK} images, catd predict / ONNX Runtime / PyTorch (folded)")
    bad = []
    for i, ((c, p), o, t) in enumerate(zip(cd, ort, torch_logits)):
        # p(cat) is a float32 (sigmoid's rounding, then p's): 4 ulps of p
        # move the logit by up to 4*ulp(p)/(p(1-p)).
        tol_catd = TOL + 4 * float(np.spacing(np.float32(p))) / (p * (1 - p))
        ok = abs(c - o) <= tol_catd and abs(o - t) <= TOL
        print(f"  img{i}: {c:+.6f}  {o:+.6f}  {t:+.6f}   |catd-ort| {abs(c - o):.2e} (tol {tol_catd:.1e})"
              f"  |ort-torch| {abs(o - t):.2e}{'' if ok else '  MISMATCH'}")
        if not ok:
            bad.append(i)
    if bad:
        sys.exit(f"onnx_export: {name}: ONNX Runtime disagrees with catd or PyTorch on images {bad} "
                 f"(tolerance {TOL} on the logit): the exported model is not catd's")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="build/ort")
    ap.add_argument("--catd", default="bin/catd")
    ap.add_argument("--builtin", default="model/default.safetensors")
    ap.add_argument("--node", default="node")
    a = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(a.out, exist_ok=True)

    torch.manual_seed(1)
    net = catd_torch.sequential(catd_torch.CATNET64).eval()
    catnet_file = os.path.join(a.out, "catnet64.safetensors")
    catd_torch.write_model(catnet_file, net, catd_torch.CATNET64, "catnet64")
    sep, sep_meta = catd_torch.read_model(a.builtin)
    if sep_meta.get("arch_name") != "catsep64":
        sys.exit(f"onnx_export: {a.builtin} is {sep_meta.get('arch_name')!r}, not catsep64")

    models = [("catnet64", catnet_file, catd_torch.read_model(catnet_file)),
              ("catsep64", a.builtin, (sep, sep_meta))]
    for name, file, (m, meta) in models:
        f = catd_torch.folded(m)
        path = os.path.join(a.out, name + ".onnx")
        export(f, path)
        print(f"{name}: {file} -> {path} ({os.path.getsize(path)} bytes, "
              f"{sum(p.numel() for p in f.parameters())} parameters after folding)")
        check(name, file, f, meta, path, a.out, a.catd, a.node)
    export(Mean(), os.path.join(a.out, "call.onnx"))


if __name__ == "__main__":
    main()
