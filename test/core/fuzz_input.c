/*
 * libFuzzer target for the core's frame and control path. The input is a little program:
 * each step picks an operation (a frame in or out, a control frame, a link change, a protocol
 * or option change, port add/remove, time passing) and takes its arguments from the following
 * bytes. Host A runs it; host B is wired back to back on every port and runs LACP, so LACP
 * frames really flow. After every step the invariants the hosts rely on are checked:
 *   - lk_output's mask only holds ports that are members and reported ACTIVE; one port for
 *     unicast protocols, all active ports for broadcast, none for protocol none;
 *   - lk_input never accepts on a port that is not a member, not up, or not collecting;
 *   - lk_control_input returns 0, LK_EPROTO or LK_EINVAL, and status stays self-consistent;
 *   - event sequence numbers only grow.
 * A violated invariant aborts (libFuzzer records the input).
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#define NPORTS 4
#define CHECK(c) \
	do { \
		if (!(c)) { \
			__builtin_trap(); \
		} \
	} while (0)

static const uint8_t mac_a[6] = { 0x02, 0, 0, 0, 0xa0, 0x10 };
static const uint8_t mac_b[6] = { 0x02, 0, 0, 0, 0xb0, 0x10 };
static const char *const names[NPORTS] = { "em0", "em1", "em2", "em3" };

struct cursor {
	const uint8_t *p;
	size_t n;
};

static uint8_t
take8(struct cursor *c)
{
	if (c->n == 0)
		return 0;
	c->n--;
	return *c->p++;
}

static uint32_t
take32(struct cursor *c)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v = (v << 8) | take8(c);
	return v;
}

static uint32_t
active_mask(struct th_host *h, struct lk_status *st)
{
	uint32_t m = 0;

	lk_get_status(h->sc, st);
	for (uint32_t i = 0; i < LK_MAX_PORTS; i++) {
		struct lk_port_status ps;
		if (!(st->port_mask & (1u << i)))
			continue;
		CHECK(lk_get_port_status(h->sc, i, &ps) == 0);
		if (ps.flags & LK_PORT_ACTIVE) {
			CHECK(ps.link_up);
			m |= 1u << i;
		}
	}
	CHECK((uint32_t)__builtin_popcount(m) == st->nactive);
	CHECK((m & ~st->port_mask) == 0);
	return m;
}

/* A frame from the fuzz bytes, optionally behind a valid slow-protocols or IP header so the
 * deeper parsers get exercised, in an exact-size heap buffer so ASan sees any over-read. */
static uint8_t *
make_frame(struct cursor *c, uint32_t *len_out)
{
	static const uint8_t slow[14] = { 0x01, 0x80, 0xc2, 0, 0, 0x02, 2, 0, 0, 0, 0, 9, 0x88, 0x09 };
	uint8_t kind = take8(c);
	uint32_t len = take8(c) % 160, pre = 0;
	uint8_t *f;

	if ((kind & 3) == 1)
		pre = 14; /* slow protocols header */
	else if ((kind & 3) == 2)
		pre = 14; /* IPv4 or IPv6 Ethernet header */
	f = malloc(pre + len + 1);
	if (f == NULL)
		abort();
	if ((kind & 3) == 1)
		memcpy(f, slow, 14);
	else if ((kind & 3) == 2) {
		memset(f, 0x22, 12);
		f[12] = (kind & 4) ? 0x86 : 0x08;
		f[13] = (kind & 4) ? 0xdd : 0x00;
	}
	for (uint32_t i = 0; i < len; i++)
		f[pre + i] = take8(c);
	*len_out = pre + len;
	return f;
}

static void
step_output(struct th_host *a, struct cursor *c)
{
	struct lk_status st;
	struct lk_frame fr = { 0 };
	uint32_t len, mask, act;
	uint8_t *f = make_frame(c, &len);

	fr.data = f;
	fr.caplen = len;
	fr.len = len + take8(c);
	fr.has_flowid = take8(c) & 1;
	fr.flowid = take32(c);
	fr.has_vlan = take8(c) & 1;
	fr.vlan_tag = (uint16_t)take32(c);
	act = active_mask(a, &st);
	mask = lk_output(a->sc, 0, &fr);
	CHECK((mask & ~act) == 0);
	switch (st.proto) {
	case LK_PROTO_NONE:
		CHECK(mask == 0);
		break;
	case LK_PROTO_BROADCAST:
		CHECK(mask == act);
		break;
	default:
		CHECK((mask == 0) == (act == 0));
		CHECK((mask & (mask - 1)) == 0);
		break;
	}
	free(f);
}

