/*
 * What laggctl prints: the status block in FreeBSD ifconfig's lagg layout (so the one ifconfig
 * parser reads FreeBSD, NetBSD and laggd alike), the same as JSON, the event ring and the
 * per-port counters.
 *
 * Layout (tabs as ifconfig prints them):
 *   laggkit0: flags=8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> metric 0 mtu 1500
 *   	ether 02:..
 *   	inet 10.0.0.1 netmask 0xffffff00 broadcast 10.0.0.255
 *   	laggproto lacp lagghash l2,l3,l4
 *   	laggport: veth0 flags=1c<ACTIVE,COLLECTING,DISTRIBUTING>
 *   	groups: lagg
 *   	media: Ethernet autoselect
 *   	status: active
 * -v adds, as FreeBSD does, "lagg options", "lagg statistics", "lag id" and per-port LACP state.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "laggd.h"

void
lg_out_printf(struct lg_out *o, const char *fmt, ...)
{
	va_list ap;
	if (o->len + 1 >= o->cap) {
		o->truncated = 1;
		return;
	}
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= o->cap - o->len) {
		o->truncated = 1;
		o->len = o->cap - 1;
	} else {
		o->len += (size_t)n;
	}
}

void
lg_out_json_str(struct lg_out *o, const char *s)
{
	lg_out_printf(o, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			lg_out_printf(o, "\\%c", c);
		else if (c < 0x20)
			lg_out_printf(o, "\\u%04x", c);
		else
			lg_out_printf(o, "%c", c);
	}
	lg_out_printf(o, "\"");
}

/* ---- Bit names, as ifconfig's printb() shows them ------------------------------------------ */

struct bitname {
	uint32_t bit;
	const char *name;
};

static const struct bitname if_bits[] = { { 0x1, "UP" }, { 0x2, "BROADCAST" }, { 0x40, "RUNNING" },
	{ 0x100, "PROMISC" }, { 0x200, "ALLMULTI" }, { 0x800, "SIMPLEX" }, { 0x8000, "MULTICAST" },
	{ 0, NULL } };
static const struct bitname port_bits[] = { { LK_PORT_MASTER, "MASTER" }, { LK_PORT_STACK, "STACK" },
	{ LK_PORT_ACTIVE, "ACTIVE" }, { LK_PORT_COLLECTING, "COLLECTING" },
	{ LK_PORT_DISTRIBUTING, "DISTRIBUTING" }, { LK_PORT_STANDBY, "STANDBY" }, { 0, NULL } };
static const struct bitname lacp_bits[] = { { LK_LACP_STATE_ACTIVITY, "ACTIVITY" },
	{ LK_LACP_STATE_TIMEOUT, "TIMEOUT" }, { LK_LACP_STATE_AGGREGATION, "AGGREGATION" },
	{ LK_LACP_STATE_SYNC, "SYNC" }, { LK_LACP_STATE_COLLECTING, "COLLECTING" },
	{ LK_LACP_STATE_DISTRIBUTING, "DISTRIBUTING" }, { LK_LACP_STATE_DEFAULTED, "DEFAULTED" },
	{ LK_LACP_STATE_EXPIRED, "EXPIRED" }, { 0, NULL } };
/* FreeBSD's LAGG_OPT_* bits for the -v "lagg options" flags. */
#define FB_OPT_USE_FLOWID     0x01u
#define FB_OPT_LACP_STRICT    0x10u
#define FB_OPT_LACP_FAST_TIMO 0x80u
static const struct bitname opt_bits[] = { { FB_OPT_USE_FLOWID, "USE_FLOWID" },
	{ FB_OPT_LACP_STRICT, "LACP_STRICT" }, { FB_OPT_LACP_FAST_TIMO, "LACP_FAST_TIMO" }, { 0, NULL } };

static void
printb(struct lg_out *o, const char *label, uint32_t v, const struct bitname *b)
{
	int any = 0;
	lg_out_printf(o, "%s=%x<", label, v);
	for (; b->name; b++)
		if (v & b->bit) {
			lg_out_printf(o, "%s%s", any ? "," : "", b->name);
			any = 1;
		}
	lg_out_printf(o, ">");
}

