/*
 * laggkit.kmod: the laggkit core as a NetBSD 10 network interface, laggkitN.
 *
 * Model
 *   One struct laggkit_softc per laggkitN wraps one core aggregate. The glue translates and
 *   never decides: SIOCSLAGG/SIOCGLAGG requests go through laggkit_lrq.c (OS-free, unit-tested
 *   against the core) to core calls, mbufs become frame views, member link changes become
 *   lk_port_link(), and the core's host callbacks become kernel KPI calls.
 *
 * Receive
 *   A member's _if_input (ether_input, called from its if_percpuq softint) is replaced by
 *   laggkit_port_input(), the way bridge(4) takes its members; the original is restored when
 *   the member leaves. Accepted frames are re-queued on the aggregate's own if_percpuq, so
 *   ether_input() of laggkitN runs in its own softint and never nests inside the member's.
 *   ifp->if_lagg, which the base lagg(4) and agr(4) both use for their members (net/if.h:
 *   "lagg or agr structure"), is never touched, so both coexist with this module; their
 *   members, and bridge(4) members, are refused.
 *
 * Locks, in the order they are taken
 *   IFNET_LOCK(laggkitN)    held by ifioctl() around our ioctls; every other configuration
 *                           path (sysctl, the workqueue, a member's detach) takes it first,
 *                           as lagg(4) does (laggkit_cfg_enter()); only a member's detach
 *                           that a removal of the same member is waiting for takes sc_cfg
 *                           alone (laggkit_port_detached()).
 *   laggkit_lock (global)   the list of aggregates, the unload check, the port hash writers.
 *   sc_cfg (per aggregate)  configuration: ioctls, sysctl writes, the link work. Adaptive and
 *                           held across members' driver ioctls (MTU, MAC, promisc), which
 *                           NetBSD allows, as lagg(4) holds its LAGG_LOCK there. Then
 *                           IFNET_LOCK(member) inside it.
 *   sc_lock (per aggregate) the core's lock, IPL_SOFTNET: every lk_* call except the frame
 *                           path, because lk_control_input() runs in a member's input softint
 *                           and lk_tick() in a callout. What the core asks for that must not
 *                           happen under it (driver calls, transmit of control frames) is
 *                           recorded and carried out once it is dropped (laggkit_settle(),
 *                           laggkit_flush_ctl()).
 *   The frame path takes none of them: lk_output()/lk_input() run inside
 *   pserialize_read_enter(), which is what the core's published transmit table needs (retired
 *   tables are freed after pserialize_perform(), in the workqueue). A member found there is
 *   held with a psref while its driver transmits, so removal waits for it
 *   (psref_target_destroy()). The core counts the frame path in one slot per CPU (ncpu of
 *   them) with plain adds; inside the read section (IPL_SOFTSERIAL: no preemption, no
 *   softint) the current CPU's slot is ours alone, as a percpu if_stats counter is.
 *
 * Limits: see README.md.
 */

#include <sys/cdefs.h>

#include <sys/param.h>
#include <sys/types.h>
#include <sys/atomic.h>
#include <sys/callout.h>
#include <sys/cprng.h>
#include <sys/cpu.h>
#include <sys/errno.h>
#include <sys/evcnt.h>
#include <sys/kernel.h>
#include <sys/kmem.h>
#include <sys/lwp.h>
#include <sys/mbuf.h>
#include <sys/module.h>
#include <sys/proc.h>
#include <sys/mutex.h>
#include <sys/pserialize.h>
#include <sys/pslist.h>
#include <sys/psref.h>
#include <sys/queue.h>
#include <sys/sockio.h>
#include <sys/sysctl.h>
#include <sys/syslog.h>
#include <sys/systm.h>
#include <sys/time.h>
#include <sys/workqueue.h>

#include <net/bpf.h>
#include <net/if.h>
#include <net/if_dl.h>
#include <net/if_ether.h>
#include <net/if_media.h>
#include <net/if_types.h>
#include <net/lagg/if_lagg.h>
#include <prop/proplib.h>

#include "lk_core.h"
#include "laggkit_lrq.h"

#define LAGGKIT_NAME "laggkit"
#ifndef LAGGKIT_BUILD_ID /* set by the Makefile from LAGGKIT_BUILD_ID= */
#define LAGGKIT_BUILD_ID "unknown"
#endif
#define LAGGKIT_HDR_COPY         128  /* bytes the core may read contiguously (lk_core.h) */
#define LAGGKIT_CTL_MAX          256  /* largest slow-protocols frame handed to the core */
#define LAGGKIT_CTLQ             32   /* control frames queued under sc_lock before sending */
#define LAGGKIT_PORTHASH         64   /* buckets of the ifnet -> member lookup */
#define LAGGKIT_STATUS_MAX       4096 /* sysctl net.laggkit.<if>.status */
#define ETHERTYPE_SLOW_PROTOCOLS 0x8809
#define SLOWPROTOCOLS_LACP       0x01

/*
 * The copy of NetBSD's ABI in laggkit_lrq.h must be the kernel's: every size and offset the
 * translation relies on, checked against sys/net/lagg/if_lagg.h of the tree being built.
 */
#define LAGGKIT_SAME(a, b, m) __CTASSERT(LKN_OFFSETOF(struct a, m) == LKN_OFFSETOF(struct b, m))
__CTASSERT(sizeof(struct lagg_req) == sizeof(struct lkn_lagg_req));
__CTASSERT(sizeof(struct laggreqport) == sizeof(struct lkn_laggreqport));
__CTASSERT(sizeof(struct laggreqproto) == sizeof(struct lkn_laggreqproto));
__CTASSERT(sizeof(struct laggreq_lacpport) == sizeof(struct lkn_laggreq_lacpport));
LAGGKIT_SAME(lagg_req, lkn_lagg_req, lrq_ioctl);
LAGGKIT_SAME(lagg_req, lkn_lagg_req, lrq_proto);
LAGGKIT_SAME(lagg_req, lkn_lagg_req, lrq_nports);
LAGGKIT_SAME(lagg_req, lkn_lagg_req, lrq_reqproto);
LAGGKIT_SAME(lagg_req, lkn_lagg_req, lrq_reqports);
LAGGKIT_SAME(laggreqport, lkn_laggreqport, rp_prio);
LAGGKIT_SAME(laggreqport, lkn_laggreqport, rp_flags);
LAGGKIT_SAME(laggreqport, lkn_laggreqport, rp_port);
LAGGKIT_SAME(laggreq_lacp, lkn_laggreq_lacp, maxports);
LAGGKIT_SAME(laggreq_lacp, lkn_laggreq_lacp, actor_key);
LAGGKIT_SAME(laggreq_lacp, lkn_laggreq_lacp, partner_key);
LAGGKIT_SAME(laggreq_lacpport, lkn_laggreq_lacpport, actor_state);
LAGGKIT_SAME(laggreq_lacpport, lkn_laggreq_lacpport, partner_state);
__CTASSERT(LAGG_PROTO_LACP == LKN_PROTO_LACP && LAGG_PROTO_MAX == LKN_PROTO_MAX);
__CTASSERT(LAGG_PORT_STANDBY == LKN_PORT_STANDBY && LAGGREQLACP_MULTILS == LKN_LACP_MULTILS);
__CTASSERT(LAGGIOC_SETPORTPRI == LKN_IOC_SETPORTPRI && LAGGREQFAIL_RXALL == LKN_FAIL_RXALL);

/* A member port. */
struct laggkit_port {
	struct laggkit_softc *lp_sc;
	struct ifnet *lp_ifp;                            /* valid until its ifdetach hook removes us */
	uint32_t lp_index;                               /* the core's handle, bit in its port masks */
	void (*lp_input)(struct ifnet *, struct mbuf *); /* restored on leave */
	struct psref_target lp_psref;                    /* frame path holders */
	struct pslist_entry lp_hash;                     /* laggkit_porthash, read under pserialize */
	void *lp_linkhook;
	void *lp_detachhook;
	bool lp_promisc;   /* we hold an ifpromisc() reference */
	bool lp_detaching; /* sc_lock: its detach hook owns the removal */
	bool lp_removing;  /* sc_lock: a removal waits for its detach hook */
	bool lp_gone;      /* sc_cfg: that hook took it out for the waiter */
};

/* A core request that needs a sleepable context, recorded under sc_lock. */
#define LAGGKIT_PEND_MAC 0x1
#define LAGGKIT_PEND_MTU 0x2
struct laggkit_pending {
	uint32_t flags;
	uint32_t mtu;
	uint8_t mac[ETHER_ADDR_LEN];
};

struct laggkit_ctlframe {
	uint32_t port;
	struct mbuf *m;
};

