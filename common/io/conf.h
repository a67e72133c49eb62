/*
 * conf.h - a daemon's config as one table (STYLE.md "Config and logs").
 *
 * Each key has a type, bounds, default and help. Loading order: defaults,
 * then the INI file (parsed by libinih; "section.key" names), then
 * command-line overrides "--set section.key=value". Unknown keys, values
 * out of bounds and malformed numbers are errors with the file and line.
 * conf_log writes the effective config, one line per key, at start.
 */
#ifndef DN_CONF_H
#define DN_CONF_H
#include <stddef.h>

typedef enum { CONF_STR, CONF_INT, CONF_DOUBLE } conf_type;

typedef struct {
	const char *name;   /* "section.key" */
	conf_type type;
	double min, max;    /* CONF_INT/CONF_DOUBLE bounds; CONF_STR: max length */
	const char *def;    /* default as text; NULL means required */
	size_t offset;      /* offsetof(config struct, field) */
	const char *help;
} conf_key;

/* Field types by conf_type: CONF_STR -> char[DN_CONF_STR_MAX],
 * CONF_INT -> long long, CONF_DOUBLE -> double. */
#define DN_CONF_STR_MAX 256

/* Fills cfg from defaults, then path (may be NULL), then each "k=v" of
 * sets[0..nsets). On error returns DN_EINVAL and writes a one-line reason
 * into err. */
int conf_load(const conf_key *keys, size_t nkeys, void *cfg, const char *path,
    const char *const *sets, size_t nsets, char *err, size_t err_len);

/* Logs "INFO config.value key=... value=..." for each key. */
void conf_log(const conf_key *keys, size_t nkeys, const void *cfg);

/* Prints the table as help text: name, type, bounds, default, help. */
void conf_print_help(const conf_key *keys, size_t nkeys);

#endif
