/*
 * hub_conf.h - hubd's config: one table (STYLE.md "Config and logs"),
 * loaded by common/io/conf.c from deploy/hubd.example.ini-style files.
 */
#ifndef HUB_CONF_H
#define HUB_CONF_H
#include <stddef.h>
#include "io/conf.h"

typedef struct {
	char id[DN_CONF_STR_MAX];
	char name[DN_CONF_STR_MAX];
	double lat, lon, radius_km;
	char data_dir[DN_CONF_STR_MAX];
	char term_url[DN_CONF_STR_MAX];
	char coordinator_url[DN_CONF_STR_MAX];
	long long sync_interval_ms;
	long long sync_timeout_ms;
	char log_level[DN_CONF_STR_MAX];
	char tls_ca_file[DN_CONF_STR_MAX];
	char tls_crl_file[DN_CONF_STR_MAX];
	char tls_cert_file[DN_CONF_STR_MAX];
	char tls_key_file[DN_CONF_STR_MAX];
	long long tls_allow_plaintext;
	/* /metrics (the shell; docs/metrics.md): empty listen is off. */
	char metrics_listen[DN_CONF_STR_MAX];
	long long metrics_allow_public;
	/* https:// only (metrics_http.h): empty files default as each key's
	 * help says. */
	char metrics_cert_file[DN_CONF_STR_MAX];
	char metrics_key_file[DN_CONF_STR_MAX];
	char metrics_client_ca_file[DN_CONF_STR_MAX];
	char auth_key_file[DN_CONF_STR_MAX];
	char term_group[DN_CONF_STR_MAX];
	char auth_name[DN_CONF_STR_MAX];
	/* The terminal socket's peers (the shell: hubd/daemon/main.c). */
	char term_allowed_uids[DN_CONF_STR_MAX];
	long long term_peer_inflight_max;
} hub_conf;

/* nng contexts on the terminal socket: a hub has a handful of terminals,
 * each with one request in flight; more is a runaway script. */
#define HUB_TERM_CTX_MAX 32u

extern const conf_key hub_conf_keys[];
extern const size_t hub_conf_nkeys;

/* Loads defaults, path, then sets; checks the hub with validate_hub(), fills
 * an empty name with the id and parses the log level. Returns 0 or DN_EINVAL
 * with a one-line reason in err. */
int hub_conf_load(hub_conf *cfg, const char *path, const char *const *sets,
    size_t nsets, char *err, size_t err_len);

#endif
