/*
 * The only header the core includes for types. By default it uses the C11 freestanding
 * headers, which the compiler (not the OS) provides. A kernel build that compiles with
 * -nostdinc defines LK_HOST_TYPES_H to a header of its own that provides uint8_t..uint64_t,
 * size_t, bool and NULL (FreeBSD: <sys/types.h>, NetBSD: <sys/types.h>).
 */
#ifndef LK_TYPES_H
#define LK_TYPES_H

#ifdef LK_HOST_TYPES_H
#include LK_HOST_TYPES_H
#else
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#endif

#endif /* LK_TYPES_H */
