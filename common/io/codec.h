/*
 * codec.h - the only caller of protobuf-c. Every message crossing a socket
 * goes through here: size check -> unpack -> version check -> (caller
 * validates fields) -> free.
 *
 * For each top-level message M (see proto/dropnet.proto) there are:
 *   int  codec_M_unpack(const uint8_t *buf, size_t len, T **out);
 *        0; DN_EPROTO when the bytes are not a valid M, len exceeds
 *        DN_MSG_MAX_BYTES, or unpacking would take more than its budget -
 *        for the requests servers take from peers (SubmitOrder,
 *        HubSyncRequest, OpsRequest, TermRequest) DN_UNPACK_MAX_BYTES and
 *        the process's DN_UNPACK_LIVE_MAX, for replies and inner messages
 *        DN_UNPACK_TRUSTED_MAX_BYTES - logged as codec.unpack_refused; DN_ERANGE when version != DN_PROTO_VERSION
 *        (the message is still returned in *out so the caller can read
 *        its fields for the error reply, and must free it).
 *   void codec_M_free(T *m);            NULL-safe
 *   int  codec_M_pack(const T *m, uint8_t **buf, size_t *len);
 *        0 with a malloc'd buffer the caller frees, or DN_ENOMEM.
 * T is the protobuf-c struct (Dropnet__M); build one with DROPNET__M__INIT.
 */
#ifndef DN_CODEC_H
#define DN_CODEC_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "proto/dropnet.pb-c.h"

#define CODEC_DECLARE(name, T)                                              \
	int codec_##name##_unpack(const uint8_t *buf, size_t len, T **out);   \
	void codec_##name##_free(T *m);                                       \
	int codec_##name##_pack(const T *m, uint8_t **buf, size_t *len);

CODEC_DECLARE(submit_order, Dropnet__SubmitOrder)
CODEC_DECLARE(order_ack, Dropnet__OrderAck)
/* The ingest envelope (IngestRequest / IngestReply). A bare SubmitOrder
 * unpacks as an IngestRequest with no kind set (its fields are 1-11, the
 * envelope's kinds 16-18): the caller then reads it as a SubmitOrder. */
CODEC_DECLARE(ingest_request, Dropnet__IngestRequest)
CODEC_DECLARE(ingest_reply, Dropnet__IngestReply)
CODEC_DECLARE(quote_request, Dropnet__QuoteRequest)
CODEC_DECLARE(hub_sync_request, Dropnet__HubSyncRequest)
CODEC_DECLARE(hub_sync_reply, Dropnet__HubSyncReply)
CODEC_DECLARE(ops_request, Dropnet__OpsRequest)
CODEC_DECLARE(ops_reply, Dropnet__OpsReply)
CODEC_DECLARE(term_request, Dropnet__TermRequest)
CODEC_DECLARE(term_reply, Dropnet__TermReply)
CODEC_DECLARE(hub_event, Dropnet__HubEvent)
CODEC_DECLARE(hub_command, Dropnet__HubCommand)
CODEC_DECLARE(order_info, Dropnet__OrderInfo)
CODEC_DECLARE(drop, Dropnet__Drop)
CODEC_DECLARE(experiment, Dropnet__Experiment)
CODEC_DECLARE(region_signal, Dropnet__RegionSignal)
CODEC_DECLARE(feed_change, Dropnet__FeedChange)
/* A replicated coordinator group's log entry (coordinator/replica/): its
 * wire form may be up to DN_REPLICA_ENTRY_MAX_BYTES long. */
CODEC_DECLARE(replica_entry, Dropnet__ReplicaEntry)
/* The identity envelope (io/auth.h): a peer request, budgeted as one. */
CODEC_DECLARE(signed_req, Dropnet__Signed)

/* Bytes of unpacked messages alive now (all threads), and how many unpacks
 * the budgets refused since start: for tests and ops counters. */
size_t codec_live_bytes_get(void);
unsigned long long codec_refusals_get(void);

/* Name of a status ("ACCEPTED"), as in the .proto; "UNKNOWN" if out of range. */
const char *codec_status_name(Dropnet__Status s);
/* True for the terminal requests that write the hub's book (receive, pick,
 * short, ship, claim, release, pack, move, count, return): the ones a
 * request_key makes done-once (SEMANTICS.md "The hub terminal"). */
bool codec_term_kind_writes(int kind);
/* Parses a status name; returns 0 or DN_EINVAL. */
int codec_status_parse(const char *name, Dropnet__Status *out);

#endif
