/*
 * reads.c - the journal-scanning ops reads off the loop (see reads.h).
 */
#include <stdlib.h>
#include <string.h>
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
	store *reader;        /* opened by the first job's worker */
	uv_work_t work;
	reads_item *head, *tail;  /* head runs while running is true */
	bool running, closed;
};

static void reads_start(reads *r);

/* Worker thread: the job's durable reads. */
static void reads_work(uv_work_t *w)
{
	reads *r = w->data;
	if (r->reader == NULL && coord_store_reader_open(r->db_path, &r->reader) != 0) {
		r->reader = NULL; /* the job reports its checks as not run */
	}
	coord_read_job_run(r->head->job, r->reader);
}

static void reads_free(reads *r)
{
	coord_store_reader_close(r->reader);
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

static void reads_start(reads *r)
{
	if (r->running || r->head == NULL) {
		return;
	}
	r->work.data = r;
	if (uv_queue_work(r->loop, &r->work, reads_work, reads_after) != 0) {
		/* Cannot happen with a valid loop and callbacks; answer from
		 * memory rather than leave the request waiting. */
		log_error("reads.queue_failed", "jobs=%s", "answered without durable checks");
		reads_item *it = r->head;
		r->head = it->next;
		if (r->head == NULL) {
			r->tail = NULL;
		}
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
	if (it == NULL) {
		/* Out of memory: the durable checks are reported as not run. */
		coord_read_job_run(job, NULL);
		r->done(r->arg, req, job);
		return;
	}
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
		return; /* reads_after frees the rest */
	}
	reads_free(r);
}
