/*
 * hub.h - the hub daemon's state, owned by the libuv loop thread.
 *
 * The hub machine: its store, its config and the clock it is handed. It
 * touches no socket, timer or clock; hubd/daemon/main.c (the shell) wires
 * it to the terminal socket, the sync client and a timer, the simulator
 * (tests/sim) to a simulated network. One thread at a time.
 */
#ifndef HUB_H
#define HUB_H
#include <stdbool.h>
#include <stdint.h>
#include "io/mreq.h"
#include "hub_conf.h"
#include "hub_store.h"

typedef struct {
	hub_conf cfg;
	hub_store *store;
	int64_t now_ms;         /* wall-clock UTC ms, set by the shell before
	                         * every call: the machine reads no clock */
	/* Monotonic ms, set with now_ms: a clock that never goes back and runs
	 * at least as fast as real time, suspend included (CLOCK_BOOTTIME).
	 * The claim lease is counted on it. */
	uint64_t now_mono_ms;
	/* The request-key clock (hub_term.c): resumes from the newest stored
	 * key at the first keyed write, then moves with now_mono_ms. */
	bool key_clock_started;
	int64_t key_clock_ms;         /* the key clock's time */
	uint64_t key_clock_mono_ms;   /* now_mono_ms when it was last moved */
	bool coordinator_up;    /* the last sync got an OK reply */
	bool coordinator_known; /* at least one sync finished either way */
	uint64_t sync_sent_acked; /* event_acked when the request was built */
	uint64_t sync_sent_mono_ms; /* now_mono_ms when the request was built */
	/* The claim lease (SEMANTICS.md "Hub health"): no new pick starts at
	 * or after this now_mono_ms. Kept in memory only: after a restart the
	 * hub has none until its first sync. */
	uint64_t lease_until_mono_ms;
	/* When (now_ms) this process applied command cmd_applied_seq: sent as
	 * HubSyncRequest.cmd_applied_ms while cmd_applied is still that seq
	 * (the order trace). Memory only: 0 after a restart. */
	uint64_t cmd_applied_seq;
	int64_t cmd_applied_ms;
	/* The OS user of the terminal whose request is being answered
	 * (mreq.peer_uid, from the ipc:// socket's SO_PEERCRED), recorded
	 * next to the operator name in its HubEvent and log lines; -1 and
	 * "unknown" when the shell could not tell (tcp://, the simulator).
	 * Set by hub_term_batch per request. */
	int64_t term_uid;
	char term_uid_s[24];
} hub;

/* True while the hub holds a claim lease from the coordinator. */
bool hub_lease_valid(const hub *h);

/* hub_term.c: answers every terminal request of the batch (one
 * transaction) before it returns; the shell sends the replies. */
void hub_term_batch(hub *h, mreq **reqs, size_t n);

/* hub_term.c: answers r at once with a TermReply of status st and message
 * why (the shell's refusals before the machine: a terminal's OS user not
 * allowed, a connection over its in-flight cap). Touches no state. */
void hub_term_refuse(mreq *r, int st, const char *why);

/* hub_sync.c: builds the next HubSyncRequest (caller frees *buf). 0 or a
 * DN_E* code. */
int hub_sync_build(hub *h, uint8_t **buf, size_t *len);
/* Applies the outcome of a sync round trip: rv is 0 with the reply bytes,
 * or the transport's DN_E* with buf NULL. Returns the delay in ms before
 * the next sync (0: at once). */
uint64_t hub_sync_on_reply(hub *h, int rv, const uint8_t *buf, size_t len);

#endif
