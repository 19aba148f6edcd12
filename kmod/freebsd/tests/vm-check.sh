#!/bin/sh
# Test step (scripts/test-all.mjs, suite kmod): the ATF suite in a FreeBSD guest under QEMU.
# Needs a bootable FreeBSD raw image named by $LAGGKIT_FREEBSD_IMAGE (given explicitly: an image
# lying in a cache folder may be half-written or another kernel's), and a FreeBSD tree to build
# the module from (cross-build-check.sh's). Without them it says why and counts as skipped.
# $LAGGKIT_FREEBSD_KERNEL (e.g. kernel.debug) boots another kernel of the image; build the module
# for it with $LAGGKIT_FREEBSD_KERNBUILD, that kernel's object directory (its opt_global.h turns
# on the module's lock assertions and KASSERTs under INVARIANTS, as a module built with the
# kernel gets them).
set -u
here=$(cd "$(dirname "$0")" && pwd)
cache=${HOME:-/root}/.cache/laggkit/freebsd
image=${LAGGKIT_FREEBSD_IMAGE:-}
sysroot=${LAGGKIT_FREEBSD_SYSROOT:-$cache/src}
kernbuild=${LAGGKIT_FREEBSD_KERNBUILD:-}

skip() {
	echo "skipped: $*"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
}
[ -n "$image" ] || skip "no FreeBSD image (set LAGGKIT_FREEBSD_IMAGE, e.g. to $cache/FreeBSD-15-amd64-BASIC-CI.raw)"
[ -f "$image" ] || skip "no FreeBSD image at $image (LAGGKIT_FREEBSD_IMAGE)"
[ -d "$sysroot/sys/conf" ] || skip "no FreeBSD source tree at $sysroot to build the module"
for t in qemu-system-x86_64 xorriso python3 clang-19; do
	command -v $t >/dev/null 2>&1 || skip "$t not installed (scripts/setup.sh)"
done
out=$(mktemp -d "${TMPDIR:-/tmp}/laggkit-vm.XXXXXX")
trap 'rm -rf "$out"' EXIT INT TERM
[ -z "$kernbuild" ] || [ -f "$kernbuild/opt_global.h" ] ||
	{ echo "LAGGKIT_FREEBSD_KERNBUILD=$kernbuild has no opt_global.h"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
sh "$here/../cross-build.sh" --sysroot "$sysroot" ${kernbuild:+--kernbuild "$kernbuild"} \
	--out "$out" --build-id vmcheck ||
	{ echo "0 passed, 1 failed, 0 skipped"; exit 1; }
exec python3 "$here/vm-run.py" --image "$image" --ko "$out/if_laggkit.ko" \
	${LAGGKIT_FREEBSD_KERNEL:+--kernel "$LAGGKIT_FREEBSD_KERNEL"} --log "${TMPDIR:-/tmp}/laggkit-vm-console.log"
