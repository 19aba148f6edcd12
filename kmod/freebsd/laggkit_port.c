/*
 * if_laggkit member ports: attach and detach, the receive takeover, and the events that
 * follow a member (departure, link, up/down, media).
 *
 * Receive takeover
 *   The base lagg(4) gets its members' frames through a global hook in ether_input
 *   (lagg_input_ethernet_p, keyed on ifp->if_lagg). Using it would make laggkit and lagg
 *   exclusive. Instead a member's own if_input is saved and replaced by laggkit_port_input()
 *   while it is a member, and put back when it leaves. The input function finds its port
 *   through an epoch-protected hash keyed by the ifnet, so no per-ifnet field is borrowed.
 *
 * Try, then commit
 *   laggkit_port_add() checks everything it can before the core sees the port, then lets the
 *   core add it, applies what the core asked for (MAC, MTU), and only then diverts input. If
 *   the member refuses the MTU the core is told to forget it and nothing remains changed.
 *
 * Events
 *   Departure is handled synchronously (the driver is about to go, or the NIC moves to another
 *   VNET, where it arrives as it was before it joined). Link, up/down and baudrate events
 *   only schedule sc_link_task, and vlan(4) trunk changes laggkit_check_task: they can arrive
 *   from inside our own calls into a driver, where taking our locks again would deadlock.
 *   The aggregate's IPv4/IPv6 addresses follow ifaddr_event_ext into the core, which
 *   announces them (gratuitous ARP, unsolicited NA) after a failover.
 *
 * Foreign if_input hooks
 *   Another subsystem (netmap's emulated adapter, ...) may save laggkit_port_input() as the
 *   member's input and install its own, then put ours back at any later time. A member that
 *   leaves in that state becomes a ghost (laggkit_var.h): frames handed to us later go to the
 *   NIC's original input, and the module refuses to unload while the other subsystem may
 *   still hold a pointer into it. vlan(4) overwrites a vlan's if_input with its new trunk's
 *   whenever it is given one; that is no foreign hook (laggkit_vlan_input_reset).
 */

#include "opt_inet.h"
#include "opt_inet6.h"

#include "laggkit_var.h"

#include <net/bpf.h>
#include <net/if_vlan_var.h>

#include <netinet/in.h>

#ifdef INET6
#include <netinet6/in6_var.h>
#include <netinet6/scope6_var.h>
#include <netinet6/in6_ifattach.h>
#endif

static CK_LIST_HEAD(laggkit_porthead, laggkit_port) laggkit_porthash[LAGGKIT_PORTHASH];

static eventhandler_tag laggkit_departure_tag;
static eventhandler_tag laggkit_link_tag;
static eventhandler_tag laggkit_ifevent_tag;
static eventhandler_tag laggkit_lladdr_tag;
static eventhandler_tag laggkit_vlan_config_tag;
static eventhandler_tag laggkit_vlan_unconfig_tag;
static eventhandler_tag laggkit_ifaddr_tag;
static struct task laggkit_check_task;

static void laggkit_port_input(struct ifnet *ifp, struct mbuf *m);
static void laggkit_port_free(epoch_context_t ctx);

static struct laggkit_porthead *
laggkit_bucket(const struct ifnet *ifp)
{
	return (&laggkit_porthash[ifp->if_index & (LAGGKIT_PORTHASH - 1)]);
}

/* The member or ghost record of ifp. Caller is in NET_EPOCH or holds laggkit_sx. */
static struct laggkit_port *
laggkit_record_lookup(const struct ifnet *ifp)
{
	struct laggkit_port *lp;

	CK_LIST_FOREACH(lp, laggkit_bucket(ifp), lp_hash) {
		if (lp->lp_ifp == ifp)
			return (lp);
	}
	return (NULL);
}

/* ifp as a member of any aggregate, or NULL (ghosts are not members). */
static struct laggkit_port *
laggkit_port_lookup(const struct ifnet *ifp)
{
	struct laggkit_port *lp = laggkit_record_lookup(ifp);

	return (lp != NULL && lp->lp_sc != NULL ? lp : NULL);
}

/*
 * A member taken by lagg(4) or bridge(4) after it joined: their guards look at if_lagg and
 * if_bridge, which laggkit cannot set (the stack calls through them), so they accept it.
 * Seen on its next received frame; see laggkit_members_check().
 */
static bool
laggkit_port_taken(const struct ifnet *pifp)
{
	return (pifp->if_lagg != NULL || pifp->if_bridge != NULL || pifp->if_type == IFT_IEEE8023ADLAG);
}

struct laggkit_port *
laggkit_port_of(struct laggkit_softc *sc, const struct ifnet *pifp)
{
	LAGGKIT_LOCK_ASSERT(sc);
	for (int i = 0; i < LK_MAX_PORTS; i++) {
		if (sc->sc_ports[i] != NULL && sc->sc_ports[i]->lp_ifp == pifp)
			return (sc->sc_ports[i]);
	}
	return (NULL);
}

/* ---- Media and link ----------------------------------------------------------------------- */

/*
 * Speed and duplex as the member's driver reports them. LACP aggregates only ports with a
 * known speed and full duplex, and some virtual NICs report neither unless told to (QEMU's
 * virtio-net needs speed= and duplex=full); say so once per port rather than leave an
 * aggregate silently refusing a member.
 */
static void
laggkit_port_media(
    struct laggkit_softc *sc, struct laggkit_port *lp, bool lacp, uint64_t *speed, enum lk_duplex *duplex)
{
	struct ifnet *pifp = lp->lp_ifp;
	struct ifmediareq ifmr;
	int active;

	LAGGKIT_XLOCK_ASSERT(sc);
	*speed = pifp->if_baudrate;
	*duplex = LK_DUPLEX_UNKNOWN;
	memset(&ifmr, 0, sizeof(ifmr));
	strlcpy(ifmr.ifm_name, pifp->if_xname, sizeof(ifmr.ifm_name));
	if (pifp->if_ioctl != NULL && pifp->if_ioctl(pifp, SIOCGIFMEDIA, (caddr_t)&ifmr) == 0 &&
	    (ifmr.ifm_status & IFM_AVALID) != 0) {
		active = ifmr.ifm_active;
		if (IFM_TYPE(active) == IFM_ETHER && IFM_SUBTYPE(active) != IFM_AUTO &&
		    IFM_SUBTYPE(active) != IFM_NONE && ifmedia_baudrate(active) != 0)
			*speed = ifmedia_baudrate(active);
		if ((active & IFM_FDX) != 0)
			*duplex = LK_DUPLEX_FULL;
		else if ((active & IFM_HDX) != 0)
			*duplex = LK_DUPLEX_HALF;
	}
	if (lacp && pifp->if_link_state == LINK_STATE_UP && (*speed == 0 || *duplex != LK_DUPLEX_FULL)) {
		if (!lp->lp_media_warned)
			if_printf(sc->sc_ifp,
			    "%s reports %s; LACP will not aggregate it "
			    "(QEMU virtio-net: add speed=10000,duplex=full to its -device)\n",
			    pifp->if_xname, *speed == 0 ? "no speed" : "no full duplex");
		lp->lp_media_warned = 1;
	} else {
		lp->lp_media_warned = 0;
	}
}

