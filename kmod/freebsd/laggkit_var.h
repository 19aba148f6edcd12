/*
 * if_laggkit: what the module's files share.
 *
 * Model
 *   One struct laggkit_softc per laggkitN interface wraps one core aggregate (struct lk_softc,
 *   opaque here). The glue translates and never decides: ioctls become core configuration
 *   calls, mbufs become frame views, ifnet events become lk_port_link() calls, and the core's
 *   host callbacks become KPI calls. Every protocol decision is the core's.
 *
 * Locks, in the order they are taken
 *   laggkit_sx (global, sleepable)  the list of aggregates and the port hash; held across
 *                                   port add/remove so that two aggregates cannot race for one
 *                                   NIC and an aggregate cannot vanish under an event handler.
 *   sc_sx (per aggregate, sleepable) configuration: ioctls, sysctls, the link task. Held
 *                                   while the glue calls a port's driver (MTU, MAC, flags),
 *                                   which may sleep.
 *   sc_mtx (per aggregate, mutex)   the core's lock: every lk_* call except the frame path.
 *                                   A mutex because lk_control_input() runs from a port's
 *                                   receive path and lk_tick() from a callout, neither of
 *                                   which may sleep. Core callbacks that would have to sleep
 *                                   (port MAC/MTU) are recorded under it and carried out by
 *                                   laggkit_settle() once it is dropped.
 *   laggkit_ref_mtx (global, leaf)  guards ifp->if_softc of every aggregate: ioctls and event
 *                                   handlers take a reference on the softc under it
 *                                   (laggkit_acquire), the destroy clears if_softc under it,
 *                                   and the last reference frees the softc.
 *   Read-only ioctls and sysctl reads take sc_sx shared.
 *   The frame path (lk_output/lk_input) takes none of them: it runs inside NET_EPOCH and
 *   reads sc_ports[] and the core's published transmit table. Memory the frame path can
 *   still see is freed through NET_EPOCH_CALL. The core's own calls run in a critical
 *   section on the current CPU's counter slot (laggkit_core_output/laggkit_core_input).
 */
#ifndef LAGGKIT_VAR_H
#define LAGGKIT_VAR_H

#include <sys/param.h>
#include <sys/systm.h>
#include <sys/kernel.h>
#include <sys/lock.h>
#include <sys/malloc.h>
#include <sys/mbuf.h>
#include <sys/mutex.h>
#include <sys/pcpu.h>
#include <sys/smp.h>
#include <sys/sx.h>
#include <sys/callout.h>
#include <sys/taskqueue.h>
#include <sys/epoch.h>
#include <sys/socket.h>
#include <sys/sockio.h>
#include <sys/sysctl.h>
#include <sys/eventhandler.h>
#include <ck_queue.h>

#if __FreeBSD_version < 1300000
#error "if_laggkit needs FreeBSD 13 or later (network epoch KPI)"
#endif

#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_var.h>
/*
 * FreeBSD 14 moved struct ifnet out of if_var.h into if_private.h. The glue reads and
 * swaps if_input and a few other fields directly, as if_lagg does, so it needs the
 * definition on every version.
 */
#if __FreeBSD_version >= 1400000 && __has_include(<net/if_private.h>)
#include <net/if_private.h>
#endif
#include <net/if_media.h>
#include <net/if_types.h>
#include <net/if_dl.h>
#include <net/vnet.h>

#include "lk_core.h"

#define LAGGKIT_NAME    "laggkit"
#define LAGGKIT_VERSION 2 /* MODULE_VERSION and net.link.laggkit.version */
#ifndef LAGGKIT_BUILD_ID  /* set by the Makefile from LAGGKIT_BUILD_ID= */
#define LAGGKIT_BUILD_ID "unknown"
#endif
#define LAGGKIT_HDR_COPY 128 /* bytes the core may read contiguously (lk_core.h) */
#define LAGGKIT_CTL_MAX  256 /* largest slow-protocols frame handed to the core */
#define LAGGKIT_PORTHASH 64  /* buckets of the ifnet -> port lookup (power of two) */

MALLOC_DECLARE(M_LAGGKIT);

typedef void laggkit_input_fn(struct ifnet *, struct mbuf *);

/*
 * A member port: the NIC, what the glue changed on it, and how to give it back.
 *
 * A "ghost" is a port record with lp_sc == NULL: a former member whose if_input another
 * subsystem (netmap, ...) had replaced when it left, so laggkit_port_input() could not be
 * taken out and may be handed back later. It stays in the port hash, so that such a frame
 * finds its way to the original input, and holds the module loaded (see laggkit_ghosts_fini).
 */
