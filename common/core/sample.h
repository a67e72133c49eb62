/*
 * sample.h - seeded randomness and statistics for simulators and benchmarks
 * (loadgen, tests). Pure: no clock, no I/O, no global state; every draw
 * comes from a caller-owned generator, so a seed replays exactly.
 *
 * The generator is xoshiro256** (Blackman & Vigna), seeded through
 * splitmix64 so any 64-bit seed, including 0, gives a good state. It is not
 * cryptographic and must never be used for anything secret.
 *
 * Thread model: a sample_rng belongs to one thread; the city table is
 * read-only and shared.
 */
#ifndef DN_SAMPLE_H
#define DN_SAMPLE_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
	uint64_t s[4];
} sample_rng;

/* One step of splitmix64: a bijective 64-bit mixer. Used to seed the
 * generator and to derive independent streams (one per buyer). */
uint64_t sample_mix64(uint64_t x);

/* Seeds r from seed (any value). */
void sample_rng_seed(sample_rng *r, uint64_t seed);

/* Seeds r for stream `index` of a run seeded with `seed`: the stream does
 * not depend on which thread draws it or in what order, so a run's per-buyer
 * draws are identical for a given seed whatever the concurrency. */
void sample_rng_seed_stream(sample_rng *r, uint64_t seed, uint64_t index);

/* Next 64 uniformly distributed bits. */
uint64_t sample_rng_next(sample_rng *r);

/* Uniform double in [0, 1) with 53 bits of precision. */
double sample_rng_unit(sample_rng *r);

/* Uniform integer in [0, n) without modulo bias (Lemire's method);
 * returns 0 when n is 0. */
uint64_t sample_rng_below(sample_rng *r, uint64_t n);

/* Standard normal deviate (mean 0, sd 1) by the Box-Muller transform.
 * Always finite. */
double sample_gauss(sample_rng *r);

/* A population centre: where buyers live, weighted by how many do. */
typedef struct {
	const char *name;
	double lat, lon;      /* WGS84 degrees */
	uint32_t population;  /* approximate built-up-area population */
} sample_city;

/* The built-in table of UK population centres; *n receives its length. */
const sample_city *sample_uk_cities(size_t *n);

/* Picks an index into cities[0..n) with probability proportional to
 * population. Returns 0 when n is 0 or every population is 0. */
size_t sample_city_pick(const sample_city *cities, size_t n, sample_rng *r);

/* Moves (lat, lon) by a 2-D gaussian scatter with sd sigma_km along each
 * axis (east and north). The result is clamped to [-90, 90] latitude and
 * wrapped to [-180, 180] longitude, so it is always a valid coordinate
 * for valid input. */
void sample_scatter(double lat, double lon, double sigma_km, sample_rng *r,
    double *out_lat, double *out_lon);

/* A ship-to point: a city picked by population, then scattered by
 * sigma_km. *city (if non-NULL) receives the picked index. */
void sample_ship_to(const sample_city *cities, size_t n, double sigma_km,
    sample_rng *r, double *lat, double *lon, size_t *city);

/* Sorts v ascending (helper for sample_percentile_u32). */
void sample_sort_u32(uint32_t *v, size_t n);

/* Nearest-rank percentile of an ascending-sorted array: the smallest value
 * such that at least p percent of the values are <= it. p is clamped to
 * [0, 100]; p = 0 gives the minimum, p = 100 the maximum. Returns 0 and
 * writes *out, or DN_EINVAL when n is 0 or p is NaN. */
int sample_percentile_u32(const uint32_t *sorted, size_t n, double p,
    uint32_t *out);

#endif
