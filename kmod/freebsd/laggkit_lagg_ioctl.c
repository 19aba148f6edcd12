/*
 * if_laggkit: the lagg ioctl family of net/if_lagg.h, so the unmodified ifconfig(8) and
 * libifconfig drive laggkitN with their lagg words (laggproto, laggport, -laggport, lagghash,
 * use_flowid, flowid_shift, rr_limit, lacp_fast_timeout, lacp_strict) and print its lagg
 * block, verbose LACP state included.
 *
 * The request structures and their semantics are lagg(4)'s, including its quirks (rr_limit
 * without a flag, LACP options refused unless the protocol is lacp), so that scripts written
 * for lagg(4) behave the same. Every value is handed to the core; nothing is decided here.
 *
 * Reads share the configuration lock (ifconfig polls them, and status tools run often);
 * changes take it exclusively and refuse an aggregate whose destroy has begun.
 */

#include "opt_inet.h"
#include "opt_inet6.h"

#include "laggkit_var.h"

#include <sys/priv.h>
#include <sys/proc.h>

#include "laggkit_lagg.h"

bool
laggkit_is_lagg_ioctl(u_long cmd)
{
	switch (cmd) {
	case SIOCGLAGG:
	case SIOCSLAGG:
	case SIOCGLAGGPORT:
	case SIOCSLAGGPORT:
	case SIOCSLAGGDELPORT:
	case SIOCGLAGGFLAGS:
	case SIOCSLAGGHASH:
	case SIOCGLAGGOPTS:
	case SIOCSLAGGOPTS:
		return (true);
	default:
		return (false);
	}
}

static void
laggkit_opreq(
    struct lacp_opreq *req, const struct lk_lacp_peer_info *actor, const struct lk_lacp_peer_info *partner)
{
	req->actor_prio = actor->sys_prio;
	memcpy(req->actor_mac, actor->sys_mac, ETHER_ADDR_LEN);
	req->actor_key = actor->key;
	req->actor_portprio = actor->port_prio;
	req->actor_portno = actor->port_no;
	req->actor_state = actor->state;
	req->partner_prio = partner->sys_prio;
	memcpy(req->partner_mac, partner->sys_mac, ETHER_ADDR_LEN);
	req->partner_key = partner->key;
	req->partner_portprio = partner->port_prio;
	req->partner_portno = partner->port_no;
	req->partner_state = partner->state;
}

/* One member as ifconfig shows it: flags straight from the core (values equal LAGG_PORT_*). */
static int
laggkit_port2req(struct laggkit_softc *sc, uint32_t idx, enum lk_proto proto, struct lagg_reqport *rp)
{
	struct lk_port_status ps;
	int error;

	LAGGKIT_LOCK_ASSERT(sc);
	LAGGKIT_CORE_ASSERT(sc);
	error = laggkit_errno(lk_get_port_status(sc->sc_core, idx, &ps));
	if (error != 0)
		return (error);
	strlcpy(rp->rp_ifname, sc->sc_ifp->if_xname, sizeof(rp->rp_ifname));
	/* the ifnet's current name, in case it was renamed after joining */
	if (sc->sc_ports[idx] != NULL)
		strlcpy(rp->rp_portname, sc->sc_ports[idx]->lp_ifp->if_xname, sizeof(rp->rp_portname));
	else
		strlcpy(rp->rp_portname, ps.name, sizeof(rp->rp_portname));
	rp->rp_prio = ps.prio;
	rp->rp_flags = ps.flags;
	if (proto == LK_PROTO_LACP)
		laggkit_opreq(&rp->rp_lacpreq, &ps.lacp.actor, &ps.lacp.partner);
	return (0);
}

