/*
 * machine_bench.c - what the coordinator's machine alone costs per order,
 * with no socket, thread, TLS or fsync around it (not part of the test
 * suite): the floor under issue 10's "CPU per order" figures, which
 * compare.sh measures for the whole daemon.
 *
 *   machine_bench [--orders N] [--batch B[,B...]] [--hubs H] [--customers K]
 *
 * A machine on a real SQLite file in a temp folder, set up as the daemon
 * runs it (WAL, synchronous=NORMAL, the automatic checkpoint off: the
 * daemon's walsync thread does the fsync and the checkpoint, off the
 * loop), H hubs near the buyers with one hot SKU stocked through their
 * syncs. Then, for each B, N new orders (each its own key and, unless K is
 * given, its own buyer; one unit, as loadgen sends them) are handed to coord_ingest_request B at a
 * time - what the daemon's loop does with B requests queued at one wake -
 * and the process's CPU time is read around the calls. The hub is never
 * told to ack, so its command stream grows as a slow hub's would.
 * Prints one JSON object per B: CPU and wall microseconds per order and
 * orders per CPU second (the syncs that keep the hubs healthy, every 1,000
 * calls, are left out of the wall figure, not of the CPU one: they are a
 * few calls in a thousand). MB_PRAGMA="PRAGMA ..." in the environment runs
 * one more statement on the store after the daemon's pragmas (to try a
 * setting). Use a Release build.
 */
#include <getopt.h>
#include <time.h>
#include "io/db.h"
#include "../machine/harness.h"

#define BATCH_MAX 256u

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: machine_bench [--orders N] [--batch B[,B...]] [--hubs H] [--customers K]\n"
	    "  the coordinator machine alone (no sockets, threads, TLS or fsync):\n"
	    "  N new one-unit orders of one hot SKU (default 50000) handed to\n"
	    "  coord_ingest_request B at a time (default 1,16,64; at most %u),\n"
	    "  H hubs stocked (default 6); K distinct buyers in turn (default 0:\n"
	    "  every order a new buyer); prints CPU microseconds per order.\n",
	    BATCH_MAX);
}

/* Hub k's sync: registers it near the buyers and, the first time, receives
 * units of the hot SKU. */
static void hub_sync(mt *m, int k, int64_t units)
{
	char id[16];
	snprintf(id, sizeof(id), "hub%d", k);
	Dropnet__HubEvent e = DROPNET__HUB_EVENT__INIT;
	Dropnet__HubEvent *ep = &e;
	if (units > 0) {
		mt_event_received(&e, 1, "hot-sku", units, m->wall);
	}
	Dropnet__HubHello hello = DROPNET__HUB_HELLO__INIT;
	hello.id = id;
	hello.name = id;
	hello.lat = MT_LAT + 0.01 * k;
	hello.lon = MT_LON;
	hello.radius_km = 100;
	Dropnet__HubSyncRequest q = DROPNET__HUB_SYNC_REQUEST__INIT;
	q.version = DN_PROTO_VERSION;
	q.hello = &hello;
	q.n_events = units > 0 ? 1 : 0;
	q.events = &ep;
	uint8_t *buf = NULL;
	size_t len = 0;
	if (codec_hub_sync_request_pack(&q, &buf, &len) != 0) {
		fprintf(stderr, "machine_bench: pack failed\n");
		exit(1);
	}
	Dropnet__HubSyncReply *rep = mt_hub_sync_bytes(m, buf, len);
	if (rep->status != DROPNET__STATUS__OK) {
		fprintf(stderr, "machine_bench: hub %s sync: status %d\n", id, rep->status);
		exit(1);
	}
	codec_hub_sync_reply_free(rep);
	free(buf);
}

