/*
 * main.c - loadgen: arguments, the worker threads, and the report.
 *
 * Exit codes: 0 every buyer got an answer (whatever it was: SOLD_OUT is a
 * result, not a failure), 1 some buyers got no answer after retries,
 * 2 usage, 3 no buyer got an answer (coordinator unreachable).
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "core/err.h"
#include "core/sample.h"
#include "io/auth.h"
#include "io/codec.h"
#include "io/nettls.h"
#include "io/rpc.h"
#include "dnclient.h"
#include "loadgen.h"

#define LG_ENV_INGEST "DROPNET_INGEST"

/* Worker stack: a worker keeps a few small buffers on its stack; the
 * default 8 MiB per thread would reserve 8 GiB of address space at the
 * concurrency bound. */
#define LG_STACK_BYTES (256u * 1024u)

enum { LG_EXIT_OK = 0, LG_EXIT_PARTIAL = 1, LG_EXIT_USAGE = 2,
	LG_EXIT_UNREACHABLE = 3 };

static void lg_help(void)
{
	printf(
	    "usage: loadgen [--ingest URL] --buyers N --concurrency C\n"
	    "               (--sku S[,S2,...] | --sku-range PREFIX:N) [--qty Q]\n"
	    "               [--storefront F]\n"
	    "               [--key-prefix P] [--seed N] [--timeout-ms N]\n"
	    "               [--retries R] [--json] [--help]\n"
	    "               [--batch N [--inflight M] [--linger-us U]]\n"
	    "               [--drop D (--tier T[:insiders] | --tiers T:SHARE[:insiders],...)]\n"
	    "               [--customer C] [--insiders N] [--repeat-share F]\n"
	    "               [--over-limit-share F --limit L] [--hold-share F\n"
	    "               [--lapse-share F] [--hold-seconds S]]\n"
	    "               [--duration-s S [--burst-tau-s S]] [--ship-to LAT,LON]\n"
	    "               [--region-boost CITY:FACTOR ...]\n"
	    "               [--quote-only [--quote-skus S,...] | --wtp MEAN:SD]\n"
	    "               [--acked-file PATH] [--answers-file PATH]\n"
	    "               [--server-pid PID]\n"
	    "\n"
	    "Runs a drop: N buyers, C concurrent workers, one order each on\n"
	    "the ingest socket (--ingest or $%s). Buyer i (0..N-1) sends\n"
	    "key P-i (no second '-' if P ends in one), customer buyer-i, one\n"
	    "line of the SKUs in turn (qty Q, default 1), shipped to a point\n"
	    "around a UK city drawn by population with a %.0f km scatter\n"
	    "(seeded: the same --seed gives the same drop).\n"
	    "--sku-range PREFIX:N: a catalogue of N SKUs PREFIX00000,\n"
	    "PREFIX00001, ... (N <= 1000000) instead of --sku; buyer i buys\n"
	    "SKU i mod N. The JSON report's request_bytes: the packed requests\n"
	    "sent (first tries).\n"
	    "A timeout or transport error re-sends the same key up to R times\n"
	    "(default 3). Bounds: N <= %u, C <= %u.\n"
	    "\n"
	    "drops: --drop D sends every order in drop D, in tier T (--tier) or\n"
	    "in tiers drawn by share per buyer (--tiers insider:0.2:insiders,\n"
	    "public:0.8). Buyers of a tier marked :insiders buy as insider-K,\n"
	    "K < N (--insiders N). --repeat-share F: a share of buyers reuse an\n"
	    "earlier buyer's customer id. --over-limit-share F: a share order\n"
	    "L + 1 units (--limit L, the drop's per-buyer limit). --customer C:\n"
	    "every buyer is C (a limit race). --hold-share F: a share ask for a\n"
	    "hold of --hold-seconds (default 60), then confirm it - except a\n"
	    "--lapse-share of them (default 0.5) who let it lapse.\n"
	    "--duration-s S paces arrivals over S seconds as a burst: the rate\n"
	    "decays exponentially with time constant --burst-tau-s (default\n"
	    "S/4), so most buyers come early. Without it, as fast as possible.\n"
	    "--ship-to LAT,LON sends every order to that one point (tests).\n"
	    "--region-boost CITY:FACTOR (repeatable) multiplies one population\n"
	    "centre's weight (manchester:6: a regional spike; 0 removes it).\n"
	    "The report adds answers by status, gifts, holds, repeats, tiers.\n"
	    "prices (with --drop): --quote-only sends one quote per buyer and\n"
	    "no order (quote throughput: orders_per_s counts quotes then);\n"
	    "--quote-skus S,... asks those SKUs in each quote instead.\n"
	    "--wtp MEAN:SD gives each buyer a willingness to pay drawn from\n"
	    "normal(MEAN, SD) minor units (seeded per buyer): it quotes, and\n"
	    "orders with the quote's token only if the price is at most that;\n"
	    "the report adds quotes, declined buyers and revenue.\n"
	    "\n"
	    "batching: --batch N sends every worker's orders through one\n"
	    "libdropnet client (client/dnclient.h), which coalesces them into\n"
	    "SubmitBatch messages of up to N orders (0: its default, 64), with\n"
	    "M messages in flight (--inflight, default 4) and an order waiting\n"
	    "at most U microseconds for company (--linger-us, default 200).\n"
	    "Each order keeps its own key, answer and retry. A replicated\n"
	    "coordinator group: --ingest lists every replica, comma-separated,\n"
	    "and the client follows the leader (NOT_LEADER is re-sent).\n"
	    "--acked-file PATH writes 'KEY HUB ORDER_ID' for every ACCEPTED\n"
	    "answer as it arrives, a line at a time (tests check each against\n"
	    "the journal).\n"
	    "--answers-file PATH writes 'WALL_MS LATENCY_US STATUS' for every\n"
	    "answer: when it came (ms since the epoch), how long the buyer\n"
	    "waited (retries included) and the Status number (fail-over tests).\n"
	    "SIGUSR1 ends the run early: no new buyer is sent (those left are\n"
	    "counted as skipped, not as errors), the ones in flight finish, and\n"
	    "the report covers the buyers sent.\n"
	    "\n"
	    "identity: with DROPNET_STOREFRONT_AUTH_NAME and _KEY (a key file)\n"
	    "set, every request (bare, batch or quote) is signed as that\n"
	    "storefront (proto/SEMANTICS.md \"Transport and identity\").\n"
	    "\n"
	    "--server-pid PID (a server on this machine): reports its user +\n"
	    "system CPU while the clock ran (server_cpu_s; connecting comes\n"
	    "before the clock, so TLS handshakes are not in it).\n"
	    "\n"
	    "defaults: --storefront $DROPNET_STOREFRONT_AUTH_NAME or loadgen,\n"
	    "          --key-prefix lg-<pid>-<time>, --seed 1, --timeout-ms 5000,\n"
	    "          --retries 3\n"
	    "\n"
	    NETTLS_ENV_HELP
	    "exit: 0 all answered, 1 some unanswered, 2 usage, 3 none answered\n",
	    LG_ENV_INGEST, LOADGEN_SCATTER_KM, LOADGEN_BUYERS_MAX,
	    LOADGEN_CONCURRENCY_MAX);
}

