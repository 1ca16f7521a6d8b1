#!/usr/bin/env bash
# jpeg-testdata.sh: the JPEG files of preprocess/jpeg/testdata that Go's own
# encoder cannot make (it writes 4:2:0 and greyscale baseline only): other
# chroma subsamplings, restart markers, and the kinds the decoder leaves to
# image/jpeg (progressive, arithmetic-coded). Made with libjpeg-turbo's
# cjpeg (Debian: libjpeg-turbo-progs) from ffmpeg's testsrc2 pattern, at
# odd sizes so that edge blocks are partial. Run it to regenerate; the
# tests only read the files.
set -euo pipefail
cd "$(dirname "$0")/../preprocess/jpeg/testdata"
for tool in cjpeg ffmpeg; do
	command -v "$tool" >/dev/null || { echo "jpeg-testdata: $tool missing (apt-get install libjpeg-turbo-progs ffmpeg)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ffmpeg -v error -f lavfi -i testsrc2=size=77x45 -frames:v 1 -y "$tmp/src.ppm"
# name: cjpeg options
while read -r name opts; do
	# shellcheck disable=SC2086
	cjpeg -quality 85 $opts -outfile "$name.jpg" "$tmp/src.ppm"
done <<'LIST'
s444 -sample 1x1
s422 -sample 2x1
s440 -sample 1x2
s420 -sample 2x2
s420-restart2 -sample 2x2 -restart 2B
s422-restart-rows -sample 2x1 -restart 1
gray -grayscale
gray-restart -grayscale -restart 5B
optimized -sample 2x2 -optimize
progressive -sample 2x2 -progressive
arithmetic -sample 2x2 -arithmetic
LIST
ls -l
