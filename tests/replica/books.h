/*
 * books.h - a digest of a coordinator store's books, for the replica tests:
 * FNV-1a over every row of every table (ledger, journal, placements,
 * command streams, drops, clocks, the incarnation). Two stores with equal
 * digests hold the same books row for row.
 */
#ifndef DN_TEST_BOOKS_H
#define DN_TEST_BOOKS_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sqlite3.h>

/* The digest of db's books; *orders gets the journal's order count.
 * Returns 0 when a table cannot be read (a test then fails on it). */
static inline uint64_t books_digest(sqlite3 *db, int64_t *orders)
{
	static const char *const tables[] = {"meta", "hubs", "stock", "orders",
	    "order_lines", "placements", "placement_lines", "commands", "drops",
	    "drop_tiers", "drop_holdback", "holdback_log", "buyer_counts", "transfers",
	    "customers", "hub_seed", "coord_clock"};
	uint64_t h = 1469598103934665603ULL;
	*orders = 0;
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		char sql[128];
		bool one = strcmp(tables[t], "coord_clock") == 0 || strcmp(tables[t], "meta") == 0;
		snprintf(sql, sizeof(sql), "SELECT * FROM %s ORDER BY 1%s", tables[t],
		    one ? "" : ", 2");
		sqlite3_stmt *st = NULL;
		if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
			return 0;
		}
		while (sqlite3_step(st) == SQLITE_ROW) {
			*orders += strcmp(tables[t], "orders") == 0;
			for (int col = 0; col < sqlite3_column_count(st); col++) {
				const uint8_t *p = sqlite3_column_blob(st, col);
				int n = sqlite3_column_bytes(st, col);
				for (int k = 0; k < n; k++) {
					h = (h ^ p[k]) * 1099511628211ULL;
				}
				h = (h ^ 0xffu) * 1099511628211ULL;   /* column end */
			}
		}
		sqlite3_finalize(st);
	}
	return h;
}

#endif
