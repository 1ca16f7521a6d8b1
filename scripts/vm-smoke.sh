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
# its unit tests. A few labelled images are dropped into the state folder so
# that on-device learning runs a round on the board, its accepted weights get
# checkpointed, and the test can see the whole life of the service: frames
# processed (status.json), a checkpoint written, a clean exit (0) on SIGTERM.
#
# Everything comes from Debian's archive: qemu-system-arm, cpio and kmod are
# installed on the host when missing; the arm64 kernel and busybox-static are
# only downloaded (apt-get download, after dpkg --add-architecture arm64) and
# unpacked into build/vm/, never installed. The downloads and the unpacked
# kernel are cached there, so a second run only rebuilds catd and the
# initramfs and boots.
#
# Environment:
#   VM_DIR        cache and work folder (default build/vm)
#   VM_TIMEOUT    seconds the VM may take in all before it is killed (default 600)
#   VM_RUN_SECS   least seconds catd runs in the VM (default 30; at least 20)
#   VM_MAX_SECS   seconds catd may run while waiting for frames and a
#                 checkpoint before it is stopped anyway (default 360)
#   VM_SMP        virtual CPUs (default 2)
#   VM_MEM        memory in MiB (default 512)
#   VM_KERNEL_PKG an exact kernel package, e.g. linux-image-6.1.0-56-arm64
#                 (default: what linux-image-arm64:arm64 depends on)
#   GO            the go command (default go)
#
# It exits 0 when every check passed, and otherwise names the one that failed.
# The VM's console is kept in $VM_DIR/console.log.
set -euo pipefail
cd "$(dirname "$0")/.."

VM_DIR=${VM_DIR:-build/vm}
VM_TIMEOUT=${VM_TIMEOUT:-600}
VM_RUN_SECS=${VM_RUN_SECS:-30}
VM_MAX_SECS=${VM_MAX_SECS:-360}
VM_SMP=${VM_SMP:-2}
VM_MEM=${VM_MEM:-512}
GO=${GO:-go}
SOURCE='v4l2:/dev/video0?width=640&height=480&format=yuyv&fps=10'
# vivid: one instance, a video capture node only (node_types bit 0), single
# planar (catd does not do multi-planar), one input of type webcam
# (input_types 0b00), which offers YUYV (its first format) at discrete sizes
# including 640x480 and takes a frame rate (VIDIOC_S_PARM); no error
# injection controls.
VIVID_OPTS='n_devs=1 node_types=0x1 multiplanar=1 num_inputs=1 input_types=0x0 no_error_inj=1'

