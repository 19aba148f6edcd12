/*
 * LACPDU and marker PDU codec: the exact wire layout (compared with bytes written out by hand
 * from IEEE 802.1AX), round trips, and every kind of malformed frame, which must be rejected
 * by the decoder and, fed to a negotiated aggregate, counted illegal with no state change.
 */
#include "test_lacp_util.h"

static const uint8_t SRC[6] = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01 };

static struct lk_lacpdu
sample_lacpdu(void)
{
	struct lk_lacpdu p;

	memset(&p, 0, sizeof(p));
	p.actor.sys_prio = 0x8000;
	memcpy(p.actor.sys_mac, (const uint8_t[]){ 0x02, 0, 0, 0, 0x11, 0 }, 6);
	p.actor.key = 0x03e8;
	p.actor.port_prio = 0x1234;
	p.actor.port_no = 0x0002;
	p.actor.state = 0x3d;
	p.partner.sys_prio = 0xfffe;
	memcpy(p.partner.sys_mac, (const uint8_t[]){ 0x52, 0x54, 0, 1, 2, 3 }, 6);
	p.partner.key = 0x0011;
	p.partner.port_prio = 0xffff;
	p.partner.port_no = 0x0007;
	p.partner.state = 0x47;
	p.collector_max_delay = 0x0005;
	return p;
}

static void
lacpdu_golden(uint8_t g[LK_SLOW_FRAME_LEN])
{
	static const uint8_t head[] = {
		0x01, 0x80, 0xc2, 0x00, 0x00, 0x02,                         /* slow protocols multicast */
		0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01,                         /* source */
		0x88, 0x09,                                                 /* slow protocols */
		0x01, 0x01,                                                 /* LACP, version 1 */
		0x01, 0x14, 0x80, 0x00, 0x02, 0x00, 0x00, 0x00, 0x11, 0x00, /* actor */
		0x03, 0xe8, 0x12, 0x34, 0x00, 0x02, 0x3d, 0x00, 0x00, 0x00, 0x02, 0x14, 0xff, 0xfe, 0x52,
		0x54, 0x00, 0x01, 0x02, 0x03, /* partner */
		0x00, 0x11, 0xff, 0xff, 0x00, 0x07, 0x47, 0x00, 0x00, 0x00, 0x03, 0x10, 0x00,
		0x05,                                           /* collector, max delay */
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00, /* terminator */
	};

	memset(g, 0, LK_SLOW_FRAME_LEN);
	memcpy(g, head, sizeof(head));
	TH_EQ(sizeof(head), 14 + 60);
}

static void
test_lacpdu_layout(void)
{
	uint8_t buf[200], golden[LK_SLOW_FRAME_LEN];
	struct lk_lacpdu in = sample_lacpdu(), out;

	lacpdu_golden(golden);
	memset(buf, 0xee, sizeof(buf));
	TH_EQ(lk_lacp_pdu_encode(buf, sizeof(buf), SRC, &in), 124);
	TH_CHECK(memcmp(buf, golden, LK_SLOW_FRAME_LEN) == 0);
	TH_EQ(buf[124], 0xee); /* nothing written past the frame */
	TH_EQ(lk_lacp_pdu_encode(buf, 123, SRC, &in), 0);
	TH_EQ(lk_slow_subtype(golden, LK_SLOW_FRAME_LEN), LK_SLOW_SUBTYPE_LACP);

	memset(&out, 0x5a, sizeof(out));
	TH_EQ(lk_lacp_pdu_decode(golden, LK_SLOW_FRAME_LEN, &out), LK_OK);
	TH_CHECK(memcmp(&out.actor, &in.actor, sizeof(in.actor)) == 0);
	TH_CHECK(memcmp(&out.partner, &in.partner, sizeof(in.partner)) == 0);
	TH_EQ(out.collector_max_delay, 5);

	/* reserved octets are ignored on receipt (forward compatibility) */
	golden[14 + 19] = 0xff;
	golden[14 + 60 + 10] = 0x77;
	TH_EQ(lk_lacp_pdu_decode(golden, LK_SLOW_FRAME_LEN, &out), LK_OK);
}

