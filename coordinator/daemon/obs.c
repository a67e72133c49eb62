/*
 * obs.c - the coordinator's /metrics (obs.h): shell timings, and the
 * snapshot of the machine's counters and the state's gauges rendered on
 * the loop thread. Names and meanings: docs/metrics.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include "core/err.h"
#include "io/codec.h"
#include "io/db.h"
#include "io/log.h"
#include "obs.h"

static const char *const path_names[OBS_PATHS] = {"ingest", "hubsync", "ops"};

uint64_t obs_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void obs_on_commit(void *arg, uint64_t ns)
{
	obs *o = arg;
	metrics_hist_observe(&o->commit, (double)ns / 1e9);
}

static const char *or_else(const char *a, const char *b)
{
	return a[0] != '\0' ? a : b;
}

/* The https:// files: metrics.* keys, else the network's (tls.*). */
static metrics_http_tls obs_tls(const coord_config *cfg)
{
	metrics_http_tls t = {
	    .cert_file = or_else(cfg->metrics_cert_file, cfg->tls_cert_file),
	    .key_file = or_else(cfg->metrics_key_file, cfg->tls_key_file),
	    .client_ca_file = or_else(cfg->metrics_client_ca_file,
		or_else(cfg->tls_operator_ca_file, cfg->tls_ca_file)),
	    .crl_file = cfg->tls_crl_file,
	};
	return t;
}

int obs_config_check(const coord_config *cfg)
{
	char err[512];
	metrics_http_tls tls = obs_tls(cfg);
	if (cfg->metrics_listen[0] != '\0' &&
	    metrics_http_check(cfg->metrics_listen, cfg->metrics_allow_public != 0, &tls,
	    err, sizeof(err)) != 0) {
		fprintf(stderr, "coordinator: config: metrics.listen: %s\n", err);
		return DN_EINVAL;
	}
	return 0;
}

int obs_open(obs *o, const coord_config *cfg)
{
	memset(o, 0, sizeof(*o));
	if (cfg->metrics_listen[0] == '\0') {
		return 0;
	}
	for (int p = 0; p < OBS_PATHS; p++) {
		metrics_hist_init(&o->ack[p], metrics_latency_bounds, metrics_latency_nbounds);
		metrics_hist_init(&o->batch[p], metrics_latency_bounds, metrics_latency_nbounds);
	}
	metrics_hist_init(&o->commit, metrics_latency_bounds, metrics_latency_nbounds);
	snprintf(o->data_dir, sizeof(o->data_dir), "%s", cfg->data_dir);
	o->text_max = OBS_TEXT_MAX + (size_t)cfg->hubs_max * OBS_TEXT_PER_HUB;
	o->text = malloc(o->text_max);
	if (o->text == NULL) {
		return DN_ENOMEM;
	}
	char err[512];
	metrics_http_tls tls = obs_tls(cfg);
	int rv = metrics_http_create(&o->http, cfg->metrics_listen,
	    cfg->metrics_allow_public != 0, &tls, err, sizeof(err));
	if (rv != 0) {
		log_error("metrics.listen_failed", "url=%s err=\"%s\"", cfg->metrics_listen, err);
		free(o->text);
		o->text = NULL;
		return rv;
	}
	db_commit_observe(obs_on_commit, o);
	log_info("metrics.listening", "url=%s/metrics", cfg->metrics_listen);
	return 0;
}

void obs_close(obs *o)
{
	if (o->http != NULL) {
		db_commit_observe(NULL, NULL);
		log_info("metrics.stopped", "scrapes=%llu truncated=%llu",
		    metrics_http_scrapes(o->http), (unsigned long long)o->truncated);
	}
	metrics_http_destroy(o->http);
	o->http = NULL;
	free(o->text);
	o->text = NULL;
}

void obs_batch(obs *o, obs_path p, uint64_t t0, uint64_t t1)
{
	metrics_hist_observe(&o->batch[p], (double)(t1 - t0) / 1e9);
}

void obs_acks(obs *o, obs_path p, const uint64_t *recv_ns, size_t n, uint64_t t2)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t d = t2 > recv_ns[i] ? t2 - recv_ns[i] : 0;
		metrics_hist_observe(&o->ack[p], (double)d / 1e9);
	}
}

