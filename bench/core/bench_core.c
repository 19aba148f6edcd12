/*
 * Output-selection benchmark for the laggkit core (make -C kmod/core bench).
 *
 * For every protocol, 2/4/8 ports and 1 / 100 / 10,000 / 1,000,000 distinct flows of 64-byte
 * IPv4/UDP frames, it times lk_output() (frames per second, ns per frame). The lacp rows use a
 * real LACP negotiation against a second core wired back to back in the test harness.
 *
 * Baseline peer, measured in the same run: "classic" selection, the way FreeBSD/NetBSD lagg
 * pick a port: a header hash reduced modulo the number of active ports (or, when the NIC gave
 * a flow id and use_flowid is on, the flow id shifted and reduced modulo, as lagg_lb_start
 * does), with the same table load and the same counter updates as lk_output (lk_count_tx: one
 * add each for packets and bytes in the caller's CPU slot). Its hash is frozen here:
 * a Murmur3-style chain over big-endian header words, the one laggkit's core used until its
 * frame path was reworked, so a faster core hash shows as a ratio instead of speeding the
 * baseline up with it.
 *
 * The physical floor: a loop that only reads the header words a flow hash reads (MACs, IPv4
 * addresses, ports) and returns a port, through the same call as lk_output. Nothing that
 * selects a port by the headers can be cheaper; each protocol's distance from it is printed.
 *
 * Also printed: hash distribution quality (max/min port share over 10,000 flows) per
 * hash-layer setting for ours and for the baseline, over several flow sets (random ones from
 * different generator seeds, and one of consecutive hosts and ports, the way a subnet's
 * traffic looks) with the worst and the mean of each, on the same sets; the port shares of the
 * bucket table itself (what any flow set sees on average); and the share of flows that move
 * when one port leaves (ours should move only that port's flows; modulo moves most of them).
 * A modulo of a good 32-bit hash gives every port the same chance, so over random flows the
 * classic spread is already what sampling allows: equal bucket shares are what lets ours
 * match it, and on any one flow set either may come out ahead by chance.
 * Results go to the JSON file named on the command line, with the load average at the start
 * and the end of the run (other work on the machine skews every figure).
 */
#define _DEFAULT_SOURCE
#include "harness.h"
#include "lk_hash.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FRAME_LEN  64u
#define MAX_FLOWS  1000000u
#define ITERS      500000u /* frames per timed run; ROUNDS runs per function and cell */
#define DIST_FLOWS 10000u
#define DIST_SETS  8u   /* DIST_SETS - 1 random flow sets, then the consecutive one */
#define PAIR_SETS  100u /* further random sets, for the paired comparison of the spreads */
#define GBPS       1000000000ull

static uint8_t *frames;      /* MAX_FLOWS frames of FRAME_LEN bytes */
static uint8_t *dist_frames; /* DIST_SETS sets of DIST_FLOWS frames of 128 bytes */

/*
 * The thread's CPU time, not the wall clock: on a shared machine a run is often descheduled
 * mid-way, and what is measured here is the CPU a frame costs, which that time does not hold.
 */
static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void random_flow(uint32_t *r, uint8_t *out);
static void consecutive_flow(uint32_t i, uint8_t *out);

static void
build_frames(void)
{
	uint32_t s = 0x9e3779b9u;

	frames = malloc((size_t)MAX_FLOWS * FRAME_LEN);
	dist_frames = malloc((size_t)DIST_SETS * DIST_FLOWS * 128);
	if (frames == NULL || dist_frames == NULL)
		abort();
	for (uint32_t i = 0; i < MAX_FLOWS; i++) {
		struct th_flow fl;
		memset(&fl, 0, sizeof(fl));
		fl.family = 4;
		fl.proto = 17;
		memcpy(fl.src_mac, (uint8_t[]){ 2, 0, 0, 0, 0, 1 }, 6);
		memcpy(fl.dst_mac, (uint8_t[]){ 2, 0, 0, 0, 0, 2 }, 6);
		for (int k = 0; k < 4; k++) {
			fl.src_ip[k] = (uint8_t)th_rand(&s);
			fl.dst_ip[k] = (uint8_t)th_rand(&s);
		}
		fl.sport = (uint16_t)th_rand(&s);
		fl.dport = (uint16_t)th_rand(&s);
		uint8_t tmp[128];
		th_build(&fl, tmp, sizeof(tmp));
		memcpy(frames + (size_t)i * FRAME_LEN, tmp, FRAME_LEN);
	}
	for (uint32_t set = 0; set < DIST_SETS; set++) {
		/* every set from its own generator seed; set 0 continues the stream as before */
		uint32_t r = set == 0 ? s : 0x2545f491u * (set + 1u);
		for (uint32_t i = 0; i < DIST_FLOWS; i++) {
			uint8_t *out = dist_frames + ((size_t)set * DIST_FLOWS + i) * 128;
			if (set + 1 < DIST_SETS)
				random_flow(&r, out);
			else
				consecutive_flow(i, out);
		}
	}
}

