/*
 * stock.c - the in-memory ledger (open-addressing hash on (hub, sku)), the
 * hub registry's id table (coord_hub_find) and the undo log of the
 * transaction that is running (txn.c), the bottom of the machine's files:
 * it calls nothing of the machine's.
 *
 * The undo log makes a failed transaction cheap and exact: memory goes
 * back to what it was at the transaction's begin (or at a savepoint), so it
 * equals the file again, without reading the file. It records:
 *   - every stock row the transaction looks up, as it was before (once per
 *     savepoint level: coord_stock_get is the only way to a row), or that
 *     it created the row;
 *   - the hubs' stream positions and registry size at begin and at the
 *     savepoint (coord_undo_mark), and a hub's identity before a hello
 *     changes it (coord_undo_hub);
 *   - the drops in memory at begin (a hub sync changes no drop: only whole
 *     transactions roll them back), and specs freed during the transaction
 *     (freed only at commit, coord_undo_spec_free).
 * What is not the file's (last seen, leases, hub stock reports, counters,
 * the clock, which never goes back) stays as it is. The log grows in the
 * machine's own arena (doubling, kept across transactions); if it cannot,
 * the transaction is failed (coord_stock_get returns NULL) before the row
 * is touched.
 *
 * The machine's thread only.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "io/codec.h"
#include "coord.h"

/* Initial slots in the stock table; it doubles past 70% full. */
#define STOCK_CAP_INITIAL 1024u
/* Initial undo rows (the arena doubles when a transaction needs more). */
#define UNDO_ROWS_INITIAL 256u
/* Specs a transaction may free (a drop create evicts at most one). */
#define UNDO_SPECS_MAX 8u

typedef struct {
	coord_stock old;              /* the row before; created: key only */
	bool created;
} undo_row;

/* What of a hub is the file's, saved at begin and at the savepoint. */
typedef struct {
	uint64_t cmd_seq, cmd_acked, event_applied, incarnation, cmd_offered;
	uint32_t nskus;
	bool seed_pending;
} undo_pos;

struct coord_undo {
	bool open;
	bool failed;                  /* a row could not be noted */
	uint32_t gen;                 /* rows noted at this level carry it */
	undo_row *rows;
	size_t nrows, caprows;
	coord_hub *ident;             /* hubs before a hello changed them */
	int ident_of[DN_SERVER_CTX_MAX]; /* as ident: DN_SERVER_CTX_MAX */
	size_t nident;
	undo_pos *pos[2];             /* [0]: begin, [1]: the savepoint;
	                               * hubs_max each */
	size_t nhubs[2];
	coord_drop drops[COORD_DROPS_MAX];
	size_t ndrops;
	Dropnet__Drop *dead[UNDO_SPECS_MAX];
	size_t ndead;
};

/* Notes row s as it is now, before the transaction changes it (once per
 * level). A row that cannot be noted fails the transaction. */
static bool undo_row_note(coord *c, coord_stock *s, bool created)
{
	struct coord_undo *u = c->undo;
	if (u == NULL || !u->open || s->undo_gen == u->gen) {
		return true;
	}
	/* The feed looks at this SKU after the batch (feed.c). */
	coord_feed_touch(c, s->sku);
	if (u->nrows == u->caprows) {
		size_t ncap = u->caprows ? u->caprows * 2 : UNDO_ROWS_INITIAL;
		undo_row *n = realloc(u->rows, ncap * sizeof(*n));
		if (n == NULL) {
			u->failed = true;
			return false;
		}
		u->rows = n;
		u->caprows = ncap;
	}
	s->undo_gen = u->gen;
	u->rows[u->nrows++] = (undo_row){*s, created};
	return true;
}

static uint64_t stock_hash(int hub, const char *sku)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)(hub + 1);
	for (const unsigned char *p = (const unsigned char *)sku; *p; p++) {
		h = (h ^ *p) * 1099511628211ull;
	}
	return h;
}

/* The slot of id in tab (hubid_cap slots naming hubs of arr): the one that
 * holds it, or the empty one where it would go. */
static size_t hubid_slot(const uint32_t *tab, size_t cap, const coord_hub *arr,
    const char *id)
{
	uint64_t h = 1469598103934665603ull;
	for (const unsigned char *p = (const unsigned char *)id; *p != 0; p++) {
		h = (h ^ *p) * 1099511628211ull;
	}
	size_t j = (size_t)h & (cap - 1);
	while (tab[j] != 0 && strcmp(arr[tab[j] - 1].id, id) != 0) {
		j = (j + 1) & (cap - 1);
	}
	return j;
}

