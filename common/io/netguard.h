/*
 * netguard.h - keeps an nng listener or dialer alive through libnng 1.5.2's
 * "stop for good" error path.
 *
 * libnng 1.5.2 (Debian 12's) ends an endpoint's accept or redial loop when
 * a connection's handshake fails with NNG_ECLOSED - and a peer that resets
 * the connection while our side writes its TLS or SP handshake gives
 * exactly that (EPIPE maps to NNG_ECLOSED). Upstream fixed it after 1.5.2
 * (nng issue #1518, commit 9248ed7: "Disconnect during negotiation breaks
 * listener"). Measured on a local network: 20 connections that send a TLS
 * ClientHello and reset stopped the coordinator's ingest listener; it kept
 * completing TLS handshakes but never handed a connection to the socket
 * again, so no order was taken until a restart. A dialer stops redialling
 * the same way when the server dies mid-handshake (kill -9 of the
 * coordinator while a hub reconnects).
 *
 * nng leaves one trace: the endpoint's "other errors" statistic moves (the
 * stopping error is counted there, with others that do not stop it). So a
 * guard looks at it once a tick and:
 *   - dialer: if it moved and the dialer has no connection, the dialer is
 *     made again (harmless when it was only waiting to redial);
 *   - listener: if it moved and no connection was accepted since, the
 *     listener is suspect. For tcp:// and tls+tcp:// the guard then reads
 *     the process's TCP sockets (/proc/self/net/tcp, tcp6): a connection
 *     to the listening port that has been no pipe of the socket (matched
 *     by the peer's address) for 6 s - 2 s if its peer closed it or bytes
 *     wait unread in it - is one nng negotiated and never handed over (a
 *     handshake takes milliseconds; nng's own deadline is 10 s): the
 *     listener has stopped, and is made again (its open connections close;
 *     peers reconnect and resend, requests are idempotent). An accepted
 *     connection clears the suspicion. A slow handshake under suspicion
 *     costs at worst one needless reconnect of every peer. An ipc://
 *     listener's connections have no peer address: a suspect one is made
 *     again when it has had more connections (/proc/self/net/unix: its
 *     path, connected) than pipes for 6 s without a break.
 * Every re-creation is logged (net.endpoint_restarted) and counted.
 *
 * Thread model: create, tick and destroy on the thread that owns the
 * socket's endpoints (a daemon's loop); the pipe callbacks run on nng's
 * threads and only touch the pipe table under its mutex.
 */
#ifndef DN_NETGUARD_H
#define DN_NETGUARD_H
#include <stdbool.h>
#include <stdint.h>
#include <nng/nng.h>
#include "io/nettls.h"

typedef struct netguard netguard;

/* Listens on url (nettls_listen_l) and guards the listener. Registers the
 * socket's pipe add/remove callbacks (one per socket: use
 * netguard_set_pipe_hook to see the removals too). 0 or as nettls_listen. */
int netguard_listen(netguard **out, nng_socket s, const char *url, const nettls_files *f);

/* Dials url (nettls_dial_dialer, NNG_FLAG_NONBLOCK) and guards the dialer. */
int netguard_dial(netguard **out, nng_socket s, const char *url, const nettls_files *f);

/* Called on nng's thread for every pipe removed from the socket (after the
 * guard's own bookkeeping). Set before traffic. */
typedef void (*netguard_pipe_fn)(void *arg, nng_pipe p);
void netguard_set_pipe_hook(netguard *g, netguard_pipe_fn removed, void *arg);

/* Looks at the endpoint (see above); about once a second (a sooner call
 * does nothing, so a caller may tick on every request). Returns true if
 * it made the endpoint again. A listener netguard_restart could not make
 * again (its address taken meanwhile) is tried again on every tick until
 * it listens (net.endpoint_restored). */
bool netguard_tick(netguard *g, uint64_t now_ms);

/* Closes the listener or dialer and makes it again now (a listener: with
 * the files f, e.g. a new CRL; NULL keeps the old ones). 0 or DN_E*: with a
 * listener that cannot be made again, the old one is gone (logged) until
 * a later netguard_tick makes it. */
int netguard_restart(netguard *g, const nettls_files *f, const char *why);

/* For a client that manages its own dialer d (dnclient): true if d's
 * "other" errors moved since *other (updated) and d has no connection -
 * libnng may have stopped redialling it; the caller dials again. */
bool netguard_dialer_stuck(nng_dialer d, uint64_t *other);

/* The connections (pipes) dialer d has now; -1 if nng keeps no statistics
 * of it. */
int netguard_dialer_pipes(nng_dialer d);

/* How many times the endpoint was made again by netguard_tick. */
uint64_t netguard_restarts(const netguard *g);

/* Frees the guard, after nng_close of the socket (its pipe callbacks use
 * the guard); the endpoint itself is the socket's to close. */
void netguard_destroy(netguard *g);

/* For tests: parses one line of /proc/net/tcp or tcp6. Returns true for a
 * socket whose local port is port, in state ESTABLISHED or CLOSE_WAIT, and
 * fills the peer's address (16 bytes: IPv4 as ::ffff:a.b.c.d), its port,
 * the inode, and unread: the peer closed it or bytes wait in it. */
bool netguard_parse_tcp_line(const char *line, uint16_t port, uint8_t peer[16],
    uint16_t *peer_port, uint64_t *inode, bool *unread);

#endif
