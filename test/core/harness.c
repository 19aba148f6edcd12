/*
 * The fake world behind harness.h: hosts, wires, the shared clock and the check counters.
 * Test code, so it uses libc freely; the core under test does not.
 */
#include "harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TICKS_PER_ADVANCE 1000000u
#define MAX_PUMP              100000u

struct inflight {
	struct th_host *to;
	uint32_t port;
	uint32_t len;
	uint8_t data[TH_FRAME_MAX];
};

static struct th_host *hosts[TH_MAX_HOSTS];
static int nhosts;
static uint64_t now_ns = 1000000000ull;
static struct inflight *queue;
static uint32_t q_head, q_tail, q_cap;

static int passed, failed, cur_failed;
static const char *cur_name = "";
static const char *cur_note = "";

/* ---- checks ---------------------------------------------------------------------------------- */

void
th_check_(int ok, const char *expr, const char *file, int line)
{
	if (ok)
		return;
	cur_failed++;
	fprintf(stderr, "%s:%d: [%s%s%s] check failed: %s\n", file, line, cur_name, cur_note[0] ? " / " : "",
	    cur_note, expr);
}

void
th_check_eq_(uint64_t a, uint64_t b, const char *ea, const char *eb, const char *file, int line)
{
	if (a == b)
		return;
	cur_failed++;
	fprintf(stderr, "%s:%d: [%s%s%s] %s == %s failed: %llu != %llu\n", file, line, cur_name,
	    cur_note[0] ? " / " : "", cur_note, ea, eb, (unsigned long long)a, (unsigned long long)b);
}

void
th_note(const char *row)
{
	cur_note = row != NULL ? row : "";
}

static void
finish(const char *name)
{
	if (cur_failed == 0)
		passed++;
	else {
		failed++;
		fprintf(stderr, "FAIL %s\n", name);
	}
	th_reset();
}

void
th_run(const char *name, void (*fn)(void))
{
	th_reset();
	cur_name = name;
	cur_note = "";
	cur_failed = 0;
	fn();
	finish(name);
}

void
th_run_case(const char *name, void (*fn)(const void *arg), const void *arg)
{
	th_reset();
	cur_name = name;
	cur_note = "";
	cur_failed = 0;
	fn(arg);
	finish(name);
}

