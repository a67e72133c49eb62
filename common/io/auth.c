/*
 * auth.c - per-request identity (see auth.h). HMAC-SHA256 is mbedtls's
 * (libmbedcrypto: Debian's libnng is built on it, so it is always there).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mbedtls/md.h>
#include "core/err.h"
#include "core/validate.h"
#include "io/auth.h"

#define AUTH_DOMAIN "dropnet-auth-v1"
#define AUTH_MAC_BYTES 32u
/* A peers line: role, a DN_ID_MAX name, 64 hex digits and spaces. */
#define AUTH_LINE_MAX 256u

static const char *const auth_role_names[] = {
	[AUTH_ROLE_HUB] = "hub",
	[AUTH_ROLE_STOREFRONT] = "storefront",
	[AUTH_ROLE_READ_ONLY] = "read-only",
	[AUTH_ROLE_OPERATOR] = "operator",
	[AUTH_ROLE_ADMIN] = "admin",
};

const char *auth_role_name(auth_role r)
{
	return (unsigned)r <= AUTH_ROLE_ADMIN ? auth_role_names[r] : "unknown";
}

static int auth_role_parse(const char *s, auth_role *out)
{
	for (unsigned i = 0; i <= AUTH_ROLE_ADMIN; i++) {
		if (strcmp(s, auth_role_names[i]) == 0) {
			*out = (auth_role)i;
			return 0;
		}
	}
	return DN_EINVAL;
}

