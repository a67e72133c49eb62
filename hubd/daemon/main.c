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
 * This file is the shell around the hub machine (hubd/machine): it owns the
 * loop, the sockets, the sync timer and the clock, sets the machine's clock
 * before each call, and sends replies only after the machine returned.
 *
 * Thread model: one libuv loop owns everything.
 */
#include <errno.h>
#include <inttypes.h>
#include <grp.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "core/err.h"
#include "core/validate.h"
#include "io/auth.h"
#include "io/bridge.h"
#include "io/log.h"
#include "io/nettls.h"
#include "io/tls_engine.h"
#include "io/peeruid.h"
#include "hub.h"
#include "hub_obs.h"

/* Replicas hub.coordinator_url may list (a group has 3 or 5). */
#define HUB_COORD_URLS_MAX 7
/* --set arguments accepted on one command line. */
#define HUB_SETS_MAX 64

typedef struct {
	hub *h;
	uv_loop_t *loop;
	bridge *term;           /* REP: pickterm requests */
	bridge_client *coord;   /* REQ: hubsync to the coordinator */
	uv_timer_t sync_timer;
	bool sync_timer_init;
	bool sync_inflight;     /* a HubSyncRequest awaits its reply */
	bool stopping;
	uv_signal_t sigint, sigterm;
	bool sig_init;
	hub_obs obs;            /* /metrics (off unless metrics.listen) */
	/* hub.coordinator_url may list a replicated group's replicas,
	 * comma-separated: the hub syncs with one (cur) and moves on after a
	 * failed sync or a NOT_LEADER (to the leader it names, when listed). */
	char urls[HUB_COORD_URLS_MAX][DN_CONF_STR_MAX];
	size_t nurls, cur;
	int move_to;            /* -2: stay; -1: the next URL; else that index */
	/* One URL: syncs failing for HUB_REDIAL_MS mean a dead connection
	 * (a partition: TCP retransmits back off to minutes) - dial again. */
	uint64_t failing_since; /* uv_now of the first failure since an OK; 0 */
	bool redial;
	auth_client auth;       /* signs each sync (io/auth.h) */
	bool auth_on;
	/* hub.term_allowed_uids, checked on an ipc:// terminal socket only. */
	peeruid_list term_uids;
	bool term_uid_check;
	uint64_t uid_log_ms;     /* last hub.term_uid_refused line (uv_now) */
	uint64_t uid_unlogged;   /* refusals since that line */
	uint64_t uid_refused;    /* all refusals since start */
} hub_main;

/* At most one hub.term_uid_refused line this often: a refused account's
 * terminal retries every 500 ms and must not fill the journal. */
#define HUB_UID_LOG_MS 1000u

/* Gives an ipc:// terminal socket file (mode 0660, nettls.h) to the group
 * hub.term_group, so the staff's terminals (members of it) may connect and
 * nobody else. Empty: the process's own group. 0 or DN_EINVAL (logged). */
static int hub_term_group(const hub *h)
{
	const char *g = h->cfg.term_group;
	if (g[0] == '\0' || strncmp(h->cfg.term_url, "ipc://", 6) != 0) {
		return 0;
	}
	const struct group *gr = getgrnam(g);
	if (gr == NULL || chown(h->cfg.term_url + 6, (uid_t)-1, gr->gr_gid) != 0) {
		log_error("hubd.term_group_failed", "group=%s path=%s err=\"%s\"", g,
		    h->cfg.term_url + 6, gr == NULL ? "no such group" : strerror(errno));
		return DN_EINVAL;
	}
	log_info("hubd.term_group", "group=%s path=%s mode=0660", g, h->cfg.term_url + 6);
	return 0;
}

/* Reads hub.term_allowed_uids for an ipc:// term_url (the only transport
 * that tells a peer's uid). 0, or -1 with the reason on stderr. */
