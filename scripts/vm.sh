# shellcheck shell=bash disable=SC2034 # variables are set for the scripts that source this
# vm.sh: the "virtual Pi" machinery shared by vm-smoke.sh (make test-vm)
# and vm-v4l2.sh (make test-v4l2). Source it from bash; it defines
# functions and sets no options of its own.
#
# A test VM is Debian's own kernel for arm64 (qemu-system-aarch64, machine
# virt, Cortex-A72) or amd64 (qemu-system-x86_64), booted under TCG (no KVM
# needed) with an initramfs that holds static busybox, the kernel's virtual
# camera driver vivid and the modules it needs, a Go program built with
# CGO_ENABLED=0 for the guest, and an /init made of vm_init_prelude (mounts,
# vivid loaded, /dev/video0 checked) and the test's own lines.
#
# Everything comes from Debian's archive: qemu-system-arm or
# qemu-system-x86, cpio and kmod are installed on the host when missing;
# the kernel (what linux-image-<arch> depends on) and busybox-static are
# only downloaded (apt-get download; for arm64 after dpkg
# --add-architecture arm64) and unpacked into $VM_DIR, never installed.
# The downloads, vmlinuz and vivid's modules are cached there, so a
# second run only rebuilds the Go program and the initramfs and boots.
#
# Use:
#
#	. scripts/vm.sh
#	vm_setup arm64 vm-smoke   # or amd64; the name prefixes log lines
#	vm_kernel                 # sets KDIR, kver
#	vm_busybox                # sets BUSYBOX
#	vm_go_build ./cmd/catd catd
#	vm_rootfs                 # a fresh $ROOT with busybox, modules, the programs
#	{ vm_init_prelude; echo 'catd version'; echo off; } >"$ROOT/init"
#	vm_pack
#	vm_boot                   # console in $CONSOLE; dies on a hang or a kernel crash
#
# Environment:
#   VM_DIR        cache and work folder; each architecture has its own
#                 subfolder, $VM_DIR/arm64 and $VM_DIR/amd64 (default build/vm)
#   VM_TIMEOUT    seconds the VM may take in all before it is killed (default 600)
#   VM_SMP        virtual CPUs (default 2)
#   VM_MEM        memory in MiB (default 512)
#   VM_KERNEL_PKG an exact kernel package, e.g. linux-image-6.1.0-56-arm64,
#                 used for the architecture its name ends with (default:
#                 what linux-image-<arch> depends on)
#   GO            the go command (default go)

# vivid: one instance, a video capture node only (node_types bit 0), single
# planar (catd does not do multi-planar), one input of type webcam
# (input_types 0b00), which offers YUYV (its first format) and the other
# single-planar formats at discrete sizes (320x180 to 3840x2160, 640x480
# among them) and takes a frame rate (VIDIOC_S_PARM); no error injection
# controls.
VIVID_OPTS='n_devs=1 node_types=0x1 multiplanar=1 num_inputs=1 input_types=0x0 no_error_inj=1'

log() { printf '%s: %s\n' "$VM_NAME" "$*" >&2; }
die() {
	printf '%s: FAIL: %s\n' "$VM_NAME" "$*" >&2
	exit 1
}

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

# vm_cleanup removes the temporary folders of a run (VM_CLEANUP, and tmp
# while a .deb is being unpacked); vm_setup makes it the EXIT trap.
VM_CLEANUP=()
tmp=''
vm_cleanup() { rm -rf ${tmp:+"$tmp"} "${VM_CLEANUP[@]}"; }