/* every header field random: IPv4 or IPv6, TCP or UDP, tagged */
static void
random_flow(uint32_t *r, uint8_t *out)
{
	struct th_flow fl;

	memset(&fl, 0, sizeof(fl));
	fl.family = (th_rand(r) & 1) ? 6 : 4;
	fl.proto = (th_rand(r) & 1) ? 6 : 17;
	for (int k = 0; k < 6; k++) {
		fl.src_mac[k] = (uint8_t)th_rand(r);
		fl.dst_mac[k] = (uint8_t)th_rand(r);
	}
	fl.src_mac[0] &= 0xfe;
	fl.dst_mac[0] &= 0xfe;
	for (int k = 0; k < 16; k++) {
		fl.src_ip[k] = (uint8_t)th_rand(r);
		fl.dst_ip[k] = (uint8_t)th_rand(r);
	}
	fl.vlan = (int)(th_rand(r) % 4094) + 1;
	fl.sport = (uint16_t)th_rand(r);
	fl.dport = (uint16_t)th_rand(r);
	th_build(&fl, out, 128);
}

/* flow i of a subnet talking to one server: consecutive MACs, IPv4 addresses and ports */
static void
consecutive_flow(uint32_t i, uint8_t *out)
{
	struct th_flow fl;

	memset(&fl, 0, sizeof(fl));
	fl.family = 4;
	fl.proto = 6;
	memcpy(fl.src_mac, (uint8_t[]){ 2, 0, 0, 0, (uint8_t)(i >> 8), (uint8_t)i }, 6);
	memcpy(fl.dst_mac, (uint8_t[]){ 2, 0, 0, 0xff, 0, 1 }, 6);
	memcpy(fl.src_ip, (uint8_t[]){ 10, 1, (uint8_t)(i >> 8), (uint8_t)i }, 4);
	memcpy(fl.dst_ip, (uint8_t[]){ 10, 0, 0, 1 }, 4);
	fl.vlan = 10;
	fl.sport = (uint16_t)(32768 + i);
	fl.dport = 443;
	th_build(&fl, out, 128);
}

/* ---- the classic baseline's hash (frozen; see the header comment) ---------------------------- */

/* The fields are found by the core's own parser (lk_hash_parse): only the mixing differs. */
static inline uint32_t
rd16(const uint8_t *p)
{
	return ((uint32_t)p[0] << 8) | p[1];
}

static inline uint32_t
rd32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint32_t
rotl32(uint32_t x, unsigned r)
{
	return (x << r) | (x >> (32 - r));
}

/* One Murmur3 round: each word waits for the previous one. */
static inline uint32_t
mix_word(uint32_t h, uint32_t k)
{
	k *= 0xcc9e2d51u;
	k = rotl32(k, 15);
	k *= 0x1b873593u;
	h ^= k;
	h = rotl32(h, 13);
	return h * 5u + 0xe6546b64u;
}

static uint32_t
classic_hash_l2(const uint8_t *d, uint32_t h, const struct lk_hdrs *hd)
{
	h = mix_word(h, rd32(d));
	h = mix_word(h, (rd16(d + 4) << 16) | rd16(d + 6));
	h = mix_word(h, rd32(d + 8));
	if (hd->vlan)
		h = mix_word(h, hd->vid & 0x0fffu);
	return h;
}

static uint32_t
classic_hash_frame(const struct lk_frame *f, uint32_t layers, uint32_t seed)
{
	const uint8_t *d = f->data;
	uint32_t h = seed;
	struct lk_hdrs hd;
	int used = 0;

	if (d == NULL || f->caplen < 14)
		return lk_hash_mix(h ^ f->len);
	lk_hash_parse(f, &hd);
	if (layers & LK_HASH_L2) {
		h = classic_hash_l2(d, h, &hd);
		used = 1;
	}
	if ((layers & LK_HASH_L3) && hd.ipv != 0) {
		uint32_t from = hd.ipv == 4 ? 12 : 8, to = hd.ipv == 4 ? 20 : 40;

		for (uint32_t i = from; i < to; i += 4)
			h = mix_word(h, rd32(d + hd.l3 + i));
		used = 1;
	}
	if ((layers & LK_HASH_L4) && hd.l4 != 0) {
		h = mix_word(h, rd32(d + hd.l4));
		h = mix_word(h, hd.proto);
		used = 1;
	}
	if (!used)
		h = classic_hash_l2(d, h, &hd);
	return lk_hash_mix(h);
}

