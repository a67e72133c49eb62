/*
 * nng_echo.c - the bare-nng ceiling for tests/bench/compare.sh: an nng
 * req/rep server that does no work at all.
 *
 *   nng_echo --listen URL [--contexts N] [--ca F --cert F --key F] [--plaintext]
 *
 * It answers every request, whatever it holds, with one fixed OrderAck
 * (ACCEPTED at a hub, one placement, a key of a loadgen order's length),
 * packed once at start: the same reply size the coordinator sends, so
 * loadgen drives it exactly as it drives the coordinator and counts its
 * answers as accepted orders. N REP contexts (default 64) each run the
 * usual nng receive -> send loop on nng's own aio threads. TLS as the
 * coordinator: tls+tcp:// with the given files through common/io/nettls.
 * Prints "nng_echo.ready URL" on stderr once listening; SIGINT/SIGTERM stop it.
 */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "io/codec.h"
#include "io/nettls.h"
#include "core/limits.h"

/* Most contexts: the coordinator's own bound. */
#define ECHO_CTX_MAX DN_SERVER_CTX_MAX

typedef struct {
	nng_socket sock;
	nng_ctx ctx;
	nng_aio *aio;
	int sending;
} echo_ctx;

static uint8_t *echo_reply;
static size_t echo_reply_len;

static void echo_cb(void *arg)
{
	echo_ctx *e = arg;
	if (nng_aio_result(e->aio) != 0) {
		if (e->sending) {
			nng_msg_free(nng_aio_get_msg(e->aio));
		}
		if (nng_aio_result(e->aio) == NNG_ECLOSED) {
			return;
		}
		e->sending = 0;
		nng_ctx_recv(e->ctx, e->aio);
		return;
	}
	if (e->sending) {
		e->sending = 0;
		nng_ctx_recv(e->ctx, e->aio);
		return;
	}
	nng_msg *m = nng_aio_get_msg(e->aio);
	nng_msg_clear(m);
	if (nng_msg_append(m, echo_reply, echo_reply_len) != 0) {
		nng_msg_free(m);
		nng_ctx_recv(e->ctx, e->aio);
		return;
	}
	nng_aio_set_msg(e->aio, m);
	e->sending = 1;
	nng_ctx_send(e->ctx, e->aio);
}

static int echo_reply_make(void)
{
	Dropnet__Placement pl = DROPNET__PLACEMENT__INIT;
	Dropnet__Placement *plp = &pl;
	Dropnet__OrderAck ack = DROPNET__ORDER_ACK__INIT;
	pl.hub = "london";
	pl.sku = "hot-sku";
	pl.qty = 1;
	ack.version = DN_PROTO_VERSION;
	ack.status = DROPNET__STATUS__ACCEPTED;
	ack.order_key = "bench-0000000000";
	ack.hub = "london";
	ack.field = "";
	ack.message = "";
	ack.order_id = 123456;
	ack.n_placements = 1;
	ack.placements = &plp;
	ack.gift_sku = "";
	return codec_order_ack_pack(&ack, &echo_reply, &echo_reply_len);
}

static void usage(void)
{
	fprintf(stderr, "usage: nng_echo --listen URL [--contexts N] "
	    "[--ca F --cert F --key F] [--plaintext]\n"
	    "An nng REP server that answers every request with one fixed\n"
	    "OrderAck: the bare-nng ceiling of tests/bench/compare.sh.\n");
}

int main(int argc, char **argv)
{
	const char *url = NULL;
	nettls_files f = {0};
	long nctx = 64;
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage();
			return 0;
		} else if (strcmp(argv[i], "--plaintext") == 0) {
			f.allow_plaintext = true;
		} else if (v != NULL && strcmp(argv[i], "--listen") == 0) {
			url = argv[++i];
		} else if (v != NULL && strcmp(argv[i], "--contexts") == 0) {
			nctx = strtol(argv[++i], NULL, 10);
		} else if (v != NULL && strcmp(argv[i], "--ca") == 0) {
			f.ca_file = argv[++i];
		} else if (v != NULL && strcmp(argv[i], "--cert") == 0) {
			f.cert_file = argv[++i];
		} else if (v != NULL && strcmp(argv[i], "--key") == 0) {
			f.key_file = argv[++i];
		} else {
			usage();
			return 2;
		}
	}
	if (url == NULL || nctx < 1 || nctx > (long)ECHO_CTX_MAX) {
		usage();
		return 2;
	}
	static echo_ctx ctxs[ECHO_CTX_MAX];
	nng_socket s;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	/* Blocked before nng starts its threads, so they inherit the mask. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (echo_reply_make() != 0 || nng_rep0_open(&s) != 0 ||
	    nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, DN_INGEST_MSG_MAX) != 0 ||
	    nettls_listen(s, url, &f) != 0) {
		fprintf(stderr, "nng_echo: cannot listen on %s\n", url);
		return 1;
	}
	for (long i = 0; i < nctx; i++) {
		ctxs[i].sock = s;
		if (nng_ctx_open(&ctxs[i].ctx, s) != 0 ||
		    nng_aio_alloc(&ctxs[i].aio, echo_cb, &ctxs[i]) != 0) {
			fprintf(stderr, "nng_echo: out of memory\n");
			return 1;
		}
		nng_ctx_recv(ctxs[i].ctx, ctxs[i].aio);
	}
	fprintf(stderr, "nng_echo.ready %s contexts=%ld reply_bytes=%zu\n", url, nctx,
	    echo_reply_len);
	int sig = 0;
	sigwait(&set, &sig);
	nng_close(s);
	for (long i = 0; i < nctx; i++) {
		nng_aio_free(ctxs[i].aio);
	}
	free(echo_reply);
	return 0;
}
