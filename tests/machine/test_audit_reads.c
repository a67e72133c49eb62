/*
 * test_audit_reads.c - the audit's durable checks off the loop (coord.h
 * "reads off the loop"): with deferred reads on, OPS_AUDIT leaves its
 * request unanswered with a job; the job's checks run on a read-only
 * connection of their own (coord_store_reader_open) while the machine
 * goes on writing, and its answer has the same checks as the answer given
 * at once. A broken durable book is found by the reader; a job with no
 * reader says its checks did not run. The same for a drop's KPIs
 * (OPS_KPI): equal to the answer in the batch, read at the reader's
 * snapshot, UNAVAILABLE without a reader. The real coordinator and hub
 * machines on their SQLite files.
 */
#include "harness.h"
#include "store.h"

static Dropnet__OpsReply *audit_now(net *n)
{
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.kind = DROPNET__OPS_KIND__OPS_AUDIT;
	return net_ops(n, &q);
}

/* Sends q with reads deferred; returns its job (asserting the request
 * was left unanswered). */
static coord_read_job *ops_deferred(coord *c, Dropnet__OpsRequest *q)
{
	q->version = DN_PROTO_VERSION;
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(codec_ops_request_pack(q, &buf, &len), 0);
	mreq r;
	mreq_init(&r, buf, len);
	mreq *rp = &r;
	coord_set_deferred_reads(c, true);
	coord_ops_batch(c, &rp, 1);
	coord_set_deferred_reads(c, false);
	assert_false(r.replied);
	assert_non_null(r.deferred);
	coord_read_job *job = r.deferred;
	mreq_fini(&r);
	free(buf);
	return job;
}

static coord_read_job *audit_deferred(net *n)
{
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.kind = DROPNET__OPS_KIND__OPS_AUDIT;
	return ops_deferred(&n->c, &q);
}

static void quote(mt *m, const char *customer)
{
	codec_ingest_reply_free(mt_quote(m, "pd", "pub", "p-tee", customer));
}

static Dropnet__OpsReply *job_answer(coord_read_job *job)
{
	mreq r;
	mreq_init(&r, NULL, 0);
	coord_read_job_reply(job, &r);
	assert_true(r.replied);
	Dropnet__OpsReply *rep = NULL;
	assert_int_equal(codec_ops_reply_unpack(r.reply, r.reply_len, &rep), 0);
	mreq_fini(&r);
	return rep;
}

static bool has_finding(const Dropnet__OpsReply *rep, const char *check)
{
	for (size_t i = 0; i < rep->n_findings; i++) {
		if (strcmp(rep->findings[i]->check, check) == 0) {
			return true;
		}
	}
	return false;
}

static void test_deferred_audit_same_answer(void **state)
{
	(void)state;
	net n;
	net_up_named(&n, "auditrd");
	receive(&n, "tee", 10);
	sync_settle(&n);
	submit(&n, "o1", "tee", 2);
	submit(&n, "o2", "tee", 1);
	sync_settle(&n);
	Dropnet__OpsReply *now = audit_now(&n);
	assert_int_equal(now->status, DROPNET__STATUS__OK);
	assert_true(now->checks_run >= 9);

	store *reader = NULL;
	assert_int_equal(coord_store_reader_open(n.coord_db, &reader), 0);
	coord_read_job *job = audit_deferred(&n);
	/* The machine goes on writing while the job waits for its worker. */
	submit(&n, "o3", "tee", 3);
	sync_settle(&n);
	coord_read_job_run(job, reader);
	Dropnet__OpsReply *later = job_answer(job);
	assert_int_equal(later->status, DROPNET__STATUS__OK);
	assert_int_equal(later->checks_run, now->checks_run);
	assert_int_equal(later->n_findings, 0);
	codec_ops_reply_free(now);
	codec_ops_reply_free(later);

	/* A durable book broken behind the machine's back: the reader's
	 * checks find it (allocated no longer matches the open placements). */
	assert_int_equal(sqlite3_exec(n.c.db, "UPDATE stock SET allocated = allocated + 4"
	    " WHERE sku = 'tee'", NULL, NULL, NULL), SQLITE_OK);
	job = audit_deferred(&n);
	coord_read_job_run(job, reader);
	later = job_answer(job);
	assert_int_equal(later->status, DROPNET__STATUS__CONFLICT);
	assert_true(has_finding(later, "allocation_mismatch"));
	codec_ops_reply_free(later);
	coord_store_reader_close(reader);

	/* No reader (it could not open): the answer says the checks did not
	 * run, never "clean". */
	assert_int_equal(sqlite3_exec(n.c.db, "UPDATE stock SET allocated = allocated - 4"
	    " WHERE sku = 'tee'", NULL, NULL, NULL), SQLITE_OK);
	job = audit_deferred(&n);
	coord_read_job_run(job, NULL);
	later = job_answer(job);
	assert_int_equal(later->status, DROPNET__STATUS__CONFLICT);
	assert_true(has_finding(later, "audit_error"));
	codec_ops_reply_free(later);
	/* A job dropped unanswered (its request went with a closed socket). */
	coord_read_job_free(audit_deferred(&n));
	audit_clean(&n);
	net_down(&n);
}

