/*
 * rpc.c - blocking nng req/rep for command-line clients (see rpc.h).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>
#include "core/err.h"
#include "core/limits.h"
#include "io/auth.h"
#include "io/nettls.h"
#include "io/rpc.h"

struct rpc_conn {
	nng_socket sock;
	char *url;
	nettls_as as;
	nng_mtx *mtx;
	nng_cv *cv;
	int pipes;   /* connections up (TLS handshake done), under mtx */
	auth_client auth;
	const char *socket;   /* AUTH_SOCKET_*: sign for it; NULL: do not sign */
};

/* nng's pipe notification (its own thread): a connection is up. */
static void rpc_pipe_added(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	rpc_conn *c = arg;
	(void)p;
	(void)ev;
	nng_mtx_lock(c->mtx);
	c->pipes++;
	nng_cv_wake(c->cv);
	nng_mtx_unlock(c->mtx);
}

/* nng resends a request after this long on a REQ socket; longer than any
 * timeout we use, so a request is never silently sent twice by nng itself
 * (the caller's retry uses the same idempotency key instead). */
#define RPC_RESEND_MS (10 * 60 * 1000)

/* A REQ socket dialing c->url, in the background (nng redials). */
static int rpc_dial(rpc_conn *c)
{
	if (nng_req0_open(&c->sock) != 0) {
		return DN_ENET;
	}
	nng_mtx_lock(c->mtx);
	c->pipes = 0;
	nng_mtx_unlock(c->mtx);
	nng_pipe_notify(c->sock, NNG_PIPE_EV_ADD_POST, rpc_pipe_added, c);
	nng_setopt_size(c->sock, NNG_OPT_RECVMAXSZ, DN_MSG_MAX_BYTES);
	nng_setopt_ms(c->sock, NNG_OPT_REQ_RESENDTIME, RPC_RESEND_MS);
	nettls_files tls;
	nettls_files_from_env(&tls, c->as);
	int rv = nettls_dial(c->sock, c->url, &tls, NNG_FLAG_NONBLOCK);
	if (rv != 0) {
		nng_close(c->sock);
		return rv == DN_ENOMEM ? DN_ENOMEM : rv == DN_EINVAL ? DN_EINVAL : DN_ENET;
	}
	return 0;
}

int rpc_open(rpc_conn **out, const char *url, nettls_as as)
{
	*out = NULL;
	if (url == NULL || url[0] == '\0') {
		return DN_EINVAL;
	}
	rpc_conn *c = calloc(1, sizeof(*c));
	if (c == NULL || (c->url = strdup(url)) == NULL) {
		free(c);
		return DN_ENOMEM;
	}
	c->as = as;
	if (nng_mtx_alloc(&c->mtx) != 0 || nng_cv_alloc(&c->cv, c->mtx) != 0) {
		nng_mtx_free(c->mtx);
		free(c->url);
		free(c);
		return DN_ENOMEM;
	}
	int rv = rpc_dial(c);
	if (rv != 0) {
		nng_cv_free(c->cv);
		nng_mtx_free(c->mtx);
		free(c->url);
		free(c);
		return rv;
	}
	*out = c;
	return 0;
}

int rpc_redial(rpc_conn *c)
{
	nng_close(c->sock);
	return rpc_dial(c);
}

void rpc_close(rpc_conn *c)
{
	if (c == NULL) {
		return;
	}
	nng_close(c->sock); /* its pipes are gone before it returns */
	nng_cv_free(c->cv);
	nng_mtx_free(c->mtx);
	free(c->url);
	free(c);
}

int rpc_wait_connected(rpc_conn *c, int timeout_ms)
{
	nng_time until = nng_clock() + (nng_time)timeout_ms;
	int rv = 0;
	nng_mtx_lock(c->mtx);
	while (c->pipes == 0 && rv == 0) {
		rv = nng_cv_until(c->cv, until);
	}
	rv = c->pipes > 0 ? 0 : DN_ETIMEDOUT;
	nng_mtx_unlock(c->mtx);
	return rv;
}

int rpc_sign_from_env(rpc_conn *c, const char *socket)
{
	bool ingest = strcmp(socket, AUTH_SOCKET_INGEST) == 0;
	int rv = auth_client_from_env(&c->auth,
	    ingest ? "DROPNET_STOREFRONT_AUTH_NAME" : "DROPNET_AUTH_NAME",
	    ingest ? "DROPNET_STOREFRONT_AUTH_KEY" : "DROPNET_AUTH_KEY");
	c->socket = rv == 0 ? (ingest ? AUTH_SOCKET_INGEST : AUTH_SOCKET_OPS) : NULL;
	return rv;
}

/* Sends req (in its Signed envelope when c signs: with *counter when given
 * and not 0, else a fresh counter, stored in *counter when given). */
static int rpc_send(rpc_conn *c, uint64_t *counter, const void *req, size_t req_len)
{
	if (c->socket == NULL) {
		return nng_send(c->sock, (void *)req, req_len, 0);
	}
	uint64_t ctr = counter != NULL ? *counter : 0;
	if (ctr == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t now_us = (uint64_t)ts.tv_sec * 1000000u +
		    (uint64_t)ts.tv_nsec / 1000u;
		ctr = auth_client_counter(&c->auth, now_us);
		if (counter != NULL) {
			*counter = ctr;
		}
	}
	uint8_t *buf = NULL;
	size_t len = 0;
	if (auth_seal(c->socket, c->auth.name, c->auth.key, ctr, req, req_len, &buf,
	    &len) != 0) {
		return NNG_ENOMEM;
	}
	int rv = nng_send(c->sock, buf, len, 0);
	free(buf);
	return rv;
}

int rpc_call(rpc_conn *c, const void *req, size_t req_len, int timeout_ms,
    uint8_t **reply, size_t *reply_len)
{
	return rpc_call_counter(c, NULL, req, req_len, timeout_ms, reply, reply_len);
}

int rpc_call_counter(rpc_conn *c, uint64_t *counter, const void *req, size_t req_len,
    int timeout_ms, uint8_t **reply, size_t *reply_len)
{
	*reply = NULL;
	*reply_len = 0;
	nng_setopt_ms(c->sock, NNG_OPT_SENDTIMEO, timeout_ms);
	nng_setopt_ms(c->sock, NNG_OPT_RECVTIMEO, timeout_ms);
	int rv = rpc_send(c, counter, req, req_len);
	if (rv == NNG_ENOMEM) {
		return DN_ENOMEM;
	}
	if (rv != 0) {
		return rv == NNG_ETIMEDOUT ? DN_ETIMEDOUT : DN_ENET;
	}
	void *buf = NULL;
	size_t len = 0;
	rv = nng_recv(c->sock, &buf, &len, NNG_FLAG_ALLOC);
	if (rv != 0) {
		return rv == NNG_ETIMEDOUT ? DN_ETIMEDOUT : DN_ENET;
	}
	uint8_t *copy = malloc(len > 0 ? len : 1);
	if (copy == NULL) {
		nng_free(buf, len);
		return DN_ENOMEM;
	}
	memcpy(copy, buf, len);
	nng_free(buf, len);
	*reply = copy;
	*reply_len = len;
	return 0;
}

const char *rpc_endpoint(const char *flag, const char *env_name)
{
	if (flag != NULL && flag[0] != '\0') {
		return flag;
	}
	const char *e = env_name != NULL ? getenv(env_name) : NULL;
	return (e != NULL && e[0] != '\0') ? e : NULL;
}
