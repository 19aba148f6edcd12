/*
 * The transmit table ("txmap"): everything lk_output()/lk_input() need, built under the host
 * lock whenever configuration, link or LACP state changes, then published with one atomic
 * release store. The frame path never sees a half-updated table. The old table goes to
 * ops->retire, which frees it after the host's grace period (epoch, pserialize, RCU).
 *
 * Flow placement. Every bucket has a fixed order of preference over the port indices, a
 * function of the bucket and the seed only; its owner is the first active port in that order.
 * We chose that over a "modulo nactive" table (the classic lagg choice) because
 *   - a bucket's owner depends only on the active set and the seed, never on history, so with
 *     the active set unchanged every flow stays on its port, even across rebuilds;
 *   - removing port i changes only the buckets whose owner was i (the others keep a port that
 *     still comes first among the active ones), so only that port's flows move;
 *   - adding a port takes only the buckets that prefer it to their owner, nothing more.
 * The orders are designed, not random. Random orders (rendezvous hashing) give each port a
 * binomial number of buckets: with 16384 buckets, 8 ports came out 5.6% apart (max/min) and
 * ports 0-3 7.6%, as uneven as the sampling of 10,000 flows itself, so the flow spread was
 * worse than a modulo's. Here the shares are equal by construction where aggregates live, on
 * the first eight port indices (ports are numbered from 0 as they are added):
 *   - Buckets come in groups of eight whose orders differ only by XORing the port index with
 *     0-7. Any set of active ports that such an XOR maps onto itself is then split exactly
 *     evenly: every pair of ports, {0-3}, {4-7} and the other aligned fours, and all eight.
 *   - A group's first three preferences are digits of its (seeded) number in mixed radix
 *     8, 7, 6: when one of eight ports is down its buckets split over the other seven to
 *     within a few buckets, with two down nearly so. The other five come from a hash of the
 *     group, which leaves any other set of ports 0-7 at most about 2% apart.
 * Ports 8 and up are placed by rendezvous scores: each bucket draws eight random scores and
 * gives the highest to its first preference among ports 0-7, the next to the second, and so
 * on, while port 8 and up score on their own; the owner is the active port with the highest
 * score. That is still one fixed order per bucket (every property above holds), and ports
 * 0-7 keep the order above among themselves.
 * The per-frame cost stays O(1) (one table load): the orders are evaluated at rebuild time,
 * off the frame path, and only for buckets whose owner can have changed.
 * Allocation may fail (kernel M_NOWAIT): the old table stays published, the rebuild is marked
 * pending and retried from lk_tick().
 */
#include "lk_internal.h"

#define TXMAP_RETRY_NS (10ull * 1000 * 1000)
#define LOW_PORTS      8u /* ports 0-7: placed by the designed orders */
#define LOW_MASK       ((1u << LOW_PORTS) - 1u)
_Static_assert(LK_TXMAP_BUCKETS % (8u * LOW_PORTS) == 0, "whole XOR groups, an exact first digit");

static uint32_t
port_key(uint32_t index, uint32_t seed)
{
	return lk_hash_mix((index + 1u) * 0x9e3779b9u ^ seed);
}

static inline uint32_t
bucket_key(const struct lk_txmap *m, uint32_t b)
{
	return lk_hash_mix(b ^ (m->seed * 0x85ebca6bu));
}

/*
 * Buckets 8g..8g+7 form group g of the design: their orders differ only by the XOR with
 * b & 7. The group's own order comes from its number g in mixed radix, seeded through a
 * bijection of the group number (XOR, odd multiply and xorshift are each one-to-one on its
 * bits), so two aggregates with other seeds lay their groups out differently while every
 * count the design makes exact stays exact.
 */
#define GROUPS     (LK_TXMAP_BUCKETS / 8u)
#define GROUP_MASK (GROUPS - 1u)

static void
group_order(const struct lk_txmap *m, uint32_t g, uint8_t order[LOW_PORTS])
{
	uint32_t d = ((g ^ m->seed ^ (m->seed >> 11)) * 0x2c65u) & GROUP_MASK, rnd, left = LOW_MASK;
	uint32_t pick[LOW_PORTS];

	d ^= d >> 5;
	d = (d * 0x1d35u) & GROUP_MASK;
	/* three digits from the group's number (near exact), the rest from a hash of it */
	rnd = lk_hash_mix(d ^ (m->seed * 0xc2b2ae35u));
	pick[0] = d & 7u;
	pick[1] = (d >> 3) % 7u;
	pick[2] = (d >> 3) / 7u % 6u;
	pick[3] = rnd % 5u;
	pick[4] = rnd / 5u % 4u;
	pick[5] = rnd / 20u % 3u;
	pick[6] = rnd / 60u % 2u;
	pick[7] = 0;
	for (uint32_t k = 0; k < LOW_PORTS; k++) {
		uint32_t i = left;

		/* the pick-th port still left, in index order */
		for (uint32_t p = pick[k]; p > 0; p--)
			i &= i - 1;
		i = (uint32_t)__builtin_ctz(i);
		left &= ~(1u << i);
		order[k] = (uint8_t)i;
	}
}

