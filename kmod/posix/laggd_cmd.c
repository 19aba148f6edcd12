/*
 * laggctl's vocabulary, executed inside laggd: the ifconfig(8) lagg words of FreeBSD and NetBSD
 * plus laggkit's own, and the config file made of the same lines.
 *
 * A command line is handled in three steps, so that a bad word changes nothing:
 *   1. parse   every word into an action, checking syntax and ranges;
 *   2. check   every action against the current state (interfaces exist, ports are or are not
 *              members, the aggregate exists), simulating earlier actions of the same line;
 *   3. apply   the actions in order, recording the inverse of each; if one still fails (the
 *              kernel refused a MAC, say), the recorded inverses are replayed newest first.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laggd.h"
#include "lg_proto.h"

#define MAX_ACTIONS 128

enum act_kind {
	A_CREATE,
	A_DESTROY,
	A_PROTO,
	A_PORT_ADD,
	A_PORT_DEL,
	A_OPT,
	A_PORT_LACP_PRIO,
	A_ADDR,
	A_UP,
	A_DOWN,
	A_MTU,
	A_LLADDR,
	A_LACP_SYS_MAC
};

struct action {
	enum act_kind kind;
	const char *word; /* the word that produced it, for messages */
	char ifname[IFNAMSIZ];
	enum lk_opt opt;
	uint32_t value;
	enum lk_proto proto;
	int family; /* 4 or 6 */
	uint8_t addr[16];
	int plen;
	uint8_t mac[6];
	int noop; /* found already in place by check (config re-application) */
};

struct undo {
	enum act_kind kind;
	char ifname[IFNAMSIZ];
	enum lk_opt opt;
	uint32_t value; /* old value / old prio / old up state */
	uint16_t prio, lacp_prio;
	int family, plen;
	uint8_t addr[16];
	uint8_t mac[6];
};

static const char usage_text[] =
    "usage: laggctl [-s socket] [-v] [--json] IF [word ...]\n"
    "       laggctl [-s socket] [-v] [--json] -a | list\n"
    "words: create | destroy | laggproto failover|lacp|loadbalance|fec|roundrobin|broadcast|none\n"
    "       laggport IF [pri N] | -laggport IF | lagghash l2,l3,l4 | rr_limit N\n"
    "       use_flowid | -use_flowid | flowid_shift N | lacp_fast_timeout | -lacp_fast_timeout\n"
    "       lacp_strict | -lacp_strict | lacp_passive | -lacp_passive | lacp_sys_prio N\n"
    "       lacp_full_wait | -lacp_full_wait\n"
    "       lacp_port_prio IF N | laggfailover rx-all|-rx-all | lagglacp maxports "
    "N|multi-speed|-multi-speed\n"
    "       failover_preempt | -failover_preempt | announce COUNT INTERVAL_MS\n"
    "       lacp_sys_mac MAC | -lacp_sys_mac\n"
    "       inet ADDR/LEN | inet6 ADDR/LEN | mtu N | ether MAC | up | down\n"
    "       events | counters (alone: show the event ring / per-port counters)\n";

/* ---- Parse ---------------------------------------------------------------------------------- */

static int
parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	if (!s || !*s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int
valid_ifname(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= IFNAMSIZ)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
			return 0;
	return s[0] != '-';
}

static int
parse_mac(const char *s, uint8_t mac[6])
{
	unsigned b[6];
	char tail;
	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return (mac[0] & 1) ? -1 : 0; /* a multicast address cannot be an interface's */
}

static int
parse_prefix(const char *s, int family, uint8_t addr[16], int *plen)
{
	char buf[INET6_ADDRSTRLEN + 8];
	uint32_t len;
	const char *slash = strchr(s, '/');
	if (!slash || (size_t)(slash - s) >= sizeof(buf))
		return -1;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = '\0';
	if (inet_pton(family == 4 ? AF_INET : AF_INET6, buf, addr) != 1)
		return -1;
	if (parse_u32(slash + 1, family == 4 ? 1 : 1, family == 4 ? 32 : 128, &len) < 0)
		return -1;
	*plen = (int)len;
	return 0;
}

struct parser {
	char **w;
	int n, i;
	struct action *acts;
	int nact;
	char *err;
	size_t errlen;
	const char *lagg;
};

