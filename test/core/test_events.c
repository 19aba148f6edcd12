/*
 * Observability: the event ring (sequence numbers, wrap-around, partial reads, timestamps),
 * the event formatter (every type, truncation), names, and per-port counters.
 */
#include "harness.h"

#include <string.h>

#define GBPS 1000000000ull
static const uint8_t mac_a[6] = { 0x02, 0, 0, 0, 0xa0, 0x10 };

static void
test_ring_wrap(void)
{
	struct th_host *a = th_host_new("lagg0", mac_a);
	static struct lk_event ev[LK_EVENT_RING + 8];
	uint32_t n;
	uint64_t last;

	th_port_add(a, "em0", GBPS, 1); /* PORT_ADDED, LINK_UP, FAILOVER */
	th_port_add(a, "em1", GBPS, 1); /* PORT_ADDED, LINK_UP */
	n = lk_events_read(a->sc, 0, ev, LK_EVENT_RING + 8);
	TH_EQ(n, 5);
	TH_EQ(ev[0].type, LK_EV_PORT_ADDED);
	TH_EQ(ev[0].seq, 0);
	TH_EQ(ev[0].time_ns, th_now_ns());
	TH_CHECK(strcmp(ev[0].port_name, "em0") == 0);
	TH_EQ(ev[1].type, LK_EV_LINK_UP);
	TH_EQ(ev[2].type, LK_EV_FAILOVER);
	TH_EQ(ev[2].arg, -1);
	/* flap em1 400 times: 800 events, the ring keeps the newest 256 */
	for (int i = 0; i < 400; i++) {
		th_advance(1);
		th_link(a, 1, i & 1);
	}
	n = lk_events_read(a->sc, 0, ev, LK_EVENT_RING + 8);
	TH_EQ(n, LK_EVENT_RING);
	last = 5 + 400 - 1;
	TH_EQ(ev[n - 1].seq, last);
	for (uint32_t i = 1; i < n; i++) {
		TH_EQ(ev[i].seq, ev[i - 1].seq + 1);
		TH_CHECK(ev[i].time_ns >= ev[i - 1].time_ns);
	}
	/* polling from a sequence number */
	n = lk_events_read(a->sc, last - 2, ev, 10);
	TH_EQ(n, 3);
	TH_EQ(ev[0].seq, last - 2);
	n = lk_events_read(a->sc, last + 1, ev, 10);
	TH_EQ(n, 0);
	n = lk_events_read(a->sc, 0, ev, 4);
	TH_EQ(n, 4);
	TH_EQ(ev[0].seq, last + 1 - LK_EVENT_RING);
	TH_EQ(lk_events_read(a->sc, 0, NULL, 4), 0);
}

struct fmt_row {
	uint16_t type;
	const char *port, *old;
	int32_t arg;
	const char *want;
};

static const struct fmt_row fmt_rows[] = {
	{ LK_EV_FAILOVER, "vtnet1", "vtnet0", 0, "failover from vtnet0 to vtnet1" },
	{ LK_EV_FAILOVER, "", "vtnet0", 0, "failover from vtnet0 to none" },
	{ LK_EV_FAILOVER, "em0", "", -1, "failover from none to em0" },
	{ LK_EV_PREEMPTED, "em0", "em1", 1, "preempted: back from em1 to primary em0" },
	{ LK_EV_LINK_DOWN, "em0", "", 0, "em0 link down" },
	{ LK_EV_LINK_UP, "em0", "", 0, "em0 link up" },
	{ LK_EV_PORT_ADDED, "em3", "", 0, "em3 added" },
	{ LK_EV_PORT_REMOVED, "em3", "", 0, "em3 removed" },
	{ LK_EV_LACP_EXPIRED, "ix0", "", 0, "ix0 lacp partner info expired" },
	{ LK_EV_LACP_DEFAULTED, "ix0", "", 0, "ix0 lacp defaulted (no partner PDUs)" },
	{ LK_EV_LACP_OUT_OF_SYNC, "ix0", "", 0, "ix0 lacp out of sync" },
	{ LK_EV_LACP_STANDBY, "ix1", "", 0, "ix1 lacp standby" },
	{ LK_EV_MARKER_TIMEOUT, "ix1", "", 0, "ix1 marker timeout (flows moved without answer)" },
	{ LK_EV_ILLEGAL_PDU, "ix1", "", 0, "ix1 illegal PDU dropped" },
	{ LK_EV_ANNOUNCE, "em1", "", 3, "em1 announced 3 addresses" },
	{ LK_EV_ANNOUNCE, "em1", "", 1, "em1 announced 1 address" },
	{ LK_EV_PROTO_CHANGED, "", "", 2, "protocol changed (was failover)" },
	{ 999, "", "", 0, "event 999" },
};

