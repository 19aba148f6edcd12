/*
 * Port configuration: MAC and MTU programming and restoration (no duplicate MAC after a
 * member leaves), refusal of bad arguments with nothing half-applied, options, and the txmap
 * allocation-failure path (old table kept, retried from lk_tick).
 */
#include "harness.h"

#include <stdio.h>
#include <string.h>

#define GBPS 1000000000ull
static const uint8_t mac_a[6] = { 0x02, 0, 0, 0, 0xa0, 0x10 };
static const uint8_t mac_b[6] = { 0x02, 0, 0, 0, 0xb0, 0x10 };
/* a locally administered unicast MAC the tests give an aggregate with `ether` */
static const uint8_t user[6] = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee };

static int
mac_eq(const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, 6) == 0;
}

static int
mac_is_unset(const uint8_t *a)
{
	static const uint8_t zero[6];

	return memcmp(a, zero, 6) == 0;
}

static void
own_mac(const struct th_host *h, uint32_t idx, uint8_t out[6])
{
	memcpy(out, h->mac, 6);
	out[5] = (uint8_t)(h->mac[5] + 1 + idx);
}

static void
test_mac_follows_first_port(void)
{
	struct th_host *a = th_host_new("lagg0", mac_a);
	uint8_t m0[6], m1[6], m2[6], zero[6] = { 0 };
	struct lk_status st;

	own_mac(a, 0, m0);
	own_mac(a, 1, m1);
	own_mac(a, 2, m2);
	th_port_add(a, "em0", GBPS, 1);
	th_port_add(a, "em1", GBPS, 1);
	th_port_add(a, "em2", GBPS, 1);
	TH_CHECK(mac_eq(a->lagg_mac, m0));
	TH_CHECK(mac_eq(a->port_mac[1], m0));
	TH_CHECK(mac_eq(a->port_mac[2], m0));
	lk_get_status(a->sc, &st);
	TH_CHECK(mac_eq(st.lladdr, m0));

	/* a non-owner leaves: it gets its own MAC back, the aggregate keeps em0's */
	TH_EQ(lk_port_remove(a->sc, 1), 0);
	TH_CHECK(mac_eq(a->port_mac[1], m1));
	TH_CHECK(mac_eq(a->lagg_mac, m0));

	/* the owner leaves: the aggregate moves to the oldest member's MAC (em2); no duplicate */
	TH_EQ(lk_port_remove(a->sc, 0), 0);
	TH_CHECK(mac_eq(a->port_mac[0], m0));
	TH_CHECK(mac_eq(a->lagg_mac, m2));
	TH_CHECK(!mac_eq(a->lagg_mac, a->port_mac[0]));
	TH_CHECK(mac_eq(a->port_mac[2], m2));

	TH_EQ(lk_port_remove(a->sc, 2), 0);
	TH_CHECK(mac_eq(a->lagg_mac, zero));
	TH_EQ(lk_port_remove(a->sc, 2), LK_ENOENT);
}

static const char *const em[4] = { "em0", "em1", "em2", "em3" };

/* A loadbalance aggregate over em0-em3. */
static struct th_host *
lb4(const char *name)
{
	struct th_host *a = th_host_new(name, mac_a);

	TH_EQ(lk_set_proto(a->sc, LK_PROTO_LOADBALANCE), 0);
	for (uint32_t i = 0; i < 4; i++)
		th_port_add(a, em[i], GBPS, 1);
	return a;
}

/* The port set loadbalance picks for each of `n` UDP flows, into owner[]. */
static void
flow_owners(struct th_host *a, uint32_t n, uint32_t *owner)
{
	uint8_t buf[64];
	struct lk_frame f = { 0 };

	for (uint32_t i = 0; i < n; i++) {
		memset(buf, 0, sizeof(buf));
		memcpy(buf, "\x02\x00\x00\x00\xbb\x01\x02\x00\x00\x00\xaa\x01\x08\x00", 14);
		buf[14] = 0x45;
		buf[23] = 17; /* UDP */
		buf[26] = 10, buf[29] = 1, buf[30] = 10, buf[33] = 2;
		buf[34] = (uint8_t)(i >> 8), buf[35] = (uint8_t)i; /* source port: the flow */
		buf[37] = 53;
		f.data = buf;
		f.caplen = f.len = sizeof(buf);
		owner[i] = lk_output(a->sc, 0, &f);
	}
}

