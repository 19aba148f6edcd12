#!/bin/sh
# Test step (scripts/test-all.mjs, suite kmod): if_laggkit.ko must build with FreeBSD's own
# compiler (clang 19 for FreeBSD 15) and bsd.kmod.mk's flags, -Werror included. Needs a
# FreeBSD source tree: $LAGGKIT_FREEBSD_SYSROOT, else ~/.cache/laggkit/freebsd/src; a built
# kernel's object directory is used too when $LAGGKIT_FREEBSD_KERNBUILD (else
# ~/.cache/laggkit/freebsd/kernbuild) exists. Without a tree, or without clang-19, the step
# says why and counts itself skipped. The closing line is "N passed, N failed, N skipped".
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${HOME:-/root}/.cache/laggkit/freebsd
sysroot=${LAGGKIT_FREEBSD_SYSROOT:-$cache/src}
kernbuild=${LAGGKIT_FREEBSD_KERNBUILD:-$cache/kernbuild}
cc=${LAGGKIT_FREEBSD_CC:-clang-19}

skip() {
	echo "skipped: $*"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
}
[ -d "$sysroot/sys/conf" ] && [ -f "$sysroot/share/mk/sys.mk" ] ||
	skip "no FreeBSD source tree at $sysroot (set LAGGKIT_FREEBSD_SYSROOT)"
command -v "$cc" >/dev/null 2>&1 || skip "$cc not installed (scripts/setup.sh installs it)"

set -- --sysroot "$sysroot" --cc "$cc"
[ -f "$kernbuild/opt_global.h" ] && set -- "$@" --kernbuild "$kernbuild"
out=$(mktemp -d "${TMPDIR:-/tmp}/laggkit-kmod.XXXXXX")
trap 'rm -rf "$out"' EXIT INT TERM
if ! sh "$here/cross-build.sh" "$@" --out "$out" --build-id check; then
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
fi
# With a built kernel at hand: every symbol the module needs must be defined by it, or
# kldload would refuse the module ("link_elf: symbol ... undefined").
kernel=$kernbuild/kernel.full
[ -f "$kernel" ] || kernel=$kernbuild/kernel
nm=llvm-nm${cc#clang}
if [ -f "$kernel" ] && command -v "$nm" >/dev/null 2>&1; then
	"$nm" -u "$out/if_laggkit.ko" | awk '{ print $2 }' | sort -u > "$out/needed"
	"$nm" --defined-only "$kernel" | awk '{ print $3 }' | sort -u > "$out/defined"
	missing=$(comm -23 "$out/needed" "$out/defined")
	if [ -n "$missing" ]; then
		echo "symbols if_laggkit.ko needs that $kernel does not define:" $missing
		echo "0 passed, 1 failed, 0 skipped"
		exit 1
	fi
	echo "all $(wc -l < "$out/needed") symbols the module needs are in $kernel"
fi
echo "1 passed, 0 failed, 0 skipped"
