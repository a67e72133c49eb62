/*
 * util.c - dropctl's shared plumbing (see dropctl.h): flags, strict number
 * parsing, blocking calls over one connection per run, tables and JSON
 * output.
 *
 * Single-threaded. Everything printed for humans goes to stdout; every
 * complaint goes to stderr, so `--json` output on stdout stays parseable.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/err.h"
#include "core/limits.h"
#include "io/auth.h"
#include "io/rpc.h"
#include "dropctl.h"

int dropctl_flag(int argc, char **argv, int *i, const char *name,
    const char **val)
{
	const char *a = argv[*i];
	size_t n = strlen(name);

	if (strncmp(a, name, n) != 0) {
		return 0;
	}
	if (a[n] == '=') {
		*val = a + n + 1;
		return 1;
	}
	if (a[n] != '\0') {
		return 0;
	}
	if (*i + 1 >= argc) {
		fprintf(stderr, "dropctl: %s needs a value\n", name);
		return -1;
	}
	*i += 1;
	*val = argv[*i];
	return 1;
}

bool dropctl_is_help(const char *arg)
{
	return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

int dropctl_global_flag(dropctl_opts *o, int argc, char **argv, int *i)
{
	const char *v = NULL;
	int rv;

	if (strcmp(argv[*i], "--json") == 0) {
		o->json = true;
		return 1;
	}
	if ((rv = dropctl_flag(argc, argv, i, "--coordinator", &v)) != 0) {
		o->coordinator = v;
		return rv;
	}
	if ((rv = dropctl_flag(argc, argv, i, "--ingest", &v)) != 0) {
		o->ingest = v;
		return rv;
	}
	/* TLS flags override the DROPNET_TLS_* variables that rpc_open and
	 * the signal subscriber read (common/io/nettls.h). */
	static const struct {
		const char *flag, *env;
	} tls_flags[] = {
		{"--tls-ca", "DROPNET_TLS_CA"},
		{"--tls-cert", "DROPNET_TLS_CERT"},
		{"--tls-key", "DROPNET_TLS_KEY"},
		{"--tls-crl", "DROPNET_TLS_CRL"},
	};
	for (size_t k = 0; k < sizeof(tls_flags) / sizeof(tls_flags[0]); k++) {
		if ((rv = dropctl_flag(argc, argv, i, tls_flags[k].flag, &v)) != 0) {
			if (rv > 0 && setenv(tls_flags[k].env, v, 1) != 0) {
				fprintf(stderr, "dropctl: %s: out of memory\n", tls_flags[k].flag);
				return -1;
			}
			return rv;
		}
	}
	if ((rv = dropctl_flag(argc, argv, i, "--timeout-ms", &v)) != 0) {
		if (rv < 0) {
			return rv;
		}
		int64_t t = 0;
		if (dropctl_parse_i64(v, 1, DROPCTL_TIMEOUT_MS_MAX, &t) != 0) {
			fprintf(stderr,
			    "dropctl: --timeout-ms must be an integer in 1..%d, "
			    "not '%s'\n",
			    DROPCTL_TIMEOUT_MS_MAX, v);
			return -1;
		}
		o->timeout_ms = (int)t;
		return 1;
	}
	return 0;
}

int dropctl_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "dropctl: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see 'dropctl %s --help')\n", cmd);
	return DROPCTL_EXIT_USAGE;
}

int dropctl_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end = NULL;

	if (s == NULL || s[0] == '\0') {
		return DN_EINVAL;
	}
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (end == s || *end != '\0') {
		return DN_EINVAL;
	}
	if (errno == ERANGE || v < min || v > max) {
		return DN_ERANGE;
	}
	*out = (int64_t)v;
	return 0;
}

int dropctl_parse_u32(const char *s, uint32_t *out)
{
	int64_t v = 0;
	int rv = dropctl_parse_i64(s, 0, UINT32_MAX, &v);
	if (rv == 0) {
		*out = (uint32_t)v;
	}
	return rv;
}

