/*
 * udpblast: the one traffic generator of the laggd benchmark, so laggd and Open vSwitch are
 * measured with exactly the same load.
 *
 *   udpblast send  DST PORT PAYLOAD SECONDS FLOWS   blast UDP datagrams as fast as the stack
 *                                                   takes them (sendmmsg batches), spread
 *                                                   over FLOWS source ports so a hashing
 *                                                   aggregate can use every member
 *   udpblast recv  PORT SECONDS                     count what arrives (recvmmsg)
 *   udpblast tick  DST PORT INTERVAL_US SECONDS     one sequence-numbered datagram per interval
 *   udpblast gaps  PORT SECONDS                     silences between tick datagrams (start, length)
 *
 * Every mode prints one JSON object on stdout. Throughput is judged at the receiver, over the
 * time between its first and last datagram, so start-up skew between the two ends does not
 * count. iperf3 tops out far below a million 64-byte packets per second; this does not.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH       64
#define MAX_FLOWS   256
#define MAX_PAYLOAD 9000

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void
die(const char *what)
{
	fprintf(stderr, "udpblast: %s: %s\n", what, strerror(errno));
	exit(1);
}

static struct sockaddr_in
addr_of(const char *ip, const char *port)
{
	struct sockaddr_in sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)atoi(port));
	if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1) {
		fprintf(stderr, "udpblast: bad address %s\n", ip);
		exit(2);
	}
	return sa;
}

static int
bound_socket(const char *port)
{
	struct sockaddr_in sa;
	int fd, buf = 64 << 20;

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		die("socket");
	/* Force a large buffer so the receiver's own queue is not what limits the figure. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)atoi(port));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind");
	return fd;
}

static int
cmd_send(char **av)
{
	struct sockaddr_in dst = addr_of(av[0], av[1]);
	size_t payload = (size_t)atoi(av[2]);
	double seconds = atof(av[3]);
	int nflows = atoi(av[4]);
	static uint8_t buf[MAX_PAYLOAD];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	int fds[MAX_FLOWS];
	uint64_t sent = 0, errors = 0, start, end;

	if (payload < 8 || payload > MAX_PAYLOAD || nflows < 1 || nflows > MAX_FLOWS) {
		fprintf(stderr, "udpblast: payload 8..%d, flows 1..%d\n", MAX_PAYLOAD, MAX_FLOWS);
		return 2;
	}
	for (int i = 0; i < nflows; i++) {
		fds[i] = socket(AF_INET, SOCK_DGRAM, 0);
		if (fds[i] < 0)
			die("socket");
		/* connect() picks a distinct ephemeral source port per flow. */
		if (connect(fds[i], (struct sockaddr *)&dst, sizeof(dst)) < 0)
			die("connect");
	}
	memset(buf, 0xa5, sizeof(buf));
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = buf;
		iov[i].iov_len = payload;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	start = now_ns();
	end = start + (uint64_t)(seconds * 1e9);
	for (int f = 0; now_ns() < end; f = (f + 1) % nflows) {
		int n = sendmmsg(fds[f], msgs, BATCH, 0);

		if (n < 0) {
			/* A full TAP queue or qdisc: the offered load exceeds the path; keep offering. */
			errors++;
			continue;
		}
		sent += (uint64_t)n;
	}
	printf("{\"mode\":\"send\",\"sent\":%" PRIu64 ",\"errors\":%" PRIu64
	       ",\"seconds\":%.6f,\"payload\":%zu,\"flows\":%d}\n",
	    sent, errors, (double)(now_ns() - start) / 1e9, payload, nflows);
	return 0;
}

static int
cmd_recv(char **av)
{
	int fd = bound_socket(av[0]);
	double seconds = atof(av[1]);
	static uint8_t bufs[BATCH][2048];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	uint64_t pkts = 0, bytes = 0, first = 0, last = 0, end = now_ns() + (uint64_t)(seconds * 1e9);

	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = sizeof(bufs[i]);
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	printf("{\"mode\":\"recv\",\"ready\":true}\n");
	fflush(stdout);
	for (;;) {
		uint64_t t = now_ns();
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int n;

		if (t >= end)
			break;
		if (poll(&pfd, 1, (int)((end - t) / 1000000 + 1)) <= 0)
			continue;
		n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			continue;
		t = now_ns();
		if (pkts == 0)
			first = t;
		last = t;
		pkts += (uint64_t)n;
		for (int i = 0; i < n; i++)
			bytes += msgs[i].msg_len;
	}
	printf("{\"mode\":\"recv\",\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"window\":%.6f}\n", pkts,
	    bytes, pkts > 1 ? (double)(last - first) / 1e9 : 0.0);
	return 0;
}

