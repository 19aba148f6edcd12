/*
 * Marker protocol: the responder answers every valid marker request byte for byte, and the
 * generator flushes a port before a planned move (a port going STANDBY, or a flush asked for
 * by configuration) without stalling anything else: the moving port keeps its flows until
 * the partner's response or the 100 ms timeout, every other flow keeps its port throughout.
 */
#include "test_lacp_util.h"

static const uint8_t REQ_SYS[6] = { 0x02, 0x77, 0x00, 0x00, 0x00, 0x01 };

static uint32_t
marker_request(uint8_t *frame, uint16_t port, uint32_t xid)
{
	struct lk_marker_pdu m;

	memset(&m, 0, sizeof(m));
	m.type = LK_MARKER_TLV_INFO;
	m.requester_port = port;
	memcpy(m.requester_sys, REQ_SYS, 6);
	m.requester_xid = xid;
	return (uint32_t)lk_marker_pdu_encode(frame, LK_SLOW_FRAME_LEN, REQ_SYS, &m);
}

static void
test_responder_byte_exact(void)
{
	struct th_host *h = lacp_host("dut", 0x01);
	uint8_t req[LK_SLOW_FRAME_LEN], want[LK_SLOW_FRAME_LEN];
	const struct th_frame *f;

	lacp_ports(h, 2, GBPS);
	th_tx_clear(h);
	TH_EQ(marker_request(req, 5, 0x01020304), LK_SLOW_FRAME_LEN);
	TH_EQ(lk_control_input(h->sc, 1, req, sizeof(req)), LK_OK);
	th_pump();
	TH_EQ(sent_subtype(h, 1, LK_SLOW_SUBTYPE_MARKER, 0), 1);
	TH_EQ(sent_subtype(h, 0, LK_SLOW_SUBTYPE_MARKER, 0), 0);
	/* the response: our port's address as source, TLV type 2, every other octet as sent */
	memcpy(want, req, sizeof(want));
	memcpy(want + 6, h->sc->ports[1].lladdr, 6);
	want[16] = LK_MARKER_TLV_RESPONSE;
	for (uint32_t i = th_tx_count(h, 1); i > 0; i--) {
		f = th_tx_get(h, 1, i - 1);
		if (lk_slow_subtype(f->data, f->len) == (int)LK_SLOW_SUBTYPE_MARKER) {
			TH_EQ(f->len, LK_SLOW_FRAME_LEN);
			TH_CHECK(memcmp(f->data, want, sizeof(want)) == 0);
			break;
		}
	}
	TH_EQ(pst(h, 1).lacp.marker_rx, 1);
	TH_EQ(pst(h, 1).lacp.marker_resp_tx, 1);
	TH_EQ(pst(h, 1).lacp.marker_tx, 0);
	/* every valid request is answered */
	for (uint32_t x = 0; x < 5; x++) {
		(void)marker_request(req, 5, x);
		TH_EQ(lk_control_input(h->sc, 0, req, sizeof(req)), LK_OK);
	}
	th_pump();
	TH_EQ(sent_subtype(h, 0, LK_SLOW_SUBTYPE_MARKER, 0), 5);
	TH_EQ(pst(h, 0).lacp.marker_resp_tx, 5);
	/* an unsolicited response is counted and changes nothing */
	want[16] = LK_MARKER_TLV_RESPONSE;
	TH_EQ(lk_control_input(h->sc, 0, want, sizeof(want)), LK_OK);
	TH_EQ(pst(h, 0).lacp.marker_resp_rx, 1);
	TH_EQ(lport(h, 0)->draining, 0);
}

/* Frame of test flow i (TCP, one source port per flow). */
static uint32_t
flow_frame(uint32_t i, uint8_t *frame, uint32_t size)
{
	struct th_flow fl;

	memset(&fl, 0, sizeof(fl));
	fl.family = 4;
	fl.proto = 6;
	fl.src_ip[3] = 1;
	fl.dst_ip[3] = 2;
	fl.sport = (uint16_t)(2000 + i);
	fl.dport = 80;
	return th_build(&fl, frame, size);
}

