/*
 * none, roundrobin, broadcast, loadbalance (and the lacp row's frame-path split): port
 * choice on output, acceptance on input, protocol changes that keep the ports, and the two
 * flow properties of hashed distribution: a flow stays on its port while the active set is
 * unchanged, and removing a port moves only that port's flows.
 */
#include "harness.h"
#include "lk_internal.h"

#include <stdio.h>
#include <string.h>

#define GBPS   1000000000ull
#define NFLOWS 10000u
static const uint8_t mac_a[6] = { 0x02, 0, 0, 0, 0xa0, 0x10 };
static const uint8_t mac_b[6] = { 0x02, 0, 0, 0, 0xb0, 0x10 };
static const char *const ifnames[12] = { "em0", "em1", "em2", "em3", "em4", "em5", "em6", "em7", "em8", "em9",
	"em10", "em11" };

static struct th_host *
host_with(enum lk_proto proto, uint32_t nports)
{
	struct th_host *a = th_host_new("lagg0", mac_a);

	TH_EQ(lk_set_proto(a->sc, proto), 0);
	for (uint32_t i = 0; i < nports; i++)
		th_port_add(a, ifnames[i], GBPS, 1);
	return a;
}

static uint32_t
out_one(struct th_host *a, const uint8_t *buf, uint32_t len)
{
	struct lk_frame f = { 0 };

	f.data = buf;
	f.caplen = f.len = len;
	return lk_output(a->sc, 0, &f);
}

/* ---- none ------------------------------------------------------------------------------------ */

static void
test_none(void)
{
	struct th_host *a = host_with(LK_PROTO_NONE, 2);
	uint8_t buf[128];
	struct th_flow fl = { .family = 4, .proto = 17 };
	uint32_t len = th_build(&fl, buf, sizeof(buf));
	struct lk_status st;

	TH_EQ(out_one(a, buf, len), 0);
	TH_EQ(th_receive(a, 0, buf, len), LK_RX_DROP);
	lk_get_status(a->sc, &st);
	TH_EQ(st.out_no_port, 1);
	TH_EQ(st.link_up, 1); /* stays up, carries nothing */
	TH_EQ(a->lagg_up, 1);
	th_link(a, 0, 0);
	th_link(a, 1, 0);
	TH_EQ(a->lagg_up, 0);
}

/* ---- roundrobin -------------------------------------------------------------------------------- */

struct rr_row {
	const char *name;
	uint32_t nports, rr_limit, down_mask;
	uint8_t want[12];
};

static const struct rr_row rr_rows[] = {
	{ "3 ports, stride 1", 3, 1, 0, { 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2 } },
	{ "3 ports, stride 0 means 1", 3, 0, 0, { 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2 } },
	{ "3 ports, stride 2", 3, 2, 0, { 0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2 } },
	{ "2 ports, stride 4", 2, 4, 0, { 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0 } },
	{ "4 ports, port 1 down", 4, 1, 0x2, { 0, 2, 3, 0, 2, 3, 0, 2, 3, 0, 2, 3 } },
	{ "1 port", 1, 3, 0, { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 } },
	/* nactive * stride divides LK_SEQ_LEN: lk_output takes the port sequence */
	{ "4 ports, stride 1", 4, 1, 0, { 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3 } },
	{ "8 ports, stride 8", 8, 8, 0, { 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1 } },
	{ "4 ports, ports 1 and 3 down", 4, 2, 0xa, { 0, 0, 2, 2, 0, 0, 2, 2, 0, 0, 2, 2 } },
	/* 2 * 64 does not: computed */
	{ "2 ports, stride 64", 2, 64, 0, { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 } },
};