static struct action *
new_action(struct parser *ps, enum act_kind k, const char *word)
{
	if (ps->nact >= MAX_ACTIONS) {
		snprintf(ps->err, ps->errlen, "%s: too many words", ps->lagg);
		return NULL;
	}
	struct action *a = &ps->acts[ps->nact++];
	memset(a, 0, sizeof(*a));
	a->kind = k;
	a->word = word;
	return a;
}

/* The next word, as the argument of `word`; NULL (with a message) when there is none. */
static const char *
arg_of(struct parser *ps, const char *word, const char *what)
{
	if (ps->i >= ps->n) {
		snprintf(ps->err, ps->errlen, "%s: '%s' needs %s", ps->lagg, word, what);
		return NULL;
	}
	return ps->w[ps->i++];
}

static int
bad_value(struct parser *ps, const char *word, const char *val, const char *expected)
{
	snprintf(
	    ps->err, ps->errlen, "%s: bad value '%s' for '%s' (expected %s)", ps->lagg, val, word, expected);
	return -1;
}

static int
opt_action(struct parser *ps, const char *word, enum lk_opt opt, uint32_t v)
{
	struct action *a = new_action(ps, A_OPT, word);
	if (!a)
		return -1;
	a->opt = opt;
	a->value = v;
	return 0;
}

/* Words that take a number into an option: word, option, range. */
static const struct {
	const char *word;
	enum lk_opt opt;
	uint32_t min, max;
	const char *expected;
} num_words[] = {
	{ "rr_limit", LK_OPT_RR_LIMIT, 1, 0x7fffffff, "a packet count >= 1" },
	{ "flowid_shift", LK_OPT_FLOWID_SHIFT, 0, 31, "a shift 0..31" },
	{ "lacp_sys_prio", LK_OPT_LACP_SYS_PRIO, 0, 65535, "a priority 0..65535" },
	{ "lacp_key", LK_OPT_LACP_KEY, 0, 65535, "a key 0..65535 (0 = automatic)" },
};

/* Flag words: word sets the option to 1, -word to 0. */
static const struct {
	const char *word;
	enum lk_opt opt;
} flag_words[] = {
	{ "use_flowid", LK_OPT_USE_FLOWID },
	{ "lacp_fast_timeout", LK_OPT_LACP_FAST_TIMEOUT },
	{ "lacp_strict", LK_OPT_LACP_STRICT },
	{ "lacp_passive", LK_OPT_LACP_PASSIVE },
	{ "lacp_full_wait", LK_OPT_LACP_FULL_WAIT },
	{ "failover_preempt", LK_OPT_FAILOVER_PREEMPT },
};

