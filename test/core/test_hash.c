/*
 * The flow hash: which header fields each layer setting covers (IPv4 and IPv6, with and
 * without an 802.1Q tag, TCP/UDP/SCTP), fragments, the seed, the NIC flow id and shift, the
 * non-IP fallback, and that no truncated frame is read past its captured length.
 */
#include "harness.h"
#include "lk_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum field { F_SRC_MAC, F_DST_MAC, F_VLAN, F_SRC_IP, F_DST_IP, F_SPORT, F_DPORT, F_NFIELDS };
static const char *const field_names[F_NFIELDS] = { "src mac", "dst mac", "vlan", "src ip", "dst ip", "sport",
	"dport" };

static void
base_flow(struct th_flow *fl, int family, uint8_t proto, int vlan)
{
	memset(fl, 0, sizeof(*fl));
	memcpy(fl->src_mac, (uint8_t[]){ 2, 0, 0, 0, 0, 1 }, 6);
	memcpy(fl->dst_mac, (uint8_t[]){ 2, 0, 0, 0, 0, 2 }, 6);
	fl->vlan = vlan;
	fl->family = family;
	for (int i = 0; i < 16; i++) {
		fl->src_ip[i] = (uint8_t)(10 + i);
		fl->dst_ip[i] = (uint8_t)(100 + i);
	}
	fl->proto = proto;
	fl->sport = 40000;
	fl->dport = 443;
}

static void
change(struct th_flow *fl, enum field f)
{
	switch (f) {
	case F_SRC_MAC:
		fl->src_mac[5] ^= 0x40;
		break;
	case F_DST_MAC:
		fl->dst_mac[3] ^= 0x01;
		break;
	case F_VLAN:
		fl->vlan = fl->vlan + 1;
		break;
	case F_SRC_IP:
		fl->src_ip[3] ^= 0x08;
		fl->src_ip[15] ^= 0x08;
		break;
	case F_DST_IP:
		fl->dst_ip[0] ^= 0x80;
		fl->dst_ip[13] ^= 0x80;
		break;
	case F_SPORT:
		fl->sport++;
		break;
	case F_DPORT:
		fl->dport ^= 0x100;
		break;
	default:
		break;
	}
}

static uint32_t
hash_of(const struct th_flow *fl, uint32_t layers, uint32_t seed)
{
	uint8_t buf[128];
	struct lk_frame f = { 0 };

	f.data = buf;
	f.caplen = f.len = th_build(fl, buf, sizeof(buf));
	return lk_hash_frame(&f, layers, seed);
}

/* Row: layers, and which fields must change the hash (bit per enum field). */
struct layer_row {
	const char *name;
	uint32_t layers;
	uint32_t covers;
};

#define B(f) (1u << (f))
static const struct layer_row layer_rows[] = {
	{ "l2", LK_HASH_L2, B(F_SRC_MAC) | B(F_DST_MAC) | B(F_VLAN) },
	{ "l3", LK_HASH_L3, B(F_SRC_IP) | B(F_DST_IP) },
	{ "l4", LK_HASH_L4, B(F_SPORT) | B(F_DPORT) },
	{ "l3,l4", LK_HASH_L3 | LK_HASH_L4, B(F_SRC_IP) | B(F_DST_IP) | B(F_SPORT) | B(F_DPORT) },
	{ "l2,l3,l4", LK_HASH_L2 | LK_HASH_L3 | LK_HASH_L4, 0x7f },
};

static void
test_layers(const void *arg)
{
	const struct layer_row *r = arg;
	static const uint8_t protos[3] = { 6, 17, 132 };
	char note[96];

	for (int family = 4; family <= 6; family += 2)
		for (int vlan = 0; vlan <= 1; vlan++)
			for (int pi = 0; pi < 3; pi++)
				for (int f = 0; f < F_NFIELDS; f++) {
					struct th_flow a, b;
					int want;
					base_flow(&a, family, protos[pi], vlan ? 100 : 0);
					b = a;
					change(&b, (enum field)f);
					want = (r->covers & B(f)) != 0;
					/* an untagged frame has no VLAN to change */
					if (f == F_VLAN && !vlan)
						continue;
					snprintf(note, sizeof(note), "%s IPv%d %s proto %d: %s", r->name,
					    family, vlan ? "tagged" : "untagged", protos[pi], field_names[f]);
					th_note(note);
					TH_EQ(hash_of(&a, r->layers, 7) != hash_of(&b, r->layers, 7), want);
				}
}

