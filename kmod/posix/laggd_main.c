/*
 * laggd main: command line, logging, the epoll loop, signals and the laggctl socket.
 *
 *   laggd [-f] [-d] [-s SOCKET] [-c CONFIG]
 *
 * -f stays in the foreground (logs to stderr); otherwise laggd detaches and logs to syslog.
 * -c applies a file of laggctl lines at start; SIGHUP applies it again. SIGTERM/SIGINT destroy
 * every aggregate (members get their MAC, MTU and up/down state back) and exit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "laggd.h"
#include "lg_proto.h"

struct lg_daemon lg;
static int ready_fd = -1; /* daemon mode: pipe to the waiting parent, until detached */

uint64_t
lg_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
lg_log(int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	if (level > 2 && !lg.verbose)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Until a daemon has detached, its messages (config errors) belong on the terminal too. */
	if (lg.foreground || ready_fd >= 0) {
		static const char *const names[] = { "error", "warning", "info", "debug" };
		fprintf(stderr, "laggd: %s: %s\n", names[level < 0 ? 0 : level > 3 ? 3 : level], msg);
	}
	if (!lg.foreground) {
		static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
		syslog(prio[level < 0 ? 0 : level > 3 ? 3 : level], "%s", msg);
	}
}

int
lg_epoll_add(struct lg_src *src)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = src };
	return epoll_ctl(lg.epfd, EPOLL_CTL_ADD, src->fd, &ev);
}

void
lg_epoll_del(struct lg_src *src)
{
	if (src->fd >= 0)
		epoll_ctl(lg.epfd, EPOLL_CTL_DEL, src->fd, NULL);
}

/* ---- laggctl socket ------------------------------------------------------------------------- */

static int
ctl_listen(const char *path)
{
	struct sockaddr_un sa;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "laggd: socket path too long: %s\n", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, path);
	/* A stale socket from a crashed laggd would block the bind; a live one must not be stolen. */
	int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (probe >= 0) {
		if (connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			fprintf(stderr, "laggd: another laggd is listening on %s\n", path);
			close(probe);
			close(fd);
			return -1;
		}
		close(probe);
	}
	unlink(path);
	mode_t old = umask(077);
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || listen(fd, 16) < 0) {
		fprintf(stderr, "laggd: cannot listen on %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * One request per connection: argv as NUL-separated words in one SEQPACKET message, answered
 * by one message (lg_proto.h). Requests are small and handled at once, so a blocking recv
 * after EPOLLIN is safe; a client that connects and sends nothing is dropped by the timeout.
 */
static void
ctl_serve(int cfd)
{
	static char req[LG_MAX_MSG];
	static char reply[LG_MAX_MSG];
	char *argv[LG_MAX_ARGS + 1];
	int argc = 0;
	struct timeval tv = { .tv_sec = 2 };

	setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	ssize_t n = recv(cfd, req, sizeof(req) - 1, 0);
	if (n <= 0)
		return;
	req[n] = '\0';
	for (char *p = req; p < req + n && argc < LG_MAX_ARGS; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;
	int status = lg_cmd_run(argc, argv, 0, reply + 1, sizeof(reply) - 1);
	lg_lagg_settle(); /* before the reply: laggctl returns with the TAP's MAC in place */
	reply[0] = (char)status;
	size_t len = 1 + strlen(reply + 1);
	if (send(cfd, reply, len, MSG_NOSIGNAL) < 0)
		lg_log(1, "laggctl reply: %s", strerror(errno));
}

static void
ctl_accept(void)
{
	for (;;) {
		int cfd = accept4(lg.ctlfd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd < 0)
			return;
		ctl_serve(cfd);
		close(cfd);
	}
}

/* ---- Signals -------------------------------------------------------------------------------- */

static void
signal_readable(void)
{
	struct signalfd_siginfo si;
	while (read(lg.sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGHUP:
			if (lg.config_path) {
				lg_log(2, "SIGHUP: re-applying %s", lg.config_path);
				lg_config_apply(lg.config_path, 0);
			}
			break;
		case SIGTERM:
		case SIGINT:
			lg.stopping = 1;
			break;
		default:
			break;
		}
	}
}

/* ---- Daemon mode ---------------------------------------------------------------------------- */

/*
 * Detach before any epoll/signalfd exists: a signalfd added to epoll wakes only the process that
 * added it, so daemon() after setup would leave the child deaf to SIGTERM. The parent waits on a
 * pipe for the child's verdict, so `laggd -c bad.conf` still fails with exit 1 on the terminal.
 */
static void
detach_early(void)
{
	int p[2];
	char status = 1;
	if (pipe(p) < 0) {
		fprintf(stderr, "laggd: pipe: %s\n", strerror(errno));
		exit(1);
	}
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "laggd: fork: %s\n", strerror(errno));
		exit(1);
	}
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &status, 1) != 1)
			status = 1;
		_exit(status);
	}
	close(p[0]);
	ready_fd = p[1];
	setsid();
}