static int
parse_word(struct parser *ps)
{
	const char *w = ps->w[ps->i++];
	const char *v;
	struct action *a;
	uint32_t n;

	if (strcmp(w, "create") == 0 || strcmp(w, "destroy") == 0 || strcmp(w, "up") == 0 ||
	    strcmp(w, "down") == 0) {
		enum act_kind k = w[0] == 'c'  ? A_CREATE :
		    w[0] == 'd' && w[1] == 'e' ? A_DESTROY :
		    w[0] == 'u'                ? A_UP :
		                                 A_DOWN;
		return new_action(ps, k, w) ? 0 : -1;
	}
	if (strcmp(w, "laggproto") == 0) {
		enum lk_proto p;
		if (!(v = arg_of(ps, w, "a protocol")))
			return -1;
		if (lk_proto_from_name(v, &p) != 0)
			return bad_value(
			    ps, w, v, "failover, lacp, loadbalance, fec, roundrobin, broadcast or none");
		if (!(a = new_action(ps, A_PROTO, w)))
			return -1;
		a->proto = p;
		return 0;
	}
	if (strcmp(w, "laggport") == 0 || strcmp(w, "-laggport") == 0) {
		if (!(v = arg_of(ps, w, "an interface name")))
			return -1;
		if (!valid_ifname(v))
			return bad_value(ps, w, v, "an interface name");
		if (!(a = new_action(ps, w[0] == '-' ? A_PORT_DEL : A_PORT_ADD, w)))
			return -1;
		snprintf(a->ifname, sizeof(a->ifname), "%s", v);
		/* NetBSD's `laggport IF pri N` */
		if (w[0] != '-' && ps->i < ps->n && strcmp(ps->w[ps->i], "pri") == 0) {
			ps->i++;
			if (!(v = arg_of(ps, "pri", "a priority")))
				return -1;
			if (parse_u32(v, 0, 65535, &n) < 0)
				return bad_value(ps, "pri", v, "a priority 0..65535");
			a->value = n;
		}
		return 0;
	}
	if (strcmp(w, "lagghash") == 0) {
		uint32_t mask = 0;
		char buf[64];
		if (!(v = arg_of(ps, w, "a list of l2,l3,l4")))
			return -1;
		snprintf(buf, sizeof(buf), "%s", v);
		for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (strcmp(t, "l2") == 0)
				mask |= LK_HASH_L2;
			else if (strcmp(t, "l3") == 0)
				mask |= LK_HASH_L3;
			else if (strcmp(t, "l4") == 0)
				mask |= LK_HASH_L4;
			else
				return bad_value(ps, w, v, "a comma-separated list of l2, l3, l4");
		}
		if (!mask || strlen(v) >= sizeof(buf))
			return bad_value(ps, w, v, "a comma-separated list of l2, l3, l4");
		return opt_action(ps, w, LK_OPT_HASH_LAYERS, mask);
	}
	for (size_t k = 0; k < sizeof(num_words) / sizeof(num_words[0]); k++) {
		if (strcmp(w, num_words[k].word) != 0)
			continue;
		if (!(v = arg_of(ps, w, "a number")))
			return -1;
		if (parse_u32(v, num_words[k].min, num_words[k].max, &n) < 0)
			return bad_value(ps, w, v, num_words[k].expected);
		return opt_action(ps, w, num_words[k].opt, n);
	}
	for (size_t k = 0; k < sizeof(flag_words) / sizeof(flag_words[0]); k++) {
		int neg = w[0] == '-';
		if (strcmp(w + neg, flag_words[k].word) == 0)
			return opt_action(ps, w, flag_words[k].opt, neg ? 0 : 1);
	}
	if (strcmp(w, "laggfailover") == 0 || strcmp(w, "-laggfailover") == 0) {
		if (!(v = arg_of(ps, w, "rx-all or -rx-all")))
			return -1;
		int neg = w[0] == '-';
		if (strcmp(v, "rx-all") == 0)
			return opt_action(ps, w, LK_OPT_FAILOVER_RX_ALL, neg ? 0 : 1);
		if (strcmp(v, "-rx-all") == 0 && !neg)
			return opt_action(ps, w, LK_OPT_FAILOVER_RX_ALL, 0);
		return bad_value(ps, w, v, "rx-all or -rx-all");
	}
	if (strcmp(w, "lagglacp") == 0 || strcmp(w, "-lagglacp") == 0) {
		int neg = w[0] == '-';
		if (!(v = arg_of(ps, w, "maxports N, multi-speed or -multi-speed")))
			return -1;
		if (strcmp(v, "maxports") == 0 && !neg) {
			const char *nv = arg_of(ps, "maxports", "a port count");
			if (!nv)
				return -1;
			if (parse_u32(nv, 1, LK_MAX_PORTS, &n) < 0)
				return bad_value(ps, "maxports", nv, "a port count 1..32");
			return opt_action(ps, w, LK_OPT_LACP_MAXPORTS, n);
		}
		if (strcmp(v, "-maxports") == 0 || (neg && strcmp(v, "maxports") == 0))
			return opt_action(ps, w, LK_OPT_LACP_MAXPORTS, 0);
		if (strcmp(v, "multi-speed") == 0)
			return opt_action(ps, w, LK_OPT_LACP_MULTI_SPEED, neg ? 0 : 1);
		if (strcmp(v, "-multi-speed") == 0 && !neg)
			return opt_action(ps, w, LK_OPT_LACP_MULTI_SPEED, 0);
		return bad_value(ps, w, v, "maxports N, multi-speed or -multi-speed");
	}
	if (strcmp(w, "lacp_port_prio") == 0) {
		if (!(v = arg_of(ps, w, "an interface name and a priority")))
			return -1;
		if (!valid_ifname(v))
			return bad_value(ps, w, v, "an interface name");
		const char *pv = arg_of(ps, w, "a priority after the interface name");
		if (!pv)
			return -1;
		if (parse_u32(pv, 0, 65535, &n) < 0)
			return bad_value(ps, w, pv, "a priority 0..65535");
		if (!(a = new_action(ps, A_PORT_LACP_PRIO, w)))
			return -1;
		snprintf(a->ifname, sizeof(a->ifname), "%s", v);
		a->value = n;
		return 0;
	}
	if (strcmp(w, "announce") == 0) {
		uint32_t count, interval;
		if (!(v = arg_of(ps, w, "COUNT and INTERVAL_MS")))
			return -1;
		if (parse_u32(v, 0, 100, &count) < 0)
			return bad_value(ps, w, v, "a count 0..100");
		const char *iv = arg_of(ps, w, "INTERVAL_MS after COUNT");
		if (!iv)
			return -1;
		if (parse_u32(iv, 1, 60000, &interval) < 0)
			return bad_value(ps, w, iv, "an interval 1..60000 ms");
		if (opt_action(ps, w, LK_OPT_ANNOUNCE_COUNT, count) < 0)
			return -1;
		return opt_action(ps, w, LK_OPT_ANNOUNCE_INTERVAL_MS, interval);
	}
	if (strcmp(w, "inet") == 0 || strcmp(w, "inet6") == 0) {
		int fam = w[4] == '6' ? 6 : 4;
		if (!(v = arg_of(ps, w, "ADDR/LEN")))
			return -1;
		if (!(a = new_action(ps, A_ADDR, w)))
			return -1;
		a->family = fam;
		if (parse_prefix(v, fam, a->addr, &a->plen) < 0)
			return bad_value(ps, w, v, fam == 4 ? "an IPv4 ADDR/LEN" : "an IPv6 ADDR/LEN");
		return 0;
	}
	if (strcmp(w, "mtu") == 0) {
		if (!(v = arg_of(ps, w, "a number")))
			return -1;
		if (parse_u32(v, 68, 9216, &n) < 0)
			return bad_value(ps, w, v, "an MTU 68..9216");
		if (!(a = new_action(ps, A_MTU, w)))
			return -1;
		a->value = n;
		return 0;
	}
	if (strcmp(w, "ether") == 0 || strcmp(w, "lladdr") == 0) {
		if (!(v = arg_of(ps, w, "a MAC address")))
			return -1;
		if (!(a = new_action(ps, A_LLADDR, w)))
			return -1;
		if (parse_mac(v, a->mac) < 0)
			return bad_value(ps, w, v, "a unicast MAC address xx:xx:xx:xx:xx:xx");
		return 0;
	}
	/* LACP's System ID MAC, pinned (bonding's ad_actor_system); -lacp_sys_mac: automatic. */
	if (strcmp(w, "lacp_sys_mac") == 0) {
		if (!(v = arg_of(ps, w, "a MAC address")))
			return -1;
		if (!(a = new_action(ps, A_LACP_SYS_MAC, w)))
			return -1;
		if (parse_mac(v, a->mac) < 0 || memcmp(a->mac, "\0\0\0\0\0\0", 6) == 0)
			return bad_value(ps, w, v, "a unicast MAC address xx:xx:xx:xx:xx:xx");
		return 0;
	}
	if (strcmp(w, "-lacp_sys_mac") == 0)
		return new_action(ps, A_LACP_SYS_MAC, w) ? 0 : -1;
	snprintf(ps->err, ps->errlen, "%s: unknown word '%s' (laggctl help lists the words)", ps->lagg, w);
	return -1;
}