/* The NIC-stripped VLAN tag counts like an in-band one for l2. */
static void
test_stripped_vlan(void)
{
	struct th_flow fl;
	uint8_t buf[128];
	struct lk_frame f = { 0 };
	uint32_t h1, h2;

	base_flow(&fl, 4, 17, 0);
	f.data = buf;
	f.caplen = f.len = th_build(&fl, buf, sizeof(buf));
	f.has_vlan = 1;
	f.vlan_tag = 10;
	h1 = lk_hash_frame(&f, LK_HASH_L2, 1);
	f.vlan_tag = 11;
	h2 = lk_hash_frame(&f, LK_HASH_L2, 1);
	TH_CHECK(h1 != h2);
	f.vlan_tag = 11 | 0x2000; /* priority bits are not part of the flow */
	TH_EQ(lk_hash_frame(&f, LK_HASH_L2, 1), h2);
}

/* Fragments after the first have no ports: they hash on addresses only. */
static void
test_fragments(void)
{
	struct th_flow a, b;

	base_flow(&a, 4, 17, 0);
	a.frag_off = 185;
	b = a;
	b.sport = 1;
	b.dport = 2;
	TH_EQ(hash_of(&a, LK_HASH_L3 | LK_HASH_L4, 3), hash_of(&b, LK_HASH_L3 | LK_HASH_L4, 3));
	a.frag_off = b.frag_off = 0; /* first fragment (or whole datagram): ports count */
	TH_CHECK(hash_of(&a, LK_HASH_L3 | LK_HASH_L4, 3) != hash_of(&b, LK_HASH_L3 | LK_HASH_L4, 3));
	/* behind a VLAN tag too */
	a.vlan = b.vlan = 5;
	a.frag_off = b.frag_off = 1;
	TH_EQ(hash_of(&a, LK_HASH_L4 | LK_HASH_L3, 3), hash_of(&b, LK_HASH_L4 | LK_HASH_L3, 3));
}

/*
 * IPv6 with an extension header before the transport header: a hop-by-hop options header
 * still lets ports count; a fragment header with a non-zero offset removes them.
 */
static uint32_t
hash_v6_ext(uint8_t ext, uint16_t frag_off, uint16_t sport)
{
	struct th_flow fl;
	uint8_t buf[128], out[136];
	struct lk_frame f = { 0 };
	uint32_t len;

	base_flow(&fl, 6, 17, 0);
	fl.sport = sport;
	len = th_build(&fl, buf, sizeof(buf));
	/* insert 8 bytes of extension header between the IPv6 header and UDP */
	memcpy(out, buf, 54);
	memcpy(out + 62, buf + 54, len - 54);
	memset(out + 54, 0, 8);
	out[20] = ext; /* IPv6 next header -> the extension */
	out[54] = 17;  /* extension's next header -> UDP */
	if (ext == 44) {
		out[56] = (uint8_t)(frag_off >> 5);
		out[57] = (uint8_t)(frag_off << 3);
	}
	f.data = out;
	f.caplen = f.len = len + 8;
	return lk_hash_frame(&f, LK_HASH_L3 | LK_HASH_L4, 9);
}

static void
test_ipv6_extension_headers(void)
{
	TH_CHECK(hash_v6_ext(0, 0, 1000) != hash_v6_ext(0, 0, 1001));   /* hop-by-hop */
	TH_CHECK(hash_v6_ext(60, 0, 1000) != hash_v6_ext(60, 0, 1001)); /* destination opts */
	TH_CHECK(hash_v6_ext(44, 0, 1000) != hash_v6_ext(44, 0, 1001)); /* first fragment */
	TH_EQ(hash_v6_ext(44, 100, 1000), hash_v6_ext(44, 100, 1001));  /* later fragment */
}

/* Other transport protocols (ICMP) hash without ports even when l4 is selected. */
static void
test_no_ports_for_icmp(void)
{
	struct th_flow a, b;

	base_flow(&a, 4, 1, 0);
	b = a;
	b.sport = 9;
	TH_EQ(hash_of(&a, LK_HASH_L3 | LK_HASH_L4, 3), hash_of(&b, LK_HASH_L3 | LK_HASH_L4, 3));
}

static void
test_seed(void)
{
	struct th_flow a;

	base_flow(&a, 6, 6, 0);
	TH_CHECK(hash_of(&a, LK_HASH_L2 | LK_HASH_L3 | LK_HASH_L4, 1) !=
	    hash_of(&a, LK_HASH_L2 | LK_HASH_L3 | LK_HASH_L4, 2));
	TH_EQ(hash_of(&a, LK_HASH_L3, 99), hash_of(&a, LK_HASH_L3, 99));
}

