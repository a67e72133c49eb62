/*
 * sim.h - dropsim: a whole dropnet network in one process, one seed.
 *
 * The real coordinator machine (coordinator/machine) and N real hub machines
 * (hubd/machine) run on their real SQLite stores; everything around them is
 * simulated and driven by one seeded PRNG and one simulated clock:
 * storefronts that submit a drop's orders and retry with the same key, hub
 * staff who receive stock, claim, pick and ship, a network that delays,
 * loses, duplicates and reorders messages and partitions hubs, process
 * crashes and restarts, clock steps and loop stalls. After every step the
 * invariants of DESIGN.md are checked (check.c); the first violation stops
 * the seed and prints the command that replays it.
 *
 * Determinism: nothing here reads a clock or an unseeded source; events are
 * ordered by (time, sequence number). The same seed gives the same history,
 * byte for byte: every delivered message is folded into a 64-bit hash that
 * two runs of one seed must agree on.
 *
 * Thread model: one thread. Not a library: test code, bounded by the limits
 * below.
 */
#ifndef DN_SIM_H
#define DN_SIM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "coord.h"
#include "hub.h"

/* Hubs in one simulated network: the six of deploy/net. */
#define SIM_HUBS_MAX 6
/* SKUs of the simulated drop. */
#define SIM_SKUS 3
/* Orders of one seed: bounds the order table. */
#define SIM_ORDERS_MAX 100000
/* Pending events: every order, message and timer at once fits. */
#define SIM_EVENTS_MAX (4 * SIM_ORDERS_MAX + 4096)
/* Requests waiting at the coordinator per socket (its loop queue). */
#define SIM_INBOX_MAX 4096
/* Attempts of one order before the storefront gives up. */
#define SIM_TRIES_MAX 30
/* Simulated time the network may go without shipping an order once the
 * drop is over before "no convergence". */
#define SIM_SETTLE_MS (10 * 60 * 1000)

/* ---- the PRNG (splitmix64): the only source of chance ---- */
typedef struct {
	uint64_t s;
} sim_rng;
uint64_t sim_rng_next(sim_rng *r);
/* Uniform in [0, n); 0 when n is 0. */
uint64_t sim_rng_below(sim_rng *r, uint64_t n);
bool sim_rng_chance(sim_rng *r, double p);

/* ---- what one seed runs ---- */
typedef struct {
	uint64_t seed;
	uint32_t orders;        /* orders in the drop */
	uint32_t hubs;          /* hubs (<= SIM_HUBS_MAX) */
	bool faults;            /* network, crash, clock and stall faults */
	bool verbose;           /* one line per fault */
	bool walbuf;            /* stores through walbuf over simvfs, as the
				 * daemons' are over the default VFS */
	const char *dir;        /* unused: the stores live in simvfs memory */
	int bug;                /* 0, or a deliberately broken invariant (tests) */
} sim_params;

/* What a seed did and found. */
typedef struct {
	uint64_t hash;          /* history hash */
	uint64_t sim_ms;        /* simulated time run */
	uint32_t accepted, refused, gave_up, shipped, orders;
	uint32_t drop_accepted;  /* of accepted: orders of the seed's drop */
	uint32_t msgs, lost, duplicated, partitions;
	uint32_t coord_crashes, hub_crashes, clock_steps, stalls;
	uint32_t power_losses;  /* crashes that also lost unsynced writes */
	uint32_t wipes;         /* hub disks wiped */
	uint64_t io_errors;     /* write/sync errors and full disks injected */
	uint32_t audits;
	uint32_t real_paced;    /* 1: staff at a hub's real pace (hours),
				 * not compressed into seconds (sums: seeds) */
	uint32_t memfile_checks; /* memory = file checked after a failed tx */
	bool failed;
	char why[512];          /* the first violation */
} sim_result;

/* Runs one seed to the end (or its first violation). Returns 0, or -1 when
 * the set-up itself failed (files, config): a harness error, not a finding. */
int sim_run(const sim_params *p, sim_result *out);

#endif