static void counter(metrics_text *t, const char *name, const char *help, double v)
{
	metrics_text_head(t, name, "counter", help);
	metrics_text_sample(t, name, NULL, v);
}

static void gauge(metrics_text *t, const char *name, const char *help, double v)
{
	metrics_text_head(t, name, "gauge", help);
	metrics_text_sample(t, name, NULL, v);
}

/* Counters by status of the order answers (every status seen, plus
 * ACCEPTED always, so a rate query has a series from the start). */
static void render_status(metrics_text *t, const char *name, const char *label,
    const char *help, const uint64_t *counts, bool accepted)
{
	metrics_text_head(t, name, "counter", help);
	for (int s = 1; s < COORD_METRICS_STATUS_MAX; s++) {
		if (counts[s] == 0 && !(accepted && s == DROPNET__STATUS__ACCEPTED)) {
			continue;
		}
		const char *lab[] = {label, codec_status_name((Dropnet__Status)s), NULL};
		metrics_text_sample(t, name, lab, (double)counts[s]);
	}
}

static void render_machine(metrics_text *t, const coord *c)
{
	const coord_metrics *m = &c->metrics;
	render_status(t, "dropnet_orders_total", "status",
	    "Order answers that decided something, by status (journal replays apart).",
	    m->orders, true);
	render_status(t, "dropnet_refusals_total", "reason",
	    "Order answers that refused the order (neither ACCEPTED nor HELD), by status.",
	    m->refusals, false);
	counter(t, "dropnet_order_replays_total",
	    "Order answers repeated from the journal (a retry with a known key).",
	    (double)m->replays);
	metrics_text_labels(t, "dropnet_orders_received_total",
	    "Order requests received, by storefront (the first 16 seen; the rest as other).",
	    "storefront", &m->storefronts);
	metrics_text_head(t, "dropnet_ingest_batch_size", "histogram",
	    "Orders per ingest batch (one transaction: group commit; an envelope's orders each count).");
	metrics_text_hist(t, "dropnet_ingest_batch_size", NULL, &m->ingest_batch);
	metrics_text_head(t, "dropnet_requests_total", "counter",
	    "Requests the machine answered, by socket (ingest: orders, an envelope's one by one).");
	const char *li[] = {"path", "ingest", NULL}, *lh[] = {"path", "hubsync", NULL},
		   *lo[] = {"path", "ops", NULL};
	metrics_text_sample(t, "dropnet_requests_total", li, (double)c->orders_seen);
	metrics_text_sample(t, "dropnet_requests_total", lh, (double)m->hubsync_requests);
	metrics_text_sample(t, "dropnet_requests_total", lo, (double)m->ops_requests);
	counter(t, "dropnet_commit_failures_total",
	    "Batches whose commit failed (answered UNAVAILABLE; memory reloaded).",
	    (double)c->commit_failures);
	counter(t, "dropnet_stream_discrepancies_total",
	    "Hub events the books could not cover, booked by a defined rule.",
	    (double)c->stream_discrepancies);
	counter(t, "dropnet_hub_events_rejected_total",
	    "Hub events rejected outright (out of bounds).", (double)c->events_rejected);
	counter(t, "dropnet_hub_sync_failures_total",
	    "Hub sync requests rolled back alone (the rest of their batch committed).",
	    (double)c->sync_requests_failed);
	gauge(t, "dropnet_degraded", "1 while the last reload failed and nothing is served.",
	    c->degraded ? 1 : 0);
}

/* Requests refused before a handler acted on them (c->refusals; SEMANTICS.md
 * "Transport and identity"): every reason always, with its kind. */
static void render_peers(metrics_text *t, const coord *c)
{
	const coord_refusals *f = &c->refusals;
	const struct {
		const char *kind, *reason;
		uint64_t n;
	} r[] = {
		{"unauthenticated", "malformed", f->malformed},
		{"unauthenticated", "unsigned", f->unsigned_req},
		{"unauthenticated", "unknown_peer", f->unknown_peer},
		{"unauthenticated", "bad_mac", f->bad_mac},
		{"forbidden", "wrong_role", f->wrong_role},
		{"forbidden", "wrong_name", f->wrong_name},
		{"forbidden", "forbidden", f->forbidden},
		{"replay", "replayed", f->replayed},
		{"replay", "stale", f->stale},
		{"overload", "peer_inflight", f->peer_inflight},
	};
	metrics_text_head(t, "dropnet_peer_refusals_total", "counter",
	    "Requests refused before any handler acted (identity, a connection's in-flight cap).");
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		const char *lab[] = {"kind", r[i].kind, "reason", r[i].reason, NULL};
		metrics_text_sample(t, "dropnet_peer_refusals_total", lab, (double)r[i].n);
	}
}

