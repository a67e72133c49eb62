/*
 * drop_spec.c - the Drop message of `dropctl drop create` from an INI file
 * and/or flags, and the time syntax of tier windows (see drop_spec.h).
 *
 * The client checks shape (numbers are numbers, times parse, windows are in
 * order) so that a typo is caught before anything is sent; the coordinator
 * is still the one validator that counts and answers INVALID with its own
 * message for the rest (unknown hubs, placement not adding up, ...).
 */
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "core/err.h"
#include "dropctl.h"
#include "drop_spec.h"

static int spec_err(drop_spec *s, int rv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int spec_err(drop_spec *s, int rv, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	return rv;
}

void drop_spec_init(drop_spec *s)
{
	Dropnet__Drop d = DROPNET__DROP__INIT;
	Dropnet__GiftRule g = DROPNET__GIFT_RULE__INIT;

	memset(s, 0, sizeof(*s));
	s->drop = d;
	s->gift = g;
	s->drop.skus = s->skus;
	s->drop.tiers = s->tiers;
}

/* protobuf-c's INIT points strings at a shared static empty string: only
 * what we strdup'd may be freed. */
static void spec_str_free(char *p)
{
	if (p != NULL && p[0] != '\0') {
		free(p);
	}
}

void drop_spec_fini(drop_spec *s)
{
	if (s == NULL) {
		return;
	}
	for (size_t k = 0; k < s->drop.n_skus; k++) {
		Dropnet__DropSku *sk = s->skus[k];
		for (size_t h = 0; h < sk->n_placement; h++) {
			spec_str_free(sk->placement[h]->hub);
			free(sk->placement[h]);
		}
		free(sk->placement);
		spec_str_free(sk->sku);
		free(sk);
	}
	for (size_t k = 0; k < s->drop.n_tiers; k++) {
		spec_str_free(s->tiers[k]->name);
		free(s->tiers[k]);
	}
	for (size_t k = 0; k < s->ninsiders; k++) {
		free(s->insiders[k]);
	}
	free(s->insiders);
	spec_str_free(s->drop.id);
	spec_str_free(s->drop.name);
	spec_str_free(s->gift.sku);
	memset(s, 0, sizeof(*s));
}

/* Replaces *dst (a string we own or the INIT empty string) with a copy. */
static int spec_str_set(drop_spec *s, char **dst, const char *v, size_t len)
{
	char *c = strndup(v, len);
	if (c == NULL) {
		return spec_err(s, DN_ENOMEM, "out of memory");
	}
	spec_str_free(*dst);
	*dst = c;
	return 0;
}

static int spec_id_check(drop_spec *s, const char *what, const char *v,
    size_t len)
{
	if (len == 0) {
		return spec_err(s, DN_EINVAL, "empty %s", what);
	}
	if (len > DN_ID_MAX) {
		return spec_err(s, DN_EINVAL, "%s '%.*s' longer than %u bytes",
		    what, (int)len, v, DN_ID_MAX);
	}
	return 0;
}

int drop_spec_set_id(drop_spec *s, const char *id)
{
	int rv = spec_id_check(s, "drop id", id, strlen(id));
	return rv != 0 ? rv : spec_str_set(s, &s->drop.id, id, strlen(id));
}

int drop_spec_set_name(drop_spec *s, const char *name)
{
	return spec_str_set(s, &s->drop.name, name, strlen(name));
}

/* ---- numbers and times ---- */

static int spec_u32(drop_spec *s, const char *what, const char *v,
    uint32_t *out)
{
	int rv = dropctl_parse_u32(v, out);
	if (rv != 0) {
		return spec_err(s, rv, "%s '%s' is not a whole number 0..%u",
		    what, v, UINT32_MAX);
	}
	return 0;
}

static int spec_pct(drop_spec *s, const char *v, double *out)
{
	if (dropctl_parse_double(v, out) != 0 || !(*out >= 0.0 && *out <= 100.0)) {
		return spec_err(s, DN_EINVAL,
		    "holdback '%s' is not a percentage 0..100", v);
	}
	return 0;
}

static int spec_bool(drop_spec *s, const char *what, const char *v, bool *out)
{
	if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 ||
	    strcmp(v, "1") == 0 || strcasecmp(v, "on") == 0) {
		*out = true;
		return 0;
	}
	if (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0 ||
	    strcmp(v, "0") == 0 || strcasecmp(v, "off") == 0) {
		*out = false;
		return 0;
	}
	return spec_err(s, DN_EINVAL, "%s '%s' is not yes or no", what, v);
}

