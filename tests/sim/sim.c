/*
 * sim.c - the engine of dropsim (sim.h): an event heap on a simulated clock,
 * the network, the coordinator and hub shells, storefronts, staff, faults.
 *
 * Each actor does what its real counterpart does, through the same machine
 * calls the daemons' shells make: the coordinator drains its inboxes in
 * batches (coord_ingest_request, the daemon's ingest entry with its
 * envelope; coord_hubsync_batch) with its clock set first; storefronts send
 * bare SubmitOrders, single orders in an IngestRequest and SubmitBatches; a hub builds a sync, waits for the reply or a timeout, and applies
 * it (hub_sync_build, hub_sync_on_reply); staff talk to their hub through
 * hub_term_batch. Only the surroundings are simulated.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/err.h"
#include "core/limits.h"
#include "io/codec.h"
#include "io/envelope.h"
#include "io/walbuf.h"
#include "io/log.h"
#include "world.h"

/* A fixed epoch: 2026-06-01T00:00:00Z, so wall times are realistic. */
#define SIM_EPOCH_MS 1780272000000LL
/* How often the coordinator's tick runs, as in the daemon. */
#define SIM_TICK_MS 250
/* A storefront waits this long for an ack before it retries. */
#define SIM_ORDER_TIMEOUT_MS 3000
/* Wiped hub disks among the faults (SEMANTICS.md "Incarnations and
 * resync": the staff resolve re-sent orders from the carrier log, then
 * count). */
#define SIM_WIPES 1
/* The staff's pace (staff_gap). One seed in SIM_REAL_PACE_ONE_IN runs at
 * a hub's real pace, the others compressed (every ingest and fault path in
 * a few simulated seconds, cheap: most seeds). At the real pace, in real
 * minutes: a picker walks the bins
 * for an order's units (20-90 s), packs and ships it (10-40 s), and
 * glances at the queue every few seconds when it is empty. A drop's
 * timers (claim leases, hub health and grace, request keys, the
 * coordinator's tick) then run at their real lengths against work that
 * takes as long as it does in a hub, and one seed is hours of a hub's
 * day, not seconds. */
#define SIM_REAL_PACE_ONE_IN 16
/* When the creator makes the drop (simdrop.c): after the hubs' first
 * stock reached the books, before the first order (2 s). */
#define SIM_DROP_AT_MS 1500
#define SIM_PICK_MS 20000
#define SIM_PICK_SPREAD_MS 70000
#define SIM_PACK_MS 10000
#define SIM_PACK_SPREAD_MS 30000
#define SIM_GLANCE_MS 2000
#define SIM_GLANCE_SPREAD_MS 6000
/* After every order is answered the hubs still pick for hours: faults go
 * on, sparser (one every SIM_TAIL_FAULT_MS + up to as long again), and
 * partitions may outlast the routing grace and the lease. The network
 * heals when every hub is idle, or SIM_TAIL_MAX_MS after the last answer. */
#define SIM_TAIL_FAULT_MS 30000
#define SIM_TAIL_MAX_MS (8 * 3600 * 1000ULL)
/* Audit every this many coordinator batches that wrote, besides before every
 * coordinator crash and at the end (check.c says why that is enough; each
 * audit scans the whole journal). */
#define SIM_AUDIT_EVERY 256

static void trace_books(world *w, int i, const char *what);

const char *const sim_sku_names[SIM_SKUS] = {"tee-black", "hoodie-grey", "cap-red"};

static const struct {
	const char *id;
	double lat, lon;
} sim_cities[SIM_HUBS_MAX] = {
	{"london", 51.5074, -0.1278}, {"manchester", 53.4808, -2.2426},
	{"leeds", 53.8008, -1.5491}, {"birmingham", 52.4862, -1.8904},
	{"bristol", 51.4545, -2.5879}, {"glasgow", 55.8642, -4.2518},
};

/* ---- PRNG ---- */

uint64_t sim_rng_next(sim_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t sim_rng_below(sim_rng *r, uint64_t n)
{
	return n == 0 ? 0 : sim_rng_next(r) % n;
}

bool sim_rng_chance(sim_rng *r, double p)
{
	return (double)(sim_rng_next(r) >> 11) * (1.0 / 9007199254740992.0) < p;
}

/* ---- history hash (FNV-1a) ---- */

static void hash_bytes(world *w, const void *buf, size_t len)
{
	const uint8_t *b = buf;
	uint64_t h = w->res->hash;
	for (size_t i = 0; i < len; i++) {
		h = (h ^ b[i]) * 0x100000001b3ULL;
	}
	w->res->hash = h;
}

static void hash_u64(world *w, uint64_t v)
{
	hash_bytes(w, &v, sizeof(v));
}

/* ---- the event heap, ordered by (t, seq) ---- */

static bool ev_less(const sim_ev *a, const sim_ev *b)
{
	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void ev_push(world *w, uint64_t t, ev_kind kind, int node, uint64_t arg,
    sim_msg *msg)
{
	assert(w->nheap < SIM_EVENTS_MAX);
	size_t i = w->nheap++;
	w->heap[i] = (sim_ev){t, w->seq++, kind, node, arg, msg};
	while (i > 0 && ev_less(&w->heap[i], &w->heap[(i - 1) / 2])) {
		sim_ev tmp = w->heap[i];
		w->heap[i] = w->heap[(i - 1) / 2];
		w->heap[(i - 1) / 2] = tmp;
		i = (i - 1) / 2;
	}
}

static sim_ev ev_pop(world *w)
{
	assert(w->nheap > 0);
	sim_ev top = w->heap[0];
	w->heap[0] = w->heap[--w->nheap];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < w->nheap && ev_less(&w->heap[l], &w->heap[m])) {
			m = l;
		}
		if (r < w->nheap && ev_less(&w->heap[r], &w->heap[m])) {
			m = r;
		}
		if (m == i) {
			break;
		}
		sim_ev tmp = w->heap[i];
		w->heap[i] = w->heap[m];
		w->heap[m] = tmp;
		i = m;
	}
	return top;
}

/* ---- messages and the network ---- */

static sim_msg *msg_new(msg_kind kind, int peer, uint64_t id, uint64_t now,
    const uint8_t *buf, size_t len)
{
	sim_msg *m = calloc(1, sizeof(*m));
	assert(m != NULL);
	*m = (sim_msg){.kind = kind, .peer = peer, .id = id, .sent_ms = now, .len = len};
	if (len > 0) {
		m->buf = malloc(len);
		assert(m->buf != NULL);
		memcpy(m->buf, buf, len);
	}
	return m;
}

static void msg_free(sim_msg *m)
{
	if (m != NULL) {
		free(m->buf);
		free(m);
	}
}

static bool msg_is_hub(const sim_msg *m)
{
	return m->kind == MSG_SYNC_REQ || m->kind == MSG_SYNC_REP;
}

/* Sends m: lost, delayed, maybe duplicated; a partitioned hub's link
 * carries nothing. Takes ownership of m. */
static void net_send(world *w, sim_msg *m)
{
	w->res->msgs++;
	if ((msg_is_hub(m) && w->hubs[m->peer].partitioned) ||
	    sim_rng_chance(&w->rng, w->loss)) {
		w->res->lost++;
		msg_free(m);
		return;
	}
	if (sim_rng_chance(&w->rng, w->dup)) {
		w->res->duplicated++;
		sim_msg *d = msg_new(m->kind, m->peer, m->id, m->sent_ms, m->buf, m->len);
		d->shape = m->shape;
		d->mask = m->mask;
		ev_push(w, w->now + 1 + sim_rng_below(&w->rng, w->delay_max_ms + 1),
		    EV_DELIVER, m->peer, 0, d);
	}
	ev_push(w, w->now + 1 + sim_rng_below(&w->rng, w->delay_max_ms + 1),
	    EV_DELIVER, m->peer, 0, m);
}

/* ---- the coordinator's shell ---- */

static void coord_set_clock(world *w)
{
	coord_clock_set(&w->c, w->now + w->coord_mono_base,
	    SIM_EPOCH_MS + (int64_t)w->now + w->coord_wall_skew_ms);
}

static void coord_drain_schedule(world *w)
{
	if (w->drain_pending || !w->coord_up) {
		return;
	}
	uint64_t t = w->now + 1 + sim_rng_below(&w->rng, 3);
	if (t < w->stall_until) {
		t = w->stall_until;
	}
	w->drain_pending = true;
	ev_push(w, t, EV_COORD_DRAIN, -1, 0, NULL);
}

static void inbox_clear(world *w)
{
	for (size_t i = 0; i < w->n_ingest; i++) {
		msg_free(w->inbox_ingest[i]);
	}
	for (size_t i = 0; i < w->n_sync; i++) {
		msg_free(w->inbox_sync[i]);
	}
	w->n_ingest = w->n_sync = 0;
}