static void
test_format(void)
{
	char buf[128], small[8];

	for (size_t i = 0; i < sizeof(fmt_rows) / sizeof(fmt_rows[0]); i++) {
		const struct fmt_row *r = &fmt_rows[i];
		struct lk_event ev;
		int n;
		memset(&ev, 0, sizeof(ev));
		ev.type = r->type;
		ev.arg = r->arg;
		strcpy(ev.port_name, r->port);
		strcpy(ev.arg_name, r->old);
		th_note(r->want);
		n = lk_event_format(&ev, buf, sizeof(buf));
		TH_CHECK(strcmp(buf, r->want) == 0);
		TH_EQ(n, strlen(r->want));
		n = lk_event_format(&ev, small, sizeof(small));
		TH_EQ(n, strlen(r->want));
		TH_EQ(strlen(small), sizeof(small) - 1);
		TH_CHECK(strncmp(small, r->want, sizeof(small) - 1) == 0);
	}
	/* names not NUL-terminated by a careless caller are still bounded */
	{
		struct lk_event ev;
		memset(&ev, 'x', sizeof(ev));
		ev.type = LK_EV_LINK_UP;
		TH_EQ(lk_event_format(&ev, buf, sizeof(buf)), LK_IFNAMSIZ + 8);
	}
	TH_EQ(lk_event_format(NULL, buf, sizeof(buf)), LK_EINVAL);
	TH_EQ(lk_event_format(&(struct lk_event){ 0 }, buf, 0), LK_EINVAL);
	for (int t = 0; t < LK_EV_MAX; t++)
		TH_CHECK(strcmp(lk_event_name((enum lk_event_type)t), "unknown") != 0);
	TH_CHECK(strcmp(lk_event_name(LK_EV_MAX), "unknown") == 0);
}

/* Counters per port: tx on output, rx on accepted input, drops, and output without a port. */
static void
test_counters(void)
{
	struct th_host *a = th_host_new("lagg0", mac_a);
	struct lk_port_status ps0, ps1;
	struct lk_status st;
	uint8_t buf[128];
	struct th_flow fl = { .family = 4, .proto = 17 };
	uint32_t len = th_build(&fl, buf, sizeof(buf));

	th_port_add(a, "em0", GBPS, 1);
	th_port_add(a, "em1", GBPS, 1);
	lk_set_proto(a->sc, LK_PROTO_ROUNDROBIN);
	for (int i = 0; i < 10; i++)
		th_send(a, buf, len);
	th_receive(a, 1, buf, len);
	th_link(a, 0, 0);
	th_receive(a, 0, buf, len);
	th_link(a, 1, 0);
	th_send(a, buf, len);
	lk_get_port_status(a->sc, 0, &ps0);
	lk_get_port_status(a->sc, 1, &ps1);
	lk_get_status(a->sc, &st);
	TH_EQ(ps0.counters.tx_packets, 5);
	TH_EQ(ps1.counters.tx_packets, 5);
	TH_EQ(ps0.counters.tx_bytes, 5 * len);
	TH_EQ(ps1.counters.rx_packets, 1);
	TH_EQ(ps1.counters.rx_bytes, len);
	TH_EQ(ps0.counters.rx_dropped, 1);
	TH_EQ(st.out_no_port, 1);
	TH_EQ(ps0.link_up, 0);
	TH_EQ(ps0.speed_bps, GBPS);
	TH_EQ(ps0.duplex, LK_DUPLEX_FULL);
	TH_CHECK(strcmp(ps1.name, "em1") == 0);
	TH_EQ(lk_get_port_status(a->sc, 5, &ps0), LK_ENOENT);
}