/* ---- Check ---------------------------------------------------------------------------------- */

/* Simulated membership while checking one line. */
struct sim {
	char names[LK_MAX_PORTS][IFNAMSIZ];
	int n;
};

static int
sim_find(const struct sim *s, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return i;
	return -1;
}

static int
check(const char *lname, struct action *acts, int nact, int from_config, char *err, size_t errlen)
{
	struct lg_lagg *l = lg_lagg_find(lname);
	int exists = l != NULL;
	struct sim sim = { .n = 0 };

	if (l)
		for (int i = 0; i < LK_MAX_PORTS; i++)
			if (l->ports[i].used)
				snprintf(sim.names[sim.n++], IFNAMSIZ, "%s", l->ports[i].name);

	for (int i = 0; i < nact; i++) {
		struct action *a = &acts[i];
		if (a->kind == A_CREATE) {
			if (exists && !(from_config && i == 0 && l)) {
				snprintf(err, errlen, "%s: create: aggregate already exists", lname);
				return -1;
			}
			if (exists)
				a->noop = 1;
			else if (if_nametoindex(lname) != 0) {
				snprintf(err, errlen, "%s: create: an interface of that name already exists",
				    lname);
				return -1;
			}
			exists = 1;
			continue;
		}
		if (!exists) {
			snprintf(err, errlen, "%s: no such aggregate (create it first: laggctl %s create)",
			    lname, lname);
			return -1;
		}
		switch (a->kind) {
		case A_DESTROY:
			if (nact != 1) {
				snprintf(err, errlen, "%s: destroy must be the only word", lname);
				return -1;
			}
			break;
		case A_PORT_ADD: {
			struct lg_lagg *other;
			if (sim_find(&sim, a->ifname) >= 0) {
				if (from_config) {
					a->noop = 1;
					break;
				}
				snprintf(err, errlen, "%s: laggport %s: already a member", lname, a->ifname);
				return -1;
			}
			if (strcmp(a->ifname, lname) == 0 || lg_lagg_find(a->ifname)) {
				snprintf(err, errlen, "%s: laggport %s: an aggregate cannot be a member",
				    lname, a->ifname);
				return -1;
			}
			if (lg_port_by_name(a->ifname, &other)) {
				snprintf(err, errlen, "%s: laggport %s: already a member of %s", lname,
				    a->ifname, other->name);
				return -1;
			}
			if (if_nametoindex(a->ifname) == 0) {
				snprintf(err, errlen, "%s: laggport %s: no such interface", lname, a->ifname);
				return -1;
			}
			if (sim.n >= LK_MAX_PORTS) {
				snprintf(err, errlen, "%s: laggport %s: aggregate full (%d ports)", lname,
				    a->ifname, LK_MAX_PORTS);
				return -1;
			}
			snprintf(sim.names[sim.n++], IFNAMSIZ, "%s", a->ifname);
			break;
		}
		case A_PORT_DEL: {
			int k = sim_find(&sim, a->ifname);
			if (k < 0) {
				snprintf(err, errlen, "%s: -laggport %s: not a member", lname, a->ifname);
				return -1;
			}
			memcpy(sim.names[k], sim.names[sim.n - 1], IFNAMSIZ);
			sim.n--;
			break;
		}
		case A_PORT_LACP_PRIO:
			if (sim_find(&sim, a->ifname) < 0) {
				snprintf(
				    err, errlen, "%s: lacp_port_prio %s: not a member", lname, a->ifname);
				return -1;
			}
			break;
		default:
			break;
		}
	}
	return 0;
}

