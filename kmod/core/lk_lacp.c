/*
 * IEEE 802.1AX Link Aggregation Control Protocol: the Receive, Periodic Transmission,
 * Selection Logic, Mux (coupled control), Transmit and Churn Detection machines, plus the
 * entry points the lacp row of the protocol table calls.
 *
 * Shape. Every machine keeps its state in struct lk_lacp_port with the standard's state names.
 * Entering a state is one function (its entry actions); each machine has one step function
 * that evaluates the transitions out of the current state; external events (a PDU, a link
 * change, a timer) each have one function that changes the variables they own. One pass of
 * lacp_run() steps every machine of every port until nothing moves, then hands the result to
 * the core (events, txmap) and transmits what needs transmitting. Timers are absolute
 * deadlines on lk_core_now(); lacp_run() returns the earliest pending one.
 *
 * Aggregator model. The aggregate interface is one aggregator. Ports whose LAG ID (actor key,
 * partner system and key, and the speed unless multi-speed) is equal form a candidate LAG; the
 * Selection Logic picks the LAG with the greatest total speed (ties keep the current LAG, then
 * the lowest port index) and selects at most maxports of its ports, ordered by the port
 * priorities of whichever system has the better system identifier, as the standard asks so
 * that both ends agree on the STANDBY ports. Every other port is UNSELECTED.
 *
 * Strict and optimistic. Strict mode (default) records a silent partner's defaults with
 * Synchronization clear, so a DEFAULTED port never distributes; optimistic mode defaults the
 * partner to in-sync, collecting and distributing, the way a static LAG behaves (FreeBSD's
 * lacp_strict).
 */
#include "lk_internal.h"

#define ST_ACT  LK_LACP_STATE_ACTIVITY
#define ST_TMO  LK_LACP_STATE_TIMEOUT
#define ST_AGG  LK_LACP_STATE_AGGREGATION
#define ST_SYNC LK_LACP_STATE_SYNC
#define ST_COL  LK_LACP_STATE_COLLECTING
#define ST_DIST LK_LACP_STATE_DISTRIBUTING
#define ST_DEF  LK_LACP_STATE_DEFAULTED
#define ST_EXP  LK_LACP_STATE_EXPIRED

#define LACP_DEFAULT_PORT_PRIO 32768u
#define LACP_MAX_ROUNDS        16 /* machine passes per run; they settle in a few */
#define LACP_MAX_NESTING       2  /* input delivered from inside our own transmit */

static int
timer_expired(uint64_t deadline, uint64_t now)
{
	return deadline != 0 && now >= deadline;
}

static void
timer_min(uint64_t *next, uint64_t deadline)
{
	if (deadline != 0 && deadline < *next)
		*next = deadline;
}

/* ---- Identity helpers ------------------------------------------------------------------------ */

/* Same port identity (system, key, port): what update_Selected and port_moved compare. */
static int
peer_same_port(const struct lk_lacp_peer_info *a, const struct lk_lacp_peer_info *b)
{
	return a->sys_prio == b->sys_prio && a->key == b->key && a->port_prio == b->port_prio &&
	    a->port_no == b->port_no && lk_memcmp(a->sys_mac, b->sys_mac, LK_ETHER_ADDR_LEN) == 0;
}

/* System identifier as one comparable number: priority, then MAC. */
static uint64_t
sys_id(uint16_t prio, const uint8_t mac[LK_ETHER_ADDR_LEN])
{
	uint64_t v = prio;

	for (int i = 0; i < LK_ETHER_ADDR_LEN; i++)
		v = v << 8 | mac[i];
	return v;
}

/*
 * Automatic key: ports of one speed share a key so that only equal speeds aggregate; with
 * multi-speed every aggregatable port shares one key. Speeds are in Mb/s while they fit in 15
 * bits, in Gb/s above (bit 15 set), so keys never collide across the two ranges.
 */
static uint16_t
lacp_auto_key(const struct lk_softc *sc, const struct lk_port *p)
{
	uint64_t mbps = p->speed_bps / 1000000u;

	if (sc->lacp.multi_speed)
		return 1;
	if (mbps <= 0x7fffu)
		return (uint16_t)mbps;
	return (uint16_t)(0x8000u | ((p->speed_bps / 1000000000u) & 0x7fffu));
}

static uint8_t
partner_admin_state(const struct lk_softc *sc)
{
	if (sc->lacp.strict)
		return ST_TMO | ST_AGG;
	return ST_TMO | ST_AGG | ST_SYNC | ST_COL | ST_DIST;
}

/* ---- Selected variable ----------------------------------------------------------------------- */

static void
set_selected(struct lk_softc *sc, struct lk_port *p, uint8_t sel)
{
	static const enum lk_event_type ev[] = {
		[LK_LACP_UNSELECTED] = LK_EV_LACP_UNSELECTED,
		[LK_LACP_SELECTED] = LK_EV_LACP_SELECTED,
		[LK_LACP_STANDBY] = LK_EV_LACP_STANDBY,
	};

	if (p->lacp.selected == sel)
		return;
	p->lacp.selected = sel;
	lk_core_event(sc, ev[sel], p, 0);
}

/* The port's LAG ID changed: leave the aggregator before being selected again. */
static void
unselect_for_reselection(struct lk_softc *sc, struct lk_port *p)
{
	set_selected(sc, p, LK_LACP_UNSELECTED);
	p->lacp.reselect = 1;
}

/* ---- Actor operational values ---------------------------------------------------------------- */

/*
 * The transmit machine sends at most LK_LACP_TX_LIMIT PDUs in any fast periodic interval.
 * A link that comes back opens a new exchange with a partner that heard nothing while it was
 * down; counting the PDUs of the exchange before the loss against it held the first PDU of
 * the new one for up to a second whenever a link flapped within a second of converging (the
 * whole of laggd's convergence time in such a flap, 0.3-0.7 s, against 20 ms otherwise). So
 * the window starts afresh when the port becomes enabled; lacp_full_wait, which asks for the
 * standard's timing throughout, keeps counting across the flap. record_pdu() does the same
 * when the partner says its port has just expired.
 */
static void
tx_window_reset(struct lk_lacp_port *lp)
{
	for (uint32_t i = 0; i < LK_LACP_TX_LIMIT; i++)
		lp->tx_slot_free[i] = 0;
}

/*
 * Recompute what the actor advertises from configuration and media. A change of key or of
 * aggregation ability changes the port's LAG ID, so the port is unselected; any change needs
 * a PDU to tell the partner.
 */
