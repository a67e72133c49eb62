/*
 * tls_engine.c - dropnet's nng TLS engine on mbedtls (see tls_engine.h for
 * why it exists: libnng 1.5.2 sends each SP message as three TLS records).
 *
 * The SP-over-TLS stream (nng's tlstran): after the handshake each side
 * sends the 8-byte SP negotiation header (00 'S' 'P' 00 pp pp 00 00); then
 * every message is an 8-byte big-endian length L and L bytes (SP header and
 * body). tlstran hands a message down as separate calls (length, header,
 * body), each of which nng's TLS layer passes to conn_send on its own.
 *
 * Framing, per connection (conn_send):
 *   NEGO  the first bytes are checked against the negotiation header and
 *         sent as they come (one record). All 8 match: SP. A mismatch (an
 *         HTTPS stream): RAW.
 *   SP    the length is kept in the stage (a plaintext buffer of one
 *         record) and reported sent; then the message's bytes join it, and
 *         the stage is encrypted as ONE record when the message is complete
 *         (or the stage is full: a message bigger than a record goes out as
 *         full records, the middle ones straight from the caller's buffer).
 *         Bytes are held only while the message they belong to is
 *         incomplete, so nothing waits for a later message. A length above
 *         TLS_ENGINE_FRAME_MAX (bigger than any receiver accepts) means the
 *         framing is not what we think: the stage is flushed and the
 *         connection goes RAW.
 *   RAW   every call is written at once, one mbedtls_ssl_write as the
 *         stock engine does, and reported one call late (Completion).
 *
 * Partial writes. nng_tls_engine_send takes what fits in nng's 16 KiB send
 * buffer and returns NNG_EAGAIN when it is full; mbedtls then returns
 * WANT_WRITE with the record encrypted and held in its own output buffer
 * ("committed"). Such a record's bytes are not reported sent: conn_send
 * reports only what precedes it (or NNG_EAGAIN), so nng keeps the send
 * queued and calls again, with the same buffer, when TCP has drained; the
 * held record is flushed first and its bytes reported then (pend_*). A
 * caller that came back with another buffer would be a contract breach:
 * the send fails (NNG_EINTERNAL), never silently. Stage bytes reported sent
 * belong to a message whose last bytes are still to come; if its final
 * write fails, that call returns the error, so the message's send fails.
 * After a hard error every later send returns it.
 *
 * Completion (RAW). libnng 1.5.2's TLS layer (tls_common.c) copies our
 * records into its 16 KiB send buffer and starts one TCP send at a time:
 * bytes that arrive while a send is in flight wait there until that send's
 * callback starts the next. Its close (tls_close) sends our close-notify
 * and closes TCP at once, and whatever still waits in that buffer is
 * dropped. nng's HTTP server closes as soon as its last write is reported
 * (a request with "Connection: close", as Python's urllib sends), so a
 * response whose last record queued behind an in-flight send lost it: the
 * /metrics IncompleteRead, with the stock engine too. So a RAW write is
 * not reported when mbedtls has handed it to nng: conn_send returns
 * NNG_EAGAIN with the bytes held as pend_*, and reports them on nng's next
 * call. That call comes from the TCP send callback (a send is in flight
 * once our record is in nng's buffer), which first hands everything
 * waiting in the buffer to the socket; so by the time the writer can
 * close, its bytes are in the kernel. Not covered: the kernel's socket
 * buffer full right then (the bytes wait in nng's TCP queue, and a close
 * still drops them: a client stalled for a whole socket buffer), and a
 * peer sending meanwhile (nng's receive callback also calls us, and may be
 * the next call). SP streams keep the early report: nng drops unsent SP
 * messages at close anyway, dropnet's protocols resend what is not
 * acknowledged, and the one-record-per-message speed needs it.
 *
 * Receiving needs nothing special: one record serves tlstran's 8-byte
 * length read and its payload read from mbedtls' buffer, no extra syscall.
 *
 * Thread model: nng calls the conn and config ops under its own locks;
 * the counters are atomics.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>
#include <nng/nng.h>
#include <nng/supplemental/tls/engine.h>
#include "core/err.h"
#include "core/limits.h"
#include "io/log.h"
#include "io/tls_engine.h"

/* Largest record payload (mbedtls' MBEDTLS_SSL_OUT_CONTENT_LEN, the TLS
 * maximum); the stage holds one. */
