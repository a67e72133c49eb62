/*
 * plain.c - pickterm --plain: the same session as the full-screen terminal
 * (app.h) as plain lines, for screen readers and scripts.
 *
 * Input, one line each: a single command character ("s", "n", "?", ...)
 * acts like its key; anything else is a scan or typed value (an empty line
 * is Enter). Output, one line per change: messages as "OK ...",
 * "ERROR ..." or "INFO ...", the prompt as "> ...", link changes and queue
 * size changes as "STATUS ...". Nothing is redrawn, so a screen reader
 * reads each change once.
 *
 * The loop polls stdin with a timeout so hubd is still polled every
 * APP_POLL_MS while nobody types. At EOF it waits (bounded) for a pending
 * action to be answered, then exits.
 */
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "app.h"
#include "tui.h"

#define PLAIN_TICK_MS 100
/* At EOF, how long a pending action may still be resent before giving up. */
#define PLAIN_DRAIN_MS 15000

static int64_t wall_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct {
	unsigned msg_seq;
	char prompt[320];
	bool connected;
	size_t nqueue;
	uint32_t counts[3];
	bool first;
} plain_seen;

static void report(const app *a, plain_seen *s)
{
	char prompt[320];
	if (a->msg_seq != s->msg_seq) {
		s->msg_seq = a->msg_seq;
		printf("%s %s\n", a->msg_kind == APP_MSG_ERROR ? "ERROR"
		    : a->msg_kind == APP_MSG_OK ? "OK" : "INFO", a->msg);
	}
	if (s->first || a->connected != s->connected || a->nqueue != s->nqueue
	    || a->queued != s->counts[0] || a->in_progress != s->counts[1]
	    || a->packed_today != s->counts[2]) {
		s->connected = a->connected;
		s->nqueue = a->nqueue;
		s->counts[0] = a->queued;
		s->counts[1] = a->in_progress;
		s->counts[2] = a->packed_today;
		printf("STATUS hub=%s hubd=%s queued=%" PRIu32 " in_progress=%"
		    PRIu32 " packed_today=%" PRIu32 " open_orders=%zu\n",
		    a->hub[0] != '\0' ? a->hub : "?", a->connected ? "up" : "down",
		    a->queued, a->in_progress, a->packed_today, a->nqueue);
	}
	app_prompt(a, prompt, sizeof(prompt));
	if (s->first || strcmp(prompt, s->prompt) != 0) {
		snprintf(s->prompt, sizeof(s->prompt), "%s", prompt);
		printf("> %s\n", prompt);
	}
	s->first = false;
	fflush(stdout);
}

static void on_line(app *a, char *line, int64_t now)
{
	size_t n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
		line[--n] = '\0';
	}
	if (n == 1 && (app_is_command(a, line[0]) || line[0] == '?')) {
		app_key(a, line[0], now);
		if (a->help) {
			printf("%s\n", app_help_text);
			a->help = false;
		}
		return;
	}
	app_line(a, line, now);
}

int plain_run(const pickterm_opts *o)
{
	app *a = calloc(1, sizeof(*a));
	plain_seen seen = { .first = true };
	char line[APP_INPUT_MAX + 2];
	bool eof = false;
	int64_t drain_until = 0;
	int rv;

	if (a == NULL) {
		return PICKTERM_EXIT_USAGE;
	}
	if ((rv = app_init(a, o, wall_now_ms())) != 0) {
		free(a);
		return rv;
	}
	app_tick(a, wall_now_ms());
	report(a, &seen);
	while (!a->quit) {
		struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
		if (!eof && poll(&p, 1, PLAIN_TICK_MS) > 0) {
			if (fgets(line, sizeof(line), stdin) == NULL) {
				eof = true;
				drain_until = wall_now_ms() + PLAIN_DRAIN_MS;
			} else {
				on_line(a, line, wall_now_ms());
			}
		} else if (eof) {
			struct timespec ts = { 0, PLAIN_TICK_MS * 1000000L };
			nanosleep(&ts, NULL);
		}
		app_tick(a, wall_now_ms());
		report(a, &seen);
		if (eof && (!a->has_pending || wall_now_ms() > drain_until)) {
			break;
		}
	}
	rv = PICKTERM_EXIT_OK;
	if (a->has_pending) {
		printf("ERROR '%s' was never answered by hubd\n", a->pending.what);
		rv = PICKTERM_EXIT_UNREACHABLE;
	}
	fflush(stdout);
	app_fini(a);
	free(a);
	return rv;
}
