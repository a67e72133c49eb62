/*
 * conf.c - load a config table (conf.h) from defaults, an INI file (libinih)
 * and "section.key=value" overrides.
 */
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "io/conf.h"
#include "io/log.h"

typedef struct {
	const conf_key *keys;
	size_t nkeys;
	void *cfg;
	char *err;
	size_t err_len;
	const char *path;
	int failed;
	unsigned char *seen; /* seen[i]: key i was set by the file or --set */
} conf_ctx;

static const conf_key *conf_find(const conf_key *keys, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(keys[i].name, name) == 0) {
			return &keys[i];
		}
	}
	return NULL;
}

/* Parses and stores one value; writes a reason into err on failure. */
static int conf_set(const conf_key *k, void *cfg, const char *value, char *err,
    size_t err_len)
{
	char *field = (char *)cfg + k->offset;
	char *end = NULL;
	switch (k->type) {
	case CONF_STR: {
		size_t len = strlen(value);
		if (len >= DN_CONF_STR_MAX || (k->max > 0 && (double)len > k->max)) {
			snprintf(err, err_len, "%s: value too long", k->name);
			return DN_EINVAL;
		}
		memcpy(field, value, len + 1);
		return 0;
	}
	case CONF_INT: {
		errno = 0;
		long long v = strtoll(value, &end, 10);
		if (errno != 0 || end == value || *end != '\0') {
			snprintf(err, err_len, "%s: '%s' is not an integer", k->name, value);
			return DN_EINVAL;
		}
		if ((double)v < k->min || (double)v > k->max) {
			snprintf(err, err_len, "%s: %lld is outside [%.0f, %.0f]", k->name,
			    v, k->min, k->max);
			return DN_EINVAL;
		}
		memcpy(field, &v, sizeof(v));
		return 0;
	}
	case CONF_DOUBLE: {
		errno = 0;
		double v = strtod(value, &end);
		if (errno != 0 || end == value || *end != '\0' || !isfinite(v)) {
			snprintf(err, err_len, "%s: '%s' is not a number", k->name, value);
			return DN_EINVAL;
		}
		if (v < k->min || v > k->max) {
			snprintf(err, err_len, "%s: %g is outside [%g, %g]", k->name, v,
			    k->min, k->max);
			return DN_EINVAL;
		}
		memcpy(field, &v, sizeof(v));
		return 0;
	}
	}
	return DN_EINVAL;
}

static int conf_ini_handler(void *user, const char *section, const char *name,
    const char *value)
{
	conf_ctx *c = user;
	if (c->failed) {
		return 0;
	}
	char full[160];
	snprintf(full, sizeof(full), "%s.%s", section, name);
	const conf_key *k = conf_find(c->keys, c->nkeys, full);
	if (k == NULL) {
		snprintf(c->err, c->err_len, "%s: unknown key '%s'", c->path, full);
		c->failed = 1;
		return 0;
	}
	char reason[256];
	if (conf_set(k, c->cfg, value, reason, sizeof(reason)) != 0) {
		snprintf(c->err, c->err_len, "%s: %s", c->path, reason);
		c->failed = 1;
		return 0;
	}
	c->seen[k - c->keys] = 1;
	return 1;
}

int conf_load(const conf_key *keys, size_t nkeys, void *cfg, const char *path,
    const char *const *sets, size_t nsets, char *err, size_t err_len)
{
	for (size_t i = 0; i < nkeys; i++) {
		/* Required keys start empty; checked after file and overrides. */
		const char *def = keys[i].def != NULL ? keys[i].def : "";
		if (keys[i].def == NULL && keys[i].type != CONF_STR) {
			def = "0";
		}
		conf_key relaxed = keys[i];
		relaxed.min = -INFINITY;
		relaxed.max = INFINITY;
		if (keys[i].type == CONF_STR) {
			relaxed.max = 0;
		}
		if (conf_set(&relaxed, cfg, def, err, err_len) != 0) {
			return DN_EINVAL;
		}
	}
	unsigned char seen[256] = {0};
	if (nkeys > sizeof(seen)) {
		snprintf(err, err_len, "config table too large");
		return DN_EINVAL;
	}
	if (path != NULL) {
		conf_ctx c = {keys, nkeys, cfg, err, err_len, path, 0, seen};
		int rv = ini_parse(path, conf_ini_handler, &c);
		if (rv < 0) {
			snprintf(err, err_len, "%s: cannot open", path);
			return DN_EINVAL;
		}
		if (c.failed) {
			return DN_EINVAL;
		}
		if (rv > 0) {
			snprintf(err, err_len, "%s:%d: syntax error", path, rv);
			return DN_EINVAL;
		}
	}
	for (size_t i = 0; i < nsets; i++) {
		const char *eq = strchr(sets[i], '=');
		if (eq == NULL || eq == sets[i]) {
			snprintf(err, err_len, "--set %s: expected section.key=value", sets[i]);
			return DN_EINVAL;
		}
		char name[160];
		size_t nl = (size_t)(eq - sets[i]);
		if (nl >= sizeof(name)) {
			snprintf(err, err_len, "--set: key too long");
			return DN_EINVAL;
		}
		memcpy(name, sets[i], nl);
		name[nl] = '\0';
		const conf_key *k = conf_find(keys, nkeys, name);
		if (k == NULL) {
			snprintf(err, err_len, "--set: unknown key '%s'", name);
			return DN_EINVAL;
		}
		char reason[256];
		if (conf_set(k, cfg, eq + 1, reason, sizeof(reason)) != 0) {
			snprintf(err, err_len, "--set %s", reason);
			return DN_EINVAL;
		}
		seen[k - keys] = 1;
	}
	for (size_t i = 0; i < nkeys; i++) {
		if (keys[i].def == NULL && !seen[i]) {
			snprintf(err, err_len, "missing required key '%s'", keys[i].name);
			return DN_EINVAL;
		}
	}
	return 0;
}

void conf_log(const conf_key *keys, size_t nkeys, const void *cfg)
{
	for (size_t i = 0; i < nkeys; i++) {
		const char *field = (const char *)cfg + keys[i].offset;
		switch (keys[i].type) {
		case CONF_STR:
			log_info("config.value", "key=%s value=%s", keys[i].name, field);
			break;
		case CONF_INT: {
			long long v;
			memcpy(&v, field, sizeof(v));
			log_info("config.value", "key=%s value=%lld", keys[i].name, v);
			break;
		}
		case CONF_DOUBLE: {
			double v;
			memcpy(&v, field, sizeof(v));
			log_info("config.value", "key=%s value=%g", keys[i].name, v);
			break;
		}
		}
	}
}

void conf_print_help(const conf_key *keys, size_t nkeys)
{
	printf("Config keys (INI file sections, or --set section.key=value):\n");
	for (size_t i = 0; i < nkeys; i++) {
		const conf_key *k = &keys[i];
		const char *type = k->type == CONF_STR ? "string" :
		    k->type == CONF_INT ? "integer" : "number";
		printf("  %-28s %-8s", k->name, type);
		if (k->type != CONF_STR) {
			printf(" [%g..%g]", k->min, k->max);
		}
		printf(" default: %s\n      %s\n", k->def != NULL ? k->def : "(required)",
		    k->help);
	}
}