/*
 * Tell the core what the member's link, flags and media are now. Returns false while the
 * member is still in if_down() (see laggkit_ifnet_event): it counts as down, and the caller
 * looks again shortly to see the flag clear.
 *
 * A member of an aggregate that is not running counts as down too. Such an aggregate hears
 * nothing (laggkit_port_input_one drops what its members receive), so a LACPDU sent from it
 * draws an answer nobody hears, and the partner says nothing more for a periodic interval:
 * `ifconfig laggkit0 laggport vtnet1 laggport vtnet2 up` converged a second late, every time.
 * The ports come up with the aggregate (laggkit_sync_flags), and their first LACPDUs then go
 * out when the answers can be heard. lagg(4) likewise runs no LACP while it is stopped.
 */
static bool
laggkit_port_link(struct laggkit_softc *sc, struct laggkit_port *lp)
{
	struct ifnet *pifp = lp->lp_ifp;
	enum lk_duplex duplex;
	uint64_t speed;
	bool lacp, settled = true;
	int up;

	LAGGKIT_XLOCK_ASSERT(sc);
	up = pifp->if_link_state == LINK_STATE_UP && (pifp->if_flags & IFF_UP) != 0;
	if (atomic_load_int(&lp->lp_going_down) != 0) {
		if (up)
			settled = false;
		else
			(void)atomic_cmpset_int(&lp->lp_going_down, 1, 0);
		up = 0;
	}
	LAGGKIT_CORE_LOCK(sc);
	lacp = lk_get_proto(sc->sc_core) == LK_PROTO_LACP;
	speed = lp->lp_speed;
	duplex = lp->lp_duplex;
	LAGGKIT_CORE_UNLOCK(sc);
	/*
	 * A link that is down needs no speed, and asking for it can be slow: an iflib driver
	 * (em, igb, ix) answers SIOCGIFMEDIA by polling its PHY, which with no link took 30 ms a
	 * port on an emulated e1000, while the core still sent on the dead port.
	 */
	if (up)
		laggkit_port_media(sc, lp, lacp, &speed, &duplex);
	if (lp->lp_link_up && !up)
		sc->sc_flapping++;
	lp->lp_link_up = up;
	if ((sc->sc_ifp->if_drv_flags & IFF_DRV_RUNNING) == 0)
		up = 0;
	LAGGKIT_CORE_LOCK(sc);
	lp->lp_speed = speed;
	lp->lp_duplex = duplex;
	(void)lk_port_link(sc->sc_core, lp->lp_index, up, speed, duplex);
	LAGGKIT_CORE_UNLOCK(sc);
	return (settled);
}

/*
 * A member lost its carrier: tell the core now, from the link event itself, as lagg(4) does
 * from the same place. The task that re-reads the member (flags, media) runs later on
 * taskqueue_thread, behind whatever else is queued there: on an emulated e1000 that was 90 ms
 * after the event, all of it frames sent into the dead port. The core only needs sc_mtx; a
 * carrier that is back is left to the task, which reads the media the core needs with it.
 * From the frame path (try) sc_mtx is only tried: the link event does it if that fails.
 */
void
laggkit_port_carrier_lost(struct laggkit_softc *sc, struct laggkit_port *lp, bool try)
{
	NET_EPOCH_ASSERT();
	if (try) {
		if (!mtx_trylock(&sc->sc_mtx))
			return;
	} else {
		LAGGKIT_CORE_LOCK(sc);
	}
	if (!sc->sc_destroying && !lp->lp_departing && sc->sc_ports[lp->lp_index] == lp)
		(void)lk_port_link(sc->sc_core, lp->lp_index, 0, lp->lp_speed, lp->lp_duplex);
	LAGGKIT_CORE_UNLOCK(sc);
}

/* Re-read the members from taskqueue_thread, now (ticks 0) or a little later. */
void
laggkit_link_later(struct laggkit_softc *sc, int ticks)
{
	taskqueue_enqueue_timeout(taskqueue_thread, &sc->sc_link_task, ticks);
}

void
laggkit_link_task(void *arg, int pending __unused)
{
	struct laggkit_softc *sc = arg;

	/* taskqueue_thread has no VNET; a link change can fail over and announce */
	CURVNET_SET(sc->sc_ifp->if_vnet);
	bool settled = true;

	LAGGKIT_XLOCK(sc);
	if (!sc->sc_destroying) {
		/* a SIOCSIFFLAGS that could not wait for sc_sx left the flags to us */
		laggkit_sync_flags(sc);
		for (int i = 0; i < LK_MAX_PORTS; i++) {
			if (sc->sc_ports[i] != NULL && !sc->sc_ports[i]->lp_departing &&
			    !laggkit_port_link(sc, sc->sc_ports[i]))
				settled = false;
		}
		/* members' offloads may have changed along with their flags */
		laggkit_update_caps(sc);
		if (!settled)
			laggkit_link_later(sc, 1);
	}
	LAGGKIT_XUNLOCK(sc);
	CURVNET_RESTORE();
}

/* Make the driver act on a flag change made through if_up()/if_down(), as lagg(4) does. */
static void
laggkit_port_setup(struct ifnet *pifp, bool up)
{
	struct ifreq ifr;

	if (up == ((pifp->if_flags & IFF_UP) != 0))
		return;
	if (up)
		if_up(pifp);
	else
		if_down(pifp);
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = pifp->if_flags & 0xffff;
	ifr.ifr_flagshigh = pifp->if_flags >> 16;
	if (pifp->if_ioctl != NULL)
		(void)pifp->if_ioctl(pifp, SIOCSIFFLAGS, (caddr_t)&ifr);
}