int dropctl_parse_double(const char *s, double *out)
{
	char *end = NULL;

	if (s == NULL || s[0] == '\0') {
		return DN_EINVAL;
	}
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end != '\0') {
		return DN_EINVAL;
	}
	/* Overflow to +-HUGE_VAL is refused; underflow to a tiny value is a
	 * number the user did type, so it is kept. Out-of-range coordinates
	 * are deliberately not checked: the coordinator answers INVALID. */
	if (errno == ERANGE && isinf(v)) {
		return DN_ERANGE;
	}
	*out = v;
	return 0;
}

/* One open connection per socket kind for the whole run: a command that
 * makes several calls (drop show asks the clock first, order show KEY...,
 * top's refreshes) pays for one dial and one TLS handshake, not one per
 * call. A call that fails drops its connection; the next one dials anew.
 * dropctl is single-threaded; dropctl_disconnect closes them at exit. */
static struct dropctl_conn {
	rpc_conn *c;
	char *url;
} dropctl_conns[2]; /* [0] ops socket, [1] ingest socket */

static void dropctl_conn_drop(struct dropctl_conn *k)
{
	rpc_close(k->c);
	free(k->url);
	k->c = NULL;
	k->url = NULL;
}

void dropctl_disconnect(void)
{
	for (size_t i = 0; i < sizeof(dropctl_conns) / sizeof(dropctl_conns[0]); i++) {
		dropctl_conn_drop(&dropctl_conns[i]);
	}
}

/* The run's connection to url (dialled and signing on first use), or an
 * exit code after printing why. */
static int dropctl_connect(const char *url, const char *what, rpc_conn **out)
{
	bool ingest = strcmp(what, "ingest socket") == 0;
	struct dropctl_conn *k = &dropctl_conns[ingest ? 1 : 0];
	rpc_conn *c = NULL;

	if (k->c != NULL && strcmp(k->url, url) == 0) {
		*out = k->c;
		return DROPCTL_EXIT_OK;
	}
	dropctl_conn_drop(k);
	/* The ingest socket is the storefronts': present the storefront
	 * certificate there when the environment names one. */
	int rv = rpc_open(&c, url, ingest ? NETTLS_AS_STOREFRONT : NETTLS_AS_DEFAULT);
	if (rv == DN_EINVAL) {
		fprintf(stderr, "dropctl: bad %s address '%s'\n", what, url);
		return DROPCTL_EXIT_USAGE;
	}
	if (rv != 0) {
		fprintf(stderr, "dropctl: cannot reach %s at %s (%s)\n", what,
		    url, dn_strerror(rv));
		return DROPCTL_EXIT_UNREACHABLE;
	}
	if (rpc_sign_from_env(c, ingest ? AUTH_SOCKET_INGEST : AUTH_SOCKET_OPS) == DN_EINVAL) {
		fprintf(stderr, "dropctl: %s is set but %s is not a readable 64-hex-digit"
		    " key file\n", ingest ? "DROPNET_STOREFRONT_AUTH_NAME" : "DROPNET_AUTH_NAME",
		    ingest ? "DROPNET_STOREFRONT_AUTH_KEY" : "DROPNET_AUTH_KEY");
		rpc_close(c);
		return DROPCTL_EXIT_USAGE;
	}
	if ((k->url = strdup(url)) == NULL) {
		rpc_close(c);
		fprintf(stderr, "dropctl: out of memory\n");
		return DROPCTL_EXIT_FAIL;
	}
	k->c = c;
	*out = c;
	return DROPCTL_EXIT_OK;
}

int dropctl_call(const char *url, const char *what, int timeout_ms,
    const uint8_t *req, size_t req_len, uint8_t **reply, size_t *reply_len)
{
	return dropctl_call_counter(url, what, timeout_ms, NULL, req, req_len, reply,
	    reply_len);
}

