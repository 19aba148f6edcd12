/*
 * IEEE 802.1AX slow-protocols codec: LACPDU (subtype 1, version 1) and marker PDU (subtype 2).
 *
 * Both PDUs are a 14-byte Ethernet header to 01:80:c2:00:00:02, ethertype 0x8809, then a
 * 110-byte payload of fixed TLVs. Because the layout is fixed, decoding is a walk over known
 * offsets that checks every length, type and version before a single field is trusted: the
 * receive path feeds whatever the wire delivered straight into these functions.
 *
 * Reserved octets are written as zero and, as the standard asks, ignored on receipt, so a
 * partner that reuses them for a later revision still interoperates.
 */
#include "lk_internal.h"

static const uint8_t slow_dst[LK_ETHER_ADDR_LEN] = LK_SLOW_DST_MAC;

/* Payload offsets (after the Ethernet header). */
#define OFF_SUBTYPE   0u
#define OFF_VERSION   1u
#define OFF_ACTOR     2u
#define OFF_PARTNER   22u
#define OFF_COLLECTOR 42u
#define OFF_LACP_TERM 58u
#define OFF_MARKER    2u
#define OFF_MARK_TERM 18u

static inline uint16_t
get16(const uint8_t *b)
{
	return (uint16_t)((uint16_t)b[0] << 8 | b[1]);
}

static inline uint32_t
get32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static inline void
put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static inline void
put32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

/* Ethernet header plus subtype and version; the rest of the payload zeroed. */
static uint8_t *
slow_header(uint8_t *buf, const uint8_t src[LK_ETHER_ADDR_LEN], uint8_t subtype, uint8_t version)
{
	lk_memset(buf, 0, LK_SLOW_FRAME_LEN);
	lk_memcpy(buf, slow_dst, LK_ETHER_ADDR_LEN);
	lk_memcpy(buf + 6, src, LK_ETHER_ADDR_LEN);
	put16(buf + 12, LK_SLOW_ETHERTYPE);
	buf[14 + OFF_SUBTYPE] = subtype;
	buf[14 + OFF_VERSION] = version;
	return buf + 14;
}

int
lk_slow_subtype(const uint8_t *frame, uint32_t len)
{
	if (frame == NULL || len < 14u + 2u)
		return -1;
	if (lk_memcmp(frame, slow_dst, LK_ETHER_ADDR_LEN) != 0 || get16(frame + 12) != LK_SLOW_ETHERTYPE)
		return -1;
	return frame[14 + OFF_SUBTYPE];
}

/* Actor and partner information TLVs share one layout. */
static void
put_peer_tlv(uint8_t *t, uint8_t type, const struct lk_lacp_peer_info *pi)
{
	t[0] = type;
	t[1] = LK_LACP_TLV_ACTOR_LEN;
	put16(t + 2, pi->sys_prio);
	lk_memcpy(t + 4, pi->sys_mac, LK_ETHER_ADDR_LEN);
	put16(t + 10, pi->key);
	put16(t + 12, pi->port_prio);
	put16(t + 14, pi->port_no);
	t[16] = pi->state;
}

static void
get_peer_tlv(const uint8_t *t, struct lk_lacp_peer_info *pi)
{
	pi->sys_prio = get16(t + 2);
	lk_memcpy(pi->sys_mac, t + 4, LK_ETHER_ADDR_LEN);
	pi->key = get16(t + 10);
	pi->port_prio = get16(t + 12);
	pi->port_no = get16(t + 14);
	pi->state = t[16];
}

size_t
lk_lacp_pdu_encode(
    uint8_t *buf, size_t buflen, const uint8_t src[LK_ETHER_ADDR_LEN], const struct lk_lacpdu *pdu)
{
	uint8_t *pl;

	if (buf == NULL || buflen < LK_SLOW_FRAME_LEN)
		return 0;
	pl = slow_header(buf, src, LK_SLOW_SUBTYPE_LACP, LK_LACP_VERSION);
	put_peer_tlv(pl + OFF_ACTOR, LK_LACP_TLV_ACTOR, &pdu->actor);
	put_peer_tlv(pl + OFF_PARTNER, LK_LACP_TLV_PARTNER, &pdu->partner);
	pl[OFF_COLLECTOR] = LK_LACP_TLV_COLLECTOR;
	pl[OFF_COLLECTOR + 1] = LK_LACP_TLV_COLLECTOR_LEN;
	put16(pl + OFF_COLLECTOR + 2, pdu->collector_max_delay);
	pl[OFF_LACP_TERM] = LK_LACP_TLV_TERMINATOR;
	pl[OFF_LACP_TERM + 1] = 0;
	return LK_SLOW_FRAME_LEN;
}

