/*
 * price.c - the drop's price rules (see price.h for the order they apply
 * in and the invariant). Integer arithmetic in minor units; a percentage is
 * rounded half up, the demand multiplier to the nearest minor unit.
 */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "err.h"
#include "price.h"

int price_rules_check(const price_rules *r, const char **why)
{
	const char *w = NULL;
	if (r->floor_minor < 0) {
		w = "floor must be >= 0";
	} else if (r->ceiling_minor > PRICE_MINOR_MAX) {
		w = "ceiling is beyond the largest price";
	} else if (r->floor_minor > r->ceiling_minor) {
		w = "floor must not be above the ceiling";
	} else if (r->base_minor < r->floor_minor || r->base_minor > r->ceiling_minor) {
		w = "every tier's price must lie within floor and ceiling";
	} else if (r->early_bird_minutes > PRICE_MINUTES_MAX ||
	    r->early_bird_off_pct > PRICE_PCT_MAX) {
		w = "early bird: minutes 0..10080, percent off 0..100";
	} else if (r->last_units_pct < -PRICE_PCT_MAX || r->last_units_pct > PRICE_PCT_MAX) {
		w = "last units: percent -100..100";
	} else if (r->demand_max_pct > PRICE_DEMAND_PCT_MAX) {
		w = "demand: at most +900 percent";
	}
	if (why != NULL) {
		*why = w != NULL ? w : "";
	}
	return w != NULL ? DN_EINVAL : 0;
}

/* p moved by pct percent (-100..PRICE_DEMAND_PCT_MAX), half up, never < 0. */
static int64_t price_pct(int64_t p, int64_t pct)
{
	int64_t v = p * (100 + pct);
	return v <= 0 ? 0 : (v + 50) / 100;
}

static int64_t price_demand(const price_rules *r, int64_t p, double ratio)
{
	double max = 1.0 + (double)r->demand_max_pct / 100.0;
	double m = ratio > max ? max : ratio;
	return (int64_t)llround((double)p * m);
}

price_answer price_decide(const price_rules *r, const price_input *in)
{
	assert(price_rules_check(r, NULL) == 0);
	price_answer a = {r->base_minor, PRICE_RULE_BASE};
	if (in->live) {
		a.price_minor = in->live_minor < 0 ? 0 :
		    in->live_minor > PRICE_MINOR_MAX ? PRICE_MINOR_MAX : in->live_minor;
		a.rules |= PRICE_RULE_LIVE;
	} else {
		if (r->early_bird_minutes > 0 && r->early_bird_off_pct > 0 &&
		    in->since_tier_open_ms >= 0 &&
		    in->since_tier_open_ms < (int64_t)r->early_bird_minutes * 60000) {
			a.price_minor = price_pct(a.price_minor, -(int64_t)r->early_bird_off_pct);
			a.rules |= PRICE_RULE_EARLY_BIRD;
		}
		if (r->last_units > 0 && r->last_units_pct != 0 &&
		    in->units_left <= (int64_t)r->last_units) {
			a.price_minor = price_pct(a.price_minor, r->last_units_pct);
			a.rules |= PRICE_RULE_LAST_UNITS;
		}
		if (r->demand_max_pct > 0 && isfinite(in->demand_ratio) &&
		    in->demand_ratio > 1.0) {
			a.price_minor = price_demand(r, a.price_minor, in->demand_ratio);
			a.rules |= PRICE_RULE_DEMAND;
		}
	}
	if (a.price_minor < r->floor_minor) {
		a.price_minor = r->floor_minor;
		a.rules |= PRICE_RULE_FLOOR;
	} else if (a.price_minor > r->ceiling_minor) {
		a.price_minor = r->ceiling_minor;
		a.rules |= PRICE_RULE_CEILING;
	}
	assert(a.price_minor >= r->floor_minor && a.price_minor <= r->ceiling_minor);
	return a;
}

char *price_rule_name(unsigned rules, char *buf, size_t len)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
	    {PRICE_RULE_ARM, "arm"}, {PRICE_RULE_LIVE, "live"},
	    {PRICE_RULE_EARLY_BIRD, "early_bird"},
	    {PRICE_RULE_LAST_UNITS, "last_units"}, {PRICE_RULE_DEMAND, "demand"},
	    {PRICE_RULE_FLOOR, "floor"}, {PRICE_RULE_CEILING, "ceiling"},
	};
	assert(len >= PRICE_RULE_NAME_MAX);
	buf[0] = '\0';
	size_t used = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (rules & names[i].bit) {
			int n = snprintf(buf + used, len - used, "%s%s", used ? "+" : "",
			    names[i].name);
			used += (size_t)n;
		}
	}
	if (used == 0) {
		snprintf(buf, len, "base");
	}
	return buf;
}

bool price_currency_valid(const char *code)
{
	if (code == NULL || strlen(code) != 3) {
		return false;
	}
	for (size_t i = 0; i < 3; i++) {
		if (code[i] < 'A' || code[i] > 'Z') {
			return false;
		}
	}
	return true;
}
