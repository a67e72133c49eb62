/*
 * main.c - hubd: one regional hub's daemon (DESIGN.md "Processes").
 *
 *   hubd --config FILE [--set section.key=value]... [--help]
 *
 * Wiring: config -> SQLite store (DATA_DIR/hub.db) -> terminal REP socket
 * (pickterm) -> hubsync client and timer (coordinator) -> SIGINT/SIGTERM.
 * When all are up it logs one `hubd.ready` line; integration tests wait for
 * it. On a signal it closes every handle, runs the loop until it is empty,
 * closes the database and exits 0. Exit 2 on a bad config or command line,
 * 1 when start-up fails.
 *
 * Thread model: one libuv loop owns everything (hub.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "core/err.h"
#include "io/log.h"
#include "hub.h"

/* nng contexts on the terminal socket: a hub has a handful of terminals,
 * each with one request in flight; more is a runaway script. */
#define HUB_TERM_CTX_MAX 32u

/* --set arguments accepted on one command line. */
#define HUB_SETS_MAX 64

typedef struct {
	hub *h;
	uv_signal_t sigint, sigterm;
	bool sig_init;
} hub_main;

int64_t hub_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: hubd --config FILE [--set section.key=value]... [--help]\n"
	    "\n"
	    "The hub daemon: physical stock, bins and the pick queue of one\n"
	    "regional hub; syncs with the coordinator and serves pickterm.\n"
	    "It dials the coordinator over tls+tcp:// with this hub's certificate\n"
	    "(tls.* keys below; deploy/pki.sh issue --dir PKI hub ID).\n"
	    "\n");
}

/* mkdir -p: the data folder may be several levels deep. */
static int dir_make(const char *path)
{
	char buf[DN_CONF_STR_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf)) {
		return DN_EINVAL;
	}
	memcpy(buf, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] == '/' || buf[i] == '\0') {
			char c = buf[i];
			buf[i] = '\0';
			if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
				log_error("hubd.mkdir_failed", "path=%s err=\"%s\"", buf,
				    strerror(errno));
				return DN_EIO;
			}
			buf[i] = c;
		}
	}
	return 0;
}

static void on_close_noop(uv_handle_t *hd)
{
	(void)hd;
}

static void hub_shutdown(hub_main *m)
{
	hub *h = m->h;
	if (h->stopping) {
		return;
	}
	h->stopping = true;
	hub_sync_stop(h);
	bridge_destroy(h->term);
	h->term = NULL;
	bridge_client_destroy(h->coord);
	h->coord = NULL;
	if (m->sig_init) {
		uv_close((uv_handle_t *)&m->sigint, on_close_noop);
		uv_close((uv_handle_t *)&m->sigterm, on_close_noop);
		m->sig_init = false;
	}
}

static void on_signal(uv_signal_t *s, int signum)
{
	hub_main *m = s->data;
	log_info("hubd.stopping", "signal=%d", signum);
	hub_shutdown(m);
}

/* Parses argv into path and sets; returns 0, 1 for --help, or 2. */
static int args_parse(int argc, char **argv, const char **path,
    const char **sets, size_t *nsets)
{
	*path = NULL;
	*nsets = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			return 1;
		} else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			*path = argv[++i];
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			*path = argv[i] + 9;
		} else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc) {
			if (*nsets == HUB_SETS_MAX) {
				fprintf(stderr, "hubd: too many --set (max %d)\n",
				    HUB_SETS_MAX);
				return 2;
			}
			sets[(*nsets)++] = argv[++i];
		} else {
			fprintf(stderr, "hubd: unknown or incomplete argument '%s'\n",
			    argv[i]);
			return 2;
		}
	}
	if (*path == NULL) {
		fprintf(stderr, "hubd: --config FILE is required\n");
		return 2;
	}
	return 0;
}