static void
json_bits(struct lg_out *o, uint32_t v, const struct bitname *b)
{
	int any = 0;
	lg_out_printf(o, "[");
	for (; b->name; b++)
		if (v & b->bit) {
			lg_out_printf(o, "%s\"%s\"", any ? "," : "", b->name);
			any = 1;
		}
	lg_out_printf(o, "]");
}

/* ---- Interface facts the core does not know --------------------------------------------------- */

static uint32_t
bsd_if_flags(struct lg_lagg *l)
{
	int fl = 0;
	uint32_t v = 0x800 | 0x2; /* SIMPLEX, BROADCAST: always, as for any Ethernet lagg */
	if (lg_if_get_flags(l->name, &fl) < 0)
		return v;
	if (fl & IFF_UP)
		v |= 0x1 | 0x40; /* RUNNING: the driver is initialised once the interface is up */
	if (fl & IFF_PROMISC)
		v |= 0x100;
	if (fl & IFF_ALLMULTI)
		v |= 0x200;
	if (fl & IFF_MULTICAST)
		v |= 0x8000;
	return v;
}

/* Calls fn for each address of the TAP; family AF_INET first, then AF_INET6, like ifconfig. */
struct addr_ent {
	int family;
	char addr[INET6_ADDRSTRLEN + IFNAMSIZ + 2];
	int plen;
	uint32_t mask, bcast;
	int scopeid;
};

static int
tap_addrs(struct lg_lagg *l, struct addr_ent *out, int max)
{
	struct ifaddrs *ifa0, *ifa;
	int n = 0;
	if (getifaddrs(&ifa0) < 0)
		return 0;
	for (int pass = 0; pass < 2; pass++) {
		int fam = pass == 0 ? AF_INET : AF_INET6;
		for (ifa = ifa0; ifa && n < max; ifa = ifa->ifa_next) {
			if (!ifa->ifa_addr || ifa->ifa_addr->sa_family != fam ||
			    strcmp(ifa->ifa_name, l->name))
				continue;
			struct addr_ent *e = &out[n++];
			memset(e, 0, sizeof(*e));
			e->family = fam;
			if (fam == AF_INET) {
				struct sockaddr_in *a = (struct sockaddr_in *)ifa->ifa_addr;
				struct sockaddr_in *m = (struct sockaddr_in *)ifa->ifa_netmask;
				inet_ntop(AF_INET, &a->sin_addr, e->addr, sizeof(e->addr));
				e->mask = m ? ntohl(m->sin_addr.s_addr) : 0;
				e->plen = __builtin_popcount(e->mask);
				e->bcast = (ntohl(a->sin_addr.s_addr) & e->mask) | ~e->mask;
			} else {
				struct sockaddr_in6 *a = (struct sockaddr_in6 *)ifa->ifa_addr;
				struct sockaddr_in6 *m = (struct sockaddr_in6 *)ifa->ifa_netmask;
				inet_ntop(AF_INET6, &a->sin6_addr, e->addr, sizeof(e->addr));
				e->plen = 0;
				if (m)
					for (int i = 0; i < 16; i++)
						e->plen += __builtin_popcount(m->sin6_addr.s6_addr[i]);
				if (IN6_IS_ADDR_LINKLOCAL(&a->sin6_addr)) {
					e->scopeid = (int)a->sin6_scope_id;
					size_t k = strlen(e->addr);
					snprintf(e->addr + k, sizeof(e->addr) - k, "%%%s", l->name);
				}
			}
		}
	}
	freeifaddrs(ifa0);
	return n;
}

static void
mac_colon(char *buf, size_t len, const uint8_t *m)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* FreeBSD's "(prio,MAC,key,portprio,portno)" with the MAC as XX-XX-.. */
static void
lacp_peer(char *buf, size_t len, const struct lk_lacp_peer_info *p)
{
	const uint8_t *m = p->sys_mac;
	snprintf(buf, len, "(%04X,%02X-%02X-%02X-%02X-%02X-%02X,%04X,%04X,%04X)", p->sys_prio, m[0], m[1],
	    m[2], m[3], m[4], m[5], p->key, p->port_prio, p->port_no);
}