int coord_hubid_find_in(const coord *c, const coord_hub *hubs, const char *id)
{
	if (c->hubid == NULL) {
		return -1;   /* not open: no hubs */
	}
	uint32_t v = c->hubid[hubid_slot(c->hubid, c->hubid_cap, hubs, id)];
	return v != 0 ? (int)v - 1 : -1;
}

int coord_hub_find(const coord *c, const char *id)
{
	return coord_hubid_find_in(c, c->hubs, id);
}

void coord_hubid_add(coord *c, size_t i)
{
	assert(i < c->nhubs && c->nhubs <= c->hubs_max);
	c->hubid[hubid_slot(c->hubid, c->hubid_cap, c->hubs, c->hubs[i].id)] =
	    (uint32_t)i + 1;
}

void coord_hubid_rebuild(coord *c)
{
	memset(c->hubid, 0, c->hubid_cap * sizeof(*c->hubid));
	for (size_t i = 0; i < c->nhubs; i++) {
		coord_hubid_add(c, i);
	}
}

static int stock_grow(coord *c)
{
	size_t ncap = c->stock_cap ? c->stock_cap * 2 : STOCK_CAP_INITIAL;
	coord_stock *n = malloc(ncap * sizeof(*n));
	if (n == NULL) {
		return DN_ENOMEM;
	}
	for (size_t i = 0; i < ncap; i++) {
		n[i].hub = -1;
	}
	for (size_t i = 0; i < c->stock_cap; i++) {
		coord_stock *o = &c->stock[i];
		if (o->hub < 0) {
			continue;
		}
		size_t j = stock_hash(o->hub, o->sku) & (ncap - 1);
		while (n[j].hub >= 0) {
			j = (j + 1) & (ncap - 1);
		}
		n[j] = *o;
	}
	free(c->stock);
	c->stock = n;
	c->stock_cap = ncap;
	return 0;
}

/* The slot of (hub, sku), or of the empty slot where it would go. The table
 * always has an empty slot (it is at most 70% full), so the probe ends. */
static size_t stock_slot(const coord *c, int hub, const char *sku)
{
	size_t j = stock_hash(hub, sku) & (c->stock_cap - 1);
	while (c->stock[j].hub >= 0) {
		if (c->stock[j].hub == hub && strcmp(c->stock[j].sku, sku) == 0) {
			return j;
		}
		j = (j + 1) & (c->stock_cap - 1);
	}
	return j;
}

/* Empties slot j and shifts back the rows after it in its probe run, so
 * every row stays reachable from its home slot. */
static void stock_remove_slot(coord *c, size_t j)
{
	size_t mask = c->stock_cap - 1;
	c->stock[j].hub = -1;
	for (size_t k = (j + 1) & mask; c->stock[k].hub >= 0; k = (k + 1) & mask) {
		size_t home = stock_hash(c->stock[k].hub, c->stock[k].sku) & mask;
		bool stays = j < k ? (home > j && home <= k) : (home > j || home <= k);
		if (!stays) {
			c->stock[j] = c->stock[k];
			c->stock[k].hub = -1;
			j = k;
		}
	}
	c->stock_len--;
}

coord_stock *coord_stock_get(coord *c, int hub, const char *sku, bool create)
{
	assert(hub >= 0 && (size_t)hub < c->nhubs);
	if (c->stock_cap == 0) {
		if (!create) {
			return NULL;
		}
		if (stock_grow(c) != 0) {
			return NULL;
		}
	}
	size_t j = stock_slot(c, hub, sku);
	if (c->stock[j].hub >= 0) {
		/* Found: the table never moves on a lookup, so a row pointer
		 * stays valid until the next insert of a new row. */
		return undo_row_note(c, &c->stock[j], false) ? &c->stock[j] : NULL;
	}
	if (!create) {
		return NULL;
	}
	/* Grow only on an insert: growing frees the old array, and with it
	 * every row pointer a caller still holds. */
	if ((c->stock_len + 1) * 10 > c->stock_cap * 7) {
		if (stock_grow(c) != 0) {
			return NULL;
		}
		j = stock_slot(c, hub, sku);
	}
	coord_stock *s = &c->stock[j];
	memset(s, 0, sizeof(*s));
	s->hub = hub;
	snprintf(s->sku, sizeof(s->sku), "%s", sku);
	c->stock_len++;
	c->hubs[hub].nskus++;
	if (!undo_row_note(c, s, true)) {
		stock_remove_slot(c, j);
		c->hubs[hub].nskus--;
		return NULL;
	}
	return s;
}

