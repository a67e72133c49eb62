/*
 * hub_obs.h - hubd's /metrics: the shell's timings (terminal acks, sync
 * round trips, COMMITs) and a snapshot of the hub's queue and streams,
 * rendered on the loop thread (a timer, HUB_OBS_PUBLISH_MS) and handed to
 * io/metrics_http, whose threads serve only that copy. docs/metrics.md.
 */
#ifndef DN_HUB_OBS_H
#define DN_HUB_OBS_H
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>
#include "core/metrics.h"
#include "io/bridge.h"
#include "io/metrics_http.h"
#include "hub.h"

/* Snapshot period, ms: the queue counts are store reads (an index range
 * as long as the queue); once a second costs nothing measurable and is
 * finer than any scrape interval. A scrape is at most this old. */
#define HUB_OBS_PUBLISH_MS 1000
#define HUB_OBS_TEXT_MAX (64 * 1024)

typedef struct {
	metrics_http *http;       /* NULL: off */
	uv_timer_t timer;
	bool timer_init;
	const hub *h;
	metrics_hist term_ack;    /* terminal request: arrival to reply, s */
	metrics_hist sync_rtt;    /* sync request sent to reply, s */
	metrics_hist commit;      /* each COMMIT, s */
	uint64_t term_requests;
	uint64_t syncs_ok, syncs_failed;
	uint64_t last_ok_ns;      /* CLOCK_MONOTONIC of the last OK sync; 0 none */
	uint64_t sync_sent_ns;
	uint64_t truncated;
	const bridge *term;       /* the terminal socket (listener restarts) */
	char *text;
} hub_obs;

uint64_t hub_obs_now_ns(void);
/* Config-time check of metrics.listen (printed): 0 or DN_EINVAL. */
int hub_obs_config_check(const hub_conf *cfg);
/* Starts /metrics and its timer when metrics.listen is set: 0 or DN_E*
 * (logged). */
int hub_obs_open(hub_obs *o, uv_loop_t *loop, const hub *h);
/* Stops the timer (closed with the loop's other handles) and the server. */
void hub_obs_stop(hub_obs *o);
void hub_obs_close(hub_obs *o);
void hub_obs_term(hub_obs *o, const uint64_t *recv_ns, size_t n, uint64_t now_ns);
void hub_obs_sync_sent(hub_obs *o);
void hub_obs_sync_done(hub_obs *o, bool ok);

#endif