static void
lag_id(char *buf, size_t len, const struct lk_lacp_peer_info *a, const struct lk_lacp_peer_info *p,
    const char *sep)
{
	char x[64], y[64];
	lacp_peer(x, sizeof(x), a);
	lacp_peer(y, sizeof(y), p);
	snprintf(buf, len, "[%s,%s%s]", x, sep, y);
}

static uint32_t
bsd_opts(const struct lk_status *st)
{
	uint32_t v = 0;
	if (st->opts[LK_OPT_USE_FLOWID])
		v |= FB_OPT_USE_FLOWID;
	if (st->opts[LK_OPT_LACP_STRICT])
		v |= FB_OPT_LACP_STRICT;
	if (st->opts[LK_OPT_LACP_FAST_TIMEOUT])
		v |= FB_OPT_LACP_FAST_TIMO;
	return v;
}

/* lagghash words, by bit (LK_HASH_L2, L3, L4). */
static const char *const hash_names[] = { "l2", "l3", "l4" };

static void
hash_list(char *buf, size_t len, uint32_t layers)
{
	const char *sep = "";
	buf[0] = '\0';
	size_t k = 0;
	for (int i = 0; i < 3; i++)
		if (layers & (1u << i)) {
			k += (size_t)snprintf(buf + k, len - k, "%s%s", sep, hash_names[i]);
			sep = ",";
		}
}

/* Ports in index order, as the core keeps them. */
static int
port_list(struct lg_lagg *l, struct lk_port_status *ps, int max)
{
	int n = 0;
	for (int i = 0; i < LK_MAX_PORTS && n < max; i++)
		if (l->ports[i].used && lk_get_port_status(l->sc, (uint32_t)i, &ps[n]) == 0) {
			/* frames the kernel delivered or sent itself are counted there (laggd_rxpath.c,
			 * laggd_txpath.c) */
			lg_rxpath_add_counters(&l->ports[i], &ps[n].counters);
			lg_txpath_add_counters(&l->ports[i], &ps[n].counters);
			n++;
		}
	return n;
}

/*
 * Everything a status block shows, read once, so that the text and the JSON renderers print
 * the same facts. Static: 32 port statuses are too large for the stack, and laggd answers
 * one request at a time on its one thread.
 */
struct status_snapshot {
	struct lk_status st;
	uint32_t mtu;
	struct addr_ent addrs[32];
	int naddrs;
	struct lk_port_status ports[LK_MAX_PORTS];
	int nports;
};

static struct status_snapshot *
status_snapshot_take(struct lg_lagg *l)
{
	static struct status_snapshot snap;

	if (lk_get_status(l->sc, &snap.st) != 0)
		memset(&snap.st, 0, sizeof(snap.st));
	snap.mtu = 0;
	lg_if_get_mtu(l->name, &snap.mtu);
	snap.naddrs = tap_addrs(l, snap.addrs, 32);
	snap.nports = port_list(l, snap.ports, LK_MAX_PORTS);
	return &snap;
}

/* ---- Text ------------------------------------------------------------------------------------ */