/* Header checks shared by both decoders: exact length, destination, ethertype, subtype. */
static const uint8_t *
slow_payload(const uint8_t *frame, uint32_t len, uint8_t subtype, uint8_t version)
{
	if (frame == NULL || len != LK_SLOW_FRAME_LEN)
		return NULL;
	if (lk_slow_subtype(frame, len) != subtype)
		return NULL;
	if (frame[14 + OFF_VERSION] != version)
		return NULL;
	return frame + 14;
}

int
lk_lacp_pdu_decode(const uint8_t *frame, uint32_t len, struct lk_lacpdu *out)
{
	const uint8_t *pl = slow_payload(frame, len, LK_SLOW_SUBTYPE_LACP, LK_LACP_VERSION);

	if (pl == NULL || out == NULL)
		return LK_EPROTO;
	if (pl[OFF_ACTOR] != LK_LACP_TLV_ACTOR || pl[OFF_ACTOR + 1] != LK_LACP_TLV_ACTOR_LEN ||
	    pl[OFF_PARTNER] != LK_LACP_TLV_PARTNER || pl[OFF_PARTNER + 1] != LK_LACP_TLV_PARTNER_LEN ||
	    pl[OFF_COLLECTOR] != LK_LACP_TLV_COLLECTOR ||
	    pl[OFF_COLLECTOR + 1] != LK_LACP_TLV_COLLECTOR_LEN ||
	    pl[OFF_LACP_TERM] != LK_LACP_TLV_TERMINATOR || pl[OFF_LACP_TERM + 1] != 0)
		return LK_EPROTO;
	lk_memset(out, 0, sizeof(*out)); /* padding too: decoded PDUs compare with memcmp */
	get_peer_tlv(pl + OFF_ACTOR, &out->actor);
	get_peer_tlv(pl + OFF_PARTNER, &out->partner);
	out->collector_max_delay = get16(pl + OFF_COLLECTOR + 2);
	return LK_OK;
}

size_t
lk_marker_pdu_encode(
    uint8_t *buf, size_t buflen, const uint8_t src[LK_ETHER_ADDR_LEN], const struct lk_marker_pdu *pdu)
{
	uint8_t *pl;

	if (buf == NULL || buflen < LK_SLOW_FRAME_LEN ||
	    (pdu->type != LK_MARKER_TLV_INFO && pdu->type != LK_MARKER_TLV_RESPONSE))
		return 0;
	pl = slow_header(buf, src, LK_SLOW_SUBTYPE_MARKER, LK_MARKER_VERSION);
	pl[OFF_MARKER] = pdu->type;
	pl[OFF_MARKER + 1] = LK_MARKER_TLV_LEN;
	put16(pl + OFF_MARKER + 2, pdu->requester_port);
	lk_memcpy(pl + OFF_MARKER + 4, pdu->requester_sys, LK_ETHER_ADDR_LEN);
	put32(pl + OFF_MARKER + 10, pdu->requester_xid);
	pl[OFF_MARK_TERM] = LK_LACP_TLV_TERMINATOR;
	pl[OFF_MARK_TERM + 1] = 0;
	return LK_SLOW_FRAME_LEN;
}

int
lk_marker_pdu_decode(const uint8_t *frame, uint32_t len, struct lk_marker_pdu *out)
{
	const uint8_t *pl = slow_payload(frame, len, LK_SLOW_SUBTYPE_MARKER, LK_MARKER_VERSION);

	if (pl == NULL || out == NULL)
		return LK_EPROTO;
	if ((pl[OFF_MARKER] != LK_MARKER_TLV_INFO && pl[OFF_MARKER] != LK_MARKER_TLV_RESPONSE) ||
	    pl[OFF_MARKER + 1] != LK_MARKER_TLV_LEN || pl[OFF_MARK_TERM] != LK_LACP_TLV_TERMINATOR ||
	    pl[OFF_MARK_TERM + 1] != 0)
		return LK_EPROTO;
	lk_memset(out, 0, sizeof(*out));
	out->type = pl[OFF_MARKER];
	out->requester_port = get16(pl + OFF_MARKER + 2);
	lk_memcpy(out->requester_sys, pl + OFF_MARKER + 4, LK_ETHER_ADDR_LEN);
	out->requester_xid = get32(pl + OFF_MARKER + 10);
	return LK_OK;
}
