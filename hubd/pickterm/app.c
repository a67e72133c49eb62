/*
 * app.c - the interactive session (see app.h): hub calls, the mode that
 * follows from the hub's queue, and what each key and scan does.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/err.h"
#include "core/validate.h"
#include "app.h"

const char app_help_text[] =
    "pickterm - keys (a barcode scanner types a line and Enter)\n"
    "QUEUE   n  claim the next order by priority (tier, due time, age)\n"
    "        b  claim a batch of small orders for one walk (asks how many)\n"
    "        Up/Down or j/k select, Enter claim the selected order,\n"
    "        or scan/type an order id and Enter\n"
    "        r  receive stock into a bin     m  move between bins\n"
    "        c  cycle count a bin            u  return (stock or quarantine)\n"
    "PICK    scan the bin, then the SKU (SKU only where the bin is MAIN);\n"
    "        each SKU scan counts one unit. A wrong scan beeps and says\n"
    "        what was expected.\n"
    "        s  short: the rest of this line cannot be found\n"
    "        l  release this order back to the queue\n"
    "        x  a RESENT order that left before the data loss: its tracking\n"
    "PACK    scan every line's SKU (GIFT lines too), then it packs itself;\n"
    "        p  pack now (says which line is missing)\n"
    "SHIP    scan or type the tracking number, Enter\n"
    "FORMS   type a value and Enter (empty: the default in [ ]); Esc cancels\n"
    "?/F1 help on/off   q/F10 quit   Esc clear the input line\n"
    "The status bar shows the hub, the link to hubd and the counts.\n"
    "An action hubd did not answer is resent until it is (never twice).";

static const char *const mode_names[] = {
	[APP_LOGIN] = "LOGIN", [APP_QUEUE] = "QUEUE", [APP_PICK] = "PICK",
	[APP_PACK] = "PACK", [APP_SHIP] = "SHIP", [APP_FORM] = "FORM",
};

const char *app_mode_name(app_mode m)
{
	return (size_t)m < sizeof(mode_names) / sizeof(mode_names[0])
	    ? mode_names[m] : "?";
}

static void msg_set(app *a, app_msg_kind k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void msg_set(app *a, app_msg_kind k, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->msg, sizeof(a->msg), fmt, ap);
	va_end(ap);
	a->msg_kind = k;
	a->msg_seq++;
	a->view_seq++;
	if (k == APP_MSG_ERROR) {
		a->beep = true;
	}
}

/* ---- hub calls ------------------------------------------------------- */

/* One request; 0 with *rep, or DN_ETIMEDOUT/DN_ENET/DN_EPROTO. Marks the
 * link up or down and says so once per change. */
static int call(app *a, Dropnet__TermRequest *req, int timeout_ms,
    int64_t now, Dropnet__TermReply **rep)
{
	uint8_t *out = NULL, *in = NULL;
	size_t out_len = 0, in_len = 0;
	int rv;

	*rep = NULL;
	req->version = DN_PROTO_VERSION;
	req->operator_ = a->operator_;
	if ((rv = codec_term_request_pack(req, &out, &out_len)) != 0) {
		return rv;
	}
	rv = rpc_call(a->conn, out, out_len, timeout_ms, &in, &in_len);
	free(out);
	if (rv == 0) {
		rv = codec_term_reply_unpack(in, in_len, rep);
		free(in);
		if (rv != 0) {
			codec_term_reply_free(*rep);
			*rep = NULL;
			rv = DN_EPROTO;
		}
	}
	if (rv == 0) {
		if (!a->connected && a->ever_connected) {
			msg_set(a, APP_MSG_OK, "reconnected to hubd");
			a->reconnected = true;
		}
		a->connected = a->ever_connected = true;
		a->announced_down = false;
		a->last_ok_ms = now;
		a->view_seq++;
	} else if (rv == DN_ETIMEDOUT || rv == DN_ENET) {
		if (a->connected || !a->announced_down) {
			msg_set(a, APP_MSG_ERROR, "hubd not answering; reconnecting"
			    "%s", a->has_pending ? " (your action will be resent)"
			    : "");
			a->announced_down = true;
		}
		a->connected = false;
		a->view_seq++;
		if (now - a->last_ok_ms >= APP_REDIAL_MS
		    && now - a->last_redial_ms >= APP_REDIAL_MS) {
			a->last_redial_ms = now;
			/* A failed redial leaves a closed socket: the next
			 * call fails fast and redials again. */
			(void)rpc_redial(a->conn);
		}
	}
	return rv;
}