void
laggkit_ports_updown(struct laggkit_softc *sc, bool up)
{
	LAGGKIT_XLOCK_ASSERT(sc);
	for (int i = 0; i < LK_MAX_PORTS; i++) {
		struct laggkit_port *lp = sc->sc_ports[i];

		if (lp == NULL || lp->lp_departing)
			continue;
		laggkit_port_setup(lp->lp_ifp, up);
		laggkit_port_link(sc, lp);
	}
}

void
laggkit_ports_promisc(struct laggkit_softc *sc, bool on)
{
	LAGGKIT_XLOCK_ASSERT(sc);
	for (int i = 0; i < LK_MAX_PORTS; i++) {
		struct laggkit_port *lp = sc->sc_ports[i];

		if (lp == NULL || lp->lp_departing || (lp->lp_promisc != 0) == on)
			continue;
		if (ifpromisc(lp->lp_ifp, on ? 1 : 0) == 0)
			lp->lp_promisc = on;
	}
}

/* ---- Carrying out what the core asked for ----------------------------------------------------- */

/*
 * Apply a member's pending MAC/MTU (recorded by the host callbacks under sc_mtx). Returns
 * the first error, MTU or MAC, each also logged: a member that kept its own MAC would
 * receive nothing addressed to the aggregate, so a joining port that refuses is refused.
 */
int
laggkit_settle_port(struct laggkit_softc *sc, struct laggkit_port *lp)
{
	struct laggkit_pending pd;
	struct ifnet *pifp = lp->lp_ifp;
	struct ifreq ifr;
	int error = 0, err;

	LAGGKIT_XLOCK_ASSERT(sc);
	LAGGKIT_CORE_LOCK(sc);
	pd = sc->sc_pend[lp->lp_index];
	sc->sc_pend[lp->lp_index].lpd_flags = 0;
	LAGGKIT_CORE_UNLOCK(sc);
	if (lp->lp_departing)
		return (0);

	if ((pd.lpd_flags & LAGGKIT_PEND_MTU) != 0 && pifp->if_mtu != pd.lpd_mtu) {
		memset(&ifr, 0, sizeof(ifr));
		strlcpy(ifr.ifr_name, pifp->if_xname, sizeof(ifr.ifr_name));
		ifr.ifr_mtu = pd.lpd_mtu;
		error = pifp->if_ioctl != NULL ? pifp->if_ioctl(pifp, SIOCSIFMTU, (caddr_t)&ifr) : EOPNOTSUPP;
		if (error != 0)
			if_printf(
			    sc->sc_ifp, "%s refused MTU %u (error %d)\n", pifp->if_xname, pd.lpd_mtu, error);
	}
	if ((pd.lpd_flags & LAGGKIT_PEND_MAC) != 0 &&
	    memcmp(IF_LLADDR(pifp), pd.lpd_mac, ETHER_ADDR_LEN) != 0) {
		err = if_setlladdr(pifp, pd.lpd_mac, ETHER_ADDR_LEN);
		if (err != 0) {
			if_printf(sc->sc_ifp, "%s refused MAC %6D (error %d)\n", pifp->if_xname, pd.lpd_mac,
			    ":", err);
			if (error == 0)
				error = err;
		}
	}
	return (error);
}

/*
 * Apply everything pending: members' MAC/MTU, the aggregate's MAC, and the aggregate MTU the
 * core settled on (the first member's, unless the user set one). Returns the first MTU error.
 */
int
laggkit_settle(struct laggkit_softc *sc)
{
	struct ifnet *ifp = sc->sc_ifp;
	struct lk_status st;
	uint8_t mac[ETHER_ADDR_LEN];
	int error = 0, err, set;

	LAGGKIT_XLOCK_ASSERT(sc);
	for (int i = 0; i < LK_MAX_PORTS; i++) {
		if (sc->sc_ports[i] == NULL)
			continue;
		err = laggkit_settle_port(sc, sc->sc_ports[i]);
		if (error == 0)
			error = err;
	}

	LAGGKIT_CORE_LOCK(sc);
	set = sc->sc_pend_lladdr_set;
	memcpy(mac, sc->sc_pend_lladdr, ETHER_ADDR_LEN);
	sc->sc_pend_lladdr_set = 0;
	(void)lk_get_status(sc->sc_core, &st);
	LAGGKIT_CORE_UNLOCK(sc);

	if (set && memcmp(IF_LLADDR(ifp), mac, ETHER_ADDR_LEN) != 0) {
		/* As lagg(4): write the address in place; if_setlladdr() would bounce IFF_UP. */
		memcpy(IF_LLADDR(ifp), mac, ETHER_ADDR_LEN);
		sc->sc_notify_lladdr = 1;
	}
	if (st.mtu != 0 && ifp->if_mtu != (u_int)st.mtu) {
		ifp->if_mtu = st.mtu;
		sc->sc_notify_mtu = 1;
	}
	return (error);
}

/* ---- Add / remove ------------------------------------------------------------------------- */

/*
 * A vlan(4) whose trunk is (through any number of vlans) a laggkit interface would make a
 * transmit loop: laggkitN -> vlan -> laggkitN (or laggkitM, whose members lead back), each
 * call nested in the last until the kernel stack overflows. A vlan with no trunk yet can be
 * given one later (`ifconfig vlanN vlandev laggkit0`), so it is no safer. EINVAL and why,
 * or 0 for a vlan on something else (and for anything that is not a vlan).
 */
static int
laggkit_vlan_check(struct ifnet *pifp, const char **why)
{
	struct epoch_tracker et;
	struct ifnet *t;
	int error = 0;

	if (pifp->if_type != IFT_L2VLAN)
		return (0);
	if (vlan_trunkdev_p == NULL) { /* vlan(4) unloaded under its interface */
		*why = "a vlan whose trunk cannot be read";
		return (EINVAL);
	}
	NET_EPOCH_ENTER(et);
	for (t = pifp; t != NULL && t->if_type == IFT_L2VLAN; t = VLAN_TRUNKDEV(t))
		continue;
	if (t == NULL) {
		*why = "a vlan with no parent (vlandev)";
		error = EINVAL;
	} else if (laggkit_is_aggregate(t)) {
		*why = "a vlan on a laggkit interface";
		error = EINVAL;
	}
	NET_EPOCH_EXIT(et);
	return (error);
}