int dropctl_call_counter(const char *url, const char *what, int timeout_ms,
    uint64_t *counter, const uint8_t *req, size_t req_len, uint8_t **reply,
    size_t *reply_len)
{
	rpc_conn *c = NULL;
	int ex = dropctl_connect(url, what, &c);

	if (ex != DROPCTL_EXIT_OK) {
		return ex;
	}
	int rv = rpc_call_counter(c, counter, req, req_len, timeout_ms, reply, reply_len);
	if (rv != 0) {
		dropctl_conn_drop(&dropctl_conns[strcmp(what, "ingest socket") == 0]);
	}
	if (rv == DN_ENOMEM) {
		fprintf(stderr, "dropctl: out of memory\n");
		return DROPCTL_EXIT_FAIL;
	}
	if (rv != 0) {
		fprintf(stderr,
		    "dropctl: %s at %s did not answer within %d ms (%s)\n",
		    what, url, timeout_ms, dn_strerror(rv));
		return DROPCTL_EXIT_UNREACHABLE;
	}
	return DROPCTL_EXIT_OK;
}

/* One ops call to url: 0 with *out set, or the exit code (said). */
static int dropctl_ops_one(const dropctl_opts *o, const char *url, uint64_t *counter,
    const uint8_t *buf, size_t len, Dropnet__OpsReply **out)
{
	uint8_t *rep = NULL;
	size_t rep_len = 0;
	*out = NULL;
	int ex = dropctl_call_counter(url, "coordinator", o->timeout_ms, counter, buf, len,
	    &rep, &rep_len);
	if (ex != DROPCTL_EXIT_OK) {
		return ex;
	}
	int rv = codec_ops_reply_unpack(rep, rep_len, out);
	free(rep);
	if (rv == DN_ERANGE) {
		fprintf(stderr,
		    "dropctl: coordinator speaks protocol version %u, this "
		    "dropctl speaks %u\n",
		    (*out)->version, DN_PROTO_VERSION);
		codec_ops_reply_free(*out);
		*out = NULL;
		return DROPCTL_EXIT_FAIL;
	}
	if (rv != 0) {
		fprintf(stderr, "dropctl: coordinator's reply did not decode\n");
		return DROPCTL_EXIT_FAIL;
	}
	return DROPCTL_EXIT_OK;
}

int dropctl_ops_at(const dropctl_opts *o, const char *url, Dropnet__OpsRequest *req,
    Dropnet__OpsReply **out)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	*out = NULL;
	req->version = DN_PROTO_VERSION;
	if (codec_ops_request_pack(req, &buf, &len) != 0) {
		fprintf(stderr, "dropctl: out of memory\n");
		return DROPCTL_EXIT_FAIL;
	}
	int ex = dropctl_ops_one(o, url, NULL, buf, len, out);
	free(buf);
	return ex;
}

/* A replicated group: a follower answers NOT_LEADER (with the leader's
 * URL when it knows one), a new leader UNAVAILABLE while it takes over.
 * dropctl follows for this many calls, DROPCTL_FOLLOW_WAIT_MS apart when
 * no leader is named (an election takes a second or two). */
#define DROPCTL_FOLLOW_TRIES 20
#define DROPCTL_FOLLOW_WAIT_MS 250
/* A connection over its cap, or a read's counter seen already: again on
 * the same replica after this. */
#define DROPCTL_BUSY_WAIT_MS 20

/* Also a connection over its in-flight cap ("busy: ..."): the coordinator
 * counts a request until its reply's send completed, which it may learn
 * after dropctl already sent the next one on the same connection (seen in
 * test_drop: 2,001 `order show` keys one after another). Nothing was
 * done; it goes again after the wait. */
static bool dropctl_busy(const Dropnet__OpsReply *r)
{
	return r->status == DROPNET__STATUS__UNAVAILABLE && strncmp(r->message, "busy:", 5) == 0;
}

static bool dropctl_follow_again(const Dropnet__OpsReply *r)
{
	return r->status == DROPNET__STATUS__NOT_LEADER || dropctl_busy(r) ||
	    (r->status == DROPNET__STATUS__UNAVAILABLE && strstr(r->message, "taking over"));
}

/* The group refused a resent request's counter as used: an earlier try
 * was taken (coordinator/machine/identity.c, ident_ops_fresh). */
static bool dropctl_taken_before(const Dropnet__OpsReply *r)
{
	return r->status == DROPNET__STATUS__UNAUTHENTICATED &&
	    strstr(r->message, "counter already used") != NULL;
}

/* A resend after a lost answer was refused as a replay: the group took
 * the first try. Its first answer, when the refusal carries it (*out is
 * replaced by it), else said: acted on at most once. */