static void order_from_wire(const Dropnet__QueueOrder *q, app_order *ao)
{
	pick_order *o = &ao->o;
	memset(ao, 0, sizeof(*ao));
	o->order_id = q->order_id;
	if (pick_state_parse(q->state, &o->state) != 0) {
		o->state = PICK_ORDER_QUEUED;
	}
	snprintf(o->claimed_by, sizeof(o->claimed_by), "%s", q->claimed_by);
	snprintf(o->tier, sizeof(o->tier), "%s", q->tier);
	o->received_ms = q->received_ms;
	o->promised_ms = q->promised_ms;
	o->resent = q->resent;
	snprintf(ao->key, sizeof(ao->key), "%s", q->order_key);
	snprintf(ao->customer, sizeof(ao->customer), "%s", q->customer);
	for (size_t i = 0; i < q->n_lines && i < DN_ORDER_LINES_MAX; i++) {
		pick_line *l = &o->lines[o->nlines++];
		snprintf(l->sku, sizeof(l->sku), "%s", q->lines[i]->sku);
		snprintf(l->bin, sizeof(l->bin), "%s", q->lines[i]->bin);
		l->qty = q->lines[i]->qty;
		l->picked = q->lines[i]->picked;
		l->shorted = q->lines[i]->shorted;
		l->gift = q->lines[i]->gift;
	}
}

static int order_cmp(const void *x, const void *y)
{
	return pick_priority_cmp(&((const app_order *)x)->o,
	    &((const app_order *)y)->o);
}

static bool mine(const app *a, const pick_order *o)
{
	return a->operator_[0] != '\0' && strcmp(o->claimed_by, a->operator_) == 0;
}

/* Derives my orders, the walk and the mode from the queue. */
static void derive(app *a)
{
	uint64_t pack = 0, ship = 0;
	app_mode m = APP_QUEUE;

	a->nmine = 0;
	for (size_t i = 0; i < a->nqueue; i++) {
		const pick_order *o = &a->queue[i].o;
		if (!mine(a, o)) {
			continue;
		}
		if (pick_state_open(o->state) && a->nmine < PICK_BATCH_MAX) {
			a->mine[a->nmine++] = *o;
		} else if (o->state == PICK_ORDER_PICKED && pack == 0) {
			pack = o->order_id;
		} else if (o->state == PICK_ORDER_PACKED && ship == 0) {
			ship = o->order_id;
		}
	}
	a->nsteps = pick_walk_build(a->mine, a->nmine, a->steps, PICK_WALK_MAX);
	a->cur = pick_walk_next(a->mine, a->steps, a->nsteps);
	if (a->nmine > 0) {
		m = APP_PICK;
	} else if (ship != 0) {
		m = APP_SHIP;
	} else if (pack != 0) {
		m = APP_PACK;
	}
	if (pack != a->pack_order) {
		memset(a->pack_ok, 0, sizeof(a->pack_ok));
		a->pack_order = pack;
	}
	a->ship_order = ship;
	if (a->mode != APP_LOGIN && a->mode != APP_FORM) {
		a->mode = m;
	}
	if (a->sel >= a->nqueue) {
		a->sel = a->nqueue > 0 ? a->nqueue - 1 : 0;
	}
}

/* Re-reads status and queue. */
static void refresh(app *a, int64_t now)
{
	Dropnet__TermRequest req = DROPNET__TERM_REQUEST__INIT;
	Dropnet__TermReply *rep = NULL;

	req.kind = DROPNET__TERM_KIND__TERM_STATUS;
	if (call(a, &req, APP_POLL_TIMEOUT_MS, now, &rep) != 0) {
		return;
	}
	if (rep->status == DROPNET__STATUS__OK) {
		snprintf(a->hub, sizeof(a->hub), "%s", rep->hub);
		a->coordinator_up = rep->coordinator_up;
		a->queued = rep->queued;
		a->in_progress = rep->in_progress;
		a->packed = rep->packed;
		a->packed_today = rep->packed_today;
	}
	codec_term_reply_free(rep);
	req.kind = DROPNET__TERM_KIND__TERM_QUEUE;
	if (call(a, &req, APP_POLL_TIMEOUT_MS, now, &rep) != 0) {
		return;
	}
	if (rep->status == DROPNET__STATUS__OK) {
		a->nqueue = 0;
		for (size_t i = 0; i < rep->n_orders && i < APP_QUEUE_MAX; i++) {
			order_from_wire(rep->orders[i], &a->queue[a->nqueue++]);
		}
		qsort(a->queue, a->nqueue, sizeof(*a->queue), order_cmp);
		derive(a);
	}
	codec_term_reply_free(rep);
}