static int lg_usage(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "loadgen: ");
	fprintf(stderr, fmt, a, b);
	fprintf(stderr, "\n(see loadgen --help)\n");
	return LG_EXIT_USAGE;
}

/* Strict unsigned parse into [min, max]; 0 or -1. */
static int lg_parse_u64(const char *s, uint64_t min, uint64_t max,
    uint64_t *out)
{
	char *end = NULL;
	if (s == NULL || s[0] == '\0' || s[0] == '-' || s[0] == '+') {
		return -1;
	}
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (end == s || *end != '\0' || errno == ERANGE || v < min || v > max) {
		return -1;
	}
	*out = (uint64_t)v;
	return 0;
}

/* "--name value" or "--name=value": 1 matched, 0 not, -1 missing value. */
static int lg_flag(int argc, char **argv, int *i, const char *name,
    const char **val)
{
	size_t n = strlen(name);
	const char *a = argv[*i];
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
		return -1;
	}
	*i += 1;
	*val = argv[*i];
	return 1;
}

/* Splits s (modified in place) at commas into p->skus. */
static int lg_skus_parse(char *s, loadgen_params *p)
{
	p->nskus = 0;
	for (char *save = NULL, *tok = strtok_r(s, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		if (p->nskus >= LOADGEN_SKUS_MAX) {
			return -1;
		}
		p->skus[p->nskus++] = tok;
	}
	return p->nskus > 0 ? 0 : -1;
}

typedef struct {
	const char *ingest, *buyers, *conc, *sku, *sku_range, *qty, *storefront, *prefix,
	    *seed, *timeout, *retries;
	const char *batch, *inflight, *linger;
	const char *drop, *tier, *tiers, *customer, *insiders, *repeat, *over,
	    *limit, *hold, *lapse, *hold_s, *duration, *tau, *ship_to, *wtp, *qskus;
	const char *acked, *answers;
	const char *server_pid;
	bool quote_only;
	const char *boost[LOADGEN_CITIES_MAX]; /* --region-boost, repeatable */
	size_t nboost;
} lg_raw;

/* Returns -1 to go on, or an exit code. */
static int lg_args_scan(int argc, char **argv, lg_raw *r, bool *json)
{
	struct {
		const char *name;
		const char **dst;
	} flags[] = {
		{ "--ingest", &r->ingest }, { "--buyers", &r->buyers },
		{ "--concurrency", &r->conc }, { "--sku", &r->sku },
		{ "--sku-range", &r->sku_range },
		{ "--qty", &r->qty }, { "--storefront", &r->storefront },
		{ "--key-prefix", &r->prefix }, { "--seed", &r->seed },
		{ "--timeout-ms", &r->timeout }, { "--retries", &r->retries },
		{ "--batch", &r->batch }, { "--inflight", &r->inflight },
		{ "--linger-us", &r->linger },
		{ "--drop", &r->drop }, { "--tiers", &r->tiers },
		{ "--tier", &r->tier }, { "--customer", &r->customer },
		{ "--insiders", &r->insiders },
		{ "--repeat-share", &r->repeat },
		{ "--over-limit-share", &r->over }, { "--limit", &r->limit },
		{ "--hold-share", &r->hold }, { "--lapse-share", &r->lapse },
		{ "--hold-seconds", &r->hold_s },
		{ "--duration-s", &r->duration },
		{ "--burst-tau-s", &r->tau }, { "--ship-to", &r->ship_to },
		{ "--wtp", &r->wtp }, { "--quote-skus", &r->qskus },
		{ "--acked-file", &r->acked }, { "--answers-file", &r->answers },
		{ "--server-pid", &r->server_pid },
	};
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			lg_help();
			return LG_EXIT_OK;
		}
		if (strcmp(argv[i], "--json") == 0) {
			*json = true;
			continue;
		}
		if (strcmp(argv[i], "--quote-only") == 0) {
			r->quote_only = true;
			continue;
		}
		const char *bv = NULL;
		int bm = lg_flag(argc, argv, &i, "--region-boost", &bv);
		if (bm < 0) {
			return lg_usage("%s needs a value%s", "--region-boost", "");
		}
		if (bm > 0) {
			if (r->nboost == LOADGEN_CITIES_MAX) {
				return lg_usage("at most %s --region-boost%s",
				    "64", "");
			}
			r->boost[r->nboost++] = bv;
			continue;
		}
		int m = 0;
		for (size_t f = 0; m == 0 && f < sizeof(flags) / sizeof(flags[0]);
		     f++) {
			m = lg_flag(argc, argv, &i, flags[f].name, flags[f].dst);
			if (m < 0) {
				return lg_usage("%s needs a value%s",
				    flags[f].name, "");
			}
		}
		if (m == 0) {
			return lg_usage("unexpected argument '%s'%s", argv[i], "");
		}
	}
	return -1;
}