static void coord_deliver(world *w, sim_msg *m)
{
	if (!w->coord_up) {
		msg_free(m);
		return;
	}
	sim_msg **box = m->kind == MSG_INGEST_REQ ? w->inbox_ingest : w->inbox_sync;
	size_t *n = m->kind == MSG_INGEST_REQ ? &w->n_ingest : &w->n_sync;
	if (*n == SIM_INBOX_MAX) {
		msg_free(m); /* the loop queue is full: the client times out */
		return;
	}
	if (m->kind == MSG_SYNC_REQ) {
		sim_hub *hb = &w->hubs[m->peer];
		hb->last_sync_arrived_ms = w->now;
		hb->sync_arrived = true;
	}
	box[(*n)++] = m;
	coord_drain_schedule(w);
}

typedef void (*coord_batch_fn)(coord *c, mreq **reqs, size_t n);

/* ---- ingest replies: a request's acks, in its orders' order ---- */

/* The OrderAcks of one reply, borrowed from whichever message holds them. */
typedef struct {
	Dropnet__OrderAck *bare;
	Dropnet__IngestReply *env;
	Dropnet__OrderAck **acks;
	size_t n;
} sim_acks;

static uint32_t mask_count(uint32_t mask)
{
	return (uint32_t)__builtin_popcount(mask);
}

/* Reads the reply to an ingest request of shape carrying norders orders:
 * a bare OrderAck to a bare SubmitOrder, IngestReply.ack to one order in
 * an envelope, IngestReply.batch to a SubmitBatch (proto/SEMANTICS.md).
 * False when the bytes are not that shape or hold another count of acks;
 * acks_free after either way. */
static bool acks_read(uint32_t shape, size_t norders, const uint8_t *buf, size_t len,
    sim_acks *a)
{
	memset(a, 0, sizeof(*a));
	if (shape == ENVELOPE_NONE) {
		if (codec_order_ack_unpack(buf, len, &a->bare) != 0) {
			return false;
		}
		a->acks = &a->bare;
		a->n = 1;
	} else if (codec_ingest_reply_unpack(buf, len, &a->env) != 0) {
		return false;
	} else if (shape == ENVELOPE_ONE &&
	    a->env->kind_case == DROPNET__INGEST_REPLY__KIND_ACK) {
		a->acks = &a->env->ack;
		a->n = 1;
	} else if (shape == ENVELOPE_BATCH &&
	    a->env->kind_case == DROPNET__INGEST_REPLY__KIND_BATCH) {
		a->acks = a->env->batch->acks;
		a->n = a->env->batch->n_acks;
	}
	return a->n == norders && norders > 0;
}

static void acks_free(sim_acks *a)
{
	codec_order_ack_free(a->bare);
	codec_ingest_reply_free(a->env);
}

/* The order the i-th ack of request m answers (bit i of its mask). */
static sim_order *acks_order(world *w, const sim_msg *m, size_t i)
{
	uint32_t j = 0;
	for (uint32_t mask = m->mask;; j++, mask >>= 1) {
		if ((mask & 1u) != 0 && i-- == 0) {
			break;
		}
	}
	return &w->orders[(uint32_t)m->peer + j];
}

/* At the coordinator, where each answer was decided: one ack per order of
 * request m, each final one for its own order key and checked against the
 * order's first answer. */
static bool ingest_check_reply(world *w, const sim_msg *m, const mreq *r)
{
	sim_acks a;
	bool ok = acks_read(m->shape, mask_count(m->mask), r->reply, r->reply_len, &a) ||
	    check_fail(w, "order %s: the reply to its request (envelope kind %u, %u orders)"
	    " is not one ack per order", w->orders[m->peer].key, m->shape,
	    mask_count(m->mask));
	for (size_t i = 0; ok && i < a.n; i++) {
		const Dropnet__OrderAck *ack = a.acks[i];
		sim_order *o = acks_order(w, m, i);
		/* A final answer names its order; UNAVAILABLE after a failed
		 * commit may not (the batch's orders were never read back). */
		bool unnamed = ack->order_key == NULL || ack->order_key[0] == '\0';
		if (unnamed ? ack->status != DROPNET__STATUS__UNAVAILABLE :
		    strcmp(ack->order_key, o->key) != 0) {
			ok = check_fail(w, "order %s: ack %zu of its request is for '%s'", o->key,
			    i, ack->order_key != NULL ? ack->order_key : "");
		} else if (ack->status != DROPNET__STATUS__UNAVAILABLE) {
			ok = check_answer(w, o, ack->status, ack->order_id, ack->duplicate);
		}
	}
	acks_free(&a);
	return ok;
}

/* Runs up to max requests of one inbox as one machine batch and sends the
 * replies; for ingest, checks each answer where it was decided. */
static bool coord_batch(world *w, sim_msg **box, size_t *n, size_t max,
    coord_batch_fn fn, msg_kind rep_kind)
{
	size_t k = *n < max ? *n : max;
	if (k == 0) {
		return true; /* the daemon's loop runs no empty batch either */
	}
	mreq *r = calloc(k, sizeof(*r));
	mreq **rp = calloc(k, sizeof(*rp));
	assert(r != NULL && rp != NULL);
	for (size_t i = 0; i < k; i++) {
		mreq_init(&r[i], box[i]->buf, box[i]->len);
		rp[i] = &r[i];
	}
	coord_set_clock(w);
	if (rep_kind == MSG_INGEST_REP) {
		check_ledger_mark(w); /* for check_no_oversell below */
	}
	fn(&w->c, rp, k);
	/* An ingest batch moves no physical stock, so every allocation it
	 * made must still be covered when it returns. (A hub sync may
	 * re-route a short to a hub and then apply that hub's count in the
	 * same batch: a later physical fact, not a sale beyond the book.) */
	bool ok = rep_kind != MSG_INGEST_REP || (check_no_oversell(w) && sim_drop_check(w));
	for (size_t i = 0; i < k && ok; i++) {
		if (!r[i].replied) {
			ok = check_fail(w, "coordinator left a request unanswered");
			break;
		}
		hash_bytes(w, r[i].reply, r[i].reply_len);
		if (rep_kind == MSG_INGEST_REP) {
			ok = ingest_check_reply(w, box[i], &r[i]);
		}
		sim_msg *rep = msg_new(rep_kind, box[i]->peer, box[i]->id, w->now,
		    r[i].reply, r[i].reply_len);
		rep->shape = box[i]->shape;
		rep->mask = box[i]->mask;
		net_send(w, rep);
	}
	for (size_t i = 0; i < k; i++) {
		mreq_fini(&r[i]);
		msg_free(box[i]);
	}
	memmove(box, box + k, (*n - k) * sizeof(*box));
	*n -= k;
	free(r);
	free(rp);
	return ok;
}

static bool coord_drain(world *w)
{
	w->drain_pending = false;
	if (!w->coord_up) {
		return true;
	}
	if (w->now < w->stall_until) {
		coord_drain_schedule(w);
		return true;
	}
	/* The real loop serves its sockets in no fixed order. */
	bool sync_first = sim_rng_chance(&w->rng, 0.5);
	bool ok = true;
	for (int pass = 0; pass < 2 && ok; pass++) {
		if ((pass == 0) == sync_first) {
			ok = coord_batch(w, w->inbox_sync, &w->n_sync, 32,
			    coord_hubsync_batch, MSG_SYNC_REP);
		} else {
			ok = coord_batch(w, w->inbox_ingest, &w->n_ingest,
			    (size_t)w->cfg.ingest_contexts, coord_ingest_request,
			    MSG_INGEST_REP);
		}
	}
	/* Only batches that wrote count, and only their ledger rows are
	 * checked again: an idle hub's syncs change nothing (a change to
	 * memory alone would show in the next memory = file check). */
	int64_t changes = coord_rows_written(&w->c);
	bool wrote = changes != w->drain_changes;
	if (wrote) {
		w->drain_changes = changes;
		w->drains++;
	}
	ok = ok && (!wrote || check_ledger(w)) && check_memory_file(w);
	if (ok && w->drains >= w->drains_audited + SIM_AUDIT_EVERY) {
		w->drains_audited = w->drains;
		ok = check_audit(w, false);
	}
	if (w->n_ingest + w->n_sync > 0) {
		coord_drain_schedule(w);
	}
	return ok;
}

/* The VFS the stores open: simvfs, or walbuf over it (--walbuf). */
static const char *sim_store_vfs(const world *w)
{
	const char *wb = w->p.walbuf ? walbuf_vfs(SIM_VFS) : NULL;
	return wb != NULL ? wb : SIM_VFS;
}