/* Sends the pending action once. Answered (any status): clears it and says
 * what happened. Not answered: keeps it for the next tick. */
static void pending_try(app *a, int64_t now)
{
	Dropnet__TermRequest req = DROPNET__TERM_REQUEST__INIT;
	Dropnet__TermReply *rep = NULL;
	app_req *p = &a->pending;
	char *scans[DN_ORDER_LINES_MAX];
	int rv;

	req.kind = (Dropnet__TermKind)p->kind;
	req.sku = p->sku;
	req.bin = p->bin;
	req.to_bin = p->to_bin;
	req.tracking = p->tracking;
	req.qty = p->qty;
	req.order_id = p->order_id;
	req.batch = p->batch;
	req.to_stock = p->to_stock;
	req.already_shipped = p->already_shipped;
	req.request_key = p->key;
	req.transfer_id = p->transfer;
	for (size_t i = 0; i < p->nscans; i++) {
		scans[i] = p->scans[i];
	}
	req.scans = scans;
	req.n_scans = p->nscans;
	/* While hubd is known down, retry at the poll's pace so the screen
	 * stays responsive; once up, give an action its full time. */
	rv = call(a, &req, a->connected ? APP_ACTION_TIMEOUT_MS
	    : APP_POLL_TIMEOUT_MS, now, &rep);
	if (rv == DN_ETIMEDOUT || rv == DN_ENET) {
		return; /* stays pending: resent with the same key */
	}
	a->has_pending = false;
	/* Keep the reconnection visible next to the answer it unblocked. */
	const char *pre = a->reconnected ? "reconnected to hubd; " : "";
	a->reconnected = false;
	if (rv != 0) {
		msg_set(a, APP_MSG_ERROR, "%s%s: hubd's answer did not decode",
		    pre, p->what);
	} else if (rep->status == DROPNET__STATUS__OK) {
		msg_set(a, APP_MSG_OK, "%s%s: %s", pre, p->what, rep->message);
	} else {
		msg_set(a, APP_MSG_ERROR, "%s%s refused: %s %s", pre, p->what,
		    codec_status_name(rep->status), rep->message);
	}
	codec_term_reply_free(rep);
	refresh(a, now);
}

/* Starts an action: refused on screen while another is unanswered. */
static void act(app *a, app_req *r, int64_t now)
{
	if (a->has_pending) {
		msg_set(a, APP_MSG_ERROR, "refused: '%s' still waits for hubd; "
		    "try again when it is answered", a->pending.what);
		return;
	}
	snprintf(r->key, sizeof(r->key), "%s-%d-%" PRId64 "-%" PRIu64,
	    a->operator_, (int)getpid(), a->start_ms, ++a->reqn);
	a->pending = *r;
	a->has_pending = true;
	pending_try(a, now);
	if (a->has_pending) {
		msg_set(a, APP_MSG_ERROR, "hubd down: '%s' kept, resent until "
		    "answered", r->what);
	}
}

int app_init(app *a, const pickterm_opts *o, int64_t now_ms)
{
	int rv;
	memset(a, 0, sizeof(*a));
	a->opts = *o;
	a->start_ms = now_ms;
	snprintf(a->operator_, sizeof(a->operator_), "%s",
	    o->operator_ != NULL ? o->operator_ : "");
	a->queue = calloc(APP_QUEUE_MAX, sizeof(*a->queue));
	if (a->queue == NULL) {
		return PICKTERM_EXIT_USAGE;
	}
	if ((rv = rpc_open(&a->conn, o->hub, NETTLS_AS_DEFAULT)) != 0) {
		fprintf(stderr, "pickterm: cannot use hub endpoint %s (%s)\n",
		    o->hub, dn_strerror(rv));
		free(a->queue);
		a->queue = NULL;
		return rv == DN_EINVAL ? PICKTERM_EXIT_USAGE
		                       : PICKTERM_EXIT_UNREACHABLE;
	}
	a->mode = validate_id(a->operator_) ? APP_QUEUE : APP_LOGIN;
	if (a->mode == APP_LOGIN) {
		a->operator_[0] = '\0';
		msg_set(a, APP_MSG_INFO, "who is at this terminal? type your "
		    "name and Enter");
	} else {
		msg_set(a, APP_MSG_INFO, "signed in as %s", a->operator_);
	}
	a->beep = false;
	return 0;
}