/* Refuse what cannot be a member, before the core hears of it. */
static int
laggkit_port_check(struct laggkit_softc *sc, struct ifnet *pifp)
{
	struct laggkit_port *lp;
	const char *why;

	sx_assert(&laggkit_sx, SA_XLOCKED);
	LAGGKIT_XLOCK_ASSERT(sc);
	if (sc->sc_destroying)
		return (ENXIO);
	if (pifp == sc->sc_ifp || laggkit_is_aggregate(pifp)) {
		if_printf(sc->sc_ifp, "a laggkit interface cannot be a member\n");
		return (EINVAL);
	}
	if (laggkit_vlan_check(pifp, &why) != 0) {
		if_printf(
		    sc->sc_ifp, "%s is %s: it cannot be a member (transmit loop)\n", pifp->if_xname, why);
		return (EINVAL);
	}
	if ((lp = laggkit_record_lookup(pifp)) != NULL && lp->lp_sc != NULL)
		return (lp->lp_sc == sc ? EEXIST : EBUSY);
	if (lp != NULL && pifp->if_input != laggkit_port_input && pifp->if_input != lp->lp_input) {
		/* a ghost: the subsystem that took its input over still has it */
		if_printf(sc->sc_ifp,
		    "%s: its input is held by another subsystem "
		    "(netmap?); detach that first\n",
		    pifp->if_xname);
		return (EBUSY);
	}
	/* already a lagg(4) member (lagg retypes its ports) or a bridge(4) member */
	if (pifp->if_type == IFT_IEEE8023ADLAG || pifp->if_lagg != NULL || pifp->if_bridge != NULL) {
		if_printf(sc->sc_ifp, "%s already belongs to a lagg or bridge\n", pifp->if_xname);
		return (EBUSY);
	}
	if (pifp->if_type != IFT_ETHER && pifp->if_type != IFT_L2VLAN) {
		if_printf(sc->sc_ifp, "%s is not an Ethernet interface\n", pifp->if_xname);
		return (EPROTONOSUPPORT);
	}
	if (strcmp(pifp->if_dname, "lagg") == 0) {
		if_printf(sc->sc_ifp, "stacking on %s is not supported\n", pifp->if_xname);
		return (EINVAL);
	}
	if (pifp->if_input == NULL || pifp->if_ioctl == NULL || pifp->if_transmit == NULL)
		return (EOPNOTSUPP);
	return (0);
}

int
laggkit_port_add(struct laggkit_softc *sc, struct ifnet *pifp, uint16_t prio)
{
	struct lk_port_info info;
	struct laggkit_port *lp, *ghost;
	laggkit_input_fn *input;
	uint32_t idx;
	int error;

	sx_assert(&laggkit_sx, SA_XLOCKED);
	LAGGKIT_XLOCK_ASSERT(sc);
	error = laggkit_port_check(sc, pifp);
	if (error != 0)
		return (error);
#ifdef INET6
	/*
	 * As lagg(4): a member keeps no IPv6 address of its own, or its link-local scope zone
	 * would be merged into the aggregate's.
	 */
	if (in6ifa_llaonifp(pifp) != NULL) {
		in6_ifdetach(pifp);
		if_printf(sc->sc_ifp, "IPv6 addresses on %s removed before it joins\n", pifp->if_xname);
	}
#endif

	memset(&info, 0, sizeof(info));
	info.name = pifp->if_xname;
	memcpy(info.lladdr, IF_LLADDR(pifp), ETHER_ADDR_LEN);
	info.mtu = pifp->if_mtu;
	info.prio = prio;
	LAGGKIT_CORE_LOCK(sc);
	error = laggkit_errno(lk_port_add(sc->sc_core, &info, &idx));
	LAGGKIT_CORE_UNLOCK(sc);
	if (error != 0)
		return (error);

	lp = malloc(sizeof(*lp), M_LAGGKIT, M_WAITOK | M_ZERO);
	lp->lp_sc = sc;
	lp->lp_ifp = pifp;
	lp->lp_index = idx;
	lp->lp_was_up = (pifp->if_flags & IFF_UP) != 0;
	lp->lp_stacked = pifp->if_type == IFT_L2VLAN;
	if_ref(pifp);
	atomic_store_rel_ptr((volatile uintptr_t *)&sc->sc_ports[idx], (uintptr_t)lp);

	error = laggkit_settle_port(sc, lp);
	if (error != 0) {
		if_printf(sc->sc_ifp, "%s not added: it refused the aggregate's %s\n", pifp->if_xname,
		    pifp->if_mtu != sc->sc_ifp->if_mtu ? "MTU" : "MAC");
		/* unwind: the core restores the original MAC/MTU through the same path */
		LAGGKIT_CORE_LOCK(sc);
		(void)lk_port_remove(sc->sc_core, idx);
		LAGGKIT_CORE_UNLOCK(sc);
		(void)laggkit_settle_port(sc, lp);
		atomic_store_rel_ptr((volatile uintptr_t *)&sc->sc_ports[idx], 0);
		NET_EPOCH_CALL(laggkit_port_free, &lp->lp_epoch_ctx);
		return (error);
	}

	/* Multicast filters are per NIC: members take all multicast for the aggregate. */
	if (if_allmulti(pifp, 1) == 0)
		lp->lp_allmulti = 1;
	if (sc->sc_promisc && ifpromisc(pifp, 1) == 0)
		lp->lp_promisc = 1;
	if ((sc->sc_ifp->if_drv_flags & IFF_DRV_RUNNING) != 0)
		laggkit_port_setup(pifp, true);

	/*
	 * Divert input last: from here on the member's frames belong to the aggregate. A ghost
	 * of this NIC (checked above: our input or its own is back on it) knows its own.
	 */
	ghost = laggkit_record_lookup(pifp);
	input = ghost != NULL ? ghost->lp_input : pifp->if_input;
	lp->lp_input = input;
	CK_LIST_INSERT_HEAD(laggkit_bucket(pifp), lp, lp_hash);
	if (ghost != NULL) {
		CK_LIST_REMOVE(ghost, lp_hash);
		NET_EPOCH_CALL(laggkit_port_free, &ghost->lp_epoch_ctx);
	}
	atomic_store_rel_ptr((volatile uintptr_t *)&pifp->if_input, (uintptr_t)laggkit_port_input);

	laggkit_port_link(sc, lp);
	laggkit_update_caps(sc);
	return (0);
}

static void
laggkit_port_free(epoch_context_t ctx)
{
	struct laggkit_port *lp = __containerof(ctx, struct laggkit_port, lp_epoch_ctx);

	if_rele(lp->lp_ifp);
	free(lp, M_LAGGKIT);
}

