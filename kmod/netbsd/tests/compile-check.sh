#!/bin/sh
# Test step (scripts/test-all.mjs, suite netbsd): laggkit.kmod must compile warning-free with
# NetBSD 10's kernel flags (cross-build.sh: Makefile.kern.inc's warning set for amd64,
# -ffreestanding -nostdinc -D_KERNEL -D_MODULE, -Werror) against a NetBSD source tree at the
# netbsd-10 branch: $LAGGKIT_NETBSD_SYSROOT, else ~/.cache/laggkit/netbsd/src, holding at
# least sys/ and common/include. Without a tree, or without clang-19, the step says why and
# counts itself skipped. The closing line is "N passed, N failed, N skipped".
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
sysroot=${LAGGKIT_NETBSD_SYSROOT:-${HOME:-/root}/.cache/laggkit/netbsd/src}
cc=${LAGGKIT_NETBSD_CC:-clang-19}

skip() {
	echo "skipped: $*"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
}
# A partial tree (a few headers gathered by hand) is no tree: say which file is missing.
for f in sys/sys/param.h sys/net/lagg/if_lagg.h common/include/prop/proplib.h; do
	[ -f "$sysroot/$f" ] ||
		skip "no NetBSD source tree at $sysroot: no $f (set LAGGKIT_NETBSD_SYSROOT to a netbsd-10 checkout with sys/ and common/include/)"
done
command -v "$cc" >/dev/null 2>&1 || skip "$cc not installed (scripts/setup.sh installs it)"

out=$(mktemp -d "${TMPDIR:-/tmp}/laggkit-netbsd.XXXXXX")
trap 'rm -rf "$out"' EXIT INT TERM
if ! sh "$here/cross-build.sh" --sysroot "$sysroot" --out "$out" --cc "$cc" --build-id check; then
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
fi
echo "laggkit.kmod built against $sysroot/sys with $cc: $(wc -c < "$out/laggkit.kmod") bytes"
echo "1 passed, 0 failed, 0 skipped"
