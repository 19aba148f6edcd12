/*
 * The in-kernel receive path: data frames that arrive on a member go straight from the
 * member's tc ingress hook into the TAP's receive path (bpf_redirect with BPF_F_INGRESS), as
 * if the TAP had received them, without crossing into laggd and back. Forwarding them through
 * laggd cost an AF_PACKET queue, a copy out, a copy back into the TAP and the wakeups between:
 * measured with bench:laggd's throughput run, the receiving side's share of the whole
 * machine's CPU per packet was most of what laggd added over no forwarder at all.
 *
 * The core still decides: lk_rx_accept_mask() says which ports' data frames lk_input() would
 * accept, and laggd mirrors it into a BPF array (one u32 per port index) after anything that
 * may change it (lg_rxpath_sync, from lg_lagg_settle after every batch of events). The
 * member's tc program, loaded per port with its index and the TAP's ifindex built in:
 *
 *   not accepted now (the core's mask)          -> drop
 *   untagged slow protocols (LACP, marker)      -> drop: laggd's AF_PACKET socket, which sees
 *                                                  every frame before tc ingress runs, has it
 *   anything else                               -> count (per-CPU packets/bytes of the port),
 *                                                  redirect into the TAP's ingress
 *
 * laggd's AF_PACKET socket on the member then needs only the slow protocols frames: while
 * the port's frames are accepted, a classic BPF socket filter keeps the rest out of its
 * queue (else each data frame would arrive twice). While they are not, the filter is off and
 * laggd sees every frame, as without this path: a data frame on a port laggd thinks is down
 * still makes it read the carrier at once (lg_port_readable), and the core counts the drop.
 * On a change the order loses a frame or two rather than duplicating one: filter on, then
 * the mask; mask off, then the filter.
 *
 * The counts of redirected frames live in the BPF map; status output adds them to the
 * core's (lg_rxpath_add_counters). Where eBPF, the map types or bpf_redirect are not there,
 * or LAGGD_RX_PATH=user is set, laggd keeps delivering through user space (the tc filter
 * then only drops, laggd_isolate.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "laggd.h"

#ifndef ETH_P_SLOW
#define ETH_P_SLOW 0x8809
#endif

/* One port's counts in the per-CPU map. */
struct rx_count {
	uint64_t packets, bytes;
};

static long
sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static int
map_create(enum bpf_map_type type, uint32_t value_size, const char *name)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = type;
	a.key_size = sizeof(uint32_t);
	a.value_size = value_size;
	a.max_entries = LK_MAX_PORTS;
	snprintf(a.map_name, sizeof(a.map_name), "%s", name);
	return (int)sys_bpf(BPF_MAP_CREATE, &a);
}

static int
map_update(int fd, uint32_t key, const void *value)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd;
	a.key = (uint64_t)(uintptr_t)&key;
	a.value = (uint64_t)(uintptr_t)value;
	a.flags = BPF_ANY;
	return (int)sys_bpf(BPF_MAP_UPDATE_ELEM, &a);
}

/* The CPUs a per-CPU map holds a value for: /sys/devices/system/cpu/possible, "0-N". */
static unsigned
possible_cpus(void)
{
	static unsigned n;
	if (n)
		return n;
	FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
	unsigned lo = 0, hi = 0;
	if (f) {
		if (fscanf(f, "%u-%u", &lo, &hi) < 1)
			hi = 0;
		fclose(f);
	}
	n = hi + 1;
	return n;
}

/* ---- The member's tc program ----------------------------------------------------------- */

#define I(c, d, s, o, i) \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define MOV_REG(d, s)    I(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOV_IMM(d, i)    I(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define ADD_IMM(d, i)    I(BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, i)
#define ADD_REG(d, s)    I(BPF_ALU64 | BPF_ADD | BPF_X, d, s, 0, 0)
#define ST_W(d, o, i)    I(BPF_ST | BPF_MEM | BPF_W, d, 0, o, i)
#define LDX_W(d, s, o)   I(BPF_LDX | BPF_MEM | BPF_W, d, s, o, 0)
#define LDX_DW(d, s, o)  I(BPF_LDX | BPF_MEM | BPF_DW, d, s, o, 0)
#define STX_DW(d, s, o)  I(BPF_STX | BPF_MEM | BPF_DW, d, s, o, 0)
#define JEQ_IMM(d, i, o) I(BPF_JMP | BPF_JEQ | BPF_K, d, 0, o, i)
#define JNE_IMM(d, i, o) I(BPF_JMP | BPF_JNE | BPF_K, d, 0, o, i)
#define CALL(f)          I(BPF_JMP | BPF_CALL, 0, 0, 0, f)
#define EXIT()           I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
#define LD_MAP(d, fd)    I(BPF_LD | BPF_DW | BPF_IMM, d, BPF_PSEUDO_MAP_FD, 0, fd), I(0, 0, 0, 0, 0)
#define SKB(field)       ((int16_t)offsetof(struct __sk_buff, field))

