#!/usr/libexec/atf-sh
#
# if_laggkit in a running FreeBSD kernel, in the shape of FreeBSD's tests/sys/net/
# if_lagg_test.sh: epair(4) members, a vnet jail as the far end, stock ifconfig driving
# laggkitN. Run as root with `kyua test` in this directory (Kyuafile), with if_laggkit.ko
# loaded or at $LAGGKIT_KO (default: ./if_laggkit.ko, then /boot/modules).
#
# Every interface and jail a case makes is listed in ./created and removed by its cleanup,
# so a failed case leaves the next one a clean machine.

. "$(atf_get_srcdir)/laggkit_subr.sh"

atf_test_case create cleanup
create_head()
{
	atf_set descr "Create an aggregate, add members and an address"
	atf_set require.user root
}
create_body()
{
	lk_init
	a=$(lk_epair); b=$(lk_epair)
	l=$(lk_laggkit)
	atf_check ifconfig $l up laggport ${a}a laggport ${b}a 192.0.2.2/24
	atf_check -o match:"inet 192.0.2.2" ifconfig $l
	atf_check -o match:"laggport: ${a}a" -o match:"laggport: ${b}a" ifconfig $l
	mac=$(lk_mac $l)
	atf_check -o match:"ether $mac" ifconfig ${a}a
	atf_check -o match:"ether $mac" ifconfig ${b}a
	# a member keeps no IPv6 link-local address (scope zones must not merge)
	atf_check -o not-match:"inet6 fe80:" ifconfig ${a}a
	atf_check -o match:"^[0-9a-zA-Z._-]+$" sysctl -n net.link.laggkit.build_id
	atf_check -o match:"^[0-9]+$" sysctl -n net.link.laggkit.version
}
create_cleanup() { lk_cleanup; }

atf_test_case protocols cleanup
protocols_head()
{
	atf_set descr "Every protocol: ifconfig shows it and the members' flags"
	atf_set require.user root
}
protocols_body()
{
	lk_init
	a=$(lk_epair); b=$(lk_epair)
	ifconfig ${a}b up; ifconfig ${b}b up
	l=$(lk_laggkit)
	atf_check ifconfig $l up laggport ${a}a laggport ${b}a
	lk_wait 5 "ifconfig $l | grep -q 'status: active'"
	atf_check -o match:"laggproto failover" ifconfig $l
	atf_check -o match:"laggport: ${a}a flags=5<MASTER,ACTIVE>" \
	    -o match:"laggport: ${b}a flags=0<>" ifconfig $l
	for p in loadbalance roundrobin broadcast; do
		atf_check ifconfig $l laggproto $p
		atf_check -o match:"laggproto $p" ifconfig $l
		atf_check -o match:"laggport: ${a}a flags=5<MASTER,ACTIVE>" \
		    -o match:"laggport: ${b}a flags=4<ACTIVE>" ifconfig $l
	done
	atf_check ifconfig $l laggproto lacp
	# no partner: LACP must not distribute (strict mode)
	atf_check -o match:"laggproto lacp" -o not-match:"DISTRIBUTING" ifconfig $l
	atf_check ifconfig $l laggproto none
	atf_check -o match:"laggproto none" ifconfig $l
	atf_check -s not-exit:0 -e ignore ifconfig $l laggproto nosuch
}
protocols_cleanup() { lk_cleanup; }

atf_test_case destroy_traffic cleanup
destroy_traffic_head()
{
	atf_set descr "Destroy an aggregate while it carries traffic"
	atf_set require.user root
}
destroy_traffic_body()
{
	lk_init
	lk_pair_jail j 2 loadbalance
	ping -f -q -c 100000 192.0.2.1 >/dev/null 2>&1 &
	pid=$!
	sleep 1
	atf_check ifconfig $LK_L destroy
	kill $pid 2>/dev/null; wait $pid 2>/dev/null
	lk_unlist $LK_L
	atf_check -o not-match:PROMISC ifconfig ${LK_E1}a
}
destroy_traffic_cleanup() { lk_cleanup; }

