/*
 * raft_transport.c - libraft's TCP transport with the group's secret: a
 * connection reaches libraft only after its peer proved it holds the key
 * (raft_transport.h, docs/replication.md "Transport and trust").
 *
 * libraft 0.15's own TCP transport trusts its first bytes: the address
 * length of its handshake is allocated unchecked, and one connection of
 * garbage to a replication port took down every replica of a local group
 * (a failed 100 GB allocation, then a segfault in libraft). Here the
 * listener speaks first and libraft sees nothing of a connection until:
 *
 *   listener -> "DNRAFTC1" challenge (16 random bytes)
 *   connector -> "DNRAFTR1" id (u64 LE) address (64 bytes, NUL-padded)
 *                mac = HMAC-SHA256(key, "dropnet-raft-v1" 0 challenge id address)
 *   listener -> "DNRAFTOK" (the MAC verified, in constant time)
 *
 * then the stream goes to libraft as its own transport would hand it (an
 * accepted one with the peer's id and address; a connected one to the
 * connect callback). A fresh challenge per connection makes a recorded
 * handshake worthless. Data flows one way on a libraft connection
 * (connector to listener), and each side reads exactly the bytes of the
 * step it waits for, so no byte of libraft's is read here. Handshakes take
 * at most RT_HANDSHAKE_MS and at most RT_PENDING_MAX run at once; every
 * refusal is logged. Not encryption: replication still belongs on a
 * private network.
 *
 * Thread model: the loop thread (libraft's).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <mbedtls/md.h>
#include "core/err.h"
#include "io/auth.h"
#include "io/log.h"
#include "raft_transport.h"

#define RT_CHALLENGE_LEN 24              /* magic + 16 random bytes */
#define RT_ADDR_LEN 64
#define RT_RESPONSE_LEN (8 + 8 + RT_ADDR_LEN + 32)
#define RT_OK_LEN 8
#define RT_HANDSHAKE_MS 5000
#define RT_PENDING_MAX 64

typedef struct rt_hs {
	struct rt *rt;
	struct rt_hs *prev, *next;
	uv_tcp_t *tcp;                 /* raft_malloc'd: libraft frees it later */
	uv_connect_t conn;
	uv_write_t wr;
	bool outgoing;
	bool ending;                   /* closing: its callbacks are no-ops */
	struct raft_uv_connect *req;   /* outgoing */
	uint64_t started_ms;
	int status;                    /* outgoing: the connect callback's */
	uint8_t challenge[RT_CHALLENGE_LEN];
	uint8_t out[RT_RESPONSE_LEN];
	uint8_t in[RT_RESPONSE_LEN];
	size_t nin, want;
	int step;                      /* what is being read or written */
} rt_hs;

typedef struct rt {
	struct raft_uv_transport *t;
	uv_loop_t *loop;
	uint8_t key[DN_AUTH_KEY_BYTES];
	raft_id id;
	char address[RT_ADDR_LEN];
	uv_tcp_t listener;
	uv_timer_t timer;
	bool listening, timer_on, closing;
	int handles;                   /* ours still open (listener, timer, handshakes) */
	raft_uv_accept_cb accept_cb;
	raft_uv_transport_close_cb close_cb;
	rt_hs *head;
	size_t pending;
} rt;

enum { RT_READ_CHALLENGE, RT_WRITE_RESPONSE, RT_READ_OK, RT_WRITE_CHALLENGE,
	RT_READ_RESPONSE, RT_WRITE_OK };

static void rt_mac(const uint8_t *key, const uint8_t *challenge, const uint8_t *id_addr,
    uint8_t mac[32])
{
	static const char label[] = "dropnet-raft-v1";
	mbedtls_md_context_t md;
	mbedtls_md_init(&md);
	if (mbedtls_md_setup(&md, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 1) != 0 ||
	    mbedtls_md_hmac_starts(&md, key, DN_AUTH_KEY_BYTES) != 0 ||
	    mbedtls_md_hmac_update(&md, (const uint8_t *)label, sizeof(label)) != 0 ||
	    mbedtls_md_hmac_update(&md, challenge + 8, RT_CHALLENGE_LEN - 8) != 0 ||
	    mbedtls_md_hmac_update(&md, id_addr, 8 + RT_ADDR_LEN) != 0 ||
	    mbedtls_md_hmac_finish(&md, mac) != 0) {
		memset(mac, 0, 32);      /* never equal to a real MAC's check below */
		mac[0] = 1;
	}
	mbedtls_md_free(&md);
}

static void rt_maybe_closed(rt *r)
{
	if (r->closing && r->handles == 0 && r->close_cb != NULL) {
		raft_uv_transport_close_cb cb = r->close_cb;
		r->close_cb = NULL;
		cb(r->t);
	}
}