void app_fini(app *a)
{
	rpc_close(a->conn);
	free(a->queue);
	a->queue = NULL;
}

void app_tick(app *a, int64_t now_ms)
{
	if (now_ms < a->next_poll_ms) {
		return;
	}
	a->next_poll_ms = now_ms + APP_POLL_MS;
	if (a->has_pending) {
		pending_try(a, now_ms);
		if (a->has_pending) {
			return;
		}
	}
	refresh(a, now_ms);
}

const pick_line *app_cur_line(const app *a, uint64_t *order_id)
{
	if (a->mode != APP_PICK || a->cur >= a->nsteps) {
		return NULL;
	}
	const pick_step *s = &a->steps[a->cur];
	if (order_id != NULL) {
		*order_id = a->mine[s->order].order_id;
	}
	return &a->mine[s->order].lines[s->line];
}

/* The last bin scanned stays confirmed while the walk stays in it: the
 * picker is standing there. */
static bool bin_confirmed(const app *a)
{
	const pick_line *l = app_cur_line(a, NULL);
	return l != NULL && strcmp(a->bin_ok, l->bin) == 0;
}

static const app_order *queue_find(const app *a, uint64_t id)
{
	for (size_t i = 0; i < a->nqueue; i++) {
		if (a->queue[i].o.order_id == id) {
			return &a->queue[i];
		}
	}
	return NULL;
}

/* ---- actions ---------------------------------------------------------- */

static void claim(app *a, uint64_t order_id, uint32_t batch, int64_t now)
{
	app_req r = { .kind = DROPNET__TERM_KIND__TERM_CLAIM,
	    .order_id = order_id, .batch = batch };
	if (order_id != 0) {
		snprintf(r.what, sizeof(r.what), "claim order %" PRIu64, order_id);
	} else if (batch > 1) {
		snprintf(r.what, sizeof(r.what), "claim a batch of %" PRIu32,
		    batch);
	} else {
		snprintf(r.what, sizeof(r.what), "claim next");
	}
	act(a, &r, now);
}

static void pick_line_scan(app *a, const char *in, int64_t now)
{
	uint64_t oid = 0;
	const pick_line *l = app_cur_line(a, &oid);
	char m[256];

	if (l == NULL) {
		msg_set(a, APP_MSG_ERROR, "nothing to pick");
		return;
	}
	switch (pick_input_classify(l, bin_confirmed(a), in, m, sizeof(m))) {
	case PICK_INPUT_BIN_OK:
		snprintf(a->bin_ok, sizeof(a->bin_ok), "%s", l->bin);
		msg_set(a, APP_MSG_OK, "%s", m);
		break;
	case PICK_INPUT_SKU_OK: {
		app_req r = { .kind = DROPNET__TERM_KIND__TERM_PICK,
		    .order_id = oid, .nscans = 1 };
		snprintf(r.scans[0], sizeof(r.scans[0]), "%s", l->sku);
		snprintf(r.what, sizeof(r.what), "pick %s %" PRIu32 "/%" PRIu32
		    " for order %" PRIu64, l->sku, l->picked + 1, l->qty, oid);
		act(a, &r, now);
		break;
	}
	case PICK_INPUT_EMPTY:
		msg_set(a, APP_MSG_INFO, "%s", m);
		break;
	default:
		msg_set(a, APP_MSG_ERROR, "%s", m);
		break;
	}
}

static void short_line(app *a, int64_t now)
{
	uint64_t oid = 0;
	const pick_line *l = app_cur_line(a, &oid);
	if (l == NULL) {
		msg_set(a, APP_MSG_ERROR, "no line to short");
		return;
	}
	app_req r = { .kind = DROPNET__TERM_KIND__TERM_SHORT, .order_id = oid,
	    .qty = (int64_t)(l->qty - l->picked - l->shorted) };
	snprintf(r.sku, sizeof(r.sku), "%s", l->sku);
	snprintf(r.what, sizeof(r.what), "short %" PRId64 " x %s (found %"
	    PRIu32 ") on order %" PRIu64, r.qty, l->sku, l->picked, oid);
	act(a, &r, now);
}