/* The baseline: classic lagg selection, "modulo the number of active ports", counted as
 * lk_output counts (per CPU, as lagg's if_inc_counter/counter(9) do). */
static uint32_t
classic_output(struct lk_softc *sc, uint32_t cpu, const struct lk_frame *f)
{
	const struct lk_txmap *m = lk_txmap_get(sc);
	struct lk_pcpu *pc = lk_pcpu(sc, cpu);
	uint32_t h;

	if (m == NULL || m->nactive == 0) {
		LK_SLOT_ADD(pc->out_no_port, 1u);
		return 0;
	}
	if (m->use_flowid && f->has_flowid)
		h = f->flowid >> m->flowid_shift;
	else
		h = classic_hash_frame(f, m->hash_layers, m->seed);
	return lk_count_tx(pc, m->order[h % m->nactive], f->len);
}

/*
 * The physical floor: read the header words every flow hash reads (both MACs, both IPv4
 * addresses, both ports: 38 bytes of each frame) and fold them as cheaply as anything can
 * (XOR), then name a port. No counters, no table: the cost of touching the frame.
 */
static uint32_t
floor_output(struct lk_softc *sc, uint32_t cpu, const struct lk_frame *f)
{
	const uint8_t *d = f->data;
	uint64_t a, b, c;
	uint32_t p;

	(void)sc;
	(void)cpu;
	memcpy(&a, d, 8);
	memcpy(&b, d + 26, 8);
	memcpy(&p, d + 34, 4);
	memcpy(&c, d + 6, 8);
	a ^= b ^ c ^ p;
	return 1u << (uint32_t)((a ^ (a >> 32)) & 1u);
}

static const uint8_t mac_a[6] = { 0x02, 0, 0, 0, 0xa0, 0x10 };
static const uint8_t mac_b[6] = { 0x02, 0, 0, 0, 0xb0, 0x10 };
static const char *const names[8] = { "ix0", "ix1", "ix2", "ix3", "ix4", "ix5", "ix6", "ix7" };

/* An aggregate with nports up, beside any others; no LACP partner. */
static struct th_host *
host_up(const char *name, const uint8_t *mac, enum lk_proto proto, uint32_t nports)
{
	struct th_host *a = th_host_new(name, mac);

	lk_set_proto(a->sc, proto);
	for (uint32_t i = 0; i < nports; i++)
		th_port_add(a, names[i], 10 * GBPS, 1);
	return a;
}

/* An aggregate with nports up; for lacp, negotiated against a wired partner. */
static struct th_host *
setup(enum lk_proto proto, uint32_t nports)
{
	struct th_host *a, *b;

	th_reset();
	if (proto != LK_PROTO_LACP)
		return host_up("lagg0", mac_a, proto, nports);
	a = th_host_new("lagg0", mac_a);
	b = th_host_new("lagg1", mac_b);
	lk_set_proto(a->sc, LK_PROTO_LACP);
	lk_set_proto(b->sc, LK_PROTO_LACP);
	for (uint32_t i = 0; i < nports; i++) {
		uint32_t pa = th_port_add(a, names[i], 10 * GBPS, 1);
		uint32_t pb = th_port_add(b, names[i], 10 * GBPS, 1);
		th_wire(a, pa, b, pb);
	}
	th_advance(10000);
	return a;
}

static uint32_t
nactive(struct th_host *a)
{
	struct lk_status st;

	lk_get_status(a->sc, &st);
	return st.nactive;
}

/* Every function is called on CPU slot 0: the benchmark runs on one thread. */
typedef uint32_t (*out_fn)(struct lk_softc *, uint32_t, const struct lk_frame *);

static volatile uint32_t sink;

static double time_once(struct th_host *a, out_fn fn, uint32_t nflows, int flowid);

/*
 * ROUNDS rounds of one run of each function of a cell, back to back (floor, ours, classic,
 * floor, ours, ...). The machine is shared: the minimum of each function is its least
 * disturbed figure, and the ratio of ours to classic is the median of the per-round ratios,
 * each taken between two runs a few milliseconds apart, under the same conditions (a busy
 * SMT sibling or a frequency change slows both alike).
 */
#define ROUNDS 7
static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
time_cell(struct th_host *a, out_fn const *fns, double *best, int nfns, uint32_t nflows, int flowid)
{
	double ratios[ROUNDS];

	for (int k = 0; k < nfns; k++)
		best[k] = 1e30;
	for (int r = 0; r < ROUNDS; r++) {
		double ns[3] = { 0, 0, 1 };

		for (int k = 0; k < nfns; k++) {
			ns[k] = time_once(a, fns[k], nflows, flowid);
			best[k] = ns[k] < best[k] ? ns[k] : best[k];
		}
		ratios[r] = ns[1] / ns[2];
	}
	qsort(ratios, ROUNDS, sizeof(ratios[0]), cmp_double);
	return ratios[ROUNDS / 2];
}