int drop_spec_duration_parse(const char *v, int64_t *out_ms)
{
	int64_t total = 0;
	const char *p = v;

	if (v == NULL || *v == '\0') {
		return DN_EINVAL;
	}
	while (*p != '\0') {
		char *end = NULL;
		if (*p < '0' || *p > '9') {
			return DN_EINVAL;
		}
		errno = 0;
		long long n = strtoll(p, &end, 10);
		if (errno != 0 || end == p) {
			return DN_EINVAL;
		}
		int64_t unit;
		if (strncmp(end, "ms", 2) == 0) {
			unit = 1;
			end += 2;
		} else if (*end == 's') {
			unit = 1000;
			end++;
		} else if (*end == 'm') {
			unit = 60 * 1000;
			end++;
		} else if (*end == 'h') {
			unit = 3600 * 1000;
			end++;
		} else if (*end == 'd') {
			unit = 86400 * 1000;
			end++;
		} else {
			return DN_EINVAL;
		}
		/* A hundred years is past any drop; refusing it keeps the
		 * arithmetic far from overflow. */
		if (n > 36500LL * 86400 * 1000 / unit) {
			return DN_EINVAL;
		}
		total += (int64_t)n * unit;
		p = end;
	}
	*out_ms = total;
	return 0;
}

/* "YYYY-MM-DDTHH:MM:SS[.fff]Z" -> epoch ms. */
static int spec_rfc3339(const char *v, int64_t *out)
{
	struct tm tm;
	char *end;
	int64_t frac = 0;

	memset(&tm, 0, sizeof(tm));
	end = strptime(v, "%Y-%m-%dT%H:%M:%S", &tm);
	if (end == NULL) {
		return DN_EINVAL;
	}
	if (*end == '.') {
		int digits = 0;
		end++;
		while (*end >= '0' && *end <= '9') {
			if (digits < 3) {
				frac = frac * 10 + (*end - '0');
			}
			digits++;
			end++;
		}
		if (digits == 0) {
			return DN_EINVAL;
		}
		for (; digits < 3; digits++) {
			frac *= 10;
		}
	}
	if (strcmp(end, "Z") != 0) {
		return DN_EINVAL;
	}
	time_t t = timegm(&tm);
	if (t < 0) {
		return DN_EINVAL;
	}
	*out = (int64_t)t * 1000 + frac;
	return 0;
}

int drop_spec_time_parse(const char *v, int64_t base_ms, int64_t *out)
{
	int64_t d = 0;

	if (v == NULL || *v == '\0') {
		return DN_EINVAL;
	}
	if (strcmp(v, "now") == 0) {
		*out = base_ms;
		return 0;
	}
	if (v[0] == '+') {
		if (drop_spec_duration_parse(v + 1, &d) != 0) {
			return DN_EINVAL;
		}
		*out = base_ms + d;
		return 0;
	}
	if (strchr(v, 'T') != NULL) {
		return spec_rfc3339(v, out);
	}
	/* Epoch ms: at least 2001-09-09 (13 digits), so a bare "30" typed
	 * for "+30m" is refused rather than read as 1970. */
	if (dropctl_parse_i64(v, 1000000000000LL, INT64_MAX / 2, &d) != 0) {
		return DN_EINVAL;
	}
	*out = d;
	return 0;
}

/* ---- SKUs ---- */

static Dropnet__DropSku *spec_sku_find(drop_spec *s, const char *sku,
    size_t len)
{
	for (size_t k = 0; k < s->drop.n_skus; k++) {
		if (strlen(s->skus[k]->sku) == len &&
		    strncmp(s->skus[k]->sku, sku, len) == 0) {
			return s->skus[k];
		}
	}
	return NULL;
}

/* Returns the SKU named sku, adding it when new. */
static int spec_sku_get(drop_spec *s, const char *sku, size_t len,
    Dropnet__DropSku **out)
{
	int rv;

	if ((*out = spec_sku_find(s, sku, len)) != NULL) {
		return 0;
	}
	if ((rv = spec_id_check(s, "sku", sku, len)) != 0) {
		return rv;
	}
	if (s->drop.n_skus >= DROP_SKUS_MAX) {
		return spec_err(s, DN_ERANGE, "more than %u SKUs in one drop",
		    DROP_SKUS_MAX);
	}
	Dropnet__DropSku init = DROPNET__DROP_SKU__INIT;
	Dropnet__DropSku *sk = malloc(sizeof(*sk));
	if (sk == NULL) {
		return spec_err(s, DN_ENOMEM, "out of memory");
	}
	*sk = init;
	if ((rv = spec_str_set(s, &sk->sku, sku, len)) != 0) {
		free(sk);
		return rv;
	}
	s->skus[s->drop.n_skus++] = sk;
	*out = sk;
	return 0;
}

/* Splits v at ':' into at most max fields (copied into buf). */
static size_t spec_split(char *buf, size_t buflen, const char *v,
    char **fields, size_t max)
{
	size_t n = 0;
	snprintf(buf, buflen, "%s", v);
	char *p = buf;
	while (n < max) {
		fields[n++] = p;
		char *c = strchr(p, ':');
		if (c == NULL) {
			break;
		}
		*c = '\0';
		p = c + 1;
	}
	return n;
}