static int lg_num(const char *s, const char *flag, uint64_t min, uint64_t max,
    uint64_t *out)
{
	if (lg_parse_u64(s, min, max, out) != 0) {
		char range[64];
		snprintf(range, sizeof(range), " (%" PRIu64 "..%" PRIu64 ")",
		    min, max);
		fprintf(stderr, "loadgen: %s '%s' is not a whole number in "
				"range%s\n(see loadgen --help)\n",
		    flag, s, range);
		return LG_EXIT_USAGE;
	}
	return 0;
}

/* --sku-range PREFIX:N (modified in place: the colon ends the prefix). */
static int lg_sku_range(const char *arg, loadgen_params *p)
{
	char *colon = strrchr(arg, ':');
	if (colon == NULL || colon == arg || (size_t)(colon - arg) > DN_ID_MAX - 5) {
		return lg_usage("--sku-range wants PREFIX:N (a prefix of 1..59 characters),"
		    " not '%s'%s", arg, "");
	}
	*colon = '\0';
	p->sku_prefix = arg;
	return lg_num(colon + 1, "--sku-range", 1, LOADGEN_SKU_RANGE_MAX, &p->sku_range);
}

/* A share in [0, 1] (or a positive number of seconds when max > 1). */
static int lg_real(const char *s, const char *flag, double min, double max,
    double *out)
{
	char *end = NULL;
	if (s == NULL) {
		return 0;
	}
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end != '\0' || errno != 0 || !(v >= min && v <= max)) {
		fprintf(stderr, "loadgen: %s '%s' is not a number in %g..%g\n"
				"(see loadgen --help)\n", flag, s, min, max);
		return LG_EXIT_USAGE;
	}
	*out = v;
	return 0;
}

/* "NAME[:SHARE][:insiders]" items, comma-separated (s modified in place).
 * with_share: the share is required (--tiers) or absent (--tier). */