static int auth_hex(int ch)
{
	if (ch >= '0' && ch <= '9') {
		return ch - '0';
	}
	ch = tolower(ch);
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Exactly 2 * DN_AUTH_KEY_BYTES hex digits. */
static int auth_key_parse(const char *s, size_t len, uint8_t key[DN_AUTH_KEY_BYTES])
{
	if (len != 2 * DN_AUTH_KEY_BYTES) {
		return DN_EINVAL;
	}
	for (size_t i = 0; i < DN_AUTH_KEY_BYTES; i++) {
		int hi = auth_hex((unsigned char)s[2 * i]);
		int lo = auth_hex((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			return DN_EINVAL;
		}
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* One line (no newline, NUL-terminated, writable) into p: 1 a peer, 0 a
 * blank or comment line, DN_EINVAL with the reason in why. */
static int auth_line_parse(char *line, auth_peer *p, const char **why)
{
	char *save = NULL;
	char *role = strtok_r(line, " \t\r", &save);
	if (role == NULL || role[0] == '#') {
		return 0;
	}
	char *name = strtok_r(NULL, " \t\r", &save);
	char *key = strtok_r(NULL, " \t\r", &save);
	char *rest = strtok_r(NULL, " \t\r", &save);
	memset(p, 0, sizeof(*p));
	if (name == NULL || key == NULL || (rest != NULL && rest[0] != '#')) {
		*why = "want ROLE NAME KEYHEX";
		return DN_EINVAL;
	}
	if (auth_role_parse(role, &p->role) != 0) {
		*why = "role is not hub, storefront, read-only, operator or admin";
		return DN_EINVAL;
	}
	if (!validate_id(name)) {
		*why = "name is not an id (1..64 printable, no spaces)";
		return DN_EINVAL;
	}
	if (auth_key_parse(key, strlen(key), p->key) != 0) {
		*why = "key is not 64 hex digits";
		return DN_EINVAL;
	}
	snprintf(p->name, sizeof(p->name), "%s", name);
	return 1;
}

int auth_table_parse(const char *text, size_t len, auth_table **out, char *err,
    size_t err_len)
{
	*out = NULL;
	auth_table *t = calloc(1, sizeof(*t));
	if (t == NULL) {
		return DN_ENOMEM;
	}
	size_t cap = 0, lineno = 0, pos = 0;
	while (pos < len) {
		size_t end = pos;
		while (end < len && text[end] != '\n') {
			end++;
		}
		lineno++;
		char line[AUTH_LINE_MAX];
		const char *why = "line too long";
		int rv = DN_EINVAL;
		auth_peer p;
		if (end - pos < sizeof(line)) {
			memcpy(line, text + pos, end - pos);
			line[end - pos] = '\0';
			why = "NUL byte";
			if (strlen(line) == end - pos) {
				rv = auth_line_parse(line, &p, &why);
			}
		}
		pos = end + 1;
		if (rv == 1 && auth_table_find(t, p.name) != NULL) {
			why = "name twice";
			rv = DN_EINVAL;
		}
		if (rv == 1 && t->n >= DN_PEERS_MAX) {
			why = "more peers than DN_PEERS_MAX";
			rv = DN_EINVAL;
		}
		if (rv == DN_EINVAL) {
			snprintf(err, err_len, "line %zu: %s", lineno, why);
			auth_table_destroy(t);
			return DN_EINVAL;
		}
		if (rv == 0) {
			continue;
		}
		if (t->n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			auth_peer *np = realloc(t->peers, ncap * sizeof(*np));
			if (np == NULL) {
				auth_table_destroy(t);
				return DN_ENOMEM;
			}
			t->peers = np;
			cap = ncap;
		}
		t->peers[t->n++] = p;
	}
	/* The text it came from: a replicated group proposes it (a peers
	 * change is a log entry) and a genesis carries it. */
	t->text = malloc(len + 1);
	if (t->text == NULL) {
		auth_table_destroy(t);
		return DN_ENOMEM;
	}
	memcpy(t->text, text, len);
	t->text[len] = '\0';
	t->text_len = len;
	*out = t;
	return 0;
}

int auth_table_load(const char *path, auth_table **out, char *err, size_t err_len)
{
	*out = NULL;
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return DN_EINVAL;
	}
	size_t max = (size_t)DN_PEERS_MAX * AUTH_LINE_MAX;
	char *buf = malloc(max + 1);
	if (buf == NULL) {
		fclose(f);
		return DN_ENOMEM;
	}
	size_t n = fread(buf, 1, max + 1, f);
	bool bad = ferror(f) != 0;
	fclose(f);
	int rv;
	if (bad || n > max) {
		snprintf(err, err_len, "%s: %s", path, bad ? "read failed" : "too large");
		rv = DN_EINVAL;
	} else {
		char why[160] = "";
		rv = auth_table_parse(buf, n, out, why, sizeof(why));
		if (rv == DN_EINVAL) {
			snprintf(err, err_len, "%s: %s", path, why);
		}
	}
	memset(buf, 0, n < max + 1 ? n : max + 1);   /* every peer's secret */
	free(buf);
	return rv;
}

void auth_table_destroy(auth_table *t)
{
	if (t == NULL) {
		return;
	}
	if (t->peers != NULL) {
		memset(t->peers, 0, t->n * sizeof(*t->peers));
	}
	free(t->peers);
	if (t->text != NULL) {
		memset(t->text, 0, t->text_len);
	}
	free(t->text);
	free(t);
}

void auth_table_carry(const auth_table *old, auth_table *fresh)
{
	for (size_t i = 0; fresh != NULL && i < fresh->n; i++) {
		const auth_peer *o = auth_table_find(old, fresh->peers[i].name);
		if (o != NULL) {
			auth_peer *p = &fresh->peers[i];
			p->floor = o->floor;
			p->max = o->max;
			memcpy(p->recent, o->recent, sizeof(p->recent));
			p->nrecent = o->nrecent;
			p->counter_loaded = o->counter_loaded;
		}
	}
}

auth_peer *auth_table_find(const auth_table *t, const char *name)
{
	for (size_t i = 0; t != NULL && i < t->n; i++) {
		if (strcmp(t->peers[i].name, name) == 0) {
			return &t->peers[i];
		}
	}
	return NULL;
}

int auth_key_load(const char *path, uint8_t key[DN_AUTH_KEY_BYTES])
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		return DN_ENOENT;
	}
	char buf[2 * DN_AUTH_KEY_BYTES + 4];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
		n--;
	}
	return auth_key_parse(buf, n, key);
}

