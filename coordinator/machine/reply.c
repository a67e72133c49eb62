/*
 * reply.c - the ops reply every ops handler sends (ops.c, drops_ops.c,
 * rebalance.c): one place that packs an OpsReply, so no handler file has to
 * call another's. The machine's thread only.
 *
 * A reply longer than one message (DN_MSG_MAX_BYTES) is never sent: every
 * client's socket would drop it unread (NNG_OPT_RECVMAXSZ) and the operator
 * would see a timeout. It is answered INVALID instead, with its size, and
 * logged (ops.reply_too_large); lists that can grow that long page
 * (OpsRequest.limit, ops.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include "core/limits.h"
#include "io/codec.h"
#include "io/log.h"
#include "coord.h"

static void coord_ops_too_large(mreq *r, const Dropnet__OpsReply *big, size_t len)
{
	log_warn("ops.reply_too_large", "bytes=%zu max=%u hubs=%zu stock=%zu demand=%zu"
	    " drops=%zu prices=%zu transfers=%zu forecasts=%zu", len,
	    DN_MSG_MAX_BYTES, big->n_hubs, big->n_stock, big->n_demand, big->n_drops,
	    big->n_prices, big->n_transfers, big->plan != NULL ? big->plan->n_forecasts : 0);
	char msg[256];
	snprintf(msg, sizeof(msg), "reply would be %zu bytes, over the %u-byte message"
	    " limit: narrow the request (dropctl: --hub, --sku, --drop) or page it"
	    " (OpsRequest.limit)", len, DN_MSG_MAX_BYTES);
	Dropnet__OpsReply rep = DROPNET__OPS_REPLY__INIT;
	rep.status = DROPNET__STATUS__INVALID;
	rep.message = msg;
	coord_ops_send(r, &rep);
}

void coord_ops_send(mreq *r, Dropnet__OpsReply *rep)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	rep->version = DN_PROTO_VERSION;
	if (codec_ops_reply_pack(rep, &buf, &len) != 0) {
		mreq_reply(r, "", 0);
		return;
	}
	if (len > DN_MSG_MAX_BYTES) {
		free(buf);
		coord_ops_too_large(r, rep, len);
		return;
	}
	mreq_reply_take(r, buf, len);
}
