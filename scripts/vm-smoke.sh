#!/usr/bin/env bash
# vm-smoke.sh: the "virtual Pi" smoke test (make test-vm).
#
# catd, cross-compiled for linux/arm64 (CGO_ENABLED=0), runs as
#
#   catd run --source 'v4l2:/dev/video0?width=640&height=480&format=yuyv&fps=10'
#
# inside qemu-system-aarch64 (machine virt, Cortex-A72, TCG: no KVM needed)
# on Debian's own arm64 kernel, with the kernel's virtual camera driver vivid
# behind /dev/video0. So catd's pure-Go V4L2 code talks to a real kernel
# driver (videodev, videobuf2) on a real arm64 ABI, not to the fake driver of
# its unit tests. catd starts before the camera is there (vivid is loaded a
# few seconds later, as a camera is plugged in on a first boot): it must run
# on, say "waiting for camera" in status.json, and watch once /dev/video0
# appears. A few labelled images are dropped into the state folder so
# that on-device learning runs a round on the board, its accepted weights get
# checkpointed, and the test can see the whole life of the service: frames
# processed (status.json), a checkpoint written, a clean exit (0) on SIGTERM.
#
# The VM (Debian's arm64 kernel and busybox, vivid, the initramfs, qemu)
# is made by scripts/vm.sh, shared with vm-v4l2.sh (make test-v4l2); the
# cache is build/vm/arm64, so a second run only rebuilds catd and the
# initramfs and boots.
#
# Environment (and those of scripts/vm.sh: VM_DIR, VM_TIMEOUT, VM_SMP,
# VM_MEM, VM_KERNEL_PKG, GO):
#   VM_RUN_SECS   least seconds catd runs in the VM (default 30; at least 20)
#   VM_MAX_SECS   seconds catd may run while waiting for frames and a
#                 checkpoint before it is stopped anyway (default 360)
#
# It exits 0 when every check passed, and otherwise names the one that failed.
# The VM's console is kept in build/vm/arm64/console.log.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/vm.sh

VM_RUN_SECS=${VM_RUN_SECS:-30}
VM_MAX_SECS=${VM_MAX_SECS:-360}
SOURCE='v4l2:/dev/video0?width=640&height=480&format=yuyv&fps=10'

start=$SECONDS
vm_setup arm64 vm-smoke
[ "$VM_RUN_SECS" -ge 20 ] || die "VM_RUN_SECS=$VM_RUN_SECS: the test runs catd for at least 20 s"

# 1. The kernel with vivid's modules, and busybox (cached).
vm_kernel
vm_busybox

# 2. catd for the board.
vm_go_build ./cmd/catd catd

# 3. The initramfs: busybox, catd, the modules, a config, labelled images
# and /init. Its root is made afresh each run.
vm_rootfs
mkdir -p "$ROOT/state/labels"

# Labelled images: 10 per class, small PNGs that differ from one another (the
# replay buffer keeps each picture once), made by a throwaway Go program
# outside the module. Cat ones are warm and striped, non-cat ones cool and
# smooth, so a round has something to learn and its held-out loss falls.
gen=$(mktemp -d)
VM_CLEANUP+=("$gen")
cat >"$gen/labels.go" <<'EOF'
package main

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
)

func main() {
	for ci, class := range []string{"cat", "noncat"} {
		dir := filepath.Join(os.Args[1], class)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			panic(err)
		}
		for i := range 10 {
			r := rand.New(rand.NewPCG(uint64(ci), uint64(i)))
			img := image.NewRGBA(image.Rect(0, 0, 96, 96))
			for y := range 96 {
				for x := range 96 {
					v := uint8(r.IntN(64))
					if class == "cat" {
						s := uint8(96 * ((x + y + i) / 12 % 2))
						img.Set(x, y, color.RGBA{160 + v/2 + s/3, 90 + v + s/4, 40 + v/2, 255})
					} else {
						img.Set(x, y, color.RGBA{40 + v/2, uint8(60 + x), uint8(120+y) + v/2, 255})
					}
				}
			}
			f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s%02d.png", class, i)))
			if err != nil {
				panic(err)
			}
			if err := png.Encode(f, img); err != nil {
				panic(err)
			}
			if err := f.Close(); err != nil {
				panic(err)
			}
		}
	}
}
EOF
(cd "$gen" && "$GO" run labels.go "$ROOT/state/labels")

# The config: small, frequent rounds (a margin of 1 accepts any round whose
# held-out loss does not double), and checkpoints every 10 s (the least)
# whenever the weights changed. No snapshots or review frames: the state
# folder holds only what the test looks at.
cat >"$ROOT/etc/catd.yaml" <<'EOF'
stats_every: 5s
checkpoint:
  every: 10s
  keep: 2
learn:
  enabled: true
  every: 2s
  steps: 3
  batch: 4
  margin: 1
  val_share: 0.3
  duty: 0.9
snapshots:
  enabled: false
review:
  enabled: false
EOF