/*
 * roundrobin against failover, two aggregates side by side timed in the same rounds (their
 * rows of the table come from cells minutes apart): the median of the per-round ratios.
 */
static double
rr_over_failover(uint32_t nports)
{
	struct th_host *rr = setup(LK_PROTO_ROUNDROBIN, nports);
	struct th_host *fo = host_up("lagg1", mac_b, LK_PROTO_FAILOVER, nports);
	double ratios[ROUNDS];

	for (int r = 0; r < ROUNDS; r++)
		ratios[r] = time_once(rr, lk_output, 10000, 0) / time_once(fo, lk_output, 10000, 0);
	qsort(ratios, ROUNDS, sizeof(ratios[0]), cmp_double);
	return ratios[ROUNDS / 2];
}

/* A NIC's RSS flow id for frame i: any well-mixed 32-bit value fixed per flow. */
static uint32_t
nic_flowid(uint32_t i)
{
	return (i + 1u) * 0x9e3779b1u;
}

/* flowid: the frames carry a NIC flow id (mbuf flowid with an M_HASHTYPE), as RSS NICs give. */
static double
time_once(struct th_host *a, out_fn fn, uint32_t nflows, int flowid)
{
	struct lk_frame f;
	uint32_t idx = 0, acc = 0;
	double t0, t1;

	memset(&f, 0, sizeof(f));
	f.caplen = f.len = FRAME_LEN;
	f.has_flowid = (uint8_t)flowid;
	/* warm up the table and caches */
	for (uint32_t i = 0; i < 10000; i++) {
		f.data = frames + (size_t)(i % nflows) * FRAME_LEN;
		f.flowid = nic_flowid(i % nflows);
		acc += fn(a->sc, 0, &f);
	}
	t0 = now_s();
	for (uint32_t i = 0; i < ITERS; i++) {
		f.data = frames + (size_t)idx * FRAME_LEN;
		f.flowid = nic_flowid(idx);
		acc += fn(a->sc, 0, &f);
		if (++idx == nflows)
			idx = 0;
	}
	t1 = now_s();
	sink = acc;
	return (t1 - t0) * 1e9 / ITERS;
}

static const uint8_t *
dist_frame(uint32_t set, uint32_t i)
{
	return dist_frames + ((size_t)set * DIST_FLOWS + i) * 128;
}

/* max/min of a port count over the first nports ports (1e9 when one is empty). */
static double
max_min(const uint32_t *count, uint32_t nports)
{
	uint32_t mx = 0, mn = UINT32_MAX;

	for (uint32_t p = 0; p < nports; p++) {
		mx = count[p] > mx ? count[p] : mx;
		mn = count[p] < mn ? count[p] : mn;
	}
	return mn == 0 ? 1e9 : (double)mx / mn;
}

/* max/min share over the active ports of DIST_FLOWS frames of 128 bytes from `set`. */
static double
spread_of(struct th_host *a, out_fn fn, uint32_t nports, const uint8_t *set)
{
	uint32_t count[LK_MAX_PORTS] = { 0 };
	struct lk_frame f;

	memset(&f, 0, sizeof(f));
	f.caplen = f.len = 128;
	for (uint32_t i = 0; i < DIST_FLOWS; i++) {
		f.data = set + (size_t)i * 128;
		uint32_t m = fn(a->sc, 0, &f);
		if (m != 0)
			count[__builtin_ctz(m)]++;
	}
	return max_min(count, nports);
}

static double
spread(struct th_host *a, out_fn fn, uint32_t nports, uint32_t set)
{
	return spread_of(a, fn, nports, dist_frame(set, 0));
}

struct paired {
	double ours, classic; /* mean max/min over the PAIR_SETS sets */
	double diff, se;      /* mean of ours - classic set by set, and its standard error */
};

/*
 * Ours against classic over PAIR_SETS more random sets, set by set. Which of two good hashes
 * has the worse worst set of eight is the luck of the draw; the mean of the paired difference
 * over many sets, with its standard error, says whether one spreads worse: "worse" when it is
 * more than two standard errors above zero, "better" below, "alike" in between.
 */