start=$SECONDS
log() { printf 'vm-smoke: %s\n' "$*" >&2; }
die() {
	printf 'vm-smoke: FAIL: %s\n' "$*" >&2
	exit 1
}
[ "$VM_RUN_SECS" -ge 20 ] || die "VM_RUN_SECS=$VM_RUN_SECS: the test runs catd for at least 20 s"
mkdir -p "$VM_DIR"
VM_DIR=$(cd "$VM_DIR" && pwd)
# One run at a time per cache folder; leftovers of an interrupted run go.
exec 9>"$VM_DIR/lock"
flock -n 9 || die "another vm-smoke.sh is running on $VM_DIR"
rm -rf "$VM_DIR"/unpack.* "$VM_DIR"/*.new
tmp='' gen=''
trap 'rm -rf "$tmp" "$gen"' EXIT

# as_root runs a command as root: directly, or through sudo.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		die "need root (or sudo) for: $*"
	fi
}

# 1. Host tools, from Debian: qemu-system-aarch64 (package qemu-system-arm),
# cpio for the initramfs, kmod's depmod/modprobe to resolve vivid's module
# dependencies.
need=()
command -v qemu-system-aarch64 >/dev/null || need+=(qemu-system-arm)
command -v cpio >/dev/null || need+=(cpio)
command -v depmod >/dev/null || [ -x /usr/sbin/depmod ] || [ -x /sbin/depmod ] || need+=(kmod)
command -v dpkg-deb >/dev/null || die "dpkg-deb missing: this script needs a Debian-like host"
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]}"
	as_root apt-get update -q
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi
export PATH=$PATH:/usr/sbin:/sbin # depmod and modprobe, for non-root users

# 2. The arm64 kernel and busybox: downloaded once into $VM_DIR/debs.
#
# arm64_lists makes sure apt knows the arm64 packages (adding the foreign
# architecture and updating the lists once).
arm64_lists() {
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		log "adding the arm64 architecture to dpkg (for apt-get download only)"
		as_root dpkg --add-architecture arm64
	fi
	log "apt-get update (for the arm64 package lists)"
	as_root apt-get update -q
}
# kernel_pkg prints the real package behind the linux-image-arm64
# metapackage, e.g. linux-image-6.1.0-56-arm64 (from apt's local lists),
# or nothing when apt knows no arm64 packages.
kernel_pkg() {
	{ apt-cache depends linux-image-arm64:arm64 2>/dev/null || true; } |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^: ]*\)\(:arm64\)\{0,1\}$/\1/p' | head -n1
}
# fetch downloads package $1 (arm64) into $VM_DIR/debs unless a .deb of
# it is there, and prints the .deb's path.
fetch() {
	local pkg=$1 deb
	mkdir -p "$VM_DIR/debs"
	deb=$(find "$VM_DIR/debs" -maxdepth 1 -name "${pkg}_*_arm64.deb" | sort | tail -n1)
	if [ -z "$deb" ]; then
		log "downloading $pkg:arm64"
		local opt=()
		[ "$(id -u)" -ne 0 ] || opt=(-o APT::Sandbox::User=root) # no _apt sandbox warning
		(cd "$VM_DIR/debs" && apt-get download -q "${opt[@]}" "$pkg:arm64" >&2) ||
			die "apt-get download $pkg:arm64 failed"
		deb=$(find "$VM_DIR/debs" -maxdepth 1 -name "${pkg}_*_arm64.deb" | sort | tail -n1)
		[ -n "$deb" ] || die "apt-get download $pkg:arm64 left no .deb in $VM_DIR/debs"
	fi
	echo "$deb"
}

kpkg=${VM_KERNEL_PKG:-$(kernel_pkg)}
if [ -z "$kpkg" ]; then
	# No arm64 lists yet. A kernel unpacked by an earlier run will do.
	kpkg=$(cat "$VM_DIR/kernel.pkg" 2>/dev/null || true)
	if [ -z "$kpkg" ] || [ ! -f "$VM_DIR/$kpkg/vmlinuz" ]; then
		arm64_lists
		kpkg=$(kernel_pkg)
		[ -n "$kpkg" ] || die "apt knows no linux-image-arm64:arm64: is deb.debian.org (main) in the sources?"
	fi
fi
KDIR=$VM_DIR/$kpkg # vmlinuz, modules/*.ko, modules.order (vivid and its dependencies)

# The kernel: unpack the .deb once, resolve vivid's dependencies with
# depmod/modprobe, keep vmlinuz and those modules, drop the rest (350 MB).
if [ ! -f "$KDIR/modules.order" ]; then
	deb=$(fetch "$kpkg")
	tmp=$VM_DIR/unpack.$$
	rm -rf "$tmp"
	log "unpacking $(basename "$deb")"
	dpkg-deb -x "$deb" "$tmp"
	kver=$(ls "$tmp/lib/modules")
	[ "$(echo "$kver" | wc -l)" -eq 1 ] || die "$deb holds modules for several kernels: $kver"
	grep -q '^CONFIG_VIDEO_VIVID=[my]' "$tmp/boot/config-$kver" ||
		die "Debian's arm64 kernel $kver is built without vivid (CONFIG_VIDEO_VIVID)"
	# modules.dep is made on installation, not shipped: make it here.
	depmod -b "$tmp" "$kver"
	rm -rf "$KDIR.new"
	mkdir -p "$KDIR.new/modules"
	cp "$tmp/boot/vmlinuz-$kver" "$KDIR.new/vmlinuz"
	# modprobe prints "insmod /path/x.ko [options]" in load order.
	modprobe -d "$tmp" -S "$kver" --show-depends vivid | while read -r cmd path _; do
		[ "$cmd" = insmod ] || die "modprobe --show-depends vivid: unexpected line: $cmd $path"
		name=$(basename "$path")
		case $name in
		*.ko) cp "$path" "$KDIR.new/modules/$name" ;;
		*.ko.xz) xz -dc "$path" >"$KDIR.new/modules/${name%.xz}" ;; # busybox insmod takes plain .ko only
		*.ko.zst) zstd -qdc "$path" >"$KDIR.new/modules/${name%.zst}" ;;
		*.ko.gz) gzip -dc "$path" >"$KDIR.new/modules/${name%.gz}" ;;
		*) die "unknown module file $path" ;;
		esac
		echo "${name%.ko*}.ko" >>"$KDIR.new/modules.order"
	done
	[ -s "$KDIR.new/modules.order" ] || die "modprobe found no vivid module in $kver"
	echo "$kver" >"$KDIR.new/version"
	rm -rf "$tmp" "$KDIR"
	mv "$KDIR.new" "$KDIR"
	echo "$kpkg" >"$VM_DIR/kernel.pkg"
	tmp=
fi
kver=$(cat "$KDIR/version")

BUSYBOX=$VM_DIR/busybox
if [ ! -x "$BUSYBOX" ]; then
	deb=$(fetch busybox-static)
	tmp=$VM_DIR/unpack.$$
	rm -rf "$tmp"
	dpkg-deb -x "$deb" "$tmp"
	cp "$tmp/bin/busybox" "$BUSYBOX.new"
	rm -rf "$tmp"
	tmp=
	mv "$BUSYBOX.new" "$BUSYBOX"
fi
log "kernel $kver ($kpkg), $(tr '\n' ' ' <"$KDIR/modules.order")"

# 3. catd for the board.
log "building catd for linux/arm64"
CGO_ENABLED=0 GOOS=linux GOARCH=arm64 "$GO" build -trimpath -o "$VM_DIR/catd" ./cmd/catd

# 4. The initramfs: busybox, catd, the modules, a config, labelled images
# and /init. Its root is made afresh each run.
ROOT=$VM_DIR/root
rm -rf "$ROOT"
mkdir -p "$ROOT"/{bin,dev,proc,sys,run,tmp,etc,lib/modules,state/labels}
cp "$BUSYBOX" "$ROOT/bin/busybox"
cp "$VM_DIR/catd" "$ROOT/bin/catd"
cp "$KDIR"/modules/*.ko "$KDIR/modules.order" "$ROOT/lib/modules/"

# Labelled images: 10 per class, small PNGs that differ from one another (the
# replay buffer keeps each picture once), made by a throwaway Go program
# outside the module. Cat ones are warm and striped, non-cat ones cool and
# smooth, so a round has something to learn and its held-out loss falls.
gen=$(mktemp -d)
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

# /init: PID 1 in the VM. It prints VMTEST lines the host checks, and powers
# the VM off in every case (on failure too), so that qemu exits.
cat >"$ROOT/init" <<EOF
#!/bin/busybox sh
# The initramfs has no /dev/console: mount devtmpfs first, then talk on it.
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
/bin/busybox --install -s /bin
export PATH=/bin HOME=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
off() { sync; poweroff -f; sleep 10; }
fail() { echo "VMTEST FAIL: \$*"; off; }
uptime_s() { cut -d. -f1 /proc/uptime; }
echo "VMTEST boot kernel=\$(uname -r) machine=\$(uname -m) cpus=\$(grep -c ^processor /proc/cpuinfo) uptime=\$(cut -d' ' -f1 /proc/uptime)s"

for m in \$(cat /lib/modules/modules.order); do
	opts=
	[ "\$m" = vivid.ko ] && opts="$VIVID_OPTS"
	insmod /lib/modules/\$m \$opts || fail "insmod \$m \$opts"
done
dmesg | grep -i vivid
ls -l /dev/video* || true
[ -c /dev/video0 ] || fail "no /dev/video0 after loading vivid"
echo "VMTEST video0 name=\$(cat /sys/class/video4linux/video0/name)"

mkdir -p /run/catd
catd version
catd run --config /etc/catd.yaml --source '$SOURCE' --state-dir /state --runtime-dir /run/catd --stats-every 5s --log-json &
pid=\$!
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
echo "VMTEST result frames=\${frames:-0} status_checkpoint=\${ckpt:-none} checkpoints=\$n running_at_sigterm=\$alive exit=\$rc sigterm_at=\$t1 exited_at=\$t2 ran=\${el}s"
off
EOF
chmod 0755 "$ROOT/init"

# cpio newc, owned by root whoever runs this; gzip -1 is quick and small
# enough (catd is most of it).
(cd "$ROOT" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$VM_DIR/initramfs.gz"
log "initramfs $(du -h "$VM_DIR/initramfs.gz" | cut -f1) ready after $((SECONDS - start)) s"

# 5. Boot. panic=-1 and -no-reboot make a kernel panic end qemu at once;
# the timeout ends a VM that hangs. The console goes to the terminal and to
# console.log.
CONSOLE=$VM_DIR/console.log
log "booting qemu-system-aarch64 (TCG, $VM_SMP CPUs, $VM_MEM MiB; timeout $VM_TIMEOUT s)"
boot=$SECONDS
set +e
timeout --kill-after=10 "$VM_TIMEOUT" qemu-system-aarch64 \
	-M virt -cpu cortex-a72 -smp "$VM_SMP" -m "$VM_MEM" \
	-nographic -no-reboot -nic none \
	-kernel "$KDIR/vmlinuz" -initrd "$VM_DIR/initramfs.gz" \
	-append 'console=ttyAMA0 quiet panic=-1' \
	</dev/null 2>&1 | tr -d '\r' | tee "$CONSOLE"
qrc=${PIPESTATUS[0]}
set -e
vmsecs=$((SECONDS - boot))
case $qrc in
124 | 137) die "the VM did not power off within $VM_TIMEOUT s (console: $CONSOLE)" ;;
esac
[ "$qrc" -eq 0 ] || die "qemu-system-aarch64 exited with $qrc (console: $CONSOLE)"

# 6. The checks, on the console.
grep -E 'Kernel panic|Internal error: Oops|BUG: |Unable to handle kernel' "$CONSOLE" &&
	die "the kernel crashed (console: $CONSOLE)"
grep -E '^(panic: |fatal error: )|SIGSEGV' "$CONSOLE" && die "catd crashed (console: $CONSOLE)"
fl=$(grep -m1 '^VMTEST FAIL' "$CONSOLE" || true)
[ -z "$fl" ] || die "${fl#VMTEST FAIL: } (console: $CONSOLE)"
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

printf 'VMTEST OK: kernel %s, vivid YUYV 640x480, frames=%s, checkpoint %s (%s in /state/checkpoints), exit 0 %s s after SIGTERM; VM %d s, whole run %d s\n' \
	"$kver" "$frames" "$ck" "$nck" "$stop" "$vmsecs" "$((SECONDS - start))"