static int
cmd_tick(char **av)
{
	struct sockaddr_in dst = addr_of(av[0], av[1]);
	uint64_t interval = (uint64_t)atoi(av[2]) * 1000ull;
	double seconds = atof(av[3]);
	uint64_t seq = 0, start;
	struct timespec next;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		die("socket");
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0)
		die("connect");
	clock_gettime(CLOCK_MONOTONIC, &next);
	start = now_ns();
	while (now_ns() - start < (uint64_t)(seconds * 1e9)) {
		uint8_t pkt[64] = { 0 };

		memcpy(pkt, &seq, sizeof(seq));
		/* Errors while the link is down are the interruption being measured; keep ticking. */
		(void)send(fd, pkt, sizeof(pkt), 0);
		seq++;
		next.tv_nsec += (long)interval;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	printf("{\"mode\":\"tick\",\"sent\":%" PRIu64 "}\n", seq);
	return 0;
}

static int
cmd_gaps(char **av)
{
	int fd = bound_socket(av[0]);
	double seconds = atof(av[1]);
	uint64_t start = now_ns(), end = start + (uint64_t)(seconds * 1e9), prev = 0, maxgap = 0;
	uint64_t received = 0, maxseq = 0;
	/* Every silence longer than 3 ticks, so the caller can tell failover from failback. */
	enum { MAX_GAPS = 64 };
	uint64_t gap_at[MAX_GAPS], gap_len[MAX_GAPS];
	int ngaps = 0;

	printf("{\"mode\":\"gaps\",\"ready\":true}\n");
	fflush(stdout);
	for (;;) {
		uint64_t t = now_ns(), seq;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint8_t pkt[128];
		ssize_t n;

		if (t >= end)
			break;
		if (poll(&pfd, 1, (int)((end - t) / 1000000 + 1)) <= 0)
			continue;
		n = recv(fd, pkt, sizeof(pkt), MSG_DONTWAIT);
		if (n < (ssize_t)sizeof(seq))
			continue;
		t = now_ns();
		memcpy(&seq, pkt, sizeof(seq));
		if (seq > maxseq)
			maxseq = seq;
		if (received > 0) {
			if (t - prev > maxgap)
				maxgap = t - prev;
			if (t - prev > 3000000ull && ngaps < MAX_GAPS) {
				gap_at[ngaps] = prev - start;
				gap_len[ngaps++] = t - prev;
			}
		}
		prev = t;
		received++;
	}
	printf("{\"mode\":\"gaps\",\"received\":%" PRIu64 ",\"lost\":%" PRIu64
	       ",\"max_gap_ms\":%.3f,\"gaps\":[",
	    received, received ? maxseq + 1 - received : 0, (double)maxgap / 1e6);
	for (int i = 0; i < ngaps; i++)
		printf("%s[%.3f,%.3f]", i ? "," : "", (double)gap_at[i] / 1e9, (double)gap_len[i] / 1e6);
	printf("]}\n");
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 7 && strcmp(argv[1], "send") == 0)
		return cmd_send(argv + 2);
	if (argc == 4 && strcmp(argv[1], "recv") == 0)
		return cmd_recv(argv + 2);
	if (argc == 6 && strcmp(argv[1], "tick") == 0)
		return cmd_tick(argv + 2);
	if (argc == 4 && strcmp(argv[1], "gaps") == 0)
		return cmd_gaps(argv + 2);
	fprintf(stderr,
	    "usage: udpblast send DST PORT PAYLOAD SECONDS FLOWS\n"
	    "       udpblast recv PORT SECONDS\n"
	    "       udpblast tick DST PORT INTERVAL_US SECONDS\n"
	    "       udpblast gaps PORT SECONDS\n");
	return 2;
}
