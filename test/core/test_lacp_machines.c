/*
 * Every transition of every IEEE 802.1AX machine, one system against a scripted partner whose
 * PDUs the test builds by hand, on the simulated clock: Receive, Periodic Transmission,
 * Selection Logic, Mux (coupled control), Transmit (rate limit) and both Churn Detection
 * machines.
 */
#include "test_lacp_util.h"

#define RX(h, i)  (pst(h, i).lacp.rx_state)
#define MUX(h, i) (pst(h, i).lacp.mux_state)
#define PTX(h, i) (pst(h, i).lacp.ptx_state)
#define SEL(h, i) (pst(h, i).lacp.sel_state)

static const struct fake_partner FP = { 0x8000, { 0x02, 0xfa, 0x4e, 0x00, 0x00, 0x01 }, 0x55,
	ST_A | ST_T | ST_G | ST_S | ST_C | ST_D };

/* One LACP system "dut" with n 1G ports, fast timeout unless told otherwise. */
static struct th_host *
dut(uint32_t n, int fast)
{
	struct th_host *h = lacp_host("dut", 0x01);

	lacp_opt(h, LK_OPT_LACP_FAST_TIMEOUT, (uint32_t)fast);
	lacp_ports(h, n, GBPS);
	return h;
}

/* Bring dut's ports [0, n) to COLLECTING_DISTRIBUTING against the fake partner. */
static void
negotiate(struct th_host *h, uint32_t n, const struct fake_partner *fp)
{
	fake_feed(h, n, fp, 4);
	for (uint32_t i = 0; i < n; i++)
		TH_CHECK(is_cd(h, i));
}

/* ---- Receive machine ------------------------------------------------------------------------- */

static void
test_rx_initial_expired_defaulted(void)
{
	struct th_host *h = lacp_host("dut", 0x01);
	uint64_t ev0 = ev_next(h);
	struct lk_port_status st;

	lacp_opt(h, LK_OPT_LACP_FAST_TIMEOUT, 1);
	lacp_ports(h, 1, GBPS);
	/* BEGIN: INITIALIZE -> PORT_DISABLED -> EXPIRED (link is up, full duplex) */
	st = pst(h, 0);
	TH_EQ(st.lacp.rx_state, LK_LACP_RX_EXPIRED);
	TH_CHECK(st.lacp.actor.state & ST_E);
	TH_CHECK(st.lacp.actor.state & ST_F); /* partner from the admin defaults */
	TH_EQ(ev_count(h, LK_EV_LACP_EXPIRED, 0, ev0), 1);
	th_advance(2900);
	TH_EQ(RX(h, 0), LK_LACP_RX_EXPIRED);
	th_advance(100); /* short timeout: 3 s */
	st = pst(h, 0);
	TH_EQ(st.lacp.rx_state, LK_LACP_RX_DEFAULTED);
	TH_CHECK(!(st.lacp.actor.state & ST_E));
	TH_CHECK(st.lacp.actor.state & ST_F);
	TH_EQ(st.lacp.partner.port_no, 0);
	TH_EQ(st.lacp.partner.key, 0);
	TH_EQ(ev_count(h, LK_EV_LACP_DEFAULTED, 0, ev0), 1);
	TH_EQ(st.lacp.sel_state, LK_LACP_UNSELECTED); /* strict: defaulted never selected */
	/* DEFAULTED -> CURRENT on a PDU */
	fake_pdu(h, 0, &FP, 0);
	st = pst(h, 0);
	TH_EQ(st.lacp.rx_state, LK_LACP_RX_CURRENT);
	TH_CHECK(!(st.lacp.actor.state & ST_F));
	TH_EQ(st.lacp.partner.port_no, 100);
	TH_EQ(st.lacp.partner.key, 0x55);
	TH_CHECK(memcmp(st.lacp.partner.sys_mac, FP.mac, 6) == 0);
}

struct rx_timeout_case {
	const char *name;
	int fast;
	uint64_t expire_ms;
};

static const struct rx_timeout_case rx_timeouts[] = {
	{ "fast: current_while 3 s", 1, 3000 },
	{ "slow: current_while 90 s", 0, 90000 },
};

static void
test_rx_current_expires(const void *arg)
{
	const struct rx_timeout_case *c = arg;
	struct th_host *h = dut(1, c->fast);
	uint64_t ev0;

	th_note(c->name);
	fake_pdu(h, 0, &FP, 1);
	TH_EQ(RX(h, 0), LK_LACP_RX_CURRENT);
	ev0 = ev_next(h);
	th_advance(c->expire_ms - 1);
	TH_EQ(RX(h, 0), LK_LACP_RX_CURRENT);
	th_advance(1);
	TH_EQ(RX(h, 0), LK_LACP_RX_EXPIRED);
	TH_EQ(ev_count(h, LK_EV_LACP_EXPIRED, 0, ev0), 1);
	TH_CHECK(pst(h, 0).lacp.partner.state & ST_T); /* EXPIRED asks for fast PDUs */
	TH_CHECK(!(pst(h, 0).lacp.partner.state & ST_S));
	/* EXPIRED -> CURRENT on a PDU */
	fake_pdu(h, 0, &FP, 1);
	TH_EQ(RX(h, 0), LK_LACP_RX_CURRENT);
	TH_CHECK(!(pst(h, 0).lacp.actor.state & ST_E));
	/* EXPIRED -> DEFAULTED always after the short timeout */
	th_advance(c->expire_ms);
	TH_EQ(RX(h, 0), LK_LACP_RX_EXPIRED);
	th_advance(3000);
	TH_EQ(RX(h, 0), LK_LACP_RX_DEFAULTED);
}

static void
test_rx_port_disabled(void)
{
	struct th_host *h = dut(1, 1);

	negotiate(h, 1, &FP);
	th_link(h, 0, 0);
	TH_EQ(RX(h, 0), LK_LACP_RX_PORT_DISABLED);
	TH_CHECK(!(pst(h, 0).lacp.partner.state & ST_S));
	TH_EQ(MUX(h, 0), LK_LACP_MUX_DETACHED); /* unplanned loss: at once */
	TH_EQ(dist_mask(h), 0);
	fake_pdu(h, 0, &FP, 1); /* ignored while disabled */
	TH_EQ(RX(h, 0), LK_LACP_RX_PORT_DISABLED);
	th_link(h, 0, 1);
	TH_EQ(RX(h, 0), LK_LACP_RX_EXPIRED);
	negotiate(h, 1, &FP);
}

