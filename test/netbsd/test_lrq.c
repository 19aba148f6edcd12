/*
 * NetBSD lagg ioctl translation (kmod/netbsd/laggkit_lrq.c) against the real core: requests
 * laid out byte for byte as NetBSD 10's ifconfig sends them, decoded and applied to core
 * aggregates of the core test harness; status read back into struct lagg_req and printed as
 * NetBSD's ifconfig prints its lagg block.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "laggkit_lrq.h"

static const uint8_t mac_a[6] = { 0x02, 0, 0, 0, 0xa0, 0x10 };
static const uint8_t mac_b[6] = { 0x02, 0, 0, 0, 0xb0, 0x20 };

/* A request as ifconfig builds it: zeroed, room for nports ports. */
static struct lkn_lagg_req *
req_new(size_t nports)
{
	struct lkn_lagg_req *r = calloc(1, LKN_REQ_SIZE(nports));

	TH_CHECK(r != NULL);
	return r;
}

static int
run(struct th_host *h, struct lkn_state *ns, const struct lkn_lagg_req *r)
{
	struct lkn_cmd cmd;
	int error = lkn_decode(r, 1, &cmd);

	return error != LK_OK ? error : lkn_apply(h->sc, ns, &cmd);
}

static int
set_proto(struct th_host *h, struct lkn_state *ns, int nproto)
{
	struct lkn_lagg_req *r = req_new(0);
	int error;

	r->lrq_ioctl = LKN_IOC_SETPROTO;
	r->lrq_proto = nproto;
	error = run(h, ns, r);
	free(r);
	return error;
}

static int
port_cmd(struct th_host *h, struct lkn_state *ns, uint32_t ioc, const char *name, uint32_t prio)
{
	struct lkn_lagg_req *r = req_new(0);
	int error;

	r->lrq_ioctl = ioc;
	r->lrq_nports = 1;
	strncpy(r->lrq_reqports[0].rp_portname, name, LKN_IFNAMSIZ);
	r->lrq_reqports[0].rp_prio = prio;
	error = run(h, ns, r);
	free(r);
	return error;
}

static int
lacp_opt(struct th_host *h, struct lkn_state *ns, uint32_t command, uint32_t flags, size_t maxports)
{
	struct lkn_lagg_req *r = req_new(0);
	int error;

	r->lrq_ioctl = LKN_IOC_SETPROTOOPT;
	r->lrq_proto = LKN_PROTO_LACP;
	r->lrq_reqproto.rp_proto.proto_lacp.command = command;
	r->lrq_reqproto.rp_proto.proto_lacp.flags = flags;
	r->lrq_reqproto.rp_proto.proto_lacp.maxports = maxports;
	error = run(h, ns, r);
	free(r);
	return error;
}

static uint32_t
opt(struct th_host *h, enum lk_opt o)
{
	uint32_t v = 0xdeadbeef;

	TH_EQ(lk_get_opt(h->sc, o, &v), LK_OK);
	return v;
}

/* The raw bytes of ifconfig's "laggport wm1 pri 1000" request, placed by hand at the offsets
 * NetBSD's amd64 layout gives them: the structures must read them from the same places. */