void
lg_status_text(struct lg_out *o, struct lg_lagg *l, int verbose)
{
	struct status_snapshot *snap = status_snapshot_take(l);
	const struct lk_status st = snap->st;
	const struct lk_port_status *ps = snap->ports;
	const struct addr_ent *addrs = snap->addrs;
	const uint32_t mtu = snap->mtu;
	char buf[256];
	lg_out_printf(o, "%s: ", l->name);
	printb(o, "flags", bsd_if_flags(l), if_bits);
	lg_out_printf(o, " metric 0 mtu %u\n", mtu);
	mac_colon(buf, sizeof(buf), st.lladdr);
	lg_out_printf(o, "\tether %s\n", buf);
	const int na = snap->naddrs;
	for (int i = 0; i < na; i++) {
		const struct addr_ent *e = &addrs[i];
		if (e->family == AF_INET) {
			struct in_addr b = { htonl(e->bcast) };
			char bs[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &b, bs, sizeof(bs));
			lg_out_printf(o, "\tinet %s netmask 0x%08x broadcast %s\n", e->addr, e->mask, bs);
		} else if (e->scopeid) {
			lg_out_printf(
			    o, "\tinet6 %s prefixlen %d scopeid 0x%x\n", e->addr, e->plen, e->scopeid);
		} else {
			lg_out_printf(o, "\tinet6 %s prefixlen %d\n", e->addr, e->plen);
		}
	}
	hash_list(buf, sizeof(buf), st.hash_layers);
	lg_out_printf(o, "\tlaggproto %s", lk_proto_name(st.proto));
	if (st.hash_layers)
		lg_out_printf(o, " lagghash %s", buf);
	lg_out_printf(o, "\n");
	if (verbose) {
		lg_out_printf(o, "\tlagg options:\n");
		printb(o, "\t\tflags", bsd_opts(&st), opt_bits);
		lg_out_printf(o, "\n\t\tflowid_shift: %u\n", st.opts[LK_OPT_FLOWID_SHIFT]);
		if (st.proto == LK_PROTO_ROUNDROBIN)
			lg_out_printf(o, "\t\trr_limit: %u\n", st.opts[LK_OPT_RR_LIMIT]);
		lg_out_printf(o, "\tlagg statistics:\n");
		lg_out_printf(o, "\t\tactive ports: %u\n", st.nactive);
		lg_out_printf(o, "\t\tflapping: %u\n", 0u);
		if (st.proto == LK_PROTO_LACP) {
			lag_id(buf, sizeof(buf), &st.lag_actor, &st.lag_partner, "\n\t\t ");
			lg_out_printf(o, "\tlag id: %s\n", buf);
		}
	}
	const int np = snap->nports;
	for (int i = 0; i < np; i++) {
		lg_out_printf(o, "\tlaggport: %s ", ps[i].name);
		printb(o, "flags", ps[i].flags, port_bits);
		if (verbose && st.proto == LK_PROTO_LACP) {
			lg_out_printf(o, " ");
			printb(o, "state", ps[i].lacp.actor.state, lacp_bits);
		}
		lg_out_printf(o, "\n");
		if (verbose && st.proto == LK_PROTO_LACP) {
			lag_id(buf, sizeof(buf), &ps[i].lacp.actor, &ps[i].lacp.partner, "\n\t\t ");
			lg_out_printf(o, "\t\t%s\n", buf);
		}
	}
	lg_out_printf(o, "\tgroups: lagg\n");
	lg_out_printf(o, "\tmedia: Ethernet autoselect\n");
	lg_out_printf(o, "\tstatus: %s\n", st.link_up ? "active" : "no carrier");
}

/* ---- JSON ------------------------------------------------------------------------------------ */

static void
json_peer(struct lg_out *o, const struct lk_lacp_peer_info *p)
{
	char mac[32];
	mac_colon(mac, sizeof(mac), p->sys_mac);
	lg_out_printf(o,
	    "{\"system_priority\":%u,\"system\":\"%s\",\"key\":%u,\"port_priority\":%u,"
	    "\"port\":%u,\"state_value\":\"%x\",\"state\":",
	    p->sys_prio, mac, p->key, p->port_prio, p->port_no, p->state);
	json_bits(o, p->state, lacp_bits);
	lg_out_printf(o, "}");
}

