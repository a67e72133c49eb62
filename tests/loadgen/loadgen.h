/*
 * loadgen.h - a storefront simulator that runs a whole drop against a
 * network: N buyers, C worker threads, one SubmitOrder per buyer on the
 * ingest socket, and a report of what came back and how fast.
 *
 * Thread model: the main thread parses arguments, starts C workers and
 * joins them. Workers share only read-only run parameters, an atomic
 * buyer counter, and the latency array, in which each buyer's slot is
 * written by exactly one worker. Each worker owns its rpc_conn and its
 * counters; the main thread merges counters after the join.
 *
 * Buyers are numbered 0..N-1. Buyer i's order key is "<prefix>-<i>" (no
 * second dash when the prefix already ends in one), its customer
 * "buyer-<i>" - unless the run names a drop (see "drops" below) or a fixed
 * --customer.
 *
 * Drops: with --drop, every order names the drop and a tier (--tier, or
 * --tiers shares drawn per buyer). A buyer in a tier marked ":insiders"
 * buys as one of the insiders "insider-0".."insider-<N-1>" (--insiders N);
 * a --repeat-share of buyers reuse an earlier buyer's customer id; an
 * --over-limit-share orders limit + 1 units; a --hold-share asks for a
 * hold and then either confirms it or (--lapse-share of them) lets it lapse.
 * --region-boost CITY:FACTOR (repeatable) multiplies a population
 * centre's weight, so a run can carry a regional spike (manchester:6).
 * With --duration-s, buyers arrive in a burst: the arrival rate decays
 * exponentially (time constant --burst-tau-s) over the run, buyer i
 * arriving at the (i + 1/2)/N quantile of that profile, so most come in the
 * first minutes the way a drop's buyers do.
 *
 * Determinism: buyer i's ship-to, SKU, tier, customer, quantity and hold
 * depend only on (seed, i), never on which worker sends it or when, so a
 * seed replays the same drop.
 */
#ifndef DN_LOADGEN_H
#define DN_LOADGEN_H
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "core/limits.h"
#include "core/sample.h"

/* Buyers in one run. A real drop is hundreds to thousands; ten million is
 * a long benchmark and keeps the per-buyer latency array at 40 MiB. */
#define LOADGEN_BUYERS_MAX 10000000u

/* Worker threads (each one REQ socket, one order in flight). Past about a
 * thousand the client machine, not the coordinator, is what is measured;
 * it also stays below the coordinator's per-socket context pool times a
 * few, and below typical fd limits. */
#define LOADGEN_CONCURRENCY_MAX 1024u

/* SKUs in --sku: a drop names a handful; bounds the parse. */
#define LOADGEN_SKUS_MAX 256u
/* SKUs in --sku-range: a catalogue (the 10,000-SKU bench, tests/bench/
 * skus.sh) and then some. */
#define LOADGEN_SKU_RANGE_MAX 1000000u

/* Retries of one order after a transport error: each can cost a full
 * timeout, so more than this only hides a dead coordinator. */
#define LOADGEN_RETRIES_MAX 100u

/* Longest --timeout-ms: ten minutes, past which a run is simply stuck. */
#define LOADGEN_TIMEOUT_MS_MAX 600000

/* Pause before retrying an UNAVAILABLE answer (server busy or storage
 * failing), doubled per attempt up to the cap: hammering a struggling
 * server at once only prolongs its trouble. Transport errors retry at
 * once because the timeout already waited. */
#define LOADGEN_BACKOFF_MS 10
#define LOADGEN_BACKOFF_MS_MAX 1000
/* Pause after a NOT_LEADER naming no leader (an election is on). */
#define LOADGEN_BACKOFF_FOLLOW_MS 50

/* Standard deviation of the ship-to scatter around a city centre, km:
 * about the radius of a metropolitan area. */
#define LOADGEN_SCATTER_KM 15.0