/* Instruction numbers the jumps below land on (offsets count from the next instruction). */
enum { AT_COUNT = 14, AT_REDIRECT = 27, AT_DROP = 31 };

static int
port_prog(int accept_fd, int count_fd, uint32_t port, int tap_ifindex)
{
	const struct bpf_insn insns[] = {
		/* 0 */ MOV_REG(BPF_REG_6, BPF_REG_1),
		/* 1 */ ST_W(BPF_REG_10, -4, (int32_t)port),
		/* 2 */ LD_MAP(BPF_REG_1, accept_fd),
		/* 4 */ MOV_REG(BPF_REG_2, BPF_REG_10),
		/* 5 */ ADD_IMM(BPF_REG_2, -4),
		/* 6 */ CALL(BPF_FUNC_map_lookup_elem),
		/* 7 */ JEQ_IMM(BPF_REG_0, 0, AT_DROP - 8),
		/* 8 */ LDX_W(BPF_REG_1, BPF_REG_0, 0),
		/* 9 */ JEQ_IMM(BPF_REG_1, 0, AT_DROP - 10),
		/* untagged slow protocols frames are laggd's (its socket has them already) */
		/* 10 */ LDX_W(BPF_REG_1, BPF_REG_6, SKB(protocol)),
		/* 11 */ JNE_IMM(BPF_REG_1, htons(ETH_P_SLOW), AT_COUNT - 12),
		/* 12 */ LDX_W(BPF_REG_1, BPF_REG_6, SKB(vlan_present)),
		/* 13 */ JEQ_IMM(BPF_REG_1, 0, AT_DROP - 14),
		/* 14: count */ LD_MAP(BPF_REG_1, count_fd),
		/* 16 */ MOV_REG(BPF_REG_2, BPF_REG_10),
		/* 17 */ ADD_IMM(BPF_REG_2, -4),
		/* 18 */ CALL(BPF_FUNC_map_lookup_elem),
		/* 19 */ JEQ_IMM(BPF_REG_0, 0, AT_REDIRECT - 20),
		/* 20 */ LDX_DW(BPF_REG_1, BPF_REG_0, 0),
		/* 21 */ ADD_IMM(BPF_REG_1, 1),
		/* 22 */ STX_DW(BPF_REG_0, BPF_REG_1, 0),
		/* 23 */ LDX_W(BPF_REG_1, BPF_REG_6, SKB(len)),
		/* 24 */ LDX_DW(BPF_REG_2, BPF_REG_0, 8),
		/* 25 */ ADD_REG(BPF_REG_2, BPF_REG_1),
		/* 26 */ STX_DW(BPF_REG_0, BPF_REG_2, 8),
		/* 27: redirect */ MOV_IMM(BPF_REG_1, tap_ifindex),
		/* 28 */ MOV_IMM(BPF_REG_2, BPF_F_INGRESS),
		/* 29 */ CALL(BPF_FUNC_redirect),
		/* 30 */ EXIT(),
		/* 31: drop */ MOV_IMM(BPF_REG_0, TC_ACT_SHOT),
		/* 32 */ EXIT(),
	};
	_Static_assert(sizeof(insns) / sizeof(insns[0]) == AT_DROP + 2, "jump targets out of date");
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_SCHED_CLS;
	a.insns = (uint64_t)(uintptr_t)insns;
	a.insn_cnt = sizeof(insns) / sizeof(insns[0]);
	a.license = (uint64_t)(uintptr_t)"BSD";
	snprintf(a.prog_name, sizeof(a.prog_name), "laggd_rx");
	int fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
	if (fd >= 0)
		return fd;
	/* Refused: load it again with the verifier's log, only to say why. (Not on the first try:
	 * a log that outgrows its buffer fails the load with ENOSPC, valid program or not.) */
	int err = errno;
	static char log[16384];
	log[0] = '\0';
	a.log_buf = (uint64_t)(uintptr_t)log;
	a.log_size = sizeof(log);
	a.log_level = 1;
	int again = (int)sys_bpf(BPF_PROG_LOAD, &a);
	if (again >= 0)
		close(again);
	if (log[0])
		lg_log(2, "laggd_rx program refused: %s", log);
	errno = err;
	return -1;
}

/* ---- The member socket's filter: untagged slow protocols only -------------------------- */

static int
slow_only(int fd, int on)
{
	if (!on) {
		int dummy = 0;
		if (setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, &dummy, sizeof(dummy)) < 0 &&
		    errno != ENOENT)
			return -1;
		return 0;
	}
	static struct sock_filter code[] = {
		/* a tagged frame is VLAN data, whatever its type */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2),
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_SLOW, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, 0),
		BPF_STMT(BPF_RET | BPF_K, 0xffffu),
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };
	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
}