static void
test_rx_lacp_disabled(void)
{
	struct th_host *h = lacp_host("dut", 0x01);
	uint64_t t0;

	(void)th_port_add(h, "half0", GBPS, 0);
	TH_EQ(RX(h, 0), LK_LACP_RX_LACP_DISABLED);
	TH_CHECK(!(pst(h, 0).lacp.partner.state & ST_G));
	TH_CHECK(!(pst(h, 0).lacp.actor.state & ST_G));
	t0 = th_now_ns();
	fake_pdu(h, 0, &FP, 0); /* ignored */
	th_advance(10 * SEC);
	TH_EQ(RX(h, 0), LK_LACP_RX_LACP_DISABLED);
	TH_EQ(pdus_sent(h, 0, t0), 0); /* no LACP on a shared medium */
	TH_EQ(SEL(h, 0), LK_LACP_UNSELECTED);
	/* the medium becomes full duplex: LACP_DISABLED -> PORT_DISABLED -> EXPIRED */
	TH_EQ(lk_port_link(h->sc, 0, 1, GBPS, LK_DUPLEX_FULL), LK_OK);
	TH_EQ(RX(h, 0), LK_LACP_RX_EXPIRED);
	TH_CHECK(pst(h, 0).lacp.actor.state & ST_G);
	negotiate(h, 1, &FP);
	/* and back to half duplex: DEFAULTED/CURRENT -> ... -> LACP_DISABLED, out of the LAG */
	TH_EQ(lk_port_link(h->sc, 0, 1, GBPS, LK_DUPLEX_HALF), LK_OK);
	TH_EQ(RX(h, 0), LK_LACP_RX_LACP_DISABLED);
	TH_EQ(dist_mask(h), 0);
}

static void
test_rx_port_moved(void)
{
	struct th_host *h = dut(2, 1);

	fake_pdu_from(h, 0, &FP, 7, 1);
	TH_EQ(RX(h, 0), LK_LACP_RX_CURRENT);
	TH_EQ(pst(h, 0).lacp.partner.port_no, 7);
	th_link(h, 0, 0);
	TH_EQ(RX(h, 0), LK_LACP_RX_PORT_DISABLED);
	TH_EQ(pst(h, 0).lacp.partner.port_no, 7); /* PORT_DISABLED keeps the partner */
	/* partner port 7 now talks to us on port 1: port 0's partner moved away */
	fake_pdu_from(h, 1, &FP, 7, 1);
	th_advance(1);
	TH_EQ(RX(h, 0), LK_LACP_RX_PORT_DISABLED); /* via INITIALIZE */
	TH_EQ(pst(h, 0).lacp.partner.port_no, 0);  /* record default */
	TH_CHECK(pst(h, 0).lacp.actor.state & ST_F);
	TH_EQ(lport(h, 0)->port_moved, 0);
	TH_EQ(RX(h, 1), LK_LACP_RX_CURRENT);
}

/* ---- Periodic Transmission machine ----------------------------------------------------------- */

static void
test_ptx_fast(void)
{
	struct th_host *h = dut(1, 1);
	uint64_t t0;

	/* the default partner asks for the short timeout: FAST_PERIODIC */
	TH_EQ(PTX(h, 0), LK_LACP_PTX_FAST_PERIODIC);
	th_advance(500);
	t0 = th_now_ns();
	th_advance(10 * SEC);
	TH_EQ(pdus_sent(h, 0, t0), 10);
}

static void
test_ptx_slow_and_back(void)
{
	struct th_host *h = dut(1, 0);
	struct fake_partner slow = FP;
	uint64_t t0;

	slow.state &= (uint8_t)~ST_T;
	fake_pdu(h, 0, &slow, 1);
	TH_EQ(PTX(h, 0), LK_LACP_PTX_SLOW_PERIODIC);
	th_advance(3 * SEC); /* NTT from the negotiation settles */
	fake_pdu(h, 0, &slow, 1);
	th_advance(1 * SEC);
	t0 = th_now_ns();
	for (int i = 0; i < 6; i++) { /* 60 s, partner talks every 10 s */
		fake_pdu(h, 0, &slow, 1);
		th_advance(10 * SEC);
	}
	TH_CHECK(pdus_sent(h, 0, t0) >= 2 && pdus_sent(h, 0, t0) <= 3); /* every 30 s */
	TH_EQ(RX(h, 0), LK_LACP_RX_CURRENT);
	/* the partner asks for fast PDUs: PERIODIC_TX at once, then FAST_PERIODIC */
	t0 = th_now_ns();
	fake_pdu(h, 0, &FP, 1);
	TH_EQ(PTX(h, 0), LK_LACP_PTX_FAST_PERIODIC);
	TH_CHECK(pdus_sent(h, 0, t0) >= 1);
	t0 = th_now_ns();
	for (int i = 0; i < 5; i++) {
		fake_pdu(h, 0, &FP, 1);
		th_advance(1 * SEC);
	}
	TH_CHECK(pdus_sent(h, 0, t0) >= 5);
}

struct ptx_mode_case {
	const char *name;
	int passive; /* our mode */
	int partner_active;
	uint8_t want_ptx;
};

static const struct ptx_mode_case ptx_modes[] = {
	{ "active vs passive", 0, 0, LK_LACP_PTX_FAST_PERIODIC },
	{ "passive vs active", 1, 1, LK_LACP_PTX_FAST_PERIODIC },
	{ "passive vs passive", 1, 0, LK_LACP_PTX_NO_PERIODIC },
	{ "active vs active", 0, 1, LK_LACP_PTX_FAST_PERIODIC },
};

