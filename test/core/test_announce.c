/*
 * Announcements after a failover: gratuitous ARP and unsolicited IPv6 neighbour advertisement,
 * decoded byte by byte (the checksum is recomputed here independently), sent the configured
 * number of times at the configured interval, on the new active port only.
 */
#include "harness.h"

#include <string.h>

#define GBPS 1000000000ull
static const uint8_t mac_a[6] = { 0x02, 0, 0, 0, 0xa0, 0x10 };
static const uint8_t ip4[4] = { 192, 0, 2, 10 };
static const uint8_t ip4b[4] = { 198, 51, 100, 7 };
static const uint8_t ip6[16] = { 0x20, 0x01, 0x0d, 0xb8, [14] = 0x12, [15] = 0x34 };

static uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static void
check_garp(const struct th_frame *f, const uint8_t mac[6], const uint8_t ip[4])
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t zero[6];
	const uint8_t *d = f->data;

	TH_EQ(f->len, 60);
	TH_CHECK(memcmp(d, bcast, 6) == 0);
	TH_CHECK(memcmp(d + 6, mac, 6) == 0);
	TH_EQ(be16(d + 12), 0x0806);
	TH_EQ(be16(d + 14), 1);      /* Ethernet */
	TH_EQ(be16(d + 16), 0x0800); /* IPv4 */
	TH_EQ(d[18], 6);
	TH_EQ(d[19], 4);
	TH_EQ(be16(d + 20), 1); /* request */
	TH_CHECK(memcmp(d + 22, mac, 6) == 0);
	TH_CHECK(memcmp(d + 28, ip, 4) == 0);
	TH_CHECK(memcmp(d + 32, zero, 6) == 0);
	TH_CHECK(memcmp(d + 38, ip, 4) == 0);
	for (uint32_t i = 42; i < 60; i++)
		TH_EQ(d[i], 0);
}

/* RFC 4443 checksum over the pseudo-header and the message: a valid message sums to 0xffff. */
static uint32_t
icmp6_sum(const uint8_t *ip)
{
	uint32_t sum = 0, plen = be16(ip + 4);

	for (int i = 8; i < 40; i += 2)
		sum += be16(ip + i);
	sum += plen;
	sum += ip[6];
	for (uint32_t i = 0; i < plen; i += 2)
		sum += (uint32_t)(ip[40 + i] << 8) | (i + 1 < plen ? ip[41 + i] : 0);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

static void
check_na(const struct th_frame *f, const uint8_t mac[6], const uint8_t addr[16])
{
	static const uint8_t dmac[6] = { 0x33, 0x33, 0, 0, 0, 1 };
	static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 1 };
	const uint8_t *d = f->data, *ip = d + 14, *icmp = ip + 40;

	TH_EQ(f->len, 86);
	TH_CHECK(memcmp(d, dmac, 6) == 0);
	TH_CHECK(memcmp(d + 6, mac, 6) == 0);
	TH_EQ(be16(d + 12), 0x86dd);
	TH_EQ(ip[0] >> 4, 6);
	TH_EQ(be16(ip + 4), 32);
	TH_EQ(ip[6], 58);
	TH_EQ(ip[7], 255);
	TH_CHECK(memcmp(ip + 8, addr, 16) == 0);
	TH_CHECK(memcmp(ip + 24, all_nodes, 16) == 0);
	TH_EQ(icmp[0], 136);
	TH_EQ(icmp[1], 0);
	TH_EQ(icmp[4], 0x20); /* override; not router, not solicited */
	TH_EQ(icmp[5] | icmp[6] | icmp[7], 0);
	TH_CHECK(memcmp(icmp + 8, addr, 16) == 0);
	TH_EQ(icmp[24], 2); /* target link-layer address option */
	TH_EQ(icmp[25], 1);
	TH_CHECK(memcmp(icmp + 26, mac, 6) == 0);
	TH_EQ(icmp6_sum(ip), 0xffff);
	TH_CHECK(be16(icmp + 2) != 0);
}

struct ann_row {
	const char *name;
	uint32_t count, interval_ms;
};

static const struct ann_row ann_rows[] = {
	{ "once (default)", 1, 1000 },
	{ "three times, 500 ms apart", 3, 500 },
	{ "five times, 20 ms apart", 5, 20 },
	{ "off", 0, 1000 },
};