/* ---- Apply ---------------------------------------------------------------------------------- */

struct undo_log {
	struct undo u[MAX_ACTIONS * 2];
	int n;
};

static struct undo *
undo_push(struct undo_log *ul, enum act_kind k)
{
	struct undo *u = &ul->u[ul->n++];
	memset(u, 0, sizeof(*u));
	u->kind = k;
	return u;
}

static void
undo_all(const char *lname, struct undo_log *ul)
{
	char err[256];
	while (ul->n > 0) {
		struct undo *u = &ul->u[--ul->n];
		struct lg_lagg *l = lg_lagg_find(lname);
		if (!l)
			return;
		struct lg_port *p = lg_port_by_name(u->ifname, NULL);
		switch (u->kind) {
		case A_CREATE:
			lg_lagg_destroy(l);
			break;
		case A_PROTO:
			lk_set_proto(l->sc, (enum lk_proto)u->value);
			break;
		case A_OPT:
			lk_set_opt(l->sc, u->opt, u->value);
			break;
		case A_PORT_ADD:
			if (p)
				lg_port_detach(l, p, err, sizeof(err));
			break;
		case A_PORT_DEL:
			if (lg_port_attach(l, u->ifname, u->prio, u->lacp_prio, err, sizeof(err)) < 0)
				lg_log(1, "undo: %s", err);
			break;
		case A_PORT_LACP_PRIO:
			if (p)
				lk_port_set_lacp_prio(l->sc, p->index, u->lacp_prio);
			break;
		case A_ADDR:
			lg_nl_addr(l->tap_ifindex, u->family, u->addr, u->plen, 0);
			break;
		case A_UP:
		case A_DOWN:
			lg_if_set_up(l->name, (int)u->value);
			break;
		case A_MTU:
			lk_set_mtu(l->sc, u->value);
			lg_if_set_mtu(l->name, u->value);
			break;
		case A_LLADDR:
			lk_set_lladdr(l->sc, u->mac);
			break;
		case A_LACP_SYS_MAC:
			lk_set_lacp_sys_mac(l->sc, u->mac); /* all-zero: automatic, as it was */
			break;
		case A_DESTROY:
			break;
		}
	}
}