static void
step_input(struct th_host *a, struct cursor *c, int control)
{
	struct lk_status st;
	struct lk_frame fr = { 0 };
	uint32_t len, port = take8(c) % (NPORTS + 1);
	uint8_t *f = make_frame(c, &len);
	enum lk_rx_verdict v;
	int err;

	lk_get_status(a->sc, &st);
	if (control) {
		err = lk_control_input(a->sc, port, f, len);
		CHECK(err == 0 || err == LK_EPROTO || err == LK_EINVAL);
		CHECK((st.port_mask & (1u << port)) || err == LK_EINVAL);
	} else {
		fr.data = f;
		fr.caplen = len;
		fr.len = len;
		v = lk_input(a->sc, 0, port, &fr);
		if (v == LK_RX_ACCEPT) {
			struct lk_port_status ps;
			CHECK(st.port_mask & (1u << port));
			CHECK(lk_get_port_status(a->sc, port, &ps) == 0 && ps.link_up);
			CHECK(st.proto != LK_PROTO_NONE);
			if (st.proto == LK_PROTO_LACP)
				CHECK(ps.flags & LK_PORT_COLLECTING);
			if (st.proto == LK_PROTO_FAILOVER && !st.opts[LK_OPT_FAILOVER_RX_ALL])
				CHECK((int)port == st.active_port);
		} else if (v == LK_RX_CONTROL) {
			CHECK(st.proto == LK_PROTO_LACP);
			err = lk_control_input(a->sc, port, f, len);
			CHECK(err == 0 || err == LK_EPROTO);
		} else
			CHECK(v == LK_RX_DROP);
	}
	free(f);
	th_pump();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cursor c = { data, size };
	struct th_host *a, *b;
	uint64_t last_seq = 0;
	uint32_t ports[NPORTS];

	th_reset();
	a = th_host_new("lagg0", mac_a);
	b = th_host_new("lagg1", mac_b);
	lk_set_proto(b->sc, LK_PROTO_LACP);
	lk_set_proto(a->sc, (enum lk_proto)(take8(&c) % LK_PROTO_MAX));
	for (uint32_t i = 0; i < NPORTS; i++) {
		ports[i] = th_port_add(a, names[i], 1000000000ull, 1);
		th_port_add(b, names[i], 1000000000ull, 1);
		th_wire(a, ports[i], b, i);
	}
	for (int steps = 0; c.n > 0 && steps < 64; steps++) {
		uint8_t op = take8(&c);
		struct lk_event ev;
		uint32_t port = take8(&c) % NPORTS, n;

		switch (op % 10) {
		case 0:
			CHECK(lk_set_proto(a->sc, (enum lk_proto)(take8(&c) % (LK_PROTO_MAX + 1))) == 0 || 1);
			break;
		case 1:
			th_link(a, port, take8(&c) & 1);
			break;
		case 2:
		case 3:
			step_output(a, &c);
			break;
		case 4:
			step_input(a, &c, 0);
			break;
		case 5:
			step_input(a, &c, 1);
			break;
		case 6:
			th_advance(take8(&c) * 50u);
			break;
		case 7: {
			uint8_t opt = take8(&c) % (LK_OPT_MAX + 1);
			uint32_t val = take32(&c);
			if (take8(&c) & 1)
				val %= 4;
			(void)lk_set_opt(a->sc, (enum lk_opt)opt, val);
			break;
		}
		case 8:
			if (take8(&c) & 1)
				(void)lk_port_remove(a->sc, port);
			else if (lk_port_lookup(a->sc, names[port], &n) != 0) {
				uint32_t np = th_port_add(a, names[port], 1000000000ull, take8(&c) & 1);
				if (np < LK_MAX_PORTS)
					th_wire(a, np, b, port);
			}
			break;
		case 9:
			(void)lk_port_set_prio(a->sc, port, (uint16_t)take32(&c));
			break;
		}
		n = lk_events_read(a->sc, last_seq, &ev, 1);
		if (n == 1) {
			CHECK(ev.seq >= last_seq);
			last_seq = ev.seq;
		}
		{
			struct lk_status st;
			(void)active_mask(a, &st);
		}
	}
	th_reset();
	return 0;
}
