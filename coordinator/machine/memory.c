/*
 * memory.c - the image of the machine's memory that its file cannot rebuild
 * (docs/replication.md "The machine's memory in a snapshot").
 *
 * coord_open rebuilds the books from the file and gives every hub its
 * grace; what it cannot rebuild is what the machine learnt from history:
 * the clocks' filter state, each hub's last sync and lease, its last stock
 * report, the experiments' exposures not yet written, the spike watch and
 * the rebalancer's timers. A replica restored from a snapshot must hold the
 * same memory as the replicas that applied the log, or it could route the
 * next order differently; the snapshot carries this image beside the
 * store's.
 *
 * Layout (little-endian u64 words, strings as length + bytes; core/bytes.h):
 *   "DNMEM001"
 *   clock: now_mono_ms now_wall_ms wall_ms elapsed_ms step_since_mono_ms
 *          clock_started step_back_logged clock_offset_ms
 *   hubs_max ("DNMEM003"; older images were made at DN_HUBS_DEFAULT): a
 *          machine restores only an image of a registry of its own size
 *   nhubs (<= hubs_max), per hub: id last_seen_mono_ms last_seen_wall_ms
 *          health_logged lease_sent_mono_ms lease_granted_ms report_valid nreport
 *          (sku on_hand) * nreport
 *   nexps, per running experiment: id narms pending * narms
 *   rebalance.c's part (coord_rebalance_memory_put)
 *   npeers, per operator whose replay state is in use: name floor max
 *          nrecent recent * nrecent (io/auth.h): a replica restored from
 *          the image must refuse and take the same request counters as the
 *          replicas that applied the log ("DNMEM002"; an older "DNMEM001"
 *          image has no such part: the state starts again from the file)
 * A hub or experiment is named by id and must be one the file holds; a
 * peer the peers table does not name is skipped.
 *
 * The machine's thread only; called between machine calls (no transaction
 * runs).
 */
#include <stdlib.h>
#include <string.h>
#include "core/bytes.h"
#include "core/err.h"
#include "io/log.h"
#include "coord.h"

#define COORD_MEMORY_MAGIC "DNMEM003"
#define COORD_MEMORY_MAGIC_V2 "DNMEM002"
#define COORD_MEMORY_MAGIC_V1 "DNMEM001"

static void memory_put_hub(bytes_w *w, const coord_hub *h)
{
	bytes_put_str(w, h->id);
	bytes_put_u64(w, h->last_seen_mono_ms);
	bytes_put_i64(w, h->last_seen_wall_ms);
	bytes_put_i64(w, h->health_logged);
	bytes_put_u64(w, h->lease_sent_mono_ms);
	bytes_put_u64(w, h->lease_granted_ms);
	bytes_put_u64(w, h->report_valid);
	bytes_put_u64(w, h->report != NULL ? h->nreport : 0);
	for (size_t k = 0; h->report != NULL && k < h->nreport; k++) {
		bytes_put_str(w, h->report[k].sku);
		bytes_put_i64(w, h->report[k].on_hand);
	}
}

/* The operators' replay state (auth_peer_counter_take). */
static void memory_put_peers(const coord *c, bytes_w *w)
{
	const auth_table *t = c->peers;
	size_t n = 0;
	for (size_t i = 0; t != NULL && i < t->n; i++) {
		n += t->peers[i].counter_loaded;
	}
	bytes_put_u64(w, n);
	for (size_t i = 0; t != NULL && i < t->n; i++) {
		const auth_peer *p = &t->peers[i];
		if (!p->counter_loaded) {
			continue;
		}
		bytes_put_str(w, p->name);
		bytes_put_u64(w, p->floor);
		bytes_put_u64(w, p->max);
		bytes_put_u64(w, p->nrecent);
		for (size_t k = 0; k < p->nrecent; k++) {
			bytes_put_u64(w, p->recent[k]);
		}
	}
}

/* Every operator's replay state from the image; those it does not name
 * start again from the file's floor (counter_loaded false). */
