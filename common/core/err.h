/*
 * err.h - the one set of error codes every dropnet function returns.
 *
 * Fallible functions return int: 0 on success or a negative DN_E* code.
 * Codes from libuv, nng and SQLite are translated at the boundary (common/io)
 * and never leak upward.
 */
#ifndef DN_ERR_H
#define DN_ERR_H

enum {
	DN_OK = 0,
	DN_EINVAL = -1,    /* argument or input out of bounds */
	DN_ENOMEM = -2,    /* allocation failed */
	DN_ENOENT = -3,    /* named object does not exist */
	DN_EIO = -4,       /* storage failed; outcome of a commit may be unknown */
	DN_ETIMEDOUT = -5, /* peer did not answer in time */
	DN_ECLOSED = -6,   /* socket or loop closed */
	DN_EPROTO = -7,    /* peer bytes did not decode / wrong version */
	DN_EFULL = -8,     /* bounded queue full: backpressure */
	DN_EEXIST = -9,    /* already exists */
	DN_ERANGE = -10,   /* number out of range */
	DN_ESTATE = -11,   /* operation not valid in the current state */
	DN_ENET = -12,     /* socket-level failure (connect, bind, send) */
};

/* Returns a short stable name for a DN_E* code ("EINVAL"); never NULL. */
const char *dn_strerror(int code);

#endif
