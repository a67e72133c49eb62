/*
 * top_cmd.c - `dropctl top`: a live view of the network from the
 * coordinator's /metrics (docs/metrics.md): orders/s and refusals/s with a
 * sparkline, ack latency p50/p99, demand spikes and the planner's plans,
 * each hub's health and stream lag, each open drop's sell-through. Full screen (ncurses) on a terminal; --plain
 * prints one text block per interval (pipes, logs, tests).
 *
 * One thread: scrape (nng's HTTP client, bounded by --timeout-ms), diff
 * against the previous scrape, draw, wait for the interval or a key.
 */
#include <curses.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <nng/supplemental/tls/tls.h>
#include "core/metrics.h"
#include "io/nettls.h"
#include "dropctl.h"

/* Samples kept from one scrape: a coordinator with 64 hubs and a few open
 * drops has ~1,500; more are ignored (counted in the header). */
#define TOP_SAMPLES_MAX 8192
/* Rates kept for the sparkline: one per interval. */
#define TOP_SPARK 48
/* Lines and columns of one rendered view. */
#define TOP_LINES_MAX 96
#define TOP_COLS 160
/* A scrape body larger than this is refused (a wrong URL, not metrics). */
#define TOP_BODY_MAX (8u << 20)
#define TOP_ENV_METRICS "DROPNET_METRICS"

typedef struct {
	char name[80];
	char labels[200];
	double v;
} top_sample;

typedef struct {
	top_sample *s;
	size_t n, dropped;
	double t;         /* monotonic seconds at the scrape */
} top_scrape;

typedef struct {
	const char *url;
	int interval_ms, timeout_ms;
	long count;       /* snapshots to show; 0: until q / interrupted */
	bool plain;
	top_scrape cur, prev;
	bool have_prev;
	double orders_rate[TOP_SPARK], refusals_rate[TOP_SPARK];
	size_t nspark;
	char lines[TOP_LINES_MAX][TOP_COLS];
	size_t nlines;
	char error[256];
} top_state;

static void top_help(void)
{
	printf("usage: dropctl top [--metrics URL] [--interval-ms N] [--plain] [--count N]\n"
	       "\n"
	       "A live view of the network from the coordinator's /metrics\n"
	       "(metrics.listen; docs/metrics.md): orders/s and refusals/s with a\n"
	       "sparkline, ack latency p50/p99 over the last interval, demand spikes\n"
	       "by hub and the rebalance plans carried out (units released and moved),\n"
	       "each hub's health, stream lag and last sync, and each open drop's\n"
	       "sell-through.\n"
	       "Full screen on a terminal (q quits); --plain prints one block per\n"
	       "interval instead (for pipes).\n"
	       "\n"
	       "  --metrics URL      the coordinator's /metrics (default $%s); an\n"
	       "                     https:// one is read with DROPNET_TLS_CERT/_KEY\n"
	       "                     (an operator's) and checked against DROPNET_TLS_CA\n"
	       "  --interval-ms N    refresh period (100..60000, default 1000)\n"
	       "  --plain            text blocks on stdout, no screen handling\n"
	       "  --count N          stop after N snapshots (default: run until q)\n"
	       "\n"
	       "exit codes: 0 ok, 2 usage, 3 /metrics unreachable (--plain: the first scrape)\n",
	    TOP_ENV_METRICS);
}

static double top_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One sample line "name{labels} value" into s; false for comments and
 * anything unparsable. */
static bool top_parse_line(const char *line, size_t len, top_sample *s)
{
	if (len == 0 || line[0] == '#') {
		return false;
	}
	size_t i = 0;
	while (i < len && line[i] != '{' && line[i] != ' ') {
		i++;
	}
	if (i == 0 || i >= sizeof(s->name)) {
		return false;
	}
	memcpy(s->name, line, i);
	s->name[i] = '\0';
	s->labels[0] = '\0';
	if (i < len && line[i] == '{') {
		size_t j = i + 1;
		while (j < len && !(line[j] == '}' && line[j - 1] != '\\')) {
			j++;
		}
		if (j >= len || j - i - 1 >= sizeof(s->labels)) {
			return false;
		}
		memcpy(s->labels, line + i + 1, j - i - 1);
		s->labels[j - i - 1] = '\0';
		i = j + 1;
	}
	char num[64];
	size_t nl = len - i;
	if (nl == 0 || nl >= sizeof(num)) {
		return false;
	}
	memcpy(num, line + i, nl);
	num[nl] = '\0';
	char *end = NULL;
	s->v = strtod(num, &end);
	return end != num;
}