static void
test_marker_layout(void)
{
	static const uint8_t head[] = {
		0x01, 0x80, 0xc2, 0x00, 0x00, 0x02, 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01, 0x88, 0x09, 0x02,
		0x01,                                                       /* marker, version 1 */
		0x01, 0x10, 0x00, 0x03, 0x02, 0x00, 0x00, 0x00, 0x11, 0x00, /* info, port 3 */
		0xde, 0xad, 0xbe, 0xef, 0x00, 0x00,                         /* transaction id, pad */
		0x00, 0x00,                                                 /* terminator */
	};
	uint8_t golden[LK_SLOW_FRAME_LEN], buf[LK_SLOW_FRAME_LEN];
	struct lk_marker_pdu m, out;
	struct lk_lacpdu lacpdu;

	memset(golden, 0, sizeof(golden));
	memcpy(golden, head, sizeof(head));
	memset(&m, 0, sizeof(m));
	m.type = LK_MARKER_TLV_INFO;
	m.requester_port = 3;
	memcpy(m.requester_sys, (const uint8_t[]){ 0x02, 0, 0, 0, 0x11, 0 }, 6);
	m.requester_xid = 0xdeadbeef;
	TH_EQ(lk_marker_pdu_encode(buf, sizeof(buf), SRC, &m), 124);
	TH_CHECK(memcmp(buf, golden, sizeof(buf)) == 0);
	TH_EQ(lk_marker_pdu_decode(buf, 124, &out), LK_OK);
	TH_CHECK(memcmp(&out, &m, sizeof(m)) == 0);
	m.type = LK_MARKER_TLV_RESPONSE;
	TH_EQ(lk_marker_pdu_encode(buf, sizeof(buf), SRC, &m), 124);
	TH_EQ(buf[16], 0x02);
	TH_EQ(lk_marker_pdu_decode(buf, 124, &out), LK_OK);
	TH_EQ(out.type, LK_MARKER_TLV_RESPONSE);
	m.type = 3; /* not a marker TLV */
	TH_EQ(lk_marker_pdu_encode(buf, sizeof(buf), SRC, &m), 0);
	/* a LACPDU is not a marker and vice versa */
	TH_EQ(lk_lacp_pdu_decode(golden, 124, &lacpdu), LK_EPROTO);
}

/* ---- malformed frames ------------------------------------------------------------------------ */

struct bad_case {
	const char *name;
	int marker;   /* start from a marker PDU instead of a LACPDU */
	uint32_t len; /* frame length handed over (124 = unchanged) */
	int off;      /* byte to overwrite, -1 none */
	uint8_t val;
	int unknown; /* another slow protocol: counted unknown, not illegal */
};

static const struct bad_case bad_cases[] = {
	{ "empty", 0, 0, -1, 0, 0 },
	{ "truncated header", 0, 13, -1, 0, 0 },
	{ "header only", 0, 14, -1, 0, 0 },
	{ "subtype only", 0, 15, -1, 0, 0 },
	{ "min ethernet", 0, 60, -1, 0, 0 },
	{ "one short", 0, 123, -1, 0, 0 },
	{ "one long", 0, 125, -1, 0, 0 },
	{ "oversize", 0, 200, -1, 0, 0 },
	{ "unicast destination", 0, 124, 0, 0x02, 0 },
	{ "other multicast", 0, 124, 5, 0x03, 0 },
	{ "ethertype", 0, 124, 13, 0x08, 0 },
	{ "subtype 0", 0, 124, 14, 0x00, 0 },
	{ "version 0", 0, 124, 15, 0x00, 0 },
	{ "version 2", 0, 124, 15, 0x02, 0 },
	{ "version 255", 0, 124, 15, 0xff, 0 },
	{ "actor type 0", 0, 124, 16, 0x00, 0 },
	{ "actor type 2", 0, 124, 16, 0x02, 0 },
	{ "actor length 19", 0, 124, 17, 19, 0 },
	{ "actor length 21", 0, 124, 17, 21, 0 },
	{ "actor length 0", 0, 124, 17, 0, 0 },
	{ "partner type 1", 0, 124, 36, 0x01, 0 },
	{ "partner type 3", 0, 124, 36, 0x03, 0 },
	{ "partner length 16", 0, 124, 37, 16, 0 },
	{ "collector type 4", 0, 124, 56, 0x04, 0 },
	{ "collector length 20", 0, 124, 57, 20, 0 },
	{ "terminator type 1", 0, 124, 72, 0x01, 0 },
	{ "terminator length 2", 0, 124, 73, 2, 0 },
	{ "marker truncated", 1, 100, -1, 0, 0 },
	{ "marker oversize", 1, 125, -1, 0, 0 },
	{ "marker version 2", 1, 124, 15, 0x02, 0 },
	{ "marker tlv type 0", 1, 124, 16, 0x00, 0 },
	{ "marker tlv type 3", 1, 124, 16, 0x03, 0 },
	{ "marker length 15", 1, 124, 17, 15, 0 },
	{ "marker length 17", 1, 124, 17, 17, 0 },
	{ "marker terminator 1", 1, 124, 32, 0x01, 0 },
	{ "marker term length 16", 1, 124, 33, 16, 0 },
	{ "slow protocol OAM", 0, 124, 14, 0x03, 1 },
	{ "slow protocol 10", 0, 124, 14, 0x0a, 1 },
};

static void
build_bad(const struct bad_case *bc, uint8_t frame[256])
{
	memset(frame, 0, 256);
	if (bc->marker) {
		struct lk_marker_pdu m;

		memset(&m, 0, sizeof(m));
		m.type = LK_MARKER_TLV_INFO;
		m.requester_port = 1;
		m.requester_xid = 9;
		(void)lk_marker_pdu_encode(frame, 256, SRC, &m);
	} else {
		struct lk_lacpdu p = sample_lacpdu();

		(void)lk_lacp_pdu_encode(frame, 256, SRC, &p);
	}
	if (bc->off >= 0)
		frame[bc->off] = bc->val;
}

