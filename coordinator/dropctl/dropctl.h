/*
 * dropctl.h - shared pieces of dropctl, the operations team's CLI: options,
 * exit codes, bounds, argument and number parsing, one blocking call to the
 * coordinator, aligned tables and JSON output.
 *
 * Thread model: single-threaded, one request per run.
 *
 * Exit codes (the scripting interface, see dropctl --help):
 *   0 answered OK, 1 the server answered with an error status (or audit
 *   found something, or the reply was unreadable), 2 usage error,
 *   3 coordinator unreachable (connect failure or timeout).
 */
#ifndef DN_DROPCTL_H
#define DN_DROPCTL_H
#include <nng/nng.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "io/codec.h"

enum {
	DROPCTL_EXIT_OK = 0,
	DROPCTL_EXIT_FAIL = 1,
	DROPCTL_EXIT_USAGE = 2,
	DROPCTL_EXIT_UNREACHABLE = 3,
};

/* Default wait for one reply: a coordinator answers in milliseconds; five
 * seconds covers a group commit on a slow disk with room to spare. */
#define DROPCTL_TIMEOUT_MS_DEFAULT 5000

/* Longest --timeout-ms accepted: ten minutes. A typo with extra zeros
 * should fail loudly rather than hang a script for hours. */
#define DROPCTL_TIMEOUT_MS_MAX 600000

/* Lines one `order submit` may carry. Deliberately above DN_ORDER_LINES_MAX
 * so that the coordinator, not the CLI, refuses an oversize order (INVALID,
 * field "lines"); still small enough that the message stays far below
 * DN_MSG_MAX_BYTES. */
#define DROPCTL_LINES_MAX 256u

/* Widest a free-text column (hub name) is printed in a table before it is
 * cut, so a table stays readable at 80 columns. */
#define DROPCTL_NAME_COL_MAX 16u

/* Cells in one table: bounds memory if a server sends an absurd reply
 * (hubs x skus rows of stock stays far below this). */
#define DROPCTL_TABLE_CELLS_MAX (1u << 22)

/* Environment variables consulted when the flags are absent. */
#define DROPCTL_ENV_COORDINATOR "DROPNET_COORDINATOR"
#define DROPCTL_ENV_INGEST "DROPNET_INGEST"

typedef struct {
	const char *coordinator; /* --coordinator, may be NULL */
	const char *ingest;      /* --ingest, may be NULL */
	bool json;
	int timeout_ms;
} dropctl_opts;

/* ---- argument parsing (util.c) ---- */

/* Matches argv[*i] against "--name value" or "--name=value". Returns 1 and
 * sets *val (advancing *i past a separate value), 0 when argv[*i] is not
 * this flag, -1 when the value is missing (message printed). */
int dropctl_flag(int argc, char **argv, int *i, const char *name,
    const char **val);

/* Consumes a global flag at argv[*i] (--coordinator, --ingest, --json,
 * --timeout-ms) into o. Returns 1 when consumed, 0 when argv[*i] is not
 * a global flag, -1 on a bad value (message printed). */
int dropctl_global_flag(dropctl_opts *o, int argc, char **argv, int *i);

/* True for "--help" or "-h". */
bool dropctl_is_help(const char *arg);

/* Prints "dropctl: <cmd>: <message>" and a hint to stderr; returns
 * DROPCTL_EXIT_USAGE. */
int dropctl_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Strict number parsing: the whole string must be the number (no
 * trailing junk, no empty string, no overflow). Return 0, DN_EINVAL (not
 * a number) or DN_ERANGE (outside [min, max] or does not fit). */
int dropctl_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
int dropctl_parse_u32(const char *s, uint32_t *out);
int dropctl_parse_double(const char *s, double *out);

/* ---- talking to the coordinator (util.c) ---- */
/* Replicas --coordinator may list (comma-separated): a group's members. */
#define DROPCTL_URLS_MAX 7
/* Splits a comma-separated list into at most max URLs (< 256 bytes each;
 * longer ones are skipped); returns how many. */
size_t dropctl_url_split(const char *list, char (*urls)[256], size_t max);