static void
actor_refresh(struct lk_softc *sc, struct lk_port *p)
{
	struct lk_lacp_port *lp = &p->lacp;
	struct lk_lacp_peer_info old = lp->actor;
	uint8_t st = lp->actor.state & (ST_SYNC | ST_COL | ST_DIST | ST_DEF | ST_EXP);
	uint8_t was_enabled = lp->port_enabled;

	lp->port_enabled = lp->member && sc->lacp.attached && p->link_up;
	if (lp->port_enabled && !was_enabled && !sc->lacp.full_wait)
		tx_window_reset(lp);
	lp->lacp_enabled = p->duplex == LK_DUPLEX_FULL;
	lp->aggregatable = lp->lacp_enabled && p->speed_bps != 0;

	lp->actor.sys_prio = sc->lacp.sys_prio;
	lk_memcpy(lp->actor.sys_mac, sc->lacp.sys_mac, LK_ETHER_ADDR_LEN);
	lp->actor.key = sc->lacp.admin_key != 0 ? sc->lacp.admin_key : lacp_auto_key(sc, p);
	lp->actor.port_prio = p->lacp_prio != 0 ? p->lacp_prio : LACP_DEFAULT_PORT_PRIO;
	lp->actor.port_no = (uint16_t)(p->index + 1); /* port number 0 is reserved */
	if (!sc->lacp.passive)
		st |= ST_ACT;
	if (sc->lacp.fast_timeout)
		st |= ST_TMO;
	if (lp->aggregatable)
		st |= ST_AGG;
	lp->actor.state = st;

	if (old.key != lp->actor.key || old.sys_prio != lp->actor.sys_prio ||
	    lk_memcmp(old.sys_mac, lp->actor.sys_mac, LK_ETHER_ADDR_LEN) != 0 ||
	    ((old.state ^ st) & ST_AGG) != 0)
		unselect_for_reselection(sc, p);
	if (lk_memcmp(&old, &lp->actor, sizeof(old)) != 0)
		lp->ntt = 1;
}

/* ---- Receive machine ------------------------------------------------------------------------- */

static void
record_default(struct lk_softc *sc, struct lk_port *p)
{
	struct lk_lacp_port *lp = &p->lacp;

	lk_memset(&lp->partner, 0, sizeof(lp->partner));
	lp->partner.state = partner_admin_state(sc);
	lp->actor.state |= ST_DEF;
}

static void
update_default_selected(struct lk_softc *sc, struct lk_port *p)
{
	struct lk_lacp_peer_info admin;

	lk_memset(&admin, 0, sizeof(admin));
	admin.state = partner_admin_state(sc);
	if (!peer_same_port(&admin, &p->lacp.partner) ||
	    ((admin.state ^ p->lacp.partner.state) & ST_AGG) != 0)
		unselect_for_reselection(sc, p);
}

static void
update_selected(struct lk_softc *sc, struct lk_port *p, const struct lk_lacpdu *pdu)
{
	if (!peer_same_port(&pdu->actor, &p->lacp.partner) ||
	    ((pdu->actor.state ^ p->lacp.partner.state) & ST_AGG) != 0)
		unselect_for_reselection(sc, p);
}

/* The partner's view of us is stale: tell it. */
static void
update_ntt(struct lk_port *p, const struct lk_lacpdu *pdu)
{
	const uint8_t mask = ST_ACT | ST_TMO | ST_AGG | ST_SYNC;

	if (!peer_same_port(&pdu->partner, &p->lacp.actor) ||
	    ((pdu->partner.state ^ p->lacp.actor.state) & mask) != 0)
		p->lacp.ntt = 1;
}

static void
record_pdu(struct lk_softc *sc, struct lk_port *p, const struct lk_lacpdu *pdu)
{
	struct lk_lacp_port *lp = &p->lacp;
	const struct lk_lacp_peer_info *a = &pdu->actor, *pp = &pdu->partner;
	int sync, matched;

	if (lp->seen_partner && !peer_same_port(&lp->last_seen, a))
		lk_core_event(sc, LK_EV_LACP_PARTNER_CHANGED, p, a->port_no);
	lp->last_seen = *a;
	lp->seen_partner = 1;

	/* The partner is in sync with us if it describes us correctly (or is Individual) and
	 * says so, and one of us is active so the link is actually maintained. */
	matched = peer_same_port(pp, &lp->actor) && ((pp->state ^ lp->actor.state) & ST_AGG) == 0;
	sync = (matched || (a->state & ST_AGG) == 0) && (a->state & ST_SYNC) != 0;
	if ((a->state & ST_ACT) == 0 && !((lp->actor.state & ST_ACT) && (pp->state & ST_ACT)))
		sync = 0;
	/* The partner's port just expired: its link came back (or it lost us for a whole
	 * timeout), so this is a new exchange even where our own link never went down to say so
	 * (a flap shorter than the kernel takes to report, on our side). Once per expiry, so a
	 * partner cannot make us send more than one PDU for each of its own. */
	if ((a->state & ST_EXP) != 0 && (lp->partner.state & ST_EXP) == 0 && !sc->lacp.full_wait)
		tx_window_reset(lp);
	lp->partner = *a;
	lp->partner.state = (uint8_t)((a->state & ~ST_SYNC) | (sync ? ST_SYNC : 0));
	lp->actor.state &= (uint8_t)~ST_DEF;
}

/*
 * A new link's first PDU often reaches a partner that has not yet heard of its own link: the
 * carrier rose on both ends at once, and the partner learns of it a few milliseconds later
 * (Open vSwitch drops a PDU that arrives before rtnetlink has told it; Linux bonding's miimon
 * polls). It then answers only its own periodic PDU, up to a second later, and that second is
 * most of the convergence time against such a peer (laggd with Open vSwitch: 600-670 ms,
 * 25-40 ms when the first PDU happened to arrive late enough). So while the Receive machine
 * stays EXPIRED on a link that has just come up, the PDU goes again 20 ms later and 200 ms after
 * that, within the window of three PDUs a second.
 *
 * The exchange that follows the partner's first answer needs up to three PDUs of its own (in
 * sync, then collecting and distributing), and resends that used up the window held the last
 * of them back for a second (laggd between two TCG guests: 1.2-1.5 s in 2 of 6 runs against
 * 230-300 ms). So when resends went out, that first answer opens a fresh window, as a partner's
 * expiry does (record_pdu): the PDUs the partner never heard do not count against the exchange.
 * Once per link that comes up; lacp_full_wait sends only what the standard's machines ask for.
 */
static const uint64_t link_up_resend_ns[LK_LACP_LINK_UP_RESENDS] = { 20 * 1000000ull, 200 * 1000000ull };

/* When the next resend goes, if one is left (link_up_resends have gone so far). */
static void
link_up_resend_arm(struct lk_softc *sc, struct lk_lacp_port *lp, uint64_t now)
{
	lp->link_up_resend = sc->lacp.full_wait || lp->link_up_resends >= LK_LACP_LINK_UP_RESENDS ?
	    0 :
	    now + link_up_resend_ns[lp->link_up_resends];
}

