/*
 * laggkit on NetBSD: NetBSD's lagg ioctl ABI and its translation to the core, in OS-free C.
 *
 * NetBSD's ifconfig(8) configures lagg(4) with one pair of ioctls, SIOCSLAGG/SIOCGLAGG
 * (SIOCSIFGENERIC/SIOCGIFGENERIC), whose ifr_data points at a struct lagg_req. The request
 * carries a command (lrq_ioctl), a protocol, a protocol-specific option block and a
 * variable-length array of ports. This file holds laggkit's own copy of those structures and
 * the code that turns a request into core configuration calls and core status back into a
 * request, so that the kernel glue only copies bytes in and out and the translation is tested
 * in user space against the real core (test/netbsd).
 *
 * The copy follows sys/net/lagg/if_lagg.h rev 1.3 (2021/11/08), the revision on the netbsd-10
 * branch; the static assertions below pin every offset that follows from C's layout rules on
 * LP64 (amd64, aarch64) and ILP32 (i386, earmv7). The kernel glue, which sees the real header,
 * asserts that both agree (if_laggkit.c).
 *
 * Nothing here includes an OS header or allocates; errors are the core's LK_E* codes plus the
 * LKN_E* codes below, which the glue maps to errno.
 */
#ifndef LAGGKIT_LRQ_H
#define LAGGKIT_LRQ_H

#include "lk_core.h"

/* ---- NetBSD's ABI (sys/net/lagg/if_lagg.h 1.3) --------------------------------------------- */

#define LKN_IFNAMSIZ 16 /* sys/net/if.h IFNAMSIZ */
#define LKN_MAC_LEN  6  /* LACP_MAC_LEN = ETHER_ADDR_LEN */

/* lagg_proto: NetBSD numbers its protocols differently from FreeBSD and the core. */
#define LKN_PROTO_NONE        0
#define LKN_PROTO_LACP        1
#define LKN_PROTO_FAILOVER    2
#define LKN_PROTO_LOADBALANCE 3
#define LKN_PROTO_MAX         4
/*
 * The core's protocols NetBSD has no number for (roundrobin, broadcast) are reported as
 * LKN_PROTO_EXT + the core's number: NetBSD's ifconfig prints them as "unknown", and the
 * sysctl net.laggkit.<if>.proto names them. They are set through that sysctl only.
 */
#define LKN_PROTO_EXT         0x100

/* enum lagg_ioctl: lrq_ioctl */
#define LKN_IOC_SETPROTO    1
#define LKN_IOC_SETPROTOOPT 2
#define LKN_IOC_ADDPORT     3
#define LKN_IOC_DELPORT     4
#define LKN_IOC_SETPORTPRI  5

/* enum lagg_ioctl_lacp: laggreq_lacp.command */
#define LKN_LACP_SETFLAGS    1
#define LKN_LACP_CLRFLAGS    2
#define LKN_LACP_SETMAXPORTS 3
#define LKN_LACP_CLRMAXPORTS 4
/* LAGGREQLACP_*: laggreq_lacp.flags */
#define LKN_LACP_OPTIMISTIC  0x1u
#define LKN_LACP_DUMPDU      0x2u
#define LKN_LACP_STOPDU      0x4u
#define LKN_LACP_MULTILS     0x8u
#define LKN_LACP_FLAGS       0xfu

/* enum lagg_ioctl_fail and LAGGREQFAIL_*: laggreq_fail */
#define LKN_FAIL_SETFLAGS 1
#define LKN_FAIL_CLRFLAGS 2
#define LKN_FAIL_RXALL    0x1u

/* LAGG_PORT_*: laggreqport.rp_flags (STANDBY differs from FreeBSD's, hence the core's) */
#define LKN_PORT_MASTER       0x01u
#define LKN_PORT_STACK        0x02u
#define LKN_PORT_ACTIVE       0x04u
#define LKN_PORT_COLLECTING   0x08u
#define LKN_PORT_DISTRIBUTING 0x10u
#define LKN_PORT_STANDBY      0x20u

struct lkn_laggreq_lacp {
	uint32_t command;
	uint32_t flags;
	size_t maxports;
	uint16_t actor_prio;
	uint8_t actor_mac[LKN_MAC_LEN];
	uint16_t actor_key;
	uint16_t partner_prio;
	uint8_t partner_mac[LKN_MAC_LEN];
	uint16_t partner_key;
};

struct lkn_laggreq_fail {
	uint32_t command;
	uint32_t flags;
};

struct lkn_laggreqproto {
	union {
		struct lkn_laggreq_lacp proto_lacp;
		struct lkn_laggreq_fail proto_fail;
	} rp_proto;
};