uint32_t coord_stock_held(const coord *c, int hub)
{
	uint32_t n = 0;
	for (size_t i = 0; i < c->stock_cap; i++) {
		const coord_stock *s = &c->stock[i];
		if (s->hub == hub && (s->row.on_hand > 0 || s->row.allocated > 0 ||
		    s->row.holdback > 0)) {
			n++;
		}
	}
	return n;
}

void coord_stock_clear(coord *c)
{
	for (size_t i = 0; i < c->stock_cap; i++) {
		c->stock[i].hub = -1;
	}
	c->stock_len = 0;
	for (size_t i = 0; i < c->nhubs; i++) {
		c->hubs[i].nskus = 0;
	}
}


/* ---- scratch ---- */

void *coord_scratch(coord *c, int which, size_t size)
{
	assert(which >= 0 && which < COORD_SCRATCH_N);
	if (c->scratch[which] == NULL) {
		c->scratch[which] = calloc(1, size);
		c->scratch_size[which] = c->scratch[which] != NULL ? size : 0;
	}
	assert(c->scratch[which] == NULL || c->scratch_size[which] == size);
	return c->scratch[which];
}

void coord_scratch_free(coord *c)
{
	for (int i = 0; i < COORD_SCRATCH_N; i++) {
		free(c->scratch[i]);
		c->scratch[i] = NULL;
		c->scratch_size[i] = 0;
	}
}

/* ---- the undo log ---- */

int coord_undo_init(coord *c)
{
	assert(c->undo == NULL);
	c->undo = calloc(1, sizeof(*c->undo));
	if (c->undo == NULL) {
		return DN_ENOMEM;
	}
	c->undo->ident = calloc(DN_SERVER_CTX_MAX, sizeof(coord_hub));
	c->undo->pos[0] = calloc(c->hubs_max, sizeof(undo_pos));
	c->undo->pos[1] = calloc(c->hubs_max, sizeof(undo_pos));
	if (c->undo->ident == NULL || c->undo->pos[0] == NULL || c->undo->pos[1] == NULL) {
		coord_undo_fini(c);
		return DN_ENOMEM;
	}
	return 0;
}

void coord_undo_fini(coord *c)
{
	if (c->undo == NULL) {
		return;
	}
	free(c->undo->rows);
	free(c->undo->ident);
	free(c->undo->pos[0]);
	free(c->undo->pos[1]);
	free(c->undo);
	c->undo = NULL;
}

static void undo_pos_save(coord *c, int level)
{
	struct coord_undo *u = c->undo;
	for (size_t i = 0; i < c->nhubs; i++) {
		const coord_hub *h = &c->hubs[i];
		u->pos[level][i] = (undo_pos){h->cmd_seq, h->cmd_acked, h->event_applied,
		    h->incarnation, h->cmd_offered, h->nskus, h->seed_pending};
	}
	u->nhubs[level] = c->nhubs;
}

void coord_undo_begin(coord *c)
{
	struct coord_undo *u = c->undo;
	assert(u != NULL && !u->open);
	u->open = true;
	u->failed = false;
	u->gen++;
	u->nrows = u->nident = u->ndead = 0;
	undo_pos_save(c, 0);
	memcpy(u->drops, c->drops, c->ndrops * sizeof(c->drops[0]));
	u->ndrops = c->ndrops;
}

void coord_undo_mark_set(coord *c, coord_undo_mark *m)
{
	struct coord_undo *u = c->undo;
	assert(u->open);
	u->gen++;
	undo_pos_save(c, 1);
	m->nrows = u->nrows;
	m->nident = u->nident;
}

void coord_undo_hub(coord *c, int i)
{
	struct coord_undo *u = c->undo;
	if (u == NULL || !u->open) {
		return;
	}
	if (u->nident == DN_SERVER_CTX_MAX) {
		u->failed = true;
		return;
	}
	u->ident[u->nident] = c->hubs[i];
	u->ident_of[u->nident++] = i;
}

