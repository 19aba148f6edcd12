/*
 * Test harness for the laggkit core: fake hosts around real struct lk_softc instances, one
 * shared simulated clock, wires between ports, and a tiny assertion/test-table kit.
 *
 * Each th_host is one simulated system with one aggregate. Its host ops record everything the
 * core asks for (frames sent, MAC/MTU programming, aggregate link, timers). Control frames the
 * core transmits on a wired port arrive at the other end through lk_input()/lk_control_input()
 * in FIFO order at the same simulated time; nothing runs behind the test's back: time moves
 * only in th_advance(), which fires every due lk_tick() in deadline order.
 *
 * Tests: write `static void test_x(void) { TH_CHECK(...); }`, run with th_run("x", test_x)
 * (or th_run_case() for table rows), end main() with `return th_summary();`, which prints
 * "N passed, N failed". Every failed check prints file:line and the expression.
 */
#ifndef TH_HARNESS_H
#define TH_HARNESS_H

#include "lk_core.h"

#define TH_MAX_HOSTS 8
/* CPU slots of every aggregate: the harness's own calls use slot 0, threaded tests one each */
#define TH_CPUS      8
#define TH_FRAME_MAX 1518u
#define TH_NS_PER_MS 1000000ull

struct th_frame {
	uint64_t t_ns; /* simulated time it was sent / received */
	uint32_t port;
	uint32_t len;
	uint8_t data[TH_FRAME_MAX];
};

struct th_frames { /* growable list */
	struct th_frame *v;
	uint32_t n, cap;
};

struct th_host {
	char name[32];
	uint8_t mac[6];
	struct lk_softc *sc;
	uint64_t deadline_ns; /* armed timer, UINT64_MAX = none */
	uint32_t ticks;       /* lk_tick() calls so far */

	/* per port, indexed by the core's port index */
	struct th_host *peer[LK_MAX_PORTS];
	uint32_t peer_port[LK_MAX_PORTS];
	int silent[LK_MAX_PORTS];
	int carrier[LK_MAX_PORTS];
	uint64_t speed[LK_MAX_PORTS];
	int full_duplex[LK_MAX_PORTS];
	uint8_t port_mac[LK_MAX_PORTS][6]; /* as last programmed by the core */
	uint32_t port_mtu[LK_MAX_PORTS];
	uint32_t set_lladdr_calls, set_mtu_calls;

	struct th_frames ctl_tx;        /* frames the core built and sent (ctl_transmit) */
	struct th_frames data_rx;       /* data frames the core accepted on input */
	uint32_t data_tx[LK_MAX_PORTS]; /* data frames sent per port through th_send */

	/* aggregate as the host sees it */
	int lagg_up;
	uint64_t lagg_speed;
	uint8_t lagg_mac[6];
	uint32_t lagg_link_calls, lagg_mac_calls;

	/* fault injection and allocation accounting */
	int fail_alloc;      /* the next N allocations fail */
	int fail_set_lladdr; /* the next N port_set_lladdr calls fail... */
	int fail_set_mtu;
	int fail_skip; /* ...after this many more calls succeed */
	int64_t live_allocs;
	uint32_t retired;
	/* 1: keep retired tables until the host is destroyed (a grace period longer than any
	 * reader thread), for tests that run lk_output on other threads */
	int defer_retire;
	void **deferred;
	uint32_t ndeferred, deferred_cap;
};

/* ---- the fake world ------------------------------------------------------------------------- */

/* Create a host with one aggregate (lk_init inside, protocol failover). */
struct th_host *th_host_new(const char *name, const uint8_t mac[6]);
/* Destroy one host now (lk_fini, frees); th_reset destroys the rest. */
void th_host_free(struct th_host *h);
/* Add a port and bring its link up. MAC = host MAC with the last byte + index + 1, MTU 1500. */
uint32_t th_port_add(struct th_host *h, const char *ifname, uint64_t speed_bps, int full_duplex);
/* Frames sent on a:pa arrive at b:pb and back. */
void th_wire(struct th_host *a, uint32_t pa, struct th_host *b, uint32_t pb);
/* Carrier change on both ends of the port's wire (lk_port_link on each). */
void th_link(struct th_host *h, uint32_t port, int up);
/* Frames sent by h on port are lost; link stays up. */
void th_silence(struct th_host *h, uint32_t port, int silent);
/* Advance the shared clock, firing every host's due lk_tick() in time order. */
void th_advance(uint64_t ms);
void th_advance_ns(uint64_t ns);
uint64_t th_now_ns(void);
/* Deliver every frame in flight (also done by th_advance and the calls above). */
void th_pump(void);

/* Send a data frame through the aggregate: lk_output, then each chosen port carries it to its
 * peer (lk_input there). Returns the port mask. */
uint32_t th_send(struct th_host *h, const uint8_t *frame, uint32_t len);
uint32_t th_send_frame(struct th_host *h, const struct lk_frame *f);
/* A frame arriving from outside on a port: lk_input, and lk_control_input for control. */
enum lk_rx_verdict th_receive(struct th_host *h, uint32_t port, const uint8_t *frame, uint32_t len);

/* ---- recorded frames ------------------------------------------------------------------------- */

uint32_t th_tx_count(const struct th_host *h, uint32_t port); /* ctl frames sent on port */
/* The i-th control frame sent on port (oldest first), or NULL. */
const struct th_frame *th_tx_get(const struct th_host *h, uint32_t port, uint32_t i);
/* Count of control frames on port whose Ethernet type is etype (0 = any). */
uint32_t th_tx_count_type(const struct th_host *h, uint32_t port, uint16_t etype);
void th_tx_clear(struct th_host *h);
uint32_t th_rx_count(const struct th_host *h, uint32_t port); /* data frames accepted */

/* ---- frame builders for tests ---------------------------------------------------------------- */

struct th_flow {
	uint8_t src_mac[6], dst_mac[6];
	int vlan;   /* >0: add an in-band 802.1Q tag with this id */
	int family; /* 0 = no IP (ethertype 0x88b5), 4, 6 */
	uint8_t src_ip[16], dst_ip[16];
	uint8_t proto; /* 6 TCP, 17 UDP, 132 SCTP */
	uint16_t sport, dport;
	uint16_t frag_off; /* IPv4 fragment offset in 8-byte units (0 = first) */
};
/* Write a 64-byte (or longer for IPv6) frame for the flow; returns its length. */
uint32_t th_build(const struct th_flow *fl, uint8_t *buf, uint32_t buflen);
/* Deterministic pseudo-random generator for tests (xorshift), state must not be 0. */
uint32_t th_rand(uint32_t *state);

/* ---- checks and test tables ------------------------------------------------------------------ */

void th_check_(int ok, const char *expr, const char *file, int line);
void th_check_eq_(uint64_t a, uint64_t b, const char *ea, const char *eb, const char *file, int line);
#define TH_CHECK(c) th_check_(!!(c), #c, __FILE__, __LINE__)
#define TH_EQ(a, b) th_check_eq_((uint64_t)(a), (uint64_t)(b), #a, #b, __FILE__, __LINE__)
/* Name the current table row in failure messages. */
void th_note(const char *fmt_row);

/* Run one test: fresh world (no hosts, clock at 1 s), counted as passed if no check failed. */
void th_run(const char *name, void (*fn)(void));
void th_run_case(const char *name, void (*fn)(const void *arg), const void *arg);
/* Print "N passed, N failed"; returns the process exit code. */
int th_summary(void);
/* Destroy every host (lk_fini, frees), reset the clock. th_run calls it. */
void th_reset(void);

#endif /* TH_HARNESS_H */