static void run(size_t orders, size_t batch, int hubs, size_t customers)
{
	mt m;
	mt_open(&m);
	if (db_exec(m.c->db, "PRAGMA synchronous=NORMAL") != 0 ||
	    db_exec(m.c->db, "PRAGMA wal_autocheckpoint=0") != 0) {
		fprintf(stderr, "machine_bench: pragmas failed\n");
		exit(1);
	}
	const char *extra = getenv("MB_PRAGMA");
	if (extra != NULL && db_exec(m.c->db, extra) != 0) {
		exit(1);
	}
	for (int k = 0; k < hubs; k++) {
		hub_sync(&m, k, (int64_t)orders);
	}
	uint8_t **bufs = calloc(orders, sizeof(*bufs));
	size_t *lens = calloc(orders, sizeof(*lens));
	if (bufs == NULL || lens == NULL) {
		exit(1);
	}
	for (size_t i = 0; i < orders; i++) {
		char key[32], customer[32];
		snprintf(key, sizeof(key), "mb-%zu-%zu", batch, i);
		snprintf(customer, sizeof(customer), "buyer-%zu", customers ? i % customers : i);
		const mt_order_spec s = {.key = key, .customer = customer, .sku = "hot-sku",
		    .qty = 1, .action = DROPNET__ORDER_ACTION__ACTION_SUBMIT,
		    .lat = MT_LAT, .lon = MT_LON};
		if (mt_pack_order(&s, &bufs[i], &lens[i]) != 0) {
			exit(1);
		}
	}
	size_t accepted = 0, calls = 0;
	mreq r[BATCH_MAX], *rp[BATCH_MAX];
	double c0 = cpu_s(), w0 = wall_s(), wsync = 0;
	for (size_t i = 0; i < orders; i += batch) {
		size_t n = orders - i < batch ? orders - i : batch;
		for (size_t k = 0; k < n; k++) {
			mreq_init(&r[k], bufs[i + k], lens[i + k]);
			rp[k] = &r[k];
		}
		/* The clock moves 1 ms a call, as a loaded loop's would; every
		 * second of it the hubs sync, so they stay healthy. */
		mt_pass(&m, 1);
		coord_ingest_request(m.c, rp, n);
		calls++;
		for (size_t k = 0; k < n; k++) {
			Dropnet__OrderAck *a = NULL;
			if (codec_order_ack_unpack(r[k].reply, r[k].reply_len, &a) == 0 &&
			    a->status == DROPNET__STATUS__ACCEPTED) {
				accepted++;
			}
			codec_order_ack_free(a);
			mreq_fini(&r[k]);
		}
		if (calls % 1000 == 0) {
			double s0 = wall_s();
			for (int k = 0; k < hubs; k++) {
				hub_sync(&m, k, 0);
			}
			wsync += wall_s() - s0;
		}
	}
	double cpu = cpu_s() - c0, wall = wall_s() - w0 - wsync;
	printf("{\"batch\":%zu,\"orders\":%zu,\"accepted\":%zu,\"hubs\":%d,"
	    "\"cpu_us_per_order\":%.1f,\"wall_us_per_order\":%.1f,"
	    "\"orders_per_cpu_s\":%.0f}\n",
	    batch, orders, accepted, hubs, 1e6 * cpu / (double)orders,
	    1e6 * wall / (double)orders, (double)orders / cpu);
	fflush(stdout);
	for (size_t i = 0; i < orders; i++) {
		free(bufs[i]);
	}
	free(bufs);
	free(lens);
	mt_close(&m);
	if (accepted != orders) {
		fprintf(stderr, "machine_bench: %zu of %zu orders accepted\n", accepted, orders);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	size_t orders = 50000;
	int hubs = 6;
	size_t customers = 0;
	const char *batches = "1,16,64";
	static const struct option opts[] = {
	    {"orders", required_argument, NULL, 'n'},
	    {"batch", required_argument, NULL, 'b'},
	    {"hubs", required_argument, NULL, 'H'},
	    {"customers", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int o;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'n':
			orders = strtoul(optarg, NULL, 10);
			break;
		case 'b':
			batches = optarg;
			break;
		case 'H':
			hubs = atoi(optarg);
			break;
		case 'c':
			customers = strtoul(optarg, NULL, 10);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (orders == 0 || hubs < 1 || hubs > 64) {
		usage(stderr);
		return 2;
	}
	char list[256];
	snprintf(list, sizeof(list), "%s", batches);
	for (char *save = NULL, *t = strtok_r(list, ",", &save); t != NULL;
	    t = strtok_r(NULL, ",", &save)) {
		size_t b = strtoul(t, NULL, 10);
		if (b == 0 || b > BATCH_MAX) {
			usage(stderr);
			return 2;
		}
		run(orders, b, hubs, customers);
	}
	return 0;
}
