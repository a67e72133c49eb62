/*
 * raft_glue.h - the only door to the consensus library (Debian's libraft
 * 0.15, `raft.h`). Everything that knows libraft's types and rules is in
 * raft_glue.c, so moving to its maintained fork (cowsql/raft) or another
 * Raft library touches that one file (docs/replication.md).
 *
 * It adapts a replica (replica.h) to libraft's state-machine interface and
 * proposes entries on a leader. Ownership: libraft owns every raft_* object
 * handed to it; the glue copies entry bytes into libraft's allocator.
 * Thread model: the raft instance's loop thread.
 */
#ifndef DN_RAFT_GLUE_H
#define DN_RAFT_GLUE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "replica.h"

struct raft;
struct raft_fsm;

/* Called when a proposal will never be applied through this process's
 * request (leadership lost, shut down, refused): status is a DN_E* code.
 * The entry may still be committed by a later leader (then its replies
 * come through the replica's hook as usual, or, if nobody waits for them,
 * the client's retry with the same key gets the journalled answer). */
typedef void (*raft_glue_failed_fn)(void *arg, uint64_t proposal, int status);

/* Fills fsm (caller's memory, alive as long as the raft instance) so that
 * libraft applies, snapshots and restores through replica r. A replica
 * that cannot apply a committed entry stops the process (log line, abort):
 * libraft has no way to skip an entry, and skipping would fork the books. */
void raft_glue_fsm_init(struct raft_fsm *fsm, replica *r);

/* Proposes one packed entry (buf, len: copied) on raft, which must be the
 * leader. On success *index is the entry's log index and failed (may be
 * NULL) is called later if it will not commit under this leader. 0,
 * DN_ESTATE (not the leader; the client is told to try the leader),
 * DN_EFULL (libraft busy), DN_ENOMEM or DN_EIO. */
int raft_glue_propose(struct raft *raft, const uint8_t *buf, size_t len,
    uint64_t proposal, raft_glue_failed_fn failed, void *arg, uint64_t *index);

/* A barrier on a leader: cb(arg, 0) once every entry before it is applied
 * here (libraft 0.15 applies the previous terms' entries only after an
 * entry of the new term commits: a new leader decides nothing before this),
 * or cb(arg, DN_E*) if leadership is lost first. 0 or DN_ESTATE (not the
 * leader), DN_ENOMEM. */
typedef void (*raft_glue_barrier_fn)(void *arg, int status);
int raft_glue_barrier(struct raft *raft, raft_glue_barrier_fn cb, void *arg);

/* A membership change on a leader: RAFT_GLUE_ADD (id at address joins as
 * a spare: it gets the log, has no vote), RAFT_GLUE_VOTER (id becomes a
 * voter once libraft has caught it up) or RAFT_GLUE_REMOVE. cb(arg, 0) once
 * the new configuration is committed, cb(arg, DN_E*) if it is not. 0,
 * DN_ESTATE (not the leader), DN_EINVAL (unknown or duplicate id or
 * address), DN_EFULL (another change is in progress), DN_ENOMEM. */
enum { RAFT_GLUE_ADD, RAFT_GLUE_VOTER, RAFT_GLUE_REMOVE };
typedef void (*raft_glue_change_fn)(void *arg, int status);
int raft_glue_change(struct raft *raft, int op, uint64_t id, const char *address,
    raft_glue_change_fn cb, void *arg);

/* The group's settings on a raft instance (before raft_start): pre-vote on
 * (a replica cut off from the others, bumping its term in vain, must not
 * depose the leader when it returns), a snapshot every snapshot_threshold
 * applied entries keeping trailing entries after it (a replica that is
 * behind by fewer gets entries, not a snapshot), a snapshot sent again
 * after RAFT_GLUE_INSTALL_SNAPSHOT_MS without an answer. */
void raft_glue_tune(struct raft *raft, unsigned snapshot_threshold, unsigned trailing);

/* A member's snapshot interval grows with its store (the daemon opts in by
 * setting replica.snapshot_base to group.snapshot_entries; the fixture's
 * tests keep theirs fixed): after each snapshot of snapshot_bytes, the
 * next is taken once the log since holds about 1/RAFT_GLUE_SNAPSHOT_RATIO
 * of that many bytes (log_bytes over log_entries: the entries' mean size),
 * never more often than every base entries nor less often than every
 * RAFT_GLUE_SNAPSHOT_EVERY_MAX. Every snapshot copies, compresses and
 * writes the whole store on every replica: at a fixed interval that cost
 * grows with the store without bound (the group's rate fell from run to
 * run in group.sh while the single node's did not); this way a snapshot
 * writes about RAFT_GLUE_SNAPSHOT_RATIO times what the log does, whatever
 * the store's size, and a restarted member's replay stays in proportion
 * to the snapshot it loads. */
#define RAFT_GLUE_SNAPSHOT_RATIO 4u
#define RAFT_GLUE_SNAPSHOT_EVERY_MAX 16384u
unsigned raft_glue_snapshot_every(unsigned base, size_t snapshot_bytes, uint64_t log_bytes,
    uint64_t log_entries);

