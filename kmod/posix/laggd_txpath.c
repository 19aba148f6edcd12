/*
 * The in-kernel transmit path: a frame the stack sends on the aggregate goes from the TAP's
 * tc egress hook straight out of the member the core's table names (bpf_redirect), without
 * queueing on the TAP for laggd to read, pick a port for and send again. Sending through
 * laggd cost a TAP read, an AF_PACKET send and the wakeups between, all on laggd's one thread:
 * with the receive path in the kernel (laggd_rxpath.c), bench:laggd's sending laggd was the
 * one saturated process of the run.
 *
 * The core still decides. The kernel gives every frame a flow hash (the socket's, or one the
 * flow dissector computes over the addresses and ports), and the core's flow-id path turns a
 * flow id into a port: bucket[((id >> flowid_shift) ^ seed) % LK_FLOW_BUCKETS]. laggd copies
 * that table (lk_tx_flow_view) into a one-entry BPF array after anything that may publish a
 * new one (lg_txpath_sync, from lg_lagg_settle and on a port's removal), together with the
 * members' ifindexes. The TAP's tc program:
 *
 *   table off (see below)              -> pass: the frame queues on the TAP and laggd sends
 *                                         it as before, through lk_output()
 *   hash -> bucket -> port -> ifindex  -> count (per-CPU packets/bytes of the port),
 *                                         redirect out of that member
 *
 * The table is on only where this is what lk_output() itself would do with a flow id, and the
 * flow id is as fine as what the user asked to hash: a hashed protocol (loadbalance, lacp),
 * use_flowid set (the default), a port active, and l4 among the hash layers. Otherwise
 * (roundrobin, failover, broadcast, "lagghash l2" or "l3", -use_flowid) frames go through
 * laggd, which hashes the headers the user chose. Turning it on or off can reorder a flow's
 * frames once, like any change of the table.
 *
 * What it gives up: laggd, sending itself, learns that a member lost its carrier from the
 * refused send and moves the rest of the batch at once. Here the member's driver drops what
 * the table still sends it until laggd hears of the carrier (rtnetlink) and copies the new
 * table; bench:laggd's failover runs measure what that costs. LAGGD_TX_PATH=user keeps every
 * frame on laggd's path.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "laggd.h"
#include "laggd_bpf.h"

/* The one entry of the table map, as the program reads it. */
struct tx_table {
	uint32_t ifindex[LK_MAX_PORTS]; /* port index -> member ifindex (0: not in the table) */
	uint32_t on;                    /* 0: every frame goes through laggd */
	uint32_t flowid_shift, seed, pad;
	uint8_t bucket[LK_FLOW_BUCKETS]; /* port indexes */
};
_Static_assert((LK_MAX_PORTS & (LK_MAX_PORTS - 1)) == 0, "the program masks port indexes");
_Static_assert((LK_FLOW_BUCKETS & (LK_FLOW_BUCKETS - 1)) == 0, "the program masks buckets");

#define TT(field) ((int16_t)offsetof(struct tx_table, field))

/* Instruction numbers the jumps below land on (offsets count from the next instruction). */
enum { AT_COUNT = 30, AT_REDIRECT = AT_COUNT + LG_COUNT_FRAME_LEN, AT_PASS = AT_REDIRECT + 4 };