int drop_spec_sku_flag(drop_spec *s, const char *v)
{
	char buf[256];
	char *f[5];
	Dropnet__DropSku *sk = NULL;
	int rv;

	if (strlen(v) >= sizeof(buf)) {
		return spec_err(s, DN_EINVAL, "--sku value too long");
	}
	size_t n = spec_split(buf, sizeof(buf), v, f, 5);
	if (n < 2 || n > 4) {
		return spec_err(s, DN_EINVAL,
		    "--sku wants SKU:UNITS[:HOLDBACK_PCT[:LIMIT]], not '%s'", v);
	}
	if ((rv = spec_sku_get(s, f[0], strlen(f[0]), &sk)) != 0 ||
	    (rv = spec_u32(s, "units", f[1], &sk->units)) != 0) {
		return rv;
	}
	if (n >= 3 && (rv = spec_pct(s, f[2], &sk->holdback_pct)) != 0) {
		return rv;
	}
	if (n >= 4 &&
	    (rv = spec_u32(s, "limit per buyer", f[3], &sk->limit_per_buyer)) !=
		0) {
		return rv;
	}
	return 0;
}

static void spec_placement_clear(Dropnet__DropSku *sk)
{
	for (size_t h = 0; h < sk->n_placement; h++) {
		spec_str_free(sk->placement[h]->hub);
		free(sk->placement[h]);
	}
	free(sk->placement);
	sk->placement = NULL;
	sk->n_placement = 0;
}

static int spec_placement_set(drop_spec *s, Dropnet__DropSku *sk,
    const char *v)
{
	spec_placement_clear(sk);
	sk->placement_proportional = false;
	if (strcmp(v, "proportional") == 0) {
		sk->placement_proportional = true;
		return 0;
	}
	/* The coordinator refuses more than its coordinator.hubs_max. */
	sk->placement = calloc(DN_HUBS_CAP, sizeof(*sk->placement));
	if (sk->placement == NULL) {
		return spec_err(s, DN_ENOMEM, "out of memory");
	}
	const char *p = v;
	while (*p != '\0') {
		const char *comma = strchr(p, ',');
		size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		char item[DN_ID_MAX + 32];
		if (len == 0 || len >= sizeof(item)) {
			return spec_err(s, DN_EINVAL,
			    "placement wants HUB:UNITS,... or proportional, "
			    "not '%s'", v);
		}
		memcpy(item, p, len);
		item[len] = '\0';
		char *colon = strrchr(item, ':');
		uint32_t units = 0;
		int rv;
		if (colon == NULL || colon == item) {
			return spec_err(s, DN_EINVAL,
			    "placement item '%s' is not HUB:UNITS", item);
		}
		*colon = '\0';
		if ((rv = spec_u32(s, "placement units", colon + 1, &units)) !=
			0 ||
		    (rv = spec_id_check(s, "hub", item, strlen(item))) != 0) {
			return rv;
		}
		if (sk->n_placement >= DN_HUBS_CAP) {
			return spec_err(s, DN_ERANGE, "more than %u hubs",
			    DN_HUBS_CAP);
		}
		Dropnet__HubUnits init = DROPNET__HUB_UNITS__INIT;
		Dropnet__HubUnits *hu = malloc(sizeof(*hu));
		if (hu == NULL) {
			return spec_err(s, DN_ENOMEM, "out of memory");
		}
		*hu = init;
		hu->units = units;
		sk->placement[sk->n_placement++] = hu;
		if ((rv = spec_str_set(s, &hu->hub, item, strlen(item))) != 0) {
			return rv;
		}
		p += len;
		if (*p == ',') {
			p++;
		}
	}
	return 0;
}

int drop_spec_placement_flag(drop_spec *s, const char *v)
{
	if (s->drop.n_skus == 0) {
		return spec_err(s, DN_EINVAL,
		    "--placement applies to the --sku before it; none given");
	}
	return spec_placement_set(s, s->skus[s->drop.n_skus - 1], v);
}

/* ---- tiers ---- */

static int spec_tier_get(drop_spec *s, const char *name, size_t len,
    Dropnet__Tier **out, size_t *idx)
{
	int rv;
	for (size_t k = 0; k < s->drop.n_tiers; k++) {
		if (strlen(s->tiers[k]->name) == len &&
		    strncmp(s->tiers[k]->name, name, len) == 0) {
			*out = s->tiers[k];
			*idx = k;
			return 0;
		}
	}
	if ((rv = spec_id_check(s, "tier name", name, len)) != 0) {
		return rv;
	}
	if (s->drop.n_tiers >= DROP_TIERS_MAX) {
		return spec_err(s, DN_ERANGE, "more than %u tiers in one drop",
		    DROP_TIERS_MAX);
	}
	Dropnet__Tier init = DROPNET__TIER__INIT;
	Dropnet__Tier *t = malloc(sizeof(*t));
	if (t == NULL) {
		return spec_err(s, DN_ENOMEM, "out of memory");
	}
	*t = init;
	if ((rv = spec_str_set(s, &t->name, name, len)) != 0) {
		free(t);
		return rv;
	}
	*idx = s->drop.n_tiers;
	s->tiers[s->drop.n_tiers++] = t;
	*out = t;
	return 0;
}