int
th_summary(void)
{
	printf("%d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}

/* ---- host ops ---------------------------------------------------------------------------------- */

static uint64_t
op_now(void *host)
{
	(void)host;
	return now_ns;
}

static void
op_timer_arm(void *host, uint64_t delay_ns)
{
	struct th_host *h = host;

	h->deadline_ns = now_ns + delay_ns;
}

static void
frames_push(struct th_frames *fs, uint32_t port, const uint8_t *data, uint32_t len)
{
	struct th_frame *f;

	if (fs->n == fs->cap) {
		fs->cap = fs->cap ? fs->cap * 2 : 64;
		fs->v = realloc(fs->v, fs->cap * sizeof(*fs->v));
		if (fs->v == NULL)
			abort();
	}
	f = &fs->v[fs->n++];
	f->t_ns = now_ns;
	f->port = port;
	f->len = len < TH_FRAME_MAX ? len : TH_FRAME_MAX;
	memcpy(f->data, data, f->len);
}

/* Put a frame on the wire from h:port, unless the port is silenced, down or unwired. */
static void
wire_send(struct th_host *h, uint32_t port, const uint8_t *data, uint32_t len)
{
	struct inflight *q;

	if (port >= LK_MAX_PORTS || h->peer[port] == NULL || h->silent[port] || !h->carrier[port])
		return;
	if (q_tail - q_head == q_cap) {
		/* grow: compact into a bigger array */
		uint32_t ncap = q_cap ? q_cap * 2 : 256, n = q_tail - q_head;
		struct inflight *nq = malloc(ncap * sizeof(*nq));
		if (nq == NULL)
			abort();
		for (uint32_t i = 0; i < n; i++)
			nq[i] = queue[(q_head + i) % q_cap];
		free(queue);
		queue = nq;
		q_cap = ncap;
		q_head = 0;
		q_tail = n;
	}
	q = &queue[q_tail % q_cap];
	q_tail++;
	q->to = h->peer[port];
	q->port = h->peer_port[port];
	q->len = len < TH_FRAME_MAX ? len : TH_FRAME_MAX;
	memcpy(q->data, data, q->len);
}

static int
op_ctl_transmit(void *host, uint32_t port, const uint8_t *frame, uint32_t len)
{
	struct th_host *h = host;

	frames_push(&h->ctl_tx, port, frame, len);
	wire_send(h, port, frame, len);
	return 0;
}

static int
op_set_lladdr(void *host, uint32_t port, const uint8_t mac[6])
{
	struct th_host *h = host;

	if (h->fail_set_lladdr > 0 && h->fail_skip > 0)
		h->fail_skip--;
	else if (h->fail_set_lladdr > 0) {
		h->fail_set_lladdr--;
		return LK_EINVAL;
	}
	memcpy(h->port_mac[port], mac, 6);
	h->set_lladdr_calls++;
	return 0;
}

static int
op_set_mtu(void *host, uint32_t port, uint32_t mtu)
{
	struct th_host *h = host;

	if (h->fail_set_mtu > 0 && h->fail_skip > 0)
		h->fail_skip--;
	else if (h->fail_set_mtu > 0) {
		h->fail_set_mtu--;
		return LK_EINVAL;
	}
	h->port_mtu[port] = mtu;
	h->set_mtu_calls++;
	return 0;
}

static void
op_lagg_lladdr(void *host, const uint8_t mac[6])
{
	struct th_host *h = host;

	memcpy(h->lagg_mac, mac, 6);
	h->lagg_mac_calls++;
}

static void
op_lagg_link(void *host, int up, uint64_t speed)
{
	struct th_host *h = host;

	h->lagg_up = up;
	h->lagg_speed = speed;
	h->lagg_link_calls++;
}

static void *
op_alloc(void *host, size_t size)
{
	struct th_host *h = host;

	if (h->fail_alloc > 0) {
		h->fail_alloc--;
		return NULL;
	}
	h->live_allocs++;
	return calloc(1, size);
}

static void
op_free(void *host, void *p)
{
	struct th_host *h = host;

	if (p != NULL)
		h->live_allocs--;
	free(p);
}

/* Single-threaded world: the grace period is over at once, and ASan catches any late reader. */
static void
op_retire(void *host, void *old)
{
	struct th_host *h = host;

	h->retired++;
	if (h->defer_retire) {
		if (h->ndeferred == h->deferred_cap) {
			h->deferred_cap = h->deferred_cap ? h->deferred_cap * 2 : 64;
			h->deferred = realloc(h->deferred, h->deferred_cap * sizeof(void *));
			if (h->deferred == NULL)
				abort();
		}
		h->deferred[h->ndeferred++] = old;
		return;
	}
	op_free(host, old);
}

static void
op_log(void *host, int level, const char *msg)
{
	(void)host;
	(void)level;
	(void)msg;
}

static const struct lk_host_ops th_ops = {
	.now_ns = op_now,
	.timer_arm = op_timer_arm,
	.ctl_transmit = op_ctl_transmit,
	.port_set_lladdr = op_set_lladdr,
	.port_set_mtu = op_set_mtu,
	.lagg_lladdr_changed = op_lagg_lladdr,
	.lagg_link_changed = op_lagg_link,
	.alloc = op_alloc,
	.free = op_free,
	.retire = op_retire,
	.log = op_log,
};

/* ---- the world -------------------------------------------------------------------------------- */

struct th_host *
th_host_new(const char *name, const uint8_t mac[6])
{
	struct th_host *h;
	int err;

	if (nhosts == TH_MAX_HOSTS)
		abort();
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		abort();
	snprintf(h->name, sizeof(h->name), "%s", name);
	memcpy(h->mac, mac, 6);
	h->deadline_ns = UINT64_MAX;
	h->sc = aligned_alloc(64, (lk_softc_size(TH_CPUS) + 63) & ~(size_t)63);
	if (h->sc == NULL)
		abort();
	memset(h->sc, 0, lk_softc_size(TH_CPUS));
	err = lk_init(h->sc, &th_ops, h, name, TH_CPUS);
	TH_EQ(err, 0);
	hosts[nhosts++] = h;
	return h;
}

uint32_t
th_port_add(struct th_host *h, const char *ifname, uint64_t speed_bps, int full_duplex)
{
	struct lk_port_info info;
	uint32_t port = UINT32_MAX;
	int err;

	memset(&info, 0, sizeof(info));
	info.name = ifname;
	memcpy(info.lladdr, h->mac, 6);
	info.mtu = 1500;
	{
		/* the core hands out the lowest free index: predict it for a unique port MAC */
		struct lk_status st;
		uint32_t next;
		lk_get_status(h->sc, &st);
		next = (uint32_t)__builtin_ctz(~st.port_mask);
		info.lladdr[5] = (uint8_t)(h->mac[5] + 1 + next);
		memcpy(h->port_mac[next], info.lladdr, 6);
		h->port_mtu[next] = 1500;
	}
	err = lk_port_add(h->sc, &info, &port);
	TH_EQ(err, 0);
	if (err != 0)
		return UINT32_MAX;
	h->carrier[port] = 1;
	h->speed[port] = speed_bps;
	h->full_duplex[port] = full_duplex;
	err = lk_port_link(h->sc, port, 1, speed_bps, full_duplex ? LK_DUPLEX_FULL : LK_DUPLEX_HALF);
	TH_EQ(err, 0);
	th_pump();
	return port;
}

void
th_wire(struct th_host *a, uint32_t pa, struct th_host *b, uint32_t pb)
{
	a->peer[pa] = b;
	a->peer_port[pa] = pb;
	b->peer[pb] = a;
	b->peer_port[pb] = pa;
}

static void
set_carrier(struct th_host *h, uint32_t port, int up)
{
	h->carrier[port] = up;
	(void)lk_port_link(
	    h->sc, port, up, h->speed[port], h->full_duplex[port] ? LK_DUPLEX_FULL : LK_DUPLEX_HALF);
}

void
th_link(struct th_host *h, uint32_t port, int up)
{
	set_carrier(h, port, up);
	if (h->peer[port] != NULL)
		set_carrier(h->peer[port], h->peer_port[port], up);
	th_pump();
}

void
th_silence(struct th_host *h, uint32_t port, int silent)
{
	h->silent[port] = silent;
}

uint64_t
th_now_ns(void)
{
	return now_ns;
}

/* What a host's receive path does with a frame from the wire: lk_input, then control input
 * or delivery up. */
static enum lk_rx_verdict
deliver(struct th_host *h, uint32_t port, const uint8_t *data, uint32_t len)
{
	struct lk_frame f;
	enum lk_rx_verdict v;

	memset(&f, 0, sizeof(f));
	f.data = data;
	f.caplen = len;
	f.len = len;
	v = lk_input(h->sc, 0, port, &f);
	if (v == LK_RX_CONTROL)
		(void)lk_control_input(h->sc, port, data, len);
	else if (v == LK_RX_ACCEPT)
		frames_push(&h->data_rx, port, data, len);
	return v;
}

void
th_pump(void)
{
	uint32_t n = 0;

	while (q_head != q_tail) {
		struct inflight q = queue[q_head % q_cap];
		q_head++;
		if (q.len != UINT32_MAX) /* its host was freed meanwhile */
			(void)deliver(q.to, q.port, q.data, q.len);
		if (++n > MAX_PUMP) {
			TH_CHECK(!"frame storm: more than MAX_PUMP frames in one pump");
			q_head = q_tail;
			break;
		}
	}
}

void
th_advance_ns(uint64_t ns)
{
	uint64_t target = now_ns + ns;
	uint32_t n = 0;

	th_pump();
	for (;;) {
		struct th_host *due = NULL;
		for (int i = 0; i < nhosts; i++) {
			if (hosts[i]->deadline_ns <= target &&
			    (due == NULL || hosts[i]->deadline_ns < due->deadline_ns))
				due = hosts[i];
		}
		if (due == NULL)
			break;
		if (due->deadline_ns > now_ns)
			now_ns = due->deadline_ns;
		due->deadline_ns = UINT64_MAX;
		due->ticks++;
		lk_tick(due->sc);
		th_pump();
		if (++n > MAX_TICKS_PER_ADVANCE) {
			TH_CHECK(!"timer storm: too many lk_tick() calls in one advance");
			break;
		}
	}
	now_ns = target;
}

void
th_advance(uint64_t ms)
{
	th_advance_ns(ms * TH_NS_PER_MS);
}

uint32_t
th_send_frame(struct th_host *h, const struct lk_frame *f)
{
	uint32_t mask = lk_output(h->sc, 0, f);

	for (uint32_t b = mask; b != 0; b &= b - 1) {
		uint32_t port = (uint32_t)__builtin_ctz(b);
		h->data_tx[port]++;
		wire_send(h, port, f->data, f->caplen);
	}
	th_pump();
	return mask;
}

uint32_t
th_send(struct th_host *h, const uint8_t *frame, uint32_t len)
{
	struct lk_frame f;

	memset(&f, 0, sizeof(f));
	f.data = frame;
	f.caplen = len;
	f.len = len;
	return th_send_frame(h, &f);
}

enum lk_rx_verdict
th_receive(struct th_host *h, uint32_t port, const uint8_t *frame, uint32_t len)
{
	enum lk_rx_verdict v = deliver(h, port, frame, len);

	th_pump();
	return v;
}

uint32_t
th_tx_count(const struct th_host *h, uint32_t port)
{
	return th_tx_count_type(h, port, 0);
}

uint32_t
th_tx_count_type(const struct th_host *h, uint32_t port, uint16_t etype)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < h->ctl_tx.n; i++) {
		const struct th_frame *f = &h->ctl_tx.v[i];
		if (f->port != port)
			continue;
		if (etype != 0 && (f->len < 14 || ((f->data[12] << 8) | f->data[13]) != etype))
			continue;
		n++;
	}
	return n;
}