/* The port mask each of n flows leaves a by. */
static void
flow_ports(struct th_host *a, uint32_t n, uint32_t *out)
{
	struct lk_frame f;
	uint8_t frame[128];

	for (uint32_t i = 0; i < n; i++) {
		memset(&f, 0, sizeof(f));
		f.data = frame;
		f.len = f.caplen = flow_frame(i, frame, sizeof(frame));
		out[i] = lk_output(a->sc, 0, &f);
	}
}

static void
pair3(struct th_host **a, struct th_host **b)
{
	*a = lacp_host("sysA", 0x0a);
	*b = lacp_host("sysB", 0x0b);
	lacp_opt(*a, LK_OPT_LACP_FAST_TIMEOUT, 1);
	lacp_opt(*b, LK_OPT_LACP_FAST_TIMEOUT, 1);
	lacp_ports(*a, 3, GBPS);
	lacp_ports(*b, 3, GBPS);
	lacp_wire_n(*a, *b, 3);
	th_advance(5 * SEC);
	TH_EQ(dist_mask(*a), 7);
}

#define NFLOWS 256

/* A port goes STANDBY (maxports lowered); the partner answers the marker at once. */
static void
test_standby_flush_answered(void)
{
	struct th_host *a, *b;
	uint64_t ev0;

	pair3(&a, &b);
	ev0 = ev_next(a);
	lacp_opt(a, LK_OPT_LACP_MAXPORTS, 2);
	th_pump();
	TH_EQ(pst(a, 2).lacp.sel_state, LK_LACP_STANDBY);
	TH_EQ(pst(a, 2).lacp.marker_tx, 1);
	TH_EQ(pst(b, 2).lacp.marker_rx, 1);
	TH_EQ(pst(b, 2).lacp.marker_resp_tx, 1);
	TH_EQ(pst(a, 2).lacp.marker_resp_rx, 1);
	TH_EQ(lport(a, 2)->draining, 0);
	TH_EQ(dist_mask(a), 3);
	th_advance(1 * SEC);
	TH_EQ(ev_count(a, LK_EV_MARKER_TIMEOUT, -1, ev0), 0);
	TH_EQ(dist_mask(a), 3);
}

/* The partner never answers (as Open vSwitch): the flush ends by the 100 ms timeout, and no
 * flow other than the moving port's waits or moves. */
static void
test_standby_flush_timeout(void)
{
	struct th_host *a, *b;
	uint32_t before[NFLOWS], during[NFLOWS], after[NFLOWS];
	uint64_t ev0;
	uint32_t moved_other = 0, on2 = 0;

	pair3(&a, &b);
	flow_ports(a, NFLOWS, before);
	th_silence(b, 2, 1);
	ev0 = ev_next(a);
	lacp_opt(a, LK_OPT_LACP_MAXPORTS, 2);
	th_pump();
	TH_EQ(pst(a, 2).lacp.sel_state, LK_LACP_STANDBY);
	TH_EQ(pst(a, 2).lacp.marker_tx, 1);
	TH_EQ(lport(a, 2)->draining, 1);
	/* during the flush port 2 still carries its own flows; the others never moved */
	th_advance(50);
	TH_EQ(dist_mask(a), 7);
	flow_ports(a, NFLOWS, during);
	for (uint32_t i = 0; i < NFLOWS; i++) {
		TH_CHECK(during[i] != 0);
		TH_EQ(during[i], before[i]);
		on2 += before[i] == 4;
	}
	TH_CHECK(on2 > 0);
	/* and the partner still collects them: the port stays in sync while it drains */
	TH_CHECK(is_cd(a, 2) && is_cd(b, 2));
	{
		uint32_t rx0 = th_rx_count(b, 2);
		uint8_t frame[128];

		for (uint32_t i = 0; i < NFLOWS; i++)
			(void)th_send(a, frame, flow_frame(i, frame, sizeof(frame)));
		TH_EQ(th_rx_count(b, 2), rx0 + on2);
	}
	th_advance(49);
	TH_EQ(lport(a, 2)->draining, 1);
	th_advance(1); /* 100 ms */
	TH_EQ(lport(a, 2)->draining, 0);
	TH_EQ(ev_count(a, LK_EV_MARKER_TIMEOUT, 2, ev0), 1);
	TH_EQ(dist_mask(a), 3);
	flow_ports(a, NFLOWS, after);
	for (uint32_t i = 0; i < NFLOWS; i++) {
		TH_CHECK(after[i] == 1 || after[i] == 2);
		if (before[i] != 4 && after[i] != before[i])
			moved_other++;
	}
	TH_EQ(moved_other, 0); /* only port 2's flows moved */
	/* the rest of the aggregate never noticed */
	TH_CHECK(is_cd(a, 0) && is_cd(a, 1));
}