/*
 * vlan(4) gives a vlan its trunk's if_input each time the vlan gets a trunk (vlan_config):
 * a member vlan moved to another trunk has lost our input function, and nothing keeps it.
 * True when that is what happened to pifp.
 */
static bool
laggkit_vlan_input_reset(struct ifnet *pifp)
{
	struct epoch_tracker et;
	struct ifnet *trunk;
	bool reset;

	if (pifp->if_type != IFT_L2VLAN || vlan_trunkdev_p == NULL)
		return (false);
	NET_EPOCH_ENTER(et);
	trunk = VLAN_TRUNKDEV(pifp);
	reset = trunk != NULL && pifp->if_input == trunk->if_input && trunk->if_input != laggkit_port_input;
	NET_EPOCH_EXIT(et);
	return (reset);
}

/* A member vlan that vlan(4) gave another trunk's input: take its frames again. */
static void
laggkit_vlan_input_retake(struct laggkit_port *lp)
{
	laggkit_input_fn *input = lp->lp_ifp->if_input;

	LAGGKIT_XLOCK_ASSERT(lp->lp_sc);
	if (input == laggkit_port_input || !laggkit_vlan_input_reset(lp->lp_ifp))
		return;
	lp->lp_input = input; /* what goes back when it leaves */
	(void)atomic_cmpset_rel_ptr(
	    (volatile uintptr_t *)&lp->lp_ifp->if_input, (uintptr_t)input, (uintptr_t)laggkit_port_input);
}

/*
 * A former member whose if_input is not ours: another subsystem saved laggkit_port_input()
 * and may call it, or put it back, later. Keep a record that knows the original input.
 */
static void
laggkit_ghost_add(struct laggkit_softc *sc, struct laggkit_port *lp)
{
	struct laggkit_port *g;

	sx_assert(&laggkit_sx, SA_XLOCKED);
	if_printf(sc->sc_ifp,
	    "%s: its input was taken over by another subsystem (netmap?) "
	    "while a member; laggkit stays loaded until that is undone\n",
	    lp->lp_ifp->if_xname);
	g = malloc(sizeof(*g), M_LAGGKIT, M_WAITOK | M_ZERO);
	g->lp_ifp = lp->lp_ifp;
	g->lp_input = lp->lp_input;
	if_ref(g->lp_ifp);
	CK_LIST_INSERT_HEAD(laggkit_bucket(g->lp_ifp), g, lp_hash);
}

/*
 * Give a member back. LAGGKIT_LEAVE: MAC, MTU, multicast, promiscuous and IFF_UP return to
 * what they were before it joined. LAGGKIT_MOVED: the NIC is moving to another VNET; the
 * same except IFF_UP, which the move itself clears. LAGGKIT_GONE: its driver is detaching,
 * or touching it could re-enter us (a vlan whose trunk became laggkit): restore nothing.
 */
void
laggkit_port_del(struct laggkit_softc *sc, struct laggkit_port *lp, int how)
{
	struct ifnet *pifp = lp->lp_ifp;

	sx_assert(&laggkit_sx, SA_XLOCKED);
	LAGGKIT_XLOCK_ASSERT(sc);

	/* Input first, so no new frame of this member reaches the core. */
	CK_LIST_REMOVE(lp, lp_hash);
	if (atomic_cmpset_rel_ptr((volatile uintptr_t *)&pifp->if_input, (uintptr_t)laggkit_port_input,
	        (uintptr_t)lp->lp_input) == 0 &&
	    (pifp->if_flags & IFF_DYING) == 0 && !laggkit_vlan_input_reset(pifp))
		laggkit_ghost_add(sc, lp);
	lp->lp_departing = how == LAGGKIT_GONE;

	LAGGKIT_CORE_LOCK(sc);
	(void)lk_port_remove(sc->sc_core, lp->lp_index);
	LAGGKIT_CORE_UNLOCK(sc);
	(void)laggkit_settle_port(sc, lp); /* MAC/MTU back, unless gone */
	if (how != LAGGKIT_GONE) {
		if (lp->lp_promisc)
			(void)ifpromisc(pifp, 0);
		if (lp->lp_allmulti)
			(void)if_allmulti(pifp, 0);
		/*
		 * Both ways: an aggregate taken down took its members down with it, and a
		 * member that was up before joining must come back up when it leaves.
		 */
		if (how == LAGGKIT_LEAVE)
			laggkit_port_setup(pifp, lp->lp_was_up != 0);
	}
	/* Stop transmit from picking it, then free once readers are done. */
	lp->lp_departing = 1;
	atomic_store_rel_ptr((volatile uintptr_t *)&sc->sc_ports[lp->lp_index], 0);
	NET_EPOCH_CALL(laggkit_port_free, &lp->lp_epoch_ctx);
	laggkit_update_caps(sc);
}

/* ---- Receive ----------------------------------------------------------------------------- */

/*
 * A frame of a NIC that is not (only) ours. A ghost knows its original input: put that back
 * if our function was handed back (netmap detached), and deliver there. A member another
 * aggregator took gets the frame through its own input too (ether_input, where lagg(4) and
 * bridge(4) hook in) until laggkit_members_check() lets it go. Otherwise the port raced with
 * its removal: its owner's input is in place already.
 */
static void
laggkit_port_input_orphan(struct ifnet *ifp, struct laggkit_port *rec, struct mbuf *m)
{
	laggkit_input_fn *fn = ifp->if_input;
	struct mbuf *next;

	NET_EPOCH_ASSERT();
	if (rec != NULL && rec->lp_sc == NULL)
		(void)atomic_cmpset_rel_ptr((volatile uintptr_t *)&ifp->if_input,
		    (uintptr_t)laggkit_port_input, (uintptr_t)rec->lp_input);
	else if (rec != NULL)
		taskqueue_enqueue(taskqueue_thread, &laggkit_check_task);
	if (rec != NULL)
		fn = rec->lp_input;
	if (fn != laggkit_port_input) {
		fn(ifp, m);
		return;
	}
	for (; m != NULL; m = next) {
		next = m->m_nextpkt;
		m->m_nextpkt = NULL;
		m_freem(m);
	}
}