static uint64_t current_order(const app *a)
{
	uint64_t oid = 0;
	if (a->mode == APP_PICK) {
		(void)app_cur_line(a, &oid);
	} else if (a->mode == APP_PACK) {
		oid = a->pack_order;
	} else if (a->mode == APP_SHIP) {
		oid = a->ship_order;
	}
	return oid;
}

/* 'x' on a RESENT order with nothing picked or shorted: it left before
 * the hub's data loss (SEMANTICS.md "Resent orders"); the next line is the
 * carrier's tracking, sent as TERM_SHIP already_shipped. hubd decides. */
static void gone_start(app *a)
{
	uint64_t oid = 0;
	(void)app_cur_line(a, &oid);
	const app_order *q = queue_find(a, oid);
	if (q == NULL || !q->o.resent) {
		msg_set(a, APP_MSG_ERROR, "x is for a RESENT order only (sent "
		    "again after the hub's data loss)");
		return;
	}
	for (size_t i = 0; i < q->o.nlines; i++) {
		if (q->o.lines[i].picked > 0 || q->o.lines[i].shorted > 0) {
			msg_set(a, APP_MSG_ERROR, "order %" PRIu64 " has picks "
			    "already: it did not leave; pick it to the end", oid);
			return;
		}
	}
	a->gone_order = oid;
	msg_set(a, APP_MSG_INFO, "order %" PRIu64 ": scan the tracking it "
	    "left with (from the carrier log); nothing is picked", oid);
}

static void gone_ship(app *a, const char *line, int64_t now)
{
	app_req r = { .kind = DROPNET__TERM_KIND__TERM_SHIP,
	    .order_id = a->gone_order, .already_shipped = true };
	if (!validate_id(line)) {
		msg_set(a, APP_MSG_ERROR, "scan or type the tracking number "
		    "(no spaces)");
		return;
	}
	a->gone_order = 0;
	snprintf(r.tracking, sizeof(r.tracking), "%s", line);
	snprintf(r.what, sizeof(r.what), "order %" PRIu64 " shipped before "
	    "the data loss with %s", r.order_id, line);
	act(a, &r, now);
}

static void release(app *a, int64_t now)
{
	app_req r = { .kind = DROPNET__TERM_KIND__TERM_RELEASE,
	    .order_id = current_order(a) };
	if (r.order_id == 0) {
		msg_set(a, APP_MSG_ERROR, "no order to release");
		return;
	}
	snprintf(r.what, sizeof(r.what), "release order %" PRIu64, r.order_id);
	act(a, &r, now);
}

static void pack_send(app *a, int64_t now)
{
	const app_order *ao = queue_find(a, a->pack_order);
	app_req r = { .kind = DROPNET__TERM_KIND__TERM_PACK,
	    .order_id = a->pack_order };
	if (ao == NULL) {
		msg_set(a, APP_MSG_ERROR, "no order to pack");
		return;
	}
	for (size_t i = 0; i < ao->o.nlines; i++) {
		if (a->pack_ok[i]) {
			snprintf(r.scans[r.nscans++], sizeof(r.scans[0]), "%s",
			    ao->o.lines[i].sku);
		}
	}
	snprintf(r.what, sizeof(r.what), "pack order %" PRIu64, a->pack_order);
	act(a, &r, now);
}

static void pack_scan(app *a, const char *in, int64_t now)
{
	const app_order *ao = queue_find(a, a->pack_order);
	bool all = true, hit = false;
	if (ao == NULL) {
		return;
	}
	for (size_t i = 0; i < ao->o.nlines; i++) {
		const pick_line *l = &ao->o.lines[i];
		if (l->picked > 0 && !a->pack_ok[i] && strcmp(l->sku, in) == 0) {
			a->pack_ok[i] = hit = true;
			msg_set(a, APP_MSG_OK, "%s%s x%" PRIu32 " packed in",
			    l->gift ? "GIFT " : "", l->sku, l->picked);
		}
		if (l->picked > 0 && !a->pack_ok[i]) {
			all = false;
		}
	}
	if (!hit) {
		msg_set(a, APP_MSG_ERROR, "wrong scan %s: not a line of order %"
		    PRIu64 " still to pack", in, a->pack_order);
		return;
	}
	a->view_seq++;
	if (all) {
		pack_send(a, now);
	}
}

/* ---- forms --------------------------------------------------------------- */

