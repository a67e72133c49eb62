/*
 * rawsend.c - send arbitrary bytes as one nng req/rep request; a test tool.
 *
 *   rawsend URL [--timeout-ms N] < request.bin > reply.bin
 *   rawsend URL [--timeout-ms N] --stream < requests > replies
 *
 * Reads the whole request from stdin (up to RAWSEND_IN_MAX bytes), sends it
 * on a req0 socket dialled to URL and writes the reply's bytes to stdout.
 * It never looks inside either: the integration tests build the bytes
 * (malformed, truncated, wrong version, oversized) and decode the reply with
 * their own minimal protobuf reader, so the daemons' codec is checked by
 * something that shares no code with it.
 *
 * --stream: stdin holds many requests, each as a 4-byte big-endian length
 * and its bytes; they are sent one after another on the one socket, and
 * each reply is written the same way (length, bytes) - a bench stocks a
 * hub with thousands of receipts without a process per request.
 *
 * Exit: 0 a reply was written (--stream: every reply), 2 usage, 3 no reply
 * (dial failed, timed out, or the server dropped the connection - what an
 * oversized message gets).
 *
 * TLS (tls+tcp:// URLs): the server is verified against DROPNET_TLS_CA;
 * DROPNET_TLS_CERT and DROPNET_TLS_KEY, when set, are the certificate this
 * client presents - leave them unset to test a client without one. The
 * dial is blocking, so a refused handshake is exit 3 with the reason.
 *
 * Not part of any CMake target yet: tests/integration/test_bad_input.sh
 * uses BUILD/rawsend when present, else compiles this file with `cc -lnng`.
 */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A 10 MiB test message plus room: bigger input is a test bug. */
#define RAWSEND_IN_MAX (64u * 1024u * 1024u)

static int rawsend_input_read(char **out, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap);

	if (buf == NULL) {
		return -1;
	}
	for (;;) {
		size_t got;

		if (n == cap) {
			char *nb;

			if (cap >= RAWSEND_IN_MAX) {
				free(buf);
				return -1;
			}
			cap *= 2;
			nb = realloc(buf, cap);
			if (nb == NULL) {
				free(buf);
				return -1;
			}
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n, stdin);
		n += got;
		if (got == 0) {
			break;
		}
	}
	*out = buf;
	*len = n;
	return 0;
}

static char *rawsend_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n;

	if (f == NULL) {
		return NULL;
	}
	buf = calloc(1, 1u << 20);
	if (buf != NULL) {
		n = fread(buf, 1, (1u << 20) - 1, f);
		buf[n] = '\0';
	}
	fclose(f);
	return buf;
}

/* Dials url, with TLS from the environment for tls+tcp://. */
static int rawsend_dial(nng_socket sock, const char *url)
{
	nng_tls_config *cfg = NULL;
	nng_dialer d;
	const char *ca = getenv("DROPNET_TLS_CA");
	const char *cert = getenv("DROPNET_TLS_CERT");
	const char *key = getenv("DROPNET_TLS_KEY");
	char *ca_pem = NULL, *cert_pem = NULL, *key_pem = NULL;
	int rv;

	if (strncmp(url, "tls+", 4) != 0) {
		return nng_dial(sock, url, NULL, 0);
	}
	if ((rv = nng_dialer_create(&d, sock, url)) != 0 ||
	    (rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT)) != 0) {
		return rv;
	}
	nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED);
	nng_tls_config_server_name(cfg, "127.0.0.1");
	if (ca != NULL && ca[0] != '\0') {
		if ((ca_pem = rawsend_file(ca)) == NULL ||
		    (rv = nng_tls_config_ca_chain(cfg, ca_pem, NULL)) != 0) {
			fprintf(stderr, "rawsend: CA %s unusable\n", ca);
			rv = rv != 0 ? rv : NNG_EINVAL;
			goto done;
		}
	}
	if (cert != NULL && cert[0] != '\0' && key != NULL && key[0] != '\0') {
		if ((cert_pem = rawsend_file(cert)) == NULL ||
		    (key_pem = rawsend_file(key)) == NULL ||
		    (rv = nng_tls_config_own_cert(cfg, cert_pem, key_pem, NULL)) != 0) {
			fprintf(stderr, "rawsend: certificate %s / key %s unusable\n", cert, key);
			rv = rv != 0 ? rv : NNG_EINVAL;
			goto done;
		}
	}
	if ((rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg)) == 0) {
		rv = nng_dialer_start(d, 0);
	}