atf_test_case linkstate_stress cleanup
linkstate_stress_head()
{
	atf_set descr "Members' links flap while status is read and traffic flows"
	atf_set require.user root
}
linkstate_stress_body()
{
	lk_init
	lk_pair_jail j 2 failover
	ping -i 0.01 -q -c 2000 192.0.2.1 >/dev/null 2>&1 &
	pid=$!
	# epair(4) keeps an end's link up when the far end goes down: take the member itself
	# down and up, as if_lagg_test.sh's status_stress does
	for i in $(seq 1 50); do
		ifconfig ${LK_E1}a down
		ifconfig $LK_L >/dev/null
		ifconfig ${LK_E1}a up
		sysctl -n net.link.laggkit.$LK_U.ports >/dev/null
	done
	kill $pid 2>/dev/null; wait $pid 2>/dev/null
	lk_wait 10 "ping -c 1 -t 1 192.0.2.1 >/dev/null"
	atf_check -o match:"^[1-9][0-9]*$" sysctl -n net.link.laggkit.$LK_U.flapping
}
linkstate_stress_cleanup() { lk_cleanup; }

atf_test_case set_ether cleanup
set_ether_head()
{
	atf_set descr "ifconfig ether on the aggregate reprograms every member"
	atf_set require.user root
}
set_ether_body()
{
	lk_init
	a=$(lk_epair); b=$(lk_epair)
	l=$(lk_laggkit)
	atf_check ifconfig $l up laggport ${a}a laggport ${b}a
	atf_check ifconfig $l ether 02:00:5e:10:00:01
	atf_check -o match:"ether 02:00:5e:10:00:01" ifconfig $l
	atf_check -o match:"ether 02:00:5e:10:00:01" ifconfig ${a}a
	atf_check -o match:"ether 02:00:5e:10:00:01" ifconfig ${b}a
}
set_ether_cleanup() { lk_cleanup; }

atf_test_case offloads cleanup
offloads_head()
{
	atf_set descr "The aggregate offers the members' common offloads and sets theirs"
	atf_set require.user root
}
offloads_body()
{
	lk_init
	a=$(lk_epair); b=$(lk_epair)
	l=$(lk_laggkit)
	atf_check ifconfig $l up laggport ${a}a laggport ${b}a
	if ifconfig -m ${a}a | grep -q "capabilities=.*TXCSUM"; then
		atf_check -o match:"options=.*TXCSUM" ifconfig $l
		atf_check ifconfig $l -txcsum
		atf_check -o not-match:"options=.*[^6]TXCSUM[^_]" ifconfig ${a}a
		atf_check -o not-match:"options=.*[^6]TXCSUM[^_]" ifconfig $l
	fi
}
offloads_cleanup() { lk_cleanup; }

atf_test_case updown cleanup
updown_head()
{
	atf_set descr "Members follow the aggregate down and up, and get their flags back"
	atf_set require.user root
}
updown_body()
{
	lk_init
	a=$(lk_epair); b=$(lk_epair)
	ifconfig ${a}a down
	l=$(lk_laggkit)
	atf_check ifconfig $l up laggport ${a}a laggport ${b}a
	atf_check -o match:"flags=[0-9a-f]*<UP," ifconfig ${a}a
	atf_check ifconfig $l down
	atf_check -o not-match:"flags=[0-9a-f]*<UP," ifconfig ${a}a
	atf_check ifconfig $l up
	atf_check -o match:"flags=[0-9a-f]*<UP," ifconfig ${a}a
	atf_check ifconfig $l promisc
	atf_check -o match:"PROMISC" ifconfig $l
	atf_check -o match:"PROMISC" ifconfig ${a}a
	# leaving: down as before it joined, not promiscuous, not all-multicast
	atf_check ifconfig $l -laggport ${a}a
	atf_check -o not-match:"flags=[0-9a-f]*<UP," -o not-match:"PROMISC" ifconfig ${a}a
}
updown_cleanup() { lk_cleanup; }

atf_test_case member_restore cleanup
member_restore_head()
{
	atf_set descr "A member leaves with its own MAC and MTU"
	atf_set require.user root
}
member_restore_body()
{
	lk_init
	a=$(lk_epair); b=$(lk_epair)
	mac=$(lk_mac ${b}a)
	ifconfig ${b}a mtu 1400
	l=$(lk_laggkit)
	atf_check ifconfig $l up laggport ${a}a laggport ${b}a
	# the second member is brought to the aggregate's MTU (the first member's)
	atf_check -o match:"mtu 1500" ifconfig ${b}a
	atf_check ifconfig $l -laggport ${b}a
	atf_check -o match:"ether $mac" -o match:"mtu 1400" ifconfig ${b}a
}
member_restore_cleanup() { lk_cleanup; }

