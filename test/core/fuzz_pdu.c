/*
 * libFuzzer target for the slow-protocols codec and the LACP receive path. The input is one
 * frame. It goes
 *   1. to the decoders: whatever they accept must re-encode to a frame that decodes to the
 *      same values (the encoder and decoder agree on every field);
 *   2. to lk_control_input() of system A in a negotiated two-port aggregate with system B: a
 *      rejected frame (LK_EPROTO) must leave every LACP variable of A untouched and be
 *      counted; an accepted one may change state, but every machine state stays in range,
 *      distributing never happens without collecting, and once B has talked for a few seconds
 *      more the aggregate is whole again.
 * A violated property traps (libFuzzer records the input). Seeds: test/core/corpus/pdu/.
 */
#include "harness.h"
#include "lk_internal.h"

#include <stdlib.h>
#include <string.h>

#define CHECK(c) \
	do { \
		if (!(c)) { \
			__builtin_trap(); \
		} \
	} while (0)

static const uint8_t mac_a[6] = { 0x02, 0, 0, 0, 0xa0, 0x10 };
static const uint8_t mac_b[6] = { 0x02, 0, 0, 0, 0xb0, 0x10 };

static void
codec_roundtrip(const uint8_t *f, uint32_t len)
{
	struct lk_lacpdu l1, l2;
	struct lk_marker_pdu m1, m2;
	uint8_t buf[LK_SLOW_FRAME_LEN];

	if (lk_lacp_pdu_decode(f, len, &l1) == LK_OK) {
		CHECK(len == LK_SLOW_FRAME_LEN);
		CHECK(lk_slow_subtype(f, len) == (int)LK_SLOW_SUBTYPE_LACP);
		CHECK(lk_lacp_pdu_encode(buf, sizeof(buf), f + 6, &l1) == LK_SLOW_FRAME_LEN);
		CHECK(lk_lacp_pdu_decode(buf, sizeof(buf), &l2) == LK_OK);
		CHECK(memcmp(&l1, &l2, sizeof(l1)) == 0);
		CHECK(lk_marker_pdu_decode(f, len, &m1) == LK_EPROTO);
	}
	if (lk_marker_pdu_decode(f, len, &m1) == LK_OK) {
		CHECK(lk_slow_subtype(f, len) == (int)LK_SLOW_SUBTYPE_MARKER);
		CHECK(lk_marker_pdu_encode(buf, sizeof(buf), f + 6, &m1) == LK_SLOW_FRAME_LEN);
		CHECK(lk_marker_pdu_decode(buf, sizeof(buf), &m2) == LK_OK);
		CHECK(memcmp(&m1, &m2, sizeof(m1)) == 0);
		/* everything but the reserved tail is what we decoded from */
		CHECK(memcmp(buf + 14, f + 14, 16) == 0);
	}
}

static void
check_ranges(const struct th_host *h)
{
	for (uint32_t i = 0; i < 2; i++) {
		struct lk_port_status st;

		CHECK(lk_get_port_status(h->sc, i, &st) == LK_OK);
		CHECK(st.lacp.rx_state <= LK_LACP_RX_CURRENT);
		CHECK(st.lacp.mux_state <= LK_LACP_MUX_COLLECTING_DISTRIBUTING);
		CHECK(st.lacp.ptx_state <= LK_LACP_PTX_PERIODIC_TX);
		CHECK(st.lacp.sel_state <= LK_LACP_STANDBY);
		CHECK(st.lacp.actor_churn <= LK_LACP_ACTOR_CHURN);
		CHECK(st.lacp.partner_churn <= LK_LACP_PARTNER_CHURN);
		if (st.lacp.actor.state & LK_LACP_STATE_DISTRIBUTING)
			CHECK(st.lacp.actor.state & LK_LACP_STATE_COLLECTING);
		if (st.flags & LK_PORT_DISTRIBUTING)
			CHECK(st.link_up);
	}
}

static int
whole(const struct th_host *h)
{
	for (uint32_t i = 0; i < 2; i++) {
		if (h->sc->ports[i].lacp.mux_state != LK_LACP_MUX_COLLECTING_DISTRIBUTING)
			return 0;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct th_host *a, *b;
	struct lk_lacp_port before[2], after[2];
	struct lk_lacp_softc ls_before;
	uint32_t len = size > 2048 ? 2048 : (uint32_t)size;
	uint8_t *f;
	int rc;

	/* exact-size heap copy so ASan sees any read past the frame */
	f = malloc(len ? len : 1);
	if (f == NULL)
		return 0;
	memcpy(f, data, len);
	codec_roundtrip(f, len);

	th_reset();
	a = th_host_new("lagg0", mac_a);
	b = th_host_new("lagg1", mac_b);
	lk_set_proto(a->sc, LK_PROTO_LACP);
	lk_set_proto(b->sc, LK_PROTO_LACP);
	lk_set_opt(a->sc, LK_OPT_LACP_FAST_TIMEOUT, 1);
	lk_set_opt(b->sc, LK_OPT_LACP_FAST_TIMEOUT, 1);
	for (uint32_t i = 0; i < 2; i++) {
		th_port_add(a, i ? "em1" : "em0", 1000000000ull, 1);
		th_port_add(b, i ? "em1" : "em0", 1000000000ull, 1);
		th_wire(a, i, b, i);
	}
	th_advance(4000);
	CHECK(whole(a) && whole(b));

	for (uint32_t i = 0; i < 2; i++)
		before[i] = a->sc->ports[i].lacp;
	ls_before = a->sc->lacp;
	rc = lk_control_input(a->sc, 0, f, len);
	CHECK(rc == LK_OK || rc == LK_EPROTO);
	if (rc == LK_EPROTO) {
		for (uint32_t i = 0; i < 2; i++) {
			after[i] = a->sc->ports[i].lacp;
			after[i].pdus_illegal = before[i].pdus_illegal;
			after[i].unknown_rx = before[i].unknown_rx;
			CHECK(memcmp(&before[i], &after[i], sizeof(after[i])) == 0);
		}
		CHECK(memcmp(&ls_before, &a->sc->lacp, sizeof(ls_before)) == 0);
		CHECK(a->sc->ports[0].lacp.pdus_illegal + a->sc->ports[0].lacp.unknown_rx ==
		    before[0].pdus_illegal + before[0].unknown_rx + 1);
	}
	check_ranges(a);
	/* the frame path too, on the other port */
	(void)th_receive(a, 1, f, len);
	check_ranges(a);
	th_advance(6000);
	check_ranges(a);
	CHECK(whole(a) && whole(b));

	th_reset();
	free(f);
	return 0;
}
