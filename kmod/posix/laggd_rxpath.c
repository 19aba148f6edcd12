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
#include <unistd.h>
#include <arpa/inet.h>

#include "laggd.h"
#include "laggd_bpf.h"

#ifndef ETH_P_SLOW
#define ETH_P_SLOW 0x8809
#endif

/* ---- The member's tc program ----------------------------------------------------------- */

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
		/* 14: count (LG_COUNT_FRAME_LEN) */ LG_COUNT_FRAME(count_fd),
		/* 27: redirect */ MOV_IMM(BPF_REG_1, tap_ifindex),
		/* 28 */ MOV_IMM(BPF_REG_2, BPF_F_INGRESS),
		/* 29 */ CALL(BPF_FUNC_redirect),
		/* 30 */ EXIT(),
		/* 31: drop */ MOV_IMM(BPF_REG_0, TC_ACT_SHOT),
		/* 32 */ EXIT(),
	};
	_Static_assert(sizeof(insns) / sizeof(insns[0]) == AT_DROP + 2, "jump targets out of date");
	_Static_assert(AT_COUNT + LG_COUNT_FRAME_LEN == AT_REDIRECT, "the count ends at the redirect");
	return lg_bpf_prog_load(insns, sizeof(insns) / sizeof(insns[0]), "laggd_rx");
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
	l->rx.accept_fd =
	    lg_bpf_map_create(BPF_MAP_TYPE_ARRAY, sizeof(uint32_t), LK_MAX_PORTS, "laggd_accept");
	l->rx.count_fd = lg_bpf_map_create(
	    BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(struct lg_bpf_count), LK_MAX_PORTS, "laggd_rxcount");
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
	if (lg_bpf_count_zero(l->rx.count_fd, p->index) < 0 ||
	    lg_bpf_map_update(l->rx.accept_fd, p->index, &off) < 0)
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
		(void)lg_bpf_map_update(l->rx.accept_fd, p->index, &off);
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
		if (lg_bpf_map_update(l->rx.accept_fd, i, &on) < 0) {
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
	struct lg_bpf_count sum = { 0, 0 };
	if (l->rx.count_fd < 0 || !p->rx_kernel || lg_bpf_count_sum(l->rx.count_fd, p->index, &sum) < 0)
		return;
	c->rx_packets += sum.packets;
	c->rx_bytes += sum.bytes;
}