static int
laggkit_get_lagg(struct laggkit_softc *sc, struct lagg_reqall *ra)
{
	struct lagg_reqport *buf;
	struct lk_status st;
	size_t room;
	int count = 0, error;

	buf = malloc(LK_MAX_PORTS * sizeof(*buf), M_TEMP, M_WAITOK | M_ZERO);
	room = ra->ra_size;
	LAGGKIT_SLOCK(sc);
	LAGGKIT_CORE_LOCK(sc);
	error = laggkit_errno(lk_get_status(sc->sc_core, &st));
	if (error == 0) {
		ra->ra_proto = st.proto;
		memset(&ra->ra_psc, 0, sizeof(ra->ra_psc));
		if (st.proto == LK_PROTO_LACP)
			laggkit_opreq(&ra->ra_lacpreq, &st.lag_actor, &st.lag_partner);
		for (uint32_t i = 0; i < LK_MAX_PORTS; i++) {
			if ((st.port_mask & (1u << i)) == 0)
				continue;
			if (room < sizeof(*buf))
				break;
			if (laggkit_port2req(sc, i, st.proto, &buf[count]) != 0)
				continue;
			count++;
			room -= sizeof(*buf);
		}
	}
	LAGGKIT_CORE_UNLOCK(sc);
	LAGGKIT_SUNLOCK(sc);
	if (error == 0) {
		ra->ra_ports = count;
		ra->ra_size = count * sizeof(*buf);
		if (ra->ra_size != 0)
			error = copyout(buf, ra->ra_port, ra->ra_size);
	}
	free(buf, M_TEMP);
	return (error);
}

static int
laggkit_get_port(struct laggkit_softc *sc, struct lagg_reqport *rp)
{
	struct laggkit_port *lp;
	struct ifnet *pifp;
	int error;

	if (rp->rp_portname[0] == '\0' || (pifp = ifunit_ref(rp->rp_portname)) == NULL)
		return (EINVAL);
	LAGGKIT_SLOCK(sc);
	lp = laggkit_port_of(sc, pifp);
	if (lp == NULL) {
		error = ENOENT;
	} else {
		LAGGKIT_CORE_LOCK(sc);
		error = laggkit_port2req(sc, lp->lp_index, lk_get_proto(sc->sc_core), rp);
		LAGGKIT_CORE_UNLOCK(sc);
	}
	LAGGKIT_SUNLOCK(sc);
	if_rele(pifp);
	return (error);
}

/*
 * laggport / -laggport: both hold the global lock, so no other aggregate races for the NIC.
 * The name is looked up under it too: a NIC found then is still attached (if_detach unlinks
 * it before its departure event, which waits for this lock), so its departure, if it comes,
 * sees the port and removes it.
 */
static int
laggkit_member(struct laggkit_softc *sc, struct lagg_reqport *rp, bool add)
{
	struct laggkit_port *lp;
	struct ifnet *pifp;
	int error = 0;

	if (rp->rp_portname[0] == '\0')
		return (EINVAL);
	sx_xlock(&laggkit_sx);
	if ((pifp = ifunit_ref(rp->rp_portname)) == NULL) {
		sx_xunlock(&laggkit_sx);
		return (EINVAL);
	}
	LAGGKIT_XLOCK(sc);
	if (sc->sc_destroying)
		error = ENXIO;
	else if (add)
		error = laggkit_port_add(sc, pifp, (uint16_t)MIN(rp->rp_prio, UINT16_MAX));
	else if ((lp = laggkit_port_of(sc, pifp)) == NULL)
		error = ENOENT;
	else
		laggkit_port_del(sc, lp, LAGGKIT_LEAVE);
	LAGGKIT_XUNLOCK(sc);
	sx_xunlock(&laggkit_sx);
	if_rele(pifp);
	return (error);
}

