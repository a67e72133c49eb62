/*
 * bytes.h - a bounded little-endian byte writer and reader for small binary
 * images (the coordinator machine's memory image, coordinator/machine/
 * memory.c). Pure: no I/O, no allocation beyond the writer's own buffer.
 *
 * The writer grows its buffer up to a cap given at init; the reader never
 * reads past its end. Both latch a failure (bad) instead of returning one
 * per call, so a caller writes or reads a whole record and checks once.
 * Doubles travel as their IEEE-754 bits: an image read back on the same
 * platform gives the identical value.
 */
#ifndef DN_BYTES_H
#define DN_BYTES_H
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	uint8_t *p;       /* malloc'd; the caller frees it (or bytes_w_fini) */
	size_t len, cap, max;
	bool bad;         /* out of memory or over max */
} bytes_w;

typedef struct {
	const uint8_t *p;
	size_t len, off;
	bool bad;         /* read past the end, or a value out of bounds */
} bytes_r;

static inline void bytes_w_init(bytes_w *w, size_t max)
{
	memset(w, 0, sizeof(*w));
	w->max = max;
}

static inline void bytes_w_fini(bytes_w *w)
{
	free(w->p);
	w->p = NULL;
}

static inline void bytes_put(bytes_w *w, const void *src, size_t n)
{
	if (w->bad) {
		return;
	}
	if (n > w->max - w->len) {
		w->bad = true;
		return;
	}
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		while (cap < w->len + n) {
			cap *= 2;
		}
		uint8_t *p = realloc(w->p, cap);
		if (p == NULL) {
			w->bad = true;
			return;
		}
		w->p = p;
		w->cap = cap;
	}
	memcpy(w->p + w->len, src, n);
	w->len += n;
}

static inline void bytes_put_u64(bytes_w *w, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++) {
		b[i] = (uint8_t)(v >> (8 * i));
	}
	bytes_put(w, b, 8);
}

static inline void bytes_put_i64(bytes_w *w, int64_t v)
{
	bytes_put_u64(w, (uint64_t)v);
}

static inline void bytes_put_f64(bytes_w *w, double v)
{
	uint64_t u;
	memcpy(&u, &v, sizeof(u));
	bytes_put_u64(w, u);
}

/* A string as u64 length + bytes (no terminator). */
static inline void bytes_put_str(bytes_w *w, const char *s)
{
	size_t n = strlen(s);
	bytes_put_u64(w, n);
	bytes_put(w, s, n);
}

static inline void bytes_r_init(bytes_r *r, const uint8_t *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->bad = false;
}

static inline bool bytes_get(bytes_r *r, void *dst, size_t n)
{
	if (r->bad || n > r->len - r->off) {
		r->bad = true;
		memset(dst, 0, n);
		return false;
	}
	memcpy(dst, r->p + r->off, n);
	r->off += n;
	return true;
}

static inline uint64_t bytes_get_u64(bytes_r *r)
{
	uint8_t b[8];
	uint64_t v = 0;
	bytes_get(r, b, 8);
	for (int i = 0; i < 8; i++) {
		v |= (uint64_t)b[i] << (8 * i);
	}
	return v;
}

static inline int64_t bytes_get_i64(bytes_r *r)
{
	return (int64_t)bytes_get_u64(r);
}

static inline double bytes_get_f64(bytes_r *r)
{
	uint64_t u = bytes_get_u64(r);
	double v;
	memcpy(&v, &u, sizeof(v));
	return v;
}

/* A u64 that must be at most max (a count, a flag): above it the reader
 * goes bad and 0 is returned. */
static inline uint64_t bytes_get_max(bytes_r *r, uint64_t max)
{
	uint64_t v = bytes_get_u64(r);
	if (v > max) {
		r->bad = true;
		return 0;
	}
	return v;
}

/* A string written by bytes_put_str into dst (size cap, terminated): one
 * longer than cap - 1 makes the reader bad. */
static inline void bytes_get_str(bytes_r *r, char *dst, size_t cap)
{
	uint64_t n = bytes_get_max(r, cap - 1);
	if (!bytes_get(r, dst, (size_t)n)) {
		n = 0;
	}
	dst[n] = '\0';
}

#endif
