#!/bin/sh
# A stand-in for atf-sh(1), for FreeBSD guests built WITHOUT_TESTS: they have neither
# /usr/libexec/atf-sh nor kyua. It runs an ATF shell test program with the subset of the
# atf-sh library that laggkit_test.sh uses, with atf-sh's semantics:
#
#   atf-sh-standin.sh PROGRAM -l                       list the cases (ident, descr, ...)
#   atf-sh-standin.sh PROGRAM -r RESULT -s SRCDIR CASE[:body|:cleanup]
#
# RESULT receives "passed", "failed: REASON" or "skipped: REASON", as atf-sh writes it.
# atf_check follows atf-check(1): -s exit:N|not-exit:N|signal|ignore (default exit:0),
# -o/-e empty|ignore|match:RE|not-match:RE|inline:TEXT|save:FILE (default empty; several
# -o/-e allowed), then the command. On a host with ATF, run the program itself (kyua test).
# no set -u: atf-sh runs programs without it, and laggkit_test.sh reads unset names

_lk_prog= _lk_result=/dev/stdout _lk_srcdir=. _lk_list=false
_lk_prog=${1:?usage: atf-sh-standin.sh PROGRAM -l | -r RESULT -s SRCDIR CASE}
shift
while getopts lr:s: _lk_opt; do
	case $_lk_opt in
	l) _lk_list=true ;;
	r) _lk_result=$OPTARG ;;
	s) _lk_srcdir=$OPTARG ;;
	*) echo "atf-sh-standin: bad option" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))

_lk_cases=
atf_test_case() { eval "${1}_head() { :; }; ${1}_cleanup() { :; }"; }
atf_add_test_case() { _lk_cases="$_lk_cases $1"; }
atf_get_srcdir() { echo "$_lk_srcdir"; }

# Properties set by a case's head: printed by -l, require.user checked before the body.
atf_set()
{
	if $_lk_list; then
		echo "$1: $2"
	elif [ "$1" = require.user ] && [ "$2" = root ] && [ "$(id -u)" != 0 ]; then
		atf_skip "requires root"
	fi
}

_lk_finish() { echo "$1" > "$_lk_result"; exit "$2"; }
atf_pass() { _lk_finish passed 0; }
atf_fail() { _lk_finish "failed: $*" 1; }
atf_skip() { _lk_finish "skipped: $*" 0; }

# _lk_check_output NAME FILE SPEC: one -o/-e expectation; prints why it does not hold.
_lk_check_output()
{
	case $3 in
	ignore) ;;
	empty) [ ! -s "$2" ] || echo "$1 not empty" ;;
	match:*) grep -Eq -e "${3#match:}" "$2" || echo "$1 does not match '${3#match:}'" ;;
	not-match:*) ! grep -Eq -e "${3#not-match:}" "$2" || echo "$1 matches '${3#not-match:}'" ;;
	inline:*) printf '%b' "${3#inline:}" | cmp -s - "$2" || echo "$1 is not '${3#inline:}'" ;;
	save:*) cp "$2" "${3#save:}" ;;
	*) echo "unknown $1 check '$3'" ;;
	esac
}

atf_check()
{
	local status=exit:0 outs= errs= opt rc why spec tmp
	OPTIND=1
	while getopts s:o:e:x opt; do
		case $opt in
		s) status=$OPTARG ;;
		o) outs="$outs
$OPTARG" ;;
		e) errs="$errs
$OPTARG" ;;
		x) ;;
		*) atf_fail "atf_check: bad option" ;;
		esac
	done
	shift $((OPTIND - 1))
	OPTIND=1
	[ -n "$outs" ] || outs=empty
	[ -n "$errs" ] || errs=empty
	tmp=$(mktemp -d /tmp/atf-check.XXXXXX)
	"$@" > "$tmp/out" 2> "$tmp/err"
	rc=$?
	why=
	case $status in
	ignore) ;;
	exit:*) [ $rc -eq "${status#exit:}" ] || why="exit status $rc, expected ${status#exit:}" ;;
	not-exit:*) [ $rc -ne "${status#not-exit:}" ] || why="exit status $rc, expected another" ;;
	signal*) [ $rc -gt 128 ] || why="exit status $rc, expected a signal" ;;
	*) why="unknown status check '$status'" ;;
	esac
	while read -r spec; do
		[ -n "$spec" ] && [ -z "$why" ] && why=$(_lk_check_output stdout "$tmp/out" "$spec")
	done <<EOF
$outs
EOF
	while read -r spec; do
		[ -n "$spec" ] && [ -z "$why" ] && why=$(_lk_check_output stderr "$tmp/err" "$spec")
	done <<EOF
$errs
EOF
	if [ -n "$why" ]; then
		{ echo "atf_check failed: $*: $why"; echo "--- stdout"; cat "$tmp/out"
		  echo "--- stderr"; cat "$tmp/err"; } >&2
		rm -rf "$tmp"
		atf_fail "$*: $why"
	fi
	rm -rf "$tmp"
}

. "$_lk_prog"
atf_init_test_cases

if $_lk_list; then
	echo 'Content-Type: application/X-atf-tp; version="1"'
	for _lk_case in $_lk_cases; do
		echo
		echo "ident: $_lk_case"
		${_lk_case}_head
		grep -q "^${_lk_case}_cleanup()" "$_lk_prog" && echo "has.cleanup: true"
	done
	exit 0
fi

_lk_case=${1:?no test case given}
case $_lk_case in
*:cleanup) _lk_case=${_lk_case%:cleanup}; _lk_part=cleanup ;;
*) _lk_case=${_lk_case%:body}; _lk_part=body ;;
esac
case " $_lk_cases " in
*" $_lk_case "*) ;;
*) echo "atf-sh-standin: no test case '$_lk_case'" >&2; exit 2 ;;
esac
if [ $_lk_part = cleanup ]; then
	${_lk_case}_cleanup
	exit 0
fi
${_lk_case}_head
${_lk_case}_body
atf_pass
