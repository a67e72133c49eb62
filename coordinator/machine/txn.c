/*
 * txn.c - the transaction runner: the one place the machine begins and
 * commits (coord.h, "the transaction runner"). Begin, apply, save the
 * clock (when apply wrote anything), commit; on any failure the store rolls back and the undo log
 * (stock.c) puts memory back as it was at begin, so memory equals the file
 * without reading it. The caller answers its requests after this returns.
 *
 * The machine's thread only.
 */
#include <assert.h>
#include "core/err.h"
#include "io/log.h"
#include "coord.h"
#include "store.h"

/* Experiment outcomes the transaction counted (coord_metrics_arm) count
 * once it committed, and not at all when it rolled back: a retried order
 * is then counted once. */
static void txn_arms_settle(coord_metrics *m, bool committed)
{
	if (!m->arms_txn) {
		return;
	}
	for (size_t i = 0; i <= COORD_METRICS_ARMS_MAX; i++) {
		if (committed) {
			m->arms[i].outcomes += m->arms[i].outcomes_txn;
		}
		m->arms[i].outcomes_txn = 0;
	}
	m->arms_txn = false;
}

/* Writes hubs.cmd_seq of every hub whose commands moved it in this
 * transaction (coord_command_queue): once per hub, not once per command.
 * The value written is memory's, which a savepoint's undo may have moved
 * back: the row then ends as memory says either way. With rv != 0 (the
 * transaction rolls back) only the marks are cleared. */
static int txn_cmd_seqs(coord *c, int rv)
{
	for (size_t i = 0; i < c->nhubs; i++) {
		coord_hub *h = &c->hubs[i];
		if (!h->cmd_seq_dirty) {
			continue;
		}
		h->cmd_seq_dirty = false;
		if (rv == 0 && coord_store_hub_cmd_seq_set(c->store, h->id, h->cmd_seq) != 0) {
			rv = DN_EIO;
		}
	}
	return rv;
}

int coord_txn_run(coord *c, const char *what, coord_txn_fn apply, void *arg)
{
	int rv = coord_ready(c) ? coord_store_begin(c->store) : DN_EIO;
	if (rv != 0) {
		c->commit_failures++;
		log_error("txn.failed", "what=%s stage=begin err=%s", what, dn_strerror(rv));
		return rv;
	}
	coord_undo_begin(c);
	const int64_t changes = coord_store_changes(c->store);
	rv = apply(c, arg);
	if (rv == 0 && coord_undo_failed(c)) {
		rv = DN_ENOMEM;
	}
	rv = txn_cmd_seqs(c, rv);
	/* The clock goes with every transaction that wrote (SEMANTICS.md:
	 * W is written by every transaction that acts on time), and with any
	 * once it is due (coord_clock_save_due); one that wrote nothing (an
	 * idle hub's sync) otherwise commits nothing. */
	bool clock = rv == 0 && (coord_store_changes(c->store) != changes ||
	    coord_clock_save_due(c));
	if (clock) {
		rv = coord_clock_save(c);
	}
	if (rv == 0) {
		/* A failed COMMIT rolls back itself (db_commit). */
		rv = coord_store_commit(c->store);
	} else {
		coord_store_rollback(c->store);
	}
	txn_arms_settle(&c->metrics, rv == 0);
	if (rv == 0) {
		coord_undo_commit(c);
		if (clock) {
			coord_clock_saved(c);
		}
		return 0;
	}
	coord_undo_rollback(c);
	c->commit_failures++;
	log_error("txn.failed", "what=%s err=%s", what, dn_strerror(rv));
	return rv;
}

int64_t coord_rows_written(coord *c)
{
	return c->store != NULL ? coord_store_changes(c->store) : 0;
}

/* coord_tick's clock save: a transaction with nothing else in it. */
static int txn_clock_only(coord *c, void *arg)
{
	(void)c;
	(void)arg;
	return 0;
}

void coord_clock_tick(coord *c)
{
	if (coord_ready(c) && coord_clock_save_due(c)) {
		(void)coord_txn_run(c, "clock", txn_clock_only, NULL);
	}
}