static struct paired
paired_spread(struct th_host *a, uint32_t nports)
{
	static uint8_t set[(size_t)DIST_FLOWS * 128];
	struct paired r = { 0, 0, 0, 0 };
	double sum_d = 0, sum_d2 = 0;

	for (uint32_t k = 0; k < PAIR_SETS; k++) {
		uint32_t seed = 0x6a09e667u * (k + 101u);
		double o, c, d;

		for (uint32_t i = 0; i < DIST_FLOWS; i++)
			random_flow(&seed, set + (size_t)i * 128);
		o = spread_of(a, lk_output, nports, set);
		c = spread_of(a, classic_output, nports, set);
		d = o - c;
		r.ours += o;
		r.classic += c;
		sum_d += d;
		sum_d2 += d * d;
	}
	r.ours /= PAIR_SETS;
	r.classic /= PAIR_SETS;
	r.diff = sum_d / PAIR_SETS;
	r.se = sqrt((sum_d2 / PAIR_SETS - r.diff * r.diff) / (PAIR_SETS - 1));
	return r;
}

static const char *
paired_verdict(const struct paired *p)
{
	return p->diff > 2 * p->se ? "worse" : p->diff < -2 * p->se ? "better" : "alike";
}

/* max/min of the ports' numbers of buckets: the share any flow set sees on average. */
static double
bucket_spread(struct th_host *a, uint32_t nports)
{
	const struct lk_txmap *m = lk_txmap_get(a->sc);
	uint32_t count[LK_MAX_PORTS] = { 0 };

	for (uint32_t b = 0; b < LK_TXMAP_BUCKETS; b++)
		count[m->bucket[b]]++;
	return max_min(count, nports);
}

/* Share of a set's flows whose port changes when port `gone` goes down. */
static double
moved_share(enum lk_proto proto, uint32_t nports, out_fn fn, uint32_t gone, uint32_t set)
{
	static uint8_t before[DIST_FLOWS];
	struct th_host *a = setup(proto, nports);
	struct lk_frame f;
	uint32_t moved = 0;

	memset(&f, 0, sizeof(f));
	f.caplen = f.len = 128;
	for (uint32_t i = 0; i < DIST_FLOWS; i++) {
		f.data = dist_frame(set, i);
		before[i] = (uint8_t)__builtin_ctz(fn(a->sc, 0, &f));
	}
	th_link(a, gone, 0);
	for (uint32_t i = 0; i < DIST_FLOWS; i++) {
		f.data = dist_frame(set, i);
		moved += (uint8_t)__builtin_ctz(fn(a->sc, 0, &f)) != before[i];
	}
	return (double)moved / DIST_FLOWS;
}

static const uint32_t port_counts[] = { 2, 4, 8 };

/*
 * Whole sweeps of the cells, seconds apart: a cell's ratio is the median over the passes.
 * Within one sweep the rounds of a cell are milliseconds apart and share the machine's state;
 * on this shared machine that state sometimes turns for a second or two (the flow-id cells of
 * whichever aggregate was being timed then ran 25-30% slower while the classic baseline ran
 * faster: a ratio of 0.6-0.7 against 0.4 in that one setup, a different setup every run, at the
 * same page offsets every run). A median over passes taken at different times keeps such a
 * spell to one pass of a cell.
 */
#define PASSES 5

/* The median of n values (n <= PASSES), leaving them in their order. */
static double
median_of(const double *x, int n)
{
	double y[PASSES];

	memcpy(y, x, (size_t)n * sizeof(y[0]));
	qsort(y, (size_t)n, sizeof(y[0]), cmp_double);
	return y[n / 2];
}

#define NPROTOS 6
#define NFLOWS  4
static const enum lk_proto protos[NPROTOS] = { LK_PROTO_NONE, LK_PROTO_ROUNDROBIN, LK_PROTO_FAILOVER,
	LK_PROTO_LOADBALANCE, LK_PROTO_LACP, LK_PROTO_BROADCAST };
static const uint32_t flow_counts[NFLOWS] = { 1, 100, 10000, 1000000 };

struct cell {
	double ratio[PASSES]; /* laggkit/classic, per pass */
	double best[3];       /* floor, laggkit, classic: the least over every run of every pass */
	uint32_t active;
};
static struct cell cells[NPROTOS][3][2][NFLOWS];

static int
is_hashed(enum lk_proto p)
{
	return p == LK_PROTO_LOADBALANCE || p == LK_PROTO_LACP;
}