static int lg_tiers_parse(char *s, bool with_share, loadgen_params *p)
{
	double total = 0.0;
	p->ntiers = 0;
	for (char *save = NULL, *tok = strtok_r(s, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		if (p->ntiers >= LOADGEN_TIERS_MAX) {
			return -1;
		}
		loadgen_tier *t = &p->tiers[p->ntiers++];
		char *f1 = strchr(tok, ':');
		t->name = tok;
		t->share = 1.0;
		t->insiders = false;
		if (f1 != NULL) {
			*f1++ = '\0';
		}
		if (with_share) {
			char *f2 = f1 != NULL ? strchr(f1, ':') : NULL;
			if (f2 != NULL) {
				*f2++ = '\0';
			}
			if (f1 == NULL ||
			    lg_real(f1, "--tiers share", 0.0, 1e9, &t->share) != 0) {
				return -1;
			}
			f1 = f2;
		}
		if (f1 != NULL) {
			if (strcmp(f1, "insiders") != 0) {
				return -1;
			}
			t->insiders = true;
		}
		if (t->name[0] == '\0') {
			return -1;
		}
		total += t->share;
	}
	if (p->ntiers == 0 || !(total > 0.0)) {
		return -1;
	}
	for (size_t k = 0; k < p->ntiers; k++) {
		p->tiers[k].share /= total;
	}
	return 0;
}

/* The drop flags of r into p. Returns 0 or an exit code. */
static int lg_args_drop(lg_raw *r, loadgen_params *p)
{
	uint64_t v = 0;
	int ex;

	p->drop = r->drop;
	if ((r->tier != NULL || r->tiers != NULL) && r->drop == NULL) {
		return lg_usage("--tier/--tiers need --drop%s%s", "", "");
	}
	if (r->tier != NULL && r->tiers != NULL) {
		return lg_usage("--tier or --tiers, not both%s%s", "", "");
	}
	if (r->drop != NULL && r->tier == NULL && r->tiers == NULL) {
		return lg_usage("--drop needs --tier T or --tiers T:SHARE,...%s%s",
		    "", "");
	}
	if (r->tier != NULL && lg_tiers_parse((char *)r->tier, false, p) != 0) {
		return lg_usage("--tier wants NAME[:insiders], not '%s'%s",
		    r->tier, "");
	}
	if (r->tiers != NULL) {
		char orig[256];
		snprintf(orig, sizeof(orig), "%s", r->tiers);
		if (lg_tiers_parse((char *)r->tiers, true, p) != 0) {
			return lg_usage("--tiers wants NAME:SHARE[:insiders],... "
					"(at most 8, shares > 0), not '%s'%s",
			    orig, "");
		}
	}
	p->customer = r->customer;
	if (r->insiders != NULL && (ex = lg_num(r->insiders, "--insiders", 1,
		 LOADGEN_INSIDERS_MAX, &p->insiders)) != 0) {
		return ex;
	}
	if ((ex = lg_real(r->repeat, "--repeat-share", 0, 1,
		 &p->repeat_share)) != 0 ||
	    (ex = lg_real(r->over, "--over-limit-share", 0, 1,
		 &p->over_limit_share)) != 0 ||
	    (ex = lg_real(r->hold, "--hold-share", 0, 1, &p->hold_share)) != 0 ||
	    (ex = lg_real(r->duration, "--duration-s", 0,
		 LOADGEN_DURATION_S_MAX, &p->duration_s)) != 0 ||
	    (ex = lg_real(r->tau, "--burst-tau-s", 0, LOADGEN_DURATION_S_MAX,
		 &p->burst_tau_s)) != 0) {
		return ex;
	}
	p->lapse_share = 0.5;
	if ((ex = lg_real(r->lapse, "--lapse-share", 0, 1, &p->lapse_share)) !=
	    0) {
		return ex;
	}
	p->quote_only = r->quote_only;
	if (r->wtp != NULL) {
		if (sscanf(r->wtp, "%lf:%lf", &p->wtp_mean, &p->wtp_sd) != 2 ||
		    !(p->wtp_mean >= 0 && p->wtp_sd >= 0 && p->wtp_mean < 1e12 &&
		    p->wtp_sd < 1e12)) {
			return lg_usage("--wtp wants MEAN:SD in minor units, not '%s'%s",
			    r->wtp, "");
		}
		p->wtp = true;
	}
	if ((p->wtp || p->quote_only) && (p->drop == NULL || p->ntiers == 0)) {
		return lg_usage("--wtp and --quote-only need --drop and a tier%s%s", "", "");
	}
	if (r->qskus != NULL) {
		snprintf(p->quote_skus_buf, sizeof(p->quote_skus_buf), "%s", r->qskus);
		char *save = NULL;
		for (char *t = strtok_r(p->quote_skus_buf, ",", &save); t != NULL;
		    t = strtok_r(NULL, ",", &save)) {
			if (p->nquote_skus == DN_ORDER_LINES_MAX) {
				return lg_usage("--quote-skus: at most 32 SKUs%s%s", "", "");
			}
			p->quote_skus[p->nquote_skus++] = t;
		}
		if (!p->quote_only) {
			return lg_usage("--quote-skus needs --quote-only%s%s", "", "");
		}
	}
	if (p->wtp && p->quote_only) {
		return lg_usage("--wtp or --quote-only, not both%s%s", "", "");
	}
	if (p->over_limit_share > 0.0 && r->limit == NULL) {
		return lg_usage("--over-limit-share needs --limit L (the drop's "
				"per-buyer limit)%s%s", "", "");
	}
	if (r->limit != NULL) {
		if ((ex = lg_num(r->limit, "--limit", 0, DN_LINE_QTY_MAX - 1,
			 &v)) != 0) {
			return ex;
		}
		p->limit = (uint32_t)v;
	}
	if (r->ship_to != NULL) {
		char *end = NULL;
		p->ship_lat = strtod(r->ship_to, &end);
		if (end == r->ship_to || *end != ',' ||
		    (p->ship_lon = strtod(end + 1, &end), *end != '\0')) {
			return lg_usage("--ship-to wants LAT,LON, not '%s'%s",
			    r->ship_to, "");
		}
		p->ship_to_fixed = true;
	}
	p->hold_seconds = 60;
	if (r->hold_s != NULL) {
		if ((ex = lg_num(r->hold_s, "--hold-seconds", 1, 3600, &v)) != 0) {
			return ex;
		}
		p->hold_seconds = (uint32_t)v;
	}
	return 0;
}

/* --batch N (0: libdropnet's default), --inflight M, --linger-us U: all
 * workers submit through one batching client. */
static int lg_args_batch(const lg_raw *r, loadgen_params *p)
{
	uint64_t v = 0;
	int ex;
	dnclient_opts d;
	dnclient_opts_init(&d);
	p->batch = 0;
	p->inflight = d.inflight_max;
	p->linger_us = d.linger_us;
	if (r->batch == NULL) {
		if (r->inflight != NULL || r->linger != NULL) {
			return lg_usage("--inflight and --linger-us need --batch%s%s", "", "");
		}
		return 0;
	}
	if ((ex = lg_num(r->batch, "--batch", 0, DN_INGEST_BATCH_MAX, &v)) != 0) {
		return ex;
	}
	p->batch = v > 0 ? (unsigned)v : d.batch_max;
	if (r->inflight != NULL) {
		if ((ex = lg_num(r->inflight, "--inflight", 1, DNCLIENT_INFLIGHT_MAX, &v)) != 0) {
			return ex;
		}
		p->inflight = (unsigned)v;
	}
	if (r->linger != NULL) {
		if ((ex = lg_num(r->linger, "--linger-us", 0, DNCLIENT_LINGER_US_MAX, &v)) != 0) {
			return ex;
		}
		p->linger_us = (unsigned)v;
	}
	return 0;
}

/* The built-in city table with every --region-boost CITY:FACTOR applied.
 * Returns 0 or an exit code. */
static int lg_args_cities(const lg_raw *r, loadgen_params *p)
{
	size_t n = 0;
	const sample_city *uk = sample_uk_cities(&n);

	p->ncities = n < LOADGEN_CITIES_MAX ? n : LOADGEN_CITIES_MAX;
	memcpy(p->cities, uk, p->ncities * sizeof(*uk));
	for (size_t b = 0; b < r->nboost; b++) {
		const char *v = r->boost[b];
		const char *colon = strrchr(v, ':');
		char *end = NULL;
		double f = colon != NULL ? strtod(colon + 1, &end) : -1.0;
		if (colon == NULL || colon == v || end == colon + 1 ||
		    *end != '\0' || !(f >= 0.0 && f <= LOADGEN_BOOST_MAX)) {
			return lg_usage("--region-boost wants CITY:FACTOR (factor "
					"0..100), not '%s'%s", v, "");
		}
		size_t c = 0;
		while (c < p->ncities &&
		    (strlen(p->cities[c].name) != (size_t)(colon - v) ||
			strncmp(p->cities[c].name, v, (size_t)(colon - v)) != 0)) {
			c++;
		}
		if (c == p->ncities) {
			return lg_usage("--region-boost: unknown city in '%s' (the "
					"table: london, manchester, leeds, ...)%s",
			    v, "");
		}
		/* At most 9.8 million x 100: within a uint32. */
		p->cities[c].population =
		    (uint32_t)((double)p->cities[c].population * f + 0.5);
	}
	return 0;
}

static int lg_args(int argc, char **argv, loadgen_params *p, char *prefix,
    size_t prefix_len)
{
	lg_raw r;
	uint64_t v = 0;
	int ex;

	memset(&r, 0, sizeof(r));
	if ((ex = lg_args_scan(argc, argv, &r, &p->json)) >= 0) {
		return ex;
	}
	if (r.acked != NULL && (p->acked = fopen(r.acked, "w")) == NULL) {
		return lg_usage("--acked-file %s: cannot write it%s", r.acked, "");
	}
	/* Line-buffered: a test watching the file sees each ack when it
	 * arrives (the partition test times the last ack of a cut-off
	 * leader), never a line cut in two. */
	if (p->acked != NULL) {
		(void)setvbuf(p->acked, NULL, _IOLBF, 0);
	}
	if (r.answers != NULL && (p->answers = fopen(r.answers, "w")) == NULL) {
		return lg_usage("--answers-file %s: cannot write it%s", r.answers, "");
	}
	if (p->answers != NULL) {
		/* Line by line: a test watches it grow while the run goes on. */
		setvbuf(p->answers, NULL, _IOLBF, 0);
	}
	p->url = rpc_endpoint(r.ingest, LG_ENV_INGEST);
	if (p->url == NULL) {
		return lg_usage("no ingest socket: pass --ingest URL or set %s%s",
		    LG_ENV_INGEST, "");
	}
	if (r.buyers == NULL || r.conc == NULL || (r.sku == NULL) == (r.sku_range == NULL)) {
		return lg_usage("--buyers, --concurrency and one of --sku and --sku-range"
		    " are required%s%s", "", "");
	}
	if ((ex = lg_num(r.buyers, "--buyers", 1, LOADGEN_BUYERS_MAX,
		 &p->buyers)) != 0) {
		return ex;
	}
	if ((ex = lg_num(r.conc, "--concurrency", 1, LOADGEN_CONCURRENCY_MAX,
		 &v)) != 0) {
		return ex;
	}
	p->concurrency = (unsigned)v;
	if (r.sku_range != NULL && (ex = lg_sku_range(r.sku_range, p)) != 0) {
		return ex;
	}
	/* strtok_r needs a writable copy; argv strings are writable in C. */
	if (r.sku != NULL && lg_skus_parse((char *)r.sku, p) != 0) {
		return lg_usage("--sku wants 1..256 comma-separated SKUs, not "
				"'%s'%s",
		    r.sku, "");
	}
	p->qty = 1;
	if (r.qty != NULL) {
		/* Any uint32 goes on the wire; the coordinator judges it. */
		if ((ex = lg_num(r.qty, "--qty", 0, UINT32_MAX, &v)) != 0) {
			return ex;
		}
		p->qty = (uint32_t)v;
	}
	/* A signing storefront speaks only for its own name; its key must
	 * load (the workers and the batching client sign with it). */
	const char *signer = getenv("DROPNET_STOREFRONT_AUTH_NAME");
	auth_client probe;
	if (auth_client_from_env(&probe, "DROPNET_STOREFRONT_AUTH_NAME",
	    "DROPNET_STOREFRONT_AUTH_KEY") == DN_EINVAL) {
		return lg_usage("DROPNET_STOREFRONT_AUTH_NAME is set but %s is not a"
		    " readable 64-hex-digit key file (or the name is bad)%s",
		    "DROPNET_STOREFRONT_AUTH_KEY", "");
	}
	p->storefront = r.storefront != NULL ? r.storefront :
	    signer != NULL && signer[0] ? signer : "loadgen";
	if (r.prefix != NULL) {
		p->key_prefix = r.prefix;
	} else {
		snprintf(prefix, prefix_len, "lg-%ld-%ld", (long)getpid(),
		    (long)time(NULL));
		p->key_prefix = prefix;
	}
	p->seed = 1;
	if (r.seed != NULL &&
	    (ex = lg_num(r.seed, "--seed", 0, UINT64_MAX, &p->seed)) != 0) {
		return ex;
	}
	p->timeout_ms = 5000;
	if (r.timeout != NULL) {
		if ((ex = lg_num(r.timeout, "--timeout-ms", 1,
			 LOADGEN_TIMEOUT_MS_MAX, &v)) != 0) {
			return ex;
		}
		p->timeout_ms = (int)v;
	}
	p->server_pid = 0;
	if (r.server_pid != NULL) {
		if ((ex = lg_num(r.server_pid, "--server-pid", 1, INT32_MAX, &v)) != 0) {
			return ex;
		}
		p->server_pid = (int)v;
	}
	p->retries = 3;
	if (r.retries != NULL) {
		if ((ex = lg_num(r.retries, "--retries", 0, LOADGEN_RETRIES_MAX,
			 &v)) != 0) {
			return ex;
		}
		p->retries = (unsigned)v;
	}
	if ((ex = lg_args_batch(&r, p)) != 0) {
		return ex;
	}
	if ((ex = lg_args_drop(&r, p)) != 0) {
		return ex;
	}
	if ((ex = lg_args_cities(&r, p)) != 0) {
		return ex;
	}
	return -1;
}

/* ---- report ---- */

typedef struct {
	loadgen_stats tot;
	double elapsed_s;
	double server_cpu_s;  /* --server-pid's user+system CPU while the clock ran; <0: none */
	bool have_lat;
	double p50_ms, p90_ms, p99_ms, max_ms;
} lg_report;

static int lg_hub_cmp(const void *a, const void *b)
{
	return strcmp(((const loadgen_hub_count *)a)->id,
	    ((const loadgen_hub_count *)b)->id);
}

static void lg_merge(const loadgen_worker *w, unsigned n, loadgen_stats *t)
{
	memset(t, 0, sizeof(*t));
	for (unsigned k = 0; k < n; k++) {
		const loadgen_stats *s = &w[k].stats;
		t->answered += s->answered;
		t->errors += s->errors;
		t->skipped += s->skipped;
		t->req_bytes += s->req_bytes;
		t->retries += s->retries;
		t->duplicates += s->duplicates;
		t->hub_other += s->hub_other;
		t->gifts += s->gifts;
		t->held += s->held;
		t->confirmed += s->confirmed;
		t->confirm_expired += s->confirm_expired;
		t->lapsed += s->lapsed;
		t->repeats += s->repeats;
		t->over_limit += s->over_limit;
		t->quotes += s->quotes;
		t->declined += s->declined;
		t->revenue_minor += s->revenue_minor;
		for (size_t j = 0; j < LOADGEN_TIERS_MAX; j++) {
			t->tier_sent[j] += s->tier_sent[j];
			t->tier_accepted[j] += s->tier_accepted[j];
		}
		for (size_t j = 0; j < LOADGEN_STATUS_SLOTS; j++) {
			t->by_status[j] += s->by_status[j];
		}
		for (size_t j = 0; j < s->nhubs; j++) {
			loadgen_stats_hub_add(t, s->hubs[j].id,
			    s->hubs[j].accepted);
		}
	}
	qsort(t->hubs, t->nhubs, sizeof(t->hubs[0]), lg_hub_cmp);
}

/* Compacts answered latencies to the front of lat (destroying it) and
 * computes the percentiles. */
static void lg_latency(uint32_t *lat, uint64_t n, lg_report *r)
{
	size_t m = 0;
	for (uint64_t k = 0; k < n; k++) {
		if (lat[k] != LOADGEN_LAT_NONE) {
			lat[m++] = lat[k];
		}
	}
	r->have_lat = m > 0;
	if (m == 0) {
		return;
	}
	sample_sort_u32(lat, m);
	uint32_t v = 0;
	sample_percentile_u32(lat, m, 50.0, &v);
	r->p50_ms = v / 1000.0;
	sample_percentile_u32(lat, m, 90.0, &v);
	r->p90_ms = v / 1000.0;
	sample_percentile_u32(lat, m, 99.0, &v);
	r->p99_ms = v / 1000.0;
	r->max_ms = lat[m - 1] / 1000.0;
}

static const char *lg_status_name(size_t slot)
{
	return slot == LOADGEN_STATUS_UNKNOWN
	    ? "UNKNOWN"
	    : codec_status_name((Dropnet__Status)slot);
}

static double lg_rate(const lg_report *r)
{
	return r->elapsed_s > 0.0 ? (double)r->tot.answered / r->elapsed_s
				  : 0.0;
}

static json_t *lg_ms_json(const lg_report *r, double v)
{
	return r->have_lat ? json_real(v) : json_null();
}

static int lg_print_json(const loadgen_params *p, const lg_report *r)
{
	json_t *rej = json_object();
	json_t *hubs = json_object();
	const loadgen_stats *t = &r->tot;

	for (size_t s = 0; rej != NULL && s < LOADGEN_STATUS_SLOTS; s++) {
		if (s != DROPNET__STATUS__ACCEPTED && t->by_status[s] > 0) {
			json_object_set_new(rej, lg_status_name(s),
			    json_integer((json_int_t)t->by_status[s]));
		}
	}
	for (size_t k = 0; hubs != NULL && k < t->nhubs; k++) {
		json_object_set_new(hubs, t->hubs[k].id,
		    json_integer((json_int_t)t->hubs[k].accepted));
	}
	if (hubs != NULL && t->hub_other > 0) {
		json_object_set_new(hubs, "(other)",
		    json_integer((json_int_t)t->hub_other));
	}
	json_t *by = json_object();
	for (size_t s = 0; by != NULL && s < LOADGEN_STATUS_SLOTS; s++) {
		if (t->by_status[s] > 0) {
			json_object_set_new(by, lg_status_name(s),
			    json_integer((json_int_t)t->by_status[s]));
		}
	}
	json_t *tiers = json_object();
	for (size_t k = 0; tiers != NULL && k < p->ntiers; k++) {
		json_object_set_new(tiers, p->tiers[k].name,
		    json_pack("{s:I,s:I}", "sent",
			(json_int_t)t->tier_sent[k], "accepted",
			(json_int_t)t->tier_accepted[k]));
	}
	json_t *drop = (by == NULL || tiers == NULL) ? NULL
	    : json_pack("{s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "by_status", by,
		  "gifts", (json_int_t)t->gifts, "held", (json_int_t)t->held,
		  "confirmed", (json_int_t)t->confirmed, "confirm_expired",
		  (json_int_t)t->confirm_expired, "lapsed",
		  (json_int_t)t->lapsed, "repeat_buyers",
		  (json_int_t)t->repeats, "over_limit_buyers",
		  (json_int_t)t->over_limit, "by_tier", tiers);
	json_t *j = (rej == NULL || hubs == NULL || drop == NULL) ? NULL
	    : json_pack("{s:I,s:I,s:o,s:I,s:I,s:I,s:o,s:f,s:f,s:o,s:o,s:o,s:o}",
		  "sent", (json_int_t)(p->buyers - t->skipped), "accepted",
		  (json_int_t)t->by_status[DROPNET__STATUS__ACCEPTED],
		  "rejected", rej, "errors", (json_int_t)t->errors,
		  "retries", (json_int_t)t->retries, "duplicates",
		  (json_int_t)t->duplicates, "by_hub", hubs, "elapsed_s",
		  r->elapsed_s, "orders_per_s", lg_rate(r), "p50_ms",
		  lg_ms_json(r, r->p50_ms), "p90_ms", lg_ms_json(r, r->p90_ms),
		  "p99_ms", lg_ms_json(r, r->p99_ms), "max_ms",
		  lg_ms_json(r, r->max_ms));
	if (j != NULL) {
		/* Flat keys, next to the old ones, so scripts read them alike. */
		json_object_update(j, drop);
		json_object_set_new(j, "request_bytes",
		    json_integer((json_int_t)t->req_bytes));
		json_object_set_new(j, "quotes", json_integer((json_int_t)t->quotes));
		json_object_set_new(j, "declined", json_integer((json_int_t)t->declined));
		json_object_set_new(j, "revenue_minor",
		    json_integer((json_int_t)t->revenue_minor));
		if (r->server_cpu_s >= 0) {
			json_object_set_new(j, "server_cpu_s", json_real(r->server_cpu_s));
		}
	}
	json_decref(drop);
	/* Nine significant digits: microsecond latencies and sub-millisecond
	 * elapsed times survive, binary noise (0.60573825400001624) does not. */
	char *s = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER |
					     JSON_REAL_PRECISION(9))
			    : NULL;
	json_decref(j);
	if (s == NULL) {
		fprintf(stderr, "loadgen: out of memory building JSON\n");
		return -1;
	}
	puts(s);
	free(s);
	return 0;
}