/* Reads one time token from *p up to the next ':' - except that an RFC
 * 3339 time (it has a 'T' after a date) keeps its colons up to its 'Z'. */
static int spec_time_token(const char **p, char *out, size_t outlen)
{
	const char *a = *p;
	const char *end;
	if (strlen(a) >= 11 && a[4] == '-' && a[7] == '-' && a[10] == 'T') {
		const char *z = strchr(a, 'Z');
		if (z == NULL) {
			return DN_EINVAL;
		}
		end = z + 1;
	} else {
		end = strchr(a, ':');
		if (end == NULL) {
			end = a + strlen(a);
		}
	}
	size_t len = (size_t)(end - a);
	if (len == 0 || len >= outlen) {
		return DN_EINVAL;
	}
	memcpy(out, a, len);
	out[len] = '\0';
	*p = *end == ':' ? end + 1 : end;
	return 0;
}

static int spec_tier_flags(drop_spec *s, Dropnet__Tier *t, const char *v)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", v);
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "rollover") == 0) {
			t->rollover = true;
		} else if (strcmp(tok, "insiders") == 0) {
			t->insiders_only = true;
		} else if (strcmp(tok, "release") == 0) {
			t->release_holdback = true;
		} else {
			return spec_err(s, DN_EINVAL,
			    "tier flag '%s' is not rollover, insiders or "
			    "release", tok);
		}
	}
	return 0;
}

int drop_spec_tier_flag(drop_spec *s, const char *v)
{
	const char *colon = strchr(v, ':');
	const char *p;
	char opens[DROP_SPEC_TIME_MAX], closes[DROP_SPEC_TIME_MAX];
	Dropnet__Tier *t = NULL;
	size_t idx = 0;
	int rv;

	if (colon == NULL) {
		goto usage;
	}
	p = colon + 1;
	if (spec_time_token(&p, opens, sizeof(opens)) != 0 ||
	    spec_time_token(&p, closes, sizeof(closes)) != 0) {
		goto usage;
	}
	if ((rv = spec_tier_get(s, v, (size_t)(colon - v), &t, &idx)) != 0) {
		return rv;
	}
	snprintf(s->opens_s[idx], DROP_SPEC_TIME_MAX, "%s", opens);
	snprintf(s->closes_s[idx], DROP_SPEC_TIME_MAX, "%s", closes);
	if (*p != '\0') {
		char quota[32];
		const char *q = strchr(p, ':');
		size_t len = q != NULL ? (size_t)(q - p) : strlen(p);
		if (len >= sizeof(quota)) {
			goto usage;
		}
		memcpy(quota, p, len);
		quota[len] = '\0';
		/* An empty quota ("NAME:O:C::release") is no quota. */
		t->quota = 0;
		if (len > 0 && (rv = spec_u32(s, "quota", quota, &t->quota)) != 0) {
			return rv;
		}
		if (q != NULL && (rv = spec_tier_flags(s, t, q + 1)) != 0) {
			return rv;
		}
	}
	return 0;
usage:
	return spec_err(s, DN_EINVAL,
	    "--tier wants NAME:OPENS:CLOSES[:QUOTA[:FLAGS]], not '%s'", v);
}

/* ---- gift and insiders ---- */

const char *drop_spec_gift_kind_name(Dropnet__GiftKind k)
{
	switch (k) {
	case DROPNET__GIFT_KIND__GIFT_FIRST_ORDER: return "first_order";
	case DROPNET__GIFT_KIND__GIFT_EVERY_NTH: return "every_nth";
	case DROPNET__GIFT_KIND__GIFT_MIN_QTY: return "min_qty";
	default: return "none";
	}
}

int drop_spec_gift_kind_parse(const char *v, Dropnet__GiftKind *out)
{
	if (strcmp(v, "first_order") == 0) {
		*out = DROPNET__GIFT_KIND__GIFT_FIRST_ORDER;
	} else if (strcmp(v, "every_nth") == 0) {
		*out = DROPNET__GIFT_KIND__GIFT_EVERY_NTH;
	} else if (strcmp(v, "min_qty") == 0) {
		*out = DROPNET__GIFT_KIND__GIFT_MIN_QTY;
	} else {
		return DN_EINVAL;
	}
	return 0;
}

