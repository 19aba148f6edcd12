/*
 * laggkit LACP and marker protocol (IEEE 802.1AX): the per-aggregate and per-port state the
 * core embeds (struct lk_softc.lacp, struct lk_port.lacp), the machines' state names, the
 * slow-protocols PDU codec and the entry points the protocol table calls.
 *
 * Everything here runs under the host's per-aggregate lock, except lk_lacp_port_collecting()
 * and lk_lacp_port_distributing(), which the txmap builder calls (also under the lock) to copy
 * the decision into the lock-free transmit table.
 *
 * Time is kept as absolute deadlines in nanoseconds of lk_core_now(); 0 means "timer stopped".
 */
#ifndef LK_LACP_H
#define LK_LACP_H

#include "lk_proto.h"

/* ---- Wire format ----------------------------------------------------------------------------- */

#define LK_SLOW_DST_MAC        { 0x01, 0x80, 0xc2, 0x00, 0x00, 0x02 }
#define LK_SLOW_ETHERTYPE      0x8809u
#define LK_SLOW_SUBTYPE_LACP   1u
#define LK_SLOW_SUBTYPE_MARKER 2u
#define LK_SLOW_PAYLOAD_LEN    110u /* both LACPDU and marker PDU */
#define LK_SLOW_FRAME_LEN      (14u + LK_SLOW_PAYLOAD_LEN)

#define LK_LACP_VERSION           1u
#define LK_LACP_TLV_TERMINATOR    0x00u
#define LK_LACP_TLV_ACTOR         0x01u
#define LK_LACP_TLV_PARTNER       0x02u
#define LK_LACP_TLV_COLLECTOR     0x03u
#define LK_LACP_TLV_ACTOR_LEN     20u
#define LK_LACP_TLV_PARTNER_LEN   20u
#define LK_LACP_TLV_COLLECTOR_LEN 16u

#define LK_MARKER_VERSION      1u
#define LK_MARKER_TLV_INFO     0x01u
#define LK_MARKER_TLV_RESPONSE 0x02u
#define LK_MARKER_TLV_LEN      16u

/* Decoded LACPDU (the fields that carry meaning; reserved octets are zero on send, ignored on
 * receipt as the standard asks). */
struct lk_lacpdu {
	struct lk_lacp_peer_info actor;
	struct lk_lacp_peer_info partner;
	uint16_t collector_max_delay;
};

/* Decoded marker PDU: type is LK_MARKER_TLV_INFO (a request) or LK_MARKER_TLV_RESPONSE. */
struct lk_marker_pdu {
	uint8_t type;
	uint16_t requester_port;
	uint8_t requester_sys[LK_ETHER_ADDR_LEN];
	uint32_t requester_xid;
};

/*
 * Codec. Encoders write a whole Ethernet frame (LK_SLOW_FRAME_LEN bytes) with source src and
 * return its length, or 0 when buflen is too small. Decoders validate everything (length,
 * destination, ethertype, subtype, version, every TLV type and length) and return 0 or
 * LK_EPROTO; *out is written only on success.
 */
size_t lk_lacp_pdu_encode(
    uint8_t *buf, size_t buflen, const uint8_t src[LK_ETHER_ADDR_LEN], const struct lk_lacpdu *pdu);
int lk_lacp_pdu_decode(const uint8_t *frame, uint32_t len, struct lk_lacpdu *out);
size_t lk_marker_pdu_encode(
    uint8_t *buf, size_t buflen, const uint8_t src[LK_ETHER_ADDR_LEN], const struct lk_marker_pdu *pdu);
int lk_marker_pdu_decode(const uint8_t *frame, uint32_t len, struct lk_marker_pdu *out);
/* Slow-protocols subtype of a frame with a valid header, or -1. */
int lk_slow_subtype(const uint8_t *frame, uint32_t len);

/* ---- Machine states (names from IEEE 802.1AX) ------------------------------------------------ */

