/*
 * LACP between two or three complete simulated systems wired back to back: negotiation,
 * silent partners, partner change, maxports and STANDBY promotion, active/passive, fast and
 * slow rates, strict and optimistic modes, multi-speed, and the ports that must never
 * aggregate (half duplex, unknown speed). Both ends run this code, so every scenario also
 * checks that the two ends agree.
 */
#include "test_lacp_util.h"

/* Two systems with n ports of the given speed each, port i wired to port i. */
static void
pair(struct th_host **a, struct th_host **b, uint32_t n, uint64_t speed, int fast)
{
	*a = lacp_host("sysA", 0x0a);
	*b = lacp_host("sysB", 0x0b);
	lacp_opt(*a, LK_OPT_LACP_FAST_TIMEOUT, (uint32_t)fast);
	lacp_opt(*b, LK_OPT_LACP_FAST_TIMEOUT, (uint32_t)fast);
	lacp_ports(*a, n, speed);
	lacp_ports(*b, n, speed);
	lacp_wire_n(*a, *b, n);
}

static int
all_cd(const struct th_host *h, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (!is_cd(h, i))
			return 0;
	}
	return 1;
}

/* ---- negotiation ----------------------------------------------------------------------------- */

struct neg_case {
	const char *name;
	uint32_t nports;
	int fast;
};

static const struct neg_case neg_cases[] = {
	{ "2 ports fast", 2, 1 },
	{ "4 ports fast", 4, 1 },
	{ "4 ports slow", 4, 0 },
	{ "8 ports slow", 8, 0 },
};

static void
test_negotiation(const void *arg)
{
	const struct neg_case *c = arg;
	struct th_host *a, *b;
	struct lk_status sa, sb;
	struct th_flow fl;
	uint8_t frame[128];
	uint32_t len, sent = 0;

	th_note(c->name);
	pair(&a, &b, c->nports, GBPS, c->fast);
	th_advance(5 * SEC);
	TH_CHECK(all_cd(a, c->nports));
	TH_CHECK(all_cd(b, c->nports));
	for (uint32_t i = 0; i < c->nports; i++) {
		struct lk_port_status st = pst(a, i);

		TH_EQ(st.lacp.actor.state & ST_CD, ST_CD);
		TH_EQ(st.lacp.partner.state & ST_CD, ST_CD);
		TH_CHECK(!(st.lacp.actor.state & (ST_F | ST_E)));
		TH_EQ(st.lacp.rx_state, LK_LACP_RX_CURRENT);
		TH_EQ(st.lacp.sel_state, LK_LACP_SELECTED);
		TH_EQ(!!(st.lacp.actor.state & ST_T), c->fast);
		TH_EQ(st.lacp.ptx_state, c->fast ? LK_LACP_PTX_FAST_PERIODIC : LK_LACP_PTX_SLOW_PERIODIC);
		TH_CHECK(memcmp(st.lacp.partner.sys_mac, b->sc->lladdr, 6) == 0);
		TH_EQ(st.lacp.partner.port_no, i + 1);
		TH_CHECK(st.lacp.pdus_rx > 0 && st.lacp.pdus_tx > 0);
		TH_EQ(st.lacp.pdus_illegal, 0);
	}
	TH_EQ(lk_get_status(a->sc, &sa), LK_OK);
	TH_EQ(lk_get_status(b->sc, &sb), LK_OK);
	TH_CHECK(memcmp(sa.lag_partner.sys_mac, sb.lag_actor.sys_mac, 6) == 0);
	TH_EQ(sa.lag_partner.key, sb.lag_actor.key);
	TH_EQ(sa.lag_actor.key, 1000);
	TH_CHECK(a->lagg_up);
	TH_EQ(a->lagg_speed, c->nports * GBPS);
	/* data crosses the aggregate and is collected on the other side */
	memset(&fl, 0, sizeof(fl));
	fl.family = 4;
	fl.proto = 17;
	for (uint32_t f = 0; f < 64; f++) {
		fl.sport = (uint16_t)(1000 + f);
		fl.dport = 53;
		fl.src_ip[3] = 1;
		fl.dst_ip[3] = 2;
		len = th_build(&fl, frame, sizeof(frame));
		if (th_send(a, frame, len) != 0)
			sent++;
	}
	TH_EQ(sent, 64);
	{
		uint32_t got = 0, used = 0;

		for (uint32_t i = 0; i < c->nports; i++) {
			got += th_rx_count(b, i);
			used += a->data_tx[i] != 0;
		}
		TH_EQ(got, 64);
		TH_CHECK(used > 1); /* spread over several ports */
	}
}