static void rt_unlink(rt_hs *h)
{
	rt *r = h->rt;
	if (h->prev != NULL) {
		h->prev->next = h->next;
	} else if (r->head == h) {
		r->head = h->next;
	}
	if (h->next != NULL) {
		h->next->prev = h->prev;
	}
	h->prev = h->next = NULL;
	r->pending--;
}

static void rt_hs_closed(uv_handle_t *handle)
{
	rt_hs *h = handle->data;
	rt *r = h->rt;
	raft_free(h->tcp);
	if (h->outgoing) {
		h->req->cb(h->req, NULL, h->status);
	}
	free(h);
	r->handles--;
	rt_maybe_closed(r);
}

/* Ends a handshake that failed (or is cancelled): its connection closes;
 * an outgoing one's callback then gets status. why NULL: not logged (a
 * peer that is down, the transport closing). */
static void rt_fail(rt_hs *h, int status, const char *why)
{
	if (h->ending) {
		return;
	}
	h->ending = true;
	rt_unlink(h);
	h->status = status;
	if (why != NULL) {
		log_warn("raft_transport.refused", "dir=%s why=%s", h->outgoing ? "out" : "in", why);
	}
	uv_read_stop((uv_stream_t *)h->tcp);
	uv_close((uv_handle_t *)h->tcp, rt_hs_closed);
}

/* Hands a finished handshake's stream to libraft. */
static void rt_done(rt_hs *h)
{
	rt *r = h->rt;
	rt_unlink(h);
	uv_read_stop((uv_stream_t *)h->tcp);
	uv_stream_t *s = (uv_stream_t *)h->tcp;
	s->data = NULL;
	r->handles--;
	if (h->outgoing) {
		struct raft_uv_connect *req = h->req;
		free(h);
		req->cb(req, s, 0);
	} else {
		raft_id id = 0;
		char addr[RT_ADDR_LEN];
		for (int i = 0; i < 8; i++) {
			id |= (raft_id)h->in[8 + i] << (8 * i);
		}
		memcpy(addr, h->in + 16, RT_ADDR_LEN);
		free(h);
		r->accept_cb(r->t, id, addr, s);
	}
	rt_maybe_closed(r);
}

static void rt_read(rt_hs *h, int step, size_t want);
static void rt_write(rt_hs *h, int step, const uint8_t *buf, size_t len);

/* A step's bytes are all in (h->in[0..want)). */
static void rt_step(rt_hs *h)
{
	rt *r = h->rt;
	if (h->step == RT_READ_CHALLENGE) {
		if (memcmp(h->in, "DNRAFTC1", 8) != 0) {
			rt_fail(h, RAFT_NOCONNECTION, "not_a_dropnet_replica");
			return;
		}
		memcpy(h->challenge, h->in, RT_CHALLENGE_LEN);
		memcpy(h->out, "DNRAFTR1", 8);
		for (int i = 0; i < 8; i++) {
			h->out[8 + i] = (uint8_t)(r->id >> (8 * i));
		}
		memset(h->out + 16, 0, RT_ADDR_LEN);
		memcpy(h->out + 16, r->address, strlen(r->address));
		rt_mac(r->key, h->challenge, h->out + 8, h->out + 16 + RT_ADDR_LEN);
		rt_write(h, RT_WRITE_RESPONSE, h->out, RT_RESPONSE_LEN);
	} else if (h->step == RT_READ_OK) {
		if (memcmp(h->in, "DNRAFTOK", 8) != 0) {
			rt_fail(h, RAFT_NOCONNECTION, "not_accepted");
			return;
		}
		rt_done(h);
	} else if (h->step == RT_READ_RESPONSE) {
		uint8_t mac[32];
		rt_mac(r->key, h->challenge, h->in + 8, mac);
		bool ok = memcmp(h->in, "DNRAFTR1", 8) == 0 &&
		    auth_mac_equal(mac, h->in + 16 + RT_ADDR_LEN, 32);
		ok = ok && h->in[16 + RT_ADDR_LEN - 1] == '\0' && h->in[16] != '\0';
		uint64_t id = 0;
		for (int i = 0; i < 8; i++) {
			id |= (uint64_t)h->in[8 + i] << (8 * i);
		}
		if (!ok || id == 0) {
			rt_fail(h, RAFT_NOCONNECTION, ok ? "id_zero" : "bad_mac");
			return;
		}
		rt_write(h, RT_WRITE_OK, (const uint8_t *)"DNRAFTOK", RT_OK_LEN);
	}
}

static void rt_alloc(uv_handle_t *handle, size_t hint, uv_buf_t *buf)
{
	rt_hs *h = handle->data;
	(void)hint;
	buf->base = (char *)h->in + h->nin;
	buf->len = h->want - h->nin;
}