static void
test_raw_layout(void)
{
	uint8_t raw[LKN_REQ_SIZE(0)];
	struct lkn_lagg_req req;
	struct lkn_cmd cmd;
	uint32_t u32;
	uint64_t nports = 1;

	TH_EQ(sizeof(raw), 104);
	memset(raw, 0, sizeof(raw));
	u32 = LKN_IOC_SETPORTPRI;
	memcpy(raw + 0, &u32, 4);    /* lrq_ioctl */
	memcpy(raw + 8, &nports, 8); /* lrq_nports */
	memcpy(raw + 56, "wm1", 3);  /* lrq_reqports[0].rp_portname */
	u32 = 1000;
	memcpy(raw + 56 + 16, &u32, 4); /* rp_prio */
	memcpy(&req, raw, sizeof(req));
	TH_EQ(lkn_decode(&req, 1, &cmd), LK_OK);
	TH_EQ(cmd.kind, LKN_CMD_SETPORTPRI);
	TH_CHECK(strcmp(cmd.name, "wm1") == 0);
	TH_EQ(cmd.prio, 1000);

	/* "lagglacp maxports 2": command, maxports at 16+0 and 16+8 */
	memset(raw, 0, sizeof(raw));
	u32 = LKN_IOC_SETPROTOOPT;
	memcpy(raw + 0, &u32, 4);
	u32 = LKN_PROTO_LACP;
	memcpy(raw + 4, &u32, 4); /* lrq_proto */
	u32 = LKN_LACP_SETMAXPORTS;
	memcpy(raw + 16, &u32, 4); /* rp_lacp.command */
	nports = 2;
	memcpy(raw + 24, &nports, 8); /* rp_lacp.maxports */
	memcpy(&req, raw, sizeof(req));
	TH_EQ(lkn_decode(&req, 0, &cmd), LK_OK);
	TH_EQ(cmd.kind, LKN_CMD_PROTOOPT);
	TH_EQ(cmd.proto, LK_PROTO_LACP);
	TH_EQ(cmd.opt.rp_proto.proto_lacp.command, LKN_LACP_SETMAXPORTS);
	TH_EQ(cmd.opt.rp_proto.proto_lacp.maxports, 2);
}

static void
test_decode_refuses(void)
{
	struct lkn_lagg_req *r = req_new(2);
	struct lkn_cmd cmd;

	r->lrq_ioctl = LKN_IOC_SETPROTO;
	r->lrq_proto = LKN_PROTO_MAX; /* lagg(4): EPROTONOSUPPORT */
	TH_EQ(lkn_decode(r, 0, &cmd), LKN_EPROTONOSUPPORT);
	r->lrq_proto = -1;
	TH_EQ(lkn_decode(r, 0, &cmd), LKN_EPROTONOSUPPORT);
	r->lrq_proto = LKN_PROTO_EXT + LK_PROTO_ROUNDROBIN; /* sysctl only */
	TH_EQ(lkn_decode(r, 0, &cmd), LKN_EPROTONOSUPPORT);
	r->lrq_proto = LKN_PROTO_LACP;
	r->lrq_nports = 3; /* more than were copied in */
	TH_EQ(lkn_decode(r, 2, &cmd), LK_EINVAL);
	r->lrq_nports = 2;
	strcpy(r->lrq_reqports[0].rp_portname, "wm0");
	TH_EQ(lkn_decode(r, 2, &cmd), LK_EINVAL); /* second name empty */
	strcpy(r->lrq_reqports[1].rp_portname, "wm1");
	TH_EQ(lkn_decode(r, 2, &cmd), LK_OK);
	TH_EQ(cmd.nports, 2);
	TH_EQ(cmd.proto, LK_PROTO_LACP);

	r->lrq_ioctl = 0; /* LAGGIOC_NOCMD */
	TH_EQ(lkn_decode(r, 2, &cmd), LKN_ENOTTY);
	r->lrq_ioctl = 6;
	TH_EQ(lkn_decode(r, 2, &cmd), LKN_ENOTTY);

	r->lrq_ioctl = LKN_IOC_ADDPORT;
	memset(r->lrq_reqports[0].rp_portname, 'x', LKN_IFNAMSIZ); /* no NUL */
	TH_EQ(lkn_decode(r, 2, &cmd), LK_EINVAL);
	memset(r->lrq_reqports[0].rp_portname, 0, LKN_IFNAMSIZ);
	TH_EQ(lkn_decode(r, 2, &cmd), LK_EINVAL);
	strcpy(r->lrq_reqports[0].rp_portname, "vioif15");
	TH_EQ(lkn_decode(r, 2, &cmd), LK_OK);
	TH_EQ(cmd.kind, LKN_CMD_ADDPORT);
	TH_CHECK(strcmp(cmd.name, "vioif15") == 0);

	r->lrq_ioctl = LKN_IOC_SETPORTPRI;
	r->lrq_reqports[0].rp_prio = 65536;
	TH_EQ(lkn_decode(r, 2, &cmd), LK_EINVAL);
	r->lrq_reqports[0].rp_prio = 65535;
	TH_EQ(lkn_decode(r, 2, &cmd), LK_OK);
	free(r);
}

