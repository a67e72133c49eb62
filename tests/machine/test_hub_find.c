/*
 * test_hub_find.c - what coord_open builds from the hub registry without
 * measuring or scanning every hub (a REOPEN entry and a snapshot restore
 * run coord_open on every replica, so its cost is the group's stall):
 *  - coord_hub_find through the registry's id table (c->hubid) answers
 *    what a linear scan answers after every change of the registry: hubs
 *    registered by their first syncs (batch after batch, a full registry
 *    refusing one more), a close and open (the reload), a memory image
 *    restored onto the reopened file, a reload over the registry in
 *    memory (which carries each hub's memory over); the table holds
 *    exactly the hubs in use (test_txn checks it after a failed batch's
 *    undo drops a hub);
 *  - the feed's cover lists (which hubs' radius covers each hub's
 *    position), now found through the spatial index, are exactly what
 *    measuring every pair finds, on seeded hub sets with the index's edge
 *    cases (a hub on the edge of another's radius, the poles, the
 *    antimeridian, the least and largest radius, hubs on one spot), at
 *    open and after more hubs register.
 *
 * The real coordinator machine on a real SQLite file (tests/machine/harness.h).
 */
#include <math.h>
#include "harness.h"
#include "core/geo.h"
#include "../unit/seeded.h"

/* A test hub id's room. */
#define ID_LEN 32

/* A sync carrying only hub id's hello at (lat, lon, radius_km). */
static void pack_hello(const char *id, double lat, double lon, double radius_km,
    uint8_t **buf, size_t *len)
{
	Dropnet__HubHello hello = DROPNET__HUB_HELLO__INIT;
	hello.id = (char *)id;
	hello.name = (char *)id;
	hello.lat = lat;
	hello.lon = lon;
	hello.radius_km = radius_km;
	Dropnet__HubSyncRequest q = DROPNET__HUB_SYNC_REQUEST__INIT;
	q.version = DN_PROTO_VERSION;
	q.hello = &hello;
	assert_int_equal(codec_hub_sync_request_pack(&q, buf, len), 0);
}

/* One batch of hellos (ids[k] at pos[k]: lat, lon, radius_km); every
 * reply's status must be want. */
static void hellos(mt *m, char (*ids)[ID_LEN], const double (*pos)[3], size_t n,
    Dropnet__Status want)
{
	enum { BATCH = 16 };
	assert_true(n <= BATCH);
	uint8_t *buf[BATCH];
	size_t len[BATCH];
	mreq r[BATCH], *rp[BATCH];
	for (size_t k = 0; k < n; k++) {
		pack_hello(ids[k], pos[k][0], pos[k][1], pos[k][2], &buf[k], &len[k]);
		mreq_init(&r[k], buf[k], len[k]);
		rp[k] = &r[k];
	}
	coord_hubsync_batch(m->c, rp, n);
	for (size_t k = 0; k < n; k++) {
		assert_true(r[k].replied);
		Dropnet__HubSyncReply *rep = NULL;
		assert_int_equal(codec_hub_sync_reply_unpack(r[k].reply, r[k].reply_len, &rep), 0);
		assert_int_equal(rep->status, want);
		codec_hub_sync_reply_free(rep);
		mreq_fini(&r[k]);
		free(buf[k]);
	}
}

static void reopen(mt *m)
{
	coord_close(m->c);
	mt_open_at(m);
}

/* ---- the id table ---- */

#define FIND_MAX 64u

/* Hub k's id: ids that share long prefixes and differ in one character,
 * so the table's probes run through neighbours. */
static void find_id(size_t k, char *id, size_t len)
{
	snprintf(id, len, "hub-%c-%03zu", "abc"[k % 3], k);
}

/* Hubs [from, to) register, 7 a batch; the table follows every batch. */
static void find_register(mt *m, size_t from, size_t to, const char *const *gone,
    size_t ngone)
{
	char ids[16][ID_LEN];
	double pos[16][3];
	for (size_t k0 = from; k0 < to; k0 += 7) {
		size_t n = to - k0 < 7 ? to - k0 : 7;
		for (size_t k = 0; k < n; k++) {
			find_id(k0 + k, ids[k], sizeof(ids[k]));
			pos[k][0] = 50.0 + 0.1 * (double)(k0 + k);
			pos[k][1] = -1.0;
			pos[k][2] = 30.0;
		}
		hellos(m, ids, (const double (*)[3])pos, n, DROPNET__STATUS__OK);
		mt_assert_hub_find(m->c, gone, ngone);
	}
}