static void
test_rr(const void *arg)
{
	const struct rr_row *r = arg;
	struct th_host *a = host_with(LK_PROTO_ROUNDROBIN, r->nports);
	uint8_t buf[128];
	struct th_flow fl = { .family = 4, .proto = 17 };
	uint32_t len = th_build(&fl, buf, sizeof(buf));
	struct lk_port_status ps;

	th_note(r->name);
	TH_EQ(lk_set_opt(a->sc, LK_OPT_RR_LIMIT, r->rr_limit), 0);
	for (uint32_t i = 0; i < r->nports; i++)
		if (r->down_mask & (1u << i))
			th_link(a, i, 0);
	for (int i = 0; i < 12; i++)
		TH_EQ(out_one(a, buf, len), 1u << r->want[i]);
	/* input: every active port collects */
	for (uint32_t i = 0; i < r->nports; i++)
		TH_EQ(th_receive(a, i, buf, len), (r->down_mask & (1u << i)) ? LK_RX_DROP : LK_RX_ACCEPT);
	lk_get_port_status(a->sc, r->want[0], &ps);
	TH_CHECK(ps.counters.tx_packets >= 1);
	TH_EQ(ps.counters.tx_bytes, ps.counters.tx_packets * len);
}

/*
 * Rotation holds across the 32-bit wrap of a CPU slot's cursor, computed (3 ports: the modulo
 * is a multiply) or from the port sequence (4 ports, and 2 with stride 4).
 */
static void
test_rr_cursor_wrap(void)
{
	static const uint32_t nports[3] = { 3, 4, 2 }, stride[3] = { 1, 1, 4 };
	uint8_t buf[128];
	struct th_flow fl = { .family = 4, .proto = 17 };
	uint32_t len = th_build(&fl, buf, sizeof(buf));

	for (int k = 0; k < 3; k++) {
		struct th_host *a = host_with(LK_PROTO_ROUNDROBIN, nports[k]);
		uint32_t n = 0xfffffff0u;

		TH_EQ(lk_set_opt(a->sc, LK_OPT_RR_LIMIT, stride[k]), 0);
		a->sc->pcpu[0].seq_next = n;
		for (int i = 0; i < 40; i++, n++)
			TH_EQ(out_one(a, buf, len), 1u << (n / stride[k] % nports[k]));
		th_host_free(a);
	}
}

/* ---- broadcast --------------------------------------------------------------------------------- */

static void
test_broadcast(void)
{
	struct th_host *a = host_with(LK_PROTO_BROADCAST, 4);
	uint8_t buf[128];
	struct th_flow fl = { .family = 6, .proto = 6 };
	uint32_t len = th_build(&fl, buf, sizeof(buf));
	struct lk_status st;

	TH_EQ(out_one(a, buf, len), 0xf);
	th_link(a, 2, 0);
	TH_EQ(out_one(a, buf, len), 0xb);
	TH_EQ(th_receive(a, 2, buf, len), LK_RX_DROP);
	TH_EQ(th_receive(a, 3, buf, len), LK_RX_ACCEPT);
	lk_get_status(a->sc, &st);
	TH_EQ(st.nactive, 3);
	TH_EQ(st.speed_bps, 3 * GBPS);
	TH_EQ(a->lagg_speed, 3 * GBPS);
}

/* ---- loadbalance: flow stability --------------------------------------------------------------- */

static uint32_t
flow_frame(uint32_t i, uint8_t *buf)
{
	struct th_flow fl;
	uint32_t s = i * 2654435761u + 1;

	memset(&fl, 0, sizeof(fl));
	fl.family = (i & 1) ? 6 : 4;
	fl.proto = (i & 2) ? 6 : 17;
	fl.src_mac[5] = 1;
	fl.dst_mac[5] = 2;
	for (int k = 0; k < 16; k++) {
		fl.src_ip[k] = (uint8_t)th_rand(&s);
		fl.dst_ip[k] = (uint8_t)th_rand(&s);
	}
	fl.sport = (uint16_t)th_rand(&s);
	fl.dport = (uint16_t)th_rand(&s);
	return th_build(&fl, buf, 128);
}

static uint8_t before[NFLOWS], after[NFLOWS];

