/*
 * Helpers shared by the LACP and marker test programs (test_lacp*.c, test_marker*.c): build
 * LACP aggregates on harness hosts, read a port's machine states, count events, and script a
 * hand-made partner by injecting PDUs built with the codec.
 */
#ifndef TEST_LACP_UTIL_H
#define TEST_LACP_UTIL_H

#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "lk_internal.h"

#define GBPS 1000000000ull
#define MS   TH_NS_PER_MS
#define SEC  1000ull /* th_advance() takes milliseconds */

#define ST_A  LK_LACP_STATE_ACTIVITY
#define ST_T  LK_LACP_STATE_TIMEOUT
#define ST_G  LK_LACP_STATE_AGGREGATION
#define ST_S  LK_LACP_STATE_SYNC
#define ST_C  LK_LACP_STATE_COLLECTING
#define ST_D  LK_LACP_STATE_DISTRIBUTING
#define ST_F  LK_LACP_STATE_DEFAULTED
#define ST_E  LK_LACP_STATE_EXPIRED
#define ST_CD (ST_A | ST_G | ST_S | ST_C | ST_D)

/* Run fn once per row of a static table. */
#define RUN_CASES(name, fn, table) \
	for (size_t row_ = 0; row_ < sizeof(table) / sizeof((table)[0]); row_++) \
	th_run_case(name, fn, &(table)[row_])

static inline struct th_host *
lacp_host(const char *name, uint8_t mac_last)
{
	const uint8_t mac[6] = { 0x02, 0x00, 0x00, 0x00, mac_last, 0x00 };
	struct th_host *h = th_host_new(name, mac);

	TH_EQ(lk_set_proto(h->sc, LK_PROTO_LACP), LK_OK);
	return h;
}

static inline void
lacp_opt(struct th_host *h, enum lk_opt o, uint32_t v)
{
	TH_EQ(lk_set_opt(h->sc, o, v), LK_OK);
}

/* n ports named <host>p<i> at the given speed, full duplex. */
static inline void
lacp_ports(struct th_host *h, uint32_t n, uint64_t speed)
{
	char name[LK_IFNAMSIZ];

	for (uint32_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%.8sp%u", h->name, i);
		(void)th_port_add(h, name, speed, 1);
	}
}

/* Wire port i of a to port i of b for i < n. */
static inline void
lacp_wire_n(struct th_host *a, struct th_host *b, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		th_wire(a, i, b, i);
}

static inline struct lk_port_status
pst(const struct th_host *h, uint32_t port)
{
	struct lk_port_status st;

	memset(&st, 0, sizeof(st));
	TH_EQ(lk_get_port_status(h->sc, port, &st), LK_OK);
	return st;
}

static inline const struct lk_lacp_port *
lport(const struct th_host *h, uint32_t port)
{
	return &h->sc->ports[port].lacp;
}

/* The port collects and distributes, its actor says so and the partner is in sync. */
static inline int
is_cd(const struct th_host *h, uint32_t port)
{
	struct lk_port_status st = pst(h, port);

	return st.lacp.mux_state == LK_LACP_MUX_COLLECTING_DISTRIBUTING &&
	    (st.lacp.actor.state & (ST_S | ST_C | ST_D)) == (ST_S | ST_C | ST_D) &&
	    (st.lacp.partner.state & ST_S) != 0 &&
	    (st.flags & (LK_PORT_COLLECTING | LK_PORT_DISTRIBUTING)) ==
	    (LK_PORT_COLLECTING | LK_PORT_DISTRIBUTING);
}

static inline uint32_t
dist_mask(const struct th_host *h)
{
	uint32_t m = 0;

	for (uint32_t i = 0; i < LK_MAX_PORTS; i++) {
		if ((h->sc->port_mask & (1u << i)) && (pst(h, i).flags & LK_PORT_DISTRIBUTING))
			m |= 1u << i;
	}
	return m;
}

