/*
 * reply.c - the ops reply every ops handler sends (ops.c, drops_ops.c,
 * rebalance.c): one place that packs an OpsReply, so no handler file has to
 * call another's. The machine's thread only.
 */
#include <stdlib.h>
#include "core/limits.h"
#include "io/codec.h"
#include "coord.h"

void coord_ops_send(mreq *r, Dropnet__OpsReply *rep)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	rep->version = DN_PROTO_VERSION;
	if (codec_ops_reply_pack(rep, &buf, &len) != 0) {
		mreq_reply(r, "", 0);
		return;
	}
	mreq_reply(r, buf, len);
	free(buf);
}