static void
map_flows(struct th_host *a, uint8_t *out)
{
	uint8_t buf[128];

	for (uint32_t i = 0; i < NFLOWS; i++) {
		uint32_t m = out_one(a, buf, flow_frame(i, buf));
		TH_CHECK(m != 0 && (m & (m - 1)) == 0);
		out[i] = m ? (uint8_t)__builtin_ctz(m) : 0xff;
	}
}

struct lb_row {
	const char *name;
	enum lk_proto proto;
	uint32_t nports;
};

static const struct lb_row lb_rows[] = {
	{ "loadbalance 2 ports", LK_PROTO_LOADBALANCE, 2 },
	{ "loadbalance 3 ports", LK_PROTO_LOADBALANCE, 3 },
	{ "loadbalance 4 ports", LK_PROTO_LOADBALANCE, 4 },
	{ "loadbalance 8 ports", LK_PROTO_LOADBALANCE, 8 },
};

static void
test_lb_properties(const void *arg)
{
	const struct lb_row *r = arg;
	char note[96];

	for (uint32_t gone = 0; gone < r->nports; gone++) {
		struct th_host *a = host_with(r->proto, r->nports);
		uint32_t count[8] = { 0 }, moved = 0, moved_to[8] = { 0 };

		snprintf(note, sizeof(note), "%s, port %u leaves", r->name, gone);
		th_note(note);
		map_flows(a, before);
		/* unchanged active set, several rebuilds in between: every flow stays */
		lk_set_mtu(a->sc, 9000);
		lk_set_opt(a->sc, LK_OPT_RR_LIMIT, 5);
		map_flows(a, after);
		TH_CHECK(memcmp(before, after, NFLOWS) == 0);
		for (uint32_t i = 0; i < NFLOWS; i++)
			count[before[i]]++;
		/* balance: max/min share under 1.25 over 10,000 flows */
		uint32_t mx = 0, mn = NFLOWS;
		for (uint32_t p = 0; p < r->nports; p++) {
			mx = count[p] > mx ? count[p] : mx;
			mn = count[p] < mn ? count[p] : mn;
		}
		TH_CHECK(mn > 0 && mx * 100 < mn * 125);

		/* the port leaves (link down): only its flows move, spread over the others */
		th_link(a, gone, 0);
		map_flows(a, after);
		for (uint32_t i = 0; i < NFLOWS; i++) {
			TH_CHECK(after[i] != gone);
			if (before[i] == gone) {
				moved++;
				moved_to[after[i]]++;
			} else
				TH_EQ(after[i], before[i]);
		}
		TH_EQ(moved, count[gone]);
		if (r->nports > 2)
			for (uint32_t p = 0; p < r->nports; p++)
				if (p != gone)
					TH_CHECK(moved_to[p] * (r->nports - 1) * 10 > moved * 5);
		/* it comes back: exactly the original placement again */
		th_link(a, gone, 1);
		map_flows(a, after);
		TH_CHECK(memcmp(before, after, NFLOWS) == 0);
		/* removed by configuration: same rule */
		TH_EQ(lk_port_remove(a->sc, gone), 0);
		map_flows(a, after);
		for (uint32_t i = 0; i < NFLOWS; i++)
			if (before[i] != gone)
				TH_EQ(after[i], before[i]);
		th_reset();
	}
}

/* Input under loadbalance: any active port collects. */
static void
test_lb_input(void)
{
	struct th_host *a = host_with(LK_PROTO_LOADBALANCE, 3);
	uint8_t buf[128];
	uint32_t len = flow_frame(1, buf);

	th_link(a, 1, 0);
	TH_EQ(th_receive(a, 0, buf, len), LK_RX_ACCEPT);
	TH_EQ(th_receive(a, 1, buf, len), LK_RX_DROP);
	TH_EQ(th_receive(a, 2, buf, len), LK_RX_ACCEPT);
	TH_EQ(th_receive(a, 7, buf, len), LK_RX_DROP);  /* not a member */
	TH_EQ(th_receive(a, 99, buf, len), LK_RX_DROP); /* out of range */
}