/* The protocol numbers are NetBSD's, not FreeBSD's (lacp is 1 there, 4 in the core). */
static void
test_setproto_keeps_ports(void)
{
	struct th_host *a = th_host_new("laggkit0", mac_a);
	struct lkn_state ns = { 0 };
	struct lk_status st;

	th_port_add(a, "wm0", 1000000000ull, 1);
	th_port_add(a, "wm1", 1000000000ull, 1);
	TH_EQ(set_proto(a, &ns, LKN_PROTO_LACP), LK_OK);
	TH_EQ(lk_get_proto(a->sc), LK_PROTO_LACP);
	TH_EQ(set_proto(a, &ns, LKN_PROTO_LOADBALANCE), LK_OK);
	TH_EQ(lk_get_proto(a->sc), LK_PROTO_LOADBALANCE);
	TH_EQ(set_proto(a, &ns, LKN_PROTO_NONE), LK_OK);
	TH_EQ(lk_get_proto(a->sc), LK_PROTO_NONE);
	TH_EQ(set_proto(a, &ns, LKN_PROTO_FAILOVER), LK_OK);
	TH_EQ(lk_get_proto(a->sc), LK_PROTO_FAILOVER);
	TH_EQ(lk_get_status(a->sc, &st), LK_OK);
	TH_EQ(st.nports, 2);
}

/* "laggportpri wm1 100": a lower priority wins failover, and it is the LACP port priority. */
static void
test_port_priority(void)
{
	struct th_host *a = th_host_new("laggkit0", mac_a);
	struct lkn_state ns = { 0 };
	struct lk_port_status ps;
	struct lk_status st;
	uint32_t p1;

	th_port_add(a, "wm0", 1000000000ull, 1);
	p1 = th_port_add(a, "wm1", 1000000000ull, 1);
	TH_EQ(lk_get_status(a->sc, &st), LK_OK);
	TH_EQ(st.active_port, 0);
	TH_EQ(port_cmd(a, &ns, LKN_IOC_SETPORTPRI, "wm1", 100), LK_OK);
	TH_EQ(lk_get_port_status(a->sc, p1, &ps), LK_OK);
	TH_EQ(ps.prio, 100);
	TH_EQ(lk_get_status(a->sc, &st), LK_OK);
	TH_EQ(st.active_port, (int)p1);
	TH_EQ(set_proto(a, &ns, LKN_PROTO_LACP), LK_OK);
	TH_EQ(lk_get_port_status(a->sc, p1, &ps), LK_OK);
	TH_EQ(ps.lacp.actor.port_prio, 100);
	TH_EQ(port_cmd(a, &ns, LKN_IOC_SETPORTPRI, "wm7", 100), LK_ENOENT);
	/* membership is the glue's: apply refuses it rather than pretend */
	TH_EQ(port_cmd(a, &ns, LKN_IOC_ADDPORT, "wm2", 0), LK_EINVAL);
}