/*
 * Owner of bucket b, given its group's order: the first active port in the bucket's order of
 * preference (see the top). With ports 8 and up active, the best of ports 0-7 (the first of
 * them in the order) takes the rank-th highest of the bucket's eight scores and meets the
 * others' own scores. Below each score a tie-breaker makes every key distinct: ports 0-7 by
 * rank (a lower rank has the higher score, as the scores are sorted), ports 8 and up by index.
 */
static uint8_t
bucket_owner(const struct lk_txmap *m, const uint32_t *pkey, uint32_t b, const uint8_t order[LOW_PORTS])
{
	uint32_t flip = b & 7u, rank = 0, owner = LK_MAX_PORTS, bkey;
	uint32_t score[LOW_PORTS];
	uint64_t best = 0;

	if (m->active & LOW_MASK)
		for (;; rank++)
			if (m->active & (1u << (order[rank] ^ flip))) {
				owner = order[rank] ^ flip;
				break;
			}
	if ((m->active & ~LOW_MASK) == 0)
		return (uint8_t)owner;
	bkey = bucket_key(m, b);
	if (owner < LK_MAX_PORTS) {
		/* the rank-th highest of eight: a partial selection sort, rank is mostly 0 or 1 */
		for (uint32_t k = 0; k < LOW_PORTS; k++)
			score[k] = lk_hash_mix(bkey ^ (0x632be5abu * (k + 1u)));
		for (uint32_t k = 0; k <= rank; k++)
			for (uint32_t j = k + 1; j < LOW_PORTS; j++)
				if (score[j] > score[k]) {
					uint32_t t = score[k];
					score[k] = score[j];
					score[j] = t;
				}
		best = (uint64_t)score[rank] << 8 | (0xffu - rank);
	}
	for (uint32_t a = m->active & ~LOW_MASK; a != 0; a &= a - 1) {
		uint32_t i = (uint32_t)__builtin_ctz(a);
		uint64_t key = (uint64_t)lk_hash_mix(bkey ^ pkey[i]) << 8 | (0x7fu - i);

		if (key > best) {
			best = key;
			owner = i;
		}
	}
	return (uint8_t)owner;
}

/*
 * Incremental fill. Under the same seed a bucket whose owner is still active keeps it unless
 * a port was added (which it may prefer): only those buckets and the buckets of ports that
 * left are evaluated again, a group's order computed once for its eight buckets. The result
 * is exactly the full computation's; it only keeps frequent LACP/link rebuilds cheap.
 */
static void
fill_buckets(struct lk_txmap *m, const struct lk_txmap *old)
{
	uint32_t pkey[LK_MAX_PORTS];
	uint32_t added = old != NULL ? m->active & ~old->active : m->active;
	int incremental = old != NULL && old->proto->hashed && old->nactive > 0 && old->seed == m->seed;

	for (uint32_t a = m->active & ~LOW_MASK; a != 0; a &= a - 1)
		pkey[__builtin_ctz(a)] = port_key((uint32_t)__builtin_ctz(a), m->seed);
	for (uint32_t g = 0; g < GROUPS; g++) {
		uint8_t order[LOW_PORTS];
		uint32_t stale = 0;

		for (uint32_t b = g * 8u; b < g * 8u + 8u; b++) {
			uint32_t owner = incremental ? old->bucket[b] : 0;

			if (incremental && added == 0 && (m->active & LK_PORT_BIT(owner)))
				m->bucket[b] = (uint8_t)owner;
			else
				stale |= 1u << (b & 7u);
		}
		if (stale == 0)
			continue;
		group_order(m, g, order);
		for (; stale != 0; stale &= stale - 1)
			m->bucket[g * 8u + (uint32_t)__builtin_ctz(stale)] =
			    bucket_owner(m, pkey, g * 8u + (uint32_t)__builtin_ctz(stale), order);
	}
}

/*
 * The port sequence (LK_SEQ_LEN) and the frame path (LK_PATH_*) of a table whose active ports
 * are known.
 */
static void
frame_path(const struct lk_proto_ops *po, struct lk_txmap *m)
{
	uint64_t period = (uint64_t)m->nactive * m->rr_limit;

	if (m->nactive == 0)
		return;
	m->path = LK_PATH_SELECT;
	if (po->hashed)
		m->path = LK_PATH_HASHED;
	else if (po->rotate && LK_SEQ_LEN % period == 0) {
		for (uint32_t n = 0; n < LK_SEQ_LEN; n++)
			m->seq[n] = m->order[n / m->rr_limit % m->nactive];
		m->path = LK_PATH_SEQ;
	} else if (po->to_active && m->nactive == 1) {
		lk_memset(m->seq, m->order[0], sizeof(m->seq));
		m->path = LK_PATH_SEQ;
	}
}

