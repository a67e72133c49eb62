/*
 * test_auth.c - per-request identity (common/io/auth.c): the peers file
 * parser, the MAC (against a value computed independently with Python's
 * hmac), and opening envelopes - valid, wrong key, tampered body, another
 * socket, unknown peer, unsigned, not an envelope.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "core/err.h"
#include "io/auth.h"

static const char peers_text[] =
    "# the network's peers\n"
    "hub london 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
    "\n"
    "storefront shop FFEEDDCCBBAA99887766554433221100ffeeddccbbaa99887766554433221100\n"
    "read-only viewer 0000000000000000000000000000000000000000000000000000000000000001 # ok\n"
    "admin alice 1111111111111111111111111111111111111111111111111111111111111111\n";

static auth_table *table(void)
{
	auth_table *t = NULL;
	char err[128];
	assert_int_equal(auth_table_parse(peers_text, strlen(peers_text), &t, err,
	    sizeof(err)), 0);
	return t;
}

/* Goal: a valid file loads every peer with its role and key. */
static void test_parse_valid(void **state)
{
	(void)state;
	auth_table *t = table();
	assert_int_equal(t->n, 4);
	auth_peer *p = auth_table_find(t, "london");
	assert_non_null(p);
	assert_int_equal(p->role, AUTH_ROLE_HUB);
	assert_int_equal(p->key[0], 0);
	assert_int_equal(p->key[31], 0x1f);
	assert_int_equal(auth_table_find(t, "shop")->key[0], 0xff);
	assert_int_equal(auth_table_find(t, "viewer")->role, AUTH_ROLE_READ_ONLY);
	assert_int_equal(auth_table_find(t, "alice")->role, AUTH_ROLE_ADMIN);
	assert_null(auth_table_find(t, "nobody"));
	auth_table_destroy(t);
}