static bool coord_start(world *w)
{
	memset(&w->c, 0, sizeof(w->c));
	w->c.cfg = w->cfg;
	w->c.split = w->split;
	w->drain_changes = -1; /* a new connection counts from 0 */
	/* A new process: its monotonic clock starts anywhere. */
	w->coord_mono_base = 1 + sim_rng_below(&w->rng, 1000000);
	coord_set_clock(w);
	if (coord_open(&w->c, w->coord_path, sim_store_vfs(w)) != 0) {
		/* An injected I/O error during start-up: try again, as systemd
		 * would restart the daemon. */
		if (!w->p.faults || w->healed) {
			return check_fail(w, "coordinator could not open its store");
		}
		ev_push(w, w->now + 500, EV_COORD_UP, -1, 0, NULL);
		return true;
	}
	w->coord_up = true;
	return true;
}

/* kill -9 of the coordinator (power loss on half of them). Its memory is
 * audited against its file first: a restart rebuilds memory from the file,
 * so this is the last moment a difference between them can be seen. */
static bool coord_crash(world *w)
{
	if (!w->coord_up) {
		return true;
	}
	if (!check_audit(w, false)) {
		return false;
	}
	w->res->coord_crashes++;
	/* kill -9 keeps what reached the OS; a power loss drops what was not
	 * synced. */
	if (sim_rng_chance(&w->rng, 0.5)) {
		w->res->power_losses++;
		simvfs_crash(w->vfs, "/coordinator/");
	}
	coord_close(&w->c);
	inbox_clear(w);
	w->coord_up = false;
	w->stall_until = w->now; /* a stall ends with the process it stalled */
	w->drain_pending = false;
	uint64_t down = 50 + sim_rng_below(&w->rng, 3000);
	ev_push(w, w->now + down, EV_COORD_UP, -1, 0, NULL);
	if (w->p.verbose) {
		fprintf(stderr, "sim: t=%llu coordinator crash down_ms=%llu\n",
		    (unsigned long long)w->now, (unsigned long long)down);
	}
	return true;
}

/* ---- a hub's shell ---- */

static void hub_set_clock(world *w, sim_hub *hb)
{
	hb->h.now_ms = SIM_EPOCH_MS + (int64_t)w->now + hb->wall_skew_ms;
	hb->h.now_mono_ms = w->now + hb->mono_base;
}

static void hub_sync_at(world *w, int i, uint64_t delay)
{
	ev_push(w, w->now + delay, EV_HUB_SYNC, i, 0, NULL);
}

static void hub_sync_send(world *w, int i)
{
	sim_hub *hb = &w->hubs[i];
	if (!hb->up || hb->sync_attempt != 0) {
		return;
	}
	uint8_t *buf = NULL;
	size_t len = 0;
	hub_set_clock(w, hb);
	if (hub_sync_build(&hb->h, &buf, &len) != 0) {
		hub_sync_at(w, i, (uint64_t)hb->h.cfg.sync_interval_ms);
		return;
	}
	hb->sync_attempt = ++w->attempts;
	net_send(w, msg_new(MSG_SYNC_REQ, i, hb->sync_attempt, w->now, buf, len));
	free(buf);
	ev_push(w, w->now + (uint64_t)hb->h.cfg.sync_timeout_ms, EV_HUB_TIMEOUT, i,
	    hb->sync_attempt, NULL);
}

static void hub_sync_done(world *w, int i, uint64_t attempt, int rv,
    const uint8_t *buf, size_t len)
{
	sim_hub *hb = &w->hubs[i];
	if (!hb->up || hb->sync_attempt != attempt) {
		return; /* a late or duplicated reply: REQ drops it */
	}
	hb->sync_attempt = 0;
	hub_set_clock(w, hb);
	hub_sync_at(w, i, hub_sync_on_reply(&hb->h, rv, buf, len));
	trace_books(w, i, "sync");
}

static bool hub_start(world *w, int i)
{
	sim_hub *hb = &w->hubs[i];
	/* A new process: nothing of the old one's memory but its config. */
	hub_conf cfg = hb->h.cfg;
	memset(&hb->h, 0, sizeof(hb->h));
	hb->h.cfg = cfg;
	if (hub_store_open_vfs(&hb->h.store, hb->path, sim_store_vfs(w)) != 0) {
		if (!w->p.faults || w->healed) {
			return check_fail(w, "hub %s could not open its store", hb->h.cfg.id);
		}
		ev_push(w, w->now + 500, EV_HUB_UP, i, 0, NULL);
		return true;
	}
	/* A new process: its monotonic clock starts anywhere. */
	hb->mono_base = 1 + sim_rng_below(&w->rng, 1000000);
	hb->up = true;
	hb->sync_attempt = 0;
	hub_sync_at(w, i, 0);
	trace_books(w, i, "start");
	return true;
}

/* kill -9 of hubd (power loss on half of them); with wipe, its disk is
 * gone too and it restarts on an empty store (SEMANTICS.md "Incarnations
 * and resync"); its staff then count every bin. */
static void hub_crash(world *w, int i, bool wipe)
{
	sim_hub *hb = &w->hubs[i];
	if (!hb->up) {
		return;
	}
	char prefix[DN_CONF_STR_MAX + 4];
	snprintf(prefix, sizeof(prefix), "/%s/", hb->h.cfg.id);
	w->res->hub_crashes++;
	if (wipe) {
		w->res->wipes++;
		simvfs_wipe(w->vfs, prefix);
		hb->recount = true;
	} else if (sim_rng_chance(&w->rng, 0.5)) {
		w->res->power_losses++;
		simvfs_crash(w->vfs, prefix);
	}
	hub_store_close(hb->h.store);
	hb->h.store = NULL;
	hb->up = false;
	hb->sync_attempt = 0;
	uint64_t down = 50 + sim_rng_below(&w->rng, 3000);
	ev_push(w, w->now + down, EV_HUB_UP, i, 0, NULL);
	if (w->p.verbose) {
		fprintf(stderr, "sim: t=%llu hub %s %s down_ms=%llu\n",
		    (unsigned long long)w->now, hb->h.cfg.id, wipe ? "wiped" : "crash",
		    (unsigned long long)down);
	}
}

/* ---- staff: receive, claim, pick, ship through the terminal machine ---- */

/* One terminal request; returns the unpacked reply or NULL (hub down). */
static Dropnet__TermReply *term_call(world *w, int i, Dropnet__TermRequest *q)
{
	sim_hub *hb = &w->hubs[i];
	if (!hb->up) {
		return NULL;
	}
	q->version = DN_PROTO_VERSION;
	uint8_t *buf = NULL;
	size_t len = 0;
	if (codec_term_request_pack(q, &buf, &len) != 0) {
		return NULL;
	}
	mreq r;
	mreq *rp = &r;
	mreq_init(&r, buf, len);
	hub_set_clock(w, hb);
	hub_term_batch(&hb->h, &rp, 1);
	Dropnet__TermReply *rep = NULL;
	if (codec_term_reply_unpack(r.reply, r.reply_len, &rep) != 0) {
		codec_term_reply_free(rep);
		rep = NULL;
	}
	hash_bytes(w, r.reply, r.reply_len);
	const char *trace = w->trace;
	if (trace != NULL && strcmp(trace, hb->h.cfg.id) == 0) {
		fprintf(stderr, "trace t=%llu %s kind=%d order=%llu sku=%s qty=%lld n_scans=%zu"
		    " -> %s %s | phys=%lld/%lld/%lld tote=%lld/%lld/%lld\n",
		    (unsigned long long)w->now, hb->h.cfg.id, q->kind,
		    (unsigned long long)q->order_id, q->sku ? q->sku : "", (long long)q->qty,
		    q->n_scans, rep ? codec_status_name(rep->status) : "-",
		    rep && rep->message ? rep->message : "",
		    (long long)hb->phys[0], (long long)hb->phys[1], (long long)hb->phys[2],
		    (long long)hb->tote[0], (long long)hb->tote[1], (long long)hb->tote[2]);
	}
	mreq_fini(&r);
	free(buf);
	return rep;
}

/* DROPSIM_TRACE=hub: after each step of that hub, its stock book against
 * its bins (a debugging aid; reads only). */