static void
laggkit_port_input_one(struct laggkit_port *lp, struct mbuf *m)
{
	struct laggkit_softc *sc = lp->lp_sc;
	struct ifnet *ifp = sc->sc_ifp;
	struct lk_frame f;
	uint8_t hdr[LAGGKIT_HDR_COPY];
	uint8_t ctl[LAGGKIT_CTL_MAX];
	uint32_t len;

	NET_EPOCH_ASSERT();
	if (m->m_len < ETHER_HDR_LEN && (m = m_pullup(m, ETHER_HDR_LEN)) == NULL) {
		if_inc_counter(ifp, IFCOUNTER_IERRORS, 1);
		return;
	}
#ifdef M_HASFCS /* 13 and 14; FreeBSD 15 removed the flag (no driver keeps the FCS) */
	/*
	 * The member's ether_input, bypassed here, would strip a trailing FCS: without that
	 * a LACPDU is 4 bytes too long for the core and the aggregate's ether_input strips it
	 * from data frames only.
	 */
	if ((m->m_flags & M_HASFCS) != 0) {
		m_adj(m, -ETHER_CRC_LEN);
		m->m_flags &= ~M_HASFCS;
	}
#endif
	/* tcpdump on a member keeps working, as with lagg(4) */
	ETHER_BPF_MTAP(lp->lp_ifp, m);
	/* the member's ether_input, which counts its received bytes, is bypassed */
	if ((lp->lp_ifp->if_capenable & IFCAP_HWSTATS) == 0)
		if_inc_counter(lp->lp_ifp, IFCOUNTER_IBYTES, m->m_pkthdr.len);
	if ((ifp->if_drv_flags & IFF_DRV_RUNNING) == 0 || lp->lp_departing) {
		m_freem(m);
		return;
	}

	laggkit_frame_view(m, &f, hdr);
	switch (laggkit_core_input(sc, lp->lp_index, &f)) {
	case LK_RX_ACCEPT:
		m->m_pkthdr.rcvif = ifp;
		if_inc_counter(ifp, IFCOUNTER_IPACKETS, 1);
		(*ifp->if_input)(ifp, m); /* ether_input of laggkitN */
		break;
	case LK_RX_CONTROL:
		len = MIN((uint32_t)m->m_pkthdr.len, sizeof(ctl));
		m_copydata(m, 0, len, (caddr_t)ctl);
		m_freem(m);
		LAGGKIT_CORE_LOCK(sc);
		(void)lk_control_input(sc->sc_core, lp->lp_index, ctl, len);
		LAGGKIT_CORE_UNLOCK(sc);
		break;
	case LK_RX_DROP:
	default:
		/* counted by the core (port not collecting, protocol none, ...) */
		m_freem(m);
		break;
	}
}

/*
 * The member's if_input while it belongs to an aggregate. Drivers may pass a chain linked
 * through m_nextpkt; each frame is judged on its own.
 */
static void
laggkit_port_input(struct ifnet *ifp, struct mbuf *m)
{
	struct epoch_tracker et;
	struct laggkit_port *lp;
	struct mbuf *next;

	NET_EPOCH_ENTER(et);
	lp = laggkit_record_lookup(ifp);
	if (lp == NULL || lp->lp_sc == NULL || __predict_false(laggkit_port_taken(ifp))) {
		laggkit_port_input_orphan(ifp, lp, m);
	} else {
		for (; m != NULL; m = next) {
			next = m->m_nextpkt;
			m->m_nextpkt = NULL;
			laggkit_port_input_one(lp, m);
		}
	}
	NET_EPOCH_EXIT(et);
}

/* ---- ifnet events ----------------------------------------------------------------------- */

/*
 * Link, up/down, baudrate: re-read the member later, from the aggregate's task. event is an
 * IFNET_EVENT_* or -1 (a link state change).
 */
static void
laggkit_port_changed(struct ifnet *ifp, int event)
{
	struct laggkit_softc *sc;
	struct epoch_tracker et;
	struct laggkit_port *lp;

	NET_EPOCH_ENTER(et);
	lp = laggkit_port_lookup(ifp);
	sc = lp != NULL ? atomic_load_ptr(&lp->lp_sc) : NULL;
	if (sc != NULL) {
		if (event == -1 && ifp->if_link_state != LINK_STATE_UP)
			laggkit_port_carrier_lost(sc, lp, false);
		/*
		 * if_down() tells us before it clears IFF_UP, so the task may still see the
		 * member up: it is told the member is going down. if_up() tells after.
		 */
		if (event == IFNET_EVENT_DOWN)
			atomic_store_int(&lp->lp_going_down, 1);
		else if (event == IFNET_EVENT_UP)
			atomic_store_int(&lp->lp_going_down, 0);
		/* the aggregate drains this task after NET_EPOCH_WAIT, so sc is alive here */
		laggkit_link_later(sc, 0);
	}
	NET_EPOCH_EXIT(et);
}

static void
laggkit_ifnet_link(void *arg __unused, struct ifnet *ifp, int state __unused)
{
	laggkit_port_changed(ifp, -1);
}

static void
laggkit_ifnet_event(void *arg __unused, struct ifnet *ifp, int event)
{
	laggkit_port_changed(ifp, event);
}

/*
 * A member is being detached (IFF_DYING: restore nothing, the driver is going) or moved to
 * another VNET (give it back as it was, so it arrives there with its own MAC, MTU and flags).
 * A ghost of a detaching NIC goes with it.
 */
static void
laggkit_ifnet_departure(void *arg __unused, struct ifnet *ifp)
{
	struct laggkit_softc *sc;
	struct laggkit_port *lp;
	bool gone = (ifp->if_flags & IFF_DYING) != 0;

	if ((ifp->if_flags & IFF_RENAMING) != 0 || laggkit_is_aggregate(ifp))
		return;
	/*
	 * Always wait for laggkit_sx, even for an ifnet not in the hash yet: laggkit_port_add()
	 * holds it from its checks until the port is hashed, and a departure that looked first
	 * and left would let it take a NIC whose driver is on its way out.
	 */
	sx_xlock(&laggkit_sx);
	lp = laggkit_record_lookup(ifp);
	if (lp != NULL && lp->lp_sc != NULL) {
		sc = lp->lp_sc;
		LAGGKIT_XLOCK(sc);
		if_printf(
		    sc->sc_ifp, "member %s %s\n", ifp->if_xname, gone ? "departed" : "left for another VNET");
		laggkit_port_del(sc, lp, gone ? LAGGKIT_GONE : LAGGKIT_MOVED);
		LAGGKIT_XUNLOCK(sc);
	} else if (lp != NULL && gone) {
		CK_LIST_REMOVE(lp, lp_hash);
		NET_EPOCH_CALL(laggkit_port_free, &lp->lp_epoch_ctx);
	}
	sx_xunlock(&laggkit_sx);
}