static void
measure_cells(void)
{
	static out_fn const fns[] = { floor_output, lk_output, classic_output };

	for (size_t pi = 0; pi < NPROTOS; pi++)
		for (size_t ni = 0; ni < 3; ni++)
			for (int fid = 0; fid < 2; fid++)
				for (size_t fi = 0; fi < NFLOWS; fi++)
					for (int k = 0; k < 3; k++)
						cells[pi][ni][fid][fi].best[k] = 1e30;
	for (int pass = 0; pass < PASSES; pass++)
		for (size_t pi = 0; pi < NPROTOS; pi++)
			for (size_t ni = 0; ni < 3; ni++) {
				struct th_host *a = setup(protos[pi], port_counts[ni]);
				int hashed = is_hashed(protos[pi]);

				for (int fid = 0; fid <= hashed; fid++)
					for (size_t fi = 0; fi < NFLOWS; fi++) {
						struct cell *c = &cells[pi][ni][fid][fi];
						double best[3];

						c->active = nactive(a);
						c->ratio[pass] = time_cell(
						    a, fns, best, hashed ? 3 : 2, flow_counts[fi], fid);
						for (int k = 0; k < (hashed ? 3 : 2); k++)
							c->best[k] =
							    best[k] < c->best[k] ? best[k] : c->best[k];
					}
			}
}

/* lk_output per protocol x ports x flows, with the classic baseline for hashed protocols and
 * the physical floor for all; hashed protocols also with a NIC flow id on every frame. */
static void
bench_output(FILE *js)
{
	int first = 1;
	/* for the summary: worst ratio vs classic per input, roundrobin/failover per cell, and
	 * every headers cell's floor and multiple of it per protocol */
	double worst[2] = { 0, 0 };
	double floors[NPROTOS * 3 * NFLOWS], over[NPROTOS][3 * NFLOWS];
	int nfloors = 0;

	measure_cells();
	fprintf(js, "  \"output_passes\": %d,\n  \"output\": [\n", PASSES);
	printf("lk_output, %u-byte frames, best of %d passes of %d interleaved runs of %u frames per "
	       "cell; input: headers hashed, or the NIC flow id\n",
	    FRAME_LEN, PASSES, ROUNDS, ITERS);
	printf("ratio: laggkit/classic, the median over the passes of each pass's median over its "
	       "rounds\n");
	printf("%-12s %5s %8s %7s %6s %12s %9s %11s %7s %9s %9s\n", "protocol", "ports", "flows", "input",
	    "active", "frames/s", "ns/frame", "classic ns", "ratio", "floor ns", "- floor");
	for (size_t pi = 0; pi < NPROTOS; pi++)
		for (size_t ni = 0; ni < 3; ni++) {
			int hashed = is_hashed(protos[pi]);
			for (int fid = 0; fid <= hashed; fid++)
				for (size_t fi = 0; fi < NFLOWS; fi++) {
					struct cell *c = &cells[pi][ni][fid][fi];
					double ratio = median_of(c->ratio, PASSES);
					double fl = c->best[0], ns = c->best[1],
					       cns = hashed ? c->best[2] : 0;
					uint32_t act = c->active;

					if (hashed && ratio > worst[fid])
						worst[fid] = ratio;
					if (!fid) {
						floors[nfloors++] = fl;
						over[pi][ni * NFLOWS + fi] = ns / fl;
					}
					const char *input = fid ? "flowid" : "headers";
					printf("%-12s %5u %8u %7s %6u %12.0f %9.2f",
					    lk_proto_name(protos[pi]), port_counts[ni], flow_counts[fi],
					    input, act, 1e9 / ns, ns);
					if (hashed)
						printf(" %11.2f %7.2f", cns, ratio);
					else
						printf(" %11s %7s", "-", "-");
					printf(" %9.2f %9.2f\n", fl, ns - fl);
					fprintf(js,
					    "%s    {\"proto\": \"%s\", \"ports\": %u, \"flows\": %u, "
					    "\"input\": \"%s\", \"active\": %u, \"fps\": %.0f, "
					    "\"ns_per_frame\": %.3f, \"floor_ns_per_frame\": %.3f",
					    first ? "" : ",\n", lk_proto_name(protos[pi]), port_counts[ni],
					    flow_counts[fi], input, act, 1e9 / ns, ns, fl);
					if (hashed) {
						fprintf(js,
						    ", \"classic_ns_per_frame\": %.3f, "
						    "\"ratio_vs_classic\": %.3f, \"ratio_passes\": [",
						    cns, ratio);
						for (int pass = 0; pass < PASSES; pass++)
							fprintf(
							    js, "%s%.3f", pass ? ", " : "", c->ratio[pass]);
						fprintf(js, "]");
					}
					fprintf(js, "}");
					first = 0;
				}
		}
	fprintf(js, "\n  ],\n");
	{
		double rr_worst = 0, rr[3];

		printf("\nroundrobin/failover, 10000 flows, median of %d passes of the median of %d "
		       "same-round ratios:",
		    PASSES, ROUNDS);
		for (int ni = 0; ni < 3; ni++) {
			double passes[PASSES];

			for (int pass = 0; pass < PASSES; pass++)
				passes[pass] = rr_over_failover(port_counts[ni]);
			double r = rr[ni] = median_of(passes, PASSES);
			printf(" %u ports %.2f%s", port_counts[ni], r, ni < 2 ? "," : "\n");
			rr_worst = r > rr_worst ? r : rr_worst;
		}
		printf("\nworst laggkit/classic ratio, loadbalance and lacp: %.2f headers hashed, "
		       "%.2f NIC flow id; worst roundrobin/failover: %.2f\n",
		    worst[0], worst[1], rr_worst);
		qsort(floors, (size_t)nfloors, sizeof(floors[0]), cmp_double);
		printf("physical floor (a loop that only reads the header words a flow hash reads): "
		       "%.2f ns/frame median, %.2f-%.2f over the cells\n",
		    floors[nfloors / 2], floors[0], floors[nfloors - 1]);
		printf("each protocol as a multiple of the floor measured in the same cell (median, "
		       "headers):");
		fprintf(js,
		    "  \"summary\": {\"worst_ratio_vs_classic_headers\": %.3f, "
		    "\"worst_ratio_vs_classic_flowid\": %.3f, \"worst_roundrobin_over_failover\": "
		    "%.3f, \"roundrobin_over_failover\": {\"2\": %.3f, \"4\": %.3f, \"8\": %.3f}, "
		    "\"floor_ns_median\": %.3f, \"times_floor\": {",
		    worst[0], worst[1], rr_worst, rr[0], rr[1], rr[2], floors[nfloors / 2]);
		for (size_t pi = 0; pi < NPROTOS; pi++) {
			qsort(over[pi], 12, sizeof(over[pi][0]), cmp_double);
			printf(" %s %.1fx%s", lk_proto_name(protos[pi]), over[pi][6],
			    pi + 1 < NPROTOS ? "," : "\n");
			fprintf(js, "%s\"%s\": %.3f", pi ? ", " : "", lk_proto_name(protos[pi]), over[pi][6]);
		}
		fprintf(js, "}},\n");
	}
}

