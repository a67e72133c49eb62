/*
 * raft_transport.h - libraft's replication connections, authenticated with
 * the group's secret (group.secret_file) before libraft reads a byte of
 * them (raft_transport.c; docs/replication.md "Transport and trust").
 */
#ifndef DN_RAFT_TRANSPORT_H
#define DN_RAFT_TRANSPORT_H
#include <stdint.h>
#include <raft.h>
#include <raft/uv.h>
#include <uv.h>
#include "core/limits.h"

/* Fills t (for raft_uv_init) with a TCP transport that lets a connection
 * reach libraft only once its peer proved it holds key (a challenge and an
 * HMAC), and sets TCP_NODELAY. 0 or DN_ENOMEM. raft_transport_fini frees
 * it after libraft closed it (raft_close). */
int raft_transport_init(struct raft_uv_transport *t, uv_loop_t *loop,
    const uint8_t key[DN_AUTH_KEY_BYTES]);
void raft_transport_fini(struct raft_uv_transport *t);

#endif