/* Slow-protocols frames go to lk_control_input only under lacp; elsewhere they are dropped. */
static void
test_slow_protocols_split(void)
{
	struct th_host *a = host_with(LK_PROTO_LOADBALANCE, 2);
	uint8_t buf[128] = { 0x01, 0x80, 0xc2, 0, 0, 0x02, 2, 0, 0, 0, 0, 9, 0x88, 0x09, 1, 1 };
	struct lk_frame f = { .data = buf, .caplen = 124, .len = 124 };

	TH_EQ(lk_input(a->sc, 0, 0, &f), LK_RX_DROP);
	TH_EQ(lk_set_proto(a->sc, LK_PROTO_LACP), 0);
	TH_EQ(lk_input(a->sc, 0, 0, &f), LK_RX_CONTROL);
	TH_EQ(lk_set_proto(a->sc, LK_PROTO_FAILOVER), 0);
	TH_EQ(lk_input(a->sc, 0, 0, &f), LK_RX_DROP);
}

/*
 * 802.3 slow protocols are never VLAN-tagged: a 0x8809 frame whose tag the NIC stripped is
 * data of that VLAN (a PDU tunnelled across it), not this link's LACPDU.
 */
static void
test_slow_protocols_tagged_is_data(void)
{
	struct th_host *a = host_with(LK_PROTO_LACP, 1);
	uint8_t buf[128] = { 0x01, 0x80, 0xc2, 0, 0, 0x02, 2, 0, 0, 0, 0, 9, 0x88, 0x09, 1, 1 };
	struct lk_frame f = { .data = buf, .caplen = 124, .len = 124, .has_vlan = 1, .vlan_tag = 12 };

	TH_EQ(lk_input(a->sc, 0, 0, &f), LK_RX_DROP); /* data, and the port does not collect yet */
	f.has_vlan = 0;
	TH_EQ(lk_input(a->sc, 0, 0, &f), LK_RX_CONTROL);
}

/* A protocol change keeps every port (NetBSD drops them) and is an event. */
static void
test_proto_change_keeps_ports(void)
{
	struct th_host *a = host_with(LK_PROTO_FAILOVER, 3);
	struct lk_status st;
	struct lk_event ev[64];
	uint32_t n, seen = 0;
	enum lk_proto p;

	for (int pr = 0; pr < LK_PROTO_MAX; pr++) {
		TH_EQ(lk_set_proto(a->sc, (enum lk_proto)pr), 0);
		TH_EQ(lk_get_proto(a->sc), pr);
		lk_get_status(a->sc, &st);
		TH_EQ(st.nports, 3);
		TH_EQ(st.port_mask, 0x7);
	}
	TH_EQ(lk_set_proto(a->sc, LK_PROTO_MAX), LK_EINVAL);
	n = lk_events_read(a->sc, 0, ev, 64);
	for (uint32_t i = 0; i < n; i++)
		seen += ev[i].type == LK_EV_PROTO_CHANGED;
	TH_EQ(seen, LK_PROTO_MAX); /* none..broadcast from failover: six changes */
	TH_EQ(lk_proto_from_name("fec", &p), 0);
	TH_EQ(p, LK_PROTO_LOADBALANCE);
	TH_EQ(lk_proto_from_name("roundrobin", &p), 0);
	TH_EQ(p, LK_PROTO_ROUNDROBIN);
	TH_EQ(lk_proto_from_name("lacp", &p), 0);
	TH_EQ(p, LK_PROTO_LACP);
	TH_EQ(lk_proto_from_name("bogus", &p), LK_EINVAL);
	TH_CHECK(strcmp(lk_proto_name(LK_PROTO_BROADCAST), "broadcast") == 0);
}