static void top_parse(top_scrape *sc, const char *body, size_t len)
{
	sc->n = sc->dropped = 0;
	size_t i = 0;
	while (i < len) {
		size_t j = i;
		while (j < len && body[j] != '\n') {
			j++;
		}
		top_sample s;
		if (top_parse_line(body + i, j - i, &s)) {
			if (sc->n < TOP_SAMPLES_MAX) {
				sc->s[sc->n++] = s;
			} else {
				sc->dropped++;
			}
		}
		i = j + 1;
	}
}

/* An https:// URL: the client presents the operator's certificate and
 * checks the daemon's (DROPNET_TLS_*, --tls-*; nettls.h). 0 or an nng
 * error (NNG_EINVAL: the files are missing or bad, logged). */
static int top_tls(nng_http_client *cli, const nng_url *u, const char *url)
{
	if (strcmp(u->u_scheme, "https") != 0) {
		return 0;
	}
	nettls_files f;
	nettls_files_from_env(&f, NETTLS_AS_DEFAULT);
	struct nng_tls_config *cfg = NULL;
	if (nettls_http_config(url, &f, false, &cfg) != 0) {
		return NNG_EINVAL;
	}
	int rv = nng_http_client_set_tls(cli, cfg);
	nng_tls_config_free(cfg);
	return rv;
}

/* GET url into sc. 0, or an nng error / HTTP status with a message. */
static int top_fetch(top_state *st, top_scrape *sc)
{
	nng_url *u = NULL;
	nng_http_client *cli = NULL;
	nng_http_req *req = NULL;
	nng_http_res *res = NULL;
	nng_aio *aio = NULL;
	int rv = nng_url_parse(&u, st->url);
	if (rv == 0 && (rv = nng_http_client_alloc(&cli, u)) == 0 &&
	    (rv = top_tls(cli, u, st->url)) == 0 &&
	    (rv = nng_http_req_alloc(&req, u)) == 0 && (rv = nng_http_res_alloc(&res)) == 0 &&
	    (rv = nng_aio_alloc(&aio, NULL, NULL)) == 0) {
		nng_aio_set_timeout(aio, st->timeout_ms);
		nng_http_client_transact(cli, req, res, aio);
		nng_aio_wait(aio);
		rv = nng_aio_result(aio);
	}
	if (rv != 0) {
		snprintf(st->error, sizeof(st->error), "%s: %s", st->url, nng_strerror(rv));
	} else if (nng_http_res_get_status(res) != 200) {
		snprintf(st->error, sizeof(st->error), "%s: HTTP %u", st->url,
		    (unsigned)nng_http_res_get_status(res));
		rv = NNG_EINVAL;
	} else {
		void *body = NULL;
		size_t len = 0;
		nng_http_res_get_data(res, &body, &len);
		top_parse(sc, body, len < TOP_BODY_MAX ? len : 0);
		sc->t = top_now();
		st->error[0] = '\0';
	}
	nng_aio_free(aio);
	nng_http_res_free(res);
	nng_http_req_free(req);
	nng_http_client_free(cli);
	nng_url_free(u);
	return rv;
}

/* The value of label key in a sample's label text, into out ("" if none). */
static void top_label(const char *labels, const char *key, char *out, size_t len)
{
	size_t kl = strlen(key);
	out[0] = '\0';
	for (const char *p = labels; p != NULL && *p != '\0';) {
		if (strncmp(p, key, kl) == 0 && p[kl] == '=' && p[kl + 1] == '"') {
			const char *v = p + kl + 2;
			size_t n = 0;
			while (v[n] != '\0' && !(v[n] == '"' && (n == 0 || v[n - 1] != '\\'))) {
				n++;
			}
			snprintf(out, len, "%.*s", (int)n, v);
			return;
		}
		p = strstr(p, "\",");
		p = p != NULL ? p + 2 : NULL;
	}
}

