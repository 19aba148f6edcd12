/*
 * Batched TAP I/O through io_uring: many reads or writes of the TAP in one system call.
 *
 * A TAP moves one frame per read() or write(), and on these machines a system call costs about
 * a microsecond, as much as a third of what laggd spends on a 64-byte frame. io_uring runs a
 * whole batch of them in one io_uring_enter(): the operations still go one frame at a time
 * inside the kernel, in order, but the entry and exit are paid once. Each is RWF_NOWAIT, so it
 * completes inline, with a result or -EAGAIN, before the call returns (without it io_uring
 * would park a read of an empty TAP until a frame comes, and the call would not return).
 *
 * Only the raw system calls and <linux/io_uring.h> are used, so laggd needs no library and
 * builds statically as before. Where the kernel refuses io_uring (too old, disabled by
 * kernel.io_uring_disabled or a seccomp policy, or an operation it does not know),
 * lg_uring_init() or the first batch fails and the caller goes back to read() and write().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/io_uring.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "laggd.h"

static int
sys_setup(unsigned entries, struct io_uring_params *p)
{
	return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int
sys_enter(int fd, unsigned submit, unsigned complete, unsigned flags)
{
	return (int)syscall(__NR_io_uring_enter, fd, submit, complete, flags, NULL, 0);
}

int
lg_uring_init(struct lg_uring *u, unsigned entries)
{
	struct io_uring_params p;

	memset(u, 0, sizeof(*u));
	u->fd = -1;
	memset(&p, 0, sizeof(p));
	int fd = sys_setup(entries, &p);
	if (fd < 0)
		return -1;
	/* One mapping for both rings (5.4 and later); older kernels keep read() and write(). */
	if (!(p.features & IORING_FEAT_SINGLE_MMAP) || p.cq_entries < entries) {
		close(fd);
		errno = ENOSYS;
		return -1;
	}
	size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	size_t cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	u->ring_len = sq_len > cq_len ? sq_len : cq_len;
	u->ring = mmap(
	    NULL, u->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
	if (u->ring == MAP_FAILED)
		goto fail;
	u->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
	u->sqes =
	    mmap(NULL, u->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
	if (u->sqes == MAP_FAILED) {
		munmap(u->ring, u->ring_len);
		goto fail;
	}
	uint8_t *r = u->ring;
	u->sq_tail = (unsigned *)(r + p.sq_off.tail);
	u->sq_mask = *(unsigned *)(r + p.sq_off.ring_mask);
	u->sq_array = (unsigned *)(r + p.sq_off.array);
	u->cq_head = (unsigned *)(r + p.cq_off.head);
	u->cq_tail = (unsigned *)(r + p.cq_off.tail);
	u->cq_mask = *(unsigned *)(r + p.cq_off.ring_mask);
	u->cqes = (struct io_uring_cqe *)(r + p.cq_off.cqes);
	u->entries = entries;
	u->fd = fd;
	return 0;
fail:
	close(fd);
	return -1;
}

void
lg_uring_fini(struct lg_uring *u)
{
	if (u->fd < 0)
		return;
	munmap(u->sqes, u->sqes_len);
	munmap(u->ring, u->ring_len);
	close(u->fd);
	u->fd = -1;
}

/*
 * n reads (IORING_OP_READ) or writes (IORING_OP_WRITE) of fd, one per iov, in one call; res[i]
 * gets the bytes moved or -errno, and -ECANCELED for an operation that never ran. Returns 0,
 * or -1 when io_uring itself failed: the ring is then unusable (lg_uring_fini() it), and the
 * caller does the operations left at -ECANCELED with plain calls.
 */
int
lg_uring_rw(struct lg_uring *u, int op, int fd, const struct iovec *iov, unsigned n, int *res)
{
	for (unsigned i = 0; i < n; i++)
		res[i] = -ECANCELED;
	if (n == 0)
		return 0;
	if (n > u->entries) {
		errno = EINVAL;
		return -1;
	}
	unsigned tail = *u->sq_tail; /* only laggd writes the tail */
	for (unsigned i = 0; i < n; i++) {
		unsigned idx = (tail + i) & u->sq_mask;
		struct io_uring_sqe *sqe = &u->sqes[idx];
		memset(sqe, 0, sizeof(*sqe));
		sqe->opcode = (uint8_t)op;
		sqe->fd = fd;
		sqe->addr = (uint64_t)(uintptr_t)iov[i].iov_base;
		sqe->len = (uint32_t)iov[i].iov_len;
		sqe->off = (uint64_t)-1; /* the file position: a TAP has none */
		sqe->rw_flags = RWF_NOWAIT;
		sqe->user_data = i;
		u->sq_array[idx] = idx;
	}
	__atomic_store_n(u->sq_tail, tail + n, __ATOMIC_RELEASE);
	int rc;
	do
		rc = sys_enter(u->fd, n, n, IORING_ENTER_GETEVENTS);
	while (rc < 0 && errno == EINTR);
	/* Fewer submitted than asked leaves stale entries in the ring: never enter it again. */
	unsigned expect = rc < 0 ? 0 : (unsigned)rc;
	unsigned done = 0;
	for (;;) {
		unsigned head = *u->cq_head;
		unsigned ctail = __atomic_load_n(u->cq_tail, __ATOMIC_ACQUIRE);
		for (; head != ctail; head++) {
			const struct io_uring_cqe *c = &u->cqes[head & u->cq_mask];
			if (c->user_data < n)
				res[c->user_data] = c->res;
			done++;
		}
		__atomic_store_n(u->cq_head, head, __ATOMIC_RELEASE);
		if (done >= expect)
			break;
		/* Submitted but not all complete (an operation went async): wait for them. */
		if (sys_enter(u->fd, 0, expect - done, IORING_ENTER_GETEVENTS) < 0 && errno != EINTR)
			return -1;
	}
	return expect == n ? 0 : -1;
}
