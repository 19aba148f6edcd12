#!/bin/sh
# Build if_laggkit.ko on Linux (or any host with clang, ld.lld and bmake) the way FreeBSD
# builds it: this directory's Makefile through the tree's own share/mk and sys/conf/kmod.mk,
# so CFLAGS, the warning set and -Werror are exactly bsd.kmod.mk's. The compiler must be
# the one the target ships (FreeBSD 15: clang 19); an older clang misses errors such as
# -Wenum-compare on the CTASSERTs.
#
#   kmod/freebsd/cross-build.sh --sysroot DIR [--kernbuild DIR] --out DIR \
#       [--build-id ID] [--cc clang-19]
#
#   --sysroot    a FreeBSD source tree (needs sys/ and share/mk)
#   --kernbuild  a built kernel's object directory: its opt_*.h are used as they are;
#                without it the opt_*.h a GENERIC kernel has are written from the tree's
#                sys/<arch>/conf/DEFAULTS and GENERIC and sys/conf/options*
#   --out        where if_laggkit.ko is written
#   --build-id   LAGGKIT_BUILD_ID (net.link.laggkit.build_id), letters, digits, . _ -
#   --cc         the compiler (default clang-19); ld.lld, llvm-objcopy and llvm-nm of the
#                same version suffix are used with it
#
# Exit status 0 when DIR/if_laggkit.ko was written; otherwise the compiler's first errors are
# printed and the status is non-zero. On FreeBSD itself, run plain `make` here instead.
set -eu

usage() {
	sed -n '8,9p' "$0" | sed 's/^#   //' >&2
	exit 2
}

sysroot= kernbuild= out= build_id= cc=clang-19
while [ $# -gt 0 ]; do
	case $1 in
	--sysroot) sysroot=${2:?}; shift 2 ;;
	--kernbuild) kernbuild=${2:?}; shift 2 ;;
	--out) out=${2:?}; shift 2 ;;
	--build-id) build_id=${2:?}; shift 2 ;;
	--cc) cc=${2:?}; shift 2 ;;
	-h|--help) usage ;;
	*) echo "cross-build: unknown argument '$1'" >&2; usage ;;
	esac
done
[ -n "$sysroot" ] && [ -n "$out" ] || usage

die() { echo "cross-build: $*" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
sysroot=$(cd "$sysroot" 2>/dev/null && pwd) || die "no such directory: --sysroot"
[ -d "$sysroot/sys/conf" ] && [ -f "$sysroot/share/mk/sys.mk" ] ||
	die "$sysroot is not a FreeBSD source tree (needs sys/conf and share/mk/sys.mk)"
if [ -n "$kernbuild" ]; then
	kernbuild=$(cd "$kernbuild" 2>/dev/null && pwd) || die "no such directory: --kernbuild"
	[ -f "$kernbuild/opt_global.h" ] || die "$kernbuild has no opt_global.h (not a kernel build directory)"
fi
case $build_id in
*[!A-Za-z0-9._-]*) die "--build-id may hold only letters, digits, '.', '_' and '-': $build_id" ;;
esac