static void
test_lacp_options(void)
{
	struct th_host *a = th_host_new("laggkit0", mac_a);
	struct lkn_state ns = { 0 };

	/* lagg(4): an option block for a protocol that is not running is EBUSY */
	TH_EQ(lacp_opt(a, &ns, LKN_LACP_SETFLAGS, LKN_LACP_OPTIMISTIC, 0), LKN_EPROTOMISMATCH);
	TH_EQ(set_proto(a, &ns, LKN_PROTO_LACP), LK_OK);
	TH_EQ(opt(a, LK_OPT_LACP_STRICT), 1);
	TH_EQ(lacp_opt(a, &ns, LKN_LACP_SETFLAGS, LKN_LACP_OPTIMISTIC, 0), LK_OK);
	TH_EQ(opt(a, LK_OPT_LACP_STRICT), 0);
	TH_EQ(lacp_opt(a, &ns, LKN_LACP_CLRFLAGS, LKN_LACP_OPTIMISTIC, 0), LK_OK);
	TH_EQ(opt(a, LK_OPT_LACP_STRICT), 1);
	TH_EQ(lacp_opt(a, &ns, LKN_LACP_SETFLAGS, LKN_LACP_MULTILS | LKN_LACP_DUMPDU, 0), LK_OK);
	TH_EQ(opt(a, LK_OPT_LACP_MULTI_SPEED), 1);
	TH_EQ(ns.lacp_debug, LKN_LACP_DUMPDU);
	TH_EQ(lacp_opt(a, &ns, LKN_LACP_SETFLAGS, LKN_LACP_STOPDU, 0), LK_OK);
	TH_EQ(ns.lacp_debug, LKN_LACP_DUMPDU | LKN_LACP_STOPDU);
	TH_EQ(lacp_opt(a, &ns, LKN_LACP_CLRFLAGS, LKN_LACP_DUMPDU | LKN_LACP_MULTILS, 0), LK_OK);
	TH_EQ(ns.lacp_debug, LKN_LACP_STOPDU);
	TH_EQ(opt(a, LK_OPT_LACP_MULTI_SPEED), 0);
	TH_EQ(lacp_opt(a, &ns, LKN_LACP_SETFLAGS, 0x10, 0), LK_EINVAL);
	TH_EQ(lacp_opt(a, &ns, 9, 0, 0), LKN_ENOTTY);

	TH_EQ(lacp_opt(a, &ns, LKN_LACP_SETMAXPORTS, 0, 0), LKN_ERANGE);
	TH_EQ(lacp_opt(a, &ns, LKN_LACP_SETMAXPORTS, 0, LK_MAX_PORTS + 1), LKN_ERANGE);
	TH_EQ(lacp_opt(a, &ns, LKN_LACP_SETMAXPORTS, 0, 2), LK_OK);
	TH_EQ(opt(a, LK_OPT_LACP_MAXPORTS), 2);
	TH_EQ(lacp_opt(a, &ns, LKN_LACP_CLRMAXPORTS, 0, 0), LK_OK);
	TH_EQ(opt(a, LK_OPT_LACP_MAXPORTS), 0);
}

static void
test_failover_and_loadbalance_options(void)
{
	struct th_host *a = th_host_new("laggkit0", mac_a);
	struct lkn_state ns = { 0 };
	struct lkn_lagg_req *r = req_new(0);

	r->lrq_ioctl = LKN_IOC_SETPROTOOPT;
	r->lrq_proto = LKN_PROTO_FAILOVER;
	r->lrq_reqproto.rp_proto.proto_fail.command = LKN_FAIL_SETFLAGS;
	r->lrq_reqproto.rp_proto.proto_fail.flags = LKN_FAIL_RXALL;
	TH_EQ(run(a, &ns, r), LK_OK);
	TH_EQ(opt(a, LK_OPT_FAILOVER_RX_ALL), 1);
	r->lrq_reqproto.rp_proto.proto_fail.command = LKN_FAIL_CLRFLAGS;
	TH_EQ(run(a, &ns, r), LK_OK);
	TH_EQ(opt(a, LK_OPT_FAILOVER_RX_ALL), 0);
	r->lrq_reqproto.rp_proto.proto_fail.command = 3;
	TH_EQ(run(a, &ns, r), LKN_ENOTTY);

	TH_EQ(set_proto(a, &ns, LKN_PROTO_LOADBALANCE), LK_OK);
	r->lrq_proto = LKN_PROTO_LOADBALANCE;
	r->lrq_reqproto.rp_proto.proto_fail.command = LKN_FAIL_SETFLAGS;
	TH_EQ(run(a, &ns, r), LKN_ENOTTY); /* no options: lagg(4) ENOTTY */
	free(r);
}

