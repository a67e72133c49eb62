/*
 * world.h - the simulated world's state, shared by sim.c (the engine and the
 * actors) and check.c (the invariants). Test code; one thread.
 */
#ifndef DN_SIM_WORLD_H
#define DN_SIM_WORLD_H
#include "sim.h"
#include "simvfs.h"

typedef enum {
	MSG_INGEST_REQ, MSG_INGEST_REP, MSG_SYNC_REQ, MSG_SYNC_REP,
} msg_kind;

typedef struct {
	msg_kind kind;
	int peer;               /* hub index, or for ingest the order group's
				 * first order (sim_order.group) */
	uint32_t shape;         /* ingest: ENVELOPE_NONE (a bare SubmitOrder),
				 * _ONE or _BATCH (io/envelope.h) */
	uint32_t mask;          /* ingest: bit j = order peer + j is in it */
	uint64_t id;            /* attempt id: replies match their request */
	uint64_t sent_ms;       /* when the sender sent it (sim time) */
	uint8_t *buf;
	size_t len;
} sim_msg;

typedef enum {
	EV_DELIVER, EV_COORD_DRAIN, EV_COORD_TICK, EV_COORD_UP, EV_HUB_SYNC,
	EV_HUB_TIMEOUT, EV_HUB_UP, EV_STAFF, EV_ORDER_SEND, EV_ORDER_TIMEOUT,
	EV_FAULT, EV_HEAL, EV_DROP,
} ev_kind;

/* A ledger row's allocation before a batch (check_ledger_mark). */
#define SIM_MARKS_MAX 4096
typedef struct {
	int hub;
	size_t slot;
	int64_t allocated;
} sim_mark;

typedef struct {
	uint64_t t, seq;
	ev_kind kind;
	int node;
	uint64_t arg;
	sim_msg *msg;
} sim_ev;

/* Orders a storefront sends in one SubmitBatch (an order group). */
#define SIM_GROUP_MAX 8

typedef struct {
	char key[24], customer[24];
	/* How the storefront sends it (io/envelope.h): ENVELOPE_NONE, a bare
	 * SubmitOrder as storefronts written before the envelope do;
	 * ENVELOPE_ONE, one order in an IngestRequest; ENVELOPE_BATCH, with
	 * the other orders of its group in one SubmitBatch, retried together
	 * (orders group .. group + gsize - 1; gsize 1 for the other shapes). */
	uint32_t shape;
	uint32_t group;
	uint32_t gsize;         /* on the group's first order */
	uint32_t nlines;
	int sku[2];
	uint32_t qty[2];
	double lat, lon;
	uint64_t attempt;       /* current attempt id; 0: none in flight */
	uint32_t tries;
	int status;             /* first final answer; 0: none yet */
	uint64_t order_id;
	bool done;              /* answered finally or gave up */
	uint32_t units_shipped; /* by every hub, all placements */
	bool shorted;           /* a picker could not find a unit of it */
	bool in_drop;           /* an order of the seed's drop (simdrop.c) */
	const char *tier;       /* its tier, as the storefront's clock says */
} sim_order;

/* The line of the order a picker holds. */
typedef struct {
	char sku[DN_ID_MAX + 1];
	uint32_t qty, picked, shorted;
	uint32_t in_tote;       /* units this picker put in the tote for it */
} sim_line;

typedef struct {
	hub h;
	bool up;
	char path[512];
	int64_t wall_skew_ms;
	uint64_t mono_base;     /* this process's monotonic clock at sim time 0 */
	uint64_t sync_attempt;  /* in flight; 0: none */
	uint64_t next_sync_ms;
	bool partitioned;
	uint64_t last_sync_arrived_ms; /* last sync that reached the coordinator */
	bool sync_arrived;
	/* staff */
	uint64_t cur_order;     /* hub order id being worked on; 0: none */
	char cur_key[DN_ID_MAX + 1];
	int cur_step;           /* 0 pick, 1 ship */
	sim_line lines[DN_ORDER_LINES_MAX + 1];
	size_t nlines;
	uint64_t req_seq;       /* terminal request keys */
	int64_t received[SIM_SKUS];
	/* The physical truth the hub's book describes: units in the building
	 * (shelf + totes), and units picked into totes not yet shipped. */
	int64_t phys[SIM_SKUS], tote[SIM_SKUS];
	bool stocked;
	bool recount;           /* count every SKU before taking more work */
	bool idle;              /* the last claim found nothing to claim */
	/* A delivery on the dock: in the building, booked once the hub says
	 * OK to its receipt (retried with the same key until then). */
	int restock_sku;        /* -1: none */
	int64_t restock_qty;
	char restock_key[DN_ID_MAX + 1];
} sim_hub;

