/*
 * qtoken.c - quote tokens over mbedtls's HMAC-SHA256 (see qtoken.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mbedtls/md.h>
#include "core/err.h"
#include "core/limits.h"
#include "io/qtoken.h"

/* The MAC input: "1" NUL drop NUL sku NUL tier NUL customer NUL price NUL
 * expiry; ids are at most DN_ID_MAX bytes. */
#define QTOKEN_MSG_MAX (2 + 4 * (DN_ID_MAX + 1) + 2 * 21)

static int qtoken_mac(const uint8_t *key, size_t keylen, const qtoken_fields *f,
    int64_t price, int64_t expires, uint8_t mac[32])
{
	char msg[QTOKEN_MSG_MAX];
	const char *parts[4] = {f->drop_id, f->sku, f->tier, f->customer};
	size_t n = 0;
	msg[n++] = '1';
	msg[n++] = '\0';
	for (size_t i = 0; i < 4; i++) {
		size_t l = parts[i] != NULL ? strlen(parts[i]) : 0;
		if (parts[i] == NULL || l > DN_ID_MAX) {
			return DN_EINVAL;
		}
		memcpy(msg + n, parts[i], l);
		n += l;
		msg[n++] = '\0';
	}
	int w = snprintf(msg + n, sizeof(msg) - n, "%" PRId64 "%c%" PRId64, price, '\0',
	    expires);
	if (w < 0 || (size_t)w >= sizeof(msg) - n) {
		return DN_EINVAL;
	}
	n += (size_t)w;
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	if (md == NULL || mbedtls_md_hmac(md, key, keylen, (const unsigned char *)msg, n,
	    mac) != 0) {
		return DN_EIO;
	}
	return 0;
}

int qtoken_make(const uint8_t *key, size_t keylen, const qtoken_fields *f, char *out,
    size_t cap)
{
	uint8_t mac[32];
	if (cap < QTOKEN_MAX) {
		return DN_EINVAL;
	}
	int rv = qtoken_mac(key, keylen, f, f->price_minor, f->expires_ms, mac);
	if (rv != 0) {
		return rv;
	}
	int n = snprintf(out, cap, "1.%" PRId64 ".%" PRId64 ".", f->price_minor,
	    f->expires_ms);
	for (size_t i = 0; i < sizeof(mac); i++) {
		n += snprintf(out + n, cap - (size_t)n, "%02x", mac[i]);
	}
	return 0;
}

/* Parses a decimal int64 ending at '.'; advances *p past the dot. */
static int qtoken_num(const char **p, int64_t *out)
{
	char *end = NULL;
	if (**p < '0' || **p > '9') {
		return DN_EPROTO;
	}
	long long v = strtoll(*p, &end, 10);
	if (end == NULL || *end != '.' || v < 0 || end - *p > 19) {
		return DN_EPROTO;
	}
	*out = (int64_t)v;
	*p = end + 1;
	return 0;
}

int qtoken_check(const uint8_t *key, size_t keylen, const char *token,
    const qtoken_fields *f, int64_t now_ms, int64_t *price_minor, int64_t *expires_ms)
{
	if (token == NULL || strnlen(token, QTOKEN_MAX) >= QTOKEN_MAX ||
	    strncmp(token, "1.", 2) != 0) {
		return DN_EPROTO;
	}
	const char *p = token + 2;
	int64_t price = 0, expires = 0;
	if (qtoken_num(&p, &price) != 0 || qtoken_num(&p, &expires) != 0 ||
	    strlen(p) != 64) {
		return DN_EPROTO;
	}
	uint8_t want[32], got[32];
	for (size_t i = 0; i < 32; i++) {
		unsigned v = 0;
		if (sscanf(p + 2 * i, "%2x", &v) != 1 || !strchr("0123456789abcdef", p[2 * i]) ||
		    !strchr("0123456789abcdef", p[2 * i + 1])) {
			return DN_EPROTO;
		}
		got[i] = (uint8_t)v;
	}
	if (qtoken_mac(key, keylen, f, price, expires, want) != 0) {
		return DN_EPROTO;
	}
	/* Constant time: how much of a MAC matched must not leak. */
	uint8_t diff = 0;
	for (size_t i = 0; i < 32; i++) {
		diff |= (uint8_t)(want[i] ^ got[i]);
	}
	if (diff != 0) {
		return DN_EPROTO;
	}
	if (now_ms >= expires) {
		return DN_ETIMEDOUT;
	}
	*price_minor = price;
	*expires_ms = expires;
	return 0;
}
