/*
 * seqstream: a numbered UDP packet stream, the probe laggkit e2e measures outages with.
 *
 *   seqstream send ADDR PORT INTERVAL_US DURATION_MS [FLOWS]
 *   seqstream recv PORT DURATION_MS GAP_MS
 *   seqstream now
 *
 * The sender stops after DURATION_MS or at SIGTERM, whichever comes first, so a caller whose
 * schedule slips (a cable plugged back later than planned) can end the stream when it is done.
 *
 * The sender numbers every datagram (64-bit sequence, big endian) and paces them on an
 * absolute monotonic schedule, so a slow wake-up does not stretch the stream. With FLOWS > 1
 * it sends from that many sockets in turn, each with its own source port, so an L4 hash has
 * distinct flows to spread; it ends with a few end-of-stream datagrams, so the receiver stops
 * when the stream does (its DURATION is the longest it will wait), and prints how many it sent
 * and how many sends the stack refused. The receiver prints a line when the first datagram
 * arrives ({"heard":SEQ,"at_ms":MS}) and, last, one JSON object: what arrived, what was lost,
 * and every silence longer than GAP_MS (when it ended, how long it was, how many numbers were
 * missing across it), all in milliseconds from the receiver's start.
 *
 * `now` prints the seconds since boot to the millisecond, the clock the kernel log stamps its
 * lines with: the BSDs' shells have no /proc/uptime and their date(1) nothing finer than
 * seconds, so the e2e guests time themselves with this.
 *
 * Arrival gaps, not sequence holes alone, are the measure: a failover that loses nothing but
 * holds frames for a second is an outage to the application all the same. A silence the sender
 * made itself (it was not scheduled: see STALL_MS) is not the network's: max_gap_ms leaves it
 * out, max_silence_ms and each gap's sender_stall_ms keep it in view.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/*
 * The clock `now` reads: the one the kernel log stamps its lines with, so a guest's events and
 * its own timings share a timeline. FreeBSD has CLOCK_UPTIME (time_uptime's clock, as msgbuf
 * stamps), Linux CLOCK_BOOTTIME (/proc/uptime's). NetBSD has neither: its CLOCK_MONOTONIC is
 * nanouptime(), which is what its kernel log stamps with. A build may name another.
 */
#ifndef SEQSTREAM_UPTIME_CLOCK
#if defined(CLOCK_UPTIME)
#define SEQSTREAM_UPTIME_CLOCK CLOCK_UPTIME
#elif defined(CLOCK_BOOTTIME)
#define SEQSTREAM_UPTIME_CLOCK CLOCK_BOOTTIME
#else
#define SEQSTREAM_UPTIME_CLOCK CLOCK_MONOTONIC
#endif
#endif

#define MAX_FLOWS  64
#define MAX_GAPS   256
/*
 * A datagram is 16 bytes: the sequence number (8, big endian); byte 8, 0 for the stream or
 * END_MARK for "the sender is done"; bytes 12-15, how long the sender itself was stalled before
 * this one (ms, big endian, 0 almost always).
 */
#define END_MARK   0xff
#define END_COPIES 5
/*
 * A sender that wakes this late (ms) was stalled (a busy or emulated CPU), not the network: it
 * does not send the missed datagrams in one burst, which a receiver's or a virtual NIC's queue
 * would drop and count as the network's loss; it carries on from now and tells the receiver,
 * which takes the stall out of the silence it blames on the network.
 */
#define STALL_MS   20

static volatile sig_atomic_t stop_sending;

static void
on_term(int sig)
{
	(void)sig;
	stop_sending = 1;
}

static uint64_t
clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t
now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

/*
 * When a datagram arrived, by the kernel's stamp as it queued it on the socket, not by when
 * this process got round to reading it: a receiver that is not scheduled for a while must not
 * see a silence the network did not make. FreeBSD stamps on the monotonic clock; Linux and
 * NetBSD on the real-time clock, so everything the receiver times is on that clock (a step of
 * it during a stream would show as a gap). Without a stamp, the time of reading stands in.
 */
