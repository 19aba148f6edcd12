/*
 * Member isolation: frames that arrive on a member port belong to the aggregate, not to the
 * member's own IP stack. Linux accepts an IP packet for any local address on any interface
 * (weak host model), so without this a member would answer pings for the aggregate's address
 * a second time, and every reply would arrive twice.
 *
 * The kernel bonding driver solves this with an rx_handler; from user space the equivalent is
 * a tc ingress filter that drops everything: AF_PACKET taps (laggd's rx ring) see a frame
 * before tc ingress runs, the IP stack only after it. The filter is a two-instruction eBPF
 * program in direct-action mode (return TC_ACT_SHOT), attached through rtnetlink to a clsact
 * qdisc. Where eBPF or clsact is unavailable, laggd falls back to sysctls (strict rp_filter,
 * IPv6 off on the member), which cover IPv4/IPv6 unicast but not everything.
 *
 * With the in-kernel receive path (laggd_rxpath.c) the filter at the same place is that
 * path's program instead, which hands the aggregate's frames to the TAP and drops the rest:
 * the member's own stack sees none either way.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "laggd.h"
#include "laggd_bpf.h"

#define LG_TC_PRIO   0xc000u /* our filter's priority: late, out of the way of the user's */
#define LG_TC_HANDLE 0x1a99u

static int drop_prog_fd = -1;

static int
drop_prog(void)
{
	if (drop_prog_fd >= 0)
		return drop_prog_fd;
	const struct bpf_insn insns[] = { MOV_IMM(BPF_REG_0, TC_ACT_SHOT), EXIT() };
	drop_prog_fd = lg_bpf_prog_load(insns, 2, "laggd_drop");
	return drop_prog_fd;
}

union tcreq {
	struct nlmsghdr nh;
	char buf[512];
};

static struct tcmsg *
tc_begin(union tcreq *r, int type, int flags, int ifindex)
{
	memset(r, 0, sizeof(*r));
	r->nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct tcmsg));
	r->nh.nlmsg_type = (unsigned short)type;
	r->nh.nlmsg_flags = (unsigned short)(NLM_F_REQUEST | NLM_F_ACK | flags);
	struct tcmsg *t = NLMSG_DATA(&r->nh);
	t->tcm_family = AF_UNSPEC;
	t->tcm_ifindex = ifindex;
	return t;
}

static int
clsact(int ifindex, int add)
{
	union tcreq r;
	struct tcmsg *t =
	    tc_begin(&r, add ? RTM_NEWQDISC : RTM_DELQDISC, add ? NLM_F_CREATE | NLM_F_EXCL : 0, ifindex);
	t->tcm_handle = TC_H_MAKE(TC_H_CLSACT, 0);
	t->tcm_parent = TC_H_CLSACT;
	lg_nl_put(&r.nh, sizeof(r), TCA_KIND, "clsact", 7);
	return lg_nl_request(&r.nh);
}

static int
tc_filter(int ifindex, uint32_t hook, int add, int fd, const char *name)
{
	union tcreq r;
	/* Replace, not exclusive: a filter at laggd's handle and priority is laggd's, and one left
	 * by an earlier laggd that died may point at maps no one updates any more. */
	struct tcmsg *t = tc_begin(
	    &r, add ? RTM_NEWTFILTER : RTM_DELTFILTER, add ? NLM_F_CREATE | NLM_F_REPLACE : 0, ifindex);
	t->tcm_parent = TC_H_MAKE(TC_H_CLSACT, hook);
	t->tcm_info = TC_H_MAKE(LG_TC_PRIO << 16, htons(ETH_P_ALL));
	t->tcm_handle = LG_TC_HANDLE;
	lg_nl_put(&r.nh, sizeof(r), TCA_KIND, "bpf", 4);
	if (add) {
		uint32_t ufd = (uint32_t)fd, flags = TCA_BPF_FLAG_ACT_DIRECT;
		void *opts = lg_nl_put(&r.nh, sizeof(r), TCA_OPTIONS, NULL, 0);
		lg_nl_put(&r.nh, sizeof(r), TCA_BPF_FD, &ufd, sizeof(ufd));
		lg_nl_put(&r.nh, sizeof(r), TCA_BPF_NAME, name, strlen(name) + 1);
		lg_nl_put(&r.nh, sizeof(r), TCA_BPF_FLAGS, &flags, sizeof(flags));
		lg_nl_nest_end(&r.nh, opts);
	}
	return lg_nl_request(&r.nh);
}

static int
sysctl_rw(const char *fmt, const char *ifname, int *old, int val)
{
	char path[128];
	snprintf(path, sizeof(path), fmt, ifname);
	FILE *f = fopen(path, "r+");
	if (!f)
		return -1;
	if (old && fscanf(f, "%d", old) != 1)
		*old = 0;
	rewind(f);
	fprintf(f, "%d\n", val);
	return fclose(f) == 0 ? 0 : -1;
}

void
lg_isolate(int ifindex, const char *ifname, struct lg_isolation *iso, int prog_fd)
{
	memset(iso, 0, sizeof(*iso));
	int fd = prog_fd >= 0 ? prog_fd : drop_prog();
	if (fd >= 0) {
		int rc = clsact(ifindex, 1);
		if (rc == 0 || rc == -EEXIST) {
			iso->created_qdisc = rc == 0;
			rc = tc_filter(
			    ifindex, TC_H_MIN_INGRESS, 1, fd, prog_fd >= 0 ? "laggd_rx" : "laggd_drop");
			if (rc == 0 || rc == -EEXIST) {
				iso->mode = 1;
				return;
			}
			if (iso->created_qdisc)
				clsact(ifindex, 0);
			iso->created_qdisc = 0;
		}
		lg_log(
		    1, "%s: tc ingress filter failed (%s); falling back to sysctls", ifname, strerror(-rc));
	} else {
		lg_log(1, "%s: eBPF unavailable (%s); falling back to sysctls", ifname, strerror(errno));
	}
	if (sysctl_rw("/proc/sys/net/ipv4/conf/%s/rp_filter", ifname, &iso->rp_filter, 1) == 0 &&
	    sysctl_rw("/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname, &iso->disable_ipv6, 1) == 0)
		iso->mode = 2;
}

void
lg_isolate_undo(int ifindex, const char *ifname, struct lg_isolation *iso)
{
	if (iso->mode == 1) {
		if (iso->created_qdisc)
			clsact(ifindex, 0);
		else
			tc_filter(ifindex, TC_H_MIN_INGRESS, 0, -1, NULL);
	} else if (iso->mode == 2) {
		sysctl_rw("/proc/sys/net/ipv4/conf/%s/rp_filter", ifname, NULL, iso->rp_filter);
		sysctl_rw("/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname, NULL, iso->disable_ipv6);
	}
	iso->mode = 0;
}

int
lg_tc_egress_attach(int ifindex, int prog_fd, const char *name)
{
	int rc = clsact(ifindex, 1);
	if (rc != 0 && rc != -EEXIST)
		return rc;
	return tc_filter(ifindex, TC_H_MIN_EGRESS, 1, prog_fd, name);
}

void
lg_tc_egress_detach(int ifindex)
{
	(void)tc_filter(ifindex, TC_H_MIN_EGRESS, 0, -1, NULL);
}