/* The sum of name's samples whose label key is val (key NULL: all). */
static double top_sum(const top_scrape *sc, const char *name, const char *key,
    const char *val)
{
	double sum = 0;
	char lv[128];
	for (size_t i = 0; i < sc->n; i++) {
		if (strcmp(sc->s[i].name, name) != 0) {
			continue;
		}
		if (key != NULL) {
			top_label(sc->s[i].labels, key, lv, sizeof(lv));
			if (strcmp(lv, val) != 0) {
				continue;
			}
		}
		sum += sc->s[i].v;
	}
	return sum;
}

/* A histogram's buckets (name_bucket with path=ingest) from sc minus prev
 * (when given) into h: the last interval's distribution. */
static void top_hist(const top_scrape *sc, const top_scrape *prev, const char *name,
    metrics_hist *h, double *bounds)
{
	char bucket[96], lv[64], le[32];
	snprintf(bucket, sizeof(bucket), "%s_bucket", name);
	size_t nb = 0;
	double last = 0, prev_last = 0;
	memset(h, 0, sizeof(*h));
	for (size_t i = 0; i < sc->n && nb < METRICS_BUCKETS_MAX; i++) {
		const top_sample *s = &sc->s[i];
		if (strcmp(s->name, bucket) != 0) {
			continue;
		}
		top_label(s->labels, "path", lv, sizeof(lv));
		top_label(s->labels, "le", le, sizeof(le));
		if (strcmp(lv, "ingest") != 0 || strcmp(le, "+Inf") == 0) {
			continue;
		}
		double p = 0;
		for (size_t k = 0; prev != NULL && k < prev->n; k++) {
			if (strcmp(prev->s[k].name, bucket) == 0 &&
			    strcmp(prev->s[k].labels, s->labels) == 0) {
				p = prev->s[k].v;
				break;
			}
		}
		bounds[nb] = strtod(le, NULL);
		h->counts[nb] = (uint64_t)fmax(0, (s->v - p) - (last - prev_last));
		h->count += h->counts[nb];
		last = s->v;
		prev_last = p;
		nb++;
	}
	h->bounds = bounds;
	h->nbounds = nb;
}

