#!/usr/bin/env bash
# The learner's stabilisers one at a time: catd bench-learning with each
# turned off (or changed), on the given sets and orders, one line of
# figures per variant. Usage:
#   scripts/learning-ablation.sh BIN OUTDIR [bench-learning flags...]
# e.g. scripts/learning-ablation.sh bin/catd build/ablation \
#        --pets ../shared/data/oxford-pets-sample --orders class-by-class,interleaved --seeds 1
set -euo pipefail
bin=$1 out=$2
shift 2
mkdir -p "$out"
variants=(
	"defaults|"
	"same-rate backbone|--backbone-lr 1"
	"no pull to accepted|--prox -1"
	"no anchor (L2-SP)|--anchor -1"
	"last iterate|--average -1"
	"no head warm-up|--head-warmup -1"
	"no shrink after rejection|--shrink -1"
	"fixed margin only|--noise -1"
	"best-cut threshold|--best-cut"
)
for v in "${variants[@]}"; do
	name=${v%%|*} flags=${v#*|}
	dir="$out/$(echo "$name" | tr ' ()' '-__')"
	# shellcheck disable=SC2086
	"$bin" bench-learning "$@" $flags --out "$dir" >/dev/null 2>"$dir.log" || { echo "$name: failed, see $dir.log"; continue; }
	grep '^- ' "$dir/learning-bench.md" | sed "s/^- /$name: /"
done