/*
 * `ether` and the heir of a leaving port's MAC keep the flow hash's seed: a flow stays on its
 * port unless that port leaves (the seed is the first MAC's, as the LACP System ID is).
 */
static void
test_mac_change_keeps_flows(void)
{
	struct th_host *a = lb4("lagg0"), *b;
	uint32_t before[512], after[512];

	flow_owners(a, 512, before);
	TH_EQ(lk_set_lladdr(a->sc, user), 0);
	flow_owners(a, 512, after);
	TH_CHECK(memcmp(before, after, sizeof(before)) == 0);
	/* the port whose MAC the aggregate took leaves: only its own flows move */
	b = lb4("lagg1");
	flow_owners(b, 512, before);
	TH_EQ(lk_port_remove(b->sc, 0), 0);
	flow_owners(b, 512, after);
	for (uint32_t i = 0; i < 512; i++)
		if (before[i] != 1u) /* not port 0's */
			TH_EQ(after[i], before[i]);
}

static void
test_user_mac(void)
{
	struct th_host *a = th_host_new("lagg0", mac_a);
	const uint8_t mcast[6] = { 0x01, 0, 0x5e, 0, 0, 1 };
	uint8_t m0[6];

	own_mac(a, 0, m0);
	th_port_add(a, "em0", GBPS, 1);
	th_port_add(a, "em1", GBPS, 1);
	TH_EQ(lk_set_lladdr(a->sc, mcast), LK_EINVAL);
	TH_EQ(lk_set_lladdr(a->sc, user), 0);
	TH_CHECK(mac_eq(a->lagg_mac, user));
	TH_CHECK(mac_eq(a->port_mac[0], user));
	TH_CHECK(mac_eq(a->port_mac[1], user));
	TH_EQ(lk_port_remove(a->sc, 0), 0);
	TH_CHECK(mac_eq(a->port_mac[0], m0)); /* restored */
	TH_CHECK(mac_eq(a->lagg_mac, user));  /* the user's choice stays */
}

/* A host failure while programming MACs leaves every port as it was. */
static void
test_mac_failure_rolls_back(void)
{
	struct th_host *a = th_host_new("lagg0", mac_a);
	uint8_t m0[6];
	uint32_t port;
	struct lk_port_info info = { .name = "em9", .mtu = 1500 };
	struct lk_status st;

	own_mac(a, 0, m0);
	th_port_add(a, "em0", GBPS, 1);
	th_port_add(a, "em1", GBPS, 1);
	th_port_add(a, "em2", GBPS, 1);
	a->fail_set_lladdr = 1;
	a->fail_skip = 2; /* em0 and em1 succeed, em2 fails */
	TH_CHECK(lk_set_lladdr(a->sc, user) < 0);
	for (int i = 0; i < 3; i++)
		TH_CHECK(mac_eq(a->port_mac[i], m0));
	TH_CHECK(mac_eq(a->lagg_mac, m0));

	/* a port whose MAC cannot be programmed is not added */
	a->fail_set_lladdr = 1;
	a->fail_skip = 0;
	memcpy(info.lladdr, user, 6);
	TH_CHECK(lk_port_add(a->sc, &info, &port) < 0);
	lk_get_status(a->sc, &st);
	TH_EQ(st.nports, 3);
	TH_EQ(lk_port_lookup(a->sc, "em9", &port), LK_ENOENT);
}