/* ---- Per aggregate ------------------------------------------------------------------------ */

int
lg_rxpath_open(struct lg_lagg *l)
{
	l->rx.accept_fd = l->rx.count_fd = -1;
	l->rx.mask = 0;
	const char *want = getenv("LAGGD_RX_PATH");
	if (want && strcmp(want, "user") == 0) {
		lg_log(2, "%s: receive path through laggd (LAGGD_RX_PATH=user)", l->name);
		return -1;
	}
	l->rx.accept_fd = map_create(BPF_MAP_TYPE_ARRAY, sizeof(uint32_t), "laggd_accept");
	l->rx.count_fd = map_create(BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(struct rx_count), "laggd_rxcount");
	if (l->rx.accept_fd < 0 || l->rx.count_fd < 0) {
		lg_log(1, "%s: in-kernel receive path unavailable (BPF maps: %s); frames go through laggd",
		    l->name, strerror(errno));
		lg_rxpath_close(l);
		return -1;
	}
	return 0;
}

void
lg_rxpath_close(struct lg_lagg *l)
{
	if (l->rx.accept_fd >= 0)
		close(l->rx.accept_fd);
	if (l->rx.count_fd >= 0)
		close(l->rx.count_fd);
	l->rx.accept_fd = l->rx.count_fd = -1;
	l->rx.mask = 0;
}

int
lg_rxpath_port_prog(struct lg_port *p)
{
	struct lg_lagg *l = p->lagg;
	if (l->rx.accept_fd < 0)
		return -1;
	/* A new port starts refused (its slot may hold an old port's state) and uncounted. */
	uint32_t off = 0;
	struct rx_count *zero = calloc(possible_cpus(), sizeof(struct rx_count));
	int rc = zero ? map_update(l->rx.count_fd, p->index, zero) : -1;
	free(zero);
	if (rc < 0 || map_update(l->rx.accept_fd, p->index, &off) < 0)
		return -1;
	l->rx.mask &= ~(1u << p->index);
	int fd = port_prog(l->rx.accept_fd, l->rx.count_fd, p->index, l->tap_ifindex);
	if (fd < 0)
		lg_log(1, "%s: %s: in-kernel receive path unavailable (%s); frames go through laggd", l->name,
		    p->name, strerror(errno));
	return fd;
}

void
lg_rxpath_port_gone(struct lg_port *p)
{
	struct lg_lagg *l = p->lagg;
	uint32_t off = 0;
	if (l->rx.accept_fd >= 0)
		(void)map_update(l->rx.accept_fd, p->index, &off);
	l->rx.mask &= ~(1u << p->index);
}

void
lg_rxpath_sync(struct lg_lagg *l)
{
	if (l->rx.accept_fd < 0)
		return;
	uint32_t want = lk_rx_accept_mask(l->sc), changed = want ^ l->rx.mask;
	for (uint32_t i = 0; changed != 0 && i < LK_MAX_PORTS; i++) {
		uint32_t bit = (1u << i);
		struct lg_port *p = &l->ports[i];
		if (!(changed & bit))
			continue;
		if (!p->used || p->fd < 0 || !p->rx_kernel) {
			changed &= ~bit; /* this port's frames go through laggd */
			continue;
		}
		uint32_t on = !!(want & bit);
		/* Filter on before the mask, mask off before the filter: never both paths at once. */
		if (on && slow_only(p->fd, 1) < 0) {
			lg_log(1, "%s: %s: socket filter: %s", l->name, p->name, strerror(errno));
			continue;
		}
		if (map_update(l->rx.accept_fd, i, &on) < 0) {
			lg_log(1, "%s: %s: receive map: %s", l->name, p->name, strerror(errno));
			if (on)
				(void)slow_only(p->fd, 0);
			continue;
		}
		if (!on)
			(void)slow_only(p->fd, 0);
		l->rx.mask ^= bit;
	}
}

void
lg_rxpath_add_counters(const struct lg_port *p, struct lk_port_counters *c)
{
	const struct lg_lagg *l = p->lagg;
	if (l->rx.count_fd < 0 || !p->rx_kernel)
		return;
	unsigned n = possible_cpus();
	struct rx_count *v = calloc(n, sizeof(*v));
	if (!v)
		return;
	uint32_t key = p->index;
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)l->rx.count_fd;
	a.key = (uint64_t)(uintptr_t)&key;
	a.value = (uint64_t)(uintptr_t)v;
	if (sys_bpf(BPF_MAP_LOOKUP_ELEM, &a) == 0) {
		for (unsigned i = 0; i < n; i++) {
			c->rx_packets += v[i].packets;
			c->rx_bytes += v[i].bytes;
		}
	}
	free(v);
}