/*
 * Convergence: every link comes up at once (both ends see carrier together, as on a cable);
 * the simulated time until both ends distribute on every port. By default the aggregate wait
 * ends as soon as both sides have selected every port, so only the PDU exchange is left; with
 * lacp_full_wait on both ends the standard's 2 s Aggregate_Wait_Time comes first.
 */
static uint64_t
converge_ms(uint32_t n, uint32_t full_wait)
{
	struct th_host *a, *b;
	uint64_t t0;

	pair(&a, &b, n, GBPS, 1);
	lacp_opt(a, LK_OPT_LACP_FULL_WAIT, full_wait);
	lacp_opt(b, LK_OPT_LACP_FULL_WAIT, full_wait);
	for (uint32_t i = 0; i < n; i++)
		th_link(a, i, 0);
	th_advance(5 * SEC);
	TH_CHECK(!is_cd(a, 0) && !is_cd(b, 0));
	for (uint32_t i = 0; i < n; i++)
		th_link(a, i, 1);
	t0 = th_now_ns();
	for (int step = 0; step < 1000 && !(all_cd(a, n) && all_cd(b, n)); step++)
		th_advance(5);
	TH_CHECK(all_cd(a, n) && all_cd(b, n));
	return (th_now_ns() - t0) / MS;
}

static void
test_convergence_wait(const void *arg)
{
	uint32_t n = *(const uint32_t *)arg;
	uint64_t fast = converge_ms(n, 0), full = converge_ms(n, 1);

	th_note(n == 2 ? "2 ports" : "4 ports");
	printf("  %u ports: converged in %llu ms, %llu ms with lacp_full_wait\n", n, (unsigned long long)fast,
	    (unsigned long long)full);
	TH_CHECK(fast < 100);                  /* no Aggregate_Wait_Time once all are selected */
	TH_CHECK(full >= 2000 && full < 3000); /* the standard's 2 s, then the exchange */
}

/* ---- silent partner -------------------------------------------------------------------------- */

static void
test_silent_partner(void)
{
	struct th_host *a, *b;
	uint64_t ev0, t_silent;
	int seen_expired = 0;

	pair(&a, &b, 2, GBPS, 1);
	th_advance(5 * SEC);
	TH_CHECK(all_cd(a, 2) && all_cd(b, 2));
	ev0 = ev_next(a);
	th_silence(b, 1, 1);
	t_silent = th_now_ns();
	/* in 100 ms steps: port 0 never stops; port 1 leaves at EXPIRED, then DEFAULTED */
	for (int step = 0; step < 80; step++) {
		th_advance(100);
		TH_CHECK(is_cd(a, 0));
		if (pst(a, 1).lacp.rx_state == LK_LACP_RX_EXPIRED && !seen_expired) {
			seen_expired = 1;
			/* short timeout: within 3 s of the last PDU heard, so at most 3 s of silence */
			TH_CHECK(th_now_ns() - t_silent <= 3000 * MS);
			TH_CHECK(th_now_ns() - t_silent >= 2000 * MS);
			TH_CHECK(!(dist_mask(a) & 2));
			/* and b, which a's PDUs still reach, stops sending where a no longer
			 * collects (not only once a defaults, 3 s later) */
			TH_CHECK(!(dist_mask(b) & 2));
		}
	}
	TH_CHECK(seen_expired);
	TH_EQ(pst(a, 1).lacp.rx_state, LK_LACP_RX_DEFAULTED);
	TH_EQ(pst(a, 1).lacp.sel_state, LK_LACP_UNSELECTED);
	TH_EQ(pst(a, 1).lacp.mux_state, LK_LACP_MUX_DETACHED);
	TH_EQ(ev_count(a, LK_EV_LACP_EXPIRED, 1, ev0), 1);
	TH_EQ(ev_count(a, LK_EV_LACP_DEFAULTED, 1, ev0), 1);
	TH_EQ(ev_count(a, LK_EV_LACP_OUT_OF_SYNC, 1, ev0), 1);
	TH_EQ(ev_count(a, LK_EV_LACP_DISTRIBUTING, 1, ev0), 1);
	TH_EQ(ev_count(a, LK_EV_LACP_EXPIRED, 0, ev0), 0);
	TH_EQ(dist_mask(a), 1);
	/* b still hears a, which now says it is out of sync: b stops distributing there too */
	TH_CHECK(!is_cd(b, 1));
	TH_EQ(dist_mask(b), 1);
	TH_EQ(a->lagg_speed, GBPS);
	/* the partner speaks again: the port rejoins */
	th_silence(b, 1, 0);
	th_advance(5 * SEC);
	TH_CHECK(all_cd(a, 2) && all_cd(b, 2));
}