/* Quotes, quote tokens and price experiments (c->metrics, prices.c). */
static void render_prices(metrics_text *t, const coord *c)
{
	const coord_metrics *m = &c->metrics;
	metrics_text_head(t, "dropnet_quotes_total", "counter",
	    "Quote requests answered by the price path, by status.");
	for (int s = 1; s < COORD_METRICS_STATUS_MAX; s++) {
		if (m->quotes[s] == 0 && s != DROPNET__STATUS__OK) {
			continue;
		}
		const char *lab[] = {"status", codec_status_name((Dropnet__Status)s), NULL};
		metrics_text_sample(t, "dropnet_quotes_total", lab, (double)m->quotes[s]);
	}
	metrics_text_head(t, "dropnet_quote_tokens_refused_total", "counter",
	    "Quote tokens on order lines that did not lock the price, by why.");
	const char *li[] = {"why", "invalid", NULL}, *ll[] = {"why", "lapsed", NULL};
	metrics_text_sample(t, "dropnet_quote_tokens_refused_total", li,
	    (double)m->quote_tokens_invalid);
	metrics_text_sample(t, "dropnet_quote_tokens_refused_total", ll,
	    (double)m->quote_tokens_lapsed);
	static const char *const names[] = {"dropnet_experiment_exposures_total",
		"dropnet_experiment_outcomes_total"};
	static const char *const helps[] = {"Quote lines priced by an experiment's arm"
		" (the first 32 experiment/arm pairs; the rest as other).", "Orders placed at"
		" an experiment arm's price, committed (pairs as exposures)."};
	for (int k = 0; k < 2; k++) {
		metrics_text_head(t, names[k], "counter", helps[k]);
		for (size_t i = 0; i <= COORD_METRICS_ARMS_MAX; i++) {
			const coord_metrics_arm *a = &m->arms[i];
			if (a->experiment[0] == '\0') {
				continue;
			}
			const char *lab[] = {"experiment", a->experiment, "arm", a->arm, NULL};
			metrics_text_sample(t, names[k], lab,
			    (double)(k == 0 ? a->exposures : a->outcomes));
		}
	}
}

/* The planner: spikes declared and plans carried out (rebalance.c). */
static void render_planner(metrics_text *t, const coord *c)
{
	const coord_metrics *m = &c->metrics;
	metrics_text_labels(t, "dropnet_demand_spikes_total",
	    "Demand spikes declared, by hub (the first 16 seen; the rest as other).", "hub",
	    &m->spikes);
	counter(t, "dropnet_rebalance_plans_total",
	    "Rebalance plans carried out (committed, at least one action).",
	    (double)m->plans_applied);
	metrics_text_head(t, "dropnet_rebalance_units_total", "counter",
	    "Units the carried-out plans released from holdback or moved between hubs.");
	const char *lr[] = {"action", "released", NULL}, *lm[] = {"action", "moved", NULL};
	metrics_text_sample(t, "dropnet_rebalance_units_total", lr,
	    (double)m->plan_units_released);
	metrics_text_sample(t, "dropnet_rebalance_units_total", lm, (double)m->plan_units_moved);
	counter(t, "dropnet_feed_changes_total",
	    "Price and availability feed messages decided (feed.c), published or not.",
	    (double)m->feed_changes);
	counter(t, "dropnet_pub_dropped_total",
	    "Pub messages (feed changes, region signals) dropped: the outbox was full.",
	    (double)m->outbox_dropped);
}