/* Failover status is the block of the netbsd10-failover ifconfig fixture, byte for byte. */
static void
test_failover_status_text(void)
{
	struct th_host *a = th_host_new("laggkit0", mac_a);
	struct lkn_state ns = { 0 };
	struct lkn_lagg_req *r = req_new(4);
	char text[512];
	size_t need;

	th_port_add(a, "wm0", 1000000000ull, 1);
	th_port_add(a, "wm1", 1000000000ull, 1);
	TH_EQ(port_cmd(a, &ns, LKN_IOC_SETPORTPRI, "wm0", 1000), LK_OK);
	TH_EQ(port_cmd(a, &ns, LKN_IOC_SETPORTPRI, "wm1", 2000), LK_OK);
	TH_EQ(lkn_status(a->sc, &ns, r, 4), LK_OK);
	TH_EQ(r->lrq_proto, LKN_PROTO_FAILOVER);
	TH_EQ(r->lrq_nports, 2);
	need = lkn_format_status(r, false, text, sizeof(text));
	TH_EQ(need, strlen(text));
	TH_CHECK(strcmp(text,
	             "\tlaggproto failover\n"
	             "\tlaggport:\n"
	             "\t\twm0 pri=1000 flags=0x5<MASTER,ACTIVE>\n"
	             "\t\twm1 pri=2000 flags=0x0\n") == 0);
	if (strstr(text, "MASTER,ACTIVE") == NULL)
		printf("got:\n%s", text);

	/* truncation: NUL-terminated, the needed length reported */
	TH_EQ(lkn_format_status(r, false, text, 10), need);
	TH_EQ(strlen(text), 9);

	th_link(a, 0, 0);
	TH_EQ(lkn_status(a->sc, &ns, r, 4), LK_OK);
	TH_EQ(r->lrq_reqports[0].rp_flags, LKN_PORT_MASTER);
	TH_EQ(r->lrq_reqports[1].rp_flags, LKN_PORT_ACTIVE);
	free(r);
}

/* ifconfig's getlagg(): start with no room, retry with lrq_nports + 3 on ENOBUFS. */
static void
test_status_room(void)
{
	struct th_host *a = th_host_new("laggkit0", mac_a);
	struct lkn_state ns = { 0 };
	struct lkn_lagg_req *r;
	size_t nports = 0;
	int tries = 0, error;

	th_port_add(a, "wm0", 1000000000ull, 1);
	th_port_add(a, "wm1", 1000000000ull, 1);
	th_port_add(a, "wm2", 1000000000ull, 1);
	for (;;) {
		size_t room = lkn_status_room(nports);

		r = req_new(nports);
		r->lrq_nports = nports;
		error = lkn_status(a->sc, &ns, r, room);
		/* what goes back never overruns ifconfig's buffer, and holds every entry filled */
		TH_CHECK(lkn_status_copyout(r, room) <= LKN_REQ_SIZE(nports));
		TH_EQ(lkn_status_copyout(r, room), LKN_REQ_SIZE(r->lrq_nports < room ? r->lrq_nports : room));
		tries++;
		if (error != LKN_ENOBUFS || tries > 3)
			break;
		TH_EQ(r->lrq_nports, 3);
		nports = r->lrq_nports + 3;
		free(r);
	}
	TH_EQ(error, LK_OK);
	TH_EQ(tries, 2);
	TH_EQ(r->lrq_nports, 3);
	TH_CHECK(strcmp(r->lrq_reqports[2].rp_portname, "wm2") == 0);
	free(r);

	r = req_new(1);
	TH_EQ(lkn_status(a->sc, &ns, r, 1), LKN_ENOBUFS);
	TH_EQ(r->lrq_nports, 3);
	TH_CHECK(strcmp(r->lrq_reqports[0].rp_portname, "wm0") == 0);
	free(r);
}

/* Two aggregates over two wires: LACP converges and the status reads like NetBSD's -v. */
/* SIOCSLAGG and SIOCGLAGG sizes at their edges. */
static void
test_sizes(void)
{
	TH_EQ(lkn_request_size(0), sizeof(struct lkn_lagg_req));
	TH_EQ(lkn_request_size(1), sizeof(struct lkn_lagg_req));
	TH_EQ(lkn_request_size(2), sizeof(struct lkn_lagg_req) + sizeof(struct lkn_laggreqport));
	TH_EQ(lkn_request_size(LK_MAX_PORTS), LKN_REQ_SIZE(LK_MAX_PORTS - 1));
	TH_EQ(lkn_request_size(LK_MAX_PORTS + 1), 0);
	TH_EQ(lkn_request_size((size_t)-1), 0);
	TH_EQ(lkn_status_room(0), 0);
	TH_EQ(lkn_status_room(5), 5);
	TH_EQ(lkn_status_room(1000), LK_MAX_PORTS);
}

