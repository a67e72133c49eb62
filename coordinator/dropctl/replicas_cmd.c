/*
 * replicas_cmd.c - `dropctl replicas`: every replica of a coordinator group
 * with its role, term, last applied Raft index and its latest books
 * checksum (taken at one log index on every replica, so replicas that
 * agree at an index print the same checksum); `replicas add` and
 * `replicas remove` change the members online (docs/replication.md
 * "Members and checksums").
 *
 * `replicas` asks each URL of --coordinator itself (no leader following:
 * every replica answers OPS_REPLICAS), then every member's ops URL that
 * the answers name and the list did not; a single coordinator prints its
 * one row.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/rpc.h"
#include "dropctl.h"

/* Replicas one run asks: the listed URLs and the members they name. */
#define REPLICAS_ASK_MAX (2 * DROPCTL_URLS_MAX)

static void replicas_help(void)
{
	printf("usage: dropctl [global flags] replicas\n"
	       "       dropctl [global flags] replicas add ID,RAFT_ADDR,INGEST,HUB,OPS\n"
	       "       dropctl [global flags] replicas remove ID\n"
	       "\n"
	       "replicas: asks every URL of --coordinator (a group: each replica's\n"
	       "ops URL, comma-separated) and every member they name, and prints\n"
	       "one row per replica: id, ops URL, role (leader, follower,\n"
	       "candidate; single for a coordinator without a group), term, last\n"
	       "applied Raft index, and the latest books checksum with the index it\n"
	       "was taken at (every replica takes it at the same entries, one per\n"
	       "group.checksum_ms, default 5 s, of the group clock: replicas with\n"
	       "equal SUM_INDEX and other CHECKSUM hold different books). A replica\n"
	       "that does not answer is\n"
	       "printed 'unreachable' and the exit code is 3. Read-only role.\n"
	       "\n"
	       "add (admin): a new member online. Start it first with\n"
	       "`coordinator --replica-id ID --join --replica ...` (every member and\n"
	       "itself); the leader adds it, records its URLs in the log, and makes\n"
	       "it a voter once it has caught up (snapshot, then log). Give\n"
	       "--timeout-ms room for the catch-up.\n"
	       "remove (admin): a member out (not the leader: stop that one first).\n");
}

typedef struct {
	char url[256];
	Dropnet__OpsReply *r;      /* NULL: no answer */
	int ex;
} replicas_ask;

static bool replicas_listed(const replicas_ask *a, size_t n, const char *url)
{
	for (size_t k = 0; k < n; k++) {
		if (strcmp(a[k].url, url) == 0) {
			return true;
		}
	}
	return false;
}

static int replicas_print(const dropctl_opts *o, const replicas_ask *a, size_t n)
{
	static const char *const head[] = {"ID", "OPS", "ROLE", "TERM", "APPLIED",
	    "SUM_INDEX", "CHECKSUM"};
	dropctl_table t;
	json_t *arr = o->json ? json_array() : NULL;
	dropctl_table_init(&t, 7, head, "llrrrrl");
	for (size_t k = 0; k < n; k++) {
		const Dropnet__ReplicaInfo *s = a[k].r != NULL && a[k].r->n_replicas > 0 ?
		    a[k].r->replicas[0] : NULL;
		char sum[24] = "-";
		if (s != NULL && (s->sum_index > 0 || strcmp(s->role, "single") == 0)) {
			snprintf(sum, sizeof(sum), "%016" PRIx64, s->sum);
		}
		if (arr != NULL) {
			json_array_append_new(arr, s == NULL ?
			    json_pack("{s:s,s:b}", "url", a[k].url, "reachable", 0) :
			    json_pack("{s:s,s:b,s:I,s:s,s:s,s:I,s:I,s:I,s:s,s:I}", "url", a[k].url,
			    "reachable", 1, "id", (json_int_t)s->id, "ops", s->ops, "role", s->role,
			    "term", (json_int_t)s->term, "applied", (json_int_t)s->applied,
			    "sum_index", (json_int_t)s->sum_index, "sum", sum,
			    "leader", (json_int_t)s->leader));
			continue;
		}
		if (s == NULL) {
			dropctl_table_cell(&t, "-");
			dropctl_table_cell(&t, "%s", a[k].url);
			dropctl_table_cell(&t, "unreachable");
			for (int c = 0; c < 4; c++) {
				dropctl_table_cell(&t, "-");
			}
			continue;
		}
		dropctl_table_cell(&t, "%" PRIu64, s->id);
		dropctl_table_cell(&t, "%s", s->ops[0] ? s->ops : a[k].url);
		dropctl_table_cell(&t, "%s", s->role);
		dropctl_table_cell(&t, "%" PRIu64, s->term);
		dropctl_table_cell(&t, "%" PRIu64, s->applied);
		dropctl_table_cell(&t, "%" PRIu64, s->sum_index);
		dropctl_table_cell(&t, "%s", sum);
	}
	int ex = o->json ? dropctl_json_emit(arr) : dropctl_table_print(&t);
	dropctl_table_fini(&t);
	return ex;
}

