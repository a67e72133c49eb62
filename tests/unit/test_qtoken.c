/*
 * test_qtoken.c - unit tests for common/io/qtoken.c: a quote token made
 * for (drop, sku, tier, customer, price, expiry) verifies for exactly those
 * until its expiry, and nothing else does: another customer, SKU, tier or
 * drop, an altered price or expiry, another key, a lapsed token, garbage.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "core/err.h"
#include "io/qtoken.h"

static const uint8_t KEY[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
#define T0 1800000000000LL

static void make(char *tok)
{
	qtoken_fields f = {"drop-1", "tee", "public", "alice", 5400, T0 + 600000};
	assert_int_equal(qtoken_make(KEY, sizeof(KEY), &f, tok, QTOKEN_MAX), 0);
}

static int check(const char *tok, const char *drop, const char *sku, const char *tier,
    const char *cust, int64_t now, int64_t *price)
{
	qtoken_fields f = {drop, sku, tier, cust, 0, 0};
	int64_t exp = 0;
	return qtoken_check(KEY, sizeof(KEY), tok, &f, now, price, &exp);
}

/* Goal: a token verifies for its own fields until one ms before expiry,
 * giving back its price; at the expiry it has lapsed. */
static void test_roundtrip_and_expiry(void **state)
{
	(void)state;
	char tok[QTOKEN_MAX];
	int64_t price = 0;
	make(tok);
	assert_true(strncmp(tok, "1.5400.", 7) == 0);
	assert_int_equal(check(tok, "drop-1", "tee", "public", "alice", T0, &price), 0);
	assert_int_equal(price, 5400);
	assert_int_equal(check(tok, "drop-1", "tee", "public", "alice", T0 + 599999, &price),
	    0);
	assert_int_equal(check(tok, "drop-1", "tee", "public", "alice", T0 + 600000, &price),
	    DN_ETIMEDOUT);
}

/* Goal: any other field, an altered price or expiry, or another key is
 * refused as invalid. */
static void test_refusals(void **state)
{
	(void)state;
	char tok[QTOKEN_MAX], alt[QTOKEN_MAX];
	int64_t price = 0;
	make(tok);
	assert_int_equal(check(tok, "drop-1", "tee", "public", "bob", T0, &price), DN_EPROTO);
	assert_int_equal(check(tok, "drop-1", "cap", "public", "alice", T0, &price), DN_EPROTO);
	assert_int_equal(check(tok, "drop-1", "tee", "insider", "alice", T0, &price), DN_EPROTO);
	assert_int_equal(check(tok, "drop-2", "tee", "public", "alice", T0, &price), DN_EPROTO);
	snprintf(alt, sizeof(alt), "1.4400.%s", tok + 7);
	assert_int_equal(check(alt, "drop-1", "tee", "public", "alice", T0, &price), DN_EPROTO);
	snprintf(alt, sizeof(alt), "%s", tok);
	char *exp = strchr(alt + 2, '.') + 1;
	exp[0] = exp[0] == '9' ? '8' : '9';
	assert_int_equal(check(alt, "drop-1", "tee", "public", "alice", T0, &price), DN_EPROTO);
	uint8_t other[32] = {0};
	qtoken_fields f = {"drop-1", "tee", "public", "alice", 0, 0};
	int64_t e = 0;
	assert_int_equal(qtoken_check(other, sizeof(other), tok, &f, T0, &price, &e), DN_EPROTO);
}

/* Goal: text that is not a token is refused, never read past its end. */
static void test_garbage(void **state)
{
	(void)state;
	int64_t price = 0;
	const char *bad[] = {"", "1", "1.", "1..", "2.5400.1.00", "1.-5.9.00", "1.5400.x.00",
	    "1.5400.1800000600000.zz", "1.5400.1800000600000.0123456789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdeg", "1.99999999999999999999.1.00"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(check(bad[i], "drop-1", "tee", "public", "alice", T0, &price),
		    DN_EPROTO);
	}
	char longtok[300];
	memset(longtok, '1', sizeof(longtok) - 1);
	longtok[sizeof(longtok) - 1] = '\0';
	assert_int_equal(check(longtok, "drop-1", "tee", "public", "alice", T0, &price),
	    DN_EPROTO);
	assert_int_equal(check(NULL, "drop-1", "tee", "public", "alice", T0, &price), DN_EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip_and_expiry),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