static void
test_ptx_modes(const void *arg)
{
	const struct ptx_mode_case *c = arg;
	struct th_host *h = lacp_host("dut", 0x01);
	struct fake_partner fp = FP;
	uint64_t t0;

	th_note(c->name);
	lacp_opt(h, LK_OPT_LACP_PASSIVE, (uint32_t)c->passive);
	lacp_ports(h, 1, GBPS);
	if (c->passive) /* nobody to talk to yet: silent */
		TH_EQ(PTX(h, 0), LK_LACP_PTX_NO_PERIODIC);
	if (!c->partner_active)
		fp.state &= (uint8_t)~ST_A;
	fake_pdu(h, 0, &fp, 0);
	TH_EQ(PTX(h, 0), c->want_ptx);
	t0 = th_now_ns();
	th_advance(5 * SEC);
	if (c->want_ptx == LK_LACP_PTX_NO_PERIODIC)
		TH_EQ(pdus_sent(h, 0, 0), 0);
	else
		TH_CHECK(pdus_sent(h, 0, t0) >= 4);
}

static void
test_ptx_link_down(void)
{
	struct th_host *h = dut(1, 1);
	uint64_t t0;

	th_link(h, 0, 0);
	TH_EQ(PTX(h, 0), LK_LACP_PTX_NO_PERIODIC);
	t0 = th_now_ns() + 1;
	th_advance(5 * SEC);
	TH_EQ(pdus_sent(h, 0, t0), 0);
}

/* ---- Mux machine and Selection Logic --------------------------------------------------------- */

/* The standard's mux, whole Aggregate_Wait_Time included (lacp_full_wait). */
static void
test_mux_sequence(void)
{
	struct th_host *h = dut(1, 1);
	struct fake_partner nosync = FP;
	uint64_t ev0 = ev_next(h);
	struct lk_lacpdu mine;

	lacp_opt(h, LK_OPT_LACP_FULL_WAIT, 1);
	TH_EQ(MUX(h, 0), LK_LACP_MUX_DETACHED);
	nosync.state &= (uint8_t)~(ST_S | ST_C | ST_D);
	fake_pdu(h, 0, &nosync, 1);
	TH_EQ(SEL(h, 0), LK_LACP_SELECTED);
	TH_EQ(ev_count(h, LK_EV_LACP_SELECTED, 0, ev0), 1);
	TH_EQ(MUX(h, 0), LK_LACP_MUX_WAITING); /* aggregate wait 2 s */
	th_advance(1000);
	fake_pdu(h, 0, &nosync, 1);
	th_advance(999);
	TH_EQ(MUX(h, 0), LK_LACP_MUX_WAITING);
	th_advance(1);
	TH_EQ(MUX(h, 0), LK_LACP_MUX_ATTACHED);
	TH_CHECK(last_pdu(h, 0, &mine) && (mine.actor.state & ST_S)); /* NTT on attach */
	TH_CHECK(!(mine.actor.state & (ST_C | ST_D)));
	TH_EQ(dist_mask(h), 0);
	/* partner in sync: COLLECTING_DISTRIBUTING */
	fake_pdu(h, 0, &FP, 1);
	TH_CHECK(is_cd(h, 0));
	TH_EQ(dist_mask(h), 1);
	TH_EQ(ev_count(h, LK_EV_LACP_IN_SYNC, 0, ev0), 1);
	TH_EQ(ev_count(h, LK_EV_LACP_COLLECTING, 0, ev0), 1);
	TH_EQ(ev_count(h, LK_EV_LACP_DISTRIBUTING, 0, ev0), 1);
	th_pump();
	TH_CHECK(last_pdu(h, 0, &mine) && (mine.actor.state & ST_CD) == ST_CD);
	/* partner out of sync: back to ATTACHED */
	ev0 = ev_next(h);
	fake_pdu(h, 0, &nosync, 1);
	TH_EQ(MUX(h, 0), LK_LACP_MUX_ATTACHED);
	TH_EQ(dist_mask(h), 0);
	TH_EQ(ev_count(h, LK_EV_LACP_OUT_OF_SYNC, 0, ev0), 1);
	fake_pdu(h, 0, &FP, 1);
	TH_CHECK(is_cd(h, 0));
	/* the partner's key changes: its LAG ID changed, UNSELECTED, DETACHED, then again */
	ev0 = ev_next(h);
	{
		struct fake_partner rekeyed = FP;

		rekeyed.key = 0x66;
		fake_pdu(h, 0, &rekeyed, 1);
		TH_EQ(ev_count(h, LK_EV_LACP_UNSELECTED, 0, ev0), 1);
		TH_EQ(ev_count(h, LK_EV_LACP_PARTNER_CHANGED, 0, ev0), 1);
		TH_EQ(MUX(h, 0), LK_LACP_MUX_WAITING); /* passed through DETACHED */
		TH_EQ(SEL(h, 0), LK_LACP_SELECTED);
		fake_feed(h, 1, &rekeyed, 3);
		TH_CHECK(is_cd(h, 0));
	}
}

/* Ready: a port whose wait is over still waits for every other port selected with it. */
static void
test_mux_ready_waits_for_all(void)
{
	struct th_host *h = dut(2, 1);
	struct fake_partner ns = FP;

	lacp_opt(h, LK_OPT_LACP_FULL_WAIT, 1);
	/* not in sync: ATTACHED is as far as the mux goes */
	ns.state &= (uint8_t)~(ST_S | ST_C | ST_D);
	fake_pdu(h, 0, &ns, 1);
	TH_EQ(MUX(h, 0), LK_LACP_MUX_WAITING);
	th_advance(1000);
	fake_pdu(h, 0, &ns, 1);
	fake_pdu(h, 1, &ns, 1); /* port 1 selected 1 s later */
	TH_EQ(MUX(h, 1), LK_LACP_MUX_WAITING);
	th_advance(1000); /* port 0's wait_while is over */
	fake_pdu(h, 0, &ns, 1);
	fake_pdu(h, 1, &ns, 1);
	TH_EQ(lport(h, 0)->ready_n, 1);
	TH_EQ(MUX(h, 0), LK_LACP_MUX_WAITING); /* ... but port 1 is not ready */
	th_advance(1000);
	TH_EQ(MUX(h, 0), LK_LACP_MUX_ATTACHED); /* both attach together */
	TH_EQ(MUX(h, 1), LK_LACP_MUX_ATTACHED);
	fake_feed(h, 2, &FP, 1);
	TH_CHECK(is_cd(h, 0) && is_cd(h, 1));
}

/*
 * Default: the aggregate wait ends once every port that can join has been selected. A port
 * with carrier that has not heard its partner yet holds it; the moment it is selected, every
 * waiting port attaches together, well before the 2 s.
 */