static void render_hubs(metrics_text *t, const coord *c)
{
	static const struct {
		const char *name, *type, *help;
	} h[] = {
		{"dropnet_hub_up", "gauge", "1 while the hub synced within hub_timeout_ms."},
		{"dropnet_hub_health", "gauge", "0 ok, 1 silent (still routed to), 2 down."},
		{"dropnet_hub_last_sync_age_seconds", "gauge",
		    "Seconds since the hub's last sync (-1: not seen since start)."},
		{"dropnet_hub_commands_queued", "gauge",
		    "Commands queued for the hub and not yet applied there (stream lag)."},
		{"dropnet_hub_command_seq", "gauge", "Last command queued for the hub."},
		{"dropnet_hub_event_applied", "gauge", "Last hub event applied here."},
	};
	uint64_t now = coord_now_mono_ms(c);
	for (size_t k = 0; k < sizeof(h) / sizeof(h[0]); k++) {
		metrics_text_head(t, h[k].name, h[k].type, h[k].help);
		for (size_t i = 0; i < c->nhubs; i++) {
			const coord_hub *hb = &c->hubs[i];
			const char *lab[] = {"hub", hb->id, NULL};
			int health = coord_hub_health(c, hb, now);
			double v = 0;
			switch (k) {
			case 0: v = health == COORD_HUB_OK; break;
			case 1: v = health; break;
			case 2: v = hb->last_seen_mono_ms == 0 ? -1 :
			    (double)(now - hb->last_seen_mono_ms) / 1000.0; break;
			case 3: v = hb->cmd_seq > hb->cmd_acked ?
			    (double)(hb->cmd_seq - hb->cmd_acked) : 0; break;
			case 4: v = (double)hb->cmd_seq; break;
			default: v = (double)hb->event_applied; break;
			}
			metrics_text_sample(t, h[k].name, lab, v);
		}
	}
}

/* The ledger summed over hubs for every SKU of every open drop. */
static void render_drops(metrics_text *t, const coord *c)
{
	static const char *const names[] = {"dropnet_drop_units", "dropnet_drop_sellable",
		"dropnet_drop_allocated", "dropnet_drop_holdback"};
	static const char *const helps[] = {"Units of the drop's run for the SKU.",
		"Units still sellable now, all hubs.", "Units allocated to accepted orders "
		"and not yet shipped, all hubs.", "Units held back from sale now, all hubs."};
	for (int k = 0; k < 4; k++) {
		metrics_text_head(t, names[k], "gauge", helps[k]);
		for (size_t d = 0; d < c->ndrops; d++) {
			const coord_drop *dr = &c->drops[d];
			if (dr->state != DROP_OPEN || dr->spec == NULL) {
				continue;
			}
			for (size_t s = 0; s < dr->spec->n_skus; s++) {
				const char *sku = dr->spec->skus[s]->sku;
				int64_t v = k == 0 ? (int64_t)dr->spec->skus[s]->units : 0;
				for (size_t i = 0; k > 0 && i < c->stock_cap; i++) {
					const coord_stock *st = &c->stock[i];
					if (st->hub < 0 || strcmp(st->sku, sku) != 0) {
						continue;
					}
					v += k == 1 ? ledger_sellable(&st->row) : k == 2 ?
					    st->row.allocated : st->row.holdback;
				}
				const char *lab[] = {"drop", dr->id, "sku", sku, NULL};
				metrics_text_sample(t, names[k], lab, (double)v);
			}
		}
	}
	metrics_text_head(t, "dropnet_drop_accepted_orders", "gauge",
	    "Orders accepted in the drop so far (open drops).");
	for (size_t d = 0; d < c->ndrops; d++) {
		const coord_drop *dr = &c->drops[d];
		if (dr->state == DROP_OPEN) {
			const char *lab[] = {"drop", dr->id, NULL};
			metrics_text_sample(t, "dropnet_drop_accepted_orders", lab,
			    (double)dr->accepted);
		}
	}
}

void obs_set_sockets(obs *o, const bridge *ingest, const bridge *hubsync, const bridge *ops,
    const netguard *signal)
{
	o->socks[OBS_INGEST] = ingest;
	o->socks[OBS_HUBSYNC] = hubsync;
	o->socks[OBS_OPS] = ops;
	o->signal = signal;
}

