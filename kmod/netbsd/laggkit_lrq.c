/*
 * laggkit on NetBSD: struct lagg_req in, core configuration calls out, core status back into
 * struct lagg_req (see laggkit_lrq.h). OS-free: the kernel glue and the user-space tests
 * (test/netbsd) compile this same file.
 *
 * Semantics are lagg(4)'s (sys/net/lagg/if_lagg.c, lagg_config() and lagg_proto_ioctl()),
 * except where the core is deliberately different:
 *   - SETPROTO keeps the members (lagg(4) removes them all first); a port list in the same
 *     request is added after the switch, as lagg(4) does.
 *   - `pri` is both the failover priority and the LACP port priority, as in lagg(4), but pri 0
 *     means the default (32768) in the core.
 */
#include "laggkit_lrq.h"

static void
lkn_copy_mac(uint8_t *dst, const uint8_t *src)
{
	for (int i = 0; i < LKN_MAC_LEN; i++)
		dst[i] = src[i];
}

static void
lkn_zero(void *p, size_t n)
{
	uint8_t *b = p;

	while (n-- > 0)
		*b++ = 0;
}

/* Copy an interface name that may fill its array without a NUL; refuse an empty one. */
static int
lkn_copy_name(char dst[LKN_IFNAMSIZ], const char *src)
{
	size_t i;

	for (i = 0; i < LKN_IFNAMSIZ - 1 && src[i] != '\0'; i++)
		dst[i] = src[i];
	if (i == LKN_IFNAMSIZ - 1 && src[i] != '\0')
		return LK_EINVAL; /* no room for the NUL: not a name the kernel has */
	dst[i] = '\0';
	return i == 0 ? LK_EINVAL : LK_OK;
}

int
lkn_proto_from_netbsd(int nproto, enum lk_proto *out)
{
	switch (nproto) {
	case LKN_PROTO_NONE:
		*out = LK_PROTO_NONE;
		return LK_OK;
	case LKN_PROTO_LACP:
		*out = LK_PROTO_LACP;
		return LK_OK;
	case LKN_PROTO_FAILOVER:
		*out = LK_PROTO_FAILOVER;
		return LK_OK;
	case LKN_PROTO_LOADBALANCE:
		*out = LK_PROTO_LOADBALANCE;
		return LK_OK;
	default:
		return LKN_EPROTONOSUPPORT;
	}
}

int
lkn_proto_to_netbsd(enum lk_proto p)
{
	switch (p) {
	case LK_PROTO_NONE:
		return LKN_PROTO_NONE;
	case LK_PROTO_LACP:
		return LKN_PROTO_LACP;
	case LK_PROTO_FAILOVER:
		return LKN_PROTO_FAILOVER;
	case LK_PROTO_LOADBALANCE:
		return LKN_PROTO_LOADBALANCE;
	default:
		return LKN_PROTO_EXT + (int)p;
	}
}

int
lkn_decode(const struct lkn_lagg_req *req, size_t nports_avail, struct lkn_cmd *cmd)
{
	const struct lkn_laggreqport *rp = &req->lrq_reqports[0];
	int error;

	lkn_zero(cmd, sizeof(*cmd));
	switch (req->lrq_ioctl) {
	case LKN_IOC_SETPROTO:
		cmd->kind = LKN_CMD_SETPROTO;
		if ((error = lkn_proto_from_netbsd(req->lrq_proto, &cmd->proto)) != LK_OK)
			return error;
		if (req->lrq_nports > nports_avail || req->lrq_nports > LK_MAX_PORTS)
			return LK_EINVAL;
		cmd->ports = rp;
		cmd->nports = req->lrq_nports;
		for (size_t i = 0; i < cmd->nports; i++) {
			char name[LKN_IFNAMSIZ];

			if ((error = lkn_copy_name(name, rp[i].rp_portname)) != LK_OK)
				return error;
		}
		return LK_OK;
	case LKN_IOC_ADDPORT:
	case LKN_IOC_DELPORT:
	case LKN_IOC_SETPORTPRI:
		cmd->kind = req->lrq_ioctl == LKN_IOC_ADDPORT ? LKN_CMD_ADDPORT :
		    req->lrq_ioctl == LKN_IOC_DELPORT         ? LKN_CMD_DELPORT :
		                                                LKN_CMD_SETPORTPRI;
		/* lagg(4) reads lrq_reqports[0] whatever lrq_nports says; it is always there */
		if ((error = lkn_copy_name(cmd->name, rp->rp_portname)) != LK_OK)
			return error;
		if (cmd->kind == LKN_CMD_SETPORTPRI) {
			/* ifconfig's "pri" takes 0..65535; the core's priorities are 16 bits */
			if (rp->rp_prio > 0xffffu)
				return LK_EINVAL;
			cmd->prio = (uint16_t)rp->rp_prio;
		}
		return LK_OK;
	case LKN_IOC_SETPROTOOPT:
		cmd->kind = LKN_CMD_PROTOOPT;
		if ((error = lkn_proto_from_netbsd(req->lrq_proto, &cmd->proto)) != LK_OK)
			return error;
		cmd->opt = req->lrq_reqproto;
		return LK_OK;
	default:
		return LKN_ENOTTY;
	}
}