static void trace_books(world *w, int i, const char *what)
{
	sim_hub *hb = &w->hubs[i];
	const char *trace = w->trace;
	if (trace == NULL || strcmp(trace, hb->h.cfg.id) != 0 || !hb->up) {
		return;
	}
	for (int s = 0; s < SIM_SKUS; s++) {
		int64_t stock = 0, a1 = 0, main_bin = 0;
		hub_store_stock_get(hb->h.store, sim_sku_names[s], &stock);
		hub_store_bin_qty(hb->h.store, "A1", sim_sku_names[s], &a1);
		hub_store_bin_qty(hb->h.store, "MAIN", sim_sku_names[s], &main_bin);
		if (stock != hb->phys[s]) {
			fprintf(stderr, "trace t=%llu %s BOOK != TRUTH after %s: %s stock=%lld phys=%lld\n",
			    (unsigned long long)w->now, hb->h.cfg.id, what, sim_sku_names[s],
			    (long long)stock, (long long)hb->phys[s]);
		}
		if (stock != a1 + main_bin) {
			fprintf(stderr, "trace t=%llu %s BOOKS APART after %s: %s stock=%lld bins=%lld\n",
			    (unsigned long long)w->now, hb->h.cfg.id, what, sim_sku_names[s],
			    (long long)stock, (long long)(a1 + main_bin));
		}
	}
}

static bool staff_receive(world *w, int i)
{
	sim_hub *hb = &w->hubs[i];
	char key[DN_ID_MAX + 1];
	for (int s = 0; s < SIM_SKUS; s++) {
		if (hb->received[s] > 0) {
			continue;
		}
		Dropnet__TermRequest q = DROPNET__TERM_REQUEST__INIT;
		q.kind = DROPNET__TERM_KIND__TERM_RECEIVE;
		q.sku = (char *)sim_sku_names[s];
		q.qty = (int64_t)(w->p.orders / (uint32_t)w->p.hubs / 3 + 5);
		q.bin = "A1";
		q.operator_ = "staff";
		snprintf(key, sizeof(key), "rcv-%d", s);
		q.request_key = key;
		Dropnet__TermReply *rep = term_call(w, i, &q);
		if (rep != NULL && rep->status == DROPNET__STATUS__OK) {
			hb->received[s] = q.qty;
			hb->phys[s] += q.qty;
		}
		codec_term_reply_free(rep);
	}
	for (int s = 0; s < SIM_SKUS; s++) {
		if (hb->received[s] == 0) {
			return true;
		}
	}
	hb->stocked = true;
	return true;
}

static int sku_index(const char *sku)
{
	for (int s = 0; s < SIM_SKUS; s++) {
		if (strcmp(sku, sim_sku_names[s]) == 0) {
			return s;
		}
	}
	return -1;
}

/* Units of sku on the shelf: in the building and not in a tote. */
static int64_t shelf(const sim_hub *hb, int s)
{
	return s < 0 ? 0 : hb->phys[s] - hb->tote[s];
}

/* The picker gives the held order up (cancelled, refused, gone with a
 * wiped disk): what it put in the tote goes back on the shelf. */
static void staff_abandon(sim_hub *hb)
{
	for (size_t l = 0; l < hb->nlines; l++) {
		int s = sku_index(hb->lines[l].sku);
		if (s >= 0) {
			hb->tote[s] -= hb->lines[l].in_tote;
		}
		hb->lines[l].in_tote = 0;
	}
	hb->cur_order = 0;
}

/* Statuses after which the picker keeps the order and tries again. */
static bool term_retry(const Dropnet__TermReply *rep)
{
	return rep == NULL || rep->status == DROPNET__STATUS__UNAVAILABLE ||
	    rep->status == DROPNET__STATUS__NO_LEASE;
}

static void term_key(sim_hub *hb, char *key, const char *what)
{
	snprintf(key, DN_ID_MAX + 1, "%s-%llu", what, (unsigned long long)++hb->req_seq);
}

static void staff_take(sim_hub *hb, const Dropnet__QueueOrder *o)
{
	hb->cur_order = o->order_id;
	snprintf(hb->cur_key, sizeof(hb->cur_key), "%s", o->order_key);
	hb->nlines = 0;
	for (size_t l = 0; l < o->n_lines && hb->nlines < DN_ORDER_LINES_MAX + 1; l++) {
		sim_line *sl = &hb->lines[hb->nlines++];
		snprintf(sl->sku, sizeof(sl->sku), "%s", o->lines[l]->sku);
		sl->qty = o->lines[l]->qty;
		sl->picked = o->lines[l]->picked;
		sl->shorted = o->lines[l]->shorted;
		sl->in_tote = 0;
	}
	hb->cur_step = 0;
}

static bool staff_claim(world *w, int i)
{
	sim_hub *hb = &w->hubs[i];
	char key[DN_ID_MAX + 1];
	term_key(hb, key, "claim");
	Dropnet__TermRequest q = DROPNET__TERM_REQUEST__INIT;
	q.kind = DROPNET__TERM_KIND__TERM_CLAIM;
	q.batch = 1;
	q.operator_ = "staff";
	q.request_key = key;
	Dropnet__TermReply *rep = term_call(w, i, &q);
	hb->idle = rep != NULL && rep->status == DROPNET__STATUS__NOT_FOUND;
	if (rep != NULL && rep->status == DROPNET__STATUS__OK && rep->n_orders > 0) {
		staff_take(hb, rep->orders[0]);
		/* RESENT after a wipe: the carrier log says whether it left. */
		uint64_t id = rep->orders[0]->order_id;
		if (rep->orders[0]->resent && id < w->shipped_cap && w->shipped_ids[id] != 0) {
			hb->cur_step = 2;
		}
	}
	codec_term_reply_free(rep);
	return true;
}

/* A resent order the carrier log shows shipped before the wipe: record it
 * (TERM_SHIP already_shipped), nothing picked, nothing leaves now; then
 * count again (a count taken before the mark had taken its units off). */
static bool staff_ship_already(world *w, int i)
{
	sim_hub *hb = &w->hubs[i];
	char key[DN_ID_MAX + 1], tracking[DN_ID_MAX + 1];
	snprintf(key, sizeof(key), "shipped-%llu", (unsigned long long)hb->cur_order);
	snprintf(tracking, sizeof(tracking), "trk-%.16s-%llu", hb->h.cfg.id,
	    (unsigned long long)hb->cur_order);
	Dropnet__TermRequest q = DROPNET__TERM_REQUEST__INIT;
	q.kind = DROPNET__TERM_KIND__TERM_SHIP;
	q.already_shipped = true;
	q.operator_ = "staff";
	q.order_id = hb->cur_order;
	q.tracking = tracking;
	q.request_key = key;
	Dropnet__TermReply *rep = term_call(w, i, &q);
	if (rep != NULL && rep->status == DROPNET__STATUS__OK) {
		hb->cur_order = 0;
		hb->recount = true;
	} else if (!term_retry(rep)) {
		staff_abandon(hb);
	}
	codec_term_reply_free(rep);
	return true;
}

/* A unit of the held order cannot be found: short it. */
static bool staff_short(world *w, int i, sim_line *sl)
{
	sim_hub *hb = &w->hubs[i];
	char key[DN_ID_MAX + 1];
	/* One key per short of this line: a retry after a lost or failed
	 * answer gets the first answer back instead of shorting twice. */
	snprintf(key, sizeof(key), "short-%llu-%.20s-%u", (unsigned long long)hb->cur_order,
	    sl->sku, sl->shorted);
	Dropnet__TermRequest q = DROPNET__TERM_REQUEST__INIT;
	q.kind = DROPNET__TERM_KIND__TERM_SHORT;
	q.operator_ = "staff";
	q.order_id = hb->cur_order;
	q.sku = sl->sku;
	q.qty = 1;
	q.request_key = key;
	Dropnet__TermReply *rep = term_call(w, i, &q);
	if (rep != NULL && rep->status == DROPNET__STATUS__OK) {
		sl->shorted++;
		if (hb->cur_key[0] == 'o') {
			unsigned long k = strtoul(hb->cur_key + 1, NULL, 10);
			if (k < w->norders) {
				w->orders[k].shorted = true;
			}
		}
	} else if (!term_retry(rep)) {
		staff_abandon(hb);
	}
	codec_term_reply_free(rep);
	return true;
}

