/*
 * if_laggkit: the laggkit core as a FreeBSD network interface.
 *
 * This file is the module and the aggregate's own ifnet: the `laggkit` cloner (one per
 * VNET), create/destroy, the transmit path (mbuf -> frame view -> lk_output -> the chosen
 * ports' if_transmit), and the ioctls that are not the lagg family (flags, MTU, media).
 * Member ports live in laggkit_port.c, the lagg ioctls in laggkit_lagg_ioctl.c, the core's
 * callbacks in laggkit_host.c and the sysctl tree in laggkit_sysctl.c.
 *
 * The module coexists with the base if_lagg: it never touches lagg_input_ethernet_p,
 * lagg_linkstate_p or ifp->if_lagg, so both can be loaded and each can own different ports.
 * Unloading is refused while any laggkit interface exists, in any VNET.
 */

#include "opt_inet.h"
#include "opt_inet6.h"

#include "laggkit_var.h"

#include <sys/module.h>

#include <net/bpf.h>
#include <net/if_clone.h>
#include <net/if_vlan_var.h>
#include "laggkit_lagg.h"

/*
 * The cloner KPI changed in FreeBSD 14 (ifc_attach_cloner with struct ifc_data); 13 only has
 * if_clone_advanced. IFC_F_AUTOUNIT comes with the new KPI. LAGGKIT_CLONE_COMPAT13 selects the
 * 13 path on a newer tree that still declares it (CLONE_COMPAT_13), to compile-check that path.
 */
#if defined(IFC_F_AUTOUNIT) && !defined(LAGGKIT_CLONE_COMPAT13)
#define LAGGKIT_CLONER_V2 1
#endif

MALLOC_DEFINE(M_LAGGKIT, LAGGKIT_NAME, "laggkit link aggregation");

struct sx laggkit_sx;
struct laggkit_head laggkit_list = LIST_HEAD_INITIALIZER(laggkit_list);
static u_int laggkit_count; /* softcs not yet freed, in every VNET; laggkit_sx */
/* Guards ifp->if_softc of an aggregate against its destroy: see laggkit_acquire(). */
static struct mtx laggkit_ref_mtx;
/* sysctl net.link.laggkit.inject_create_failure: fail that many creates (tests only). */
u_int laggkit_inject_create_failure;

/*
 * Transmit nesting: a member that is itself a virtual interface (a vlan) may, through a
 * stack changed after it joined, lead back to a laggkit interface. Every pass through such a
 * member is counted in a tag on the packet, and a packet nested deeper than this is dropped
 * instead of recursing until the kernel stack is gone.
 */
#define MTAG_LAGGKIT     0x6c6b6e74 /* "lknt" */
#define LAGGKIT_MAX_NEST 8

VNET_DEFINE_STATIC(struct if_clone *, laggkit_cloner);
#define V_laggkit_cloner VNET(laggkit_cloner)

static int laggkit_transmit(struct ifnet *ifp, struct mbuf *m);
static void laggkit_qflush(struct ifnet *ifp);
static void laggkit_init(void *xsc);
static int laggkit_ioctl(struct ifnet *ifp, u_long cmd, caddr_t data);
static int laggkit_media_change(struct ifnet *ifp);
static void laggkit_media_status(struct ifnet *ifp, struct ifmediareq *imr);

/*
 * The core promises these values equal net/if_lagg.h; the ioctl code relies on it. The two
 * sides are constants of different enums, which clang 19 (FreeBSD 15's compiler) refuses to
 * compare under -Werror (-Wenum-compare): compare them as plain ints.
 */
#define LAGGKIT_SAME(a, b) CTASSERT((int)(a) == (int)(b))
LAGGKIT_SAME(LK_PROTO_NONE, LAGG_PROTO_NONE);
LAGGKIT_SAME(LK_PROTO_ROUNDROBIN, LAGG_PROTO_ROUNDROBIN);
LAGGKIT_SAME(LK_PROTO_FAILOVER, LAGG_PROTO_FAILOVER);
LAGGKIT_SAME(LK_PROTO_LOADBALANCE, LAGG_PROTO_LOADBALANCE);
LAGGKIT_SAME(LK_PROTO_LACP, LAGG_PROTO_LACP);
LAGGKIT_SAME(LK_PROTO_BROADCAST, LAGG_PROTO_BROADCAST);
LAGGKIT_SAME(LK_PROTO_MAX, LAGG_PROTO_MAX);
CTASSERT(LK_HASH_L2 == LAGG_F_HASHL2 && LK_HASH_L3 == LAGG_F_HASHL3 && LK_HASH_L4 == LAGG_F_HASHL4);
CTASSERT(LK_PORT_MASTER == LAGG_PORT_MASTER && LK_PORT_STACK == LAGG_PORT_STACK &&
    LK_PORT_ACTIVE == LAGG_PORT_ACTIVE && LK_PORT_COLLECTING == LAGG_PORT_COLLECTING &&
    LK_PORT_DISTRIBUTING == LAGG_PORT_DISTRIBUTING);