# vm_setup ARCH NAME prepares a run for architecture ARCH (arm64 or amd64):
# the cache folder $VM_DIR/ARCH (locked for this run), the host tools, and
# the variables the other functions use. NAME prefixes log lines.
vm_setup() {
	VM_ARCH=$1 VM_NAME=$2 VM_START=$SECONDS
	VM_TIMEOUT=${VM_TIMEOUT:-600}
	VM_SMP=${VM_SMP:-2}
	VM_MEM=${VM_MEM:-512}
	GO=${GO:-go}
	case $VM_ARCH in
	arm64)
		QEMU=qemu-system-aarch64 QEMU_PKG=qemu-system-arm
		QEMU_MACHINE=(-M virt -cpu cortex-a72)
		VM_CONSOLE=ttyAMA0
		;;
	amd64)
		QEMU=qemu-system-x86_64 QEMU_PKG=qemu-system-x86
		QEMU_MACHINE=()
		VM_CONSOLE=ttyS0
		;;
	*) die "unknown architecture $VM_ARCH: want arm64 or amd64" ;;
	esac
	local root=${VM_DIR:-build/vm}
	mkdir -p "$root/$VM_ARCH"
	VM_DIR=$(cd "$root/$VM_ARCH" && pwd)
	# One run at a time per cache folder; leftovers of an interrupted run go.
	exec 9>"$VM_DIR/lock"
	flock -n 9 || die "another VM run is using $VM_DIR"
	rm -rf "$VM_DIR"/unpack.* "$VM_DIR"/*.new
	trap vm_cleanup EXIT

	# Host tools, from Debian: qemu-system-aarch64 (package qemu-system-arm)
	# or qemu-system-x86_64 (qemu-system-x86), cpio for the initramfs,
	# kmod's depmod/modprobe to resolve vivid's module dependencies.
	local need=()
	command -v "$QEMU" >/dev/null || need+=("$QEMU_PKG")
	command -v cpio >/dev/null || need+=(cpio)
	command -v depmod >/dev/null || [ -x /usr/sbin/depmod ] || [ -x /sbin/depmod ] || need+=(kmod)
	command -v dpkg-deb >/dev/null || die "dpkg-deb missing: this script needs a Debian-like host"
	if [ ${#need[@]} -gt 0 ]; then
		log "installing ${need[*]}"
		as_root apt-get update -q
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
	fi
	export PATH=$PATH:/usr/sbin:/sbin # depmod and modprobe, for non-root users
}

# vm_lists makes sure apt knows the packages of $VM_ARCH (adding it as a
# foreign architecture if it is not the host's, and updating the lists
# once).
vm_lists() {
	if [ "$(dpkg --print-architecture)" != "$VM_ARCH" ] &&
		! dpkg --print-foreign-architectures | grep -qx "$VM_ARCH"; then
		log "adding the $VM_ARCH architecture to dpkg (for apt-get download only)"
		as_root dpkg --add-architecture "$VM_ARCH"
	fi
	log "apt-get update (for the $VM_ARCH package lists)"
	as_root apt-get update -q
}

# vm_kernel_pkg prints the real package behind the linux-image-$VM_ARCH
# metapackage, e.g. linux-image-6.1.0-56-arm64 (from apt's local lists),
# or nothing when apt knows no such package.
vm_kernel_pkg() {
	{ apt-cache depends "linux-image-$VM_ARCH:$VM_ARCH" 2>/dev/null || true; } |
		sed -n "s/^ *Depends: \(linux-image-[0-9][^: ]*\)\(:$VM_ARCH\)\{0,1\}$/\1/p" | head -n1
}

# vm_fetch downloads package $1 ($VM_ARCH) into $VM_DIR/debs unless a .deb
# of it is there, and prints the .deb's path.
vm_fetch() {
	local pkg=$1 deb
	mkdir -p "$VM_DIR/debs"
	deb=$(find "$VM_DIR/debs" -maxdepth 1 -name "${pkg}_*_$VM_ARCH.deb" | sort | tail -n1)
	if [ -z "$deb" ]; then
		log "downloading $pkg:$VM_ARCH"
		local opt=()
		[ "$(id -u)" -ne 0 ] || opt=(-o APT::Sandbox::User=root) # no _apt sandbox warning
		(cd "$VM_DIR/debs" && apt-get download -q "${opt[@]}" "$pkg:$VM_ARCH" >&2) ||
			die "apt-get download $pkg:$VM_ARCH failed"
		deb=$(find "$VM_DIR/debs" -maxdepth 1 -name "${pkg}_*_$VM_ARCH.deb" | sort | tail -n1)
		[ -n "$deb" ] || die "apt-get download $pkg:$VM_ARCH left no .deb in $VM_DIR/debs"
	fi
	echo "$deb"
}

# vm_kernel makes sure the kernel is unpacked in KDIR ($VM_DIR/<package>:
# vmlinuz, modules/*.ko and modules.order, vivid and its dependencies in
# load order) and sets KDIR and kver.
vm_kernel() {
	local kpkg=''
	case ${VM_KERNEL_PKG:-} in
	*-"$VM_ARCH" | *-"$VM_ARCH"-unsigned) kpkg=$VM_KERNEL_PKG ;;
	esac
	[ -n "$kpkg" ] || kpkg=$(vm_kernel_pkg)
	if [ -z "$kpkg" ]; then
		# No lists for this architecture yet. A kernel unpacked by an
		# earlier run will do.
		kpkg=$(cat "$VM_DIR/kernel.pkg" 2>/dev/null || true)
		if [ -z "$kpkg" ] || [ ! -f "$VM_DIR/$kpkg/vmlinuz" ]; then
			vm_lists
			kpkg=$(vm_kernel_pkg)
			[ -n "$kpkg" ] || die "apt knows no linux-image-$VM_ARCH:$VM_ARCH: is deb.debian.org (main) in the sources?"
		fi
	fi
	KDIR=$VM_DIR/$kpkg

	# Unpack the .deb once, resolve vivid's dependencies with
	# depmod/modprobe, keep vmlinuz and those modules, drop the rest
	# (350 MB).
	if [ ! -f "$KDIR/modules.order" ]; then
		local deb
		deb=$(vm_fetch "$kpkg")
		tmp=$VM_DIR/unpack.$$
		rm -rf "$tmp"
		log "unpacking $(basename "$deb")"
		dpkg-deb -x "$deb" "$tmp"
		kver=$(ls "$tmp/lib/modules")
		[ "$(echo "$kver" | wc -l)" -eq 1 ] || die "$deb holds modules for several kernels: $kver"
		grep -q '^CONFIG_VIDEO_VIVID=[my]' "$tmp/boot/config-$kver" ||
			die "Debian's $VM_ARCH kernel $kver is built without vivid (CONFIG_VIDEO_VIVID)"
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
	log "kernel $kver ($kpkg), $(tr '\n' ' ' <"$KDIR/modules.order")"
}

# vm_busybox makes sure a static busybox for $VM_ARCH is in $VM_DIR and
# sets BUSYBOX.
vm_busybox() {
	BUSYBOX=$VM_DIR/busybox
	if [ ! -x "$BUSYBOX" ]; then
		local deb
		deb=$(vm_fetch busybox-static)
		tmp=$VM_DIR/unpack.$$
		rm -rf "$tmp"
		dpkg-deb -x "$deb" "$tmp"
		cp "$tmp/bin/busybox" "$BUSYBOX.new"
		rm -rf "$tmp"
		tmp=
		mv "$BUSYBOX.new" "$BUSYBOX"
	fi
}

# vm_go_build PACKAGE NAME builds a Go command for the guest into
# $VM_DIR/NAME, which vm_rootfs puts into the guest's /bin.
VM_PROGRAMS=()
vm_go_build() {
	log "building $2 for linux/$VM_ARCH"
	CGO_ENABLED=0 GOOS=linux GOARCH=$VM_ARCH "$GO" build -trimpath -o "$VM_DIR/$2" "$1"
	VM_PROGRAMS+=("$2")
}

# vm_rootfs makes the initramfs's root afresh in ROOT ($VM_DIR/root):
# busybox, the programs of vm_go_build in /bin, vivid's modules with
# modules.order in /lib/modules, and empty /dev, /proc, /sys, /run, /tmp
# and /etc. The caller adds /init and what else the test needs.
vm_rootfs() {
	ROOT=$VM_DIR/root
	rm -rf "$ROOT"
	mkdir -p "$ROOT"/{bin,dev,proc,sys,run,tmp,etc,lib/modules}
	cp "$BUSYBOX" "$ROOT/bin/busybox"
	local p
	for p in "${VM_PROGRAMS[@]}"; do
		cp "$VM_DIR/$p" "$ROOT/bin/$p"
	done
	cp "$KDIR"/modules/*.ko "$KDIR/modules.order" "$ROOT/lib/modules/"
}

# vm_init_prelude prints the start of /init, PID 1 in the VM: mounts,
# vivid loaded with VIVID_OPTS, /dev/video0 checked, and the shell
# functions off (power the VM off, so that qemu exits), fail (print
# "VMTEST FAIL: ..." and power off) and uptime_s (whole seconds since
# boot). It prints VMTEST lines the host checks. With the argument
# "vivid-later", vivid is not loaded (and /dev/video0 must not exist):
# the test calls load_vivid, which loads it and checks /dev/video0, when
# it plugs its camera in.
vm_init_prelude() {
	local later=
	[ "${1:-}" = vivid-later ] && later=1
	cat <<EOF
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

load_vivid() {
	insmod /lib/modules/vivid.ko $VIVID_OPTS || fail "insmod vivid.ko $VIVID_OPTS"
	dmesg | grep -i vivid
	ls -l /dev/video* || true
	[ -c /dev/video0 ] || fail "no /dev/video0 after loading vivid"
	echo "VMTEST video0 name=\$(cat /sys/class/video4linux/video0/name)"
}
for m in \$(cat /lib/modules/modules.order); do
	[ "\$m" = vivid.ko ] && continue
	insmod /lib/modules/\$m || fail "insmod \$m"
done
EOF
	if [ -z "$later" ]; then
		echo load_vivid
	else
		echo '[ -e /dev/video0 ] && fail "/dev/video0 exists before vivid is loaded"'
	fi
}

# vm_pack packs ROOT into $VM_DIR/initramfs.gz: cpio newc, owned by root
# whoever runs this; gzip -1 is quick and small enough (the Go programs are
# most of it).
vm_pack() {
	chmod 0755 "$ROOT/init"
	(cd "$ROOT" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$VM_DIR/initramfs.gz"
	log "initramfs $(du -h "$VM_DIR/initramfs.gz" | cut -f1) ready after $((SECONDS - VM_START)) s"
}

# vm_boot boots the VM and waits for it to power off. panic=-1 and
# -no-reboot make a kernel panic end qemu at once; the timeout ends a VM
# that hangs. The console goes to the terminal and to CONSOLE
# ($VM_DIR/console.log); VM_SECS is how long the VM ran. It dies if qemu
# was killed or failed, or the kernel crashed.
vm_boot() {
	CONSOLE=$VM_DIR/console.log
	log "booting $QEMU (TCG, $VM_SMP CPUs, $VM_MEM MiB; timeout $VM_TIMEOUT s)"
	local boot=$SECONDS qrc
	set +e
	timeout --kill-after=10 "$VM_TIMEOUT" "$QEMU" \
		"${QEMU_MACHINE[@]}" -smp "$VM_SMP" -m "$VM_MEM" \
		-nographic -no-reboot -nic none \
		-kernel "$KDIR/vmlinuz" -initrd "$VM_DIR/initramfs.gz" \
		-append "console=$VM_CONSOLE quiet panic=-1" \
		</dev/null 2>&1 | tr -d '\r' | tee "$CONSOLE"
	qrc=${PIPESTATUS[0]}
	set -e
	VM_SECS=$((SECONDS - boot))
	case $qrc in
	124 | 137) die "the VM did not power off within $VM_TIMEOUT s (console: $CONSOLE)" ;;
	esac
	[ "$qrc" -eq 0 ] || die "$QEMU exited with $qrc (console: $CONSOLE)"
	grep -E 'Kernel panic|Internal error: Oops|BUG: |Unable to handle kernel|general protection fault' "$CONSOLE" &&
		die "the kernel crashed (console: $CONSOLE)"
	local fl
	fl=$(grep -m1 '^VMTEST FAIL' "$CONSOLE" || true)
	[ -z "$fl" ] || die "${fl#VMTEST FAIL: } (console: $CONSOLE)"
}