const struct th_frame *
th_tx_get(const struct th_host *h, uint32_t port, uint32_t idx)
{
	for (uint32_t i = 0; i < h->ctl_tx.n; i++) {
		if (h->ctl_tx.v[i].port == port && idx-- == 0)
			return &h->ctl_tx.v[i];
	}
	return NULL;
}

void
th_tx_clear(struct th_host *h)
{
	h->ctl_tx.n = 0;
}

uint32_t
th_rx_count(const struct th_host *h, uint32_t port)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < h->data_rx.n; i++)
		n += h->data_rx.v[i].port == port;
	return n;
}

static void
host_destroy(struct th_host *h)
{
	lk_fini(h->sc);
	for (uint32_t i = 0; i < h->ndeferred; i++)
		op_free(h, h->deferred[i]);
	free(h->deferred);
	TH_EQ(h->live_allocs, 0);
	free(h->sc);
	free(h->ctl_tx.v);
	free(h->data_rx.v);
	free(h);
}

void
th_host_free(struct th_host *h)
{
	int i;

	for (i = 0; i < nhosts && hosts[i] != h; i++)
		;
	if (i == nhosts)
		return;
	/* forget wires that lead to it, and frames in flight to it */
	for (int j = 0; j < nhosts; j++)
		for (uint32_t p = 0; p < LK_MAX_PORTS; p++)
			if (hosts[j]->peer[p] == h)
				hosts[j]->peer[p] = NULL;
	for (uint32_t q = q_head; q != q_tail; q++)
		if (queue[q % q_cap].to == h)
			queue[q % q_cap].len = UINT32_MAX;
	host_destroy(h);
	hosts[i] = hosts[--nhosts];
	hosts[nhosts] = NULL;
}