static bool staff_pick(world *w, int i)
{
	sim_hub *hb = &w->hubs[i];
	char key[DN_ID_MAX + 1];
	char *scans[DN_SCANS_MAX];
	size_t n = 0;
	int64_t want[SIM_SKUS] = {0};
	for (size_t l = 0; l < hb->nlines; l++) {
		sim_line *sl = &hb->lines[l];
		int s = sku_index(sl->sku);
		uint32_t left = sl->qty - sl->picked - sl->shorted;
		/* A unit that is not on the shelf cannot be scanned: short it
		 * (and now and then one the picker simply cannot find). */
		if (left > 0 && shelf(hb, s) - want[s < 0 ? 0 : s] < (int64_t)left) {
			return staff_short(w, i, sl);
		}
		if (left > 0 && s >= 0 && sim_rng_chance(&w->rng, 0.02)) {
			hb->phys[s]--; /* the unit is damaged or gone: it is lost */
			return staff_short(w, i, sl);
		}
		for (uint32_t u = 0; u < left && n < DN_SCANS_MAX; u++) {
			scans[n++] = sl->sku;
		}
		if (s >= 0) {
			want[s] += left;
		}
	}
	if (n == 0) {
		hb->cur_step = 1;
		return true;
	}
	/* One key per pick of what is left: a retry after an answer lost to a
	 * crash, or a commit reported failed that landed, gets the first
	 * answer (OK) instead of CONFLICT "already picked" (dropsim seed 716
	 * with a fresh key each try). */
	uint32_t done_units = 0;
	for (size_t l = 0; l < hb->nlines; l++) {
		done_units += hb->lines[l].picked + hb->lines[l].shorted;
	}
	snprintf(key, sizeof(key), "pick-%llu-%u", (unsigned long long)hb->cur_order,
	    done_units);
	Dropnet__TermRequest q = DROPNET__TERM_REQUEST__INIT;
	q.kind = DROPNET__TERM_KIND__TERM_PICK;
	q.operator_ = "staff";
	q.order_id = hb->cur_order;
	q.scans = scans;
	q.n_scans = n;
	q.request_key = key;
	Dropnet__TermReply *rep = term_call(w, i, &q);
	if (rep != NULL && rep->status == DROPNET__STATUS__OK) {
		for (size_t l = 0; l < hb->nlines; l++) {
			sim_line *sl = &hb->lines[l];
			int s = sku_index(sl->sku);
			uint32_t add = sl->qty - sl->shorted - sl->picked;
			if (s >= 0) {
				hb->tote[s] += add;
				sl->in_tote += add;
			}
			sl->picked = sl->qty - sl->shorted;
		}
		hb->cur_step = 1;
	} else if (!term_retry(rep)) {
		staff_abandon(hb);
	}
	codec_term_reply_free(rep);
	return true;
}

static bool staff_ship(world *w, int i)
{
	sim_hub *hb = &w->hubs[i];
	char key[DN_ID_MAX + 1], tracking[DN_ID_MAX + 1];
	snprintf(key, sizeof(key), "ship-%llu", (unsigned long long)hb->cur_order);
	snprintf(tracking, sizeof(tracking), "trk-%.16s-%llu", hb->h.cfg.id,
	    (unsigned long long)hb->cur_order);
	Dropnet__TermRequest q = DROPNET__TERM_REQUEST__INIT;
	q.kind = DROPNET__TERM_KIND__TERM_SHIP;
	q.operator_ = "staff";
	q.order_id = hb->cur_order;
	q.tracking = tracking;
	q.request_key = key;
	Dropnet__TermReply *rep = term_call(w, i, &q);
	bool ok = true;
	if (rep != NULL && rep->status == DROPNET__STATUS__OK) {
		uint32_t units = 0;
		for (size_t l = 0; l < hb->nlines; l++) {
			int s = sku_index(hb->lines[l].sku);
			units += hb->lines[l].picked;
			if (s >= 0) {
				hb->tote[s] -= hb->lines[l].in_tote;
				hb->phys[s] -= hb->lines[l].picked;
			}
			hb->lines[l].in_tote = 0;
		}
		w->res->shipped++;
		ok = check_shipped(w, i, hb->cur_order, hb->cur_key, units);
		hb->cur_order = 0;
	} else if (!term_retry(rep)) {
		staff_abandon(hb); /* cancelled or every unit shorted */
	}
	codec_term_reply_free(rep);
	return ok;
}

/* A cycle count of one SKU in bin A1 that finds one unit more or less than
 * the book (a unit found behind the shelf, one gone missing). */
static bool staff_count(world *w, int i)
{
	sim_hub *hb = &w->hubs[i];
	char key[DN_ID_MAX + 1];
	Dropnet__TermRequest q = DROPNET__TERM_REQUEST__INIT;
	q.kind = DROPNET__TERM_KIND__TERM_BIN;
	q.bin = "A1";
	Dropnet__TermReply *rep = term_call(w, i, &q);
	if (rep != NULL && rep->status == DROPNET__STATUS__OK && rep->n_stock > 0) {
		const Dropnet__StockLevel *sl = rep->stock[sim_rng_below(&w->rng, rep->n_stock)];
		int s = sku_index(sl->sku);
		if (s < 0) {
			codec_term_reply_free(rep);
			return true;
		}
		if (sim_rng_chance(&w->rng, 0.5)) {
			hb->phys[s]++;          /* one found behind the shelf */
		} else if (shelf(hb, s) > 0) {
			hb->phys[s]--;          /* one gone missing */
		}
		int64_t counted = shelf(hb, s);
		Dropnet__TermRequest c = DROPNET__TERM_REQUEST__INIT;
		term_key(hb, key, "count");
		c.kind = DROPNET__TERM_KIND__TERM_COUNT;
		c.bin = "A1";
		c.sku = sl->sku;
		c.qty = counted < 0 ? 0 : counted;
		c.operator_ = "staff";
		c.request_key = key;
		Dropnet__TermReply *r2 = term_call(w, i, &c);
		if (r2 == NULL || r2->status != DROPNET__STATUS__OK) {
			/* not counted after all: the unit is where it was */
		}
		codec_term_reply_free(r2);
	}
	codec_term_reply_free(rep);
	return true;
}

/* A restock delivery: more units of one SKU arrive (they are in the
 * building at once), and the staff receive them with one request key,
 * retried until the hub answers: an answer lost to a crash, or a commit
 * reported failed that landed, must not book the units twice. */
static bool staff_restock(world *w, int i)
{
	sim_hub *hb = &w->hubs[i];
	if (hb->restock_sku < 0) {
		hb->restock_sku = (int)sim_rng_below(&w->rng, SIM_SKUS);
		hb->restock_qty = 1 + (int64_t)sim_rng_below(&w->rng, 10);
		term_key(hb, hb->restock_key, "restock");
		hb->phys[hb->restock_sku] += hb->restock_qty;
	}
	Dropnet__TermRequest q = DROPNET__TERM_REQUEST__INIT;
	q.kind = DROPNET__TERM_KIND__TERM_RECEIVE;
	q.sku = (char *)sim_sku_names[hb->restock_sku];
	q.qty = hb->restock_qty;
	q.bin = "A1";
	q.operator_ = "staff";
	q.request_key = hb->restock_key;
	Dropnet__TermReply *rep = term_call(w, i, &q);
	if (rep != NULL && rep->status == DROPNET__STATUS__OK) {
		hb->received[hb->restock_sku] += hb->restock_qty;
		hb->restock_sku = -1;
	} else if (!term_retry(rep)) {
		/* Refused for good (a bound): the units stay unbooked until a
		 * count finds them. */
		hb->restock_sku = -1;
	}
	codec_term_reply_free(rep);
	return true;
}

/* Counts every SKU: bin A1 holds all of it (receipts go there), and MAIN
 * (where a wiped hub's seeded book puts it) holds none. */
static bool staff_recount(world *w, int i)
{
	sim_hub *hb = &w->hubs[i];
	static const char *const bins[] = {"MAIN", "A1"};
	char key[DN_ID_MAX + 1];
	bool all = true;
	for (int s = 0; s < SIM_SKUS; s++) {
		for (int b = 0; b < 2; b++) {
			Dropnet__TermRequest q = DROPNET__TERM_REQUEST__INIT;
			term_key(hb, key, "recount");
			q.kind = DROPNET__TERM_KIND__TERM_COUNT;
			q.bin = (char *)bins[b];
			q.sku = (char *)sim_sku_names[s];
			q.qty = b == 0 ? 0 : shelf(hb, s);
			q.operator_ = "staff";
			q.request_key = key;
			Dropnet__TermReply *rep = term_call(w, i, &q);
			all = all && rep != NULL && rep->status == DROPNET__STATUS__OK;
			codec_term_reply_free(rep);
		}
	}
	hb->recount = !all;
	return true;
}

/* How long the staff take before their next step (SIM_PICK_MS). A seed
 * at the compressed pace (w->real_pace false) steps every 10-70 ms, or
 * 10-410 ms after a claim found nothing: the whole drop in seconds. */
