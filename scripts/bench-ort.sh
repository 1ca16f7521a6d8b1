#!/usr/bin/env bash
# bench-ort.sh CATD [ROUNDS]: catd's batch-1 inference next to ONNX Runtime's
# on one core (make bench-ort).
#
# ONNX Runtime is onnxruntime-node (its CPU libraries, MLAS, ship inside the
# npm package), installed with --ignore-scripts into build/ort/ (not part of
# the repository). scripts/onnx_export.py writes catnet64 (PyTorch's default
# init) and catsep64 (the built-in model, model/default.safetensors, batch
# norms folded as catd folds them) to ONNX, opset 13, with Debian's
# python3-torch, and stops unless ONNX Runtime's logits agree with
# "catd predict" within 1e-4. Each round then runs, one after the other and
# all pinned to the same CPU:
#
#   node scripts/ort_bench.js time M.onnx
#       session.run at batch 1 on one intra-op and one inter-op thread,
#       sequential, all graph optimisations: the median of 1000 runs after
#       100; also call.onnx, a model that only averages its input, which
#       is what a session.run costs besides the network;
#   catd bench --model catnet64|model/default.safetensors --int8 --json
#       GOMAXPROCS=1; infer_b1_us (float32, batch norms folded, as catd run
#       infers) and infer_int8_b1_us (the net quantized), medians of 300.
#
# It prints each round, then the best of the rounds for each figure and
# catd's times over ONNX Runtime's (session.run, less the call's cost). It
# installs python3-torch, nodejs and npm (Debian) if missing.
set -euo pipefail
catd=${1:?usage: bench-ort.sh CATD [ROUNDS]}
rounds=${2:-3}
cd "$(dirname "$0")/.."
ORT_VERSION=1.30.0
dir=build/ort
py=/usr/bin/python3

"$py" -c 'import torch' 2>/dev/null || scripts/apt-install.sh bench-ort python3-torch
command -v node >/dev/null || scripts/apt-install.sh bench-ort nodejs
command -v npm >/dev/null || scripts/apt-install.sh bench-ort npm

mkdir -p "$dir"
if [ "$(cd "$dir" && node -p "try { require('onnxruntime-node/package.json').version } catch (e) { '' }")" != "$ORT_VERSION" ]; then
	echo "bench-ort: npm install onnxruntime-node@$ORT_VERSION into $dir" >&2
	[ -f "$dir/package.json" ] || echo '{"private": true}' >"$dir/package.json"
	(cd "$dir" && npm install --ignore-scripts --no-audit --no-fund "onnxruntime-node@$ORT_VERSION" >&2)
fi
export NODE_PATH=$PWD/$dir/node_modules

"$py" scripts/onnx_export.py --out "$dir" --catd "$catd" --builtin model/default.safetensors

# One core for all: the first CPU this process may use.
cpu=$(taskset -pc $$ 2>/dev/null | sed 's/.*: *//; s/[,-].*//')
pin=()
if command -v taskset >/dev/null && [ -n "$cpu" ]; then
	pin=(taskset -c "$cpu")
fi

# json KEY FILE: a number from a one-line JSON object.
json() { grep -o "\"$1\":[-0-9.e+]*" "$2" | head -n 1 | cut -d: -f2; }

ort() { "${pin[@]}" node scripts/ort_bench.js time "$1" >"$2"; }
catd_bench() { GOMAXPROCS=1 "${pin[@]}" "$catd" bench --model "$1" --int8 --json >"$2"; }

: >"$dir/rounds.tsv"
printf 'round\tcall µs\tcatnet64 ORT µs\tcatd µs\tint8 µs\tcatsep64 ORT µs\tcatd µs\tint8 µs\tallocs\n'
for r in $(seq 1 "$rounds"); do
	ort "$dir/call.onnx" "$dir/call.json"
	ort "$dir/catnet64.onnx" "$dir/ort-catnet64.json"
	catd_bench catnet64 "$dir/catd-catnet64.json"
	ort "$dir/catsep64.onnx" "$dir/ort-catsep64.json"
	catd_bench model/default.safetensors "$dir/catd-catsep64.json"
	line=$(printf '%s\t%s' "$r" "$(json median_us "$dir/call.json")")
	for m in catnet64 catsep64; do
		line+=$(printf '\t%s\t%s\t%s' "$(json median_us "$dir/ort-$m.json")" \
			"$(json infer_b1_us "$dir/catd-$m.json")" "$(json infer_int8_b1_us "$dir/catd-$m.json")")
	done
	allocs=0
	for m in catnet64 catsep64; do
		for k in infer_allocs_per_op infer_int8_allocs_per_op; do
			allocs=$(awk -v a="$allocs" -v b="$(json $k "$dir/catd-$m.json")" 'BEGIN { print a + b }')
		done
	done
	line+=$(printf '\t%s' "$allocs")
	echo "$line" | awk -F'\t' -v OFS='\t' '{ for (i = 2; i < NF; i++) $i = sprintf("%.1f", $i); print }'
	echo "$line" >>"$dir/rounds.tsv"
done

best() { cut -f"$1" "$dir/rounds.tsv" | sort -g | head -n 1; }
echo
echo "best of $rounds rounds, one core ($(uname -m), $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')), load average $(cut -d' ' -f1-3 /proc/loadavg):"
echo "ONNX Runtime $ORT_VERSION (onnxruntime-node, node $(node --version)); $("$catd" version 2>/dev/null | head -n 1)"
awk -v call="$(best 2)" -v o1="$(best 3)" -v c1="$(best 4)" -v q1="$(best 5)" \
	-v o2="$(best 6)" -v c2="$(best 7)" -v q2="$(best 8)" -v allocs="$(cut -f9 "$dir/rounds.tsv" | sort -g | tail -n 1)" 'BEGIN {
	printf "  session.run of a model that only averages its input: %.1f µs\n\n", call
	printf "  %-9s %14s %14s %10s %10s %14s %14s\n", "batch 1", "ORT session.run", "ORT less call", "catd f32", "catd int8", "f32 / ORT", "int8 / ORT"
	n = split("catnet64 catsep64", name, " ")
	o[1] = o1; c[1] = c1; q[1] = q1; o[2] = o2; c[2] = c2; q[2] = q2
	for (i = 1; i <= n; i++) {
		net = o[i] - call
		printf "  %-9s %14.1f %14.1f %10.1f %10.1f %13.2fx %13.2fx\n", name[i], o[i], net, c[i], q[i], c[i] / net, q[i] / net
	}
	printf "\n  targets: float32 <= 1.0x, int8 <= 0.5x of ONNX Runtime float32; catd allocations per inference: %g\n", allocs
}'