/* ---- partner change -------------------------------------------------------------------------- */

static void
test_partner_change(void)
{
	struct th_host *a, *b, *c;
	struct lk_status st;
	uint64_t ev0;

	pair(&a, &b, 3, GBPS, 1);
	c = lacp_host("sysC", 0x0c);
	lacp_opt(c, LK_OPT_LACP_FAST_TIMEOUT, 1);
	lacp_ports(c, 2, GBPS);
	th_advance(5 * SEC);
	TH_CHECK(all_cd(a, 3));
	ev0 = ev_next(a);
	/* move a's ports 1 and 2 from b to c: c's LAG (2 Gb/s) beats what is left of b's */
	b->peer[1] = NULL;
	b->peer[2] = NULL;
	th_wire(a, 1, c, 0);
	th_wire(a, 2, c, 1);
	th_advance(8 * SEC);
	TH_EQ(ev_count(a, LK_EV_LACP_PARTNER_CHANGED, 1, ev0), 1);
	TH_EQ(ev_count(a, LK_EV_LACP_PARTNER_CHANGED, 2, ev0), 1);
	TH_CHECK(is_cd(a, 1) && is_cd(a, 2));
	TH_CHECK(is_cd(c, 0) && is_cd(c, 1));
	TH_EQ(pst(a, 0).lacp.sel_state, LK_LACP_UNSELECTED);
	TH_EQ(dist_mask(a), 6);
	TH_EQ(lk_get_status(a->sc, &st), LK_OK);
	TH_CHECK(memcmp(st.lag_partner.sys_mac, c->sc->lladdr, 6) == 0);
	TH_CHECK(memcmp(pst(a, 1).lacp.partner.sys_mac, c->sc->lladdr, 6) == 0);
	/* b is left with one port whose partner no longer syncs with it */
	TH_EQ(dist_mask(b), 0);
}

/* ---- maxports / STANDBY ---------------------------------------------------------------------- */

static void
test_maxports_promotion(void)
{
	struct th_host *a, *b;
	uint64_t ev0;

	a = lacp_host("sysA", 0x0a);
	b = lacp_host("sysB", 0x0b);
	lacp_opt(a, LK_OPT_LACP_FAST_TIMEOUT, 1);
	lacp_opt(b, LK_OPT_LACP_FAST_TIMEOUT, 1);
	lacp_opt(a, LK_OPT_LACP_MAXPORTS, 2);
	lacp_ports(a, 3, GBPS);
	lacp_ports(b, 3, GBPS);
	lacp_wire_n(a, b, 3);
	th_advance(5 * SEC);
	TH_EQ(dist_mask(a), 3);
	TH_EQ(dist_mask(b), 3); /* b agrees: a's standby never syncs */
	TH_EQ(pst(a, 2).lacp.sel_state, LK_LACP_STANDBY);
	TH_CHECK(pst(a, 2).flags & LK_PORT_STANDBY);
	TH_EQ(pst(b, 2).lacp.mux_state, LK_LACP_MUX_ATTACHED);
	TH_EQ(a->lagg_speed, 2 * GBPS);
	/* b notices its partner never syncs on that port: partner churn after 60 s */
	th_advance(61 * SEC);
	TH_EQ(pst(b, 2).lacp.partner_churn, LK_LACP_PARTNER_CHURN);
	TH_EQ(pst(a, 2).lacp.actor_churn, LK_LACP_ACTOR_CHURN);
	TH_EQ(pst(a, 0).lacp.actor_churn, LK_LACP_NO_ACTOR_CHURN);
	/* a distributing port fails: the standby port is promoted */
	ev0 = ev_next(a);
	th_link(a, 0, 0);
	TH_EQ(pst(a, 2).lacp.sel_state, LK_LACP_SELECTED);
	TH_EQ(ev_count(a, LK_EV_LACP_SELECTED, 2, ev0), 1);
	th_advance(1 * SEC);
	TH_EQ(dist_mask(a), 6);
	TH_EQ(dist_mask(b), 6);
	TH_EQ(pst(a, 2).lacp.actor_churn, LK_LACP_NO_ACTOR_CHURN);
	/* it comes back: lowest port number wins again, port 2 goes back to STANDBY */
	th_link(a, 0, 1);
	th_advance(5 * SEC);
	TH_EQ(dist_mask(a), 3);
	TH_EQ(pst(a, 2).lacp.sel_state, LK_LACP_STANDBY);
}

