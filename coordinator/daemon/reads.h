/*
 * reads.h - the ops reads that scan the journal, run off the loop thread
 * (the single node's shell; coord.h "reads off the loop").
 *
 * A dropctl audit reads every order ever journalled: on the loop it would
 * stall every order behind it for as long (about 1 s per 100,000 orders on
 * a 2-core host). The machine answers what memory knows in its batch and
 * leaves the rest as a coord_read_job; reads runs the jobs one at a time on
 * libuv's threadpool against its own read-only connection (opened at the
 * first job), and calls done on the loop thread with the request and the
 * job, which the shell answers.
 *
 * Thread model: reads_submit, reads_close and done on the loop thread;
 * the job's durable reads on one threadpool worker at a time.
 * Ownership: a submitted job and its request are the module's until done
 * is called (done answers the request and frees the job) or, after
 * reads_close, until the job is freed unanswered: the bridge that owned
 * its request is gone then (bridge_destroy drops unanswered requests).
 */
#ifndef DN_COORD_READS_H
#define DN_COORD_READS_H
#include <uv.h>
#include "coord.h"
#include "io/bridge.h"

typedef struct reads reads;

/* Called on the loop thread once the job's reads are done: answer req
 * (coord_read_job_reply) and free the job. */
typedef void (*reads_done_fn)(void *arg, bridge_req *req, coord_read_job *job);

/* 0 or DN_ENOMEM. db_path is the coordinator's file (copied). */
int reads_create(reads **out, uv_loop_t *loop, const char *db_path, reads_done_fn done,
    void *arg);

/* Queues a job (run after those before it). At most READS_QUEUE_MAX jobs
 * wait or run at once: each holds one of the ops socket's contexts (8), so
 * the others stay free for the writes; one more is answered at once with
 * its durable reads not run (busy, logged reads.busy). A job whose client
 * has gone before it starts (a dropctl that timed out) is dropped
 * unanswered (bridge.abandoned). */
#define READS_QUEUE_MAX 3
void reads_submit(reads *r, bridge_req *req, coord_read_job *job);

/* Asks for a PASSIVE checkpoint of the WAL on a worker, with a read-write
 * connection of its own (none if one runs already). The shell turns off
 * SQLite's automatic checkpoint, which runs inside the COMMIT that crosses
 * the threshold, on the loop, and asks for one here instead: a checkpoint
 * copies pages and syncs the database (tens of ms, hundreds after a long
 * read held the WAL), and no order waits for it now. Loop thread. */
void reads_checkpoint(reads *r);

/* Jobs waiting are freed unanswered; a running one is interrupted
 * (sqlite3_interrupt) and freed when its worker returns, and the module
 * with it (after a running checkpoint too). Call before the bridge whose
 * requests were submitted is destroyed. NULL-safe. */
void reads_close(reads *r);

#endif