# /init: PID 1 in the VM, vm.sh's prelude (vivid loaded) and then catd. It
# prints VMTEST lines the host checks, and powers the VM off in every case
# (on failure too), so that qemu exits.
{
	vm_init_prelude vivid-later
	cat <<EOF

catd version
catd run --config /etc/catd.yaml --source '$SOURCE' --state-dir /state --runtime-dir /run/catd --stats-every 5s --log-json &
pid=\$!
# No camera yet: catd runs on (it made /run/catd) and says it waits.
waited=no
for i in \$(seq 60); do
	sleep 1
	kill -0 \$pid 2>/dev/null || break
	grep -q '"state": "waiting for camera"' /run/catd/status.json 2>/dev/null && { waited=yes; break; }
done
kill -0 \$pid 2>/dev/null || fail "catd exited without a camera"
[ \$waited = yes ] || fail "status.json never said waiting for camera"
sleep 3
echo "VMTEST no camera: catd waiting after \$i s"
cat /run/catd/status.json
load_vivid
t0=\$(uptime_s)
# Run at least $VM_RUN_SECS s, then until status.json shows frames and a
# checkpoint (or $VM_MAX_SECS s passed, or catd died).
frames=0 ckpt=
while kill -0 \$pid 2>/dev/null; do
	sleep 2
	el=\$((\$(uptime_s) - t0))
	if [ -f /run/catd/status.json ]; then
		frames=\$(sed -n 's/^ *"frames": \([0-9]*\),*$/\1/p' /run/catd/status.json)
		ckpt=\$(sed -n 's/^ *"checkpoint": "\(.*\)",*$/\1/p' /run/catd/status.json)
	fi
	[ \$el -ge $VM_RUN_SECS ] && [ "\${frames:-0}" -gt 0 ] && [ -n "\$ckpt" ] && break
	[ \$el -ge $VM_MAX_SECS ] && { echo "VMTEST gave up waiting after \$el s"; break; }
done
el=\$((\$(uptime_s) - t0))
echo "VMTEST status.json after \$el s:"
cat /run/catd/status.json
alive=no
kill -0 \$pid 2>/dev/null && alive=yes
t1=\$(cut -d' ' -f1 /proc/uptime)
kill -TERM \$pid 2>/dev/null
wait \$pid
rc=\$?
t2=\$(cut -d' ' -f1 /proc/uptime)
echo "VMTEST checkpoints:"
ls -l /state/checkpoints
n=0
for f in /state/checkpoints/checkpoint-*.safetensors; do [ -f "\$f" ] && n=\$((n + 1)); done
echo "VMTEST result waited=\$waited frames=\${frames:-0} status_checkpoint=\${ckpt:-none} checkpoints=\$n running_at_sigterm=\$alive exit=\$rc sigterm_at=\$t1 exited_at=\$t2 ran=\${el}s"
off
EOF
} >"$ROOT/init"
vm_pack

# 4. Boot, and wait for the VM to power off (vm_boot dies on a hang, a
# kernel crash or a VMTEST FAIL line).
vm_boot
vmsecs=$VM_SECS

# 5. The checks, on the console.
grep -E '^(panic: |fatal error: )|SIGSEGV' "$CONSOLE" && die "catd crashed (console: $CONSOLE)"
grep -q '"message":"waiting for camera"' "$CONSOLE" || die "catd did not log that it waits for the camera (console: $CONSOLE)"
grep -q '"message":"camera found: watching"' "$CONSOLE" || die "catd did not log the camera's arrival (console: $CONSOLE)"
grep -q '"message":"camera: streaming"' "$CONSOLE" || die "catd never started streaming from /dev/video0 (console: $CONSOLE)"
stream=$(grep -m1 '"message":"camera: streaming"' "$CONSOLE")
for want in '"driver":"vivid"' '"pixel_format":"YUYV"' '"w":640' '"h":480'; do
	case $stream in
	*"$want"*) ;;
	*) die "catd streams, but not $want: $stream" ;;
	esac
done
res=$(grep -m1 '^VMTEST result' "$CONSOLE" || true)
[ -n "$res" ] || die "no VMTEST result line: /init did not finish (console: $CONSOLE)"
field() { echo "$res" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
frames=$(field frames) nck=$(field checkpoints) rc=$(field exit) alive=$(field running_at_sigterm) ck=$(field status_checkpoint)
[ "$alive" = yes ] || die "catd had exited (code $rc) before it was told to stop (console: $CONSOLE)"
[ "${frames:-0}" -gt 0 ] || die "status.json shows no frames processed"
[ "$ck" != none ] || die "status.json names no checkpoint (no training round accepted?)"
[ "${nck:-0}" -gt 0 ] || die "no checkpoint file in /state/checkpoints"
[ "$rc" = 0 ] || die "catd exited with $rc on SIGTERM, want 0"
grep -q '"message":"stopped"' "$CONSOLE" || die "catd did not log its clean stop"
stop=$(awk -v a="$(field sigterm_at)" -v b="$(field exited_at)" 'BEGIN { printf "%.2f", b - a }')

printf 'VMTEST OK: kernel %s, started without a camera, then vivid YUYV 640x480, frames=%s, checkpoint %s (%s in /state/checkpoints), exit 0 %s s after SIGTERM; VM %d s, whole run %d s\n' \
	"$kver" "$frames" "$ck" "$nck" "$stop" "$vmsecs" "$((SECONDS - start))"