struct lkn_laggreq_lacpport {
	uint16_t partner_prio;
	uint8_t partner_mac[LKN_MAC_LEN];
	uint16_t partner_key;
	uint16_t actor_portprio;
	uint16_t actor_portno;
	uint8_t actor_state;
	uint16_t partner_portprio;
	uint16_t partner_portno;
	uint8_t partner_state;
};

struct lkn_laggreqport {
	char rp_portname[LKN_IFNAMSIZ];
	uint32_t rp_prio;
	uint32_t rp_flags;
	union {
		struct lkn_laggreq_lacpport port_lacp;
	} rp_port;
};

struct lkn_lagg_req {
	uint32_t lrq_ioctl;
	int lrq_proto; /* lagg_proto, an enum: int-sized */
	size_t lrq_nports;
	struct lkn_laggreqproto lrq_reqproto;
	struct lkn_laggreqport lrq_reqports[1];
};

#define LKN_OFFSETOF(t, m) __builtin_offsetof(t, m)
_Static_assert(sizeof(struct lkn_laggreq_fail) == 8, "laggreq_fail");
_Static_assert(sizeof(struct lkn_laggreq_lacpport) == 22, "laggreq_lacpport");
_Static_assert(LKN_OFFSETOF(struct lkn_laggreq_lacpport, actor_state) == 14, "actor_state");
_Static_assert(LKN_OFFSETOF(struct lkn_laggreq_lacpport, partner_portprio) == 16, "pportprio");
_Static_assert(LKN_OFFSETOF(struct lkn_laggreq_lacpport, partner_state) == 20, "pstate");
_Static_assert(LKN_OFFSETOF(struct lkn_laggreqport, rp_prio) == 16, "rp_prio");
_Static_assert(LKN_OFFSETOF(struct lkn_laggreqport, rp_port) == 24, "rp_port");
_Static_assert(sizeof(struct lkn_laggreqport) == 48, "laggreqport");
_Static_assert(LKN_OFFSETOF(struct lkn_lagg_req, lrq_nports) == 8, "lrq_nports");
#if defined(__LP64__) || defined(_LP64)
_Static_assert(LKN_OFFSETOF(struct lkn_laggreq_lacp, actor_prio) == 16, "actor_prio");
_Static_assert(LKN_OFFSETOF(struct lkn_laggreq_lacp, partner_key) == 34, "partner_key");
_Static_assert(sizeof(struct lkn_laggreq_lacp) == 40, "laggreq_lacp");
_Static_assert(LKN_OFFSETOF(struct lkn_lagg_req, lrq_reqproto) == 16, "lrq_reqproto");
_Static_assert(LKN_OFFSETOF(struct lkn_lagg_req, lrq_reqports) == 56, "lrq_reqports");
_Static_assert(sizeof(struct lkn_lagg_req) == 104, "lagg_req");
#else
_Static_assert(LKN_OFFSETOF(struct lkn_laggreq_lacp, actor_prio) == 12, "actor_prio");
_Static_assert(LKN_OFFSETOF(struct lkn_laggreq_lacp, partner_key) == 30, "partner_key");
_Static_assert(sizeof(struct lkn_laggreq_lacp) == 32, "laggreq_lacp");
_Static_assert(LKN_OFFSETOF(struct lkn_lagg_req, lrq_reqproto) == 12, "lrq_reqproto");
_Static_assert(LKN_OFFSETOF(struct lkn_lagg_req, lrq_reqports) == 44, "lrq_reqports");
_Static_assert(sizeof(struct lkn_lagg_req) == 92, "lagg_req");
#endif

/* Bytes of a lagg_req with room for n ports (the kernel's and ifconfig's own arithmetic). */
#define LKN_REQ_SIZE(n) (sizeof(struct lkn_lagg_req) + (n) * sizeof(struct lkn_laggreqport))

/* ---- Errors beyond the core's (the glue maps each to the errno lagg(4) returns) ------------ */

#define LKN_ENOTTY          (-100) /* unknown command or option command */
#define LKN_EPROTONOSUPPORT (-101) /* protocol number out of range */
#define LKN_ENOBUFS         (-102) /* status: more ports than the caller made room for */
#define LKN_ERANGE          (-103) /* lacp maxports 0 or above LK_MAX_PORTS */
#define LKN_EPROTOMISMATCH  (-104) /* option block for another protocol (lagg: EBUSY) */

/* ---- What the core has no place for -------------------------------------------------------- */

/*
 * NetBSD's LACP debugging switches: dumpdu logs every LACPDU, stopdu stops sending them.
 * Both act on control frames, which pass through the glue, so the glue keeps them.
 */