/* Aggregate link: up while any port is active; tell the host only on change. */
static void
update_link(struct lk_softc *sc, const struct lk_txmap *m)
{
	uint32_t mask = m->active;
	uint64_t speed = 0;
	struct lk_port *p;
	int up;

	if (sc->proto == LK_PROTO_NONE) {
		/* no traffic, but the aggregate stays up while a member has carrier */
		mask = 0;
		LK_FOREACH_PORT(sc, p) {
			if (p->link_up)
				mask |= LK_PORT_BIT(p->index);
		}
	}
	up = mask != 0;
	if (sc->proto == LK_PROTO_FAILOVER && m->primary >= 0)
		speed = sc->ports[m->primary].speed_bps;
	else {
		LK_FOREACH_PORT(sc, p) {
			if (mask & LK_PORT_BIT(p->index))
				speed += p->speed_bps;
		}
	}
	if (up != sc->link_up || speed != sc->link_speed) {
		sc->link_up = up;
		sc->link_speed = speed;
		if (sc->ops->lagg_link_changed != NULL)
			sc->ops->lagg_link_changed(sc->host, up, speed);
	}
}

int
lk_txmap_rebuild(struct lk_softc *sc)
{
	struct lk_txmap *m, *old;
	const struct lk_proto_ops *po = lk_proto_table[sc->proto];

	if (sc->dying)
		return LK_OK;
	m = sc->ops->alloc(sc->host, sizeof(*m));
	if (m == NULL) {
		if (sc->ops->log != NULL && !sc->txmap_dirty)
			sc->ops->log(sc->host, 1,
			    "laggkit: transmit table allocation failed; "
			    "keeping the previous one and retrying");
		sc->txmap_dirty = 1;
		sc->txmap_retry_ns = lk_core_now(sc) + TXMAP_RETRY_NS;
		lk_core_schedule(sc, sc->txmap_retry_ns);
		return LK_ENOMEM;
	}
	LK_ZERO(m);
	m->proto = po;
	m->primary = -1;
	m->hash_layers = sc->opts[LK_OPT_HASH_LAYERS];
	m->seed = sc->opts[LK_OPT_HASH_SEED];
	m->use_flowid = sc->opts[LK_OPT_USE_FLOWID];
	m->flowid_shift = sc->opts[LK_OPT_FLOWID_SHIFT];
	m->rr_limit = sc->opts[LK_OPT_RR_LIMIT] == 0 ? 1 : sc->opts[LK_OPT_RR_LIMIT];
	m->members = sc->port_mask;
	po->build(sc, m);
	m->active &= sc->port_mask;
	m->collecting &= sc->port_mask;
	for (uint32_t a = m->active; a != 0; a &= a - 1)
		m->order[m->nactive++] = (uint8_t)__builtin_ctz(a);
	if (m->nactive > 0)
		m->nactive_magic = UINT64_MAX / m->nactive + 1;
	frame_path(po, m);
	m->flowid_ok = m->path == LK_PATH_HASHED && m->use_flowid;
	old = sc->txmap;
	if (po->hashed && m->nactive > 0)
		fill_buckets(m, old);

	__atomic_store_n(&sc->txmap, m, __ATOMIC_RELEASE);
	sc->txmap_gen++;
	if (old != NULL)
		sc->ops->retire(sc->host, old);
	sc->txmap_dirty = 0;
	update_link(sc, m);
	return LK_OK;
}

void
lk_txmap_release(struct lk_softc *sc)
{
	struct lk_txmap *old = sc->txmap;

	__atomic_store_n(&sc->txmap, (struct lk_txmap *)NULL, __ATOMIC_RELEASE);
	sc->txmap_gen++;
	if (old != NULL)
		sc->ops->retire(sc->host, old);
}

/*
 * LACP calls this whenever a port may have started or stopped collecting or distributing; it
 * often has not, so compare first and skip the rebuild (and a grace period) when nothing moved.
 */
void
lk_core_txmap_dirty(struct lk_softc *sc)
{
	const struct lk_txmap *m = sc->txmap;
	uint32_t active, collecting;

	if (m != NULL && !sc->txmap_dirty && sc->proto == LK_PROTO_LACP &&
	    m->proto == lk_proto_table[LK_PROTO_LACP]) {
		lk_proto_lacp_masks(sc, &active, &collecting);
		if (active == m->active && collecting == m->collecting)
			return;
	}
	(void)lk_txmap_rebuild(sc);
}