static void
test_mtu(void)
{
	struct th_host *a = th_host_new("lagg0", mac_a);
	struct lk_status st;

	th_port_add(a, "em0", GBPS, 1);
	th_port_add(a, "em1", GBPS, 1);
	TH_EQ(lk_set_mtu(a->sc, 9000), 0);
	TH_EQ(a->port_mtu[0], 9000);
	TH_EQ(a->port_mtu[1], 9000);
	th_port_add(a, "em2", GBPS, 1); /* joins: programmed with the aggregate MTU */
	TH_EQ(a->port_mtu[2], 9000);
	lk_get_status(a->sc, &st);
	TH_EQ(st.mtu, 9000);
	/* failure on the third port: the first two go back to 9000, nothing changes */
	a->fail_set_mtu = 1;
	a->fail_skip = 2;
	TH_CHECK(lk_set_mtu(a->sc, 4000) < 0);
	TH_EQ(a->port_mtu[0], 9000);
	TH_EQ(a->port_mtu[1], 9000);
	TH_EQ(a->port_mtu[2], 9000);
	TH_EQ(lk_set_mtu(a->sc, 10), LK_EINVAL);
	TH_EQ(lk_port_remove(a->sc, 1), 0);
	TH_EQ(a->port_mtu[1], 1500); /* its own MTU again */
}

static void
test_bad_arguments(void)
{
	struct th_host *a = th_host_new("lagg0", mac_a);
	struct lk_port_info info = { .name = "em0", .mtu = 1500 };
	uint32_t port, v;
	char name[8];

	th_port_add(a, "em0", GBPS, 1);
	TH_EQ(lk_port_add(a->sc, &info, &port), LK_EEXIST);
	info.name = "";
	TH_EQ(lk_port_add(a->sc, &info, &port), LK_EINVAL);
	info.name = "a-name-much-too-long-for-ifnamsiz";
	TH_EQ(lk_port_add(a->sc, &info, &port), LK_EINVAL);
	info.name = NULL;
	TH_EQ(lk_port_add(a->sc, &info, &port), LK_EINVAL);
	for (int i = 1; i < LK_MAX_PORTS; i++) {
		snprintf(name, sizeof(name), "em%d", i);
		info.name = name;
		TH_EQ(lk_port_add(a->sc, &info, &port), 0);
		TH_EQ(port, i);
	}
	info.name = "one-too-many";
	TH_EQ(lk_port_add(a->sc, &info, &port), LK_ENOSPC);
	TH_EQ(lk_port_lookup(a->sc, "em31", &port), 0);
	TH_EQ(port, 31);
	TH_EQ(lk_port_set_prio(a->sc, 40, 1), LK_ENOENT);
	TH_EQ(lk_port_set_lacp_prio(a->sc, 40, 1), LK_ENOENT);
	TH_EQ(lk_port_link(a->sc, 40, 1, GBPS, LK_DUPLEX_FULL), LK_ENOENT);
	TH_EQ(lk_port_link(a->sc, 0, 1, GBPS, (enum lk_duplex)7), LK_EINVAL);
	TH_EQ(lk_set_opt(a->sc, LK_OPT_MAX, 0), LK_EINVAL);
	TH_EQ(lk_set_opt(a->sc, LK_OPT_HASH_LAYERS, 0), LK_EINVAL);
	TH_EQ(lk_set_opt(a->sc, LK_OPT_HASH_LAYERS, 8), LK_EINVAL);
	TH_EQ(lk_set_opt(a->sc, LK_OPT_FLOWID_SHIFT, 32), LK_EINVAL);
	TH_EQ(lk_set_opt(a->sc, LK_OPT_LACP_SYS_PRIO, 70000), LK_EINVAL);
	TH_EQ(lk_get_opt(a->sc, LK_OPT_HASH_LAYERS, &v), 0);
	TH_EQ(v, LK_HASH_L2 | LK_HASH_L3 | LK_HASH_L4);
	TH_EQ(lk_set_opt(a->sc, LK_OPT_HASH_LAYERS, LK_HASH_L3), 0);
	TH_EQ(lk_get_opt(a->sc, LK_OPT_HASH_LAYERS, &v), 0);
	TH_EQ(v, LK_HASH_L3);
	TH_EQ(lk_get_opt(a->sc, LK_OPT_FAILOVER_PREEMPT, &v), 0);
	TH_EQ(v, 1);
	TH_EQ(lk_get_opt(a->sc, LK_OPT_LACP_SYS_PRIO, &v), 0);
	TH_EQ(v, 32768);
	TH_CHECK(strcmp(lk_strerror(LK_ENOSPC), "unknown error") != 0);
	/* the CPU slots are part of the allocation: one more slot, more bytes; none, no softc */
	TH_CHECK(lk_softc_size(1) > 0);
	TH_CHECK(lk_softc_size(2) > lk_softc_size(1));
	TH_EQ(lk_softc_size(0), 0);
	TH_EQ(lk_softc_size(LK_MAX_CPUS + 1), 0);
}

