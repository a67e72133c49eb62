/*
 * reads.c - the journal-scanning ops reads, and the WAL's checkpoints, off
 * the loop (see reads.h).
 */
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include "core/err.h"
#include "io/log.h"
#include "reads.h"
#include "store.h"

typedef struct reads_item {
	bridge_req *req;
	coord_read_job *job;
	struct reads_item *next;
} reads_item;

struct reads {
	uv_loop_t *loop;
	char *db_path;
	reads_done_fn done;
	void *arg;
	store *reader;        /* opened and closed on the loop, used by the worker */
	uv_work_t work;
	reads_item *head, *tail;  /* head runs while running is true */
	size_t queued;            /* items in the list, the running one included */
	bool running, closed;
	/* Checkpoints (reads_checkpoint): their own read-write connection,
	 * opened and used only on the worker. */
	uv_work_t ckpt_work;
	sqlite3 *ckpt_db;
	bool ckpt_running;
	int ckpt_log, ckpt_done;  /* the last checkpoint's frames: in the WAL, copied */
};

static void reads_start(reads *r);

/* The reader, opened on the loop when none is open (the first job, or
 * after one that left it unusable). NULL when it cannot open (logged). */
static store *reads_reader(reads *r)
{
	if (r->reader != NULL && !coord_store_reader_ok(r->reader)) {
		log_warn("reads.reader_reopened", "why=%s", "left inside a transaction");
		coord_store_reader_close(r->reader);
		r->reader = NULL;
	}
	if (r->reader == NULL && coord_store_reader_open(r->db_path, &r->reader) != 0) {
		r->reader = NULL;
	}
	return r->reader;
}

/* Worker thread: the job's durable reads (a NULL reader: reported as not
 * run by the job itself). */
static void reads_work(uv_work_t *w)
{
	reads *r = w->data;
	coord_read_job_run(r->head->job, r->reader);
}

static void reads_free(reads *r)
{
	if (r->running || r->ckpt_running) {
		return; /* the last after-callback frees it */
	}
	coord_store_reader_close(r->reader);
	if (r->ckpt_db != NULL) {
		sqlite3_close_v2(r->ckpt_db);
	}
	free(r->db_path);
	free(r);
}

/* Loop thread: answer, then the next job. */
static void reads_after(uv_work_t *w, int status)
{
	(void)status;
	reads *r = w->data;
	reads_item *it = r->head;
	r->head = it->next;
	if (r->head == NULL) {
		r->tail = NULL;
	}
	r->queued--;
	r->running = false;
	if (r->closed) {
		coord_read_job_free(it->job);
		free(it);
		reads_free(r);
		return;
	}
	r->done(r->arg, it->req, it->job);
	free(it);
	reads_start(r);
}

/* Drops the waiting jobs whose client has gone (a dropctl that timed
 * out): nobody would read their answer, and each holds an ops context. */
static void reads_drop_gone(reads *r)
{
	reads_item **pp = &r->head;
	r->tail = NULL;
	while (*pp != NULL) {
		reads_item *it = *pp;
		if (bridge_req_gone(it->req)) {
			*pp = it->next;
			coord_read_job_free(it->job);
			bridge_req_drop(it->req);
			free(it);
			r->queued--;
			continue;
		}
		r->tail = it;
		pp = &it->next;
	}
}

static void reads_start(reads *r)
{
	if (r->running || r->head == NULL) {
		return;
	}
	reads_drop_gone(r);
	if (r->head == NULL) {
		return;
	}
	(void)reads_reader(r);
	r->work.data = r;
	if (uv_queue_work(r->loop, &r->work, reads_work, reads_after) != 0) {
		/* Cannot happen with a valid loop and callbacks; answer rather
		 * than leave the request waiting. */
		log_error("reads.queue_failed", "jobs=%s", "answered without durable reads");
		reads_item *it = r->head;
		r->head = it->next;
		if (r->head == NULL) {
			r->tail = NULL;
		}
		r->queued--;
		coord_read_job_run(it->job, NULL);
		r->done(r->arg, it->req, it->job);
		free(it);
		reads_start(r);
		return;
	}
	r->running = true;
}

