/*
 * The bpf(2) calls laggd's in-kernel frame paths share (laggd_rxpath.c, laggd_txpath.c,
 * laggd_isolate.c), and the macros their hand-assembled programs are written with. No libbpf
 * and no BPF compiler: the programs are a few dozen instructions each, and laggd's static lab
 * build stays one C compiler and libc.
 */
#ifndef LAGGD_BPF_H
#define LAGGD_BPF_H

#include <linux/bpf.h>
#include <stddef.h>
#include <stdint.h>

long lg_bpf(int cmd, union bpf_attr *attr);
/* a map keyed by a u32 (array maps: 0..max_entries-1) */
int lg_bpf_map_create(enum bpf_map_type type, uint32_t value_size, uint32_t max_entries, const char *name);
int lg_bpf_map_update(int fd, uint32_t key, const void *value);
unsigned lg_bpf_possible_cpus(void); /* the CPUs a per-CPU map holds a value for */
/* A tc (SCHED_CLS) program; on refusal, loads it again with the verifier's log to say why. */
int lg_bpf_prog_load(const struct bpf_insn *insns, unsigned n, const char *name);

/* Per-CPU packet and byte counts, one pair per port index (the frame paths' counter maps). */
struct lg_bpf_count {
	uint64_t packets, bytes;
};
int lg_bpf_count_zero(int fd, uint32_t key);
int lg_bpf_count_sum(int fd, uint32_t key, struct lg_bpf_count *sum);

/* Instructions, as the kernel's own samples spell them. */
#define LG_I(c, d, s, o, i) \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define MOV_REG(d, s)    LG_I(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOV_IMM(d, i)    LG_I(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define ADD_IMM(d, i)    LG_I(BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, i)
#define ADD_REG(d, s)    LG_I(BPF_ALU64 | BPF_ADD | BPF_X, d, s, 0, 0)
#define AND_IMM(d, i)    LG_I(BPF_ALU64 | BPF_AND | BPF_K, d, 0, 0, i)
#define LSH_IMM(d, i)    LG_I(BPF_ALU64 | BPF_LSH | BPF_K, d, 0, 0, i)
#define RSH32_REG(d, s)  LG_I(BPF_ALU | BPF_RSH | BPF_X, d, s, 0, 0)
#define XOR32_REG(d, s)  LG_I(BPF_ALU | BPF_XOR | BPF_X, d, s, 0, 0)
#define ST_W(d, o, i)    LG_I(BPF_ST | BPF_MEM | BPF_W, d, 0, o, i)
#define STX_W(d, s, o)   LG_I(BPF_STX | BPF_MEM | BPF_W, d, s, o, 0)
#define LDX_B(d, s, o)   LG_I(BPF_LDX | BPF_MEM | BPF_B, d, s, o, 0)
#define LDX_W(d, s, o)   LG_I(BPF_LDX | BPF_MEM | BPF_W, d, s, o, 0)
#define LDX_DW(d, s, o)  LG_I(BPF_LDX | BPF_MEM | BPF_DW, d, s, o, 0)
#define STX_DW(d, s, o)  LG_I(BPF_STX | BPF_MEM | BPF_DW, d, s, o, 0)
#define JEQ_IMM(d, i, o) LG_I(BPF_JMP | BPF_JEQ | BPF_K, d, 0, o, i)
#define JNE_IMM(d, i, o) LG_I(BPF_JMP | BPF_JNE | BPF_K, d, 0, o, i)
#define JA(o)            LG_I(BPF_JMP | BPF_JA, 0, 0, o, 0)
#define CALL(f)          LG_I(BPF_JMP | BPF_CALL, 0, 0, 0, f)
#define EXIT()           LG_I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
#define LD_MAP(d, fd)    LG_I(BPF_LD | BPF_DW | BPF_IMM, d, BPF_PSEUDO_MAP_FD, 0, fd), LG_I(0, 0, 0, 0, 0)
#define SKB(field)       ((int16_t)offsetof(struct __sk_buff, field))

/*
 * Add skb->len to the per-CPU count of the port whose index is at r10-4: r6 holds the skb,
 * count_fd is the counter map. LG_COUNT_FRAME_LEN instructions; clobbers r0-r2; an absent entry counts
 * nothing. A macro, so a program's instruction numbers stay readable in its own listing.
 */
/* clang-format off */
#define LG_COUNT_FRAME(count_fd)                                  \
	LD_MAP(BPF_REG_1, count_fd),                              \
	MOV_REG(BPF_REG_2, BPF_REG_10),                           \
	ADD_IMM(BPF_REG_2, -4),                                   \
	CALL(BPF_FUNC_map_lookup_elem),                           \
	JEQ_IMM(BPF_REG_0, 0, 7),      /* no entry: count nothing */ \
	LDX_DW(BPF_REG_1, BPF_REG_0, 0),                          \
	ADD_IMM(BPF_REG_1, 1),                                    \
	STX_DW(BPF_REG_0, BPF_REG_1, 0),                          \
	LDX_W(BPF_REG_1, BPF_REG_6, SKB(len)),                    \
	LDX_DW(BPF_REG_2, BPF_REG_0, 8),                          \
	ADD_REG(BPF_REG_2, BPF_REG_1),                            \
	STX_DW(BPF_REG_0, BPF_REG_2, 8)
/* clang-format on */
#define LG_COUNT_FRAME_LEN 13 /* instructions (LD_MAP is two) */

#endif /* LAGGD_BPF_H */