static void
test_lacp_status(void)
{
	struct th_host *a = th_host_new("laggkit0", mac_a);
	struct th_host *b = th_host_new("lagg0", mac_b);
	struct lkn_state ns = { LKN_LACP_DUMPDU };
	struct lkn_lagg_req *r = req_new(2);
	const struct lkn_laggreq_lacp *l = &r->lrq_reqproto.rp_proto.proto_lacp;
	const struct lkn_laggreq_lacpport *lp;
	char text[2048];
	/* the LACP system id is the aggregate's MAC: its first port's (harness: host MAC + 1) */
	const uint8_t sys_a[6] = { 0x02, 0, 0, 0, 0xa0, 0x11 };
	const uint8_t sys_b[6] = { 0x02, 0, 0, 0, 0xb0, 0x21 };

	for (uint32_t i = 0; i < 2; i++) {
		char name[8];

		snprintf(name, sizeof(name), "wm%u", i);
		th_port_add(a, name, 1000000000ull, 1);
		snprintf(name, sizeof(name), "vioif%u", i);
		th_port_add(b, name, 1000000000ull, 1);
		th_wire(a, i, b, i);
	}
	TH_EQ(set_proto(a, &ns, LKN_PROTO_LACP), LK_OK);
	TH_EQ(lk_set_proto(b->sc, LK_PROTO_LACP), LK_OK);
	TH_EQ(lacp_opt(a, &ns, LKN_LACP_SETFLAGS, LKN_LACP_MULTILS, 0), LK_OK);
	th_advance(10000);

	TH_EQ(lkn_status(a->sc, &ns, r, 2), LK_OK);
	TH_EQ(r->lrq_proto, LKN_PROTO_LACP);
	TH_EQ(l->flags, LKN_LACP_DUMPDU | LKN_LACP_MULTILS);
	TH_EQ(l->maxports, LK_MAX_PORTS);
	TH_EQ(l->actor_prio, 0x8000);
	TH_CHECK(memcmp(l->actor_mac, sys_a, 6) == 0);
	TH_EQ(l->partner_prio, 0x8000);
	TH_CHECK(memcmp(l->partner_mac, sys_b, 6) == 0);
	for (size_t i = 0; i < 2; i++) {
		lp = &r->lrq_reqports[i].rp_port.port_lacp;
		th_note(i == 0 ? "wm0" : "wm1");
		TH_EQ(r->lrq_reqports[i].rp_flags,
		    (i == 0 ? LKN_PORT_MASTER : 0) | LKN_PORT_ACTIVE | LKN_PORT_COLLECTING |
		        LKN_PORT_DISTRIBUTING);
		TH_CHECK((lp->actor_state &
		             (LK_LACP_STATE_SYNC | LK_LACP_STATE_COLLECTING | LK_LACP_STATE_DISTRIBUTING)) ==
		    (LK_LACP_STATE_SYNC | LK_LACP_STATE_COLLECTING | LK_LACP_STATE_DISTRIBUTING));
		TH_CHECK((lp->partner_state & LK_LACP_STATE_SYNC) != 0);
		TH_CHECK(memcmp(lp->partner_mac, sys_b, 6) == 0);
		TH_EQ(lp->actor_portprio, 0x8000);
		TH_CHECK(lp->partner_portno != 0);
	}
	th_note("");

	lkn_format_status(r, true, text, sizeof(text));
	TH_CHECK(strncmp(text,
	             "\tlaggproto lacp\n\t\tmax ports=32, flags=0xa<DUMPDU,MULTILS>\n"
	             "\t\tactor=[8000,02-00-00-00-A0-11,",
	             90) == 0);
	TH_CHECK(strstr(text, "\t\tpartner=[8000,02-00-00-00-B0-21,") != NULL);
	TH_CHECK(strstr(text,
	             "\t\twm0 pri=32768 flags=0x1d<MASTER,ACTIVE,COLLECTING,DISTRIBUTING>\n"
	             "\t\t\tactor: state=0x3d<ACTIVITY,AGGREGATION,SYNC,COLLECTING,DISTRIBUTING>\n"
	             "\t\t\tpartner=[8000,02-00-00-00-B0-21,") != NULL);
	TH_CHECK(strstr(text, "\t\t\tpartner: port=") != NULL);
	if (strstr(text, "\t\tpartner=[8000,02-00-00-00-B0-21,") == NULL)
		printf("got:\n%s", text);

	/* maxports 1: the other port goes STANDBY, which NetBSD numbers 0x20 (FreeBSD 0x100) */
	TH_EQ(lacp_opt(a, &ns, LKN_LACP_SETMAXPORTS, 0, 1), LK_OK);
	th_advance(5000);
	TH_EQ(lkn_status(a->sc, &ns, r, 2), LK_OK);
	TH_EQ(l->maxports, 1);
	TH_CHECK(((r->lrq_reqports[0].rp_flags | r->lrq_reqports[1].rp_flags) & LKN_PORT_STANDBY) != 0);
	free(r);
}