static void lg_print_text(const loadgen_params *p, const lg_report *r)
{
	const loadgen_stats *t = &r->tot;
	uint64_t rejected = t->answered - t->by_status[DROPNET__STATUS__ACCEPTED];

	printf("sent         %" PRIu64 "\n", p->buyers - t->skipped);
	if (t->skipped > 0) {
		printf("skipped      %" PRIu64 " (stopped by SIGUSR1)\n", t->skipped);
	}
	printf("accepted     %" PRIu64 "\n",
	    t->by_status[DROPNET__STATUS__ACCEPTED]);
	printf("rejected     %" PRIu64, rejected);
	const char *sep = "  (";
	for (size_t s = 0; s < LOADGEN_STATUS_SLOTS; s++) {
		if (s != DROPNET__STATUS__ACCEPTED && t->by_status[s] > 0) {
			printf("%s%s %" PRIu64, sep, lg_status_name(s),
			    t->by_status[s]);
			sep = ", ";
		}
	}
	printf("%s\n", rejected > 0 ? ")" : "");
	printf("by status   ");
	sep = " ";
	for (size_t s = 0; s < LOADGEN_STATUS_SLOTS; s++) {
		if (t->by_status[s] > 0) {
			printf("%s%s %" PRIu64, sep, lg_status_name(s),
			    t->by_status[s]);
			sep = ", ";
		}
	}
	printf("%s\n", t->answered == 0 ? " -" : "");
	printf("gifts        %" PRIu64 "\n", t->gifts);
	if (p->quote_only || p->wtp) {
		printf("quotes       %" PRIu64 " answered, %" PRIu64 " buyers declined the"
		       " price; revenue %" PRId64 " (minor units)\n", t->quotes, t->declined,
		    t->revenue_minor);
	}
	if (p->hold_share > 0.0) {
		printf("holds        %" PRIu64 " held, %" PRIu64 " confirmed, %"
		       PRIu64 " expired at confirm, %" PRIu64 " left to lapse\n",
		    t->held, t->confirmed, t->confirm_expired, t->lapsed);
	}
	if (p->drop != NULL) {
		printf("buyers       %" PRIu64 " repeat, %" PRIu64
		       " over the limit\n", t->repeats, t->over_limit);
		printf("by tier     ");
		for (size_t k = 0; k < p->ntiers; k++) {
			printf(" %s %" PRIu64 "/%" PRIu64 "%s", p->tiers[k].name,
			    t->tier_accepted[k], t->tier_sent[k],
			    k + 1 < p->ntiers ? "," : "");
		}
		printf("  (accepted/sent)\n");
	}
	printf("errors       %" PRIu64 "\n", t->errors);
	printf("retries      %" PRIu64 "\n", t->retries);
	printf("duplicates   %" PRIu64 "\n", t->duplicates);
	printf("by hub      ");
	for (size_t k = 0; k < t->nhubs; k++) {
		printf(" %s %" PRIu64 "%s", t->hubs[k].id, t->hubs[k].accepted,
		    k + 1 < t->nhubs || t->hub_other > 0 ? "," : "");
	}
	if (t->hub_other > 0) {
		printf(" (other) %" PRIu64, t->hub_other);
	}
	printf("%s\n", t->nhubs == 0 && t->hub_other == 0 ? " -" : "");
	printf("elapsed      %.3f s\n", r->elapsed_s);
	if (r->server_cpu_s >= 0) {
		printf("server CPU   %.3f s\n", r->server_cpu_s);
	}
	printf("orders/s     %.1f\n", lg_rate(r));
	if (r->have_lat) {
		printf("ack latency  p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  "
		       "max %.2f ms\n",
		    r->p50_ms, r->p90_ms, r->p99_ms, r->max_ms);
	} else {
		printf("ack latency  - (no answers)\n");
	}
}