typedef struct {
	const char *title;
	const char *labels[APP_FORM_FIELDS];
	const char *defaults[APP_FORM_FIELDS]; /* NULL: required */
	size_t n;
} form_def;

static const form_def forms[] = {
	[APP_FORM_RECEIVE] = { "RECEIVE stock (also transfers from other hubs)",
	    { "sku", "quantity", "bin", "transfer id (- for none)" },
	    { NULL, NULL, "MAIN", "-" }, 4 },
	[APP_FORM_MOVE] = { "MOVE between bins",
	    { "sku", "quantity", "from bin", "to bin" }, { NULL, NULL, NULL,
	    NULL }, 4 },
	[APP_FORM_COUNT] = { "CYCLE COUNT a bin (blind: count, then type)",
	    { "bin", "sku", "counted" }, { NULL, NULL, NULL }, 3 },
	[APP_FORM_RETURN] = { "RETURN from a customer",
	    { "sku", "quantity", "back to stock? y/n", "bin" },
	    { NULL, "1", "y", "MAIN" }, 4 },
	[APP_FORM_BATCH] = { "BATCH pick: small orders in one walk",
	    { "orders" }, { "5" }, 1 },
};

static void form_open(app *a, app_form f)
{
	a->form = f;
	a->field = 0;
	a->nfields = forms[f].n;
	memset(a->values, 0, sizeof(a->values));
	a->mode = APP_FORM;
	msg_set(a, APP_MSG_INFO, "%s: Esc cancels", forms[f].title);
}

const char *app_form_title(const app *a)
{
	return a->form != APP_FORM_NONE ? forms[a->form].title : "";
}

static void form_close(app *a)
{
	a->form = APP_FORM_NONE;
	a->mode = APP_QUEUE;
	derive(a);
	a->view_seq++;
}

static bool qty_parse(const char *s, int64_t *out)
{
	char *end = NULL;
	long long v = strtoll(s, &end, 10);
	if (end == s || *end != '\0') {
		return false;
	}
	*out = v;
	return true;
}

static void form_submit(app *a, int64_t now)
{
	app_req r = { 0 };
	char (*v)[DN_ID_MAX + 1] = a->values;
	int64_t n = 0;

	switch (a->form) {
	case APP_FORM_BATCH:
		if (!qty_parse(v[0], &n) || n < 1 || n > PICK_BATCH_MAX) {
			msg_set(a, APP_MSG_ERROR, "batch: 1..%u orders", PICK_BATCH_MAX);
			return;
		}
		form_close(a);
		claim(a, 0, (uint32_t)n, now);
		return;
	case APP_FORM_RECEIVE:
		r.kind = DROPNET__TERM_KIND__TERM_RECEIVE;
		snprintf(r.bin, sizeof(r.bin), "%s", v[2]);
		snprintf(r.transfer, sizeof(r.transfer), "%s",
		    strcmp(v[3], "-") == 0 ? "" : v[3]);
		break;
	case APP_FORM_MOVE:
		r.kind = DROPNET__TERM_KIND__TERM_MOVE;
		snprintf(r.bin, sizeof(r.bin), "%s", v[2]);
		snprintf(r.to_bin, sizeof(r.to_bin), "%s", v[3]);
		break;
	case APP_FORM_COUNT:
		r.kind = DROPNET__TERM_KIND__TERM_COUNT;
		snprintf(r.bin, sizeof(r.bin), "%s", v[0]);
		break;
	case APP_FORM_RETURN:
		r.kind = DROPNET__TERM_KIND__TERM_RETURN;
		r.to_stock = v[2][0] == 'y' || v[2][0] == 'Y';
		snprintf(r.bin, sizeof(r.bin), "%s", v[3]);
		break;
	default:
		form_close(a);
		return;
	}
	const char *sku = a->form == APP_FORM_COUNT ? v[1] : v[0];
	const char *q = a->form == APP_FORM_COUNT ? v[2] : v[1];
	if (!qty_parse(q, &r.qty)) {
		msg_set(a, APP_MSG_ERROR, "quantity must be a whole number");
		a->field = a->form == APP_FORM_COUNT ? 2 : 1;
		return;
	}
	snprintf(r.sku, sizeof(r.sku), "%s", sku);
	snprintf(r.what, sizeof(r.what), "%s %" PRId64 " x %s",
	    a->form == APP_FORM_RECEIVE ? "receive" : a->form == APP_FORM_MOVE
	    ? "move" : a->form == APP_FORM_COUNT ? "count" : "return", r.qty, sku);
	form_close(a);
	act(a, &r, now);
}

