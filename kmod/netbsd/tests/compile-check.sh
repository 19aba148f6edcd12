#!/bin/sh
# Test step (scripts/test-all.mjs, suite netbsd): laggkit.kmod's sources must compile
# warning-free with NetBSD 10's kernel flags against a NetBSD source tree (netbsd-10 branch):
# $LAGGKIT_NETBSD_SYSROOT, else ~/.cache/laggkit/netbsd/src, holding at least sys/ (the
# kernel headers, sys/arch/amd64/include and sys/arch/x86/include included). The flags are
# those of sys/conf/Makefile.kern.inc and bsd.kmodule.mk for amd64: -ffreestanding -nostdinc
# -D_KERNEL -D_MODULE -std=gnu99, the kernel's warning set, -Werror. Without a tree, or
# without the compiler, the step says why and counts itself skipped. Objects only: linking a
# .kmod needs NetBSD's own toolchain (build.sh tools), which a NetBSD host has.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
sysroot=${LAGGKIT_NETBSD_SYSROOT:-${HOME:-/root}/.cache/laggkit/netbsd/src}
cc=${LAGGKIT_NETBSD_CC:-clang-19}

skip() {
	echo "skipped: $*"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
}
S=$sysroot/sys
for f in sys/param.h net/if.h net/lagg/if_lagg.h arch/amd64/include/types.h \
    arch/x86/include/cpu.h; do
	[ -f "$S/$f" ] || skip "no NetBSD source tree at $sysroot (missing sys/$f; set LAGGKIT_NETBSD_SYSROOT)"
done
command -v "$cc" >/dev/null 2>&1 || skip "$cc not installed (scripts/setup.sh installs it)"

out=$(mktemp -d "${TMPDIR:-/tmp}/laggkit-netbsd.XXXXXX")
trap 'rm -rf "$out"' EXIT INT TERM
# what config(8) and the kernel build provide: machine/ and x86/ links, an empty opt file set
ln -s "$S/arch/amd64/include" "$out/machine"
ln -s "$S/arch/x86/include" "$out/x86"

set -- --target=x86_64-unknown-netbsd10.0 -ffreestanding -fno-common -nostdinc \
	-std=gnu99 -O2 -D_KERNEL -D_MODULE \
	-mcmodel=kernel -mno-red-zone -mno-mmx -mno-sse -mno-avx -msoft-float \
	-fno-omit-frame-pointer -fno-strict-aliasing \
	-Werror -Wall -Wno-main -Wno-format-zero-length -Wpointer-arith \
	-Wmissing-prototypes -Wstrict-prototypes -Wold-style-definition -Wswitch -Wshadow \
	-Wcast-qual -Wwrite-strings -Wno-unreachable-code -Wno-pointer-sign -Wno-attributes \
	-Wextra -Wno-unused-parameter -Wno-sign-compare \
	-I"$out" -I"$S/arch" -I"$S" -isystem "$S" \
	-I"$here" -I"$here/../core" -DLK_HOST_TYPES_H='"laggkit_host_types.h"'

srcs="if_laggkit.c laggkit_lrq.c"
for c in $(sed -n 's/^CORE_SRCS=//p; s/^\t//p' "$here/../core/sources.mk" | tr -d '\\'); do
	srcs="$srcs ../core/$c"
done
failed=0
for src in $srcs; do
	if ! "$cc" "$@" -c "$here/$src" -o "$out/$(basename "$src" .c).o" 2>"$out/err"; then
		echo "$src: does not compile against $S"
		head -n 30 "$out/err"
		failed=1
	fi
done
[ $failed -eq 0 ] || { echo "0 passed, 1 failed, 0 skipped"; exit 1; }
echo "compiled $(echo $srcs | wc -w) files against $S with $cc"
echo "1 passed, 0 failed, 0 skipped"
