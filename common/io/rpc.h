/*
 * rpc.h - blocking request/reply for command-line clients (dropctl,
 * pickterm's command mode, loadgen's workers, tests).
 *
 * One rpc_conn is one REQ socket; use one per thread.
 */
#ifndef DN_RPC_H
#define DN_RPC_H
#include <stddef.h>
#include <stdint.h>
#include "io/nettls.h"

typedef struct rpc_conn rpc_conn;

/* Dials url. The dial is retried in the background by nng; a dead server
 * (or one that refuses our certificate) shows up as DN_ETIMEDOUT from
 * rpc_call. TLS material for tls+tcp:// comes from the environment
 * (nettls_files_from_env(as): DROPNET_TLS_CA, _CERT, _KEY, _CRL); a plaintext
 * tcp:// needs DROPNET_PLAINTEXT=1. Returns 0, DN_EINVAL (bad URL, TLS
 * files missing or invalid - logged) or DN_ENET. */
int rpc_open(rpc_conn **out, const char *url, nettls_as as);
void rpc_close(rpc_conn *c);

/* Waits up to timeout_ms until the connection is up (for tls+tcp://, the
 * handshake done): lets a benchmark start its clock after the handshakes.
 * Returns 0 or DN_ETIMEDOUT. Optional: rpc_call waits by itself. */
int rpc_wait_connected(rpc_conn *c, int timeout_ms);

/* Closes the socket and dials the same URL on a new one: for a long-lived
 * client whose server has been silent for a while, so that no state left in
 * the old socket (a dialer or a request stuck after the server died) can
 * keep it from reaching the server once it is back. A request in flight is
 * abandoned; resend it with the same idempotency key. Returns as rpc_open;
 * on an error the conn stays usable for rpc_close and later redials. */
int rpc_redial(rpc_conn *c);

/* Signs every later request on c for socket (AUTH_SOCKET_INGEST or
 * AUTH_SOCKET_OPS, io/auth.h) with the identity in the environment:
 * DROPNET_STOREFRONT_AUTH_NAME and _KEY (a key file) on ingest,
 * DROPNET_AUTH_NAME and _KEY on ops. 0 (signing), DN_ENOENT (no name set:
 * requests go unsigned) or DN_EINVAL (a name set, its key unreadable). */
int rpc_sign_from_env(rpc_conn *c, const char *socket);

/* Sends req and waits up to timeout_ms for the reply. On 0, *reply is a
 * malloc'd buffer of *reply_len bytes the caller frees. Returns 0,
 * DN_ETIMEDOUT, DN_ENET or DN_ENOMEM. */
int rpc_call(rpc_conn *c, const void *req, size_t req_len, int timeout_ms,
    uint8_t **reply, size_t *reply_len);
/* As rpc_call, for a request that may be sent more than once: a signing c
 * signs with *counter when it is not 0, else with a fresh counter that it
 * stores in *counter. A request resent after an unknown outcome (no answer:
 * the server died or a group failed over) then carries its first try's
 * counter, so a coordinator that took the first try refuses the copy as a
 * replay instead of acting twice. An unsigned c ignores counter. */
int rpc_call_counter(rpc_conn *c, uint64_t *counter, const void *req, size_t req_len,
    int timeout_ms, uint8_t **reply, size_t *reply_len);

/* Endpoint lookup the way PGHOST works: flag if non-NULL and non-empty, else
 * getenv(env_name), else NULL. */
const char *rpc_endpoint(const char *flag, const char *env_name);

#endif
