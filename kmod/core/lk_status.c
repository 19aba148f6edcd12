/*
 * Status snapshots for ifconfig-style output (FreeBSD lagg flags and fields) and for laggctl.
 * Frame path counters are the sums of the CPU slots, read with relaxed atomic loads: the frame
 * path keeps bumping them. A sum is not a snapshot of one instant (nor is counter(9)'s).
 */
#include "lk_internal.h"

#define LOAD64(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

/* The configured primary: lowest priority value, oldest on ties, link ignored (lagg MASTER). */
static int32_t
configured_master(const struct lk_softc *sc)
{
	const struct lk_port *best = NULL;

	for (uint32_t b = sc->port_mask; b != 0; b &= b - 1) {
		const struct lk_port *p = &sc->ports[__builtin_ctz(b)];
		if (best == NULL || p->prio < best->prio ||
		    (p->prio == best->prio && p->added_seq < best->added_seq))
			best = p;
	}
	return best != NULL ? (int32_t)best->index : -1;
}

void
lk_port_counters_sum(const struct lk_softc *sc, uint32_t port, struct lk_port_counters *c)
{
	LK_ZERO(c);
	for (uint32_t cpu = 0; cpu < sc->ncpu; cpu++) {
		const struct lk_pcpu *pc = &sc->pcpu[cpu];

		c->tx_packets += LOAD64(pc->port[port].tx_packets);
		c->tx_bytes += LOAD64(pc->port[port].tx_bytes);
		c->rx_packets += LOAD64(pc->port[port].rx_packets);
		c->rx_bytes += LOAD64(pc->port[port].rx_bytes);
		c->rx_dropped += LOAD64(pc->rx_dropped[port]);
	}
}

int
lk_get_status(const struct lk_softc *sc, struct lk_status *st)
{
	const struct lk_txmap *m = lk_txmap_get(sc);

	if (st == NULL)
		return LK_EINVAL;
	LK_ZERO(st);
	st->proto = sc->proto;
	st->hash_layers = sc->opts[LK_OPT_HASH_LAYERS];
	lk_memcpy(st->opts, sc->opts, sizeof(st->opts));
	lk_memcpy(st->lladdr, sc->lladdr, LK_ETHER_ADDR_LEN);
	lk_memcpy(st->lacp_sys_mac, sc->lacp.sys_mac, LK_ETHER_ADDR_LEN);
	st->lacp_sys_mac_admin = sc->lacp.sys_mac_admin;
	st->mtu = sc->mtu;
	st->link_up = sc->link_up;
	st->speed_bps = sc->link_speed;
	st->nports = sc->nports;
	st->nactive = m != NULL ? m->nactive : 0;
	st->port_mask = sc->port_mask;
	st->active_port = sc->proto == LK_PROTO_FAILOVER ? sc->fo_active : -1;
	if (sc->proto == LK_PROTO_LACP)
		lk_lacp_lag_status(sc, st);
	for (uint32_t cpu = 0; cpu < sc->ncpu; cpu++)
		st->out_no_port += LOAD64(sc->pcpu[cpu].out_no_port);
	return LK_OK;
}

int
lk_get_port_status(const struct lk_softc *sc, uint32_t port, struct lk_port_status *st)
{
	const struct lk_txmap *m = lk_txmap_get(sc);
	const struct lk_port *p;
	uint32_t bit = LK_PORT_BIT(port);

	if (st == NULL)
		return LK_EINVAL;
	if (!LK_PORT_VALID(sc, port))
		return LK_ENOENT;
	p = &sc->ports[port];
	LK_ZERO(st);
	lk_strlcpy(st->name, p->name, sizeof(st->name));
	st->prio = p->prio;
	st->link_up = p->link_up;
	st->speed_bps = p->speed_bps;
	st->duplex = p->duplex;
	/* since the port was added: unsigned differences stay right across a wrap */
	lk_port_counters_sum(sc, port, &st->counters);
	st->counters.rx_packets -= p->base.rx_packets;
	st->counters.rx_bytes -= p->base.rx_bytes;
	st->counters.tx_packets -= p->base.tx_packets;
	st->counters.tx_bytes -= p->base.tx_bytes;
	st->counters.rx_dropped -= p->base.rx_dropped;
	st->counters.rx_dropped += LOAD64(p->ctl_rx_dropped);
	if (configured_master(sc) == (int32_t)port)
		st->flags |= LK_PORT_MASTER;
	if (m != NULL && (m->active & bit))
		st->flags |= LK_PORT_ACTIVE;
	if (sc->proto == LK_PROTO_LACP) {
		lk_lacp_port_status(sc, p, &st->lacp);
		if (m != NULL && (m->collecting & bit))
			st->flags |= LK_PORT_COLLECTING;
		if (m != NULL && (m->active & bit))
			st->flags |= LK_PORT_DISTRIBUTING;
		if (st->lacp.sel_state == LK_LACP_STANDBY)
			st->flags |= LK_PORT_STANDBY;
	}
	return LK_OK;
}