/* ---- run ---- */

static double lg_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Starts the workers, waits for them, fills r. Returns 0 or an exit code
 * for a failure to start. */
/* User + system CPU seconds of process pid so far (/proc/PID/stat fields
 * 14 and 15, after the parenthesised name), or -1 (no pid, or unreadable).
 * Read when the clock starts and stops, so a server's figure per order
 * leaves out the connection set-up (64 TLS handshakes) before it. */
static double lg_server_cpu_s(int pid)
{
	if (pid <= 0) {
		return -1;
	}
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		return -1;
	}
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *s = strrchr(buf, ')');
	unsigned long long ut = 0, st = 0;
	if (s == NULL || sscanf(s + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	    &ut, &st) != 2) {
		return -1;
	}
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int lg_run(const loadgen_params *p, uint32_t *lat, lg_report *r)
{
	r->server_cpu_s = -1;
	unsigned n = p->concurrency;
	if ((uint64_t)n > p->buyers) {
		n = (unsigned)p->buyers;
	}
	loadgen_worker *w = calloc(n, sizeof(*w));
	pthread_t *th = calloc(n, sizeof(*th));
	loadgen_run run = { .p = p, .lat_us = lat };
	pthread_attr_t attr;
	unsigned started = 0;

	if (w == NULL || th == NULL) {
		free(w);
		free(th);
		fprintf(stderr, "loadgen: out of memory for %u workers\n", n);
		return LG_EXIT_PARTIAL;
	}
	atomic_init(&run.next, 0);
	pthread_mutex_init(&run.mu, NULL);
	pthread_cond_init(&run.cv, NULL);
	if (p->batch > 0) {
		dnclient_opts o;
		dnclient_opts_init(&o);
		/* --ingest may list a replicated group's replicas,
		 * comma-separated: the client follows the leader. */
		char urls[DNCLIENT_URLS_MAX][256];
		o.nurls = 0;
		for (const char *u = p->url; *u != '\0' && o.nurls < DNCLIENT_URLS_MAX;) {
			size_t l = strcspn(u, ",");
			if (l > 0 && l < sizeof(urls[0])) {
				memcpy(urls[o.nurls], u, l);
				urls[o.nurls][l] = '\0';
				o.urls[o.nurls] = urls[o.nurls];
				o.nurls++;
			}
			u += l + (u[l] == ',');
		}
		o.batch_max = p->batch;
		o.inflight_max = p->inflight;
		o.linger_us = p->linger_us;
		o.timeout_ms = p->timeout_ms;
		/* loadgen's own loop retries (and counts retries). */
		o.retries = 0;
		/* Signs as DROPNET_STOREFRONT_AUTH_NAME when set (checked above). */
		(void)dnclient_opts_sign_from_env(&o);
		int crv = dnclient_create(&run.client, &o);
		if (crv != 0) {
			fprintf(stderr, "loadgen: cannot open %s (%s)\n", p->url, dn_strerror(crv));
			free(w);
			free(th);
			return LG_EXIT_PARTIAL;
		}
	}
	run.t0_s = lg_now_s();
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, LG_STACK_BYTES);
	double t0 = lg_now_s();
	for (; started < n; started++) {
		w[started].run = &run;
		if (pthread_create(&th[started], &attr, loadgen_worker_main,
			&w[started]) != 0) {
			/* The workers already running take every buyer. */
			fprintf(stderr, "loadgen: started only %u of %u workers\n",
			    started, n);
			break;
		}
	}
	pthread_attr_destroy(&attr);
	/* Every worker connected: start the clock. */
	pthread_mutex_lock(&run.mu);
	while (run.ready < started) {
		pthread_cond_wait(&run.cv, &run.mu);
	}
	run.go = true;
	double cpu0 = lg_server_cpu_s(p->server_pid);
	t0 = lg_now_s();
	run.t0_s = t0;
	pthread_cond_broadcast(&run.cv);
	pthread_mutex_unlock(&run.mu);
	if (started == 0) {
		dnclient_destroy(run.client);
		free(w);
		free(th);
		return LG_EXIT_PARTIAL;
	}
	for (unsigned k = 0; k < started; k++) {
		pthread_join(th[k], NULL);
	}
	r->elapsed_s = lg_now_s() - t0;
	double cpu1 = lg_server_cpu_s(p->server_pid);
	r->server_cpu_s = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1;
	if (p->acked != NULL || p->answers != NULL) {
		/* Every answer is in: tests may read the file and this line
		 * before the client has closed. */
		uint64_t errors = 0, answered = 0, skipped = 0;
		for (unsigned k = 0; k < started; k++) {
			errors += w[k].stats.errors;
			answered += w[k].stats.answered;
			skipped += w[k].stats.skipped;
		}
		if (p->acked != NULL) {
			fflush(p->acked);
		}
		if (p->answers != NULL) {
			fflush(p->answers);
		}
		if (skipped > 0) {
			fprintf(stderr, "loadgen: stopped: %" PRIu64 " buyers not sent\n", skipped);
		}
		fprintf(stderr, "loadgen: workers done answered=%" PRIu64 " errors=%" PRIu64 "\n",
		    answered, errors);
	}
	dnclient_destroy(run.client);
	lg_merge(w, started, &r->tot);
	for (unsigned k = 0; k < started; k++) {
		if (w[k].stats.open_error != 0) {
			fprintf(stderr, "loadgen: cannot open %s (%s)\n", p->url,
			    dn_strerror(w[k].stats.open_error));
			break;
		}
	}
	pthread_cond_destroy(&run.cv);
	pthread_mutex_destroy(&run.mu);
	free(w);
	free(th);
	return 0;
}

