/*
 * The types header the laggkit core gets inside the FreeBSD kernel.
 *
 * The core includes only lk_types.h, which normally pulls in the compiler's <stdint.h>,
 * <stddef.h> and <stdbool.h>. A KLD is compiled with -nostdinc, so the Makefile defines
 * LK_HOST_TYPES_H to this file instead: the kernel's own headers provide the fixed-width
 * integers, size_t, bool and NULL with the same meaning.
 */
#ifndef LAGGKIT_HOST_TYPES_H
#define LAGGKIT_HOST_TYPES_H

#include <sys/types.h>  /* uint8_t..uint64_t, size_t, bool (kernel) */
#include <sys/stdint.h> /* UINT32_MAX, UINT64_MAX */
#include <sys/stddef.h> /* offsetof */
#include <sys/_null.h>  /* NULL */

#endif /* LAGGKIT_HOST_TYPES_H */