struct laggkit_port {
	struct laggkit_softc *lp_sc;         /* NULL: a ghost */
	struct ifnet *lp_ifp;                /* referenced (if_ref) while a member */
	uint32_t lp_index;                   /* the core's handle, bit in its port masks */
	laggkit_input_fn *lp_input;          /* the port's own if_input, restored on removal */
	CK_LIST_ENTRY(laggkit_port) lp_hash; /* laggkit_porthash, read in NET_EPOCH */
	struct epoch_context lp_epoch_ctx;
	int lp_departing; /* the ifnet is going away: touch nothing on it */
	int lp_was_up;    /* IFF_UP before it joined */
	int lp_stacked;   /* a vlan(4): transmit counts nesting depth */
	int lp_allmulti;  /* we hold an if_allmulti() reference */
	int lp_promisc;   /* we hold an ifpromisc() reference */
	int lp_link_up;   /* the member's own link (and IFF_UP), as last read by the task */
	/* speed and duplex last read, under sc_mtx: what the core hears with a carrier loss */
	uint64_t lp_speed;
	enum lk_duplex lp_duplex;
	int lp_going_down;   /* IFNET_EVENT_DOWN seen, IFF_UP not yet clear */
	int lp_media_warned; /* "no speed/duplex" already logged */
};

/* A core request that needs a sleepable context, recorded under sc_mtx (see above). */
#define LAGGKIT_PEND_MAC 0x1
#define LAGGKIT_PEND_MTU 0x2
struct laggkit_pending {
	uint32_t lpd_flags;
	uint32_t lpd_mtu;
	uint8_t lpd_mac[ETHER_ADDR_LEN];
};

/* A vlan tag registered on (or taken off) the aggregate, still to be passed to the members. */
struct laggkit_vlan_tag {
	STAILQ_ENTRY(laggkit_vlan_tag) lvt_next;
	uint16_t lvt_vtag;
	bool lvt_config; /* vlan_config, else vlan_unconfig */
};

struct laggkit_softc {
	struct ifnet *sc_ifp;
	u_int sc_refs; /* the interface + in-flight ioctls and events */
	struct lk_softc *sc_core;
	struct sx sc_sx;
	struct mtx sc_mtx;
	struct callout sc_callout;                    /* the core's timer, runs under sc_mtx */
	struct timeout_task sc_link_task;             /* re-reads member link/media state */
	struct task sc_vlan_task;                     /* passes sc_vlan_tags on to the members */
	STAILQ_HEAD(, laggkit_vlan_tag) sc_vlan_tags; /* under sc_mtx, oldest first */
	struct ifmedia sc_media;
	/* by core port index; written under sc_sx, read on the frame path in NET_EPOCH */
	struct laggkit_port *sc_ports[LK_MAX_PORTS];
	struct laggkit_pending sc_pend[LK_MAX_PORTS]; /* under sc_mtx */
	uint8_t sc_pend_lladdr[ETHER_ADDR_LEN];       /* under sc_mtx */
	int sc_pend_lladdr_set;                       /* under sc_mtx */
	int sc_notify_lladdr;                         /* under sc_sx: announce after unlock */
	int sc_notify_mtu;                            /* under sc_sx: announce after unlock */
	int sc_notify_caps;                           /* under sc_sx: tell vlan(4) after unlock */
	int sc_attached;                              /* ether_ifattach done, not yet detached */
	int sc_destroying;                            /* written under sc_sx and sc_mtx */
	int sc_link_up;                               /* aggregate link as the core last reported it */
	int sc_promisc;                               /* ports were made promiscuous for the aggregate */
	int sc_use_numa;                              /* "use_numa" is accepted for ifconfig, no effect */
	uint32_t sc_flapping;                         /* member link-down transitions seen */
	LIST_ENTRY(laggkit_softc) sc_entry;           /* laggkit_list, under laggkit_sx */
	struct sysctl_ctx_list sc_sysctl;
	char sc_sysctl_name[24]; /* net.link.laggkit.<this> */
};

