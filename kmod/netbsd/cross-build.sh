#!/bin/sh
# Build laggkit.kmod for NetBSD 10/amd64 on Linux (or any host with clang and ld.lld) with
# the flags NetBSD's own module build uses: sys/conf/Makefile.kern.inc's C dialect and warning
# set for amd64, bsd.kmodule.mk's -D_KERNEL -D_MODULE -DSYSCTL_INCLUDE_DESCR -ffreestanding
# -nostdinc and bsd.klinks.mk's include links, the kernel code model, -Werror; the objects are
# joined into one relocatable object, as bsd.kmodule.mk's `${LD} -r` does, which is what
# modload(8) loads. The tree's headers are searched with -I where bsd.kmodule.mk uses
# -isystem, so a warning inside a kernel header fails the build here too: stricter, never
# laxer, than the module build on NetBSD.
#
#   kmod/netbsd/cross-build.sh --sysroot DIR --out DIR [--build-id ID] [--cc clang-19]
#
#   --sysroot   a NetBSD source tree at the netbsd-10 branch (needs sys/, with
#               sys/arch/amd64/include and sys/arch/x86/include, and common/include for
#               <prop/proplib.h>)
#   --out       where laggkit.kmod is written
#   --build-id  LAGGKIT_BUILD_ID (sysctl net.laggkit.build_id): letters, digits, . _ -
#   --cc        the compiler (default clang-19); ld.lld of the same version suffix links
#   --objects   compile only, no link
#
# Exit status 0 when DIR/laggkit.kmod (or the objects) were written; otherwise the compiler's
# first errors are printed and the status is non-zero. On NetBSD itself, run plain `make`.
set -eu

usage() {
	sed -n 's|^#   \(kmod/netbsd/cross-build\.sh .*\)|\1|p' "$0" >&2
	exit 2
}

sysroot= out= build_id=unknown cc=clang-19 link=yes
while [ $# -gt 0 ]; do
	case $1 in
	--sysroot) sysroot=${2:?}; shift 2 ;;
	--out) out=${2:?}; shift 2 ;;
	--build-id) build_id=${2:?}; shift 2 ;;
	--cc) cc=${2:?}; shift 2 ;;
	--objects) link=no; shift ;;
	-h|--help) usage ;;
	*) echo "cross-build: unknown argument '$1'" >&2; usage ;;
	esac
done
[ -n "$sysroot" ] && [ -n "$out" ] || usage

die() { echo "cross-build: $*" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
sysroot=$(cd "$sysroot" 2>/dev/null && pwd) || die "no such directory: --sysroot"
S=$sysroot/sys
for f in sys/param.h net/if.h net/lagg/if_lagg.h arch/amd64/include/types.h \
    arch/x86/include/cpu.h ../common/include/prop/proplib.h; do
	[ -f "$S/$f" ] || die "$sysroot is not a NetBSD source tree (no sys/$f)"
done
case $build_id in
*[!A-Za-z0-9._-]*) die "--build-id may hold only letters, digits, '.', '_' and '-': $build_id" ;;
esac
ver=${cc##*/clang}
ver=${ver#clang}
ld=ld.lld$ver
command -v "$cc" >/dev/null 2>&1 || die "$cc is not installed (scripts/setup.sh installs it)"
[ $link = no ] || command -v "$ld" >/dev/null 2>&1 || die "$ld is not installed"
mkdir -p "$out"
out=$(cd "$out" && pwd)

# What the module build provides before compiling: bsd.klinks.mk's include links for amd64,
# machine/ and amd64/ (both the port's headers: machine/pcb.h includes <amd64/reg.h>), x86/
# and i386/.
inc=$(mktemp -d "${TMPDIR:-/tmp}/laggkit-netbsd-inc.XXXXXX")
trap 'rm -rf "$inc"' EXIT INT TERM
ln -s "$S/arch/amd64/include" "$inc/machine"
ln -s "$S/arch/amd64/include" "$inc/amd64"
ln -s "$S/arch/x86/include" "$inc/x86"
ln -s "$S/arch/i386/include" "$inc/i386"

set -- --target=x86_64-unknown-netbsd10.0 -ffreestanding -fno-common -nostdinc \
	-std=gnu99 -O2 -D_KERNEL -D_MODULE -DSYSCTL_INCLUDE_DESCR \
	-mcmodel=kernel -mno-red-zone -mno-mmx -mno-sse -mno-avx -msoft-float \
	-fno-omit-frame-pointer -fno-strict-aliasing \
	-Werror -Wall -Wno-main -Wno-format-zero-length -Wpointer-arith \
	-Wmissing-prototypes -Wstrict-prototypes -Wold-style-definition -Wswitch -Wshadow \
	-Wcast-qual -Wwrite-strings -Wno-unreachable-code -Wno-pointer-sign -Wno-attributes \
	-Wextra -Wno-unused-parameter -Wno-sign-compare \
	-I"$inc" -I"$sysroot/common/include" -I"$S/arch" -I"$S" -I"$here" -I"$here/../core" \
	-DLK_HOST_TYPES_H='"laggkit_host_types.h"' -DLAGGKIT_BUILD_ID="\"$build_id\""

srcs="$here/if_laggkit.c $here/laggkit_lrq.c"
for c in $(sed -n 's/^CORE_SRCS=//p; s/^\t//p' "$here/../core/sources.mk" | tr -d '\\'); do
	srcs="$srcs $here/../core/$c"
done
objs=
for src in $srcs; do
	obj=$out/$(basename "$src" .c).o
	if ! "$cc" "$@" -c "$src" -o "$obj" 2>"$out/errors"; then
		echo "cross-build: $(basename "$src") does not compile against $S:" >&2
		head -n 30 "$out/errors" >&2
		exit 1
	fi
	objs="$objs $obj"
done
rm -f "$out/errors"
[ $link = yes ] || exit 0
# shellcheck disable=SC2086
"$ld" -r -o "$out/laggkit.kmod" $objs || die "$ld -r failed"