static int
laggkit_get_opts(struct laggkit_softc *sc, struct lagg_reqopts *ro)
{
	struct lk_status st;
	int error;

	LAGGKIT_SLOCK(sc);
	LAGGKIT_CORE_LOCK(sc);
	error = laggkit_errno(lk_get_status(sc->sc_core, &st));
	LAGGKIT_CORE_UNLOCK(sc);
	if (error == 0) {
		ro->ro_opts = 0;
		if (st.opts[LK_OPT_USE_FLOWID])
			ro->ro_opts |= LAGG_OPT_USE_FLOWID;
		if (sc->sc_use_numa)
			ro->ro_opts |= LAGG_OPT_USE_NUMA;
		/* as lagg(4), the LACP flags are shown only while the protocol is lacp */
		if (st.proto == LK_PROTO_LACP) {
			if (st.opts[LK_OPT_LACP_STRICT])
				ro->ro_opts |= LAGG_OPT_LACP_STRICT;
			if (st.opts[LK_OPT_LACP_FAST_TIMEOUT])
				ro->ro_opts |= LAGG_OPT_LACP_FAST_TIMO;
		}
		ro->ro_count = st.nports;
		ro->ro_active = st.nactive;
		ro->ro_flapping = sc->sc_flapping;
		ro->ro_flowid_shift = st.opts[LK_OPT_FLOWID_SHIFT];
		ro->ro_bkt = st.opts[LK_OPT_RR_LIMIT];
	}
	LAGGKIT_SUNLOCK(sc);
	return (error);
}

static int
laggkit_set_opt_locked(struct laggkit_softc *sc, enum lk_opt opt, uint32_t value)
{
	int error;

	LAGGKIT_XLOCK_ASSERT(sc);
	if (sc->sc_destroying)
		return (ENXIO);
	LAGGKIT_CORE_LOCK(sc);
	error = laggkit_errno(lk_set_opt(sc->sc_core, opt, value));
	LAGGKIT_CORE_UNLOCK(sc);
	return (error);
}

#ifndef LAGG_OPT_RR_LIMIT /* FreeBSD 13 before rr_limit got its flag */
#define LAGG_OPT_RR_LIMIT 0x100
#endif

static int
laggkit_set_opts(struct laggkit_softc *sc, struct lagg_reqopts *ro)
{
	enum lk_proto proto;
	int error = 0;

	LAGGKIT_XLOCK(sc);
	LAGGKIT_CORE_LOCK(sc);
	proto = lk_get_proto(sc->sc_core);
	LAGGKIT_CORE_UNLOCK(sc);

	/* Older ifconfig sets the roundrobin stride with no flag at all. */
	if (ro->ro_opts == 0) {
		if (ro->ro_bkt != 0)
			error = proto == LK_PROTO_ROUNDROBIN ?
			    laggkit_set_opt_locked(sc, LK_OPT_RR_LIMIT, ro->ro_bkt) :
			    EINVAL;
		LAGGKIT_XUNLOCK(sc);
		return (error);
	}

	switch (ro->ro_opts) {
	case LAGG_OPT_USE_FLOWID:
	case -LAGG_OPT_USE_FLOWID:
		error = laggkit_set_opt_locked(sc, LK_OPT_USE_FLOWID, ro->ro_opts > 0);
		break;
	case LAGG_OPT_USE_NUMA:
	case -LAGG_OPT_USE_NUMA:
		sc->sc_use_numa = ro->ro_opts > 0;
		break;
	case LAGG_OPT_FLOWIDSHIFT:
		if (ro->ro_flowid_shift < 0 || ro->ro_flowid_shift > LAGG_OPT_FLOWIDSHIFT_MASK)
			error = EINVAL;
		else
			error = laggkit_set_opt_locked(sc, LK_OPT_FLOWID_SHIFT, ro->ro_flowid_shift);
		break;
	case LAGG_OPT_RR_LIMIT:
		if (proto != LK_PROTO_ROUNDROBIN || ro->ro_bkt == 0)
			error = EINVAL;
		else
			error = laggkit_set_opt_locked(sc, LK_OPT_RR_LIMIT, ro->ro_bkt);
		break;
	case LAGG_OPT_LACP_STRICT:
	case -LAGG_OPT_LACP_STRICT:
	case LAGG_OPT_LACP_FAST_TIMO:
	case -LAGG_OPT_LACP_FAST_TIMO:
		if (proto != LK_PROTO_LACP)
			error = EINVAL;
		else
			error = laggkit_set_opt_locked(sc,
			    abs(ro->ro_opts) == LAGG_OPT_LACP_STRICT ? LK_OPT_LACP_STRICT :
			                                               LK_OPT_LACP_FAST_TIMEOUT,
			    ro->ro_opts > 0);
		break;
	case LAGG_OPT_LACP_TXTEST:
	case -LAGG_OPT_LACP_TXTEST:
	case LAGG_OPT_LACP_RXTEST:
	case -LAGG_OPT_LACP_RXTEST:
		/* lagg(4)'s LACP debugging switches have no counterpart in the core */
		error = proto != LK_PROTO_LACP ? EINVAL : EOPNOTSUPP;
		break;
	default:
		error = EINVAL;
		break;
	}
	LAGGKIT_XUNLOCK(sc);
	return (error);
}

