/*
 * Freestanding replacements for the few libc string routines the core needs. The same object
 * links into FreeBSD and NetBSD kernels and into laggd, so the core calls no libc at all.
 * Byte loops on purpose: they run on configuration paths and on short frame headers only.
 */
#include "lk_internal.h"

void
lk_memcpy(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	while (n-- > 0)
		*d++ = *s++;
}

void
lk_memset(void *dst, int c, size_t n)
{
	uint8_t *d = dst;

	while (n-- > 0)
		*d++ = (uint8_t)c;
}

int
lk_memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;

	for (; n > 0; n--, x++, y++) {
		if (*x != *y)
			return (*x < *y) ? -1 : 1;
	}
	return 0;
}

size_t
lk_strlen(const char *s)
{
	size_t n = 0;

	while (s[n] != '\0')
		n++;
	return n;
}

/* BSD strlcpy semantics: always NUL-terminates when size > 0, returns strlen(src). */
size_t
lk_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = lk_strlen(src);

	if (size > 0) {
		size_t c = n < size - 1 ? n : size - 1;
		lk_memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

int
lk_strcmp(const char *a, const char *b)
{
	while (*a != '\0' && *a == *b) {
		a++;
		b++;
	}
	return (int)(uint8_t)*a - (int)(uint8_t)*b;
}