/*
 * max/min port share per hash-layer setting and port count, ours and classic on the same flow
 * sets: the worst set and the mean over the sets, and the bucket table's own shares.
 */
static void
bench_distribution(FILE *js)
{
	static const struct {
		const char *name;
		uint32_t layers;
	} layer_sets[] = {
		{ "l2", LK_HASH_L2 },
		{ "l3", LK_HASH_L3 },
		{ "l4", LK_HASH_L4 },
		{ "l3,l4", LK_HASH_L3 | LK_HASH_L4 },
		{ "l2,l3,l4", 7 },
	};
	int first = 1, worse = 0, verdicts[3] = { 0, 0, 0 }; /* worse, alike, better */

	fprintf(js, "  \"distribution_flow_sets\": %u,\n  \"distribution_paired_sets\": %u,\n", DIST_SETS,
	    PAIR_SETS);
	fprintf(js, "  \"distribution\": [\n");
	printf("\nhash distribution: max/min port share over %u flows (loadbalance), %u flow sets "
	       "(%u random, 1 consecutive hosts and ports): worst set and mean, ours and classic on "
	       "the same sets; buckets: max/min of the ports' bucket counts\n",
	    DIST_FLOWS, DIST_SETS, DIST_SETS - 1);
	printf("paired: ours - classic set by set over %u more random sets, mean and 2 standard "
	       "errors\n",
	    PAIR_SETS);
	printf("%-10s %5s %11s %13s %10s %12s %9s %19s %8s\n", "layers", "ports", "ours worst",
	    "classic worst", "ours mean", "classic mean", "buckets", "paired diff", "verdict");
	for (size_t li = 0; li < sizeof(layer_sets) / sizeof(layer_sets[0]); li++)
		for (size_t ni = 0; ni < 3; ni++) {
			struct th_host *a = setup(LK_PROTO_LOADBALANCE, port_counts[ni]);
			double ours = 0, classic = 0, ours_sum = 0, classic_sum = 0, buckets;
			struct paired pr;
			const char *verdict;

			lk_set_opt(a->sc, LK_OPT_HASH_LAYERS, layer_sets[li].layers);
			for (uint32_t set = 0; set < DIST_SETS; set++) {
				double o = spread(a, lk_output, port_counts[ni], set);
				double c = spread(a, classic_output, port_counts[ni], set);
				ours = o > ours ? o : ours;
				classic = c > classic ? c : classic;
				ours_sum += o;
				classic_sum += c;
			}
			buckets = bucket_spread(a, port_counts[ni]);
			pr = paired_spread(a, port_counts[ni]);
			verdict = paired_verdict(&pr);
			worse += ours > classic;
			verdicts[verdict[0] == 'w' ? 0 : verdict[0] == 'a' ? 1 : 2]++;
			printf("%-10s %5u %11.3f %13.3f %10.3f %12.3f %9.4f %+9.4f \u00b1 %.4f %8s\n",
			    layer_sets[li].name, port_counts[ni], ours, classic, ours_sum / DIST_SETS,
			    classic_sum / DIST_SETS, buckets, pr.diff, 2 * pr.se, verdict);
			fprintf(js,
			    "%s    {\"layers\": \"%s\", \"ports\": %u, "
			    "\"max_min_ours\": %.4f, \"max_min_classic\": %.4f, \"mean_ours\": %.4f, "
			    "\"mean_classic\": %.4f, \"bucket_max_min\": %.4f, \"paired_mean_ours\": %.4f, "
			    "\"paired_mean_classic\": %.4f, \"paired_diff\": %.5f, \"paired_diff_se\": %.5f, "
			    "\"paired_verdict\": \"%s\"}",
			    first ? "" : ",\n", layer_sets[li].name, port_counts[ni], ours, classic,
			    ours_sum / DIST_SETS, classic_sum / DIST_SETS, buckets, pr.ours, pr.classic,
			    pr.diff, pr.se, verdict);
			first = 0;
		}
	printf("worst set: ours above classic in %d of %zu settings; paired over %u sets: worse in "
	       "%d, alike in %d, better in %d\n",
	    worse, sizeof(layer_sets) / sizeof(layer_sets[0]) * 3, PAIR_SETS, verdicts[0], verdicts[1],
	    verdicts[2]);
	fprintf(js, "\n  ],\n");
}

