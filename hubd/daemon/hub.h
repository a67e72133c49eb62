/*
 * hub.h - the hub daemon's state, owned by the libuv loop thread.
 *
 * main.c wires it: config -> store -> terminal socket (bridge) -> sync
 * client and timer -> signals. Every field is touched only on the loop
 * thread; nng's threads reach it only through the bridge's queue.
 */
#ifndef HUB_H
#define HUB_H
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>
#include "io/bridge.h"
#include "hub_conf.h"
#include "hub_store.h"

typedef struct {
	uv_loop_t *loop;
	hub_conf cfg;
	hub_store *store;
	bridge *term;           /* REP: pickterm requests */
	bridge_client *coord;   /* REQ: hubsync to the coordinator */
	uv_timer_t sync_timer;
	bool sync_timer_init;
	bool sync_inflight;     /* a HubSyncRequest awaits its reply */
	bool coordinator_up;    /* the last sync got an OK reply */
	bool coordinator_known; /* at least one sync finished either way */
	bool stopping;
	uint64_t sync_sent_acked; /* event_acked when the request was built */
} hub;

/* Wall-clock now in ms since the epoch. The shell reads it once per batch
 * and passes it down; decisions never read a clock. */
int64_t hub_now_ms(void);

/* hub_term.c: the terminal socket's batch callback (bridge_batch_fn). */
void hub_term_batch(void *arg, bridge_req **reqs, size_t n);

/* hub_sync.c: start the sync loop (first sync at once); stop it (closes the
 * timer; the client is destroyed by main). */
int hub_sync_start(hub *h);
void hub_sync_stop(hub *h);
/* bridge_reply_fn for the coordinator client. */
void hub_sync_reply(void *arg, int rv, const uint8_t *buf, size_t len);

#endif