struct lkn_state {
	uint32_t lacp_debug; /* LKN_LACP_DUMPDU | LKN_LACP_STOPDU */
};

/* ---- Requests in ------------------------------------------------------------------------- */

enum lkn_cmd_kind {
	LKN_CMD_SETPROTO,   /* proto; then add ports[0..nports) (NetBSD's list form) */
	LKN_CMD_ADDPORT,    /* name */
	LKN_CMD_DELPORT,    /* name */
	LKN_CMD_SETPORTPRI, /* name, prio */
	LKN_CMD_PROTOOPT,   /* an option block for the current protocol */
};

/* One decoded, validated request: what the glue acts on. */
struct lkn_cmd {
	enum lkn_cmd_kind kind;
	enum lk_proto proto;                 /* SETPROTO: the core's protocol; PROTOOPT: the block's */
	char name[LKN_IFNAMSIZ];             /* ADDPORT, DELPORT, SETPORTPRI (NUL-terminated) */
	uint16_t prio;                       /* ADDPORT (0 = default), SETPORTPRI */
	const struct lkn_laggreqport *ports; /* SETPROTO: ports to add, in order */
	size_t nports;
	struct lkn_laggreqproto opt; /* PROTOOPT */
};

/*
 * Decode a request. nports_avail is how many lrq_reqports entries the caller actually copied
 * in (the glue copies in min(lrq_nports, what it allows)); a request naming more is refused.
 */
int lkn_decode(const struct lkn_lagg_req *req, size_t nports_avail, struct lkn_cmd *cmd);

/*
 * Carry out what needs only the core: SETPROTO's protocol, SETPORTPRI, PROTOOPT. Host lock
 * held. Port membership (ADDPORT, DELPORT and SETPROTO's list) is the glue's: it owns the NICs.
 */
int lkn_apply(struct lk_softc *sc, struct lkn_state *ns, const struct lkn_cmd *cmd);

/* ---- Status out ----------------------------------------------------------------------------- */

/* The core's protocol as NetBSD numbers it (LKN_PROTO_EXT + n for the others). */
int lkn_proto_to_netbsd(enum lk_proto p);
int lkn_proto_from_netbsd(int nproto, enum lk_proto *out);
uint32_t lkn_port_flags(uint32_t lk_flags);

/*
 * Fill resp, LKN_REQ_SIZE(room) bytes (the kernel's allocation: one spare entry), as lagg(4) does: protocol, its option block, and one
 * laggreqport per member; lrq_nports is always the member count. Returns LKN_ENOBUFS, with
 * the header and the first `room` ports filled, when the members do not fit: NetBSD 10's
 * ifconfig (lagg.c 1.3.2.1) then retries with lrq_nports + 3 entries. Host lock held.
 */
int lkn_status(const struct lk_softc *sc, const struct lkn_state *ns, struct lkn_lagg_req *resp, size_t room);

/*
 * SIOCGLAGG's sizes. The caller's buffer is LKN_REQ_SIZE(lrq_nports) bytes (ifconfig's and the
 * kernel's arithmetic: the header holds the first entry). lkn_status_room(): the entries the
 * kernel fills, at most every port it can have. lkn_status_copyout(): the bytes to copy back
 * after lkn_status(), the header and the entries filled, never more than the caller's buffer.
 */
size_t lkn_status_room(size_t asked);
size_t lkn_status_copyout(const struct lkn_lagg_req *resp, size_t room);

/*
 * SIOCSLAGG's size: the bytes of a request naming nports ports (at least the header), or 0 when
 * it names more ports than an aggregate can hold (the glue refuses it, EINVAL).
 */
size_t lkn_request_size(size_t nports);

/*
 * The lagg block of `ifconfig [-v] laggN` for a filled request, byte for byte as NetBSD 10's
 * ifconfig prints it (lagg_status()). NetBSD's ifconfig prints it only for interfaces named
 * lagg<digits>, so laggkitN offers it as sysctl net.laggkit.<if>.status. Always NUL-terminated;
 * returns the length it needed (like snprintf).
 */
size_t lkn_format_status(const struct lkn_lagg_req *req, bool verbose, char *buf, size_t len);

/* ---- Options without an ifconfig word (sysctl net.laggkit.<if>.<name>) ----------------------- */

struct lkn_sysctl_opt {
	const char *name;
	enum lk_opt opt;
	const char *descr;
};
extern const struct lkn_sysctl_opt lkn_sysctl_opts[];
extern const size_t lkn_sysctl_nopts;

#endif /* LAGGKIT_LRQ_H */
