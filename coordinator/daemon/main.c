/*
 * main.c - the coordinator daemon: arguments, config, signals, wiring.
 *
 * One libuv loop owns everything (coord.h). Three nng REP sockets feed it
 * through common/io/bridge: ingest (storefronts), hubsync (hubd), ops
 * (dropctl). A timer logs hub health transitions. SIGINT/SIGTERM close every
 * handle, run the loop until it is empty, and close the database.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "core/err.h"
#include "core/limits.h"
#include "io/db.h"
#include "io/log.h"
#include "coord.h"
#include "store.h"

/* How often hub health is re-evaluated for logging. */
#define COORD_HEALTH_TICK_MS 250
/* Contexts for the hub and ops sockets: few peers, short requests. */
#define COORD_HUB_CTX 32
#define COORD_OPS_CTX 8
/* Most --set overrides on one command line. */
#define COORD_SETS_MAX 64

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: coordinator [--config FILE] [--set section.key=value]... [--help]\n"
	    "\n"
	    "The dropnet coordinator: takes storefront orders, routes each to the\n"
	    "nearest hub in range that can fill it, never oversells, and keeps the\n"
	    "command/event streams with every hub. Logs go to stderr; it prints a\n"
	    "line with 'coordinator.ready' once every socket is listening.\n"
	    "Every TCP socket is tls+tcp:// and requires a client certificate of\n"
	    "its role's CA (tls.* keys below; deploy/pki.sh makes them); tcp://\n"
	    "only with tls.allow_plaintext=1.\n\n");
}

/* Every socket URL against the TLS policy (nettls.h), before anything
 * starts: a plaintext tcp:// without tls.allow_plaintext, or TLS without
 * its files, is a config error. */
static int coord_tls_check(const coord_config *cfg)
{
	const struct {
		const char *key, *url, *role_ca;
	} socks[] = {
		{"coordinator.ingest_url", cfg->ingest_url, cfg->tls_storefront_ca_file},
		{"coordinator.hub_url", cfg->hub_url, cfg->tls_hub_ca_file},
		{"coordinator.ops_url", cfg->ops_url, cfg->tls_operator_ca_file},
		{"coordinator.signal_url", cfg->signal_url, cfg->tls_operator_ca_file},
	};
	char err[512];
	for (size_t i = 0; i < sizeof(socks) / sizeof(socks[0]); i++) {
		nettls_files f = coord_tls_files(cfg, socks[i].role_ca);
		if (nettls_check(socks[i].url, &f, err, sizeof(err)) != 0) {
			fprintf(stderr, "coordinator: config: %s: %s\n", socks[i].key, err);
			return DN_EINVAL;
		}
	}
	return 0;
}

static void coord_health_tick(uv_timer_t *t)
{
	coord *c = t->data;
	uint64_t now = coord_now_mono_ms(c);
	for (size_t i = 0; i < c->nhubs; i++) {
		coord_hub *h = &c->hubs[i];
		bool ok = coord_hub_healthy(c, h, now);
		if (!ok && h->healthy_logged) {
			log_warn("hub.down", "hub=%s silent_ms=%llu", h->id,
			    (unsigned long long)(now - h->last_seen_mono_ms));
		}
		h->healthy_logged = ok;
	}
	coord_drops_tick(c);
	coord_rebalance_tick(c);
}

static void coord_close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h)) {
		uv_close(h, NULL);
	}
}

static void coord_stop(coord *c)
{
	log_info("coordinator.stopping", "orders_seen=%llu batches=%llu commit_failures=%llu",
	    (unsigned long long)c->orders_seen, (unsigned long long)c->ingest_batches,
	    (unsigned long long)c->commit_failures);
	bridge_destroy(c->ingest);
	bridge_destroy(c->hubsync);
	bridge_destroy(c->ops);
	c->ingest = c->hubsync = c->ops = NULL;
	uv_timer_stop(&c->health_timer);
	uv_close((uv_handle_t *)&c->health_timer, NULL);
	uv_close((uv_handle_t *)&c->sigint, NULL);
	uv_close((uv_handle_t *)&c->sigterm, NULL);
}

static void coord_on_signal(uv_signal_t *s, int signum)
{
	coord *c = s->data;
	log_info("coordinator.signal", "signal=%d", signum);
	coord_stop(c);
}

static int mkdir_p(const char *path)
{
	char buf[DN_CONF_STR_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
				return -1;
			}
			*p = '/';
		}
	}
	return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