/* Work the workqueue does (sc_work_flags). */
#define LAGGKIT_WORK_LINK   0x1 /* re-read every member's link and media */
#define LAGGKIT_WORK_RETIRE 0x2 /* free retired transmit tables after a grace period */

/* Every core allocation carries its size (kmem_intr_free needs it) and a retire link. */
struct laggkit_mem {
	size_t lm_size;
	struct laggkit_mem *lm_next;
} __aligned(16);

struct laggkit_softc {
	struct ethercom sc_ec; /* first: the ifnet is sc_ec.ec_if */
	struct lk_softc *sc_core;
	void *sc_core_mem;    /* sc_core before 64-byte alignment */
	size_t sc_core_alloc; /* bytes at sc_core_mem */
	kmutex_t sc_cfg;
	kmutex_t sc_lock;
	pserialize_t sc_psz;
	struct ifmedia sc_media;
	struct callout sc_tick; /* the core's timer */
	struct workqueue *sc_wq;
	struct work sc_work;
	volatile unsigned sc_work_queued;
	uint32_t sc_work_flags;         /* sc_lock */
	struct laggkit_mem *sc_retired; /* sc_lock */
	/* by core port index; written under sc_cfg, read on the frame path */
	struct laggkit_port *sc_ports[LK_MAX_PORTS];
	struct laggkit_pending sc_pend[LK_MAX_PORTS]; /* sc_lock */
	uint8_t sc_pend_lladdr[ETHER_ADDR_LEN];
	bool sc_pend_lladdr_set;                       /* sc_lock */
	struct laggkit_ctlframe sc_ctlq[LAGGKIT_CTLQ]; /* sc_lock */
	u_int sc_nctl;
	struct lkn_state sc_nstate; /* sc_lock */
	bool sc_dying;              /* sc_lock: no more ticks or work */
	char sc_evgroup[IFNAMSIZ];
	struct evcnt sc_ev_rx_ctl;    /* slow-protocols frames to the core */
	struct evcnt sc_ev_rx_drop;   /* dropped by the core on input */
	struct evcnt sc_ev_tx_noport; /* no member to send on */
	struct evcnt sc_ev_tx_error;  /* a member's transmit failed */
	struct evcnt sc_ev_ctl_drop;  /* control frame lost: no mbuf, queue full */
	struct evcnt sc_ev_stopdu;    /* LACPDUs not sent (lagglacp stopdu) */
	struct sysctllog *sc_sysctllog;
	LIST_ENTRY(laggkit_softc) sc_entry;
};
#define sc_if sc_ec.ec_if

static kmutex_t laggkit_lock;
static LIST_HEAD(, laggkit_softc) laggkit_list = LIST_HEAD_INITIALIZER(laggkit_list);
static u_int laggkit_count;    /* laggkit_lock */
static bool laggkit_unloading; /* laggkit_lock */
static struct pslist_head laggkit_porthash[LAGGKIT_PORTHASH];
static pserialize_t laggkit_psz; /* the port hash's writers */
static struct psref_class *laggkit_port_class;
static struct sysctllog *laggkit_sysctllog;
static const struct sysctlnode *laggkit_sysctl_root;
/*
 * What every new laggkitN starts with, from the module's load properties: an
 * /etc/modules.conf line `laggkit -i rr_limit=4 -s proto=roundrobin` becomes
 * `modload -i rr_limit=4 -s proto=roundrobin laggkit` at boot (rc.d/modules), so options
 * without an ifconfig word persist, host-wide, without shell lines in ifconfig.laggkitN.
 */
static uint32_t laggkit_default_value[LK_OPT_MAX];
static uint32_t laggkit_default_set;   /* bit (1 << enum lk_opt) per value given */
static int laggkit_default_proto = -1; /* enum lk_proto, or -1 */

static int laggkit_clone_create(struct if_clone *, int);
static int laggkit_clone_destroy(struct ifnet *);
static struct if_clone laggkit_cloner =
    IF_CLONE_INITIALIZER(LAGGKIT_NAME, laggkit_clone_create, laggkit_clone_destroy);

static int laggkit_ioctl(struct ifnet *, u_long, void *);
static int laggkit_port_remove(struct laggkit_softc *, struct laggkit_port *, bool);
static void laggkit_flush_ctl(struct laggkit_softc *);
static void laggkit_schedule(struct laggkit_softc *, uint32_t);

static int
laggkit_errno(int e)
{
	switch (e) {
	case LK_OK:
		return 0;
	case LK_EINVAL:
		return EINVAL;
	case LK_ENOSPC:
		return ENOSPC;
	case LK_EEXIST:
		return EEXIST;
	case LK_ENOENT:
		return ENOENT;
	case LK_ENOMEM:
		return ENOMEM;
	case LK_EBUSY:
		return EBUSY;
	case LK_EPROTO:
		return EPROTO;
	case LKN_ENOTTY:
		return ENOTTY;
	case LKN_EPROTONOSUPPORT:
		return EPROTONOSUPPORT;
	case LKN_ENOBUFS:
		return ENOBUFS;
	case LKN_ERANGE:
		return ERANGE;
	case LKN_EPROTOMISMATCH:
		return EBUSY; /* lagg(4)'s answer */
	default:
		return EIO;
	}
}

/* Configuration from outside an ioctl: the aggregate's IFNET_LOCK first (see the top). */
static void
laggkit_cfg_enter(struct laggkit_softc *sc)
{
	IFNET_LOCK(&sc->sc_if);
	mutex_enter(&sc->sc_cfg);
}

static void
laggkit_cfg_exit(struct laggkit_softc *sc)
{
	mutex_exit(&sc->sc_cfg);
	IFNET_UNLOCK(&sc->sc_if);
}

/* ---- The core's host callbacks (called with sc_lock held) ----------------------------------- */