static int
tap_prog(int table_fd, int count_fd)
{
	const struct bpf_insn insns[] = {
		/* 0 */ MOV_REG(BPF_REG_6, BPF_REG_1),
		/* 1 */ ST_W(BPF_REG_10, -4, 0),
		/* 2 */ LD_MAP(BPF_REG_1, table_fd),
		/* 4 */ MOV_REG(BPF_REG_2, BPF_REG_10),
		/* 5 */ ADD_IMM(BPF_REG_2, -4),
		/* 6 */ CALL(BPF_FUNC_map_lookup_elem),
		/* 7 */ JEQ_IMM(BPF_REG_0, 0, AT_PASS - 8),
		/* 8 */ MOV_REG(BPF_REG_7, BPF_REG_0),
		/* 9 */ LDX_W(BPF_REG_1, BPF_REG_7, TT(on)),
		/* 10 */ JEQ_IMM(BPF_REG_1, 0, AT_PASS - 11),
		/* the flow id: the skb's hash, computed now if the stack has not */
		/* 11 */ MOV_REG(BPF_REG_1, BPF_REG_6),
		/* 12 */ CALL(BPF_FUNC_get_hash_recalc),
		/* 13 */ LDX_W(BPF_REG_1, BPF_REG_7, TT(flowid_shift)),
		/* 14 */ AND_IMM(BPF_REG_1, 31),
		/* 15 */ RSH32_REG(BPF_REG_0, BPF_REG_1),
		/* 16 */ LDX_W(BPF_REG_1, BPF_REG_7, TT(seed)),
		/* 17 */ XOR32_REG(BPF_REG_0, BPF_REG_1),
		/* 18 */ AND_IMM(BPF_REG_0, LK_FLOW_BUCKETS - 1),
		/* bucket -> port index (r8) -> ifindex (r9) */
		/* 19 */ MOV_REG(BPF_REG_1, BPF_REG_7),
		/* 20 */ ADD_REG(BPF_REG_1, BPF_REG_0),
		/* 21 */ LDX_B(BPF_REG_8, BPF_REG_1, TT(bucket)),
		/* 22 */ AND_IMM(BPF_REG_8, LK_MAX_PORTS - 1),
		/* 23 */ MOV_REG(BPF_REG_1, BPF_REG_8),
		/* 24 */ LSH_IMM(BPF_REG_1, 2),
		/* 25 */ MOV_REG(BPF_REG_2, BPF_REG_7),
		/* 26 */ ADD_REG(BPF_REG_2, BPF_REG_1),
		/* 27 */ LDX_W(BPF_REG_9, BPF_REG_2, TT(ifindex)),
		/* 28 */ JEQ_IMM(BPF_REG_9, 0, AT_PASS - 29),
		/* 29 */ STX_W(BPF_REG_10, BPF_REG_8, -4),
		/* 30: count */ LG_COUNT_FRAME(count_fd),
		/* redirect */ MOV_REG(BPF_REG_1, BPF_REG_9),
		MOV_IMM(BPF_REG_2, 0),
		CALL(BPF_FUNC_redirect),
		EXIT(),
		/* pass: to the TAP's queue, for laggd */ MOV_IMM(BPF_REG_0, TC_ACT_OK),
		EXIT(),
	};
	_Static_assert(sizeof(insns) / sizeof(insns[0]) == AT_PASS + 2, "jump targets out of date");
	return lg_bpf_prog_load(insns, sizeof(insns) / sizeof(insns[0]), "laggd_tx");
}

int
lg_txpath_open(struct lg_lagg *l)
{
	memset(&l->tx, 0, sizeof(l->tx));
	l->tx.table_fd = l->tx.count_fd = -1;
	const char *want = getenv("LAGGD_TX_PATH");
	if (want && strcmp(want, "user") == 0) {
		lg_log(2, "%s: transmit path through laggd (LAGGD_TX_PATH=user)", l->name);
		return -1;
	}
	const char *why = "BPF maps";
	int prog = -1, rc = 0;
	l->tx.table = calloc(1, sizeof(struct tx_table));
	l->tx.table_fd = lg_bpf_map_create(BPF_MAP_TYPE_ARRAY, sizeof(struct tx_table), 1, "laggd_txtable");
	l->tx.count_fd = lg_bpf_map_create(
	    BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(struct lg_bpf_count), LK_MAX_PORTS, "laggd_txcount");
	if (l->tx.table && l->tx.table_fd >= 0 && l->tx.count_fd >= 0 &&
	    lg_bpf_map_update(l->tx.table_fd, 0, l->tx.table) == 0) {
		why = "its tc program";
		prog = tap_prog(l->tx.table_fd, l->tx.count_fd);
		if (prog >= 0) {
			why = "tc egress";
			rc = lg_tc_egress_attach(l->tap_ifindex, prog, "laggd_tx");
			close(prog); /* tc holds it now */
			if (rc == 0)
				return 0;
			errno = -rc;
		}
	}
	lg_log(1, "%s: in-kernel transmit path unavailable (%s: %s); frames go through laggd", l->name, why,
	    strerror(errno));
	lg_txpath_close(l);
	return -1;
}

void
lg_txpath_close(struct lg_lagg *l)
{
	/* The program goes with the TAP; until then it finds the table off or gone. */
	if (l->tx.table_fd >= 0)
		close(l->tx.table_fd);
	if (l->tx.count_fd >= 0)
		close(l->tx.count_fd);
	free(l->tx.table);
	memset(&l->tx, 0, sizeof(l->tx));
	l->tx.table_fd = l->tx.count_fd = -1;
}