/* A drop's KPIs read off the loop equal the KPIs read in the batch -
 * orders, units, revenue, money per tier, activations - though the drop
 * sold more after the request was taken: the job's snapshot is the
 * reader's, taken when it runs. */
static void test_deferred_kpi_same_answer(void **state)
{
	(void)state;
	mt m;
	mt_open(&m);
	mt_hub_sync(&m, "p-tee", 50);
	mt_drop_priced(&m, "pd", "p-tee", 50, 6000);
	Dropnet__Activation a = DROPNET__ACTIVATION__INIT;
	a.drop_id = "pd";
	a.kind = "livestream";
	a.name = "stream";
	a.cost_minor = 3000;
	a.from_ms = m.wall;
	a.to_ms = m.wall + 3600000;
	Dropnet__OpsRequest add = DROPNET__OPS_REQUEST__INIT;
	add.kind = DROPNET__OPS_KIND__OPS_ACTIVATION_ADD;
	add.activation = &a;
	Dropnet__OpsReply *rep = mt_ops(&m, &add);
	assert_int_equal(rep->status, DROPNET__STATUS__OK);
	codec_ops_reply_free(rep);
	const char *keys[] = {"k1", "k2", "k3"};
	for (size_t i = 0; i < 3; i++) {
		Dropnet__OrderAck *ack = mt_order(&m, keys[i], keys[i], "pd", "pub", "p-tee",
		    (uint32_t)(i + 1), 0, DROPNET__ORDER_ACTION__ACTION_SUBMIT);
		assert_int_equal(ack->status, DROPNET__STATUS__ACCEPTED);
		codec_order_ack_free(ack);
	}
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.kind = DROPNET__OPS_KIND__OPS_KPI;
	q.drop_id = "pd";
	Dropnet__OpsReply *now = mt_ops(&m, &q);
	assert_int_equal(now->status, DROPNET__STATUS__OK);
	assert_int_equal(now->kpi->accepted_units, 6);

	store *reader = NULL;
	assert_int_equal(coord_store_reader_open(m.path, &reader), 0);
	coord_read_job *job = ops_deferred(m.c, &q);
	coord_read_job_run(job, reader);
	Dropnet__OpsReply *later = job_answer(job);
	assert_int_equal(later->status, DROPNET__STATUS__OK);
	assert_string_equal(later->kpi->drop_id, "pd");
	assert_int_equal(later->kpi->accepted_orders, now->kpi->accepted_orders);
	assert_int_equal(later->kpi->accepted_units, now->kpi->accepted_units);
	assert_int_equal(later->kpi->revenue_minor, now->kpi->revenue_minor);
	assert_true(later->kpi->revenue_minor > 0);
	assert_string_equal(later->kpi->currency, "GBP");
	assert_int_equal(later->kpi->n_money_by_tier, now->kpi->n_money_by_tier);
	assert_int_equal(later->kpi->n_activations, 1);
	assert_int_equal(later->kpi->activations[0]->orders, 3);
	assert_int_equal(later->kpi->n_sell_through, now->kpi->n_sell_through);
	codec_ops_reply_free(later);

	/* Taken now, run after one more sale: the reader sees that sale. */
	job = ops_deferred(m.c, &q);
	Dropnet__OrderAck *ack = mt_order(&m, "k4", "k4", "pd", "pub", "p-tee", 4, 0,
	    DROPNET__ORDER_ACTION__ACTION_SUBMIT);
	assert_int_equal(ack->status, DROPNET__STATUS__ACCEPTED);
	codec_order_ack_free(ack);
	coord_read_job_run(job, reader);
	later = job_answer(job);
	assert_int_equal(later->kpi->accepted_units, 10);
	codec_ops_reply_free(later);
	/* No reader: UNAVAILABLE, not an empty KPI. */
	job = ops_deferred(m.c, &q);
	coord_read_job_run(job, NULL);
	later = job_answer(job);
	assert_int_equal(later->status, DROPNET__STATUS__UNAVAILABLE);
	codec_ops_reply_free(later);
	coord_read_job_free(ops_deferred(m.c, &q));
	coord_store_reader_close(reader);
	codec_ops_reply_free(now);
	mt_close(&m);
}

