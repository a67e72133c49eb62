/*
 * envelope.h - the ingest socket's envelope (IngestRequest, IngestReply in
 * proto/dropnet.proto) read and written at the wire level.
 *
 * The envelope only routes: it says which kind of work a request carries
 * and where its bytes are. Reading it never unpacks the orders inside, and
 * writing it never re-packs them: a SubmitBatch is the orders' own bytes,
 * each behind its field tag and length, and a BatchAck the acks' bytes the
 * machine already packed. Both messages have one shape:
 *   field 1 (varint)        version
 *   field 16 (bytes)        one SubmitOrder / OrderAck
 *   field 17 (bytes)        SubmitBatch / BatchAck: field 1 repeated
 *   field 18 (bytes)        QuoteRequest / QuoteReply (unpacked by the
 *                           machine: a quote is answered from memory)
 * A bare SubmitOrder (fields 1..11) reads as an envelope with no kind: its
 * caller treats the whole bytes as the SubmitOrder they are.
 * tests/unit/test_envelope.c checks both directions against protobuf-c.
 *
 * Thread model: none; pure functions over caller-owned bytes.
 */
#ifndef DN_ENVELOPE_H
#define DN_ENVELOPE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Field numbers of the kind oneof (never renumbered; 18 is the quotes'). */
#define ENVELOPE_NONE 0u   /* no kind field: a bare SubmitOrder */
#define ENVELOPE_ONE 16u   /* IngestRequest.order / IngestReply.ack */
#define ENVELOPE_BATCH 17u /* IngestRequest.batch / IngestReply.batch */
#define ENVELOPE_QUOTE 18u /* IngestRequest.quote / IngestReply.quote */

/* A borrowed run of bytes. */
typedef struct {
	const uint8_t *buf;
	size_t len;
} envelope_slice;

typedef struct {
	uint32_t version;      /* 0 when absent */
	uint32_t kind;         /* ENVELOPE_NONE or the kind's field number */
	envelope_slice body;   /* the kind's bytes (borrowed from the input) */
} envelope;

/* Reads the envelope of buf. Returns 0 with *out filled (kind NONE for
 * bytes with no field 16 and up, which includes every bare SubmitOrder);
 * DN_EPROTO when buf is not protobuf wire format at its top level or
 * carries more than one kind field. Unknown fields below 16 are skipped
 * (they are a bare SubmitOrder's); an unknown kind >= 16 is returned as
 * its field number for the caller to refuse. */
int envelope_read(const uint8_t *buf, size_t len, envelope *out);

/* Every occurrence of length-delimited field `field` in buf (the items of
 * a SubmitBatch or BatchAck), in order, into out[0..*n). Other fields are
 * skipped. Returns 0; DN_EPROTO on bad wire or a non-bytes `field`;
 * DN_ERANGE when there are more than max (*n is then max + 1). */
int envelope_items(const uint8_t *buf, size_t len, uint32_t field,
    envelope_slice *out, size_t max, size_t *n);

/* Writes an envelope of version DN_PROTO_VERSION: kind ENVELOPE_ONE with
 * items[0] as its body (n must be 1), or ENVELOPE_BATCH with every item as
 * a field-1 entry of the batch. *out is malloc'd, the caller frees it.
 * Returns 0 or DN_ENOMEM. */
int envelope_write(uint32_t kind, const envelope_slice *items, size_t n,
    uint8_t **out, size_t *out_len);

#endif