void
lg_status_json(struct lg_out *o, struct lg_lagg *l, int verbose)
{
	struct status_snapshot *snap = status_snapshot_take(l);
	const struct lk_status st = snap->st;
	const struct lk_port_status *ps = snap->ports;
	const struct addr_ent *addrs = snap->addrs;
	const uint32_t mtu = snap->mtu;
	char buf[256];
	uint32_t fl = bsd_if_flags(l);
	lg_out_printf(o, "{\"name\":");
	lg_out_json_str(o, l->name);
	lg_out_printf(o, ",\"flags_value\":\"%x\",\"flags\":", fl);
	json_bits(o, fl, if_bits);
	mac_colon(buf, sizeof(buf), st.lladdr);
	lg_out_printf(o, ",\"metric\":0,\"mtu\":%u,\"ether\":\"%s\"", mtu, buf);
	const int na = snap->naddrs;
	for (int pass = 0; pass < 2; pass++) {
		int any = 0;
		lg_out_printf(o, pass == 0 ? ",\"inet\":[" : ",\"inet6\":[");
		for (int i = 0; i < na; i++)
			if ((addrs[i].family == AF_INET) == (pass == 0)) {
				lg_out_printf(o, "%s\"%s/%d\"", any ? "," : "", addrs[i].addr, addrs[i].plen);
				any = 1;
			}
		lg_out_printf(o, "]");
	}
	lg_out_printf(o, ",\"laggproto\":\"%s\",\"lagghash\":[", lk_proto_name(st.proto));
	for (int i = 0, any = 0; i < 3; i++)
		if (st.hash_layers & (1u << i)) {
			lg_out_printf(o, "%s\"%s\"", any ? "," : "", hash_names[i]);
			any = 1;
		}
	lg_out_printf(o,
	    "],\"options\":{\"use_flowid\":%s,\"flowid_shift\":%u,\"rr_limit\":%u,"
	    "\"failover_rx_all\":%s,\"failover_preempt\":%s,\"lacp_fast_timeout\":%s,"
	    "\"lacp_strict\":%s,\"lacp_passive\":%s,\"lacp_sys_prio\":%u,\"lacp_key\":%u,"
	    "\"lacp_maxports\":%u,\"lacp_multi_speed\":%s,\"announce_count\":%u,"
	    "\"announce_interval_ms\":%u,\"lacp_full_wait\":%s,"
	    "\"lacp_sys_mac\":\"%02x:%02x:%02x:%02x:%02x:%02x\",\"lacp_sys_mac_admin\":%s}",
	    st.opts[LK_OPT_USE_FLOWID] ? "true" : "false", st.opts[LK_OPT_FLOWID_SHIFT],
	    st.opts[LK_OPT_RR_LIMIT], st.opts[LK_OPT_FAILOVER_RX_ALL] ? "true" : "false",
	    st.opts[LK_OPT_FAILOVER_PREEMPT] ? "true" : "false",
	    st.opts[LK_OPT_LACP_FAST_TIMEOUT] ? "true" : "false",
	    st.opts[LK_OPT_LACP_STRICT] ? "true" : "false", st.opts[LK_OPT_LACP_PASSIVE] ? "true" : "false",
	    st.opts[LK_OPT_LACP_SYS_PRIO], st.opts[LK_OPT_LACP_KEY], st.opts[LK_OPT_LACP_MAXPORTS],
	    st.opts[LK_OPT_LACP_MULTI_SPEED] ? "true" : "false", st.opts[LK_OPT_ANNOUNCE_COUNT],
	    st.opts[LK_OPT_ANNOUNCE_INTERVAL_MS], st.opts[LK_OPT_LACP_FULL_WAIT] ? "true" : "false",
	    st.lacp_sys_mac[0], st.lacp_sys_mac[1], st.lacp_sys_mac[2], st.lacp_sys_mac[3],
	    st.lacp_sys_mac[4], st.lacp_sys_mac[5], st.lacp_sys_mac_admin ? "true" : "false");
	lg_out_printf(o, ",\"active_ports\":%u", st.nactive);
	const int np = snap->nports;
	const char *active = NULL;
	if (st.active_port >= 0 && st.active_port < LK_MAX_PORTS && l->ports[st.active_port].used)
		active = l->ports[st.active_port].name;
	lg_out_printf(o, ",\"active_port\":");
	if (active)
		lg_out_json_str(o, active);
	else
		lg_out_printf(o, "null");
	if (st.proto == LK_PROTO_LACP) {
		lag_id(buf, sizeof(buf), &st.lag_actor, &st.lag_partner, "");
		lg_out_printf(o, ",\"lag_id\":\"%s\"", buf);
	}
	lg_out_printf(o, ",\"ports\":[");
	for (int i = 0; i < np; i++) {
		lg_out_printf(o, "%s{\"name\":", i ? "," : "");
		lg_out_json_str(o, ps[i].name);
		lg_out_printf(o, ",\"flags_value\":\"%x\",\"flags\":", ps[i].flags);
		json_bits(o, ps[i].flags, port_bits);
		lg_out_printf(o, ",\"prio\":%u,\"link\":%s,\"speed\":%llu,\"duplex\":\"%s\"", ps[i].prio,
		    ps[i].link_up ? "true" : "false", (unsigned long long)ps[i].speed_bps,
		    ps[i].duplex == LK_DUPLEX_FULL     ? "full" :
		        ps[i].duplex == LK_DUPLEX_HALF ? "half" :
		                                         "unknown");
		if (st.proto == LK_PROTO_LACP) {
			const struct lk_lacp_port_status *lp = &ps[i].lacp;
			lg_out_printf(o, ",\"lacp\":{\"actor\":");
			json_peer(o, &lp->actor);
			lg_out_printf(o, ",\"partner\":");
			json_peer(o, &lp->partner);
			lg_out_printf(o,
			    ",\"rx_state\":\"%s\",\"mux_state\":\"%s\",\"ptx_state\":\"%s\","
			    "\"sel_state\":\"%s\"",
			    lk_lacp_state_name(0, lp->rx_state), lk_lacp_state_name(1, lp->mux_state),
			    lk_lacp_state_name(2, lp->ptx_state), lk_lacp_state_name(3, lp->sel_state));
			if (verbose)
				lg_out_printf(o, ",\"actor_churn\":%u,\"partner_churn\":%u", lp->actor_churn,
				    lp->partner_churn);
			lg_out_printf(o, "}");
		}
		lg_out_printf(o, "}");
	}
	lg_out_printf(o, "],\"media\":\"Ethernet autoselect\",\"status\":\"%s\"}\n",
	    st.link_up ? "active" : "no carrier");
}