/* The table the kernel should hold now: on (1) or off (0), filled in *t. */
static int
wanted(struct lg_lagg *l, struct tx_table *t, uint32_t *gen)
{
	struct lk_flow_view v;
	int on = lk_tx_flow_view(l->sc, &v) && (v.hash_layers & LK_HASH_L4);
	*gen = v.gen;
	memset(t->ifindex, 0, sizeof(t->ifindex));
	t->on = 0;
	if (!on)
		return 0;
	for (uint32_t a = v.active; a != 0; a &= a - 1) {
		int i = __builtin_ctz(a);
		const struct lg_port *p = &l->ports[i];
		if (!p->used || p->ifindex <= 0) {
			memset(t->ifindex, 0, sizeof(t->ifindex));
			return 0;
		}
		t->ifindex[i] = (uint32_t)p->ifindex;
	}
	t->on = 1;
	t->flowid_shift = v.flowid_shift;
	t->seed = v.seed;
	memcpy(t->bucket, v.bucket, sizeof(t->bucket));
	return 1;
}

void
lg_txpath_sync(struct lg_lagg *l)
{
	struct tx_table *t = l->tx.table;
	if (l->tx.table_fd < 0)
		return;
	uint32_t ifindex[LK_MAX_PORTS], gen;
	memcpy(ifindex, t->ifindex, sizeof(ifindex));
	int was = (int)t->on, on = wanted(l, t, &gen);
	if (on == was && (!on || (gen == l->tx.gen && memcmp(ifindex, t->ifindex, sizeof(ifindex)) == 0)))
		return;
	/* One copy of the whole entry. A frame that reads it while it is being written may take
	 * the old table's port for its bucket: a port that is leaving is still a member then, since
	 * laggd gives a port back only after this copy (lg_port_detach). */
	if (lg_bpf_map_update(l->tx.table_fd, 0, t) < 0) {
		lg_log(0, "%s: transmit table: %s; frames go through laggd from now on", l->name,
		    strerror(errno));
		/* The kernel's copy may name a port that has gone: take the program's map away. */
		lg_tc_egress_detach(l->tap_ifindex);
		lg_txpath_close(l);
		return;
	}
	l->tx.gen = gen;
	l->tx.ports = 0;
	for (int i = 0; i < LK_MAX_PORTS; i++)
		if (t->ifindex[i])
			l->tx.ports |= 1u << i;
	lg_log(on != was ? 2 : 3, "%s: in-kernel transmit path %s (ports 0x%x)", l->name, on ? "on" : "off",
	    l->tx.ports);
}

int
lg_txpath_port_on(const struct lg_port *p)
{
	return p->used && ((p->lagg->tx.ports >> p->index) & 1u);
}

/*
 * A frame the kernel sends on a member is as the stack made it: TCP's checksum is left for the
 * device to fill in (CHECKSUM_PARTIAL), and a GSO frame is cut to size by the device. A NIC
 * does both in hardware, or the member's own transmit path does them in software, so the wire
 * carries finished frames. A veth is the exception: it hands such a frame to its peer
 * unfinished, and a peer that reads the wire with AF_PACKET (Open vSwitch's userspace
 * datapath, laggd's user receive path) gets a bad checksum and a 64 KiB frame. Turning the
 * veth's checksum offload off (which takes TSO with it) makes its transmit path finish every
 * frame, as laggd did itself when it sent them; it comes back when the port leaves.
 */
void
lg_txpath_port_added(struct lg_port *p)
{
	struct lg_lagg *l = p->lagg;
	if (l->tx.count_fd < 0)
		return;
	(void)lg_bpf_count_zero(l->tx.count_fd, p->index); /* its slot may hold an old port's */
	if (lg_if_is_veth(p->name) && lg_if_tx_csum(p->name, -1) == 1) {
		if (lg_if_tx_csum(p->name, 0) == 0)
			p->tx_csum_off = 1;
		else
			lg_log(1,
			    "%s: %s: cannot turn checksum offload off (%s); its peer may see unfinished "
			    "frames",
			    l->name, p->name, strerror(errno));
	}
}

void
lg_txpath_port_removed(struct lg_port *p)
{
	if (p->tx_csum_off && lg_if_tx_csum(p->name, 1) < 0)
		lg_log(1, "%s: cannot turn checksum offload back on: %s", p->name, strerror(errno));
	p->tx_csum_off = 0;
}

/* The frames this port sent on the kernel's path (the core counted the rest). */
static struct lg_bpf_count
kernel_count(const struct lg_port *p)
{
	struct lg_bpf_count sum = { 0, 0 };
	if (p->lagg->tx.count_fd >= 0)
		(void)lg_bpf_count_sum(p->lagg->tx.count_fd, p->index, &sum);
	return sum;
}

void
lg_txpath_add_counters(const struct lg_port *p, struct lk_port_counters *c)
{
	struct lg_bpf_count sum = kernel_count(p);
	c->tx_packets += sum.packets;
	c->tx_bytes += sum.bytes;
}

uint64_t
lg_txpath_kernel_packets(const struct lg_port *p)
{
	return kernel_count(p).packets;
}