static void
test_mux_wait_ends_when_settled(void)
{
	struct th_host *h = dut(2, 1);
	struct fake_partner ns = FP;

	ns.state &= (uint8_t)~(ST_S | ST_C | ST_D);
	fake_pdu(h, 0, &ns, 1);
	TH_EQ(SEL(h, 0), LK_LACP_SELECTED);
	TH_EQ(pst(h, 1).lacp.rx_state, LK_LACP_RX_EXPIRED); /* port 1 could still join */
	th_advance(500);
	TH_EQ(MUX(h, 0), LK_LACP_MUX_WAITING);
	TH_EQ(lport(h, 0)->ready_n, 0);
	fake_pdu(h, 1, &ns, 1); /* ... and now it has */
	TH_EQ(MUX(h, 0), LK_LACP_MUX_ATTACHED);
	TH_EQ(MUX(h, 1), LK_LACP_MUX_ATTACHED);
	fake_pdu(h, 0, &FP, 1);
	fake_pdu(h, 1, &FP, 1);
	TH_CHECK(is_cd(h, 0) && is_cd(h, 1));
	TH_EQ(dist_mask(h), 3);
}

/* Ports that cannot join do not hold the wait: no carrier, or another partner's LAG. */
static void
test_mux_wait_ignores_ports_that_cannot_join(void)
{
	struct th_host *h = dut(3, 1);
	struct fake_partner other = FP;

	th_link(h, 2, 0);
	other.mac[5] ^= 0x55; /* a different partner system */
	fake_pdu(h, 1, &other, 1);
	TH_EQ(pst(h, 1).lacp.rx_state, LK_LACP_RX_CURRENT);
	TH_EQ(MUX(h, 1), LK_LACP_MUX_WAITING); /* alone, it is the best LAG so far */
	/* port 0 hears FP too: equal speed, the current LAG stays; port 0 in another LAG can
	 * never join it, and port 2 has no carrier: port 1's wait ends at once */
	fake_pdu(h, 0, &FP, 1);
	TH_EQ(SEL(h, 0), LK_LACP_UNSELECTED);
	TH_CHECK(is_cd(h, 1)); /* attached, and in sync */
	TH_EQ(MUX(h, 0), LK_LACP_MUX_DETACHED);
}

/* lacp_full_wait: the same arrival order waits the standard's whole 2 s. */
static void
test_mux_full_wait_option(void)
{
	struct th_host *h = dut(2, 1);
	struct fake_partner ns = FP;
	uint32_t v = 0;

	TH_EQ(lk_get_opt(h->sc, LK_OPT_LACP_FULL_WAIT, &v), LK_OK);
	TH_EQ(v, 0); /* off by default */
	TH_EQ(lk_set_opt(h->sc, LK_OPT_LACP_FULL_WAIT, 2), LK_EINVAL);
	lacp_opt(h, LK_OPT_LACP_FULL_WAIT, 1);
	ns.state &= (uint8_t)~(ST_S | ST_C | ST_D);
	fake_pdu(h, 0, &ns, 1);
	fake_pdu(h, 1, &ns, 1); /* every port selected ... */
	TH_EQ(SEL(h, 0), LK_LACP_SELECTED);
	TH_EQ(SEL(h, 1), LK_LACP_SELECTED);
	th_advance(1999);
	TH_EQ(MUX(h, 0), LK_LACP_MUX_WAITING); /* ... still waiting */
	TH_EQ(MUX(h, 1), LK_LACP_MUX_WAITING);
	th_advance(1);
	TH_EQ(MUX(h, 0), LK_LACP_MUX_ATTACHED);
	TH_EQ(MUX(h, 1), LK_LACP_MUX_ATTACHED);
	/* turned off while waiting: a settled aggregate attaches at once */
	th_link(h, 0, 0);
	th_link(h, 0, 1);
	fake_pdu(h, 0, &ns, 1);
	TH_EQ(MUX(h, 0), LK_LACP_MUX_WAITING);
	lacp_opt(h, LK_OPT_LACP_FULL_WAIT, 0);
	TH_EQ(MUX(h, 0), LK_LACP_MUX_ATTACHED);
}

static void
test_sel_greatest_speed(void)
{
	struct th_host *h = lacp_host("dut", 0x01);
	struct fake_partner x = FP, y = FP;

	lacp_opt(h, LK_OPT_LACP_FAST_TIMEOUT, 1);
	(void)th_port_add(h, "ten0", 10 * GBPS, 1); /* port 0: 10G to partner x */
	(void)th_port_add(h, "one1", GBPS, 1);      /* ports 1, 2: 1G to partner y */
	(void)th_port_add(h, "one2", GBPS, 1);
	y.mac[5] = 0x02;
	for (int s = 0; s < 4; s++) {
		fake_pdu(h, 0, &x, 1);
		fake_pdu(h, 1, &y, 1);
		fake_pdu(h, 2, &y, 1);
		th_advance(1 * SEC);
	}
	TH_EQ(SEL(h, 0), LK_LACP_SELECTED); /* 10G beats 2 x 1G */
	TH_EQ(SEL(h, 1), LK_LACP_UNSELECTED);
	TH_EQ(SEL(h, 2), LK_LACP_UNSELECTED);
	TH_EQ(dist_mask(h), 1);
	{
		struct lk_status st;

		TH_EQ(lk_get_status(h->sc, &st), LK_OK);
		TH_CHECK(memcmp(st.lag_partner.sys_mac, x.mac, 6) == 0);
		TH_EQ(st.lag_partner.key, x.key);
		TH_EQ(st.lag_actor.key, pst(h, 0).lacp.actor.key);
	}
	/* the 10G partner goes silent: the 1G LAG takes over */
	for (int s = 0; s < 8; s++) {
		fake_pdu(h, 1, &y, 1);
		fake_pdu(h, 2, &y, 1);
		th_advance(1 * SEC);
	}
	TH_EQ(SEL(h, 0), LK_LACP_UNSELECTED);
	TH_EQ(dist_mask(h), 6);
}