CTASSERT(LK_MAX_PORTS == LAGG_MAX_PORTS);
CTASSERT(LK_IFNAMSIZ == IFNAMSIZ);
CTASSERT(LK_ETHER_ADDR_LEN == ETHER_ADDR_LEN);

int
laggkit_errno(int lkerr)
{
	switch (lkerr) {
	case LK_OK:
		return (0);
	case LK_EINVAL:
		return (EINVAL);
	case LK_ENOSPC:
		return (ENOSPC);
	case LK_EEXIST:
		return (EEXIST);
	case LK_ENOENT:
		return (ENOENT);
	case LK_ENOMEM:
		return (ENOMEM);
	case LK_EBUSY:
		return (EBUSY);
	case LK_EPROTO:
		return (EPROTO);
	default:
		return (EIO);
	}
}

bool
laggkit_is_aggregate(const struct ifnet *ifp)
{
	return (ifp->if_transmit == laggkit_transmit);
}

/*
 * The softc of an aggregate, held until laggkit_release(), or NULL once its destroy has
 * begun. ioctls and event handlers reach a softc through an ifnet that a caller has only
 * referenced; without this a destroy running meanwhile would free it under them.
 */
struct laggkit_softc *
laggkit_acquire(struct ifnet *ifp)
{
	struct laggkit_softc *sc = NULL;

	if (!laggkit_is_aggregate(ifp))
		return (NULL);
	mtx_lock(&laggkit_ref_mtx);
	if (ifp->if_softc != NULL) {
		sc = ifp->if_softc;
		refcount_acquire(&sc->sc_refs);
	}
	mtx_unlock(&laggkit_ref_mtx);
	return (sc);
}

static void laggkit_free(struct laggkit_softc *sc);

/* For callers that must not sleep: if_softc of an aggregate stays valid while held. */
void
laggkit_ref_lock(void)
{
	mtx_lock(&laggkit_ref_mtx);
}

void
laggkit_ref_unlock(void)
{
	mtx_unlock(&laggkit_ref_mtx);
}

void
laggkit_release(struct laggkit_softc *sc)
{
	if (refcount_release(&sc->sc_refs))
		laggkit_free(sc);
}

/*
 * Release the configuration lock. Core calls made under it may have left work that needs
 * a sleepable context (port MAC/MTU, see laggkit_var.h) and announcements that must not run
 * with the lock held, because their handlers (ours included) take it again.
 */
void
laggkit_unlock(struct laggkit_softc *sc)
{
	struct ifnet *ifp = sc->sc_ifp;
	int caps, lladdr, mtu;

	LAGGKIT_XLOCK_ASSERT(sc);
	/*
	 * The link task runs on taskqueue_thread with no VNET, and a sysctl runs in the writer's
	 * VNET, not necessarily the aggregate's. What follows reaches V_ state (routes through
	 * if_notifymtu, ARP/ND and vlan(4) through iflladdr_event, for the members too).
	 */
	CURVNET_SET_QUIET(ifp->if_vnet); /* often nested: ioctls already set it */
	if (!sc->sc_destroying)
		(void)laggkit_settle(sc);
	lladdr = sc->sc_notify_lladdr && !sc->sc_destroying;
	mtu = sc->sc_notify_mtu && !sc->sc_destroying;
	caps = sc->sc_notify_caps && !sc->sc_destroying;
	sc->sc_notify_lladdr = sc->sc_notify_mtu = sc->sc_notify_caps = 0;
	sx_xunlock(&sc->sc_sx);

	/* vlan(4) takes its lock, then ours (vlan_config): never call it holding ours */
	if (caps)
		VLAN_CAPABILITIES(ifp);
	if (lladdr)
		EVENTHANDLER_INVOKE(iflladdr_event, ifp);
#if __FreeBSD_version >= 1400000
	if (mtu)
		if_notifymtu(ifp);
#else
	(void)mtu; /* 13: the stack picks the new MTU up on its next route lookup */
#endif
	CURVNET_RESTORE();
}

/*
 * Describe an mbuf to the core without changing it. The core may read LAGGKIT_HDR_COPY bytes
 * contiguously; when the first mbuf is shorter they are copied to buf, so the frame path
 * never reshapes a chain it may still hand to a driver.
 */