enum lk_lacp_rx_state { /* Receive machine */
	LK_LACP_RX_INITIALIZE,
	LK_LACP_RX_PORT_DISABLED,
	LK_LACP_RX_EXPIRED,
	LK_LACP_RX_LACP_DISABLED,
	LK_LACP_RX_DEFAULTED,
	LK_LACP_RX_CURRENT
};
enum lk_lacp_mux_state { /* Mux machine, coupled control */
	LK_LACP_MUX_DETACHED,
	LK_LACP_MUX_WAITING,
	LK_LACP_MUX_ATTACHED,
	LK_LACP_MUX_COLLECTING_DISTRIBUTING
};
enum lk_lacp_ptx_state { /* Periodic Transmission machine */
	LK_LACP_PTX_NO_PERIODIC,
	LK_LACP_PTX_FAST_PERIODIC,
	LK_LACP_PTX_SLOW_PERIODIC,
	LK_LACP_PTX_PERIODIC_TX
};
enum lk_lacp_sel_state { /* Selection Logic: the port's Selected variable */
	LK_LACP_UNSELECTED,
	LK_LACP_SELECTED,
	LK_LACP_STANDBY
};
enum lk_lacp_actor_churn_state { LK_LACP_NO_ACTOR_CHURN, LK_LACP_ACTOR_CHURN_MONITOR, LK_LACP_ACTOR_CHURN };
enum lk_lacp_partner_churn_state {
	LK_LACP_NO_PARTNER_CHURN,
	LK_LACP_PARTNER_CHURN_MONITOR,
	LK_LACP_PARTNER_CHURN
};
/* Machine numbers for lk_lacp_state_name(): 0..3 as in lk_core.h, plus the churn machines. */
#define LK_LACP_MACHINE_RX            0
#define LK_LACP_MACHINE_MUX           1
#define LK_LACP_MACHINE_PTX           2
#define LK_LACP_MACHINE_SEL           3
#define LK_LACP_MACHINE_ACTOR_CHURN   4
#define LK_LACP_MACHINE_PARTNER_CHURN 5

/* ---- Timers (IEEE 802.1AX values), nanoseconds ----------------------------------------------- */

#define LK_LACP_NS_PER_S          1000000000ull
#define LK_LACP_FAST_PERIODIC_NS  (1ull * LK_LACP_NS_PER_S)
#define LK_LACP_SLOW_PERIODIC_NS  (30ull * LK_LACP_NS_PER_S)
#define LK_LACP_SHORT_TIMEOUT_NS  (3ull * LK_LACP_NS_PER_S)
#define LK_LACP_LONG_TIMEOUT_NS   (90ull * LK_LACP_NS_PER_S)
#define LK_LACP_CHURN_NS          (60ull * LK_LACP_NS_PER_S)
#define LK_LACP_AGGREGATE_WAIT_NS (2ull * LK_LACP_NS_PER_S)
#define LK_LACP_TX_LIMIT          3u /* PDUs per fast periodic interval */
/* Resends of a new link's first PDU while the partner has not answered (lk_lacp.c) */
#define LK_LACP_LINK_UP_RESENDS   2u
#define LK_MARKER_TIMEOUT_NS      (100ull * 1000000ull)

/* ---- Per-port state (struct lk_port.lacp) ---------------------------------------------------- */

struct lk_lacp_port {
	struct lk_lacp_peer_info actor;     /* operational actor values sent in our PDUs */
	struct lk_lacp_peer_info partner;   /* operational partner values (recorded or default) */
	struct lk_lacp_peer_info last_seen; /* identity of the last partner heard (change events) */

	uint8_t rx_state, mux_state, ptx_state, selected;
	uint8_t actor_churn_state, partner_churn_state;
	uint8_t member;       /* between lk_lacp_port_add and lk_lacp_port_remove */
	uint8_t ntt;          /* need to transmit */
	uint8_t port_enabled; /* member, link up, protocol is lacp */
	uint8_t lacp_enabled; /* full duplex (point to point): LACP runs on the port */
	uint8_t aggregatable; /* LACP enabled and the speed is known */
	uint8_t port_moved;
	uint8_t ready_n;                   /* wait_while expired while WAITING */
	uint8_t reselect;                  /* LAG ID changed: must pass through DETACHED before selection */
	uint8_t draining;                  /* planned move: still distributing until marker answer */
	uint8_t in_agg;                    /* mux attached to the aggregator */
	uint8_t seen_partner;              /* last_seen is valid */
	uint8_t ev_sync, ev_coll, ev_dist; /* values last reported as events */
	uint8_t pub_coll, pub_dist;        /* values last handed to the txmap */
	uint8_t flushed;                   /* the flush before this planned move has ended */

	/* timers: absolute deadlines (ns), 0 = stopped */
	uint64_t current_while;
	uint64_t periodic;
	uint64_t wait_while;
	uint64_t actor_churn_timer;
	uint64_t partner_churn_timer;
	uint64_t marker_deadline;
	uint64_t link_up_resend; /* next resend of a new link's PDU, while EXPIRED and unanswered */
	uint8_t link_up_resends; /* resends gone so far on this link, while unanswered */

	/* transmit rate limit: when each of the last LK_LACP_TX_LIMIT PDU slots frees again */
	uint64_t tx_slot_free[LK_LACP_TX_LIMIT];
	uint32_t tx_head;
	uint32_t marker_xid; /* transaction id of the outstanding flush marker */

	/* counters survive protocol changes: keep them last (lk_lacp_port_add resets the rest) */
	uint64_t pdus_rx, pdus_tx, pdus_illegal;
	uint64_t marker_rx, marker_tx, marker_resp_rx, marker_resp_tx, unknown_rx;
};

/* ---- Per-aggregate state (struct lk_softc.lacp) ---------------------------------------------- */