/* A non-IP frame under "l3,l4" falls back to the MACs instead of one constant. */
static void
test_non_ip_fallback(void)
{
	struct th_flow a, b;

	base_flow(&a, 0, 0, 0);
	b = a;
	b.src_mac[5] = 0x77;
	TH_CHECK(hash_of(&a, LK_HASH_L3 | LK_HASH_L4, 5) != hash_of(&b, LK_HASH_L3 | LK_HASH_L4, 5));
}

/* The NIC flow id replaces the header hash when allowed; the shift drops its low bits. */
static void
test_flowid(void)
{
	struct lk_txmap m;
	struct th_flow fl;
	uint8_t buf[128];
	struct lk_frame f = { 0 };
	uint32_t h1, h2;

	memset(&m, 0, sizeof(m));
	m.hash_layers = LK_HASH_L2 | LK_HASH_L3 | LK_HASH_L4;
	m.seed = 11;
	m.use_flowid = 1;
	m.flowid_shift = 4;
	base_flow(&fl, 4, 6, 0);
	f.data = buf;
	f.caplen = f.len = th_build(&fl, buf, sizeof(buf));
	f.has_flowid = 1;
	f.flowid = 0x1230;
	h1 = lk_flow_hash(&m, &f);
	f.flowid = 0x123f; /* differs below the shift only */
	TH_EQ(lk_flow_hash(&m, &f), h1);
	f.flowid = 0x1240;
	TH_CHECK(lk_flow_hash(&m, &f) != h1);
	buf[40] ^= 0xff; /* headers ignored while the flow id is used */
	TH_EQ(lk_flow_hash(&m, &f), lk_flow_hash(&m, &f));
	h2 = lk_flow_hash(&m, &f);
	buf[40] ^= 0xff;
	TH_EQ(lk_flow_hash(&m, &f), h2);
	m.use_flowid = 0; /* option off: headers again */
	TH_EQ(lk_flow_hash(&m, &f), lk_hash_frame(&f, m.hash_layers, m.seed));
	m.use_flowid = 1;
	f.has_flowid = 0; /* frame without a flow id: headers */
	TH_EQ(lk_flow_hash(&m, &f), lk_hash_frame(&f, m.hash_layers, m.seed));
}

/* Every truncation of tagged IPv4/IPv6 frames, in exact-size heap copies (ASan guards them). */
static void
test_truncated(void)
{
	for (int family = 4; family <= 6; family += 2)
		for (int vlan = 0; vlan <= 1; vlan++) {
			struct th_flow fl;
			uint8_t buf[128];
			uint32_t len;
			base_flow(&fl, family, 17, vlan ? 3 : 0);
			len = th_build(&fl, buf, sizeof(buf));
			for (uint32_t cap = 0; cap <= len; cap++) {
				uint8_t *copy = malloc(cap ? cap : 1);
				uint8_t junk[128];
				struct lk_frame f = { 0 };
				struct lk_frame g;
				memcpy(copy, buf, cap);
				f.data = copy;
				f.caplen = cap;
				f.len = len;
				/*
				 * Beyond the exact-size copy (ASan's part), the hash must depend on the
				 * captured bytes only: the same prefix followed by other bytes past caplen
				 * hashes the same.
				 */
				memcpy(junk, buf, cap);
				memset(junk + cap, 0xa5, sizeof(junk) - cap);
				g = f;
				g.data = junk;
				th_note(vlan ? "tagged" : "untagged");
				TH_EQ(lk_hash_frame(&f, 7, 1), lk_hash_frame(&g, 7, 1));
				free(copy);
			}
		}
}

int
main(void)
{
	for (size_t i = 0; i < sizeof(layer_rows) / sizeof(layer_rows[0]); i++)
		th_run_case("layers", test_layers, &layer_rows[i]);
	th_run("stripped vlan", test_stripped_vlan);
	th_run("fragments", test_fragments);
	th_run("icmp has no ports", test_no_ports_for_icmp);
	th_run("ipv6 extension headers", test_ipv6_extension_headers);
	th_run("seed", test_seed);
	th_run("non-IP fallback", test_non_ip_fallback);
	th_run("flow id", test_flowid);
	th_run("truncated frames", test_truncated);
	return th_summary();
}