static uint64_t staff_gap(world *w, const sim_hub *hb)
{
	if (!w->real_pace) {
		return 10 + sim_rng_below(&w->rng, hb->idle ? 400 : 60);
	}
	if (hb->cur_order != 0) {
		return hb->cur_step == 0
		    ? SIM_PICK_MS + sim_rng_below(&w->rng, SIM_PICK_SPREAD_MS)
		    : SIM_PACK_MS + sim_rng_below(&w->rng, SIM_PACK_SPREAD_MS);
	}
	if (hb->idle || !hb->up || !hb->stocked) {
		return SIM_GLANCE_MS + sim_rng_below(&w->rng, SIM_GLANCE_SPREAD_MS);
	}
	/* The next claim, a count or a delivery: at once, as staff do. */
	return 200 + sim_rng_below(&w->rng, 1000);
}

static bool staff_step(world *w, int i)
{
	sim_hub *hb = &w->hubs[i];
	if (!hb->up) {
		return true;
	}
	if (!hb->stocked) {
		return staff_receive(w, i);
	}
	if (hb->cur_order == 0) {
		if (hb->restock_sku >= 0) {
			return staff_restock(w, i);
		}
		if (hb->recount) {
			return staff_recount(w, i);
		}
		if (!w->healed && sim_rng_chance(&w->rng, 0.01)) {
			return staff_count(w, i);
		}
		if (!w->healed && sim_rng_chance(&w->rng, 0.01)) {
			return staff_restock(w, i);
		}
		return staff_claim(w, i);
	}
	return hb->cur_step == 2 ? staff_ship_already(w, i)
	    : hb->cur_step == 0 ? staff_pick(w, i) : staff_ship(w, i);
}

/* ---- storefronts ---- */

/* Packs order o's SubmitOrder into *buf (malloc'd). */
static void order_pack(const sim_order *o, uint8_t **buf, size_t *len)
{
	Dropnet__SubmitOrder s = DROPNET__SUBMIT_ORDER__INIT;
	Dropnet__OrderLine l[2], *lp[2];
	s.version = DN_PROTO_VERSION;
	s.storefront = "shop";
	s.order_key = (char *)o->key;
	s.customer = (char *)o->customer;
	s.lat = o->lat;
	s.lon = o->lon;
	if (o->in_drop) {
		s.drop_id = SIM_DROP_ID;
		s.tier = (char *)o->tier;
	}
	for (uint32_t i = 0; i < o->nlines; i++) {
		dropnet__order_line__init(&l[i]);
		l[i].sku = (char *)sim_sku_names[o->sku[i]];
		l[i].qty = o->qty[i];
		lp[i] = &l[i];
	}
	s.lines = lp;
	s.n_lines = o->nlines;
	int rv = codec_submit_order_pack(&s, buf, len);
	assert(rv == 0); /* only out of memory fails, and the sim asserts on that */
	(void)rv;
}

/* Sends the open orders of order group g (sim_order.group) as one request
 * of the group's shape, every one with the same attempt id; a storefront
 * gives an order up after SIM_TRIES_MAX tries. */
static void order_send(world *w, uint32_t g)
{
	const sim_order *lead = &w->orders[g];
	envelope_slice items[SIM_GROUP_MAX];
	uint8_t *bufs[SIM_GROUP_MAX];
	uint32_t mask = 0, n = 0;
	for (uint32_t j = 0; j < lead->gsize; j++) {
		sim_order *o = &w->orders[g + j];
		if (o->done) {
			continue;
		}
		if (++o->tries > SIM_TRIES_MAX) {
			o->done = true;
			w->ndone++;
			w->res->gave_up++;
			continue;
		}
		size_t len = 0;
		order_pack(o, &bufs[n], &len);
		items[n] = (envelope_slice){bufs[n], len};
		n++;
		mask |= 1u << j;
	}
	if (n == 0) {
		return;
	}
	uint64_t attempt = ++w->attempts;
	for (uint32_t j = 0; j < lead->gsize; j++) {
		if ((mask >> j & 1u) != 0) {
			w->orders[g + j].attempt = attempt;
		}
	}
	uint8_t *out = NULL;
	size_t olen = 0;
	if (lead->shape == ENVELOPE_NONE) {
		sim_msg *m = msg_new(MSG_INGEST_REQ, (int)g, attempt, w->now, bufs[0],
		    items[0].len);
		m->mask = mask;
		net_send(w, m);
	} else {
		int rv = envelope_write(lead->shape, items, n, &out, &olen);
		assert(rv == 0);
		(void)rv;
		sim_msg *m = msg_new(MSG_INGEST_REQ, (int)g, attempt, w->now, out, olen);
		m->shape = lead->shape;
		m->mask = mask;
		net_send(w, m);
	}
	free(out);
	for (uint32_t i = 0; i < n; i++) {
		free(bufs[i]);
	}
	ev_push(w, w->now + SIM_ORDER_TIMEOUT_MS, EV_ORDER_TIMEOUT, (int)g, attempt, NULL);
}

/* A storefront reads the reply m to one of its requests: each order takes
 * its first final answer; an order answered UNAVAILABLE on its current
 * attempt is sent again (with the rest of its group) a little later. */
static bool order_answer(world *w, sim_msg *m)
{
	sim_acks a;
	if (!acks_read(m->shape, mask_count(m->mask), m->buf, m->len, &a)) {
		acks_free(&a);
		return check_fail(w, "order %s: undecodable reply", w->orders[m->peer].key);
	}
	bool again = false;
	for (size_t i = 0; i < a.n; i++) {
		sim_order *o = acks_order(w, m, i);
		if (a.acks[i]->status == DROPNET__STATUS__UNAVAILABLE) {
			if (o->attempt == m->id && !o->done) {
				o->attempt = 0;
				again = true;
			}
		} else if (!o->done) {
			o->done = true;
			w->ndone++;
			o->attempt = 0;
			if (a.acks[i]->status == DROPNET__STATUS__ACCEPTED) {
				w->res->accepted++;
			} else {
				w->res->refused++;
			}
		}
	}
	acks_free(&a);
	if (again) {
		ev_push(w, w->now + 20 + sim_rng_below(&w->rng, 500), EV_ORDER_SEND,
		    m->peer, 0, NULL);
	}
	return true;
}

/* A storefront's timer for attempt of group g: the orders still waiting on
 * it are sent again. */
static void order_timeout(world *w, uint32_t g, uint64_t attempt)
{
	bool again = false;
	for (uint32_t j = 0; j < w->orders[g].gsize; j++) {
		sim_order *o = &w->orders[g + j];
		if (o->attempt == attempt && !o->done) {
			o->attempt = 0;
			again = true;
		}
	}
	if (again) {
		order_send(w, g);
	}
}

/* Order k's content: key, customer, one or two lines, where the buyer is. */
static void order_make(world *w, uint32_t k)
{
	sim_order *o = &w->orders[k];
	snprintf(o->key, sizeof(o->key), "o%u", k);
	snprintf(o->customer, sizeof(o->customer), "c%llu",
	    (unsigned long long)sim_rng_below(&w->rng, w->norders));
	o->in_drop = sim_rng_chance(&w->rng, 0.5);
	o->nlines = 1 + (uint32_t)sim_rng_chance(&w->rng, 0.3);
	for (uint32_t i = 0; i < o->nlines; i++) {
		o->sku[i] = (int)((i + sim_rng_below(&w->rng, SIM_SKUS)) % SIM_SKUS);
		o->qty[i] = 1 + (uint32_t)sim_rng_chance(&w->rng, 0.2);
	}
	if (o->nlines == 2 && o->sku[0] == o->sku[1]) {
		o->nlines = 1;
	}
	/* Near a hub city (within ~100 km, so some fall outside every
	 * radius), or anywhere in the UK box now and then. */
	int city = (int)sim_rng_below(&w->rng, w->p.hubs);
	o->lat = sim_cities[city].lat + ((double)sim_rng_below(&w->rng, 1601) - 800) / 1000.0;
	o->lon = sim_cities[city].lon + ((double)sim_rng_below(&w->rng, 2001) - 1000) / 1000.0;
}

/* The drop's orders and when each group is first sent. Shapes: 4 in 10
 * groups a bare SubmitOrder, 3 in 10 one order in an envelope, 3 in 10 a
 * SubmitBatch of 2 to SIM_GROUP_MAX orders. */
static void orders_make(world *w)
{
	uint64_t t = 0;
	for (uint32_t k = 0; k < w->norders;) {
		uint64_t pick = sim_rng_below(&w->rng, 10);
		uint32_t shape = pick < 4 ? ENVELOPE_NONE : pick < 7 ? ENVELOPE_ONE : ENVELOPE_BATCH;
		uint32_t size = shape != ENVELOPE_BATCH ? 1 :
		    2 + (uint32_t)sim_rng_below(&w->rng, SIM_GROUP_MAX - 1);
		if (size > w->norders - k) {
			size = w->norders - k;
		}
		for (uint32_t j = 0; j < size; j++) {
			order_make(w, k + j);
			w->orders[k + j].shape = shape;
			w->orders[k + j].group = k;
			/* The drop's burst: most orders in the first seconds. */
			t += sim_rng_below(&w->rng, k + j < w->norders / 2 ? 4 : 30);
			sim_order *o = &w->orders[k + j];
			o->tier = o->in_drop ? sim_drop_tier(2000 + t) : NULL;
		}
		w->orders[k].gsize = size;
		ev_push(w, 2000 + t, EV_ORDER_SEND, (int)k, 0, NULL);
		k += size;
	}
}

