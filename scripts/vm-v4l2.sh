#!/usr/bin/env bash
# vm-v4l2.sh: catd's v4l2: source against a real kernel driver (make
# test-v4l2).
#
#   scripts/vm-v4l2.sh [arm64] [amd64]     (default: both, one after the other)
#
# For each architecture, a VM made by scripts/vm.sh (Debian's kernel,
# busybox and the virtual camera driver vivid, booted in
# qemu-system-aarch64 or qemu-system-x86_64 under TCG) runs one program,
# camera/internal/v4l2/vividcheck, cross-compiled with CGO_ENABLED=0. It
# opens /dev/video0 through catd's camera.Open("v4l2:/dev/video0?...") in
# YUYV, I420, NV12, RGB24 and GREY at 640x480, and at two sizes vivid
# adjusts (641x479 and 330x190), reads 30 frames of each and checks the
# negotiated size, stride and frame length, sequence numbers and times,
# and the picture: vivid's 75% colour bars, converted to RGB by catd's
# preprocessing, bar by bar and row by row. It prints a V4L2CHECK line per
# case and "V4L2CHECK OK" at the end.
#
# Environment (and those of scripts/vm.sh: VM_DIR, VM_TIMEOUT, VM_SMP,
# VM_MEM, VM_KERNEL_PKG, GO):
#   V4L2_FRAMES   frames captured per case (default 30)
#
# It exits 0 when every check passed on every architecture, and otherwise
# names what failed. Each VM's console is kept in build/vm/<arch>/console.log.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -ne 1 ]; then
	# Several architectures (or the default, both): one run each.
	[ $# -gt 0 ] || set -- arm64 amd64
	start=$SECONDS rc=0 summary=()
	for arch in "$@"; do
		t=$SECONDS
		if "$0" "$arch"; then
			summary+=("$arch ok ($((SECONDS - t)) s)")
		else
			rc=1
			summary+=("$arch FAILED ($((SECONDS - t)) s)")
		fi
	done
	printf 'vm-v4l2: ' >&2
	printf '%s; ' "${summary[@]}" >&2
	printf '%d s in all\n' "$((SECONDS - start))" >&2
	exit $rc
fi

. scripts/vm.sh

V4L2_FRAMES=${V4L2_FRAMES:-30}
vm_setup "$1" "vm-v4l2 $1"
vm_kernel
vm_busybox
vm_go_build ./camera/internal/v4l2/vividcheck vividcheck
vm_rootfs
{
	vm_init_prelude
	cat <<EOF

vividcheck --device /dev/video0 --frames $V4L2_FRAMES
echo "VMTEST vividcheck exit=\$?"
off
EOF
} >"$ROOT/init"
vm_pack
vm_boot

# The checks, on the console.
grep -E '^(panic: |fatal error: )|SIGSEGV' "$CONSOLE" && die "vividcheck crashed (console: $CONSOLE)"
fails=$(grep '^V4L2CHECK FAIL' "$CONSOLE" || true)
[ -z "$fails" ] || die "$(printf '%s\n' "$fails" | sed 's/^V4L2CHECK FAIL //' | paste -sd';' -) (console: $CONSOLE)"
rc=$(sed -n 's/^VMTEST vividcheck exit=//p' "$CONSOLE")
[ -n "$rc" ] || die "vividcheck did not finish (console: $CONSOLE)"
[ "$rc" = 0 ] || die "vividcheck exited with $rc (console: $CONSOLE)"
grep -q '^V4L2CHECK OK$' "$CONSOLE" || die "no V4L2CHECK OK line (console: $CONSOLE)"
formats=$(sed -n 's/^V4L2CHECK format=\([a-z0-9]*\) .* bars=ok .*/\1/p' "$CONSOLE" | sort -u | paste -sd, -)
ncases=$(grep -c '^V4L2CHECK format=.* bars=ok' "$CONSOLE")
case ",$formats," in
*,yuyv,*) ;;
*) die "no YUYV case passed (console: $CONSOLE)" ;;
esac
[ "$(echo "$formats" | tr ',' '\n' | wc -l)" -ge 2 ] || die "only $formats checked: want YUYV and at least one other format"

printf 'vm-v4l2 %s: OK: kernel %s, vivid through catd'\''s v4l2: source, %d cases (%s) x %s frames, colour bars right; VM %d s, whole run %d s\n' \
	"$VM_ARCH" "$kver" "$ncases" "$formats" "$V4L2_FRAMES" "$VM_SECS" "$((SECONDS - VM_START))"