int main(int argc, char **argv)
{
	const char *config = NULL;
	const char *sets[COORD_SETS_MAX];
	size_t nsets = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			conf_print_help(coord_config_keys, coord_config_nkeys);
			return 0;
		} else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			config = argv[++i];
		} else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc && nsets < COORD_SETS_MAX) {
			sets[nsets++] = argv[++i];
		} else {
			fprintf(stderr, "coordinator: unknown argument '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	static coord c;
	char err[512];
	if (conf_load(coord_config_keys, coord_config_nkeys, &c.cfg, config, sets, nsets,
	    err, sizeof(err)) != 0) {
		fprintf(stderr, "coordinator: config: %s\n", err);
		return 2;
	}
	log_level lvl;
	if (log_level_parse(c.cfg.log_level, &lvl) != 0) {
		fprintf(stderr, "coordinator: config: log.level '%s' is not debug|info|warn|error\n",
		    c.cfg.log_level);
		return 2;
	}
	if (strcmp(c.cfg.split_policy, "never") == 0) {
		c.split = ROUTE_SPLIT_NEVER;
	} else if (strcmp(c.cfg.split_policy, "allowed") == 0) {
		c.split = ROUTE_SPLIT_ALLOWED;
	} else {
		fprintf(stderr, "coordinator: config: coordinator.split_policy must be never or allowed\n");
		return 2;
	}
	if (coord_tls_check(&c.cfg) != 0) {
		return 2;
	}
	log_set_level(lvl);
	conf_log(coord_config_keys, coord_config_nkeys, &c.cfg);
	if (mkdir_p(c.cfg.data_dir) != 0) {
		log_error("coordinator.data_dir", "path=%s err=\"%s\"", c.cfg.data_dir, strerror(errno));
		return 1;
	}
	char path[DN_CONF_STR_MAX + 32];
	snprintf(path, sizeof(path), "%s/coordinator.db", c.cfg.data_dir);
	static store st;
	c.store = &st;
	if (db_open(path, store_schema_sql, &c.db) != 0 || store_init(&st, c.db) != 0 ||
	    coord_reload(&c) != 0) {
		log_error("coordinator.db_failed", "path=%s", path);
		db_close(c.db);
		return 1;
	}
	c.loop = uv_default_loop();
	/* Hubs known from before a restart get one hub_timeout_ms of grace:
	 * they sync within a heartbeat, and without it the first orders after
	 * a restart would be journalled NO_HUB_IN_RANGE for good. A hub that
	 * does not return is marked down when the grace runs out. */
	for (size_t i = 0; i < c.nhubs; i++) {
		c.hubs[i].last_seen_mono_ms = uv_now(c.loop) ? uv_now(c.loop) : 1;
		c.hubs[i].healthy_logged = true;
	}
	nettls_files tls_store = coord_tls_files(&c.cfg, c.cfg.tls_storefront_ca_file);
	nettls_files tls_hub = coord_tls_files(&c.cfg, c.cfg.tls_hub_ca_file);
	nettls_files tls_op = coord_tls_files(&c.cfg, c.cfg.tls_operator_ca_file);
	int rv = bridge_create(&c.ingest, c.loop, c.cfg.ingest_url, &tls_store,
	    DN_INGEST_MSG_MAX, (size_t)c.cfg.ingest_contexts, coord_ingest_batch, &c);
	if (rv == 0) {
		rv = bridge_create(&c.hubsync, c.loop, c.cfg.hub_url, &tls_hub,
		    DN_HUBSYNC_MSG_MAX, COORD_HUB_CTX, coord_hubsync_batch, &c);
	}
	if (rv == 0) {
		rv = bridge_create(&c.ops, c.loop, c.cfg.ops_url, &tls_op, DN_OPS_MSG_MAX,
		    COORD_OPS_CTX, coord_ops_batch, &c);
	}
	if (rv == 0) {
		rv = coord_rebalance_init(&c);
	}
	if (rv != 0) {
		log_error("coordinator.listen_failed", "err=%s", dn_strerror(rv));
		bridge_destroy(c.ops);
		bridge_destroy(c.ingest);
		bridge_destroy(c.hubsync);
		uv_run(c.loop, UV_RUN_DEFAULT);
		db_close(c.db);
		return 1;
	}
	uv_timer_init(c.loop, &c.health_timer);
	c.health_timer.data = &c;
	uv_timer_start(&c.health_timer, coord_health_tick, COORD_HEALTH_TICK_MS,
	    COORD_HEALTH_TICK_MS);
	uv_signal_init(c.loop, &c.sigint);
	uv_signal_init(c.loop, &c.sigterm);
	c.sigint.data = c.sigterm.data = &c;
	uv_signal_start(&c.sigint, coord_on_signal, SIGINT);
	uv_signal_start(&c.sigterm, coord_on_signal, SIGTERM);
	log_info("coordinator.ready", "ingest=%s ops=%s hub=%s signal=%s hubs=%zu"
	    " stock_rows=%zu db=%s", c.cfg.ingest_url, c.cfg.ops_url, c.cfg.hub_url,
	    c.cfg.signal_url, c.nhubs, c.stock_len, path);
	uv_run(c.loop, UV_RUN_DEFAULT);
	uv_walk(c.loop, coord_close_walk, NULL);
	uv_run(c.loop, UV_RUN_DEFAULT);
	uv_loop_close(c.loop);
	db_close(c.db);
	for (size_t i = 0; i < c.nhubs; i++) {
		free(c.hubs[i].report);
	}
	free(c.stock);
	coord_drops_free(&c);
	coord_rebalance_fini(&c);
	log_info("coordinator.stopped", "clean=1");
	return 0;
}
