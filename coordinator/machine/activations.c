/*
 * activations.c - what the operator paid to sell a drop (docs/prices.md
 * "Activations"): a livestream, a pop-up, a van trip, each with its cost
 * in the drop's currency (minor units) and a window [from_ms, to_ms).
 * `dropctl activation add|list` and the rows in `dropctl kpi`: each
 * activation's cost, the revenue of the drop's accepted orders received in
 * its window, and revenue per unit of cost (ROI).
 *
 * Invariants: at most COORD_ACTIVATIONS_MAX per drop, names unique within
 * a drop, 0 <= cost <= COORD_ACTIVATION_COST_MAX, from < to. Recorded
 * through coord_txn_run; nothing is kept in memory (every read is the
 * file's). Loop thread only.
 */
#include <stdio.h>
#include <string.h>
#include "core/err.h"
#include "core/limits.h"
#include "core/validate.h"
#include "io/log.h"
#include "coord.h"
#include "store.h"

/* The kinds an activation may be (Activation.kind). */
static const char *const act_kinds[] = {"livestream", "popup", "van", "other"};

typedef struct act_rows {
	Dropnet__Activation rows[COORD_ACTIVATIONS_MAX];
	Dropnet__Activation *ptrs[COORD_ACTIVATIONS_MAX];
	char names[COORD_ACTIVATIONS_MAX][DN_ID_MAX + 1];
	char kinds[COORD_ACTIVATIONS_MAX][16];
	size_t n;
	int64_t cost;
	const char *dup; /* a name to look for (add): set found when seen */
	bool found;
} act_rows;

bool coord_activation_roi(int64_t revenue_minor, int64_t cost_minor, double *roi)
{
	*roi = 0.0;
	if (cost_minor <= 0) {
		return false;
	}
	*roi = (double)revenue_minor / (double)cost_minor;
	return true;
}

static void act_answer(mreq *r, Dropnet__Status st, const char *msg)
{
	Dropnet__OpsReply rep = DROPNET__OPS_REPLY__INIT;
	rep.status = st;
	rep.message = (char *)msg;
	coord_ops_send(r, &rep);
}

static int act_row(void *arg, const coord_store_activation *s)
{
	act_rows *w = arg;
	if (w->dup != NULL && strcmp(w->dup, s->name) == 0) {
		w->found = true;
	}
	if (w->n == COORD_ACTIVATIONS_MAX) {
		return COORD_STORE_STOP;
	}
	Dropnet__Activation *a = &w->rows[w->n];
	dropnet__activation__init(a);
	snprintf(w->names[w->n], sizeof(w->names[w->n]), "%s", s->name);
	snprintf(w->kinds[w->n], sizeof(w->kinds[w->n]), "%s", s->kind);
	a->name = w->names[w->n];
	a->kind = w->kinds[w->n];
	a->cost_minor = s->cost_minor;
	a->from_ms = s->from_ms;
	a->to_ms = s->to_ms;
	a->created_ms = s->created_ms;
	a->orders = (uint32_t)s->orders;
	a->revenue_minor = s->revenue_minor;
	a->transfers = (uint32_t)s->transfers;
	a->has_roi = coord_activation_roi(s->revenue_minor, s->cost_minor, &a->roi);
	w->cost += s->cost_minor;
	w->ptrs[w->n++] = a;
	return 0;
}

/* Reads drop d's activations into the scratch rows (drop_id pointing at
 * d's); dup: a name to look for, or NULL. NULL out of memory or storage. */
/* The drop's activations from store s into w (NULL: DN_ENOMEM). */
static act_rows *act_read_into(struct store *s, const char *drop_id, act_rows *w,
    const char *dup, int *rv)
{
	if (w == NULL) {
		*rv = DN_ENOMEM;
		return NULL;
	}
	w->n = 0;
	w->cost = 0;
	w->dup = dup;
	w->found = false;
	*rv = coord_store_activation_list(s, drop_id, act_row, w);
	for (size_t i = 0; i < w->n; i++) {
		w->rows[i].drop_id = (char *)drop_id;
	}
	return *rv == 0 ? w : NULL;
}

static act_rows *act_read(coord *c, const coord_drop *d, const char *dup, int *rv)
{
	act_rows *w = coord_scratch(c, COORD_SCRATCH_ACTIVATIONS, sizeof(*w));
	return act_read_into(c->store, d->id, w, dup, rv);
}

size_t coord_kpi_activations_size(void)
{
	return sizeof(act_rows);
}

int coord_kpi_activations(const coord_kpi_src *src, Dropnet__DropKpi *k)
{
	int rv = 0;
	act_rows *w = act_read_into(src->s, src->drop_id, src->acts, NULL, &rv);
	if (w == NULL) {
		return rv;
	}
	k->n_activations = w->n;
	k->activations = w->ptrs;
	k->activation_cost_minor = w->cost;
	return 0;
}