static void rt_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	rt_hs *h = s->data;
	(void)buf;
	if (n < 0) {
		rt_fail(h, h->rt->closing ? RAFT_CANCELED : RAFT_NOCONNECTION,
		    h->rt->closing || h->outgoing ? NULL : "closed_early");
		return;
	}
	h->nin += (size_t)n;
	if (h->nin == h->want) {
		uv_read_stop(s);
		rt_step(h);
	}
}

static void rt_read(rt_hs *h, int step, size_t want)
{
	h->step = step;
	h->nin = 0;
	h->want = want;
	if (uv_read_start((uv_stream_t *)h->tcp, rt_alloc, rt_on_read) != 0) {
		rt_fail(h, RAFT_NOCONNECTION, "read_start");
	}
}

static void rt_on_write(uv_write_t *w, int status)
{
	rt_hs *h = w->data;
	if (status != 0 || h->rt->closing) {
		rt_fail(h, h->rt->closing ? RAFT_CANCELED : RAFT_NOCONNECTION,
		    h->rt->closing ? NULL : "write");
		return;
	}
	if (h->step == RT_WRITE_CHALLENGE) {
		rt_read(h, RT_READ_RESPONSE, RT_RESPONSE_LEN);
	} else if (h->step == RT_WRITE_RESPONSE) {
		rt_read(h, RT_READ_OK, RT_OK_LEN);
	} else {
		rt_done(h);   /* RT_WRITE_OK: libraft's from here */
	}
}

static void rt_write(rt_hs *h, int step, const uint8_t *buf, size_t len)
{
	h->step = step;
	h->wr.data = h;
	uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
	if (uv_write(&h->wr, (uv_stream_t *)h->tcp, &b, 1, rt_on_write) != 0) {
		rt_fail(h, RAFT_NOCONNECTION, "write_start");
	}
}

/* A handshake on a new TCP handle (raft_malloc'd, initialised). */
static rt_hs *rt_hs_new(rt *r, bool outgoing)
{
	rt_hs *h = calloc(1, sizeof(*h));
	uv_tcp_t *tcp = raft_malloc(sizeof(*tcp));
	if (h == NULL || tcp == NULL || uv_tcp_init(r->loop, tcp) != 0) {
		free(h);
		raft_free(tcp);
		return NULL;
	}
	h->rt = r;
	h->tcp = tcp;
	h->outgoing = outgoing;
	h->started_ms = uv_now(r->loop);
	tcp->data = h;
	uv_tcp_nodelay(tcp, 1);
	h->next = r->head;
	if (r->head != NULL) {
		r->head->prev = h;
	}
	r->head = h;
	r->pending++;
	r->handles++;
	return h;
}

static void rt_on_conn(uv_stream_t *server, int status)
{
	rt *r = server->data;
	if (status != 0 || r->closing) {
		return;
	}
	rt_hs *h = r->pending < RT_PENDING_MAX ? rt_hs_new(r, false) : NULL;
	if (h == NULL) {
		/* Full (or out of memory): accept and drop it at once. */
		uv_tcp_t *tmp = malloc(sizeof(*tmp));
		if (tmp != NULL && uv_tcp_init(r->loop, tmp) == 0) {
			(void)uv_accept(server, (uv_stream_t *)tmp);
			uv_close((uv_handle_t *)tmp, (uv_close_cb)free);
		} else {
			free(tmp);
		}
		log_warn("raft_transport.refused", "dir=in why=too_many_handshakes max=%d",
		    RT_PENDING_MAX);
		return;
	}
	if (uv_accept(server, (uv_stream_t *)h->tcp) != 0 ||
	    getrandom(h->challenge + 8, RT_CHALLENGE_LEN - 8, 0) != RT_CHALLENGE_LEN - 8) {
		rt_fail(h, RAFT_NOCONNECTION, "accept");
		return;
	}
	memcpy(h->challenge, "DNRAFTC1", 8);
	rt_write(h, RT_WRITE_CHALLENGE, h->challenge, RT_CHALLENGE_LEN);
}

/* Every second: handshakes older than RT_HANDSHAKE_MS end. */
static void rt_on_timer(uv_timer_t *t)
{
	rt *r = t->data;
	uint64_t now = uv_now(r->loop);
	rt_hs *h = r->head;
	while (h != NULL) {
		rt_hs *next = h->next;
		if (now - h->started_ms > RT_HANDSHAKE_MS) {
			rt_fail(h, RAFT_NOCONNECTION, "timeout");
		}
		h = next;
	}
}

