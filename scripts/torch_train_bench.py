"""PyTorch timings of any catd architecture, for bench_vs_torch.sh: what
../shared/bench/torch_catnet.py measures for catnet64, for catsep64 too.

Usage: /usr/bin/python3 scripts/torch_train_bench.py ARCH [THREADS]
  ARCH: catnet64, catsep64 or a catd architecture description.

The network is catd_torch.sequential(ARCH) with PyTorch's default init
(seed 0). Timed as torch_catnet.py times catnet64 (medians after warm-up):
batch-1 inference (eval mode, no_grad, batch norms folded into the
convolutions as catd's inference folds them), one training step
(zero_grad, forward in train mode, BCEWithLogitsLoss, backward, step) with
SGD momentum 0.9 at batch 1 (300 runs) and 16 (100 runs), and with Adam at
batch 1. Prints its figures in torch_catnet.py's format:

    torch 1.13.0a0 threads=1 params=312145
    infer_b1_us=... train_sgdm_b1_us=... train_sgdm_b16_us=... train_adam_b1_us=...
"""
import os
import statistics
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import catd_torch  # noqa: E402


def bench(fn, n=300, warm=30):
    for _ in range(warm):
        fn()
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1e6


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    spec = catd_torch.ARCHS.get(sys.argv[1], sys.argv[1])
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    m = catd_torch.sequential(spec)
    (c, h, w), _ = catd_torch.parse_arch(spec)
    x1, y1 = torch.randn(1, c, h, w), torch.ones(1, 1)
    x16, y16 = torch.randn(16, c, h, w), torch.ones(16, 1)
    lossf = nn.BCEWithLogitsLoss()

    inf = catd_torch.folded(m.eval())
    with torch.no_grad():
        infer = bench(lambda: inf(x1))
    m.train()

    def step(opt, x, y):
        opt.zero_grad(set_to_none=False)
        loss = lossf(m(x), y)
        loss.backward()
        opt.step()
    sgd = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
    train1 = bench(lambda: step(sgd, x1, y1))
    train16 = bench(lambda: step(sgd, x16, y16), n=100)
    adam = torch.optim.Adam(m.parameters(), lr=1e-3)
    adam1 = bench(lambda: step(adam, x1, y1))
    params = sum(p.numel() for p in m.parameters())
    print(f"torch {torch.__version__} threads={threads} params={params}")
    print(f"infer_b1_us={infer:.1f} train_sgdm_b1_us={train1:.1f} "
          f"train_sgdm_b16_us={train16:.1f} train_adam_b1_us={adam1:.1f}")


if __name__ == "__main__":
    main()