/* Goal: find answers as a scan does after registrations, a full registry
 * refusing one more, a close and open, and a memory image put back. */
static void test_find_follows_registry(void **state)
{
	(void)state;
	mt m;
	mt_prepare(&m, NULL);
	m.c->cfg.hubs_max = FIND_MAX;
	mt_open_at(&m);
	static const char *const gone[] = {"hub-a-999", "hub-a-00", "", "hub-b-000",
		"hub-a-0000"};
	mt_assert_hub_find(m.c, gone, 5);
	find_register(&m, 0, FIND_MAX - 10, gone, 5);
	assert_int_equal(m.c->nhubs, FIND_MAX - 10);
	assert_int_equal(coord_hub_find(m.c, "hub-a-000"), 0);
	assert_int_equal(coord_hub_find(m.c, "hub-b-001"), 1);
	/* A known hub's hello again: nothing moves. */
	find_register(&m, 3, 5, gone, 5);
	assert_int_equal(m.c->nhubs, FIND_MAX - 10);
	find_register(&m, FIND_MAX - 10, FIND_MAX, gone, 5);
	assert_int_equal(m.c->nhubs, FIND_MAX);

	/* Full: the next is refused and not found. */
	char over[1][ID_LEN] = {"hub-over"};
	const double at[1][3] = {{50.0, 0.0, 30.0}};
	hellos(&m, over, at, 1, DROPNET__STATUS__INVALID);
	static const char *const gone2[] = {"hub-over", "hub-a-999"};
	mt_assert_hub_find(m.c, gone2, 2);

	/* Close and open (the reload): the same hubs, found again; then the
	 * memory image taken before, restored onto the reopened file. */
	for (size_t i = 0; i < m.c->nhubs; i++) {
		m.c->hubs[i].last_seen_wall_ms = 1000 + (int64_t)i;
	}
	uint8_t *img = NULL;
	size_t ilen = 0;
	assert_int_equal(coord_memory_pack(m.c, &img, &ilen), 0);
	reopen(&m);
	assert_int_equal(m.c->nhubs, FIND_MAX);
	mt_assert_hub_find(m.c, gone2, 2);
	assert_int_equal(coord_memory_unpack(m.c, img, ilen), 0);
	free(img);
	mt_assert_hub_find(m.c, gone2, 2);
	for (size_t i = 0; i < m.c->nhubs; i++) {
		char id[ID_LEN];
		find_id(i, id, sizeof(id));
		assert_string_equal(m.c->hubs[i].id, id);
		assert_int_equal(m.c->hubs[i].last_seen_wall_ms, 1000 + (int64_t)i);
	}
	/* A reload over the registry in memory (a degraded machine's): each
	 * hub's memory found through the old table and carried over. */
	assert_int_equal(coord_reload(m.c), 0);
	mt_assert_hub_find(m.c, gone2, 2);
	for (size_t i = 0; i < m.c->nhubs; i++) {
		assert_int_equal(m.c->hubs[i].last_seen_wall_ms, 1000 + (int64_t)i);
	}
	mt_close(&m);
}

/* ---- the feed's cover lists ---- */

#define COVER_HUBS 400u
#define COVER_MORE 12u
#define COVER_SEEDS 12u

static uint64_t rng;

static uint64_t rnd(void)
{
	return seeded_next(&rng);
}

static double unif(double lo, double hi)
{
	return seeded_unif(&rng, lo, hi);
}

/* Hub k of a set (earlier hubs in pos[0..k)): mostly 20-120 km around a
 * few places, among them the antimeridian and both poles; sometimes
 * exactly on the edge of an earlier hub's radius (a hair in or out), on
 * an earlier hub's spot, at a pole or on lon +-180 exactly, with the
 * least or the largest radius. Only what validate_hub accepts: the
 * registry holds nothing else. */