#if defined(SO_TS_CLOCK) && defined(SO_TS_MONOTONIC) && defined(SCM_MONOTONIC)
#define STAMP_SO       SO_TIMESTAMP
#define STAMP_TS_CLOCK SO_TS_MONOTONIC
#define STAMP_CLOCK    CLOCK_MONOTONIC
#define STAMP_TYPE     SCM_MONOTONIC
typedef struct timespec stamp_t;
#define STAMP_NS(t) ((uint64_t)(t).tv_sec * 1000000000u + (uint64_t)(t).tv_nsec)
#elif defined(SO_TIMESTAMPNS) && defined(SCM_TIMESTAMPNS)
#define STAMP_SO    SO_TIMESTAMPNS
#define STAMP_CLOCK CLOCK_REALTIME
#define STAMP_TYPE  SCM_TIMESTAMPNS
typedef struct timespec stamp_t;
#define STAMP_NS(t) ((uint64_t)(t).tv_sec * 1000000000u + (uint64_t)(t).tv_nsec)
#elif defined(SO_TIMESTAMP) && defined(SCM_TIMESTAMP)
#define STAMP_SO    SO_TIMESTAMP
#define STAMP_CLOCK CLOCK_REALTIME
#define STAMP_TYPE  SCM_TIMESTAMP
typedef struct timeval stamp_t;
#define STAMP_NS(t) ((uint64_t)(t).tv_sec * 1000000000u + (uint64_t)(t).tv_usec * 1000u)
#else
#define STAMP_CLOCK CLOCK_MONOTONIC
#endif

static void
stamp_enable(int fd)
{
#ifdef STAMP_SO
	int on = 1;

	(void)setsockopt(fd, SOL_SOCKET, STAMP_SO, &on, sizeof(on));
#ifdef STAMP_TS_CLOCK
	int clock = STAMP_TS_CLOCK;

	(void)setsockopt(fd, SOL_SOCKET, SO_TS_CLOCK, &clock, sizeof(clock));
#endif
#else
	(void)fd;
#endif
}

static uint64_t
stamp_now(void)
{
	return clock_ns(STAMP_CLOCK);
}

/* One datagram into buf; *at is its arrival on stamp_now()'s clock. */
static ssize_t
recv_stamped(int fd, unsigned char *buf, size_t size, uint64_t *at)
{
	union {
		struct cmsghdr hdr;
		unsigned char space[CMSG_SPACE(sizeof(struct timespec)) + CMSG_SPACE(sizeof(struct timeval))];
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = size };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl, .msg_controllen = sizeof(ctl)
	};
	ssize_t n = recvmsg(fd, &msg, 0);

	*at = 0;
#ifdef STAMP_TYPE
	for (struct cmsghdr *c = n >= 0 ? CMSG_FIRSTHDR(&msg) : NULL; c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == STAMP_TYPE &&
		    c->cmsg_len >= CMSG_LEN(sizeof(stamp_t))) {
			stamp_t t;

			memcpy(&t, CMSG_DATA(c), sizeof(t));
			*at = STAMP_NS(t);
		}
	}
#endif
	if (*at == 0)
		*at = stamp_now();
	return n;
}

static long
arg_long(const char *s, const char *what, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi) {
		fprintf(stderr, "seqstream: bad %s '%s' (%ld..%ld)\n", what, s, lo, hi);
		exit(2);
	}
	return v;
}

