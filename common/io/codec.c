/*
 * codec.c - protobuf-c behind one wall (see codec.h). The generated C lives
 * in the build tree (proto/dropnet.pb-c.[ch], made by protoc-c).
 */
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "core/limits.h"
#include "io/codec.h"

#define CODEC_DEFINE(name, T, fn)                                            \
	int codec_##name##_unpack(const uint8_t *buf, size_t len, T **out)     \
	{                                                                      \
		*out = NULL;                                                   \
		if (len > DN_MSG_MAX_BYTES || (buf == NULL && len > 0)) {      \
			return DN_EPROTO;                                      \
		}                                                              \
		T *m = fn##__unpack(NULL, len, buf);                           \
		if (m == NULL) {                                               \
			return DN_EPROTO;                                      \
		}                                                              \
		*out = m;                                                      \
		return m->version == DN_PROTO_VERSION ? 0 : DN_ERANGE;         \
	}                                                                      \
	void codec_##name##_free(T *m)                                         \
	{                                                                      \
		if (m != NULL) {                                               \
			fn##__free_unpacked(m, NULL);                          \
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
#define CODEC_DEFINE_INNER(name, T, fn)                                      \
	int codec_##name##_unpack(const uint8_t *buf, size_t len, T **out)     \
	{                                                                      \
		*out = NULL;                                                   \
		if (len > DN_MSG_MAX_BYTES || (buf == NULL && len > 0)) {      \
			return DN_EPROTO;                                      \
		}                                                              \
		T *m = fn##__unpack(NULL, len, buf);                           \
		if (m == NULL) {                                               \
			return DN_EPROTO;                                      \
		}                                                              \
		*out = m;                                                      \
		return 0;                                                      \
	}                                                                      \
	void codec_##name##_free(T *m)                                         \
	{                                                                      \
		if (m != NULL) {                                               \
			fn##__free_unpacked(m, NULL);                          \
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

CODEC_DEFINE(submit_order, Dropnet__SubmitOrder, dropnet__submit_order)
CODEC_DEFINE(order_ack, Dropnet__OrderAck, dropnet__order_ack)
CODEC_DEFINE(hub_sync_request, Dropnet__HubSyncRequest, dropnet__hub_sync_request)
CODEC_DEFINE(hub_sync_reply, Dropnet__HubSyncReply, dropnet__hub_sync_reply)
CODEC_DEFINE(ops_request, Dropnet__OpsRequest, dropnet__ops_request)
CODEC_DEFINE(ops_reply, Dropnet__OpsReply, dropnet__ops_reply)
CODEC_DEFINE(term_request, Dropnet__TermRequest, dropnet__term_request)
CODEC_DEFINE(term_reply, Dropnet__TermReply, dropnet__term_reply)
CODEC_DEFINE(region_signal, Dropnet__RegionSignal, dropnet__region_signal)
CODEC_DEFINE_INNER(hub_event, Dropnet__HubEvent, dropnet__hub_event)
CODEC_DEFINE_INNER(hub_command, Dropnet__HubCommand, dropnet__hub_command)
CODEC_DEFINE_INNER(order_info, Dropnet__OrderInfo, dropnet__order_info)
CODEC_DEFINE_INNER(drop, Dropnet__Drop, dropnet__drop)

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