static void form_line(app *a, const char *in, int64_t now)
{
	const form_def *f = &forms[a->form];
	const char *val = in;
	if (val[0] == '\0') {
		if (f->defaults[a->field] == NULL) {
			msg_set(a, APP_MSG_ERROR, "%s is required",
			    f->labels[a->field]);
			return;
		}
		val = f->defaults[a->field];
	}
	snprintf(a->values[a->field], sizeof(a->values[0]), "%s", val);
	a->field++;
	a->view_seq++;
	if (a->field == a->nfields) {
		form_submit(a, now);
	}
}

/* ---- input ----------------------------------------------------------- */

bool app_text_mode(const app *a)
{
	return a->mode == APP_LOGIN || a->mode == APP_FORM
	    || a->mode == APP_SHIP
	    || (a->mode == APP_PICK && a->gone_order != 0);
}

bool app_is_command(const app *a, int key)
{
	if (key == '?') {
		return true;
	}
	if (app_text_mode(a)) {
		return false;
	}
	switch (a->mode) {
	case APP_QUEUE: return strchr("nbjkrmcuq", key) != NULL;
	case APP_PICK: return strchr("slxq", key) != NULL;
	case APP_PACK: return strchr("plq", key) != NULL;
	default: return false;
	}
}

bool app_key(app *a, int key, int64_t now)
{
	if (key == '?' || key == APP_KEY_HELP) {
		a->help = !a->help;
		a->view_seq++;
		return true;
	}
	if (key == APP_KEY_QUIT || (key == 'q' && !app_text_mode(a))) {
		if (a->has_pending && key == 'q') {
			msg_set(a, APP_MSG_ERROR, "'%s' still waits for hubd; F10 "
			    "quits anyway and abandons it", a->pending.what);
			return true;
		}
		a->quit = true;
		return true;
	}
	if (key == APP_KEY_ESC) {
		a->help = false;
		if (a->mode == APP_FORM) {
			form_close(a);
			msg_set(a, APP_MSG_INFO, "cancelled");
		} else if (a->gone_order != 0) {
			a->gone_order = 0;
			msg_set(a, APP_MSG_INFO, "cancelled");
		}
		a->view_seq++;
		return true;
	}
	switch (a->mode) {
	case APP_QUEUE:
		switch (key) {
		case 'n': claim(a, 0, 1, now); return true;
		case 'b': form_open(a, APP_FORM_BATCH); return true;
		case 'r': form_open(a, APP_FORM_RECEIVE); return true;
		case 'm': form_open(a, APP_FORM_MOVE); return true;
		case 'c': form_open(a, APP_FORM_COUNT); return true;
		case 'u': form_open(a, APP_FORM_RETURN); return true;
		case 'j': case APP_KEY_DOWN:
			if (a->sel + 1 < a->nqueue) {
				a->sel++;
			}
			a->view_seq++;
			return true;
		case 'k': case APP_KEY_UP:
			if (a->sel > 0) {
				a->sel--;
			}
			a->view_seq++;
			return true;
		default: return false;
		}
	case APP_PICK:
		if (key == 's') {
			short_line(a, now);
			return true;
		}
		if (key == 'l') {
			release(a, now);
			return true;
		}
		if (key == 'x') {
			gone_start(a);
			return true;
		}
		return false;
	case APP_PACK:
		if (key == 'p') {
			pack_send(a, now);
			return true;
		}
		if (key == 'l') {
			release(a, now);
			return true;
		}
		return false;
	default:
		return false;
	}
}