static int
lkn_apply_lacp(struct lk_softc *sc, struct lkn_state *ns, const struct lkn_laggreq_lacp *o)
{
	uint32_t on;
	int error = LK_OK;

	switch (o->command) {
	case LKN_LACP_SETFLAGS:
	case LKN_LACP_CLRFLAGS:
		on = o->command == LKN_LACP_SETFLAGS;
		if ((o->flags & ~LKN_LACP_FLAGS) != 0)
			return LK_EINVAL;
		/* optimistic: distribute before the partner is in sync, the core's non-strict mode */
		if ((o->flags & LKN_LACP_OPTIMISTIC) != 0)
			error = lk_set_opt(sc, LK_OPT_LACP_STRICT, !on);
		if (error == LK_OK && (o->flags & LKN_LACP_MULTILS) != 0)
			error = lk_set_opt(sc, LK_OPT_LACP_MULTI_SPEED, on);
		if (error == LK_OK) {
			uint32_t dbg = o->flags & (LKN_LACP_DUMPDU | LKN_LACP_STOPDU);

			ns->lacp_debug = on ? ns->lacp_debug | dbg : ns->lacp_debug & ~dbg;
		}
		return error;
	case LKN_LACP_SETMAXPORTS:
		if (o->maxports == 0 || o->maxports > LK_MAX_PORTS)
			return LKN_ERANGE;
		return lk_set_opt(sc, LK_OPT_LACP_MAXPORTS, (uint32_t)o->maxports);
	case LKN_LACP_CLRMAXPORTS:
		return lk_set_opt(sc, LK_OPT_LACP_MAXPORTS, 0);
	default:
		return LKN_ENOTTY;
	}
}

static int
lkn_apply_fail(struct lk_softc *sc, const struct lkn_laggreq_fail *o)
{
	if (o->command != LKN_FAIL_SETFLAGS && o->command != LKN_FAIL_CLRFLAGS)
		return LKN_ENOTTY;
	if ((o->flags & ~LKN_FAIL_RXALL) != 0)
		return LK_EINVAL;
	if ((o->flags & LKN_FAIL_RXALL) == 0)
		return LK_OK;
	return lk_set_opt(sc, LK_OPT_FAILOVER_RX_ALL, o->command == LKN_FAIL_SETFLAGS);
}

int
lkn_apply(struct lk_softc *sc, struct lkn_state *ns, const struct lkn_cmd *cmd)
{
	uint32_t port;
	int error;

	switch (cmd->kind) {
	case LKN_CMD_SETPROTO:
		return lk_set_proto(sc, cmd->proto);
	case LKN_CMD_SETPORTPRI:
		if ((error = lk_port_lookup(sc, cmd->name, &port)) != LK_OK)
			return error;
		if ((error = lk_port_set_prio(sc, port, cmd->prio)) != LK_OK)
			return error;
		return lk_port_set_lacp_prio(sc, port, cmd->prio);
	case LKN_CMD_PROTOOPT:
		/* lagg(4): an option block must name the protocol that is running */
		if (cmd->proto != lk_get_proto(sc))
			return LKN_EPROTOMISMATCH;
		switch (cmd->proto) {
		case LK_PROTO_LACP:
			return lkn_apply_lacp(sc, ns, &cmd->opt.rp_proto.proto_lacp);
		case LK_PROTO_FAILOVER:
			return lkn_apply_fail(sc, &cmd->opt.rp_proto.proto_fail);
		default:
			return LKN_ENOTTY; /* none and loadbalance have no options */
		}
	case LKN_CMD_ADDPORT:
	case LKN_CMD_DELPORT:
	default:
		return LK_EINVAL; /* membership is the glue's */
	}
}