/* The VFS every simulated store lives on (tests/sim/simvfs.h). */
#define SIM_VFS "simvfs"

typedef struct {
	sim_params p;
	sim_result *res;
	sim_rng rng;
	simvfs *vfs;
	uint64_t now;           /* sim time, ms */
	uint64_t seq;
	sim_ev *heap;
	size_t nheap;
	/* coordinator */
	coord c;
	coord_config cfg;
	route_split_policy split;
	bool coord_up;
	char coord_path[512];
	uint64_t coord_mono_base;
	int64_t coord_wall_skew_ms;
	sim_msg *inbox_ingest[SIM_INBOX_MAX], *inbox_sync[SIM_INBOX_MAX];
	size_t n_ingest, n_sync;
	bool drain_pending;
	uint64_t stall_until;
	/* network faults */
	double loss, dup;
	uint32_t delay_max_ms;
	bool real_pace;         /* staff at a hub's real pace (SIM_PICK_MS) */
	bool drop_open;         /* the seed's drop is open (simdrop.c) */
	uint64_t drop_accepted; /* its accepted orders, last seen */
	bool answered;          /* every order answered: the tail (SIM_TAIL_*) */
	uint64_t answered_ms;
	bool healed;            /* the drop is over: no more faults */
	sim_hub hubs[SIM_HUBS_MAX];
	sim_order *orders;
	uint32_t norders;
	uint32_t ndone;         /* orders answered finally or given up */
	const char *trace;      /* DROPSIM_TRACE: a hub to trace, or NULL */
	uint64_t attempts;
	uint32_t drains;        /* coordinator batches that wrote */
	uint32_t drains_audited; /* drains at the last periodic audit */
	int64_t drain_changes;  /* coord_store_changes after the last batch */
	uint64_t commit_failures_seen; /* c.commit_failures at the last check */
	sim_mark marks[SIM_MARKS_MAX];
	size_t nmarks;
	uint8_t *shipped_ids;   /* placement (hub order) ids shipped: 0/1 */
	size_t shipped_cap;
} world;

/* check.c */
/* After every coordinator batch: the in-memory ledger. */
bool check_ledger(world *w);
/* Before an ingest batch: remember each row's allocation; after it: no row
 * whose allocation grew may be below zero sellable. */
void check_ledger_mark(world *w);
bool check_no_oversell(world *w);
/* An order's answer against its first one, and NO_HUB_IN_RANGE against the
 * hubs' own traffic. */
bool check_answer(world *w, sim_order *o, int status, uint64_t order_id,
    bool duplicate);
/* Hub hi shipped its order id (a coordinator placement) of order key with
 * units: never one placement twice, never more units than ordered. */
bool check_shipped(world *w, int hi, uint64_t id, const char *key,
    uint32_t units);
/* After a transaction of the coordinator failed (c.commit_failures moved):
 * its memory (ledger rows, hub registry and stream positions, drops in
 * memory and their tiers) equals its file, row by row. */
bool check_memory_file(world *w);
/* The audit (every check of dropctl audit) through the ops socket; unless
 * strict, units lost below their allocation are tolerated (ledger.h). */
bool check_audit(world *w, bool strict);
/* After settling: streams drained, books equal, every ack in the journal,
 * every accepted order shipped exactly once, stock conserved. */
bool check_final(world *w);
/* Records the first violation; returns false. */
bool check_fail(world *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* simdrop.c: the seed's drop. sim_drop_step makes and opens it (true
 * unless refused; w->drop_open once open), sim_drop_check holds its
 * invariants, sim_drop_tier is the tier a storefront sends an order to at
 * sim time send_ms; SIM_DROP_ID is its id. */
bool sim_drop_step(world *w, int64_t epoch_ms);
bool sim_drop_check(world *w);
/* At the end: each tier sold exactly the units of the drop's orders the
 * storefronts were told ACCEPTED in it. */
bool sim_drop_final(world *w);
const char *sim_drop_tier(uint64_t send_ms);
#define SIM_DROP_ID "sim-drop"

/* sim.c: runs one ops request against the coordinator machine; returns the
 * unpacked reply (caller frees) or NULL. */
Dropnet__OpsReply *world_ops(world *w, Dropnet__OpsRequest *q);

extern const char *const sim_sku_names[SIM_SKUS];

#endif