done:
	nng_tls_config_free(cfg);
	free(ca_pem);
	free(cert_pem);
	free(key_pem);
	return rv;
}

/* One request, one reply, written to stdout (with its length first when
 * framed). 0 or 3 (said). */
static int rawsend_one(nng_socket sock, const char *req, size_t req_len, int framed)
{
	char *rep = NULL;
	size_t rep_len = 0;
	int rv;

	if ((rv = nng_send(sock, (void *)req, req_len, 0)) != 0) {
		fprintf(stderr, "rawsend: send: %s\n", nng_strerror(rv));
		return 3;
	}
	if ((rv = nng_recv(sock, &rep, &rep_len, NNG_FLAG_ALLOC)) != 0) {
		fprintf(stderr, "rawsend: no reply: %s\n", nng_strerror(rv));
		return 3;
	}
	if (framed) {
		unsigned char h[4] = {(unsigned char)(rep_len >> 24),
		    (unsigned char)(rep_len >> 16), (unsigned char)(rep_len >> 8),
		    (unsigned char)rep_len};
		fwrite(h, 1, 4, stdout);
	}
	fwrite(rep, 1, rep_len, stdout);
	nng_free(rep, rep_len);
	return 0;
}

/* --stream: every framed request of buf in turn. 0, 2 (a bad frame) or 3. */
static int rawsend_stream(nng_socket sock, const char *buf, size_t len)
{
	size_t at = 0;
	while (at < len) {
		const unsigned char *h = (const unsigned char *)buf + at;
		if (len - at < 4) {
			fprintf(stderr, "rawsend: a frame's length is cut at byte %zu\n", at);
			return 2;
		}
		size_t n = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
		if (n > len - at - 4) {
			fprintf(stderr, "rawsend: a frame of %zu bytes at byte %zu is cut\n", n, at);
			return 2;
		}
		int rv = rawsend_one(sock, buf + at + 4, n, 1);
		if (rv != 0) {
			return rv;
		}
		at += 4 + n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	nng_socket sock;
	nng_duration timeout_ms = 3000;
	char *req = NULL;
	size_t req_len = 0;
	int rv, stream = 0;

	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		printf("usage: rawsend URL [--timeout-ms N] [--stream] < request > reply\n");
		return 0;
	}
	for (int i = 2; argc >= 2 && i < argc; i++) {
		if (strcmp(argv[i], "--stream") == 0) {
			stream = 1;
		} else if (strcmp(argv[i], "--timeout-ms") == 0 && i + 1 < argc) {
			timeout_ms = atoi(argv[++i]);
		} else {
			argc = 0;
		}
	}
	if (argc < 2) {
		fprintf(stderr, "usage: rawsend URL [--timeout-ms N] [--stream] < request > reply\n");
		return 2;
	}
	if (rawsend_input_read(&req, &req_len) != 0) {
		fprintf(stderr, "rawsend: cannot read stdin\n");
		return 2;
	}
	if ((rv = nng_req0_open(&sock)) != 0) {
		fprintf(stderr, "rawsend: req0_open: %s\n", nng_strerror(rv));
		free(req);
		return 3;
	}
	nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, timeout_ms);
	nng_socket_set_ms(sock, NNG_OPT_SENDTIMEO, timeout_ms);
	/* One send only: a resend would hide whether the first one was dropped. */
	nng_socket_set_ms(sock, NNG_OPT_REQ_RESENDTIME, 3600000);
	nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ, 0);
	if ((rv = rawsend_dial(sock, argv[1])) != 0) {
		fprintf(stderr, "rawsend: dial %s: %s\n", argv[1], nng_strerror(rv));
		goto fail_sock;
	}
	rv = stream ? rawsend_stream(sock, req, req_len) : rawsend_one(sock, req, req_len, 0);
	nng_close(sock);
	free(req);
	return rv;

fail_sock:
	nng_close(sock);
	free(req);
	return 3;
}