/* ---- faults ---- */

static void fault_network(world *w)
{
	w->loss = (double)sim_rng_below(&w->rng, 11) / 100.0;
	w->dup = (double)sim_rng_below(&w->rng, 6) / 100.0;
	w->delay_max_ms = (uint32_t)sim_rng_below(&w->rng, 200);
}

/* A loop stall of hub_timeout_ms to 3x that. The loop is one thread: a
 * stall that strikes while it is already stalled (a slow audit behind an
 * fsync stall) runs after it, so stalls add up and never cut one another
 * short. */
static void fault_stall(world *w)
{
	uint64_t len = (uint64_t)w->cfg.hub_timeout_ms +
	    sim_rng_below(&w->rng, (uint64_t)w->cfg.hub_timeout_ms * 2);
	uint64_t before = w->stall_until;
	uint64_t from = before > w->now ? before : w->now;
	w->res->stalls++;
	w->stall_until = from + len;
	assert(w->stall_until > before); /* never cuts a stall short */
	if (w->p.verbose) {
		fprintf(stderr, "sim: t=%llu loop stall until t=%llu\n",
		    (unsigned long long)w->now, (unsigned long long)w->stall_until);
	}
}

static bool fault_one(world *w)
{
	uint64_t pick = sim_rng_below(&w->rng, 100);
	int i = (int)sim_rng_below(&w->rng, w->p.hubs);
	if (pick < 30) {
		/* In the tail, up to three minutes: past the grace and the lease. */
		uint64_t len = 500 + sim_rng_below(&w->rng, w->answered ? 180000 : 5000);
		w->hubs[i].partitioned = true;
		w->res->partitions++;
		ev_push(w, w->now + len, EV_HEAL, i, 0, NULL);
	} else if (pick < 42) {
		return coord_crash(w);
	} else if (pick < 56) {
		hub_crash(w, i, false);
	} else if (pick < 60) {
		hub_crash(w, i, SIM_WIPES != 0);
	} else if (pick < 72) {
		int64_t step = (int64_t)sim_rng_below(&w->rng, 120001) - 60000;
		w->res->clock_steps++;
		if (sim_rng_chance(&w->rng, 0.5)) {
			w->coord_wall_skew_ms += step;
		} else {
			w->hubs[i].wall_skew_ms += step;
		}
	} else if (pick < 82) {
		fault_stall(w);
	} else {
		fault_network(w);
	}
	return true;
}

/* ---- set-up ---- */

static bool world_setup(world *w)
{
	char err[256];
	const char *sets[] = {"log.level=error", "coordinator.hub_timeout_ms=1500"};
	if (conf_load(coord_config_keys, coord_config_nkeys, &w->cfg, NULL, sets, 2,
	    err, sizeof(err)) != 0) {
		return check_fail(w, "coordinator config: %s", err);
	}
	w->split = ROUTE_SPLIT_NEVER;
	snprintf(w->coord_path, sizeof(w->coord_path), "/coordinator/coordinator.db");
	for (uint32_t i = 0; i < w->p.hubs; i++) {
		sim_hub *hb = &w->hubs[i];
		char s_id[96], s_lat[64], s_lon[64];
		snprintf(s_id, sizeof(s_id), "hub.id=%s", sim_cities[i].id);
		snprintf(s_lat, sizeof(s_lat), "hub.lat=%.4f", sim_cities[i].lat);
		snprintf(s_lon, sizeof(s_lon), "hub.lon=%.4f", sim_cities[i].lon);
		const char *hs[] = {s_id, s_lat, s_lon, "hub.radius_km=75", "log.level=error"};
		if (hub_conf_load(&hb->h.cfg, NULL, hs, 5, err, sizeof(err)) != 0) {
			return check_fail(w, "hub config: %s", err);
		}
		snprintf(hb->path, sizeof(hb->path), "/%s/hub.db", sim_cities[i].id);
		hb->restock_sku = -1;
		if (!hub_start(w, (int)i)) {
			return false;
		}
		ev_push(w, 10 + i, EV_STAFF, (int)i, 0, NULL);
	}
	w->delay_max_ms = 5;
	/* The pace is the seed's own (its own stream: the world's draws
	 * stay as they were). */
	sim_rng pace = {w->p.seed ^ 0x9ace5eedULL};
	w->real_pace = sim_rng_below(&pace, SIM_REAL_PACE_ONE_IN) == 0;
	w->res->real_paced = w->real_pace ? 1 : 0;
	if (w->p.faults) {
		/* Rare enough that a drop gets through, common enough that
		 * every seed sees failed commits. */
		simvfs_faults f = {0.0002, 0.0001, 0.0002, 0.0002, 0.0002};
		if (simvfs_faults_set(w->vfs, "", &f) != 0) {
			return check_fail(w, "simvfs: faults");
		}
		simvfs_faults_enable(w->vfs, true);
		fault_network(w);
		ev_push(w, 3000 + sim_rng_below(&w->rng, 2000), EV_FAULT, -1, 0, NULL);
	}
	ev_push(w, SIM_TICK_MS, EV_COORD_TICK, -1, 0, NULL);
	ev_push(w, SIM_DROP_AT_MS, EV_DROP, -1, 0, NULL);
	orders_make(w);
	return coord_start(w);
}

/* ---- the run ---- */

static bool all_answered(const world *w)
{
	assert(w->ndone <= w->norders);
	return w->ndone == w->norders;
}

static void heal(world *w)
{
	w->healed = true;
	simvfs_faults_enable(w->vfs, false);
	w->loss = w->dup = 0;
	w->delay_max_ms = 5;
	w->stall_until = 0;
	for (uint32_t i = 0; i < w->p.hubs; i++) {
		w->hubs[i].partitioned = false;
		w->hubs[i].recount = true; /* the end of the drop: a full count */
	}
}

/* Settled: every node up, every stream drained both ways, no work left.
 * When not, why says what is still moving. */
static bool settled(world *w, char *why, size_t len)
{
	if (!w->coord_up) {
		snprintf(why, len, "coordinator down");
		return false;
	}
	for (uint32_t i = 0; i < w->p.hubs; i++) {
		sim_hub *hb = &w->hubs[i];
		hub_stream sp;
		int ci = coord_hub_find(&w->c, hb->h.cfg.id);
		int64_t queued = 0;
		if (!hb->up || hb->cur_order != 0 || hb->recount || hb->restock_sku >= 0 ||
		    ci < 0 ||
		    hub_store_stream_get(hb->h.store, &sp) != 0 ||
		    hub_store_order_count(hb->h.store, PICK_ORDER_QUEUED, &queued) != 0) {
			snprintf(why, len, "hub %s: up=%d holding order %llu recount=%d known=%d",
			    hb->h.cfg.id, hb->up, (unsigned long long)hb->cur_order, hb->recount,
			    ci >= 0);
			return false;
		}
		const coord_hub *ch = &w->c.hubs[ci];
		if (sp.event_acked != sp.event_seq || ch->event_applied != sp.event_seq ||
		    ch->cmd_acked != ch->cmd_seq || sp.cmd_applied != ch->cmd_seq || queued != 0) {
			snprintf(why, len, "hub %s: events %llu acked %llu applied %llu; commands"
			    " %llu acked %llu applied %llu; queued %lld", hb->h.cfg.id,
			    (unsigned long long)sp.event_seq, (unsigned long long)sp.event_acked,
			    (unsigned long long)ch->event_applied, (unsigned long long)ch->cmd_seq,
			    (unsigned long long)ch->cmd_acked, (unsigned long long)sp.cmd_applied,
			    (long long)queued);
			return false;
		}
	}
	return true;
}