static int
apply_one(const char *lname, struct action *a, struct undo_log *ul, char *err, size_t errlen)
{
	struct lg_lagg *l = lg_lagg_find(lname);
	struct lg_port *p;
	struct undo *u;
	int rc, flags;

	if (a->noop)
		return 0;
	if (!l && a->kind != A_CREATE) {
		snprintf(err, errlen, "%s: no such aggregate", lname);
		return -1;
	}
	switch (a->kind) {
	case A_CREATE:
		if (lg_lagg_create(lname, err, errlen) < 0)
			return -1;
		undo_push(ul, A_CREATE);
		return 0;
	case A_DESTROY:
		lg_lagg_destroy(l);
		return 0;
	case A_PROTO:
		u = undo_push(ul, A_PROTO);
		u->value = lk_get_proto(l->sc);
		rc = lk_set_proto(l->sc, a->proto);
		break;
	case A_OPT:
		u = undo_push(ul, A_OPT);
		u->opt = a->opt;
		if (lk_get_opt(l->sc, a->opt, &u->value) != 0) {
			ul->n--;
			snprintf(err, errlen, "%s: %s: option not supported by the core", lname, a->word);
			return -1;
		}
		rc = lk_set_opt(l->sc, a->opt, a->value);
		break;
	case A_PORT_ADD:
		if ((p = lg_port_by_name(a->ifname, NULL)) != NULL) {
			/* already a member (config re-application): only the priority may change */
			rc = lk_port_set_prio(l->sc, p->index, (uint16_t)a->value);
			break;
		}
		if (lg_port_attach(l, a->ifname, (uint16_t)a->value, 0, err, errlen) < 0)
			return -1;
		u = undo_push(ul, A_PORT_ADD);
		snprintf(u->ifname, sizeof(u->ifname), "%s", a->ifname);
		return 0;
	case A_PORT_DEL: {
		struct lk_port_status ps;
		p = lg_port_by_name(a->ifname, NULL);
		if (!p) {
			snprintf(err, errlen, "%s: -laggport %s: not a member", lname, a->ifname);
			return -1;
		}
		u = undo_push(ul, A_PORT_DEL);
		snprintf(u->ifname, sizeof(u->ifname), "%s", a->ifname);
		if (lk_get_port_status(l->sc, p->index, &ps) == 0) {
			u->prio = ps.prio;
			u->lacp_prio = ps.lacp.actor.port_prio;
		}
		if (lg_port_detach(l, p, err, errlen) < 0) {
			ul->n--;
			return -1;
		}
		return 0;
	}
	case A_PORT_LACP_PRIO: {
		struct lk_port_status ps;
		p = lg_port_by_name(a->ifname, NULL);
		if (!p)
			return -1;
		u = undo_push(ul, A_PORT_LACP_PRIO);
		snprintf(u->ifname, sizeof(u->ifname), "%s", a->ifname);
		if (lk_get_port_status(l->sc, p->index, &ps) == 0)
			u->lacp_prio = ps.lacp.actor.port_prio;
		rc = lk_port_set_lacp_prio(l->sc, p->index, (uint16_t)a->value);
		break;
	}
	case A_ADDR:
		/* Assigning an address implies up, as with ifconfig. */
		if (lg_if_get_flags(l->name, &flags) == 0 && !(flags & IFF_UP)) {
			u = undo_push(ul, A_UP);
			u->value = 0;
			lg_if_set_up(l->name, 1);
		}
		rc = lg_nl_addr(l->tap_ifindex, a->family, a->addr, a->plen, 1);
		if (rc == -EEXIST)
			return 0;
		if (rc < 0) {
			snprintf(err, errlen, "%s: %s: %s", lname, a->word, strerror(-rc));
			return -1;
		}
		u = undo_push(ul, A_ADDR);
		u->family = a->family;
		u->plen = a->plen;
		memcpy(u->addr, a->addr, sizeof(u->addr));
		/* Register now rather than wait for the rtnetlink echo: an announcement may be due. */
		lk_announce_addr_add(l->sc, a->family, a->addr);
		return 0;
	case A_UP:
	case A_DOWN:
		if (lg_if_get_flags(l->name, &flags) < 0)
			flags = 0;
		u = undo_push(ul, a->kind);
		u->value = !!(flags & IFF_UP);
		if (lg_if_set_up(l->name, a->kind == A_UP) < 0) {
			snprintf(err, errlen, "%s: %s: %s", lname, a->word, strerror(errno));
			return -1;
		}
		return 0;
	case A_MTU: {
		struct lk_status st;
		lk_get_status(l->sc, &st);
		rc = lk_set_mtu(l->sc, a->value);
		if (rc == 0 && lg_if_set_mtu(l->name, a->value) < 0) {
			lk_set_mtu(l->sc, st.mtu);
			snprintf(err, errlen, "%s: mtu %u: %s", lname, a->value, strerror(errno));
			return -1;
		}
		if (rc == 0) {
			u = undo_push(ul, A_MTU);
			u->value = st.mtu;
		}
		break;
	}
	case A_LLADDR: {
		struct lk_status st;
		lk_get_status(l->sc, &st);
		u = undo_push(ul, A_LLADDR);
		memcpy(u->mac, st.lladdr, 6);
		rc = lk_set_lladdr(l->sc, a->mac);
		break;
	}
	case A_LACP_SYS_MAC: {
		struct lk_status st;
		lk_get_status(l->sc, &st);
		u = undo_push(ul, A_LACP_SYS_MAC);
		if (st.lacp_sys_mac_admin)
			memcpy(u->mac, st.lacp_sys_mac, 6);
		rc = lk_set_lacp_sys_mac(l->sc, a->mac);
		break;
	}
	default:
		rc = LK_EINVAL;
	}
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s: %s", lname, a->word, lk_strerror(rc));
		return -1;
	}
	return 0;
}