static int rt_addr(const char *address, struct sockaddr_in *sa)
{
	char host[RT_ADDR_LEN];
	const char *colon = strrchr(address, ':');
	size_t n = colon != NULL ? (size_t)(colon - address) : 0;
	if (colon == NULL || n == 0 || n >= sizeof(host)) {
		return RAFT_INVALID;
	}
	memcpy(host, address, n);
	host[n] = '\0';
	char *end = NULL;
	long port = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || *end != '\0' || port <= 0 || port > 65535 ||
	    uv_ip4_addr(host, (int)port, sa) != 0) {
		return RAFT_INVALID;
	}
	return 0;
}

static int rt_init(struct raft_uv_transport *t, raft_id id, const char *address)
{
	rt *r = t->impl;
	if (strlen(address) >= RT_ADDR_LEN) {
		return RAFT_NAMETOOLONG;
	}
	r->id = id;
	snprintf(r->address, sizeof(r->address), "%s", address);
	return 0;
}

static int rt_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
	rt *r = t->impl;
	struct sockaddr_in sa;
	int rv = rt_addr(r->address, &sa);
	if (rv != 0) {
		return rv;
	}
	r->accept_cb = cb;
	if (uv_tcp_init(r->loop, &r->listener) != 0) {
		return RAFT_IOERR;
	}
	r->listening = true;
	r->handles++;
	r->listener.data = r;
	int uv = uv_tcp_bind(&r->listener, (struct sockaddr *)&sa, 0);
	if (uv == 0) {
		uv = uv_listen((uv_stream_t *)&r->listener, 128, rt_on_conn);
	}
	if (uv != 0) {
		snprintf(t->errmsg, sizeof(t->errmsg), "listen on %s: %s", r->address,
		    uv_strerror(uv));
		log_error("raft_transport.listen_failed", "address=%s err=\"%s\"", r->address,
		    uv_strerror(uv));
		return RAFT_IOERR;
	}
	if (uv_timer_init(r->loop, &r->timer) == 0) {
		r->timer.data = r;
		r->timer_on = true;
		r->handles++;
		uv_timer_start(&r->timer, rt_on_timer, 1000, 1000);
	}
	return 0;
}

static void rt_on_connected(uv_connect_t *c, int status)
{
	rt_hs *h = c->data;
	if (h->rt->closing || status != 0) {
		rt_fail(h, h->rt->closing ? RAFT_CANCELED : RAFT_NOCONNECTION, NULL);
	} else {
		rt_read(h, RT_READ_CHALLENGE, RT_CHALLENGE_LEN);
	}
}

static int rt_connect(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id,
    const char *address, raft_uv_connect_cb cb)
{
	rt *r = t->impl;
	struct sockaddr_in sa;
	(void)id;
	int rv = rt_addr(address, &sa);
	if (rv != 0) {
		return rv;
	}
	req->cb = cb;
	rt_hs *h = rt_hs_new(r, true);
	if (h == NULL) {
		return RAFT_NOMEM;
	}
	h->req = req;
	h->conn.data = h;
	if (uv_tcp_connect(&h->conn, h->tcp, (struct sockaddr *)&sa, rt_on_connected) != 0) {
		h->outgoing = false;   /* no callback: the error is returned */
		rt_fail(h, RAFT_NOCONNECTION, NULL);
		return RAFT_NOCONNECTION;
	}
	return 0;
}

static void rt_handle_closed(uv_handle_t *handle)
{
	rt *r = handle->data;
	r->handles--;
	rt_maybe_closed(r);
}

static void rt_close(struct raft_uv_transport *t, raft_uv_transport_close_cb cb)
{
	rt *r = t->impl;
	r->closing = true;
	r->close_cb = cb;
	while (r->head != NULL) {
		rt_fail(r->head, RAFT_CANCELED, NULL);
	}
	if (r->listening) {
		r->listening = false;
		uv_close((uv_handle_t *)&r->listener, rt_handle_closed);
	}
	if (r->timer_on) {
		r->timer_on = false;
		uv_close((uv_handle_t *)&r->timer, rt_handle_closed);
	}
	rt_maybe_closed(r);
}

int raft_transport_init(struct raft_uv_transport *t, uv_loop_t *loop,
    const uint8_t key[DN_AUTH_KEY_BYTES])
{
	rt *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		return DN_ENOMEM;
	}
	memset(t, 0, sizeof(*t));
	r->t = t;
	r->loop = loop;
	memcpy(r->key, key, DN_AUTH_KEY_BYTES);
	t->impl = r;
	t->init = rt_init;
	t->listen = rt_listen;
	t->connect = rt_connect;
	t->close = rt_close;
	return 0;
}

void raft_transport_fini(struct raft_uv_transport *t)
{
	rt *r = t->impl;
	if (r != NULL) {
		memset(r->key, 0, sizeof(r->key));
		free(r);
	}
	t->impl = NULL;
}