static int
link_up_resend_step(struct lk_softc *sc, struct lk_port *p, uint64_t now)
{
	struct lk_lacp_port *lp = &p->lacp;

	if (lp->link_up_resend == 0 || !timer_expired(lp->link_up_resend, now))
		return 0;
	lp->ntt = 1;
	lp->link_up_resends++;
	link_up_resend_arm(sc, lp, now);
	return 1;
}

static void
rx_enter(struct lk_softc *sc, struct lk_port *p, uint8_t state, uint64_t now)
{
	struct lk_lacp_port *lp = &p->lacp;

	lp->rx_state = state;
	lp->link_up_resend = 0; /* only EXPIRED entered from PORT_DISABLED arms it again */
	lp->link_up_resends = 0;
	switch (state) {
	case LK_LACP_RX_INITIALIZE:
		set_selected(sc, p, LK_LACP_UNSELECTED);
		record_default(sc, p);
		lp->actor.state &= (uint8_t)~ST_EXP;
		lp->port_moved = 0;
		lp->current_while = 0;
		break;
	case LK_LACP_RX_PORT_DISABLED:
		lp->partner.state &= (uint8_t)~ST_SYNC;
		lp->current_while = 0;
		break;
	case LK_LACP_RX_EXPIRED:
		lp->partner.state &= (uint8_t)~ST_SYNC;
		lp->partner.state |= ST_TMO;
		lp->current_while = now + LK_LACP_SHORT_TIMEOUT_NS;
		lp->actor.state |= ST_EXP;
		/* Expired is part of our state and the partner's copy is now stale; on a link that
		 * just came up this PDU opens the exchange at once instead of a periodic later */
		lp->ntt = 1;
		lk_core_event(sc, LK_EV_LACP_EXPIRED, p, 0);
		break;
	case LK_LACP_RX_LACP_DISABLED:
		set_selected(sc, p, LK_LACP_UNSELECTED);
		record_default(sc, p);
		lp->partner.state &= (uint8_t)~ST_AGG;
		lp->actor.state &= (uint8_t)~ST_EXP;
		lp->current_while = 0;
		break;
	case LK_LACP_RX_DEFAULTED:
		update_default_selected(sc, p);
		record_default(sc, p);
		lp->actor.state &= (uint8_t)~ST_EXP;
		lp->current_while = 0;
		lk_core_event(sc, LK_EV_LACP_DEFAULTED, p, 0);
		break;
	default:
		break;
	}
}

/* CURRENT is entered only with a PDU in hand. */
static void
rx_enter_current(struct lk_softc *sc, struct lk_port *p, const struct lk_lacpdu *pdu, uint64_t now)
{
	struct lk_lacp_port *lp = &p->lacp;

	/* the first answer after resends: a fresh window for the exchange (link_up_resend_arm) */
	if (lp->rx_state == LK_LACP_RX_EXPIRED && lp->link_up_resends > 0)
		tx_window_reset(lp);
	lp->rx_state = LK_LACP_RX_CURRENT;
	lp->link_up_resend = 0;
	lp->link_up_resends = 0;
	update_selected(sc, p, pdu);
	update_ntt(p, pdu);
	record_pdu(sc, p, pdu);
	lp->current_while =
	    now + ((lp->actor.state & ST_TMO) ? LK_LACP_SHORT_TIMEOUT_NS : LK_LACP_LONG_TIMEOUT_NS);
	lp->actor.state &= (uint8_t)~ST_EXP;
}

/* Event: a valid LACPDU arrived on p. */
static void
rx_event_pdu(struct lk_softc *sc, struct lk_port *p, const struct lk_lacpdu *pdu, uint64_t now)
{
	struct lk_port *q;

	/* port_moved: the partner port we lost on a disabled port now talks to us elsewhere */
	LK_FOREACH_PORT(sc, q) {
		if (q != p && q->lacp.rx_state == LK_LACP_RX_PORT_DISABLED && q->lacp.partner.port_no != 0 &&
		    peer_same_port(&q->lacp.partner, &pdu->actor))
			q->lacp.port_moved = 1;
	}
	switch (p->lacp.rx_state) {
	case LK_LACP_RX_EXPIRED:
	case LK_LACP_RX_DEFAULTED:
	case LK_LACP_RX_CURRENT:
		if (p->lacp.port_enabled)
			rx_enter_current(sc, p, pdu, now);
		break;
	default:
		break; /* disabled: the standard ignores PDUs here */
	}
}

static int
rx_step(struct lk_softc *sc, struct lk_port *p, uint64_t now)
{
	struct lk_lacp_port *lp = &p->lacp;
	uint8_t s = lp->rx_state;

	if (!lp->port_enabled && !lp->port_moved) {
		if (s == LK_LACP_RX_PORT_DISABLED)
			return 0;
		rx_enter(sc, p, LK_LACP_RX_PORT_DISABLED, now);
		return 1;
	}
	/* the medium stopped being point to point (duplex change without a link flap) */
	if (!lp->lacp_enabled &&
	    (s == LK_LACP_RX_EXPIRED || s == LK_LACP_RX_DEFAULTED || s == LK_LACP_RX_CURRENT)) {
		rx_enter(sc, p, LK_LACP_RX_PORT_DISABLED, now);
		return 1;
	}
	switch (s) {
	case LK_LACP_RX_INITIALIZE:
		rx_enter(sc, p, LK_LACP_RX_PORT_DISABLED, now);
		return 1;
	case LK_LACP_RX_PORT_DISABLED:
		if (lp->port_moved)
			rx_enter(sc, p, LK_LACP_RX_INITIALIZE, now);
		else if (lp->lacp_enabled) { /* port_enabled, by the check above: a new link */
			rx_enter(sc, p, LK_LACP_RX_EXPIRED, now);
			link_up_resend_arm(sc, lp, now);
		} else
			rx_enter(sc, p, LK_LACP_RX_LACP_DISABLED, now);
		return 1;
	case LK_LACP_RX_LACP_DISABLED:
		if (!lp->lacp_enabled)
			return 0;
		rx_enter(sc, p, LK_LACP_RX_PORT_DISABLED, now);
		return 1;
	case LK_LACP_RX_EXPIRED:
		if (!timer_expired(lp->current_while, now))
			return 0;
		rx_enter(sc, p, LK_LACP_RX_DEFAULTED, now);
		return 1;
	case LK_LACP_RX_CURRENT:
		if (!timer_expired(lp->current_while, now))
			return 0;
		rx_enter(sc, p, LK_LACP_RX_EXPIRED, now);
		return 1;
	default:
		return 0; /* DEFAULTED leaves only on a PDU */
	}
}

