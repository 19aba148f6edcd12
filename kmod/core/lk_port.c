/*
 * Member ports: add, remove, lookup, priorities, link state, and the aggregate's MAC and MTU.
 *
 * MAC rule: the aggregate takes the first port's MAC unless the user set one. Every member is
 * programmed with the aggregate MAC and MTU, and gets its own MAC and MTU back when it leaves.
 * When the port whose MAC the aggregate borrowed leaves, the aggregate moves to the MAC of the
 * oldest remaining member (to all-zero when none is left), so the departed port, which now
 * uses its own MAC again, never shares it with the aggregate (agr(4)'s duplicate-MAC bug).
 *
 * LACP System ID rule: the System ID's MAC (sc->lacp.sys_mac) is not the aggregate MAC. It is
 * taken from the aggregate MAC when the aggregate first has one and then stays: `ether` changes
 * what the members and the stack use, not what the partner sees, so nothing is selected again
 * and no traffic stops (IEEE 802.1AX makes the System ID a property of the system, and
 * FreeBSD's lagg(4) likewise fills it in only when a port joins). It moves only when the MAC
 * it holds goes back to a member that leaves (that NIC could then be another system's, e.g. a
 * member of another aggregate here): it then takes the aggregate's current MAC, which no other
 * interface uses. lk_set_lacp_sys_mac pins it instead. Status shows both as they are: `ether`
 * is the aggregate MAC, `lag id` and the ports' actor tuples the System ID.
 *
 * Calls that touch several ports are "try, then commit": on a host failure every port already
 * changed is put back and nothing is recorded.
 */
#include "lk_internal.h"

#define LK_PORT_PRIO_DEFAULT      0x8000u
#define LK_LACP_PORT_PRIO_DEFAULT 0x8000u
#define LK_MTU_MIN                68u
#define LK_MTU_MAX                65535u

static const uint8_t zero_mac[LK_ETHER_ADDR_LEN];

static void
port_changed(struct lk_softc *sc, struct lk_port *p)
{
	const struct lk_proto_ops *po = lk_proto_table[sc->proto];

	if (po->port_link != NULL)
		po->port_link(sc, p);
	(void)lk_txmap_rebuild(sc);
	if (sc->proto == LK_PROTO_LACP)
		lk_core_schedule(sc, lk_core_now(sc));
}

static uint32_t
seed_from_mac(const uint8_t mac[LK_ETHER_ADDR_LEN])
{
	uint32_t h = 0x6c616767u; /* any constant: the MAC makes it per-aggregate */

	for (int i = 0; i < LK_ETHER_ADDR_LEN; i++)
		h = lk_hash_mix(h ^ mac[i]);
	return h;
}

static int
mac_is_zero(const uint8_t mac[LK_ETHER_ADDR_LEN])
{
	return lk_memcmp(mac, zero_mac, LK_ETHER_ADDR_LEN) == 0;
}

/*
 * Record a new aggregate MAC (members already programmed) and tell the host. The first MAC
 * the aggregate has also becomes the LACP System ID's (see the rule above); later ones do not.
 * The flow hash's seed is drawn from the same first MAC and kept for the same reason: a seed
 * that followed `ether` or a member leaving would move flows between ports that both stay up
 * (a reorder for nothing). It is drawn again only when the aggregate had no MAC, no port.
 */
static void
lagg_mac_commit(struct lk_softc *sc, const uint8_t mac[LK_ETHER_ADDR_LEN])
{
	int first = mac_is_zero(sc->lladdr);

	lk_memcpy(sc->lladdr, mac, LK_ETHER_ADDR_LEN);
	if (!sc->lacp.sys_mac_admin && mac_is_zero(sc->lacp.sys_mac))
		lk_memcpy(sc->lacp.sys_mac, mac, LK_ETHER_ADDR_LEN);
	if (first && (sc->opt_set & (1u << LK_OPT_HASH_SEED)) == 0)
		sc->opts[LK_OPT_HASH_SEED] = seed_from_mac(mac);
	if (sc->ops->lagg_lladdr_changed != NULL)
		sc->ops->lagg_lladdr_changed(sc->host, sc->lladdr);
}