/* ---- Events ---------------------------------------------------------------------------------- */

void
lg_events_print(struct lg_out *o, struct lg_lagg *l, int json)
{
	static struct lk_event evs[LK_EVENT_RING];
	char text[160], ts[64];
	uint32_t n = lk_events_read(l->sc, 0, evs, LK_EVENT_RING);

	if (json)
		lg_out_printf(o, "[");
	for (uint32_t i = 0; i < n; i++) {
		const struct lk_event *e = &evs[i];
		/* Event times are monotonic; shown as wall-clock time via the offset taken at start. */
		uint64_t real = lg.start_real_ns + (e->time_ns - lg.start_mono_ns);
		time_t sec = (time_t)(real / 1000000000u);
		struct tm tm;
		gmtime_r(&sec, &tm);
		size_t k = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(ts + k, sizeof(ts) - k, ".%03uZ", (unsigned)(real / 1000000u % 1000u));
		lk_event_format(e, text, sizeof(text));
		if (json) {
			lg_out_printf(o,
			    "%s{\"seq\":%llu,\"time\":\"%s\",\"mono_ns\":%llu,\"type\":\"%s\","
			    "\"port\":",
			    i ? "," : "", (unsigned long long)e->seq, ts, (unsigned long long)e->time_ns,
			    lk_event_name((enum lk_event_type)e->type));
			if (e->port >= 0)
				lg_out_json_str(o, e->port_name);
			else
				lg_out_printf(o, "null");
			lg_out_printf(o, ",\"arg\":%d,\"text\":", e->arg);
			lg_out_json_str(o, text);
			lg_out_printf(o, "}");
		} else {
			lg_out_printf(o, "%s  %s\n", ts, text);
		}
	}
	if (json)
		lg_out_printf(o, "]\n");
}

/* ---- Counters -------------------------------------------------------------------------------- */

