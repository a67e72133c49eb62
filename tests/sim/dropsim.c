/*
 * dropsim.c - runs the whole-network simulator (sim.h) over many seeds.
 *
 *   dropsim [--seeds N] [--seed S] [--orders N] [--hubs N] [--no-faults]
 *           [--walbuf] [--twice] [--hashes] [--dir D] [--verbose] [--help]
 *
 * Each seed is a whole drop: N orders from simulated storefronts against a
 * network of hubs whose staff receive, claim, pick and ship, with faults
 * injected (unless --no-faults) and every invariant checked after every
 * step. A failing seed prints one line with the command that replays it and
 * the run exits 1. --twice runs every seed twice and fails if the two
 * histories differ (determinism); --hashes prints each seed's history hash,
 * to compare two builds (a change meant to be a pure speed-up must leave
 * every seed's history as it was). The summary says how much simulated time
 * ran per wall second and what was injected.
 */
#include <errno.h>
#include <malloc.h>
#include <inttypes.h>
#include <stdio.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "io/log.h"
#include "sim.h"

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: dropsim [--seeds N] [--seed S] [--orders N] [--hubs N] [--no-faults]\n"
	    "               [--walbuf] [--twice] [--hashes] [--jobs N] [--dir D] [--verbose]\n"
	    "               [--help]\n"
	    "\n"
	    "Runs a whole dropnet network (the real coordinator and hub machines on\n"
	    "their real SQLite stores) in one process under a seeded simulation of\n"
	    "storefronts, staff, the network, crashes and clocks, and checks the\n"
	    "network's invariants after every step.\n"
	    "\n"
	    "  --seeds N    seeds to run, from --seed on (default 1)\n"
	    "  --seed S     first seed (default 1)\n"
	    "  --orders N   orders per seed, one drop (default 1000)\n"
	    "  --hubs N     hubs, 1-6 (default 6)\n"
	    "  --no-faults  no network, crash, clock or stall faults\n"
	    "  --walbuf     stores through walbuf (a commit's WAL writes gathered, as\n"
	    "               the daemons' stores are) over the simulated disk\n"
	    "  --twice      run each seed twice; the histories must be identical\n"
	    "  --hashes     print each seed's history hash (to compare two builds)\n"
	    "  --jobs N     run seeds in N processes at once (default 1)\n"
	    "  --dir D      folder for the SQLite files (default: a new one in /tmp)\n"
	    "  --verbose    one line per injected fault\n"
	    "\n"
	    "Exit 0 when every seed ran clean, 1 on the first violation (with the\n"
	    "command that replays it), 2 on bad arguments.\n");
}

static double wall_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void dir_clean(const char *dir)
{
	static const char *const names[] = {"coordinator", "london", "manchester",
	    "leeds", "birmingham", "bristol", "glasgow"};
	static const char *const sfx[] = {".db", ".db-wal", ".db-shm", ".db-journal"};
	char path[1024];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		for (size_t k = 0; k < sizeof(sfx) / sizeof(sfx[0]); k++) {
			snprintf(path, sizeof(path), "%s/%s%s", dir, names[i], sfx[k]);
			unlink(path);
		}
	}
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0') {
		return -1;
	}
	*out = v;
	return 0;
}

/* Processes one run may use: a bound, not a tuning knob. */
#define DROPSIM_JOBS_MAX 64

typedef struct {
	uint64_t seeds, seed, jobs;
	bool twice, hashes;
	sim_params p;
} args;

static int args_parse(int argc, char **argv, args *a)
{
	uint64_t v;
	for (int i = 1; i < argc; i++) {
		const char *k = argv[i];
		bool has = i + 1 < argc;
		if (strcmp(k, "--help") == 0 || strcmp(k, "-h") == 0) {
			usage(stdout);
			exit(0);
		} else if (strcmp(k, "--no-faults") == 0) {
			a->p.faults = false;
		} else if (strcmp(k, "--twice") == 0) {
			a->twice = true;
		} else if (strcmp(k, "--hashes") == 0) {
			a->hashes = true;
		} else if (strcmp(k, "--walbuf") == 0) {
			a->p.walbuf = true;
		} else if (strcmp(k, "--verbose") == 0) {
			a->p.verbose = true;
		} else if (strcmp(k, "--dir") == 0 && has) {
			a->p.dir = argv[++i];
		} else if (has && parse_u64(argv[i + 1], &v) == 0 &&
		    (strcmp(k, "--seeds") == 0 || strcmp(k, "--seed") == 0 ||
		    strcmp(k, "--orders") == 0 || strcmp(k, "--hubs") == 0 ||
		    strcmp(k, "--jobs") == 0)) {
			i++;
			if (strcmp(k, "--jobs") == 0) {
				a->jobs = v;
			} else if (strcmp(k, "--seeds") == 0) {
				a->seeds = v;
			} else if (strcmp(k, "--seed") == 0) {
				a->seed = v;
			} else if (strcmp(k, "--orders") == 0) {
				a->p.orders = (uint32_t)v;
			} else {
				a->p.hubs = (uint32_t)v;
			}
		} else {
			fprintf(stderr, "dropsim: bad argument '%s'\n", k);
			return 2;
		}
	}
	if (a->p.hubs < 1 || a->p.hubs > SIM_HUBS_MAX || a->p.orders < 1 ||
	    a->p.orders > SIM_ORDERS_MAX || a->seeds < 1 || a->jobs < 1 ||
	    a->jobs > DROPSIM_JOBS_MAX) {
		fprintf(stderr, "dropsim: --hubs 1..%d, --orders 1..%d, --seeds >= 1,"
		    " --jobs 1..%d\n", SIM_HUBS_MAX, SIM_ORDERS_MAX, DROPSIM_JOBS_MAX);
		return 2;
	}
	return 0;
}

