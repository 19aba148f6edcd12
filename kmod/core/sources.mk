# The core's C sources, shared by kmod/core/Makefile (GNU make), kmod/posix (laggd) and the
# FreeBSD/NetBSD kernel Makefiles (bsd.kmod.mk): a plain list, no make functions, so both
# makes can .include / include it. Paths are relative to kmod/core.
CORE_SRCS= lk_core.c lk_port.c lk_txmap.c lk_proto.c lk_failover.c lk_hash.c \
	lk_announce.c lk_event.c lk_status.c lk_lib.c \
	lk_lacp.c lk_lacp_pdu.c lk_marker.c