/* Allocation failure: the old table stays published, the rebuild is retried from lk_tick. */
static void
test_txmap_alloc_failure(void)
{
	struct th_host *a = th_host_new("lagg0", mac_a);
	uint8_t buf[128];
	struct th_flow fl = { .family = 4, .proto = 17 };
	uint32_t len = th_build(&fl, buf, sizeof(buf));
	uint32_t retired;

	th_port_add(a, "em0", GBPS, 1);
	th_port_add(a, "em1", GBPS, 1);
	TH_EQ(th_send(a, buf, len), 1);
	retired = a->retired;
	a->fail_alloc = 3;
	TH_EQ(lk_port_set_prio(a->sc, 1, 1), 0); /* em1 becomes master */
	TH_EQ(th_send(a, buf, len), 1);          /* old table: still em0 */
	TH_EQ(a->retired, retired);
	TH_CHECK(a->deadline_ns != UINT64_MAX); /* a retry is scheduled */
	th_advance(100);                        /* two more failures, then success */
	TH_EQ(a->fail_alloc, 0);
	TH_EQ(th_send(a, buf, len), 2);
	TH_EQ(a->retired, retired + 1);
	TH_EQ(a->live_allocs, 1);
}

/* Events of these types at or after seq `from`, on either aggregate. */
static uint32_t
count_events(const struct th_host *h, uint64_t from, enum lk_event_type t1, enum lk_event_type t2)
{
	struct lk_event ev[LK_EVENT_RING];
	uint32_t n = lk_events_read(h->sc, from, ev, LK_EVENT_RING), hits = 0;

	for (uint32_t i = 0; i < n; i++)
		if (ev[i].type == t1 || ev[i].type == t2)
			hits++;
	return hits;
}

static uint64_t
next_event_seq(const struct th_host *h)
{
	struct lk_event ev[LK_EVENT_RING];
	uint32_t n = lk_events_read(h->sc, 0, ev, LK_EVENT_RING);

	return n == 0 ? 0 : ev[n - 1].seq + 1;
}

static void
lacp_pair(struct th_host *a, struct th_host *b)
{
	lk_set_proto(a->sc, LK_PROTO_LACP);
	lk_set_proto(b->sc, LK_PROTO_LACP);
	for (int i = 0; i < 2; i++) {
		const char *n = i ? "em1" : "em0";
		th_wire(a, th_port_add(a, n, GBPS, 1), b, th_port_add(b, n, GBPS, 1));
	}
	th_advance(5000);
}

static int
all_distributing(const struct th_host *h)
{
	struct lk_port_status ps;

	for (uint32_t i = 0; i < 2; i++)
		if (lk_get_port_status(h->sc, i, &ps) != 0 || !(ps.flags & LK_PORT_DISTRIBUTING))
			return 0;
	return 1;
}

/*
 * `ether` on a running LACP aggregate: the members take the new MAC, the System ID stays, so
 * the partner sees no change; no port leaves SELECTED or DISTRIBUTING on either side, not for
 * a millisecond. (When the System ID followed the MAC, both ends unselected every port and
 * stopped distributing until they had agreed again.)
 */
