/*
 * fuzz_machine.h - what the coordinator and hub harnesses share: a real
 * machine on the simulator's in-memory SQLite VFS (tests/sim/simvfs.h: no
 * disk, no fsync, nothing left behind), seeded with two hubs and stock so
 * the fuzzer's bytes reach routing, allocation and the stream code, not just
 * the decoder. The machine lives across inputs, like a daemon, and is
 * rebuilt every FUZZ_RESET_RUNS inputs so its files stay small.
 *
 * Each harness defines LLVMFuzzerTestOneInput; built with clang's
 * -fsanitize=fuzzer (tests/fuzz/run.sh) libFuzzer drives it, built normally
 * tests/fuzz/replay.c feeds it the checked-in corpus (ctest fuzz.*).
 * Header-only: one harness per binary includes it once.
 */
#ifndef DN_FUZZ_MACHINE_H
#define DN_FUZZ_MACHINE_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "io/codec.h"
#include "io/log.h"
#include "io/mreq.h"
#include "coord.h"
#include "hub.h"
#include "simvfs.h"

#define FUZZ_VFS "dnfuzz"
#define FUZZ_RESET_RUNS 5000

static simvfs *fuzz_vfs;
static unsigned long fuzz_runs;
static unsigned long fuzz_generation;

static inline void fuzz_die(const char *what)
{
	fprintf(stderr, "fuzz harness setup failed: %s\n", what);
	abort();
}

/* A new, empty in-memory disk (every connection on the old one is closed:
 * one harness runs one machine). */
static inline void fuzz_vfs_fresh(void)
{
	log_set_level(LOG_OFF);
	simvfs_destroy(fuzz_vfs);
	fuzz_vfs = NULL;
	if (simvfs_create(FUZZ_VFS, 1, &fuzz_vfs) != 0) {
		fuzz_die("simvfs");
	}
	fuzz_generation++;
}

/* Hands one request to fn(machine, &req, 1) and frees the reply. */
#define FUZZ_CALL(fn, m, data, size)                                          \
	do {                                                                  \
		mreq r_;                                                      \
		mreq *rp_ = &r_;                                              \
		mreq_init(&r_, (data), (size));                               \
		fn((m), &rp_, 1);                                             \
		if (!r_.replied) {                                            \
			abort(); /* every request is answered */              \
		}                                                             \
		mreq_fini(&r_);                                               \
	} while (0)

/* ---- the coordinator ---- */
static coord fuzz_c;
static bool fuzz_c_open;
static uint64_t fuzz_mono = 1000;
static int64_t fuzz_wall = 1800000000000LL;

static inline void fuzz_coord_tick(void)
{
	fuzz_mono += 5;
	fuzz_wall += 5;
	coord_clock_set(&fuzz_c, fuzz_mono, fuzz_wall);
}

/* A hub's sync (hello + events), packed, through the machine. */
static inline void fuzz_coord_hub(const char *id, double lat, double lon, const char *sku,
    int64_t qty)
{
	Dropnet__HubHello hello = DROPNET__HUB_HELLO__INIT;
	Dropnet__HubEvent ev = DROPNET__HUB_EVENT__INIT;
	Dropnet__HubEvent *evs[] = {&ev};
	Dropnet__HubSyncRequest q = DROPNET__HUB_SYNC_REQUEST__INIT;
	hello.id = (char *)id;
	hello.name = (char *)id;
	hello.lat = lat;
	hello.lon = lon;
	hello.radius_km = 80;
	hello.incarnation = 7;
	ev.seq = 1;
	ev.kind = DROPNET__EVENT_KIND__EV_RECEIVED;
	ev.sku = (char *)sku;
	ev.qty = qty;
	ev.bin = "A1";
	q.version = 1;
	q.hello = &hello;
	q.n_events = 1;
	q.events = evs;
	uint8_t *buf = NULL;
	size_t len = 0;
	if (codec_hub_sync_request_pack(&q, &buf, &len) != 0) {
		fuzz_die("pack");
	}
	FUZZ_CALL(coord_hubsync_batch, &fuzz_c, buf, len);
	free(buf);
}

/* The coordinator, fresh every FUZZ_RESET_RUNS inputs: london and leeds,
 * each with 1,000 of "sku-a" and "sku-b". */
static inline coord *fuzz_coord(void)
{
	if (fuzz_c_open && ++fuzz_runs % FUZZ_RESET_RUNS != 0) {
		fuzz_coord_tick();
		return &fuzz_c;
	}
	if (fuzz_c_open) {
		coord_close(&fuzz_c);
	}
	fuzz_vfs_fresh();
	char err[256], path[64];
	const char *sets[] = {"coordinator.test_clock=1", "coordinator.hub_timeout_ms=600000"};
	memset(&fuzz_c, 0, sizeof(fuzz_c));
	if (conf_load(coord_config_keys, coord_config_nkeys, &fuzz_c.cfg, NULL, sets, 2,
	    err, sizeof(err)) != 0) {
		fuzz_die(err);
	}
	fuzz_c.split = ROUTE_SPLIT_ALLOWED;
	coord_clock_set(&fuzz_c, fuzz_mono, fuzz_wall);
	snprintf(path, sizeof(path), "/fuzz/coord-%lu.db", fuzz_generation);
	if (coord_open(&fuzz_c, path, FUZZ_VFS) != 0) {
		fuzz_die("coord_open");
	}
	fuzz_c_open = true;
	fuzz_coord_hub("london", 51.5072, -0.1276, "sku-a", 1000);
	fuzz_coord_hub("leeds", 53.8008, -1.5491, "sku-b", 1000);
	fuzz_coord_tick();
	return &fuzz_c;
}

/* ---- a hub ---- */
static hub fuzz_h;
static bool fuzz_h_open;

static inline hub *fuzz_hub(void)
{
	if (fuzz_h_open && ++fuzz_runs % FUZZ_RESET_RUNS != 0) {
		fuzz_h.now_ms += 5;
		return &fuzz_h;
	}
	if (fuzz_h_open) {
		hub_store_close(fuzz_h.store);
	}
	fuzz_vfs_fresh();
	char err[256], path[64];
	const char *sets[] = {"hub.id=london", "hub.lat=51.5", "hub.lon=-0.12"};
	memset(&fuzz_h, 0, sizeof(fuzz_h));
	if (hub_conf_load(&fuzz_h.cfg, NULL, sets, 3, err, sizeof(err)) != 0) {
		fuzz_die(err);
	}
	snprintf(path, sizeof(path), "/fuzz/hub-%lu.db", fuzz_generation);
	if (hub_store_open_vfs(&fuzz_h.store, path, FUZZ_VFS) != 0) {
		fuzz_die("hub_store_open");
	}
	fuzz_h.now_ms = fuzz_wall;
	fuzz_h_open = true;
	return &fuzz_h;
}

#endif
