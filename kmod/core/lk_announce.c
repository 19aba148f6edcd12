/*
 * Announcements after a failover: gratuitous ARP (request form, sender = target = the address,
 * from the aggregate MAC, to broadcast) for every registered IPv4 address and an unsolicited
 * IPv6 neighbour advertisement (RFC 4861 7.2.6: override flag, target link-layer address
 * option, to ff02::1, hop limit 255) for every IPv6 address. Sent LK_OPT_ANNOUNCE_COUNT times,
 * LK_OPT_ANNOUNCE_INTERVAL_MS apart, from lk_tick(), on the newly active port only, so the
 * switch moves the aggregate MAC to that port without waiting for traffic.
 */
#include "lk_internal.h"

#define NS_PER_MS        1000000ull
#define GARP_LEN         60u /* 42 bytes of ARP padded to the Ethernet minimum (no FCS) */
#define NA_LEN           86u /* 14 Ethernet + 40 IPv6 + 24 NA + 8 target link-layer option */
#define ICMP6_NA         136u
#define NA_FLAG_OVERRIDE 0x20u

static void
put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

int
lk_announce_addr_add(struct lk_softc *sc, int family, const uint8_t *addr)
{
	int free_slot = -1;
	size_t alen = family == 4 ? 4 : 16;

	if ((family != 4 && family != 6) || addr == NULL)
		return LK_EINVAL;
	for (int i = 0; i < LK_MAX_ANNOUNCE_ADDRS; i++) {
		struct lk_announce_addr *a = &sc->ann_addrs[i];
		if (a->family == family && lk_memcmp(a->addr, addr, alen) == 0)
			return LK_EEXIST;
		if (a->family == 0 && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0)
		return LK_ENOSPC;
	lk_memset(sc->ann_addrs[free_slot].addr, 0, sizeof(sc->ann_addrs[free_slot].addr));
	lk_memcpy(sc->ann_addrs[free_slot].addr, addr, alen);
	sc->ann_addrs[free_slot].family = (uint8_t)family;
	return LK_OK;
}

int
lk_announce_addr_del(struct lk_softc *sc, int family, const uint8_t *addr)
{
	size_t alen = family == 4 ? 4 : 16;

	if ((family != 4 && family != 6) || addr == NULL)
		return LK_EINVAL;
	for (int i = 0; i < LK_MAX_ANNOUNCE_ADDRS; i++) {
		struct lk_announce_addr *a = &sc->ann_addrs[i];
		if (a->family == family && lk_memcmp(a->addr, addr, alen) == 0) {
			lk_memset(a, 0, sizeof(*a));
			return LK_OK;
		}
	}
	return LK_ENOENT;
}

size_t
lk_announce_build_garp(const struct lk_softc *sc, const uint8_t ip4[4], uint8_t *buf, size_t buflen)
{
	if (buflen < GARP_LEN)
		return 0;
	lk_memset(buf, 0, GARP_LEN);
	lk_memset(buf, 0xff, LK_ETHER_ADDR_LEN); /* broadcast */
	lk_memcpy(buf + 6, sc->lladdr, LK_ETHER_ADDR_LEN);
	put16(buf + 12, LK_ETHERTYPE_ARP);
	put16(buf + 14, 1); /* hardware: Ethernet */
	put16(buf + 16, LK_ETHERTYPE_IPV4);
	buf[18] = LK_ETHER_ADDR_LEN;
	buf[19] = 4;
	put16(buf + 20, 1);                                 /* request */
	lk_memcpy(buf + 22, sc->lladdr, LK_ETHER_ADDR_LEN); /* sender MAC */
	lk_memcpy(buf + 28, ip4, 4);                        /* sender IP */
	/* target MAC stays zero, as in a request */
	lk_memcpy(buf + 38, ip4, 4); /* target IP = sender IP */
	return GARP_LEN;
}

/* RFC 1071 one's complement sum, folded; callers complement it. */
static uint32_t
csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += ((uint32_t)p[i] << 8) | p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static uint16_t
csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffffu) + (sum >> 16);
	return (uint16_t)~sum;
}