static bool step(world *w, sim_ev *e)
{
	switch (e->kind) {
	case EV_DELIVER: {
		sim_msg *m = e->msg;
		hash_u64(w, ((uint64_t)m->kind << 32) | (uint32_t)m->peer);
		if (m->kind == MSG_INGEST_REQ || m->kind == MSG_SYNC_REQ) {
			coord_deliver(w, m);
			return true;
		}
		bool ok = true;
		if (m->kind == MSG_INGEST_REP) {
			ok = order_answer(w, m);
		} else {
			hub_sync_done(w, m->peer, m->id, 0, m->buf, m->len);
		}
		msg_free(m);
		return ok;
	}
	case EV_COORD_DRAIN:
		return coord_drain(w);
	case EV_COORD_TICK:
		if (w->coord_up && w->now >= w->stall_until) {
			coord_set_clock(w);
			coord_tick(&w->c);
		}
		ev_push(w, w->now + SIM_TICK_MS, EV_COORD_TICK, -1, 0, NULL);
		return w->coord_up ? check_ledger(w) && check_memory_file(w) : true;
	case EV_COORD_UP:
		return coord_start(w);
	case EV_HUB_SYNC:
		hub_sync_send(w, e->node);
		return true;
	case EV_HUB_TIMEOUT:
		hub_sync_done(w, e->node, e->arg, DN_ETIMEDOUT, NULL, 0);
		return true;
	case EV_HUB_UP:
		return hub_start(w, e->node);
	case EV_STAFF: {
		bool ok = staff_step(w, e->node);
		trace_books(w, e->node, "staff");
		/* A picker who found nothing to claim looks again a little later
		 * (each claim is a durable keyed write at the hub). */
		ev_push(w, w->now + staff_gap(w, &w->hubs[e->node]), EV_STAFF, e->node, 0, NULL);
		return ok;
	}
	case EV_ORDER_SEND:
		order_send(w, (uint32_t)e->node);
		return true;
	case EV_ORDER_TIMEOUT:
		order_timeout(w, (uint32_t)e->node, e->arg);
		return true;
	case EV_FAULT:
		if (!w->healed) {
			bool ok = fault_one(w);
			uint64_t gap = w->answered ? SIM_TAIL_FAULT_MS +
			    sim_rng_below(&w->rng, SIM_TAIL_FAULT_MS) :
			    200 + sim_rng_below(&w->rng, 1500);
			ev_push(w, w->now + gap, EV_FAULT, -1, 0, NULL);
			return ok;
		}
		return true;
	case EV_HEAL:
		w->hubs[e->node].partitioned = false;
		return true;
	case EV_DROP: {
		/* The creator makes and opens the drop (dropctl, the ops
		 * socket), again until it is open. */
		bool ok = !w->coord_up || w->now < w->stall_until || sim_drop_step(w, SIM_EPOCH_MS);
		if (ok && !w->drop_open) {
			ev_push(w, w->now + 500, EV_DROP, -1, 0, NULL);
		}
		return ok;
	}
	}
	return true;
}

/* The tail is over: every hub up, connected and out of work (its last
 * claim found nothing). */
static bool hubs_idle(const world *w)
{
	for (uint32_t i = 0; i < w->p.hubs; i++) {
		const sim_hub *hb = &w->hubs[i];
		if (!hb->up || hb->partitioned || !hb->idle || hb->cur_order != 0 ||
		    hb->restock_sku >= 0 || hb->recount) {
			return false;
		}
	}
	return true;
}

static bool run_loop(world *w)
{
	uint64_t settle_deadline = 0, next_settle_check = 0, shipped = 0;
	while (w->nheap > 0) {
		sim_ev e = ev_pop(w);
		assert(e.t >= w->now);
		w->now = e.t;
		if (!step(w, &e)) {
			return false;
		}
		if (!w->answered && all_answered(w)) {
			w->answered = true;
			w->answered_ms = w->now;
		}
		/* A compressed seed heals at once (its hubs are done within
		 * seconds); a real-paced one when its hubs are out of work. */
		if (!w->healed && w->answered && (!w->real_pace || hubs_idle(w) ||
		    w->now >= w->answered_ms + SIM_TAIL_MAX_MS)) {
			heal(w);
		}
		/* Settling may take the staff hours: the deadline is for
		 * progress (an order shipped), not for the whole. */
		if (w->healed && (settle_deadline == 0 || w->res->shipped != shipped)) {
			shipped = w->res->shipped;
			settle_deadline = w->now + SIM_SETTLE_MS;
		}
		if (w->healed && w->now >= next_settle_check) {
			next_settle_check = w->now + 500;
			char why[256];
			if (settled(w, why, sizeof(why))) {
				return check_audit(w, true) && check_final(w) && sim_drop_final(w);
			}
			if (w->now > settle_deadline) {
				return check_fail(w, "no convergence: nothing shipped for %llu ms after the drop: %s",
				    (unsigned long long)SIM_SETTLE_MS, why);
			}
		}
	}
	return check_fail(w, "event queue ran dry");
}

/* Writes one simulated file to dir for sqlite3 to open. */
static void dump_file(world *w, const char *path, const char *name, const char *sfx)
{
	const uint8_t *data = NULL;
	size_t len = 0;
	char src[600], dst[1200];
	snprintf(src, sizeof(src), "%s%s", path, sfx);
	snprintf(dst, sizeof(dst), "%s/%s.db%s", w->p.dir, name, sfx);
	if (simvfs_file_get(w->vfs, src, &data, &len) != 0) {
		return;
	}
	FILE *f = fopen(dst, "wb");
	if (f != NULL) {
		fwrite(data, 1, len, f);
		fclose(f);
	}
}

/* A failed seed leaves its stores (as the processes see them) in dir. */
static void dump_stores(world *w)
{
	if (w->p.dir == NULL || w->vfs == NULL) {
		return;
	}
	dump_file(w, w->coord_path, "coordinator", "");
	dump_file(w, w->coord_path, "coordinator", "-wal");
	for (uint32_t i = 0; i < w->p.hubs; i++) {
		dump_file(w, w->hubs[i].path, w->hubs[i].h.cfg.id, "");
		dump_file(w, w->hubs[i].path, w->hubs[i].h.cfg.id, "-wal");
	}
}

static void world_free(world *w)
{
	while (w->nheap > 0) {
		sim_ev e = ev_pop(w);
		msg_free(e.msg);
	}
	inbox_clear(w);
	if (w->coord_up) {
		coord_close(&w->c);
	}
	for (uint32_t i = 0; i < w->p.hubs; i++) {
		if (w->hubs[i].up) {
			hub_store_close(w->hubs[i].h.store);
		}
	}
	if (w->vfs != NULL) {
		simvfs_stats st;
		simvfs_stats_get(w->vfs, &st);
		w->res->io_errors = st.writes_failed + st.writes_full + st.writes_landed +
		    st.syncs_failed + st.syncs_landed;
		simvfs_destroy(w->vfs);
	}
	free(w->heap);
	free(w->orders);
	free(w->shipped_ids);
}

int sim_run(const sim_params *p, sim_result *out)
{
	memset(out, 0, sizeof(*out));
	out->hash = 0xcbf29ce484222325ULL;
	if (p->hubs == 0 || p->hubs > SIM_HUBS_MAX || p->orders == 0 ||
	    p->orders > SIM_ORDERS_MAX) {
		return -1;
	}
	world *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		return -1;
	}
	w->p = *p;
	w->res = out;
	w->trace = getenv("DROPSIM_TRACE");
	w->rng.s = p->seed;
	w->norders = p->orders;
	/* Only heap[0, nheap) is ever read: no need to clear 16 MB a seed
	 * (calloc did, as the heap is never trimmed: dropsim's mallopt). */
	w->heap = malloc(SIM_EVENTS_MAX * sizeof(*w->heap));
	w->orders = calloc(p->orders, sizeof(*w->orders));
	if (w->heap == NULL || w->orders == NULL ||
	    simvfs_create(SIM_VFS, p->seed ^ 0x5eedf00dULL, &w->vfs) != 0) {
		world_free(w);
		free(w);
		return -1;
	}
	if (world_setup(w)) {
		(void)run_loop(w);
	}
	if (out->failed) {
		dump_stores(w);
	}
	out->sim_ms = w->now;
	out->orders = w->norders;
	out->drop_accepted = (uint32_t)w->drop_accepted;

	world_free(w);
	free(w);
	return 0;
}

Dropnet__OpsReply *world_ops(world *w, Dropnet__OpsRequest *q)
{
	q->version = DN_PROTO_VERSION;
	uint8_t *buf = NULL;
	size_t len = 0;
	if (codec_ops_request_pack(q, &buf, &len) != 0) {
		return NULL;
	}
	mreq r;
	mreq *rp = &r;
	mreq_init(&r, buf, len);
	coord_set_clock(w);
	coord_ops_batch(&w->c, &rp, 1);
	Dropnet__OpsReply *rep = NULL;
	if (codec_ops_reply_unpack(r.reply, r.reply_len, &rep) != 0) {
		codec_ops_reply_free(rep);
		rep = NULL;
	}
	mreq_fini(&r);
	free(buf);
	return rep;
}