static int dropctl_first_answer(Dropnet__OpsReply **out)
{
	Dropnet__OpsReply *first = NULL;
	if ((*out)->first_answer.len > 0 &&
	    codec_ops_reply_unpack((*out)->first_answer.data, (*out)->first_answer.len,
	    &first) == 0) {
		fprintf(stderr, "dropctl: the answer to the first try was lost (a replica "
		    "died or the group failed over); the coordinator kept it: this is that "
		    "answer (the request was acted on once)\n");
		codec_ops_reply_free(*out);
		*out = first;
		return DROPCTL_EXIT_OK;
	}
	codec_ops_reply_free(first);
	fprintf(stderr, "dropctl: an earlier try of this request reached the "
	    "coordinator and its answer was lost (the replica died or the group "
	    "failed over); the group refused this copy as a replay, so the request "
	    "was acted on at most once. Read the state back (e.g. `dropctl drop "
	    "show`, `dropctl stock`) to see whether it took effect.\n");
	codec_ops_reply_free(*out);
	*out = NULL;
	return DROPCTL_EXIT_FAIL;
}

int dropctl_ops_call(const dropctl_opts *o, Dropnet__OpsRequest *req,
    Dropnet__OpsReply **out)
{
	const char *list = rpc_endpoint(o->coordinator, DROPCTL_ENV_COORDINATOR);
	uint8_t *buf = NULL;
	size_t len = 0;

	*out = NULL;
	if (list == NULL) {
		fprintf(stderr,
		    "dropctl: no coordinator: pass --coordinator URL or set "
		    "%s\n",
		    DROPCTL_ENV_COORDINATOR);
		return DROPCTL_EXIT_USAGE;
	}
	req->version = DN_PROTO_VERSION;
	if (codec_ops_request_pack(req, &buf, &len) != 0) {
		fprintf(stderr, "dropctl: out of memory\n");
		return DROPCTL_EXIT_FAIL;
	}
	/* --coordinator may list every replica of a group, comma-separated. */
	char urls[DROPCTL_URLS_MAX][256];
	size_t nurls = dropctl_url_split(list, urls, DROPCTL_URLS_MAX);
	char next[256];
	snprintf(next, sizeof(next), "%s", nurls > 0 ? urls[0] : list);
	int ex = DROPCTL_EXIT_UNREACHABLE;
	/* A write's every try carries its first try's counter; a read needs
	 * none of that (it changes nothing) and takes a fresh one each time. */
	bool write = auth_ops_role((int)req->kind) >= AUTH_ROLE_OPERATOR;
	uint64_t counter = 0;
	bool unknown = false;   /* a try went unanswered: it may have been taken */
	for (int t = 0, k = 0; t < DROPCTL_FOLLOW_TRIES; t++) {
		ex = dropctl_ops_one(o, next, write ? &counter : NULL, buf, len, out);
		/* A read refused as a replay: its counter was seen already - nng
		 * resends a request on a new connection when the one it went on
		 * drops, or another dropctl drew the same microsecond. A read
		 * changes nothing: it goes again with a fresh counter. */
		bool read_again = ex == DROPCTL_EXIT_OK && !write && dropctl_taken_before(*out);
		if (ex == DROPCTL_EXIT_OK && !dropctl_follow_again(*out) && !read_again) {
			break;
		}
		unknown |= ex == DROPCTL_EXIT_UNREACHABLE;
		bool named = ex == DROPCTL_EXIT_OK && (*out)->leader[0] != '\0' &&
		    strcmp((*out)->leader, next) != 0;
		bool busy = ex == DROPCTL_EXIT_OK && dropctl_busy(*out);
		if (busy || read_again) {
			struct timespec ts = {0, DROPCTL_BUSY_WAIT_MS * 1000000L};
			nanosleep(&ts, NULL);   /* the same replica, a moment later */
		} else if (named) {
			snprintf(next, sizeof(next), "%s", (*out)->leader);
		} else if (nurls > 1 || ex == DROPCTL_EXIT_OK) {
			k = nurls > 0 ? (k + 1) % (int)nurls : 0;
			snprintf(next, sizeof(next), "%s", nurls > 0 ? urls[k] : list);
			struct timespec ts = {0, DROPCTL_FOLLOW_WAIT_MS * 1000000L};
			nanosleep(&ts, NULL);
		} else {
			break;      /* one address, unreachable: said */
		}
		if (t + 1 < DROPCTL_FOLLOW_TRIES && ex == DROPCTL_EXIT_OK) {
			codec_ops_reply_free(*out);
			*out = NULL;
		}
	}
	free(buf);
	if (ex == DROPCTL_EXIT_OK && unknown && dropctl_taken_before(*out)) {
		return dropctl_first_answer(out);
	}
	return ex;
}

