/*
 * failover: master election (priority, then order added), preemption on and off, rx-all,
 * the aggregate link, and the events a failover leaves behind.
 */
#include "harness.h"

#include <string.h>

static const uint8_t mac_a[6] = { 0x02, 0, 0, 0, 0xa0, 0x10 };
#define GBPS 1000000000ull

static uint32_t
tx_port_of(struct th_host *h)
{
	uint8_t buf[128];
	struct th_flow fl = { .family = 4, .proto = 17, .sport = 1, .dport = 2 };
	uint32_t len = th_build(&fl, buf, sizeof(buf)), m = th_send(h, buf, len);

	return m == 0 ? UINT32_MAX : (uint32_t)__builtin_ctz(m) | (m & (m - 1) ? 0x100u : 0);
}

/* Table: priorities of three ports, which links are up, who must be active. */
struct elect_row {
	const char *name;
	uint16_t prio[3];
	int up[3];
	int32_t want;
};

static const struct elect_row elect_rows[] = {
	{ "default prio: first added wins", { 0, 0, 0 }, { 1, 1, 1 }, 0 },
	{ "lowest prio value wins", { 300, 100, 200 }, { 1, 1, 1 }, 1 },
	{ "tie goes to the older port", { 200, 100, 100 }, { 1, 1, 1 }, 1 },
	{ "master down: next best", { 300, 100, 200 }, { 1, 0, 1 }, 2 },
	{ "only the last is up", { 0, 0, 0 }, { 0, 0, 1 }, 2 },
	{ "none up", { 0, 0, 0 }, { 0, 0, 0 }, -1 },
};

static void
test_elect(const void *arg)
{
	const struct elect_row *r = arg;
	struct th_host *a = th_host_new("lagg0", mac_a);
	const char *names[3] = { "em0", "em1", "em2" };
	struct lk_status st;

	th_note(r->name);
	for (int i = 0; i < 3; i++) {
		uint32_t p = th_port_add(a, names[i], GBPS, 1);
		TH_EQ(p, i);
		if (r->prio[i] != 0)
			TH_EQ(lk_port_set_prio(a->sc, p, r->prio[i]), 0);
	}
	for (int i = 0; i < 3; i++) {
		if (!r->up[i])
			th_link(a, (uint32_t)i, 0);
	}
	lk_get_status(a->sc, &st);
	TH_EQ((int64_t)st.active_port, (int64_t)r->want);
	TH_EQ(st.link_up, r->want >= 0);
	TH_EQ(a->lagg_up, r->want >= 0);
	if (r->want >= 0) {
		TH_EQ(tx_port_of(a), r->want);
		TH_EQ(st.nactive, 1);
		TH_EQ(a->lagg_speed, GBPS);
	} else
		TH_EQ(tx_port_of(a), UINT32_MAX);
}

/* Master fails then recovers; with preemption traffic returns, without it it stays. */
static void
run_recover(int preempt)
{
	struct th_host *a = th_host_new("lagg0", mac_a);
	struct lk_event ev[16];
	char line[96];
	uint32_t n;

	th_port_add(a, "em0", GBPS, 1);
	th_port_add(a, "em1", GBPS, 1);
	TH_EQ(lk_set_opt(a->sc, LK_OPT_FAILOVER_PREEMPT, (uint32_t)preempt), 0);
	TH_EQ(tx_port_of(a), 0);
	th_link(a, 0, 0);
	TH_EQ(tx_port_of(a), 1);
	th_link(a, 0, 1);
	TH_EQ(tx_port_of(a), preempt ? 0u : 1u);

	/* events: the failover from em0 to em1 is in the ring, readable as a sentence */
	n = lk_events_read(a->sc, 0, ev, 16);
	int found = 0, preempted = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (ev[i].type == LK_EV_FAILOVER && ev[i].port == 1 && ev[i].arg == 0) {
			lk_event_format(&ev[i], line, sizeof(line));
			TH_CHECK(strcmp(line, "failover from em0 to em1") == 0);
			found = 1;
		}
		if (ev[i].type == LK_EV_PREEMPTED) {
			lk_event_format(&ev[i], line, sizeof(line));
			TH_CHECK(strcmp(line, "preempted: back from em1 to primary em0") == 0);
			preempted = 1;
		}
	}
	TH_CHECK(found);
	TH_EQ(preempted, preempt);
}

static void
test_preempt_on(void)
{
	run_recover(1);
}
static void
test_preempt_off(void)
{
	run_recover(0);
}