/* ---- active / passive ------------------------------------------------------------------------ */

struct mode_case {
	const char *name;
	int a_passive, b_passive;
	int forms;
};

static const struct mode_case mode_cases[] = {
	{ "active-active", 0, 0, 1 },
	{ "active-passive", 0, 1, 1 },
	{ "passive-active", 1, 0, 1 },
	{ "passive-passive", 1, 1, 0 },
};

static void
test_modes(const void *arg)
{
	const struct mode_case *c = arg;
	struct th_host *a = lacp_host("sysA", 0x0a), *b = lacp_host("sysB", 0x0b);

	th_note(c->name);
	lacp_opt(a, LK_OPT_LACP_PASSIVE, (uint32_t)c->a_passive);
	lacp_opt(b, LK_OPT_LACP_PASSIVE, (uint32_t)c->b_passive);
	lacp_ports(a, 2, GBPS);
	lacp_ports(b, 2, GBPS);
	lacp_wire_n(a, b, 2);
	th_advance(40 * SEC);
	TH_EQ(all_cd(a, 2), c->forms);
	TH_EQ(all_cd(b, 2), c->forms);
	if (!c->forms) {
		TH_EQ(pdus_sent(a, 0, 0) + pdus_sent(b, 0, 0), 0);
		TH_EQ(dist_mask(a), 0);
		TH_CHECK(!a->lagg_up);
	}
	TH_EQ(!!(pst(a, 0).lacp.actor.state & ST_A), !c->a_passive);
}

/* ---- periodic rates -------------------------------------------------------------------------- */

static void
test_rates(void)
{
	struct th_host *a = lacp_host("sysA", 0x0a), *b = lacp_host("sysB", 0x0b);
	uint64_t t0;

	lacp_opt(a, LK_OPT_LACP_FAST_TIMEOUT, 1); /* a asks b for fast PDUs */
	lacp_opt(b, LK_OPT_LACP_FAST_TIMEOUT, 0);
	lacp_ports(a, 1, GBPS);
	lacp_ports(b, 1, GBPS);
	lacp_wire_n(a, b, 1);
	th_advance(10 * SEC);
	TH_CHECK(is_cd(a, 0) && is_cd(b, 0));
	t0 = th_now_ns() + 1; /* (t0, t0 + 60 s] */
	th_advance(60 * SEC);
	TH_EQ(pdus_sent(b, 0, t0), 60);                                 /* fast periodic: 1 s */
	TH_CHECK(pdus_sent(a, 0, t0) >= 2 && pdus_sent(a, 0, t0) <= 3); /* slow: 30 s */
	TH_EQ(pst(a, 0).lacp.ptx_state, LK_LACP_PTX_SLOW_PERIODIC);
	TH_EQ(pst(b, 0).lacp.ptx_state, LK_LACP_PTX_FAST_PERIODIC);
	/* b switches to fast too: a follows at once */
	lacp_opt(b, LK_OPT_LACP_FAST_TIMEOUT, 1);
	th_advance(2 * SEC);
	TH_EQ(pst(a, 0).lacp.ptx_state, LK_LACP_PTX_FAST_PERIODIC);
	t0 = th_now_ns();
	th_advance(10 * SEC);
	TH_CHECK(pdus_sent(a, 0, t0) >= 10 && pdus_sent(a, 0, t0) <= 11);
	TH_CHECK(is_cd(a, 0) && is_cd(b, 0));
}

/* ---- strict / optimistic --------------------------------------------------------------------- */

