/*
 * simvfs.h - an in-memory, fault-injecting SQLite VFS for the deterministic
 * network simulator: every node's real store runs on it inside one process.
 *
 * What it models. Each file (main db, -wal, -journal, temp files) is a byte
 * image kept in memory under its path, with a DURABLE image (what the disk
 * holds for sure) and the writes and truncates since the file's last xSync
 * (PENDING). Reads see durable + pending, as a page cache would. xSync makes
 * pending durable. simvfs_crash() is power loss: a file reverts to its
 * durable image, except that each pending write may survive, sector by
 * sector (SIMVFS_SECTOR_BYTES), in any combination - disks do persist
 * unsynced writes, partially and out of order. Shared memory (-shm, the WAL
 * index) lives in heap regions and is lost at a crash, as it is not durable.
 * Faults, drawn from one seeded PRNG: xWrite fails with SQLITE_IOERR_WRITE or
 * SQLITE_FULL (nothing written), xSync fails with SQLITE_IOERR_FSYNC
 * (nothing made durable; the writes stay pending), and "landed but errored":
 * the write or sync is applied yet the error is returned. Faults apply to the
 * paths under configured prefixes, so one sim node's disk can misbehave
 * while the others do not.
 *
 * Directory semantics, kept simple: a file's existence becomes durable at
 * its first successful xSync (as the unix VFS fsyncs the directory of a new
 * journal or WAL at its first sync). A file never synced may vanish at a
 * crash (seeded) or survive with whatever of its pending writes survive.
 * xDelete is durable at once (a crash never brings a deleted file back).
 * xTruncate is pending like a write: a crash keeps it or not, as a whole.
 *
 * What it does not model: read errors, corruption of bytes that were
 * already durable (bit rot, misdirected writes), a torn write damaging
 * neighbouring bytes of its sector (POWERSAFE_OVERWRITE is claimed, as the
 * unix VFS on Linux does), lost fsync errors (a failed sync here leaves the
 * data pending, it does not silently drop it), other processes, mmap I/O
 * (io_methods version 2: no xFetch), disk space beyond SIMVFS_FILE_BYTES_MAX.
 *
 * Determinism: no clock, no rand(). Every choice comes from the seed given
 * to simvfs_create(); SQLite's own PRNG (WAL salts, journal nonces) is
 * seeded from it too through SQLITE_TESTCTRL_PRNG_SEED, which is process-
 * global - one simvfs per process at a time. xCurrentTime reads the sim time
 * set by simvfs_time_set(); xSleep returns at once; xRandomness is seeded.
 * The same seed and the same sequence of calls give the same bytes.
 *
 * Locking: one process, one thread. Lock levels (SHARED, RESERVED, PENDING,
 * EXCLUSIVE) and the eight shm locks are kept per file across handles, so
 * several connections in the process (WAL readers and a writer) see
 * SQLITE_BUSY where they would across processes.
 *
 * Thread model: none. A simvfs and every connection opened on it belong to
 * the one thread that runs the simulation.
 */
#ifndef DN_SIMVFS_H
#define DN_SIMVFS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Files that may exist at once: a sim of a coordinator and a few dozen hubs
 * has three or four files per store (db, -wal, -journal, a temp file). */
#define SIMVFS_FILES_MAX 256u
/* Longest path, bytes (SQLite's mxPathname for this VFS). */
#define SIMVFS_PATH_MAX 512u
/* Largest file: sim stores are a few MiB; a bound keeps a runaway test from
 * eating the machine. A write beyond it returns SQLITE_FULL (not counted as
 * an injected fault). */
#define SIMVFS_FILE_BYTES_MAX (64u * 1024u * 1024u)
/* Unsynced writes and truncates remembered per file. synchronous=FULL syncs
 * at every commit, so only a transaction that spills a large cache comes
 * near; beyond it the oldest is written back to the durable image, as a
 * disk may do at any time on its own. */
#define SIMVFS_PENDING_MAX 4096u
/* Granularity of torn writes at a crash, and xSectorSize. */
#define SIMVFS_SECTOR_BYTES 4096u
/* WAL-index regions per file (32 KiB each, 4,096 frames each): 128 regions
 * index a 2 GiB WAL, far above any sim store. */
#define SIMVFS_SHM_REGIONS_MAX 128u
/* Fault scopes (path prefixes with their own policy). */
#define SIMVFS_SCOPES_MAX 32u

typedef struct simvfs simvfs;

/* Probabilities in [0, 1], drawn per call. write_error, write_full and
 * write_landed_error are exclusive outcomes of one draw per xWrite (their
 * sum must be <= 1); likewise sync_error and sync_landed_error per xSync. */