/* On a leader: a follower that libraft 0.15 would leave behind for good is
 * probed again from the end of the log (returns how many). Found by
 * test_random_crashes (seed 5): a follower whose own snapshot is past the
 * leader's (it compacted while cut off) refuses every probe inside that
 * snapshot ("no entry at index", replication.c checkLogMatchingProperty),
 * the leader only moves its next index down (progressMaybeDecrement) to
 * below its own log, sends its snapshot, the follower answers "have more
 * recent snapshot" with the snapshot's index, and the leader, whose match
 * index for it already stood there, leaves it in snapshot state
 * (replicationUpdate returns before the state check when nothing moved);
 * after the install-snapshot timeout (RAFT_GLUE_INSTALL_SNAPSHOT_MS) the
 * round starts again. The
 * follower got no entry until leadership changed. Probed from the end, it
 * refuses with its own last index, and the leader probes right after that:
 * an index the follower holds. Still so in canonical/raft 0.18.1.
 * raft_glue_node_poll calls it; the fixture's tests as they step. */
unsigned raft_glue_unstick(struct raft *raft);

/* ---- a replica on libraft's disk and TCP backend (raft/uv.h) ----
 * One member of a group: its Raft log and snapshots in dir (a folder of its
 * own, beside the store file), its TCP listener at address ("IP:port"),
 * driven by loop. Peers replicate in plaintext: the network between them
 * must be private (docs/replication.md). */
typedef struct raft_glue_node raft_glue_node;

/* A member's timing (docs/replication.md "Fail-over timing"). A follower
 * that hears nothing from its leader for a random time in [E, 2E] starts an
 * election (libraft's randomized election timeout), so a dead leader is
 * replaced within about 2E plus two round trips; the leader sends a
 * heartbeat every H (libraft's default ratio E/H = 10 kept: a follower
 * misses ten heartbeats before it stands; a leader that cannot reach a
 * majority for E steps down). A peer that refused a connection is dialled
 * again after R: a restarted member hears its leader within R. libraft's
 * defaults (1000, 100, 1000 ms) made a storefront wait up to ~3 s. */
#define RAFT_GLUE_ELECTION_MS 500u
#define RAFT_GLUE_HEARTBEAT_MS 50u
#define RAFT_GLUE_CONNECT_RETRY_MS 100u
/* A leader sending a snapshot to a follower that has not answered in this
 * long sends it again (libraft's default 30 s): a follower busy taking its
 * own snapshot drops the leader's without a word (RAFT_BUSY) and otherwise
 * waited that long to catch up. Long enough for a big store over a slow
 * link (56 MB at 100 Mbit/s: 4.5 s). */
#define RAFT_GLUE_INSTALL_SNAPSHOT_MS 10000u
/* A restarted member stands for election only after RESTART_HOLD times the
 * election timeout until it has heard of a leader (raft_glue_node_poll). A
 * leader killed with entries it had appended but not yet replicated comes
 * back with the longest log: its votes go to nobody else, and every member
 * without a leader votes for it, so it used to win the election right after
 * its restart - and then, as leader, first replay its whole log since its
 * snapshot before it could answer (measured: a second election 70 ms
 * after the first, fail-overs of 2-3 s). Held back, the two members that
 * stayed up elect one of themselves; if they cannot, it stands later. */
#define RAFT_GLUE_RESTART_HOLD 4u

typedef struct {
	uint64_t id;                  /* > 0, unique in the group */
	const char *address;          /* "IP:port" */
} raft_glue_peer;

struct uv_loop_s;

/* Creates and starts member `self` of the group peers[0..n) (self among
 * them). A new dir is bootstrapped with that configuration (join: not
 * bootstrapped; the member waits for a leader's raft_add); an existing
 * one is loaded, and libraft replays its snapshot and committed entries
 * into r (whose machine must not be open: the genesis or the snapshot
 * opens it). 0 or DN_EIO/DN_ENOMEM/DN_EINVAL (logged). */
int raft_glue_node_create(raft_glue_node **out, struct uv_loop_s *loop, const char *dir,
    uint64_t self, const raft_glue_peer *peers, size_t n, bool join, replica *r);
/* The node's raft instance (for raft_glue_propose). */
struct raft *raft_glue_node_raft(raft_glue_node *node);
/* True while this member is the leader. */
bool raft_glue_node_leading(raft_glue_node *node);
/* The leader as this member knows it: its id (0: none known) and address
 * (borrowed, valid until the next loop iteration; "" when none). */
uint64_t raft_glue_node_leader(raft_glue_node *node, const char **address);
/* This member's Raft role ("leader", "follower", "candidate",
 * "unavailable"; static strings), current term and last applied index. */
void raft_glue_node_info(raft_glue_node *node, const char **role, uint64_t *term,
    uint64_t *applied);
/* Call often (every few ms): a restarted member that has heard of a
 * leader goes back to the normal election timeout. */
void raft_glue_node_poll(raft_glue_node *node);
/* Starts closing; closed(arg) runs on the loop once it is done. Then the
 * loop may be run empty and the node destroyed. */
void raft_glue_node_close(raft_glue_node *node, void (*closed)(void *arg), void *arg);
/* Frees a closed node (or one whose create failed). NULL-safe. */
void raft_glue_node_destroy(raft_glue_node *node);

/* libraft's error code as a DN_E* code. */
int raft_glue_err(int raft_rv);

#endif