static int spec_gift_check(drop_spec *s)
{
	if (s->gift.kind != DROPNET__GIFT_KIND__GIFT_FIRST_ORDER &&
	    s->gift.n == 0) {
		return spec_err(s, DN_EINVAL, "gift rule %s needs n >= 1",
		    drop_spec_gift_kind_name(s->gift.kind));
	}
	return 0;
}

int drop_spec_gift_flag(drop_spec *s, const char *v)
{
	char buf[256];
	char *f[4];
	int rv;

	if (strlen(v) >= sizeof(buf)) {
		return spec_err(s, DN_EINVAL, "--gift value too long");
	}
	size_t n = spec_split(buf, sizeof(buf), v, f, 4);
	if (n < 2 || n > 3 || drop_spec_gift_kind_parse(f[1], &s->gift.kind) != 0) {
		return spec_err(s, DN_EINVAL,
		    "--gift wants SKU:first_order, SKU:every_nth:N or "
		    "SKU:min_qty:N, not '%s'", v);
	}
	if ((rv = spec_id_check(s, "gift sku", f[0], strlen(f[0]))) != 0 ||
	    (rv = spec_str_set(s, &s->gift.sku, f[0], strlen(f[0]))) != 0) {
		return rv;
	}
	s->gift.n = 0;
	if (n == 3 && (rv = spec_u32(s, "gift n", f[2], &s->gift.n)) != 0) {
		return rv;
	}
	s->drop.gift = &s->gift;
	return spec_gift_check(s);
}

int drop_spec_insiders_add(drop_spec *s, const char *list)
{
	const char *p = list;
	while (*p != '\0') {
		while (*p == ' ' || *p == ',') {
			p++;
		}
		size_t len = strcspn(p, ", ");
		if (len == 0) {
			break;
		}
		int rv = spec_id_check(s, "insider", p, len);
		if (rv != 0) {
			return rv;
		}
		if (s->ninsiders >= DROP_SPEC_INSIDERS_MAX) {
			return spec_err(s, DN_ERANGE, "more than %u insiders",
			    DROP_SPEC_INSIDERS_MAX);
		}
		if (s->insiders == NULL) {
			s->insiders = calloc(DROP_SPEC_INSIDERS_MAX,
			    sizeof(*s->insiders));
			if (s->insiders == NULL) {
				return spec_err(s, DN_ENOMEM, "out of memory");
			}
		}
		if ((s->insiders[s->ninsiders] = strndup(p, len)) == NULL) {
			return spec_err(s, DN_ENOMEM, "out of memory");
		}
		s->ninsiders++;
		p += len;
	}
	s->drop.insiders = s->insiders;
	s->drop.n_insiders = s->ninsiders;
	return 0;
}

/* ---- INI file ---- */

typedef struct {
	drop_spec *s;
	int rv;
	int line;
} spec_ini;

/* ---- prices ---- */

int drop_spec_set_currency(drop_spec *s, const char *v)
{
	if (strlen(v) >= sizeof(s->currency)) {
		return spec_err(s, DN_EINVAL, "currency '%s' is not an ISO 4217 code", v);
	}
	snprintf(s->currency, sizeof(s->currency), "%s", v);
	s->drop.currency = s->currency;
	return 0;
}

static int spec_i64(drop_spec *s, const char *what, const char *v, int64_t min,
    int64_t max, int64_t *out)
{
	if (dropctl_parse_i64(v, min, max, out) != 0) {
		return spec_err(s, DN_EINVAL, "%s '%s' is not a whole number %lld..%lld",
		    what, v, (long long)min, (long long)max);
	}
	return 0;
}

/* Sets sk's price in tier (len bytes) to minor (text). */
static int spec_price_set(drop_spec *s, Dropnet__DropSku *sk, const char *tier,
    size_t len, const char *minor)
{
	size_t k = 0;
	while (k < s->drop.n_skus && s->skus[k] != sk) {
		k++;
	}
	int64_t p = 0;
	int rv = spec_id_check(s, "tier", tier, len);
	if (rv != 0 || (rv = spec_i64(s, "price", minor, 0, INT64_MAX, &p)) != 0) {
		return rv;
	}
	size_t i = 0;
	while (i < sk->n_prices && (strlen(sk->prices[i]->tier) != len ||
	    strncmp(sk->prices[i]->tier, tier, len) != 0)) {
		i++;
	}
	if (i == DROP_TIERS_MAX) {
		return spec_err(s, DN_ERANGE, "more than %u prices for %s", DROP_TIERS_MAX,
		    sk->sku);
	}
	if (i == sk->n_prices) {
		Dropnet__TierPrice init = DROPNET__TIER_PRICE__INIT;
		s->price_mem[k][i] = init;
		snprintf(s->price_tier[k][i], sizeof(s->price_tier[k][i]), "%.*s", (int)len,
		    tier);
		s->price_mem[k][i].tier = s->price_tier[k][i];
		s->price_ptr[k][i] = &s->price_mem[k][i];
		sk->prices = s->price_ptr[k];
		sk->n_prices++;
	}
	s->price_mem[k][i].price_minor = p;
	return 0;
}