/*
 * The txmap builder updates flow buckets incrementally; after any sequence of link changes,
 * removals and additions the table must equal one built from scratch for the same active set
 * (that is what makes placement depend on the active set only, never on history). Twelve
 * ports: ports 8 and up are placed by scores, ports 0-7 by the designed orders.
 */
struct inc_row {
	uint32_t nports, steps;
};

static const struct inc_row inc_rows[] = { { 8, 120 }, { 12, 30 } };

static void
test_incremental_equals_full(const void *arg)
{
	const struct inc_row *row = arg;
	uint32_t n = row->nports, all = (1u << n) - 1u;
	struct th_host *a = host_with(LK_PROTO_LOADBALANCE, n);
	uint32_t s = 12345, members = all, up = all;

	TH_EQ(lk_set_opt(a->sc, LK_OPT_HASH_SEED, 0xabcdef), 0);
	for (uint32_t step = 0; step < row->steps; step++) {
		uint32_t port = th_rand(&s) % n, op = th_rand(&s) % 3, idx;
		if (op == 0 && (members & (1u << port))) {
			th_link(a, port, !(up & (1u << port)));
			up ^= 1u << port;
		} else if (op == 1 && (members & (1u << port))) {
			TH_EQ(lk_port_remove(a->sc, port), 0);
			members &= ~(1u << port);
		} else if (!(members & (1u << port))) {
			/* re-add: it takes the lowest free index, named after that index */
			idx = th_port_add(a, ifnames[__builtin_ctz(~members)], GBPS, 1);
			if (idx == UINT32_MAX)
				break;
			members |= 1u << idx;
			up |= 1u << idx;
		}
		/* reference: a fresh aggregate with the same members up */
		struct th_host *r = th_host_new("ref", mac_a);
		TH_EQ(lk_set_proto(r->sc, LK_PROTO_LOADBALANCE), 0);
		TH_EQ(lk_set_opt(r->sc, LK_OPT_HASH_SEED, 0xabcdef), 0);
		for (uint32_t i = 0; i < n; i++)
			th_port_add(r, ifnames[i], GBPS, 1);
		for (uint32_t i = 0; i < n; i++) {
			if (!(members & (1u << i)))
				lk_port_remove(r->sc, i);
			else if (!(up & (1u << i)))
				th_link(r, i, 0);
		}
		const struct lk_txmap *ma = lk_txmap_get(a->sc), *mr = lk_txmap_get(r->sc);
		TH_EQ(ma->active, mr->active);
		if (ma->nactive > 0)
			TH_CHECK(memcmp(ma->bucket, mr->bucket, LK_TXMAP_BUCKETS) == 0);
		th_host_free(r);
	}
}

/*
 * Bucket shares over ports 0-7, for every set of them that is up: equal for every pair, the
 * aligned fours and all eight (the XOR groups of the design), within 1% for six and seven
 * ports (the designed first digits), within 3% for any other set (three of the digits are
 * hashed). Random orders (rendezvous) left eight ports 5.6% apart and four 7.6%.
 */