static void
test_strict_optimistic(const void *arg)
{
	int strict = *(const int *)arg;
	struct th_host *a = lacp_host("sysA", 0x0a);

	th_note(strict ? "strict" : "optimistic");
	lacp_opt(a, LK_OPT_LACP_FAST_TIMEOUT, 1);
	lacp_opt(a, LK_OPT_LACP_STRICT, (uint32_t)strict);
	lacp_ports(a, 2, GBPS); /* a switch that does not speak LACP */
	th_advance(10 * SEC);
	TH_EQ(pst(a, 0).lacp.rx_state, LK_LACP_RX_DEFAULTED);
	if (strict) {
		TH_EQ(dist_mask(a), 0);
		TH_CHECK(!a->lagg_up);
		TH_CHECK(!(pst(a, 0).lacp.partner.state & ST_S));
	} else {
		TH_EQ(dist_mask(a), 3);
		TH_CHECK(a->lagg_up);
		TH_EQ(pst(a, 0).lacp.mux_state, LK_LACP_MUX_COLLECTING_DISTRIBUTING);
		TH_CHECK(pst(a, 0).lacp.partner.state & ST_S);
	}
	/* switching modes takes effect on the defaulted ports at once */
	lacp_opt(a, LK_OPT_LACP_STRICT, (uint32_t)!strict);
	th_advance(3 * SEC);
	TH_EQ(dist_mask(a), strict ? 3u : 0u);
}

/* ---- multi-speed, and ports that never aggregate --------------------------------------------- */

static void
test_multi_speed(const void *arg)
{
	int multi = *(const int *)arg;
	struct th_host *a = lacp_host("sysA", 0x0a), *b = lacp_host("sysB", 0x0b);
	struct th_host *hs[2] = { a, b };

	th_note(multi ? "multi-speed on" : "multi-speed off");
	for (int i = 0; i < 2; i++) {
		lacp_opt(hs[i], LK_OPT_LACP_FAST_TIMEOUT, 1);
		lacp_opt(hs[i], LK_OPT_LACP_MULTI_SPEED, (uint32_t)multi);
		(void)th_port_add(hs[i], "g0", GBPS, 1);
		(void)th_port_add(hs[i], "g1", GBPS, 1);
		(void)th_port_add(hs[i], "x2", 10 * GBPS, 1);
	}
	lacp_wire_n(a, b, 3);
	th_advance(6 * SEC);
	if (multi) {
		TH_EQ(dist_mask(a), 7);
		TH_EQ(dist_mask(b), 7);
		TH_EQ(a->lagg_speed, 12 * GBPS);
	} else {
		/* two candidate LAGs: 2 x 1G and 1 x 10G; the greatest total speed wins */
		TH_EQ(dist_mask(a), 4);
		TH_EQ(dist_mask(b), 4);
		TH_EQ(a->lagg_speed, 10 * GBPS);
		TH_CHECK(pst(a, 0).lacp.actor.key != pst(a, 2).lacp.actor.key);
	}
	/* an administrative key does not merge speeds unless multi-speed is on */
	lacp_opt(a, LK_OPT_LACP_KEY, 77);
	lacp_opt(b, LK_OPT_LACP_KEY, 77);
	th_advance(6 * SEC);
	TH_EQ(pst(a, 0).lacp.actor.key, 77);
	TH_EQ(dist_mask(a), multi ? 7u : 4u);
	/* the 10G link fails: without multi-speed the 1G LAG takes over */
	th_link(a, 2, 0);
	th_advance(4 * SEC);
	TH_EQ(dist_mask(a), 3);
	TH_EQ(dist_mask(b), 3);
}

static void
test_never_aggregate(void)
{
	struct th_host *a = lacp_host("sysA", 0x0a), *b = lacp_host("sysB", 0x0b);
	struct th_host *hs[2] = { a, b };

	for (int i = 0; i < 2; i++) {
		lacp_opt(hs[i], LK_OPT_LACP_FAST_TIMEOUT, 1);
		lacp_opt(hs[i], LK_OPT_LACP_MULTI_SPEED, 1);
		(void)th_port_add(hs[i], "full0", GBPS, 1);
		(void)th_port_add(hs[i], "half1", GBPS, 0);
		(void)th_port_add(hs[i], "nospd2", 0, 1);
	}
	lacp_wire_n(a, b, 3);
	th_advance(10 * SEC);
	TH_EQ(dist_mask(a), 1);
	TH_EQ(dist_mask(b), 1);
	TH_EQ(pst(a, 1).lacp.rx_state, LK_LACP_RX_LACP_DISABLED);
	TH_EQ(pst(a, 2).lacp.sel_state, LK_LACP_UNSELECTED);
	TH_CHECK(!(pst(a, 2).lacp.actor.state & ST_G));     /* Individual */
	TH_EQ(pst(a, 2).lacp.rx_state, LK_LACP_RX_CURRENT); /* it still talks LACP */
	TH_EQ(a->lagg_speed, GBPS);
	/* the unknown-speed port learns its speed: it joins */
	TH_EQ(lk_port_link(a->sc, 2, 1, GBPS, LK_DUPLEX_FULL), LK_OK);
	TH_EQ(lk_port_link(b->sc, 2, 1, GBPS, LK_DUPLEX_FULL), LK_OK);
	th_advance(5 * SEC);
	TH_EQ(dist_mask(a), 5);
	TH_EQ(dist_mask(b), 5);
}