static void
test_lacp_ether_keeps_system_id(void)
{
	struct th_host *a = th_host_new("lagg0", mac_a), *b = th_host_new("lagg1", mac_b);
	struct lk_port_status ps;
	struct lk_status st;
	uint8_t sys[6];
	uint64_t seq_a, seq_b;

	lacp_pair(a, b);
	TH_CHECK(all_distributing(a) && all_distributing(b));
	memcpy(sys, a->lagg_mac, 6);
	TH_EQ(lk_get_status(a->sc, &st), 0);
	TH_CHECK(mac_eq(st.lacp_sys_mac, sys));
	TH_EQ(st.lacp_sys_mac_admin, 0);
	seq_a = next_event_seq(a);
	seq_b = next_event_seq(b);

	TH_EQ(lk_set_lladdr(a->sc, user), 0);
	TH_CHECK(mac_eq(a->lagg_mac, user));
	TH_CHECK(mac_eq(a->port_mac[0], user) && mac_eq(a->port_mac[1], user));
	for (int ms = 0; ms < 5000; ms++) {
		th_advance(1);
		if (!all_distributing(a) || !all_distributing(b)) {
			TH_CHECK(!"a port stopped distributing after the MAC change");
			break;
		}
	}
	TH_EQ(count_events(a, seq_a, LK_EV_LACP_UNSELECTED, LK_EV_LACP_OUT_OF_SYNC), 0);
	TH_EQ(count_events(b, seq_b, LK_EV_LACP_UNSELECTED, LK_EV_LACP_PARTNER_CHANGED), 0);
	TH_EQ(count_events(b, seq_b, LK_EV_LACP_OUT_OF_SYNC, LK_EV_LACP_EXPIRED), 0);

	/* status says what is true: the aggregate MAC is new, the System ID (lag id) is not */
	TH_EQ(lk_get_status(a->sc, &st), 0);
	TH_CHECK(mac_eq(st.lladdr, user));
	TH_CHECK(mac_eq(st.lacp_sys_mac, sys));
	TH_CHECK(mac_eq(st.lag_actor.sys_mac, sys));
	TH_EQ(lk_get_port_status(a->sc, 1, &ps), 0);
	TH_CHECK(mac_eq(ps.lacp.actor.sys_mac, sys));
	TH_EQ(lk_get_port_status(b->sc, 1, &ps), 0);
	TH_CHECK(mac_eq(ps.lacp.partner.sys_mac, sys));

	/* a second change, and back: still nothing for the partner to see */
	TH_EQ(lk_set_lladdr(a->sc, mac_a), 0);
	th_advance(3000);
	TH_EQ(count_events(b, seq_b, LK_EV_LACP_UNSELECTED, LK_EV_LACP_PARTNER_CHANGED), 0);
	TH_CHECK(all_distributing(a) && all_distributing(b));
}

/*
 * The System ID's MAC moves only when it goes back to a member that leaves (that NIC may be
 * another system's next): to the aggregate's current MAC, and the partner follows.
 */
static void
test_lacp_system_id_leaves_with_its_port(void)
{
	struct th_host *a = th_host_new("lagg0", mac_a), *b = th_host_new("lagg1", mac_b);
	struct lk_port_status ps;
	struct lk_status st;
	uint8_t m0[6], m1[6];

	own_mac(a, 0, m0);
	own_mac(a, 1, m1);
	lacp_pair(a, b);
	TH_EQ(lk_set_lladdr(a->sc, user), 0);
	TH_EQ(lk_get_status(a->sc, &st), 0);
	TH_CHECK(mac_eq(st.lacp_sys_mac, m0));

	/* em1 leaves: not the System ID's NIC, nothing moves */
	TH_EQ(lk_port_remove(a->sc, 1), 0);
	TH_EQ(lk_get_status(a->sc, &st), 0);
	TH_CHECK(mac_eq(st.lacp_sys_mac, m0));
	TH_CHECK(mac_eq(a->port_mac[1], m1));

	/* em0 leaves with its own MAC: the System ID takes the aggregate's (the user's) */
	th_wire(a, th_port_add(a, "em1", GBPS, 1), b, 1);
	th_advance(5000);
	TH_EQ(lk_port_remove(a->sc, 0), 0);
	th_link(b, 0, 0); /* B's em0 has nobody to aggregate with: its LAG is out of the way */
	TH_CHECK(mac_eq(a->port_mac[0], m0));
	TH_EQ(lk_get_status(a->sc, &st), 0);
	TH_CHECK(mac_eq(st.lacp_sys_mac, user));
	th_advance(5000);
	TH_EQ(lk_get_port_status(b->sc, 1, &ps), 0);
	TH_CHECK(mac_eq(ps.lacp.partner.sys_mac, user));
	TH_CHECK(ps.flags & LK_PORT_DISTRIBUTING);

	/* without a user MAC the System ID goes with the aggregate MAC to the heir, as before */
	struct th_host *c = th_host_new("lagg2", mac_a);
	uint8_t c0[6], c1[6];
	own_mac(c, 0, c0);
	own_mac(c, 1, c1);
	th_port_add(c, "em0", GBPS, 1);
	th_port_add(c, "em1", GBPS, 1);
	TH_EQ(lk_get_status(c->sc, &st), 0);
	TH_CHECK(mac_eq(st.lacp_sys_mac, c0));
	TH_EQ(lk_port_remove(c->sc, 0), 0);
	TH_EQ(lk_get_status(c->sc, &st), 0);
	TH_CHECK(mac_eq(st.lladdr, c1) && mac_eq(st.lacp_sys_mac, c1));
	TH_EQ(lk_port_remove(c->sc, 1), 0);
	TH_EQ(lk_get_status(c->sc, &st), 0);
	TH_CHECK(mac_is_unset(st.lacp_sys_mac));
	/* the next first member gives it again (the harness gives index 0 the MAC c0) */
	th_port_add(c, "em9", GBPS, 1);
	TH_EQ(lk_get_status(c->sc, &st), 0);
	TH_CHECK(mac_eq(st.lacp_sys_mac, c0));
}