/* "TIER:MINOR,TIER:MINOR..." for sk. */
static int spec_prices_set(drop_spec *s, Dropnet__DropSku *sk, const char *v)
{
	char buf[1024];
	if (strlen(v) >= sizeof(buf)) {
		return spec_err(s, DN_EINVAL, "prices value too long");
	}
	snprintf(buf, sizeof(buf), "%s", v);
	char *save = NULL;
	for (char *tok = strtok_r(buf, ", ", &save); tok != NULL;
	    tok = strtok_r(NULL, ", ", &save)) {
		char *colon = strchr(tok, ':');
		if (colon == NULL) {
			return spec_err(s, DN_EINVAL, "prices want TIER:MINOR,..., not '%s'", tok);
		}
		int rv = spec_price_set(s, sk, tok, (size_t)(colon - tok), colon + 1);
		if (rv != 0) {
			return rv;
		}
	}
	return 0;
}

int drop_spec_price_flag(drop_spec *s, const char *v)
{
	char buf[256];
	char *f[4];
	Dropnet__DropSku *sk = NULL;
	if (strlen(v) >= sizeof(buf) || spec_split(buf, sizeof(buf), v, f, 4) != 3) {
		return spec_err(s, DN_EINVAL, "--price wants SKU:TIER:MINOR, not '%s'", v);
	}
	int rv = spec_sku_get(s, f[0], strlen(f[0]), &sk);
	return rv != 0 ? rv : spec_price_set(s, sk, f[1], strlen(f[1]), f[2]);
}

int drop_spec_bounds_flag(drop_spec *s, const char *v)
{
	char buf[256];
	char *f[4];
	Dropnet__DropSku *sk = NULL;
	if (strlen(v) >= sizeof(buf) || spec_split(buf, sizeof(buf), v, f, 4) != 3) {
		return spec_err(s, DN_EINVAL, "--bounds wants SKU:FLOOR:CEILING, not '%s'", v);
	}
	int rv = spec_sku_get(s, f[0], strlen(f[0]), &sk);
	if (rv == 0) {
		rv = spec_i64(s, "floor", f[1], 0, INT64_MAX, &sk->floor_minor);
	}
	return rv != 0 ? rv : spec_i64(s, "ceiling", f[2], 0, INT64_MAX, &sk->ceiling_minor);
}

/* "MINUTES:PCT" / "N:PCT" into two numbers. */
static int spec_pair(drop_spec *s, const char *what, const char *v, uint32_t *a,
    int32_t *pct, int32_t pct_min)
{
	char buf[64];
	char *f[3];
	int64_t p = 0;
	if (strlen(v) >= sizeof(buf) || spec_split(buf, sizeof(buf), v, f, 3) != 2) {
		return spec_err(s, DN_EINVAL, "%s wants N:PERCENT, not '%s'", what, v);
	}
	int rv = spec_u32(s, what, f[0], a);
	if (rv == 0 && (rv = spec_i64(s, "percent", f[1], pct_min, 100, &p)) == 0) {
		*pct = (int32_t)p;
	}
	return rv;
}

static int spec_rule_set(drop_spec *s, Dropnet__DropSku *sk, const char *rule,
    const char *v)
{
	int32_t pct = 0;
	int64_t p = 0;
	int rv;
	if (strcmp(rule, "early_bird") == 0) {
		rv = spec_pair(s, "early_bird", v, &sk->early_bird_minutes, &pct, 0);
		sk->early_bird_off_pct = (uint32_t)pct;
		return rv;
	}
	if (strcmp(rule, "last_units") == 0) {
		return spec_pair(s, "last_units", v, &sk->last_units, &sk->last_units_pct, -100);
	}
	if (strcmp(rule, "demand") == 0 || strcmp(rule, "demand_max_pct") == 0) {
		rv = spec_i64(s, "demand percent", v, 0, 900, &p);
		sk->demand_max_pct = (uint32_t)p;
		return rv;
	}
	return spec_err(s, DN_EINVAL, "unknown price rule '%s' (early_bird, last_units,"
	    " demand)", rule);
}

int drop_spec_rule_flag(drop_spec *s, const char *v)
{
	char buf[256];
	const char *c1 = strchr(v, ':');
	const char *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
	Dropnet__DropSku *sk = NULL;
	if (c2 == NULL || strlen(v) >= sizeof(buf)) {
		return spec_err(s, DN_EINVAL, "--rule wants SKU:RULE:VALUES, not '%s'", v);
	}
	snprintf(buf, sizeof(buf), "%.*s", (int)(c2 - c1 - 1), c1 + 1);
	int rv = spec_sku_get(s, v, (size_t)(c1 - v), &sk);
	return rv != 0 ? rv : spec_rule_set(s, sk, buf, c2 + 1);
}