static int hub_term_uids_load(hub_main *m)
{
	const hub_conf *cfg = &m->h->cfg;
	char err[160];
	if (strncmp(cfg->term_url, "ipc://", 6) != 0) {
		if (cfg->term_allowed_uids[0] != '\0') {
			fprintf(stderr, "hubd: config: hub.term_allowed_uids needs an ipc://"
			    " hub.term_url (a peer's uid is known only there)\n");
			return -1;
		}
		return 0;
	}
	if (peeruid_list_parse(cfg->term_allowed_uids, (uint64_t)geteuid(), &m->term_uids,
	    err, sizeof(err)) != 0) {
		fprintf(stderr, "hubd: config: hub.term_allowed_uids: %s\n", err);
		return -1;
	}
	m->term_uid_check = true;
	return 0;
}

/* Wraps a sync in its Signed envelope when the hub has a secret: replaces
 * *buf (freed) by the envelope. 0 or DN_ENOMEM. */
static int hub_sync_seal(hub_main *m, uint8_t **buf, size_t *len)
{
	if (!m->auth_on) {
		return 0;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t now_us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	uint8_t *out = NULL;
	size_t out_len = 0;
	int rv = auth_seal(AUTH_SOCKET_HUBSYNC, m->auth.name, m->auth.key,
	    auth_client_counter(&m->auth, now_us), *buf, *len, &out, &out_len);
	free(*buf);
	*buf = out;
	*len = out_len;
	return rv;
}

static int64_t hub_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sets the machine's clocks. The lease clock is CLOCK_BOOTTIME: it keeps
 * running while the machine is suspended, so a lease never outlives its
 * real length at the hub (CLOCK_MONOTONIC stops in suspend). */
static void hub_clock(hub *h)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	h->now_ms = hub_now_ms();
	h->now_mono_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
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

/* Answers r at once with a TermReply (status st, message why) without the
 * machine. */
static void hub_term_answer(bridge_req *r, int st, const char *why)
{
	size_t len = 0;
	const uint8_t *body = bridge_req_body(r, &len);
	mreq mr;
	mreq_init(&mr, body, len);
	hub_term_refuse(&mr, st, why);
	bridge_req_reply(r, mr.reply, mr.reply_len);
	mreq_fini(&mr);
}

/* True if r's terminal runs as an OS user hub.term_allowed_uids names;
 * otherwise answers it FORBIDDEN, logs hub.term_uid_refused (at most once
 * a second, with the count since the last line) and returns false. */
static bool hub_term_uid_ok(hub_main *m, bridge_req *r)
{
	uint64_t uid = 0;
	if (!m->term_uid_check) {
		return true;
	}
	bool known = bridge_req_peer_uid(r, &uid) == 0;
	if (known && peeruid_allowed(&m->term_uids, uid)) {
		return true;
	}
	m->uid_refused++;
	m->uid_unlogged++;
	uint64_t now = uv_now(m->loop);
	if (m->uid_log_ms == 0 || now - m->uid_log_ms >= HUB_UID_LOG_MS) {
		log_warn("hub.term_uid_refused", "uid=%s%" PRIu64 " pipe=%" PRIu32
		    " allowed=\"%s\" refused=%" PRIu64 " total=%" PRIu64, known ? "" : "unknown:",
		    uid, bridge_req_pipe(r), m->h->cfg.term_allowed_uids, m->uid_unlogged,
		    m->uid_refused);
		m->uid_log_ms = now == 0 ? 1 : now;
		m->uid_unlogged = 0;
	}
	char why[160];
	if (known) {
		snprintf(why, sizeof(why), "OS user %" PRIu64 " may not use this hub's terminal"
		    " socket (hub.term_allowed_uids)", uid);
	} else {
		snprintf(why, sizeof(why), "the terminal's OS user is unknown"
		    " (hub.term_allowed_uids)");
	}
	hub_term_answer(r, DROPNET__STATUS__FORBIDDEN, why);
	return false;
}

/* A terminal connection over hub.term_peer_inflight_max (bridge.h). */
static void on_term_busy(void *arg, bridge_req *r, uint32_t max)
{
	(void)arg;
	char why[160];
	snprintf(why, sizeof(why), "busy: this terminal already has %" PRIu32 " requests in"
	    " flight (hub.term_peer_inflight_max); retry once one is answered", max);
	hub_term_answer(r, DROPNET__STATUS__UNAVAILABLE, why);
}

static void on_term(void *arg, bridge_req **reqs, size_t n)
{
	hub_main *m = arg;
	/* Only allowed OS users reach the machine (kept in order). */
	size_t kept = 0;
	for (size_t i = 0; i < n; i++) {
		if (hub_term_uid_ok(m, reqs[i])) {
			reqs[kept++] = reqs[i];
		}
	}
	n = kept;
	if (n == 0) {
		return;
	}
	mreq *mr = calloc(n, sizeof(*mr));
	mreq **mp = calloc(n, sizeof(*mp));
	if (mr == NULL || mp == NULL) {
		free(mr);
		free(mp);
		log_error("hub.term_nomem", "batch=%zu", n);
		for (size_t i = 0; i < n; i++) {
			bridge_req_reply(reqs[i], "", 0); /* read as MALFORMED: retry */
		}
		return;
	}
	uint64_t recv_ns[HUB_TERM_CTX_MAX];
	for (size_t i = 0; i < n; i++) {
		size_t len = 0;
		const uint8_t *body = bridge_req_body(reqs[i], &len);
		mreq_init(&mr[i], body, len);
		uint64_t uid = 0;
		if (bridge_req_peer_uid(reqs[i], &uid) == 0 && uid <= UINT32_MAX) {
			mr[i].peer_uid = (int64_t)uid;
		}
		mp[i] = &mr[i];
		recv_ns[i < HUB_TERM_CTX_MAX ? i : 0] = bridge_req_received_ns(reqs[i]);
	}
	hub_clock(m->h);
	hub_term_batch(m->h, mp, n);
	for (size_t i = 0; i < n; i++) {
		bridge_req_reply(reqs[i], mr[i].reply, mr[i].reply_len);
		mreq_fini(&mr[i]);
	}
	if (m->obs.http != NULL) {
		hub_obs_term(&m->obs, recv_ns, n < HUB_TERM_CTX_MAX ? n : HUB_TERM_CTX_MAX,
		    hub_obs_now_ns());
	}
	free(mr);
	free(mp);
}

static void sync_on_timer(uv_timer_t *t);
static void on_sync_reply(void *arg, int rv, const uint8_t *buf, size_t len);
static nettls_files hub_tls_files(const hub_conf *cfg);

/* Splits hub.coordinator_url into m->urls. 0 or DN_EINVAL. */
static int hub_coord_urls(hub_main *m, const char *list)
{
	m->nurls = m->cur = 0;
	m->move_to = -2;
	for (const char *p = list; *p != '\0';) {
		size_t l = strcspn(p, ",");
		if (l == 0 || l >= DN_CONF_STR_MAX || m->nurls == HUB_COORD_URLS_MAX) {
			return DN_EINVAL;
		}
		memcpy(m->urls[m->nurls], p, l);
		m->urls[m->nurls++][l] = '\0';
		p += l + (p[l] == ',');
	}
	return m->nurls > 0 ? 0 : DN_EINVAL;
}

/* Dials the coordinator URL cur. 0 or DN_E* (logged). */
static int hub_coord_dial(hub_main *m)
{
	nettls_files tls = hub_tls_files(&m->h->cfg);
	int rv = bridge_client_create(&m->coord, m->loop, m->urls[m->cur], &tls,
	    on_sync_reply, m);
	if (rv != 0) {
		log_error("hubd.coordinator_dial_failed", "url=%s err=%s", m->urls[m->cur],
		    dn_strerror(rv));
	}
	return rv;
}

/* Moves to another replica of the coordinator group (move_to). */
static int hub_coord_move(hub_main *m)
{
	size_t to = m->move_to >= 0 ? (size_t)m->move_to : (m->cur + 1) % m->nurls;
	m->move_to = -2;
	if (to == m->cur) {
		return 0;
	}
	bridge_client_destroy(m->coord);
	m->coord = NULL;
	m->cur = to;
	log_info("hub.coordinator_moved", "url=%s", m->urls[m->cur]);
	return hub_coord_dial(m);
}

/* How long syncs to a single coordinator URL fail before the hub closes
 * the connection and dials again: twice the sync timeout, at least 3 s. */
static uint64_t hub_redial_ms(const hub_main *m)
{
	uint64_t t = 2u * (uint64_t)m->h->cfg.sync_timeout_ms;
	return t < 3000u ? 3000u : t;
}

/* After a sync: a failure or a NOT_LEADER moves to another replica; with
 * one URL, failures that last hub_redial_ms make the hub dial again. After
 * a network partition heals, an old TCP connection waits out its
 * retransmission back-off (49 s measured after a 60 s cut) and a dial
 * begun during the cut its SYN back-off; a fresh dial every few seconds
 * gets through as soon as the link is back. */
static void hub_coord_follow(hub_main *m, int rv, const uint8_t *buf, size_t len)
{
	Dropnet__HubSyncReply *rep = NULL;
	if (m->nurls < 2) {
		uint64_t now = uv_now(m->loop);
		if (rv == 0) {
			m->failing_since = 0;
		} else if (m->failing_since == 0) {
			m->failing_since = now;
		} else if (now - m->failing_since >= hub_redial_ms(m)) {
			m->redial = true;
			m->failing_since = now;
		}
		return;
	}
	if (rv != 0) {
		m->move_to = -1;
		return;
	}
	if (codec_hub_sync_reply_unpack(buf, len, &rep) == 0 &&
	    rep->status == DROPNET__STATUS__NOT_LEADER) {
		m->move_to = -1;
		for (size_t k = 0; k < m->nurls; k++) {
			if (strcmp(m->urls[k], rep->leader) == 0) {
				m->move_to = (int)k;
			}
		}
	}
	codec_hub_sync_reply_free(rep);
}

static void sync_schedule(hub_main *m, uint64_t delay_ms)
{
	if (m->stopping || !m->sync_timer_init) {
		return;
	}
	uv_timer_start(&m->sync_timer, sync_on_timer, delay_ms, 0);
}

static void sync_on_timer(uv_timer_t *t)
{
	hub_main *m = t->data;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rv;

	if (m->stopping || m->sync_inflight) {
		return;
	}
	hub_clock(m->h);
	if (m->redial) {
		m->redial = false;
		log_warn("hub.coordinator_redial", "url=%s reason=\"syncs failing for %llu ms\"",
		    m->urls[m->cur], (unsigned long long)hub_redial_ms(m));
		bridge_client_destroy(m->coord);
		m->coord = NULL; /* dialled again below */
	}
	if (m->move_to != -2 && hub_coord_move(m) != 0) {
		sync_schedule(m, (uint64_t)m->h->cfg.sync_interval_ms);
		return;
	}
	/* Dial (again): after a redial, or a dial that failed (logged). */
	if (m->coord == NULL && hub_coord_dial(m) != 0) {
		sync_schedule(m, (uint64_t)m->h->cfg.sync_interval_ms);
		return;
	}
	if ((rv = hub_sync_build(m->h, &buf, &len)) != 0 ||
	    (rv = hub_sync_seal(m, &buf, &len)) != 0) {
		log_error("hub.sync_build_failed", "err=%s", dn_strerror(rv));
		sync_schedule(m, (uint64_t)m->h->cfg.sync_interval_ms);
		return;
	}
	rv = bridge_client_call(m->coord, buf, len, (int)m->h->cfg.sync_timeout_ms);
	free(buf);
	if (rv != 0) {
		sync_schedule(m, hub_sync_on_reply(m->h, rv, NULL, 0));
		return;
	}
	m->sync_inflight = true;
	hub_obs_sync_sent(&m->obs);
}

static void on_sync_reply(void *arg, int rv, const uint8_t *buf, size_t len)
{
	hub_main *m = arg;
	m->sync_inflight = false;
	if (m->stopping) {
		return;
	}
	hub_clock(m->h);
	hub_coord_follow(m, rv, buf, len);
	uint64_t delay = hub_sync_on_reply(m->h, rv, buf, len);
	hub_obs_sync_done(&m->obs, rv == 0 && m->h->coordinator_up);
	sync_schedule(m, delay);
}

static int sync_start(hub_main *m)
{
	if (uv_timer_init(m->loop, &m->sync_timer) != 0) {
		return DN_ENOMEM;
	}
	m->sync_timer.data = m;
	m->sync_timer_init = true;
	uv_timer_start(&m->sync_timer, sync_on_timer, 0, 0);
	return 0;
}

static void hub_shutdown(hub_main *m)
{
	if (m->stopping) {
		return;
	}
	m->stopping = true;
	hub_obs_stop(&m->obs);
	if (m->sync_timer_init) {
		uv_timer_stop(&m->sync_timer);
		uv_close((uv_handle_t *)&m->sync_timer, NULL);
		m->sync_timer_init = false;
	}
	bridge_destroy(m->term);
	m->term = NULL;
	bridge_client_destroy(m->coord);
	m->coord = NULL;
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

/* The TLS files for dialling the coordinator (common/io/nettls.h). */
static nettls_files hub_tls_files(const hub_conf *cfg)
{
	nettls_files f = {
		.ca_file = cfg->tls_ca_file,
		.crl_file = cfg->tls_crl_file,
		.cert_file = cfg->tls_cert_file,
		.key_file = cfg->tls_key_file,
		.allow_plaintext = cfg->tls_allow_plaintext != 0,
	};
	return f;
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
	nettls_files tls = hub_tls_files(&h->cfg);
	rv = bridge_create(&m->term, m->loop, h->cfg.term_url, &tls,
	    DN_TERM_MSG_MAX, HUB_TERM_CTX_MAX, on_term, m);
	if (rv != 0) {
		log_error("hubd.term_listen_failed", "url=%s err=%s",
		    h->cfg.term_url, dn_strerror(rv));
		return rv;
	}
	bridge_set_peer_max(m->term, (uint32_t)h->cfg.term_peer_inflight_max, on_term_busy, m);
	if ((rv = hub_term_group(h)) != 0) {
		return rv;
	}
	if ((rv = hub_coord_dial(m)) != 0) {
		return rv;
	}
	if ((rv = sync_start(m)) != 0) {
		return rv;
	}
	if ((rv = hub_obs_open(&m->obs, m->loop, h)) != 0) {
		return rv;
	}
	m->obs.term = m->term;
	if (uv_signal_init(m->loop, &m->sigint) != 0
	    || uv_signal_init(m->loop, &m->sigterm) != 0) {
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
	/* The TLS policy is the shell's: a plaintext tcp:// coordinator_url
	 * without tls.allow_plaintext, or TLS without its files, stops here. */
	nettls_files tls = hub_tls_files(&h.cfg);
	if (hub_coord_urls(&m, h.cfg.coordinator_url) != 0) {
		fprintf(stderr, "hubd: config: hub.coordinator_url: at most %d URLs,"
		    " comma-separated\n", HUB_COORD_URLS_MAX);
		return 2;
	}
	for (size_t k = 0; k < m.nurls; k++) {
		if (nettls_check(m.urls[k], &tls, err, sizeof(err)) != 0) {
			fprintf(stderr, "hubd: config: hub.coordinator_url: %s\n", err);
			return 2;
		}
	}
	if (hub_obs_config_check(&h.cfg) != 0 || hub_term_uids_load(&m) != 0) {
		return 2;
	}
	if (h.cfg.auth_key_file[0] != '\0') {
		const char *name = h.cfg.auth_name[0] ? h.cfg.auth_name : h.cfg.id;
		if (!validate_id(name) || auth_key_load(h.cfg.auth_key_file, m.auth.key) != 0) {
			fprintf(stderr, "hubd: config: auth.key_file %s: unreadable or not 64 hex"
			    " digits (or a bad auth.name)\n", h.cfg.auth_key_file);
			return 2;
		}
		snprintf(m.auth.name, sizeof(m.auth.name), "%.64s", name);
		m.auth_on = true;
	}
	(void)log_level_parse(h.cfg.log_level, &lvl);
	log_set_level(lvl);
	conf_log(hub_conf_keys, hub_conf_nkeys, &h.cfg);
	tls_engine_announce(); /* which TLS engine every socket uses */

	if (uv_loop_init(&loop) != 0) {
		log_error("hubd.loop_failed", "%s", "");
		return 1;
	}
	m.loop = &loop;
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
	hub_obs_close(&m.obs);
	hub_store_close(h.store);
	log_info("hubd.stopped", "hub=%s", h.cfg.id);
	return rv == 0 ? 0 : 1;
}
