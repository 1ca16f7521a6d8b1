"""Golden values for catd/optim from PyTorch's own optimizers (float32, CPU).

Writes testdata/torch_golden.json (next to this script) with --update;
without it, prints the JSON to stdout. Used by TestTorchGolden.

    apt-get install -y python3-torch     # Debian's PyTorch (1.13 at the time)
    /usr/bin/python3 optim/testdata/torch_golden.py --update

Each case: an optimizer config, initial params (n = 37, odd on purpose), and
for each step the gradient fed in and the params PyTorch produced. Gradients
mix scales (1e-6 .. 10) and exact zeros so eps and the bias correction matter.
"""
import json, os, sys
import torch

torch.manual_seed(20240611)
N, STEPS = 37, 12

def grads():
    out = []
    for k in range(STEPS):
        g = torch.randn(N) * (10.0 ** torch.randint(-6, 2, (N,)).float())
        g[k % N] = 0.0          # an exact zero somewhere each step
        g[(3 * k + 1) % N] = 0.0 if k < 4 else g[(3 * k + 1) % N]
        out.append(g.float())
    return out

CASES = [
    ("sgd", dict(kind="sgd"), 0.1, lambda p, lr: torch.optim.SGD([p], lr=lr)),
    ("momentum", dict(kind="momentum", momentum=0.9), 0.05,
     lambda p, lr: torch.optim.SGD([p], lr=lr, momentum=0.9, dampening=0)),
    ("momentum_0.5", dict(kind="momentum", momentum=0.5), 0.2,
     lambda p, lr: torch.optim.SGD([p], lr=lr, momentum=0.5, dampening=0)),
    ("adam_default", dict(kind="adam", beta1=0.9, beta2=0.999, eps=1e-8), 1e-3,
     lambda p, lr: torch.optim.Adam([p], lr=lr, betas=(0.9, 0.999), eps=1e-8)),
    ("adam_custom", dict(kind="adam", beta1=0.8, beta2=0.99, eps=1e-6), 0.01,
     lambda p, lr: torch.optim.Adam([p], lr=lr, betas=(0.8, 0.99), eps=1e-6)),
]

def f32list(t):
    return [float(x) for x in t.tolist()]

cases = []
for name, cfg, lr, make in CASES:
    p = torch.nn.Parameter(torch.randn(N, dtype=torch.float32))
    init = f32list(p.detach())
    opt = make(p, lr)
    steps = []
    for g in grads():
        p.grad = g.clone()
        opt.step()
        steps.append({"grad": f32list(g), "params": f32list(p.detach())})
    cases.append({"name": name, "config": cfg, "lr": lr, "init": init, "steps": steps})

doc = {"torch": torch.__version__, "n": N, "cases": cases}
text = json.dumps(doc, indent=1) + "\n"
if "--update" in sys.argv:
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_golden.json")
    with open(path, "w") as f:
        f.write(text)
else:
    sys.stdout.write(text)
