/*
 * qtoken.h - quote tokens (issue 12; proto/STOREFRONT.md "Quotes and price
 * locks"): a price the coordinator quoted, signed so that an order can
 * claim it later without any stored state.
 *
 * Format (text, at most QTOKEN_MAX bytes):
 *   1.<price_minor>.<expires_ms>.<hex of HMAC-SHA256>
 * The MAC covers the version, the drop, the SKU, the tier, the customer,
 * the price and the expiry, separated by NUL bytes (no id contains one), so
 * none of them can be changed without the key. The key is the
 * coordinator's 32-byte secret (store: secrets 'quote').
 *
 * HMAC-SHA256 comes from mbedtls's libmbedcrypto: nng's TLS already links
 * it (libnng-dev depends on libmbedtls-dev), so no new package; OpenSSL's
 * libcrypto would be a second crypto library in the same process.
 *
 * Thread model: none (pure computation over the arguments).
 */
#ifndef DN_QTOKEN_H
#define DN_QTOKEN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest token text including the NUL: "1." + 20 + "." + 20 + "." + 64. */
#define QTOKEN_MAX 128u
/* The secret's size. */
#define QTOKEN_KEY_BYTES 32u

typedef struct {
	const char *drop_id, *sku, *tier, *customer;
	int64_t price_minor;
	int64_t expires_ms;
} qtoken_fields;

/* Writes the token for f into out (cap >= QTOKEN_MAX). 0 or DN_EINVAL
 * (NULL field, cap too small), DN_EIO (the MAC failed). */
int qtoken_make(const uint8_t *key, size_t keylen, const qtoken_fields *f, char *out,
    size_t cap);

/* Checks token against f's drop, sku, tier and customer (f's price and
 * expiry are ignored) at now_ms. 0 with *price_minor and *expires_ms set
 * when the MAC matches and now_ms < expiry; DN_EPROTO when it does not
 * parse or the MAC differs (tampered, another customer, SKU or tier);
 * DN_ETIMEDOUT when it has lapsed. */
int qtoken_check(const uint8_t *key, size_t keylen, const char *token,
    const qtoken_fields *f, int64_t now_ms, int64_t *price_minor, int64_t *expires_ms);

#endif
