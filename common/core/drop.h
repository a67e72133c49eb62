/*
 * drop.h - the rules of a drop (issue 3): tier windows, quotas with
 * roll-over, insiders, per-buyer limits, holdback amounts, gift rules, hold
 * expiry. Pure: the clock is an argument, so tests move time freely.
 *
 * Tiers are kept in window order. A tier's effective quota is its own quota
 * plus, when the previous tier rolls over and its window has closed, that
 * tier's unsold effective quota (recursively). Quota 0 means unlimited.
 */
#ifndef DN_DROP_H
#define DN_DROP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Tiers in one drop, SKUs in one drop: a drop is a small, curated run. */
#define DROP_TIERS_MAX 8u
#define DROP_SKUS_MAX 16u
/* Longest hold a storefront may ask for: a cart, not a layaway. */
#define DROP_HOLD_SECONDS_MAX 3600u

typedef enum { DROP_DRAFT = 0, DROP_OPEN = 1, DROP_CLOSED = 2 } drop_state;

typedef struct {
	const char *name;
	int64_t opens_ms, closes_ms;  /* [opens, closes) in UTC ms */
	uint32_t quota;               /* 0: unlimited */
	bool rollover;
	bool insiders_only;
	bool release_holdback;
	uint32_t sold;                /* units sold in this tier so far */
} drop_tier;

typedef enum {
	DROP_OK = 0,
	DROP_NOT_OPEN = 1,        /* drop in draft, or tier window not yet open */
	DROP_WINDOW_CLOSED = 2,   /* drop closed, or tier window over */
	DROP_TIER_NOT_ALLOWED = 3,/* tier unknown, or insiders only */
	DROP_LIMIT_REACHED = 4,   /* per-buyer limit for this SKU */
	DROP_QUOTA_EXHAUSTED = 5, /* the tier sold its (effective) quota */
} drop_verdict;

/* Stable lowercase name of a verdict ("ok", "not_open", ...). */
const char *drop_verdict_name(drop_verdict v);

/* Effective quota of tier i at time now; UINT32_MAX when unlimited. */
uint32_t drop_tier_quota(const drop_tier *tiers, size_t ntiers, size_t i, int64_t now);

/* Index of the tier named name, or -1. */
int drop_tier_find(const drop_tier *tiers, size_t ntiers, const char *name);

/* Checks the drop-level rules for one order of qty units (all lines summed
 * for the quota; the limit check is per line, see drop_check_limit):
 * state, tier exists, insiders, window, quota. *tier_idx is set when the tier
 * exists. */
drop_verdict drop_check(drop_state state, const drop_tier *tiers, size_t ntiers,
    const char *tier, int64_t now, bool is_insider, uint32_t qty, int *tier_idx);

/* Per-buyer limit for one SKU: bought so far + qty must not exceed limit
 * (0: no limit). */
drop_verdict drop_check_limit(uint32_t limit, uint32_t bought, uint32_t qty);

/* Units to hold back out of units at pct percent (0..100), rounded down. */
int64_t drop_holdback_units(int64_t units, double pct);

typedef enum {
	DROP_GIFT_NONE = 0,
	DROP_GIFT_FIRST_ORDER = 1,
	DROP_GIFT_EVERY_NTH = 2,
	DROP_GIFT_MIN_QTY = 3,
} drop_gift_kind;

/* Whether the gift rule applies to an accepted order: first_order is the
 * buyer's first accepted order in the network, nth the 1-based count of
 * accepted orders in the drop including this one, qty the order's units. */
bool drop_gift_applies(drop_gift_kind kind, uint32_t n, bool first_order,
    uint64_t nth, uint32_t qty);

/* Tiers whose window has opened by now, that release holdback, and have not
 * released yet (released[i] false): their indices go to out (capacity
 * DROP_TIERS_MAX); returns how many. */
size_t drop_releases_due(const drop_tier *tiers, size_t ntiers, const bool *released,
    int64_t now, size_t *out);

#endif