#define LAGGKIT_XLOCK(sc)        sx_xlock(&(sc)->sc_sx)
#define LAGGKIT_XUNLOCK(sc)      laggkit_unlock(sc)
#define LAGGKIT_XLOCK_ASSERT(sc) sx_assert(&(sc)->sc_sx, SA_XLOCKED)
/* Read-only configuration paths (status ioctls, sysctl reads) share the lock. */
#define LAGGKIT_SLOCK(sc)        sx_slock(&(sc)->sc_sx)
#define LAGGKIT_SUNLOCK(sc)      sx_sunlock(&(sc)->sc_sx)
#define LAGGKIT_LOCK_ASSERT(sc)  sx_assert(&(sc)->sc_sx, SA_LOCKED)
#define LAGGKIT_CORE_LOCK(sc)    mtx_lock(&(sc)->sc_mtx)
#define LAGGKIT_CORE_UNLOCK(sc)  mtx_unlock(&(sc)->sc_mtx)
#define LAGGKIT_CORE_ASSERT(sc)  mtx_assert(&(sc)->sc_mtx, MA_OWNED)

/* if_laggkit.c: module, cloner, the aggregate's ifnet */
extern struct sx laggkit_sx;
extern LIST_HEAD(laggkit_head, laggkit_softc) laggkit_list;
extern u_int laggkit_inject_create_failure;
int laggkit_errno(int lkerr);
struct laggkit_softc *laggkit_acquire(struct ifnet *ifp);
void laggkit_release(struct laggkit_softc *sc);
void laggkit_ref_lock(void);
void laggkit_ref_unlock(void);
void laggkit_unlock(struct laggkit_softc *sc);
bool laggkit_is_aggregate(const struct ifnet *ifp);
void laggkit_frame_view(struct mbuf *m, struct lk_frame *f, uint8_t *buf);

/*
 * The core counts frames in one slot per CPU, with plain adds (lk_core.h). Its frame path is
 * called with curcpu inside a critical section, so that no other thread (an interrupt
 * thread preempting this one, say) runs lk_output/lk_input on the same slot between the
 * read and the write of a counter: counter(9)'s own scheme where an add is not one
 * instruction. The section covers the core's decision only, never a driver call.
 */
#define LAGGKIT_NCPU ((uint32_t)mp_maxid + 1) /* the core's CPU slots */

static __inline uint32_t
laggkit_core_output(struct laggkit_softc *sc, const struct lk_frame *f)
{
	uint32_t mask;

	critical_enter();
	mask = lk_output(sc->sc_core, curcpu, f);
	critical_exit();
	return (mask);
}

static __inline enum lk_rx_verdict
laggkit_core_input(struct laggkit_softc *sc, uint32_t port, const struct lk_frame *f)
{
	enum lk_rx_verdict v;

	critical_enter();
	v = lk_input(sc->sc_core, curcpu, port, f);
	critical_exit();
	return (v);
}
void laggkit_update_caps(struct laggkit_softc *sc);
void laggkit_sync_flags(struct laggkit_softc *sc);

/* laggkit_lagg_ioctl.c: the SIOC[GS]LAGG* family of net/if_lagg.h */
bool laggkit_is_lagg_ioctl(u_long cmd);
int laggkit_lagg_ioctl(struct laggkit_softc *sc, u_long cmd, caddr_t data);

/* laggkit_port.c: members */
int laggkit_port_add(struct laggkit_softc *sc, struct ifnet *pifp, uint16_t prio);
enum { LAGGKIT_LEAVE, LAGGKIT_MOVED, LAGGKIT_GONE }; /* laggkit_port_del(): how it leaves */
void laggkit_port_del(struct laggkit_softc *sc, struct laggkit_port *lp, int how);
struct laggkit_port *laggkit_port_of(struct laggkit_softc *sc, const struct ifnet *pifp);
int laggkit_settle_port(struct laggkit_softc *sc, struct laggkit_port *lp);
int laggkit_settle(struct laggkit_softc *sc);
void laggkit_ports_updown(struct laggkit_softc *sc, bool up);
void laggkit_ports_promisc(struct laggkit_softc *sc, bool on);
void laggkit_link_task(void *arg, int pending);
void laggkit_link_later(struct laggkit_softc *sc, int ticks);
void laggkit_port_carrier_lost(struct laggkit_softc *sc, struct laggkit_port *lp, bool try);
void laggkit_vlan_task(void *arg, int pending);
void laggkit_vlan_tags_free(struct laggkit_softc *sc);
void laggkit_port_events_init(void);
void laggkit_port_events_fini(void);
int laggkit_ghosts_fini(void);

/* laggkit_host.c: the core's host callbacks */
extern const struct lk_host_ops laggkit_host_ops;

/* laggkit_sysctl.c: net.link.laggkit */
void laggkit_apply_defaults(struct laggkit_softc *sc);
void laggkit_sysctl_attach(struct laggkit_softc *sc);
void laggkit_sysctl_detach(struct laggkit_softc *sc);

#endif /* LAGGKIT_VAR_H */