/* ---- Periodic Transmission machine ----------------------------------------------------------- */

static void
ptx_enter(struct lk_port *p, uint8_t state, uint64_t now)
{
	struct lk_lacp_port *lp = &p->lacp;

	lp->ptx_state = state;
	switch (state) {
	case LK_LACP_PTX_NO_PERIODIC:
		lp->periodic = 0;
		break;
	case LK_LACP_PTX_FAST_PERIODIC:
		lp->periodic = now + LK_LACP_FAST_PERIODIC_NS;
		break;
	case LK_LACP_PTX_SLOW_PERIODIC:
		lp->periodic = now + LK_LACP_SLOW_PERIODIC_NS;
		break;
	case LK_LACP_PTX_PERIODIC_TX:
		lp->ntt = 1;
		lp->periodic = 0;
		break;
	default:
		break;
	}
}

static int
ptx_step(struct lk_port *p, uint64_t now)
{
	struct lk_lacp_port *lp = &p->lacp;
	int partner_short = (lp->partner.state & ST_TMO) != 0;
	/* nobody needs periodic PDUs when both ends are passive */
	int off = !lp->port_enabled || !lp->lacp_enabled ||
	    ((lp->actor.state & ST_ACT) == 0 && (lp->partner.state & ST_ACT) == 0);

	if (off) {
		if (lp->ptx_state == LK_LACP_PTX_NO_PERIODIC)
			return 0;
		ptx_enter(p, LK_LACP_PTX_NO_PERIODIC, now);
		return 1;
	}
	switch (lp->ptx_state) {
	case LK_LACP_PTX_NO_PERIODIC:
		ptx_enter(p, LK_LACP_PTX_FAST_PERIODIC, now);
		return 1;
	case LK_LACP_PTX_FAST_PERIODIC:
		if (!partner_short)
			ptx_enter(p, LK_LACP_PTX_SLOW_PERIODIC, now);
		else if (timer_expired(lp->periodic, now))
			ptx_enter(p, LK_LACP_PTX_PERIODIC_TX, now);
		else
			return 0;
		return 1;
	case LK_LACP_PTX_SLOW_PERIODIC:
		if (!partner_short && !timer_expired(lp->periodic, now))
			return 0;
		ptx_enter(p, LK_LACP_PTX_PERIODIC_TX, now);
		return 1;
	case LK_LACP_PTX_PERIODIC_TX:
		ptx_enter(p, partner_short ? LK_LACP_PTX_FAST_PERIODIC : LK_LACP_PTX_SLOW_PERIODIC, now);
		return 1;
	default:
		return 0;
	}
}

/* ---- Selection Logic ------------------------------------------------------------------------- */

/* May p be part of an aggregate at all? */
static int
sel_candidate(const struct lk_softc *sc, const struct lk_port *p)
{
	const struct lk_lacp_port *lp = &p->lacp;

	if (!lp->port_enabled || !lp->aggregatable || (lp->partner.state & ST_AGG) == 0)
		return 0;
	if (lp->rx_state != LK_LACP_RX_CURRENT && lp->rx_state != LK_LACP_RX_EXPIRED &&
	    lp->rx_state != LK_LACP_RX_DEFAULTED)
		return 0;
	/* partner values from the defaults: only optimistic mode may ever distribute on them */
	return (lp->actor.state & ST_DEF) == 0 || !sc->lacp.strict;
}

static int
sel_same_lag(const struct lk_softc *sc, const struct lk_port *a, const struct lk_port *b)
{
	const struct lk_lacp_peer_info *pa = &a->lacp.partner, *pb = &b->lacp.partner;

	return a->lacp.actor.key == b->lacp.actor.key && pa->key == pb->key && pa->sys_prio == pb->sys_prio &&
	    lk_memcmp(pa->sys_mac, pb->sys_mac, LK_ETHER_ADDR_LEN) == 0 &&
	    (sc->lacp.multi_speed || a->speed_bps == b->speed_bps);
}

static int
sel_is_current_lag(const struct lk_softc *sc, const struct lk_port *p)
{
	const struct lk_lacp_softc *ls = &sc->lacp;
	const struct lk_lacp_peer_info *pp = &p->lacp.partner;

	return ls->lag_valid && p->lacp.actor.key == ls->lag_key && pp->key == ls->lag_partner.key &&
	    pp->sys_prio == ls->lag_partner.sys_prio &&
	    lk_memcmp(pp->sys_mac, ls->lag_partner.sys_mac, LK_ETHER_ADDR_LEN) == 0 &&
	    (ls->multi_speed || p->speed_bps == ls->lag_speed);
}

/*
 * Rank for STANDBY decisions: the port priority and number of whichever system has the better
 * (lower) system identifier, so both ends of the link choose the same active ports.
 */
static uint32_t
sel_rank(const struct lk_port *p)
{
	const struct lk_lacp_peer_info *a = &p->lacp.actor, *pp = &p->lacp.partner;

	if (sys_id(a->sys_prio, a->sys_mac) <= sys_id(pp->sys_prio, pp->sys_mac))
		return (uint32_t)a->port_prio << 16 | a->port_no;
	return (uint32_t)pp->port_prio << 16 | pp->port_no;
}

