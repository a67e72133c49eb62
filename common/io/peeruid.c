/*
 * peeruid.c - the OS users allowed on an ipc:// socket (see peeruid.h).
 */
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "io/peeruid.h"

/* Adds uid unless it is there already. 0 or DN_EINVAL (full). */
static int pu_add(peeruid_list *l, uint64_t uid, char *err, size_t errlen)
{
	for (size_t i = 0; i < l->n; i++) {
		if (l->uid[i] == uid) {
			return 0;
		}
	}
	if (l->n == PEERUID_MAX) {
		snprintf(err, errlen, "more than %u users", PEERUID_MAX);
		return DN_EINVAL;
	}
	l->uid[l->n++] = uid;
	return 0;
}

/* One item (trimmed, not empty): digits are a uid, else a user name. */
static int pu_item(peeruid_list *l, const char *item, char *err, size_t errlen)
{
	if (isdigit((unsigned char)item[0])) {
		char *end = NULL;
		errno = 0;
		unsigned long long v = strtoull(item, &end, 10);
		if (errno != 0 || *end != '\0' || v > UINT32_MAX) {
			snprintf(err, errlen, "'%s' is not a uid", item);
			return DN_EINVAL;
		}
		return pu_add(l, v, err, errlen);
	}
	struct passwd pw, *res = NULL;
	char buf[1024];
	if (getpwnam_r(item, &pw, buf, sizeof(buf), &res) != 0 || res == NULL) {
		snprintf(err, errlen, "no user '%s'", item);
		return DN_EINVAL;
	}
	return pu_add(l, (uint64_t)pw.pw_uid, err, errlen);
}

int peeruid_list_parse(const char *spec, uint64_t self_uid, peeruid_list *out,
    char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	char copy[1024];
	if (strlen(spec) >= sizeof(copy)) {
		snprintf(err, errlen, "list longer than %zu bytes", sizeof(copy) - 1);
		return DN_EINVAL;
	}
	snprintf(copy, sizeof(copy), "%s", spec);
	bool empty = true, others = false;
	for (char *save = NULL, *it = strtok_r(copy, ",", &save); it != NULL;
	    it = strtok_r(NULL, ",", &save)) {
		while (isspace((unsigned char)*it)) {
			it++;
		}
		size_t len = strlen(it);
		while (len > 0 && isspace((unsigned char)it[len - 1])) {
			it[--len] = '\0';
		}
		if (len == 0) {
			continue;
		}
		if (strcmp(it, "*") == 0) {
			out->any = true;
		} else if (pu_item(out, it, err, errlen) != 0) {
			return DN_EINVAL;
		} else {
			others = true;
		}
		empty = false;
	}
	if (out->any && others) {
		snprintf(err, errlen, "'*' allows every user: list no others with it");
		return DN_EINVAL;
	}
	if (empty) {
		(void)pu_add(out, self_uid, err, errlen);
		(void)pu_add(out, 0, err, errlen);
	}
	return 0;
}

bool peeruid_allowed(const peeruid_list *l, uint64_t uid)
{
	if (l->any) {
		return true;
	}
	for (size_t i = 0; i < l->n; i++) {
		if (l->uid[i] == uid) {
			return true;
		}
	}
	return false;
}
