/*
 * feed_cmd.c - `dropctl feed`: watch the coordinator's price and
 * availability feed (proto/STOREFRONT.md "The feed").
 *
 * Subscribes to the coordinator's pub socket (the one region signals use,
 * --url or $DROPNET_SIGNAL) on the topic "feed ", "feed <sku> " or
 * "feed <sku> <region> ", so nng drops what was not asked for before it
 * reaches us. Each message is that topic (three space-terminated words)
 * followed by a packed dropnet.FeedChange. The command keeps the last seq
 * per (epoch, drop, sku, region) and marks a message that follows a gap,
 * which is what a storefront's cache should do too.
 *
 * Like `signals` it never closes its socket (libnng 1.5.2 can deadlock
 * closing a socket whose pipe is receiving): the process exits instead.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include "core/err.h"
#include "core/limits.h"
#include "io/nettls.h"
#include "dropctl.h"

/* A FeedChange is a few hundred bytes; refuse anything far bigger. */
#define FEED_CMD_MSG_MAX (64u * 1024u)
/* Most messages one run waits for with --count. */
#define FEED_CMD_COUNT_MAX 1000000
/* (drop, sku, region) keys whose last seq one run remembers for gap marks;
 * later keys are printed without one. */
#define FEED_CMD_KEYS_MAX 4096
#define FEED_CMD_ENV "DROPNET_SIGNAL"

typedef struct {
	char key[3 * (DN_ID_MAX + 1)];
	uint64_t epoch, seq;
} feed_seen;

typedef struct {
	const char *sku, *region, *url;
	int64_t want;                 /* 0: until interrupted */
	feed_seen *seen;
	size_t nseen;
} feed_args;

static void feed_help(void)
{
	printf("usage: dropctl [global flags] feed [--url URL] [--sku S [--region H]]\n"
	       "               [--count N]\n"
	       "\n"
	       "Watches the coordinator's price and availability feed (nng pub\n"
	       "socket, the one `signals` uses: --url or $%s): one line per\n"
	       "change of a (drop, SKU, region) - the prices of every tier on\n"
	       "sale now with the rule that set each, and the availability\n"
	       "class for the region (IN_STOCK, LOW, SOLD_OUT_HERE). PRICE and\n"
	       "AVAIL say what changed; GAP marks a message after a missed one\n"
	       "(seq skipped: re-quote); CLOSED is a drop's last message.\n"
	       "--sku and --region subscribe to that SKU (in that region) only.\n"
	       "--json prints one JSON object per line.\n"
	       "Without --count it follows until interrupted; with --count N it\n"
	       "waits at most --timeout-ms (default %d) in all and exits 1 when\n"
	       "fewer than N messages came in that time.\n",
	    FEED_CMD_ENV, DROPCTL_TIMEOUT_MS_DEFAULT);
}

/* Parses the flags into a. Returns -1 to go on, else an exit code. */
static int feed_parse(dropctl_opts *o, int argc, char **argv, feed_args *a)
{
	const char *count = NULL;
	for (int i = 1; i < argc; i++) {
		int m;
		if (dropctl_is_help(argv[i])) {
			feed_help();
			return DROPCTL_EXIT_OK;
		}
		if ((m = dropctl_flag(argc, argv, &i, "--url", &a->url)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--count", &count)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--sku", &a->sku)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--region", &a->region)) == 0 &&
		    (m = dropctl_global_flag(o, argc, argv, &i)) == 0) {
			return dropctl_usage_error("feed", "unexpected argument '%s'", argv[i]);
		}
		if (m < 0) {
			return DROPCTL_EXIT_USAGE;
		}
	}
	if (count != NULL && dropctl_parse_i64(count, 1, FEED_CMD_COUNT_MAX, &a->want) != 0) {
		return dropctl_usage_error("feed", "--count wants 1..%d, not '%s'",
		    FEED_CMD_COUNT_MAX, count);
	}
	if (a->region != NULL && a->sku == NULL) {
		return dropctl_usage_error("feed", "--region needs --sku (topics are"
		    " \"feed <sku> <region> \")");
	}
	if ((a->sku != NULL && strchr(a->sku, ' ') != NULL) ||
	    (a->region != NULL && strchr(a->region, ' ') != NULL)) {
		return dropctl_usage_error("feed", "ids never hold spaces");
	}
	if (a->url == NULL) {
		a->url = getenv(FEED_CMD_ENV);
	}
	if (a->url == NULL || a->url[0] == '\0') {
		fprintf(stderr, "dropctl: feed: no signal socket: pass --url URL or set %s\n",
		    FEED_CMD_ENV);
		return DROPCTL_EXIT_USAGE;
	}
	return -1;
}