void
lg_counters_print(struct lg_out *o, struct lg_lagg *l, int json)
{
	static struct lk_port_status ps[LK_MAX_PORTS];
	int np = port_list(l, ps, LK_MAX_PORTS);

	if (json) {
		lg_out_printf(o, "{\"name\":");
		lg_out_json_str(o, l->name);
		lg_out_printf(o, ",\"ports\":[");
	} else {
		lg_out_printf(o, "%-15s %12s %14s %12s %14s %10s %10s %8s %8s %8s %8s %8s\n", "port",
		    "rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "rx_drop", "tx_drop", "lacp_rx",
		    "lacp_tx", "illegal", "mark_rx", "mark_tx");
	}
	for (int i = 0; i < np; i++) {
		const struct lk_port_counters *c = &ps[i].counters;
		const struct lk_lacp_port_status *lp = &ps[i].lacp;
		struct lg_port *p = lg_port_by_name(ps[i].name, NULL);
		uint64_t txerr = p ? p->tx_errors : 0, tapdrop = p ? p->tap_write_drops : 0;
		uint64_t ringdrop = 0, sockframes = 0;
		if (p && p->fd >= 0) {
			struct tpacket_stats_v3 s;
			socklen_t sl = sizeof(s);
			/* The kernel resets these on read, so laggd accumulates them. */
			if (getsockopt(p->fd, SOL_PACKET, PACKET_STATISTICS, &s, &sl) == 0) {
				p->rx_ring_drops += s.tp_drops;
				p->rx_socket_frames += s.tp_packets;
			}
			ringdrop = p->rx_ring_drops;
			sockframes = p->rx_socket_frames;
		}
		if (json) {
			lg_out_printf(o, "%s{\"name\":", i ? "," : "");
			lg_out_json_str(o, ps[i].name);
			lg_out_printf(o,
			    ",\"rx_packets\":%llu,\"rx_bytes\":%llu,\"tx_packets\":%llu,"
			    "\"tx_bytes\":%llu,\"rx_dropped\":%llu,\"tx_dropped\":%llu,\"lacp_rx\":%llu,"
			    "\"lacp_tx\":%llu,\"lacp_illegal\":%llu,\"marker_rx\":%llu,\"marker_tx\":%llu,"
			    "\"marker_resp_rx\":%llu,\"marker_resp_tx\":%llu,\"unknown_rx\":%llu,"
			    "\"host_tx_errors\":%llu,\"host_rx_ring_drops\":%llu,\"host_tap_write_drops\":%"
			    "llu,\"host_rx_kernel\":%s,\"host_rx_socket_frames\":%llu,\"host_tx_kernel\":%s,"
			    "\"host_tx_kernel_packets\":%llu}",
			    (unsigned long long)c->rx_packets, (unsigned long long)c->rx_bytes,
			    (unsigned long long)c->tx_packets, (unsigned long long)c->tx_bytes,
			    (unsigned long long)c->rx_dropped, (unsigned long long)c->tx_dropped,
			    (unsigned long long)lp->pdus_rx, (unsigned long long)lp->pdus_tx,
			    (unsigned long long)lp->pdus_illegal, (unsigned long long)lp->marker_rx,
			    (unsigned long long)lp->marker_tx, (unsigned long long)lp->marker_resp_rx,
			    (unsigned long long)lp->marker_resp_tx, (unsigned long long)lp->unknown_rx,
			    (unsigned long long)txerr, (unsigned long long)ringdrop,
			    (unsigned long long)tapdrop, p && p->rx_kernel ? "true" : "false",
			    (unsigned long long)sockframes, p && lg_txpath_port_on(p) ? "true" : "false",
			    (unsigned long long)(p ? lg_txpath_kernel_packets(p) : 0));
		} else {
			lg_out_printf(o,
			    "%-15s %12llu %14llu %12llu %14llu %10llu %10llu %8llu %8llu %8llu "
			    "%8llu %8llu\n",
			    ps[i].name, (unsigned long long)c->rx_packets, (unsigned long long)c->rx_bytes,
			    (unsigned long long)c->tx_packets, (unsigned long long)c->tx_bytes,
			    (unsigned long long)c->rx_dropped, (unsigned long long)(c->tx_dropped + txerr),
			    (unsigned long long)lp->pdus_rx, (unsigned long long)lp->pdus_tx,
			    (unsigned long long)lp->pdus_illegal, (unsigned long long)lp->marker_rx,
			    (unsigned long long)lp->marker_tx);
		}
	}
	if (json)
		lg_out_printf(o, "]}\n");
}
