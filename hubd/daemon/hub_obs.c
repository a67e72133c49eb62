/*
 * hub_obs.c - hubd's /metrics (hub_obs.h). Loop thread only, except what
 * io/metrics_http does on its own threads with the published copy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include "core/err.h"
#include "io/db.h"
#include "io/log.h"
#include "hub_obs.h"

uint64_t hub_obs_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The https:// files: the metrics.* keys only (the hub's own certificate
 * is a client certificate, and it has no operator CA). */
static metrics_http_tls hub_obs_tls(const hub_conf *cfg)
{
	metrics_http_tls t = {
	    .cert_file = cfg->metrics_cert_file,
	    .key_file = cfg->metrics_key_file,
	    .client_ca_file = cfg->metrics_client_ca_file,
	    .crl_file = cfg->tls_crl_file,
	};
	return t;
}

int hub_obs_config_check(const hub_conf *cfg)
{
	char err[512];
	metrics_http_tls tls = hub_obs_tls(cfg);
	if (cfg->metrics_listen[0] != '\0' &&
	    metrics_http_check(cfg->metrics_listen, cfg->metrics_allow_public != 0, &tls,
	    err, sizeof(err)) != 0) {
		fprintf(stderr, "hubd: config: metrics.listen: %s\n", err);
		return DN_EINVAL;
	}
	return 0;
}

static void hub_obs_on_commit(void *arg, uint64_t ns)
{
	hub_obs *o = arg;
	metrics_hist_observe(&o->commit, (double)ns / 1e9);
}

static void gauge(metrics_text *t, const char *name, const char *help,
    const char *const *lab, double v)
{
	metrics_text_head(t, name, "gauge", help);
	metrics_text_sample(t, name, lab, v);
}

static void counter(metrics_text *t, const char *name, const char *help,
    const char *const *lab, double v)
{
	metrics_text_head(t, name, "counter", help);
	metrics_text_sample(t, name, lab, v);
}

/* The hub's store: streams and the pick queue by state. */
static void render_store(metrics_text *t, const hub_obs *o, const char *const *lab)
{
	hub_stream sp;
	if (hub_store_stream_get(o->h->store, &sp) == 0) {
		gauge(t, "dropnet_hub_events_unsynced", "Hub events the coordinator has not "
		    "yet applied (the outbox).", lab, (double)(sp.event_seq - sp.event_acked));
		gauge(t, "dropnet_hub_event_seq", "Last event this hub wrote.", lab,
		    (double)sp.event_seq);
		gauge(t, "dropnet_hub_command_applied", "Last coordinator command applied "
		    "here.", lab, (double)sp.cmd_applied);
	}
	/* The open states only: their counts are bounded by the live queue,
	 * while shipped orders pile up for ever (counting them would cost a
	 * longer scan at every snapshot). */
	static const pick_order_state open_states[] = {PICK_ORDER_QUEUED,
		PICK_ORDER_PICKING, PICK_ORDER_PICKED, PICK_ORDER_PACKED};
	metrics_text_head(t, "dropnet_hub_orders", "gauge",
	    "Orders at this hub not yet shipped, by pick state (the queue).");
	for (size_t k = 0; k < sizeof(open_states) / sizeof(open_states[0]); k++) {
		pick_order_state s = open_states[k];
		int64_t n = 0;
		if (hub_store_order_count(o->h->store, s, &n) == 0) {
			const char *l[] = {"hub", o->h->cfg.id, "state", pick_state_name(s), NULL};
			metrics_text_sample(t, "dropnet_hub_orders", l, (double)n);
		}
	}
}

static void render_shell(metrics_text *t, const hub_obs *o, const char *const *lab)
{
	uint64_t now = hub_obs_now_ns();
	gauge(t, "dropnet_hub_coordinator_up", "1 while the last sync got an OK reply.", lab,
	    o->h->coordinator_up ? 1 : 0);
	gauge(t, "dropnet_hub_last_sync_age_seconds", "Seconds since the last OK sync "
	    "(-1: none since start).", lab,
	    o->last_ok_ns == 0 ? -1 : (double)(now - o->last_ok_ns) / 1e9);
	gauge(t, "dropnet_hub_lease_valid", "1 while the hub holds a claim lease.", lab,
	    hub_lease_valid(o->h) ? 1 : 0);
	metrics_text_head(t, "dropnet_hub_syncs_total", "counter",
	    "Sync round trips with the coordinator, by outcome.");
	const char *lok[] = {"hub", o->h->cfg.id, "result", "ok", NULL};
	const char *lfail[] = {"hub", o->h->cfg.id, "result", "failed", NULL};
	metrics_text_sample(t, "dropnet_hub_syncs_total", lok, (double)o->syncs_ok);
	metrics_text_sample(t, "dropnet_hub_syncs_total", lfail, (double)o->syncs_failed);
	counter(t, "dropnet_hub_terminal_requests_total", "Terminal (pickterm) requests "
	    "answered.", lab, (double)o->term_requests);
	metrics_text_head(t, "dropnet_listener_restarts_total", "counter",
	    "Listeners made again after libnng stopped accepting on them "
	    "(common/io/netguard.h), by socket.");
	const char *lterm[] = {"hub", o->h->cfg.id, "socket", "terminal", NULL};
	metrics_text_sample(t, "dropnet_listener_restarts_total", lterm,
	    o->term != NULL ? (double)bridge_listener_restarts(o->term) : 0);
	metrics_text_head(t, "dropnet_hub_terminal_latency_seconds", "histogram",
	    "A terminal request from arrival to reply.");
	metrics_text_hist(t, "dropnet_hub_terminal_latency_seconds", lab, &o->term_ack);
	metrics_text_head(t, "dropnet_hub_sync_seconds", "histogram",
	    "A sync round trip with the coordinator.");
	metrics_text_hist(t, "dropnet_hub_sync_seconds", lab, &o->sync_rtt);
	metrics_text_head(t, "dropnet_commit_seconds", "histogram",
	    "One COMMIT: the WAL write and its fsync.");
	metrics_text_hist(t, "dropnet_commit_seconds", lab, &o->commit);
	struct statvfs sv;
	if (statvfs(o->h->cfg.data_dir, &sv) == 0) {
		const char *l[] = {"hub", o->h->cfg.id, "path", o->h->cfg.data_dir, NULL};
		gauge(t, "dropnet_disk_free_bytes", "Bytes free to the daemon on its data "
		    "folder's filesystem.", l, (double)sv.f_bavail * (double)sv.f_frsize);
		gauge(t, "dropnet_disk_size_bytes", "Size of the data folder's filesystem "
		    "in bytes.", l, (double)sv.f_blocks * (double)sv.f_frsize);
	}
	counter(t, "dropnet_metrics_truncated_total", "Snapshots cut short for want of "
	    "room (a bug: tell the developers).", lab, (double)o->truncated);
}

