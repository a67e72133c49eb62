/*
 * app.h - the interactive terminal's session: what the picker is doing, what
 * the hub last said, and what each key or scanned line does. Both front ends
 * drive it: the full-screen ncurses one (tui.c) and the line-mode one for
 * screen readers and scripts (plain.c). Neither holds any state of its own
 * beyond what it draws.
 *
 * The screen follows from the hub's queue, not from local memory: after
 * every answer and every poll (~500 ms) the session re-reads the queue, and
 * the orders claimed by this operator decide the mode - open ones: PICK (one
 * walk over all of them, lines sorted by bin); picked ones: PACK; packed
 * ones: SHIP; none: QUEUE. So a restarted terminal or hubd resumes exactly
 * where the hub's book says the work stands.
 *
 * Actions: every key or scan that changes the hub becomes one request with a
 * request_key. While the hub does not answer, the request stays pending and
 * is resent with the same key on every tick until it is answered (hubd
 * replays the first answer if it had already done it); other actions are
 * refused on screen meanwhile. Nothing is dropped silently.
 *
 * The rules (what a scan means, walk order, priority) are core/pick.h.
 * Single-threaded: the front end's loop calls app_tick, app_key, app_line.
 */
#ifndef PICKTERM_APP_H
#define PICKTERM_APP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/pick.h"
#include "io/rpc.h"
#include "pickterm.h"

/* How often the queue and status are re-read. */
#define APP_POLL_MS 500
/* A poll waits this long; an action this long before it counts as lost
 * (then it is resent, same key). A local socket: more is a dead hubd. */
#define APP_POLL_TIMEOUT_MS 700
#define APP_ACTION_TIMEOUT_MS 2000
/* While hubd does not answer, the terminal drops its socket and dials a new
 * one this often, so nothing left in the old one after hubd died can keep it
 * from reaching the new hubd (a pending action is resent with its key). */
#define APP_REDIAL_MS 2000
/* Orders the terminal keeps from one queue reply (hubd sends at most this). */
#define APP_QUEUE_MAX DN_QUEUE_LIST_MAX
/* Default orders in a batch claim ('b'). */
#define APP_BATCH_DEFAULT 5u
#define APP_INPUT_MAX 128u

typedef enum {
	APP_LOGIN = 0, /* asking for the operator's name */
	APP_QUEUE,     /* nothing claimed: the live queue */
	APP_PICK,      /* walking the lines of my open orders */
	APP_PACK,      /* confirming every line of a picked order */
	APP_SHIP,      /* tracking number for a packed order */
	APP_FORM,      /* receive / move / count / return / batch size */
} app_mode;

typedef enum {
	APP_FORM_NONE = 0,
	APP_FORM_RECEIVE,
	APP_FORM_MOVE,
	APP_FORM_COUNT,
	APP_FORM_RETURN,
	APP_FORM_BATCH,
} app_form;

typedef enum { APP_MSG_INFO = 0, APP_MSG_OK, APP_MSG_ERROR } app_msg_kind;

/* Keys the front ends translate into (printable keys are themselves). */
#define APP_KEY_ESC 27
#define APP_KEY_UP 0x1001
#define APP_KEY_DOWN 0x1002
#define APP_KEY_HELP 0x1003 /* F1 */
#define APP_KEY_QUIT 0x1004 /* F10 */
#define APP_KEY_ENTER '\n'

#define APP_FORM_FIELDS 4

/* One action, self-contained so it can be resent unchanged. */
typedef struct {
	int kind; /* Dropnet__TermKind */
	char sku[DN_ID_MAX + 1], bin[DN_ID_MAX + 1], to_bin[DN_ID_MAX + 1];
	char tracking[DN_ID_MAX + 1];
	char transfer[DN_ID_MAX + 1]; /* receive: hub-to-hub transfer id */
	int64_t qty;
	uint64_t order_id;
	uint32_t batch;
	bool to_stock;
	bool already_shipped; /* TERM_SHIP of a RESENT order that left before */
	size_t nscans;
	char scans[DN_ORDER_LINES_MAX][DN_ID_MAX + 1];
	char key[2 * DN_ID_MAX + 1];
	char what[96]; /* for the screen: "pick 1 x tee for order 12" */
} app_req;