/* Share of flows that move when one port goes down, ours and classic: the most over the sets. */
static void
bench_movement(FILE *js)
{
	int first = 1;

	fprintf(js, "  \"moved_when_one_port_leaves\": [\n");
	printf("\nflows moved when port 0 goes down (loadbalance, %u flows, the most over %u sets)\n",
	    DIST_FLOWS, DIST_SETS);
	printf("%5s %10s %10s %10s\n", "ports", "ideal", "ours", "classic");
	for (size_t ni = 0; ni < 3; ni++) {
		uint32_t n = port_counts[ni];
		double ours = 0, classic = 0;

		for (uint32_t set = 0; set < DIST_SETS; set++) {
			double o = moved_share(LK_PROTO_LOADBALANCE, n, lk_output, 0, set);
			double c = moved_share(LK_PROTO_LOADBALANCE, n, classic_output, 0, set);
			ours = o > ours ? o : ours;
			classic = c > classic ? c : classic;
		}
		printf("%5u %9.1f%% %9.1f%% %9.1f%%\n", n, 100.0 / n, ours * 100, classic * 100);
		fprintf(js,
		    "%s    {\"ports\": %u, \"ideal\": %.4f, \"ours\": %.4f, "
		    "\"classic\": %.4f}",
		    first ? "" : ",\n", n, 1.0 / n, ours, classic);
		first = 0;
	}
	fprintf(js, "\n  ]");
}

static void
loadavg(double la[3])
{
	if (getloadavg(la, 3) != 3)
		la[0] = la[1] = la[2] = -1;
}

int
main(int argc, char **argv)
{
	const char *out = argc > 1 ? argv[1] : "core.json";
	FILE *js = fopen(out, "w");
	double la0[3], la1[3];
	char date[32];
	time_t now = time(NULL);

	if (js == NULL) {
		perror(out);
		return 1;
	}
	loadavg(la0);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	build_frames();
	fprintf(js,
	    "{\n  \"date\": \"%s\",\n  \"frame_bytes\": %u,\n  \"frames_per_run\": %u,\n"
	    "  \"runs_per_cell\": %d,\n",
	    date, FRAME_LEN, ITERS, ROUNDS);
	bench_output(js);
	bench_distribution(js);
	bench_movement(js);
	loadavg(la1);
	fprintf(js,
	    ",\n  \"host\": {\"cpus\": %ld, \"loadavg_start\": [%.2f, %.2f, %.2f], "
	    "\"loadavg_end\": [%.2f, %.2f, %.2f]}\n}\n",
	    sysconf(_SC_NPROCESSORS_ONLN), la0[0], la0[1], la0[2], la1[0], la1[1], la1[2]);
	printf("\nload average at start %.2f, at end %.2f (other work on the machine skews every "
	       "figure; the ratios are same-run)\n",
	    la0[0], la1[0]);
	fclose(js);
	th_reset();
	printf("\nwrote %s\n", out);
	return 0;
}