/* Asks every listed URL, then the members the answers name. */
static int replicas_list(dropctl_opts *o)
{
	const char *list = rpc_endpoint(o->coordinator, DROPCTL_ENV_COORDINATOR);
	if (list == NULL) {
		fprintf(stderr, "dropctl: no coordinator: pass --coordinator URL or set %s\n",
		    DROPCTL_ENV_COORDINATOR);
		return DROPCTL_EXIT_USAGE;
	}
	static replicas_ask a[REPLICAS_ASK_MAX];
	char urls[DROPCTL_URLS_MAX][256];
	size_t n = dropctl_url_split(list, urls, DROPCTL_URLS_MAX);
	for (size_t k = 0; k < n; k++) {
		memcpy(a[k].url, urls[k], sizeof(a[k].url));
	}
	int ex = DROPCTL_EXIT_OK;
	for (size_t k = 0; k < n; k++) {
		Dropnet__OpsRequest req = DROPNET__OPS_REQUEST__INIT;
		req.kind = DROPNET__OPS_KIND__OPS_REPLICAS;
		a[k].ex = dropctl_ops_at(o, a[k].url, &req, &a[k].r);
		if (a[k].ex == DROPCTL_EXIT_OK && a[k].r->status != DROPNET__STATUS__OK) {
			fprintf(stderr, "dropctl: replicas: %s: %s\n", a[k].url, a[k].r->message);
			codec_ops_reply_free(a[k].r);
			a[k].r = NULL;
			a[k].ex = DROPCTL_EXIT_FAIL;
		}
		if (a[k].ex != DROPCTL_EXIT_OK) {
			ex = ex == DROPCTL_EXIT_OK || a[k].ex == DROPCTL_EXIT_UNREACHABLE ? a[k].ex : ex;
			continue;
		}
		for (size_t m = 1; m < a[k].r->n_replicas && n < REPLICAS_ASK_MAX; m++) {
			const char *u = a[k].r->replicas[m]->ops;
			size_t ul = strlen(u);
			if (ul > 0 && ul < sizeof(a[n].url) && !replicas_listed(a, n, u)) {
				memcpy(a[n++].url, u, ul + 1);
			}
		}
	}
	int pex = replicas_print(o, a, n);
	for (size_t k = 0; k < n; k++) {
		codec_ops_reply_free(a[k].r);
	}
	return pex != DROPCTL_EXIT_OK ? pex : ex;
}

/* add SPEC / remove ID through the leader. */
static int replicas_change(dropctl_opts *o, bool add, const char *arg)
{
	Dropnet__ReplicaInfo info = DROPNET__REPLICA_INFO__INIT;
	char buf[1280];
	char *f[5] = {NULL};
	size_t nf = 0;
	snprintf(buf, sizeof(buf), "%s", arg);
	char *p = buf, *tok;
	while (nf < 5 && (tok = strsep(&p, ",")) != NULL) {
		f[nf++] = tok;
	}
	int64_t id = 0;
	if (strlen(arg) >= sizeof(buf) || nf != (add ? 5u : 1u) || p != NULL ||
	    dropctl_parse_i64(f[0], 1, INT64_MAX, &id) != 0) {
		return dropctl_usage_error("replicas", add ?
		    "add takes ID,RAFT_ADDR,INGEST_URL,HUB_URL,OPS_URL" : "remove takes an ID");
	}
	info.id = (uint64_t)id;
	if (add) {
		info.raft = f[1];
		info.ingest = f[2];
		info.hub = f[3];
		info.ops = f[4];
	}
	Dropnet__OpsRequest req = DROPNET__OPS_REQUEST__INIT;
	req.kind = add ? DROPNET__OPS_KIND__OPS_REPLICA_ADD : DROPNET__OPS_KIND__OPS_REPLICA_REMOVE;
	req.replica = &info;
	Dropnet__OpsReply *r = NULL;
	int ex = dropctl_ops_call(o, &req, &r);
	if (ex != DROPCTL_EXIT_OK) {
		return ex;
	}
	bool ok = r->status == DROPNET__STATUS__OK;
	if (o->json) {
		ex = dropctl_json_emit(json_pack("{s:b,s:s}", "ok", (int)ok, "message", r->message));
	} else {
		fprintf(ok ? stdout : stderr, "%s%s\n", ok ? "" : "dropctl: replicas: ", r->message);
	}
	codec_ops_reply_free(r);
	return ex != DROPCTL_EXIT_OK ? ex : ok ? DROPCTL_EXIT_OK : DROPCTL_EXIT_FAIL;
}

int dropctl_replicas(dropctl_opts *o, int argc, char **argv)
{
	const char *words[2] = {NULL, NULL};
	size_t nw = 0;
	for (int i = 1; i < argc; i++) {
		if (dropctl_is_help(argv[i])) {
			replicas_help();
			return DROPCTL_EXIT_OK;
		}
		int g = dropctl_global_flag(o, argc, argv, &i);
		if (g < 0) {
			return DROPCTL_EXIT_USAGE;
		}
		if (g == 0) {
			if (nw == 2) {
				return dropctl_usage_error("replicas", "unexpected '%s'", argv[i]);
			}
			words[nw++] = argv[i];
		}
	}
	if (nw == 0) {
		return replicas_list(o);
	}
	bool add = strcmp(words[0], "add") == 0;
	if ((!add && strcmp(words[0], "remove") != 0) || nw != 2) {
		return dropctl_usage_error("replicas", "expected nothing, add SPEC or remove ID");
	}
	return replicas_change(o, add, words[1]);
}
