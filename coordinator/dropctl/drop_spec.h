/*
 * drop_spec.h - building the Drop message of `dropctl drop create` from a
 * declarative INI file (deploy/drops/hoodie.ini), from flags, or both, and
 * the time syntax its tier windows are written in.
 *
 * Times (tier opens/closes, `clock set`):
 *   2026-11-27T18:00:00Z     RFC 3339, UTC only (a trailing Z), or
 *   1795802400000            epoch milliseconds, or
 *   now                      the base time, or
 *   +DUR                     base + DUR, where DUR is one or more NUMBER UNIT
 *                            pairs, UNIT one of ms s m h d ("+90s", "+1h30m").
 * The base is the coordinator's clock (OPS_CLOCK with clock_ms 0), so that a
 * drop created against a test clock lines up with it. Two forms only mean
 * something inside a tier:
 *   opens = @  or  @+DUR     when the previous tier closes (+ DUR)
 *   closes = +DUR            DUR after this tier opens (a window's length)
 * so "insider opens now for 30 min, public right after for 48 h" is
 *   --tier insider:now:+30m --tier public:@:+48h
 *
 * Ownership: a drop_spec owns every string and sub-message it points to;
 * drop_spec_fini releases them. Single-threaded.
 */
#ifndef DN_DROPCTL_DROP_SPEC_H
#define DN_DROPCTL_DROP_SPEC_H
#include <stdbool.h>
#include <stdint.h>
#include "core/drop.h"
#include "core/limits.h"
#include "io/codec.h"

/* Insiders one drop may name: a creator's inner circle, not a mailing
 * list. 4096 ids of DN_ID_MAX bytes keep the request under 300 KiB, well
 * below DN_MSG_MAX_BYTES. */
#define DROP_SPEC_INSIDERS_MAX 4096u

/* Longest time or duration string we accept ("2026-11-27T18:00:00Z" is
 * 20; "@+1d12h30m15s" is 13). */
#define DROP_SPEC_TIME_MAX 64u

/* Longest error message kept for the user. */
#define DROP_SPEC_ERR_MAX 256u

typedef struct {
	Dropnet__Drop drop;
	Dropnet__GiftRule gift;
	Dropnet__DropSku *skus[DROP_SKUS_MAX];
	Dropnet__Tier *tiers[DROP_TIERS_MAX];
	/* Time text per tier until drop_spec_resolve turns it into ms. */
	char opens_s[DROP_TIERS_MAX][DROP_SPEC_TIME_MAX];
	char closes_s[DROP_TIERS_MAX][DROP_SPEC_TIME_MAX];
	char **insiders;
	size_t ninsiders;
	/* Prices (issue 12): per SKU (index as in skus), per tier. */
	Dropnet__TierPrice price_mem[DROP_SKUS_MAX][DROP_TIERS_MAX];
	Dropnet__TierPrice *price_ptr[DROP_SKUS_MAX][DROP_TIERS_MAX];
	char price_tier[DROP_SKUS_MAX][DROP_TIERS_MAX][DN_ID_MAX + 1];
	char currency[16];
	char err[DROP_SPEC_ERR_MAX];
} drop_spec;

void drop_spec_init(drop_spec *s);
void drop_spec_fini(drop_spec *s);

/* Each setter returns 0, or DN_EINVAL / DN_ERANGE / DN_ENOMEM with s->err
 * saying what is wrong in words. */
int drop_spec_set_id(drop_spec *s, const char *id);
int drop_spec_set_name(drop_spec *s, const char *name);
/* "SKU:UNITS[:HOLDBACK_PCT[:LIMIT]]" */
int drop_spec_sku_flag(drop_spec *s, const char *v);
/* "NAME:OPENS:CLOSES[:QUOTA[:FLAGS]]", FLAGS a comma list of rollover,
 * insiders, release. RFC 3339 times may carry their colons. */
int drop_spec_tier_flag(drop_spec *s, const char *v);
/* "SKU:first_order" | "SKU:every_nth:N" | "SKU:min_qty:N" */
int drop_spec_gift_flag(drop_spec *s, const char *v);
/* "a,b,c": appended to the insider list. */
int drop_spec_insiders_add(drop_spec *s, const char *list);
/* "HUB:UNITS,HUB:UNITS..." or "proportional", for the last SKU added. */
int drop_spec_placement_flag(drop_spec *s, const char *v);

/* Prices (docs/prices.md), in minor units of the drop's currency:
 * "GBP" (three capital letters; the coordinator checks it). */
int drop_spec_set_currency(drop_spec *s, const char *v);
/* --price "SKU:TIER:MINOR" */
int drop_spec_price_flag(drop_spec *s, const char *v);
/* --bounds "SKU:FLOOR:CEILING" */
int drop_spec_bounds_flag(drop_spec *s, const char *v);
/* --rule "SKU:early_bird:MINUTES:PCT_OFF" | "SKU:last_units:N:PCT" |
 * "SKU:demand:MAX_PCT" */
int drop_spec_rule_flag(drop_spec *s, const char *v);

/* Reads an INI drop file (sections [drop], [sku NAME], [tier NAME],
 * [gift]; see deploy/drops/hoodie.ini). Tiers keep the file's order. */
int drop_spec_load_file(drop_spec *s, const char *path);

/* Turns every tier's time text into opens_ms/closes_ms against base_ms and
 * checks what a client can check (something to sell, windows in order,
 * opens < closes). The coordinator validates everything again. */
int drop_spec_resolve(drop_spec *s, int64_t base_ms);

/* Parses one time (see the header comment) without the tier-only forms.
 * Returns 0 or DN_EINVAL. */
int drop_spec_time_parse(const char *v, int64_t base_ms, int64_t *out);

/* Parses a duration "90s", "1h30m", "250ms" (no sign). 0 or DN_EINVAL. */
int drop_spec_duration_parse(const char *v, int64_t *out_ms);

/* Name of a gift kind ("first_order", ...) and back. */
const char *drop_spec_gift_kind_name(Dropnet__GiftKind k);
int drop_spec_gift_kind_parse(const char *v, Dropnet__GiftKind *out);

#endif