void
laggkit_frame_view(struct mbuf *m, struct lk_frame *f, uint8_t *buf)
{
	uint32_t want;

	NET_EPOCH_ASSERT(); /* lk_output/lk_input read the core's table under it */
	memset(f, 0, sizeof(*f));
	f->len = m->m_pkthdr.len;
	want = MIN(f->len, LAGGKIT_HDR_COPY);
	if ((uint32_t)m->m_len >= want) {
		f->data = mtod(m, const uint8_t *);
		f->caplen = m->m_len;
	} else {
		m_copydata(m, 0, want, (caddr_t)buf);
		f->data = buf;
		f->caplen = want;
	}
	if (m->m_flags & M_VLANTAG) {
		f->has_vlan = 1;
		f->vlan_tag = m->m_pkthdr.ether_vtag;
	}
	if (M_HASHTYPE_GET(m) != M_HASHTYPE_NONE) {
		f->has_flowid = 1;
		f->flowid = m->m_pkthdr.flowid;
	}
}

/*
 * Offloads the aggregate may claim: a frame can leave through any member, so only what every
 * member has enabled (checksums, TSO, VLAN tagging and MTU), with the smallest TSO limits.
 * With no member, nothing. Members whose offloads change while they belong are re-read on
 * their next link or flag event.
 */
#define LAGGKIT_CAPS \
	(IFCAP_HWCSUM | IFCAP_HWCSUM_IPV6 | IFCAP_TSO | IFCAP_VLAN_MTU | IFCAP_VLAN_HWTAGGING | \
	    IFCAP_VLAN_HWCSUM | IFCAP_VLAN_HWTSO)

void
laggkit_update_caps(struct laggkit_softc *sc)
{
	struct ifnet *ifp = sc->sc_ifp, *pifp;
	int cap = LAGGKIT_CAPS, n = 0;
	uint64_t hwassist = ~(uint64_t)0;
	u_int tsomax = UINT_MAX, tsosegcnt = UINT_MAX, tsosegsz = UINT_MAX;

	LAGGKIT_XLOCK_ASSERT(sc);
	for (int i = 0; i < LK_MAX_PORTS; i++) {
		if (sc->sc_ports[i] == NULL || sc->sc_ports[i]->lp_departing)
			continue;
		pifp = sc->sc_ports[i]->lp_ifp;
		cap &= pifp->if_capenable;
		hwassist &= pifp->if_hwassist;
		tsomax = MIN(tsomax, pifp->if_hw_tsomax);
		tsosegcnt = MIN(tsosegcnt, pifp->if_hw_tsomaxsegcount);
		tsosegsz = MIN(tsosegsz, pifp->if_hw_tsomaxsegsize);
		n++;
	}
	if (n == 0) {
		cap = 0;
		hwassist = 0;
		tsomax = tsosegcnt = tsosegsz = 0;
	}
	if ((cap & IFCAP_TSO) == 0)
		hwassist &= ~(uint64_t)CSUM_TSO;
	if (ifp->if_capabilities != cap || ifp->if_capenable != cap || ifp->if_hwassist != hwassist) {
		ifp->if_capabilities = cap;
		ifp->if_capenable = cap;
		ifp->if_hwassist = hwassist;
		sc->sc_notify_caps = 1;
	}
	ifp->if_hw_tsomax = tsomax;
	ifp->if_hw_tsomaxsegcount = tsosegcnt;
	ifp->if_hw_tsomaxsegsize = tsosegsz;
}

/* ---- Transmit --------------------------------------------------------------------------- */

/* One more pass through a stacked member; false when the packet has nested too deep. */
static bool
laggkit_nest_ok(struct mbuf *m)
{
	struct m_tag *t;

	t = m_tag_locate(m, MTAG_LAGGKIT, 0, NULL);
	if (t == NULL) {
		t = m_tag_alloc(MTAG_LAGGKIT, 0, sizeof(u_int), M_NOWAIT);
		if (t == NULL)
			return (false);
		*(u_int *)(t + 1) = 0;
		m_tag_prepend(m, t);
	}
	return (++*(u_int *)(t + 1) <= LAGGKIT_MAX_NEST);
}