uint32_t
lkn_port_flags(uint32_t f)
{
	uint32_t out = 0;

	if (f & LK_PORT_MASTER)
		out |= LKN_PORT_MASTER;
	if (f & LK_PORT_STACK)
		out |= LKN_PORT_STACK;
	if (f & LK_PORT_ACTIVE)
		out |= LKN_PORT_ACTIVE;
	if (f & LK_PORT_COLLECTING)
		out |= LKN_PORT_COLLECTING;
	if (f & LK_PORT_DISTRIBUTING)
		out |= LKN_PORT_DISTRIBUTING;
	if (f & LK_PORT_STANDBY)
		out |= LKN_PORT_STANDBY;
	return out;
}

static void
lkn_port_status(const struct lk_port_status *ps, enum lk_proto proto, struct lkn_laggreqport *rp)
{
	struct lkn_laggreq_lacpport *lp = &rp->rp_port.port_lacp;

	lkn_zero(rp, sizeof(*rp));
	(void)lkn_copy_name(rp->rp_portname, ps->name);
	rp->rp_prio = ps->prio;
	rp->rp_flags = lkn_port_flags(ps->flags);
	if (proto != LK_PROTO_LACP)
		return;
	lp->partner_prio = ps->lacp.partner.sys_prio;
	lkn_copy_mac(lp->partner_mac, ps->lacp.partner.sys_mac);
	lp->partner_key = ps->lacp.partner.key;
	lp->actor_portprio = ps->lacp.actor.port_prio;
	lp->actor_portno = ps->lacp.actor.port_no;
	lp->actor_state = ps->lacp.actor.state;
	lp->partner_portprio = ps->lacp.partner.port_prio;
	lp->partner_portno = ps->lacp.partner.port_no;
	lp->partner_state = ps->lacp.partner.state;
}

int
lkn_status(const struct lk_softc *sc, const struct lkn_state *ns, struct lkn_lagg_req *resp, size_t room)
{
	struct lkn_laggreq_lacp *lacp = &resp->lrq_reqproto.rp_proto.proto_lacp;
	struct lk_port_status ps;
	struct lk_status st;
	size_t n = 0;
	int error;

	if ((error = lk_get_status(sc, &st)) != LK_OK)
		return error;
	lkn_zero(resp, LKN_REQ_SIZE(room));
	resp->lrq_proto = lkn_proto_to_netbsd(st.proto);
	switch (st.proto) {
	case LK_PROTO_LACP:
		lacp->flags = ns->lacp_debug;
		if (!st.opts[LK_OPT_LACP_STRICT])
			lacp->flags |= LKN_LACP_OPTIMISTIC;
		if (st.opts[LK_OPT_LACP_MULTI_SPEED])
			lacp->flags |= LKN_LACP_MULTILS;
		/* lagg(4) reports its limit; unlimited in the core is every port it can hold */
		lacp->maxports =
		    st.opts[LK_OPT_LACP_MAXPORTS] != 0 ? st.opts[LK_OPT_LACP_MAXPORTS] : LK_MAX_PORTS;
		lacp->actor_prio = st.lag_actor.sys_prio;
		lkn_copy_mac(lacp->actor_mac, st.lag_actor.sys_mac);
		lacp->actor_key = st.lag_actor.key;
		lacp->partner_prio = st.lag_partner.sys_prio;
		lkn_copy_mac(lacp->partner_mac, st.lag_partner.sys_mac);
		lacp->partner_key = st.lag_partner.key;
		break;
	case LK_PROTO_FAILOVER:
		if (st.opts[LK_OPT_FAILOVER_RX_ALL])
			resp->lrq_reqproto.rp_proto.proto_fail.flags = LKN_FAIL_RXALL;
		break;
	default:
		break;
	}
	for (uint32_t i = 0; i < LK_MAX_PORTS; i++) {
		if ((st.port_mask & (1u << i)) == 0)
			continue;
		if (n < room) {
			if ((error = lk_get_port_status(sc, i, &ps)) != LK_OK)
				return error;
			lkn_port_status(&ps, st.proto, &resp->lrq_reqports[n]);
		}
		n++;
	}
	resp->lrq_nports = n;
	return n > room ? LKN_ENOBUFS : LK_OK;
}

size_t
lkn_status_room(size_t asked)
{
	return asked < LK_MAX_PORTS ? asked : LK_MAX_PORTS;
}