/* Two members of one aggregate cabled to each other never aggregate with themselves. */
static void
test_loopback(void)
{
	struct th_host *a = lacp_host("sysA", 0x0a);
	uint64_t ev0 = ev_next(a);

	lacp_opt(a, LK_OPT_LACP_FAST_TIMEOUT, 1);
	lacp_ports(a, 2, GBPS);
	th_wire(a, 0, a, 1);
	th_advance(10 * SEC);
	TH_EQ(pst(a, 0).lacp.pdus_rx, 0);
	TH_CHECK(pst(a, 0).lacp.pdus_illegal > 0);
	TH_CHECK(ev_count(a, LK_EV_ILLEGAL_PDU, 0, ev0) > 0);
	TH_EQ(pst(a, 0).lacp.rx_state, LK_LACP_RX_DEFAULTED);
	TH_EQ(pst(a, 0).lacp.partner.port_no, 0);
	TH_EQ(dist_mask(a), 0);
}

/* ---- protocol change and removal ------------------------------------------------------------- */

static void
test_proto_switch_and_remove(void)
{
	struct th_host *a, *b;
	uint64_t t0;

	pair(&a, &b, 3, GBPS, 1);
	th_advance(5 * SEC);
	TH_CHECK(all_cd(a, 3));
	/* leaving lacp: nothing more is sent */
	TH_EQ(lk_set_proto(a->sc, LK_PROTO_FAILOVER), LK_OK);
	t0 = th_now_ns() + 1;
	th_advance(10 * SEC);
	TH_EQ(pdus_sent(a, 0, t0) + pdus_sent(a, 1, t0) + pdus_sent(a, 2, t0), 0);
	TH_CHECK(!is_cd(b, 0));
	/* back to lacp: negotiates again */
	TH_EQ(lk_set_proto(a->sc, LK_PROTO_LACP), LK_OK);
	th_advance(5 * SEC);
	TH_CHECK(all_cd(a, 3) && all_cd(b, 3));
	/* removing a port takes it out at once */
	TH_EQ(lk_port_remove(a->sc, 1), LK_OK);
	TH_EQ(dist_mask(a), 5);
	th_advance(10 * SEC);
	TH_EQ(dist_mask(b), 5);
	TH_CHECK(is_cd(a, 0) && is_cd(a, 2));
}

int
main(void)
{
	static const int on = 1, off = 0;
	static const uint32_t two = 2, four = 4;

	RUN_CASES("negotiation", test_negotiation, neg_cases);
	th_run_case("convergence: aggregate wait cut short, or whole", test_convergence_wait, &two);
	th_run_case("convergence: aggregate wait cut short, or whole", test_convergence_wait, &four);
	th_run("silent partner: EXPIRED, DEFAULTED, out of the LAG", test_silent_partner);
	th_run("partner change re-selects", test_partner_change);
	th_run("maxports: STANDBY and promotion", test_maxports_promotion);
	RUN_CASES("active/passive", test_modes, mode_cases);
	th_run("fast and slow periodic rates", test_rates);
	th_run_case("strict/optimistic", test_strict_optimistic, &on);
	th_run_case("strict/optimistic", test_strict_optimistic, &off);
	th_run_case("multi-speed", test_multi_speed, &off);
	th_run_case("multi-speed", test_multi_speed, &on);
	th_run("half duplex and unknown speed never aggregate", test_never_aggregate);
	th_run("protocol switch and port removal", test_proto_switch_and_remove);
	th_run("own PDUs looped back are illegal", test_loopback);
	return th_summary();
}