static void
test_decoder_rejects(const void *arg)
{
	const struct bad_case *bc = arg;
	uint8_t frame[256];
	struct lk_lacpdu pdu;
	struct lk_marker_pdu mk;

	th_note(bc->name);
	build_bad(bc, frame);
	memset(&pdu, 0x5a, sizeof(pdu));
	TH_EQ(lk_lacp_pdu_decode(frame, bc->len, &pdu), LK_EPROTO);
	TH_EQ(pdu.actor.sys_prio, 0x5a5a); /* output untouched on failure */
	TH_EQ(lk_marker_pdu_decode(frame, bc->len, &mk), LK_EPROTO);
}

/* Two 2-port systems negotiated to COLLECTING_DISTRIBUTING. */
static void
negotiated(struct th_host **a, struct th_host **b)
{
	*a = lacp_host("sysA", 0x0a);
	*b = lacp_host("sysB", 0x0b);
	lacp_opt(*a, LK_OPT_LACP_FAST_TIMEOUT, 1);
	lacp_opt(*b, LK_OPT_LACP_FAST_TIMEOUT, 1);
	lacp_ports(*a, 2, GBPS);
	lacp_ports(*b, 2, GBPS);
	lacp_wire_n(*a, *b, 2);
	th_advance(10 * SEC);
	TH_CHECK(is_cd(*a, 0) && is_cd(*a, 1) && is_cd(*b, 0) && is_cd(*b, 1));
}

struct snapshot {
	struct lk_lacp_port lp[2];
	struct lk_port_status ps[2];
	struct lk_status st;
	struct lk_lacp_softc ls;
	const void *txmap;
};

static void
snap(const struct th_host *h, struct snapshot *s)
{
	memset(s, 0, sizeof(*s));
	for (uint32_t i = 0; i < 2; i++) {
		s->lp[i] = h->sc->ports[i].lacp;
		s->lp[i].pdus_illegal = 0;
		s->lp[i].unknown_rx = 0;
		s->ps[i] = pst(h, i);
		s->ps[i].lacp.pdus_illegal = 0;
		s->ps[i].lacp.unknown_rx = 0;
	}
	TH_EQ(lk_get_status(h->sc, &s->st), LK_OK);
	s->ls = h->sc->lacp;
	s->txmap = h->sc->txmap;
}

static void
test_illegal_changes_nothing(const void *arg)
{
	const struct bad_case *bc = arg;
	struct th_host *a, *b;
	struct snapshot before, after;
	uint8_t frame[256];
	uint64_t ev0;
	uint64_t ill0, unk0;

	negotiated(&a, &b);
	th_note(bc->name);
	build_bad(bc, frame);
	snap(a, &before);
	ev0 = ev_next(a);
	ill0 = lport(a, 1)->pdus_illegal;
	unk0 = lport(a, 1)->unknown_rx;
	TH_EQ(lk_control_input(a->sc, 1, frame, bc->len), LK_EPROTO);
	snap(a, &after);
	TH_CHECK(memcmp(&before, &after, sizeof(before)) == 0);
	if (bc->unknown) {
		TH_EQ(lport(a, 1)->unknown_rx, unk0 + 1);
		TH_EQ(lport(a, 1)->pdus_illegal, ill0);
		TH_EQ(ev_next(a), ev0);
	} else {
		TH_EQ(lport(a, 1)->pdus_illegal, ill0 + 1);
		TH_EQ(pst(a, 1).lacp.pdus_illegal, ill0 + 1);
		TH_EQ(ev_count(a, LK_EV_ILLEGAL_PDU, 1, ev0), 1);
		TH_EQ(ev_next(a), ev0 + 1);
	}
	/* and the aggregate carries on as before */
	th_advance(5 * SEC);
	TH_CHECK(is_cd(a, 0) && is_cd(a, 1));
}

/* A malformed PDU arriving in place of every real one: the partner expires as if silent. */
static void
test_only_garbage_expires(void)
{
	struct th_host *a, *b;
	uint8_t frame[256];
	const struct bad_case bc = { "version 2", 0, 124, 15, 0x02, 0 };

	negotiated(&a, &b);
	th_silence(b, 0, 1);
	build_bad(&bc, frame);
	for (int i = 0; i < 4; i++) {
		(void)lk_control_input(a->sc, 0, frame, 124);
		th_advance(1 * SEC);
	}
	TH_EQ(pst(a, 0).lacp.rx_state, LK_LACP_RX_EXPIRED);
	TH_CHECK(lport(a, 0)->pdus_illegal >= 4);
	TH_CHECK(!is_cd(a, 0) && is_cd(a, 1));
}

int
main(void)
{
	th_run("lacpdu wire layout", test_lacpdu_layout);
	th_run("marker wire layout", test_marker_layout);
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		if (!bad_cases[i].unknown)
			th_run_case("decoder rejects", test_decoder_rejects, &bad_cases[i]);
		th_run_case("illegal frame changes nothing", test_illegal_changes_nothing, &bad_cases[i]);
	}
	th_run("garbage instead of PDUs expires the partner", test_only_garbage_expires);
	return th_summary();
}
