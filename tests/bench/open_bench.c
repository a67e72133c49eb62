/*
 * open_bench.c - how long coord_open takes on a store of N hubs and S SKUs
 * a hub (N x S stock rows): what every replica pays on each REOPEN entry (a
 * new leader's first) and on each snapshot restore (not part of the test
 * suite; tests/bench/open.sh runs it):
 *
 *   open_bench [--hubs N] [--skus S] [--runs R] [--dir DIR]
 *
 * The hubs sit on the grid tests/bench/hubs.sh registers (Great Britain,
 * lat 50-58.4, lon -6..1.8, radius 30 km or what covers a cell). The store
 * is written once, straight into SQLite (the rows a hub's first syncs
 * leave), then the machine is opened and closed R times with its clock
 * started, as in a daemon; prints one JSON object with each open's time
 * (ms) and their minimum and median. Use a Release or RelWithDebInfo build.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>
#include "core/err.h"
#include "io/log.h"
#include "coord.h"

#define RUNS_MAX 50

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "open_bench: %s: %s\n", what, detail);
	exit(1);
}

static void exec_sql(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		die(sql, err != NULL ? err : "?");
	}
}

/* hubs.sh's grid: rows x columns near n, cells about as tall as wide. */
static void fill_store(const char *path, size_t n, size_t skus)
{
	const double lat0 = 50.0, lat1 = 58.4, lon0 = -6.0, lon1 = 1.8;
	double cols = fmax(1.0, round(sqrt((double)n * (lon1 - lon0) * 0.59 / (lat1 - lat0))));
	double rows = ceil((double)n / cols);
	double dlat = (lat1 - lat0) / rows, dlon = (lon1 - lon0) / cols;
	double radius = fmax(30.0, 1.2 * 0.5 * hypot(dlat * 111.2, dlon * 111.2 * 0.59));
	sqlite3 *db = NULL;
	if (sqlite3_open(path, &db) != SQLITE_OK) {
		die("open", path);
	}
	exec_sql(db, "BEGIN");
	sqlite3_stmt *hub = NULL, *stock = NULL;
	if (sqlite3_prepare_v2(db, "INSERT INTO hubs(id, name, lat, lon, radius_km)"
	    " VALUES(?1, ?1, ?2, ?3, ?4)", -1, &hub, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO stock(hub, sku, on_hand, allocated, holdback,"
	    " received, shipped, lost, adjusted) VALUES(?1, ?2, 100, 0, 0, 100, 0, 0, 0)", -1,
	    &stock, NULL) != SQLITE_OK) {
		die("prepare", sqlite3_errmsg(db));
	}
	for (size_t k = 0; k < n; k++) {
		char id[32], sku[32];
		snprintf(id, sizeof(id), "g%05zu", k);
		sqlite3_bind_text(hub, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_double(hub, 2, lat0 + dlat * floor((double)k / cols));
		sqlite3_bind_double(hub, 3, lon0 + dlon * fmod((double)k, cols));
		sqlite3_bind_double(hub, 4, radius);
		if (sqlite3_step(hub) != SQLITE_DONE) {
			die("hub", sqlite3_errmsg(db));
		}
		sqlite3_reset(hub);
		for (size_t s = 0; s < skus; s++) {
			snprintf(sku, sizeof(sku), "sku%04zu", s);
			sqlite3_bind_text(stock, 1, id, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(stock, 2, sku, -1, SQLITE_TRANSIENT);
			if (sqlite3_step(stock) != SQLITE_DONE) {
				die("stock", sqlite3_errmsg(db));
			}
			sqlite3_reset(stock);
		}
	}
	sqlite3_finalize(hub);
	sqlite3_finalize(stock);
	exec_sql(db, "COMMIT");
	sqlite3_close(db);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	size_t hubs = 4096, skus = 12, runs = 5;
	const char *dir = "/tmp";
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--hubs") == 0) {
			hubs = strtoul(argv[i + 1], NULL, 10);
		} else if (strcmp(argv[i], "--skus") == 0) {
			skus = strtoul(argv[i + 1], NULL, 10);
		} else if (strcmp(argv[i], "--runs") == 0) {
			runs = strtoul(argv[i + 1], NULL, 10);
		} else if (strcmp(argv[i], "--dir") == 0) {
			dir = argv[i + 1];
		} else {
			die("usage", "open_bench [--hubs N] [--skus S] [--runs R] [--dir DIR]");
		}
	}
	if (runs == 0 || runs > RUNS_MAX || hubs == 0 || hubs > DN_HUBS_CAP) {
		die("usage", "1 <= runs <= 50, 1 <= hubs <= 4096");
	}
	log_set_level(LOG_ERROR);
	char path[512];
	snprintf(path, sizeof(path), "%s/open_bench-%d.db", dir, (int)getpid());
	coord *c = calloc(1, sizeof(*c));
	char err[200];
	if (c == NULL || conf_load(coord_config_keys, coord_config_nkeys, &c->cfg, NULL,
	    NULL, 0, err, sizeof(err)) != 0) {
		die("config", err);
	}
	c->cfg.hubs_max = (long long)hubs;
	coord_clock_set(c, 1000, 1800000000000LL);
	if (coord_open(c, path, NULL) != 0) {   /* the schema */
		die("coord_open", path);
	}
	coord_close(c);
	fill_store(path, hubs, skus);
	double t[RUNS_MAX];
	for (size_t r = 0; r < runs; r++) {
		double t0 = now_ms();
		int rv = coord_open(c, path, NULL);
		t[r] = now_ms() - t0;
		if (rv != 0 || c->nhubs != hubs) {
			die("coord_open", dn_strerror(rv));
		}
		coord_close(c);
	}
	printf("{\"hubs\": %zu, \"skus\": %zu, \"stock_rows\": %zu, \"open_ms\": [", hubs,
	    skus, hubs * skus);
	for (size_t r = 0; r < runs; r++) {
		printf("%s%.1f", r ? ", " : "", t[r]);
	}
	qsort(t, runs, sizeof(t[0]), cmp_double);
	printf("], \"min_ms\": %.1f, \"median_ms\": %.1f}\n", t[0], t[runs / 2]);
	free(c);
	const char *sfx[] = {"", "-wal", "-shm"};
	for (size_t i = 0; i < 3; i++) {
		char p[600];
		snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
		unlink(p);
	}
	return 0;
}
