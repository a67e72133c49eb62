/*
 * tui.c - the full-screen terminal (ncurses) over the session in app.c.
 *
 * Layout (80x24 and larger; every row is redrawn from the session, so a
 * resize is just a redraw):
 *
 *   row 0        status bar: hub, link to hubd, coordinator, counts, operator
 *   row 1        mode title
 *   rows 2..H-5  body: queue / pick walk / pack lines / form / help
 *   row H-4      prompt: what to scan next
 *   row H-3      input line (what the scanner or the keyboard typed)
 *   row H-2      last message (OK green, error red and a beep)
 *   row H-1      the keys that work now
 *
 * Keys vs scans: a barcode scanner types a whole line in one burst. A
 * command letter pressed on an empty input line acts at once only if
 * nothing follows it within TUI_BURST_MS; otherwise it starts a scan. So
 * `s` shorts, while a scanned "sku-1" is a scan.
 *
 * The loop wakes every TUI_TICK_MS (getch timeout) to poll hubd through
 * app_tick, so the queue moves without a keypress.
 */
#include <locale.h>
#include <curses.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "app.h"
#include "tui.h"

#define TUI_TICK_MS 100
#define TUI_BURST_MS 40
#define TUI_MIN_COLS 80
#define TUI_MIN_ROWS 24

enum { PAIR_BAR = 1, PAIR_OK, PAIR_ERR, PAIR_GIFT, PAIR_SEL, PAIR_DOWN };

static bool use_colour;

static int64_t wall_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static attr_t attr_of(int pair, attr_t mono)
{
	return use_colour ? (attr_t)COLOR_PAIR(pair) : mono;
}

/* Writes s at (y, x) clipped to the screen width, padding to width w. */
static void put(int y, int x, int w, const char *s)
{
	if (y < 0 || y >= LINES || x >= COLS) {
		return;
	}
	if (w > COLS - x) {
		w = COLS - x;
	}
	mvaddnstr(y, x, s, w);
	int n = (int)strlen(s);
	for (int i = n; i < w; i++) {
		mvaddch(y, x + i, ' ');
	}
}

static void draw_status(const app *a)
{
	char buf[320];
	/* Fits 80 columns with 4-digit counts; the operator is on row 1. */
	snprintf(buf, sizeof(buf), " %s | hubd %s | coord %s | queued %"
	    PRIu32 "  in progress %" PRIu32 "  packed today %" PRIu32,
	    a->hub[0] != '\0' ? a->hub : "?",
	    a->connected ? "UP" : "DOWN",
	    a->coordinator_up ? "up" : "down", a->queued, a->in_progress,
	    a->packed_today);
	attr_t at = a->connected ? attr_of(PAIR_BAR, A_REVERSE)
	                         : attr_of(PAIR_DOWN, A_REVERSE | A_BOLD);
	attron(at);
	put(0, 0, COLS, buf);
	attroff(at);
}

static void lines_summary(const pick_order *o, char *buf, size_t len)
{
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < o->nlines && off < len; i++) {
		const pick_line *l = &o->lines[i];
		int n = snprintf(buf + off, len - off, "%s%s%s %" PRIu32 "/%" PRIu32
		    "@%s", i > 0 ? ", " : "", l->gift ? "GIFT " : "", l->sku,
		    l->picked, l->qty, l->bin[0] != '\0' ? l->bin : "-");
		if (n < 0) {
			break;
		}
		off += (size_t)n;
	}
}

