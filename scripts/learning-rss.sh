#!/bin/sh
# Measures the resident memory of `catd run` while it learns: the built-in
# model on a 640x480 test stream at 10 frames/s, given N cat and N non-cat
# labels from the shared Tiny ImageNet train split, rounds every second.
# Prints VmHWM / VmRSS after SECONDS and the learning figures of status.json.
#   scripts/learning-rss.sh [CATD] [N] [SECONDS]
set -eu
catd=${1:-bin/catd}
n=${2:-500}
secs=${3:-90}
data=${DATA:-../shared/data/tinyimagenet-cat64.tar}
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/src" "$work/state/labels/cat" "$work/state/labels/noncat" "$work/run"
tar -xf "$data" -C "$work/src" --wildcards 'train/cat/*' 'train/noncat/*'
cat >"$work/catd.yaml" <<YAML
source: "test:?w=640&h=480&fps=10"
learn:
  every: 1s
YAML
"$catd" run --config "$work/catd.yaml" --state-dir "$work/state" --runtime-dir "$work/run" --log-level warn &
pid=$!
sleep 2
# Labels arrive as files, a class at a time in tens, like a user's.
ls "$work/src/train/cat" | head -n "$n" >"$work/cats"
ls "$work/src/train/noncat" | head -n "$n" >"$work/noncats"
i=0
while [ $i -lt "$n" ]; do
	sed -n "$((i + 1)),$((i + 10))p" "$work/cats" | while read -r f; do cp "$work/src/train/cat/$f" "$work/state/labels/cat/"; done
	sed -n "$((i + 1)),$((i + 10))p" "$work/noncats" | while read -r f; do cp "$work/src/train/noncat/$f" "$work/state/labels/noncat/"; done
	i=$((i + 10))
done
sleep "$secs"
grep -E 'VmHWM|VmRSS' "/proc/$pid/status"
grep -E '"(labels_cat|labels_noncat|rounds|replay_bytes|replay_disk_bytes|optimizer_state_bytes|train_workspace_bytes|last_round)"' "$work/run/status.json"
