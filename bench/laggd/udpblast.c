/*
 * udpblast: the one traffic generator of the laggd benchmark, so laggd and Open vSwitch are
 * measured with exactly the same load.
 *
 *   udpblast send  DST PORT PAYLOAD SECONDS FLOWS   blast UDP datagrams as fast as the stack
 *                                                   takes them (sendmmsg batches), spread
 *                                                   over FLOWS source ports so a hashing
 *                                                   aggregate can use every member
 *   udpblast recv  PORT SECONDS                     count what arrives (recvmmsg)
 *   udpblast frames IFNAME DSTMAC SRC DST PORT PAYLOAD SECONDS FLOWS [FIRST_SPORT]
 *                                                   the same UDP datagrams as whole Ethernet
 *                                                   frames, written straight to IFNAME's
 *                                                   transmit path (AF_PACKET): no socket,
 *                                                   route or neighbour lookup on the way in
 *   udpblast tick  DST PORT INTERVAL_US SECONDS     one sequence-numbered datagram per interval
 *   udpblast gaps  PORT SECONDS                     silences between tick datagrams (start, length),
 *                                                   and how long the path held them (waits)
 *
 * Every mode prints one JSON object on stdout. Throughput is judged at the receiver, over the
 * time between its first and last datagram, so start-up skew between the two ends does not
 * count. iperf3 tops out far below a million 64-byte packets per second; this does not.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
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

/* The one line a sending mode prints when it is done. */
static int
sent_line(const char *mode, uint64_t sent, uint64_t errors, uint64_t start, size_t payload, int nflows)
{
	printf("{\"mode\":\"%s\",\"sent\":%" PRIu64 ",\"errors\":%" PRIu64
	       ",\"seconds\":%.6f,\"payload\":%zu,\"flows\":%d}\n",
	    mode, sent, errors, (double)(now_ns() - start) / 1e9, payload, nflows);
	return 0;
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
	return sent_line("send", sent, errors, start, payload, nflows);
}

/* The one's complement sum of an IPv4 header (RFC 1071). */
static uint16_t
ip_checksum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/*
 * The forwarding-rate generator: UDP datagrams, one flow per source port, as whole Ethernet
 * frames handed to IFNAME's transmit path with AF_PACKET (sendmmsg batches). They go through
 * the device's qdisc and tc egress hook like any frame the stack sends (no qdisc bypass), so
 * an aggregate's transmit path is the one measured; what they skip is the sending socket's
 * own work (UDP, route, neighbour), which at 64 bytes held the UDP generator to what the
 * machine's sockets carry rather than what the forwarder does. The caller counts them where
 * they land (the far side's UDP NoPorts: no socket listens on PORT).
 */