static void top_line(top_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void top_line(top_state *st, const char *fmt, ...)
{
	if (st->nlines >= TOP_LINES_MAX) {
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(st->lines[st->nlines++], TOP_COLS, fmt, ap);
	va_end(ap);
}

/* The rates as a sparkline of width TOP_SPARK, scaled to their maximum. */
static void top_spark(const double *r, size_t n, char *out)
{
	static const char levels[] = " .:-=+*#@";
	double max = 0;
	for (size_t i = 0; i < n; i++) {
		max = fmax(max, r[i]);
	}
	size_t k = 0;
	for (size_t i = n < TOP_SPARK ? TOP_SPARK - n : 0; i > 0; i--) {
		out[k++] = ' ';
	}
	for (size_t i = 0; i < n; i++) {
		int lv = max > 0 ? (int)lround(r[i] / max * 8) : 0;
		out[k++] = levels[lv < 0 ? 0 : lv > 8 ? 8 : lv];
	}
	out[k] = '\0';
}

/* " value count" for every non-zero sample of counter name, by its label
 * key, into by (TOP_COLS); " none" when there is none. Returns by. */
static const char *top_by(const top_scrape *c, const char *name, const char *key, char *by)
{
	char lv[64];
	size_t bl = 0;
	by[0] = '\0';
	for (size_t i = 0; i < c->n && bl < TOP_COLS - 40; i++) {
		if (strcmp(c->s[i].name, name) == 0 && c->s[i].v > 0) {
			top_label(c->s[i].labels, key, lv, sizeof(lv));
			bl += (size_t)snprintf(by + bl, TOP_COLS - bl, " %s %.0f", lv, c->s[i].v);
		}
	}
	return bl > 0 ? by : " none";
}

static void top_rates(top_state *st, double *orders, double *refusals)
{
	const top_scrape *c = &st->cur, *p = &st->prev;
	*orders = *refusals = 0;
	if (st->have_prev && c->t > p->t) {
		double dt = c->t - p->t;
		*orders = fmax(0, top_sum(c, "dropnet_orders_total", NULL, NULL) -
		    top_sum(p, "dropnet_orders_total", NULL, NULL)) / dt;
		*refusals = fmax(0, top_sum(c, "dropnet_refusals_total", NULL, NULL) -
		    top_sum(p, "dropnet_refusals_total", NULL, NULL)) / dt;
	}
	if (st->nspark == TOP_SPARK) {
		memmove(st->orders_rate, st->orders_rate + 1, (TOP_SPARK - 1) * sizeof(double));
		memmove(st->refusals_rate, st->refusals_rate + 1, (TOP_SPARK - 1) * sizeof(double));
		st->nspark--;
	}
	st->orders_rate[st->nspark] = *orders;
	st->refusals_rate[st->nspark++] = *refusals;
}

/* The top block: rates, sparklines, totals, latency. */
static void top_render_head(top_state *st)
{
	const top_scrape *c = &st->cur;
	double orders, refusals;
	top_rates(st, &orders, &refusals);
	char spark[TOP_SPARK + 1], ts[32];
	time_t now = time(NULL);
	strftime(ts, sizeof(ts), "%H:%M:%S UTC", gmtime(&now));
	top_line(st, "dropnet top  %s  every %.1f s  %s%s", st->url, st->interval_ms / 1000.0,
	    ts, c->dropped ? "  (samples dropped)" : "");
	top_spark(st->orders_rate, st->nspark, spark);
	top_line(st, "orders/s   %8.1f |%s| total %.0f", orders, spark,
	    top_sum(c, "dropnet_orders_total", NULL, NULL));
	top_spark(st->refusals_rate, st->nspark, spark);
	top_line(st, "refusals/s %8.1f |%s| total %.0f", refusals, spark,
	    top_sum(c, "dropnet_refusals_total", NULL, NULL));
	char by[TOP_COLS];
	top_line(st, "refused by reason:%s", top_by(c, "dropnet_refusals_total", "reason", by));
	metrics_hist h;
	double bounds[METRICS_BUCKETS_MAX];
	top_hist(c, st->have_prev ? &st->prev : NULL, "dropnet_ack_latency_seconds", &h, bounds);
	if (h.count == 0) {
		top_hist(c, NULL, "dropnet_ack_latency_seconds", &h, bounds);
	}
	top_line(st, "ack latency p50 %.2f ms  p99 %.2f ms  (%llu acks)",
	    metrics_hist_quantile(&h, 0.5) * 1e3, metrics_hist_quantile(&h, 0.99) * 1e3,
	    (unsigned long long)h.count);
}

static void top_render_hubs(top_state *st)
{
	static const char *const health[] = {"ok", "SILENT", "DOWN"};
	const top_scrape *c = &st->cur;
	char hub[80];
	top_line(st, "%s", "");
	top_line(st, "%-16s %-7s %10s %12s", "HUB", "HEALTH", "CMDS_LAG", "LAST_SYNC_S");
	for (size_t i = 0; i < c->n; i++) {
		if (strcmp(c->s[i].name, "dropnet_hub_health") != 0) {
			continue;
		}
		top_label(c->s[i].labels, "hub", hub, sizeof(hub));
		int hv = (int)c->s[i].v;
		double age = top_sum(c, "dropnet_hub_last_sync_age_seconds", "hub", hub);
		top_line(st, "%-16.16s %-7s %10.0f %12.1f", hub, health[hv >= 0 && hv <= 2 ? hv : 2],
		    top_sum(c, "dropnet_hub_commands_queued", "hub", hub), age);
	}
}

static void top_render_drops(top_state *st)
{
	const top_scrape *c = &st->cur;
	char drop[80], sku[80];
	top_line(st, "%s", "");
	top_line(st, "%-16s %-16s %7s %7s %8s %7s  %s", "DROP", "SKU", "UNITS", "SOLD",
	    "SELLABLE", "HELD", "SELL-THROUGH");
	for (size_t i = 0; i < c->n; i++) {
		if (strcmp(c->s[i].name, "dropnet_drop_units") != 0) {
			continue;
		}
		top_label(c->s[i].labels, "drop", drop, sizeof(drop));
		top_label(c->s[i].labels, "sku", sku, sizeof(sku));
		double units = c->s[i].v, sellable = 0, held = 0;
		for (size_t k = 0; k < c->n; k++) {
			if (strcmp(c->s[k].labels, c->s[i].labels) != 0) {
				continue;
			}
			if (strcmp(c->s[k].name, "dropnet_drop_sellable") == 0) {
				sellable = c->s[k].v;
			} else if (strcmp(c->s[k].name, "dropnet_drop_holdback") == 0) {
				held = c->s[k].v;
			}
		}
		double sold = fmax(0, units - sellable - held);
		double frac = units > 0 ? fmin(1, sold / units) : 0;
		char bar[21];
		int fill = (int)lround(frac * 20);
		for (int b = 0; b < 20; b++) {
			bar[b] = b < fill ? '#' : '.';
		}
		bar[20] = '\0';
		top_line(st, "%-16.16s %-16.16s %7.0f %7.0f %8.0f %7.0f  %3.0f%% [%s]%s", drop, sku,
		    units, sold, sellable, held, frac * 100, bar, sellable <= 0 ? " SOLD OUT" : "");
	}
}

/* A counter's sum now and what the last interval added (0 on the first
 * scrape). */
static double top_delta(const top_state *st, const char *name, const char *key,
    const char *val, double *now)
{
	*now = top_sum(&st->cur, name, key, val);
	return st->have_prev ? fmax(0, *now - top_sum(&st->prev, name, key, val)) : 0;
}

/* Spikes declared and plans carried out: totals, the last interval's part,
 * and the hubs that have spiked. */
static void top_render_planner(top_state *st)
{
	const top_scrape *c = &st->cur;
	double n, d = top_delta(st, "dropnet_demand_spikes_total", NULL, NULL, &n);
	char by[TOP_COLS];
	top_line(st, "%s", "");
	top_line(st, "spikes     total %.0f (+%.0f)  by hub:%s", n, d,
	    top_by(c, "dropnet_demand_spikes_total", "hub", by));
	double plans, rel, mov;
	double dp = top_delta(st, "dropnet_rebalance_plans_total", NULL, NULL, &plans);
	double dr = top_delta(st, "dropnet_rebalance_units_total", "action", "released", &rel);
	double dm = top_delta(st, "dropnet_rebalance_units_total", "action", "moved", &mov);
	top_line(st, "planner    plans %.0f (+%.0f)  released %.0f (+%.0f)  moved %.0f (+%.0f)"
	    " units", plans, dp, rel, dr, mov, dm);
}

static void top_render(top_state *st)
{
	st->nlines = 0;
	top_render_head(st);
	top_render_planner(st);
	top_render_hubs(st);
	top_render_drops(st);
}

/* One scrape and render: the view, or the error line when it failed (the
 * previous figures are kept for the next rates). 0 or the nng error. */
static int top_step(top_state *st)
{
	top_scrape tmp = st->prev;
	st->prev = st->cur;
	st->cur = tmp;
	int rv = top_fetch(st, &st->cur);
	if (rv != 0) {
		tmp = st->prev;
		st->prev = st->cur;
		st->cur = tmp;
		st->nlines = 0;
		top_line(st, "dropnet top: %s (retrying every %.1f s)", st->error,
		    st->interval_ms / 1000.0);
		return rv;
	}
	top_render(st);
	st->have_prev = true;
	return 0;
}

static int top_plain(top_state *st)
{
	for (long i = 0; st->count == 0 || i < st->count; i++) {
		if (i > 0) {
			struct timespec ts = {st->interval_ms / 1000,
				(long)(st->interval_ms % 1000) * 1000000L};
			nanosleep(&ts, NULL);
		}
		int rv = top_step(st);
		if (rv != 0 && !st->have_prev) {
			fprintf(stderr, "dropctl: top: %s\n", st->error);
			return DROPCTL_EXIT_UNREACHABLE;
		}
		for (size_t l = 0; l < st->nlines; l++) {
			printf("%s\n", st->lines[l]);
		}
		printf("\n");
		fflush(stdout);
	}
	return DROPCTL_EXIT_OK;
}

static int top_screen(top_state *st)
{
	setlocale(LC_ALL, "");
	if (initscr() == NULL) {
		fprintf(stderr, "dropctl: top: cannot start the screen (try --plain)\n");
		return DROPCTL_EXIT_FAIL;
	}
	cbreak();
	noecho();
	curs_set(0);
	keypad(stdscr, TRUE);
	timeout(st->interval_ms);
	for (long i = 0; st->count == 0 || i < st->count; i++) {
		top_step(st);
		erase();
		int rows = LINES, cols = COLS;
		for (size_t l = 0; l < st->nlines && (int)l < rows - 1; l++) {
			mvaddnstr((int)l, 0, st->lines[l], cols);
		}
		mvaddnstr(rows - 1, 0, "q: quit", cols);
		refresh();
		int ch = getch();
		if (ch == 'q' || ch == 'Q') {
			break;
		}
	}
	endwin();
	return DROPCTL_EXIT_OK;
}

static int top_args(top_state *st, dropctl_opts *o, int argc, char **argv)
{
	const char *v = NULL;
	for (int i = 1; i < argc; i++) {
		int64_t n = 0;
		if (dropctl_is_help(argv[i])) {
			top_help();
			return -1;
		} else if (strcmp(argv[i], "--plain") == 0) {
			st->plain = true;
		} else if (dropctl_flag(argc, argv, &i, "--metrics", &v) > 0) {
			st->url = v;
		} else if (dropctl_flag(argc, argv, &i, "--interval-ms", &v) > 0) {
			if (dropctl_parse_i64(v, 100, 60000, &n) != 0) {
				return dropctl_usage_error("top", "--interval-ms wants 100..60000, not '%s'", v);
			}
			st->interval_ms = (int)n;
		} else if (dropctl_flag(argc, argv, &i, "--count", &v) > 0) {
			if (dropctl_parse_i64(v, 1, 1000000, &n) != 0) {
				return dropctl_usage_error("top", "--count wants 1..1000000, not '%s'", v);
			}
			st->count = (long)n;
		} else {
			/* Global flags (--timeout-ms...) after the command word. */
			int g = dropctl_global_flag(o, argc, argv, &i);
			if (g < 0) {
				return DROPCTL_EXIT_USAGE;
			}
			if (g == 0) {
				return dropctl_usage_error("top", "unknown argument '%s'", argv[i]);
			}
		}
	}
	st->timeout_ms = o->timeout_ms;
	if (st->url == NULL && (st->url = getenv(TOP_ENV_METRICS)) == NULL) {
		return dropctl_usage_error("top", "no --metrics URL and no $%s", TOP_ENV_METRICS);
	}
	return 0;
}

int dropctl_top(dropctl_opts *o, int argc, char **argv)
{
	static top_state st;
	memset(&st, 0, sizeof(st));
	st.interval_ms = 1000;
	int rv = top_args(&st, o, argc, argv);
	if (rv != 0) {
		return rv < 0 ? DROPCTL_EXIT_OK : rv;
	}
	st.cur.s = calloc(TOP_SAMPLES_MAX, sizeof(top_sample));
	st.prev.s = calloc(TOP_SAMPLES_MAX, sizeof(top_sample));
	if (st.cur.s == NULL || st.prev.s == NULL) {
		free(st.cur.s);
		free(st.prev.s);
		fprintf(stderr, "dropctl: top: out of memory\n");
		return DROPCTL_EXIT_FAIL;
	}
	rv = st.plain ? top_plain(&st) : top_screen(&st);
	free(st.cur.s);
	free(st.prev.s);
	return rv;
}
