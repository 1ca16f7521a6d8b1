#!/usr/bin/env bash
# Times catnet64 in catd and in the PyTorch reference benchmark back to back,
# on one thread each, and prints catd's time as a fraction of PyTorch's; then
# the training steps of catsep64, the built-in detector, the same way
# (scripts/torch_catsep.py).
# Usage: scripts/bench_vs_torch.sh [path/to/catd]   (needs python3-torch)
set -euo pipefail
catd=${1:-./bin/catd}
ref=${TORCH_BENCH:-../shared/bench/torch_catnet.py}
here=$(dirname "$0")
[ -f "$ref" ] || { echo "no PyTorch reference at $ref (set TORCH_BENCH)" >&2; exit 1; }

catd_json=$(GOMAXPROCS=1 "$catd" bench --model catnet64 --json)
torch_out=$(/usr/bin/python3 "$ref" 1)
echo "$torch_out"
CATD_JSON=$catd_json TORCH_OUT=$torch_out /usr/bin/python3 - <<'PY'
import json, os, re
c = json.loads(os.environ["CATD_JSON"])
t = dict(re.findall(r"(\w+_us)=([\d.]+)", os.environ["TORCH_OUT"]))
print(f"{'measure':<20} {'catd µs':>10} {'torch µs':>10} {'catd/torch':>11}")
for k in ["infer_b1_us", "train_sgdm_b1_us", "train_sgdm_b16_us", "train_adam_b1_us"]:
    tv = float(t[k])
    print(f"{k:<20} {c[k]:>10.1f} {tv:>10.1f} {c[k]/tv:>11.3f}")
print(f"allocs per op: inference {c['infer_allocs_per_op']:g}, training {c['train_allocs_per_op']:g}")
PY

sep_json=$(GOMAXPROCS=1 "$catd" bench --model catsep64 --json)
sep_out=$(/usr/bin/python3 "$here/torch_catsep.py" 1)
echo "$sep_out"
CATD_JSON=$sep_json TORCH_OUT=$sep_out /usr/bin/python3 - <<'PY'
import json, os, re
c = json.loads(os.environ["CATD_JSON"])
t = dict(re.findall(r"(\w+_us)=([\d.]+)", os.environ["TORCH_OUT"]))
print(f"{'catsep64':<20} {'catd µs':>10} {'torch µs':>10} {'catd/torch':>11}")
for k in ["train_sgdm_b1_us", "train_sgdm_b16_us"]:
    tv = float(t[k])
    print(f"{k:<20} {c[k]:>10.1f} {tv:>10.1f} {c[k]/tv:>11.3f}")
PY
