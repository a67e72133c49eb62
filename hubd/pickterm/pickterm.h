/*
 * pickterm.h - the hub staff's terminal. This issue: command mode only
 * (one request per run, like dropctl); the full-screen ncurses terminal
 * comes later and will reuse the request helpers declared here.
 *
 * Exit codes: 0 the hub answered OK; 1 it answered another status (the
 * reason on stderr); 2 usage error; 3 hub unreachable.
 */
#ifndef PICKTERM_H
#define PICKTERM_H
#include <stdbool.h>
#include <stdio.h>
#include "io/codec.h"

#define PICKTERM_EXIT_OK 0
#define PICKTERM_EXIT_STATUS 1
#define PICKTERM_EXIT_USAGE 2
#define PICKTERM_EXIT_UNREACHABLE 3

/* Environment variables: the hub's terminal socket, the operator's name. */
#define PICKTERM_ENV_HUB "DROPNET_HUB"
#define PICKTERM_ENV_OPERATOR "DROPNET_OPERATOR"
/* hubd's default hub.term_url: used when neither --hub nor $DROPNET_HUB. */
#define PICKTERM_HUB_DEFAULT "ipc:///tmp/dropnet-hub.sock"
/* One request waits this long for the hub (a local socket: 5 s is dead). */
#define PICKTERM_TIMEOUT_MS 5000

typedef struct {
	const char *hub;      /* endpoint, resolved */
	const char *operator_;
	const char *request_key; /* writes: a retry with it is answered once */
	bool json;
} pickterm_opts;

/* Sends req (version and operator filled in here) and waits for the reply.
 * Returns 0 with *rep (free with codec_term_reply_free), or an exit code:
 * PICKTERM_EXIT_UNREACHABLE (message printed) / PICKTERM_EXIT_STATUS when
 * the reply did not decode. */
int pickterm_call(const pickterm_opts *o, Dropnet__TermRequest *req,
    Dropnet__TermReply **rep);

/* Runs one command: argv[0] is the command word. Returns an exit code. */
int pickterm_cmd_run(const pickterm_opts *o, int argc, char **argv);

/* Top-level usage text. */
void pickterm_usage(FILE *f);

#endif