struct lk_lacp_softc {
	uint8_t attached;                     /* protocol is lacp: machines run and PDUs go out */
	uint8_t fast_timeout;                 /* LK_OPT_LACP_FAST_TIMEOUT */
	uint8_t strict;                       /* LK_OPT_LACP_STRICT */
	uint8_t passive;                      /* LK_OPT_LACP_PASSIVE */
	uint8_t multi_speed;                  /* LK_OPT_LACP_MULTI_SPEED */
	uint8_t full_wait;                    /* LK_OPT_LACP_FULL_WAIT */
	uint8_t lag_valid;                    /* lag_* name the LAG currently selected */
	uint16_t sys_prio;                    /* LK_OPT_LACP_SYS_PRIO */
	uint16_t admin_key;                   /* LK_OPT_LACP_KEY, 0 = automatic from speed */
	uint16_t lag_key;                     /* actor key of the selected LAG */
	uint32_t maxports;                    /* LK_OPT_LACP_MAXPORTS, 0 = unlimited */
	uint32_t running;                     /* nesting depth of the machine loop (re-entrant input) */
	uint32_t next_xid;                    /* marker transaction ids */
	struct lk_lacp_peer_info lag_partner; /* partner system and key of the selected LAG */
	/*
	 * The actor's System ID MAC. Not the aggregate's MAC: it is taken from that MAC once,
	 * when the aggregate first has one, and then left alone, so that `ether` never changes
	 * what the partner sees (lk_port.c says when it does move). sys_mac_admin: set by
	 * lk_set_lacp_sys_mac, never moved by the core. Kept across protocol switches.
	 */
	uint8_t sys_mac[LK_ETHER_ADDR_LEN];
	uint8_t sys_mac_admin;
	uint64_t lag_speed; /* per-port speed of the selected LAG (multi-speed off) */
};

/* ---- Entry points (host lock held) ----------------------------------------------------------- */

void lk_lacp_attach(struct lk_softc *sc);
void lk_lacp_detach(struct lk_softc *sc);
int lk_lacp_port_add(struct lk_softc *sc, struct lk_port *p);
void lk_lacp_port_remove(struct lk_softc *sc, struct lk_port *p);
void lk_lacp_port_link(struct lk_softc *sc, struct lk_port *p);
/* A LACPDU or marker PDU received on p: 0, or LK_EPROTO with no state change (malformed or
 * our own PDU looped back: pdus_illegal and LK_EV_ILLEGAL_PDU; another slow protocol's
 * subtype: unknown_rx only). */
int lk_lacp_input(struct lk_softc *sc, struct lk_port *p, const uint8_t *frame, uint32_t len);
/* Run every due machine; returns the next absolute deadline in ns, or UINT64_MAX. */
uint64_t lk_lacp_tick(struct lk_softc *sc, uint64_t now_ns);
int lk_lacp_port_collecting(const struct lk_softc *sc, const struct lk_port *p);
/* Distributing, or still draining its flows during a planned move (marker policy). */
int lk_lacp_port_distributing(const struct lk_softc *sc, const struct lk_port *p);
/* LK_OPT_LACP_*: validated and stored even when the protocol is not lacp. */
int lk_lacp_set_opt(struct lk_softc *sc, enum lk_opt opt, uint32_t value);
void lk_lacp_port_status(const struct lk_softc *sc, const struct lk_port *p, struct lk_lacp_port_status *st);
void lk_lacp_lag_status(const struct lk_softc *sc, struct lk_status *st);

/*
 * Marker generator for a planned move of p's flows (port leaving by configuration): sends a
 * marker; p keeps distributing its flows until the partner's response or LK_MARKER_TIMEOUT_NS
 * (event LK_EV_MARKER_TIMEOUT), when lk_lacp_port_draining() turns 0 and the core is told
 * through lk_core_txmap_dirty(); the caller then completes the move (removes the port). A
 * port going STANDBY is flushed the same way by the Mux machine itself. Returns 0 when a
 * flush started, LK_EBUSY when one is pending, LK_EINVAL when p is not distributing.
 */
int lk_lacp_port_flush(struct lk_softc *sc, struct lk_port *p);
/* A flush is pending on p. */
int lk_lacp_port_draining(const struct lk_softc *sc, const struct lk_port *p);

/* ---- Between lk_lacp.c and lk_marker.c ------------------------------------------------------- */

/* Marker PDU received on p (already validated): answer requests, match responses. */
void lk_marker_input(struct lk_softc *sc, struct lk_port *p, const struct lk_marker_pdu *m);
/* Start a flush of p's flows (marker request, drain deadline). */
void lk_marker_flush_start(struct lk_softc *sc, struct lk_port *p, uint64_t now);
/* Expire a pending flush; returns 1 when p stopped draining. */
int lk_marker_tick(struct lk_softc *sc, struct lk_port *p, uint64_t now);
void lk_marker_cancel(struct lk_port *p);

#endif /* LK_LACP_H */