static void tot_add(sim_result *t, const sim_result *r);

static void replay_line(const args *a, uint64_t seed)
{
	printf("dropsim: replay: dropsim --seed %" PRIu64 " --orders %u --hubs %u%s%s"
	    " --verbose\n", seed, a->p.orders, a->p.hubs, a->p.faults ? "" : " --no-faults",
	    a->p.walbuf ? " --walbuf" : "");
}

static int run_seed(const args *a, uint64_t seed, sim_result *tot)
{
	sim_params p = a->p;
	p.seed = seed;
	sim_result r, r2;
	dir_clean(p.dir);
	if (sim_run(&p, &r) != 0) {
		fprintf(stderr, "dropsim: seed %" PRIu64 ": set-up failed\n", seed);
		return 1;
	}
	if (!r.failed && a->twice) {
		dir_clean(p.dir);
		if (sim_run(&p, &r2) != 0 || r2.hash != r.hash) {
			r.failed = true;
			snprintf(r.why, sizeof(r.why), "not deterministic: history %016" PRIx64
			    " then %016" PRIx64, r.hash, r2.hash);
		}
	}
	tot_add(tot, &r);
	if (a->hashes) {
		printf("dropsim: seed %" PRIu64 " history %016" PRIx64 "\n", seed, r.hash);
	}
	if (r.failed) {
		printf("dropsim: seed %" PRIu64 " FAILED: %s\n", seed, r.why);
		replay_line(a, seed);
		return 1;
	}
	return 0;
}

/* What one worker sends back through its pipe. */
typedef struct {
	sim_result tot;
	uint64_t ran;
	int rc;
} worker_out;

/* Runs every jobs-th seed from first, in dir. */
/* The next seed to run, shared by the workers (run_jobs); NULL: one job. */
static uint64_t *next_seed;

static void run_share(const args *a, uint64_t first, uint64_t jobs, const char *dir,
    worker_out *w)
{
	args mine = *a;
	mine.p.dir = dir;
	memset(w, 0, sizeof(*w));
	/* Workers take the next seed from a shared counter: seeds differ
	 * 10x in cost (the real pace), and fixed shares left one worker
	 * running alone. */
	for (uint64_t s = next_seed != NULL ? __atomic_fetch_add(next_seed, 1, __ATOMIC_RELAXED)
	    : first; s < a->seed + a->seeds && w->rc == 0;
	    s = next_seed != NULL ? __atomic_fetch_add(next_seed, 1, __ATOMIC_RELAXED) : s + jobs) {
		w->rc = run_seed(&mine, s, &w->tot);
		w->ran++;
	}
	if (w->rc == 0) {
		dir_clean(dir);
	} else {
		printf("dropsim: the failing seed's stores are kept in %s\n", dir);
	}
	fflush(stdout);
}

static void tot_add(sim_result *t, const sim_result *r)
{
	t->sim_ms += r->sim_ms;
	t->orders += r->orders;
	t->accepted += r->accepted;
	t->drop_accepted += r->drop_accepted;
	t->refused += r->refused;
	t->gave_up += r->gave_up;
	t->shipped += r->shipped;
	t->msgs += r->msgs;
	t->lost += r->lost;
	t->duplicated += r->duplicated;
	t->partitions += r->partitions;
	t->coord_crashes += r->coord_crashes;
	t->hub_crashes += r->hub_crashes;
	t->clock_steps += r->clock_steps;
	t->stalls += r->stalls;
	t->audits += r->audits;
	t->real_paced += r->real_paced;
	t->memfile_checks += r->memfile_checks;
	t->power_losses += r->power_losses;
	t->wipes += r->wipes;
	t->io_errors += r->io_errors;
}

