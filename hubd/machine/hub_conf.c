/*
 * hub_conf.c - the table of hubd's config keys and the checks across keys
 * that a per-key bound cannot express.
 */
#include <stdio.h>
#include <string.h>
#include "core/err.h"
#include "core/limits.h"
#include "core/validate.h"
#include "io/log.h"
#include "hub_conf.h"

#define STR_MAX (DN_CONF_STR_MAX - 1)

const conf_key hub_conf_keys[] = {
	{ "hub.id", CONF_STR, 1, DN_ID_MAX, NULL, offsetof(hub_conf, id),
	    "this hub's id, unique in the network (1..64 printable, no spaces)" },
	{ "hub.name", CONF_STR, 0, STR_MAX, "", offsetof(hub_conf, name),
	    "human name shown by dropctl; empty means the id" },
	{ "hub.lat", CONF_DOUBLE, -90, 90, NULL, offsetof(hub_conf, lat),
	    "latitude of the hub, WGS84 degrees" },
	{ "hub.lon", CONF_DOUBLE, -180, 180, NULL, offsetof(hub_conf, lon),
	    "longitude of the hub, WGS84 degrees" },
	{ "hub.radius_km", CONF_DOUBLE, DN_RADIUS_KM_MIN, DN_RADIUS_KM_MAX, "75",
	    offsetof(hub_conf, radius_km),
	    "service radius: ship-to points within it may be routed here" },
	{ "hub.data_dir", CONF_STR, 1, STR_MAX, "var/hub",
	    offsetof(hub_conf, data_dir),
	    "folder for hub.db (SQLite, WAL); created if missing" },
	{ "hub.term_url", CONF_STR, 1, STR_MAX, "ipc:///tmp/dropnet-hub.sock",
	    offsetof(hub_conf, term_url),
	    "where pickterm reaches this hub (nng REP listen address)" },
	{ "hub.coordinator_url", CONF_STR, 1, STR_MAX, "tls+tcp://127.0.0.1:7402",
	    offsetof(hub_conf, coordinator_url),
	    "the coordinator's hubsync socket (dialled; tls+tcp://, or tcp:// "
	    "with tls.allow_plaintext=1); a replicated group: every replica's, "
	    "comma-separated (the hub follows the leader)" },
	{ "hub.sync_interval_ms", CONF_INT, 20, 10000, "200",
	    offsetof(hub_conf, sync_interval_ms),
	    "pause between syncs when neither side has more to send" },
	{ "hub.sync_timeout_ms", CONF_INT, 100, 60000, "2000",
	    offsetof(hub_conf, sync_timeout_ms),
	    "a sync unanswered this long counts as the coordinator being down" },
	{ "log.level", CONF_STR, 1, 16, "info", offsetof(hub_conf, log_level),
	    "debug, info, warn or error" },
	{ "tls.ca_file", CONF_STR, 0, STR_MAX, "", offsetof(hub_conf, tls_ca_file),
	    "PEM CA certificate(s) the coordinator's certificate must chain to" },
	{ "tls.crl_file", CONF_STR, 0, STR_MAX, "", offsetof(hub_conf, tls_crl_file),
	    "PEM CRL(s) of that CA (optional)" },
	{ "tls.cert_file", CONF_STR, 0, STR_MAX, "", offsetof(hub_conf, tls_cert_file),
	    "this hub's PEM certificate, issued by the network's (hub) CA" },
	{ "tls.key_file", CONF_STR, 0, STR_MAX, "", offsetof(hub_conf, tls_key_file),
	    "PEM private key of tls.cert_file (unencrypted; mode 0600)" },
	{ "hub.term_group", CONF_STR, 0, 64, "", offsetof(hub_conf, term_group),
	    "OS group given the ipc:// terminal socket (mode 0660): the staff's"
	    " terminals run in it; empty: hubd's own group" },
	{ "hub.term_allowed_uids", CONF_STR, 0, STR_MAX, "",
	    offsetof(hub_conf, term_allowed_uids),
	    "OS users (uids or names, comma-separated) whose terminals may use an"
	    " ipc:// terminal socket; others are refused FORBIDDEN. Empty: hubd's"
	    " own user and root; *: anyone the socket file lets in" },
	{ "hub.term_peer_inflight_max", CONF_INT, 0, HUB_TERM_CTX_MAX, "4",
	    offsetof(hub_conf, term_peer_inflight_max),
	    "requests one terminal connection may have in flight (0: no cap); more"
	    " are answered UNAVAILABLE at once (pickterm sends one at a time)" },
	{ "auth.key_file", CONF_STR, 0, STR_MAX, "", offsetof(hub_conf, auth_key_file),
	    "this hub's secret (64 hex digits, deploy/pki.sh: PKI/hub/ID.secret):"
	    " signs every sync; empty: unsigned (an anonymous coordinator only)" },
	{ "auth.name", CONF_STR, 0, 64, "", offsetof(hub_conf, auth_name),
	    "the name the secret was issued to; empty: hub.id" },
	{ "tls.allow_plaintext", CONF_INT, 0, 1, "0",
	    offsetof(hub_conf, tls_allow_plaintext),
	    "1 allows a plaintext tcp:// coordinator_url (a private network only)" },
	{ "metrics.listen", CONF_STR, 0, STR_MAX, "", offsetof(hub_conf, metrics_listen),
	    "http://HOST:PORT or https://HOST:PORT serving GET /metrics (Prometheus"
	    " text); empty: off" },
	{ "metrics.allow_public", CONF_INT, 0, 1, "0",
	    offsetof(hub_conf, metrics_allow_public),
	    "1 allows an http:// metrics.listen on a non-loopback address (plain HTTP:"
	    " a private network only); https:// may listen anywhere" },
	{ "metrics.cert_file", CONF_STR, 0, STR_MAX, "", offsetof(hub_conf, metrics_cert_file),
	    "https: the PEM server certificate /metrics presents (deploy/pki.sh"
	    " server NAME: the hub's own is a client certificate)" },
	{ "metrics.key_file", CONF_STR, 0, STR_MAX, "", offsetof(hub_conf, metrics_key_file),
	    "https: PEM private key of metrics.cert_file" },
	{ "metrics.client_ca_file", CONF_STR, 0, STR_MAX, "",
	    offsetof(hub_conf, metrics_client_ca_file),
	    "https: CA every scraper's client certificate must chain to (e.g. the"
	    " operator CA)" },
};
const size_t hub_conf_nkeys = sizeof(hub_conf_keys) / sizeof(hub_conf_keys[0]);

int hub_conf_load(hub_conf *cfg, const char *path, const char *const *sets,
    size_t nsets, char *err, size_t err_len)
{
	char field[32];
	const char *why = NULL;
	log_level lvl;
	int rv;

	memset(cfg, 0, sizeof(*cfg));
	rv = conf_load(hub_conf_keys, hub_conf_nkeys, cfg, path, sets, nsets, err,
	    err_len);
	if (rv != 0) {
		return rv;
	}
	if (validate_hub(cfg->id, cfg->lat, cfg->lon, cfg->radius_km, field,
	    sizeof(field), &why) != 0) {
		snprintf(err, err_len, "hub.%s: %s", field,
		    why != NULL ? why : "invalid");
		return DN_EINVAL;
	}
	if (log_level_parse(cfg->log_level, &lvl) != 0) {
		snprintf(err, err_len, "log.level: '%s' is not debug, info, warn "
		    "or error", cfg->log_level);
		return DN_EINVAL;
	}
	if (cfg->name[0] == '\0') {
		snprintf(cfg->name, sizeof(cfg->name), "%s", cfg->id);
	}
	return 0;
}