static void draw_queue(const app *a, int top, int rows, int64_t now)
{
	char buf[512], lines[400], age[16];
	attron(A_BOLD);
	put(top, 0, COLS, "  ORDER  KEY          CUSTOMER   TIER     STATE   AGE "
	    " CLAIM     LINES");
	attroff(A_BOLD);
	if (a->nqueue == 0) {
		put(top + 1, 0, COLS, "  (no open orders: new ones appear here as "
		    "they arrive)");
		return;
	}
	/* Keep the selection on screen. */
	size_t first = 0, vis = (size_t)(rows - 1);
	if (a->sel >= vis) {
		first = a->sel - vis + 1;
	}
	for (size_t i = first; i < a->nqueue && (int)(i - first) < rows - 1;
	    i++) {
		const app_order *q = &a->queue[i];
		pick_age_format(now - q->o.received_ms, age, sizeof(age));
		lines_summary(&q->o, lines, sizeof(lines));
		snprintf(buf, sizeof(buf), "%c %-6" PRIu64 " %-12.12s %-10.10s "
		    "%-8.8s %-7.7s %4s  %-9.9s %s%s", i == a->sel ? '>' : ' ',
		    q->o.order_id, q->key, q->customer,
		    q->o.tier[0] != '\0' ? q->o.tier : "-",
		    pick_state_name(q->o.state), age,
		    q->o.claimed_by[0] != '\0' ? q->o.claimed_by : "-",
		    q->o.resent ? "RESENT after data loss, check the carrier log "
		    "before picking: " : "", lines);
		/* A resent order stands out: it may have shipped already. */
		attr_t at = i == a->sel ? attr_of(PAIR_SEL, A_REVERSE)
		    : q->o.resent ? A_BOLD : A_NORMAL;
		attron(at);
		put(top + 1 + (int)(i - first), 0, COLS, buf);
		attroff(at);
	}
}

static void draw_pick(const app *a, int top, int rows)
{
	char buf[256];
	attron(A_BOLD);
	put(top, 0, COLS, "  BIN        SKU                    PICKED  ORDER   "
	    "NOTE");
	attroff(A_BOLD);
	size_t first = a->cur > (size_t)(rows - 2) ? a->cur - (size_t)(rows - 2)
	                                            : 0;
	for (size_t i = first; i < a->nsteps && (int)(i - first) < rows - 1; i++) {
		const pick_step *s = &a->steps[i];
		const pick_order *o = &a->mine[s->order];
		const pick_line *l = &o->lines[s->line];
		bool done = l->picked + l->shorted >= l->qty;
		char note[64] = "";
		if (l->shorted > 0) {
			snprintf(note, sizeof(note), "short %" PRIu32, l->shorted);
		} else if (done) {
			snprintf(note, sizeof(note), "done");
		}
		snprintf(buf, sizeof(buf), "%c %-10.10s %s%-*.*s %3" PRIu32 "/%-3"
		    PRIu32 " %-7" PRIu64 " %s", i == a->cur ? '>' : ' ',
		    l->bin[0] != '\0' ? l->bin : "MAIN", l->gift ? "GIFT " : "",
		    l->gift ? 17 : 22, l->gift ? 17 : 22, l->sku, l->picked, l->qty,
		    o->order_id, note);
		attr_t at = i == a->cur ? attr_of(PAIR_SEL, A_REVERSE)
		    : l->gift ? attr_of(PAIR_GIFT, A_BOLD)
		    : done ? A_DIM : A_NORMAL;
		attron(at);
		put(top + 1 + (int)(i - first), 0, COLS, buf);
		attroff(at);
	}
}

static const app_order *find(const app *a, uint64_t id)
{
	for (size_t i = 0; i < a->nqueue; i++) {
		if (a->queue[i].o.order_id == id) {
			return &a->queue[i];
		}
	}
	return NULL;
}

static void draw_order_lines(const app *a, uint64_t id, bool checks, int top,
    int rows)
{
	const app_order *q = find(a, id);
	char buf[256];
	if (q == NULL) {
		return;
	}
	snprintf(buf, sizeof(buf), "  order %" PRIu64 "  key %s  customer %s  "
	    "state %s", id, q->key, q->customer, pick_state_name(q->o.state));
	put(top, 0, COLS, buf);
	for (size_t i = 0; i < q->o.nlines && (int)i < rows - 2; i++) {
		const pick_line *l = &q->o.lines[i];
		snprintf(buf, sizeof(buf), "  %s %s%s x%" PRIu32 "%s",
		    !checks ? " - " : l->picked == 0 ? "(-)" : a->pack_ok[i]
		    ? "[x]" : "[ ]", l->gift ? "GIFT " : "", l->sku, l->picked,
		    l->shorted > 0 ? "  (short: not all found)" : "");
		attr_t at = l->gift ? attr_of(PAIR_GIFT, A_BOLD) : A_NORMAL;
		attron(at);
		put(top + 2 + (int)i, 0, COLS, buf);
		attroff(at);
	}
}