size_t
lkn_status_copyout(const struct lkn_lagg_req *resp, size_t room)
{
	return LKN_REQ_SIZE(resp->lrq_nports < room ? resp->lrq_nports : room);
}

size_t
lkn_request_size(size_t nports)
{
	if (nports > LK_MAX_PORTS)
		return 0;
	/* the header carries the first entry */
	return nports > 1 ? LKN_REQ_SIZE(nports - 1) : sizeof(struct lkn_lagg_req);
}

/* ---- ifconfig's text ---------------------------------------------------------------------- */

struct lkn_out {
	char *buf;
	size_t len, pos;
};

static void
lkn_putc(struct lkn_out *o, char c)
{
	if (o->pos + 1 < o->len)
		o->buf[o->pos] = c;
	o->pos++;
}

static void
lkn_puts(struct lkn_out *o, const char *s)
{
	while (*s != '\0')
		lkn_putc(o, *s++);
}

static void
lkn_putnum(struct lkn_out *o, uint64_t v, unsigned base, int width, bool upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v != 0);
	while (width-- > n)
		lkn_putc(o, '0');
	while (n > 0)
		lkn_putc(o, tmp[--n]);
}

/* snprintb(3) with a "\020" (hex) format: 0x5<MASTER,ACTIVE>, or 0x0 */
static void
lkn_putbits(struct lkn_out *o, uint32_t v, const char *const names[8])
{
	bool any = false;

	lkn_puts(o, "0x");
	lkn_putnum(o, v, 16, 0, false);
	for (int bit = 0; bit < 8; bit++) {
		if ((v & (1u << bit)) == 0 || names[bit] == NULL)
			continue;
		lkn_putc(o, any ? ',' : '<');
		lkn_puts(o, names[bit]);
		any = true;
	}
	if (any)
		lkn_putc(o, '>');
}

static const char *const lkn_port_bits[8] = { "MASTER", "STACK", "ACTIVE", "COLLECTING", "DISTRIBUTING",
	"STANDBY", NULL, NULL };
static const char *const lkn_lacp_state_bits[8] = { "ACTIVITY", "TIMEOUT", "AGGREGATION", "SYNC",
	"COLLECTING", "DISTRIBUTING", "DEFAULTED", "EXPIRED" };
static const char *const lkn_lacp_flag_bits[8] = { "OPTIMISTIC", "DUMPDU", "STOPDU", "MULTILS", NULL, NULL,
	NULL, NULL };

/* lacp_format_id(): [PPPP,MM-MM-MM-MM-MM-MM,KKKK] */
static void
lkn_put_lacp_id(struct lkn_out *o, uint16_t prio, const uint8_t mac[LKN_MAC_LEN], uint16_t key)
{
	lkn_putc(o, '[');
	lkn_putnum(o, prio, 16, 4, true);
	lkn_putc(o, ',');
	for (int i = 0; i < LKN_MAC_LEN; i++) {
		if (i > 0)
			lkn_putc(o, '-');
		lkn_putnum(o, mac[i], 16, 2, true);
	}
	lkn_putc(o, ',');
	lkn_putnum(o, key, 16, 4, true);
	lkn_putc(o, ']');
}

static const char *
lkn_proto_word(int nproto)
{
	switch (nproto) {
	case LKN_PROTO_NONE:
		return "none";
	case LKN_PROTO_LACP:
		return "lacp";
	case LKN_PROTO_FAILOVER:
		return "failover";
	case LKN_PROTO_LOADBALANCE:
		return "loadbalance";
	default:
		return "unknown";
	}
}

