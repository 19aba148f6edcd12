/*
 * Flow hash for loadbalance and lacp, inline so lk_output() pays no call for it (lk_hash.c
 * gives the same function a linkable name for everything off the frame path).
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
 * Shape, and why. The fields are read as whole native-endian words (8 bytes of MACs, both IPv4
 * addresses in one word, both ports in one) and each word is keyed by the seed and multiplied
 * by its own odd constant; the products are summed and folded (lk_hash_fold) into the hash.
 * The products do not depend on each other, so the CPU computes them in parallel, where a
 * chained mix (each word mixed into the running hash, as Murmur3 and lagg's hash32 do) waits
 * for every previous word. That, no byte swapping, and no call, is where the frame path's time
 * went. Every word has its own multiplier, so swapping two fields changes the hash, and each
 * product is a bijection of its word, so two flows that differ in one field never collide in
 * the 64-bit sum.
 * The hash never reads past caplen.
 */
#ifndef LK_HASH_H
#define LK_HASH_H

#include "lk_internal.h"

#define LK_IPPROTO_TCP  6u
#define LK_IPPROTO_UDP  17u
#define LK_IPPROTO_SCTP 132u
#define LK_IP6_HOPOPTS  0u
#define LK_IP6_ROUTING  43u
#define LK_IP6_FRAGMENT 44u
#define LK_IP6_DSTOPTS  60u
#define LK_IP6_MAX_EXT  4 /* extension headers walked before giving up on ports */

/* One odd multiplier per word position: l2 (2 words), l3 (4), l4 (1). */
#define LK_HK_L2A  0x9e3779b97f4a7c15ull
#define LK_HK_L2B  0xc2b2ae3d27d4eb4full
#define LK_HK_L3A  0x165667b19e3779f9ull
#define LK_HK_L3B  0xd6e8feb86659fd93ull
#define LK_HK_L3C  0xa0761d6478bd642full
#define LK_HK_L3D  0xe7037ed1a0b428dbull
#define LK_HK_L4   0x8ebc6af09c88c6e3ull
#define LK_HK_FOLD 0xbf58476d1ce4e5b9ull /* the final fold's */