int dropctl_ops_paged(const dropctl_opts *o, Dropnet__OpsRequest *req,
    Dropnet__OpsKind then, dropctl_pages *p)
{
	char after[2 * DN_ID_MAX + 2] = "";
	memset(p, 0, sizeof(*p));
	req->limit = DROPCTL_PAGE_ROWS;
	req->after = "";
	for (;;) {
		if (p->n == DROPCTL_PAGES_MAX) {
			fprintf(stderr, "dropctl: more than %u pages; narrow the request\n",
			    DROPCTL_PAGES_MAX);
			dropctl_pages_free(p);
			return DROPCTL_EXIT_FAIL;
		}
		Dropnet__OpsReply *r = NULL;
		int ex = dropctl_ops_call(o, req, &r);
		if (ex != DROPCTL_EXIT_OK) {
			dropctl_pages_free(p);
			return ex;
		}
		p->page[p->n++] = r;
		/* An old coordinator ignores the limit and answers every row,
		 * with no cursor; a cursor that does not move would loop. */
		if (r->status != DROPNET__STATUS__OK || r->next[0] == '\0' ||
		    strcmp(r->next, after) == 0 || strlen(r->next) >= sizeof(after)) {
			return DROPCTL_EXIT_OK;
		}
		snprintf(after, sizeof(after), "%s", r->next);
		req->kind = then;
		req->after = after;
	}
}

const Dropnet__OpsReply *dropctl_pages_last(const dropctl_pages *p)
{
	return p->page[p->n - 1];
}

void dropctl_pages_free(dropctl_pages *p)
{
	for (size_t k = 0; k < p->n; k++) {
		codec_ops_reply_free(p->page[k]);
	}
	p->n = 0;
}

size_t dropctl_url_split(const char *list, char (*urls)[256], size_t max)
{
	size_t n = 0;
	const char *p = list;
	while (*p != '\0' && n < max) {
		size_t l = strcspn(p, ",");
		if (l > 0 && l < 256) {
			memcpy(urls[n], p, l);
			urls[n][l] = '\0';
			n++;
		}
		p += l;
		if (*p == ',') {
			p++;
		}
	}
	return n;
}

int dropctl_json_emit(json_t *j)
{
	if (j == NULL) {
		fprintf(stderr, "dropctl: out of memory building JSON\n");
		return DROPCTL_EXIT_FAIL;
	}
	/* 15 significant digits: what a double holds exactly in decimal, so
	 * 51.5074 prints as typed rather than 51.507399999999997. */
	char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER |
	    JSON_REAL_PRECISION(15));
	json_decref(j);
	if (s == NULL) {
		fprintf(stderr, "dropctl: out of memory building JSON\n");
		return DROPCTL_EXIT_FAIL;
	}
	puts(s);
	free(s);
	return DROPCTL_EXIT_OK;
}

int64_t dropctl_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int dropctl_sub_recv(nng_socket sock, int64_t deadline, const char *what, nng_msg **m)
{
	int64_t left = deadline > 0 ? deadline - dropctl_now_ms() : -1;
	if (deadline > 0 && left <= 0) {
		return DN_ETIMEDOUT;
	}
	nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, deadline > 0 ? (nng_duration)left :
	    NNG_DURATION_INFINITE);
	int rv = nng_recvmsg(sock, m, 0);
	if (rv == NNG_ETIMEDOUT) {
		return DN_ETIMEDOUT;
	}
	if (rv != 0) {
		fprintf(stderr, "dropctl: %s: %s\n", what, nng_strerror(rv));
		return DN_ENET;
	}
	return 0;
}

