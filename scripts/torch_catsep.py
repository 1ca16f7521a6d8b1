"""PyTorch CPU time of a training step of catsep64, catd's built-in detector.

catsep64 (model/arch.go): input 3x64x64; conv3x3(24, pad 1)+BN+ReLU; eight
depthwise-separable blocks (depthwise 3x3 with stride 2 or 1 + BN + ReLU, then
1x1 conv + BN + ReLU) to 48, 48, 96, 96, 192, 192, 384, 384 channels; global
average pool; dense(384->1); BCE on the logit. Batch norms in training mode.
Prints the median microseconds of one SGD-momentum step (zero_grad, forward,
loss, backward, step) at batch 1 and 16, the keys catd bench --json uses.

    /usr/bin/python3 scripts/torch_catsep.py 1     # 1 thread
"""
import sys, time, statistics
import torch, torch.nn as nn

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
torch.set_num_threads(threads)
torch.manual_seed(0)


def catsep64():
    layers = [nn.Conv2d(3, 24, 3, padding=1), nn.BatchNorm2d(24), nn.ReLU()]
    c = 24
    for out, stride in [(48, 2), (48, 1), (96, 2), (96, 1), (192, 2), (192, 1), (384, 2), (384, 1)]:
        layers += [nn.Conv2d(c, c, 3, stride=stride, padding=1, groups=c), nn.BatchNorm2d(c), nn.ReLU(),
                   nn.Conv2d(c, out, 1), nn.BatchNorm2d(out), nn.ReLU()]
        c = out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 1)]
    return nn.Sequential(*layers)


def bench(fn, n, warm):
    for _ in range(warm):
        fn()
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1e6


m = catsep64()
m.train()
lossf = nn.BCEWithLogitsLoss()
sgd = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)


def step(x, y):
    sgd.zero_grad(set_to_none=False)
    lossf(m(x), y).backward()
    sgd.step()


x1, y1 = torch.randn(1, 3, 64, 64), torch.ones(1, 1)
x16, y16 = torch.randn(16, 3, 64, 64), torch.ones(16, 1)
# Batch norm in training mode needs more than one value per channel: at
# batch 1 the last blocks have 4x4 pixels, enough.
train1 = bench(lambda: step(x1, y1), 100, 10)
train16 = bench(lambda: step(x16, y16), 30, 5)
params = sum(p.numel() for p in m.parameters())
print(f"torch {torch.__version__} threads={threads} catsep64 params={params}")
print(f"train_sgdm_b1_us={train1:.1f} train_sgdm_b16_us={train16:.1f}")