static int
sel_step(struct lk_softc *sc)
{
	struct lk_lacp_softc *ls = &sc->lacp;
	struct lk_port *p;
	uint8_t order[LK_MAX_PORTS];
	uint32_t cand = 0, best_members = 0, n, limit;
	uint64_t best_speed = 0;
	int best = -1, best_current = 0, changed = 0;
	uint8_t want[LK_MAX_PORTS];

	LK_FOREACH_PORT(sc, p) {
		if (sel_candidate(sc, p))
			cand |= LK_PORT_BIT(p->index);
	}
	limit = ls->maxports != 0 ? ls->maxports : LK_MAX_PORTS;

	/* Each LAG is named by its lowest-index port (the leader); score every LAG. */
	for (uint32_t lead = 0; lead < LK_MAX_PORTS; lead++) {
		uint32_t members = 0;
		uint64_t speed = 0;
		int is_current;

		if ((cand & LK_PORT_BIT(lead)) == 0)
			continue;
		for (uint32_t i = lead; i < LK_MAX_PORTS; i++) {
			if ((cand & LK_PORT_BIT(i)) != 0 && sel_same_lag(sc, &sc->ports[lead], &sc->ports[i]))
				members |= LK_PORT_BIT(i);
		}
		cand &= ~members;
		/* the LAG's worth is what it can carry: its maxports best ports */
		n = 0;
		for (uint32_t m = members; m != 0; m &= m - 1)
			order[n++] = (uint8_t)__builtin_ctz(m);
		for (uint32_t i = 1; i < n; i++) { /* insertion sort by rank */
			uint8_t v = order[i];
			uint32_t j = i;

			while (j > 0 && sel_rank(&sc->ports[order[j - 1]]) > sel_rank(&sc->ports[v])) {
				order[j] = order[j - 1];
				j--;
			}
			order[j] = v;
		}
		for (uint32_t i = 0; i < n && i < limit; i++)
			speed += sc->ports[order[i]].speed_bps;
		is_current = sel_is_current_lag(sc, &sc->ports[lead]);
		if (best < 0 || speed > best_speed || (speed == best_speed && is_current && !best_current)) {
			best = (int)lead;
			best_speed = speed;
			best_current = is_current;
			best_members = members;
			for (uint32_t i = 0; i < n; i++)
				want[i] = order[i];
			for (uint32_t i = n; i < LK_MAX_PORTS; i++)
				want[i] = 0xff;
		}
	}

	LK_FOREACH_PORT(sc, p) {
		uint8_t sel = LK_LACP_UNSELECTED;

		if ((best_members & LK_PORT_BIT(p->index)) != 0) {
			for (uint32_t i = 0; i < LK_MAX_PORTS && want[i] != 0xff; i++) {
				if (want[i] == p->index) {
					sel = i < limit ? LK_LACP_SELECTED : LK_LACP_STANDBY;
					break;
				}
			}
		}
		/* a port whose LAG ID changed rejoins only after its mux has detached */
		if (p->lacp.reselect) {
			if (p->lacp.mux_state != LK_LACP_MUX_DETACHED)
				sel = LK_LACP_UNSELECTED;
			else
				p->lacp.reselect = 0;
		}
		if (p->lacp.selected != sel) {
			set_selected(sc, p, sel);
			changed = 1;
		}
	}

	if (best >= 0) {
		p = &sc->ports[best];
		ls->lag_valid = 1;
		ls->lag_key = p->lacp.actor.key;
		ls->lag_partner = p->lacp.partner;
		ls->lag_partner.port_prio = 0;
		ls->lag_partner.port_no = 0;
		ls->lag_speed = p->speed_bps;
	} else {
		ls->lag_valid = 0;
	}
	return changed;
}

/* ---- Mux machine (coupled control) ----------------------------------------------------------- */

static void
mux_enter(struct lk_port *p, uint8_t state, uint64_t now)
{
	struct lk_lacp_port *lp = &p->lacp;

	lp->mux_state = state;
	switch (state) {
	case LK_LACP_MUX_DETACHED:
		lp->in_agg = 0;
		lp->actor.state &= (uint8_t)~(ST_SYNC | ST_COL | ST_DIST);
		lp->wait_while = 0;
		lp->ntt = 1;
		break;
	case LK_LACP_MUX_WAITING:
		lp->wait_while = now + LK_LACP_AGGREGATE_WAIT_NS;
		lp->ready_n = 0;
		break;
	case LK_LACP_MUX_ATTACHED:
		lp->in_agg = 1;
		lp->wait_while = 0;
		lp->actor.state |= ST_SYNC;
		lp->actor.state &= (uint8_t)~(ST_COL | ST_DIST);
		lp->ntt = 1;
		break;
	case LK_LACP_MUX_COLLECTING_DISTRIBUTING:
		lp->flushed = 0;
		lp->actor.state |= ST_SYNC | ST_COL;
		if (lp->partner.state & ST_COL)
			lp->actor.state |= ST_DIST;
		lp->ntt = 1;
		break;
	default:
		break;
	}
}

/*
 * May the aggregate wait end before wait_while expires? Aggregate_Wait_Time exists so that
 * ports coming up together are all selected before any of them attaches, and selection does
 * not move an aggregator it has just chosen. Once every port that could still join has heard
 * its partner and been through selection, the rest of the wait can bring nothing that changes
 * the outcome, so it ends there, unless full_wait asks for the standard's whole 2 s.
 * A port could still join while it is enabled, runs LACP, and either has not heard its
 * partner yet (rx not past EXPIRED) or waits for its mux to detach before being selected
 * again. A DEFAULTED port has been silent for a whole timeout and may stay so for good; a
 * CURRENT port that is not selected belongs to another LAG, which waiting does not change.
 */
static int
mux_wait_settled(const struct lk_softc *sc)
{
	const struct lk_port *q;

	if (sc->lacp.full_wait)
		return 0;
	LK_FOREACH_PORT(sc, q) {
		const struct lk_lacp_port *lq = &q->lacp;

		if (!lq->port_enabled || !lq->lacp_enabled)
			continue;
		if (lq->rx_state != LK_LACP_RX_CURRENT && lq->rx_state != LK_LACP_RX_DEFAULTED)
			return 0;
		if (lq->reselect)
			return 0;
	}
	return 1;
}

/* Ready: every port selected for the aggregator and waiting has seen its wait_while expire. */
static int
mux_ready(const struct lk_softc *sc)
{
	const struct lk_port *q;

	LK_FOREACH_PORT(sc, q) {
		if (q->lacp.selected == LK_LACP_SELECTED && q->lacp.mux_state == LK_LACP_MUX_WAITING &&
		    !q->lacp.ready_n)
			return 0;
	}
	return 1;
}