size_t
lk_announce_build_na(const struct lk_softc *sc, const uint8_t ip6[16], uint8_t *buf, size_t buflen)
{
	static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 0x01 };
	uint8_t *ip = buf + LK_ETHER_HDR_LEN, *icmp = ip + 40;
	uint32_t plen = NA_LEN - LK_ETHER_HDR_LEN - 40, sum;

	if (buflen < NA_LEN)
		return 0;
	lk_memset(buf, 0, NA_LEN);
	buf[0] = 0x33; /* 33:33:00:00:00:01 */
	buf[1] = 0x33;
	buf[5] = 0x01;
	lk_memcpy(buf + 6, sc->lladdr, LK_ETHER_ADDR_LEN);
	put16(buf + 12, LK_ETHERTYPE_IPV6);

	ip[0] = 0x60;
	put16(ip + 4, plen);
	ip[6] = 58;  /* ICMPv6 */
	ip[7] = 255; /* hop limit: RFC 4861 requires */
	lk_memcpy(ip + 8, ip6, 16);
	lk_memcpy(ip + 24, all_nodes, 16);

	icmp[0] = ICMP6_NA;
	icmp[4] = NA_FLAG_OVERRIDE;
	lk_memcpy(icmp + 8, ip6, 16); /* target */
	icmp[24] = 2;                 /* target link-layer address */
	icmp[25] = 1;                 /* length in 8-octet units */
	lk_memcpy(icmp + 26, sc->lladdr, LK_ETHER_ADDR_LEN);

	/* pseudo-header: source, destination, upper-layer length, next header */
	sum = csum_add(0, ip + 8, 32);
	sum += plen;
	sum += 58;
	sum = csum_add(sum, icmp, plen);
	put16(icmp + 2, csum_fold(sum));
	return NA_LEN;
}

void
lk_announce_start(struct lk_softc *sc, uint32_t port)
{
	uint64_t now;

	if (sc->opts[LK_OPT_ANNOUNCE_COUNT] == 0) {
		sc->ann_left = 0;
		sc->ann_port = -1;
		return;
	}
	now = lk_core_now(sc);
	sc->ann_port = (int32_t)port;
	sc->ann_left = sc->opts[LK_OPT_ANNOUNCE_COUNT];
	sc->ann_next_ns = now;
	lk_core_schedule(sc, now);
}

/* Send one round on the announcement port; returns how many frames went out. */
static int32_t
announce_round(struct lk_softc *sc, struct lk_port *p)
{
	uint8_t frame[NA_LEN];
	int32_t sent = 0;
	size_t len;

	for (int i = 0; i < LK_MAX_ANNOUNCE_ADDRS; i++) {
		const struct lk_announce_addr *a = &sc->ann_addrs[i];
		if (a->family == 4)
			len = lk_announce_build_garp(sc, a->addr, frame, sizeof(frame));
		else if (a->family == 6)
			len = lk_announce_build_na(sc, a->addr, frame, sizeof(frame));
		else
			continue;
		if (lk_core_ctl_tx(sc, p, frame, (uint32_t)len) == 0)
			sent++;
	}
	return sent;
}

uint64_t
lk_announce_tick(struct lk_softc *sc, uint64_t now_ns)
{
	struct lk_port *p;
	int32_t sent;

	if (sc->ann_left == 0 || sc->ann_port < 0)
		return UINT64_MAX;
	if (now_ns < sc->ann_next_ns)
		return sc->ann_next_ns;
	p = &sc->ports[sc->ann_port];
	if (!LK_PORT_VALID(sc, p->index) || !p->link_up) {
		sc->ann_left = 0;
		sc->ann_port = -1;
		return UINT64_MAX;
	}
	sent = announce_round(sc, p);
	if (sent > 0)
		lk_core_event(sc, LK_EV_ANNOUNCE, p, sent);
	sc->ann_left--;
	if (sc->ann_left == 0) {
		sc->ann_port = -1;
		return UINT64_MAX;
	}
	sc->ann_next_ns = now_ns + (uint64_t)sc->opts[LK_OPT_ANNOUNCE_INTERVAL_MS] * NS_PER_MS;
	return sc->ann_next_ns;
}