static void
detach_done(void)
{
	char ok = 0;
	int fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	if (chdir("/") < 0)
		lg_log(1, "chdir /: %s", strerror(errno));
	if (write(ready_fd, &ok, 1) != 1)
		lg_log(1, "cannot tell the parent we are ready");
	close(ready_fd);
	ready_fd = -1;
}

/* ---- Main ----------------------------------------------------------------------------------- */

/*
 * The build id ties a running laggd to the sources it was built from: laggkit deploy builds with
 * LAGGKIT_BUILD_ID set to a hash of kmod/core and kmod/posix, so a second deploy of the same
 * sources can see that nothing needs installing. A plain `make` says "unknown".
 */
#ifndef LAGGKIT_BUILD_ID
#define LAGGKIT_BUILD_ID "unknown"
#endif
#define LAGGD_VERSION "0.1.0"

static void
usage(void)
{
	fprintf(stderr,
	    "usage: laggd [-f] [-d] [-m ms] [-s socket] [-c config] | laggd -V\n"
	    "  -f         stay in the foreground, log to stderr\n"
	    "  -d         debug logging\n"
	    "  -m ms      read every member's carrier every ms milliseconds (default %u; 0: only\n"
	    "             the kernel's link messages, which can come a second late)\n"
	    "  -s socket  control socket (default %s)\n"
	    "  -c config  file of laggctl lines applied at start and on SIGHUP\n"
	    "  -V         print the version and build id, then exit\n",
	    LG_DEFAULT_CARRIER_POLL_MS, LG_DEFAULT_SOCKET);
	exit(2);
}

/*
 * Wakeup moderation, as a NIC moderates its interrupts. Each frame that makes the TAP or a
 * member readable wakes laggd; under load the sender of the next frame then runs, wakes laggd
 * again, and the two ping-pong one frame per context switch (the switch was a third of laggd's
 * CPU time at 64 bytes). So frame work starts at most once per LG_MODERATE_NS: a wakeup that
 * comes sooner waits out the rest of the interval, and everything that queued meanwhile goes
 * in one batch. A frame waits at most that long, and only while frames arrive faster than one
 * per interval: a 1 ms stream is never held.
 */
#define LG_MODERATE_NS 50000u

static int
has_frame_work(const struct epoll_event *evs, int n)
{
	for (int i = 0; i < n; i++) {
		const struct lg_src *s = evs[i].data.ptr;
		if (s->kind == LG_SRC_TAP || s->kind == LG_SRC_PORT)
			return 1;
	}
	return 0;
}

static void
loop(void)
{
	struct epoll_event evs[64];
	uint64_t last_frames_ns = 0;
	while (!lg.stopping) {
		int n = epoll_wait(lg.epfd, evs, 64, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			lg_log(0, "epoll_wait: %s", strerror(errno));
			return;
		}
		if (has_frame_work(evs, n)) {
			uint64_t now = lg_now_ns();
			if (now - last_frames_ns < LG_MODERATE_NS) {
				uint64_t wait = LG_MODERATE_NS - (now - last_frames_ns);
				struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)wait };
				nanosleep(&ts, NULL);
				now = lg_now_ns();
			}
			last_frames_ns = now;
		}
		for (int i = 0; i < n; i++) {
			struct lg_src *s = evs[i].data.ptr;
			switch (s->kind) {
			case LG_SRC_TAP:
				lg_tap_readable(s->obj);
				break;
			case LG_SRC_PORT:
				if ((evs[i].events & EPOLLERR) && s->fd >= 0) {
					/* Reading SO_ERROR clears it; a level-triggered error would spin. */
					int e;
					socklen_t el = sizeof(e);
					getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &e, &el);
				}
				lg_port_readable(s->obj);
				break;
			case LG_SRC_TIMER:
				lg_timer_expired(s->obj);
				break;
			case LG_SRC_MEDIA:
				lg_media_recheck();
				break;
			case LG_SRC_MEDIA_ANSWER:
				lg_media_answered();
				break;
			case LG_SRC_CARRIER:
				lg_carrier_apply();
				break;
			case LG_SRC_NETLINK:
				lg_nl_readable();
				/* It may have removed a port or destroyed an aggregate with events in evs. */
				i = n;
				break;
			case LG_SRC_CTL_LISTEN:
				ctl_accept();
				/* A command may have destroyed an aggregate whose events are still in evs. */
				i = n;
				break;
			case LG_SRC_SIGNAL:
				signal_readable();
				i = n;
				break;
			case LG_SRC_CTL_CONN:
				break;
			}
		}
		/* a MAC changed by rtnetlink (a member left) or SIGHUP's config file */
		lg_lagg_settle();
	}
}

