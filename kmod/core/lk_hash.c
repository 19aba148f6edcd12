/*
 * Flow hash for loadbalance and lacp.
 *
 * Layers (LK_OPT_HASH_LAYERS) choose what identifies a flow:
 *   l2  source and destination MAC, and the VLAN id (in-band 802.1Q tag or the NIC-stripped one)
 *   l3  IPv4 or IPv6 source and destination addresses
 *   l4  TCP, UDP and SCTP ports, over IPv4 and over IPv6 (FreeBSD lagg hashes only the IPv6
 *       flow label; we hash the real ports so one IPv6 host pair still spreads by connection)
 * A frame carrying none of the selected fields (ARP under "l3,l4", say) falls back to l2 so
 * non-IP traffic is still spread instead of all landing on one port.
 * IPv4 and IPv6 fragments other than the first carry no transport header, so they hash without
 * ports (the first fragment still hashes with them).
 *
 * The hash is a keyed multiply-rotate mix (Murmur3-style) of big-endian 32-bit words, seeded by
 * the per-aggregate key so two aggregates (or two boxes) do not polarise the same way. It never
 * reads past caplen.
 */
#include "lk_internal.h"

#define IPPROTO_TCP_   6u
#define IPPROTO_UDP_   17u
#define IPPROTO_SCTP_  132u
#define IP6_HOPOPTS_   0u
#define IP6_ROUTING_   43u
#define IP6_FRAGMENT_  44u
#define IP6_DSTOPTS_   60u
#define IP6_MAX_EXT    4      /* extension headers walked before giving up on ports */

static inline uint32_t
rd16(const uint8_t *p)
{
	return ((uint32_t)p[0] << 8) | p[1];
}

static inline uint32_t
rd32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint32_t
rotl32(uint32_t x, unsigned r)
{
	return (x << r) | (x >> (32 - r));
}

static inline uint32_t
mix_word(uint32_t h, uint32_t k)
{
	k *= 0xcc9e2d51u;
	k = rotl32(k, 15);
	k *= 0x1b873593u;
	h ^= k;
	h = rotl32(h, 13);
	return h * 5u + 0xe6546b64u;
}

uint32_t
lk_hash_mix(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

static uint32_t
hash_l2(const struct lk_frame *f, uint32_t h, int vlan_present, uint32_t vid)
{
	const uint8_t *d = f->data;

	h = mix_word(h, rd32(d));                         /* dst[0..3] */
	h = mix_word(h, (rd16(d + 4) << 16) | rd16(d + 6)); /* dst[4..5] src[0..1] */
	h = mix_word(h, rd32(d + 8));                     /* src[2..5] */
	if (vlan_present)
		h = mix_word(h, vid & 0x0fffu);
	return h;
}

/*
 * Hash the selected layers of one frame. Pure function of (frame bytes, VLAN tag, layers,
 * seed); the frame path calls it through lk_flow_hash().
 */
uint32_t
lk_hash_frame(const struct lk_frame *f, uint32_t layers, uint32_t seed)
{
	const uint8_t *d = f->data;
	uint32_t cap = f->caplen;
	uint32_t h = seed, etype, off = LK_ETHER_HDR_LEN, vid = 0, l4 = 0, proto = 0;
	int vlan = 0, used = 0, ports = 0;

	if (d == NULL || cap < LK_ETHER_HDR_LEN)
		return lk_hash_mix(h ^ f->len);
	etype = rd16(d + 12);
	if (etype == LK_ETHERTYPE_VLAN && cap >= LK_ETHER_HDR_LEN + 4) {
		vlan = 1;
		vid = rd16(d + 14);
		etype = rd16(d + 16);
		off += 4;
	} else if (f->has_vlan) {
		vlan = 1;
		vid = f->vlan_tag;
	}

	if (layers & LK_HASH_L2) {
		h = hash_l2(f, h, vlan, vid);
		used = 1;
	}

	if (etype == LK_ETHERTYPE_IPV4 && cap >= off + 20 && (d[off] >> 4) == 4) {
		uint32_t ihl = (uint32_t)(d[off] & 0x0fu) * 4u;
		if (layers & LK_HASH_L3) {
			h = mix_word(h, rd32(d + off + 12));
			h = mix_word(h, rd32(d + off + 16));
			used = 1;
		}
		/* fragment offset != 0: no transport header in this fragment */
		if (ihl >= 20 && (rd16(d + off + 6) & 0x1fffu) == 0) {
			proto = d[off + 9];
			l4 = off + ihl;
			ports = 1;
		}
	} else if (etype == LK_ETHERTYPE_IPV6 && cap >= off + 40 && (d[off] >> 4) == 6) {
		uint32_t nh = d[off + 6], p = off + 40;
		if (layers & LK_HASH_L3) {
			for (uint32_t i = 0; i < 32; i += 4)
				h = mix_word(h, rd32(d + off + 8 + i));
			used = 1;
		}
		ports = 1;
		for (int n = 0; n < IP6_MAX_EXT; n++) {
			if (nh == IP6_HOPOPTS_ || nh == IP6_ROUTING_ || nh == IP6_DSTOPTS_) {
				if (cap < p + 8) {
					ports = 0;
					break;
				}
				nh = d[p];
				p += ((uint32_t)d[p + 1] + 1u) * 8u;
			} else if (nh == IP6_FRAGMENT_) {
				if (cap < p + 8 || (rd16(d + p + 2) & 0xfff8u) != 0) {
					ports = 0;
					break;
				}
				nh = d[p];
				p += 8;
			} else
				break;
		}
		proto = nh;
		l4 = p;
	}

	if ((layers & LK_HASH_L4) && ports &&
	    (proto == IPPROTO_TCP_ || proto == IPPROTO_UDP_ || proto == IPPROTO_SCTP_) &&
	    l4 + 4 <= cap) {
		h = mix_word(h, rd32(d + l4));   /* source port << 16 | destination port */
		h = mix_word(h, proto);
		used = 1;
	}

	if (!used)
		h = hash_l2(f, h, vlan, vid);
	return lk_hash_mix(h);
}

uint32_t
lk_flow_hash(const struct lk_txmap *m, const struct lk_frame *f)
{
	if (m->use_flowid && f->has_flowid)
		return lk_hash_mix((f->flowid >> m->flowid_shift) ^ m->seed);
	return lk_hash_frame(f, m->hash_layers, m->seed);
}