/* Sends one request of req_len bytes to url and waits for the reply, over
 * the run's one connection to that socket (dialled on first use).
 * Returns DROPCTL_EXIT_OK with a malloc'd *reply the caller frees, or an
 * exit code after printing why to stderr (what names the socket, e.g.
 * "coordinator"). */
int dropctl_call(const char *url, const char *what, int timeout_ms,
    const uint8_t *req, size_t req_len, uint8_t **reply, size_t *reply_len);
/* The same, signing with *counter (rpc_call_counter): for a request that
 * may be resent to another replica after an unknown outcome. */
int dropctl_call_counter(const char *url, const char *what, int timeout_ms,
    uint64_t *counter, const uint8_t *req, size_t req_len, uint8_t **reply,
    size_t *reply_len);

/* Closes the run's connections (main does, before exit). */
void dropctl_disconnect(void);

/* Sends an OpsRequest (version is filled in) to the ops socket and decodes
 * the reply. Returns DROPCTL_EXIT_OK with *out set (caller frees with
 * codec_ops_reply_free), or an exit code after printing why. The reply's
 * status is not checked here. In a group it follows the leader; every try
 * carries the first one's request counter, so a request whose answer was
 * lost (its replica died, a fail-over) is taken at most once: a copy the
 * group took before is refused as a replay, and dropctl says so and exits
 * DROPCTL_EXIT_FAIL. */
int dropctl_ops_call(const dropctl_opts *o, Dropnet__OpsRequest *req,
    Dropnet__OpsReply **out);

/* The same, to url only (no leader following): `replicas` asks each
 * replica of a group in turn. */
int dropctl_ops_at(const dropctl_opts *o, const char *url, Dropnet__OpsRequest *req,
    Dropnet__OpsReply **out);

/* A paged list (OPS_STOCK, OPS_HUBS): rows asked per page (the coordinator
 * sends fewer when they would not fit one message: ~20,000 stock rows), and
 * pages one run reads at most (bounds memory: 1,024 MiB of replies). */
#define DROPCTL_PAGE_ROWS 100000u
#define DROPCTL_PAGES_MAX 1024u
typedef struct {
	Dropnet__OpsReply *page[DROPCTL_PAGES_MAX];
	size_t n;
} dropctl_pages;

/* Sends req with limit DROPCTL_PAGE_ROWS, then asks for each next page
 * (req's kind set to then: OPS_HUBS after an OPS_HUB_SET) until the last.
 * DROPCTL_EXIT_OK with every page in *p, the last one the first not OK if
 * any (check dropctl_pages_last's status); else an exit code (said, *p
 * empty). A coordinator that does not page answers one page of every row.
 * Rows of different pages were read at different moments; each key shows
 * once. Free with dropctl_pages_free. */
int dropctl_ops_paged(const dropctl_opts *o, Dropnet__OpsRequest *req,
    Dropnet__OpsKind then, dropctl_pages *p);
const Dropnet__OpsReply *dropctl_pages_last(const dropctl_pages *p);
void dropctl_pages_free(dropctl_pages *p);

/* ---- output (util.c) ---- */

/* Prints j as one line of JSON on stdout and releases it. Returns
 * DROPCTL_EXIT_OK, or DROPCTL_EXIT_FAIL if j is NULL (out of memory). */
int dropctl_json_emit(json_t *j);

/* Current wall-clock time in ms since the epoch (the coordinator's time
 * stamps are wall-clock ms). */
int64_t dropctl_now_ms(void);

/* One message from a SUB socket by deadline (wall ms; <= 0: none): 0 with
 * *m set (caller frees), DN_ETIMEDOUT, or DN_ENET after printing why,
 * prefixed "dropctl: what: ". `feed` and `signals` read with it. */
int dropctl_sub_recv(nng_socket sock, int64_t deadline, const char *what, nng_msg **m);

/* "2026-11-26T18:00:00.123Z", or "-" for ms <= 0. */
void dropctl_fmt_time(int64_t ms, char *buf, size_t len);

/* A duration in short human form: "850ms", "12.3s", "4m05s", "2h13m",
 * "3d04h". Negative durations print as "-". */
void dropctl_fmt_duration(int64_t ms, char *buf, size_t len);

