/*
 * if_laggkit sysctl tree: net.link.laggkit.
 *
 *   net.link.laggkit.default_*        loader tunables and sysctls: the options a new laggkitN
 *                                      starts with (-1 = the core's default)
 *   net.link.laggkit.<unit>.<option>  every core option of that aggregate, including those
 *                                      ifconfig(8) has no word for (LACP system priority,
 *                                      passive mode, maxports, failover rx-all and preemption,
 *                                      announcements, hash seed)
 *   net.link.laggkit.<unit>.port_prio, .lacp_port_prio
 *                                      per-member priorities, "name:value" to set one
 *   net.link.laggkit.<unit>.ports     per-member status and counters (text)
 *   net.link.laggkit.<unit>.events    the core's event ring (text)
 *
 * A VNET jail may create a laggkitN whose unit is already used in another VNET; its node is
 * then named "<unit>_<n>" so that the two never share leaves. The per-interface nodes are
 * one tree for every VNET (sysctl(9) has no per-VNET dynamic nodes), so each handler lets a
 * jailed caller reach only the aggregates of its own VNET; the host sees them all.
 */

#include "laggkit_var.h"

#include <sys/sbuf.h>
#include <sys/jail.h>
#include <sys/proc.h>

#include "laggkit_lagg.h"

SYSCTL_DECL(_net_link);
static SYSCTL_NODE(_net_link, OID_AUTO, laggkit, CTLFLAG_RW | CTLFLAG_MPSAFE, 0, "laggkit link aggregation");

SYSCTL_UINT(_net_link_laggkit, OID_AUTO, inject_create_failure, CTLFLAG_RW, &laggkit_inject_create_failure, 0,
    "Tests only: make this many interface creations fail after the core started");

/* What is loaded: a deploy compares these with what it built before reloading. */
static char laggkit_build_id[] = LAGGKIT_BUILD_ID;
SYSCTL_STRING(_net_link_laggkit, OID_AUTO, build_id, CTLFLAG_RD, laggkit_build_id, 0,
    "Build id given to make as LAGGKIT_BUILD_ID (\"unknown\" when none)");
SYSCTL_INT(_net_link_laggkit, OID_AUTO, version, CTLFLAG_RD, SYSCTL_NULL_INT_PTR, LAGGKIT_VERSION,
    "Module version (as kldstat -v shows it)");

struct laggkit_optdesc {
	const char *name;
	enum lk_opt opt;
	const char *descr;
};

static const struct laggkit_optdesc laggkit_opts[] = {
	{ "hash_layers", LK_OPT_HASH_LAYERS, "Hash layers: 1 l2, 2 l3, 4 l4 (lagghash)" },
	{ "hash_seed", LK_OPT_HASH_SEED, "Key of the flow hash" },
	{ "use_flowid", LK_OPT_USE_FLOWID, "Use the NIC flow id when present (use_flowid)" },
	{ "flowid_shift", LK_OPT_FLOWID_SHIFT, "Shift applied to the flow id (flowid_shift)" },
	{ "rr_limit", LK_OPT_RR_LIMIT, "roundrobin: packets per port before rotating" },
	{ "failover_rx_all", LK_OPT_FAILOVER_RX_ALL, "failover: accept input on every port" },
	{ "failover_preempt", LK_OPT_FAILOVER_PREEMPT,
	    "failover: return to the preferred port when it recovers" },
	{ "lacp_fast_timeout", LK_OPT_LACP_FAST_TIMEOUT, "LACP: short timeout, fast PDUs" },
	{ "lacp_strict", LK_OPT_LACP_STRICT, "LACP: strict mode (0 = optimistic)" },
	{ "lacp_passive", LK_OPT_LACP_PASSIVE, "LACP: passive, only answer an active partner" },
	{ "lacp_sys_prio", LK_OPT_LACP_SYS_PRIO, "LACP: system priority (0-65535)" },
	{ "lacp_key", LK_OPT_LACP_KEY, "LACP: administrative key (0 = from speed)" },
	{ "lacp_maxports", LK_OPT_LACP_MAXPORTS,
	    "LACP: at most this many distributing ports, others standby (0 = no limit)" },
	{ "lacp_multi_speed", LK_OPT_LACP_MULTI_SPEED, "LACP: aggregate ports of mixed speed" },
	{ "lacp_full_wait", LK_OPT_LACP_FULL_WAIT,
	    "LACP: always wait the whole 2 s Aggregate_Wait_Time (0 = end it once all are selected)" },
	{ "announce_count", LK_OPT_ANNOUNCE_COUNT,
	    "Gratuitous ARP / unsolicited NA rounds after a failover (0 = off)" },
	{ "announce_interval_ms", LK_OPT_ANNOUNCE_INTERVAL_MS, "Milliseconds between announcement rounds" },
};