#define TLS_REC_MAX 16384u
/* The SP stream's length prefix and negotiation header. */
#define SP_LEN_BYTES 8u
#define SP_NEGO_BYTES 8u
/* Certificate/key pairs one config may hold (nng allows several, e.g. an
 * RSA and an EC one; dropnet sets one). */
#define TLS_OWN_CERTS_MAX 4
/* A message length above this is not SP framing we trust: no receiver
 * takes more than DN_MSG_MAX_BYTES (the largest NNG_OPT_RECVMAXSZ). */
#define TLS_ENGINE_FRAME_MAX ((uint64_t)DN_MSG_MAX_BYTES)
/* rec_put: the record is in mbedtls' output buffer, not yet flushed. */
#define REC_PENDING 1

typedef enum { FRAME_NEGO = 0, FRAME_SP, FRAME_RAW } frame_mode;

struct nng_tls_engine_config {
	mbedtls_ssl_config conf;
	mbedtls_x509_crt ca;
	mbedtls_x509_crl crl;
	mbedtls_x509_crt own_crt[TLS_OWN_CERTS_MAX];
	mbedtls_pk_context own_key[TLS_OWN_CERTS_MAX];
	int own_n;
	char *server_name;
};

/* Where the SP framing of the outgoing stream stands. */
typedef struct {
	frame_mode mode;
	size_t nego_seen;  /* NEGO: bytes of the header sent */
	size_t staged;     /* bytes in stage */
	bool have_len;     /* SP: the current message's length is known */
	uint64_t msg_left; /* SP: its bytes not yet taken */
} frame_state;

struct nng_tls_engine_conn {
	void *tls; /* nng's connection, for nng_tls_engine_send/recv */
	mbedtls_ssl_context ssl;
	int bio_err;   /* the last nng error under a NET_*_FAILED */
	int failed;    /* a hard send error: returned again */
	bool raw_logged;
	frame_state fr;
	/* A committed record not yet flushed (or, RAW, handed to nng and not
	 * yet reported): its caller bytes start at pend_from and are
	 * pend_take long; pend_take != 0 marks it. */
	const uint8_t *pend_from;
	size_t pend_take;
	uint8_t stage[TLS_REC_MAX];
};

static _Atomic uint64_t st_records, st_messages, st_fallbacks, st_held, st_deferred;

void tls_engine_stats_get(tls_engine_stats *out)
{
	out->records = atomic_load_explicit(&st_records, memory_order_relaxed);
	out->messages = atomic_load_explicit(&st_messages, memory_order_relaxed);
	out->fallbacks = atomic_load_explicit(&st_fallbacks, memory_order_relaxed);
	out->held = atomic_load_explicit(&st_held, memory_order_relaxed);
	out->deferred = atomic_load_explicit(&st_deferred, memory_order_relaxed);
}

