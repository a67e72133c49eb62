/*
 * envelope.c - the ingest envelope at the wire level (envelope.h): a
 * protobuf wire reader that only walks tags and lengths, and a writer that
 * frames bytes already packed. Bounds: every length is checked against the
 * bytes left before it is used; nothing here allocates but envelope_write.
 */
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "core/limits.h"
#include "io/envelope.h"

/* Protobuf wire types. */
enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

/* Reads a varint at *p (< end). Returns 0 or DN_EPROTO. */
static int wire_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t r = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (*p >= end) {
			return DN_EPROTO;
		}
		uint8_t b = *(*p)++;
		r |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			*v = r;
			return 0;
		}
	}
	return DN_EPROTO;
}

/* Reads one field at *p: its number, wire type and, for LEN fields, its
 * bytes; a varint's value in *val. Moves *p past it. */
static int wire_field(const uint8_t **p, const uint8_t *end, uint32_t *field,
    unsigned *wt, envelope_slice *bytes, uint64_t *val)
{
	uint64_t tag = 0, n = 0;
	if (wire_varint(p, end, &tag) != 0 || (tag >> 3) == 0 || (tag >> 3) > 0x1fffffff) {
		return DN_EPROTO;
	}
	*field = (uint32_t)(tag >> 3);
	*wt = (unsigned)(tag & 7);
	switch (*wt) {
	case WT_VARINT:
		return wire_varint(p, end, val);
	case WT_I64:
		n = 8;
		break;
	case WT_I32:
		n = 4;
		break;
	case WT_LEN:
		if (wire_varint(p, end, &n) != 0) {
			return DN_EPROTO;
		}
		break;
	default:
		return DN_EPROTO; /* groups: never in dropnet's schema */
	}
	if (n > (uint64_t)(end - *p)) {
		return DN_EPROTO;
	}
	bytes->buf = *p;
	bytes->len = (size_t)n;
	*p += n;
	return 0;
}

int envelope_read(const uint8_t *buf, size_t len, envelope *out)
{
	memset(out, 0, sizeof(*out));
	if (buf == NULL && len > 0) {
		return DN_EPROTO;
	}
	const uint8_t *p = buf, *end = buf + len;
	while (p < end) {
		uint32_t field = 0;
		unsigned wt = 0;
		envelope_slice b = {0};
		uint64_t v = 0;
		if (wire_field(&p, end, &field, &wt, &b, &v) != 0) {
			return DN_EPROTO;
		}
		if (field == 1 && wt == WT_VARINT) {
			out->version = (uint32_t)v;
		} else if (field >= ENVELOPE_ONE) {
			if (wt != WT_LEN || out->kind != ENVELOPE_NONE) {
				return DN_EPROTO;
			}
			out->kind = field;
			out->body = b;
		}
	}
	return 0;
}

int envelope_items(const uint8_t *buf, size_t len, uint32_t field,
    envelope_slice *out, size_t max, size_t *n)
{
	*n = 0;
	if (buf == NULL && len > 0) {
		return DN_EPROTO;
	}
	const uint8_t *p = buf, *end = buf + len;
	while (p < end) {
		uint32_t f = 0;
		unsigned wt = 0;
		envelope_slice b = {0};
		uint64_t v = 0;
		if (wire_field(&p, end, &f, &wt, &b, &v) != 0) {
			return DN_EPROTO;
		}
		if (f != field) {
			continue;
		}
		if (wt != WT_LEN) {
			return DN_EPROTO;
		}
		if (*n == max) {
			*n = max + 1;
			return DN_ERANGE;
		}
		out[(*n)++] = b;
	}
	return 0;
}

static size_t varint_size(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *varint_put(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

int envelope_write(uint32_t kind, const envelope_slice *items, size_t n,
    uint8_t **out, size_t *out_len)
{
	size_t body = 0;
	if (kind == ENVELOPE_BATCH) {
		for (size_t i = 0; i < n; i++) {
			body += 1 + varint_size(items[i].len) + items[i].len;
		}
	} else {
		body = n > 0 ? items[0].len : 0;
	}
	uint64_t ktag = (uint64_t)kind << 3 | WT_LEN;
	size_t total = 1 + varint_size(DN_PROTO_VERSION) + varint_size(ktag) +
	    varint_size(body) + body;
	uint8_t *b = malloc(total), *p = b;
	if (b == NULL) {
		return DN_ENOMEM;
	}
	p = varint_put(p, 1u << 3 | WT_VARINT);
	p = varint_put(p, DN_PROTO_VERSION);
	p = varint_put(p, ktag);
	p = varint_put(p, body);
	for (size_t i = 0; i < n && (kind == ENVELOPE_BATCH || i == 0); i++) {
		if (kind == ENVELOPE_BATCH) {
			p = varint_put(p, 1u << 3 | WT_LEN);
			p = varint_put(p, items[i].len);
		}
		if (items[i].len > 0) {
			memcpy(p, items[i].buf, items[i].len);
			p += items[i].len;
		}
	}
	*out = b;
	*out_len = (size_t)(p - b);
	return 0;
}