/* A queue order as the terminal keeps it. */
typedef struct {
	pick_order o;
	char key[DN_ID_MAX + 1], customer[DN_ID_MAX + 1];
} app_order;

typedef struct {
	pickterm_opts opts;
	char operator_[DN_ID_MAX + 1];
	rpc_conn *conn;
	int64_t start_ms;

	/* connection */
	bool connected, ever_connected, announced_down;
	bool reconnected; /* since the last answered action */
	int64_t next_poll_ms, last_ok_ms;
	int64_t last_redial_ms; /* APP_REDIAL_MS */

	/* the hub's view, from the last poll */
	char hub[DN_ID_MAX + 1];
	bool coordinator_up;
	uint32_t queued, in_progress, packed, packed_today;
	app_order *queue;   /* APP_QUEUE_MAX, priority order */
	size_t nqueue;

	/* mine: claimed by operator_, derived from queue */
	pick_order mine[PICK_BATCH_MAX];
	size_t nmine;
	pick_step steps[PICK_WALK_MAX];
	size_t nsteps, cur;
	char bin_ok[DN_ID_MAX + 1];  /* the bin last scanned on the walk */
	uint64_t pack_order;
	bool pack_ok[DN_ORDER_LINES_MAX];
	uint64_t ship_order;
	/* 'x' in PICK: this RESENT order left before the data loss; the next
	 * line is its tracking (0: not asking) */
	uint64_t gone_order;

	app_mode mode;
	size_t sel;        /* queue selection */
	bool help;

	app_form form;
	size_t field, nfields;
	char values[APP_FORM_FIELDS][DN_ID_MAX + 1];

	char input[APP_INPUT_MAX + 1];
	size_t ninput;

	char msg[320];
	app_msg_kind msg_kind;
	unsigned msg_seq;   /* bumps on every new message */
	unsigned view_seq;  /* bumps when what the screen shows changes */
	bool beep;          /* the front end rings once and clears it */

	app_req pending;
	bool has_pending;
	uint64_t reqn;
	bool quit;
} app;

/* Opens the hub connection (nng redials by itself). Returns 0 or an exit
 * code. operator_ may be "" (the session starts in APP_LOGIN). */
int app_init(app *a, const pickterm_opts *o, int64_t now_ms);
void app_fini(app *a);

/* Polls the hub when due and resends a pending action. Call often. */
void app_tick(app *a, int64_t now_ms);

/* A command key (already known not to be part of a scan). Returns true when
 * the key meant something here. */
bool app_key(app *a, int key, int64_t now_ms);

/* A scanned or typed line (Enter). */
void app_line(app *a, const char *line, int64_t now_ms);

/* True when keys in the current mode are text (login, forms, tracking):
 * then only Esc and F1/'?' on an empty line are commands. */
bool app_text_mode(const app *a);

/* Is key a command key in the current mode? (letters that act at once) */
bool app_is_command(const app *a, int key);

/* The prompt for the current state: "scan bin A-01 for tee (1/2)". */
void app_prompt(const app *a, char *buf, size_t len);

/* The keys that work now, one line: "s short  l release  ? help". */
const char *app_keys(const app *a);

/* Help text, lines separated by '\n'. */
extern const char app_help_text[];

/* The pick line at the walk's cursor, or NULL. */
const pick_line *app_cur_line(const app *a, uint64_t *order_id);

/* The open form's title, "" when none. */
const char *app_form_title(const app *a);

/* The mode's name for the screen: "QUEUE", "PICK", ... */
const char *app_mode_name(app_mode m);

#endif
