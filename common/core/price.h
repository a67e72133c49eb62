/*
 * price.h - what a unit of a drop's SKU costs, decided by the drop's price
 * rules (issue 12). Pure: time, stock and the demand signal come in as
 * arguments, so a quote and the acceptance that follows it decide the same
 * price from the same inputs, and tests move time freely.
 *
 * Prices are integers in minor units of the drop's one ISO 4217 currency
 * (pence, cents). The rules, in the order they apply:
 *
 *   base        the SKU's price for the order's tier
 *   early_bird  the first early_bird_minutes of the tier: early_bird_off_pct
 *               percent off
 *   last_units  while at most last_units units of the SKU are left for sale
 *               in the network: last_units_pct percent up (or down, < 0)
 *   demand      the order's region demands more than its forecast (the
 *               spike detector's ratio of observed to expected): the price
 *               times that ratio, at most 1 + demand_max_pct / 100
 *   live        an operator's live price for the next M minutes replaces
 *               all of the above
 *
 * and then the floor and the ceiling the creator set clamp the result: no
 * rule and no combination of rules crosses them (the invariant every
 * answer is asserted against). Each answer carries the set of rules that
 * moved the price, so a buyer's receipt can say why.
 *
 * Thread model: none; everything is arguments and results.
 */
#ifndef DN_PRICE_H
#define DN_PRICE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest price of one unit, minor units: 10^11 (a billion in a currency
 * with cents) is beyond any drop, and 200x it stays far inside int64 for
 * the percent arithmetic. */
#define PRICE_MINOR_MAX 100000000000LL
/* Early-bird discount and last-units move, percent. */
#define PRICE_PCT_MAX 100
/* The demand multiplier may raise a price by at most this many percent
 * (x10): a spike is a signal, not a licence. */
#define PRICE_DEMAND_PCT_MAX 900
/* Rule windows: at most a week of minutes. */
#define PRICE_MINUTES_MAX 10080u
/* Longest text of price_rule_name. */
#define PRICE_RULE_NAME_MAX 64

typedef enum {
	PRICE_RULE_BASE = 0,
	PRICE_RULE_EARLY_BIRD = 1u << 0,
	PRICE_RULE_LAST_UNITS = 1u << 1,
	PRICE_RULE_DEMAND = 1u << 2,
	PRICE_RULE_LIVE = 1u << 3,
	PRICE_RULE_FLOOR = 1u << 4,   /* the result was clamped up to the floor */
	PRICE_RULE_CEILING = 1u << 5, /* ... down to the ceiling */
	PRICE_RULE_ARM = 1u << 6,     /* a price experiment's arm set the base
	                               * (the caller's; price_decide never sets it) */
} price_rule;

/* One SKU's rules in one tier. A zero count or percent turns a rule off. */
typedef struct {
	int64_t base_minor;          /* the tier's price */
	int64_t floor_minor;         /* no answer below it */
	int64_t ceiling_minor;       /* no answer above it */
	uint32_t early_bird_minutes; /* 0: off */
	uint32_t early_bird_off_pct; /* 0..PRICE_PCT_MAX */
	uint32_t last_units;         /* 0: off */
	int32_t last_units_pct;      /* -PRICE_PCT_MAX..PRICE_PCT_MAX */
	uint32_t demand_max_pct;     /* 0: off; up to PRICE_DEMAND_PCT_MAX */
} price_rules;

/* What the rules look at, for one order or quote. */
typedef struct {
	int64_t since_tier_open_ms;  /* now - the tier's opening (may be < 0) */
	int64_t units_left;          /* the SKU's sellable units, network-wide,
	                              * before this order */
	double demand_ratio;         /* region's observed / expected demand
	                              * (1: as forecast; <= 1 or not finite: no
	                              * effect) */
	bool live;                   /* an operator's live price is on */
	int64_t live_minor;
} price_input;

typedef struct {
	int64_t price_minor;         /* floor <= price <= ceiling */
	unsigned rules;              /* price_rule bits that moved it */
} price_answer;

/* 0 when r is consistent: 0 <= floor <= base <= ceiling <= PRICE_MINOR_MAX
 * and every rule parameter in its bounds; else DN_EINVAL with *why a
 * sentence naming the fault. */
int price_rules_check(const price_rules *r, const char **why);

/* The price of one unit under r for in. r must pass price_rules_check
 * (asserted); the answer is always within [floor, ceiling] (asserted). */
price_answer price_decide(const price_rules *r, const price_input *in);

/* Writes the rule set as text into buf (len >= PRICE_RULE_NAME_MAX):
 * "base", or the rules joined by '+' in the order they apply, e.g.
 * "early_bird+demand+ceiling". Returns buf. */
char *price_rule_name(unsigned rules, char *buf, size_t len);

/* True for three upper-case ASCII letters (the ISO 4217 shape; which codes
 * exist is the storefront's and the payment provider's business). */
bool price_currency_valid(const char *code);

#endif