/* Hand m to every port in mask; broadcast gets copies, the last port the original. */
static int
laggkit_transmit_mask(struct laggkit_softc *sc, struct mbuf *m, uint32_t mask)
{
	struct ifnet *ifp = sc->sc_ifp, *pifp;
	struct laggkit_port *lp;
	struct mbuf *c;
	int error = 0, err, len, mcast;

	NET_EPOCH_ASSERT();
	len = m->m_pkthdr.len;
	mcast = (m->m_flags & (M_BCAST | M_MCAST)) != 0;
	while (mask != 0) {
		int i = ffs(mask) - 1;

		mask &= mask - 1;
		if (mask != 0) {
			c = m_copypacket(m, M_NOWAIT);
			if (c == NULL) {
				if_inc_counter(ifp, IFCOUNTER_OERRORS, 1);
				error = ENOBUFS;
				continue;
			}
		} else {
			c = m;
		}
		lp = atomic_load_ptr(&sc->sc_ports[i]);
		if (lp == NULL || lp->lp_departing) {
			/* removed after the core published the table we used */
			m_freem(c);
			if_inc_counter(ifp, IFCOUNTER_OERRORS, 1);
			error = ENETDOWN;
			continue;
		}
		pifp = lp->lp_ifp;
		if (lp->lp_stacked && !laggkit_nest_ok(c)) {
			static struct timeval last;
			static const struct timeval every = { 1, 0 };

			if (ratecheck(&last, &every))
				if_printf(ifp,
				    "dropping a frame nested %d deep through %s: "
				    "a transmit loop\n",
				    LAGGKIT_MAX_NEST, pifp->if_xname);
			m_freem(c);
			if_inc_counter(ifp, IFCOUNTER_OERRORS, 1);
			error = ELOOP;
			continue;
		}
		err = pifp->if_transmit(pifp, c);
		if (err != 0) {
			if_inc_counter(ifp, IFCOUNTER_OERRORS, 1);
			/*
			 * Refused for want of a carrier (iflib says ENETDOWN the moment its driver
			 * marks the link lost): stop sending there now. lagg(4) looks at
			 * if_link_state for every frame; the link event can be tens of ms behind.
			 */
			if (err == ENETDOWN && pifp->if_link_state != LINK_STATE_UP)
				laggkit_port_carrier_lost(sc, lp, true);
			error = err;
			continue;
		}
		if_inc_counter(ifp, IFCOUNTER_OPACKETS, 1);
		if_inc_counter(ifp, IFCOUNTER_OBYTES, len);
		if (mcast)
			if_inc_counter(ifp, IFCOUNTER_OMCASTS, 1);
	}
	return (error);
}

static int
laggkit_transmit(struct ifnet *ifp, struct mbuf *m)
{
	struct laggkit_softc *sc = ifp->if_softc;
	struct epoch_tracker et;
	struct lk_frame f;
	uint8_t hdr[LAGGKIT_HDR_COPY];
	uint32_t mask;
	int error;

	/* sc is NULL only for a caller that kept the ifnet referenced past its destroy */
	if (sc == NULL || (ifp->if_drv_flags & IFF_DRV_RUNNING) == 0) {
		m_freem(m);
		if_inc_counter(ifp, IFCOUNTER_OERRORS, 1);
		return (ENETDOWN);
	}
	ETHER_BPF_MTAP(ifp, m);

	/* Usually already inside the epoch (ether_output); entering again is cheap. */
	NET_EPOCH_ENTER(et);
	laggkit_frame_view(m, &f, hdr);
	mask = laggkit_core_output(sc, &f);
	if (mask == 0) {
		/* no active port or protocol none: the core has counted it */
		m_freem(m);
		if_inc_counter(ifp, IFCOUNTER_OERRORS, 1);
		error = ENETDOWN;
	} else {
		error = laggkit_transmit_mask(sc, m, mask);
	}
	NET_EPOCH_EXIT(et);
	return (error);
}

/* Nothing is queued in the aggregate: frames go straight to the members' if_transmit. */
static void
laggkit_qflush(struct ifnet *ifp __unused)
{
}

/* ---- Aggregate state: up/down, promiscuous, MTU, media -------------------------------------- */

/*
 * Bring the members along with the aggregate's IFF_UP and IFF_PROMISC, as lagg(4) does. Acts
 * on differences only, so the link task runs it too (see laggkit_xlock_flags).
 */
void
laggkit_sync_flags(struct laggkit_softc *sc)
{
	struct ifnet *ifp = sc->sc_ifp;
	bool up = (ifp->if_flags & IFF_UP) != 0;
	bool running = (ifp->if_drv_flags & IFF_DRV_RUNNING) != 0;
	bool promisc = (ifp->if_flags & IFF_PROMISC) != 0;

	LAGGKIT_XLOCK_ASSERT(sc);
	if (up && !running) {
		ifp->if_drv_flags |= IFF_DRV_RUNNING;
		laggkit_ports_updown(sc, true);
	} else if (!up && running) {
		ifp->if_drv_flags &= ~IFF_DRV_RUNNING;
		laggkit_ports_updown(sc, false);
	}
	if (promisc != (sc->sc_promisc != 0)) {
		laggkit_ports_promisc(sc, promisc);
		sc->sc_promisc = promisc;
	}
}

/*
 * sc_sx for SIOCSIFFLAGS, or false: then the link task, which syncs the flags too, is asked
 * to. vlan(4) sets a vlan's flags on its trunk holding vlan_sx (vlan_config), while a port add
 * holding sc_sx may be waiting for vlan_sx in a member vlan's ioctl (its MAC or MTU): waiting
 * here for good could deadlock. Holders that let go on their own (the link task, a status
 * read, a sysctl) are waited for a few ticks, so `ifconfig laggkit0 down` still returns with
 * the members down.
 */