void
th_reset(void)
{
	for (int i = 0; i < nhosts; i++) {
		host_destroy(hosts[i]);
		hosts[i] = NULL;
	}
	nhosts = 0;
	now_ns = 1000000000ull;
	q_head = q_tail = 0;
}

/* ---- frame builders ---------------------------------------------------------------------------- */

uint32_t
th_rand(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

uint32_t
th_build(const struct th_flow *fl, uint8_t *buf, uint32_t buflen)
{
	uint32_t off = 14, len;

	if (buflen < 128)
		return 0;
	memset(buf, 0, 128);
	memcpy(buf, fl->dst_mac, 6);
	memcpy(buf + 6, fl->src_mac, 6);
	if (fl->vlan > 0) {
		put16(buf + 12, 0x8100);
		put16(buf + 14, (uint16_t)fl->vlan);
		off = 18;
	}
	if (fl->family == 4) {
		uint8_t *ip = buf + off;
		put16(buf + off - 2, 0x0800);
		ip[0] = 0x45;
		put16(ip + 2, (uint16_t)(64 - off));
		put16(ip + 6, fl->frag_off & 0x1fff);
		ip[8] = 64;
		ip[9] = fl->proto;
		memcpy(ip + 12, fl->src_ip, 4);
		memcpy(ip + 16, fl->dst_ip, 4);
		put16(ip + 20, fl->sport);
		put16(ip + 22, fl->dport);
		len = 64;
	} else if (fl->family == 6) {
		uint8_t *ip = buf + off;
		put16(buf + off - 2, 0x86dd);
		ip[0] = 0x60;
		put16(ip + 4, 8);
		ip[6] = fl->proto;
		ip[7] = 64;
		memcpy(ip + 8, fl->src_ip, 16);
		memcpy(ip + 24, fl->dst_ip, 16);
		put16(ip + 40, fl->sport);
		put16(ip + 42, fl->dport);
		len = off + 48;
		if (len < 64)
			len = 64;
	} else {
		put16(buf + off - 2, 0x88b5); /* local experimental ethertype */
		len = 64;
	}
	return len;
}
