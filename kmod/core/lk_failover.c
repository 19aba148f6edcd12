/*
 * Failover election. The master is the link-up port with the lowest priority value, ties going
 * to the port added first. With preemption on (the default) traffic returns to the master as
 * soon as it is back; with it off the current active port keeps the traffic while it is up.
 * Every change of the active port is an event and starts the gratuitous ARP / unsolicited NA
 * announcements on the new port, so switches relearn the aggregate MAC at once.
 */
#include "lk_internal.h"

static int
better(const struct lk_port *a, const struct lk_port *b)
{
	if (b == NULL)
		return 1;
	if (a->prio != b->prio)
		return a->prio < b->prio;
	return a->added_seq < b->added_seq;
}

/* The port failover would choose with preemption on, or NULL when no member has carrier. */
static struct lk_port *
failover_master(struct lk_softc *sc)
{
	struct lk_port *p, *best = NULL;

	LK_FOREACH_PORT(sc, p) {
		if (p->link_up && better(p, best))
			best = p;
	}
	return best;
}

void
lk_failover_update(struct lk_softc *sc)
{
	struct lk_port *m;
	int32_t cur = sc->fo_active, next;
	int cur_up;

	if (sc->proto != LK_PROTO_FAILOVER) {
		sc->fo_active = -1;
		return;
	}
	cur_up = cur >= 0 && LK_PORT_VALID(sc, (uint32_t)cur) && sc->ports[cur].link_up;
	m = failover_master(sc);
	next = m != NULL ? (int32_t)m->index : -1;
	if (!sc->opts[LK_OPT_FAILOVER_PREEMPT] && cur_up)
		next = cur;
	if (next == cur)
		return;
	sc->fo_active = next;
	if (next < 0) {
		lk_core_event(sc, LK_EV_FAILOVER, NULL, cur);
		sc->ann_left = 0;
		sc->ann_port = -1;
		return;
	}
	lk_core_event(sc, cur_up ? LK_EV_PREEMPTED : LK_EV_FAILOVER, &sc->ports[next], cur);
	lk_announce_start(sc, (uint32_t)next);
}