typedef struct simvfs_faults {
	double write_error;        /* SQLITE_IOERR_WRITE, nothing written */
	double write_full;         /* SQLITE_FULL, nothing written */
	double write_landed_error; /* written, yet SQLITE_IOERR_WRITE */
	double sync_error;         /* SQLITE_IOERR_FSYNC, nothing made durable */
	double sync_landed_error;  /* made durable, yet SQLITE_IOERR_FSYNC */
} simvfs_faults;

/* What a crash keeps of what was not synced. */
typedef struct simvfs_crash_policy {
	double sector_survives;   /* each sector of each pending write */
	double new_file_survives; /* a file never synced is kept (else gone) */
} simvfs_crash_policy;

/* Counters for the sim's report; they only grow. */
typedef struct simvfs_stats {
	uint64_t writes;             /* xWrite calls on live handles */
	uint64_t syncs;              /* xSync calls on live handles */
	uint64_t writes_failed;      /* injected SQLITE_IOERR_WRITE, not applied */
	uint64_t writes_full;        /* injected SQLITE_FULL */
	uint64_t writes_landed;      /* applied but reported SQLITE_IOERR_WRITE */
	uint64_t syncs_failed;       /* injected SQLITE_IOERR_FSYNC, not durable */
	uint64_t syncs_landed;       /* durable but reported SQLITE_IOERR_FSYNC */
	uint64_t crashes;            /* simvfs_crash calls */
	uint64_t wipes;              /* simvfs_wipe calls */
	uint64_t sectors_kept;       /* pending sectors that survived a crash */
	uint64_t sectors_lost;       /* pending sectors a crash dropped */
	uint64_t files_vanished;     /* never-synced files a crash removed */
	uint64_t handles_killed;     /* open handles a crash or wipe made dead */
} simvfs_stats;

/* Creates a VFS, registers it with SQLite under vfs_name (not as the
 * default) and reseeds SQLite's PRNG from seed. Open databases on it with
 * sqlite3_open_v2(..., vfs_name) or db_open_vfs(). Faults start disabled,
 * with no scopes; the crash policy starts at 0.5 / 0.5. Returns 0, DN_EINVAL
 * (name too long or already registered), DN_ENOMEM or DN_EIO. */
int simvfs_create(const char *vfs_name, uint64_t seed, simvfs **out);

/* Unregisters and frees everything. Every connection on it must be closed
 * first (asserted). Accepts NULL. */
void simvfs_destroy(simvfs *vfs);

/* Sets the fault policy for paths starting with prefix ("" = every path),
 * replacing that prefix's previous policy. A path takes the policy of its
 * longest matching prefix; paths under no prefix get no faults. Returns 0,
 * DN_EINVAL (prefix too long, probabilities out of range) or DN_EFULL. */
int simvfs_faults_set(simvfs *vfs, const char *prefix, const simvfs_faults *f);
/* Removes the policy of exactly prefix (no-op when absent). */
void simvfs_faults_clear(simvfs *vfs, const char *prefix);
/* Master switch: when off no fault is injected anywhere (crashes still lose
 * unsynced writes). Off after simvfs_create. */
void simvfs_faults_enable(simvfs *vfs, bool on);

/* Sets what crashes keep (probabilities in [0, 1]). Returns 0 or DN_EINVAL. */
int simvfs_crash_policy_set(simvfs *vfs, const simvfs_crash_policy *p);

/* Power loss for every file whose path starts with path_prefix: contents
 * revert to the durable image plus a seeded subset of pending sectors;
 * never-synced files may vanish; shared memory is discarded. Handles still
 * open on those files become dead: every I/O on them fails and nothing they
 * do reaches the new state, so the sim may crash a node first and close the
 * node's old connections after (it must, before reopening those paths -
 * asserted). Deletes are refused while a dead handle on the path is open. */
void simvfs_crash(simvfs *vfs, const char *path_prefix);

/* A wiped disk: deletes every file under path_prefix; open handles on them
 * become dead as in simvfs_crash. */
void simvfs_wipe(simvfs *vfs, const char *path_prefix);

/* Sim time for xCurrentTime/xCurrentTimeInt64 (SQL's 'now'), Unix ms. */
void simvfs_time_set(simvfs *vfs, int64_t unix_ms);

void simvfs_stats_get(const simvfs *vfs, simvfs_stats *out);

/* Current (durable + pending) bytes of path, borrowed until the next call
 * into the VFS. Returns 0 or DN_ENOENT. */
int simvfs_file_get(const simvfs *vfs, const char *path, const uint8_t **data,
    size_t *len);

/* A 64-bit FNV-1a digest of every file under path_prefix, in path order:
 * path, durable image and current image - equal digests mean the same
 * state, for determinism checks and the sim's report. */
uint64_t simvfs_digest(const simvfs *vfs, const char *path_prefix);

#endif