/* An administrative System ID: the partner follows it; `ether` and members leaving do not move it. */
static void
test_lacp_admin_system_id(void)
{
	const uint8_t admin[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
	const uint8_t mcast[6] = { 0x01, 0x80, 0xc2, 0, 0, 0x02 };
	struct th_host *a = th_host_new("lagg0", mac_a), *b = th_host_new("lagg1", mac_b);
	struct lk_port_status ps;
	struct lk_status st;

	lacp_pair(a, b);
	TH_EQ(lk_set_lacp_sys_mac(a->sc, mcast), LK_EINVAL);
	TH_EQ(lk_set_lacp_sys_mac(a->sc, admin), 0);
	th_advance(5000);
	TH_EQ(lk_get_port_status(b->sc, 0, &ps), 0);
	TH_CHECK(mac_eq(ps.lacp.partner.sys_mac, admin));
	TH_CHECK(all_distributing(a) && all_distributing(b));
	TH_EQ(lk_get_status(a->sc, &st), 0);
	TH_CHECK(mac_eq(st.lacp_sys_mac, admin));
	TH_EQ(st.lacp_sys_mac_admin, 1);

	TH_EQ(lk_set_lladdr(a->sc, user), 0);
	TH_EQ(lk_port_remove(a->sc, 0), 0);
	th_link(b, 0, 0);
	TH_EQ(lk_get_status(a->sc, &st), 0);
	TH_CHECK(mac_eq(st.lacp_sys_mac, admin));

	/* back to automatic: the aggregate's MAC now */
	TH_EQ(lk_set_lacp_sys_mac(a->sc, NULL), 0);
	TH_EQ(lk_get_status(a->sc, &st), 0);
	TH_CHECK(mac_eq(st.lacp_sys_mac, user));
	TH_EQ(st.lacp_sys_mac_admin, 0);
	th_advance(5000);
	TH_EQ(lk_get_port_status(b->sc, 1, &ps), 0);
	TH_CHECK(mac_eq(ps.lacp.partner.sys_mac, user));
	TH_CHECK(ps.flags & LK_PORT_DISTRIBUTING);
}

int
main(void)
{
	th_run("lacp: ether keeps the system id", test_lacp_ether_keeps_system_id);
	th_run("lacp: system id leaves with its port", test_lacp_system_id_leaves_with_its_port);
	th_run("lacp: administrative system id", test_lacp_admin_system_id);
	th_run("mac follows first port", test_mac_follows_first_port);
	th_run("user mac", test_user_mac);
	th_run("a MAC change keeps every flow on its port", test_mac_change_keeps_flows);
	th_run("mac failure rolls back", test_mac_failure_rolls_back);
	th_run("mtu", test_mtu);
	th_run("bad arguments", test_bad_arguments);
	th_run("txmap allocation failure", test_txmap_alloc_failure);
	return th_summary();
}