/* NULL when a's fields are in bounds, else why (a static string). */
static const char *act_check(const Dropnet__Activation *a)
{
	bool kind_ok = false;
	for (size_t i = 0; i < sizeof(act_kinds) / sizeof(act_kinds[0]); i++) {
		kind_ok = kind_ok || strcmp(a->kind, act_kinds[i]) == 0;
	}
	if (!kind_ok) {
		return "kind must be livestream, popup, van or other";
	}
	if (!validate_id(a->name)) {
		return "name must be 1..64 printable characters without spaces, commas or quotes";
	}
	if (a->cost_minor < 0 || a->cost_minor > COORD_ACTIVATION_COST_MAX) {
		return "cost must be in 0..1000000000000 minor units";
	}
	if (a->from_ms < 0 || a->to_ms > DN_TEST_CLOCK_MS_MAX || a->from_ms >= a->to_ms) {
		return "the window needs from < to, both in 0..253402300799999 (year 9999)";
	}
	return NULL;
}

static int act_insert_apply(coord *c, void *arg)
{
	return coord_store_activation_insert(c->store, arg);
}

static void act_refuse(mreq *r, Dropnet__Status st, const char *drop, const char *why)
{
	/* The drop id is the peer's: logged only when it is a valid id. */
	log_warn("activation.refused", "drop=%s why=\"%s\"", validate_id(drop) ? drop : "?",
	    why);
	act_answer(r, st, why);
}

static void act_add(coord *c, const Dropnet__OpsRequest *q, mreq *r)
{
	const Dropnet__Activation *a = q->activation;
	if (a == NULL) {
		act_refuse(r, DROPNET__STATUS__INVALID, "", "an activation is required");
		return;
	}
	coord_drop *d = coord_drop_find(c, a->drop_id);
	const char *why = act_check(a);
	if (d == NULL) {
		act_refuse(r, DROPNET__STATUS__NOT_FOUND, a->drop_id, "no such drop");
		return;
	}
	if (why == NULL && !coord_drop_priced(d)) {
		why = "the drop has no prices (no currency for the cost)";
	}
	if (why != NULL) {
		act_refuse(r, DROPNET__STATUS__INVALID, d->id, why);
		return;
	}
	int rv = 0;
	act_rows *w = act_read(c, d, a->name, &rv);
	if (w == NULL) {
		act_answer(r, DROPNET__STATUS__UNAVAILABLE, "storage failed");
		return;
	}
	if (w->found) {
		act_refuse(r, DROPNET__STATUS__CONFLICT, d->id,
		    "the drop already has an activation of that name");
		return;
	}
	if (w->n >= COORD_ACTIVATIONS_MAX) {
		act_refuse(r, DROPNET__STATUS__INVALID, d->id,
		    "the drop has 256 activations, the most it may record");
		return;
	}
	coord_store_activation row = {d->id, a->name, a->kind, a->cost_minor, a->from_ms,
	    a->to_ms, coord_now_wall_ms(c), 0, 0, 0};
	if (coord_txn_run(c, "activation_add", act_insert_apply, &row) != 0) {
		act_answer(r, DROPNET__STATUS__UNAVAILABLE, "storage failed");
		return;
	}
	log_info("activation.added", "drop=%s name=%s kind=%s cost_minor=%lld from_ms=%lld"
	    " to_ms=%lld", d->id, a->name, a->kind, (long long)a->cost_minor,
	    (long long)a->from_ms, (long long)a->to_ms);
	act_answer(r, DROPNET__STATUS__OK, "activation recorded");
}

static void act_list(coord *c, const Dropnet__OpsRequest *q, mreq *r)
{
	coord_drop *d = coord_drop_find(c, q->drop_id);
	if (d == NULL) {
		act_answer(r, DROPNET__STATUS__NOT_FOUND, "no such drop");
		return;
	}
	int rv = 0;
	act_rows *w = act_read(c, d, NULL, &rv);
	if (w == NULL) {
		act_answer(r, DROPNET__STATUS__UNAVAILABLE, "storage failed");
		return;
	}
	Dropnet__OpsReply rep = DROPNET__OPS_REPLY__INIT;
	rep.status = DROPNET__STATUS__OK;
	rep.n_activations = w->n;
	rep.activations = w->ptrs;
	rep.currency = coord_drop_priced(d) ? d->spec->currency : (char *)"";
	rep.clock_ms = coord_now_wall_ms(c);
	coord_ops_send(r, &rep);
}

void coord_ops_activations(coord *c, const Dropnet__OpsRequest *q, mreq *r)
{
	if (q->kind == DROPNET__OPS_KIND__OPS_ACTIVATION_ADD) {
		act_add(c, q, r);
	} else {
		act_list(c, q, r);
	}
}
