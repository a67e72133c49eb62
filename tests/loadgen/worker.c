/*
 * worker.c - one loadgen worker thread: takes buyer indices from the shared
 * counter and sends each buyer's order until it gets an answer or runs out
 * of retries (see loadgen.h for the thread model).
 *
 * A retry re-sends the same bytes - same storefront and order key - so the
 * coordinator's journal makes it idempotent: if the first attempt was in
 * fact committed, the retry gets the first answer back (duplicate = true).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/err.h"
#include "core/sample.h"
#include "io/codec.h"
#include "io/auth.h"
#include "io/rpc.h"
#include "dnclient.h"
#include "loadgen.h"

/* Longest "<prefix>-<index>" / "buyer-<index>" we build: the prefix is
 * user-given and may be long; the coordinator refuses keys over
 * DN_ID_MAX with INVALID, which is what a test of that wants to see. */
#define WORKER_KEY_MAX 256u

/* Mixed into the seed for a buyer's drop decisions, so that they come
 * from their own stream and the ship-to draws stay what they were before
 * loadgen knew about drops (same seed, same points). */
#define WORKER_DROP_STREAM 0x64726f702d6c67ull

/* How far back a repeat buyer looks: far enough to reach the first
 * minutes' buyers of any realistic run. */
#define WORKER_REPEAT_BACK_MAX 1000000u

static void worker_drop_rng(const loadgen_params *p, uint64_t i,
    sample_rng *r)
{
	sample_rng_seed_stream(r, p->seed ^ sample_mix64(WORKER_DROP_STREAM), i);
}

/* Tier of buyer i and the draw that picks an insider id; the first two
 * draws of its drop stream. */
static size_t worker_tier(const loadgen_params *p, sample_rng *r,
    uint64_t *pick)
{
	double u = sample_rng_unit(r);
	*pick = sample_rng_next(r);
	if (p->ntiers == 0) {
		return 0;
	}
	double c = 0.0;
	for (size_t k = 0; k < p->ntiers; k++) {
		c += p->tiers[k].share;
		if (u < c) {
			return k;
		}
	}
	return p->ntiers - 1;
}

/* Buyer i's own customer id, before any repeat: an insider's id when the
 * buyer's tier is an insiders' tier, else buyer-i. */
static void worker_base_customer(const loadgen_params *p, uint64_t i,
    size_t tier, uint64_t pick, char *out, size_t len)
{
	if (p->ntiers > 0 && p->tiers[tier].insiders && p->insiders > 0) {
		snprintf(out, len, "insider-%" PRIu64, pick % p->insiders);
	} else {
		snprintf(out, len, "buyer-%" PRIu64, i);
	}
}

void loadgen_plan_make(const loadgen_params *p, uint64_t i, loadgen_plan *out)
{
	sample_rng r;
	uint64_t pick = 0;

	memset(out, 0, sizeof(*out));
	worker_drop_rng(p, i, &r);
	out->tier = worker_tier(p, &r, &pick);
	/* Every draw is taken whether used or not, so that changing one
	 * share never reshuffles the other decisions of the same seed. */
	double u_repeat = sample_rng_unit(&r);
	uint64_t back = sample_rng_next(&r);
	double u_over = sample_rng_unit(&r);
	double u_hold = sample_rng_unit(&r);
	double u_lapse = sample_rng_unit(&r);

	out->qty = p->qty;
	if (p->customer != NULL) {
		snprintf(out->customer, sizeof(out->customer), "%s", p->customer);
	} else if (i > 0 && u_repeat < p->repeat_share &&
	    !(p->ntiers > 0 && p->tiers[out->tier].insiders)) {
		uint64_t span = i < WORKER_REPEAT_BACK_MAX ? i
							   : WORKER_REPEAT_BACK_MAX;
		uint64_t j = i - 1 - back % span;
		sample_rng rj;
		uint64_t pick_j = 0;
		worker_drop_rng(p, j, &rj);
		size_t tier_j = worker_tier(p, &rj, &pick_j);
		worker_base_customer(p, j, tier_j, pick_j, out->customer,
		    sizeof(out->customer));
		out->repeat = true;
	} else {
		worker_base_customer(p, i, out->tier, pick, out->customer,
		    sizeof(out->customer));
	}
	if (u_over < p->over_limit_share) {
		out->over_limit = true;
		out->qty = p->limit + 1;
	}
	if (u_hold < p->hold_share) {
		out->hold = true;
		out->lapse = u_lapse < p->lapse_share;
	}
}