static int
mux_step(struct lk_softc *sc, struct lk_port *p, uint64_t now)
{
	struct lk_lacp_port *lp = &p->lacp;
	int partner_sync = (lp->partner.state & ST_SYNC) != 0;

	switch (lp->mux_state) {
	case LK_LACP_MUX_DETACHED:
		if (lp->selected == LK_LACP_UNSELECTED)
			return 0;
		mux_enter(p, LK_LACP_MUX_WAITING, now);
		return 1;
	case LK_LACP_MUX_WAITING:
		if (lp->selected == LK_LACP_UNSELECTED) {
			mux_enter(p, LK_LACP_MUX_DETACHED, now);
			return 1;
		}
		if (!lp->ready_n && (timer_expired(lp->wait_while, now) || mux_wait_settled(sc))) {
			lp->ready_n = 1;
			lp->wait_while = 0;
			return 1;
		}
		if (lp->selected != LK_LACP_SELECTED || !lp->ready_n || !mux_ready(sc))
			return 0;
		mux_enter(p, LK_LACP_MUX_ATTACHED, now);
		return 1;
	case LK_LACP_MUX_ATTACHED:
		if (lp->selected != LK_LACP_SELECTED)
			mux_enter(p, LK_LACP_MUX_DETACHED, now);
		else if (partner_sync)
			mux_enter(p, LK_LACP_MUX_COLLECTING_DISTRIBUTING, now);
		else
			return 0;
		return 1;
	case LK_LACP_MUX_COLLECTING_DISTRIBUTING:
		if (lp->selected == LK_LACP_SELECTED && partner_sync) {
			/*
			 * Coupled control collects and distributes together, but a frame is only worth
			 * sending to a partner that says it collects. One whose partner information
			 * expired (our PDUs to it lost) goes back to ATTACHED: still in sync, no longer
			 * collecting; a coupled-control sender that looks only at Sync would go on
			 * sending it every frame of this port's flows until its port defaulted, 3 s
			 * with fast timeouts. So distributing also follows the partner's Collecting,
			 * as the standard's independent control has it; collecting never waits.
			 */
			uint8_t dist = (lp->partner.state & ST_COL) ? ST_DIST : 0;

			if ((lp->actor.state & ST_DIST) == dist)
				return 0;
			lp->actor.state = (uint8_t)((lp->actor.state & ~ST_DIST) | dist);
			lp->ntt = 1;
			return 1;
		}
		/* Going to STANDBY is a planned move: the port stays collecting and distributing
		 * its own flows behind a marker until the partner answers or the flush times out,
		 * while every other flow keeps going (marker policy). Losses move at once. */
		if (lp->selected == LK_LACP_STANDBY && lp->port_enabled && partner_sync && !lp->flushed) {
			if (lp->draining)
				return 0;
			lk_marker_flush_start(sc, p, now);
			return 1;
		}
		mux_enter(p, LK_LACP_MUX_ATTACHED, now);
		return 1;
	default:
		return 0;
	}
}

/* ---- Churn Detection machines ---------------------------------------------------------------- */

static int
churn_step(struct lk_softc *sc, struct lk_port *p, uint64_t now, int partner)
{
	struct lk_lacp_port *lp = &p->lacp;
	uint8_t *state = partner ? &lp->partner_churn_state : &lp->actor_churn_state;
	uint64_t *timer = partner ? &lp->partner_churn_timer : &lp->actor_churn_timer;
	int sync = ((partner ? lp->partner.state : lp->actor.state) & ST_SYNC) != 0;
	/* the three states have the same numbers in both machines */
	const uint8_t none = LK_LACP_NO_ACTOR_CHURN, monitor = LK_LACP_ACTOR_CHURN_MONITOR,
	              churn = LK_LACP_ACTOR_CHURN;

	if (!lp->port_enabled) {
		/* held in MONITOR; the 60 s start when the port is enabled again */
		if (*state == monitor && *timer == 0)
			return 0;
		*state = monitor;
		*timer = 0;
		return 1;
	}
	switch (*state) {
	case LK_LACP_ACTOR_CHURN_MONITOR:
		if (sync) {
			*state = none;
			*timer = 0;
		} else if (*timer == 0) {
			*timer = now + LK_LACP_CHURN_NS;
		} else if (timer_expired(*timer, now)) {
			*state = churn;
			*timer = 0;
			lk_core_event(sc, LK_EV_LACP_CHURN, p, partner);
		} else {
			return 0;
		}
		return 1;
	case LK_LACP_NO_ACTOR_CHURN:
		if (sync)
			return 0;
		*state = monitor;
		*timer = now + LK_LACP_CHURN_NS;
		return 1;
	case LK_LACP_ACTOR_CHURN:
		if (!sync)
			return 0;
		*state = none;
		return 1;
	default:
		return 0;
	}
}

/* ---- Transmit machine ------------------------------------------------------------------------ */

/* At most LK_LACP_TX_LIMIT PDUs per fast periodic interval; returns when the next may go. */
static uint64_t
tx_step(struct lk_softc *sc, struct lk_port *p, uint64_t now)
{
	struct lk_lacp_port *lp = &p->lacp;
	struct lk_lacpdu pdu;
	uint8_t frame[LK_SLOW_FRAME_LEN];
	uint64_t slot;

	if (!lp->ntt || !lp->port_enabled || !lp->lacp_enabled || lp->ptx_state == LK_LACP_PTX_NO_PERIODIC)
		return 0;
	slot = lp->tx_slot_free[lp->tx_head];
	if (now < slot)
		return slot;
	lk_memset(&pdu, 0, sizeof(pdu));
	pdu.actor = lp->actor;
	pdu.partner = lp->partner;
	if (lk_lacp_pdu_encode(frame, sizeof(frame), p->lladdr, &pdu) == 0)
		return 0;
	lp->ntt = 0;
	lp->tx_slot_free[lp->tx_head] = now + LK_LACP_FAST_PERIODIC_NS;
	lp->tx_head = (lp->tx_head + 1) % LK_LACP_TX_LIMIT;
	if (lk_core_ctl_tx(sc, p, frame, LK_SLOW_FRAME_LEN) == LK_OK)
		lp->pdus_tx++;
	return 0;
}

/* ---- The run loop ---------------------------------------------------------------------------- */

/* Report what changed since the last run as events and, for the data path, a txmap rebuild. */
static void
publish(struct lk_softc *sc)
{
	struct lk_port *p;
	int dirty = 0;

	LK_FOREACH_PORT(sc, p) {
		struct lk_lacp_port *lp = &p->lacp;
		uint8_t sync = (lp->partner.state & ST_SYNC) != 0;
		uint8_t col = (lp->actor.state & ST_COL) != 0;
		uint8_t dist = (lp->actor.state & ST_DIST) != 0;
		uint8_t pcol = (uint8_t)lk_lacp_port_collecting(sc, p);
		uint8_t pdist = (uint8_t)lk_lacp_port_distributing(sc, p);

		if (sync != lp->ev_sync)
			lk_core_event(sc, sync ? LK_EV_LACP_IN_SYNC : LK_EV_LACP_OUT_OF_SYNC, p, 0);
		if (col != lp->ev_coll)
			lk_core_event(sc, LK_EV_LACP_COLLECTING, p, col);
		if (dist != lp->ev_dist)
			lk_core_event(sc, LK_EV_LACP_DISTRIBUTING, p, dist);
		lp->ev_sync = sync;
		lp->ev_coll = col;
		lp->ev_dist = dist;
		if (pcol != lp->pub_coll || pdist != lp->pub_dist)
			dirty = 1;
		lp->pub_coll = pcol;
		lp->pub_dist = pdist;
	}
	if (dirty)
		lk_core_txmap_dirty(sc);
}

/*
 * Step every machine until nothing moves, publish, transmit; returns the next deadline.
 * Input may arrive re-entrantly from inside our own transmit (a host that delivers frames
 * synchronously); the nested run is complete on its own, and past LACP_MAX_NESTING the
 * transmit waits for the next tick instead of ping-ponging deeper.
 */