# The LLVM tools that go with the compiler: clang-19 -> ld.lld-19, llvm-objcopy-19, ...
ver=${cc##*/clang}
ver=${ver#clang}
for t in "$cc" "ld.lld$ver" "llvm-objcopy$ver" "llvm-nm$ver" bmake original-awk; do
	command -v "$t" >/dev/null 2>&1 ||
		die "$t not found (Debian: apt-get install clang-19 lld-19 llvm-19 bmake original-awk)"
done

# FreeBSD version of the tree, for the target triple (15.x -> x86_64-unknown-freebsd15.0).
osrel=$(sed -n 's/^#define[[:space:]]*__FreeBSD_version[[:space:]]*\([0-9]*\).*/\1/p' \
	"$sysroot/sys/sys/param.h")
[ -n "$osrel" ] || die "no __FreeBSD_version in $sysroot/sys/sys/param.h"
major=$((osrel / 100000))
arch=amd64
if [ -d "$sysroot/sys/arch/$arch" ]; then archdir=$sysroot/sys/arch/$arch; else archdir=$sysroot/sys/$arch; fi

work=$(mktemp -d "${TMPDIR:-/tmp}/laggkit-xbuild.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
mkdir -p "$work/obj"

# Without a kernel build directory, write the option headers config(8) would write for
# GENERIC: every `options` of DEFAULTS and GENERIC (minus `nooptions`), each into the header
# sys/conf/options{,.<arch>} assigns it (no header named: opt_<name>.h), and DEV_<NAME> for
# every `device` those files list (device netmap -> DEV_NETMAP in opt_global.h), the `cpu`
# and MAXUSERS (0 unless `maxusers` says otherwise), as config(8) writes them.
if [ -z "$kernbuild" ]; then
	kernbuild=$work/kernbuild
	mkdir -p "$kernbuild"
	awk -v dir="$kernbuild" '
	FNR == 1 { file++ }
	/^[[:space:]]*(#|$)/ { next }
	file <= 2 {		# sys/conf/options, options.<arch>: NAME [header] [# ...]
		sub(/#.*/, "")
		if (NF == 0) next
		name = $1; sub(/=.*/, "", name)
		hdr[name] = (NF >= 2 && $2 ~ /^opt_.*\.h$/) ? $2 : "opt_" tolower(name) ".h"
		if (!(hdr[name] in seen)) { seen[hdr[name]] = 1; headers[++nh] = hdr[name] }
		next
	}
	{			# DEFAULTS, GENERIC: options A, B=2 / nooptions A
		sub(/#.*/, "")
		if ($1 == "cpu") { on[$2] = 1; value[$2] = 1; next }
		if ($1 == "maxusers") { on["MAXUSERS"] = 1; value["MAXUSERS"] = $2; next }
		if ($1 == "device" || $1 == "nodevice") {
			for (i = 2; i <= NF; i++) {
				name = "DEV_" toupper($i)
				if (!(name in hdr)) continue
				if ($1 == "nodevice") delete on[name]; else { on[name] = 1; value[name] = 1 }
			}
			next
		}
		if ($1 != "options" && $1 != "nooptions") next
		line = $0; sub(/^[[:space:]]*(no)?options[[:space:]]+/, "", line)
		n = split(line, opts, /[[:space:]]*,[[:space:]]*/)
		for (i = 1; i <= n; i++) {
			o = opts[i]; gsub(/[[:space:]]/, "", o)
			if (o == "") continue
			name = o; val = "1"
			if (index(o, "=")) { name = substr(o, 1, index(o, "=") - 1); val = substr(o, index(o, "=") + 1) }
			if ($1 == "nooptions") delete on[name]; else { on[name] = 1; value[name] = val }
		}
	}
	END {
		if (!("MAXUSERS" in on)) { on["MAXUSERS"] = 1; value["MAXUSERS"] = 0 }
		for (i = 1; i <= nh; i++) printf "" > (dir "/" headers[i])
		printf "" > (dir "/opt_global.h")
		for (name in on) {
			h = (name in hdr) ? hdr[name] : "opt_global.h"
			printf "#define %s %s\n", name, value[name] >> (dir "/" h)
		}
	}' "$sysroot/sys/conf/options" "$sysroot/sys/conf/options.$arch" \
		"$archdir/conf/DEFAULTS" "$archdir/conf/GENERIC"
fi

# bsd.kmod.mk as on FreeBSD, with the host's LLVM under FreeBSD's names. CTF tools and
# kernel-only helpers are FreeBSD programs: no CTF section (the module loads without one).
# kmod_syms.awk runs ${NM} through the shell (so NM must be in the environment; a missing nm
# makes getline loop forever), and GNU xargs has -I where BSD xargs has -J. The awk must be
# FreeBSD's (the one true awk): mawk parses `"cmd " f | getline` as `"cmd " (f | getline)`
# and spins on the failed command.
# MAKEOBJDIR is read from the environment only: objects never land in the source tree.
export NM="llvm-nm$ver" MAKEOBJDIR="$work/obj"
set -- -m "$sysroot/share/mk" -C "$here" \
	SYSDIR="$sysroot/sys" KERNBUILDDIR="$kernbuild" \
	MACHINE="$arch" MACHINE_ARCH="$arch" MACHINE_CPUARCH="$arch" \
	CC="$cc -target x86_64-unknown-freebsd$major.0" \
	LD="ld.lld$ver" OBJCOPY="llvm-objcopy$ver" NM="llvm-nm$ver" \
	COMPILER_TYPE=clang LINKER_TYPE=lld \
	AWK=original-awk XARGS=xargs XARGS_J=-I \
	WITHOUT_CTF=yes MK_CTF=no \
	-DNO_XREF
[ -z "$build_id" ] || set -- "$@" LAGGKIT_BUILD_ID="$build_id"

if ! MAKEFLAGS= bmake "$@" all >"$work/build.log" 2>&1; then
	echo "cross-build: if_laggkit.ko did not build ($cc, $sysroot, osreldate $osrel)" >&2
	# the compiler's first errors, then make's own complaint if there was no compiler error
	if grep -q -E 'error:|Error|\*\*\*' "$work/build.log"; then
		grep -E -A3 'error:' "$work/build.log" | head -40 >&2 || true
		grep -E '^(make|bmake)|\*\*\*' "$work/build.log" | head -10 >&2 || true
	else
		tail -30 "$work/build.log" >&2
	fi
	exit 1
fi
mkdir -p "$out"
cp "$work/obj/if_laggkit.ko" "$out/if_laggkit.ko"
echo "cross-build: $out/if_laggkit.ko ($cc, osreldate $osrel${build_id:+, build id $build_id})"