static void stat_add(_Atomic uint64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* mbedtls' random source: the kernel's CSPRNG. */
static int tls_random(void *arg, unsigned char *buf, size_t len)
{
	(void)arg;
	while (len > 0) {
		ssize_t n = getrandom(buf, len, 0);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			return MBEDTLS_ERR_ENTROPY_SOURCE_FAILED;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* An mbedtls error as an NNG_E* code (the stock engine's table, plus a
 * failed certificate check as NNG_EPEERAUTH). */
static int tls_err(const struct nng_tls_engine_conn *ec, int rv)
{
	switch (rv) {
	case MBEDTLS_ERR_SSL_WANT_READ:
	case MBEDTLS_ERR_SSL_WANT_WRITE:
		return NNG_EAGAIN;
	case MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE:
	case MBEDTLS_ERR_SSL_CA_CHAIN_REQUIRED:
	case MBEDTLS_ERR_SSL_PEER_VERIFY_FAILED:
	case MBEDTLS_ERR_SSL_NO_USABLE_CIPHERSUITE:
	case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED:
		return NNG_EPEERAUTH;
	case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
		return NNG_ECONNREFUSED;
	case MBEDTLS_ERR_SSL_ALLOC_FAILED:
		return NNG_ENOMEM;
	case MBEDTLS_ERR_SSL_TIMEOUT:
		return NNG_ETIMEDOUT;
	case MBEDTLS_ERR_SSL_CONN_EOF:
		return NNG_ECLOSED;
	case MBEDTLS_ERR_NET_SEND_FAILED:
	case MBEDTLS_ERR_NET_RECV_FAILED:
		return ec != NULL && ec->bio_err != 0 ? ec->bio_err : NNG_ECONNSHUT;
	default:
		return NNG_ECRYPTO;
	}
}

static int bio_send(void *arg, const unsigned char *buf, size_t len)
{
	struct nng_tls_engine_conn *ec = arg;
	size_t n = len;
	int rv = nng_tls_engine_send(ec->tls, buf, &n);
	if (rv == 0) {
		return (int)n;
	}
	if (rv == NNG_EAGAIN) {
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	}
	ec->bio_err = rv;
	return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *arg, unsigned char *buf, size_t len)
{
	struct nng_tls_engine_conn *ec = arg;
	size_t n = len;
	int rv = nng_tls_engine_recv(ec->tls, buf, &n);
	if (rv == 0) {
		return (int)n;
	}
	if (rv == NNG_EAGAIN) {
		return MBEDTLS_ERR_SSL_WANT_READ;
	}
	ec->bio_err = rv;
	return MBEDTLS_ERR_NET_RECV_FAILED;
}

/* ---- connections ---- */

static int conn_init(struct nng_tls_engine_conn *ec, void *tls,
    struct nng_tls_engine_config *cfg)
{
	int rv;

	ec->tls = tls;
	mbedtls_ssl_init(&ec->ssl);
	mbedtls_ssl_set_bio(&ec->ssl, ec, bio_send, bio_recv, NULL);
	if ((rv = mbedtls_ssl_setup(&ec->ssl, &cfg->conf)) != 0) {
		return tls_err(ec, rv);
	}
	if (cfg->server_name != NULL &&
	    (rv = mbedtls_ssl_set_hostname(&ec->ssl, cfg->server_name)) != 0) {
		return tls_err(ec, rv);
	}
	return 0;
}

static void conn_fini(struct nng_tls_engine_conn *ec)
{
	mbedtls_ssl_free(&ec->ssl);
}

/* A close-notify, best effort; nng closes TCP itself. */
static void conn_close(struct nng_tls_engine_conn *ec)
{
	(void)mbedtls_ssl_close_notify(&ec->ssl);
}

static int conn_handshake(struct nng_tls_engine_conn *ec)
{
	int rv = mbedtls_ssl_handshake(&ec->ssl);
	return rv == 0 ? 0 : tls_err(ec, rv);
}

static bool conn_verified(struct nng_tls_engine_conn *ec)
{
	return mbedtls_ssl_get_verify_result(&ec->ssl) == 0;
}

static int conn_recv(struct nng_tls_engine_conn *ec, uint8_t *buf, size_t *szp)
{
	int rv = mbedtls_ssl_read(&ec->ssl, buf, *szp);
	if (rv < 0) {
		return tls_err(ec, rv);
	}
	*szp = (size_t)rv;
	return 0;
}

/* A hard send error: remembered and returned from now on. */
static int send_fail(struct nng_tls_engine_conn *ec, int rv)
{
	ec->failed = rv;
	return rv;
}

/* Flushes what mbedtls holds in its output buffer (ssl.out_left bytes).
 * mbedtls 2.28 has no public flush call; mbedtls_ssl_write with output
 * waiting only flushes it (and takes none of the bytes it is given), which
 * is how its documented retry after WANT_WRITE works. Returns 0 or an
 * mbedtls error (WANT_WRITE: still waiting). */
static int out_flush(struct nng_tls_engine_conn *ec)
{
	int rv;

	if (ec->ssl.out_left == 0) {
		return 0;
	}
	rv = mbedtls_ssl_write(&ec->ssl, ec->stage, 1);
	return rv < 0 ? rv : 0;
}

/* Hands p[0, n) (n <= one record) to mbedtls as one record; take of its
 * bytes are the caller's, starting at from. Returns 0 (in nng's send
 * buffer), REC_PENDING (committed, waiting for room: pend_* set),
 * NNG_EAGAIN (nothing committed: mbedtls' own earlier output still waits)
 * or a hard error. */
static int rec_put(struct nng_tls_engine_conn *ec, const uint8_t *p, size_t n,
    const uint8_t *from, size_t take)
{
	int rv;

	/* Output mbedtls queued by itself (an alert sent from a read) goes
	 * first: with it waiting, mbedtls_ssl_write would flush it and return
	 * n without taking our bytes. */
	if (ec->ssl.out_left != 0 && (rv = out_flush(ec)) != 0) {
		rv = tls_err(ec, rv);
		return rv == NNG_EAGAIN ? rv : send_fail(ec, rv);
	}
	rv = mbedtls_ssl_write(&ec->ssl, p, n);
	if (rv >= 0 && (size_t)rv == n) {
		stat_add(&st_records);
		return 0;
	}
	if (rv >= 0) { /* n fits one record: mbedtls takes all of it */
		log_error("tls.engine_short_write", "n=%zu wrote=%d", n, rv);
		return send_fail(ec, NNG_EINTERNAL);
	}
	if (tls_err(ec, rv) != NNG_EAGAIN) {
		return send_fail(ec, tls_err(ec, rv));
	}
	if (ec->ssl.out_left == 0) {
		/* mbedtls 2.28, handshake over and output empty, wants I/O only
		 * while it holds the record: anything else is not understood. */
		log_error("tls.engine_want_uncommitted", "rv=-0x%04x", (unsigned)-rv);
		return send_fail(ec, NNG_EINTERNAL);
	}
	ec->pend_from = from;
	ec->pend_take = take;
	stat_add(&st_records);
	stat_add(&st_held);
	return REC_PENDING;
}

/* RAW: one mbedtls_ssl_write per call on the caller's buffer, as the stock
 * engine writes (after WANT_WRITE mbedtls keeps the record and the caller
 * comes back with the same bytes: its documented retry). What it wrote is
 * reported one call late (REC_PENDING with pend_*, see "Completion" in the
 * file comment): an HTTPS server closes the connection as soon as its last
 * write is reported, and nng drops whatever still waits in its send
 * buffer at that moment. */
static int put_raw(struct nng_tls_engine_conn *ec, const uint8_t *p, size_t n,
    size_t rec_max, size_t *used)
{
	(void)rec_max;
	*used = 0;
	int w = mbedtls_ssl_write(&ec->ssl, p, n);
	if (w > 0) {
		ec->pend_from = p;
		ec->pend_take = (size_t)w;
		stat_add(&st_records);
		stat_add(&st_deferred);
		return REC_PENDING;
	}
	if (w == 0) {
		return 0;
	}
	int rv = tls_err(ec, w);
	return rv == NNG_EAGAIN ? rv : send_fail(ec, rv);
}

/* NEGO: checks the bytes against the SP negotiation header (bytes 4-5,
 * the protocol number, are free) and sends them as they come. */
static int put_nego(struct nng_tls_engine_conn *ec, const uint8_t *p, size_t n,
    size_t rec_max, size_t *used)
{
	static const uint8_t hdr[SP_NEGO_BYTES] = {0, 'S', 'P', 0, 0, 0, 0, 0};
	size_t c = SP_NEGO_BYTES - ec->fr.nego_seen;
	int rv;

	(void)rec_max;
	*used = 0;
	c = c < n ? c : n;
	for (size_t i = 0; i < c; i++) {
		size_t at = ec->fr.nego_seen + i;
		if (at != 4 && at != 5 && p[i] != hdr[at]) {
			ec->fr.mode = FRAME_RAW; /* not SP (HTTPS): piece by piece */
			return 0;
		}
	}
	rv = rec_put(ec, p, c, p, c);
	if (rv == 0 || rv == REC_PENDING) {
		ec->fr.nego_seen += c;
		if (ec->fr.nego_seen == SP_NEGO_BYTES) {
			ec->fr.mode = FRAME_SP;
		}
	}
	*used = rv == 0 ? c : 0;
	return rv;
}

static uint64_t be64(const uint8_t *b)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++) {
		v = (v << 8) | b[i];
	}
	return v;
}

/* SP: the length bytes into the stage. Returns whether the stage must go
 * out now (a message of length 0, or a length we do not trust). */
static bool sp_stage_len(struct nng_tls_engine_conn *ec, const uint8_t *p, size_t n,
    size_t *c, bool *complete)
{
	frame_state *fr = &ec->fr;
	uint64_t l;

	*c = SP_LEN_BYTES - fr->staged;
	*c = *c < n ? *c : n;
	memcpy(ec->stage + fr->staged, p, *c);
	fr->staged += *c;
	if (fr->staged < SP_LEN_BYTES) {
		return false;
	}
	l = be64(ec->stage);
	if (l > TLS_ENGINE_FRAME_MAX) {
		fr->mode = FRAME_RAW;
		if (!ec->raw_logged) {
			ec->raw_logged = true;
			log_warn("tls.engine_unframed", "len=%llu max=%llu sending=piece_by_piece",
			    (unsigned long long)l, (unsigned long long)TLS_ENGINE_FRAME_MAX);
		}
		return true;
	}
	if (l == 0) {
		*complete = true;
		return true;
	}
	fr->have_len = true;
	fr->msg_left = l;
	return false;
}

/* SP: the message's bytes into the stage. Returns whether the stage must
 * go out now (the message is complete, or the stage is full). */
static bool sp_stage_body(struct nng_tls_engine_conn *ec, const uint8_t *p, size_t n,
    size_t rec_max, size_t *c, bool *complete)
{
	frame_state *fr = &ec->fr;

	*c = rec_max - fr->staged;
	*c = *c < n ? *c : n;
	*c = (uint64_t)*c < fr->msg_left ? *c : (size_t)fr->msg_left;
	memcpy(ec->stage + fr->staged, p, *c);
	fr->staged += *c;
	fr->msg_left -= *c;
	if (fr->msg_left == 0) {
		fr->have_len = false;
		*complete = true;
		return true;
	}
	return fr->staged == rec_max;
}

/* SP: a full record of the message straight from the caller's buffer
 * (nothing staged, a record's worth of it at hand). */
static int sp_put_direct(struct nng_tls_engine_conn *ec, const uint8_t *p,
    size_t rec_max, size_t *used)
{
	int rv = rec_put(ec, p, rec_max, p, rec_max);
	if (rv == 0 || rv == REC_PENDING) {
		ec->fr.msg_left -= rec_max;
		if (ec->fr.msg_left == 0) {
			ec->fr.have_len = false;
			stat_add(&st_messages);
		}
	}
	*used = rv == 0 ? rec_max : 0;
	return rv;
}

/* SP: takes the next piece of the stream (see the file comment). */
static int put_sp(struct nng_tls_engine_conn *ec, const uint8_t *p, size_t n,
    size_t rec_max, size_t *used)
{
	frame_state was = ec->fr;
	bool complete = false, flush;
	size_t c;
	int rv;

	*used = 0;
	if (!ec->fr.have_len) {
		flush = sp_stage_len(ec, p, n, &c, &complete);
	} else if (ec->fr.staged == 0 && n >= rec_max && ec->fr.msg_left >= rec_max) {
		return sp_put_direct(ec, p, rec_max, used);
	} else {
		flush = sp_stage_body(ec, p, n, rec_max, &c, &complete);
	}
	if (!flush) {
		*used = c; /* staged: reported sent, goes out with its message */
		return 0;
	}
	rv = rec_put(ec, ec->stage, ec->fr.staged, p, c);
	if (rv == NNG_EAGAIN) {
		ec->fr = was; /* nothing committed: take it again next time */
		return rv;
	}
	if (rv == 0 || rv == REC_PENDING) {
		ec->fr.staged = 0;
		if (complete) {
			stat_add(&st_messages);
		}
		if (ec->fr.mode == FRAME_RAW) {
			stat_add(&st_fallbacks);
		}
	}
	*used = rv == 0 ? c : 0;
	return rv;
}

/* A committed record from an earlier call: the caller must come back with
 * the bytes it holds (same place, at least as many), then it is flushed. */
static int pend_flush(struct nng_tls_engine_conn *ec, const uint8_t *buf, size_t len)
{
	int rv;

	if (buf != ec->pend_from || len < ec->pend_take) {
		log_error("tls.engine_resend_mismatch", "held=%zu offered=%zu same_buffer=%d",
		    ec->pend_take, len, buf == ec->pend_from);
		return send_fail(ec, NNG_EINTERNAL);
	}
	if (ec->ssl.out_left != 0 && (rv = out_flush(ec)) != 0) {
		rv = tls_err(ec, rv);
		return rv == NNG_EAGAIN ? rv : send_fail(ec, rv);
	}
	return 0;
}

static size_t rec_payload_max(const struct nng_tls_engine_conn *ec)
{
	int m = mbedtls_ssl_get_max_out_record_payload(&ec->ssl);
	return m > 0 && (size_t)m < TLS_REC_MAX ? (size_t)m : TLS_REC_MAX;
}

static int conn_send(struct nng_tls_engine_conn *ec, const uint8_t *buf, size_t *szp)
{
	size_t len = *szp, took = 0, rec_max;
	int rv = 0;

	if (ec->failed != 0) {
		return ec->failed;
	}
	/* nng may send before its own handshake call has finished it. */
	if (ec->ssl.state != MBEDTLS_SSL_HANDSHAKE_OVER &&
	    (rv = mbedtls_ssl_handshake(&ec->ssl)) != 0) {
		rv = tls_err(ec, rv);
		return rv == NNG_EAGAIN ? rv : send_fail(ec, rv);
	}
	if (ec->pend_take != 0) {
		if ((rv = pend_flush(ec, buf, len)) != 0) {
			return rv;
		}
		took = ec->pend_take;
		ec->pend_take = 0;
		ec->pend_from = NULL;
		if (ec->fr.mode == FRAME_RAW) {
			/* Reported now, one call after it went to nng (the
			 * file comment's "Completion"); nng comes back for the
			 * rest. */
			*szp = took;
			return 0;
		}
	}
	rec_max = rec_payload_max(ec);
	while (took < len) {
		size_t used = 0;
		if (ec->fr.mode == FRAME_SP) {
			rv = put_sp(ec, buf + took, len - took, rec_max, &used);
		} else if (ec->fr.mode == FRAME_NEGO) {
			rv = put_nego(ec, buf + took, len - took, rec_max, &used);
		} else {
			/* One write per call, as the stock engine: nng comes back
			 * for the rest. */
			rv = put_raw(ec, buf + took, len - took, rec_max, &used);
			took += rv == 0 ? used : 0;
			break;
		}
		if (rv != 0) {
			break;
		}
		took += used;
	}
	if (rv == REC_PENDING || rv == NNG_EAGAIN) {
		/* Report what went out before; nng calls again for the rest. */
		rv = took > 0 ? 0 : NNG_EAGAIN;
	}
	if (rv != 0) {
		return rv;
	}
	*szp = took;
	return 0;
}

/* ---- configs ---- */

static void config_fini(struct nng_tls_engine_config *cfg)
{
	mbedtls_ssl_config_free(&cfg->conf);
	mbedtls_x509_crt_free(&cfg->ca);
	mbedtls_x509_crl_free(&cfg->crl);
	for (int i = 0; i < TLS_OWN_CERTS_MAX; i++) {
		mbedtls_x509_crt_free(&cfg->own_crt[i]);
		mbedtls_pk_free(&cfg->own_key[i]);
	}
	free(cfg->server_name);
}

static int config_init(struct nng_tls_engine_config *cfg, nng_tls_mode mode)
{
	bool server = mode == NNG_TLS_MODE_SERVER;
	int rv;

	mbedtls_ssl_config_init(&cfg->conf);
	mbedtls_x509_crt_init(&cfg->ca);
	mbedtls_x509_crl_init(&cfg->crl);
	for (int i = 0; i < TLS_OWN_CERTS_MAX; i++) {
		mbedtls_x509_crt_init(&cfg->own_crt[i]);
		mbedtls_pk_init(&cfg->own_key[i]);
	}
	rv = mbedtls_ssl_config_defaults(&cfg->conf,
	    server ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
	if (rv != 0) {
		config_fini(cfg); /* nng frees a config whose init failed */
		return tls_err(NULL, rv);
	}
	/* As the stock engine: a server asks for no client certificate
	 * unless told to, a client always checks the server's. */
	mbedtls_ssl_conf_authmode(&cfg->conf,
	    server ? MBEDTLS_SSL_VERIFY_NONE : MBEDTLS_SSL_VERIFY_REQUIRED);
	/* TLS 1.2 only: mbedtls 2.28 has no 1.3, and 1.0/1.1 are obsolete. */
	mbedtls_ssl_conf_min_version(&cfg->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_max_version(&cfg->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_rng(&cfg->conf, tls_random, NULL);
	return 0;
}

static int config_server(struct nng_tls_engine_config *cfg, const char *name)
{
	char *dup = strdup(name);
	if (dup == NULL) {
		return NNG_ENOMEM;
	}
	free(cfg->server_name);
	cfg->server_name = dup;
	return 0;
}

static int config_auth(struct nng_tls_engine_config *cfg, nng_tls_auth_mode mode)
{
	switch (mode) {
	case NNG_TLS_AUTH_MODE_NONE:
		mbedtls_ssl_conf_authmode(&cfg->conf, MBEDTLS_SSL_VERIFY_NONE);
		return 0;
	case NNG_TLS_AUTH_MODE_OPTIONAL:
		mbedtls_ssl_conf_authmode(&cfg->conf, MBEDTLS_SSL_VERIFY_OPTIONAL);
		return 0;
	case NNG_TLS_AUTH_MODE_REQUIRED:
		mbedtls_ssl_conf_authmode(&cfg->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
		return 0;
	}
	return NNG_EINVAL;
}

/* PEM strings, NUL-terminated (mbedtls wants the NUL in the length). */
static int config_ca_chain(struct nng_tls_engine_config *cfg, const char *certs,
    const char *crl)
{
	int rv = mbedtls_x509_crt_parse(&cfg->ca, (const unsigned char *)certs,
	    strlen(certs) + 1);
	if (rv != 0) {
		return tls_err(NULL, rv);
	}
	if (crl != NULL && (rv = mbedtls_x509_crl_parse(&cfg->crl,
	    (const unsigned char *)crl, strlen(crl) + 1)) != 0) {
		return tls_err(NULL, rv);
	}
	mbedtls_ssl_conf_ca_chain(&cfg->conf, &cfg->ca, &cfg->crl);
	return 0;
}

static int config_own_cert(struct nng_tls_engine_config *cfg, const char *cert,
    const char *key, const char *pass)
{
	int i = cfg->own_n, rv;

	if (i >= TLS_OWN_CERTS_MAX) {
		return NNG_ENOSPC;
	}
	rv = mbedtls_x509_crt_parse(&cfg->own_crt[i], (const unsigned char *)cert,
	    strlen(cert) + 1);
	if (rv == 0) {
		rv = mbedtls_pk_parse_key(&cfg->own_key[i], (const unsigned char *)key,
		    strlen(key) + 1, (const unsigned char *)pass,
		    pass != NULL ? strlen(pass) : 0);
	}
	if (rv == 0) {
		rv = mbedtls_ssl_conf_own_cert(&cfg->conf, &cfg->own_crt[i], &cfg->own_key[i]);
	}
	if (rv != 0) {
		/* The slot is reused by the next call. */
		mbedtls_x509_crt_free(&cfg->own_crt[i]);
		mbedtls_pk_free(&cfg->own_key[i]);
		mbedtls_x509_crt_init(&cfg->own_crt[i]);
		mbedtls_pk_init(&cfg->own_key[i]);
		return tls_err(NULL, rv);
	}
	cfg->own_n++;
	return 0;
}

/* Only TLS 1.2 is spoken: a range that holds it is narrowed to it, any
 * other is NNG_ENOTSUP (as the stock engine treats 1.3 as 1.2). */
static int config_version(struct nng_tls_engine_config *cfg, nng_tls_version lo,
    nng_tls_version hi)
{
	(void)cfg;
	if (lo > hi || lo > NNG_TLS_1_2 || hi < NNG_TLS_1_2) {
		return NNG_ENOTSUP;
	}
	return 0;
}

static nng_tls_engine_config_ops config_ops = {
	.size = sizeof(struct nng_tls_engine_config),
	.init = config_init,
	.fini = config_fini,
	.server = config_server,
	.auth = config_auth,
	.ca_chain = config_ca_chain,
	.own_cert = config_own_cert,
	.version = config_version,
};

static nng_tls_engine_conn_ops conn_ops = {
	.size = sizeof(struct nng_tls_engine_conn),
	.init = conn_init,
	.fini = conn_fini,
	.close = conn_close,
	.recv = conn_recv,
	.send = conn_send,
	.handshake = conn_handshake,
	.verified = conn_verified,
};

static const nng_tls_engine engine = {
	.version = NNG_TLS_ENGINE_VERSION,
	.config_ops = &config_ops,
	.conn_ops = &conn_ops,
	.name = TLS_ENGINE_NAME,
	.description = MBEDTLS_VERSION_STRING_FULL ", one record per SP message",
	.fips_mode = false,
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rv;
static bool init_ours;
static const char *init_why = "";

static void init_run(void)
{
	const char *want = getenv("DROPNET_TLS_ENGINE");
	nng_tls_config *probe = NULL;
	int rv;

	/* libnng's own set-up (nni_init, run by its first call) registers the
	 * stock engine and would replace ours: let it run first. */
	if (nng_tls_config_alloc(&probe, NNG_TLS_MODE_CLIENT) == 0) {
		nng_tls_config_free(probe);
	}
	/* DROPNET_TLS_ENGINE=nng keeps libnng's stock engine (for
	 * comparison, or as an escape hatch); anything else selects ours. */
	if (want != NULL && strcmp(want, "nng") == 0) {
		init_why = " reason=DROPNET_TLS_ENGINE=nng";
	} else if ((rv = nng_tls_engine_register(&engine)) != 0) {
		log_error("tls.engine_refused", "name=%s err=\"%s\" using=%s", TLS_ENGINE_NAME,
		    nng_strerror(rv), nng_tls_engine_name());
		init_rv = DN_ENET;
		init_why = " reason=refused";
	} else {
		init_ours = true;
	}
	log_debug("tls.engine", "name=%s desc=\"%s\" one_record_per_message=%s%s",
	    nng_tls_engine_name(), nng_tls_engine_description(),
	    init_ours ? "yes" : "no", init_why);
}

int tls_engine_init(void)
{
	pthread_once(&init_once, init_run);
	return init_rv;
}

void tls_engine_announce(void)
{
	(void)tls_engine_init();
	log_info("tls.engine", "name=%s desc=\"%s\" one_record_per_message=%s%s",
	    nng_tls_engine_name(), nng_tls_engine_description(),
	    init_ours ? "yes" : "no", init_why);
}
