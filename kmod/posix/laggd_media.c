/*
 * The media reader: a thread that reads members' speed and duplex with the ethtool ioctl, so
 * laggd's frame thread never does.
 *
 * The ethtool ioctl takes the RTNL, the kernel's one lock for network configuration, which any
 * `ip`, QEMU or namespace teardown on the machine can hold for tens of milliseconds; on laggd's
 * single frame thread such a wait stops every port of every aggregate. The thread answers one
 * question (speed and duplex of an interface) and touches no laggd state: questions and answers
 * go through two pipes, and the main loop applies answers as it does any other event. Should
 * the thread not start, the main loop reads speed and duplex itself, as before.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "laggd.h"

static int ask_fd[2] = { -1, -1 };    /* main -> thread */
static int answer_fd[2] = { -1, -1 }; /* thread -> main */

static void *
media_thread(void *arg)
{
	struct lg_media_msg m;
	(void)arg;
	while (read(ask_fd[0], &m, sizeof(m)) == (ssize_t)sizeof(m)) {
		int up;
		m.ok = lg_if_media(m.name, &up, &m.speed_bps, &m.duplex) == 0;
		/* A pipe write of less than PIPE_BUF bytes is atomic; a full pipe waits here. */
		if (write(answer_fd[1], &m, sizeof(m)) != (ssize_t)sizeof(m))
			break;
	}
	return NULL;
}

/*
 * A detached helper thread. Signals belong to the main loop's signalfd, so the thread blocks
 * them all (it inherits the mask in force while it is created). Returns 0 or an errno.
 */
int
lg_thread_start(void *(*fn)(void *))
{
	pthread_t t;
	pthread_attr_t attr;
	sigset_t all, old;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&t, &attr, fn, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

int
lg_media_start(void)
{
	if (pipe2(ask_fd, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	if (pipe2(answer_fd, O_CLOEXEC | O_NONBLOCK) < 0)
		goto fail;
	/* The thread blocks on its end; the main loop's ends stay non-blocking. */
	if (fcntl(ask_fd[0], F_SETFL, 0) < 0 || fcntl(answer_fd[1], F_SETFL, 0) < 0)
		goto fail;
	int rc = lg_thread_start(media_thread);
	if (rc != 0) {
		errno = rc;
		goto fail;
	}
	return answer_fd[0];
fail:
	for (int i = 0; i < 2; i++) {
		if (ask_fd[i] >= 0)
			close(ask_fd[i]);
		if (answer_fd[i] >= 0)
			close(answer_fd[i]);
		ask_fd[i] = answer_fd[i] = -1;
	}
	return -1;
}

int
lg_media_ask(const char *ifname, int ifindex)
{
	struct lg_media_msg m;
	if (ask_fd[1] < 0)
		return -1;
	memset(&m, 0, sizeof(m));
	snprintf(m.name, sizeof(m.name), "%s", ifname);
	m.ifindex = ifindex;
	return write(ask_fd[1], &m, sizeof(m)) == (ssize_t)sizeof(m) ? 0 : -1;
}

int
lg_media_answer(struct lg_media_msg *m)
{
	return read(answer_fd[0], m, sizeof(*m)) == (ssize_t)sizeof(*m);
}