/* Parse, check and apply one configuration line. */
static int
configure(const char *lname, char **words, int n, int from_config, char *err, size_t errlen)
{
	static struct action acts[MAX_ACTIONS];
	static struct undo_log ul;
	struct parser ps = { .w = words, .n = n, .acts = acts, .err = err, .errlen = errlen, .lagg = lname };

	while (ps.i < ps.n)
		if (parse_word(&ps) < 0)
			return -1;
	if (check(lname, acts, ps.nact, from_config, err, errlen) < 0)
		return -1;
	ul.n = 0;
	for (int i = 0; i < ps.nact; i++) {
		if (apply_one(lname, &acts[i], &ul, err, errlen) < 0) {
			undo_all(lname, &ul);
			return -1;
		}
	}
	return 0;
}

/* ---- Requests ------------------------------------------------------------------------------- */

static void
out_init(struct lg_out *o, char *buf, size_t cap)
{
	o->buf = buf;
	o->cap = cap;
	o->len = 0;
	o->truncated = 0;
	if (cap)
		buf[0] = '\0';
}

/* Every aggregate, oldest first as ifconfig lists interfaces: status blocks, or names only. */
static void
list_laggs(struct lg_out *o, int json, int verbose, int names_only)
{
	struct lg_lagg *order[64];
	int n = 0;
	for (struct lg_lagg *l = lg.laggs; l && n < 64; l = l->next)
		order[n++] = l;
	if (json)
		lg_out_printf(o, "[");
	for (int k = n - 1; k >= 0; k--) {
		if (names_only && json)
			lg_out_json_str(o, order[k]->name);
		else if (names_only)
			lg_out_printf(o, "%s\n", order[k]->name);
		else if (json)
			lg_status_json(o, order[k], verbose);
		else
			lg_status_text(o, order[k], verbose);
		if (json && k)
			lg_out_printf(o, ",");
	}
	if (json)
		lg_out_printf(o, "]\n");
}

int
lg_cmd_run(int argc, char **argv, int from_config, char *outbuf, size_t outlen)
{
	struct lg_out o;
	int verbose = 0, json = 0, i = 0;
	char err[512];

	out_init(&o, outbuf, outlen);
	for (; i < argc && argv[i][0] == '-' && argv[i][1] != 'l'; i++) {
		if (strcmp(argv[i], "-v") == 0)
			verbose = 1;
		else if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0)
			json = 1;
		else if (strcmp(argv[i], "-a") == 0)
			break;
		else {
			lg_out_printf(&o, "laggctl: unknown option '%s'\n%s", argv[i], usage_text);
			return 2;
		}
	}
	if (i >= argc || strcmp(argv[i], "-a") == 0) {
		if (i < argc && i + 1 != argc) {
			lg_out_printf(&o, "laggctl: -a takes no words\n");
			return 2;
		}
		list_laggs(&o, json, verbose, 0);
		return 0;
	}
	const char *name = argv[i++];
	if (strcmp(name, "list") == 0 || strcmp(name, "help") == 0) {
		if (name[0] == 'h') {
			lg_out_printf(&o, "%s", usage_text);
			return 0;
		}
		list_laggs(&o, json, 0, 1);
		return 0;
	}
	if (!valid_ifname(name)) {
		lg_out_printf(&o, "laggctl: bad interface name '%s'\n", name);
		return 1;
	}
	struct lg_lagg *l = lg_lagg_find(name);
	int nwords = argc - i;
	if (nwords == 0 ||
	    (nwords == 1 && (strcmp(argv[i], "events") == 0 || strcmp(argv[i], "counters") == 0))) {
		if (from_config) {
			lg_out_printf(&o, "laggctl: %s: a config line needs configuration words\n", name);
			return 1;
		}
		if (!l) {
			lg_out_printf(&o, "laggctl: %s: no such aggregate\n", name);
			return 1;
		}
		if (nwords == 0) {
			if (json)
				lg_status_json(&o, l, verbose);
			else
				lg_status_text(&o, l, verbose);
		} else if (argv[i][0] == 'e') {
			lg_events_print(&o, l, json);
		} else {
			lg_counters_print(&o, l, json);
		}
		return 0;
	}
	if (configure(name, argv + i, nwords, from_config, err, sizeof(err)) < 0) {
		lg_out_printf(&o, "laggctl: %s\n", err);
		return 1;
	}
	return 0;
}