void coord_memory_peers_reset(coord *c)
{
	auth_table *t = c->peers;
	for (size_t i = 0; t != NULL && i < t->n; i++) {
		auth_peer *p = &t->peers[i];
		p->floor = p->max = 0;
		p->nrecent = 0;
		p->counter_loaded = false;
	}
}

static int memory_get_peers(coord *c, bytes_r *r)
{
	auth_table *t = c->peers;
	coord_memory_peers_reset(c);
	size_t n = (size_t)bytes_get_max(r, DN_PEERS_MAX);
	for (size_t i = 0; i < n && !r->bad; i++) {
		char name[DN_ID_MAX + 1];
		bytes_get_str(r, name, sizeof(name));
		uint64_t floor = bytes_get_u64(r), max = bytes_get_u64(r);
		size_t nrecent = (size_t)bytes_get_max(r, AUTH_RECENT_MAX);
		uint64_t recent[AUTH_RECENT_MAX];
		for (size_t k = 0; k < nrecent; k++) {
			recent[k] = bytes_get_u64(r);
		}
		auth_peer *p = r->bad ? NULL : auth_table_find(t, name);
		if (p != NULL) {
			p->floor = floor;
			p->max = max;
			p->nrecent = nrecent;
			memcpy(p->recent, recent, nrecent * sizeof(recent[0]));
			p->counter_loaded = true;
		}
	}
	return r->bad ? DN_EPROTO : 0;
}

int coord_memory_pack(const coord *c, uint8_t **buf, size_t *len)
{
	bytes_w w;
	/* The bound grows with the registry: every hub's report may be full. */
	size_t scale = c->hubs_max > DN_HUBS_DEFAULT ?
	    (c->hubs_max + DN_HUBS_DEFAULT - 1) / DN_HUBS_DEFAULT : 1;
	bytes_w_init(&w, scale * DN_COORD_MEMORY_MAX_BYTES);
	bytes_put(&w, COORD_MEMORY_MAGIC, 8);
	bytes_put_u64(&w, c->now_mono_ms);
	bytes_put_i64(&w, c->now_wall_ms);
	bytes_put_i64(&w, c->wall_ms);
	bytes_put_i64(&w, c->elapsed_ms);
	bytes_put_u64(&w, c->step_since_mono_ms);
	bytes_put_u64(&w, c->clock_started);
	bytes_put_u64(&w, c->step_back_logged);
	bytes_put_i64(&w, c->clock_offset_ms);
	bytes_put_u64(&w, c->hubs_max);
	bytes_put_u64(&w, c->nhubs);
	for (size_t i = 0; i < c->nhubs; i++) {
		memory_put_hub(&w, &c->hubs[i]);
	}
	bytes_put_u64(&w, c->nexps);
	for (size_t i = 0; i < c->nexps; i++) {
		const coord_experiment *x = &c->exps[i];
		bytes_put_str(&w, x->id);
		bytes_put_u64(&w, x->narms);
		for (size_t a = 0; a < x->narms; a++) {
			bytes_put_u64(&w, x->pending[a]);
		}
	}
	coord_rebalance_memory_put(c, &w);
	memory_put_peers(c, &w);
	if (w.bad) {
		bytes_w_fini(&w);
		*buf = NULL;
		return DN_ENOMEM;
	}
	*buf = w.p;
	*len = w.len;
	return 0;
}

/* One hub's part into the hub of that id. */
static int memory_get_hub(coord *c, bytes_r *r)
{
	char id[DN_ID_MAX + 1];
	bytes_get_str(r, id, sizeof(id));
	int i = coord_hub_find(c, id);
	if (i < 0) {
		r->bad = true;
		return DN_EPROTO;
	}
	coord_hub *h = &c->hubs[i];
	h->last_seen_mono_ms = bytes_get_u64(r);
	h->last_seen_wall_ms = bytes_get_i64(r);
	h->health_logged = (int)bytes_get_max(r, COORD_HUB_DOWN);
	h->lease_sent_mono_ms = bytes_get_u64(r);
	h->lease_granted_ms = bytes_get_u64(r);
	h->report_valid = bytes_get_max(r, 1) != 0;
	size_t n = (size_t)bytes_get_max(r, DN_STOCK_REPORT_MAX);
	coord_report *rep = realloc(h->report, (n ? n : 1) * sizeof(*rep));
	if (rep == NULL) {
		return DN_ENOMEM;
	}
	h->report = rep;
	h->nreport = n;
	for (size_t k = 0; k < n; k++) {
		bytes_get_str(r, rep[k].sku, sizeof(rep[k].sku));
		rep[k].on_hand = bytes_get_i64(r);
	}
	return r->bad ? DN_EPROTO : 0;
}