#define LAGGKIT_FLAGS_TRIES 10
static bool
laggkit_xlock_flags(struct laggkit_softc *sc)
{
	for (int tries = 0; !sx_try_xlock(&sc->sc_sx); tries++) {
		if (tries == LAGGKIT_FLAGS_TRIES) {
			laggkit_link_later(sc, 1);
			return (false);
		}
		pause("lkflags", 1);
	}
	return (true);
}

static void
laggkit_init(void *xsc)
{
	struct laggkit_softc *sc = xsc;

	if (sc == NULL) /* ether_ioctl of an aggregate being destroyed */
		return;
	LAGGKIT_XLOCK(sc);
	if (!sc->sc_destroying)
		laggkit_sync_flags(sc);
	LAGGKIT_XUNLOCK(sc);
}

/*
 * The aggregate MTU goes to every member (the core asks for each port through port_set_mtu).
 * If one member refuses, every member goes back to the old MTU and the error is returned.
 */
static int
laggkit_set_mtu(struct laggkit_softc *sc, int mtu)
{
	struct ifnet *ifp = sc->sc_ifp;
	int error, old;

	LAGGKIT_XLOCK(sc);
	if (sc->sc_destroying) {
		LAGGKIT_XUNLOCK(sc);
		return (ENXIO);
	}
	old = ifp->if_mtu;
	LAGGKIT_CORE_LOCK(sc);
	error = laggkit_errno(lk_set_mtu(sc->sc_core, (uint32_t)mtu));
	LAGGKIT_CORE_UNLOCK(sc);
	if (error == 0) {
		error = laggkit_settle(sc);
		if (error != 0) {
			if_printf(
			    ifp, "a member refused MTU %d (error %d), all kept at %d\n", mtu, error, old);
			LAGGKIT_CORE_LOCK(sc);
			(void)lk_set_mtu(sc->sc_core, (uint32_t)old);
			LAGGKIT_CORE_UNLOCK(sc);
			(void)laggkit_settle(sc);
		}
	}
	if (error == 0)
		ifp->if_mtu = mtu;
	LAGGKIT_XUNLOCK(sc);
	return (error);
}

/*
 * `ifconfig laggkitN -txcsum` and the like: as lagg(4), ask every member for the requested
 * offloads (each keeps those it does not have), then offer what they now share.
 */
static int
laggkit_set_caps(struct laggkit_softc *sc, struct ifreq *ifr)
{
	struct ifreq pr;
	struct ifnet *pifp;
	int error = 0, err;

	LAGGKIT_XLOCK(sc);
	for (int i = 0; i < LK_MAX_PORTS && !sc->sc_destroying; i++) {
		if (sc->sc_ports[i] == NULL || sc->sc_ports[i]->lp_departing)
			continue;
		pifp = sc->sc_ports[i]->lp_ifp;
		memset(&pr, 0, sizeof(pr));
		strlcpy(pr.ifr_name, pifp->if_xname, sizeof(pr.ifr_name));
		/* change only the offloads the aggregate manages; keep the member's others */
		pr.ifr_reqcap = (pifp->if_capenable & ~LAGGKIT_CAPS) |
		    (ifr->ifr_reqcap & LAGGKIT_CAPS & pifp->if_capabilities);
		err = pifp->if_ioctl(pifp, SIOCSIFCAP, (caddr_t)&pr);
		if (err != 0 && error == 0)
			error = err;
	}
	laggkit_update_caps(sc);
	LAGGKIT_XUNLOCK(sc);
	return (error);
}

static int
laggkit_ioctl(struct ifnet *ifp, u_long cmd, caddr_t data)
{
	struct laggkit_softc *sc;
	struct ifreq *ifr = (struct ifreq *)data;
	int error = 0;

	/* ifioctl() referenced the ifnet, not the softc: hold it against a destroy */
	sc = laggkit_acquire(ifp);
	if (sc == NULL)
		return (ENXIO);
	if (laggkit_is_lagg_ioctl(cmd)) {
		error = laggkit_lagg_ioctl(sc, cmd, data);
		laggkit_release(sc);
		return (error);
	}

	switch (cmd) {
	case SIOCSIFFLAGS:
		if (!laggkit_xlock_flags(sc))
			break;
		if (!sc->sc_destroying)
			laggkit_sync_flags(sc);
		LAGGKIT_XUNLOCK(sc);
		break;
	case SIOCADDMULTI:
	case SIOCDELMULTI:
		/* members are in all-multicast mode while they belong to the aggregate */
		break;
	case SIOCSIFMEDIA:
	case SIOCGIFMEDIA:
		error = ifmedia_ioctl(ifp, ifr, &sc->sc_media, cmd);
		break;
	case SIOCSIFMTU:
		error = laggkit_set_mtu(sc, ifr->ifr_mtu);
		break;
	case SIOCSIFCAP:
		error = laggkit_set_caps(sc, ifr);
		break;
	default:
		error = ether_ioctl(ifp, cmd, data);
		break;
	}
	laggkit_release(sc);
	return (error);
}