/* ---- Config file ---------------------------------------------------------------------------- */

/* Split a line into words in place; `#` starts a comment. Returns the word count or -1. */
static int
split_words(char *line, char **words, int max)
{
	int n = 0;
	char *h = strchr(line, '#');
	if (h)
		*h = '\0';
	for (char *save = NULL, *t = strtok_r(line, " \t\r\n", &save); t;
	    t = strtok_r(NULL, " \t\r\n", &save)) {
		if (n >= max)
			return -1;
		words[n++] = t;
	}
	/* A line may be written as a whole laggctl command. */
	if (n > 0 && strcmp(words[0], "laggctl") == 0) {
		memmove(words, words + 1, (size_t)(n - 1) * sizeof(*words));
		n--;
	}
	return n;
}

int
lg_config_apply(const char *path, int at_start)
{
	FILE *f = fopen(path, "r");
	static char text[LG_MAX_MSG];
	static char out[4096];
	char err[512];
	char *words[LG_MAX_ARGS];
	int failed = 0;

	if (!f) {
		lg_log(0, "%s: %s", path, strerror(errno));
		return 1;
	}
	size_t len = fread(text, 1, sizeof(text) - 1, f);
	int toolong = !feof(f);
	fclose(f);
	if (toolong) {
		lg_log(0, "%s: file too large", path);
		return 1;
	}
	text[len] = '\0';

	/* Pass 1: syntax of every line, so a typo anywhere applies nothing at all. */
	static char copy[LG_MAX_MSG];
	memcpy(copy, text, len + 1);
	int lineno = 0;
	for (char *line = copy, *next; line && *line; line = next) {
		/* strtok would skip blank lines and put the line numbers off */
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		int n = split_words(line, words, LG_MAX_ARGS);
		if (n == 0)
			continue;
		static struct action acts[MAX_ACTIONS];
		struct parser ps = { .w = words + 1,
			.n = n - 1,
			.acts = acts,
			.err = err,
			.errlen = sizeof(err),
			.lagg = words[0] };
		if (n < 0 || !valid_ifname(words[0])) {
			lg_log(0, "%s:%d: expected an interface name and words", path, lineno);
			failed = 1;
			continue;
		}
		if (n == 1) {
			lg_log(
			    0, "%s:%d: %s: a config line needs configuration words", path, lineno, words[0]);
			failed = 1;
			continue;
		}
		while (ps.i < ps.n)
			if (parse_word(&ps) < 0) {
				lg_log(0, "%s:%d: %s", path, lineno, err);
				failed = 1;
				break;
			}
	}
	if (failed) {
		lg_log(0, "%s: not applied: fix the lines above", path);
		return 1;
	}

	/* Pass 2: apply line by line; each line is all-or-nothing. */
	lineno = 0;
	char *cur = text;
	while (cur && *cur) {
		char *nl = strchr(cur, '\n');
		if (nl)
			*nl = '\0';
		lineno++;
		int n = split_words(cur, words, LG_MAX_ARGS);
		if (n > 0) {
			int rc = lg_cmd_run(n, words, 1, out, sizeof(out));
			if (rc != 0) {
				out[strcspn(out, "\n")] = '\0';
				lg_log(0, "%s:%d: %s", path, lineno, out);
				failed = 1;
				if (at_start)
					break;
			}
		}
		cur = nl ? nl + 1 : NULL;
	}
	if (!failed)
		lg_log(2, "%s: applied", path);
	return failed;
}