int reads_create(reads **out, uv_loop_t *loop, const char *db_path, reads_done_fn done,
    void *arg)
{
	reads *r = calloc(1, sizeof(*r));
	*out = NULL;
	if (r == NULL || (r->db_path = strdup(db_path)) == NULL) {
		free(r);
		return DN_ENOMEM;
	}
	r->loop = loop;
	r->done = done;
	r->arg = arg;
	*out = r;
	return 0;
}

void reads_submit(reads *r, bridge_req *req, coord_read_job *job)
{
	reads_item *it = calloc(1, sizeof(*it));
	if (it == NULL || r->queued >= READS_QUEUE_MAX) {
		/* Out of memory, or READS_QUEUE_MAX jobs already wait: the
		 * durable reads are reported as not run (the audit says
		 * audit_error, a KPI UNAVAILABLE), at once. */
		if (it != NULL) {
			log_warn("reads.busy", "queued=%zu max=%d", r->queued, READS_QUEUE_MAX);
			free(it);
			coord_read_job_busy(job);
		} else {
			coord_read_job_run(job, NULL);
		}
		r->done(r->arg, req, job);
		return;
	}
	r->queued++;
	it->req = req;
	it->job = job;
	if (r->tail != NULL) {
		r->tail->next = it;
	} else {
		r->head = it;
	}
	r->tail = it;
	reads_start(r);
}

/* Worker thread: one PASSIVE checkpoint - it copies what no reader still
 * needs and never waits for a reader or blocks the writer. */
static void ckpt_work(uv_work_t *w)
{
	reads *r = w->data;
	if (r->ckpt_db == NULL) {
		if (sqlite3_open_v2(r->db_path, &r->ckpt_db, SQLITE_OPEN_READWRITE |
		    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
			log_error("reads.checkpoint_open_failed", "path=%s err=\"%s\"", r->db_path,
			    r->ckpt_db != NULL ? sqlite3_errmsg(r->ckpt_db) : "out of memory");
			sqlite3_close_v2(r->ckpt_db);
			r->ckpt_db = NULL;
			return;
		}
		sqlite3_busy_timeout(r->ckpt_db, 1000);
		/* A new connection knows it is in WAL mode only once it has read
		 * the file: until then a checkpoint does nothing (and says -1). */
		if (sqlite3_exec(r->ckpt_db, "PRAGMA journal_mode", NULL, NULL, NULL) != SQLITE_OK) {
			log_error("reads.checkpoint_open_failed", "path=%s err=\"%s\"", r->db_path,
			    sqlite3_errmsg(r->ckpt_db));
			sqlite3_close_v2(r->ckpt_db);
			r->ckpt_db = NULL;
			return;
		}
	}
	int rc = sqlite3_wal_checkpoint_v2(r->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE,
	    &r->ckpt_log, &r->ckpt_done);
	if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
		log_error("reads.checkpoint_failed", "rc=%d err=\"%s\"", rc,
		    sqlite3_errmsg(r->ckpt_db));
	}
}

static void ckpt_after(uv_work_t *w, int status)
{
	(void)status;
	reads *r = w->data;
	r->ckpt_running = false;
	if (r->closed) {
		reads_free(r);
		return;
	}
	log_debug("reads.checkpoint", "wal_frames=%d copied=%d", r->ckpt_log, r->ckpt_done);
}

void reads_checkpoint(reads *r)
{
	if (r == NULL || r->closed || r->ckpt_running) {
		return;
	}
	r->ckpt_work.data = r;
	if (uv_queue_work(r->loop, &r->ckpt_work, ckpt_work, ckpt_after) == 0) {
		r->ckpt_running = true;
	}
}

void reads_close(reads *r)
{
	if (r == NULL) {
		return;
	}
	r->closed = true;
	/* Everything but the running job (the list's head) goes now. */
	reads_item *it = r->running ? r->head->next : r->head;
	while (it != NULL) {
		reads_item *next = it->next;
		coord_read_job_free(it->job);
		free(it);
		it = next;
	}
	if (r->running) {
		r->head->next = NULL;
		r->tail = r->head;
		/* A long audit ends at once (its answer is not sent). */
		coord_store_reader_interrupt(r->reader);
	}
	reads_free(r);
}
