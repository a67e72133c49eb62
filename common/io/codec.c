/*
 * codec.c - protobuf-c behind one wall (see codec.h). The generated C lives
 * in the build tree (proto/dropnet.pb-c.[ch], made by protoc-c).
 *
 * Unpacking allocates through a budgeted allocator: one message may take
 * at most DN_UNPACK_MAX_BYTES, and the requests servers receive from peers
 * (SubmitOrder, HubSyncRequest, OpsRequest, TermRequest) may only be
 * unpacked while all unpacked messages alive in the process stay under
 * DN_UNPACK_LIVE_MAX. Internal unpacks (outbox commands and events, stored
 * acks, drops, replies) are not held back by the live budget: failing to
 * read the process's own data under a peer's pressure would turn a flood
 * into storage errors. Each block carries its size
 * in a header so that free (codec_M_free, or protobuf-c's own clean-up of
 * a failed unpack) returns it to the live count. The live count is an
 * atomic: codecs run on the loop thread and on client threads (loadgen).
 */
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "core/limits.h"
#include "io/codec.h"
#include "io/log.h"

/* Requests from peers (the four server-side request types) get
 * DN_UNPACK_MAX_BYTES and the live budget; replies from our own
 * authenticated coordinator or hub and the process's own stored messages
 * get DN_UNPACK_TRUSTED_MAX_BYTES and no live budget (a large `dropctl
 * stock` listing must not fail, and a flood must never make a daemon's
 * own data unreadable). */

/* The size header keeps the block after it aligned for any type. */
typedef union {
	size_t size;
	max_align_t align;
} codec_hdr;

typedef struct {
	size_t used;   /* bytes taken by this unpack so far, headers included */
	size_t max;
	size_t live_max; /* SIZE_MAX: not subject to the live budget */
	bool over;     /* a request was refused: the budget, not the bytes */
	bool live_full;
} codec_budget;

static atomic_size_t codec_live_bytes;
static atomic_ullong codec_refusals;

static void *codec_budget_alloc(void *data, size_t size)
{
	codec_budget *b = data;
	if (size > b->max || sizeof(codec_hdr) + size > b->max - b->used) {
		b->over = true;
		return NULL;
	}
	size_t total = sizeof(codec_hdr) + size;
	size_t before = atomic_fetch_add(&codec_live_bytes, total);
	if (b->live_max != SIZE_MAX && before + total > b->live_max) {
		atomic_fetch_sub(&codec_live_bytes, total);
		b->over = b->live_full = true;
		return NULL;
	}
	codec_hdr *h = malloc(total);
	if (h == NULL) {
		atomic_fetch_sub(&codec_live_bytes, total);
		return NULL;
	}
	h->size = total;
	b->used += total;
	return h + 1;
}

static void codec_budget_free(void *data, void *ptr)
{
	(void)data;
	if (ptr == NULL) {
		return;
	}
	codec_hdr *h = (codec_hdr *)ptr - 1;
	atomic_fetch_sub(&codec_live_bytes, h->size);
	free(h);
}

/* Frees what codec_budget_alloc gave (no budget needed to give back). */
static ProtobufCAllocator codec_free_allocator = {
	.alloc = NULL, .free = codec_budget_free, .allocator_data = NULL,
};

static void codec_budget_log(const char *msg, size_t len, const codec_budget *b)
{
	unsigned long long n = atomic_fetch_add(&codec_refusals, 1) + 1;
	log_warn("codec.unpack_refused", "msg=%s len=%zu reason=%s used=%zu max=%zu"
	    " live=%zu refusals=%llu", msg, len, b->live_full ? "live_budget" : "budget",
	    b->used, b->max, atomic_load(&codec_live_bytes), n);
}

size_t codec_live_bytes_get(void)
{
	return atomic_load(&codec_live_bytes);
}

unsigned long long codec_refusals_get(void)
{
	return atomic_load(&codec_refusals);
}

#define CODEC_DEFINE(name, T, fn, max, live)                                   \
	CODEC_DEFINE_LEN(name, T, fn, DN_MSG_MAX_BYTES, max, live)