static void
test_other_protocols(void)
{
	struct th_host *a = th_host_new("laggkit0", mac_a);
	struct lkn_state ns = { 0 };
	struct lkn_lagg_req *r = req_new(1);
	char text[256];

	th_port_add(a, "wm0", 1000000000ull, 1);
	TH_EQ(lk_set_proto(a->sc, LK_PROTO_ROUNDROBIN), LK_OK);
	TH_EQ(lkn_status(a->sc, &ns, r, 1), LK_OK);
	TH_EQ(r->lrq_proto, LKN_PROTO_EXT + LK_PROTO_ROUNDROBIN);
	lkn_format_status(r, true, text, sizeof(text));
	TH_CHECK(strncmp(text, "\tlaggproto unknown\n\tlaggport:\n\t\twm0 pri=32768 ", 45) == 0);
	TH_EQ(lkn_proto_to_netbsd(LK_PROTO_BROADCAST), LKN_PROTO_EXT + LK_PROTO_BROADCAST);
	free(r);
}

static void
test_sysctl_table(void)
{
	struct th_host *a = th_host_new("laggkit0", mac_a);
	uint32_t seen = 0, v;

	for (size_t i = 0; i < lkn_sysctl_nopts; i++) {
		const struct lkn_sysctl_opt *o = &lkn_sysctl_opts[i];

		th_note(o->name);
		TH_CHECK(o->opt < LK_OPT_MAX);
		TH_CHECK((seen & (1u << o->opt)) == 0);
		seen |= 1u << o->opt;
		TH_EQ(lk_get_opt(a->sc, o->opt, &v), LK_OK);
		for (size_t j = 0; j < i; j++)
			TH_CHECK(strcmp(lkn_sysctl_opts[j].name, o->name) != 0);
	}
	th_note("");
	TH_EQ(lkn_sysctl_nopts, LK_OPT_MAX); /* every core option has a sysctl */
}

int
main(void)
{
	th_run("raw_layout", test_raw_layout);
	th_run("decode_refuses", test_decode_refuses);
	th_run("setproto_keeps_ports", test_setproto_keeps_ports);
	th_run("port_priority", test_port_priority);
	th_run("lacp_options", test_lacp_options);
	th_run("failover_and_loadbalance_options", test_failover_and_loadbalance_options);
	th_run("failover_status_text", test_failover_status_text);
	th_run("status_room", test_status_room);
	th_run("sizes", test_sizes);
	th_run("lacp_status", test_lacp_status);
	th_run("other_protocols", test_other_protocols);
	th_run("sysctl_table", test_sysctl_table);
	return th_summary();
}
