/*
 * The carrier watch: a thread that reads every member's carrier every few milliseconds, as
 * bonding's miimon does, and wakes the main loop when one differs from what laggd believes.
 *
 * rtnetlink's link messages come from the kernel's link-watch, which sends a NIC's carrier
 * change at once only when no other link change went out in the second before; otherwise it
 * waits until that second is over, and a carrier that went down and came back meanwhile is
 * never reported at all. (Bonding's and team's members are exempt: link-watch treats them as
 * urgent. Nothing laggd can do makes its members so.) In the lab's flap soak, a cable pulled
 * for 300 ms every 600 ms, laggd heard of most pulls a second late or not at all and lost 1,507
 * datagrams of the stream into the dead member, where bonding, polling every 100 ms, lost
 * four. The carrier itself is current the moment the driver sets it: the sysfs `carrier`
 * file reads it (and an interface that is administratively down has none to read), and the
 * driver's ethtool get_link, read beside it, sees some NICs' link loss before their own carrier
 * bit does (e1000: up to 2 s before).
 *
 * The read takes the RTNL on current kernels (as the ethtool ioctl does), which someone else
 * can hold for tens of milliseconds; on this thread that stalls nothing but the watch. The
 * thread touches no laggd state: the main loop registers members (lg_carrier_watch), says what
 * it believes after every link change it applies (lg_carrier_believe), and applies what the
 * thread saw (lg_carrier_changes, from lg_carrier_apply). Comparing with what the main loop
 * believes, not with the last reading, also corrects a stale rtnetlink message that arrives
 * after a newer reading.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "laggd.h"

/* One watched member. `believed` and `seen` are -1 until known. */
struct watch {
	int ifindex;
	char name[IFNAMSIZ];
	int carrier_fd; /* /sys/class/net/NAME/carrier, kept open and re-read; -1: use lg_if_link */
	int believed;   /* what the main loop applied last */
	int seen;       /* what the thread read last */
};

/* Members of every aggregate; a watch table that is full leaves the rest to rtnetlink. */
#define LG_MAX_WATCH 256

/*
 * The lock guards the table, never a read: a read may wait for the RTNL, and the main loop
 * takes the lock on every link change it applies. The thread copies the table, reads without
 * the lock, and files what it read against the entries still there. A removed member's
 * carrier file is closed by the thread, between two rounds, so no read is ever using it.
 */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct watch watches[LG_MAX_WATCH];
static int nwatches;
static int *to_close; /* carrier files of removed members, for the thread to close */
static int nto_close, to_close_cap;
static int wake_fd = -1;
static unsigned interval_ms;

/*
 * 1 link, 0 none, -1 unknown. The carrier (0 also when administratively down: the file then
 * refuses the read), and where it is up, what the driver's ethtool get_link says: on e1000 that
 * sees a pulled cable up to 2 s before the carrier does (lg_if_ethtool_link). A link counts as
 * up only when both say so: a port taken back before the carrier returns would be sent frames
 * the kernel drops.
 */
static int
read_link(int fd, const char *name, int ifindex)
{
	char c;
	int up;
	if (fd < 0) {
		up = lg_if_link(name, ifindex);
	} else {
		ssize_t n = pread(fd, &c, 1, 0);
		if (n == 1)
			up = c == '1';
		else
			up = n < 0 && errno == EINVAL ? 0 : -1;
	}
	if (up == 1 && lg_if_ethtool_link(name) == 0)
		up = 0;
	return up;
}

static struct watch *
find(int ifindex)
{
	for (int i = 0; i < nwatches; i++)
		if (watches[i].ifindex == ifindex)
			return &watches[i];
	return NULL;
}