/* An aligned text table. Cells are added left to right, row after row;
 * align[c] is 'l' or 'r'. */
typedef struct {
	size_t ncol;
	const char *const *head;
	const char *align;
	char **cells;
	size_t ncells, cap;
	bool oom;
} dropctl_table;

void dropctl_table_init(dropctl_table *t, size_t ncol,
    const char *const *head, const char *align);
/* Appends one cell (printf-style). Out of memory is remembered and
 * reported by dropctl_table_print. */
void dropctl_table_cell(dropctl_table *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prints header and rows to stdout, two spaces between columns. Returns
 * DROPCTL_EXIT_OK or DROPCTL_EXIT_FAIL (out of memory while filling). */
int dropctl_table_print(const dropctl_table *t);
void dropctl_table_fini(dropctl_table *t);

/* ---- commands (ops_cmd.c, submit_cmd.c) ---- */

/* Each takes argv[0] = the command word and returns the exit code. */
int dropctl_hubs(dropctl_opts *o, int argc, char **argv);
int dropctl_stock(dropctl_opts *o, int argc, char **argv);
int dropctl_audit(dropctl_opts *o, int argc, char **argv);
int dropctl_order_show(dropctl_opts *o, int argc, char **argv);
int dropctl_order_submit(dropctl_opts *o, int argc, char **argv);
/* order confirm / order release: argv[0] is "confirm" or "release". */
int dropctl_order_hold_action(dropctl_opts *o, int argc, char **argv);

/* ---- drops (drop_cmd.c, kpi_cmd.c) ---- */

/* drop create|show|list|open|close: argv[0] is "drop". */
int dropctl_drop(dropctl_opts *o, int argc, char **argv);
/* holdback release: argv[0] is "holdback". */
int dropctl_holdback(dropctl_opts *o, int argc, char **argv);
int dropctl_kpi(dropctl_opts *o, int argc, char **argv);
/* price_cmd.c: `price live|show` (ops) and `quote` (ingest). */
int dropctl_price(dropctl_opts *o, int argc, char **argv);
int dropctl_quote(dropctl_opts *o, int argc, char **argv);
int dropctl_experiment(dropctl_opts *o, int argc, char **argv);
/* `activation add|list` (activation_cmd.c). */
int dropctl_activation(dropctl_opts *o, int argc, char **argv);
/* Activations as a JSON array (NULL out of memory) and as a text table
 * (returns an exit code); kpi_cmd.c shows them too. */
json_t *dropctl_activations_json(Dropnet__Activation *const *a, size_t n);
int dropctl_activations_print(Dropnet__Activation *const *a, size_t n);
/* `replicas [add SPEC | remove ID]` (replicas_cmd.c). */
int dropctl_replicas(dropctl_opts *o, int argc, char **argv);
/* The live view from the coordinator's /metrics (top_cmd.c). */
int dropctl_top(dropctl_opts *o, int argc, char **argv);
int dropctl_clock(dropctl_opts *o, int argc, char **argv);

/* ---- forecast and rebalancing (rebalance_cmd.c) ---- */

int dropctl_demand(dropctl_opts *o, int argc, char **argv);
/* rebalance plan|apply: argv[0] is "rebalance". */
int dropctl_rebalance(dropctl_opts *o, int argc, char **argv);
int dropctl_transfers(dropctl_opts *o, int argc, char **argv);
/* Subscribes to the coordinator's signal socket (not the ops socket). */
int dropctl_signals(dropctl_opts *o, int argc, char **argv);
/* The price and availability feed on the same socket (feed_cmd.c). */
int dropctl_feed(dropctl_opts *o, int argc, char **argv);

/* The coordinator's wall clock (OPS_CLOCK with clock_ms 0), the base of
 * relative times; falls back to our own clock when the coordinator does not
 * answer OK. Returns DROPCTL_EXIT_OK or an exit code (message printed). */
int dropctl_coord_clock(const dropctl_opts *o, int64_t *out);

/* A Drop as JSON mirroring the proto (gift null when none); NULL when out
 * of memory. */
json_t *dropctl_drop_json(const Dropnet__Drop *d);

#endif