static int hub_start(hub_main *m)
{
	hub *h = m->h;
	char dbpath[DN_CONF_STR_MAX + 16];
	int rv;

	if ((rv = dir_make(h->cfg.data_dir)) != 0) {
		return rv;
	}
	snprintf(dbpath, sizeof(dbpath), "%s/hub.db", h->cfg.data_dir);
	if ((rv = hub_store_open(&h->store, dbpath)) != 0) {
		log_error("hubd.db_open_failed", "path=%s err=%s", dbpath,
		    dn_strerror(rv));
		return rv;
	}
	/* The terminal socket is normally ipc:// (same machine, no TLS); a
	 * tls+tcp:// term_url would serve with the hub's own certificate, a
	 * tcp:// one needs tls.allow_plaintext. */
	nettls_files tls = hub_conf_tls(&h->cfg);
	rv = bridge_create(&h->term, h->loop, h->cfg.term_url, &tls,
	    DN_TERM_MSG_MAX, HUB_TERM_CTX_MAX, hub_term_batch, h);
	if (rv != 0) {
		log_error("hubd.term_listen_failed", "url=%s err=%s",
		    h->cfg.term_url, dn_strerror(rv));
		return rv;
	}
	rv = bridge_client_create(&h->coord, h->loop, h->cfg.coordinator_url, &tls,
	    hub_sync_reply, h);
	if (rv != 0) {
		log_error("hubd.coordinator_dial_failed", "url=%s err=%s",
		    h->cfg.coordinator_url, dn_strerror(rv));
		return rv;
	}
	if ((rv = hub_sync_start(h)) != 0) {
		return rv;
	}
	if (uv_signal_init(h->loop, &m->sigint) != 0
	    || uv_signal_init(h->loop, &m->sigterm) != 0) {
		return DN_ENOMEM;
	}
	m->sig_init = true;
	m->sigint.data = m;
	m->sigterm.data = m;
	uv_signal_start(&m->sigint, on_signal, SIGINT);
	uv_signal_start(&m->sigterm, on_signal, SIGTERM);
	return 0;
}

int main(int argc, char **argv)
{
	const char *sets[HUB_SETS_MAX];
	const char *path;
	size_t nsets;
	char err[512];
	log_level lvl = LOG_INFO;
	hub h;
	hub_main m = { .h = &h };
	uv_loop_t loop;
	int rv;

	log_set_program("hubd");
	rv = args_parse(argc, argv, &path, sets, &nsets);
	if (rv == 1) {
		usage(stdout);
		fflush(stdout);
		conf_print_help(hub_conf_keys, hub_conf_nkeys);
		return 0;
	}
	if (rv != 0) {
		usage(stderr);
		return 2;
	}
	memset(&h, 0, sizeof(h));
	if (hub_conf_load(&h.cfg, path, sets, nsets, err, sizeof(err)) != 0) {
		fprintf(stderr, "hubd: config: %s\n", err);
		return 2;
	}
	(void)log_level_parse(h.cfg.log_level, &lvl);
	log_set_level(lvl);
	conf_log(hub_conf_keys, hub_conf_nkeys, &h.cfg);

	if (uv_loop_init(&loop) != 0) {
		log_error("hubd.loop_failed", "%s", "");
		return 1;
	}
	h.loop = &loop;
	rv = hub_start(&m);
	if (rv == 0) {
		log_info("hubd.ready", "hub=%s term=%s coordinator=%s",
		    h.cfg.id, h.cfg.term_url, h.cfg.coordinator_url);
	} else {
		log_error("hubd.start_failed", "err=%s", dn_strerror(rv));
	}
	if (rv != 0) {
		hub_shutdown(&m);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	/* Every handle is closed; drain their close callbacks, then the DB. */
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop) != 0) {
		log_warn("hubd.loop_busy", "%s", "handles left open at exit");
	}
	hub_store_close(h.store);
	log_info("hubd.stopped", "hub=%s", h.cfg.id);
	return rv == 0 ? 0 : 1;
}