/*
 * After the LACP System ID changed every member's actor information must be refreshed (and
 * sent), or the partner keeps aggregating with a system that is gone. The partner sees a new
 * LAG ID and selects the ports again: traffic stops for that, so only a member leaving or the
 * administrator gets here, never an `ether` change.
 */
static void
lacp_identity_changed(struct lk_softc *sc)
{
	struct lk_port *p;

	if (sc->proto != LK_PROTO_LACP)
		return;
	LK_FOREACH_PORT(sc, p)
		lk_lacp_port_link(sc, p);
	(void)lk_txmap_rebuild(sc);
	lk_core_schedule(sc, lk_core_now(sc));
}

/*
 * Program every member except `skip` with mac; on failure put the ones done back to `undo`
 * and return the host's error.
 */
static int
program_all_macs(struct lk_softc *sc, const uint8_t mac[LK_ETHER_ADDR_LEN],
    const uint8_t undo[LK_ETHER_ADDR_LEN], int32_t skip)
{
	uint32_t done = 0;
	struct lk_port *p, *q;
	int err;

	LK_FOREACH_PORT(sc, p) {
		if ((int32_t)p->index == skip)
			continue;
		err = sc->ops->port_set_lladdr(sc->host, p->index, mac);
		if (err != 0) {
			LK_FOREACH_PORT(sc, q) {
				if (done & LK_PORT_BIT(q->index))
					(void)sc->ops->port_set_lladdr(sc->host, q->index, undo);
			}
			return err < 0 ? err : LK_EINVAL;
		}
		done |= LK_PORT_BIT(p->index);
	}
	return LK_OK;
}

int
lk_port_lookup(const struct lk_softc *sc, const char *name, uint32_t *port_out)
{
	if (name == NULL || port_out == NULL)
		return LK_EINVAL;
	for (uint32_t i = 0; i < LK_MAX_PORTS; i++) {
		if ((sc->port_mask & LK_PORT_BIT(i)) && lk_strcmp(sc->ports[i].name, name) == 0) {
			*port_out = i;
			return LK_OK;
		}
	}
	return LK_ENOENT;
}

int
lk_port_add(struct lk_softc *sc, const struct lk_port_info *info, uint32_t *port_out)
{
	const struct lk_proto_ops *po = lk_proto_table[sc->proto];
	uint8_t mac[LK_ETHER_ADDR_LEN];
	uint32_t idx, mtu, dummy;
	struct lk_port *p;
	int new_mac, new_sys, err;

	if (info == NULL || info->name == NULL || info->name[0] == '\0' ||
	    lk_strlen(info->name) >= LK_IFNAMSIZ || port_out == NULL)
		return LK_EINVAL;
	if (lk_port_lookup(sc, info->name, &dummy) == LK_OK)
		return LK_EEXIST;
	if (sc->port_mask == 0xffffffffu)
		return LK_ENOSPC;
	idx = (uint32_t)__builtin_ctz(~sc->port_mask);

	/* the aggregate borrows the first member's MAC (and MTU) unless the user chose them */
	new_mac = sc->nports == 0 && !sc->lladdr_user;
	lk_memcpy(mac, new_mac ? info->lladdr : sc->lladdr, LK_ETHER_ADDR_LEN);
	mtu = (sc->nports == 0 && !sc->mtu_user) || sc->mtu == 0 ? info->mtu : sc->mtu;

	/* try */
	if (lk_memcmp(mac, info->lladdr, LK_ETHER_ADDR_LEN) != 0) {
		err = sc->ops->port_set_lladdr(sc->host, idx, mac);
		if (err != 0)
			return err < 0 ? err : LK_EINVAL;
	}
	if (mtu != info->mtu) {
		err = sc->ops->port_set_mtu(sc->host, idx, mtu);
		if (err != 0) {
			if (lk_memcmp(mac, info->lladdr, LK_ETHER_ADDR_LEN) != 0)
				(void)sc->ops->port_set_lladdr(sc->host, idx, info->lladdr);
			return err < 0 ? err : LK_EINVAL;
		}
	}

	/* commit */
	p = &sc->ports[idx];
	LK_ZERO(p);
	/* counters count from here: the CPU slots are the frame path's to write, never reset */
	lk_port_counters_sum(sc, idx, &p->base);
	p->index = idx;
	lk_strlcpy(p->name, info->name, sizeof(p->name));
	lk_memcpy(p->lladdr, info->lladdr, LK_ETHER_ADDR_LEN);
	p->mtu = info->mtu;
	p->prio = info->prio != 0 ? info->prio : LK_PORT_PRIO_DEFAULT;
	p->lacp_prio = LK_LACP_PORT_PRIO_DEFAULT;
	p->added_seq = sc->next_added_seq++;
	p->duplex = LK_DUPLEX_UNKNOWN;
	sc->port_mask |= LK_PORT_BIT(idx);
	sc->nports++;
	sc->mtu = mtu;
	new_sys = mac_is_zero(sc->lacp.sys_mac);
	if (new_mac)
		lagg_mac_commit(sc, mac);

	if (po->port_add != NULL) {
		err = po->port_add(sc, p);
		if (err != LK_OK) {
			/* unwind: the protocol refused; the port was never visible to the frame path */
			sc->port_mask &= ~LK_PORT_BIT(idx);
			sc->nports--;
			if (lk_memcmp(mac, info->lladdr, LK_ETHER_ADDR_LEN) != 0)
				(void)sc->ops->port_set_lladdr(sc->host, idx, info->lladdr);
			if (mtu != info->mtu)
				(void)sc->ops->port_set_mtu(sc->host, idx, info->mtu);
			if (new_mac)
				lagg_mac_commit(sc, zero_mac);
			if (new_sys)
				lk_memset(sc->lacp.sys_mac, 0, LK_ETHER_ADDR_LEN);
			return err;
		}
	}
	lk_core_event(sc, LK_EV_PORT_ADDED, p, 0);
	(void)lk_txmap_rebuild(sc);
	if (sc->proto == LK_PROTO_LACP)
		lk_core_schedule(sc, lk_core_now(sc));
	*port_out = idx;
	return LK_OK;
}