/* The same with a longest wire form of lenmax bytes. */
#define CODEC_DEFINE_LEN(name, T, fn, lenmax, max, live)                       \
	int codec_##name##_unpack(const uint8_t *buf, size_t len, T **out)     \
	{                                                                      \
		*out = NULL;                                                   \
		if (len > (lenmax) || (buf == NULL && len > 0)) {              \
			return DN_EPROTO;                                      \
		}                                                              \
		codec_budget bud = {0, max, live, false,                       \
		    false};                                                    \
		ProtobufCAllocator al = {codec_budget_alloc,                   \
		    codec_budget_free, &bud};                                  \
		T *m = fn##__unpack(&al, len, buf);                            \
		if (m == NULL) {                                               \
			if (bud.over) {                                        \
				codec_budget_log(#name, len, &bud);            \
			}                                                      \
			return DN_EPROTO;                                      \
		}                                                              \
		*out = m;                                                      \
		return m->version == DN_PROTO_VERSION ? 0 : DN_ERANGE;         \
	}                                                                      \
	void codec_##name##_free(T *m)                                         \
	{                                                                      \
		if (m != NULL) {                                               \
			fn##__free_unpacked(m, &codec_free_allocator);         \
		}                                                              \
	}                                                                      \
	int codec_##name##_pack(const T *m, uint8_t **buf, size_t *len)        \
	{                                                                      \
		size_t n = fn##__get_packed_size(m);                           \
		uint8_t *b = malloc(n > 0 ? n : 1);                            \
		if (b == NULL) {                                               \
			return DN_ENOMEM;                                      \
		}                                                              \
		*len = fn##__pack(m, b);                                       \
		*buf = b;                                                      \
		return 0;                                                      \
	}

/* Events and commands carry no version of their own (they travel inside a
 * versioned batch, or sit in an outbox written by this build); give them a
 * version-free unpack. */
#define CODEC_DEFINE_INNER(name, T, fn, max, live)                             \
	int codec_##name##_unpack(const uint8_t *buf, size_t len, T **out)     \
	{                                                                      \
		*out = NULL;                                                   \
		if (len > DN_MSG_MAX_BYTES || (buf == NULL && len > 0)) {      \
			return DN_EPROTO;                                      \
		}                                                              \
		codec_budget bud = {0, max, live, false,                       \
		    false};                                                    \
		ProtobufCAllocator al = {codec_budget_alloc,                   \
		    codec_budget_free, &bud};                                  \
		T *m = fn##__unpack(&al, len, buf);                            \
		if (m == NULL) {                                               \
			if (bud.over) {                                        \
				codec_budget_log(#name, len, &bud);            \
			}                                                      \
			return DN_EPROTO;                                      \
		}                                                              \
		*out = m;                                                      \
		return 0;                                                      \
	}                                                                      \
	void codec_##name##_free(T *m)                                         \
	{                                                                      \
		if (m != NULL) {                                               \
			fn##__free_unpacked(m, &codec_free_allocator);         \
		}                                                              \
	}                                                                      \
	int codec_##name##_pack(const T *m, uint8_t **buf, size_t *len)        \
	{                                                                      \
		size_t n = fn##__get_packed_size(m);                           \
		uint8_t *b = malloc(n > 0 ? n : 1);                            \
		if (b == NULL) {                                               \
			return DN_ENOMEM;                                      \
		}                                                              \
		*len = fn##__pack(m, b);                                       \
		*buf = b;                                                      \
		return 0;                                                      \
	}

CODEC_DEFINE(submit_order, Dropnet__SubmitOrder, dropnet__submit_order,
    DN_UNPACK_MAX_BYTES, DN_UNPACK_LIVE_MAX)
CODEC_DEFINE(order_ack, Dropnet__OrderAck, dropnet__order_ack,
    DN_UNPACK_TRUSTED_MAX_BYTES, SIZE_MAX)
CODEC_DEFINE(ingest_request, Dropnet__IngestRequest, dropnet__ingest_request,
    DN_UNPACK_MAX_BYTES, DN_UNPACK_LIVE_MAX)
CODEC_DEFINE(ingest_reply, Dropnet__IngestReply, dropnet__ingest_reply,
    DN_UNPACK_TRUSTED_MAX_BYTES, SIZE_MAX)
CODEC_DEFINE(quote_request, Dropnet__QuoteRequest, dropnet__quote_request,
    DN_UNPACK_MAX_BYTES, DN_UNPACK_LIVE_MAX)
CODEC_DEFINE(hub_sync_request, Dropnet__HubSyncRequest, dropnet__hub_sync_request,
    DN_UNPACK_MAX_BYTES, DN_UNPACK_LIVE_MAX)
CODEC_DEFINE(hub_sync_reply, Dropnet__HubSyncReply, dropnet__hub_sync_reply,
    DN_UNPACK_TRUSTED_MAX_BYTES, SIZE_MAX)
CODEC_DEFINE(ops_request, Dropnet__OpsRequest, dropnet__ops_request,
    DN_UNPACK_MAX_BYTES, DN_UNPACK_LIVE_MAX)
CODEC_DEFINE(ops_reply, Dropnet__OpsReply, dropnet__ops_reply,
    DN_UNPACK_TRUSTED_MAX_BYTES, SIZE_MAX)
CODEC_DEFINE(term_request, Dropnet__TermRequest, dropnet__term_request,
    DN_UNPACK_MAX_BYTES, DN_UNPACK_LIVE_MAX)
CODEC_DEFINE(term_reply, Dropnet__TermReply, dropnet__term_reply,
    DN_UNPACK_TRUSTED_MAX_BYTES, SIZE_MAX)
/* Raft log entries of a coordinator group: written by the group's leader
 * (a peer on the private replication network), larger than a socket
 * message because one entry may carry several requests. */
CODEC_DEFINE_LEN(replica_entry, Dropnet__ReplicaEntry, dropnet__replica_entry,
    DN_REPLICA_ENTRY_MAX_BYTES, DN_UNPACK_TRUSTED_MAX_BYTES, SIZE_MAX)
CODEC_DEFINE(region_signal, Dropnet__RegionSignal, dropnet__region_signal,
    DN_UNPACK_TRUSTED_MAX_BYTES, SIZE_MAX)
CODEC_DEFINE(feed_change, Dropnet__FeedChange, dropnet__feed_change,
    DN_UNPACK_TRUSTED_MAX_BYTES, SIZE_MAX)
CODEC_DEFINE(signed_req, Dropnet__Signed, dropnet__signed,
    DN_UNPACK_MAX_BYTES, DN_UNPACK_LIVE_MAX)
CODEC_DEFINE_INNER(hub_event, Dropnet__HubEvent, dropnet__hub_event,
    DN_UNPACK_TRUSTED_MAX_BYTES, SIZE_MAX)
CODEC_DEFINE_INNER(hub_command, Dropnet__HubCommand, dropnet__hub_command,
    DN_UNPACK_TRUSTED_MAX_BYTES, SIZE_MAX)
CODEC_DEFINE_INNER(order_info, Dropnet__OrderInfo, dropnet__order_info,
    DN_UNPACK_TRUSTED_MAX_BYTES, SIZE_MAX)
CODEC_DEFINE_INNER(drop, Dropnet__Drop, dropnet__drop,
    DN_UNPACK_TRUSTED_MAX_BYTES, SIZE_MAX)
CODEC_DEFINE_INNER(experiment, Dropnet__Experiment, dropnet__experiment,
    DN_UNPACK_TRUSTED_MAX_BYTES, SIZE_MAX)

const char *codec_status_name(Dropnet__Status s)
{
	const ProtobufCEnumValue *v =
	    protobuf_c_enum_descriptor_get_value(&dropnet__status__descriptor, (int)s);
	return v != NULL ? v->name : "UNKNOWN";
}

int codec_status_parse(const char *name, Dropnet__Status *out)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value_by_name(
	    &dropnet__status__descriptor, name);
	if (v == NULL) {
		return DN_EINVAL;
	}
	*out = (Dropnet__Status)v->value;
	return 0;
}

bool codec_term_kind_writes(int kind)
{
	switch (kind) {
	case DROPNET__TERM_KIND__TERM_RECEIVE:
	case DROPNET__TERM_KIND__TERM_PICK:
	case DROPNET__TERM_KIND__TERM_SHORT:
	case DROPNET__TERM_KIND__TERM_SHIP:
	case DROPNET__TERM_KIND__TERM_CLAIM:
	case DROPNET__TERM_KIND__TERM_RELEASE:
	case DROPNET__TERM_KIND__TERM_PACK:
	case DROPNET__TERM_KIND__TERM_MOVE:
	case DROPNET__TERM_KIND__TERM_COUNT:
	case DROPNET__TERM_KIND__TERM_RETURN:
		return true;
	default:
		return false;
	}
}