static uint64_t exposures(const Dropnet__OpsReply *rep)
{
	uint64_t n = 0;
	for (size_t i = 0; i < rep->kpi->n_money_by_arm; i++) {
		n += rep->kpi->money_by_arm[i]->exposures;
	}
	return n;
}

/* Exposures an experiment counted in memory are in a deferred KPI once:
 * an order's group commit between the request and the job writes them to
 * the file the job reads (the review's case: they were counted twice). */
static void test_deferred_kpi_exposures_once(void **state)
{
	(void)state;
	mt m;
	mt_open(&m);
	mt_hub_sync(&m, "p-tee", 20);
	mt_drop_priced(&m, "pd", "p-tee", 20, 6000);
	assert_int_equal(mt_experiment_create(&m, "x1", "pd", "p-tee", 5000, 7000),
	    DROPNET__STATUS__OK);
	quote(&m, "c1");
	quote(&m, "c2");
	quote(&m, "c3");
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.kind = DROPNET__OPS_KIND__OPS_KPI;
	q.drop_id = "pd";
	Dropnet__OpsReply *now = mt_ops(&m, &q);
	assert_int_equal(now->status, DROPNET__STATUS__OK);
	assert_int_equal(exposures(now), 3);
	store *reader = NULL;
	assert_int_equal(coord_store_reader_open(m.path, &reader), 0);
	coord_read_job *job = ops_deferred(m.c, &q);
	quote(&m, "c4"); /* after the request: not in its answer */
	assert_int_equal(mt_submit(&m, "k1", "pd", "p-tee", 1), DROPNET__STATUS__ACCEPTED);
	coord_read_job_run(job, reader);
	Dropnet__OpsReply *later = job_answer(job);
	assert_int_equal(later->status, DROPNET__STATUS__OK);
	/* The reader runs after c4's exposure was committed with k1: 4, each
	 * once (a copy of the 3 pending at the request made it 7). */
	assert_int_equal(exposures(later), 4);
	Dropnet__OpsReply *after = mt_ops(&m, &q);
	assert_int_equal(exposures(after), 4);
	codec_ops_reply_free(now);
	codec_ops_reply_free(later);
	codec_ops_reply_free(after);
	coord_store_reader_close(reader);
	mt_close(&m);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_deferred_audit_same_answer),
	    cmocka_unit_test(test_deferred_kpi_same_answer),
	    cmocka_unit_test(test_deferred_kpi_exposures_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
