# Helpers of laggkit_test.sh (sourced), after tests/sys/common/vnet.subr: every interface and
# jail made is listed in ./created, newest last, and lk_cleanup removes them newest first.

lk_load()
{
	kldstat -q -n if_laggkit && return 0
	for ko in "${LAGGKIT_KO:-}" "$(atf_get_srcdir)/if_laggkit.ko" if_laggkit; do
		[ -n "$ko" ] || continue
		kldload "$ko" 2>/dev/null && return 0
	done
	return 1
}

lk_init()
{
	lk_load || atf_skip "if_laggkit.ko cannot be loaded (set LAGGKIT_KO)"
	for m in if_epair if_vlan if_bridge; do
		kldload -n $m 2>/dev/null
	done
	touch created
}

lk_list() { echo "$1" >> created; }

lk_unlist()
{
	grep -v -x -F "$1" created > created.new; mv created.new created
}

# A new epair; prints its base name (epairN): the ends are epairNa and epairNb.
lk_epair()
{
	local e
	e=$(ifconfig epair create) || atf_fail "epair create"
	e=${e%a}
	lk_list ${e}a
	ifconfig ${e}a up
	echo $e
}

lk_clone()
{
	local i
	i=$(ifconfig $1 create) || atf_fail "$1 create"
	lk_list $i
	echo $i
}

lk_laggkit() { lk_clone laggkit; }

# A clone inside jail $1 (it goes when the jail goes).
lk_clone_jail() { jexec $1 ifconfig $2 create; }

lk_jail()
{
	jail -c name=$1 vnet persist || atf_fail "jail $1"
	lk_list jail:$1
}

# lk_pair_jail JAIL N PROTO: laggkitN (LK_L, unit LK_U) at 192.0.2.2/24 with N epair
# members (LK_E1, LK_E2) whose far ends are in vnet jail JAIL at 192.0.2.1 (bridged when N>1).
lk_pair_jail()
{
	local j=$1 n=$2 proto=$3 i e br
	lk_jail $j
	LK_L=$(lk_laggkit)
	LK_U=${LK_L#laggkit}
	[ $n -gt 1 ] && br=$(jexec $j ifconfig bridge create)
	for i in $(seq 1 $n); do
		e=$(lk_epair)
		eval LK_E$i=$e
		ifconfig ${e}b vnet $j
		jexec $j ifconfig ${e}b up
		[ -n "$br" ] && jexec $j ifconfig $br addm ${e}b
		atf_check ifconfig $LK_L laggport ${e}a
	done
	if [ -n "$br" ]; then
		jexec $j ifconfig $br 192.0.2.1/24 up
	else
		jexec $j ifconfig ${LK_E1}b 192.0.2.1/24
	fi
	atf_check ifconfig $LK_L laggproto $proto 192.0.2.2/24 up
	lk_wait 10 "ping -c 1 -t 1 192.0.2.1 >/dev/null"
}

lk_mac() { ifconfig $1 | awk '/ether/ { print $2; exit }'; }

# lk_wait SECONDS COMMAND: until COMMAND succeeds, or fail the case.
lk_wait()
{
	local n=$(($1 * 5))
	while [ $n -gt 0 ]; do
		eval "$2" && return 0
		sleep 0.2
		n=$((n - 1))
	done
	atf_fail "not within $1 s: $2"
}

lk_cleanup()
{
	[ -f created ] || return 0
	tail -r created | while read -r i; do
		case $i in
		jail:*) jail -r ${i#jail:} 2>/dev/null ;;
		*) ifconfig $i destroy 2>/dev/null ;;
		esac
	done
	rm -f created
}
