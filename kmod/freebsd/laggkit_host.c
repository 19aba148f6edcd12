/*
 * if_laggkit host callbacks: struct lk_host_ops in terms of the FreeBSD kernel.
 *
 * The core calls these with sc_mtx held (configuration calls, lk_tick from the callout,
 * lk_control_input from a member's receive path), so none of them may sleep. What would
 * have to sleep (a member's MTU through its driver ioctl, its MAC through if_setlladdr) is
 * recorded here and carried out by laggkit_settle() once the mutex is dropped.
 */

#include "laggkit_var.h"

#include <sys/syslog.h>

/*
 * Every core allocation carries an epoch context in front of it, so a retired transmit table
 * can be freed after a NET_EPOCH grace period without a second allocation at retire time,
 * when failing would leave no choice but to leak or to free too early.
 */
struct laggkit_alloc_hdr {
	struct epoch_context ah_ctx;
} __aligned(16);

static struct laggkit_alloc_hdr *
laggkit_hdr_of(void *ptr)
{
	return ((struct laggkit_alloc_hdr *)ptr - 1);
}

static uint64_t
laggkit_now_ns(void *host __unused)
{
	sbintime_t sbt = sbinuptime();

	/* whole seconds and the 32-bit binary fraction separately: no overflow */
	return ((uint64_t)(sbt >> 32) * 1000000000ULL + (((uint64_t)(uint32_t)sbt * 1000000000ULL) >> 32));
}

/* The callout was initialised with sc_mtx, which callout(9) holds while this runs. */
static void
laggkit_tick(void *arg)
{
	struct laggkit_softc *sc = arg;
	struct epoch_tracker et;

	LAGGKIT_CORE_ASSERT(sc);
	if (sc->sc_destroying)
		return;
	CURVNET_SET(sc->sc_ifp->if_vnet);
	NET_EPOCH_ENTER(et); /* LACPDUs go out through if_transmit */
	lk_tick(sc->sc_core);
	NET_EPOCH_EXIT(et);
	CURVNET_RESTORE();
}

static void
laggkit_timer_arm(void *host, uint64_t delay_ns)
{
	struct laggkit_softc *sc = host;
	sbintime_t sbt;
	uint64_t sec;

	LAGGKIT_CORE_ASSERT(sc);
	if (sc->sc_destroying)
		return;
	sec = delay_ns / 1000000000ULL;
	if (sec > 3600) /* "nothing due": look again in an hour */
		sec = 3600;
	sbt = ((sbintime_t)sec << 32) + (sbintime_t)(((delay_ns % 1000000000ULL) << 32) / 1000000000ULL);
	callout_reset_sbt(&sc->sc_callout, sbt, SBT_1MS, laggkit_tick, sc, 0);
}

static int
laggkit_ctl_transmit(void *host, uint32_t port, const uint8_t *frame, uint32_t len)
{
	struct laggkit_softc *sc = host;
	struct laggkit_port *lp;
	struct epoch_tracker et;
	struct ifnet *pifp;
	struct mbuf *m;
	int error;

	LAGGKIT_CORE_ASSERT(sc); /* the core calls out only under its lock */
	if (port >= LK_MAX_PORTS)
		return (LK_ENOENT);
	m = m_get2(len, M_NOWAIT, MT_DATA, M_PKTHDR);
	if (m == NULL)
		return (LK_ENOMEM);
	memcpy(mtod(m, void *), frame, len);
	m->m_len = m->m_pkthdr.len = len;
	/*
	 * LACPDUs and markers go to a multicast group, announcements to broadcast; drivers
	 * count (and some filter) by these flags, which ether_output would have set.
	 */
	if (len >= ETHER_ADDR_LEN && ETHER_IS_MULTICAST(frame))
		m->m_flags |= ETHER_IS_BROADCAST(frame) ? M_BCAST : M_MCAST;

	/* the epoch keeps the port (freed by NET_EPOCH_CALL) and its ifnet alive */
	NET_EPOCH_ENTER(et);
	lp = atomic_load_ptr(&sc->sc_ports[port]);
	if (lp == NULL || lp->lp_departing) {
		m_freem(m);
		error = ENXIO;
	} else {
		pifp = lp->lp_ifp;
		error = pifp->if_transmit(pifp, m);
	}
	NET_EPOCH_EXIT(et);
	if (error == ENXIO)
		return (LK_ENOENT);
	return (error == 0 ? LK_OK : LK_EBUSY);
}

