/*
 * The flow hash under linkable names, for the code off the frame path (tests, the benchmark,
 * the txmap builder): the function itself is in lk_hash.h, inline for lk_output().
 */
#include "lk_hash.h"

uint32_t
lk_hash_frame(const struct lk_frame *f, uint32_t layers, uint32_t seed)
{
	return lk_hash_frame_inline(f, layers, seed);
}

uint32_t
lk_flow_hash(const struct lk_txmap *m, const struct lk_frame *f)
{
	return lk_flow_hash_inline(m, f);
}

/* Murmur3's 32-bit finaliser: rendezvous scores and seed derivation. */
uint32_t
lk_hash_mix(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}