static int memory_get_exps(coord *c, bytes_r *r)
{
	size_t n = (size_t)bytes_get_max(r, COORD_EXPERIMENTS_MAX);
	if (n != c->nexps) {
		r->bad = true;
	}
	for (size_t i = 0; i < n && !r->bad; i++) {
		char id[DN_ID_MAX + 1];
		bytes_get_str(r, id, sizeof(id));
		size_t narms = (size_t)bytes_get_max(r, EXPERIMENT_ARMS_MAX);
		coord_experiment *x = NULL;
		for (size_t k = 0; k < c->nexps; k++) {
			if (strcmp(c->exps[k].id, id) == 0) {
				x = &c->exps[k];
			}
		}
		if (x == NULL || x->narms != narms) {
			r->bad = true;
			break;
		}
		for (size_t a = 0; a < narms; a++) {
			x->pending[a] = bytes_get_u64(r);
		}
	}
	return r->bad ? DN_EPROTO : 0;
}

int coord_memory_unpack(coord *c, const uint8_t *buf, size_t len)
{
	bytes_r r;
	bytes_r_init(&r, buf, len);
	char magic[8];
	if (!bytes_get(&r, magic, 8) || (memcmp(magic, COORD_MEMORY_MAGIC, 8) != 0 &&
	    memcmp(magic, COORD_MEMORY_MAGIC_V2, 8) != 0 &&
	    memcmp(magic, COORD_MEMORY_MAGIC_V1, 8) != 0)) {
		log_error("memory.image_bad", "len=%zu why=magic", len);
		return DN_EPROTO;
	}
	bool v1 = memcmp(magic, COORD_MEMORY_MAGIC_V1, 8) == 0;
	bool v3 = memcmp(magic, COORD_MEMORY_MAGIC, 8) == 0;
	c->now_mono_ms = bytes_get_u64(&r);
	c->now_wall_ms = bytes_get_i64(&r);
	c->wall_ms = bytes_get_i64(&r);
	c->elapsed_ms = bytes_get_i64(&r);
	c->step_since_mono_ms = bytes_get_u64(&r);
	c->clock_started = bytes_get_max(&r, 1) != 0;
	c->step_back_logged = bytes_get_max(&r, 1) != 0;
	c->clock_offset_ms = bytes_get_i64(&r);
	uint64_t hubs_max = v3 ? bytes_get_u64(&r) : DN_HUBS_DEFAULT;
	if (!r.bad && hubs_max != c->hubs_max) {
		log_error("memory.image_bad", "why=hubs_max image_hubs_max=%llu hubs_max=%zu"
		    " hint=\"every replica must run with the same coordinator.hubs_max\"",
		    (unsigned long long)hubs_max, c->hubs_max);
		return DN_EINVAL; /* the config's: the replica stops (exit 78) */
	}
	size_t nhubs = (size_t)bytes_get_max(&r, c->hubs_max);
	int rv = nhubs == c->nhubs && !r.bad ? 0 : DN_EPROTO;
	for (size_t i = 0; i < nhubs && rv == 0; i++) {
		rv = memory_get_hub(c, &r);
	}
	if (rv == 0) {
		rv = memory_get_exps(c, &r);
	}
	if (rv == 0) {
		rv = coord_rebalance_memory_get(c, &r);
	}
	if (rv == 0 && v1) {
		coord_memory_peers_reset(c);
	} else if (rv == 0) {
		rv = memory_get_peers(c, &r);
	}
	if (rv == 0 && r.off != r.len) {
		rv = DN_EPROTO;
	}
	if (rv != 0) {
		log_error("memory.image_bad", "len=%zu at=%zu err=%s", len, r.off, dn_strerror(rv));
	}
	return rv;
}