/* A sub socket on the topic a asks for, dialling a->url in the background
 * (a coordinator that comes up later is still heard). */
static int feed_open(const feed_args *a, nng_socket *sock)
{
	char topic[3 * (DN_ID_MAX + 1) + 8];
	snprintf(topic, sizeof(topic), "feed %s%s%s%s", a->sku ? a->sku : "",
	    a->sku ? " " : "", a->region ? a->region : "", a->region ? " " : "");
	int rv = nng_sub0_open(sock);
	if (rv == 0) {
		rv = nng_socket_set(*sock, NNG_OPT_SUB_SUBSCRIBE, topic, strlen(topic));
	}
	if (rv != 0) {
		fprintf(stderr, "dropctl: feed: %s\n", nng_strerror(rv));
		return DROPCTL_EXIT_FAIL;
	}
	nng_socket_set_size(*sock, NNG_OPT_RECVMAXSZ, FEED_CMD_MSG_MAX);
	nettls_files tls;
	nettls_files_from_env(&tls, NETTLS_AS_DEFAULT);
	rv = nettls_dial(*sock, a->url, &tls, NNG_FLAG_NONBLOCK);
	if (rv != 0) {
		nng_close(*sock); /* no pipe yet: closing cannot hang */
		fprintf(stderr, "dropctl: bad feed address '%s' or TLS setup (%s)\n", a->url,
		    dn_strerror(rv));
		return DROPCTL_EXIT_USAGE;
	}
	return DROPCTL_EXIT_OK;
}

/* True when f follows a gap in its key's seq (remembered in a). */
static bool feed_gap(feed_args *a, const Dropnet__FeedChange *f)
{
	char key[sizeof(((feed_seen *)0)->key)];
	snprintf(key, sizeof(key), "%s %s %s", f->drop_id, f->sku, f->region);
	for (size_t i = 0; i < a->nseen; i++) {
		feed_seen *s = &a->seen[i];
		if (strcmp(s->key, key) == 0) {
			bool gap = s->epoch == f->epoch && f->seq != s->seq + 1;
			s->epoch = f->epoch;
			s->seq = f->seq;
			return gap;
		}
	}
	if (a->nseen < FEED_CMD_KEYS_MAX) {
		feed_seen *s = &a->seen[a->nseen++];
		snprintf(s->key, sizeof(s->key), "%s", key);
		s->epoch = f->epoch;
		s->seq = f->seq;
	}
	return false;
}

static const char *feed_avail_name(Dropnet__Availability v)
{
	switch (v) {
	case DROPNET__AVAILABILITY__IN_STOCK: return "IN_STOCK";
	case DROPNET__AVAILABILITY__LOW: return "LOW";
	case DROPNET__AVAILABILITY__SOLD_OUT_HERE: return "SOLD_OUT_HERE";
	default: return "UNKNOWN";
	}
}

static int feed_print_json(const Dropnet__FeedChange *f, bool gap)
{
	json_t *prices = json_array();
	for (size_t i = 0; prices != NULL && i < f->n_prices; i++) {
		json_array_append_new(prices, json_pack("{s:s,s:I,s:s}", "tier", f->prices[i]->tier,
		    "unit_minor", (json_int_t)f->prices[i]->unit_minor, "rule",
		    f->prices[i]->rule));
	}
	return dropctl_json_emit(json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:s,s:o,s:s,s:b,s:b,"
	    "s:s,s:b,s:b}", "sku", f->sku, "region", f->region, "drop_id", f->drop_id,
	    "seq", (json_int_t)f->seq, "epoch", (json_int_t)f->epoch, "time_ms",
	    (json_int_t)f->time_ms, "availability", feed_avail_name(f->availability),
	    "prices", prices, "currency", f->currency, "price_changed", (int)f->price_changed,
	    "availability_changed", (int)f->availability_changed, "experiment",
	    f->experiment, "closed", (int)f->closed, "gap", (int)gap));
}