double loadgen_arrival_s(const loadgen_params *p, uint64_t i)
{
	if (!(p->duration_s > 0.0) || p->buyers == 0) {
		return 0.0;
	}
	double d = p->duration_s;
	double tau = p->burst_tau_s > 0.0 ? p->burst_tau_s : d / 4.0;
	double u = ((double)i + 0.5) / (double)p->buyers;
	/* Inverse CDF of an exponential decay truncated to [0, d]. */
	double t = -tau * log(1.0 - u * (1.0 - exp(-d / tau)));
	return t < 0.0 ? 0.0 : (t > d ? d : t);
}

static uint64_t worker_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void worker_sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
		.tv_nsec = (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

void loadgen_stats_hub_add(loadgen_stats *s, const char *id, uint64_t n)
{
	for (size_t k = 0; k < s->nhubs; k++) {
		if (strcmp(s->hubs[k].id, id) == 0) {
			s->hubs[k].accepted += n;
			return;
		}
	}
	if (s->nhubs >= DN_HUBS_CAP) {
		s->hub_other += n;
		return;
	}
	snprintf(s->hubs[s->nhubs].id, sizeof(s->hubs[0].id), "%s", id);
	s->hubs[s->nhubs].accepted = n;
	s->nhubs++;
}

/* Buyer i's SKU, in buf when it is made (--sku-range). */
static const char *worker_sku(const loadgen_params *p, uint64_t i, char *buf, size_t len)
{
	if (p->sku_range == 0) {
		return p->skus[i % p->nskus];
	}
	snprintf(buf, len, "%s%05" PRIu64, p->sku_prefix, i % p->sku_range);
	return buf;
}

/* Packs buyer i's order (action SUBMIT, or CONFIRM of its hold). Returns
 * 0 or DN_ENOMEM. */
static int worker_order_pack(const loadgen_params *p, uint64_t i,
    const loadgen_plan *plan, Dropnet__OrderAction action, const char *token,
    uint8_t **buf, size_t *len)
{
	Dropnet__SubmitOrder msg = DROPNET__SUBMIT_ORDER__INIT;
	Dropnet__OrderLine line = DROPNET__ORDER_LINE__INIT;
	Dropnet__OrderLine *lines[1] = { &line };
	char key[WORKER_KEY_MAX], sku[DN_ID_MAX + 1];
	sample_rng rng;
	double lat = 0.0, lon = 0.0;

	sample_rng_seed_stream(&rng, p->seed, i);
	sample_ship_to(p->cities, p->ncities, LOADGEN_SCATTER_KM, &rng, &lat, &lon,
	    NULL);
	if (p->ship_to_fixed) {
		lat = p->ship_lat;
		lon = p->ship_lon;
	}
	/* "P-i", except that a prefix already ending in '-' ("drop-") is not
	 * given a second one: "drop-7", not "drop--7". */
	size_t plen = strlen(p->key_prefix);
	const char *sep = plen > 0 && p->key_prefix[plen - 1] == '-' ? "" : "-";
	snprintf(key, sizeof(key), "%s%s%" PRIu64, p->key_prefix, sep, i);
	/* Round-robin over the SKU list by buyer index: deterministic and
	 * spreads demand evenly, like a drop page listing every variant. */
	line.sku = (char *)worker_sku(p, i, sku, sizeof(sku));
	line.qty = plan->qty;
	line.quote_token = (char *)(token != NULL ? token : "");
	msg.version = DN_PROTO_VERSION;
	msg.storefront = (char *)p->storefront;
	msg.order_key = key;
	msg.customer = (char *)plan->customer;
	if (p->drop != NULL) {
		msg.drop_id = (char *)p->drop;
		if (p->ntiers > 0) {
			msg.tier = (char *)p->tiers[plan->tier].name;
		}
	}
	msg.action = action;
	if (plan->hold && action == DROPNET__ORDER_ACTION__ACTION_SUBMIT) {
		msg.hold_seconds = p->hold_seconds;
	}
	msg.n_lines = 1;
	msg.lines = lines;
	msg.lat = lat;
	msg.lon = lon;
	return codec_submit_order_pack(&msg, buf, len);
}

static void worker_count_answer(loadgen_stats *s, const Dropnet__OrderAck *a,
    const loadgen_plan *plan, bool drop)
{
	int st = (int)a->status;
	size_t slot = st >= 0 && st < (int)LOADGEN_STATUS_UNKNOWN
	    ? (size_t)st
	    : LOADGEN_STATUS_UNKNOWN;

	s->answered++;
	s->by_status[slot]++;
	if (a->duplicate) {
		s->duplicates++;
	}
	if (a->status == DROPNET__STATUS__ACCEPTED) {
		loadgen_stats_hub_add(s, a->hub[0] != '\0' ? a->hub : "?", 1);
		if (a->gift_sku[0] != '\0') {
			s->gifts++;
		}
		s->revenue_minor += a->total_minor;
		if (drop) {
			s->tier_accepted[plan->tier]++;
		}
	}
}

/* The pause before re-sending after ack (UNAVAILABLE or NOT_LEADER);
 * *follows counts NOT_LEADER answers in a row. UNAVAILABLE (busy, storage
 * failing, a new leader taking over) backs off, doubling to
 * LOADGEN_BACKOFF_MS_MAX. NOT_LEADER cost the follower nothing: the first
 * one naming a leader is re-sent at once (the client moved there); one
 * naming none (an election is on), or a repeat (the named leader may be
 * the dead one, which the client does not follow), is re-sent after
 * LOADGEN_BACKOFF_FOLLOW_MS, so the buyer reaches the new leader within
 * that of its election. */
static void worker_backoff(const Dropnet__OrderAck *ack, unsigned *backoff, unsigned *follows)
{
	if (ack->status == DROPNET__STATUS__NOT_LEADER) {
		/* The backoff does not grow: the new leader's first answers
		 * ("taking over", UNAVAILABLE) start it from the bottom. */
		bool named = ack->leader != NULL && ack->leader[0] != '\0';
		if (!named || ++*follows > 1) {
			worker_sleep_ms(LOADGEN_BACKOFF_FOLLOW_MS);
		}
		return;
	}
	*follows = 0;
	worker_sleep_ms(*backoff);
	*backoff = *backoff * 2 > LOADGEN_BACKOFF_MS_MAX ? LOADGEN_BACKOFF_MS_MAX : *backoff * 2;
}

/* Sends req with retries (same bytes, so the key makes them safe) until
 * an answer other than UNAVAILABLE or the retries run out. Returns the
 * last answer (caller frees) or NULL. */
static Dropnet__OrderAck *worker_exchange(loadgen_worker *w, rpc_conn *c,
    const uint8_t *req, size_t req_len)
{
	const loadgen_params *p = w->run->p;
	loadgen_stats *s = &w->stats;
	Dropnet__OrderAck *last = NULL;
	unsigned backoff = LOADGEN_BACKOFF_MS, follows = 0;

	for (unsigned attempt = 0; attempt <= p->retries; attempt++) {
		uint8_t *rep = NULL;
		size_t rep_len = 0;
		Dropnet__OrderAck *ack = NULL;

		if (attempt > 0) {
			s->retries++;
		}
		int crv = w->run->client != NULL
		    ? dnclient_submit(w->run->client, req, req_len, &rep, &rep_len)
		    : rpc_call(c, req, req_len, p->timeout_ms, &rep, &rep_len);
		if (crv != 0) {
			continue;
		}
		int rv = codec_order_ack_unpack(rep, rep_len, &ack);
		free(rep);
		if (rv != 0 && rv != DN_ERANGE) {
			/* Garbage back is no answer: try again like a
			 * timeout (the key makes it safe). */
			continue;
		}
		codec_order_ack_free(last);
		last = ack;
		/* NOT_LEADER: a follower of a replicated group did nothing;
		 * the client moved to the leader (dnclient): the same again. */
		if (ack->status != DROPNET__STATUS__UNAVAILABLE &&
		    ack->status != DROPNET__STATUS__NOT_LEADER) {
			break;
		}
		if (attempt < p->retries) {
			worker_backoff(ack, &backoff, &follows);
		}
	}
	return last;
}

/* Buyer i's quote (same ship-to, SKU, tier and customer as its order) in
 * an IngestRequest. 0 or DN_ENOMEM. */
static int worker_quote_pack(const loadgen_params *p, uint64_t i,
    const loadgen_plan *plan, uint8_t **buf, size_t *len)
{
	sample_rng rng;
	double lat = 0.0, lon = 0.0;
	sample_rng_seed_stream(&rng, p->seed, i);
	sample_ship_to(p->cities, p->ncities, LOADGEN_SCATTER_KM, &rng, &lat, &lon, NULL);
	if (p->ship_to_fixed) {
		lat = p->ship_lat;
		lon = p->ship_lon;
	}
	char sku[DN_ID_MAX + 1];
	char *skus[1] = {(char *)worker_sku(p, i, sku, sizeof(sku))};
	Dropnet__QuoteRequest q = DROPNET__QUOTE_REQUEST__INIT;
	q.version = DN_PROTO_VERSION;
	q.storefront = (char *)p->storefront;
	q.customer = (char *)plan->customer;
	q.drop_id = (char *)(p->drop != NULL ? p->drop : "");
	q.tier = (char *)(p->ntiers > 0 ? p->tiers[plan->tier].name : "");
	q.n_skus = 1;
	q.skus = skus;
	if (p->nquote_skus > 0) {
		q.n_skus = p->nquote_skus;
		q.skus = (char **)p->quote_skus;
	}
	q.lat = lat;
	q.lon = lon;
	Dropnet__IngestRequest e = DROPNET__INGEST_REQUEST__INIT;
	e.version = DN_PROTO_VERSION;
	e.kind_case = DROPNET__INGEST_REQUEST__KIND_QUOTE;
	e.quote = &q;
	return codec_ingest_request_pack(&e, buf, len);
}

/* Asks buyer i's quote (retrying transport errors). Returns the reply's
 * quote price (caller frees *env), or NULL when none came or it is not
 * OK. */
static const Dropnet__QuotePrice *worker_quote(loadgen_worker *w, rpc_conn *c,
    uint64_t i, const loadgen_plan *plan, Dropnet__IngestReply **env)
{
	const loadgen_params *p = w->run->p;
	uint8_t *req = NULL;
	size_t len = 0;
	*env = NULL;
	if (worker_quote_pack(p, i, plan, &req, &len) != 0) {
		return NULL;
	}
	for (unsigned attempt = 0; *env == NULL && attempt <= p->retries; attempt++) {
		uint8_t *rep = NULL;
		size_t rep_len = 0;
		if (rpc_call(c, req, len, p->timeout_ms, &rep, &rep_len) != 0) {
			w->stats.retries++;
			continue;
		}
		if (codec_ingest_reply_unpack(rep, rep_len, env) != 0) {
			codec_ingest_reply_free(*env);
			*env = NULL;
		}
		free(rep);
	}
	free(req);
	Dropnet__IngestReply *r = *env;
	if (r == NULL || r->kind_case != DROPNET__INGEST_REPLY__KIND_QUOTE ||
	    r->quote->status != DROPNET__STATUS__OK || r->quote->n_prices < 1) {
		return NULL;
	}
	w->stats.quotes++;
	return r->quote->prices[0];
}

/* Buyer i's willingness to pay (minor units), from its own stream. */
static double worker_wtp(const loadgen_params *p, uint64_t i)
{
	sample_rng r;
	sample_rng_seed_stream(&r, p->seed ^ 0x5757575757575757ULL, i);
	return p->wtp_mean + p->wtp_sd * sample_gauss(&r);
}

/* The quote step of buyer i: 1 when it ends the buyer (quote-only, or the
 * price is above its willingness to pay, or no quote), 0 to order (with
 * *token, a copy, set). */
static int worker_quote_step(loadgen_worker *w, rpc_conn *c, uint64_t i,
    const loadgen_plan *plan, char *token, size_t cap, uint64_t t0)
{
	const loadgen_params *p = w->run->p;
	Dropnet__IngestReply *env = NULL;
	const Dropnet__QuotePrice *qp = worker_quote(w, c, i, plan, &env);
	int done = 1;
	if (qp == NULL) {
		w->stats.errors++;
	} else if (p->quote_only) {
		w->stats.answered++;
		w->stats.by_status[DROPNET__STATUS__OK]++;
	} else if ((double)qp->unit_minor > worker_wtp(p, i)) {
		w->stats.declined++;
		w->stats.answered++;
		w->stats.by_status[DROPNET__STATUS__OK]++;
	} else {
		snprintf(token, cap, "%s", qp->token);
		done = 0;
	}
	if (done && qp != NULL) {
		uint64_t dt = worker_now_us() - t0;
		w->run->lat_us[i] = dt >= LOADGEN_LAT_NONE ? LOADGEN_LAT_NONE - 1 : (uint32_t)dt;
	}
	codec_ingest_reply_free(env);
	return done;
}

volatile sig_atomic_t loadgen_stopping;

/* Holds the start of buyer i until its arrival time (pacing), in steps of
 * at most 100 ms so that a stop (SIGUSR1) ends the wait. */
static void worker_pace(const loadgen_run *run, uint64_t i)
{
	double at = loadgen_arrival_s(run->p, i);
	if (!(at > 0.0)) {
		return;
	}
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	double now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	double wait = run->t0_s + at - now;
	while (wait > 0.0 && !loadgen_stopping) {
		double step = wait > 0.1 ? 0.1 : wait;
		wait -= step;
		struct timespec d = { .tv_sec = 0, .tv_nsec = (long)(step * 1e9) };
		nanosleep(&d, NULL);
	}
}

/* Sends buyer i's order with retries (and, for a hold it means to keep,
 * the confirm); records its outcome and latency. */
static void worker_buyer(loadgen_worker *w, rpc_conn *c, uint64_t i)
{
	const loadgen_params *p = w->run->p;
	loadgen_stats *s = &w->stats;
	uint8_t *req = NULL;
	size_t req_len = 0;
	loadgen_plan plan;
	bool drop = p->drop != NULL && p->ntiers > 0;

	w->run->lat_us[i] = LOADGEN_LAT_NONE;
	loadgen_plan_make(p, i, &plan);
	s->repeats += plan.repeat;
	s->over_limit += plan.over_limit;
	if (drop) {
		s->tier_sent[plan.tier]++;
	}
	char token[256] = "";
	if ((p->quote_only || p->wtp)) {
		worker_pace(w->run, i);
		if (worker_quote_step(w, c, i, &plan, token, sizeof(token),
		    worker_now_us()) != 0) {
			return;
		}
	}
	if (worker_order_pack(p, i, &plan, DROPNET__ORDER_ACTION__ACTION_SUBMIT,
		token, &req, &req_len) != 0) {
		s->errors++;
		return;
	}
	s->req_bytes += req_len;
	if (!p->wtp) {
		worker_pace(w->run, i);
	}
	if (loadgen_stopping) {
		s->skipped++;
		s->tier_sent[plan.tier] -= drop;
		free(req);
		return;
	}
	uint64_t t0 = worker_now_us();
	Dropnet__OrderAck *last = worker_exchange(w, c, req, req_len);
	free(req);
	req = NULL;
	if (last != NULL && last->status == DROPNET__STATUS__HELD) {
		s->held++;
		if (plan.lapse) {
			s->lapsed++;
		} else if (worker_order_pack(p, i, &plan,
			       DROPNET__ORDER_ACTION__ACTION_CONFIRM, NULL, &req,
			       &req_len) == 0) {
			Dropnet__OrderAck *conf =
			    worker_exchange(w, c, req, req_len);
			free(req);
			codec_order_ack_free(last);
			last = conf;
			if (conf != NULL &&
			    conf->status == DROPNET__STATUS__ACCEPTED) {
				s->confirmed++;
			} else if (conf != NULL &&
			    conf->status == DROPNET__STATUS__EXPIRED) {
				s->confirm_expired++;
			}
		}
	}
	if (last == NULL) {
		s->errors++;
		return;
	}
	uint64_t dt = worker_now_us() - t0;
	w->run->lat_us[i] =
	    dt >= LOADGEN_LAT_NONE ? LOADGEN_LAT_NONE - 1 : (uint32_t)dt;
	worker_count_answer(s, last, &plan, drop);
	if (p->answers != NULL) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		fprintf(p->answers, "%lld %" PRIu64 " %d\n",
		    (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000, dt, (int)last->status);
	}
	if (p->acked != NULL && last->status == DROPNET__STATUS__ACCEPTED) {
		/* One fprintf per line: stdio locks the stream per call. */
		fprintf(p->acked, "%s %s %" PRIu64 "\n", last->order_key, last->hub,
		    last->order_id);
	}
	codec_order_ack_free(last);
}

void *loadgen_worker_main(void *arg)
{
	loadgen_worker *w = arg;
	loadgen_run *run = w->run;
	rpc_conn *c = NULL;

	if (run->client == NULL) {
		w->stats.open_error = rpc_open(&c, run->p->url, NETTLS_AS_STOREFRONT);
		/* Signs as DROPNET_STOREFRONT_AUTH_NAME when set (main checked it). */
		if (c != NULL) {
			(void)rpc_sign_from_env(c, AUTH_SOCKET_INGEST);
			/* Connected before the clock starts: the run measures orders,
			 * not 64 TLS handshakes. */
			(void)rpc_wait_connected(c, run->p->timeout_ms);
		}
	}
	pthread_mutex_lock(&run->mu);
	run->ready++;
	pthread_cond_broadcast(&run->cv);
	while (!run->go) {
		pthread_cond_wait(&run->cv, &run->mu);
	}
	pthread_mutex_unlock(&run->mu);
	for (;;) {
		uint64_t i = atomic_fetch_add(&run->next, 1);
		if (i >= run->p->buyers) {
			break;
		}
		if (loadgen_stopping) {
			run->lat_us[i] = LOADGEN_LAT_NONE;
			w->stats.skipped++;
			continue;
		}
		if (c == NULL && run->client == NULL) {
			/* Could not even open a socket: every buyer this
			 * worker takes is an error, so the totals add up. */
			run->lat_us[i] = LOADGEN_LAT_NONE;
			w->stats.errors++;
			continue;
		}
		worker_buyer(w, c, i);
	}
	rpc_close(c);
	return NULL;
}
