#!/usr/bin/env bash
# Times catnet64 and catsep64 in catd and in PyTorch back to back, on one
# thread each, ROUNDS times (default 1), and prints the best of the rounds
# and catd's time as a fraction of PyTorch's.
# catnet64 in PyTorch is the reference benchmark (../shared/bench/torch_catnet.py,
# or TORCH_BENCH); catsep64 (and catnet64 again, as a check on the two
# agreeing) is scripts/torch_train_bench.py, which times any catd
# architecture the same way.
# Both run on the same CPU (the first this script may use), one after the
# other. Installs Debian's python3-torch if Python cannot import torch.
# Usage: scripts/bench_vs_torch.sh [path/to/catd] [ROUNDS]
set -euo pipefail
catd=${1:-./bin/catd}
rounds=${2:-1}
ref=${TORCH_BENCH:-../shared/bench/torch_catnet.py}
[ -f "$ref" ] || { echo "no PyTorch reference at $ref (set TORCH_BENCH)" >&2; exit 1; }
here=$(dirname "$0")
py=/usr/bin/python3
"$py" -c 'import torch' 2>/dev/null || "$here/apt-install.sh" bench-torch python3-torch

# One core for all: the first CPU this process may use.
cpu=$(taskset -pc $$ 2>/dev/null | sed 's/.*: *//; s/[,-].*//')
pin=()
if command -v taskset >/dev/null && [ -n "$cpu" ]; then
	pin=(taskset -c "$cpu")
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for r in $(seq 1 "$rounds"); do
	GOMAXPROCS=1 "${pin[@]}" "$catd" bench --model catnet64 --json >"$out/catd-catnet64.$r"
	"${pin[@]}" "$py" "$ref" 1 >"$out/torch-catnet64.$r"
	GOMAXPROCS=1 "${pin[@]}" "$catd" bench --model catsep64 --json >"$out/catd-catsep64.$r"
	"${pin[@]}" "$py" "$here/torch_train_bench.py" catsep64 1 >"$out/torch-catsep64.$r"
	"${pin[@]}" "$py" "$here/torch_train_bench.py" catnet64 1 >"$out/torch-catnet64-ours.$r"
	echo "round $r:" "$(tail -n 1 "$out/torch-catnet64.$r")" >&2
done
head -n 1 "$out/torch-catnet64.1"
OUT=$out ROUNDS=$rounds /usr/bin/python3 - <<'PY'
import json, os, re
out, rounds = os.environ["OUT"], int(os.environ["ROUNDS"])
keys = ["infer_b1_us", "train_sgdm_b1_us", "train_sgdm_b16_us", "train_adam_b1_us"]

def best(prefix, parse):
    runs = [parse(open(f"{out}/{prefix}.{r}").read()) for r in range(1, rounds + 1)]
    return {k: min(float(x[k]) for x in runs) for k in keys}, runs

torch_fig = lambda s: dict(re.findall(r"(\w+_us)=([\d.]+)", s))
print(f"best of {rounds} round(s), one thread each")
allocs = []
for arch, tref in [("catnet64", "torch-catnet64"), ("catsep64", "torch-catsep64")]:
    c, cruns = best(f"catd-{arch}", json.loads)
    t, _ = best(tref, torch_fig)
    allocs += [(arch, x["infer_allocs_per_op"], x["train_allocs_per_op"]) for x in cruns]
    print(f"\n{arch:<20} {'catd µs':>10} {'torch µs':>10} {'catd/torch':>11}")
    for k in keys:
        print(f"{k:<20} {c[k]:>10.1f} {t[k]:>10.1f} {c[k]/t[k]:>11.3f}")
o, _ = best("torch-catnet64-ours", torch_fig)
r, _ = best("torch-catnet64", torch_fig)
print("\ncatnet64 in scripts/torch_train_bench.py / the reference: "
      + ", ".join(f"{k} {o[k]/r[k]:.2f}" for k in keys))
print("allocs per op (inference, training step): "
      + ", ".join(sorted({f"{a} {i:g}, {t:g}" for a, i, t in allocs})))
PY