int
laggkit_lagg_ioctl(struct laggkit_softc *sc, u_long cmd, caddr_t data)
{
	struct lagg_reqflags *rf = (struct lagg_reqflags *)data;
	struct lagg_reqall *ra = (struct lagg_reqall *)data;
	struct thread *td = curthread;
	uint32_t layers;
	int error;

	switch (cmd) {
	case SIOCGLAGG:
		return (laggkit_get_lagg(sc, ra));
	case SIOCGLAGGPORT:
		return (laggkit_get_port(sc, (struct lagg_reqport *)data));
	case SIOCGLAGGOPTS:
		return (laggkit_get_opts(sc, (struct lagg_reqopts *)data));
	case SIOCGLAGGFLAGS:
		LAGGKIT_SLOCK(sc);
		LAGGKIT_CORE_LOCK(sc);
		error = laggkit_errno(lk_get_opt(sc->sc_core, LK_OPT_HASH_LAYERS, &layers));
		LAGGKIT_CORE_UNLOCK(sc);
		LAGGKIT_SUNLOCK(sc);
		rf->rf_flags = error == 0 ? (layers & LAGG_F_HASHMASK) : 0;
		return (error);
	default:
		break;
	}

	/* Everything below changes the aggregate. */
	error = priv_check(td, PRIV_NET_LAGG);
	if (error != 0)
		return (error);

	switch (cmd) {
	case SIOCSLAGG:
		if (ra->ra_proto >= LAGG_PROTO_MAX)
			return (EPROTONOSUPPORT);
		LAGGKIT_XLOCK(sc);
		LAGGKIT_CORE_LOCK(sc);
		error = sc->sc_destroying ?
		    ENXIO :
		    laggkit_errno(lk_set_proto(sc->sc_core, (enum lk_proto)ra->ra_proto));
		LAGGKIT_CORE_UNLOCK(sc);
		/* re-read members, so a switch to lacp reports NICs without speed/duplex */
		if (error == 0)
			laggkit_link_later(sc, 0);
		LAGGKIT_XUNLOCK(sc);
		return (error);
	case SIOCSLAGGPORT:
	case SIOCSLAGGDELPORT:
		return (laggkit_member(sc, (struct lagg_reqport *)data, cmd == SIOCSLAGGPORT));
	case SIOCSLAGGHASH:
		if ((rf->rf_flags & LAGG_F_HASHMASK) == 0)
			return (EINVAL);
		LAGGKIT_XLOCK(sc);
		error = laggkit_set_opt_locked(sc, LK_OPT_HASH_LAYERS, rf->rf_flags & LAGG_F_HASHMASK);
		LAGGKIT_XUNLOCK(sc);
		return (error);
	case SIOCSLAGGOPTS:
		return (laggkit_set_opts(sc, (struct lagg_reqopts *)data));
	default:
		return (ENOTTY);
	}
}