void dropctl_fmt_time(int64_t ms, char *buf, size_t len)
{
	if (ms <= 0) {
		snprintf(buf, len, "-");
		return;
	}
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	if (gmtime_r(&secs, &tm) == NULL) {
		snprintf(buf, len, "%" PRId64 "ms", ms);
		return;
	}
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

void dropctl_fmt_duration(int64_t ms, char *buf, size_t len)
{
	if (ms < 0) {
		snprintf(buf, len, "-");
	} else if (ms < 1000) {
		snprintf(buf, len, "%" PRId64 "ms", ms);
	} else if (ms < 60 * 1000) {
		snprintf(buf, len, "%.1fs", (double)ms / 1000.0);
	} else if (ms < 3600 * 1000) {
		int64_t s = ms / 1000;
		snprintf(buf, len, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
	} else if (ms < 86400 * (int64_t)1000) {
		int64_t m = ms / 60000;
		snprintf(buf, len, "%" PRId64 "h%02" PRId64 "m", m / 60, m % 60);
	} else {
		int64_t h = ms / 3600000;
		snprintf(buf, len, "%" PRId64 "d%02" PRId64 "h", h / 24, h % 24);
	}
}

void dropctl_table_init(dropctl_table *t, size_t ncol,
    const char *const *head, const char *align)
{
	memset(t, 0, sizeof(*t));
	t->ncol = ncol;
	t->head = head;
	t->align = align;
}

void dropctl_table_cell(dropctl_table *t, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	if (t->oom) {
		return;
	}
	if (t->ncells >= DROPCTL_TABLE_CELLS_MAX) {
		t->oom = true;
		return;
	}
	if (t->ncells == t->cap) {
		size_t cap = t->cap == 0 ? 64 : t->cap * 2;
		char **cells = realloc(t->cells, cap * sizeof(*cells));
		if (cells == NULL) {
			t->oom = true;
			return;
		}
		t->cells = cells;
		t->cap = cap;
	}
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		t->oom = true;
		return;
	}
	t->cells[t->ncells++] = s;
}

static void dropctl_table_row(const dropctl_table *t, const size_t *w,
    const char *const *row)
{
	for (size_t c = 0; c < t->ncol; c++) {
		bool last = c + 1 == t->ncol;
		const char *sep = c == 0 ? "" : "  ";
		if (t->align[c] == 'r') {
			printf("%s%*s", sep, (int)w[c], row[c]);
		} else if (last) {
			printf("%s%s", sep, row[c]);
		} else {
			printf("%s%-*s", sep, (int)w[c], row[c]);
		}
	}
	printf("\n");
}

int dropctl_table_print(const dropctl_table *t)
{
	if (t->oom) {
		fprintf(stderr, "dropctl: out of memory building the table\n");
		return DROPCTL_EXIT_FAIL;
	}
	size_t *w = calloc(t->ncol, sizeof(*w));
	if (w == NULL) {
		fprintf(stderr, "dropctl: out of memory building the table\n");
		return DROPCTL_EXIT_FAIL;
	}
	for (size_t c = 0; c < t->ncol; c++) {
		w[c] = strlen(t->head[c]);
	}
	for (size_t k = 0; k < t->ncells; k++) {
		size_t n = strlen(t->cells[k]);
		if (n > w[k % t->ncol]) {
			w[k % t->ncol] = n;
		}
	}
	dropctl_table_row(t, w, t->head);
	/* A partial last row (a caller bug) is not printed rather than read
	 * past the end. */
	for (size_t k = 0; k + t->ncol <= t->ncells; k += t->ncol) {
		dropctl_table_row(t, w, (const char *const *)&t->cells[k]);
	}
	free(w);
	return DROPCTL_EXIT_OK;
}

void dropctl_table_fini(dropctl_table *t)
{
	if (t == NULL) {
		return;
	}
	for (size_t k = 0; k < t->ncells; k++) {
		free(t->cells[k]);
	}
	free(t->cells);
	memset(t, 0, sizeof(*t));
}