static void
test_sel_equal_speed_ties_stay(void)
{
	struct th_host *h = dut(2, 1);
	struct fake_partner x = FP, y = FP;

	y.mac[5] = 0x02;
	/* y first: its LAG is selected and stays when x's equal LAG appears */
	fake_feed(h, 0, &y, 0);
	for (int s = 0; s < 4; s++) {
		fake_pdu(h, 1, &y, 1);
		th_advance(1 * SEC);
	}
	TH_EQ(SEL(h, 1), LK_LACP_SELECTED);
	for (int s = 0; s < 4; s++) {
		fake_pdu(h, 0, &x, 1);
		fake_pdu(h, 1, &y, 1);
		th_advance(1 * SEC);
	}
	TH_EQ(SEL(h, 1), LK_LACP_SELECTED);
	TH_EQ(SEL(h, 0), LK_LACP_UNSELECTED);
}

struct standby_case {
	const char *name;
	uint16_t our_sys_prio;  /* lower than the partner's 0x8000: our priorities decide */
	uint16_t our_prio1;     /* our port 1's priority (port 0 keeps 32768) */
	uint32_t want_selected; /* port selected with maxports 1 */
};

static const struct standby_case standby_cases[] = {
	{ "equal priorities: lowest port number", 100, 32768, 0 },
	{ "our port 1 preferred, we decide", 100, 10, 1 },
	{ "our port 1 preferred, partner decides", 0xffff, 10, 0 },
};

static void
test_sel_maxports(const void *arg)
{
	const struct standby_case *c = arg;
	struct th_host *h = lacp_host("dut", 0x01);
	uint32_t other = 1 - c->want_selected;
	uint64_t ev0;

	th_note(c->name);
	lacp_opt(h, LK_OPT_LACP_FAST_TIMEOUT, 1);
	lacp_opt(h, LK_OPT_LACP_SYS_PRIO, c->our_sys_prio);
	lacp_opt(h, LK_OPT_LACP_MAXPORTS, 1);
	lacp_ports(h, 2, GBPS);
	TH_EQ(lk_port_set_lacp_prio(h->sc, 1, c->our_prio1), LK_OK);
	ev0 = ev_next(h);
	fake_feed(h, 2, &FP, 4);
	TH_EQ(SEL(h, c->want_selected), LK_LACP_SELECTED);
	TH_EQ(SEL(h, other), LK_LACP_STANDBY);
	TH_CHECK(is_cd(h, c->want_selected));
	TH_EQ(MUX(h, other), LK_LACP_MUX_WAITING);
	TH_CHECK(pst(h, other).flags & LK_PORT_STANDBY);
	TH_CHECK(!(pst(h, c->want_selected).flags & LK_PORT_STANDBY));
	TH_EQ(ev_count(h, LK_EV_LACP_STANDBY, (int)other, ev0), 1);
	TH_EQ(dist_mask(h), 1u << c->want_selected);
	/* raising maxports promotes the standby port */
	lacp_opt(h, LK_OPT_LACP_MAXPORTS, 0);
	fake_feed(h, 2, &FP, 3);
	TH_CHECK(is_cd(h, 0) && is_cd(h, 1));
}

/* ---- Churn Detection machines ---------------------------------------------------------------- */

static void
test_churn(void)
{
	struct th_host *h = dut(1, 1);
	struct fake_partner nosync = FP;
	uint64_t ev0 = ev_next(h);

	TH_EQ(pst(h, 0).lacp.actor_churn, LK_LACP_ACTOR_CHURN_MONITOR);
	TH_EQ(pst(h, 0).lacp.partner_churn, LK_LACP_PARTNER_CHURN_MONITOR);
	nosync.state &= (uint8_t)~(ST_S | ST_C | ST_D);
	fake_feed(h, 1, &nosync, 3);
	/* we attached (actor in sync), the partner never syncs */
	TH_EQ(pst(h, 0).lacp.actor_churn, LK_LACP_NO_ACTOR_CHURN);
	fake_feed(h, 1, &nosync, 55);
	TH_EQ(pst(h, 0).lacp.partner_churn, LK_LACP_PARTNER_CHURN_MONITOR);
	fake_feed(h, 1, &nosync, 3);
	TH_EQ(pst(h, 0).lacp.partner_churn, LK_LACP_PARTNER_CHURN);
	TH_EQ(ev_count(h, LK_EV_LACP_CHURN, 0, ev0), 1);
	fake_feed(h, 1, &FP, 1);
	TH_EQ(pst(h, 0).lacp.partner_churn, LK_LACP_NO_PARTNER_CHURN);
	/* losing sync restarts the monitor */
	fake_pdu(h, 0, &nosync, 1);
	TH_EQ(pst(h, 0).lacp.partner_churn, LK_LACP_PARTNER_CHURN_MONITOR);
}

static void
test_actor_churn_standby(void)
{
	struct th_host *h = lacp_host("dut", 0x01);
	uint64_t ev0;

	lacp_opt(h, LK_OPT_LACP_FAST_TIMEOUT, 1);
	lacp_opt(h, LK_OPT_LACP_MAXPORTS, 1);
	lacp_ports(h, 2, GBPS);
	ev0 = ev_next(h);
	fake_feed(h, 2, &FP, 59);
	TH_EQ(pst(h, 1).lacp.actor_churn, LK_LACP_ACTOR_CHURN_MONITOR);
	fake_feed(h, 2, &FP, 2);
	TH_EQ(pst(h, 1).lacp.actor_churn, LK_LACP_ACTOR_CHURN); /* standby never syncs */
	TH_EQ(pst(h, 0).lacp.actor_churn, LK_LACP_NO_ACTOR_CHURN);
	TH_EQ(ev_count(h, LK_EV_LACP_CHURN, 1, ev0), 1);
	/* link down holds the machine in MONITOR */
	th_link(h, 1, 0);
	TH_EQ(pst(h, 1).lacp.actor_churn, LK_LACP_ACTOR_CHURN_MONITOR);
	th_advance(120 * SEC);
	TH_EQ(pst(h, 1).lacp.actor_churn, LK_LACP_ACTOR_CHURN_MONITOR);
}

/*
 * A partner in sync that stops collecting (its information about us expired: it went back to
 * ATTACHED) gets no more frames on that port; the port keeps collecting, and distributes
 * again as soon as the partner collects again.
 */