static int
do_send(const char *addr, long port, long interval_us, long duration_ms, long flows)
{
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fds[MAX_FLOWS];
	uint64_t start, next, end, seq = 0, refused = 0, stalls = 0, longest_stall_ms = 0;
	int last_errno = 0;

	if (inet_pton(AF_INET, addr, &dst.sin_addr) != 1) {
		fprintf(stderr, "seqstream: bad address '%s'\n", addr);
		return 2;
	}
	for (long i = 0; i < flows; i++) {
		fds[i] = socket(AF_INET, SOCK_DGRAM, 0);
		if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&dst, sizeof(dst)) < 0) {
			perror("seqstream: socket");
			return 1;
		}
	}
	signal(SIGTERM, on_term);
	start = now_ns();
	end = start + (uint64_t)duration_ms * 1000000u;
	for (next = start; next < end && !stop_sending; next += (uint64_t)interval_us * 1000u) {
		unsigned char buf[16];
		struct timespec at = { .tv_sec = (time_t)(next / 1000000000u),
			.tv_nsec = (long)(next % 1000000000u) };
		uint64_t woke, stall_ms = 0;

		if (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR && stop_sending)
			break;
		woke = now_ns();
		if (woke > next + (uint64_t)STALL_MS * 1000000u) {
			stall_ms = (woke - next) / 1000000u;
			if (stall_ms > longest_stall_ms)
				longest_stall_ms = stall_ms;
			stalls++;
			next = woke;
		}
		for (int b = 0; b < 8; b++)
			buf[b] = (unsigned char)(seq >> (56 - 8 * b));
		memset(buf + 8, 0, 8);
		for (int b = 0; b < 4; b++)
			buf[12 + b] =
			    (unsigned char)((stall_ms > UINT32_MAX ? UINT32_MAX : stall_ms) >> (24 - 8 * b));
		/* A send refused while the path is down (no ARP, no route, a full queue) is a lost
		 * datagram; it is counted, so a loss can be told from one on the wire. */
		if (send(fds[seq % (uint64_t)flows], buf, sizeof(buf), MSG_DONTWAIT) < 0) {
			refused++;
			last_errno = errno;
		}
		seq++;
	}
	for (int i = 0; i < END_COPIES; i++) {
		unsigned char end_buf[16] = { 0 };
		struct timespec pause = { .tv_sec = 0, .tv_nsec = 20000000 };

		end_buf[8] = END_MARK;
		(void)send(fds[0], end_buf, sizeof(end_buf), MSG_DONTWAIT);
		nanosleep(&pause, NULL);
	}
	printf("{\"sent\":%llu,\"refused\":%llu,\"last_refusal\":\"%s\",\"stalls\":%llu,"
	       "\"longest_stall_ms\":%llu}\n",
	    (unsigned long long)seq, (unsigned long long)refused, refused ? strerror(last_errno) : "",
	    (unsigned long long)stalls, (unsigned long long)longest_stall_ms);
	return 0;
}

struct gap {
	double end_ms, len_ms, stall_ms;
	uint64_t missing;
};