int
main(int argc, char **argv)
{
	int opt;
	sigset_t mask;

	lg.socket_path = getenv("LAGGD_SOCKET") ? getenv("LAGGD_SOCKET") : LG_DEFAULT_SOCKET;
	lg.carrier_poll_ms = LG_DEFAULT_CARRIER_POLL_MS;
	while ((opt = getopt(argc, argv, "fdc:m:s:hV")) != -1) {
		switch (opt) {
		case 'V':
			printf("laggd %s build %s\n", LAGGD_VERSION, LAGGKIT_BUILD_ID);
			return 0;
		case 'f':
			lg.foreground = 1;
			break;
		case 'd':
			lg.verbose = 1;
			break;
		case 'c':
			lg.config_path = optarg;
			break;
		case 's':
			lg.socket_path = optarg;
			break;
		case 'm': {
			char *end;
			unsigned long ms = strtoul(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || ms > 10000) {
				fprintf(stderr, "laggd: -m %s: milliseconds from 0 to 10000\n", optarg);
				usage();
			}
			lg.carrier_poll_ms = (unsigned)ms;
			break;
		}
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (!lg.foreground) {
		openlog("laggd", LOG_PID, LOG_DAEMON);
		detach_early();
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* The moderation sleep (loop()) is tens of microseconds; the default 50 us timer slack
	 * would double it. */
	prctl(PR_SET_TIMERSLACK, 5000UL, 0, 0, 0);
	lg.epfd = epoll_create1(EPOLL_CLOEXEC);
	lg.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	lg.nlfd = lg_nl_open_events();
	lg.media_timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (lg.epfd < 0 || lg.sigfd < 0 || lg.nlfd < 0 || lg.media_timerfd < 0 || lg_sys_init() < 0) {
		fprintf(stderr, "laggd: setup failed: %s\n", strerror(errno));
		return 1;
	}
	lg.ctlfd = ctl_listen(lg.socket_path);
	if (lg.ctlfd < 0)
		return 1;
	lg.nl_src = (struct lg_src){ LG_SRC_NETLINK, NULL, lg.nlfd };
	lg.ctl_src = (struct lg_src){ LG_SRC_CTL_LISTEN, NULL, lg.ctlfd };
	lg.sig_src = (struct lg_src){ LG_SRC_SIGNAL, NULL, lg.sigfd };
	lg.media_src = (struct lg_src){ LG_SRC_MEDIA, NULL, lg.media_timerfd };
	lg_epoll_add(&lg.nl_src);
	lg_epoll_add(&lg.ctl_src);
	lg_epoll_add(&lg.sig_src);
	lg_epoll_add(&lg.media_src);
	lg.media_answer_fd = lg_media_start();
	if (lg.media_answer_fd < 0)
		lg_log(1, "media reader thread: %s; speed and duplex are read on the frame path",
		    strerror(errno));
	lg.media_answer_src = (struct lg_src){ LG_SRC_MEDIA_ANSWER, NULL, lg.media_answer_fd };
	if (lg.media_answer_fd >= 0)
		lg_epoll_add(&lg.media_answer_src);
	lg.carrier_fd = lg.carrier_poll_ms ? lg_carrier_start(lg.carrier_poll_ms) : -1;
	if (lg.carrier_poll_ms && lg.carrier_fd < 0)
		lg_log(1, "carrier watch thread: %s; links follow the kernel's link messages only",
		    strerror(errno));
	lg.carrier_src = (struct lg_src){ LG_SRC_CARRIER, NULL, lg.carrier_fd };
	if (lg.carrier_fd >= 0)
		lg_epoll_add(&lg.carrier_src);

	/* Recorded once so event timestamps (monotonic) can be printed as wall-clock time. */
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	lg.start_mono_ns = lg_now_ns();
	lg.start_real_ns = (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec;

	if (lg.config_path && lg_config_apply(lg.config_path, 1) != 0) {
		fprintf(stderr, "laggd: %s: not started (nothing applied)\n", lg.config_path);
		while (lg.laggs)
			lg_lagg_destroy(lg.laggs);
		unlink(lg.socket_path);
		return 1;
	}
	lg_lagg_settle();
	if (!lg.foreground)
		detach_done();
	lg_log(2, "listening on %s", lg.socket_path);
	loop();

	while (lg.laggs)
		lg_lagg_destroy(lg.laggs);
	unlink(lg.socket_path);
	lg_log(2, "stopped");
	return 0;
}