/* The aggregate has no media of its own; ifconfig shows "autoselect" and the link. */
static int
laggkit_media_change(struct ifnet *ifp __unused)
{
	return (0);
}

static void
laggkit_media_status(struct ifnet *ifp, struct ifmediareq *imr)
{
	struct laggkit_softc *sc = ifp->if_softc;

	imr->ifm_status = IFM_AVALID;
	if (sc != NULL && sc->sc_link_up)
		imr->ifm_status |= IFM_ACTIVE;
	imr->ifm_active = IFM_ETHER | IFM_AUTO;
}

/* ---- Create / destroy ------------------------------------------------------------------ */

static int
laggkit_create(int unit, struct ifnet **ifpp)
{
	static const uint8_t zero_mac[ETHER_ADDR_LEN];
	struct laggkit_softc *sc;
	struct ifnet *ifp;
	int error;

	ifp = if_alloc(IFT_ETHER);
#if __FreeBSD_version < 1400000
	if (ifp == NULL) /* 14 made if_alloc() infallible */
		return (ENOSPC);
#endif
	sc = malloc(sizeof(*sc), M_LAGGKIT, M_WAITOK | M_ZERO);
	/*
	 * lk_core.h wants 64-byte alignment (a cache line per CPU slot): the softc is larger than
	 * a page, and malloc(9) aligns such allocations to at least a page.
	 */
	sc->sc_core = malloc(lk_softc_size(LAGGKIT_NCPU), M_LAGGKIT, M_WAITOK | M_ZERO);
	KASSERT(((uintptr_t)sc->sc_core & 63) == 0, ("laggkit: core softc misaligned"));
	sc->sc_ifp = ifp;
	refcount_init(&sc->sc_refs, 1);
	sx_init(&sc->sc_sx, "laggkit");
	mtx_init(&sc->sc_mtx, "laggkit core", NULL, MTX_DEF);
	callout_init_mtx(&sc->sc_callout, &sc->sc_mtx, 0);
	TIMEOUT_TASK_INIT(taskqueue_thread, &sc->sc_link_task, 0, laggkit_link_task, sc);
	TASK_INIT(&sc->sc_vlan_task, 0, laggkit_vlan_task, sc);
	STAILQ_INIT(&sc->sc_vlan_tags);
	sysctl_ctx_init(&sc->sc_sysctl);

	if_initname(ifp, LAGGKIT_NAME, unit);
	ifp->if_softc = sc;
	ifp->if_transmit = laggkit_transmit;
	ifp->if_qflush = laggkit_qflush;
	ifp->if_init = laggkit_init;
	ifp->if_ioctl = laggkit_ioctl;
	ifp->if_flags = IFF_SIMPLEX | IFF_BROADCAST | IFF_MULTICAST;
	ifp->if_capabilities = ifp->if_capenable = 0;

	LAGGKIT_CORE_LOCK(sc);
	error = laggkit_errno(lk_init(sc->sc_core, &laggkit_host_ops, sc, ifp->if_xname, LAGGKIT_NCPU));
	if (error == 0) {
		/* may arm the core's timer (a default protocol of lacp does) */
		laggkit_apply_defaults(sc);
		if (laggkit_inject_create_failure > 0) {
			laggkit_inject_create_failure--;
			error = ENOMEM;
		}
		if (error != 0) {
			/* unwind what lk_init started; the timer must not fire on freed memory */
			sc->sc_destroying = 1;
			callout_stop(&sc->sc_callout);
			lk_fini(sc->sc_core);
		}
	}
	LAGGKIT_CORE_UNLOCK(sc);
	if (error != 0) {
		callout_drain(&sc->sc_callout);
		NET_EPOCH_WAIT(); /* lk_fini retired the transmit table */
		sysctl_ctx_free(&sc->sc_sysctl);
		mtx_destroy(&sc->sc_mtx);
		sx_destroy(&sc->sc_sx);
		free(sc->sc_core, M_LAGGKIT);
		free(sc, M_LAGGKIT);
		if_free(ifp);
		return (error);
	}

	ifmedia_init(&sc->sc_media, 0, laggkit_media_change, laggkit_media_status);
	ifmedia_add(&sc->sc_media, IFM_ETHER | IFM_AUTO, 0, NULL);
	ifmedia_set(&sc->sc_media, IFM_ETHER | IFM_AUTO);
	ether_ifattach(ifp, zero_mac);

	LAGGKIT_CORE_LOCK(sc);
	sc->sc_attached = 1;
	if_link_state_change(ifp, sc->sc_link_up ? LINK_STATE_UP : LINK_STATE_DOWN);
	LAGGKIT_CORE_UNLOCK(sc);

	sx_xlock(&laggkit_sx);
	LIST_INSERT_HEAD(&laggkit_list, sc, sc_entry);
	laggkit_count++;
	laggkit_sysctl_attach(sc);
	sx_xunlock(&laggkit_sx);

	*ifpp = ifp;
	return (0);
}