static int
do_recv(long port, long duration_ms, long gap_ms)
{
	struct sockaddr_in me = {
		.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_ANY)
	};
	struct timeval tv = { .tv_sec = 0, .tv_usec = 100000 };
	struct gap gaps[MAX_GAPS];
	uint64_t start, end, last_at = 0, received = 0, dup = 0, reordered = 0;
	uint64_t first = 0, highest = 0, stalls = 0;
	double max_gap = 0, max_silence = 0, first_ms = -1, last_ms = -1;
	int ngaps = 0, gaps_dropped = 0, have = 0;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0) {
		perror("seqstream: bind");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/*
	 * Room for seconds of the stream: a receiver that is not scheduled for a while (a busy or
	 * emulated CPU) must not drop what the network delivered and count it as the network's
	 * loss. The default (42 KiB on FreeBSD) holds about 20 datagrams. Linux caps SO_RCVBUF at
	 * rmem_max; root may go past it.
	 */
	int rcvbuf = 1 << 20;
#ifdef SO_RCVBUFFORCE
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
#endif
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	stamp_enable(fd);
	start = stamp_now();
	end = now_ns() + (uint64_t)duration_ms * 1000000u;
	while (now_ns() < end) {
		unsigned char buf[64];
		uint64_t at, seq = 0;
		ssize_t n = recv_stamped(fd, buf, sizeof(buf), &at);
		uint32_t stall_ms = 0;

		if (n < 16)
			continue;
		if (buf[8] == END_MARK) {
			if (have)
				break;
			continue;
		}
		/* a stamp before the start (the real-time clock stepped back) counts from the start */
		if (at < start)
			at = start;
		for (int b = 0; b < 8; b++)
			seq = (seq << 8) | buf[b];
		for (int b = 12; b < 16; b++)
			stall_ms = (stall_ms << 8) | buf[b];
		stalls += stall_ms != 0;
		received++;
		if (!have) {
			first = highest = seq;
			first_ms = (double)(at - start) / 1e6;
			have = 1;
			/* A line of its own at once, before the summary: a caller can wait for the
			 * stream to get through before it disturbs it. */
			printf("{\"heard\":%llu,\"at_ms\":%.1f}\n", (unsigned long long)seq, first_ms);
			fflush(stdout);
		} else if (seq > highest) {
			double len = at > last_at ? (double)(at - last_at) / 1e6 : 0;
			/* the part of the silence the sender made by not sending */
			double net = len > stall_ms ? len - stall_ms : 0;

			if (len > max_silence)
				max_silence = len;
			if (net > max_gap)
				max_gap = net;
			if (len > (double)gap_ms) {
				if (ngaps < MAX_GAPS)
					gaps[ngaps++] = (struct gap){ (double)(at - start) / 1e6, len,
						(double)stall_ms, seq - highest - 1 };
				else
					gaps_dropped++;
			}
			highest = seq;
		} else if (seq == highest) {
			dup++;
		} else {
			/* Late, not lost: and it may be older than the first one heard. */
			reordered++;
			if (seq < first)
				first = seq;
		}
		last_at = at;
		last_ms = (double)(at - start) / 1e6;
	}
	printf("{\"received\":%llu,\"first\":%llu,\"last\":%llu,\"lost\":%lld,\"duplicates\":%llu,"
	       "\"reordered\":%llu,"
	       "\"first_ms\":%.1f,\"last_ms\":%.1f,\"max_gap_ms\":%.1f,\"max_silence_ms\":%.1f,"
	       "\"sender_stalls\":%llu,\"gaps_dropped\":%d,\"gaps\":[",
	    (unsigned long long)received, (unsigned long long)first, (unsigned long long)highest,
	    have ? (long long)(highest - first + 1) - (long long)(received - dup) : 0LL,
	    (unsigned long long)dup, (unsigned long long)reordered, first_ms, last_ms, max_gap, max_silence,
	    (unsigned long long)stalls, gaps_dropped);
	for (int i = 0; i < ngaps; i++)
		printf("%s{\"end_ms\":%.1f,\"len_ms\":%.1f,\"sender_stall_ms\":%.0f,\"missing\":%llu}",
		    i ? "," : "", gaps[i].end_ms, gaps[i].len_ms, gaps[i].stall_ms,
		    (unsigned long long)gaps[i].missing);
	printf("]}\n");
	return 0;
}

static int
do_now(void)
{
	struct timespec ts;

	clock_gettime(SEQSTREAM_UPTIME_CLOCK, &ts);
	printf("%lld.%03ld\n", (long long)ts.tv_sec, ts.tv_nsec / 1000000);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "now") == 0)
		return do_now();
	if (argc >= 6 && argc <= 7 && strcmp(argv[1], "send") == 0)
		return do_send(argv[2], arg_long(argv[3], "port", 1, 65535),
		    arg_long(argv[4], "interval", 100, 10000000), arg_long(argv[5], "duration", 1, 3600000),
		    argc == 7 ? arg_long(argv[6], "flows", 1, MAX_FLOWS) : 1);
	if (argc == 5 && strcmp(argv[1], "recv") == 0)
		return do_recv(arg_long(argv[2], "port", 1, 65535), arg_long(argv[3], "duration", 1, 3600000),
		    arg_long(argv[4], "gap", 1, 3600000));
	fprintf(stderr,
	    "usage: seqstream send ADDR PORT INTERVAL_US DURATION_MS [FLOWS]\n"
	    "       seqstream recv PORT DURATION_MS GAP_MS\n"
	    "       seqstream now\n");
	return 2;
}