static void lg_on_usr1(int sig)
{
	(void)sig;
	loadgen_stopping = 1;
}

int main(int argc, char **argv)
{
	static loadgen_params p;
	static lg_report r; /* big (hub table): keep it off the stack */
	char prefix[64];
	int ex;

	if ((ex = lg_args(argc, argv, &p, prefix, sizeof(prefix))) >= 0) {
		return ex;
	}
	uint32_t *lat = malloc(p.buyers * sizeof(*lat));
	if (lat == NULL) {
		fprintf(stderr, "loadgen: out of memory for %" PRIu64
				" latency slots\n",
		    p.buyers);
		return LG_EXIT_PARTIAL;
	}
	if (!p.json) {
		fprintf(stderr, "loadgen: %" PRIu64 " buyers, %u workers, key "
				"prefix %s, seed %" PRIu64 " -> %s\n",
		    p.buyers, p.concurrency, p.key_prefix, p.seed, p.url);
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = lg_on_usr1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	ex = lg_run(&p, lat, &r);
	if (p.acked != NULL && fclose(p.acked) != 0 && ex == 0) {
		fprintf(stderr, "loadgen: --acked-file: write failed\n");
		ex = LG_EXIT_PARTIAL;
	}
	if (p.answers != NULL && fclose(p.answers) != 0 && ex == 0) {
		fprintf(stderr, "loadgen: --answers-file: write failed\n");
		ex = LG_EXIT_PARTIAL;
	}
	if (ex != 0) {
		free(lat);
		return ex;
	}
	lg_latency(lat, p.buyers, &r);
	free(lat);
	if (p.json) {
		if (lg_print_json(&p, &r) != 0) {
			return LG_EXIT_PARTIAL;
		}
	} else {
		lg_print_text(&p, &r);
	}
	if (r.tot.answered == 0) {
		return LG_EXIT_UNREACHABLE;
	}
	return r.tot.errors > 0 ? LG_EXIT_PARTIAL : LG_EXIT_OK;
}