static void
test_bucket_shares(void)
{
	struct th_host *a = host_with(LK_PROTO_LOADBALANCE, 8);
	uint32_t up = 0xff;
	char note[64];

	/* every non-empty set, each one link change from the last (Gray code) */
	for (uint32_t g = 1; g < 256; g++) {
		uint32_t want = 0xffu ^ (g ^ (g >> 1)), flip = up ^ want, count[8] = { 0 }, mx = 0,
		         mn = UINT32_MAX;
		int exact, n = __builtin_popcount(want);

		th_link(a, (uint32_t)__builtin_ctz(flip), (want & flip) != 0);
		up = want;
		if (up == 0)
			continue;
		const struct lk_txmap *m = lk_txmap_get(a->sc);
		for (uint32_t b = 0; b < LK_TXMAP_BUCKETS; b++)
			count[m->bucket[b]]++;
		for (uint32_t i = 0; i < 8; i++) {
			if (!(up & (1u << i))) {
				TH_EQ(count[i], 0);
				continue;
			}
			mx = count[i] > mx ? count[i] : mx;
			mn = count[i] < mn ? count[i] : mn;
		}
		/* a coset of an XOR subgroup: the set XORed with its own first member is a subgroup */
		exact = 1;
		for (uint32_t i = 0; i < 8; i++)
			for (uint32_t j = 0; j < 8; j++)
				if ((up & (1u << i)) && (up & (1u << j)))
					exact &= (up >> (i ^ j ^ (uint32_t)__builtin_ctz(up))) & 1u;
		exact &= n == 1 || n == 2 || n == 4 || n == 8;
		snprintf(note, sizeof(note), "ports up %#x", up);
		th_note(note);
		if (exact)
			TH_EQ(mx, mn);
		else if (n >= 6)
			TH_CHECK(mx * 100 <= mn * 101);
		else
			TH_CHECK(mx * 100 <= mn * 103);
	}
}

/* Protocols without timers leave the host's timer alone: no periodic wakeups when idle. */
static void
test_idle_has_no_timer(void)
{
	static const enum lk_proto idle[] = { LK_PROTO_NONE, LK_PROTO_ROUNDROBIN, LK_PROTO_FAILOVER,
		LK_PROTO_LOADBALANCE, LK_PROTO_BROADCAST };

	for (size_t i = 0; i < sizeof(idle) / sizeof(idle[0]); i++) {
		struct th_host *a = host_with(idle[i], 3);
		uint32_t ticks;
		th_note(lk_proto_name(idle[i]));
		th_advance(5000); /* first-failover announcements, if any, are done */
		ticks = a->ticks;
		th_link(a, 2, 0);
		th_link(a, 2, 1);
		lk_set_opt(a->sc, LK_OPT_ANNOUNCE_COUNT, 0);
		th_advance(600000);
		TH_EQ(a->deadline_ns, UINT64_MAX);
		/* at most the failover announcements of the flap above */
		TH_CHECK(a->ticks - ticks <= 2);
		th_reset();
	}
}

/* Switching away from lacp stops LACPDUs at once; switching back starts them again. */
static void
test_lacp_switch_away_is_silent(void)
{
	struct th_host *a = host_with(LK_PROTO_LACP, 2);
	uint32_t before;

	th_advance(3000);
	TH_CHECK(th_tx_count_type(a, 0, 0x8809) > 0);
	TH_EQ(lk_set_proto(a->sc, LK_PROTO_LOADBALANCE), 0);
	before = th_tx_count_type(a, 0, 0x8809) + th_tx_count_type(a, 1, 0x8809);
	th_advance(120000);
	TH_EQ(th_tx_count_type(a, 0, 0x8809) + th_tx_count_type(a, 1, 0x8809), before);
	TH_EQ(lk_set_proto(a->sc, LK_PROTO_LACP), 0);
	th_advance(3000);
	TH_CHECK(th_tx_count_type(a, 0, 0x8809) + th_tx_count_type(a, 1, 0x8809) > before);
}

/*
 * lk_rx_accept_mask() says exactly which ports' data frames lk_input() accepts, whatever the
 * protocol and state: a host that delivers data frames itself (laggd's in-kernel receive
 * path) mirrors the mask and must deliver what lk_input would, no more, no less.
 */
static void
check_accept_mask(struct th_host *a, uint32_t nports, const uint8_t *buf, uint32_t len)
{
	uint32_t mask = lk_rx_accept_mask(a->sc);

	for (uint32_t i = 0; i < nports; i++)
		TH_EQ(th_receive(a, i, buf, len) == LK_RX_ACCEPT, (mask >> i) & 1u);
	TH_EQ(mask >> nports, 0u); /* no bit for a port that does not exist */
}