static void
test_mux_distribution_follows_partner_collecting(void)
{
	struct th_host *h = dut(2, 1);
	struct fake_partner fp = FP;
	uint64_t ev0, t;

	negotiate(h, 2, &FP);
	TH_EQ(dist_mask(h), 3u);
	ev0 = ev_next(h);
	t = th_now_ns();
	fp.state = (uint8_t)((FP.state & ~(ST_C | ST_D)) | ST_E); /* in sync, not collecting */
	fake_pdu(h, 0, &fp, 1);
	TH_EQ(MUX(h, 0), LK_LACP_MUX_COLLECTING_DISTRIBUTING);
	TH_CHECK(pst(h, 0).flags & LK_PORT_COLLECTING);
	TH_EQ(dist_mask(h), 2u);
	TH_CHECK(!(pst(h, 0).lacp.actor.state & ST_D)); /* and the PDU says so */
	TH_CHECK(pdus_sent(h, 0, t) >= 1);
	TH_EQ(ev_count(h, LK_EV_LACP_DISTRIBUTING, 0, ev0), 1);
	fake_pdu(h, 0, &FP, 1); /* collecting again */
	TH_EQ(dist_mask(h), 3u);
	TH_CHECK(is_cd(h, 0));
}

/* ---- Transmit machine ------------------------------------------------------------------------ */

static void
test_tx_rate_limit(void)
{
	struct th_host *h = dut(1, 0);
	struct fake_partner fp = FP;
	uint32_t n;

	fp.state &= (uint8_t)~ST_T; /* slow partner: no periodic PDU in the way */
	fake_feed(h, 1, &fp, 4);
	th_advance(5 * SEC);
	TH_EQ(PTX(h, 0), LK_LACP_PTX_SLOW_PERIODIC);
	th_tx_clear(h);
	/* 20 PDUs in 200 ms, each describing us wrongly: each one sets NTT */
	for (int i = 0; i < 20; i++) {
		fp.key = (uint16_t)(0x100 + i);
		fake_pdu_from(h, 0, &fp, 100, 0);
		th_advance(10);
	}
	TH_EQ(pdus_sent(h, 0, 0), 3);
	TH_EQ(lport(h, 0)->ntt, 1); /* the rest waits */
	/* the deferred NTT goes out when the window frees, and never 4 in one second */
	th_advance(1 * SEC);
	TH_CHECK(pdus_sent(h, 0, 0) >= 4);
	n = th_tx_count(h, 0);
	for (uint32_t i = 0; i + 3 < n; i++)
		TH_CHECK(th_tx_get(h, 0, i + 3)->t_ns - th_tx_get(h, 0, i)->t_ns >= 1000 * MS);
}

/* Take port 0's link down and, 100 ms later, up again; returns when it came up. */
static uint64_t
relink(struct th_host *h)
{
	uint64_t up;

	th_link(h, 0, 0);
	th_advance(100);
	th_tx_clear(h);
	up = th_now_ns();
	th_link(h, 0, 1);
	return up;
}

/* Use up the transmit window: PDUs that describe us wrongly each set NTT. */
static void
exhaust_tx_window(struct th_host *h, struct fake_partner *fp)
{
	for (int i = 0; i < 4; i++) {
		fp->key = (uint16_t)(0x200 + i);
		fake_pdu_from(h, 0, fp, 100, 0);
		th_advance(10);
	}
	TH_EQ(lport(h, 0)->ntt, 1); /* the window is full: one waits */
}

struct tx_flap_case {
	const char *name;
	int full_wait;
};

static const struct tx_flap_case tx_flap_cases[] = {
	{ "default: a new link gets a new window", 0 },
	{ "lacp_full_wait: the window counts across the flap", 1 },
};

/*
 * A link that flaps within a second of a busy exchange: the PDU that opens the new exchange
 * goes at once by default; lacp_full_wait keeps it behind the three of the last second.
 */
static void
test_tx_window_after_flap(const void *arg)
{
	const struct tx_flap_case *c = arg;
	struct th_host *h = dut(1, 1);
	struct fake_partner fp = FP;
	uint64_t up;

	th_note(c->name);
	lacp_opt(h, LK_OPT_LACP_FULL_WAIT, (uint32_t)c->full_wait);
	negotiate(h, 1, &FP);
	exhaust_tx_window(h, &fp);
	up = relink(h);
	TH_EQ(RX(h, 0), LK_LACP_RX_EXPIRED);
	TH_EQ(pdus_sent(h, 0, up), (c->full_wait ? 0u : 1u));
	th_advance(1000);
	TH_CHECK(pdus_sent(h, 0, up) >= 1);
}

/*
 * Our link never went down (the partner's flap was too short for our kernel to report), but
 * the partner's PDU says its port just expired: its answer goes at once, and only once per
 * expiry, so a partner cannot drive our rate above its own.
 */
static void
test_tx_window_on_partner_expiry(void)
{
	struct th_host *h = dut(1, 1);
	struct fake_partner fp = FP;
	uint64_t t;

	negotiate(h, 1, &FP);
	exhaust_tx_window(h, &fp);
	th_tx_clear(h);
	t = th_now_ns();
	fp.state |= ST_E;
	fp.key = 0x300;
	fake_pdu_from(h, 0, &fp, 100, 0);
	TH_EQ(pdus_sent(h, 0, t), 1u);
	/* still expired, and wrong about us again: within the new window (3 PDUs) */
	fp.key = 0x301;
	fake_pdu_from(h, 0, &fp, 100, 0);
	fp.key = 0x302;
	fake_pdu_from(h, 0, &fp, 100, 0);
	TH_EQ(pdus_sent(h, 0, t), 3u);
	fp.key = 0x303;
	fake_pdu_from(h, 0, &fp, 100, 0);
	TH_EQ(pdus_sent(h, 0, t), 3u); /* no second reset while it stays expired */
	TH_EQ(lport(h, 0)->ntt, 1);
}

/* ---- A new link's first PDU, resent while unanswered ------------------------------------------ */

/* Send times, relative to `since`, of the LACPDUs port 0 sent from then on, in ms. */
static uint32_t
pdu_times_ms(const struct th_host *h, uint64_t since, uint64_t *out, uint32_t max)
{
	uint32_t c = 0, n = th_tx_count(h, 0);

	for (uint32_t i = 0; i < n && c < max; i++) {
		const struct th_frame *f = th_tx_get(h, 0, i);

		if (f->t_ns >= since && lk_slow_subtype(f->data, f->len) == (int)LK_SLOW_SUBTYPE_LACP)
			out[c++] = (f->t_ns - since) / MS;
	}
	return c;
}