static void
test_failover_announces(const void *arg)
{
	const struct ann_row *r = arg;
	struct th_host *a = th_host_new("lagg0", mac_a);
	uint64_t t0;

	th_note(r->name);
	th_port_add(a, "em0", GBPS, 1);
	th_port_add(a, "em1", GBPS, 1);
	TH_EQ(lk_set_opt(a->sc, LK_OPT_ANNOUNCE_COUNT, r->count), 0);
	TH_EQ(lk_set_opt(a->sc, LK_OPT_ANNOUNCE_INTERVAL_MS, r->interval_ms), 0);
	TH_EQ(lk_announce_addr_add(a->sc, 4, ip4), 0);
	TH_EQ(lk_announce_addr_add(a->sc, 6, ip6), 0);
	TH_EQ(lk_announce_addr_add(a->sc, 4, ip4b), 0);
	TH_EQ(lk_announce_addr_add(a->sc, 4, ip4), LK_EEXIST);
	th_advance(10000);
	th_tx_clear(a);
	/* the aggregate took em0's MAC (host MAC + 1): announcements carry it */
	TH_EQ(a->lagg_mac[5], mac_a[5] + 1);

	t0 = th_now_ns();
	th_link(a, 0, 0); /* failover em0 -> em1 */
	th_advance((uint64_t)r->interval_ms * (r->count + 2));
	TH_EQ(th_tx_count(a, 0), 0); /* nothing on the failed port */
	TH_EQ(th_tx_count_type(a, 1, 0x0806), 2 * r->count);
	TH_EQ(th_tx_count_type(a, 1, 0x86dd), r->count);
	TH_EQ(th_tx_count(a, 1), 3 * r->count);
	for (uint32_t round = 0; round < r->count; round++) {
		const struct th_frame *g = th_tx_get(a, 1, round * 3);
		const struct th_frame *n = th_tx_get(a, 1, round * 3 + 1);
		const struct th_frame *g2 = th_tx_get(a, 1, round * 3 + 2);
		TH_CHECK(g != NULL && n != NULL && g2 != NULL);
		if (g == NULL || n == NULL || g2 == NULL)
			break;
		TH_EQ(g->t_ns, t0 + (uint64_t)round * r->interval_ms * TH_NS_PER_MS);
		TH_EQ(n->t_ns, g->t_ns);
		check_garp(g, a->lagg_mac, ip4);
		check_na(n, a->lagg_mac, ip6);
		check_garp(g2, a->lagg_mac, ip4b);
	}
}

/* A second failover during announcements restarts them on the newest port. */
static void
test_restart_on_new_port(void)
{
	struct th_host *a = th_host_new("lagg0", mac_a);

	th_port_add(a, "em0", GBPS, 1);
	th_port_add(a, "em1", GBPS, 1);
	th_port_add(a, "em2", GBPS, 1);
	lk_set_opt(a->sc, LK_OPT_ANNOUNCE_COUNT, 3);
	lk_set_opt(a->sc, LK_OPT_ANNOUNCE_INTERVAL_MS, 100);
	lk_announce_addr_add(a->sc, 4, ip4);
	th_advance(1000);
	th_tx_clear(a);
	th_link(a, 0, 0);
	th_advance(150); /* two rounds on em1 */
	TH_EQ(th_tx_count(a, 1), 2);
	th_link(a, 1, 0);
	th_advance(1000);
	TH_EQ(th_tx_count(a, 1), 2);
	TH_EQ(th_tx_count(a, 2), 3);
}

/* Removing an address stops announcing it; bad arguments are refused. */
static void
test_addr_table(void)
{
	struct th_host *a = th_host_new("lagg0", mac_a);
	uint8_t addr[16] = { 10, 0, 0, 0 };

	TH_EQ(lk_announce_addr_add(a->sc, 5, ip4), LK_EINVAL);
	TH_EQ(lk_announce_addr_add(a->sc, 4, NULL), LK_EINVAL);
	TH_EQ(lk_announce_addr_del(a->sc, 4, ip4), LK_ENOENT);
	for (int i = 0; i < LK_MAX_ANNOUNCE_ADDRS; i++) {
		addr[3] = (uint8_t)i;
		TH_EQ(lk_announce_addr_add(a->sc, 4, addr), 0);
	}
	TH_EQ(lk_announce_addr_add(a->sc, 6, ip6), LK_ENOSPC);
	addr[3] = 3;
	TH_EQ(lk_announce_addr_del(a->sc, 4, addr), 0);
	TH_EQ(lk_announce_addr_add(a->sc, 6, ip6), 0);

	th_port_add(a, "em0", GBPS, 1);
	th_port_add(a, "em1", GBPS, 1);
	th_advance(2000);
	th_tx_clear(a);
	th_link(a, 0, 0);
	th_advance(10);
	TH_EQ(th_tx_count_type(a, 1, 0x0806), LK_MAX_ANNOUNCE_ADDRS - 1);
	TH_EQ(th_tx_count_type(a, 1, 0x86dd), 1);
}

int
main(void)
{
	for (size_t i = 0; i < sizeof(ann_rows) / sizeof(ann_rows[0]); i++)
		th_run_case("failover announces", test_failover_announces, &ann_rows[i]);
	th_run("restart on new port", test_restart_on_new_port);
	th_run("address table", test_addr_table);
	return th_summary();
}