static void
test_rx_accept_mask(void)
{
	static const enum lk_proto protos[] = { LK_PROTO_NONE, LK_PROTO_ROUNDROBIN, LK_PROTO_FAILOVER,
		LK_PROTO_LOADBALANCE, LK_PROTO_BROADCAST };
	uint8_t buf[128];
	uint32_t len = flow_frame(1, buf);

	for (size_t p = 0; p < sizeof(protos) / sizeof(protos[0]); p++) {
		for (uint32_t rx_all = 0; rx_all <= 1; rx_all++) {
			struct th_host *a = host_with(protos[p], 4);

			TH_EQ(lk_set_opt(a->sc, LK_OPT_FAILOVER_RX_ALL, rx_all), 0);
			check_accept_mask(a, 4, buf, len);
			th_link(a, 1, 0);
			check_accept_mask(a, 4, buf, len);
			th_link(a, 0, 0); /* failover: the active port goes */
			check_accept_mask(a, 4, buf, len);
			TH_EQ(lk_port_remove(a->sc, 3), 0);
			check_accept_mask(a, 3, buf, len);
			th_link(a, 0, 1);
			check_accept_mask(a, 3, buf, len);
			th_reset();
		}
	}
}

/* Host a of two LACP aggregates wired port to port (nothing negotiated yet). */
static struct th_host *
lacp_wired(uint32_t nports)
{
	struct th_host *a = th_host_new("lagg0", mac_a), *b = th_host_new("lagg1", mac_b);

	TH_EQ(lk_set_proto(a->sc, LK_PROTO_LACP), 0);
	TH_EQ(lk_set_proto(b->sc, LK_PROTO_LACP), 0);
	for (uint32_t i = 0; i < nports; i++)
		th_wire(a, th_port_add(a, ifnames[i], GBPS, 1), b, th_port_add(b, ifnames[i], GBPS, 1));
	return a;
}

static void
test_rx_accept_mask_lacp(void)
{
	struct th_host *a = lacp_wired(3);
	uint8_t buf[128];
	uint32_t len = flow_frame(1, buf);

	check_accept_mask(a, 3, buf, len); /* nothing negotiated yet */
	th_advance(10000);
	TH_EQ(lk_rx_accept_mask(a->sc), 0x7u);
	check_accept_mask(a, 3, buf, len);
	th_link(a, 2, 0);
	check_accept_mask(a, 3, buf, len);
	th_advance(10000);
	check_accept_mask(a, 3, buf, len);
}

/*
 * lk_tx_flow_view() is lk_output()'s flow-id path, table for table: a host that sends frames
 * carrying a flow id by a path of its own (laggd's in-kernel transmit path) mirrors the
 * buckets and must pick the port lk_output() would. Where lk_output() would not take that
 * path (another protocol, use_flowid off, no port active) the view says no.
 */
static void
check_flow_view(struct th_host *a, const uint8_t *buf, uint32_t len)
{
	struct lk_flow_view v;
	struct lk_frame f = { 0 };
	uint32_t rnd = 7;

	f.data = buf;
	f.caplen = f.len = len;
	f.has_flowid = 1;
	if (!lk_tx_flow_view(a->sc, &v))
		return;
	TH_CHECK(v.active != 0);
	for (int i = 0; i < 512; i++) {
		f.flowid = th_rand(&rnd);
		uint32_t port = v.bucket[((f.flowid >> v.flowid_shift) ^ v.seed) % LK_FLOW_BUCKETS];
		TH_EQ(lk_output(a->sc, 0, &f), 1u << port);
		TH_CHECK((v.active >> port) & 1u);
	}
}

