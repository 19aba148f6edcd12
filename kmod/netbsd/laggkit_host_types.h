/*
 * The types header the laggkit core gets inside the NetBSD kernel.
 *
 * The core includes only lk_types.h, which normally pulls in the compiler's <stdint.h>,
 * <stddef.h> and <stdbool.h>. Kernel modules are compiled with -nostdinc (bsd.kmodule.mk),
 * so the Makefile defines LK_HOST_TYPES_H to this file: the kernel's own headers give the
 * fixed-width integers, size_t, bool, NULL and the integer limits the same meaning.
 */
#ifndef LAGGKIT_HOST_TYPES_H
#define LAGGKIT_HOST_TYPES_H

#include <sys/types.h>  /* uint8_t..uint64_t, size_t, bool, true/false (_KERNEL) */
#include <sys/stdint.h> /* UINT32_MAX, UINT64_MAX */
#include <sys/null.h>   /* NULL */

#endif /* LAGGKIT_HOST_TYPES_H */