/* The [sku NAME] keys of prices; 1 when key is none of them. */
static int spec_ini_sku_price(drop_spec *s, Dropnet__DropSku *sk, const char *key,
    const char *v)
{
	if (strcmp(key, "prices") == 0) {
		return spec_prices_set(s, sk, v);
	}
	if (strcmp(key, "floor") == 0) {
		return spec_i64(s, "floor", v, 0, INT64_MAX, &sk->floor_minor);
	}
	if (strcmp(key, "ceiling") == 0) {
		return spec_i64(s, "ceiling", v, 0, INT64_MAX, &sk->ceiling_minor);
	}
	if (strcmp(key, "early_bird") == 0 || strcmp(key, "last_units") == 0 ||
	    strcmp(key, "demand_max_pct") == 0) {
		return spec_rule_set(s, sk, key, v);
	}
	return 1;
}

static int spec_ini_drop(drop_spec *s, const char *key, const char *v)
{
	if (strcmp(key, "id") == 0) {
		return drop_spec_set_id(s, v);
	}
	if (strcmp(key, "name") == 0) {
		return drop_spec_set_name(s, v);
	}
	if (strcmp(key, "insiders") == 0) {
		return drop_spec_insiders_add(s, v);
	}
	if (strcmp(key, "currency") == 0) {
		return drop_spec_set_currency(s, v);
	}
	return spec_err(s, DN_EINVAL, "unknown key '%s' in [drop]", key);
}

static int spec_ini_sku(drop_spec *s, const char *sku, const char *key,
    const char *v)
{
	Dropnet__DropSku *sk = NULL;
	int rv = spec_sku_get(s, sku, strlen(sku), &sk);
	if (rv != 0) {
		return rv;
	}
	if (strcmp(key, "units") == 0) {
		return spec_u32(s, "units", v, &sk->units);
	}
	if (strcmp(key, "holdback_pct") == 0) {
		return spec_pct(s, v, &sk->holdback_pct);
	}
	if (strcmp(key, "limit_per_buyer") == 0) {
		return spec_u32(s, "limit_per_buyer", v, &sk->limit_per_buyer);
	}
	if (strcmp(key, "placement") == 0) {
		return spec_placement_set(s, sk, v);
	}
	if ((rv = spec_ini_sku_price(s, sk, key, v)) != 1) {
		return rv;
	}
	return spec_err(s, DN_EINVAL, "unknown key '%s' in [sku %s]", key, sku);
}

static int spec_ini_tier(drop_spec *s, const char *name, const char *key,
    const char *v)
{
	Dropnet__Tier *t = NULL;
	size_t idx = 0;
	bool b = false;
	int rv = spec_tier_get(s, name, strlen(name), &t, &idx);
	if (rv != 0) {
		return rv;
	}
	if (strcmp(key, "opens") == 0 || strcmp(key, "closes") == 0) {
		char *dst = key[0] == 'o' ? s->opens_s[idx] : s->closes_s[idx];
		if (strlen(v) >= DROP_SPEC_TIME_MAX) {
			return spec_err(s, DN_EINVAL, "%s '%s' too long", key, v);
		}
		snprintf(dst, DROP_SPEC_TIME_MAX, "%s", v);
		return 0;
	}
	if (strcmp(key, "quota") == 0) {
		return spec_u32(s, "quota", v, &t->quota);
	}
	if (strcmp(key, "rollover") == 0) {
		rv = spec_bool(s, key, v, &b);
		t->rollover = b;
		return rv;
	}
	if (strcmp(key, "insiders_only") == 0) {
		rv = spec_bool(s, key, v, &b);
		t->insiders_only = b;
		return rv;
	}
	if (strcmp(key, "release_holdback") == 0) {
		rv = spec_bool(s, key, v, &b);
		t->release_holdback = b;
		return rv;
	}
	return spec_err(s, DN_EINVAL, "unknown key '%s' in [tier %s]", key,
	    name);
}

static int spec_ini_gift(drop_spec *s, const char *key, const char *v)
{
	int rv;
	s->drop.gift = &s->gift;
	if (strcmp(key, "sku") == 0) {
		if ((rv = spec_id_check(s, "gift sku", v, strlen(v))) != 0) {
			return rv;
		}
		return spec_str_set(s, &s->gift.sku, v, strlen(v));
	}
	if (strcmp(key, "rule") == 0) {
		if (drop_spec_gift_kind_parse(v, &s->gift.kind) != 0) {
			return spec_err(s, DN_EINVAL,
			    "gift rule '%s' is not first_order, every_nth or "
			    "min_qty", v);
		}
		return 0;
	}
	if (strcmp(key, "n") == 0) {
		return spec_u32(s, "gift n", v, &s->gift.n);
	}
	return spec_err(s, DN_EINVAL, "unknown key '%s' in [gift]", key);
}

