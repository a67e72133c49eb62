/*
 * peeruid.h - which OS users may speak on an ipc:// socket: a list of uids
 * read from config (hubd's hub.term_allowed_uids), checked against the
 * peer's uid that the kernel reports for each connection (nng's
 * NNG_OPT_IPC_PEER_UID, SO_PEERCRED: the connecting process's uid at
 * connect(), which it cannot forge).
 *
 * The socket file's mode (0660) and group decide who can connect at all;
 * this list narrows that to named accounts, so a member of the group that
 * is not a terminal account (a service, a shared login) is still refused.
 * I/O only in peeruid_list_parse (getpwnam for user names).
 */
#ifndef DN_PEERUID_H
#define DN_PEERUID_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Entries of one list: a hub's terminal accounts, and root. */
#define PEERUID_MAX 32u

typedef struct {
	bool any;                  /* "*": every uid (the file mode alone) */
	size_t n;
	uint64_t uid[PEERUID_MAX];
} peeruid_list;

/* Reads spec: comma-separated uids (digits) or user names (looked up now),
 * spaces around items ignored; "*" alone allows any uid; empty allows
 * self_uid and root (0). 0, or DN_EINVAL with a reason in err (an unknown
 * user, a bad item, more than PEERUID_MAX). */
int peeruid_list_parse(const char *spec, uint64_t self_uid, peeruid_list *out,
    char *err, size_t errlen);

/* True if uid is in the list (or the list allows any). */
bool peeruid_allowed(const peeruid_list *l, uint64_t uid);

#endif
