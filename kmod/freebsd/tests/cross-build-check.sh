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
if sh "$here/cross-build.sh" "$@" --out "$out" --build-id check; then
	echo "1 passed, 0 failed, 0 skipped"
else
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
fi
