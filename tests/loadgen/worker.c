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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/err.h"
#include "core/sample.h"
#include "io/codec.h"
#include "io/rpc.h"
#include "loadgen.h"

/* Longest "<prefix>-<index>" / "buyer-<index>" we build: the prefix is
 * user-given and may be long; the coordinator refuses keys over
 * DN_ID_MAX with INVALID, which is what a test of that wants to see. */
#define WORKER_KEY_MAX 256u

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
	if (s->nhubs >= DN_HUBS_MAX) {
		s->hub_other += n;
		return;
	}
	snprintf(s->hubs[s->nhubs].id, sizeof(s->hubs[0].id), "%s", id);
	s->hubs[s->nhubs].accepted = n;
	s->nhubs++;
}

/* Packs buyer i's order. Returns 0 or DN_ENOMEM. */
static int worker_order_pack(const loadgen_params *p, uint64_t i,
    uint8_t **buf, size_t *len)
{
	Dropnet__SubmitOrder msg = DROPNET__SUBMIT_ORDER__INIT;
	Dropnet__OrderLine line = DROPNET__ORDER_LINE__INIT;
	Dropnet__OrderLine *lines[1] = { &line };
	char key[WORKER_KEY_MAX], customer[WORKER_KEY_MAX];
	size_t ncities = 0;
	const sample_city *cities = sample_uk_cities(&ncities);
	sample_rng rng;
	double lat = 0.0, lon = 0.0;

	sample_rng_seed_stream(&rng, p->seed, i);
	sample_ship_to(cities, ncities, LOADGEN_SCATTER_KM, &rng, &lat, &lon,
	    NULL);
	/* "P-i", except that a prefix already ending in '-' ("drop-") is not
	 * given a second one: "drop-7", not "drop--7". */
	size_t plen = strlen(p->key_prefix);
	const char *sep = plen > 0 && p->key_prefix[plen - 1] == '-' ? "" : "-";
	snprintf(key, sizeof(key), "%s%s%" PRIu64, p->key_prefix, sep, i);
	snprintf(customer, sizeof(customer), "buyer-%" PRIu64, i);
	/* Round-robin over the SKU list by buyer index: deterministic and
	 * spreads demand evenly, like a drop page listing every variant. */
	line.sku = (char *)p->skus[i % p->nskus];
	line.qty = p->qty;
	msg.version = DN_PROTO_VERSION;
	msg.storefront = (char *)p->storefront;
	msg.order_key = key;
	msg.customer = customer;
	msg.n_lines = 1;
	msg.lines = lines;
	msg.lat = lat;
	msg.lon = lon;
	return codec_submit_order_pack(&msg, buf, len);
}

static void worker_count_answer(loadgen_stats *s, const Dropnet__OrderAck *a)
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
	}
}

/* Sends buyer i's order with retries; records its outcome and latency. */
static void worker_buyer(loadgen_worker *w, rpc_conn *c, uint64_t i)
{
	const loadgen_params *p = w->run->p;
	loadgen_stats *s = &w->stats;
	uint8_t *req = NULL;
	size_t req_len = 0;
	Dropnet__OrderAck *last = NULL;
	unsigned backoff = LOADGEN_BACKOFF_MS;

	w->run->lat_us[i] = LOADGEN_LAT_NONE;
	if (worker_order_pack(p, i, &req, &req_len) != 0) {
		s->errors++;
		return;
	}
	uint64_t t0 = worker_now_us();
	for (unsigned attempt = 0; attempt <= p->retries; attempt++) {
		uint8_t *rep = NULL;
		size_t rep_len = 0;
		Dropnet__OrderAck *ack = NULL;

		if (attempt > 0) {
			s->retries++;
		}
		if (rpc_call(c, req, req_len, p->timeout_ms, &rep, &rep_len) !=
		    0) {
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
		if (ack->status != DROPNET__STATUS__UNAVAILABLE) {
			break;
		}
		if (attempt < p->retries) {
			worker_sleep_ms(backoff);
			backoff = backoff * 2 > LOADGEN_BACKOFF_MS_MAX
			    ? LOADGEN_BACKOFF_MS_MAX
			    : backoff * 2;
		}
	}
	free(req);
	if (last == NULL) {
		s->errors++;
		return;
	}
	uint64_t dt = worker_now_us() - t0;
	w->run->lat_us[i] =
	    dt >= LOADGEN_LAT_NONE ? LOADGEN_LAT_NONE - 1 : (uint32_t)dt;
	worker_count_answer(s, last);
	codec_order_ack_free(last);
}

void *loadgen_worker_main(void *arg)
{
	loadgen_worker *w = arg;
	loadgen_run *run = w->run;
	rpc_conn *c = NULL;

	w->stats.open_error = rpc_open(&c, run->p->url);
	for (;;) {
		uint64_t i = atomic_fetch_add(&run->next, 1);
		if (i >= run->p->buyers) {
			break;
		}
		if (c == NULL) {
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