static void
test_flush_api(void)
{
	struct th_host *a, *b;
	struct lk_port *p2, *p0;
	uint64_t ev0;

	pair3(&a, &b);
	p0 = &a->sc->ports[0];
	p2 = &a->sc->ports[2];
	/* answered: done as soon as the response arrives */
	TH_EQ(lk_lacp_port_flush(a->sc, p2), LK_OK);
	TH_EQ(lk_lacp_port_draining(a->sc, p2), 1);
	TH_EQ(lk_lacp_port_flush(a->sc, p2), LK_EBUSY);
	th_pump();
	TH_EQ(lk_lacp_port_draining(a->sc, p2), 0);
	TH_EQ(pst(a, 2).lacp.marker_resp_rx, 1);
	/* a response with another transaction id does not end a flush */
	th_silence(b, 0, 1);
	ev0 = ev_next(a);
	TH_EQ(lk_lacp_port_flush(a->sc, p0), LK_OK);
	{
		uint8_t resp[LK_SLOW_FRAME_LEN];
		struct lk_marker_pdu m;

		memset(&m, 0, sizeof(m));
		m.type = LK_MARKER_TLV_RESPONSE;
		m.requester_port = 1;
		memcpy(m.requester_sys, a->sc->lladdr, 6);
		m.requester_xid = lport(a, 0)->marker_xid + 1;
		TH_EQ(lk_marker_pdu_encode(resp, sizeof(resp), REQ_SYS, &m), LK_SLOW_FRAME_LEN);
		TH_EQ(lk_control_input(a->sc, 0, resp, sizeof(resp)), LK_OK);
		TH_EQ(lk_lacp_port_draining(a->sc, p0), 1);
		/* the right one does */
		m.requester_xid--;
		TH_EQ(lk_marker_pdu_encode(resp, sizeof(resp), REQ_SYS, &m), LK_SLOW_FRAME_LEN);
		TH_EQ(lk_control_input(a->sc, 0, resp, sizeof(resp)), LK_OK);
		TH_EQ(lk_lacp_port_draining(a->sc, p0), 0);
	}
	TH_EQ(ev_count(a, LK_EV_MARKER_TIMEOUT, -1, ev0), 0);
	/* a link loss during a flush moves the flows at once */
	TH_EQ(lk_lacp_port_flush(a->sc, p0), LK_OK);
	th_link(a, 0, 0);
	TH_EQ(lk_lacp_port_draining(a->sc, p0), 0);
	TH_EQ(dist_mask(a), 6);
	TH_EQ(lk_lacp_port_flush(a->sc, p0), LK_EINVAL); /* nothing to flush */
	th_advance(1 * SEC);
	TH_EQ(ev_count(a, LK_EV_MARKER_TIMEOUT, -1, ev0), 0);
}

int
main(void)
{
	th_run("responder answers byte-exactly", test_responder_byte_exact);
	th_run("standby flush answered by the partner", test_standby_flush_answered);
	th_run("standby flush times out, no other flow moves", test_standby_flush_timeout);
	th_run("flush API", test_flush_api);
	return th_summary();
}
