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
 * "buyer-<i>".
 *
 * Determinism: buyer i's ship-to and SKU depend only on (seed, i), never
 * on which worker sends it or when, so a seed replays the same drop.
 */
#ifndef DN_LOADGEN_H
#define DN_LOADGEN_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/limits.h"

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

/* Standard deviation of the ship-to scatter around a city centre, km:
 * about the radius of a metropolitan area. */
#define LOADGEN_SCATTER_KM 15.0

/* Status slots counted per worker: every Status value in the .proto
 * (0..11) plus one slot for values this build does not know. */
#define LOADGEN_STATUS_SLOTS 13u
#define LOADGEN_STATUS_UNKNOWN (LOADGEN_STATUS_SLOTS - 1u)

/* Latency slot value for a buyer that never got an answer. Real
 * latencies are clamped below it (4295 s, far above any timeout). */
#define LOADGEN_LAT_NONE UINT32_MAX

/* Run parameters, read-only once workers start. */
typedef struct {
	const char *url;
	uint64_t buyers;
	unsigned concurrency;
	const char *skus[LOADGEN_SKUS_MAX];
	size_t nskus;
	uint32_t qty;
	const char *storefront;
	const char *key_prefix;
	uint64_t seed;
	int timeout_ms;
	unsigned retries;
	bool json;
} loadgen_params;

typedef struct {
	char id[DN_ID_MAX + 1];
	uint64_t accepted;
} loadgen_hub_count;

/* One worker's counters (merged by the main thread after the join). */
typedef struct {
	uint64_t answered;
	uint64_t by_status[LOADGEN_STATUS_SLOTS];
	uint64_t errors;
	uint64_t retries;
	uint64_t duplicates;
	loadgen_hub_count hubs[DN_HUBS_MAX];
	size_t nhubs;
	uint64_t hub_other; /* accepted at hubs beyond DN_HUBS_MAX distinct */
	int open_error;     /* DN_E* from rpc_open, 0 if it opened */
} loadgen_stats;

/* Shared state of one run. */
typedef struct {
	const loadgen_params *p;
	atomic_uint_fast64_t next; /* next buyer index to take, from 0 */
	uint32_t *lat_us;          /* [buyers], slot i for buyer i */
} loadgen_run;

typedef struct {
	loadgen_run *run;
	loadgen_stats stats;
} loadgen_worker;

/* Thread entry (worker.c): takes buyers until none are left. arg is a
 * loadgen_worker. Returns NULL. */
void *loadgen_worker_main(void *arg);

/* Adds n accepted orders at hub id to s (worker.c; also used to merge). */
void loadgen_stats_hub_add(loadgen_stats *s, const char *id, uint64_t n);

#endif