static void
test_tx_flow_view(void)
{
	static const enum lk_proto protos[] = { LK_PROTO_NONE, LK_PROTO_ROUNDROBIN, LK_PROTO_FAILOVER,
		LK_PROTO_LOADBALANCE, LK_PROTO_BROADCAST };
	uint8_t buf[128];
	uint32_t len = flow_frame(1, buf);
	struct lk_flow_view v;

	for (size_t p = 0; p < sizeof(protos) / sizeof(protos[0]); p++) {
		struct th_host *a = host_with(protos[p], 4);
		int hashed = protos[p] == LK_PROTO_LOADBALANCE;

		TH_EQ(lk_tx_flow_view(a->sc, &v), hashed);
		check_flow_view(a, buf, len);
		uint32_t gen = v.gen;
		th_link(a, 1, 0); /* a new table: a new generation, port 1 out of the buckets */
		TH_EQ(lk_tx_flow_view(a->sc, &v), hashed);
		TH_CHECK(v.gen != gen);
		if (hashed)
			TH_EQ(v.active, 0xdu);
		check_flow_view(a, buf, len);
		TH_EQ(lk_set_opt(a->sc, LK_OPT_FLOWID_SHIFT, 8), 0);
		TH_EQ(lk_tx_flow_view(a->sc, &v), hashed);
		check_flow_view(a, buf, len);
		TH_EQ(lk_port_remove(a->sc, 3), 0);
		check_flow_view(a, buf, len);
		TH_EQ(lk_set_opt(a->sc, LK_OPT_USE_FLOWID, 0), 0);
		TH_EQ(lk_tx_flow_view(a->sc, &v), 0); /* lk_output hashes the headers then */
		TH_EQ(lk_set_opt(a->sc, LK_OPT_USE_FLOWID, 1), 0);
		for (uint32_t i = 0; i < 3; i++)
			th_link(a, i, 0);
		TH_EQ(lk_tx_flow_view(a->sc, &v), 0); /* no port active */
		th_reset();
	}
}

static void
test_tx_flow_view_lacp(void)
{
	struct th_host *a = lacp_wired(3);
	uint8_t buf[128];
	uint32_t len = flow_frame(1, buf);
	struct lk_flow_view v;

	TH_EQ(lk_tx_flow_view(a->sc, &v), 0); /* nothing distributing yet */
	th_advance(10000);
	TH_EQ(lk_tx_flow_view(a->sc, &v), 1);
	TH_EQ(v.active, 0x7u);
	check_flow_view(a, buf, len);
	th_link(a, 2, 0);
	th_advance(10000);
	TH_EQ(lk_tx_flow_view(a->sc, &v), 1);
	TH_EQ(v.active, 0x3u);
	check_flow_view(a, buf, len);
}

int
main(void)
{
	th_run("idle protocols arm no timer", test_idle_has_no_timer);
	th_run("switching away from lacp is silent", test_lacp_switch_away_is_silent);
	for (size_t i = 0; i < sizeof(inc_rows) / sizeof(inc_rows[0]); i++)
		th_run_case("incremental buckets equal full", test_incremental_equals_full, &inc_rows[i]);
	th_run("bucket shares", test_bucket_shares);
	th_run("none", test_none);
	for (size_t i = 0; i < sizeof(rr_rows) / sizeof(rr_rows[0]); i++)
		th_run_case("roundrobin", test_rr, &rr_rows[i]);
	th_run("roundrobin: cursor wrap", test_rr_cursor_wrap);
	th_run("broadcast", test_broadcast);
	for (size_t i = 0; i < sizeof(lb_rows) / sizeof(lb_rows[0]); i++)
		th_run_case("flow properties", test_lb_properties, &lb_rows[i]);
	th_run("loadbalance input", test_lb_input);
	th_run("slow protocols split", test_slow_protocols_split);
	th_run("tagged slow protocols frame is data", test_slow_protocols_tagged_is_data);
	th_run("proto change keeps ports", test_proto_change_keeps_ports);
	th_run("rx accept mask is what lk_input accepts", test_rx_accept_mask);
	th_run("rx accept mask under lacp", test_rx_accept_mask_lacp);
	th_run("tx flow view is lk_output's flow-id path", test_tx_flow_view);
	th_run("tx flow view under lacp", test_tx_flow_view_lacp);
	return th_summary();
}