static int spec_ini_handler(void *user, const char *section, const char *key,
    const char *value)
{
	spec_ini *ini = user;
	drop_spec *s = ini->s;
	int rv;

	if (strcmp(section, "drop") == 0) {
		rv = spec_ini_drop(s, key, value);
	} else if (strncmp(section, "sku ", 4) == 0) {
		rv = spec_ini_sku(s, section + 4, key, value);
	} else if (strncmp(section, "tier ", 5) == 0) {
		rv = spec_ini_tier(s, section + 5, key, value);
	} else if (strcmp(section, "gift") == 0) {
		rv = spec_ini_gift(s, key, value);
	} else {
		rv = spec_err(s, DN_EINVAL,
		    "unknown section [%s] (drop, sku NAME, tier NAME, gift)",
		    section);
	}
	if (rv != 0) {
		ini->rv = rv;
		return 0;
	}
	return 1;
}

int drop_spec_load_file(drop_spec *s, const char *path)
{
	spec_ini ini = { .s = s, .rv = 0 };
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		return spec_err(s, DN_ENOENT, "cannot open %s: %s", path,
		    strerror(errno));
	}
	int line = ini_parse_file(f, spec_ini_handler, &ini);
	fclose(f);
	if (line != 0) {
		char why[DROP_SPEC_ERR_MAX];
		snprintf(why, sizeof(why), "%s", ini.rv != 0 ? s->err
		    : "not a key = value line or [section]");
		return spec_err(s, ini.rv != 0 ? ini.rv : DN_EINVAL,
		    "%s:%d: %s", path, line, why);
	}
	if (s->drop.gift != NULL && s->gift.sku[0] == '\0') {
		return spec_err(s, DN_EINVAL, "%s: [gift] has no sku", path);
	}
	return s->drop.gift != NULL ? spec_gift_check(s) : 0;
}

/* ---- resolving times ---- */

static int spec_resolve_tier(drop_spec *s, size_t k, int64_t base_ms)
{
	Dropnet__Tier *t = s->tiers[k];
	const char *o = s->opens_s[k], *c = s->closes_s[k];
	int64_t d = 0;

	if (o[0] == '\0' || c[0] == '\0') {
		return spec_err(s, DN_EINVAL, "tier %s needs opens and closes",
		    t->name);
	}
	if (o[0] == '@') {
		if (k == 0) {
			return spec_err(s, DN_EINVAL,
			    "tier %s: '@' means after the previous tier, and "
			    "it is the first", t->name);
		}
		if (o[1] != '\0' && (o[1] != '+' ||
		    drop_spec_duration_parse(o + 2, &d) != 0)) {
			return spec_err(s, DN_EINVAL,
			    "tier %s: opens '%s' is not @ or @+DURATION",
			    t->name, o);
		}
		t->opens_ms = s->tiers[k - 1]->closes_ms + d;
	} else if (drop_spec_time_parse(o, base_ms, &t->opens_ms) != 0) {
		return spec_err(s, DN_EINVAL,
		    "tier %s: opens '%s' is not a time (RFC 3339 UTC, epoch "
		    "ms, now, +DURATION, @, @+DURATION)", t->name, o);
	}
	if (c[0] == '+') {
		if (drop_spec_duration_parse(c + 1, &d) != 0) {
			return spec_err(s, DN_EINVAL,
			    "tier %s: closes '%s' is not +DURATION", t->name, c);
		}
		t->closes_ms = t->opens_ms + d;
	} else if (drop_spec_time_parse(c, base_ms, &t->closes_ms) != 0) {
		return spec_err(s, DN_EINVAL,
		    "tier %s: closes '%s' is not a time (RFC 3339 UTC, epoch "
		    "ms, +DURATION after opens)", t->name, c);
	}
	if (t->closes_ms <= t->opens_ms) {
		return spec_err(s, DN_EINVAL, "tier %s closes before it opens",
		    t->name);
	}
	return 0;
}

int drop_spec_resolve(drop_spec *s, int64_t base_ms)
{
	int rv;

	if (s->drop.id[0] == '\0') {
		return spec_err(s, DN_EINVAL, "the drop needs an id");
	}
	if (s->drop.n_skus == 0) {
		return spec_err(s, DN_EINVAL, "the drop sells no SKU");
	}
	if (s->drop.n_tiers == 0) {
		return spec_err(s, DN_EINVAL, "the drop has no tier");
	}
	for (size_t k = 0; k < s->drop.n_tiers; k++) {
		if ((rv = spec_resolve_tier(s, k, base_ms)) != 0) {
			return rv;
		}
		if (k > 0 && s->tiers[k]->opens_ms < s->tiers[k - 1]->opens_ms) {
			return spec_err(s, DN_EINVAL,
			    "tier %s opens before tier %s: list tiers in "
			    "window order", s->tiers[k]->name,
			    s->tiers[k - 1]->name);
		}
	}
	return 0;
}
