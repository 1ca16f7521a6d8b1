#!/usr/bin/env bash
# bench-pipeline.sh CATD [ROUNDS] [SECONDS]: catd's frame path next to
# ffmpeg's on the same 640x480 MJPEG stream, on one core (make
# bench-pipeline).
#
# The stream is ffmpeg's testsrc2 pattern, 20 s at 30 frames/s, -q:v 4
# (about 24 kB a frame), made once in build/bench/. Each round runs, one
# after the other and both pinned to the same CPU:
#
#   ffmpeg -threads 1 -lowres 3 -i stream.mjpeg -vf scale=64:64:flags=area -f null -
#       decode at 1/8 in the DCT domain and an area resize to 64x64: the
#       stream read 5 times over (-stream_loop 4), frames/s = frames / wall time;
#   catd bench --pipeline [--int8] --source 'file:stream.mjpeg?fps=max&loop=true'
#       the daemon's whole pipeline (capture, decode at the scale it picks,
#       resize, inference of the built-in model, decision) for SECONDS,
#       once in float32 and once in int8 (detect.int8). fps=max has the
#       file wait for the pipeline: each frame is read once the one before
#       has been taken, so every frame read is decoded and inferred, in
#       order, none dropped, as ffmpeg decodes every frame; catd's
#       frames/s is frames inferred (= read = decoded) / wall time, and the
#       script fails if catd reports a dropped frame.
#
# It prints each round and then the medians: frames/s of each, catd's
# over ffmpeg's, catd's allocations and bytes per frame, and catd's decode
# and resize stage alone (its frames/s is what compares with ffmpeg's
# decode+resize). ffmpeg comes from Debian; it is installed if missing.
set -euo pipefail
catd=${1:?usage: bench-pipeline.sh CATD [ROUNDS] [SECONDS]}
rounds=${2:-3}
secs=${3:-10}
cd "$(dirname "$0")/.."

command -v ffmpeg >/dev/null || scripts/apt-install.sh bench-pipeline ffmpeg

dir=build/bench
stream=$dir/testsrc2-640x480.mjpeg
mkdir -p "$dir"
if [ ! -s "$stream" ]; then
	ffmpeg -v error -y -f lavfi -i testsrc2=size=640x480:rate=30 -t 20 -q:v 4 -f mjpeg "$stream"
fi

# One core for both: the first CPU this process may use.
cpu=$(taskset -pc $$ 2>/dev/null | sed 's/.*: *//; s/[,-].*//')
pin=()
if command -v taskset >/dev/null && [ -n "$cpu" ]; then
	pin=(taskset -c "$cpu")
fi

# json KEY FILE: a number from catd's one-line JSON.
json() { grep -o "\"$1\":[-0-9.e+]*" "$2" | head -n 1 | cut -d: -f2; }

# ffmpeg_round: "wall-fps cpu-fps" of one ffmpeg run.
ffmpeg_round() {
	local log=$dir/ffmpeg.log t0 t1 frames
	t0=$(date +%s.%N)
	"${pin[@]}" ffmpeg -hide_banner -benchmark -threads 1 -lowres 3 -stream_loop 4 -i "$stream" \
		-vf scale=64:64:flags=area -f null - >"$log" 2>&1
	t1=$(date +%s.%N)
	frames=$(grep -o 'frame= *[0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*$')
	if [ -z "$frames" ] || [ "$frames" -eq 0 ]; then
		echo "bench-pipeline: no frame count in ffmpeg's output ($log)" >&2
		exit 1
	fi
	# bench: utime=0.182s stime=0.026s rtime=0.235s
	sed -n 's/.*utime=\([0-9.]*\)s stime=\([0-9.]*\)s.*/\1 \2/p' "$log" | tail -n 1 |
		awk -v n="$frames" -v a="$t0" -v b="$t1" '{ printf "%.1f %.1f", n / (b - a), n / ($1 + $2) }'
}

catd_round() { # catd_round OUT [--int8]
	local out=$1
	shift
	"${pin[@]}" "$catd" bench --pipeline "$@" --duration "${secs}s" --json \
		--source "file:$stream?fps=max&loop=true" >"$out"
	local dropped
	dropped=$(json dropped_frames "$out")
	if [ "${dropped:-1}" != 0 ]; then
		echo "bench-pipeline: catd dropped ${dropped:-?} frames ($out): not every frame was inferred" >&2
		exit 1
	fi
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

: >"$dir/rounds.tsv"
# Per round: frames/s by the clock and frames per CPU-second (user+system
# time of the process: what the machine's other load does not change).
printf 'round\tffmpeg fps\tffmpeg fps/CPU\tcatd fps\tcatd fps/CPU\tint8 fps\tint8 fps/CPU\tdecode+resize µs\tallocs/frame\tbytes/frame\tint8 allocs/frame\tint8 bytes/frame\n'
for r in $(seq 1 "$rounds"); do
	read -r f fc <<<"$(ffmpeg_round)"
	catd_round "$dir/catd.json"
	catd_round "$dir/catd-int8.json" --int8
	line=$(printf '%s\t%s\t%s' "$r" "$f" "$fc")
	for j in "$dir/catd.json" "$dir/catd-int8.json"; do
		line+=$(awk -v f="$(json pipeline_fps "$j")" -v c="$(json cpu_per_frame_us "$j")" 'BEGIN { printf "\t%.1f\t%.1f", f, 1e6 / c }')
	done
	line+=$(awk -v d="$(json jpeg_decode_us "$dir/catd-int8.json")" \
		-v a="$(json allocs_per_frame "$dir/catd.json")" -v b="$(json bytes_per_frame "$dir/catd.json")" \
		-v a8="$(json allocs_per_frame "$dir/catd-int8.json")" -v b8="$(json bytes_per_frame "$dir/catd-int8.json")" \
		'BEGIN { printf "\t%.0f\t%.3f\t%.1f\t%.3f\t%.1f", d, a, b, a8, b8 }')
	echo "$line"
	echo "$line" >>"$dir/rounds.tsv"
done

col() { cut -f"$1" "$dir/rounds.tsv" | median; }
scale=$(json jpeg_scale "$dir/catd-int8.json")
echo
echo "medians of $rounds rounds, one core ($(uname -m)), $(basename "$stream"), every frame decoded by both"
echo "(catd: read, decoded, resized and inferred, none dropped); frames/s by the clock, and per CPU-second:"
awk -v f="$(col 2)" -v fc="$(col 3)" -v c="$(col 4)" -v cc="$(col 5)" -v c8="$(col 6)" -v c8c="$(col 7)" \
	-v dec="$(col 8)" -v s="$scale" -v a="$(col 9)" -v b="$(col 10)" -v a8="$(col 11)" -v b8="$(col 12)" 'BEGIN {
	printf "  ffmpeg -lowres 3 decode + area resize:  %7.1f  %7.1f\n", f, fc
	printf "  catd decode at 1/%d + resize (stage):    %7.1f           %.0f µs a frame\n", s, 1e6 / dec, dec
	printf "  catd pipeline, float32 inference:       %7.1f  %7.1f   %.2fx ffmpeg (per CPU-second %.2fx); %.3f allocs, %.1f bytes a frame\n", c, cc, c / f, cc / fc, a, b
	printf "  catd pipeline, int8 inference:          %7.1f  %7.1f   %.2fx ffmpeg (per CPU-second %.2fx); %.3f allocs, %.1f bytes a frame\n", c8, c8c, c8 / f, c8c / fc, a8, b8
}'