void app_line(app *a, const char *line, int64_t now)
{
	switch (a->mode) {
	case APP_LOGIN:
		if (!validate_id(line)) {
			msg_set(a, APP_MSG_ERROR, "a name is 1..%u characters without "
			    "spaces", DN_ID_MAX);
			return;
		}
		snprintf(a->operator_, sizeof(a->operator_), "%s", line);
		a->mode = APP_QUEUE;
		msg_set(a, APP_MSG_OK, "signed in as %s", a->operator_);
		refresh(a, now);
		return;
	case APP_QUEUE:
		if (line[0] == '\0') {
			if (a->nqueue == 0) {
				msg_set(a, APP_MSG_INFO, "the queue is empty");
				return;
			}
			claim(a, a->queue[a->sel].o.order_id, 0, now);
			return;
		} else {
			int64_t id = 0;
			if (!qty_parse(line, &id) || id <= 0) {
				msg_set(a, APP_MSG_ERROR, "%s is not an order id; n claims "
				    "the next order", line);
				return;
			}
			claim(a, (uint64_t)id, 0, now);
		}
		return;
	case APP_PICK:
		if (a->gone_order != 0) {
			gone_ship(a, line, now);
			return;
		}
		pick_line_scan(a, line, now);
		return;
	case APP_PACK:
		if (line[0] != '\0') {
			pack_scan(a, line, now);
		}
		return;
	case APP_SHIP: {
		app_req r = { .kind = DROPNET__TERM_KIND__TERM_SHIP,
		    .order_id = a->ship_order };
		if (!validate_id(line)) {
			msg_set(a, APP_MSG_ERROR, "scan or type the tracking number "
			    "(no spaces)");
			return;
		}
		snprintf(r.tracking, sizeof(r.tracking), "%s", line);
		snprintf(r.what, sizeof(r.what), "ship order %" PRIu64 " with %s",
		    r.order_id, line);
		act(a, &r, now);
		return;
	}
	case APP_FORM:
		form_line(a, line, now);
		return;
	}
}

void app_prompt(const app *a, char *buf, size_t len)
{
	uint64_t oid = 0;
	const pick_line *l;
	switch (a->mode) {
	case APP_LOGIN:
		snprintf(buf, len, "operator name:");
		return;
	case APP_QUEUE:
		snprintf(buf, len, "n next, b batch, Enter claims the selected "
		    "order (%zu in queue)", a->nqueue);
		return;
	case APP_PICK: {
		l = app_cur_line(a, &oid);
		const app_order *q = queue_find(a, oid);
		/* A resent order may have left before the data loss. */
		const char *re = q != NULL && q->o.resent ? " RESENT after data "
		    "loss: check the carrier log before picking;" : "";
		if (a->gone_order != 0) {
			snprintf(buf, len, "order %" PRIu64 " left before the data "
			    "loss: scan or type its tracking (Esc cancels)",
			    a->gone_order);
		} else if (l == NULL) {
			snprintf(buf, len, "every line done");
		} else if (pick_bin_required(l->bin) && !bin_confirmed(a)) {
			snprintf(buf, len, "order %" PRIu64 ":%s scan bin %s", oid,
			    re, l->bin);
		} else {
			snprintf(buf, len, "order %" PRIu64 ":%s scan sku %s%s "
			    "(%" PRIu32 "/%" PRIu32 ")", oid, re, l->gift ? "GIFT " : "",
			    l->sku, l->picked, l->qty);
		}
		return;
	}
	case APP_PACK:
		snprintf(buf, len, "order %" PRIu64 ": scan each line into the "
		    "parcel, GIFT lines too", a->pack_order);
		return;
	case APP_SHIP:
		snprintf(buf, len, "order %" PRIu64 ": scan or type the tracking "
		    "number", a->ship_order);
		return;
	case APP_FORM: {
		const form_def *f = &forms[a->form];
		if (a->field < f->n) {
			snprintf(buf, len, "%s%s%s%s:", f->labels[a->field],
			    f->defaults[a->field] != NULL ? " [" : "",
			    f->defaults[a->field] != NULL ? f->defaults[a->field] : "",
			    f->defaults[a->field] != NULL ? "]" : "");
		} else {
			buf[0] = '\0';
		}
		return;
	}
	}
	buf[0] = '\0';
}

const char *app_keys(const app *a)
{
	switch (a->mode) {
	case APP_LOGIN:
		return "type your name, Enter   F10 quit";
	case APP_QUEUE:
		/* 78 columns: fits 80. */
		return "n next  b batch  Enter claim  r receive  m move  c count  "
		    "u return ?help q quit";
	case APP_PICK:
		return a->gone_order != 0
		    ? "scan/type tracking + Enter  Esc cancel  F1 help  F10 quit"
		    : "scan bin/SKU + Enter  s short  l release  x left already  "
		    "? help  q quit";
	case APP_PACK:
		return "scan each SKU + Enter  p pack  l release  ? help  q quit";
	case APP_SHIP:
		return "scan/type tracking + Enter  F1 help  F10 quit";
	case APP_FORM:
		return "type + Enter (empty: [default])  Esc cancel  F1 help  "
		    "F10 quit";
	}
	return "";
}