static uint64_t
lacp_run(struct lk_softc *sc, uint64_t now)
{
	struct lk_port *p;
	uint64_t next = UINT64_MAX;
	int changed;

	if (!sc->lacp.attached)
		return UINT64_MAX;
	sc->lacp.running++;
	LK_FOREACH_PORT(sc, p)
		actor_refresh(sc, p);
	for (int round = 0; round < LACP_MAX_ROUNDS; round++) {
		changed = 0;
		LK_FOREACH_PORT(sc, p) {
			changed |= rx_step(sc, p, now);
			changed |= link_up_resend_step(sc, p, now);
			changed |= ptx_step(p, now);
		}
		changed |= sel_step(sc);
		LK_FOREACH_PORT(sc, p) {
			changed |= mux_step(sc, p, now);
			changed |= churn_step(sc, p, now, 0);
			changed |= churn_step(sc, p, now, 1);
			changed |= lk_marker_tick(sc, p, now);
		}
		if (!changed)
			break;
	}
	publish(sc);
	LK_FOREACH_PORT(sc, p) {
		struct lk_lacp_port *lp = &p->lacp;

		if (sc->lacp.running <= LACP_MAX_NESTING)
			timer_min(&next, tx_step(sc, p, now));
		else if (lp->ntt)
			timer_min(&next, now > 0 ? now : 1);
		timer_min(&next, lp->current_while);
		timer_min(&next, lp->periodic);
		timer_min(&next, lp->link_up_resend);
		if (lp->mux_state == LK_LACP_MUX_WAITING && !lp->ready_n)
			timer_min(&next, lp->wait_while);
		timer_min(&next, lp->actor_churn_timer);
		timer_min(&next, lp->partner_churn_timer);
		if (lp->draining)
			timer_min(&next, lp->marker_deadline);
	}
	sc->lacp.running--;
	return next;
}

static void
lacp_run_and_schedule(struct lk_softc *sc)
{
	uint64_t next = lacp_run(sc, lk_core_now(sc));

	if (next != UINT64_MAX)
		lk_core_schedule(sc, next);
}

/* ---- Entry points ---------------------------------------------------------------------------- */

void
lk_lacp_attach(struct lk_softc *sc)
{
	sc->lacp.attached = 1;
	sc->lacp.lag_valid = 0;
}

static void
port_reset(struct lk_port *p)
{
	struct lk_lacp_port *lp = &p->lacp;

	/* everything before the counters */
	lk_memset(lp, 0, __builtin_offsetof(struct lk_lacp_port, pdus_rx));
	lp->rx_state = LK_LACP_RX_INITIALIZE;
	lp->mux_state = LK_LACP_MUX_DETACHED;
	lp->ptx_state = LK_LACP_PTX_NO_PERIODIC;
	lp->selected = LK_LACP_UNSELECTED;
	lp->actor_churn_state = LK_LACP_ACTOR_CHURN_MONITOR;
	lp->partner_churn_state = LK_LACP_PARTNER_CHURN_MONITOR;
}

void
lk_lacp_detach(struct lk_softc *sc)
{
	struct lk_port *p;

	sc->lacp.attached = 0;
	sc->lacp.lag_valid = 0;
	LK_FOREACH_PORT(sc, p) {
		uint8_t member = p->lacp.member;

		port_reset(p);
		p->lacp.member = member;
	}
}

int
lk_lacp_port_add(struct lk_softc *sc, struct lk_port *p)
{
	port_reset(p);
	p->lacp.member = 1;
	actor_refresh(sc, p);
	/* BEGIN: the receive machine initialises the partner from the administrative defaults */
	rx_enter(sc, p, LK_LACP_RX_INITIALIZE, lk_core_now(sc));
	p->lacp.ev_sync = 0;
	lacp_run_and_schedule(sc);
	return LK_OK;
}

void
lk_lacp_port_remove(struct lk_softc *sc, struct lk_port *p)
{
	int was_active = p->lacp.pub_coll || p->lacp.pub_dist;

	lk_marker_cancel(p);
	port_reset(p);
	if (was_active)
		lk_core_txmap_dirty(sc);
	/* the others may be promoted from STANDBY or reselect */
	lacp_run_and_schedule(sc);
}

void
lk_lacp_port_link(struct lk_softc *sc, struct lk_port *p)
{
	/* an unplanned loss: a pending flush would only delay moving the flows */
	if (!p->link_up)
		lk_marker_cancel(p);
	actor_refresh(sc, p);
	lacp_run_and_schedule(sc);
}

/*
 * Our own PDU came back: two members cabled to each other, or a reflecting device. Taking it
 * would aggregate the aggregate with itself, a forwarding loop, so it is dropped as illegal.
 */
static int
pdu_is_our_own(const struct lk_softc *sc, const struct lk_lacpdu *pdu)
{
	return pdu->actor.sys_prio == sc->lacp.sys_prio &&
	    lk_memcmp(pdu->actor.sys_mac, sc->lacp.sys_mac, LK_ETHER_ADDR_LEN) == 0;
}

int
lk_lacp_input(struct lk_softc *sc, struct lk_port *p, const uint8_t *frame, uint32_t len)
{
	struct lk_lacpdu pdu;
	struct lk_marker_pdu mk;
	int subtype = lk_slow_subtype(frame, len);

	if (subtype == (int)LK_SLOW_SUBTYPE_LACP && lk_lacp_pdu_decode(frame, len, &pdu) == 0 &&
	    !pdu_is_our_own(sc, &pdu)) {
		p->lacp.pdus_rx++;
		if (!sc->lacp.attached || !p->lacp.member)
			return LK_OK;
		actor_refresh(sc, p);
		rx_event_pdu(sc, p, &pdu, lk_core_now(sc));
		lacp_run_and_schedule(sc);
		return LK_OK;
	}
	if (subtype == (int)LK_SLOW_SUBTYPE_MARKER && lk_marker_pdu_decode(frame, len, &mk) == 0) {
		if (mk.type == LK_MARKER_TLV_INFO)
			p->lacp.marker_rx++;
		else
			p->lacp.marker_resp_rx++;
		if (!sc->lacp.attached || !p->lacp.member)
			return LK_OK;
		lk_marker_input(sc, p, &mk);
		lacp_run_and_schedule(sc);
		return LK_OK;
	}
	if (subtype > (int)LK_SLOW_SUBTYPE_MARKER) {
		/* another slow protocol (OAM, ...): not ours, not malformed */
		p->lacp.unknown_rx++;
		return LK_EPROTO;
	}
	p->lacp.pdus_illegal++;
	lk_core_event(sc, LK_EV_ILLEGAL_PDU, p, subtype);
	return LK_EPROTO;
}