static uint64_t
laggkit_now_ns(void *host)
{
	struct timespec ts;

	(void)host;
	nanouptime(&ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void
laggkit_timer_arm(void *host, uint64_t delay_ns)
{
	struct laggkit_softc *sc = host;
	uint64_t nticks = delay_ns / (1000000000ull / hz) + 1;

	if (!sc->sc_dying)
		callout_schedule(&sc->sc_tick, (int)MIN(nticks, (uint64_t)INT32_MAX));
}

static bool
laggkit_is_lacpdu(const uint8_t *frame, uint32_t len)
{
	return len > ETHER_HDR_LEN && ((frame[12] << 8) | frame[13]) == ETHERTYPE_SLOW_PROTOCOLS &&
	    frame[ETHER_HDR_LEN] == SLOWPROTOCOLS_LACP;
}

/* lagglacp dumpdu: one line per LACPDU, actor and partner TLVs in hex as on the wire. */
static void
laggkit_dump_pdu(struct laggkit_softc *sc, const char *dir, uint32_t port, const uint8_t *frame, uint32_t len)
{
	char hex[2 * 2 * 20 + 1];
	static const char digits[] = "0123456789abcdef";
	u_int n = 0;

	/* actor information TLV at 16, partner at 36: 20 bytes each */
	for (uint32_t i = ETHER_HDR_LEN + 2; i < ETHER_HDR_LEN + 42 && i < len; i++) {
		hex[n++] = digits[frame[i] >> 4];
		hex[n++] = digits[frame[i] & 0xf];
	}
	hex[n] = '\0';
	log(LOG_DEBUG, "%s: %s LACPDU port %u: %s\n", sc->sc_if.if_xname, dir, port, hex);
}

static int
laggkit_ctl_transmit(void *host, uint32_t port, const uint8_t *frame, uint32_t len)
{
	struct laggkit_softc *sc = host;
	struct mbuf *m;

	KASSERT(mutex_owned(&sc->sc_lock));
	if (laggkit_is_lacpdu(frame, len)) {
		if (sc->sc_nstate.lacp_debug & LKN_LACP_STOPDU) {
			sc->sc_ev_stopdu.ev_count++;
			return 0;
		}
		if (sc->sc_nstate.lacp_debug & LKN_LACP_DUMPDU)
			laggkit_dump_pdu(sc, "tx", port, frame, len);
	}
	if (sc->sc_nctl == LAGGKIT_CTLQ || len > MCLBYTES) {
		sc->sc_ev_ctl_drop.ev_count++;
		return ENOBUFS;
	}
	m = m_gethdr(M_DONTWAIT, MT_DATA);
	if (m != NULL && len > MHLEN) {
		MCLGET(m, M_DONTWAIT);
		if ((m->m_flags & M_EXT) == 0) {
			m_freem(m);
			m = NULL;
		}
	}
	if (m == NULL) {
		sc->sc_ev_ctl_drop.ev_count++;
		return ENOBUFS;
	}
	memcpy(mtod(m, void *), frame, len);
	m->m_len = m->m_pkthdr.len = len;
	sc->sc_ctlq[sc->sc_nctl].port = port;
	sc->sc_ctlq[sc->sc_nctl].m = m;
	sc->sc_nctl++;
	return 0;
}

static int
laggkit_port_set_lladdr(void *host, uint32_t port, const uint8_t mac[LK_ETHER_ADDR_LEN])
{
	struct laggkit_softc *sc = host;

	memcpy(sc->sc_pend[port].mac, mac, ETHER_ADDR_LEN);
	sc->sc_pend[port].flags |= LAGGKIT_PEND_MAC;
	return 0;
}

static int
laggkit_port_set_mtu(void *host, uint32_t port, uint32_t mtu)
{
	struct laggkit_softc *sc = host;

	sc->sc_pend[port].mtu = mtu;
	sc->sc_pend[port].flags |= LAGGKIT_PEND_MTU;
	return 0;
}

static void
laggkit_lladdr_changed(void *host, const uint8_t mac[LK_ETHER_ADDR_LEN])
{
	struct laggkit_softc *sc = host;

	memcpy(sc->sc_pend_lladdr, mac, ETHER_ADDR_LEN);
	sc->sc_pend_lladdr_set = true;
}

static void
laggkit_link_changed(void *host, int up, uint64_t speed_bps)
{
	struct laggkit_softc *sc = host;

	sc->sc_if.if_baudrate = speed_bps;
	/* if_link_state_change() only records the change and defers the work: safe here */
	if_link_state_change(&sc->sc_if, up ? LINK_STATE_UP : LINK_STATE_DOWN);
}

static void *
laggkit_alloc(void *host, size_t size)
{
	struct laggkit_mem *lm;

	(void)host;
	lm = kmem_intr_zalloc(sizeof(*lm) + size, KM_NOSLEEP);
	if (lm == NULL)
		return NULL;
	lm->lm_size = sizeof(*lm) + size;
	return lm + 1;
}

static void
laggkit_free(void *host, void *ptr)
{
	struct laggkit_mem *lm;

	(void)host;
	if (ptr == NULL)
		return;
	lm = (struct laggkit_mem *)ptr - 1;
	kmem_intr_free(lm, lm->lm_size);
}

/* A transmit table the frame path may still read: freed by the work after a grace period. */
static void
laggkit_retire(void *host, void *old)
{
	struct laggkit_softc *sc = host;
	struct laggkit_mem *lm = (struct laggkit_mem *)old - 1;

	lm->lm_next = sc->sc_retired;
	sc->sc_retired = lm;
	laggkit_schedule(sc, LAGGKIT_WORK_RETIRE);
}

static void
laggkit_core_log(void *host, int level, const char *msg)
{
	struct laggkit_softc *sc = host;
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

	log(prio[level < 0 ? 0 : level > 3 ? 3 : level], "%s: %s\n", sc->sc_if.if_xname, msg);
}

static const struct lk_host_ops laggkit_host_ops = {
	.now_ns = laggkit_now_ns,
	.timer_arm = laggkit_timer_arm,
	.ctl_transmit = laggkit_ctl_transmit,
	.port_set_lladdr = laggkit_port_set_lladdr,
	.port_set_mtu = laggkit_port_set_mtu,
	.lagg_lladdr_changed = laggkit_lladdr_changed,
	.lagg_link_changed = laggkit_link_changed,
	.alloc = laggkit_alloc,
	.free = laggkit_free,
	.retire = laggkit_retire,
	.log = laggkit_core_log,
};

/* ---- Deferred work ------------------------------------------------------------------------- */

/*
 * Send what the core queued under sc_lock: a member is held by psref, not by a lock, while
 * its driver transmits. Any context; binds the LWP for the psref.
 */
static void
laggkit_flush_ctl(struct laggkit_softc *sc)
{
	struct laggkit_ctlframe q[LAGGKIT_CTLQ];
	struct laggkit_port *lp;
	struct psref psref;
	u_int n;
	int s, bound;

	mutex_enter(&sc->sc_lock);
	n = sc->sc_nctl;
	memcpy(q, sc->sc_ctlq, n * sizeof(q[0]));
	sc->sc_nctl = 0;
	mutex_exit(&sc->sc_lock);
	if (n == 0)
		return;
	bound = curlwp_bind();
	for (u_int i = 0; i < n; i++) {
		s = pserialize_read_enter();
		lp = atomic_load_consume(&sc->sc_ports[q[i].port]);
		if (lp == NULL) {
			pserialize_read_exit(s);
			m_freem(q[i].m);
			continue;
		}
		psref_acquire(&psref, &lp->lp_psref, laggkit_port_class);
		pserialize_read_exit(s);
		if (if_transmit_lock(lp->lp_ifp, q[i].m) != 0)
			sc->sc_ev_tx_error.ev_count++;
		psref_release(&psref, &lp->lp_psref, laggkit_port_class);
	}
	curlwp_bindx(bound);
}

/*
 * Carry out the driver calls the core asked for (member MAC and MTU, the aggregate's MAC).
 * sc_cfg held, sc_lock not: drivers may sleep. A member leaving is settled by the caller with
 * its own record (laggkit_port_remove), since sc_ports[] no longer holds it.
 */
static void
laggkit_settle_one(struct ifnet *pifp, const struct laggkit_pending *pd)
{
	struct ifreq ifr;

	if (pd->flags & LAGGKIT_PEND_MAC) {
		IFNET_LOCK(pifp);
		if_set_sadl(pifp, pd->mac, ETHER_ADDR_LEN, false);
		/* an Ethernet driver programs its filter from if_sadl when it is (re)initialised */
		if (pifp->if_flags & IFF_RUNNING)
			(void)if_init(pifp);
		IFNET_UNLOCK(pifp);
	}
	if (pd->flags & LAGGKIT_PEND_MTU) {
		memset(&ifr, 0, sizeof(ifr));
		ifr.ifr_mtu = pd->mtu;
		IFNET_LOCK(pifp);
		(void)if_ioctl(pifp, SIOCSIFMTU, &ifr);
		IFNET_UNLOCK(pifp);
	}
}

static void
laggkit_settle(struct laggkit_softc *sc)
{
	struct laggkit_pending pend[LK_MAX_PORTS];
	uint8_t lladdr[ETHER_ADDR_LEN];
	bool lladdr_set;

	KASSERT(mutex_owned(&sc->sc_cfg));
	mutex_enter(&sc->sc_lock);
	memcpy(pend, sc->sc_pend, sizeof(pend));
	memset(sc->sc_pend, 0, sizeof(sc->sc_pend));
	memcpy(lladdr, sc->sc_pend_lladdr, sizeof(lladdr));
	lladdr_set = sc->sc_pend_lladdr_set;
	sc->sc_pend_lladdr_set = false;
	mutex_exit(&sc->sc_lock);

	for (u_int i = 0; i < LK_MAX_PORTS; i++) {
		if (pend[i].flags != 0 && sc->sc_ports[i] != NULL)
			laggkit_settle_one(sc->sc_ports[i]->lp_ifp, &pend[i]);
	}
	if (lladdr_set) {
		KASSERT(IFNET_LOCKED(&sc->sc_if));
		if_set_sadl(&sc->sc_if, lladdr, ETHER_ADDR_LEN, false);
	}
	laggkit_flush_ctl(sc);
}

static void
laggkit_schedule(struct laggkit_softc *sc, uint32_t what)
{
	KASSERT(mutex_owned(&sc->sc_lock));
	if (sc->sc_dying)
		return;
	sc->sc_work_flags |= what;
	/* a struct work must not be enqueued twice */
	if (atomic_swap_uint(&sc->sc_work_queued, 1) == 0)
		workqueue_enqueue(sc->sc_wq, &sc->sc_work, NULL);
}

/*
 * Link, speed and duplex of a member, as its media ioctl reports them. A member of an
 * aggregate that is not running counts as down: the aggregate is not there to carry what a
 * partner would send once LACP agreed, and its first LACPDUs go out when it comes up.
 */
static void
laggkit_port_refresh(struct laggkit_softc *sc, struct laggkit_port *lp)
{
	struct ifnet *pifp = lp->lp_ifp;
	struct ifmediareq ifmr;
	enum lk_duplex duplex = LK_DUPLEX_UNKNOWN;
	uint64_t speed = 0;
	int up;

	memset(&ifmr, 0, sizeof(ifmr));
	IFNET_LOCK(pifp);
	if (if_ioctl(pifp, SIOCGIFMEDIA, &ifmr) == 0 && (ifmr.ifm_status & IFM_AVALID)) {
		speed = ifmedia_baudrate(ifmr.ifm_active);
		duplex = (ifmr.ifm_active & IFM_FDX) ? LK_DUPLEX_FULL : LK_DUPLEX_HALF;
	}
	IFNET_UNLOCK(pifp);
	if (speed == 0)
		speed = pifp->if_baudrate;
	up = pifp->if_link_state != LINK_STATE_DOWN && (pifp->if_flags & IFF_UP) != 0 &&
	    (sc->sc_if.if_flags & IFF_RUNNING) != 0;
	mutex_enter(&sc->sc_lock);
	(void)lk_port_link(sc->sc_core, lp->lp_index, up, speed, duplex);
	mutex_exit(&sc->sc_lock);
}

static void
laggkit_work(struct work *wk, void *arg)
{
	struct laggkit_softc *sc = arg;
	struct laggkit_mem *retired, *lm;
	uint32_t what;

	(void)wk;
	atomic_swap_uint(&sc->sc_work_queued, 0);
	mutex_enter(&sc->sc_lock);
	what = sc->sc_work_flags;
	sc->sc_work_flags = 0;
	retired = sc->sc_retired;
	sc->sc_retired = NULL;
	mutex_exit(&sc->sc_lock);

	if (what & LAGGKIT_WORK_LINK) {
		laggkit_cfg_enter(sc);
		for (u_int i = 0; i < LK_MAX_PORTS; i++) {
			if (sc->sc_ports[i] != NULL)
				laggkit_port_refresh(sc, sc->sc_ports[i]);
		}
		laggkit_settle(sc);
		laggkit_cfg_exit(sc);
	}
	if (retired != NULL) {
		/* no lk_output/lk_input still inside a read section that saw these tables */
		pserialize_perform(sc->sc_psz);
		while ((lm = retired) != NULL) {
			retired = lm->lm_next;
			kmem_intr_free(lm, lm->lm_size);
		}
	}
}

static void
laggkit_tick(void *arg)
{
	struct laggkit_softc *sc = arg;

	mutex_enter(&sc->sc_lock);
	if (!sc->sc_dying)
		lk_tick(sc->sc_core);
	mutex_exit(&sc->sc_lock);
	laggkit_flush_ctl(sc);
}

/* ---- Frames -------------------------------------------------------------------------------- */

static void
laggkit_frame_view(struct mbuf *m, struct lk_frame *f, uint8_t *buf)
{
	uint32_t want;

	memset(f, 0, sizeof(*f));
	f->len = m->m_pkthdr.len;
	want = MIN(f->len, LAGGKIT_HDR_COPY);
	if ((uint32_t)m->m_len >= want) {
		f->data = mtod(m, const uint8_t *);
		f->caplen = m->m_len;
	} else {
		m_copydata(m, 0, want, buf);
		f->data = buf;
		f->caplen = want;
	}
	if (vlan_has_tag(m)) {
		f->has_vlan = 1;
		f->vlan_tag = vlan_get_tag(m);
	}
	/* NetBSD's mbufs carry no NIC flow id: the core hashes the headers */
}

static struct laggkit_port *
laggkit_port_lookup(const struct ifnet *pifp)
{
	struct laggkit_port *lp;
	u_int b = pifp->if_index % LAGGKIT_PORTHASH;

	PSLIST_READER_FOREACH(lp, &laggkit_porthash[b], struct laggkit_port, lp_hash)
	{
		if (lp->lp_ifp == pifp)
			return lp;
	}
	return NULL;
}

/* A member's _if_input: its if_percpuq softint calls it for every received frame. */
static void
laggkit_port_input(struct ifnet *pifp, struct mbuf *m)
{
	uint8_t hdr[LAGGKIT_HDR_COPY], ctl[LAGGKIT_CTL_MAX];
	struct laggkit_softc *sc;
	struct laggkit_port *lp;
	enum lk_rx_verdict verdict;
	struct lk_frame f;
	struct psref psref;
	uint32_t len;
	int s;

	s = pserialize_read_enter();
	lp = laggkit_port_lookup(pifp);
	if (lp == NULL) {
		/* left between the driver's dequeue and here: its own input is back in place */
		pserialize_read_exit(s);
		ether_input(pifp, m);
		return;
	}
	psref_acquire(&psref, &lp->lp_psref, laggkit_port_class);
	pserialize_read_exit(s);
	sc = lp->lp_sc;

	laggkit_frame_view(m, &f, hdr);
	s = pserialize_read_enter();
	verdict = lk_input(sc->sc_core, cpu_index(curcpu()), lp->lp_index, &f);
	pserialize_read_exit(s);

	switch (verdict) {
	case LK_RX_ACCEPT:
		m_set_rcvif(m, &sc->sc_if);
		m->m_flags &= ~M_PROMISC;
		if_percpuq_enqueue(sc->sc_if.if_percpuq, m);
		break;
	case LK_RX_CONTROL:
		len = MIN((uint32_t)m->m_pkthdr.len, LAGGKIT_CTL_MAX);
		m_copydata(m, 0, len, ctl);
		m_freem(m);
		mutex_enter(&sc->sc_lock);
		sc->sc_ev_rx_ctl.ev_count++;
		if ((sc->sc_nstate.lacp_debug & LKN_LACP_DUMPDU) && laggkit_is_lacpdu(ctl, len))
			laggkit_dump_pdu(sc, "rx", lp->lp_index, ctl, len);
		(void)lk_control_input(sc->sc_core, lp->lp_index, ctl, len);
		mutex_exit(&sc->sc_lock);
		laggkit_flush_ctl(sc);
		break;
	case LK_RX_DROP:
	default:
		sc->sc_ev_rx_drop.ev_count++;
		m_freem(m);
		break;
	}
	psref_release(&psref, &lp->lp_psref, laggkit_port_class);
}

static int
laggkit_send_on(struct laggkit_softc *sc, uint32_t idx, struct mbuf *m)
{
	struct laggkit_port *lp;
	struct psref psref;
	int s, error;

	s = pserialize_read_enter();
	lp = atomic_load_consume(&sc->sc_ports[idx]);
	if (lp == NULL) {
		pserialize_read_exit(s);
		m_freem(m);
		return ENETDOWN;
	}
	psref_acquire(&psref, &lp->lp_psref, laggkit_port_class);
	pserialize_read_exit(s);
	error = if_transmit_lock(lp->lp_ifp, m);
	psref_release(&psref, &lp->lp_psref, laggkit_port_class);
	return error;
}

static int
laggkit_transmit(struct ifnet *ifp, struct mbuf *m)
{
	struct laggkit_softc *sc = ifp->if_softc;
	uint8_t hdr[LAGGKIT_HDR_COPY];
	struct lk_frame f;
	struct mbuf *copy;
	uint32_t mask, len = m->m_pkthdr.len;
	int s, bound, error = 0;
	bool mcast = (m->m_flags & M_MCAST) != 0;

	bpf_mtap(ifp, m, BPF_D_OUT);
	laggkit_frame_view(m, &f, hdr);
	s = pserialize_read_enter();
	mask = lk_output(sc->sc_core, cpu_index(curcpu()), &f);
	pserialize_read_exit(s);
	if (mask == 0) {
		/* no active member, or protocol none: the core has counted it */
		sc->sc_ev_tx_noport.ev_count++;
		m_freem(m);
		if_statinc(ifp, if_oerrors);
		return ENETDOWN;
	}
	bound = curlwp_bind();
	while (mask != 0) {
		uint32_t idx = (uint32_t)__builtin_ctz(mask);

		mask &= mask - 1;
		/* broadcast: every member but the last gets a copy */
		copy = mask != 0 ? m_copym(m, 0, M_COPYALL, M_DONTWAIT) : m;
		if (copy == NULL) {
			sc->sc_ev_tx_error.ev_count++;
			continue;
		}
		if (laggkit_send_on(sc, idx, copy) != 0) {
			sc->sc_ev_tx_error.ev_count++;
			error = EIO;
		}
	}
	curlwp_bindx(bound);
	if (error == 0) {
		net_stat_ref_t nsr = IF_STAT_GETREF(ifp);

		if_statinc_ref(nsr, if_opackets);
		if_statadd_ref(nsr, if_obytes, len);
		if (mcast)
			if_statinc_ref(nsr, if_omcasts);
		IF_STAT_PUTREF(ifp);
	} else {
		if_statinc(ifp, if_oerrors);
	}
	return error;
}

static void
laggkit_start(struct ifnet *ifp)
{
	struct mbuf *m;

	for (;;) {
		IFQ_DEQUEUE(&ifp->if_snd, m);
		if (m == NULL)
			break;
		(void)laggkit_transmit(ifp, m);
	}
}

/* ---- Members ------------------------------------------------------------------------------- */

static void
laggkit_port_linkstate(void *arg)
{
	struct laggkit_port *lp = arg;
	struct laggkit_softc *sc = lp->lp_sc;

	mutex_enter(&sc->sc_lock);
	laggkit_schedule(sc, LAGGKIT_WORK_LINK);
	mutex_exit(&sc->sc_lock);
}

/*
 * The member's driver is detaching: it leaves now, touching nothing more on it. Marked first,
 * under the short lock, so that a removal racing for the configuration locks leaves it to us.
 *
 * A removal that got there first (lp_removing) holds IFNET_LOCK(laggkitN) and waits for this
 * hook in ether_ifdetachhook_disestablish(), which lets go of sc_cfg, the lock handed to it,
 * while it waits. Taking IFNET_LOCK(laggkitN) here would deadlock with it, so the member is
 * taken out under sc_cfg alone and left to that removal to free and settle.
 */
static void
laggkit_port_detached(void *arg)
{
	struct laggkit_port *lp = arg;
	struct laggkit_softc *sc = lp->lp_sc;
	bool awaited;

	IFNET_ASSERT_UNLOCKED(lp->lp_ifp);
	mutex_enter(&sc->sc_lock);
	lp->lp_detaching = true;
	awaited = lp->lp_removing;
	mutex_exit(&sc->sc_lock);
	if (awaited) {
		mutex_enter(&sc->sc_cfg);
		(void)laggkit_port_remove(sc, lp, true);
		lp->lp_gone = true;
		mutex_exit(&sc->sc_cfg);
		return;
	}
	laggkit_cfg_enter(sc);
	(void)laggkit_port_remove(sc, lp, true);
	laggkit_settle(sc);
	laggkit_cfg_exit(sc);
	kmem_free(lp, sizeof(*lp));
}

static bool
laggkit_port_refused(struct laggkit_softc *sc, struct ifnet *pifp, int *error)
{
	*error = 0;
	if (pifp == &sc->sc_if || pifp->if_ioctl == laggkit_ioctl)
		*error = EINVAL; /* no aggregate of aggregates */
	else if (pifp->if_type != IFT_ETHER)
		*error = EPROTONOSUPPORT;
	else if (pifp->if_lagg != NULL || pifp->if_bridge != NULL || pifp->_if_input != ether_input)
		*error = EBUSY; /* lagg(4) or agr(4) (both use if_lagg), bridge(4), a laggkit */
	return *error != 0;
}

static int
laggkit_port_add(struct laggkit_softc *sc, const char *name, uint16_t prio)
{
	struct lk_port_info info;
	struct laggkit_port *lp = NULL;
	struct ifnet *pifp;
	struct psref psref;
	uint32_t idx;
	int bound, error;

	KASSERT(mutex_owned(&sc->sc_cfg));
	bound = curlwp_bind();
	pifp = if_get(name, &psref);
	if (pifp == NULL) {
		curlwp_bindx(bound);
		return ENOENT;
	}
	mutex_enter(&laggkit_lock); /* no other aggregate may claim it meanwhile */
	if (laggkit_port_refused(sc, pifp, &error))
		goto out;

	lp = kmem_zalloc(sizeof(*lp), KM_SLEEP);
	lp->lp_sc = sc;
	lp->lp_ifp = pifp;
	psref_target_init(&lp->lp_psref, laggkit_port_class);
	PSLIST_ENTRY_INIT(lp, lp_hash);

	memset(&info, 0, sizeof(info));
	info.name = pifp->if_xname;
	memcpy(info.lladdr, CLLADDR(pifp->if_sadl), ETHER_ADDR_LEN);
	info.mtu = (uint32_t)pifp->if_mtu;
	info.prio = prio;
	mutex_enter(&sc->sc_lock);
	error = laggkit_errno(lk_port_add(sc->sc_core, &info, &idx));
	mutex_exit(&sc->sc_lock);
	if (error != 0) {
		psref_target_destroy(&lp->lp_psref, laggkit_port_class);
		PSLIST_ENTRY_DESTROY(lp, lp_hash);
		kmem_free(lp, sizeof(*lp));
		goto out;
	}
	lp->lp_index = idx;
	atomic_store_release(&sc->sc_ports[idx], lp);
	PSLIST_WRITER_INSERT_HEAD(&laggkit_porthash[pifp->if_index % LAGGKIT_PORTHASH], lp, lp_hash);

	IFNET_LOCK(pifp);
	lp->lp_input = pifp->_if_input;
	pifp->_if_input = laggkit_port_input; /* as bridge(4) takes its members */
	if (sc->sc_if.if_flags & IFF_PROMISC)
		lp->lp_promisc = ifpromisc_locked(pifp, 1) == 0;
	IFNET_UNLOCK(pifp);
	lp->lp_linkhook = if_linkstate_change_establish(pifp, laggkit_port_linkstate, lp);
	lp->lp_detachhook = ether_ifdetachhook_establish(pifp, laggkit_port_detached, lp);
out:
	mutex_exit(&laggkit_lock);
	if (error == 0) {
		laggkit_settle(sc);
		laggkit_port_refresh(sc, lp);
	}
	if_put(pifp, &psref);
	curlwp_bindx(bound);
	return error;
}

/*
 * Take a member out: its own input back first (frames already inside ours find no member and
 * go to ether_input), then out of the core and the tables, then wait out the frame path.
 * `departing`: called from the member's ifdetach hook, which removes that hook itself.
 * The caller frees lp (laggkit_port_leave(), laggkit_port_detached()).
 */
static int
laggkit_port_remove(struct laggkit_softc *sc, struct laggkit_port *lp, bool departing)
{
	struct laggkit_pending pend;
	struct ifnet *pifp = lp->lp_ifp;
	uint32_t idx = lp->lp_index;

	KASSERT(mutex_owned(&sc->sc_cfg));
	mutex_enter(&sc->sc_lock);
	if (lp->lp_detaching && !departing) {
		mutex_exit(&sc->sc_lock);
		return EBUSY; /* its detach hook is removing it (lagg(4) says EBUSY too) */
	}
	if (!departing)
		lp->lp_removing = true; /* a hook starting now leaves lp to us */
	mutex_exit(&sc->sc_lock);
	if (!departing) {
		/* waits for a running hook, without sc_cfg, which that hook then takes */
		ether_ifdetachhook_disestablish(pifp, lp->lp_detachhook, &sc->sc_cfg);
		if (lp->lp_gone)
			return 0; /* the hook took it out meanwhile: pifp may be gone */
	}
	if_linkstate_change_disestablish(pifp, lp->lp_linkhook, &sc->sc_cfg);

	IFNET_LOCK(pifp);
	pifp->_if_input = lp->lp_input;
	if (lp->lp_promisc)
		(void)ifpromisc_locked(pifp, 0);
	IFNET_UNLOCK(pifp);

	mutex_enter(&laggkit_lock);
	PSLIST_WRITER_REMOVE(lp, lp_hash);
	pserialize_perform(laggkit_psz);
	mutex_exit(&laggkit_lock);

	mutex_enter(&sc->sc_lock);
	(void)lk_port_remove(sc->sc_core, idx); /* asks to restore MAC and MTU */
	atomic_store_relaxed(&sc->sc_ports[idx], NULL);
	pend = sc->sc_pend[idx];
	memset(&sc->sc_pend[idx], 0, sizeof(sc->sc_pend[idx]));
	mutex_exit(&sc->sc_lock);

	pserialize_perform(sc->sc_psz);
	psref_target_destroy(&lp->lp_psref, laggkit_port_class);
	if (!departing)
		laggkit_settle_one(pifp, &pend);
	PSLIST_ENTRY_DESTROY(lp, lp_hash);
	return 0;
}

/* A member leaves on request (-laggport, destroy): taken out, then freed. */
static int
laggkit_port_leave(struct laggkit_softc *sc, struct laggkit_port *lp)
{
	int error;

	error = laggkit_port_remove(sc, lp, false);
	if (error == 0)
		kmem_free(lp, sizeof(*lp));
	return error;
}

static struct laggkit_port *
laggkit_port_byname(struct laggkit_softc *sc, const char *name)
{
	uint32_t idx;
	int error;

	mutex_enter(&sc->sc_lock);
	error = lk_port_lookup(sc->sc_core, name, &idx);
	mutex_exit(&sc->sc_lock);
	return error == LK_OK ? sc->sc_ports[idx] : NULL;
}

/* ---- lagg ioctls: struct lagg_req through laggkit_lrq.c ----------------------------------- */

static int
laggkit_get_lagg(struct laggkit_softc *sc, struct ifreq *ifr)
{
	struct lkn_lagg_req hdr, *resp;
	size_t room, out;
	int error, rv;

	error = copyin(ifr->ifr_data, &hdr, sizeof(hdr));
	if (error != 0)
		return error;
	room = lkn_status_room(hdr.lrq_nports);
	resp = kmem_zalloc(LKN_REQ_SIZE(room), KM_SLEEP);
	mutex_enter(&sc->sc_lock);
	rv = laggkit_errno(lkn_status(sc->sc_core, &sc->sc_nstate, resp, room));
	mutex_exit(&sc->sc_lock);
	out = lkn_status_copyout(resp, room);
	if (rv == 0 || rv == ENOBUFS)
		error = copyout(resp, ifr->ifr_data, out);
	kmem_free(resp, LKN_REQ_SIZE(room));
	return error != 0 ? error : rv;
}

static int
laggkit_set_lagg(struct laggkit_softc *sc, struct ifreq *ifr)
{
	struct lkn_lagg_req hdr, *req = &hdr;
	struct lkn_cmd cmd;
	struct laggkit_port *lp;
	size_t nports, size = 0;
	int error;

	error = copyin(ifr->ifr_data, &hdr, sizeof(hdr));
	if (error != 0)
		return error;
	nports = hdr.lrq_nports;
	if (lkn_request_size(nports) == 0)
		return EINVAL;
	if (nports > 1) {
		size = lkn_request_size(nports);
		req = kmem_alloc(size, KM_SLEEP);
		error = copyin(ifr->ifr_data, req, size);
	}
	if (error == 0)
		error = laggkit_errno(lkn_decode(req, MAX(nports, 1), &cmd));
	if (error != 0)
		goto out;

	mutex_enter(&sc->sc_cfg);
	switch (cmd.kind) {
	case LKN_CMD_ADDPORT:
		error = laggkit_port_add(sc, cmd.name, 0);
		break;
	case LKN_CMD_DELPORT:
		lp = laggkit_port_byname(sc, cmd.name);
		error = lp == NULL ? ENOENT : laggkit_port_leave(sc, lp);
		break;
	case LKN_CMD_SETPROTO:
		mutex_enter(&sc->sc_lock);
		error = laggkit_errno(lkn_apply(sc->sc_core, &sc->sc_nstate, &cmd));
		/* re-read members: LACP needs their speed and duplex */
		laggkit_schedule(sc, LAGGKIT_WORK_LINK);
		mutex_exit(&sc->sc_lock);
		for (size_t i = 0; error == 0 && i < cmd.nports; i++) {
			char name[IFNAMSIZ];

			strlcpy(name, cmd.ports[i].rp_portname, sizeof(name));
			error = laggkit_port_add(sc, name, 0);
		}
		break;
	case LKN_CMD_SETPORTPRI:
	case LKN_CMD_PROTOOPT:
	default:
		mutex_enter(&sc->sc_lock);
		error = laggkit_errno(lkn_apply(sc->sc_core, &sc->sc_nstate, &cmd));
		mutex_exit(&sc->sc_lock);
		break;
	}
	laggkit_settle(sc);
	mutex_exit(&sc->sc_cfg);
out:
	if (req != &hdr)
		kmem_free(req, size);
	return error;
}

/* ---- The aggregate's ifnet ----------------------------------------------------------------- */

static void
laggkit_ports_promisc(struct laggkit_softc *sc, bool on)
{
	struct laggkit_port *lp;

	KASSERT(mutex_owned(&sc->sc_cfg));
	for (u_int i = 0; i < LK_MAX_PORTS; i++) {
		if ((lp = sc->sc_ports[i]) == NULL || lp->lp_promisc == on)
			continue;
		IFNET_LOCK(lp->lp_ifp);
		if (ifpromisc_locked(lp->lp_ifp, on) == 0)
			lp->lp_promisc = on;
		IFNET_UNLOCK(lp->lp_ifp);
	}
}

static void
laggkit_ports_mcast(struct laggkit_softc *sc, u_long cmd, const struct sockaddr *sa)
{
	KASSERT(mutex_owned(&sc->sc_cfg));
	for (u_int i = 0; i < LK_MAX_PORTS; i++) {
		if (sc->sc_ports[i] != NULL)
			(void)if_mcast_op(sc->sc_ports[i]->lp_ifp, cmd, sa);
	}
}

/* Running or not, the members' links as the core sees them follow (laggkit_port_refresh). */
static void
laggkit_running(struct ifnet *ifp, bool running)
{
	struct laggkit_softc *sc = ifp->if_softc;

	if (running)
		ifp->if_flags |= IFF_RUNNING;
	else
		ifp->if_flags &= ~IFF_RUNNING;
	mutex_enter(&sc->sc_lock);
	laggkit_schedule(sc, LAGGKIT_WORK_LINK);
	mutex_exit(&sc->sc_lock);
}

static int
laggkit_init(struct ifnet *ifp)
{
	laggkit_running(ifp, true);
	return 0;
}

static void
laggkit_stop(struct ifnet *ifp, int disable)
{
	(void)disable;
	laggkit_running(ifp, false);
}

static int
laggkit_ioctl(struct ifnet *ifp, u_long cmd, void *data)
{
	struct laggkit_softc *sc = ifp->if_softc;
	struct ifreq *ifr = data;
	int error;

	switch (cmd) {
	case SIOCGLAGG:
		return laggkit_get_lagg(sc, ifr);
	case SIOCSLAGG:
		/* ifioctl() has checked KAUTH_REQ_NETWORK_INTERFACE_SETPRIV for SIOCSIFGENERIC */
		return laggkit_set_lagg(sc, ifr);
	case SIOCSIFFLAGS:
		if ((error = ifioctl_common(ifp, cmd, data)) != 0)
			return error;
		switch (ifp->if_flags & (IFF_UP | IFF_RUNNING)) {
		case IFF_RUNNING:
			if_stop(ifp, 1);
			break;
		case IFF_UP:
			error = if_init(ifp);
			break;
		default:
			break;
		}
		mutex_enter(&sc->sc_cfg);
		laggkit_ports_promisc(sc, (ifp->if_flags & IFF_PROMISC) != 0);
		mutex_exit(&sc->sc_cfg);
		return error;
	case SIOCSIFMTU:
		mutex_enter(&sc->sc_cfg);
		mutex_enter(&sc->sc_lock);
		error = laggkit_errno(lk_set_mtu(sc->sc_core, (uint32_t)ifr->ifr_mtu));
		mutex_exit(&sc->sc_lock);
		laggkit_settle(sc);
		mutex_exit(&sc->sc_cfg);
		if (error == 0 && (error = ifioctl_common(ifp, cmd, data)) == ENETRESET)
			error = 0;
		return error;
	case SIOCADDMULTI:
	case SIOCDELMULTI:
		error = ether_ioctl(ifp, cmd, data);
		if (error == ENETRESET) {
			mutex_enter(&sc->sc_cfg);
			laggkit_ports_mcast(sc, cmd, ifreq_getaddr(cmd, ifr));
			mutex_exit(&sc->sc_cfg);
			error = 0;
		}
		return error;
	case SIOCSIFMEDIA:
	case SIOCGIFMEDIA:
		return ifmedia_ioctl(ifp, ifr, &sc->sc_media, cmd);
	default:
		return ether_ioctl(ifp, cmd, data);
	}
}

static int
laggkit_media_change(struct ifnet *ifp)
{
	(void)ifp;
	return 0; /* the members' media are their own */
}

/* Called with sc_lock held (ifmedia_init_with_lock). */
static void
laggkit_media_status(struct ifnet *ifp, struct ifmediareq *imr)
{
	struct laggkit_softc *sc = ifp->if_softc;
	struct lk_status st;

	imr->ifm_status = IFM_AVALID;
	imr->ifm_active = IFM_ETHER | IFM_AUTO;
	if (lk_get_status(sc->sc_core, &st) == LK_OK && st.link_up)
		imr->ifm_status |= IFM_ACTIVE;
}

/* ---- sysctl net.laggkit.<if> --------------------------------------------------------------- */

/*
 * A sysctl write: one core change (an option, or with opt == LK_OPT_MAX the protocol) under
 * the configuration locks, then the driver calls it asked for.
 */
static int
laggkit_sysctl_commit(struct laggkit_softc *sc, enum lk_opt opt, uint32_t value)
{
	int error;

	laggkit_cfg_enter(sc);
	mutex_enter(&sc->sc_lock);
	if (opt == LK_OPT_MAX) {
		error = laggkit_errno(lk_set_proto(sc->sc_core, (enum lk_proto)value));
		laggkit_schedule(sc, LAGGKIT_WORK_LINK); /* LACP needs members' media */
	} else {
		error = laggkit_errno(lk_set_opt(sc->sc_core, opt, value));
	}
	mutex_exit(&sc->sc_lock);
	laggkit_settle(sc);
	laggkit_cfg_exit(sc);
	return error;
}

static int
laggkit_sysctl_opt(SYSCTLFN_ARGS)
{
	struct sysctlnode node = *rnode;
	struct laggkit_softc *sc = rnode->sysctl_data;
	const struct lkn_sysctl_opt *o = NULL;
	uint32_t v = 0;
	u_quad_t q;
	int error;

	for (size_t i = 0; i < lkn_sysctl_nopts; i++) {
		if (strcmp(lkn_sysctl_opts[i].name, rnode->sysctl_name) == 0)
			o = &lkn_sysctl_opts[i];
	}
	if (o == NULL)
		return ENOENT;
	mutex_enter(&sc->sc_lock);
	error = laggkit_errno(lk_get_opt(sc->sc_core, o->opt, &v));
	mutex_exit(&sc->sc_lock);
	if (error != 0)
		return error;
	q = v;
	node.sysctl_data = &q;
	error = sysctl_lookup(SYSCTLFN_CALL(&node));
	if (error != 0 || newp == NULL)
		return error;
	if (q > UINT32_MAX)
		return EINVAL;
	return laggkit_sysctl_commit(sc, o->opt, (uint32_t)q);
}

/* The protocol by name: the only way to roundrobin and broadcast, which ifconfig cannot name. */
static int
laggkit_sysctl_proto(SYSCTLFN_ARGS)
{
	struct sysctlnode node = *rnode;
	struct laggkit_softc *sc = rnode->sysctl_data;
	char word[32]; /* the node's size (laggkit_sysctl_attach) */
	enum lk_proto p;
	int error;

	mutex_enter(&sc->sc_lock);
	strlcpy(word, lk_proto_name(lk_get_proto(sc->sc_core)), sizeof(word));
	mutex_exit(&sc->sc_lock);
	node.sysctl_data = word;
	node.sysctl_size = sizeof(word);
	error = sysctl_lookup(SYSCTLFN_CALL(&node));
	if (error != 0 || newp == NULL)
		return error;
	if (lk_proto_from_name(word, &p) != LK_OK)
		return EINVAL;
	return laggkit_sysctl_commit(sc, LK_OPT_MAX, (uint32_t)p);
}

/* The lagg block of `ifconfig -v`, which NetBSD's ifconfig prints only for lagg<digits>. */
static int
laggkit_sysctl_status(SYSCTLFN_ARGS)
{
	struct sysctlnode node = *rnode;
	struct laggkit_softc *sc = rnode->sysctl_data;
	struct lkn_lagg_req *req;
	char *text;
	int error;

	req = kmem_zalloc(LKN_REQ_SIZE(LK_MAX_PORTS), KM_SLEEP);
	text = kmem_zalloc(LAGGKIT_STATUS_MAX, KM_SLEEP);
	mutex_enter(&sc->sc_lock);
	error = laggkit_errno(lkn_status(sc->sc_core, &sc->sc_nstate, req, LK_MAX_PORTS));
	mutex_exit(&sc->sc_lock);
	if (error == 0) {
		(void)lkn_format_status(req, true, text, LAGGKIT_STATUS_MAX);
		node.sysctl_data = text;
		node.sysctl_size = strlen(text) + 1;
		error = sysctl_lookup(SYSCTLFN_CALL(&node));
	}
	kmem_free(text, LAGGKIT_STATUS_MAX);
	kmem_free(req, LKN_REQ_SIZE(LK_MAX_PORTS));
	return error;
}

static int
laggkit_sysctl_attach(struct laggkit_softc *sc)
{
	const struct sysctlnode *node;
	int error;

	error = sysctl_createv(&sc->sc_sysctllog, 0, &laggkit_sysctl_root, &node, 0, CTLTYPE_NODE,
	    sc->sc_if.if_xname, SYSCTL_DESCR("laggkit aggregate"), NULL, 0, NULL, 0, CTL_CREATE, CTL_EOL);
	if (error == 0)
		error = sysctl_createv(&sc->sc_sysctllog, 0, &node, NULL, CTLFLAG_READWRITE, CTLTYPE_STRING,
		    "proto",
		    SYSCTL_DESCR("protocol: none, roundrobin, "
		                 "failover, loadbalance, lacp, broadcast"),
		    laggkit_sysctl_proto, 0, (void *)sc, 32, CTL_CREATE, CTL_EOL);
	if (error == 0)
		error = sysctl_createv(&sc->sc_sysctllog, 0, &node, NULL, CTLFLAG_READONLY, CTLTYPE_STRING,
		    "status", SYSCTL_DESCR("the lagg block of ifconfig -v"), laggkit_sysctl_status, 0,
		    (void *)sc, LAGGKIT_STATUS_MAX, CTL_CREATE, CTL_EOL);
	for (size_t i = 0; error == 0 && i < lkn_sysctl_nopts; i++)
		error = sysctl_createv(&sc->sc_sysctllog, 0, &node, NULL, CTLFLAG_READWRITE, CTLTYPE_QUAD,
		    lkn_sysctl_opts[i].name, SYSCTL_DESCR(lkn_sysctl_opts[i].descr), laggkit_sysctl_opt, 0,
		    (void *)sc, 0, CTL_CREATE, CTL_EOL);
	if (error != 0)
		sysctl_teardown(&sc->sc_sysctllog);
	return error;
}

/* ---- Cloner -------------------------------------------------------------------------------- */

static void
laggkit_evcnt(struct laggkit_softc *sc, struct evcnt *ev, const char *name)
{
	evcnt_attach_dynamic(ev, EVCNT_TYPE_MISC, NULL, sc->sc_evgroup, name);
}

/* The load properties, on a new aggregate; a value the core refuses is logged and skipped. */
static void
laggkit_apply_defaults(struct laggkit_softc *sc)
{
	KASSERT(mutex_owned(&sc->sc_lock));
	for (u_int o = 0; o < LK_OPT_MAX; o++) {
		if ((laggkit_default_set & (1u << o)) != 0 &&
		    lk_set_opt(sc->sc_core, (enum lk_opt)o, laggkit_default_value[o]) != LK_OK)
			log(LOG_WARNING, "%s: default for option %u (%u) refused\n", sc->sc_if.if_xname, o,
			    laggkit_default_value[o]);
	}
	if (laggkit_default_proto >= 0)
		(void)lk_set_proto(sc->sc_core, (enum lk_proto)laggkit_default_proto);
}

/* The core wants 64-byte alignment (a cache line per CPU slot); kmem guarantees less. */
#define LAGGKIT_CORE_ALIGN 64

/* What clone_create sets up first: undone by its failure path and by destroy, last. */
static void
laggkit_softc_free(struct laggkit_softc *sc)
{
	callout_destroy(&sc->sc_tick);
	pserialize_destroy(sc->sc_psz);
	mutex_destroy(&sc->sc_lock);
	mutex_destroy(&sc->sc_cfg);
	kmem_free(sc->sc_core_mem, sc->sc_core_alloc);
	kmem_free(sc, sizeof(*sc));
	mutex_enter(&laggkit_lock);
	laggkit_count--; /* the module may unload once no softc is left */
	mutex_exit(&laggkit_lock);
}

static int
laggkit_clone_create(struct if_clone *ifc, int unit)
{
	struct laggkit_softc *sc;
	struct ifnet *ifp;
	uint8_t lladdr[ETHER_ADDR_LEN];
	int error;

	mutex_enter(&laggkit_lock);
	if (laggkit_unloading) {
		mutex_exit(&laggkit_lock);
		return ENXIO;
	}
	laggkit_count++; /* holds the module from here on */
	mutex_exit(&laggkit_lock);

	sc = kmem_zalloc(sizeof(*sc), KM_SLEEP);
	ifp = &sc->sc_if;
	if_initname(ifp, ifc->ifc_name, unit);
	sc->sc_core_alloc = lk_softc_size((uint32_t)ncpu) + LAGGKIT_CORE_ALIGN - 1;
	sc->sc_core_mem = kmem_zalloc(sc->sc_core_alloc, KM_SLEEP);
	sc->sc_core = (struct lk_softc *)roundup2((uintptr_t)sc->sc_core_mem, LAGGKIT_CORE_ALIGN);
	mutex_init(&sc->sc_cfg, MUTEX_DEFAULT, IPL_NONE);
	mutex_init(&sc->sc_lock, MUTEX_DEFAULT, IPL_SOFTNET);
	sc->sc_psz = pserialize_create();
	callout_init(&sc->sc_tick, CALLOUT_MPSAFE);
	callout_setfunc(&sc->sc_tick, laggkit_tick, sc);
	error = workqueue_create(
	    &sc->sc_wq, ifp->if_xname, laggkit_work, sc, PRI_SOFTNET, IPL_SOFTNET, WQ_MPSAFE);
	if (error != 0)
		goto fail_wq;
	mutex_enter(&sc->sc_lock);
	error = laggkit_errno(lk_init(sc->sc_core, &laggkit_host_ops, sc, ifp->if_xname, (uint32_t)ncpu));
	if (error == 0)
		laggkit_apply_defaults(sc);
	mutex_exit(&sc->sc_lock);
	if (error != 0)
		goto fail_core;

	ifp->if_softc = sc;
	ifp->if_init = laggkit_init;
	ifp->if_stop = laggkit_stop;
	ifp->if_ioctl = laggkit_ioctl;
	ifp->if_transmit = laggkit_transmit;
	ifp->if_start = laggkit_start;
	ifp->if_flags = IFF_SIMPLEX | IFF_BROADCAST | IFF_MULTICAST;
	ifp->if_extflags = IFEF_MPSAFE;
	IFQ_SET_READY(&ifp->if_snd);
	ifmedia_init_with_lock(&sc->sc_media, 0, laggkit_media_change, laggkit_media_status, &sc->sc_lock);
	ifmedia_add(&sc->sc_media, IFM_ETHER | IFM_AUTO, 0, NULL);
	ifmedia_set(&sc->sc_media, IFM_ETHER | IFM_AUTO);

	if_initialize(ifp);
	ifp->if_percpuq = if_percpuq_create(ifp);
	/* a locally administered unicast address until the first member lends its own */
	cprng_fast(lladdr, sizeof(lladdr));
	lladdr[0] = (lladdr[0] & ~0x01) | 0x02;
	ether_ifattach(ifp, lladdr);

	strlcpy(sc->sc_evgroup, ifp->if_xname, sizeof(sc->sc_evgroup));
	laggkit_evcnt(sc, &sc->sc_ev_rx_ctl, "rx control");
	laggkit_evcnt(sc, &sc->sc_ev_rx_drop, "rx dropped");
	laggkit_evcnt(sc, &sc->sc_ev_tx_noport, "tx no port");
	laggkit_evcnt(sc, &sc->sc_ev_tx_error, "tx error");
	laggkit_evcnt(sc, &sc->sc_ev_ctl_drop, "control frame dropped");
	laggkit_evcnt(sc, &sc->sc_ev_stopdu, "lacpdu stopped");
	if (laggkit_sysctl_attach(sc) != 0)
		log(LOG_WARNING, "%s: no sysctl net.laggkit.%s\n", ifp->if_xname, ifp->if_xname);
	if_link_state_change(ifp, LINK_STATE_DOWN);
	if_register(ifp);

	mutex_enter(&laggkit_lock);
	LIST_INSERT_HEAD(&laggkit_list, sc, sc_entry);
	mutex_exit(&laggkit_lock);
	return 0;

fail_core:
	workqueue_destroy(sc->sc_wq);
fail_wq:
	laggkit_softc_free(sc);
	return error;
}

static int
laggkit_clone_destroy(struct ifnet *ifp)
{
	struct laggkit_softc *sc = ifp->if_softc;
	struct laggkit_mem *lm;

	laggkit_stop(ifp, 1);
	for (;;) {
		bool busy = false;

		laggkit_cfg_enter(sc);
		for (u_int i = 0; i < LK_MAX_PORTS; i++) {
			if (sc->sc_ports[i] != NULL && laggkit_port_leave(sc, sc->sc_ports[i]) == EBUSY)
				busy = true;
		}
		laggkit_settle(sc);
		laggkit_cfg_exit(sc);
		if (!busy)
			break;
		kpause("lkdetach", false, 1, NULL); /* a member's detach hook is at work */
	}

	mutex_enter(&sc->sc_lock);
	sc->sc_dying = true; /* no more ticks or work scheduled */
	mutex_exit(&sc->sc_lock);
	callout_halt(&sc->sc_tick, NULL);
	workqueue_wait(sc->sc_wq, &sc->sc_work);

	mutex_enter(&laggkit_lock);
	LIST_REMOVE(sc, sc_entry);
	mutex_exit(&laggkit_lock);
	sysctl_teardown(&sc->sc_sysctllog);
	ether_ifdetach(ifp);
	if_detach(ifp); /* the frame path is gone after this */
	ifmedia_fini(&sc->sc_media);

	mutex_enter(&sc->sc_lock);
	lk_fini(sc->sc_core);
	mutex_exit(&sc->sc_lock);
	laggkit_flush_ctl(sc); /* nothing to send on: frees what lk_fini queued */
	pserialize_perform(sc->sc_psz);
	while ((lm = sc->sc_retired) != NULL) {
		sc->sc_retired = lm->lm_next;
		kmem_intr_free(lm, lm->lm_size);
	}
	evcnt_detach(&sc->sc_ev_rx_ctl);
	evcnt_detach(&sc->sc_ev_rx_drop);
	evcnt_detach(&sc->sc_ev_tx_noport);
	evcnt_detach(&sc->sc_ev_tx_error);
	evcnt_detach(&sc->sc_ev_ctl_drop);
	evcnt_detach(&sc->sc_ev_stopdu);
	workqueue_destroy(sc->sc_wq);
	laggkit_softc_free(sc);
	return 0;
}

/* ---- Module -------------------------------------------------------------------------------- */

MODULE(MODULE_CLASS_DRIVER, laggkit, NULL);

/* modload's -i NAME=N for the sysctl names of laggkit_lrq.c, -s proto=NAME. */
static void
laggkit_read_defaults(prop_dictionary_t props)
{
	const char *word;
	enum lk_proto p;
	uint32_t v;

	laggkit_default_set = 0;
	laggkit_default_proto = -1;
	if (props == NULL)
		return;
	for (size_t i = 0; i < lkn_sysctl_nopts; i++) {
		if (prop_dictionary_get_uint32(props, lkn_sysctl_opts[i].name, &v)) {
			laggkit_default_value[lkn_sysctl_opts[i].opt] = v;
			laggkit_default_set |= 1u << lkn_sysctl_opts[i].opt;
		}
	}
	if (prop_dictionary_get_string(props, "proto", &word)) {
		if (lk_proto_from_name(word, &p) == LK_OK)
			laggkit_default_proto = p;
		else
			printf("laggkit: unknown proto=%s ignored\n", word);
	}
}

static int
laggkit_modinit(void)
{
	int error;

	mutex_init(&laggkit_lock, MUTEX_DEFAULT, IPL_NONE);
	for (u_int i = 0; i < LAGGKIT_PORTHASH; i++)
		pslist_init(&laggkit_porthash[i]);
	laggkit_psz = pserialize_create();
	laggkit_port_class = psref_class_create("laggkitport", IPL_SOFTNET);
	error = sysctl_createv(&laggkit_sysctllog, 0, NULL, &laggkit_sysctl_root, CTLFLAG_PERMANENT,
	    CTLTYPE_NODE, LAGGKIT_NAME, SYSCTL_DESCR("laggkit link aggregation"), NULL, 0, NULL, 0, CTL_NET,
	    CTL_CREATE, CTL_EOL);
	if (error == 0)
		error = sysctl_createv(&laggkit_sysctllog, 0, &laggkit_sysctl_root, NULL,
		    CTLFLAG_PERMANENT | CTLFLAG_READONLY, CTLTYPE_STRING, "build_id",
		    SYSCTL_DESCR("build of this module"), NULL, 0, __UNCONST(LAGGKIT_BUILD_ID), 0, CTL_CREATE,
		    CTL_EOL);
	if (error != 0) {
		sysctl_teardown(&laggkit_sysctllog);
		psref_class_destroy(laggkit_port_class);
		pserialize_destroy(laggkit_psz);
		mutex_destroy(&laggkit_lock);
		return error;
	}
	laggkit_unloading = false;
	if_clone_attach(&laggkit_cloner);
	return 0;
}

static int
laggkit_modfini(void)
{
	mutex_enter(&laggkit_lock);
	if (laggkit_count > 0) {
		mutex_exit(&laggkit_lock);
		return EBUSY; /* `ifconfig laggkitN destroy` every instance first */
	}
	laggkit_unloading = true;
	mutex_exit(&laggkit_lock);
	if_clone_detach(&laggkit_cloner);
	sysctl_teardown(&laggkit_sysctllog);
	psref_class_destroy(laggkit_port_class);
	pserialize_destroy(laggkit_psz);
	for (u_int i = 0; i < LAGGKIT_PORTHASH; i++)
		pslist_destroy(&laggkit_porthash[i]);
	mutex_destroy(&laggkit_lock);
	return 0;
}

static int
laggkit_modcmd(modcmd_t cmd, void *arg)
{
	switch (cmd) {
	case MODULE_CMD_INIT:
		laggkit_read_defaults(arg);
		return laggkit_modinit();
	case MODULE_CMD_FINI:
		return laggkit_modfini();
	default:
		return ENOTTY;
	}
}