size_t
lkn_format_status(const struct lkn_lagg_req *req, bool verbose, char *buf, size_t len)
{
	const struct lkn_laggreq_lacp *lacp = &req->lrq_reqproto.rp_proto.proto_lacp;
	struct lkn_out o = { buf, len, 0 };
	bool is_lacp = req->lrq_proto == LKN_PROTO_LACP;

	lkn_puts(&o, "\tlaggproto ");
	lkn_puts(&o, lkn_proto_word(req->lrq_proto));
	if (verbose && is_lacp) {
		lkn_puts(&o, "\n\t\tmax ports=");
		lkn_putnum(&o, lacp->maxports, 10, 0, false);
		lkn_puts(&o, ", flags=");
		lkn_putbits(&o, lacp->flags, lkn_lacp_flag_bits);
		lkn_puts(&o, "\n\t\tactor=");
		lkn_put_lacp_id(&o, lacp->actor_prio, lacp->actor_mac, lacp->actor_key);
		lkn_puts(&o, "\n\t\tpartner=");
		lkn_put_lacp_id(&o, lacp->partner_prio, lacp->partner_mac, lacp->partner_key);
	}
	lkn_putc(&o, '\n');
	if (req->lrq_nports > 0)
		lkn_puts(&o, "\tlaggport:\n");
	for (size_t i = 0; i < req->lrq_nports; i++) {
		const struct lkn_laggreqport *rp = &req->lrq_reqports[i];
		const struct lkn_laggreq_lacpport *lp = &rp->rp_port.port_lacp;
		char name[LKN_IFNAMSIZ + 1];
		size_t k;

		for (k = 0; k < LKN_IFNAMSIZ && rp->rp_portname[k] != '\0'; k++)
			name[k] = rp->rp_portname[k];
		name[k] = '\0';
		lkn_puts(&o, "\t\t");
		lkn_puts(&o, name);
		lkn_puts(&o, " pri=");
		lkn_putnum(&o, rp->rp_prio, 10, 0, false);
		lkn_puts(&o, " flags=");
		lkn_putbits(&o, rp->rp_flags, lkn_port_bits);
		if (verbose && is_lacp) {
			lkn_puts(&o, "\n\t\t\tactor: state=");
			lkn_putbits(&o, lp->actor_state, lkn_lacp_state_bits);
			lkn_puts(&o, "\n\t\t\tpartner=");
			lkn_put_lacp_id(&o, lp->partner_prio, lp->partner_mac, lp->partner_key);
			lkn_puts(&o, "\n\t\t\tpartner: port=");
			lkn_putnum(&o, lp->partner_portno, 16, 4, true);
			lkn_puts(&o, " prio=");
			lkn_putnum(&o, lp->partner_portprio, 16, 4, true);
			lkn_puts(&o, " state=");
			lkn_putbits(&o, lp->partner_state, lkn_lacp_state_bits);
		}
		lkn_putc(&o, '\n');
	}
	if (len > 0)
		buf[o.pos < len ? o.pos : len - 1] = '\0';
	return o.pos;
}

/* ---- sysctl options ------------------------------------------------------------------------ */

const struct lkn_sysctl_opt lkn_sysctl_opts[] = {
	{ "hash_layers", LK_OPT_HASH_LAYERS, "hash over 1 l2, 2 l3, 4 l4 (mask)" },
	{ "hash_seed", LK_OPT_HASH_SEED, "key of the transmit hash" },
	{ "use_flowid", LK_OPT_USE_FLOWID, "use the NIC's flow id when it has one" },
	{ "flowid_shift", LK_OPT_FLOWID_SHIFT, "shift applied to the flow id" },
	{ "rr_limit", LK_OPT_RR_LIMIT, "roundrobin: packets per port before rotating" },
	{ "failover_rx_all", LK_OPT_FAILOVER_RX_ALL, "failover: accept on every port" },
	{ "failover_preempt", LK_OPT_FAILOVER_PREEMPT, "failover: return to the primary" },
	{ "lacp_fast_timeout", LK_OPT_LACP_FAST_TIMEOUT, "lacp: ask for fast LACPDUs" },
	{ "lacp_strict", LK_OPT_LACP_STRICT, "lacp: distribute only in sync (not optimistic)" },
	{ "lacp_passive", LK_OPT_LACP_PASSIVE, "lacp: passive mode" },
	{ "lacp_sys_prio", LK_OPT_LACP_SYS_PRIO, "lacp: system priority" },
	{ "lacp_key", LK_OPT_LACP_KEY, "lacp: administrative key, 0 automatic" },
	{ "lacp_maxports", LK_OPT_LACP_MAXPORTS, "lacp: ports distributing at most, 0 all" },
	{ "lacp_multi_speed", LK_OPT_LACP_MULTI_SPEED, "lacp: aggregate different speeds" },
	{ "announce_count", LK_OPT_ANNOUNCE_COUNT, "gratuitous ARP/NA per failover" },
	{ "announce_interval_ms", LK_OPT_ANNOUNCE_INTERVAL_MS, "spacing of announcements" },
};
const size_t lkn_sysctl_nopts = sizeof(lkn_sysctl_opts) / sizeof(lkn_sysctl_opts[0]);
