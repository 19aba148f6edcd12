/*
 * The per-aggregate event ring: the last LK_EVENT_RING reasons behind state changes (link,
 * failover, LACP machines, markers), each with a sequence number that never repeats so a
 * reader can poll with "give me everything after seq N" and notice what it missed. The
 * formatter is our own (the core calls no libc).
 */
#include "lk_internal.h"

static const char *const event_names[LK_EV_MAX] = {
	[LK_EV_PORT_ADDED] = "port-added",
	[LK_EV_PORT_REMOVED] = "port-removed",
	[LK_EV_LINK_UP] = "link-up",
	[LK_EV_LINK_DOWN] = "link-down",
	[LK_EV_PROTO_CHANGED] = "proto-changed",
	[LK_EV_FAILOVER] = "failover",
	[LK_EV_LACP_EXPIRED] = "lacp-expired",
	[LK_EV_LACP_DEFAULTED] = "lacp-defaulted",
	[LK_EV_LACP_OUT_OF_SYNC] = "lacp-out-of-sync",
	[LK_EV_LACP_IN_SYNC] = "lacp-in-sync",
	[LK_EV_LACP_SELECTED] = "lacp-selected",
	[LK_EV_LACP_STANDBY] = "lacp-standby",
	[LK_EV_LACP_UNSELECTED] = "lacp-unselected",
	[LK_EV_LACP_COLLECTING] = "lacp-collecting",
	[LK_EV_LACP_DISTRIBUTING] = "lacp-distributing",
	[LK_EV_LACP_PARTNER_CHANGED] = "lacp-partner-changed",
	[LK_EV_LACP_CHURN] = "lacp-churn",
	[LK_EV_MARKER_TIMEOUT] = "marker-timeout",
	[LK_EV_ILLEGAL_PDU] = "illegal-pdu",
	[LK_EV_PREEMPTED] = "preempted",
	[LK_EV_ANNOUNCE] = "announce",
};

/* Human phrases for the "<port> <phrase>" events. */
static const char *const event_phrases[LK_EV_MAX] = {
	[LK_EV_PORT_ADDED] = "added",
	[LK_EV_PORT_REMOVED] = "removed",
	[LK_EV_LINK_UP] = "link up",
	[LK_EV_LINK_DOWN] = "link down",
	[LK_EV_LACP_EXPIRED] = "lacp partner info expired",
	[LK_EV_LACP_DEFAULTED] = "lacp defaulted (no partner PDUs)",
	[LK_EV_LACP_OUT_OF_SYNC] = "lacp out of sync",
	[LK_EV_LACP_IN_SYNC] = "lacp in sync",
	[LK_EV_LACP_SELECTED] = "lacp selected",
	[LK_EV_LACP_STANDBY] = "lacp standby",
	[LK_EV_LACP_UNSELECTED] = "lacp unselected",
	[LK_EV_LACP_COLLECTING] = "lacp collecting",
	[LK_EV_LACP_DISTRIBUTING] = "lacp distributing",
	[LK_EV_LACP_PARTNER_CHANGED] = "lacp partner changed",
	[LK_EV_LACP_CHURN] = "lacp churn detected",
	[LK_EV_MARKER_TIMEOUT] = "marker timeout (flows moved without answer)",
	[LK_EV_ILLEGAL_PDU] = "illegal PDU dropped",
};

void
lk_core_event(struct lk_softc *sc, enum lk_event_type t, const struct lk_port *p, int32_t arg)
{
	struct lk_event *e = &sc->events[sc->ev_next_seq % LK_EVENT_RING];

	LK_ZERO(e);
	e->seq = sc->ev_next_seq++;
	e->time_ns = lk_core_now(sc);
	e->type = (uint16_t)t;
	e->port = p != NULL ? (int16_t)p->index : -1;
	e->arg = arg;
	if (p != NULL)
		lk_strlcpy(e->port_name, p->name, sizeof(e->port_name));
	/* the old port may be gone by the time someone reads the ring: keep its name */
	if ((t == LK_EV_FAILOVER || t == LK_EV_PREEMPTED) && arg >= 0 && arg < LK_MAX_PORTS)
		lk_strlcpy(e->arg_name, sc->ports[arg].name, sizeof(e->arg_name));
}