static int
laggkit_port_set_lladdr(void *host, uint32_t port, const uint8_t mac[LK_ETHER_ADDR_LEN])
{
	struct laggkit_softc *sc = host;

	LAGGKIT_CORE_ASSERT(sc);
	if (port >= LK_MAX_PORTS)
		return (LK_EINVAL);
	memcpy(sc->sc_pend[port].lpd_mac, mac, ETHER_ADDR_LEN);
	sc->sc_pend[port].lpd_flags |= LAGGKIT_PEND_MAC;
	return (LK_OK);
}

static int
laggkit_port_set_mtu(void *host, uint32_t port, uint32_t mtu)
{
	struct laggkit_softc *sc = host;

	LAGGKIT_CORE_ASSERT(sc);
	if (port >= LK_MAX_PORTS)
		return (LK_EINVAL);
	sc->sc_pend[port].lpd_mtu = mtu;
	sc->sc_pend[port].lpd_flags |= LAGGKIT_PEND_MTU;
	return (LK_OK);
}

static void
laggkit_lagg_lladdr_changed(void *host, const uint8_t mac[LK_ETHER_ADDR_LEN])
{
	struct laggkit_softc *sc = host;

	LAGGKIT_CORE_ASSERT(sc);
	memcpy(sc->sc_pend_lladdr, mac, ETHER_ADDR_LEN);
	sc->sc_pend_lladdr_set = 1;
}

static void
laggkit_lagg_link_changed(void *host, int up, uint64_t speed_bps)
{
	struct laggkit_softc *sc = host;
	struct ifnet *ifp = sc->sc_ifp;

	LAGGKIT_CORE_ASSERT(sc);
	sc->sc_link_up = up;
	ifp->if_baudrate = speed_bps;
	/* if_link_state_change() only queues a task, so it is safe under the mutex */
	if (sc->sc_attached)
		if_link_state_change(ifp, up ? LINK_STATE_UP : LINK_STATE_DOWN);
}

static void *
laggkit_alloc(void *host __unused, size_t size)
{
	struct laggkit_alloc_hdr *h;

	h = malloc(sizeof(*h) + size, M_LAGGKIT, M_NOWAIT | M_ZERO);
	return (h == NULL ? NULL : h + 1);
}

static void
laggkit_free(void *host __unused, void *ptr)
{
	if (ptr != NULL)
		free(laggkit_hdr_of(ptr), M_LAGGKIT);
}

static void
laggkit_retired(epoch_context_t ctx)
{
	free(__containerof(ctx, struct laggkit_alloc_hdr, ah_ctx), M_LAGGKIT);
}

static void
laggkit_retire(void *host __unused, void *old)
{
	if (old != NULL)
		NET_EPOCH_CALL(laggkit_retired, &laggkit_hdr_of(old)->ah_ctx);
}

static void
laggkit_log(void *host, int level, const char *msg)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	struct laggkit_softc *sc = host;
	struct ifnet *ifp = sc->sc_ifp;

	if (level < 0)
		level = 0;
	if (level > 3)
		level = 3;
	/* debug chatter only when asked for with `ifconfig laggkitN debug` */
	if (level == 3 && (ifp->if_flags & IFF_DEBUG) == 0)
		return;
	log(prio[level], "%s: %s\n", ifp->if_xname, msg);
}

const struct lk_host_ops laggkit_host_ops = {
	.now_ns = laggkit_now_ns,
	.timer_arm = laggkit_timer_arm,
	.ctl_transmit = laggkit_ctl_transmit,
	.port_set_lladdr = laggkit_port_set_lladdr,
	.port_set_mtu = laggkit_port_set_mtu,
	.lagg_lladdr_changed = laggkit_lagg_lladdr_changed,
	.lagg_link_changed = laggkit_lagg_link_changed,
	.alloc = laggkit_alloc,
	.free = laggkit_free,
	.retire = laggkit_retire,
	.log = laggkit_log,
};