atf_test_case vnet_move cleanup
vnet_move_head()
{
	atf_set descr "A member moved to another VNET leaves, restored, not promiscuous"
	atf_set require.user root
}
vnet_move_body()
{
	lk_init
	a=$(lk_epair); b=$(lk_epair)
	mac=$(lk_mac ${b}a)
	l=$(lk_laggkit)
	atf_check ifconfig $l up promisc laggport ${a}a laggport ${b}a
	lk_jail m
	atf_check -o ignore ifconfig ${b}a vnet m
	atf_check -o not-match:"laggport: ${b}a" ifconfig $l
	atf_check -o match:"ether $mac" -o not-match:"PROMISC" -o not-match:"ALLMULTI" \
	    jexec m ifconfig ${b}a
	atf_check -o ignore ifconfig ${b}a -vnet m
}
vnet_move_cleanup() { lk_cleanup; }

atf_test_case vlan cleanup
vlan_head()
{
	atf_set descr "vlan(4) over laggkit works; every vlan that can loop back is refused"
	atf_set require.user root
}
vlan_body()
{
	lk_init
	lk_pair_jail j 1 failover
	v=$(lk_clone vlan); vj=$(lk_clone_jail j vlan)
	atf_check ifconfig $v vlan 12 vlandev $LK_L 198.51.100.2/24 up
	atf_check jexec j ifconfig $vj vlan 12 vlandev ${LK_E1}b 198.51.100.1/24 up
	lk_wait 10 "ping -c 1 -t 1 198.51.100.1 >/dev/null"
	# the vlan on the aggregate cannot become its member
	atf_check -s not-exit:0 -e ignore ifconfig $LK_L laggport $v
	# a vlan without parent cannot either: it could be given laggkit as trunk later
	w=$(lk_clone vlan)
	atf_check -s not-exit:0 -e ignore ifconfig $LK_L laggport $w
	# a member vlan moved to another trunk stays a member, its frames still ours
	e=$(lk_epair); f=$(lk_epair)
	atf_check ifconfig $w vlan 13 vlandev ${e}a up
	atf_check ifconfig $LK_L laggproto broadcast laggport $w
	atf_check ifconfig $w -vlandev
	atf_check ifconfig $w vlan 13 vlandev ${f}a
	atf_check -o match:"laggport: $w" ifconfig $LK_L
	ifconfig ${f}b up
	vf=$(lk_clone vlan)
	atf_check ifconfig $vf vlan 13 vlandev ${f}b 203.0.113.9/24 up
	tcpdump -l -n -i $LK_L -c 1 src host 203.0.113.9 > tcpdump.out 2>/dev/null &
	pid=$!
	sleep 2
	ping -c 3 -t 3 203.0.113.255 >/dev/null 2>&1
	lk_wait 5 "grep -q 203.0.113.9 tcpdump.out"
	kill $pid 2>/dev/null; wait $pid 2>/dev/null
	# re-parented onto the aggregate: dropped, and nothing loops
	atf_check ifconfig $w -vlandev
	atf_check ifconfig $w vlan 13 vlandev $LK_L
	lk_wait 5 "! ifconfig $LK_L | grep -q 'laggport: $w'"
	ping -c 3 -t 3 192.0.2.255 >/dev/null 2>&1
	atf_check -o match:"laggkit" kldstat -n if_laggkit
	# vlan(4) rewrote the vlan's input, nobody holds laggkit's: nothing keeps the module
	atf_check ifconfig $LK_L destroy
	lk_unlist $LK_L
	atf_check kldunload if_laggkit
	lk_load || atf_fail "reload"
}
vlan_cleanup() { lk_cleanup; }