struct resend_case {
	const char *name;
	int full_wait;
	uint32_t n;        /* PDUs in the 1.5 s after the link came up, to a silent partner */
	uint64_t at_ms[4]; /* when */
};

static const struct resend_case resend_cases[] = {
	{ "default: again after 20 ms and 200 ms more, then the periodic", 0, 4, { 0, 20, 220, 1000 } },
	{ "lacp_full_wait: the first and the periodic only", 1, 2, { 0, 1000 } },
};

/*
 * A partner that has not yet heard of its own link drops our first PDU: while nothing comes
 * back, it goes twice more, within the three a second, and the periodic one is not delayed.
 */
static void
test_tx_link_up_resends(const void *arg)
{
	const struct resend_case *c = arg;
	struct th_host *h = dut(1, 1);
	uint64_t at[8], up;
	struct lk_lacpdu last;
	uint32_t n;

	th_note(c->name);
	lacp_opt(h, LK_OPT_LACP_FULL_WAIT, (uint32_t)c->full_wait);
	th_advance(5 * SEC); /* DEFAULTED, and the window long free */
	up = relink(h);
	th_advance(1500);
	n = pdu_times_ms(h, up, at, 8);
	TH_EQ(n, c->n);
	for (uint32_t i = 0; i < n && i < 4; i++)
		TH_EQ(at[i], c->at_ms[i]);
	TH_CHECK(last_pdu(h, 0, &last));
	TH_CHECK(last.actor.state & ST_E); /* the same news each time: our port is expired */
	TH_EQ(RX(h, 0), LK_LACP_RX_EXPIRED);
}

/* A partner that answers at once gets no resend. */
static void
test_tx_link_up_answered(void)
{
	struct th_host *h = dut(1, 1);
	struct fake_partner fp = FP;
	uint64_t at[8], up;
	uint32_t n;

	negotiate(h, 1, &FP);
	up = relink(h);
	fp.state = ST_A | ST_T | ST_G | ST_E; /* its link came up too: expired, not yet in sync */
	th_advance(5);
	fake_pdu_from(h, 0, &fp, 100, 1);
	TH_EQ(RX(h, 0), LK_LACP_RX_CURRENT);
	fp.state = FP.state;
	th_advance(1);
	fake_pdu_from(h, 0, &fp, 100, 1);
	TH_CHECK(is_cd(h, 0));
	th_advance(500);
	n = pdu_times_ms(h, up, at, 8);
	for (uint32_t i = 0; i < n; i++) {
		TH_CHECK(at[i] != 20);
		TH_CHECK(at[i] != 220);
	}
	TH_CHECK(n <= 3);
}

struct late_answer_case {
	const char *name;
	uint8_t first_state; /* the partner's first PDU */
};

static const struct late_answer_case late_answer_cases[] = {
	{ "its port has just expired too", ST_A | ST_T | ST_G | ST_E },
	{ "its port never went down (current, not yet in sync)", ST_A | ST_T | ST_G },
};

/*
 * A partner that answers only after both resends (a polled link, Linux bonding's miimon; a guest
 * slow to create its end): the exchange after its first answer needs two PDUs more, and the
 * three the resends used must not hold them back until the window frees a second after the link
 * came up, whether or not the partner's own port just expired.
 */
static void
test_tx_link_up_late_answer(const void *arg)
{
	const struct late_answer_case *c = arg;
	struct th_host *h = dut(1, 1);
	struct fake_partner fp = FP;
	uint64_t up;

	th_note(c->name);
	negotiate(h, 1, &FP);
	up = relink(h);
	th_advance(300);
	TH_EQ(pdus_sent(h, 0, up), 3u);
	fp.state = c->first_state;
	fake_pdu_from(h, 0, &fp, 100, 1);
	th_advance(1);
	fp.state = FP.state;
	fake_pdu_from(h, 0, &fp, 100, 1);
	th_advance(1);
	TH_CHECK(is_cd(h, 0));
	TH_EQ(lport(h, 0)->ntt, 0); /* nothing left waiting for the window */
	TH_CHECK(th_now_ns() - up < 400 * MS);
}

/* Without a resend the window is the standard's: an answer alone does not open a new one. */
static void
test_tx_window_kept_without_resend(void)
{
	struct th_host *h = dut(1, 1);
	struct fake_partner fp = FP;
	uint64_t up;

	negotiate(h, 1, &FP);
	up = relink(h);
	th_advance(5);
	TH_EQ(pdus_sent(h, 0, up), 1u);
	TH_EQ(lport(h, 0)->link_up_resends, 0);
	fp.state = ST_A | ST_T | ST_G; /* current, describing us wrongly: NTT each time */
	for (int i = 0; i < 4; i++) {
		fp.key = (uint16_t)(0x400 + i);
		fake_pdu_from(h, 0, &fp, 100, 0);
		th_advance(1);
	}
	TH_EQ(pdus_sent(h, 0, up), 3u);
	TH_EQ(lport(h, 0)->ntt, 1);
}

static const struct {
	int machine;
	uint8_t state;
	const char *name;
} state_names[] = {
	{ LK_LACP_MACHINE_RX, LK_LACP_RX_CURRENT, "CURRENT" },
	{ LK_LACP_MACHINE_RX, LK_LACP_RX_LACP_DISABLED, "LACP_DISABLED" },
	{ LK_LACP_MACHINE_MUX, LK_LACP_MUX_COLLECTING_DISTRIBUTING, "COLLECTING_DISTRIBUTING" },
	{ LK_LACP_MACHINE_PTX, LK_LACP_PTX_SLOW_PERIODIC, "SLOW_PERIODIC" },
	{ LK_LACP_MACHINE_SEL, LK_LACP_STANDBY, "STANDBY" },
	{ LK_LACP_MACHINE_ACTOR_CHURN, LK_LACP_ACTOR_CHURN, "ACTOR_CHURN" },
	{ LK_LACP_MACHINE_PARTNER_CHURN, LK_LACP_NO_PARTNER_CHURN, "NO_PARTNER_CHURN" },
	{ LK_LACP_MACHINE_RX, 6, "?" },
	{ 9, 0, "?" },
	{ -1, 0, "?" },
};

