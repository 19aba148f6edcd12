/*
 * laggctl: the ifconfig(8)-style front end of laggd.
 *
 *   laggctl [-s socket] [-v] [--json] laggkit0 [words...]
 *   laggctl [-s socket] -a | list
 *
 * It only forwards its arguments to laggd over the control socket (-s, else $LAGGD_SOCKET,
 * else /run/laggd.sock) and prints the answer: laggd owns the vocabulary and the formats
 * (lg_proto.h), so the two can never disagree. The exit status is laggd's verdict.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "laggd.h"
#include "lg_proto.h"

static const char usage[] =
    "usage: laggctl [-s socket] [-v] [--json] laggkit0 [create | destroy] [words...]\n"
    "       laggctl [-s socket] [--json] laggkit0 events | counters\n"
    "       laggctl [-s socket] -a | list\n"
    "\n"
    "words (as ifconfig(8) lagg, all checked before any is applied):\n"
    "  laggproto failover|loadbalance|fec|lacp|roundrobin|broadcast|none\n"
    "  laggport IF [pri N]   -laggport IF   lagghash l2,l3,l4   rr_limit N\n"
    "  use_flowid | -use_flowid   flowid_shift N\n"
    "  lacp_fast_timeout | -lacp_fast_timeout   lacp_strict | -lacp_strict\n"
    "  laggfailover rx-all | -rx-all   lagglacp maxports N   lagglacp multi-speed | -multi-speed\n"
    "laggkit's own:\n"
    "  lacp_passive | -lacp_passive   lacp_sys_prio N   lacp_port_prio IF N\n"
    "  lacp_full_wait | -lacp_full_wait   lacp_sys_mac MAC | -lacp_sys_mac\n"
    "  failover_preempt | -failover_preempt   announce COUNT INTERVAL_MS   inet ADDR/LEN\n"
    "\n"
    "socket: -s PATH, else $LAGGD_SOCKET, else " LG_DEFAULT_SOCKET "\n";

static char req[LG_MAX_MSG];
static char reply[LG_MAX_MSG + 1];

int
main(int argc, char **argv)
{
	const char *path = getenv("LAGGD_SOCKET") ? getenv("LAGGD_SOCKET") : LG_DEFAULT_SOCKET;
	size_t len = 0;
	int leading = 1;

	/* Help is laggctl's own, so it works without a running laggd. */
	if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc - 1 > LG_MAX_ARGS) {
		fprintf(stderr, "laggctl: too many words\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		/* -s is laggctl's own; it may sit among the options before the interface name. */
		if (leading && strcmp(argv[i], "-s") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "laggctl: -s needs a socket path\n");
				return 2;
			}
			path = argv[++i];
			continue;
		}
		if (argv[i][0] != '-')
			leading = 0;
		size_t n = strlen(argv[i]) + 1;
		if (len + n > sizeof(req)) {
			fprintf(stderr, "laggctl: command too long\n");
			return 2;
		}
		memcpy(req + len, argv[i], n);
		len += n;
	}

	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "laggctl: socket path too long: %s\n", path);
		return 2;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr,
		    "laggctl: cannot reach laggd at %s: %s (is laggd running? -s or "
		    "LAGGD_SOCKET select another socket)\n",
		    path, strerror(errno));
		return 1;
	}
	/* A zero-length message reads as end-of-file; no words means "-a", as ifconfig does. */
	if (len == 0) {
		memcpy(req, "-a", 3);
		len = 3;
	}
	if (send(fd, req, len, 0) < 0) {
		fprintf(stderr, "laggctl: send: %s\n", strerror(errno));
		return 1;
	}
	ssize_t n = recv(fd, reply, sizeof(reply) - 1, 0);
	if (n <= 0) {
		fprintf(stderr, "laggctl: no answer from laggd at %s\n", path);
		return 1;
	}
	reply[n] = '\0';
	int status = (unsigned char)reply[0];
	fputs(reply + 1, status == 0 ? stdout : stderr);
	close(fd);
	return status;
}