/*
 * `ifconfig laggkit0 ether XX` goes through if_setlladdr() and ends here: make it the
 * aggregate's address in the core, which then reprograms the members.
 */
static void
laggkit_iflladdr(void *arg __unused, struct ifnet *ifp)
{
	struct laggkit_softc *sc;
	struct lk_status st;

	if ((sc = laggkit_acquire(ifp)) == NULL)
		return;
	LAGGKIT_XLOCK(sc);
	if (!sc->sc_destroying) {
		LAGGKIT_CORE_LOCK(sc);
		if (lk_get_status(sc->sc_core, &st) == LK_OK &&
		    memcmp(st.lladdr, IF_LLADDR(ifp), ETHER_ADDR_LEN) != 0)
			(void)lk_set_lladdr(sc->sc_core, IF_LLADDR(ifp));
		LAGGKIT_CORE_UNLOCK(sc);
	}
	LAGGKIT_XUNLOCK(sc);
	laggkit_release(sc);
}

/*
 * A vlan(4) on the aggregate registers its tag with the aggregate only; members with
 * hardware VLAN filtering would drop its frames. Pass the registration on, as lagg(4) does,
 * but from sc_vlan_task: vlan(4) calls here holding vlan_sx, and a member that is a vlan
 * takes vlan_sx in its ioctl while we hold sc_sx (port add, MAC and MTU changes), so
 * taking sc_sx here would be a lock order reversal (a deadlock with both running).
 */
static void
laggkit_vlan_forward(struct ifnet *ifp, uint16_t vtag, bool config)
{
	struct laggkit_softc *sc;
	struct laggkit_vlan_tag *t;

	/* any vlan's trunk may have changed: check every stacked member, later and unlocked */
	if (config)
		taskqueue_enqueue(taskqueue_thread, &laggkit_check_task);
	if ((sc = laggkit_acquire(ifp)) == NULL)
		return;
	t = malloc(sizeof(*t), M_LAGGKIT, M_NOWAIT | M_ZERO);
	if (t == NULL) {
		if_printf(ifp, "no memory to pass vlan %u on to the members\n", vtag);
	} else {
		t->lvt_vtag = vtag;
		t->lvt_config = config;
		/* laggkit_destroy() sets sc_destroying under sc_mtx before it drains the task */
		LAGGKIT_CORE_LOCK(sc);
		if (sc->sc_destroying) {
			free(t, M_LAGGKIT);
		} else {
			STAILQ_INSERT_TAIL(&sc->sc_vlan_tags, t, lvt_next);
			taskqueue_enqueue(taskqueue_thread, &sc->sc_vlan_task);
		}
		LAGGKIT_CORE_UNLOCK(sc);
	}
	laggkit_release(sc);
}

void
laggkit_vlan_task(void *arg, int pending __unused)
{
	struct laggkit_softc *sc = arg;
	struct laggkit_vlan_tag *t;

	CURVNET_SET(sc->sc_ifp->if_vnet); /* taskqueue_thread has none; drivers may want it */
	LAGGKIT_XLOCK(sc);
	for (;;) {
		LAGGKIT_CORE_LOCK(sc);
		if ((t = STAILQ_FIRST(&sc->sc_vlan_tags)) != NULL)
			STAILQ_REMOVE_HEAD(&sc->sc_vlan_tags, lvt_next);
		LAGGKIT_CORE_UNLOCK(sc);
		if (t == NULL)
			break;
		for (int i = 0; i < LK_MAX_PORTS && !sc->sc_destroying; i++) {
			struct laggkit_port *lp = sc->sc_ports[i];

			if (lp == NULL || lp->lp_departing)
				continue;
			if (t->lvt_config)
				EVENTHANDLER_INVOKE(vlan_config, lp->lp_ifp, t->lvt_vtag);
			else
				EVENTHANDLER_INVOKE(vlan_unconfig, lp->lp_ifp, t->lvt_vtag);
		}
		free(t, M_LAGGKIT);
	}
	LAGGKIT_XUNLOCK(sc);
	CURVNET_RESTORE();
}

/* Tags still queued when the aggregate goes (its task drained). */
void
laggkit_vlan_tags_free(struct laggkit_softc *sc)
{
	struct laggkit_vlan_tag *t;

	while ((t = STAILQ_FIRST(&sc->sc_vlan_tags)) != NULL) {
		STAILQ_REMOVE_HEAD(&sc->sc_vlan_tags, lvt_next);
		free(t, M_LAGGKIT);
	}
}

static void
laggkit_vlan_config(void *arg __unused, struct ifnet *ifp, uint16_t vtag)
{
	laggkit_vlan_forward(ifp, vtag, true);
}

static void
laggkit_vlan_unconfig(void *arg __unused, struct ifnet *ifp, uint16_t vtag)
{
	laggkit_vlan_forward(ifp, vtag, false);
}

/*
 * Members that stopped being laggkit's alone, dropped restoring nothing on them:
 * - vlan(4) can give a member vlan a trunk at any time, and so close a loop through laggkit
 *   after the member joined. Giving a vlan its flags back goes through its trunk, which now
 *   leads into us (our locks are held). Until this runs, the transmit nesting guard in
 *   if_laggkit.c bounds the loop.
 * - lagg(4) or bridge(4) took the member (laggkit_port_taken): two aggregators must not
 *   drive one NIC, and theirs now owns its MAC, MTU and flags.
 * A member vlan moved to a trunk that is fine stays, and gets our input back (vlan(4) gave
 * it the new trunk's).
 */
static void
laggkit_members_check(void *arg __unused, int pending __unused)
{
	struct laggkit_softc *sc;
	const char *why;

	sx_xlock(&laggkit_sx);
	LIST_FOREACH(sc, &laggkit_list, sc_entry) {
		CURVNET_SET(sc->sc_ifp->if_vnet);
		LAGGKIT_XLOCK(sc);
		for (int i = 0; i < LK_MAX_PORTS && !sc->sc_destroying; i++) {
			struct laggkit_port *lp = sc->sc_ports[i];

			if (lp == NULL)
				continue;
			if (laggkit_port_taken(lp->lp_ifp))
				why = "taken by lagg(4) or bridge(4)";
			else if (!lp->lp_stacked)
				continue;
			else if (laggkit_vlan_check(lp->lp_ifp, &why) == 0) {
				laggkit_vlan_input_retake(lp);
				continue;
			}
			if_printf(sc->sc_ifp,
			    "%s is %s: removed; its MAC, MTU and flags are "
			    "left as they are\n",
			    lp->lp_ifp->if_xname, why);
			laggkit_port_del(sc, lp, LAGGKIT_GONE);
		}
		LAGGKIT_XUNLOCK(sc);
		CURVNET_RESTORE();
	}
	sx_xunlock(&laggkit_sx);
}