static int feed_print(const Dropnet__FeedChange *f, bool gap, bool json)
{
	if (json) {
		int ex = feed_print_json(f, gap);
		fflush(stdout); /* a follower's reader sees each line at once */
		return ex;
	}
	time_t secs = (time_t)(f->time_ms / 1000);
	struct tm tm;
	char when[16] = "-";
	if (f->time_ms > 0 && gmtime_r(&secs, &tm) != NULL) {
		snprintf(when, sizeof(when), "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
	}
	printf("%s %-10s %-10s drop=%s seq=%" PRIu64 " %-13s", when, f->sku, f->region,
	    f->drop_id, f->seq, feed_avail_name(f->availability));
	for (size_t i = 0; i < f->n_prices; i++) {
		printf(" %s=%" PRId64 "%s%s(%s)", f->prices[i]->tier, f->prices[i]->unit_minor,
		    f->currency[0] ? " " : "", f->currency, f->prices[i]->rule);
	}
	printf("%s%s%s%s%s%s\n", f->price_changed ? " PRICE" : "",
	    f->availability_changed ? " AVAIL" : "", gap ? " GAP" : "",
	    f->closed ? " CLOSED" : "", f->experiment[0] ? " experiment=" : "", f->experiment);
	fflush(stdout);
	return DROPCTL_EXIT_OK;
}

/* Waits until deadline (0: none) for the next message. 0 with *out set;
 * DN_ETIMEDOUT; DN_EPROTO for one that does not decode (said, skipped);
 * DN_ENET or DN_ERANGE when the run must stop (said). */
static int feed_recv(nng_socket sock, int64_t deadline, Dropnet__FeedChange **out)
{
	nng_msg *m = NULL;
	int rv = dropctl_sub_recv(sock, deadline, "feed", &m);
	if (rv != 0) {
		return rv;
	}
	size_t len = nng_msg_len(m), i = 0, spaces = 0;
	const uint8_t *body = nng_msg_body(m);
	while (i < len && spaces < 3) {
		spaces += body[i++] == ' ';
	}
	Dropnet__FeedChange *f = NULL;
	int cr = spaces == 3 ? codec_feed_change_unpack(body + i, len - i, &f) : DN_EPROTO;
	nng_msg_free(m);
	if (cr == DN_ERANGE) {
		fprintf(stderr, "dropctl: feed: coordinator speaks protocol version %u, this"
		    " dropctl speaks %u\n", f->version, DN_PROTO_VERSION);
		codec_feed_change_free(f);
		return DN_ERANGE;
	}
	if (cr != 0) {
		fprintf(stderr, "dropctl: feed: a message did not decode as FeedChange (skipped)\n");
		return DN_EPROTO;
	}
	*out = f;
	return 0;
}

int dropctl_feed(dropctl_opts *o, int argc, char **argv)
{
	feed_args a = {0};
	nng_socket sock;
	int ex = feed_parse(o, argc, argv, &a);
	if (ex >= 0) {
		return ex;
	}
	a.seen = calloc(FEED_CMD_KEYS_MAX, sizeof(*a.seen));
	if (a.seen == NULL || (ex = feed_open(&a, &sock)) != DROPCTL_EXIT_OK) {
		free(a.seen);
		return a.seen == NULL ? DROPCTL_EXIT_FAIL : ex;
	}
	int64_t deadline = a.want > 0 ? dropctl_now_ms() + o->timeout_ms : 0, got = 0;
	ex = DROPCTL_EXIT_OK;
	while ((a.want == 0 || got < a.want) && ex == DROPCTL_EXIT_OK) {
		Dropnet__FeedChange *f = NULL;
		int rv = feed_recv(sock, deadline, &f);
		if (rv == DN_ETIMEDOUT) {
			break;
		}
		if (rv == DN_EPROTO) {
			continue;
		}
		if (rv != 0) {
			ex = DROPCTL_EXIT_FAIL;
			break;
		}
		ex = feed_print(f, feed_gap(&a, f), o->json);
		got++;
		codec_feed_change_free(f);
	}
	if (ex == DROPCTL_EXIT_OK && a.want > 0 && got < a.want) {
		fprintf(stderr, "dropctl: feed: %" PRId64 " of %" PRId64 " messages from %s"
		    " within %d ms\n", got, a.want, a.url, o->timeout_ms);
		ex = DROPCTL_EXIT_FAIL;
	}
	free(a.seen);
	return ex;
}