/* Status slots counted per worker: every Status value in the .proto
 * (0..30: coordinator statuses to 29, terminal ones from 30) plus one slot
 * for values this build does not know. */
#define LOADGEN_STATUS_SLOTS 32u
#define LOADGEN_STATUS_UNKNOWN (LOADGEN_STATUS_SLOTS - 1u)

/* Latency slot value for a buyer that never got an answer. Real
 * latencies are clamped below it (4295 s, far above any timeout). */
#define LOADGEN_LAT_NONE UINT32_MAX

/* Tiers in --tiers: a drop has at most DROP_TIERS_MAX (core/drop.h). */
#define LOADGEN_TIERS_MAX 8u

/* --insiders N: a creator's inner circle is small; bounds the id space. */
#define LOADGEN_INSIDERS_MAX 100000u

/* Cities loadgen can weight (the built-in table has 18) and the largest
 * --region-boost factor: a hundredfold already makes one region nearly all
 * of the demand, and it keeps every weight within a uint32. */
#define LOADGEN_CITIES_MAX 64u
#define LOADGEN_BOOST_MAX 100.0

/* Longest --duration-s: a day; a longer run is a soak test, not a drop. */
#define LOADGEN_DURATION_S_MAX 86400.0

typedef struct {
	const char *name;
	double share;     /* normalised so all shares add up to 1 */
	bool insiders;    /* buyers in this tier are insiders */
} loadgen_tier;

/* Run parameters, read-only once workers start. */
typedef struct {
	const char *url;
	FILE *acked;             /* --acked-file: "KEY HUB ORDER_ID" per ACCEPTED answer */
	FILE *answers;           /* --answers-file: "WALL_MS LATENCY_US STATUS" per answer */
	uint64_t buyers;
	unsigned concurrency;
	const char *skus[LOADGEN_SKUS_MAX];
	size_t nskus;
	/* --sku-range PREFIX:N instead of --sku: N SKUs PREFIX00000.. (the
	 * index zero-padded to 5 digits), buyer i buys SKU i mod N. */
	const char *sku_prefix;
	uint64_t sku_range;
	uint32_t qty;
	const char *storefront;
	const char *key_prefix;
	uint64_t seed;
	int timeout_ms;
	unsigned retries;
	int server_pid;          /* 0: none; else its CPU is reported (--server-pid) */
	bool json;
	unsigned batch;          /* 0: one order per request; else libdropnet's batch_max */
	unsigned inflight;       /* with batch: messages in flight */
	unsigned linger_us;      /* with batch: most an order waits for company */
	/* drops (all optional) */
	const char *drop;
	loadgen_tier tiers[LOADGEN_TIERS_MAX];
	size_t ntiers;
	const char *customer;    /* fixed customer for every buyer, or NULL */
	uint64_t insiders;       /* N: customers insider-0..N-1 */
	double repeat_share;
	double over_limit_share;
	uint32_t limit;          /* the drop's per-buyer limit (over-limit) */
	double hold_share;
	double lapse_share;      /* of the holds, share left to lapse */
	uint32_t hold_seconds;
	double duration_s;       /* 0: no pacing, as fast as possible */
	double burst_tau_s;      /* arrival rate decay time constant */
	bool ship_to_fixed;      /* --ship-to: every buyer ships here */
	/* Where buyers live: the built-in UK table, with each
	 * --region-boost CITY:FACTOR multiplying that city's weight. */
	sample_city cities[LOADGEN_CITIES_MAX];
	size_t ncities;
	double ship_lat, ship_lon;
	/* prices (issue 12): --quote-only sends one quote per buyer and no
	 * order (quote throughput); --wtp MEAN:SD gives buyer i a willingness
	 * to pay ~ normal(MEAN, SD) minor units drawn from (seed, i): the
	 * buyer quotes, and orders with the quote's token only when the
	 * quoted price is at most that. */
	bool quote_only;
	char *quote_skus[DN_ORDER_LINES_MAX]; /* --quote-skus: ask these */
	size_t nquote_skus;
	char quote_skus_buf[DN_ORDER_LINES_MAX * (DN_ID_MAX + 1)];
	bool wtp;
	double wtp_mean, wtp_sd;
} loadgen_params;