/*
 * The aggregate's IPv4 and IPv6 addresses, for the core's failover announcements. Only the
 * core's mutex is taken: this runs inside address configuration, under the stack's locks.
 */
static void
laggkit_ifaddr(void *arg __unused, struct ifnet *ifp, struct ifaddr *ifa, int event)
{
	struct laggkit_softc *sc;
	const uint8_t *addr = NULL;
	int family = 0, err;
#ifdef INET6
	struct in6_addr a6;
#endif

	if (ifa->ifa_addr == NULL)
		return;
	switch (ifa->ifa_addr->sa_family) {
#ifdef INET
	case AF_INET:
		family = 4;
		addr = (const uint8_t *)&((struct sockaddr_in *)ifa->ifa_addr)->sin_addr;
		break;
#endif
#ifdef INET6
	case AF_INET6:
		/* the kernel keeps a link-local's scope inside the address: not on the wire */
		a6 = ((struct sockaddr_in6 *)ifa->ifa_addr)->sin6_addr;
		(void)in6_clearscope(&a6);
		family = 6;
		addr = (const uint8_t *)&a6;
		break;
#endif
	default:
		return;
	}
	/*
	 * Not laggkit_acquire(): its release could be the last and free the softc here, which
	 * sleeps. Holding laggkit_ref_mtx keeps the destroy from dropping its reference meanwhile.
	 */
	if (!laggkit_is_aggregate(ifp))
		return;
	err = LK_OK;
	laggkit_ref_lock();
	if ((sc = ifp->if_softc) != NULL) {
		LAGGKIT_CORE_LOCK(sc);
		if (sc->sc_destroying)
			err = LK_OK;
		else if (event == IFADDR_EVENT_ADD)
			err = lk_announce_addr_add(sc->sc_core, family, addr);
		else
			err = lk_announce_addr_del(sc->sc_core, family, addr);
		LAGGKIT_CORE_UNLOCK(sc);
	}
	laggkit_ref_unlock();
	if (err != LK_OK && err != LK_EEXIST && err != LK_ENOENT)
		if_printf(ifp, "address not announced on failover (%s; at most %d are)\n", lk_strerror(err),
		    LK_MAX_ANNOUNCE_ADDRS);
}

/*
 * Unload: every ghost must be resolved. If our input is back on its NIC, put the original
 * there; if the original is there, nothing holds us. If a third function is there, it may
 * have saved ours and call it after the module is gone: refuse (EBUSY).
 */
int
laggkit_ghosts_fini(void)
{
	struct laggkit_port *g, *tmp;
	int error = 0;

	sx_xlock(&laggkit_sx);
	for (int i = 0; i < LAGGKIT_PORTHASH; i++) {
		CK_LIST_FOREACH_SAFE(g, &laggkit_porthash[i], lp_hash, tmp)
		{
			struct ifnet *ifp = g->lp_ifp;

			if (g->lp_sc != NULL)
				continue;
			(void)atomic_cmpset_rel_ptr((volatile uintptr_t *)&ifp->if_input,
			    (uintptr_t)laggkit_port_input, (uintptr_t)g->lp_input);
			if (ifp->if_input != g->lp_input) {
				printf("laggkit: %s: its input is still held by another subsystem "
				       "(netmap: valectl -d); not unloading\n",
				    ifp->if_xname);
				error = EBUSY;
				continue;
			}
			CK_LIST_REMOVE(g, lp_hash);
			NET_EPOCH_CALL(laggkit_port_free, &g->lp_epoch_ctx);
		}
	}
	sx_xunlock(&laggkit_sx);
	return (error);
}

void
laggkit_port_events_init(void)
{
	for (int i = 0; i < LAGGKIT_PORTHASH; i++)
		CK_LIST_INIT(&laggkit_porthash[i]);
	laggkit_departure_tag =
	    EVENTHANDLER_REGISTER(ifnet_departure_event, laggkit_ifnet_departure, NULL, EVENTHANDLER_PRI_ANY);
	laggkit_link_tag =
	    EVENTHANDLER_REGISTER(ifnet_link_event, laggkit_ifnet_link, NULL, EVENTHANDLER_PRI_ANY);
	laggkit_ifevent_tag =
	    EVENTHANDLER_REGISTER(ifnet_event, laggkit_ifnet_event, NULL, EVENTHANDLER_PRI_ANY);
	laggkit_lladdr_tag =
	    EVENTHANDLER_REGISTER(iflladdr_event, laggkit_iflladdr, NULL, EVENTHANDLER_PRI_ANY);
	laggkit_vlan_config_tag =
	    EVENTHANDLER_REGISTER(vlan_config, laggkit_vlan_config, NULL, EVENTHANDLER_PRI_ANY);
	laggkit_vlan_unconfig_tag =
	    EVENTHANDLER_REGISTER(vlan_unconfig, laggkit_vlan_unconfig, NULL, EVENTHANDLER_PRI_ANY);
	laggkit_ifaddr_tag =
	    EVENTHANDLER_REGISTER(ifaddr_event_ext, laggkit_ifaddr, NULL, EVENTHANDLER_PRI_ANY);
	TASK_INIT(&laggkit_check_task, 0, laggkit_members_check, NULL);
}

void
laggkit_port_events_fini(void)
{
	EVENTHANDLER_DEREGISTER(ifaddr_event_ext, laggkit_ifaddr_tag);
	EVENTHANDLER_DEREGISTER(vlan_unconfig, laggkit_vlan_unconfig_tag);
	EVENTHANDLER_DEREGISTER(vlan_config, laggkit_vlan_config_tag);
	EVENTHANDLER_DEREGISTER(iflladdr_event, laggkit_lladdr_tag);
	EVENTHANDLER_DEREGISTER(ifnet_event, laggkit_ifevent_tag);
	EVENTHANDLER_DEREGISTER(ifnet_link_event, laggkit_link_tag);
	EVENTHANDLER_DEREGISTER(ifnet_departure_event, laggkit_departure_tag);
	/* deregistered handlers may have queued it just before */
	taskqueue_drain(taskqueue_thread, &laggkit_check_task);
}