static void *
watch_thread(void *arg)
{
	static struct watch snap[LG_MAX_WATCH];
	struct timespec next;
	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		next.tv_nsec += (long)interval_ms * 1000000L;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);

		pthread_mutex_lock(&mu);
		for (int i = 0; i < nto_close; i++)
			close(to_close[i]);
		nto_close = 0;
		int n = nwatches;
		memcpy(snap, watches, sizeof(snap[0]) * (size_t)n);
		pthread_mutex_unlock(&mu);

		for (int i = 0; i < n; i++)
			snap[i].seen = read_link(snap[i].carrier_fd, snap[i].name, snap[i].ifindex);

		int differs = 0;
		pthread_mutex_lock(&mu);
		for (int i = 0; i < n; i++) {
			struct watch *w = find(snap[i].ifindex);
			if (!w || w->carrier_fd != snap[i].carrier_fd || snap[i].seen < 0)
				continue; /* removed, or registered again, meanwhile */
			w->seen = snap[i].seen;
			if (w->believed >= 0 && w->seen != w->believed)
				differs = 1;
		}
		pthread_mutex_unlock(&mu);
		if (differs) {
			uint64_t one = 1;
			if (write(wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
				break;
		}
	}
	return NULL;
}

int
lg_carrier_start(unsigned poll_ms)
{
	interval_ms = poll_ms;
	wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (wake_fd < 0)
		return -1;
	int rc = lg_thread_start(watch_thread);
	if (rc != 0) {
		close(wake_fd);
		wake_fd = -1;
		errno = rc;
		return -1;
	}
	return wake_fd;
}

/*
 * Called with the lock held. The thread may be reading the member's carrier file this moment
 * (a copy of the table in hand), so the file is left for the thread to close between two
 * rounds: closed here, its number could be reused by the next open and read as this one.
 * Should the list not grow (no memory), the file stays open rather than be closed under a read.
 */
static void
drop(struct watch *w)
{
	if (w->carrier_fd >= 0 && nto_close == to_close_cap) {
		int cap = to_close_cap ? 2 * to_close_cap : 16;
		int *more = realloc(to_close, sizeof(*more) * (size_t)cap);
		if (more) {
			to_close = more;
			to_close_cap = cap;
		}
	}
	if (w->carrier_fd >= 0 && nto_close < to_close_cap)
		to_close[nto_close++] = w->carrier_fd;
	*w = watches[--nwatches];
}

void
lg_carrier_watch(int ifindex, const char *name)
{
	if (wake_fd < 0)
		return;
	int fd = lg_if_carrier_fd(name, ifindex);
	pthread_mutex_lock(&mu);
	struct watch *w = find(ifindex);
	if (w)
		drop(w);
	if (nwatches < LG_MAX_WATCH) {
		w = &watches[nwatches++];
		*w = (struct watch){ .ifindex = ifindex, .carrier_fd = fd, .believed = -1, .seen = -1 };
		snprintf(w->name, sizeof(w->name), "%s", name);
		fd = -1;
	}
	pthread_mutex_unlock(&mu);
	if (fd >= 0)
		close(fd);
}

void
lg_carrier_unwatch(int ifindex)
{
	if (wake_fd < 0)
		return;
	pthread_mutex_lock(&mu);
	struct watch *w = find(ifindex);
	if (w)
		drop(w);
	pthread_mutex_unlock(&mu);
}

void
lg_carrier_believe(int ifindex, int up)
{
	if (wake_fd < 0)
		return;
	pthread_mutex_lock(&mu);
	struct watch *w = find(ifindex);
	if (w)
		w->believed = up;
	pthread_mutex_unlock(&mu);
}

int
lg_carrier_changes(struct lg_carrier_change *out, int max)
{
	uint64_t n;
	int k = 0;
	(void)!read(wake_fd, &n, sizeof(n));
	pthread_mutex_lock(&mu);
	for (int i = 0; i < nwatches && k < max; i++) {
		struct watch *w = &watches[i];
		if (w->believed >= 0 && w->seen >= 0 && w->seen != w->believed)
			out[k++] = (struct lg_carrier_change){ w->ifindex, w->seen };
	}
	pthread_mutex_unlock(&mu);
	return k;
}