/* Listener restarts (netguard.h) and abandoned requests, by socket. */
static void render_sockets(metrics_text *t, const obs *o)
{
	metrics_text_head(t, "dropnet_listener_restarts_total", "counter",
	    "Listeners made again after libnng stopped accepting on them (a peer "
	    "reset its connection mid-handshake; common/io/netguard.h), by socket.");
	for (int p = 0; p < OBS_PATHS; p++) {
		if (o->socks[p] != NULL) {
			const char *lab[] = {"socket", path_names[p], NULL};
			metrics_text_sample(t, "dropnet_listener_restarts_total", lab,
			    (double)bridge_listener_restarts(o->socks[p]));
		}
	}
	const char *sig[] = {"socket", "signal", NULL};
	metrics_text_sample(t, "dropnet_listener_restarts_total", sig,
	    (double)netguard_restarts(o->signal));
	metrics_text_head(t, "dropnet_requests_abandoned_total", "counter",
	    "Requests dropped unexecuted: their client's connection closed while "
	    "they waited for the loop, by socket.");
	for (int p = 0; p < OBS_PATHS; p++) {
		if (o->socks[p] != NULL) {
			bridge_stats st;
			bridge_get_stats(o->socks[p], &st);
			const char *lab[] = {"socket", path_names[p], NULL};
			metrics_text_sample(t, "dropnet_requests_abandoned_total", lab,
			    (double)st.abandoned);
		}
	}
}

static void render_shell(metrics_text *t, const obs *o)
{
	render_sockets(t, o);
	metrics_text_head(t, "dropnet_ack_latency_seconds", "histogram",
	    "From a request's arrival to its reply leaving, by socket.");
	for (int p = 0; p < OBS_PATHS; p++) {
		const char *lab[] = {"path", path_names[p], NULL};
		metrics_text_hist(t, "dropnet_ack_latency_seconds", lab, &o->ack[p]);
	}
	metrics_text_head(t, "dropnet_batch_seconds", "histogram",
	    "The machine's handling of one batch, decisions and commit, by socket.");
	for (int p = 0; p < OBS_PATHS; p++) {
		const char *lab[] = {"path", path_names[p], NULL};
		metrics_text_hist(t, "dropnet_batch_seconds", lab, &o->batch[p]);
	}
	metrics_text_head(t, "dropnet_commit_seconds", "histogram",
	    "One COMMIT: the WAL write and its fsync.");
	metrics_text_hist(t, "dropnet_commit_seconds", NULL, &o->commit);
	struct statvfs sv;
	if (statvfs(o->data_dir, &sv) == 0) {
		const char *lab[] = {"path", o->data_dir, NULL};
		metrics_text_head(t, "dropnet_disk_free_bytes", "gauge",
		    "Bytes free to the daemon on its data folder's filesystem.");
		metrics_text_sample(t, "dropnet_disk_free_bytes", lab,
		    (double)sv.f_bavail * (double)sv.f_frsize);
		metrics_text_head(t, "dropnet_disk_size_bytes", "gauge",
		    "Size of the data folder's filesystem in bytes.");
		metrics_text_sample(t, "dropnet_disk_size_bytes", lab,
		    (double)sv.f_blocks * (double)sv.f_frsize);
	}
	counter(t, "dropnet_metrics_truncated_total",
	    "Snapshots cut short for want of room (a bug: tell the developers).",
	    (double)o->truncated);
}

void obs_publish(obs *o, const coord *c, bool force)
{
	if (o->http == NULL) {
		return;
	}
	uint64_t now = obs_now_ns();
	if (!force && now - o->last_publish_ns < (uint64_t)OBS_PUBLISH_MS * 1000000u) {
		return;
	}
	o->last_publish_ns = now;
	metrics_text t;
	metrics_text_init(&t, o->text, o->text_max);
	metrics_text_head(&t, "dropnet_up", "gauge", "1: this coordinator is serving.");
	const char *lab[] = {"role", "coordinator", NULL};
	metrics_text_sample(&t, "dropnet_up", lab, 1);
	render_machine(&t, c);
	render_peers(&t, c);
	render_prices(&t, c);
	render_planner(&t, c);
	render_hubs(&t, c);
	render_drops(&t, c);
	render_shell(&t, o);
	if (t.truncated) {
		o->truncated++;
	}
	metrics_http_publish(o->http, t.buf, t.len);
}