static void hub_obs_publish(uv_timer_t *tm)
{
	hub_obs *o = tm->data;
	metrics_text t;
	metrics_text_init(&t, o->text, HUB_OBS_TEXT_MAX);
	const char *up[] = {"role", "hub", "hub", o->h->cfg.id, NULL};
	gauge(&t, "dropnet_up", "1: this daemon is serving.", up, 1);
	const char *lab[] = {"hub", o->h->cfg.id, NULL};
	render_store(&t, o, lab);
	render_shell(&t, o, lab);
	if (t.truncated) {
		o->truncated++;
	}
	metrics_http_publish(o->http, t.buf, t.len);
}

int hub_obs_open(hub_obs *o, uv_loop_t *loop, const hub *h)
{
	memset(o, 0, sizeof(*o));
	o->h = h;
	if (h->cfg.metrics_listen[0] == '\0') {
		return 0;
	}
	metrics_hist_init(&o->term_ack, metrics_latency_bounds, metrics_latency_nbounds);
	metrics_hist_init(&o->sync_rtt, metrics_latency_bounds, metrics_latency_nbounds);
	metrics_hist_init(&o->commit, metrics_latency_bounds, metrics_latency_nbounds);
	o->text = malloc(HUB_OBS_TEXT_MAX);
	if (o->text == NULL) {
		return DN_ENOMEM;
	}
	char err[512];
	metrics_http_tls tls = hub_obs_tls(&h->cfg);
	int rv = metrics_http_create(&o->http, h->cfg.metrics_listen,
	    h->cfg.metrics_allow_public != 0, &tls, err, sizeof(err));
	if (rv != 0) {
		log_error("metrics.listen_failed", "url=%s err=\"%s\"", h->cfg.metrics_listen, err);
		free(o->text);
		o->text = NULL;
		return rv;
	}
	db_commit_observe(hub_obs_on_commit, o);
	uv_timer_init(loop, &o->timer);
	o->timer.data = o;
	o->timer_init = true;
	uv_timer_start(&o->timer, hub_obs_publish, 0, HUB_OBS_PUBLISH_MS);
	log_info("metrics.listening", "url=%s/metrics", h->cfg.metrics_listen);
	return 0;
}

void hub_obs_stop(hub_obs *o)
{
	if (o->timer_init) {
		uv_timer_stop(&o->timer);
		uv_close((uv_handle_t *)&o->timer, NULL);
		o->timer_init = false;
	}
}

void hub_obs_close(hub_obs *o)
{
	if (o->http != NULL) {
		db_commit_observe(NULL, NULL);
		log_info("metrics.stopped", "scrapes=%llu", metrics_http_scrapes(o->http));
	}
	metrics_http_destroy(o->http);
	o->http = NULL;
	free(o->text);
	o->text = NULL;
}

void hub_obs_term(hub_obs *o, const uint64_t *recv_ns, size_t n, uint64_t now_ns)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t d = now_ns > recv_ns[i] ? now_ns - recv_ns[i] : 0;
		metrics_hist_observe(&o->term_ack, (double)d / 1e9);
	}
	o->term_requests += n;
}

void hub_obs_sync_sent(hub_obs *o)
{
	o->sync_sent_ns = hub_obs_now_ns();
}

void hub_obs_sync_done(hub_obs *o, bool ok)
{
	uint64_t now = hub_obs_now_ns();
	if (ok) {
		o->syncs_ok++;
		o->last_ok_ns = now;
		metrics_hist_observe(&o->sync_rtt, (double)(now - o->sync_sent_ns) / 1e9);
	} else {
		o->syncs_failed++;
	}
}