atf_test_case in_use cleanup
in_use_head()
{
	atf_set descr "A NIC belongs to one aggregator at a time"
	atf_set require.user root
}
in_use_body()
{
	lk_init
	a=$(lk_epair); b=$(lk_epair)
	l=$(lk_laggkit); m=$(lk_laggkit)
	atf_check ifconfig $l laggport ${a}a
	atf_check -s not-exit:0 -e ignore ifconfig $m laggport ${a}a
	atf_check -s not-exit:0 -e ignore ifconfig $l laggport $m
	if kldload -n if_lagg 2>/dev/null; then
		g=$(lk_clone lagg)
		atf_check ifconfig $g laggport ${b}a
		atf_check -s not-exit:0 -e ignore ifconfig $l laggport ${b}a
		# lagg(4) cannot see a laggkit member (README): laggkit lets go on the next frame
		d=$(lk_epair)
		atf_check ifconfig $l laggport ${d}a
		atf_check ifconfig $g laggport ${d}a
		ifconfig ${d}b 198.51.100.1/24 up
		ping -c 2 -t 2 198.51.100.2 >/dev/null 2>&1
		lk_wait 5 "! ifconfig $l | grep -q 'laggport: ${d}a'"
		atf_check -o match:"laggport: ${d}a" ifconfig $g
	fi
	if kldload -n if_bridge 2>/dev/null; then
		br=$(lk_clone bridge)
		c=$(lk_epair)
		atf_check ifconfig $br addm ${c}a
		atf_check -s not-exit:0 -e ignore ifconfig $l laggport ${c}a
		# the other way round cannot be refused: laggkit lets go on the next frame
		atf_check ifconfig $br addm ${a}a
		ifconfig ${a}b 203.0.113.1/24 up
		ping -c 2 -t 2 203.0.113.2 >/dev/null 2>&1
		lk_wait 5 "! ifconfig $l | grep -q 'laggport: ${a}a'"
	fi
}
in_use_cleanup() { lk_cleanup; }

atf_test_case failover_announce cleanup
failover_announce_head()
{
	atf_set descr "A failover sends gratuitous ARP for the aggregate's address"
	atf_set require.user root
}
failover_announce_body()
{
	lk_init
	lk_pair_jail j 2 failover
	atf_check -o match:"-> 2$" sysctl net.link.laggkit.$LK_U.announce_count=2
	# gratuitous: sender and target are both the aggregate's address
	jexec j tcpdump -l -n -i ${LK_E2}b -c 1 arp and src host 192.0.2.2 and dst host 192.0.2.2 \
	    > tcpdump.out 2>/dev/null &
	pid=$!
	sleep 2
	# the primary goes down (epair(4) has no carrier loss to give): the aggregate fails over
	# to the second member
	ifconfig ${LK_E1}a down
	lk_wait 10 "grep -q 192.0.2.2 tcpdump.out"
	kill $pid 2>/dev/null; wait $pid 2>/dev/null
	atf_check -o match:"failover" sysctl -n net.link.laggkit.$LK_U.events
	atf_check -o match:"announce" sysctl -n net.link.laggkit.$LK_U.events
}
failover_announce_cleanup() { lk_cleanup; }