/* The member whose MAC the aggregate should borrow next: the oldest one. */
static struct lk_port *
oldest_port(struct lk_softc *sc)
{
	struct lk_port *p, *best = NULL;

	LK_FOREACH_PORT(sc, p) {
		if (best == NULL || p->added_seq < best->added_seq)
			best = p;
	}
	return best;
}

int
lk_port_remove(struct lk_softc *sc, uint32_t port)
{
	const struct lk_proto_ops *po = lk_proto_table[sc->proto];
	struct lk_port *p, *heir;

	if (!LK_PORT_VALID(sc, port))
		return LK_ENOENT;
	p = &sc->ports[port];
	if (po->port_remove != NULL)
		po->port_remove(sc, p);
	sc->port_mask &= ~LK_PORT_BIT(port);
	sc->nports--;
	if (sc->ann_port == (int32_t)port) {
		sc->ann_port = -1;
		sc->ann_left = 0;
	}
	/* e.g. failover re-elects without this port (and announces) before the table is rebuilt */
	if (po->port_removed != NULL)
		po->port_removed(sc);
	(void)lk_txmap_rebuild(sc);

	/* give the port back its own identity; failures here cannot be undone, only reported */
	if (lk_memcmp(sc->lladdr, p->lladdr, LK_ETHER_ADDR_LEN) != 0 || sc->lladdr_user)
		(void)sc->ops->port_set_lladdr(sc->host, port, p->lladdr);
	if (sc->mtu != p->mtu)
		(void)sc->ops->port_set_mtu(sc->host, port, p->mtu);

	if (!sc->lladdr_user && lk_memcmp(sc->lladdr, p->lladdr, LK_ETHER_ADDR_LEN) == 0) {
		heir = oldest_port(sc);
		if (heir != NULL) {
			(void)program_all_macs(sc, heir->lladdr, sc->lladdr, -1);
			lagg_mac_commit(sc, heir->lladdr);
		} else
			lagg_mac_commit(sc, zero_mac);
	}
	/* the System ID's MAC is this NIC's own again: move it to one nobody else uses */
	if (!sc->lacp.sys_mac_admin && lk_memcmp(sc->lacp.sys_mac, p->lladdr, LK_ETHER_ADDR_LEN) == 0 &&
	    lk_memcmp(sc->lacp.sys_mac, sc->lladdr, LK_ETHER_ADDR_LEN) != 0) {
		lk_memcpy(sc->lacp.sys_mac, sc->lladdr, LK_ETHER_ADDR_LEN);
		lacp_identity_changed(sc);
	}
	lk_core_event(sc, LK_EV_PORT_REMOVED, p, 0);
	if (sc->proto == LK_PROTO_LACP)
		lk_core_schedule(sc, lk_core_now(sc));
	return LK_OK;
}

