/*
 * bpf(2) for laggd's in-kernel frame paths: maps, per-CPU counters and program loading.
 * See laggd_bpf.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "laggd.h"
#include "laggd_bpf.h"

long
lg_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

int
lg_bpf_map_create(enum bpf_map_type type, uint32_t value_size, uint32_t max_entries, const char *name)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = type;
	a.key_size = sizeof(uint32_t);
	a.value_size = value_size;
	a.max_entries = max_entries;
	snprintf(a.map_name, sizeof(a.map_name), "%s", name);
	return (int)lg_bpf(BPF_MAP_CREATE, &a);
}

int
lg_bpf_map_update(int fd, uint32_t key, const void *value)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd;
	a.key = (uint64_t)(uintptr_t)&key;
	a.value = (uint64_t)(uintptr_t)value;
	a.flags = BPF_ANY;
	return (int)lg_bpf(BPF_MAP_UPDATE_ELEM, &a);
}

/* /sys/devices/system/cpu/possible, "0-N": a per-CPU map's value is one slot per such CPU. */
unsigned
lg_bpf_possible_cpus(void)
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

int
lg_bpf_prog_load(const struct bpf_insn *insns, unsigned n, const char *name)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_SCHED_CLS;
	a.insns = (uint64_t)(uintptr_t)insns;
	a.insn_cnt = n;
	a.license = (uint64_t)(uintptr_t)"BSD";
	snprintf(a.prog_name, sizeof(a.prog_name), "%s", name);
	int fd = (int)lg_bpf(BPF_PROG_LOAD, &a);
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
	int again = (int)lg_bpf(BPF_PROG_LOAD, &a);
	if (again >= 0)
		close(again);
	if (log[0])
		lg_log(2, "%s program refused: %s", name, log);
	errno = err;
	return -1;
}

int
lg_bpf_count_zero(int fd, uint32_t key)
{
	struct lg_bpf_count *zero = calloc(lg_bpf_possible_cpus(), sizeof(*zero));
	int rc = zero ? lg_bpf_map_update(fd, key, zero) : -1;
	free(zero);
	return rc;
}

int
lg_bpf_count_sum(int fd, uint32_t key, struct lg_bpf_count *sum)
{
	unsigned n = lg_bpf_possible_cpus();
	struct lg_bpf_count *v = calloc(n, sizeof(*v));
	if (!v)
		return -1;
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd;
	a.key = (uint64_t)(uintptr_t)&key;
	a.value = (uint64_t)(uintptr_t)v;
	int rc = (int)lg_bpf(BPF_MAP_LOOKUP_ELEM, &a);
	if (rc == 0)
		for (unsigned i = 0; i < n; i++) {
			sum->packets += v[i].packets;
			sum->bytes += v[i].bytes;
		}
	free(v);
	return rc;
}