static void draw_form(const app *a, int top)
{
	char buf[256];
	put(top, 0, COLS, app_form_title(a));
	for (size_t i = 0; i < a->field && i < APP_FORM_FIELDS; i++) {
		snprintf(buf, sizeof(buf), "  %zu. %s", i + 1, a->values[i]);
		put(top + 2 + (int)i, 0, COLS, buf);
	}
}

static void draw_help(int top, int rows)
{
	const char *p = app_help_text;
	for (int y = top; y < top + rows && *p != '\0'; y++) {
		const char *nl = strchr(p, '\n');
		size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		char line[256];
		snprintf(line, sizeof(line), "%.*s", (int)(n < 255 ? n : 255), p);
		put(y, 0, COLS, line);
		p += n + (nl != NULL ? 1 : 0);
	}
}

static void draw(const app *a, int64_t now)
{
	char buf[400], title[200];
	erase();
	if (COLS < TUI_MIN_COLS || LINES < TUI_MIN_ROWS) {
		snprintf(buf, sizeof(buf), "terminal too small: need %dx%d, have "
		    "%dx%d", TUI_MIN_COLS, TUI_MIN_ROWS, COLS, LINES);
		put(0, 0, COLS, buf);
		refresh();
		return;
	}
	draw_status(a);
	int top = 2, rows = LINES - 6;
	if (a->help) {
		snprintf(title, sizeof(title), "HELP (? or Esc closes)");
	} else if (a->mode == APP_PICK) {
		snprintf(title, sizeof(title), "PICK  %zu order%s, %zu line%s along "
		    "the pick path", a->nmine, a->nmine == 1 ? "" : "s",
		    a->nsteps, a->nsteps == 1 ? "" : "s");
	} else {
		snprintf(title, sizeof(title), "%s", app_mode_name(a->mode));
	}
	attron(A_BOLD);
	put(1, 0, COLS, title);
	attroff(A_BOLD);
	snprintf(buf, sizeof(buf), "operator %s", a->operator_[0] != '\0'
	    ? a->operator_ : "-");
	put(1, COLS - (int)strlen(buf) - 1, (int)strlen(buf), buf);
	if (a->help) {
		/* Help takes the prompt and input rows too: it must fit 80x24. */
		draw_help(top, LINES - 4);
	} else {
		switch (a->mode) {
		case APP_QUEUE: draw_queue(a, top, rows, now); break;
		case APP_PICK: draw_pick(a, top, rows); break;
		case APP_PACK: draw_order_lines(a, a->pack_order, true, top, rows);
			break;
		case APP_SHIP: draw_order_lines(a, a->ship_order, false, top, rows);
			break;
		case APP_FORM: draw_form(a, top); break;
		case APP_LOGIN: put(top, 0, COLS, "  Sign in: every action is "
		    "recorded with your name."); break;
		}
	}
	if (!a->help) {
		app_prompt(a, buf, sizeof(buf));
		attron(A_BOLD);
		put(LINES - 4, 0, COLS, buf);
		attroff(A_BOLD);
		snprintf(buf, sizeof(buf), "> %s", a->input);
		put(LINES - 3, 0, COLS, buf);
	}
	attr_t at = a->msg_kind == APP_MSG_ERROR ? attr_of(PAIR_ERR, A_BOLD)
	    : a->msg_kind == APP_MSG_OK ? attr_of(PAIR_OK, A_NORMAL) : A_NORMAL;
	snprintf(buf, sizeof(buf), "%s%s", a->msg_kind == APP_MSG_ERROR ? "! "
	    : "", a->msg);
	attron(at);
	put(LINES - 2, 0, COLS, buf);
	attroff(at);
	attron(A_REVERSE);
	put(LINES - 1, 0, COLS, app_keys(a));
	attroff(A_REVERSE);
	move(LINES - 3, 2 + (int)a->ninput < COLS ? 2 + (int)a->ninput : COLS - 1);
	refresh();
}