/* Forks one worker per job; each writes its worker_out to a pipe. */
static int run_jobs(const args *a, const char *base, worker_out *all)
{
	int fds[DROPSIM_JOBS_MAX];
	pid_t pids[DROPSIM_JOBS_MAX];
	memset(all, 0, sizeof(*all));
	next_seed = mmap(NULL, sizeof(*next_seed), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (next_seed == MAP_FAILED) {
		perror("dropsim: mmap");
		return 1;
	}
	*next_seed = a->seed;
	for (uint64_t k = 0; k < a->jobs; k++) {
		int p[2];
		if (pipe(p) != 0) {
			perror("dropsim: pipe");
			return 1;
		}
		fflush(stdout);
		pids[k] = fork();
		if (pids[k] == 0) {
			char dir[1100];
			worker_out w;
			close(p[0]);
			snprintf(dir, sizeof(dir), "%s/job%llu", base, (unsigned long long)k);
			mkdir(dir, 0700);
			run_share(a, a->seed + k, a->jobs, dir, &w);
			if (w.rc == 0) {
				rmdir(dir);
			}
			_exit(write(p[1], &w, sizeof(w)) == (ssize_t)sizeof(w) ? 0 : 1);
		}
		close(p[1]);
		fds[k] = p[0];
	}
	for (uint64_t k = 0; k < a->jobs; k++) {
		worker_out w;
		int st = 0;
		if (read(fds[k], &w, sizeof(w)) != (ssize_t)sizeof(w)) {
			memset(&w, 0, sizeof(w));
			w.rc = 1;
			printf("dropsim: worker %llu died\n", (unsigned long long)k);
		}
		close(fds[k]);
		waitpid(pids[k], &st, 0);
		tot_add(&all->tot, &w.tot);
		all->ran += w.ran;
		all->rc += w.rc;
	}
	return 0;
}

int main(int argc, char **argv)
{
	args a = {1, 1, 1, false, false, {0, 1000, 6, true, false, false, NULL, 0}};
	if (args_parse(argc, argv, &a) != 0) {
		usage(stderr);
		return 2;
	}
	char tmp[] = "/tmp/dropsim.XXXXXX";
	const char *base = a.p.dir;
	if (base == NULL) {
		if (mkdtemp(tmp) == NULL) {
			perror("dropsim: mkdtemp");
			return 1;
		}
		base = tmp;
	}
	/* The run fails storage and links on purpose: the daemons' error lines
	 * are noise here (DROPSIM_LOG=1 shows every line, --verbose warnings). */
	log_set_level(getenv("DROPSIM_LOG") ? LOG_DEBUG : a.p.verbose ? LOG_WARN : LOG_OFF);
	/* One thread per process: SQLite's mutexes and its memory
	 * accounting (on by default: a mutex per allocation) cost CPU and
	 * change nothing a store does. */
	if (sqlite3_config(SQLITE_CONFIG_SINGLETHREAD) != SQLITE_OK ||
	    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) != SQLITE_OK) {
		fprintf(stderr, "dropsim: sqlite3_config refused; running as is\n");
	}
	/* Blocks past glibc's mmap threshold come and go with every seed
	 * and every store open: the world (0.7 MB) and its event heap
	 * (16 MB), each hub store's claim candidates (DN_QUEUE_LIST_MAX
	 * orders, ~2.4 MiB, from its first claim to its close), the VFS's
	 * file images (a few MiB, grown by realloc; simvfs.c keeps freed
	 * ones for the next file). glibc would map each and unmap it at
	 * free, so every reuse page-faults afresh (30 seeds, before the
	 * VFS kept its buffers: 171,000 page faults without these two
	 * lines, 22,600 with them). Keep them in the heap, never trimmed. */
	mallopt(M_MMAP_THRESHOLD, 64 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
	worker_out all;
	double t0 = wall_s();
	if (a.jobs == 1) {
		run_share(&a, a.seed, 1, base, &all);
	} else if (run_jobs(&a, base, &all) != 0) {
		return 1;
	}
	double el = wall_s() - t0;
	if (all.rc == 0 && base == tmp) {
		rmdir(tmp);
	}
	const sim_result *t = &all.tot;
	printf("dropsim: %" PRIu64 " seed(s), %u orders (%u accepted - %u of them in the seed's"
	    " drop - %u refused, %u gave up), %u shipped\n", all.ran, t->orders, t->accepted,
	    t->drop_accepted, t->refused, t->gave_up, t->shipped);
	printf("dropsim: injected: %u messages (%u lost, %u duplicated), %u partitions,"
	    " %u coordinator crashes, %u hub crashes (%u with power loss, %u wiped), %" PRIu64
	    " storage errors, %u clock steps, %u loop stalls; %u audits, %u memory = file"
	    " checks after a failed transaction\n", t->msgs,
	    t->lost, t->duplicated, t->partitions, t->coord_crashes, t->hub_crashes,
	    t->power_losses, t->wipes, t->io_errors, t->clock_steps, t->stalls, t->audits,
	    t->memfile_checks);
	printf("dropsim: %.1f simulated s in %.2f wall s (%.0fx); %u seed(s) at a hub's real"
	    " pace (hours of picking), %" PRIu64 " compressed (seconds); %.0f orders per wall s\n",
	    (double)t->sim_ms / 1000.0, el, el > 0 ? (double)t->sim_ms / 1000.0 / el : 0.0,
	    t->real_paced, all.ran - t->real_paced, el > 0 ? (double)t->orders / el : 0.0);
	printf("dropsim: %" PRIu64 " passed, %d failed\n", all.ran - (uint64_t)all.rc, all.rc);
	return all.rc == 0 ? 0 : 1;
}
