/*
 * obs.h - the coordinator shell's observation: the timings only the shell
 * can take (ack latency, machine call time, COMMIT time) and /metrics.
 *
 * Thread model: everything here runs on the loop thread. obs_publish
 * renders the machine's counters (coord.metrics) and the state's gauges
 * into text there and hands a copy to io/metrics_http, whose threads serve
 * only that copy. Metric names and meanings: docs/metrics.md.
 */
#ifndef DN_COORD_OBS_H
#define DN_COORD_OBS_H
#include <stdbool.h>
#include <stdint.h>
#include "core/metrics.h"
#include "io/bridge.h"
#include "io/netguard.h"
#include "io/metrics_http.h"
#include "coord.h"

/* The request paths the shell times. */
typedef enum { OBS_INGEST = 0, OBS_HUBSYNC = 1, OBS_OPS = 2, OBS_PATHS = 3 } obs_path;

/* Publishing a snapshot at most this often under load (ms): rendering is
 * a few tens of microseconds, so at 10/s it costs no throughput; the tick
 * publishes too, so a quiet coordinator's scrape is at most one tick old. */
#define OBS_PUBLISH_MS 100
/* The text snapshot's size: the fixed part, and per hub of
 * coordinator.hubs_max (6 samples of ~70 bytes each, with room); ~60 lines
 * per open drop SKU (COORD_DROPS_MAX x DROP_SKUS_MAX) fit the fixed part. */
#define OBS_TEXT_MAX (1024 * 1024)
#define OBS_TEXT_PER_HUB 1024

typedef struct {
	metrics_http *http;       /* NULL: /metrics is off, nothing is timed */
	metrics_hist ack[OBS_PATHS];    /* arrival to reply, seconds */
	metrics_hist batch[OBS_PATHS];  /* the machine call (decide + commit) */
	metrics_hist commit;      /* each COMMIT (WAL write + fsync) */
	uint64_t last_publish_ns;
	uint64_t truncated;       /* snapshots cut short (OBS_TEXT_MAX) */
	char *text;               /* text_max bytes */
	size_t text_max;          /* OBS_TEXT_MAX + hubs_max x OBS_TEXT_PER_HUB */
	char data_dir[DN_CONF_STR_MAX];
	const bridge *socks[OBS_PATHS]; /* obs_set_sockets: counted per socket */
	const netguard *signal;
} obs;

/* Starts /metrics when cfg->metrics_listen is set. 0 (on or off), or
 * DN_EINVAL / DN_ENET / DN_ENOMEM, logged. */
int obs_open(obs *o, const coord_config *cfg);
void obs_close(obs *o);
/* Checks metrics.listen against metrics.allow_public (config time): 0, or
 * DN_EINVAL with the reason printed. */
int obs_config_check(const coord_config *cfg);

static inline bool obs_on(const obs *o)
{
	return o->http != NULL;
}

/* The sockets whose counters /metrics shows (listener restarts, abandoned
 * requests): set once they are open; NULL ones are skipped. */
void obs_set_sockets(obs *o, const bridge *ingest, const bridge *hubsync, const bridge *ops,
    const netguard *signal);

/* CLOCK_MONOTONIC in ns. */
uint64_t obs_now_ns(void);
/* Records one batch: the machine call took t1 - t0 ns; each request's
 * ack latency is t2 (replies handed to the sender) minus its arrival. */
void obs_batch(obs *o, obs_path p, uint64_t t0, uint64_t t1);
void obs_acks(obs *o, obs_path p, const uint64_t *recv_ns, size_t n, uint64_t t2);
/* Renders and publishes a snapshot, at most every OBS_PUBLISH_MS unless
 * force. */
void obs_publish(obs *o, const coord *c, bool force);

#endif