int
lk_port_set_prio(struct lk_softc *sc, uint32_t port, uint16_t prio)
{
	if (!LK_PORT_VALID(sc, port))
		return LK_ENOENT;
	sc->ports[port].prio = prio != 0 ? prio : LK_PORT_PRIO_DEFAULT;
	port_changed(sc, &sc->ports[port]);
	return LK_OK;
}

int
lk_port_set_lacp_prio(struct lk_softc *sc, uint32_t port, uint16_t prio)
{
	if (!LK_PORT_VALID(sc, port))
		return LK_ENOENT;
	sc->ports[port].lacp_prio = prio;
	port_changed(sc, &sc->ports[port]);
	return LK_OK;
}

int
lk_port_link(struct lk_softc *sc, uint32_t port, int up, uint64_t speed_bps, enum lk_duplex duplex)
{
	struct lk_port *p;
	int was;

	if (!LK_PORT_VALID(sc, port))
		return LK_ENOENT;
	if ((unsigned)duplex > LK_DUPLEX_FULL)
		return LK_EINVAL;
	p = &sc->ports[port];
	was = p->link_up;
	up = up != 0;
	if (was == up && p->speed_bps == speed_bps && p->duplex == duplex)
		return LK_OK;
	p->link_up = up;
	p->speed_bps = speed_bps;
	p->duplex = duplex;
	if (was != up)
		lk_core_event(sc, up ? LK_EV_LINK_UP : LK_EV_LINK_DOWN, p, 0);
	port_changed(sc, p);
	return LK_OK;
}

int
lk_set_lladdr(struct lk_softc *sc, const uint8_t mac[LK_ETHER_ADDR_LEN])
{
	int err;

	if (mac == NULL || (mac[0] & 1u) != 0 || lk_memcmp(mac, zero_mac, LK_ETHER_ADDR_LEN) == 0)
		return LK_EINVAL;
	err = program_all_macs(sc, mac, sc->lladdr, -1);
	if (err != LK_OK)
		return err;
	sc->lladdr_user = 1;
	/* the LACP System ID stays (see the rule above): the partner sees no change */
	lagg_mac_commit(sc, mac);
	(void)lk_txmap_rebuild(sc);
	return LK_OK;
}

int
lk_set_lacp_sys_mac(struct lk_softc *sc, const uint8_t mac[LK_ETHER_ADDR_LEN])
{
	uint8_t want[LK_ETHER_ADDR_LEN];
	int admin = mac != NULL && !mac_is_zero(mac);

	if (admin && (mac[0] & 1u) != 0)
		return LK_EINVAL;
	/* back to automatic: the aggregate's MAC now, as if it had just been given one */
	lk_memcpy(want, admin ? mac : sc->lladdr, LK_ETHER_ADDR_LEN);
	sc->lacp.sys_mac_admin = (uint8_t)admin;
	if (lk_memcmp(want, sc->lacp.sys_mac, LK_ETHER_ADDR_LEN) == 0)
		return LK_OK;
	lk_memcpy(sc->lacp.sys_mac, want, LK_ETHER_ADDR_LEN);
	lacp_identity_changed(sc);
	return LK_OK;
}

int
lk_set_mtu(struct lk_softc *sc, uint32_t mtu)
{
	uint32_t done = 0;
	struct lk_port *p, *q;
	int err;

	if (mtu < LK_MTU_MIN || mtu > LK_MTU_MAX)
		return LK_EINVAL;
	LK_FOREACH_PORT(sc, p) {
		err = sc->ops->port_set_mtu(sc->host, p->index, mtu);
		if (err != 0) {
			LK_FOREACH_PORT(sc, q) {
				if (done & LK_PORT_BIT(q->index))
					(void)sc->ops->port_set_mtu(sc->host, q->index, sc->mtu);
			}
			return err < 0 ? err : LK_EINVAL;
		}
		done |= LK_PORT_BIT(p->index);
	}
	sc->mtu = mtu;
	sc->mtu_user = 1;
	return LK_OK;
}