static void cover_hub(double (*pos)[3], size_t k)
{
	static const double place[][2] = {{51.5, -0.1}, {-17.8, 179.9}, {65.0, -179.95},
		{89.7, 10.0}, {-89.9, -120.0}, {0.0, 180.0}};
	double *p = pos[k];
	seeded_dest(place[rnd() % 6][0], place[rnd() % 6][1], unif(0.0, 300.0), unif(0.0, 360.0),
	    &p[0], &p[1]);
	p[2] = unif(20.0, 120.0);
	const double *e = k > 0 ? pos[rnd() % k] : NULL;
	switch (rnd() % 12) {
	case 0:
		if (e != NULL) {
			seeded_dest(e[0], e[1], e[2] * (1.0 + unif(-1e-12, 1e-12)), unif(0.0, 360.0),
			    &p[0], &p[1]);
		}
		break;
	case 1:
		if (e != NULL) {
			p[0] = e[0];
			p[1] = e[1];
		}
		break;
	case 2: p[0] = (rnd() & 1) ? 90.0 : -90.0; break;
	case 3: p[1] = (rnd() & 1) ? 180.0 : -180.0; break;
	case 4: p[2] = DN_RADIUS_KM_MIN; break;
	case 5: p[2] = DN_RADIUS_KM_MAX; break;
	default: break;
	}
}

/* Every hub's cover list is the hubs g with distance <= g's radius,
 * ascending, as measuring every pair finds them. */
static void assert_cover_is_brute(const coord *c, uint64_t seed)
{
	for (size_t h = 0; h < c->nhubs; h++) {
		size_t n = 0, k = 0;
		const uint32_t *list = coord_feed_cover(c, h, &n);
		assert_non_null(list);
		const coord_hub *a = &c->hubs[h];
		for (size_t g = 0; g < c->nhubs; g++) {
			const coord_hub *b = &c->hubs[g];
			if (!(geo_distance_km(a->lat, a->lon, b->lat, b->lon) <= b->radius_km)) {
				continue;
			}
			if (k >= n || list[k] != g) {
				fail_msg("seed %llu hub %zu: cover lists %zu hubs, hub %zu (%zu of"
				    " them) missing", (unsigned long long)seed, h, n, g, k);
			}
			k++;
		}
		if (k != n) {
			fail_msg("seed %llu hub %zu: cover lists %zu hubs, brute force %zu",
			    (unsigned long long)seed, h, n, k);
		}
	}
}

/* The store of mt m holds pos[0..n) as hubs c00000.. (straight into the
 * file: as many first syncs would leave it). */
static void cover_store(mt *m, const double (*pos)[3], size_t n)
{
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_exec(m->c->db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(m->c->db, "INSERT INTO hubs(id, name, lat, lon,"
	    " radius_km) VALUES(?1, ?1, ?2, ?3, ?4)", -1, &st, NULL), SQLITE_OK);
	for (size_t k = 0; k < n; k++) {
		char id[ID_LEN];
		snprintf(id, sizeof(id), "c%05zu", k);
		sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_double(st, 2, pos[k][0]);
		sqlite3_bind_double(st, 3, pos[k][1]);
		sqlite3_bind_double(st, 4, pos[k][2]);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_exec(m->c->db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
}

/* Goal: at open (the reload's first scan) and after more hubs register
 * (the next full scan), every hub's cover list is the brute force's. */
static void test_feed_cover_matches_brute_force(void **state)
{
	(void)state;
	static double pos[COVER_HUBS + COVER_MORE][3];
	for (uint64_t seed = 1; seed <= COVER_SEEDS; seed++) {
		rng = seed * 7919;
		for (size_t k = 0; k < COVER_HUBS + COVER_MORE; k++) {
			cover_hub(pos, k);
		}
		mt m;
		mt_prepare(&m, NULL);
		m.c->cfg.hubs_max = COVER_HUBS + COVER_MORE;
		mt_open_at(&m);
		cover_store(&m, (const double (*)[3])pos, COVER_HUBS);
		reopen(&m);
		assert_int_equal(m.c->nhubs, COVER_HUBS);
		assert_cover_is_brute(m.c, seed);
		char ids[COVER_MORE][ID_LEN];
		for (size_t k = 0; k < COVER_MORE; k++) {
			snprintf(ids[k], sizeof(ids[k]), "c%05zu", COVER_HUBS + k);
		}
		hellos(&m, ids, (const double (*)[3])&pos[COVER_HUBS], COVER_MORE,
		    DROPNET__STATUS__OK);
		coord_feed_scan(m.c, true);
		assert_int_equal(m.c->nhubs, COVER_HUBS + COVER_MORE);
		assert_cover_is_brute(m.c, seed);
		mt_close(&m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find_follows_registry),
		cmocka_unit_test(test_feed_cover_matches_brute_force),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
