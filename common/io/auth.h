/*
 * auth.h - per-request identity: a per-peer secret and an HMAC over every
 * request (proto/SEMANTICS.md "Transport and identity").
 *
 * TLS proves a peer's role (one CA per role), but libnng 1.5.2 cannot tell
 * the application which certificate it was. So each peer also holds a
 * 32-byte secret that `deploy/pki.sh issue` writes next to its certificate,
 * and the coordinator holds a table name -> (role, secret). A request is a
 * `Signed` envelope (proto/dropnet.proto) whose MAC binds the socket, the
 * peer's name, a counter and the request's exact bytes:
 *
 *   mac = HMAC-SHA256(key, "dropnet-auth-v1" 0 socket 0 peer 0
 *                     counter (8 bytes, big-endian) body)
 *
 * Files:
 *   key file    64 hex digits (an optional newline): one peer's secret
 *   peers file  one peer a line, "ROLE NAME KEYHEX", '#' comments; ROLE is
 *               hub, storefront, read-only, operator or admin
 *
 * Thread model: none; a table is read-only once loaded except for the
 * counters, which belong to whoever checks requests (the machine's loop).
 */
#ifndef DN_AUTH_H
#define DN_AUTH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/limits.h"
#include "io/codec.h"

typedef enum {
	AUTH_ROLE_HUB,
	AUTH_ROLE_STOREFRONT,
	AUTH_ROLE_READ_ONLY,  /* operators, by rising rights */
	AUTH_ROLE_OPERATOR,
	AUTH_ROLE_ADMIN,
} auth_role;

/* Counters of one operator remembered above the floor: how many of its
 * requests may be in flight at once and still arrive in any order. */
#define AUTH_RECENT_MAX 16

typedef struct {
	char name[DN_ID_MAX + 1];
	auth_role role;
	uint8_t key[DN_AUTH_KEY_BYTES];
	/* Replay state for counters (operators): every counter <= floor is
	 * refused, and so is one accepted lately (recent, up to
	 * AUTH_RECENT_MAX: requests of one operator running at once may
	 * arrive out of order); max is the highest accepted. counter_loaded:
	 * the floor saved in the store has been read in. */
	uint64_t floor, max;
	uint64_t recent[AUTH_RECENT_MAX];
	size_t nrecent;
	bool counter_loaded;
} auth_peer;

/* Accepts counter c for p when it is above the floor and not accepted
 * lately, and records it (the oldest of a full set raises the floor).
 * false: a replay. */
bool auth_peer_counter_take(auth_peer *p, uint64_t c);

typedef struct auth_table {
	auth_peer *peers;
	size_t n;
	char *text;       /* the text it was parsed from, NUL-terminated */
	size_t text_len;
} auth_table;

/* The MAC's sockets. */
#define AUTH_SOCKET_INGEST "ingest"
#define AUTH_SOCKET_HUBSYNC "hubsync"
#define AUTH_SOCKET_OPS "ops"

/* Parses a peers file's text (need not be NUL-terminated). 0 with *out
 * (auth_table_destroy it), or DN_EINVAL with "line N: why" in err, or
 * DN_ENOMEM. A name twice, a bad role, name or key is an error. */
int auth_table_parse(const char *text, size_t len, auth_table **out, char *err,
    size_t err_len);
/* Reads and parses path (at most DN_PEERS_MAX lines of text). */
int auth_table_load(const char *path, auth_table **out, char *err, size_t err_len);
void auth_table_destroy(auth_table *t);
/* A reload: each peer of fresh that old names too keeps old's replay state
 * (floor, max, recent counters), so a reload opens no replay window. */
void auth_table_carry(const auth_table *old, auth_table *fresh);
/* The peer called name, or NULL. */
auth_peer *auth_table_find(const auth_table *t, const char *name);
/* "hub", "storefront", "read-only", "operator", "admin". */
const char *auth_role_name(auth_role r);
/* The least role an ops request of this kind (Dropnet__OpsKind) needs:
 * read-only for reads; operator or admin for what changes the books. */
auth_role auth_ops_role(int kind);

/* Reads a key file: 0, DN_ENOENT (unreadable) or DN_EINVAL (not 64 hex). */
int auth_key_load(const char *path, uint8_t key[DN_AUTH_KEY_BYTES]);

/* The MAC of a request (see the top of this file). */
void auth_mac(const uint8_t key[DN_AUTH_KEY_BYTES], const char *socket,
    const char *peer, uint64_t counter, const uint8_t *body, size_t len,
    uint8_t mac[32]);
/* Compares n bytes in time independent of where they differ. */
bool auth_mac_equal(const uint8_t *a, const uint8_t *b, size_t n);

/* Wraps body in a Signed envelope for socket: 0 with a malloc'd *out, or
 * DN_ENOMEM. */
int auth_seal(const char *socket, const char *peer,
    const uint8_t key[DN_AUTH_KEY_BYTES], uint64_t counter, const uint8_t *body,
    size_t len, uint8_t **out, size_t *out_len);

typedef enum {
	AUTH_OK,
	AUTH_MALFORMED,    /* the bytes are not a Signed envelope */
	AUTH_UNSIGNED,     /* no peer or no 32-byte MAC */
	AUTH_UNKNOWN_PEER, /* no such name in the table */
	AUTH_BAD_MAC,      /* the MAC does not match the peer's key */
} auth_verdict;

/* Opens the envelope buf for socket against table t. On AUTH_OK *env holds
 * the envelope (body, peer, counter: free with codec_signed_req_free) and
 * *peer the table's entry; otherwise *env is NULL, and *peer is NULL.
 * Checks nothing about what the body says: the handler does that. */
auth_verdict auth_open(const auth_table *t, const char *socket, const uint8_t *buf,
    size_t len, Dropnet__Signed **env, auth_peer **peer);
/* "ok", "malformed", "unsigned", "unknown_peer", "bad_mac". */
const char *auth_verdict_name(auth_verdict v);

/* A client's own identity. */
typedef struct {
	char name[DN_ID_MAX + 1];
	uint8_t key[DN_AUTH_KEY_BYTES];
	uint64_t last_counter;
} auth_client;

/* Fills a from the environment variables name_env (the peer's name) and
 * key_env (its key file). 0; DN_ENOENT when name_env is unset (sign
 * nothing); DN_EINVAL when a name is set but the name or key is bad. */
int auth_client_from_env(auth_client *a, const char *name_env, const char *key_env);
/* The next counter: now_us (the caller's UTC microseconds), or one above
 * the last if the clock did not move on. */
uint64_t auth_client_counter(auth_client *a, uint64_t now_us);

#endif