/*
 * Members go first, each given back as it was (MAC, MTU, flags, input). Then nothing can
 * reach the aggregate any more (sysctls gone, callout drained, ifnet detached), the epoch
 * lets in-flight frames finish, and the interface's reference is dropped: the core is torn
 * down by whoever releases last (an ioctl that raced the destroy, or this).
 */
static void
laggkit_destroy(struct laggkit_softc *sc)
{
	struct ifnet *ifp = sc->sc_ifp;

	sx_xlock(&laggkit_sx);
	LAGGKIT_XLOCK(sc);
	LAGGKIT_CORE_LOCK(sc);
	sc->sc_destroying = 1;
	LAGGKIT_CORE_UNLOCK(sc);
	for (int i = 0; i < LK_MAX_PORTS; i++) {
		if (sc->sc_ports[i] != NULL)
			laggkit_port_del(sc, sc->sc_ports[i], LAGGKIT_LEAVE);
	}
	ifp->if_drv_flags &= ~IFF_DRV_RUNNING;
	LIST_REMOVE(sc, sc_entry);
	LAGGKIT_XUNLOCK(sc);
	sx_xunlock(&laggkit_sx);

	laggkit_sysctl_detach(sc);
	LAGGKIT_CORE_LOCK(sc);
	callout_stop(&sc->sc_callout);
	sc->sc_attached = 0;
	LAGGKIT_CORE_UNLOCK(sc);
	callout_drain(&sc->sc_callout);

	ether_ifdetach(ifp);
	NET_EPOCH_WAIT();
	taskqueue_drain_timeout(taskqueue_thread, &sc->sc_link_task);

	mtx_lock(&laggkit_ref_mtx);
	ifp->if_softc = NULL; /* laggkit_acquire() fails from now on */
	mtx_unlock(&laggkit_ref_mtx);
	laggkit_release(sc);
}

/* The last reference is gone: no ioctl, event or frame can reach sc any more. */
static void
laggkit_free(struct laggkit_softc *sc)
{
	/*
	 * Queued by vlan events before the destroy began (laggkit_vlan_forward), or by a
	 * SIOCSIFFLAGS that raced it (laggkit_xlock_flags).
	 */
	taskqueue_drain(taskqueue_thread, &sc->sc_vlan_task);
	taskqueue_drain_timeout(taskqueue_thread, &sc->sc_link_task);
	laggkit_vlan_tags_free(sc);
	LAGGKIT_CORE_LOCK(sc);
	lk_fini(sc->sc_core);
	LAGGKIT_CORE_UNLOCK(sc);

	ifmedia_removeall(&sc->sc_media);
	if_free(sc->sc_ifp);
	mtx_destroy(&sc->sc_mtx);
	sx_destroy(&sc->sc_sx);
	free(sc->sc_core, M_LAGGKIT);
	free(sc, M_LAGGKIT);

	/* counted until here, so that the module cannot unload under a late releaser */
	sx_xlock(&laggkit_sx);
	laggkit_count--;
	sx_xunlock(&laggkit_sx);
}

/*
 * ifconfig(8) registers its lagg creation callback for every name starting with "lagg", so
 * `ifconfig laggkit0 create` passes struct iflaggparam. Only Ethernet aggregates exist here.
 */
static int
laggkit_check_params(const struct iflaggparam *p)
{
	return (p->lagg_type == LAGG_TYPE_ETHERNET ? 0 : EPROTONOSUPPORT);
}

#ifdef LAGGKIT_CLONER_V2

static int
laggkit_clone_create(struct if_clone *ifc __unused, char *name __unused, size_t len __unused,
    struct ifc_data *ifd, struct ifnet **ifpp)
{
	struct iflaggparam p;
	int error;

	if (ifd->params != NULL) {
		error = ifc_copyin(ifd, &p, sizeof(p));
		if (error != 0)
			return (error);
		error = laggkit_check_params(&p);
		if (error != 0)
			return (error);
	}
	return (laggkit_create(ifd->unit, ifpp));
}

static int
laggkit_clone_destroy(struct if_clone *ifc __unused, struct ifnet *ifp, uint32_t flags __unused)
{
	laggkit_destroy(ifp->if_softc);
	return (0);
}