static int
cmd_frames(char **av)
{
	const char *ifname = av[0];
	unsigned mac[6];
	struct in_addr src, dst;
	uint16_t port = (uint16_t)atoi(av[4]);
	size_t payload = (size_t)atoi(av[5]);
	double seconds = atof(av[6]);
	int nflows = atoi(av[7]);
	/* Several generators (one per CPU) each take their own source ports. */
	int first_sport = av[8] ? atoi(av[8]) : 20000;
	static uint8_t frames[MAX_FLOWS][14 + 20 + 8 + 1472];
	size_t flen = 14 + 20 + 8 + payload;
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_ll to;
	struct ifreq ifr;
	uint64_t sent = 0, errors = 0, start, end;
	int fd;

	if (sscanf(av[1], "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]) != 6 ||
	    inet_pton(AF_INET, av[2], &src) != 1 || inet_pton(AF_INET, av[3], &dst) != 1 || payload < 18 ||
	    payload > 1472 || nflows < 1 || nflows > MAX_FLOWS || strlen(ifname) >= IFNAMSIZ ||
	    first_sport < 1 || first_sport + nflows > 65536) {
		fprintf(stderr,
		    "udpblast: frames IFNAME aa:bb:cc:dd:ee:ff SRC DST PORT PAYLOAD(18..1472) SECONDS "
		    "FLOWS(1..%d) [FIRST_SPORT]\n",
		    MAX_FLOWS);
		return 2;
	}
	/* Protocol 0: this socket sends only, nothing arriving on IFNAME is queued to it. */
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0)
		die("socket(AF_PACKET)");
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		die(ifname);
	memset(&to, 0, sizeof(to));
	to.sll_family = AF_PACKET;
	to.sll_protocol = htons(ETH_P_IP);
	to.sll_ifindex = (int)if_nametoindex(ifname);
	to.sll_halen = 6;
	for (int i = 0; i < 6; i++)
		to.sll_addr[i] = (uint8_t)mac[i];
	for (int f = 0; f < nflows; f++) {
		uint8_t *e = frames[f], *ip = e + 14, *udp = ip + 20;
		uint16_t v;

		memset(e, 0xa5, flen);
		for (int i = 0; i < 6; i++)
			e[i] = (uint8_t)mac[i];
		memcpy(e + 6, ifr.ifr_hwaddr.sa_data, 6);
		e[12] = 0x08, e[13] = 0x00;
		memset(ip, 0, 20);
		ip[0] = 0x45;
		v = htons((uint16_t)(20 + 8 + payload));
		memcpy(ip + 2, &v, 2);
		ip[6] = 0x40; /* don't fragment */
		ip[8] = 64, ip[9] = IPPROTO_UDP;
		memcpy(ip + 12, &src, 4);
		memcpy(ip + 16, &dst, 4);
		v = htons(ip_checksum(ip, 20));
		memcpy(ip + 10, &v, 2);
		v = htons((uint16_t)(first_sport + f)); /* one source port per flow, for the flow hash */
		memcpy(udp, &v, 2);
		v = htons(port);
		memcpy(udp + 2, &v, 2);
		v = htons((uint16_t)(8 + payload));
		memcpy(udp + 4, &v, 2);
		udp[6] = udp[7] = 0; /* no UDP checksum (IPv4 allows it) */
	}
	memset(msgs, 0, sizeof(msgs));
	start = now_ns();
	end = start + (uint64_t)(seconds * 1e9);
	for (uint64_t round = 0; now_ns() < end; round++) {
		int n;

		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_base = frames[(round * BATCH + (uint64_t)i) % (uint64_t)nflows];
			iov[i].iov_len = flen;
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_name = &to;
			msgs[i].msg_hdr.msg_namelen = sizeof(to);
		}
		n = sendmmsg(fd, msgs, BATCH, 0);
		if (n < 0) {
			/* A full queue: the offered load exceeds the path; keep offering. */
			errors++;
			continue;
		}
		sent += (uint64_t)n;
	}
	return sent_line("frames", sent, errors, start, payload, nflows);
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
		uint64_t sent_at = now_ns();

		/* The sequence number, and when it was handed to the stack (CLOCK_MONOTONIC): the
		 * receiver tells the path's delays from this sender's own scheduling with it. */
		memcpy(pkt, &seq, sizeof(seq));
		memcpy(pkt + 8, &sent_at, sizeof(sent_at));
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

/* CLOCK_REALTIME minus CLOCK_MONOTONIC, read back to back: turns a socket's (real-time)
 * receive timestamp into the monotonic time the sender stamps its datagrams with. */
static int64_t
real_minus_mono(void)
{
	struct timespec r, m;

	clock_gettime(CLOCK_MONOTONIC, &m);
	clock_gettime(CLOCK_REALTIME, &r);
	return ((int64_t)r.tv_sec - (int64_t)m.tv_sec) * 1000000000ll +
	    ((int64_t)r.tv_nsec - (int64_t)m.tv_nsec);
}

/*
 * Receives tick datagrams and reports two views of the stream:
 *   gaps   silences between arrivals as this process saw them (start, length): they include
 *          the sender's and this receiver's own scheduling stalls;
 *   waits  how long the path held the stream: for each arrival, the time from when the
 *          first datagram not yet delivered was sent to when this one reached the socket
 *          (the kernel's receive timestamp). Without loss that is the datagram's own delay;
 *          after a loss it runs from the (interpolated) send time of the first lost one. A
 *          sender that stalls sends nothing and adds nothing; a receiver that stalls does not
 *          move the kernel's timestamp. Every wait over 2 ms is listed as [sent at (monotonic
 *          seconds), ms], so the caller can place it against the link changes it made;
 *   losses each run of missing sequence numbers, as [first one sent at, how many].
 */
