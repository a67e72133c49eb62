/*
 * sample.c - seeded randomness and statistics (see sample.h).
 *
 * Invariants: every function is a function of its arguments and the
 * caller's generator state; nothing here reads a clock or keeps globals
 * beyond the read-only city table. Safe from any thread as long as each
 * sample_rng is used by one thread at a time.
 */
#include <math.h>
#include <stdlib.h>
#include "core/err.h"
#include "core/geo.h"
#include "core/sample.h"

#define SAMPLE_PI 3.14159265358979323846

/* km per degree of latitude on the mean sphere (and of longitude at the
 * equator). */
#define SAMPLE_KM_PER_DEG (GEO_EARTH_RADIUS_KM * SAMPLE_PI / 180.0)

/* Below this cos(lat) (within ~0.06 degrees of a pole) an east-west
 * distance in km has no meaningful longitude; we leave longitude alone
 * instead of dividing by almost zero. */
#define SAMPLE_POLE_COS_MIN 1e-3

/*
 * UK population centres. Populations are approximate built-up-area /
 * settlement figures (ONS 2011 built-up areas, NRS 2016 settlements for
 * Scotland, NISRA for Belfast), rounded: they only set relative weights.
 */
static const sample_city sample_uk_table[] = {
	{ "london", 51.5074, -0.1278, 9787000u },
	{ "birmingham", 52.4862, -1.8904, 2441000u },
	{ "manchester", 53.4808, -2.2426, 2553000u },
	{ "leeds", 53.8008, -1.5491, 1778000u },
	{ "glasgow", 55.8642, -4.2518, 985000u },
	{ "edinburgh", 55.9533, -3.1883, 512000u },
	{ "bristol", 51.4545, -2.5879, 617000u },
	{ "liverpool", 53.4084, -2.9916, 864000u },
	{ "sheffield", 53.3811, -1.4701, 685000u },
	{ "newcastle", 54.9783, -1.6178, 775000u },
	{ "cardiff", 51.4816, -3.1791, 447000u },
	{ "nottingham", 52.9548, -1.1581, 730000u },
	{ "southampton", 50.9097, -1.4044, 856000u },
	{ "norwich", 52.6309, 1.2974, 213000u },
	{ "plymouth", 50.3755, -4.1427, 260000u },
	{ "aberdeen", 57.1497, -2.0943, 200000u },
	{ "leicester", 52.6369, -1.1398, 509000u },
	{ "belfast", 54.5973, -5.9301, 596000u },
};

uint64_t sample_mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

void sample_rng_seed(sample_rng *r, uint64_t seed)
{
	/* splitmix64 as a sequence generator fills the state; it never yields
	 * four zero words, the one state xoshiro cannot leave. */
	uint64_t x = seed;
	for (size_t i = 0; i < 4; i++) {
		r->s[i] = sample_mix64(x);
		x += 0x9e3779b97f4a7c15ULL;
	}
}

void sample_rng_seed_stream(sample_rng *r, uint64_t seed, uint64_t index)
{
	/* Mixing twice keeps nearby (seed, index) pairs from giving related
	 * states: seed 1 stream 2 and seed 2 stream 1 differ. */
	sample_rng_seed(r, sample_mix64(sample_mix64(seed) ^ index));
}

static uint64_t sample_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t sample_rng_next(sample_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = sample_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = sample_rotl(s[3], 45);
	return result;
}

double sample_rng_unit(sample_rng *r)
{
	return (double)(sample_rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t sample_rng_below(sample_rng *r, uint64_t n)
{
	if (n == 0) {
		return 0;
	}
	/* Reject the low (2^64 mod n) values so every residue is equally
	 * likely; fewer than half the draws can be rejected, so the expected
	 * number of loops is below 2. */
	uint64_t threshold = (0 - n) % n;
	for (;;) {
		uint64_t x = sample_rng_next(r);
		if (x >= threshold) {
			return x % n;
		}
	}
}

double sample_gauss(sample_rng *r)
{
	/* u1 in (0, 1] so log(u1) is finite; one of the pair is discarded to
	 * keep the generator free of hidden state. */
	double u1 = 1.0 - sample_rng_unit(r);
	double u2 = sample_rng_unit(r);
	return sqrt(-2.0 * log(u1)) * cos(2.0 * SAMPLE_PI * u2);
}

const sample_city *sample_uk_cities(size_t *n)
{
	*n = sizeof(sample_uk_table) / sizeof(sample_uk_table[0]);
	return sample_uk_table;
}

size_t sample_city_pick(const sample_city *cities, size_t n, sample_rng *r)
{
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++) {
		total += cities[i].population;
	}
	if (total == 0) {
		return 0;
	}
	uint64_t x = sample_rng_below(r, total);
	for (size_t i = 0; i < n; i++) {
		if (x < cities[i].population) {
			return i;
		}
		x -= cities[i].population;
	}
	/* Unreachable: x < total = sum of populations. */
	return n - 1;
}

void sample_scatter(double lat, double lon, double sigma_km, sample_rng *r,
    double *out_lat, double *out_lon)
{
	double north_km = sample_gauss(r) * sigma_km;
	double east_km = sample_gauss(r) * sigma_km;
	double nlat = lat + north_km / SAMPLE_KM_PER_DEG;
	double c = cos(lat * SAMPLE_PI / 180.0);
	double nlon = lon;

	if (c > SAMPLE_POLE_COS_MIN) {
		nlon = lon + east_km / (SAMPLE_KM_PER_DEG * c);
	}
	if (nlat > 90.0) {
		nlat = 90.0;
	} else if (nlat < -90.0) {
		nlat = -90.0;
	}
	/* sigma is km-scale, so one wrap is enough for any sane input; fmod
	 * covers the rest without a loop. */
	if (nlon > 180.0 || nlon < -180.0) {
		nlon = fmod(nlon + 180.0, 360.0);
		if (nlon < 0.0) {
			nlon += 360.0;
		}
		nlon -= 180.0;
	}
	*out_lat = nlat;
	*out_lon = nlon;
}

void sample_ship_to(const sample_city *cities, size_t n, double sigma_km,
    sample_rng *r, double *lat, double *lon, size_t *city)
{
	size_t i = sample_city_pick(cities, n, r);
	if (city != NULL) {
		*city = i;
	}
	if (n == 0) {
		*lat = 0.0;
		*lon = 0.0;
		return;
	}
	sample_scatter(cities[i].lat, cities[i].lon, sigma_km, r, lat, lon);
}

static int sample_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a;
	uint32_t y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

void sample_sort_u32(uint32_t *v, size_t n)
{
	if (n > 1) {
		qsort(v, n, sizeof(*v), sample_cmp_u32);
	}
}

int sample_percentile_u32(const uint32_t *sorted, size_t n, double p,
    uint32_t *out)
{
	if (n == 0 || isnan(p)) {
		return DN_EINVAL;
	}
	if (p <= 0.0) {
		*out = sorted[0];
		return 0;
	}
	if (p >= 100.0) {
		*out = sorted[n - 1];
		return 0;
	}
	/* Nearest rank: ceil(p/100 * n), 1-based. p * n is formed first so
	 * that whole-number products (p = 99, n = 100) divide exactly instead
	 * of picking up 0.99's binary rounding. n is bounded far below 2^53
	 * by every caller. */
	double rank = ceil(p * (double)n / 100.0);
	size_t idx = rank < 1.0 ? 0 : (size_t)rank - 1;
	if (idx >= n) {
		idx = n - 1;
	}
	*out = sorted[idx];
	return 0;
}