/* Goal: each kind of bad line is refused with its line number. */
static void test_parse_invalid(void **state)
{
	(void)state;
	static const struct {
		const char *text, *want;
	} cases[] = {
	    {"boss x 00\n", "line 1: role"},
	    {"hub london 0001\n", "line 1: key"},
	    {"hub london zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
	        "line 1: key"},
	    {"hub\n", "line 1: want"},
	    {"\nhub lon,don 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
	        "line 2: name"},
	    {"hub a 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
	     "admin a 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
	        "line 2: name twice"},
	    {"hub a 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f extra\n",
	        "line 1: want"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		auth_table *t = NULL;
		char err[128] = "";
		assert_int_equal(auth_table_parse(cases[i].text, strlen(cases[i].text), &t, err,
		    sizeof(err)), DN_EINVAL);
		assert_null(t);
		if (strstr(err, cases[i].want) == NULL) {
			fprintf(stderr, "case %zu: err \"%s\", want \"%s\"\n", i, err, cases[i].want);
		}
		assert_non_null(strstr(err, cases[i].want));
	}
	/* A NUL inside a line is not silently cut there. */
	static const char nul[] = "hub a 00\0zz\n";
	auth_table *t = NULL;
	char err[128];
	assert_int_equal(auth_table_parse(nul, sizeof(nul) - 1, &t, err, sizeof(err)), DN_EINVAL);
}

/* Goal: the MAC is the one SEMANTICS.md specifies, byte for byte (the value
 * was computed with Python's hmac over the same spec). */
static void test_mac_known_value(void **state)
{
	(void)state;
	uint8_t key[DN_AUTH_KEY_BYTES], mac[32];
	for (int i = 0; i < 32; i++) {
		key[i] = (uint8_t)i;
	}
	auth_mac(key, "ops", "alice", 1234567, (const uint8_t *)"hello", 5, mac);
	char hex[65];
	for (int i = 0; i < 32; i++) {
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	}
	assert_string_equal(hex, "5f0b8c20bc8a23c7689638a41071bb2e3d929954bffbc566e4fd705d42322b83");
}

static uint8_t *seal_as(const auth_table *t, const char *socket, const char *name,
    const char *key_of, const uint8_t *body, size_t len, size_t *out_len)
{
	uint8_t *out = NULL;
	assert_int_equal(auth_seal(socket, name, auth_table_find(t, key_of)->key, 42, body,
	    len, &out, out_len), 0);
	return out;
}

/* Goal: a request opens only for its own socket, name, key and bytes. */
static void test_open(void **state)
{
	(void)state;
	auth_table *t = table();
	const uint8_t body[] = {0x08, 0x01, 0x12, 0x00};
	size_t len = 0;
	Dropnet__Signed *env = NULL;
	auth_peer *p = NULL;

	uint8_t *ok = seal_as(t, AUTH_SOCKET_HUBSYNC, "london", "london", body, sizeof(body), &len);
	assert_int_equal(auth_open(t, AUTH_SOCKET_HUBSYNC, ok, len, &env, &p), AUTH_OK);
	assert_ptr_equal(p, auth_table_find(t, "london"));
	assert_int_equal(env->counter, 42);
	assert_int_equal(env->body.len, sizeof(body));
	assert_memory_equal(env->body.data, body, sizeof(body));
	codec_signed_req_free(env);
	/* The same bytes on another socket. */
	assert_int_equal(auth_open(t, AUTH_SOCKET_OPS, ok, len, &env, &p), AUTH_BAD_MAC);
	assert_null(env);
	assert_null(p);
	/* One body byte changed (the last byte of the envelope is in the MAC,
	 * so change the body where it sits: right after its length). */
	ok[6] ^= 1;
	assert_int_equal(auth_open(t, AUTH_SOCKET_HUBSYNC, ok, len, &env, &p), AUTH_BAD_MAC);
	free(ok);

	uint8_t *wrong = seal_as(t, AUTH_SOCKET_HUBSYNC, "london", "shop", body, sizeof(body), &len);
	assert_int_equal(auth_open(t, AUTH_SOCKET_HUBSYNC, wrong, len, &env, &p), AUTH_BAD_MAC);
	free(wrong);
	uint8_t *ghost = seal_as(t, AUTH_SOCKET_HUBSYNC, "ghost", "london", body, sizeof(body), &len);
	assert_int_equal(auth_open(t, AUTH_SOCKET_HUBSYNC, ghost, len, &env, &p), AUTH_UNKNOWN_PEER);
	free(ghost);

	Dropnet__Signed s = DROPNET__SIGNED__INIT;
	s.version = 1;
	s.body.data = (uint8_t *)body;
	s.body.len = sizeof(body);
	uint8_t *bare = NULL;
	assert_int_equal(codec_signed_req_pack(&s, &bare, &len), 0);
	assert_int_equal(auth_open(t, AUTH_SOCKET_HUBSYNC, bare, len, &env, &p), AUTH_UNSIGNED);
	free(bare);
	const uint8_t junk[] = {0xff, 0xff, 0xff};
	assert_int_equal(auth_open(t, AUTH_SOCKET_HUBSYNC, junk, sizeof(junk), &env, &p),
	    AUTH_MALFORMED);
	auth_table_destroy(t);
}

/* Goal: a client's counter never repeats, even when its clock stands still
 * or steps back. */
static void test_client_counter(void **state)
{
	(void)state;
	auth_client a;
	memset(&a, 0, sizeof(a));
	assert_int_equal(auth_client_counter(&a, 1000), 1000);
	assert_int_equal(auth_client_counter(&a, 1000), 1001);
	assert_int_equal(auth_client_counter(&a, 500), 1002);
	assert_int_equal(auth_client_counter(&a, 5000), 5000);
}

/* Goal: an operator's counters may arrive out of order (requests running
 * at once), but none is taken twice, and none at or below the floor - also
 * one pushed out of the recent set. */
static void test_counter_take(void **state)
{
	(void)state;
	auth_peer p;
	memset(&p, 0, sizeof(p));
	p.floor = 100;
	assert_false(auth_peer_counter_take(&p, 100));
	assert_true(auth_peer_counter_take(&p, 205));
	assert_true(auth_peer_counter_take(&p, 203)); /* earlier, arrived later */
	assert_false(auth_peer_counter_take(&p, 205));
	assert_false(auth_peer_counter_take(&p, 203));
	assert_int_equal(p.max, 205);
	for (uint64_t c = 300; c < 300 + AUTH_RECENT_MAX; c++) {
		assert_true(auth_peer_counter_take(&p, c));
	}
	/* 203 and 205 were pushed out: the floor now refuses them. */
	assert_true(p.floor >= 205);
	assert_false(auth_peer_counter_take(&p, 203));
	assert_false(auth_peer_counter_take(&p, 204));
	assert_false(auth_peer_counter_take(&p, 300));
	assert_true(auth_peer_counter_take(&p, 1000));
}

/* Goal: constant-time compare still compares. */
static void test_mac_equal(void **state)
{
	(void)state;
	uint8_t a[32] = {0}, b[32] = {0};
	assert_true(auth_mac_equal(a, b, 32));
	b[31] = 1;
	assert_false(auth_mac_equal(a, b, 32));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_valid),
	    cmocka_unit_test(test_parse_invalid),
	    cmocka_unit_test(test_mac_known_value),
	    cmocka_unit_test(test_open),
	    cmocka_unit_test(test_client_counter),
	    cmocka_unit_test(test_counter_take),
	    cmocka_unit_test(test_mac_equal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