void
lk_event_reset(struct lk_softc *sc)
{
	LK_ZERO(&sc->events);
	sc->ev_next_seq = 0;
}

uint32_t
lk_events_read(const struct lk_softc *sc, uint64_t from_seq, struct lk_event *out, uint32_t max)
{
	uint64_t next = sc->ev_next_seq;
	uint64_t oldest = next > LK_EVENT_RING ? next - LK_EVENT_RING : 0;
	uint32_t n = 0;

	if (out == NULL)
		return 0;
	for (uint64_t s = from_seq > oldest ? from_seq : oldest; s < next && n < max; s++)
		out[n++] = sc->events[s % LK_EVENT_RING];
	return n;
}

const char *
lk_event_name(enum lk_event_type t)
{
	if ((unsigned)t >= LK_EV_MAX || event_names[t] == NULL)
		return "unknown";
	return event_names[t];
}

/* ---- a tiny bounded formatter ------------------------------------------------------------- */

struct fmt {
	char *buf;
	size_t size, pos; /* pos counts every char produced, even past size */
};

static void
put_str(struct fmt *f, const char *s)
{
	for (; *s != '\0'; s++, f->pos++) {
		if (f->pos + 1 < f->size)
			f->buf[f->pos] = *s;
	}
}

static void
put_i64(struct fmt *f, int64_t v)
{
	char tmp[24];
	int n = 0;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	do {
		tmp[n++] = (char)('0' + (int)(u % 10));
		u /= 10;
	} while (u != 0);
	if (v < 0)
		tmp[n++] = '-';
	while (n > 0) {
		char c[2] = { tmp[--n], '\0' };
		put_str(f, c);
	}
}

static const char *
name_or_none(const char *s)
{
	return s[0] != '\0' ? s : "none";
}

/*
 * One human line, NUL-terminated even when truncated. Returns the length the whole line has
 * (like snprintf), or LK_EINVAL.
 */
int
lk_event_format(const struct lk_event *ev, char *buf, size_t buflen)
{
	struct fmt f = { buf, buflen, 0 };
	char port[LK_IFNAMSIZ + 1], old[LK_IFNAMSIZ + 1];

	if (ev == NULL || buf == NULL || buflen == 0)
		return LK_EINVAL;
	/* the names come from a copy the caller may have filled: never trust a NUL is there */
	lk_memcpy(port, ev->port_name, LK_IFNAMSIZ);
	port[LK_IFNAMSIZ] = '\0';
	lk_memcpy(old, ev->arg_name, LK_IFNAMSIZ);
	old[LK_IFNAMSIZ] = '\0';

	switch (ev->type) {
	case LK_EV_FAILOVER:
		put_str(&f, "failover from ");
		put_str(&f, name_or_none(old));
		put_str(&f, " to ");
		put_str(&f, name_or_none(port));
		break;
	case LK_EV_PREEMPTED:
		put_str(&f, "preempted: back from ");
		put_str(&f, name_or_none(old));
		put_str(&f, " to primary ");
		put_str(&f, name_or_none(port));
		break;
	case LK_EV_PROTO_CHANGED:
		put_str(&f, "protocol changed (was ");
		put_str(&f, lk_proto_name((enum lk_proto)ev->arg));
		put_str(&f, ")");
		break;
	case LK_EV_ANNOUNCE:
		put_str(&f, name_or_none(port));
		put_str(&f, " announced ");
		put_i64(&f, ev->arg);
		put_str(&f, ev->arg == 1 ? " address" : " addresses");
		break;
	default:
		if (ev->type >= LK_EV_MAX || event_phrases[ev->type] == NULL) {
			put_str(&f, "event ");
			put_i64(&f, ev->type);
			break;
		}
		put_str(&f, name_or_none(port));
		put_str(&f, " ");
		put_str(&f, event_phrases[ev->type]);
		break;
	}
	buf[f.pos < buflen ? f.pos : buflen - 1] = '\0';
	return (int)f.pos;
}