/* ---- Defaults for new interfaces (loader tunables) ----------------------------------------- */

static int laggkit_defaults[LK_OPT_MAX] = { [0 ... LK_OPT_MAX - 1] = -1 };
static char laggkit_default_proto[LAGG_MAX_NAMESIZE] = "";

SYSCTL_STRING(_net_link_laggkit, OID_AUTO, default_proto, CTLFLAG_RWTUN, laggkit_default_proto,
    sizeof(laggkit_default_proto), "Protocol of a new interface (empty = failover)");

#define LAGGKIT_DEFAULT(name, opt) \
	SYSCTL_INT(_net_link_laggkit, OID_AUTO, default_##name, CTLFLAG_RWTUN, &laggkit_defaults[opt], 0, \
	    "Default " #name " of a new interface (-1 = built in)")

LAGGKIT_DEFAULT(hash_layers, LK_OPT_HASH_LAYERS);
LAGGKIT_DEFAULT(use_flowid, LK_OPT_USE_FLOWID);
LAGGKIT_DEFAULT(flowid_shift, LK_OPT_FLOWID_SHIFT);
LAGGKIT_DEFAULT(rr_limit, LK_OPT_RR_LIMIT);
LAGGKIT_DEFAULT(failover_rx_all, LK_OPT_FAILOVER_RX_ALL);
LAGGKIT_DEFAULT(failover_preempt, LK_OPT_FAILOVER_PREEMPT);
LAGGKIT_DEFAULT(lacp_fast_timeout, LK_OPT_LACP_FAST_TIMEOUT);
LAGGKIT_DEFAULT(lacp_strict, LK_OPT_LACP_STRICT);
LAGGKIT_DEFAULT(lacp_passive, LK_OPT_LACP_PASSIVE);
LAGGKIT_DEFAULT(lacp_sys_prio, LK_OPT_LACP_SYS_PRIO);
LAGGKIT_DEFAULT(lacp_key, LK_OPT_LACP_KEY);
LAGGKIT_DEFAULT(lacp_maxports, LK_OPT_LACP_MAXPORTS);
LAGGKIT_DEFAULT(lacp_multi_speed, LK_OPT_LACP_MULTI_SPEED);
LAGGKIT_DEFAULT(lacp_full_wait, LK_OPT_LACP_FULL_WAIT);
LAGGKIT_DEFAULT(announce_count, LK_OPT_ANNOUNCE_COUNT);
LAGGKIT_DEFAULT(announce_interval_ms, LK_OPT_ANNOUNCE_INTERVAL_MS);

/* Called with the core lock held, right after lk_init(). A bad tunable is logged, not fatal. */
void
laggkit_apply_defaults(struct laggkit_softc *sc)
{
	enum lk_proto proto;
	char name[LAGG_MAX_NAMESIZE];

	LAGGKIT_CORE_ASSERT(sc);
	strlcpy(name, laggkit_default_proto, sizeof(name));
	if (name[0] != '\0') {
		if (lk_proto_from_name(name, &proto) != LK_OK || lk_set_proto(sc->sc_core, proto) != LK_OK)
			if_printf(sc->sc_ifp, "ignoring default_proto \"%s\"\n", name);
	}
	for (int opt = 0; opt < LK_OPT_MAX; opt++) {
		int v = laggkit_defaults[opt];

		if (v >= 0 && lk_set_opt(sc->sc_core, opt, (uint32_t)v) != LK_OK)
			if_printf(sc->sc_ifp, "ignoring default for option %d: %d\n", opt, v);
	}
}

/* ---- Per-interface handlers -------------------------------------------------------------- */

/* A jailed caller reaches only the aggregates of its own VNET (see the top of the file). */
static int
laggkit_sysctl_visible(struct laggkit_softc *sc, struct sysctl_req *req)
{
#ifdef VIMAGE
	if (req->td != NULL && jailed(req->td->td_ucred) && TD_TO_VNET(req->td) != sc->sc_ifp->if_vnet)
		return (ENOENT);
#else
	(void)sc;
	(void)req;
#endif
	return (0);
}

static int
laggkit_sysctl_opt(SYSCTL_HANDLER_ARGS)
{
	struct laggkit_softc *sc = arg1;
	enum lk_opt opt = arg2;
	uint32_t value;
	int error, v;

	error = laggkit_sysctl_visible(sc, req);
	if (error != 0)
		return (error);
	LAGGKIT_SLOCK(sc);
	LAGGKIT_CORE_LOCK(sc);
	error = laggkit_errno(lk_get_opt(sc->sc_core, opt, &value));
	LAGGKIT_CORE_UNLOCK(sc);
	LAGGKIT_SUNLOCK(sc);
	if (error != 0)
		return (error);
	v = (int)value; /* the "IU" format shows and parses it unsigned */
	error = sysctl_handle_int(oidp, &v, 0, req);
	if (error != 0 || req->newptr == NULL)
		return (error);
	LAGGKIT_XLOCK(sc);
	LAGGKIT_CORE_LOCK(sc);
	error = laggkit_errno(lk_set_opt(sc->sc_core, opt, (uint32_t)v));
	LAGGKIT_CORE_UNLOCK(sc);
	LAGGKIT_XUNLOCK(sc);
	return (error);
}

static int
laggkit_sysctl_proto(SYSCTL_HANDLER_ARGS)
{
	struct laggkit_softc *sc = arg1;
	char name[LAGG_MAX_NAMESIZE];
	int error;

	error = laggkit_sysctl_visible(sc, req);
	if (error != 0)
		return (error);
	LAGGKIT_CORE_LOCK(sc);
	strlcpy(name, lk_proto_name(lk_get_proto(sc->sc_core)), sizeof(name));
	LAGGKIT_CORE_UNLOCK(sc);
	return (sysctl_handle_string(oidp, name, sizeof(name), req));
}

/*
 * "vtnet0:0 vtnet1:100" when read; "vtnet1:100" sets one member. arg2 selects failover
 * priority (0) or LACP port priority (1).
 */
static int
laggkit_sysctl_prio(SYSCTL_HANDLER_ARGS)
{
	struct laggkit_softc *sc = arg1;
	struct lk_port_status ps;
	struct sbuf sb;
	char buf[LK_MAX_PORTS * (IFNAMSIZ + 8)], *colon, *end;
	uint32_t idx;
	u_long v;
	int error;

	error = laggkit_sysctl_visible(sc, req);
	if (error != 0)
		return (error);
	sbuf_new(&sb, buf, sizeof(buf), SBUF_FIXEDLEN);
	LAGGKIT_SLOCK(sc);
	LAGGKIT_CORE_LOCK(sc);
	for (uint32_t i = 0; i < LK_MAX_PORTS; i++) {
		if (lk_get_port_status(sc->sc_core, i, &ps) != LK_OK)
			continue;
		sbuf_printf(&sb, "%s%s:%u", sbuf_len(&sb) > 0 ? " " : "", ps.name,
		    arg2 == 0 ? ps.prio : ps.lacp.actor.port_prio);
	}
	LAGGKIT_CORE_UNLOCK(sc);
	LAGGKIT_SUNLOCK(sc);
	sbuf_finish(&sb);
	error = sysctl_handle_string(oidp, buf, sizeof(buf), req);
	sbuf_delete(&sb);
	if (error != 0 || req->newptr == NULL)
		return (error);

	colon = strchr(buf, ':');
	if (colon == NULL)
		return (EINVAL);
	*colon = '\0';
	v = strtoul(colon + 1, &end, 10);
	if (end == colon + 1 || *end != '\0' || v > UINT16_MAX)
		return (EINVAL);
	LAGGKIT_XLOCK(sc);
	LAGGKIT_CORE_LOCK(sc);
	error = laggkit_errno(lk_port_lookup(sc->sc_core, buf, &idx));
	if (error == 0)
		error = laggkit_errno(arg2 == 0 ? lk_port_set_prio(sc->sc_core, idx, (uint16_t)v) :
		                                  lk_port_set_lacp_prio(sc->sc_core, idx, (uint16_t)v));
	LAGGKIT_CORE_UNLOCK(sc);
	LAGGKIT_XUNLOCK(sc);
	return (error);
}

static const char *
laggkit_duplex_name(enum lk_duplex d)
{
	return (d == LK_DUPLEX_FULL ? "full" : d == LK_DUPLEX_HALF ? "half" : "unknown");
}

static void
laggkit_format_peer(struct sbuf *sb, const char *what, const struct lk_lacp_peer_info *p)
{
	sbuf_printf(sb, " %s=(%04X,%6D,%04X,%04X,%04X) %s_state=%b", what, p->sys_prio, p->sys_mac, "-",
	    p->key, p->port_prio, p->port_no, what, p->state,
	    "\20\1ACTIVITY\2TIMEOUT\3AGGREGATION\4SYNC\5COLLECTING\6DISTRIBUTING"
	    "\7DEFAULTED\10EXPIRED");
}

/* One block per member: flags, link, media, counters, and the LACP machines under lacp. */
static int
laggkit_sysctl_ports(SYSCTL_HANDLER_ARGS)
{
	struct laggkit_softc *sc = arg1;
	struct lk_port_status *ps;
	struct sbuf *sb;
	enum lk_proto proto;
	int error, n = 0;

	error = laggkit_sysctl_visible(sc, req);
	if (error != 0)
		return (error);
	ps = malloc(LK_MAX_PORTS * sizeof(*ps), M_TEMP, M_WAITOK | M_ZERO);
	LAGGKIT_SLOCK(sc);
	LAGGKIT_CORE_LOCK(sc);
	proto = lk_get_proto(sc->sc_core);
	for (uint32_t i = 0; i < LK_MAX_PORTS; i++) {
		if (lk_get_port_status(sc->sc_core, i, &ps[n]) == LK_OK)
			n++;
	}
	LAGGKIT_CORE_UNLOCK(sc);
	LAGGKIT_SUNLOCK(sc);

	/* copyout may sleep: format only after the locks are dropped */
	sb = sbuf_new_for_sysctl(NULL, NULL, 512, req);
	for (int i = 0; i < n; i++) {
		const struct lk_port_status *p = &ps[i];
		const struct lk_lacp_port_status *l = &p->lacp;

		sbuf_printf(sb, "%s flags=%b prio=%u link=%s speed=%ju duplex=%s\n", p->name, p->flags,
		    LAGG_PORT_BITS "\11STANDBY", p->prio, p->link_up ? "up" : "down", (uintmax_t)p->speed_bps,
		    laggkit_duplex_name(p->duplex));
		sbuf_printf(sb,
		    "\trx_packets=%ju rx_bytes=%ju rx_dropped=%ju "
		    "tx_packets=%ju tx_bytes=%ju tx_dropped=%ju\n",
		    (uintmax_t)p->counters.rx_packets, (uintmax_t)p->counters.rx_bytes,
		    (uintmax_t)p->counters.rx_dropped, (uintmax_t)p->counters.tx_packets,
		    (uintmax_t)p->counters.tx_bytes, (uintmax_t)p->counters.tx_dropped);
		if (proto != LK_PROTO_LACP)
			continue;
		sbuf_printf(sb, "\tlacp rx=%s mux=%s ptx=%s sel=%s churn=%u/%u\n\t",
		    lk_lacp_state_name(0, l->rx_state), lk_lacp_state_name(1, l->mux_state),
		    lk_lacp_state_name(2, l->ptx_state), lk_lacp_state_name(3, l->sel_state), l->actor_churn,
		    l->partner_churn);
		laggkit_format_peer(sb, "actor", &l->actor);
		sbuf_printf(sb, "\n\t");
		laggkit_format_peer(sb, "partner", &l->partner);
		sbuf_printf(sb,
		    "\n\tpdus_rx=%ju pdus_tx=%ju pdus_illegal=%ju marker_rx=%ju "
		    "marker_tx=%ju marker_resp_rx=%ju marker_resp_tx=%ju unknown_rx=%ju\n",
		    (uintmax_t)l->pdus_rx, (uintmax_t)l->pdus_tx, (uintmax_t)l->pdus_illegal,
		    (uintmax_t)l->marker_rx, (uintmax_t)l->marker_tx, (uintmax_t)l->marker_resp_rx,
		    (uintmax_t)l->marker_resp_tx, (uintmax_t)l->unknown_rx);
	}
	error = sbuf_finish(sb);
	sbuf_delete(sb);
	free(ps, M_TEMP);
	return (error);
}

/* "seq seconds.milliseconds event" per line, oldest first. */
static int
laggkit_sysctl_events(SYSCTL_HANDLER_ARGS)
{
	struct laggkit_softc *sc = arg1;
	struct lk_event *ev;
	struct sbuf *sb;
	char line[128];
	uint32_t n;
	int error;

	error = laggkit_sysctl_visible(sc, req);
	if (error != 0)
		return (error);
	ev = malloc(LK_EVENT_RING * sizeof(*ev), M_TEMP, M_WAITOK | M_ZERO);
	LAGGKIT_CORE_LOCK(sc);
	n = lk_events_read(sc->sc_core, 0, ev, LK_EVENT_RING);
	LAGGKIT_CORE_UNLOCK(sc);

	sb = sbuf_new_for_sysctl(NULL, NULL, 1024, req);
	for (uint32_t i = 0; i < n; i++) {
		lk_event_format(&ev[i], line, sizeof(line));
		sbuf_printf(sb, "%ju %ju.%03ju %s\n", (uintmax_t)ev[i].seq,
		    (uintmax_t)(ev[i].time_ns / 1000000000ULL),
		    (uintmax_t)(ev[i].time_ns / 1000000ULL % 1000), line);
	}
	error = sbuf_finish(sb);
	sbuf_delete(sb);
	free(ev, M_TEMP);
	return (error);
}

/* Aggregate-wide figures; arg2 selects which. */
enum { LAGGKIT_ST_NPORTS, LAGGKIT_ST_NACTIVE, LAGGKIT_ST_SPEED, LAGGKIT_ST_OUT_NO_PORT, LAGGKIT_ST_FLAPPING };

static int
laggkit_sysctl_stat(SYSCTL_HANDLER_ARGS)
{
	struct laggkit_softc *sc = arg1;
	struct lk_status st;
	uint64_t v = 0;
	int error;

	error = laggkit_sysctl_visible(sc, req);
	if (error != 0)
		return (error);
	LAGGKIT_CORE_LOCK(sc);
	if (lk_get_status(sc->sc_core, &st) == LK_OK) {
		switch (arg2) {
		case LAGGKIT_ST_NPORTS:
			v = st.nports;
			break;
		case LAGGKIT_ST_NACTIVE:
			v = st.nactive;
			break;
		case LAGGKIT_ST_SPEED:
			v = st.speed_bps;
			break;
		case LAGGKIT_ST_OUT_NO_PORT:
			v = st.out_no_port;
			break;
		case LAGGKIT_ST_FLAPPING:
			v = sc->sc_flapping;
			break;
		}
	}
	LAGGKIT_CORE_UNLOCK(sc);
	return (sysctl_handle_64(oidp, &v, 0, req));
}

/* ---- Attach / detach ---------------------------------------------------------------------- */

/* Called with laggkit_sx held, after sc joined laggkit_list. */
void
laggkit_sysctl_attach(struct laggkit_softc *sc)
{
	static const struct {
		const char *name;
		int which;
		const char *descr;
	} stats[] = {
		{ "nports", LAGGKIT_ST_NPORTS, "Member ports" },
		{ "nactive", LAGGKIT_ST_NACTIVE, "Active (distributing) ports" },
		{ "speed", LAGGKIT_ST_SPEED, "Aggregate speed, bit/s" },
		{ "out_no_port", LAGGKIT_ST_OUT_NO_PORT, "Frames dropped for lack of a port" },
		{ "flapping", LAGGKIT_ST_FLAPPING, "Member link-down transitions" },
	};
	static u_int seq;
	struct sysctl_oid_list *children;
	struct sysctl_oid *node;
	struct laggkit_softc *other;

	sx_assert(&laggkit_sx, SA_XLOCKED);
	snprintf(sc->sc_sysctl_name, sizeof(sc->sc_sysctl_name), "%d", sc->sc_ifp->if_dunit);
	LIST_FOREACH(other, &laggkit_list, sc_entry) {
		if (other != sc && strcmp(other->sc_sysctl_name, sc->sc_sysctl_name) == 0) {
			snprintf(sc->sc_sysctl_name, sizeof(sc->sc_sysctl_name), "%d_%u",
			    sc->sc_ifp->if_dunit, ++seq);
			break;
		}
	}

	node = SYSCTL_ADD_NODE(&sc->sc_sysctl, SYSCTL_STATIC_CHILDREN(_net_link_laggkit), OID_AUTO,
	    sc->sc_sysctl_name, CTLFLAG_RD | CTLFLAG_MPSAFE, NULL, "laggkit interface");
	if (node == NULL)
		return;
	children = SYSCTL_CHILDREN(node);

	SYSCTL_ADD_PROC(&sc->sc_sysctl, children, OID_AUTO, "proto",
	    CTLTYPE_STRING | CTLFLAG_RD | CTLFLAG_MPSAFE, sc, 0, laggkit_sysctl_proto, "A",
	    "Aggregation protocol (set with ifconfig laggproto)");
	for (size_t i = 0; i < nitems(laggkit_opts); i++)
		SYSCTL_ADD_PROC(&sc->sc_sysctl, children, OID_AUTO, laggkit_opts[i].name,
		    CTLTYPE_UINT | CTLFLAG_RW | CTLFLAG_MPSAFE, sc, laggkit_opts[i].opt, laggkit_sysctl_opt,
		    "IU", laggkit_opts[i].descr);
	SYSCTL_ADD_PROC(&sc->sc_sysctl, children, OID_AUTO, "port_prio",
	    CTLTYPE_STRING | CTLFLAG_RW | CTLFLAG_MPSAFE, sc, 0, laggkit_sysctl_prio, "A",
	    "failover priority per member, lower is preferred (set: \"name:prio\")");
	SYSCTL_ADD_PROC(&sc->sc_sysctl, children, OID_AUTO, "lacp_port_prio",
	    CTLTYPE_STRING | CTLFLAG_RW | CTLFLAG_MPSAFE, sc, 1, laggkit_sysctl_prio, "A",
	    "LACP port priority per member (set: \"name:prio\")");
	SYSCTL_ADD_PROC(&sc->sc_sysctl, children, OID_AUTO, "ports",
	    CTLTYPE_STRING | CTLFLAG_RD | CTLFLAG_MPSAFE, sc, 0, laggkit_sysctl_ports, "A",
	    "Member status and counters");
	SYSCTL_ADD_PROC(&sc->sc_sysctl, children, OID_AUTO, "events",
	    CTLTYPE_STRING | CTLFLAG_RD | CTLFLAG_MPSAFE, sc, 0, laggkit_sysctl_events, "A",
	    "Event ring: seq, seconds since boot, event");
	for (size_t i = 0; i < nitems(stats); i++)
		SYSCTL_ADD_PROC(&sc->sc_sysctl, children, OID_AUTO, stats[i].name,
		    CTLTYPE_U64 | CTLFLAG_RD | CTLFLAG_MPSAFE, sc, stats[i].which, laggkit_sysctl_stat, "QU",
		    stats[i].descr);
}

/* No laggkit lock may be held: removal waits for running handlers, which take them. */
void
laggkit_sysctl_detach(struct laggkit_softc *sc)
{
	sysctl_ctx_free(&sc->sc_sysctl);
}
