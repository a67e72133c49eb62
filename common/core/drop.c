/* drop.c - the rules of a drop (see drop.h). Pure. */
#include <math.h>
#include <string.h>
#include "core/drop.h"

const char *drop_verdict_name(drop_verdict v)
{
	switch (v) {
	case DROP_OK: return "ok";
	case DROP_NOT_OPEN: return "not_open";
	case DROP_WINDOW_CLOSED: return "closed";
	case DROP_TIER_NOT_ALLOWED: return "tier_not_allowed";
	case DROP_LIMIT_REACHED: return "limit_reached";
	case DROP_QUOTA_EXHAUSTED: return "quota_exhausted";
	}
	return "unknown";
}

int drop_tier_find(const drop_tier *tiers, size_t ntiers, const char *name)
{
	for (size_t i = 0; i < ntiers; i++) {
		if (name != NULL && strcmp(tiers[i].name, name) == 0) {
			return (int)i;
		}
	}
	return -1;
}

uint32_t drop_tier_quota(const drop_tier *tiers, size_t ntiers, size_t i, int64_t now)
{
	if (i >= ntiers || tiers[i].quota == 0) {
		return UINT32_MAX;
	}
	uint64_t q = tiers[i].quota;
	if (i > 0 && tiers[i - 1].rollover && now >= tiers[i - 1].closes_ms) {
		uint32_t prev = drop_tier_quota(tiers, ntiers, i - 1, now);
		if (prev == UINT32_MAX) {
			return UINT32_MAX;
		}
		if (prev > tiers[i - 1].sold) {
			q += prev - tiers[i - 1].sold;
		}
	}
	return q >= UINT32_MAX ? UINT32_MAX - 1 : (uint32_t)q;
}

drop_verdict drop_check(drop_state state, const drop_tier *tiers, size_t ntiers,
    const char *tier, int64_t now, bool is_insider, uint32_t qty, int *tier_idx)
{
	*tier_idx = -1;
	if (state == DROP_DRAFT) {
		return DROP_NOT_OPEN;
	}
	if (state == DROP_CLOSED) {
		return DROP_WINDOW_CLOSED;
	}
	int i = drop_tier_find(tiers, ntiers, tier);
	if (i < 0) {
		return DROP_TIER_NOT_ALLOWED;
	}
	*tier_idx = i;
	const drop_tier *t = &tiers[i];
	if (t->insiders_only && !is_insider) {
		return DROP_TIER_NOT_ALLOWED;
	}
	if (now < t->opens_ms) {
		return DROP_NOT_OPEN;
	}
	if (now >= t->closes_ms) {
		return DROP_WINDOW_CLOSED;
	}
	uint32_t quota = drop_tier_quota(tiers, ntiers, (size_t)i, now);
	if (quota != UINT32_MAX && (uint64_t)t->sold + qty > quota) {
		return DROP_QUOTA_EXHAUSTED;
	}
	return DROP_OK;
}

drop_verdict drop_check_limit(uint32_t limit, uint32_t bought, uint32_t qty)
{
	if (limit != 0 && (uint64_t)bought + qty > limit) {
		return DROP_LIMIT_REACHED;
	}
	return DROP_OK;
}

int64_t drop_holdback_units(int64_t units, double pct)
{
	if (units <= 0 || !(pct > 0)) {
		return 0;
	}
	if (pct >= 100) {
		return units;
	}
	/* The tiny epsilon keeps 30% of 10 at 3 despite binary rounding. */
	return (int64_t)floor((double)units * pct / 100.0 + 1e-9);
}

bool drop_gift_applies(drop_gift_kind kind, uint32_t n, bool first_order,
    uint64_t nth, uint32_t qty)
{
	switch (kind) {
	case DROP_GIFT_FIRST_ORDER: return first_order;
	case DROP_GIFT_EVERY_NTH: return n > 0 && nth > 0 && nth % n == 0;
	case DROP_GIFT_MIN_QTY: return n > 0 && qty >= n;
	default: return false;
	}
}

size_t drop_releases_due(const drop_tier *tiers, size_t ntiers, const bool *released,
    int64_t now, size_t *out)
{
	size_t n = 0;
	for (size_t i = 0; i < ntiers && i < DROP_TIERS_MAX; i++) {
		if (tiers[i].release_holdback && !released[i] && now >= tiers[i].opens_ms) {
			out[n++] = i;
		}
	}
	return n;
}