atf_test_case lacp_waits_for_up cleanup
lacp_waits_for_up_head()
{
	atf_set descr "An aggregate that is not up sends no LACPDU; brought up, it agrees with its partner"
	atf_set require.user root
}
lacp_waits_for_up_body()
{
	lk_init
	# Both aggregates in vnet jails: on the host, devd starts dhclient on a new laggkitN when
	# rc.conf has ifconfig_DEFAULT=DHCP (as FreeBSD's BASIC-CI images do), and dhclient
	# brings it up.
	lk_jail h; lk_jail j
	a=$(lk_epair); b=$(lk_epair)
	ifconfig ${a}a vnet h; ifconfig ${b}a vnet h
	ifconfig ${a}b vnet j; ifconfig ${b}b vnet j
	# h's first: the laggkit of the same unit made later in j gets sysctl node UNIT_n
	l=$(lk_clone_jail h laggkit)
	atf_check jexec h ifconfig $l laggproto lacp laggport ${a}a laggport ${b}a
	p=$(lk_clone_jail j laggkit)
	atf_check jexec j ifconfig $p laggproto lacp laggport ${a}b laggport ${b}b up
	sleep 2
	# Not running, its members hear nothing: a LACPDU would draw an answer nobody hears.
	atf_check -o match:"pdus_tx=0 " -o not-match:"pdus_tx=[1-9]" sysctl -n net.link.laggkit.${l#laggkit}.ports
	atf_check -o not-match:"DISTRIBUTING" jexec h ifconfig $l
	atf_check jexec h ifconfig $l up
	lk_wait 10 "[ \$(jexec h ifconfig $l | grep -c DISTRIBUTING) -eq 2 ]"
	atf_check -o match:"pdus_rx=[1-9]" sysctl -n net.link.laggkit.${l#laggkit}.ports
}
lacp_waits_for_up_cleanup() { lk_cleanup; }

atf_test_case create_failure cleanup
create_failure_head()
{
	atf_set descr "A create that fails late leaves no timer or memory behind"
	atf_set require.user root
}
create_failure_body()
{
	lk_init
	old=$(sysctl -n net.link.laggkit.default_proto)
	atf_check -o match:"-> lacp$" sysctl net.link.laggkit.default_proto=lacp
	atf_check -o match:"-> 3$" sysctl net.link.laggkit.inject_create_failure=3
	for i in 1 2 3; do
		atf_check -s not-exit:0 -e ignore ifconfig laggkit create
	done
	atf_check -o ignore sysctl net.link.laggkit.default_proto="$old"
	atf_check -o inline:"0\n" sysctl -n net.link.laggkit.inject_create_failure
	sleep 3		# LACP's timer would have fired by now on the freed softcs
	l=$(lk_laggkit)
	atf_check -o match:"$l" ifconfig $l
}
create_failure_cleanup()
{
	sysctl -q net.link.laggkit.inject_create_failure=0
	sysctl -q net.link.laggkit.default_proto=
	lk_cleanup
}

atf_test_case unload_with_ports cleanup
unload_with_ports_head()
{
	atf_set descr "Unload is refused while an aggregate exists; destroy then unload"
	atf_set require.user root
}
unload_with_ports_body()
{
	lk_init
	lk_pair_jail j 2 failover
	atf_check -s not-exit:0 -e ignore kldunload if_laggkit
	atf_check ifconfig $LK_L destroy
	lk_unlist $LK_L
	atf_check kldunload if_laggkit
	# the members work on their own again
	atf_check ifconfig ${LK_E1}a 192.0.2.2/24 up
	lk_wait 10 "ping -c 1 -t 1 192.0.2.1 >/dev/null"
	lk_load
}
unload_with_ports_cleanup() { lk_cleanup; lk_load; }

atf_test_case netmap_input cleanup
netmap_input_head()
{
	atf_set descr "netmap takes a member's input over: leaving and unloading stay safe"
	atf_set require.user root
}
netmap_input_body()
{
	lk_init
	command -v valectl >/dev/null || atf_skip "valectl not installed"
	lk_pair_jail j 1 failover
	atf_check valectl -a vale0:${LK_E1}a
	atf_check ifconfig $LK_L -laggport ${LK_E1}a
	atf_check ifconfig $LK_L destroy
	lk_unlist $LK_L
	# netmap still holds laggkit's input function: unload must be refused
	atf_check -s not-exit:0 -e ignore kldunload if_laggkit
	atf_check valectl -d vale0:${LK_E1}a
	# our function is back on the NIC: the first frame puts the NIC's own input back
	ifconfig ${LK_E1}a 192.0.2.2/24 up
	lk_wait 10 "ping -c 1 -t 1 192.0.2.1 >/dev/null"
	atf_check kldunload if_laggkit
	atf_check -o ignore ping -c 3 192.0.2.1
	lk_load
}
netmap_input_cleanup() { valectl -d vale0:${LK_E1:-none}a 2>/dev/null; lk_cleanup; lk_load; }

atf_init_test_cases()
{
	atf_add_test_case create
	atf_add_test_case protocols
	atf_add_test_case destroy_traffic
	atf_add_test_case linkstate_stress
	atf_add_test_case set_ether
	atf_add_test_case offloads
	atf_add_test_case updown
	atf_add_test_case member_restore
	atf_add_test_case vnet_move
	atf_add_test_case vlan
	atf_add_test_case in_use
	atf_add_test_case failover_announce
	atf_add_test_case lacp_waits_for_up
	atf_add_test_case create_failure
	atf_add_test_case unload_with_ports
	atf_add_test_case netmap_input
}