/* Turning preemption back on while the backup carries traffic returns it to the master. */
static void
test_preempt_reenabled(void)
{
	struct th_host *a = th_host_new("lagg0", mac_a);

	th_port_add(a, "em0", GBPS, 1);
	th_port_add(a, "em1", GBPS, 1);
	lk_set_opt(a->sc, LK_OPT_FAILOVER_PREEMPT, 0);
	th_link(a, 0, 0);
	th_link(a, 0, 1);
	TH_EQ(tx_port_of(a), 1);
	lk_set_opt(a->sc, LK_OPT_FAILOVER_PREEMPT, 1);
	TH_EQ(tx_port_of(a), 0);
}

/*
 * Input: every up port with rx-all (the default, as NetBSD's lagg), only the active port
 * without it; rx-all never accepts on a port that is down.
 */
struct rx_row {
	const char *name;
	int rx_all; /* -1: leave the default */
	int up1;
	enum lk_rx_verdict want0, want1;
};

static const struct rx_row rx_rows[] = {
	{ "default: backup accepts", -1, 1, LK_RX_ACCEPT, LK_RX_ACCEPT },
	{ "-rx-all: backup drops", 0, 1, LK_RX_ACCEPT, LK_RX_DROP },
	{ "rx-all: backup accepts", 1, 1, LK_RX_ACCEPT, LK_RX_ACCEPT },
	{ "rx-all: down backup drops", 1, 0, LK_RX_ACCEPT, LK_RX_DROP },
};

static void
test_rx(const void *arg)
{
	const struct rx_row *r = arg;
	struct th_host *a = th_host_new("lagg0", mac_a);
	uint8_t buf[128];
	struct th_flow fl = { .family = 4, .proto = 6, .sport = 80, .dport = 1234 };
	uint32_t len = th_build(&fl, buf, sizeof(buf));
	struct lk_port_status ps;

	th_note(r->name);
	th_port_add(a, "em0", GBPS, 1);
	th_port_add(a, "em1", GBPS, 1);
	if (r->rx_all >= 0)
		TH_EQ(lk_set_opt(a->sc, LK_OPT_FAILOVER_RX_ALL, (uint32_t)r->rx_all), 0);
	if (!r->up1)
		th_link(a, 1, 0);
	TH_EQ(th_receive(a, 0, buf, len), r->want0);
	TH_EQ(th_receive(a, 1, buf, len), r->want1);
	lk_get_port_status(a->sc, 1, &ps);
	TH_EQ(ps.counters.rx_packets, r->want1 == LK_RX_ACCEPT);
	TH_EQ(ps.counters.rx_dropped, r->want1 == LK_RX_DROP);
	TH_EQ(ps.counters.rx_bytes, r->want1 == LK_RX_ACCEPT ? len : 0);
}

/* Removing the active port fails over at once; status flags follow FreeBSD's lagg. */
static void
test_remove_active(void)
{
	struct th_host *a = th_host_new("lagg0", mac_a);
	struct lk_port_status ps;

	th_port_add(a, "em0", GBPS, 1);
	th_port_add(a, "em1", 10 * GBPS, 1);
	lk_get_port_status(a->sc, 0, &ps);
	TH_EQ(ps.flags, LK_PORT_MASTER | LK_PORT_ACTIVE);
	lk_get_port_status(a->sc, 1, &ps);
	TH_EQ(ps.flags, 0);
	TH_EQ(lk_port_remove(a->sc, 0), 0);
	TH_EQ(tx_port_of(a), 1);
	TH_EQ(a->lagg_speed, 10 * GBPS);
	lk_get_port_status(a->sc, 1, &ps);
	TH_EQ(ps.flags, LK_PORT_MASTER | LK_PORT_ACTIVE);
	TH_EQ(lk_port_remove(a->sc, 1), 0);
	TH_EQ(tx_port_of(a), UINT32_MAX);
	TH_EQ(a->lagg_up, 0);
}

int
main(void)
{
	for (size_t i = 0; i < sizeof(elect_rows) / sizeof(elect_rows[0]); i++)
		th_run_case("elect", test_elect, &elect_rows[i]);
	th_run("preempt on", test_preempt_on);
	th_run("preempt off", test_preempt_off);
	th_run("preempt re-enabled", test_preempt_reenabled);
	for (size_t i = 0; i < sizeof(rx_rows) / sizeof(rx_rows[0]); i++)
		th_run_case("rx", test_rx, &rx_rows[i]);
	th_run("remove active", test_remove_active);
	return th_summary();
}