static void
vnet_laggkit_init(const void *unused __unused)
{
	struct if_clone_addreq req = {
		.create_f = laggkit_clone_create,
		.destroy_f = laggkit_clone_destroy,
		.flags = IFC_F_AUTOUNIT,
	};

	V_laggkit_cloner = ifc_attach_cloner(LAGGKIT_NAME, &req);
}

#else /* FreeBSD 13: if_clone_advanced */

static int
laggkit_clone_match(struct if_clone *ifc __unused, const char *name)
{
	const char *cp;

	if (strncmp(name, LAGGKIT_NAME, sizeof(LAGGKIT_NAME) - 1) != 0)
		return (0);
	for (cp = name + sizeof(LAGGKIT_NAME) - 1; *cp != '\0'; cp++) {
		if (*cp < '0' || *cp > '9')
			return (0);
	}
	return (1);
}

static int
laggkit_clone_create(struct if_clone *ifc, char *name, size_t len, caddr_t params)
{
	struct iflaggparam p;
	struct ifnet *ifp;
	int error, unit, wildcard;

	if (params != NULL) {
		error = copyin(params, &p, sizeof(p));
		if (error != 0)
			return (error);
		error = laggkit_check_params(&p);
		if (error != 0)
			return (error);
	}
	error = ifc_name2unit(name, &unit);
	if (error != 0)
		return (error);
	wildcard = (unit < 0);
	error = ifc_alloc_unit(ifc, &unit);
	if (error != 0)
		return (error);
	if (wildcard)
		snprintf(name, len, "%s%d", LAGGKIT_NAME, unit);
	error = laggkit_create(unit, &ifp);
	if (error != 0)
		ifc_free_unit(ifc, unit);
	return (error);
}

static int
laggkit_clone_destroy(struct if_clone *ifc, struct ifnet *ifp)
{
	int unit = ifp->if_dunit;

	laggkit_destroy(ifp->if_softc);
	ifc_free_unit(ifc, unit);
	return (0);
}

static void
vnet_laggkit_init(const void *unused __unused)
{
	V_laggkit_cloner = if_clone_advanced(
	    LAGGKIT_NAME, 0, laggkit_clone_match, laggkit_clone_create, laggkit_clone_destroy);
}

#endif /* LAGGKIT_CLONER_V2 */

VNET_SYSINIT(vnet_laggkit_init, SI_SUB_PROTO_IFATTACHDOMAIN, SI_ORDER_ANY, vnet_laggkit_init, NULL);

static void
vnet_laggkit_uninit(const void *unused __unused)
{
#ifdef LAGGKIT_CLONER_V2
	ifc_detach_cloner(V_laggkit_cloner);
#else
	if_clone_detach(V_laggkit_cloner);
#endif
}
VNET_SYSUNINIT(vnet_laggkit_uninit, SI_SUB_INIT_IF, SI_ORDER_ANY, vnet_laggkit_uninit, NULL);

/*
 * Runs after every VNET's cloner is gone: the last ports and transmit tables are freed by
 * epoch callbacks, which must not run after the module's code is unmapped.
 */
static void
laggkit_drain(void *unused __unused)
{
#ifdef NET_EPOCH_DRAIN_CALLBACKS
	NET_EPOCH_DRAIN_CALLBACKS();
#else /* early 13 headers have the function but not the macro */
	epoch_drain_callbacks(net_epoch_preempt);
#endif
	sx_destroy(&laggkit_sx);
	mtx_destroy(&laggkit_ref_mtx);
}
SYSUNINIT(laggkit_drain, SI_SUB_INIT_IF, SI_ORDER_FIRST, laggkit_drain, NULL);

static int
laggkit_modevent(module_t mod __unused, int type, void *data __unused)
{
	int error = 0;

	switch (type) {
	case MOD_LOAD:
		sx_init(&laggkit_sx, "laggkit list");
		mtx_init(&laggkit_ref_mtx, "laggkit softc refs", NULL, MTX_DEF);
		laggkit_port_events_init();
		break;
	case MOD_QUIESCE:
	case MOD_UNLOAD:
		/* Interfaces must be destroyed first, so their ports are given back intact. */
		sx_xlock(&laggkit_sx);
		if (laggkit_count != 0)
			error = EBUSY;
		sx_xunlock(&laggkit_sx);
		/* former members whose if_input someone else still holds keep us loaded */
		if (error == 0)
			error = laggkit_ghosts_fini();
		if (error == 0 && type == MOD_UNLOAD)
			laggkit_port_events_fini();
		break;
	default:
		error = EOPNOTSUPP;
		break;
	}
	return (error);
}

static moduledata_t laggkit_mod = { "if_laggkit", laggkit_modevent, NULL };

DECLARE_MODULE(if_laggkit, laggkit_mod, SI_SUB_PSEUDO, SI_ORDER_ANY);
MODULE_VERSION(if_laggkit, LAGGKIT_VERSION);
