/*
 * walbuf.h - an SQLite VFS shim that gathers a commit's WAL writes into one.
 *
 * SQLite writes each WAL frame as two writes (its 24-byte header, then the
 * page), so a commit of 50 frames of 1 KiB pages is 100 pwrite calls; on
 * the coordinator that was most of the loop's kernel time. Over any VFS,
 * walbuf keeps a WAL file's consecutive writes in memory and writes them
 * as one when the commit is complete, before SQLite goes on:
 *
 *   - right after the page of a commit frame (a frame header whose "size
 *     after commit" field is not 0): the xWrite that completes the commit
 *     returns the gathered write's result, so a failed write fails the
 *     COMMIT as it did before (nothing is published to readers first:
 *     SQLite updates the WAL index only after its writes returned);
 *   - before anything that must see the file as written: xRead, xSync,
 *     xTruncate, xFileSize, xFileControl, xClose, a write that does not
 *     follow the gathered ones, and when 1 MiB is gathered.
 *
 * Nothing about durability changes: the same bytes reach the same file in
 * the same order before the COMMIT returns, and fsyncs (SQLite's, or
 * walsync's on its own descriptor) come after. Files other than WALs are
 * the underlying VFS's own, opened in place. A crash loses what a crash
 * between two of SQLite's writes lost: an incomplete commit, which
 * recovery drops by its checksums.
 */
#ifndef DN_WALBUF_H
#define DN_WALBUF_H

/* The name of the shim over the VFS named under (NULL: the default VFS),
 * registered (not as the default) on first use; thread-safe. NULL when it
 * cannot be (under unknown, no memory): the caller opens under itself. */
const char *walbuf_vfs(const char *under);

#endif