uint64_t
lk_lacp_tick(struct lk_softc *sc, uint64_t now_ns)
{
	return lacp_run(sc, now_ns);
}

int
lk_lacp_port_collecting(const struct lk_softc *sc, const struct lk_port *p)
{
	return sc->lacp.attached && p->lacp.member && p->lacp.in_agg && (p->lacp.actor.state & ST_COL) != 0;
}

int
lk_lacp_port_distributing(const struct lk_softc *sc, const struct lk_port *p)
{
	if (!sc->lacp.attached || !p->lacp.member)
		return 0;
	return (p->lacp.in_agg && (p->lacp.actor.state & ST_DIST) != 0) || p->lacp.draining;
}

int
lk_lacp_set_opt(struct lk_softc *sc, enum lk_opt opt, uint32_t value)
{
	struct lk_lacp_softc *ls = &sc->lacp;
	struct lk_port *p;

	switch (opt) {
	case LK_OPT_LACP_FAST_TIMEOUT:
	case LK_OPT_LACP_STRICT:
	case LK_OPT_LACP_PASSIVE:
	case LK_OPT_LACP_MULTI_SPEED:
	case LK_OPT_LACP_FULL_WAIT:
		if (value > 1)
			return LK_EINVAL;
		break;
	case LK_OPT_LACP_SYS_PRIO:
	case LK_OPT_LACP_KEY:
		if (value > 0xffffu)
			return LK_EINVAL;
		break;
	case LK_OPT_LACP_MAXPORTS:
		if (value > LK_MAX_PORTS)
			return LK_EINVAL;
		break;
	default:
		return LK_OK; /* not LACP's: nothing to keep or refuse */
	}
	switch (opt) {
	case LK_OPT_LACP_FAST_TIMEOUT:
		ls->fast_timeout = (uint8_t)value;
		break;
	case LK_OPT_LACP_STRICT:
		ls->strict = (uint8_t)value;
		break;
	case LK_OPT_LACP_PASSIVE:
		ls->passive = (uint8_t)value;
		break;
	case LK_OPT_LACP_MULTI_SPEED:
		ls->multi_speed = (uint8_t)value;
		break;
	case LK_OPT_LACP_FULL_WAIT:
		ls->full_wait = (uint8_t)value;
		break;
	case LK_OPT_LACP_SYS_PRIO:
		ls->sys_prio = (uint16_t)value;
		break;
	case LK_OPT_LACP_KEY:
		ls->admin_key = (uint16_t)value;
		break;
	default:
		ls->maxports = value;
		break;
	}
	/* defaulted partners take the new administrative state at once */
	if (opt == LK_OPT_LACP_STRICT) {
		LK_FOREACH_PORT(sc, p) {
			if (p->lacp.rx_state == LK_LACP_RX_DEFAULTED)
				p->lacp.partner.state = partner_admin_state(sc);
		}
	}
	if (ls->attached)
		lacp_run_and_schedule(sc);
	return LK_OK;
}

/* ---- Observability --------------------------------------------------------------------------- */

void
lk_lacp_port_status(const struct lk_softc *sc, const struct lk_port *p, struct lk_lacp_port_status *st)
{
	const struct lk_lacp_port *lp = &p->lacp;

	(void)sc;
	lk_memset(st, 0, sizeof(*st));
	st->actor = lp->actor;
	st->partner = lp->partner;
	st->rx_state = lp->rx_state;
	st->mux_state = lp->mux_state;
	st->ptx_state = lp->ptx_state;
	st->sel_state = lp->selected;
	st->actor_churn = lp->actor_churn_state;
	st->partner_churn = lp->partner_churn_state;
	st->pdus_rx = lp->pdus_rx;
	st->pdus_tx = lp->pdus_tx;
	st->pdus_illegal = lp->pdus_illegal;
	st->marker_rx = lp->marker_rx;
	st->marker_tx = lp->marker_tx;
	st->marker_resp_rx = lp->marker_resp_rx;
	st->marker_resp_tx = lp->marker_resp_tx;
	st->unknown_rx = lp->unknown_rx;
}

void
lk_lacp_lag_status(const struct lk_softc *sc, struct lk_status *st)
{
	const struct lk_lacp_softc *ls = &sc->lacp;

	lk_memset(&st->lag_actor, 0, sizeof(st->lag_actor));
	lk_memset(&st->lag_partner, 0, sizeof(st->lag_partner));
	if (!ls->attached || !ls->lag_valid)
		return;
	st->lag_actor.sys_prio = ls->sys_prio;
	lk_memcpy(st->lag_actor.sys_mac, sc->lacp.sys_mac, LK_ETHER_ADDR_LEN);
	st->lag_actor.key = ls->lag_key;
	st->lag_partner = ls->lag_partner;
}

const char *
lk_lacp_state_name(int machine, uint8_t state)
{
	static const char *const rx[] = { "INITIALIZE", "PORT_DISABLED", "EXPIRED", "LACP_DISABLED",
		"DEFAULTED", "CURRENT" };
	static const char *const mux[] = { "DETACHED", "WAITING", "ATTACHED", "COLLECTING_DISTRIBUTING" };
	static const char *const ptx[] = { "NO_PERIODIC", "FAST_PERIODIC", "SLOW_PERIODIC", "PERIODIC_TX" };
	static const char *const sel[] = { "UNSELECTED", "SELECTED", "STANDBY" };
	static const char *const ach[] = { "NO_ACTOR_CHURN", "ACTOR_CHURN_MONITOR", "ACTOR_CHURN" };
	static const char *const pch[] = { "NO_PARTNER_CHURN", "PARTNER_CHURN_MONITOR", "PARTNER_CHURN" };
	static const struct {
		const char *const *names;
		uint8_t n;
	} tab[] = {
		{ rx, 6 },
		{ mux, 4 },
		{ ptx, 4 },
		{ sel, 3 },
		{ ach, 3 },
		{ pch, 3 },
	};

	if (machine < 0 || machine >= (int)(sizeof(tab) / sizeof(tab[0])) || state >= tab[machine].n)
		return "?";
	return tab[machine].names[state];
}

/* ---- Planned moves --------------------------------------------------------------------------- */

int
lk_lacp_port_flush(struct lk_softc *sc, struct lk_port *p)
{
	if (p->lacp.draining)
		return LK_EBUSY;
	if (!lk_lacp_port_distributing(sc, p) || !p->lacp.port_enabled)
		return LK_EINVAL;
	lk_marker_flush_start(sc, p, lk_core_now(sc));
	lacp_run_and_schedule(sc);
	return LK_OK;
}

int
lk_lacp_port_draining(const struct lk_softc *sc, const struct lk_port *p)
{
	return sc->lacp.attached && p->lacp.draining;
}