static void input_add(app *a, int ch)
{
	if (a->ninput < APP_INPUT_MAX && ch >= 0x20 && ch < 0x7f) {
		a->input[a->ninput++] = (char)ch;
		a->input[a->ninput] = '\0';
	}
}

static void on_key(app *a, int ch, int64_t now)
{
	switch (ch) {
	case '\n': case '\r': case KEY_ENTER: {
		char line[APP_INPUT_MAX + 1];
		snprintf(line, sizeof(line), "%s", a->input);
		a->ninput = 0;
		a->input[0] = '\0';
		app_line(a, line, now);
		return;
	}
	case KEY_BACKSPACE: case 127: case 8:
		if (a->ninput > 0) {
			a->input[--a->ninput] = '\0';
		}
		return;
	case 27:
		if (a->ninput > 0) {
			a->ninput = 0;
			a->input[0] = '\0';
		} else {
			app_key(a, APP_KEY_ESC, now);
		}
		return;
	case KEY_UP: app_key(a, APP_KEY_UP, now); return;
	case KEY_DOWN: app_key(a, APP_KEY_DOWN, now); return;
	case KEY_F(1): app_key(a, APP_KEY_HELP, now); return;
	case KEY_F(10): app_key(a, APP_KEY_QUIT, now); return;
	default:
		break;
	}
	if (a->ninput == 0 && app_is_command(a, ch)) {
		/* A lone key is a command; the start of a burst is a scan. */
		timeout(TUI_BURST_MS);
		int next = getch();
		timeout(TUI_TICK_MS);
		if (next == ERR) {
			app_key(a, ch, now);
			return;
		}
		ungetch(next);
	}
	input_add(a, ch);
}

int tui_run(const pickterm_opts *o, bool mono)
{
	app *a = calloc(1, sizeof(*a));
	int rv;

	if (a == NULL) {
		return PICKTERM_EXIT_USAGE;
	}
	if ((rv = app_init(a, o, wall_now_ms())) != 0) {
		free(a);
		return rv;
	}
	setlocale(LC_ALL, "");
	setenv("ESCDELAY", "25", 0);
	if (initscr() == NULL) {
		fprintf(stderr, "pickterm: not a terminal; use --plain\n");
		app_fini(a);
		free(a);
		return PICKTERM_EXIT_USAGE;
	}
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	timeout(TUI_TICK_MS);
	use_colour = !mono && has_colors() && getenv("NO_COLOR") == NULL;
	if (use_colour) {
		start_color();
		use_default_colors();
		init_pair(PAIR_BAR, COLOR_WHITE, COLOR_BLUE);
		init_pair(PAIR_OK, COLOR_GREEN, -1);
		init_pair(PAIR_ERR, COLOR_RED, -1);
		init_pair(PAIR_GIFT, COLOR_MAGENTA, -1);
		init_pair(PAIR_SEL, COLOR_BLACK, COLOR_CYAN);
		init_pair(PAIR_DOWN, COLOR_WHITE, COLOR_RED);
	}
	app_tick(a, wall_now_ms());
	while (!a->quit) {
		int64_t now = wall_now_ms();
		draw(a, now);
		if (a->beep) {
			beep();
			a->beep = false;
		}
		int ch = getch();
		now = wall_now_ms();
		if (ch == KEY_RESIZE) {
			clear(); /* a full repaint: nothing of the old size stays */
		} else if (ch != ERR) {
			on_key(a, ch, now);
		}
		app_tick(a, now);
	}
	endwin();
	if (a->has_pending) {
		fprintf(stderr, "pickterm: quit with '%s' unanswered by hubd; check "
		    "the queue\n", a->pending.what);
	}
	app_fini(a);
	free(a);
	return PICKTERM_EXIT_OK;
}