void auth_mac(const uint8_t key[DN_AUTH_KEY_BYTES], const char *socket,
    const char *peer, uint64_t counter, const uint8_t *body, size_t len,
    uint8_t mac[32])
{
	mbedtls_md_context_t ctx;
	uint8_t ctr[8];
	static const uint8_t zero = 0;

	for (int i = 0; i < 8; i++) {
		ctr[i] = (uint8_t)(counter >> (56 - 8 * i));
	}
	mbedtls_md_init(&ctx);
	/* Only allocation can fail here, and an HMAC context is a few hundred
	 * bytes: a failure leaves mac all zero, which no check accepts
	 * (auth_open refuses a request when its own computation failed). */
	memset(mac, 0, AUTH_MAC_BYTES);
	if (mbedtls_md_setup(&ctx, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 1) == 0 &&
	    mbedtls_md_hmac_starts(&ctx, key, DN_AUTH_KEY_BYTES) == 0) {
		mbedtls_md_hmac_update(&ctx, (const uint8_t *)AUTH_DOMAIN, strlen(AUTH_DOMAIN));
		mbedtls_md_hmac_update(&ctx, &zero, 1);
		mbedtls_md_hmac_update(&ctx, (const uint8_t *)socket, strlen(socket));
		mbedtls_md_hmac_update(&ctx, &zero, 1);
		mbedtls_md_hmac_update(&ctx, (const uint8_t *)peer, strlen(peer));
		mbedtls_md_hmac_update(&ctx, &zero, 1);
		mbedtls_md_hmac_update(&ctx, ctr, sizeof(ctr));
		if (len > 0) {
			mbedtls_md_hmac_update(&ctx, body, len);
		}
		mbedtls_md_hmac_finish(&ctx, mac);
	}
	mbedtls_md_free(&ctx);
}

bool auth_mac_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
	volatile uint8_t d = 0;
	for (size_t i = 0; i < n; i++) {
		d |= (uint8_t)(a[i] ^ b[i]);
	}
	return d == 0;
}

int auth_seal(const char *socket, const char *peer,
    const uint8_t key[DN_AUTH_KEY_BYTES], uint64_t counter, const uint8_t *body,
    size_t len, uint8_t **out, size_t *out_len)
{
	uint8_t mac[AUTH_MAC_BYTES];
	Dropnet__Signed s = DROPNET__SIGNED__INIT;

	auth_mac(key, socket, peer, counter, body, len, mac);
	s.version = DN_PROTO_VERSION;
	s.body.data = (uint8_t *)body;
	s.body.len = len;
	s.peer = (char *)peer;
	s.counter = counter;
	s.mac.data = mac;
	s.mac.len = sizeof(mac);
	return codec_signed_req_pack(&s, out, out_len);
}

auth_verdict auth_open(const auth_table *t, const char *socket, const uint8_t *buf,
    size_t len, Dropnet__Signed **env, auth_peer **peer)
{
	Dropnet__Signed *s = NULL;
	uint8_t mac[AUTH_MAC_BYTES];
	static const uint8_t zeros[AUTH_MAC_BYTES];

	*env = NULL;
	*peer = NULL;
	if (codec_signed_req_unpack(buf, len, &s) != 0) {
		codec_signed_req_free(s);
		return AUTH_MALFORMED;
	}
	if (s->peer[0] == '\0' || s->mac.len != AUTH_MAC_BYTES) {
		codec_signed_req_free(s);
		return AUTH_UNSIGNED;
	}
	auth_peer *p = auth_table_find(t, s->peer);
	if (p == NULL) {
		codec_signed_req_free(s);
		return AUTH_UNKNOWN_PEER;
	}
	auth_mac(p->key, socket, p->name, s->counter, s->body.data, s->body.len, mac);
	if (auth_mac_equal(mac, zeros, sizeof(mac)) ||
	    !auth_mac_equal(mac, s->mac.data, sizeof(mac))) {
		codec_signed_req_free(s);
		return AUTH_BAD_MAC;
	}
	*env = s;
	*peer = p;
	return AUTH_OK;
}