bool coord_undo_failed(const coord *c)
{
	return c->undo != NULL && c->undo->failed;
}

void coord_undo_spec_free(coord *c, Dropnet__Drop *spec)
{
	struct coord_undo *u = c->undo;
	if (u == NULL || !u->open) {
		codec_drop_free(spec);
		return;
	}
	assert(u->ndead < UNDO_SPECS_MAX);
	u->dead[u->ndead++] = spec;
}

/* Puts back the rows noted since mark, latest first (the earliest note of
 * a row at this level is its value at the level's start). */
static void undo_rows_restore(coord *c, size_t mark)
{
	struct coord_undo *u = c->undo;
	for (size_t k = u->nrows; k-- > mark;) {
		const undo_row *r = &u->rows[k];
		size_t j = stock_slot(c, r->old.hub, r->old.sku);
		assert(c->stock[j].hub >= 0);
		if (r->created) {
			stock_remove_slot(c, j);
		} else {
			c->stock[j] = r->old;
		}
	}
	u->nrows = mark;
}

/* Puts back the hubs as they were at level: identities changed since
 * nident, the hubs registered since (dropped), every hub's positions. */
static void undo_hubs_restore(coord *c, int level, size_t nident)
{
	struct coord_undo *u = c->undo;
	for (size_t k = u->nident; k-- > nident;) {
		const coord_hub *o = &u->ident[k];
		coord_hub *h = &c->hubs[u->ident_of[k]];
		memcpy(h->name, o->name, sizeof(h->name));
		memcpy(h->term_url, o->term_url, sizeof(h->term_url));
		h->lat = o->lat;
		h->lon = o->lon;
		h->radius_km = o->radius_km;
	}
	u->nident = nident;
	bool dropped = u->nhubs[level] < c->nhubs;
	for (size_t i = u->nhubs[level]; i < c->nhubs; i++) {
		free(c->hubs[i].report);
		memset(&c->hubs[i], 0, sizeof(c->hubs[i]));
	}
	c->nhubs = u->nhubs[level];
	if (dropped) {
		coord_hubid_rebuild(c);
	}
	for (size_t i = 0; i < c->nhubs; i++) {
		const undo_pos *p = &u->pos[level][i];
		coord_hub *h = &c->hubs[i];
		h->cmd_seq = p->cmd_seq;
		h->cmd_acked = p->cmd_acked;
		h->event_applied = p->event_applied;
		h->incarnation = p->incarnation;
		h->cmd_offered = p->cmd_offered;
		h->nskus = p->nskus;
		h->seed_pending = p->seed_pending;
	}
}

void coord_undo_to_mark(coord *c, const coord_undo_mark *m)
{
	struct coord_undo *u = c->undo;
	assert(u->open);
	undo_rows_restore(c, m->nrows);
	undo_hubs_restore(c, 1, m->nident);
	u->gen++;
}

/* The drops as at begin: specs created since are freed, specs freed since
 * come back; the spare slot (a cache of the file) is emptied. */
static void undo_drops_restore(coord *c)
{
	struct coord_undo *u = c->undo;
	for (size_t i = 0; i < c->ndrops; i++) {
		bool kept = false;
		for (size_t k = 0; k < u->ndrops && !kept; k++) {
			kept = u->drops[k].spec == c->drops[i].spec;
		}
		if (!kept) {
			codec_drop_free(c->drops[i].spec);
		}
	}
	memcpy(c->drops, u->drops, u->ndrops * sizeof(c->drops[0]));
	c->ndrops = u->ndrops;
	u->ndead = 0;
	codec_drop_free(c->drop_cold.spec);
	memset(&c->drop_cold, 0, sizeof(c->drop_cold));
}

void coord_undo_rollback(coord *c)
{
	struct coord_undo *u = c->undo;
	assert(u->open);
	undo_rows_restore(c, 0);
	undo_hubs_restore(c, 0, 0);
	undo_drops_restore(c);
	u->gen++;
	u->open = false;
}

void coord_undo_commit(coord *c)
{
	struct coord_undo *u = c->undo;
	assert(u->open);
	for (size_t k = 0; k < u->ndead; k++) {
		codec_drop_free(u->dead[k]);
	}
	u->ndead = 0;
	u->open = false;
}
