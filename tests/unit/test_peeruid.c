/*
 * test_peeruid.c - unit tests for common/io/peeruid.c: the OS users
 * allowed on hubd's ipc:// terminal socket (hub.term_allowed_uids). The
 * default, uids, user names (root and nobody exist on every Debian
 * system), "*", and what is refused: unknown users, bad uids, too many.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "core/err.h"
#include "io/peeruid.h"

/* Goal: an empty list allows hubd's own uid and root, nobody else. */
static void test_default(void **state)
{
	(void)state;
	peeruid_list l;
	char err[128] = "";
	assert_int_equal(peeruid_list_parse("", 1000, &l, err, sizeof(err)), 0);
	assert_true(peeruid_allowed(&l, 1000));
	assert_true(peeruid_allowed(&l, 0));
	assert_false(peeruid_allowed(&l, 1001));
	assert_false(peeruid_allowed(&l, 65534));
	assert_int_equal(peeruid_list_parse("  , ", 0, &l, err, sizeof(err)), 0);
	assert_int_equal(l.n, 1); /* hubd as root: root once */
	assert_true(peeruid_allowed(&l, 0));
	assert_false(peeruid_allowed(&l, 1000));
}

/* Goal: uids and names, with spaces, give exactly those users (no
 * default added), names resolved through the system's user table. */
static void test_uids_and_names(void **state)
{
	(void)state;
	peeruid_list l;
	char err[128] = "";
	assert_int_equal(peeruid_list_parse(" 1001, nobody ,root", 1000, &l, err, sizeof(err)), 0);
	assert_int_equal(l.n, 3);
	assert_true(peeruid_allowed(&l, 1001));
	assert_true(peeruid_allowed(&l, 65534));
	assert_true(peeruid_allowed(&l, 0));
	assert_false(peeruid_allowed(&l, 1000));
	assert_int_equal(peeruid_list_parse("7,7,7", 1000, &l, err, sizeof(err)), 0);
	assert_int_equal(l.n, 1);
}

/* Goal: "*" alone allows every uid; with others it is a config error. */
static void test_any(void **state)
{
	(void)state;
	peeruid_list l;
	char err[128] = "";
	assert_int_equal(peeruid_list_parse("*", 1000, &l, err, sizeof(err)), 0);
	assert_true(peeruid_allowed(&l, 4242));
	assert_int_equal(peeruid_list_parse("*,root", 1000, &l, err, sizeof(err)), DN_EINVAL);
	assert_non_null(strstr(err, "'*'"));
}

/* Goal: an unknown user, a uid with junk or out of range, and more than
 * PEERUID_MAX entries are refused with a reason naming the item. */
static void test_refused(void **state)
{
	(void)state;
	peeruid_list l;
	char err[128] = "";
	assert_int_equal(peeruid_list_parse("root,no-such-user-dn", 0, &l, err, sizeof(err)),
	    DN_EINVAL);
	assert_non_null(strstr(err, "no-such-user-dn"));
	assert_int_equal(peeruid_list_parse("12x", 0, &l, err, sizeof(err)), DN_EINVAL);
	assert_non_null(strstr(err, "12x"));
	assert_int_equal(peeruid_list_parse("99999999999", 0, &l, err, sizeof(err)), DN_EINVAL);
	char many[512] = "";
	for (unsigned i = 0; i <= PEERUID_MAX; i++) {
		size_t o = strlen(many);
		snprintf(many + o, sizeof(many) - o, "%s%u", i ? "," : "", 2000 + i);
	}
	assert_int_equal(peeruid_list_parse(many, 0, &l, err, sizeof(err)), DN_EINVAL);
	assert_non_null(strstr(err, "more than"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default),
		cmocka_unit_test(test_uids_and_names),
		cmocka_unit_test(test_any),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