static void
test_state_names(void)
{
	for (size_t i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++) {
		th_note(state_names[i].name);
		TH_CHECK(strcmp(lk_lacp_state_name(state_names[i].machine, state_names[i].state),
		             state_names[i].name) == 0);
	}
}

static void
test_options_validated(void)
{
	struct th_host *h = lacp_host("dut", 0x01);
	uint32_t v;

	TH_EQ(lk_set_opt(h->sc, LK_OPT_LACP_FAST_TIMEOUT, 2), LK_EINVAL);
	TH_EQ(lk_set_opt(h->sc, LK_OPT_LACP_SYS_PRIO, 65536), LK_EINVAL);
	TH_EQ(lk_set_opt(h->sc, LK_OPT_LACP_MAXPORTS, LK_MAX_PORTS + 1), LK_EINVAL);
	TH_EQ(lk_get_opt(h->sc, LK_OPT_LACP_STRICT, &v), LK_OK);
	TH_EQ(v, 1); /* strict by default */
	TH_EQ(lk_get_opt(h->sc, LK_OPT_LACP_SYS_PRIO, &v), LK_OK);
	TH_EQ(v, 32768);
	lacp_ports(h, 1, GBPS);
	TH_EQ(pst(h, 0).lacp.actor.sys_prio, 32768);
	TH_EQ(pst(h, 0).lacp.actor.key, 1000); /* automatic: 1000 Mb/s */
	TH_EQ(pst(h, 0).lacp.actor.port_no, 1);
	lacp_opt(h, LK_OPT_LACP_SYS_PRIO, 7);
	lacp_opt(h, LK_OPT_LACP_KEY, 0x1234);
	lacp_opt(h, LK_OPT_LACP_FAST_TIMEOUT, 1);
	TH_EQ(pst(h, 0).lacp.actor.sys_prio, 7);
	TH_EQ(pst(h, 0).lacp.actor.key, 0x1234);
	TH_CHECK(pst(h, 0).lacp.actor.state & ST_T);
	TH_EQ(lk_port_set_lacp_prio(h->sc, 0, 99), LK_OK);
	th_advance(1);
	TH_EQ(pst(h, 0).lacp.actor.port_prio, 99);
	/* automatic keys: Mb/s up to 32 Gb/s, Gb/s with bit 15 above */
	lacp_opt(h, LK_OPT_LACP_KEY, 0);
	(void)th_port_add(h, "ten1", 10 * GBPS, 1);
	(void)th_port_add(h, "forty2", 40 * GBPS, 1);
	TH_EQ(pst(h, 1).lacp.actor.key, 10000);
	TH_EQ(pst(h, 2).lacp.actor.key, 0x8000 | 40);
	lacp_opt(h, LK_OPT_LACP_MULTI_SPEED, 1); /* one key for every speed */
	TH_EQ(pst(h, 1).lacp.actor.key, pst(h, 2).lacp.actor.key);
	lacp_opt(h, LK_OPT_LACP_KEY, 0x1234);
	/* options survive a protocol change and back */
	TH_EQ(lk_set_proto(h->sc, LK_PROTO_FAILOVER), LK_OK);
	TH_EQ(lk_set_proto(h->sc, LK_PROTO_LACP), LK_OK);
	TH_EQ(pst(h, 0).lacp.actor.key, 0x1234);
	TH_EQ(pst(h, 0).lacp.actor.sys_prio, 7);
}

int
main(void)
{
	th_run("rx: INITIALIZE, EXPIRED, DEFAULTED, CURRENT", test_rx_initial_expired_defaulted);
	RUN_CASES("rx: CURRENT expires", test_rx_current_expires, rx_timeouts);
	th_run("rx: PORT_DISABLED on link down", test_rx_port_disabled);
	th_run("rx: LACP_DISABLED on half duplex", test_rx_lacp_disabled);
	th_run("rx: port_moved re-initialises", test_rx_port_moved);
	th_run("ptx: FAST_PERIODIC", test_ptx_fast);
	th_run("ptx: SLOW_PERIODIC and PERIODIC_TX", test_ptx_slow_and_back);
	RUN_CASES("ptx: active/passive", test_ptx_modes, ptx_modes);
	th_run("ptx: NO_PERIODIC on link down", test_ptx_link_down);
	th_run("mux: DETACHED WAITING ATTACHED COLLECTING_DISTRIBUTING", test_mux_sequence);
	th_run("mux: Ready waits for every waiting port", test_mux_ready_waits_for_all);
	th_run(
	    "mux: the wait ends once every port that can join is selected", test_mux_wait_ends_when_settled);
	th_run(
	    "mux: ports that cannot join do not hold the wait", test_mux_wait_ignores_ports_that_cannot_join);
	th_run("mux: lacp_full_wait waits the whole Aggregate_Wait_Time", test_mux_full_wait_option);
	th_run("mux: distributing follows the partner's Collecting",
	    test_mux_distribution_follows_partner_collecting);
	th_run("sel: greatest total speed", test_sel_greatest_speed);
	th_run("sel: equal speed keeps the current LAG", test_sel_equal_speed_ties_stay);
	RUN_CASES("sel: maxports and STANDBY", test_sel_maxports, standby_cases);
	th_run("churn: partner churn", test_churn);
	th_run("churn: actor churn on a standby port", test_actor_churn_standby);
	th_run("tx: 3 PDUs per second", test_tx_rate_limit);
	RUN_CASES("tx: the window after a link flap", test_tx_window_after_flap, tx_flap_cases);
	th_run("tx: the window after the partner's port expired", test_tx_window_on_partner_expiry);
	RUN_CASES("tx: a new link's PDU again while unanswered", test_tx_link_up_resends, resend_cases);
	th_run("tx: no resend to a partner that answers", test_tx_link_up_answered);
	RUN_CASES("tx: a late answer is not held back by the resends", test_tx_link_up_late_answer,
	    late_answer_cases);
	th_run("tx: without a resend an answer keeps the window", test_tx_window_kept_without_resend);
	th_run("state names", test_state_names);
	th_run("options", test_options_validated);
	return th_summary();
}