/* What buyer i does (worker.c), from (seed, i) only. */
typedef struct {
	size_t tier;             /* index in p->tiers when p->ntiers > 0 */
	bool repeat;             /* reuses an earlier buyer's customer */
	bool over_limit;
	bool hold;
	bool lapse;              /* hold and let it lapse */
	uint32_t qty;
	char customer[96];
} loadgen_plan;

void loadgen_plan_make(const loadgen_params *p, uint64_t i, loadgen_plan *out);

/* Seconds after the start at which buyer i arrives (0 without pacing). */
double loadgen_arrival_s(const loadgen_params *p, uint64_t i);

typedef struct {
	char id[DN_ID_MAX + 1];
	uint64_t accepted;
} loadgen_hub_count;

/* One worker's counters (merged by the main thread after the join). */
typedef struct {
	uint64_t answered;
	uint64_t by_status[LOADGEN_STATUS_SLOTS];
	uint64_t errors;
	uint64_t skipped;        /* buyers not sent: the run was stopped (SIGUSR1) */
	uint64_t req_bytes;      /* packed requests sent, first tries only */
	uint64_t retries;
	uint64_t duplicates;
	loadgen_hub_count hubs[DN_HUBS_CAP];
	size_t nhubs;
	uint64_t hub_other; /* accepted at hubs beyond DN_HUBS_CAP distinct */
	int open_error;     /* DN_E* from rpc_open, 0 if it opened */
	/* drops */
	uint64_t gifts;          /* accepted orders that came with a gift */
	uint64_t held;           /* HELD answers to a hold request */
	uint64_t confirmed;      /* holds confirmed into ACCEPTED */
	uint64_t confirm_expired;/* confirms answered EXPIRED */
	uint64_t lapsed;         /* holds deliberately left to lapse */
	uint64_t repeats;        /* buyers that reused a customer id */
	uint64_t over_limit;     /* buyers that ordered limit + 1 */
	uint64_t tier_sent[LOADGEN_TIERS_MAX];
	uint64_t tier_accepted[LOADGEN_TIERS_MAX];
	/* prices */
	uint64_t quotes;         /* quotes answered OK */
	uint64_t declined;       /* quoted above the buyer's willingness */
	int64_t revenue_minor;   /* sum of accepted acks' totals */
} loadgen_stats;

/* Shared state of one run. */
typedef struct {
	const loadgen_params *p;
	atomic_uint_fast64_t next; /* next buyer index to take, from 0 */
	uint32_t *lat_us;          /* [buyers], slot i for buyer i */
	double t0_s;               /* CLOCK_MONOTONIC start, for pacing */
	struct dnclient *client;   /* --batch: the shared batching client */
	/* Start line: workers connect (TLS handshakes included), count
	 * themselves ready and wait for go; the clock starts at go. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned ready;
	bool go;
} loadgen_run;

typedef struct {
	loadgen_run *run;
	loadgen_stats stats;
} loadgen_worker;

/* Set (by main's SIGUSR1 handler) to end the run early: workers send no
 * new buyer (the ones not yet sent count as skipped) and finish the ones
 * they hold. A test ends an open-ended drop this way. */
extern volatile sig_atomic_t loadgen_stopping;

/* Thread entry (worker.c): takes buyers until none are left. arg is a
 * loadgen_worker. Returns NULL. */
void *loadgen_worker_main(void *arg);

/* Adds n accepted orders at hub id to s (worker.c; also used to merge). */
void loadgen_stats_hub_add(loadgen_stats *s, const char *id, uint64_t n);

#endif