/* Events of type t (on port, or any port when port < 0) with seq >= from. */
static inline uint32_t
ev_count(const struct th_host *h, enum lk_event_type t, int port, uint64_t from)
{
	struct lk_event ev[LK_EVENT_RING];
	uint32_t n = lk_events_read(h->sc, from, ev, LK_EVENT_RING), c = 0;

	for (uint32_t i = 0; i < n; i++) {
		if (ev[i].type == t && (port < 0 || ev[i].port == port))
			c++;
	}
	return c;
}

static inline uint64_t
ev_next(const struct th_host *h)
{
	return h->sc->ev_next_seq;
}

/* LACPDUs sent on a port so far (by subtype in the recorded frames). */
static inline uint32_t
sent_subtype(const struct th_host *h, uint32_t port, int subtype, uint64_t since_ns)
{
	uint32_t c = 0, n = th_tx_count(h, port);

	for (uint32_t i = 0; i < n; i++) {
		const struct th_frame *f = th_tx_get(h, port, i);

		if (f->t_ns >= since_ns && lk_slow_subtype(f->data, f->len) == subtype)
			c++;
	}
	return c;
}

static inline uint32_t
pdus_sent(const struct th_host *h, uint32_t port, uint64_t since_ns)
{
	return sent_subtype(h, port, (int)LK_SLOW_SUBTYPE_LACP, since_ns);
}

/* Last LACPDU sent on a port, decoded; 0 when there is none. */
static inline int
last_pdu(const struct th_host *h, uint32_t port, struct lk_lacpdu *out)
{
	for (uint32_t i = th_tx_count(h, port); i > 0; i--) {
		const struct th_frame *f = th_tx_get(h, port, i - 1);

		if (lk_lacp_pdu_decode(f->data, f->len, out) == LK_OK)
			return 1;
	}
	return 0;
}

/* ---- a scripted partner: PDUs built by hand and injected ---------------------------------- */

struct fake_partner {
	uint16_t sys_prio;
	uint8_t mac[6];
	uint16_t key;
	uint8_t state;
};

static inline struct lk_lacp_peer_info
fake_actor(const struct fake_partner *fp, uint16_t port_no)
{
	struct lk_lacp_peer_info a;

	memset(&a, 0, sizeof(a));
	a.sys_prio = fp->sys_prio;
	memcpy(a.sys_mac, fp->mac, 6);
	a.key = fp->key;
	a.port_prio = 32768;
	a.port_no = port_no;
	a.state = fp->state;
	return a;
}

/*
 * Send h:port a PDU from the fake partner. When echo is set the PDU's partner fields repeat
 * what h last sent on that port (a partner that has heard us); otherwise they are zero.
 */
static inline void
fake_pdu_from(struct th_host *h, uint32_t port, const struct fake_partner *fp, uint16_t port_no, int echo)
{
	struct lk_lacpdu pdu, mine;
	uint8_t frame[LK_SLOW_FRAME_LEN];

	memset(&pdu, 0, sizeof(pdu));
	pdu.actor = fake_actor(fp, port_no);
	if (echo && last_pdu(h, port, &mine))
		pdu.partner = mine.actor;
	TH_EQ(lk_lacp_pdu_encode(frame, sizeof(frame), fp->mac, &pdu), LK_SLOW_FRAME_LEN);
	(void)th_receive(h, port, frame, LK_SLOW_FRAME_LEN);
}

/* The fake partner's port facing h:port is numbered 100 + port. */
static inline void
fake_pdu(struct th_host *h, uint32_t port, const struct fake_partner *fp, int echo)
{
	fake_pdu_from(h, port, fp, (uint16_t)(100 + port), echo);
}

/* Keep the fake partner talking on ports [0, n) for the given seconds, one PDU a second. */
static inline void
fake_feed(struct th_host *h, uint32_t n, const struct fake_partner *fp, uint32_t seconds)
{
	for (uint32_t s = 0; s < seconds; s++) {
		for (uint32_t i = 0; i < n; i++)
			fake_pdu(h, i, fp, 1);
		th_advance(1 * SEC);
	}
}

#endif /* TEST_LACP_UTIL_H */