static int
cmd_gaps(char **av)
{
	int fd = bound_socket(av[0]);
	double seconds = atof(av[1]);
	uint64_t start = now_ns(), end = start + (uint64_t)(seconds * 1e9), prev = 0, maxgap = 0;
	uint64_t received = 0, maxseq = 0, last_seq = 0, last_tx = 0, maxwait = 0;
	int64_t offset = real_minus_mono();
	int one = 1;
	/*
	 * Every silence longer than 3 ticks and every wait over 2 ms, so the caller can tell
	 * failover from failback. Room for one of each per datagram of a 10 s stream: a list cut
	 * short on a busy machine (it was 64 silences) lost exactly the late, failback ones.
	 */
	enum { MAX_EVENTS = 10000 };
	static uint64_t gap_at[MAX_EVENTS], gap_len[MAX_EVENTS], wait_at[MAX_EVENTS], wait_len[MAX_EVENTS];
	static uint64_t loss_at[MAX_EVENTS], loss_n[MAX_EVENTS];
	int ngaps = 0, nwaits = 0, nlosses = 0, cut = 0;

	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0)
		die("SO_TIMESTAMPNS");
	printf("{\"mode\":\"gaps\",\"ready\":true}\n");
	fflush(stdout);
	for (;;) {
		uint64_t t = now_ns(), seq, tx, rx;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint8_t pkt[128];
		union {
			struct cmsghdr align;
			uint8_t buf[CMSG_SPACE(sizeof(struct timespec))];
		} ctl;
		struct iovec iov = { pkt, sizeof(pkt) };
		struct msghdr mh = { .msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = ctl.buf,
			.msg_controllen = sizeof(ctl.buf) };
		ssize_t n;

		if (t >= end)
			break;
		if (poll(&pfd, 1, (int)((end - t) / 1000000 + 1)) <= 0)
			continue;
		n = recvmsg(fd, &mh, MSG_DONTWAIT);
		if (n < 16)
			continue;
		t = now_ns();
		rx = t;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
				struct timespec ts;
				memcpy(&ts, CMSG_DATA(c), sizeof(ts));
				rx = (uint64_t)((int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec - offset);
			}
		memcpy(&seq, pkt, sizeof(seq));
		memcpy(&tx, pkt + 8, sizeof(tx));
		if (received == 0 || seq > last_seq) {
			/* The first datagram the path still owed: the one after the last delivered, its
			 * send time interpolated between the two delivered ones when it was lost. */
			uint64_t owed = received == 0 || seq == last_seq + 1 || tx < last_tx ?
			    tx :
			    last_tx + (tx - last_tx) / (seq - last_seq);
			uint64_t wait = rx > owed ? rx - owed : 0;
			if (received > 0 && seq > last_seq + 1 && nlosses < MAX_EVENTS) {
				loss_at[nlosses] = owed;
				loss_n[nlosses++] = seq - last_seq - 1;
			}
			if (wait > maxwait)
				maxwait = wait;
			if (wait > 2000000ull && nwaits == MAX_EVENTS) {
				cut = 1;
			} else if (wait > 2000000ull) {
				wait_at[nwaits] = owed;
				wait_len[nwaits++] = wait;
			}
			last_seq = seq;
			last_tx = tx;
		}
		if (seq > maxseq)
			maxseq = seq;
		if (received > 0) {
			if (t - prev > maxgap)
				maxgap = t - prev;
			if (t - prev > 3000000ull && ngaps == MAX_EVENTS) {
				cut = 1;
			} else if (t - prev > 3000000ull) {
				gap_at[ngaps] = prev - start;
				gap_len[ngaps++] = t - prev;
			}
		}
		prev = t;
		received++;
	}
	printf("{\"mode\":\"gaps\",\"received\":%" PRIu64 ",\"lost\":%" PRIu64
	       ",\"max_gap_ms\":%.3f,\"max_wait_ms\":%.3f,\"cut\":%d,\"gaps\":[",
	    received, received ? maxseq + 1 - received : 0, (double)maxgap / 1e6, (double)maxwait / 1e6, cut);
	for (int i = 0; i < ngaps; i++)
		printf("%s[%.3f,%.3f]", i ? "," : "", (double)gap_at[i] / 1e9, (double)gap_len[i] / 1e6);
	printf("],\"waits\":[");
	for (int i = 0; i < nwaits; i++)
		printf("%s[%.6f,%.3f]", i ? "," : "", (double)wait_at[i] / 1e9, (double)wait_len[i] / 1e6);
	printf("],\"losses\":[");
	for (int i = 0; i < nlosses; i++)
		printf("%s[%.6f,%" PRIu64 "]", i ? "," : "", (double)loss_at[i] / 1e9, loss_n[i]);
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
	if ((argc == 10 || argc == 11) && strcmp(argv[1], "frames") == 0)
		return cmd_frames(argv + 2);
	if (argc == 6 && strcmp(argv[1], "tick") == 0)
		return cmd_tick(argv + 2);
	if (argc == 4 && strcmp(argv[1], "gaps") == 0)
		return cmd_gaps(argv + 2);
	fprintf(stderr,
	    "usage: udpblast send DST PORT PAYLOAD SECONDS FLOWS\n"
	    "       udpblast recv PORT SECONDS\n"
	    "       udpblast frames IFNAME DSTMAC SRC DST PORT PAYLOAD SECONDS FLOWS [FIRST_SPORT]\n"
	    "       udpblast tick DST PORT INTERVAL_US SECONDS\n"
	    "       udpblast gaps PORT SECONDS\n");
	return 2;
}
