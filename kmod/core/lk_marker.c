/*
 * IEEE 802.1AX marker protocol: the responder every aggregation port must run, and the
 * generator laggkit uses to flush a port before moving its flows in a planned move.
 *
 * Marker policy (ARCHITECTURE.md, known pitfalls): a flush never stalls the aggregate. The port
 * being flushed keeps distributing its own flows until the partner's response arrives or
 * LK_MARKER_TIMEOUT_NS passes; no other port or flow waits. Open vSwitch never answers
 * markers, so against it the timeout is the normal end of a flush.
 */
#include "lk_internal.h"

static void
marker_send(struct lk_softc *sc, struct lk_port *p, const struct lk_marker_pdu *m)
{
	uint8_t frame[LK_SLOW_FRAME_LEN];

	if (lk_marker_pdu_encode(frame, sizeof(frame), p->lladdr, m) == 0)
		return;
	if (lk_core_ctl_tx(sc, p, frame, LK_SLOW_FRAME_LEN) != LK_OK)
		return;
	if (m->type == LK_MARKER_TLV_INFO)
		p->lacp.marker_tx++;
	else
		p->lacp.marker_resp_tx++;
}

static void
flush_done(struct lk_softc *sc, struct lk_port *p)
{
	p->lacp.draining = 0;
	p->lacp.flushed = 1;
	p->lacp.marker_deadline = 0;
	lk_core_txmap_dirty(sc);
}

void
lk_marker_input(struct lk_softc *sc, struct lk_port *p, const struct lk_marker_pdu *m)
{
	struct lk_marker_pdu resp;

	if (m->type == LK_MARKER_TLV_INFO) {
		/* the response carries the requester's fields unchanged */
		resp = *m;
		resp.type = LK_MARKER_TLV_RESPONSE;
		marker_send(sc, p, &resp);
		return;
	}
	/* a response to our flush: same port, system and transaction */
	if (p->lacp.draining && m->requester_xid == p->lacp.marker_xid &&
	    m->requester_port == p->lacp.actor.port_no &&
	    lk_memcmp(m->requester_sys, sc->lacp.sys_mac, LK_ETHER_ADDR_LEN) == 0)
		flush_done(sc, p);
}

void
lk_marker_flush_start(struct lk_softc *sc, struct lk_port *p, uint64_t now)
{
	struct lk_marker_pdu m;

	lk_memset(&m, 0, sizeof(m));
	m.type = LK_MARKER_TLV_INFO;
	m.requester_port = p->lacp.actor.port_no;
	lk_memcpy(m.requester_sys, sc->lacp.sys_mac, LK_ETHER_ADDR_LEN);
	m.requester_xid = ++sc->lacp.next_xid;
	p->lacp.marker_xid = m.requester_xid;
	p->lacp.draining = 1;
	p->lacp.marker_deadline = now + LK_MARKER_TIMEOUT_NS;
	marker_send(sc, p, &m);
}

int
lk_marker_tick(struct lk_softc *sc, struct lk_port *p, uint64_t now)
{
	if (!p->lacp.draining)
		return 0;
	if (!p->lacp.port_enabled) {
		/* the link went away: nothing left to drain */
		flush_done(sc, p);
		return 1;
	}
	if (p->lacp.marker_deadline == 0 || now < p->lacp.marker_deadline)
		return 0;
	lk_core_event(sc, LK_EV_MARKER_TIMEOUT, p, (int32_t)p->lacp.marker_xid);
	flush_done(sc, p);
	return 1;
}

void
lk_marker_cancel(struct lk_port *p)
{
	p->lacp.draining = 0;
	p->lacp.marker_deadline = 0;
}