static uint32_t
out_on(struct th_host *a, uint32_t cpu, const uint8_t *buf, uint32_t len)
{
	struct lk_frame f = { 0 };

	f.data = buf;
	f.caplen = f.len = len;
	return lk_output(a->sc, cpu, &f);
}

static enum lk_rx_verdict
in_on(struct th_host *a, uint32_t cpu, uint32_t port, const uint8_t *buf, uint32_t len)
{
	struct lk_frame f = { 0 };

	f.data = buf;
	f.caplen = f.len = len;
	return lk_input(a->sc, cpu, port, &f);
}

/*
 * Counters kept in CPU slots: status sums them, each slot rotates roundrobin on its own, a
 * slot out of range counts as slot 0, and a port index reused after a removal counts from
 * zero although the slots themselves are never reset.
 */
static void
test_counters_per_cpu(void)
{
	struct th_host *a = th_host_new("lagg0", mac_a);
	struct lk_port_status ps0, ps1;
	struct lk_status st;
	uint8_t buf[128];
	struct th_flow fl = { .family = 4, .proto = 17 };
	uint32_t len = th_build(&fl, buf, sizeof(buf)), port;

	th_port_add(a, "em0", GBPS, 1);
	th_port_add(a, "em1", GBPS, 1);
	lk_set_proto(a->sc, LK_PROTO_ROUNDROBIN);
	/* every slot starts its rotation at the first port */
	for (uint32_t cpu = 0; cpu < TH_CPUS; cpu++)
		TH_EQ(out_on(a, cpu, buf, len), 1u);
	TH_EQ(out_on(a, TH_CPUS + 3, buf, len), 2u); /* slot 0's second frame */
	TH_EQ(out_on(a, UINT32_MAX, buf, len), 1u);  /* and its third */
	for (uint32_t cpu = 0; cpu < TH_CPUS; cpu++)
		TH_EQ(in_on(a, cpu, 1, buf, len), LK_RX_ACCEPT);
	TH_EQ(in_on(a, TH_CPUS, 1, buf, len), LK_RX_ACCEPT);
	lk_get_port_status(a->sc, 0, &ps0);
	lk_get_port_status(a->sc, 1, &ps1);
	TH_EQ(ps0.counters.tx_packets, TH_CPUS + 1);
	TH_EQ(ps0.counters.tx_bytes, (TH_CPUS + 1) * len);
	TH_EQ(ps1.counters.tx_packets, 1);
	TH_EQ(ps1.counters.rx_packets, TH_CPUS + 1);
	TH_EQ(ps1.counters.rx_bytes, (TH_CPUS + 1) * len);

	/* em1 leaves; a new port takes index 1 and starts from zero, then counts on any slot */
	TH_EQ(lk_port_remove(a->sc, 1), 0);
	port = th_port_add(a, "em9", GBPS, 1);
	TH_EQ(port, 1);
	lk_get_port_status(a->sc, 1, &ps1);
	TH_EQ(ps1.counters.tx_packets, 0);
	TH_EQ(ps1.counters.tx_bytes, 0);
	TH_EQ(ps1.counters.rx_packets, 0);
	TH_EQ(ps1.counters.rx_bytes, 0);
	TH_EQ(ps1.counters.rx_dropped, 0);
	th_link(a, 1, 0);
	TH_EQ(in_on(a, 3, 1, buf, len), LK_RX_DROP);
	TH_EQ(in_on(a, 5, 1, buf, len), LK_RX_DROP);
	lk_get_port_status(a->sc, 1, &ps1);
	TH_EQ(ps1.counters.rx_dropped, 2);
	TH_EQ(ps1.counters.rx_packets, 0);

	/* no port: each slot counts its own drop, status sums them */
	th_link(a, 0, 0);
	for (uint32_t cpu = 0; cpu < TH_CPUS; cpu++)
		TH_EQ(out_on(a, cpu, buf, len), 0);
	lk_get_status(a->sc, &st);
	TH_EQ(st.out_no_port, TH_CPUS);
}

int
main(void)
{
	th_run("ring wrap", test_ring_wrap);
	th_run("format", test_format);
	th_run("counters", test_counters);
	th_run("counters per CPU slot", test_counters_per_cpu);
	return th_summary();
}