static inline uint64_t
lk_hrd64(const uint8_t *p)
{
	uint64_t v;

	__builtin_memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t
lk_hrd32(const uint8_t *p)
{
	uint32_t v;

	__builtin_memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t
lk_hrd16be(const uint8_t *p)
{
	return ((uint32_t)p[0] << 8) | p[1];
}

/* The key: the 32-bit seed spread over a 64-bit word, XORed into every word before its product. */
static inline uint64_t
lk_hash_key(uint32_t seed)
{
	return ((uint64_t)seed << 32 | seed) ^ 0x5851f42d4c957f2dull;
}

/*
 * 64 bits to 32, with one more multiply. The top bits of a sum of products are a linear
 * function of the words (mod 2^64), so flows that differ in a few bits form a lattice there:
 * consecutive IPv4 hosts hashed on l3 spread 1.21 max/min over 8 ports, random ones about
 * 1.09. Folding the low half into the high one and multiplying again breaks that (the same
 * hosts came out like random flows) for one multiply's latency, about 1 ns. In a product by
 * an odd constant bit i reaches only bits i and above, so the high half is kept, rotated so
 * that its top LK_BUCKET_BITS land where LK_BUCKET_OF() looks.
 */
#define LK_BUCKET_BITS 14u
_Static_assert((1u << LK_BUCKET_BITS) == LK_TXMAP_BUCKETS, "bucket bits match the table");
static inline uint32_t
lk_hash_fold(uint64_t h)
{
	uint32_t hi;

	h ^= h >> 32;
	hi = (uint32_t)((h * LK_HK_FOLD) >> 32);
	return (hi << LK_BUCKET_BITS) | (hi >> (32u - LK_BUCKET_BITS));
}

/* Source and destination MAC (12 bytes: two words) and the VLAN id when there is one. */
static inline uint64_t
lk_hash_l2(const uint8_t *d, uint64_t key, int vlan, uint32_t vid)
{
	uint64_t b = lk_hrd32(d + 8);

	if (vlan)
		b |= (uint64_t)(0x1000u | (vid & 0x0fffu)) << 32;
	return (lk_hrd64(d) ^ key) * LK_HK_L2A + (b ^ key) * LK_HK_L2B;
}

/*
 * Where the fields a flow hash may read are, found once (the benchmark's classic hash reads
 * the same fields through it). Offsets 0 mean "not there": l3 for a frame that is not IPv4 or
 * IPv6 or is cut short, l4 for a later fragment, a protocol without ports (anything but TCP,
 * UDP, SCTP) or ports past caplen. IPv6 extension headers are walked, LK_IP6_MAX_EXT at most.
 * The caller has checked caplen >= LK_ETHER_HDR_LEN.
 */
struct lk_hdrs {
	uint32_t l3, l4;
	uint32_t vid;
	uint8_t ipv;  /* 4, 6, or 0 with l3 */
	uint8_t vlan; /* in-band tag, or the NIC-stripped one */
	uint8_t proto;
};

static inline void
lk_hash_parse(const struct lk_frame *f, struct lk_hdrs *hd)
{
	const uint8_t *d = f->data;
	uint32_t cap = f->caplen, off = LK_ETHER_HDR_LEN, etype = lk_hrd16be(d + 12), l4 = 0;
	uint32_t proto = 0;
	int ports = 0;

	hd->l3 = hd->l4 = hd->vid = 0;
	hd->ipv = hd->vlan = hd->proto = 0;
	/* The common frame first, in one test of its first bytes: untagged IPv4 without options,
	 * not a later fragment, ports within caplen. The walk below finds the same offsets. */
	if (etype == LK_ETHERTYPE_IPV4 && !f->has_vlan && cap >= 38 && d[14] == 0x45 &&
	    (lk_hrd16be(d + 20) & 0x1fffu) == 0) {
		proto = d[23];
		hd->ipv = 4;
		hd->l3 = LK_ETHER_HDR_LEN;
		hd->proto = (uint8_t)proto;
		if (proto == LK_IPPROTO_TCP || proto == LK_IPPROTO_UDP || proto == LK_IPPROTO_SCTP)
			hd->l4 = 34;
		return;
	}
	if (etype == LK_ETHERTYPE_VLAN && cap >= LK_ETHER_HDR_LEN + 4) {
		hd->vlan = 1;
		hd->vid = lk_hrd16be(d + 14);
		etype = lk_hrd16be(d + 16);
		off += 4;
	} else if (f->has_vlan) {
		hd->vlan = 1;
		hd->vid = f->vlan_tag;
	}
	if (etype == LK_ETHERTYPE_IPV4 && cap >= off + 20 && (d[off] >> 4) == 4) {
		uint32_t ihl = (uint32_t)(d[off] & 0x0fu) * 4u;

		hd->ipv = 4;
		hd->l3 = off;
		/* fragment offset != 0: no transport header in this fragment */
		if (ihl >= 20 && (lk_hrd16be(d + off + 6) & 0x1fffu) == 0) {
			proto = d[off + 9];
			l4 = off + ihl;
			ports = 1;
		}
	} else if (etype == LK_ETHERTYPE_IPV6 && cap >= off + 40 && (d[off] >> 4) == 6) {
		uint32_t nh = d[off + 6], p = off + 40;

		hd->ipv = 6;
		hd->l3 = off;
		ports = 1;
		for (int n = 0; n < LK_IP6_MAX_EXT; n++) {
			if (nh == LK_IP6_HOPOPTS || nh == LK_IP6_ROUTING || nh == LK_IP6_DSTOPTS) {
				if (cap < p + 8) {
					ports = 0;
					break;
				}
				nh = d[p];
				p += ((uint32_t)d[p + 1] + 1u) * 8u;
			} else if (nh == LK_IP6_FRAGMENT) {
				if (cap < p + 8 || (lk_hrd16be(d + p + 2) & 0xfff8u) != 0) {
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
	hd->proto = (uint8_t)proto;
	if (ports && (proto == LK_IPPROTO_TCP || proto == LK_IPPROTO_UDP || proto == LK_IPPROTO_SCTP) &&
	    l4 + 4 <= cap)
		hd->l4 = l4;
}

static inline uint32_t
lk_hash_frame_inline(const struct lk_frame *f, uint32_t layers, uint32_t seed)
{
	const uint8_t *d = f->data;
	uint64_t key = lk_hash_key(seed), h = 0;
	struct lk_hdrs hd;
	int used = 0;

	if (d == NULL || f->caplen < LK_ETHER_HDR_LEN)
		return lk_hash_fold((key ^ f->len) * LK_HK_L2A);
	lk_hash_parse(f, &hd);
	if (layers & LK_HASH_L2) {
		h += lk_hash_l2(d, key, hd.vlan, hd.vid);
		used = 1;
	}
	if ((layers & LK_HASH_L3) && hd.ipv == 4) {
		h += (lk_hrd64(d + hd.l3 + 12) ^ key) * LK_HK_L3A; /* source, destination */
		used = 1;
	} else if ((layers & LK_HASH_L3) && hd.ipv == 6) {
		h += (lk_hrd64(d + hd.l3 + 8) ^ key) * LK_HK_L3A +
		    (lk_hrd64(d + hd.l3 + 16) ^ key) * LK_HK_L3B +
		    (lk_hrd64(d + hd.l3 + 24) ^ key) * LK_HK_L3C +
		    (lk_hrd64(d + hd.l3 + 32) ^ key) * LK_HK_L3D;
		used = 1;
	}
	if ((layers & LK_HASH_L4) && hd.l4 != 0) {
		/* both ports in one word, the protocol above them */
		h += (((uint64_t)hd.proto << 32 | lk_hrd32(d + hd.l4)) ^ key) * LK_HK_L4;
		used = 1;
	}
	if (!used)
		h = lk_hash_l2(d, key, hd.vlan, hd.vid);
	return lk_hash_fold(h);
}

/*
 * The flow hash of a frame: the NIC flow id when allowed and present, else the header hash;
 * the frame path takes LK_BUCKET_OF() of it. A flow id is already a hash of the headers (RSS),
 * so it is used as it is, only XORed with the seed: the bucket table itself is seeded (see
 * lk_txmap.c), so two aggregates still place the same flow ids differently.
 */
static inline int
lk_flowid_usable(const struct lk_txmap *m, const struct lk_frame *f)
{
	return m->use_flowid && f->has_flowid;
}

static inline uint32_t
lk_flowid_hash(const struct lk_txmap *m, const struct lk_frame *f)
{
	return (f->flowid >> m->flowid_shift) ^ m->seed;
}

static inline uint32_t
lk_flow_hash_inline(const struct lk_txmap *m, const struct lk_frame *f)
{
	if (lk_flowid_usable(m, f))
		return lk_flowid_hash(m, f);
	return lk_hash_frame_inline(f, m->hash_layers, m->seed);
}

#define LK_BUCKET_OF(h) ((h) & (LK_TXMAP_BUCKETS - 1u))

#endif /* LK_HASH_H */
