/*
 * mreq.h - one request as a machine sees it: the bytes that came in and the
 * reply it decided on, as data.
 *
 * The coordinator and hub machines never touch a socket. Their shell (the
 * daemon's main.c over common/io/bridge, or the simulator's network) hands
 * them requests as mreqs and sends the replies only after the machine's
 * batch returned - that is, after its transaction committed. This is what
 * lets one process run a whole network (tests/sim) on the same code.
 *
 * Ownership: body is borrowed from the shell for the life of the mreq; the
 * reply is copied into memory the mreq owns until mreq_fini. A request is
 * answered at most once: a second mreq_reply is a program error (asserted).
 * Thread model: none; an mreq belongs to whoever holds it.
 */
#ifndef DN_MREQ_H
#define DN_MREQ_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mreq {
	const uint8_t *body;
	size_t len;
	uint8_t *reply;       /* malloc'd copy; NULL with replied for an empty reply */
	size_t reply_len;
	bool replied;
	/* When the request reached the daemon's socket: wall-clock UTC ms,
	 * set by the shell after mreq_init; 0 when not known (a replicated
	 * group's log entries and the simulator carry none). Only the order
	 * trace reads it (`dropctl order show`): no decision depends on it. */
	int64_t arrived_ms;
	/* The client's OS user (an ipc:// peer's SO_PEERCRED uid), set by the
	 * shell; -1 when not known (tcp://, log entries, the simulator). hubd
	 * records it next to the terminal operator's name. */
	int64_t peer_uid;
	/* Set by a machine that left the request unanswered on purpose: the
	 * work it still needs runs elsewhere (the coordinator's audit reads,
	 * coord_read_job_*), and that work answers it. NULL otherwise. */
	void *deferred;
} mreq;

/* Starts an mreq over borrowed bytes. */
void mreq_init(mreq *r, const uint8_t *body, size_t len);
/* Frees the reply. Safe with NULL and on an mreq never answered. */
void mreq_fini(mreq *r);
/* The request body. */
const uint8_t *mreq_body(const mreq *r, size_t *len);
/* Records the reply (copied). On out-of-memory the reply is empty, which a
 * client reads as MALFORMED and retries. */
void mreq_reply(mreq *r, const void *buf, size_t len);
/* The same with a malloc'd buf the request takes over (no copy); buf may
 * be NULL with len 0 (an empty reply). */
void mreq_reply_take(mreq *r, uint8_t *buf, size_t len);

#endif