bool auth_peer_counter_take(auth_peer *p, uint64_t c)
{
	if (c <= p->floor) {
		return false;
	}
	size_t lo = 0;
	for (size_t i = 0; i < p->nrecent; i++) {
		if (p->recent[i] == c) {
			return false;
		}
		lo = p->recent[i] < p->recent[lo] ? i : lo;
	}
	if (p->nrecent == AUTH_RECENT_MAX) {
		/* The oldest leaves the set: from now on the floor refuses it. */
		p->floor = p->recent[lo];
		p->recent[lo] = c;
	} else {
		p->recent[p->nrecent++] = c;
	}
	p->max = c > p->max ? c : p->max;
	return true;
}

const char *auth_verdict_name(auth_verdict v)
{
	switch (v) {
	case AUTH_OK: return "ok";
	case AUTH_MALFORMED: return "malformed";
	case AUTH_UNSIGNED: return "unsigned";
	case AUTH_UNKNOWN_PEER: return "unknown_peer";
	case AUTH_BAD_MAC: return "bad_mac";
	}
	return "unknown";
}

int auth_client_from_env(auth_client *a, const char *name_env, const char *key_env)
{
	memset(a, 0, sizeof(*a));
	const char *name = getenv(name_env);
	if (name == NULL || name[0] == '\0') {
		return DN_ENOENT;
	}
	const char *key = getenv(key_env);
	if (!validate_id(name) || key == NULL || key[0] == '\0' ||
	    auth_key_load(key, a->key) != 0) {
		return DN_EINVAL;
	}
	snprintf(a->name, sizeof(a->name), "%s", name);
	return 0;
}

uint64_t auth_client_counter(auth_client *a, uint64_t now_us)
{
	a->last_counter = now_us > a->last_counter ? now_us : a->last_counter + 1;
	return a->last_counter;
}

/* The least role an ops request needs: reads for read-only, the drop and
 * stock moves, prices and experiments for operator, everything else (the
 * test clock, kinds this build does not know, the hub registry when it gets
 * ops) for admin. */
auth_role auth_ops_role(int kind)
{
	switch (kind) {
	case DROPNET__OPS_KIND__OPS_HUBS:
	case DROPNET__OPS_KIND__OPS_STOCK:
	case DROPNET__OPS_KIND__OPS_ORDER_SHOW:
	case DROPNET__OPS_KIND__OPS_AUDIT:
	case DROPNET__OPS_KIND__OPS_DROP_SHOW:
	case DROPNET__OPS_KIND__OPS_DROP_LIST:
	case DROPNET__OPS_KIND__OPS_KPI:
	case DROPNET__OPS_KIND__OPS_DEMAND:
	case DROPNET__OPS_KIND__OPS_REBALANCE_PLAN:
	case DROPNET__OPS_KIND__OPS_TRANSFERS:
	case DROPNET__OPS_KIND__OPS_PRICE_SHOW:
	case DROPNET__OPS_KIND__OPS_EXPERIMENT_SHOW:
	case DROPNET__OPS_KIND__OPS_ACTIVATION_LIST:
		return AUTH_ROLE_READ_ONLY;
	case DROPNET__OPS_KIND__OPS_DROP_CREATE:
	case DROPNET__OPS_KIND__OPS_DROP_OPEN:
	case DROPNET__OPS_KIND__OPS_DROP_CLOSE:
	case DROPNET__OPS_KIND__OPS_HOLDBACK_RELEASE:
	case DROPNET__OPS_KIND__OPS_REBALANCE_APPLY:
	case DROPNET__OPS_KIND__OPS_PRICE_LIVE:
	case DROPNET__OPS_KIND__OPS_EXPERIMENT_CREATE:
	case DROPNET__OPS_KIND__OPS_EXPERIMENT_STOP:
	case DROPNET__OPS_KIND__OPS_ACTIVATION_ADD:
		return AUTH_ROLE_OPERATOR;
	default:
		return AUTH_ROLE_ADMIN;
	}
}
