/*
 * group.h - the coordinator shell's side of a replicated group
 * (docs/replication.md): one member, its libraft node (through
 * coordinator/replica/raft_glue.h) and the machine it drives (replica.h).
 *
 * A leader proposes every socket batch as a log entry and answers each
 * request only from the apply of its own entry, after the entry is
 * committed on a majority; it proposes a TICK entry every tick. A new
 * leader decides nothing until a barrier has applied every earlier entry;
 * then it proposes the genesis (the group has none yet: its own store,
 * new or an existing single node's, becomes the group's) or a REOPEN.
 * Until then it answers UNAVAILABLE. A follower answers NOT_LEADER with
 * the leader's URL for the socket asked (proto/SEMANTICS.md "Replicated
 * groups").
 *
 * Thread model: the loop thread, like the machine.
 */
#ifndef DN_GROUP_H
#define DN_GROUP_H
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>
#include "io/bridge.h"
#include "coord.h"
#include "replica.h"

/* Members of a group (3 or 5 in practice). */
#define GROUP_MEMBERS_MAX REPLICA_MEMBERS_MAX
/* Proposals a leader has in flight (each waits for its commit): beyond,
 * a batch is answered UNAVAILABLE (backpressure; the client retries). */
#define GROUP_PENDING_MAX 256

/* How often a member looks whether it was elected or deposed: a new
 * leader starts its barrier within this of its election (group_tick's
 * COORD_HEALTH_TICK_MS would add up to 250 ms to every fail-over). */
#define GROUP_ROLE_MS 10

/* Proposals of one socket in flight before the next batches wait to go
 * together as one entry (group.c, "stage"): a log write per replica is the
 * group's cost per entry, so fewer, fuller entries under load. */
#ifndef GROUP_PIPELINE
#define GROUP_PIPELINE 1
#endif

/* Which socket a batch came on; each kind's URL a NOT_LEADER names. */
enum { GROUP_INGEST, GROUP_HUBSYNC, GROUP_OPS, GROUP_SOCKETS };

/* id, raft ("IP:port", replication, plaintext), url[GROUP_SOCKETS]. */
typedef replica_member group_replica;
_Static_assert(GROUP_SOCKETS == REPLICA_URLS, "a member has one URL per socket");

typedef struct group group;

/* Parses "ID,RAFT_ADDR,INGEST_URL,HUB_URL,OPS_URL" into m. 0 or DN_EINVAL. */
int group_replica_parse(const char *s, group_replica *m);

/* Starts member self of members[0..n) over machine c (cfg and split set,
 * not open), its store at db_path and its Raft log in raft_dir (join: a
 * new member that waits to be added, `dropctl replicas add`; its log is
 * not bootstrapped). 0 or DN_E* (logged); on failure *out is still to be
 * closed and destroyed. */
int group_create(group **out, uv_loop_t *loop, coord *c, const char *db_path,
    const char *raft_dir, uint64_t self, const group_replica *members, size_t n,
    bool join);
/* Answers req at once with status st, why and leader ("" when none) in
 * socket's reply shape (an OrderAck/IngestReply, HubSyncReply or
 * OpsReply): nothing reaches the machine. The single node's shell uses it
 * too (a connection over its in-flight cap). Loop thread. */
void group_refuse(int socket, bridge_req *req, Dropnet__Status st, const char *why,
    const char *leader);

/* A socket batch: proposed (leader), refused UNAVAILABLE (leader not ready,
 * table full) or NOT_LEADER (follower). Every request is answered once. */
void group_submit(group *g, int socket, bridge_req **reqs, size_t n);
/* The ops kinds the shell answers itself (docs/replication.md "Members and
 * checksums"): OPS_REPLICAS on every replica and on the single node (g
 * NULL; machine c), OPS_REPLICA_ADD and _REMOVE on a group's leader. Those
 * of reqs[0..n) are answered; the others go to rest[], in order; returns
 * how many. Loop thread. */
size_t group_ops_local(group *g, coord *c, bridge_req **reqs, size_t n, bridge_req **rest);
/* The periodic work: leadership changes, and a TICK entry while leading. */
void group_tick(group *g);
/* Proposes a peers file's text as the group's peers table (REPLICA_PEERS:
 * every replica checks requests against it from that log index on). 0, or
 * DN_ESTATE (not leading, or not taken over yet), DN_EINVAL (the text does
 * not parse) or the proposal's error; logged. Loop thread. */
int group_peers_propose(group *g, const char *text, size_t len);
/* True while this member leads and has taken over (barrier done). */
bool group_leading(const group *g);
/* True while the machine holds an open store (a genesis was applied). */
bool group_machine_open(const group *g);
/* Forgets every waiting request without answering it (before the bridges
 * are destroyed: they drop them; clients retry with the same keys). */
void group_forget(group *g);
/* Closes the node; closed(arg) on the loop when done. */
void group_close(group *g, void (*closed)(void *arg), void *arg);
/* Frees a closed group and closes its machine. NULL-safe. */
void group_destroy(group *g);

#endif
