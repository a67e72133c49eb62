/*
 * storefront_client.c - the smallest useful dropnet storefront: submit one
 * order, retry with the same key until the coordinator answers, print the
 * answer. Read it next to proto/STOREFRONT.md. Built as `storefront_example`.
 *
 *   storefront_example URL KEY CUSTOMER SKU QTY LAT LON
 *
 * It uses nng and protobuf-c directly (not dropnet's internal libraries) so a
 * storefront developer can lift it as-is.
 *
 * TLS: a tls+tcp:// URL (the default of every dropnet network) needs the
 * network's server CA (DROPNET_TLS_CA) and this storefront's certificate and
 * key, issued by the network's storefront CA (`deploy/pki.sh issue --dir PKI
 * storefront NAME`): DROPNET_STOREFRONT_TLS_CERT/_KEY, or DROPNET_TLS_CERT/
 * _KEY. The coordinator refuses a client without one. tls_dial below is all
 * it takes with nng.
 *
 * Identity (proto/SEMANTICS.md "Transport and identity"): every request is
 * wrapped in a Signed envelope with an HMAC-SHA256 under this storefront's
 * secret (`pki.sh issue` writes PKI/storefront/NAME.secret): name and
 * secret file from DROPNET_STOREFRONT_AUTH_NAME and _KEY; the order's
 * storefront is that name. sign() below is all it takes (mbedtls here; any
 * HMAC-SHA256 will do).
 */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <mbedtls/md.h>
#include "proto/dropnet.pb-c.h"

/* Attempts before giving up; every retry reuses the key, so a retry can
 * never buy twice. */
#define EXAMPLE_ATTEMPTS 5
#define EXAMPLE_TIMEOUT_MS 3000

/* The first of two environment variables that is set and non-empty. */
static const char *env2(const char *a, const char *b)
{
	const char *v = getenv(a);
	if (v == NULL || v[0] == '\0') {
		v = getenv(b);
	}
	return v != NULL && v[0] != '\0' ? v : NULL;
}

static char *read_pem(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		return NULL;
	}
	char *buf = calloc(1, 65536);
	if (buf != NULL) {
		size_t n = fread(buf, 1, 65535, f);
		buf[n] = '\0';
	}
	fclose(f);
	return buf;
}

/* Dials url; for tls+tcp:// with the CA, certificate and key from the
 * environment, verifying the coordinator's name and presenting ours. */
static int tls_dial(nng_socket sock, const char *url)
{
	if (strncmp(url, "tls+", 4) != 0) {
		return nng_dial(sock, url, NULL, NNG_FLAG_NONBLOCK);
	}
	const char *ca = getenv("DROPNET_TLS_CA");
	const char *cert = env2("DROPNET_STOREFRONT_TLS_CERT", "DROPNET_TLS_CERT");
	const char *key = env2("DROPNET_STOREFRONT_TLS_KEY", "DROPNET_TLS_KEY");
	if (ca == NULL || cert == NULL || key == NULL) {
		fprintf(stderr, "%s needs DROPNET_TLS_CA and a storefront certificate and key "
		    "(DROPNET_STOREFRONT_TLS_CERT, DROPNET_STOREFRONT_TLS_KEY)\n", url);
		return NNG_EINVAL;
	}
	char *ca_pem = read_pem(ca), *cert_pem = read_pem(cert), *key_pem = read_pem(key);
	nng_tls_config *cfg = NULL;
	nng_dialer d;
	nng_url *u = NULL;
	int rv = NNG_EINVAL;
	if (ca_pem != NULL && cert_pem != NULL && key_pem != NULL &&
	    (rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT)) == 0 &&
	    (rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)) == 0 &&
	    (rv = nng_tls_config_ca_chain(cfg, ca_pem, NULL)) == 0 &&
	    (rv = nng_tls_config_own_cert(cfg, cert_pem, key_pem, NULL)) == 0 &&
	    (rv = nng_url_parse(&u, url)) == 0 &&
	    (rv = nng_tls_config_server_name(cfg, u->u_hostname)) == 0 &&
	    (rv = nng_dialer_create(&d, sock, url)) == 0 &&
	    (rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg)) == 0) {
		rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK);
	}
	if (rv != 0) {
		fprintf(stderr, "TLS setup for %s: %s\n", url, nng_strerror(rv));
	}
	if (u != NULL) {
		nng_url_free(u);
	}
	if (cfg != NULL) {
		nng_tls_config_free(cfg); /* the dialer holds its own reference */
	}
	free(ca_pem);
	free(cert_pem);
	free(key_pem);
	return rv;
}

/* Wraps body in a Signed envelope as `name` with the 64-hex-digit secret in
 * key_path: mac = HMAC-SHA256(key, "dropnet-auth-v1" 0 "ingest" 0 name 0
 * counter (8 bytes big-endian) body). Returns a malloc'd buffer or NULL. */
static uint8_t *sign(const char *name, const char *key_path, const uint8_t *body,
    size_t len, size_t *out_len)
{
	uint8_t key[32], mac[32], ctr[8];
	char hex[65] = "";
	FILE *f = fopen(key_path, "rb");
	if (f == NULL || fread(hex, 1, 64, f) != 64) {
		if (f != NULL) {
			fclose(f);
		}
		return NULL;
	}
	fclose(f);
	for (int i = 0; i < 32; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
			return NULL;
		}
		key[i] = (uint8_t)v;
	}
	uint64_t counter = (uint64_t)time(NULL) * 1000000u;
	for (int i = 0; i < 8; i++) {
		ctr[i] = (uint8_t)(counter >> (56 - 8 * i));
	}
	size_t nlen = strlen(name);
	size_t mlen = 16 + 7 + nlen + 1 + 8 + len;
	uint8_t *msg = malloc(mlen);
	if (msg == NULL) {
		return NULL;
	}
	memcpy(msg, "dropnet-auth-v1\0ingest\0", 23);
	memcpy(msg + 23, name, nlen + 1);
	memcpy(msg + 24 + nlen, ctr, 8);
	memcpy(msg + 32 + nlen, body, len);
	int rv = mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), key,
	    sizeof(key), msg, mlen, mac);
	free(msg);
	if (rv != 0) {
		return NULL;
	}
	Dropnet__Signed s = DROPNET__SIGNED__INIT;
	s.version = 1;
	s.body.data = (uint8_t *)body;
	s.body.len = len;
	s.peer = (char *)name;
	s.counter = counter;
	s.mac.data = mac;
	s.mac.len = sizeof(mac);
	*out_len = dropnet__signed__get_packed_size(&s);
	uint8_t *out = malloc(*out_len);
	if (out != NULL) {
		dropnet__signed__pack(&s, out);
	}
	return out;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		printf("usage: storefront_example URL KEY CUSTOMER SKU QTY LAT LON\n"
		    "Submits one order to the coordinator's ingest socket URL and prints\n"
		    "the answer, retrying with the same key (see proto/STOREFRONT.md).\n"
		    "tls+tcp:// URLs: DROPNET_TLS_CA (the network's server CA) and\n"
		    "DROPNET_STOREFRONT_TLS_CERT/_KEY (or DROPNET_TLS_CERT/_KEY).\n"
		    "Signed as DROPNET_STOREFRONT_AUTH_NAME with the secret file\n"
		    "DROPNET_STOREFRONT_AUTH_KEY (unsigned when the name is unset).\n");
		return 0;
	}
	if (argc != 8) {
		fprintf(stderr, "usage: storefront_example URL KEY CUSTOMER SKU QTY LAT LON\n");
		return 2;
	}
	Dropnet__OrderLine line = DROPNET__ORDER_LINE__INIT;
	line.sku = argv[4];
	line.qty = (uint32_t)strtoul(argv[5], NULL, 10);
	Dropnet__OrderLine *lines[] = {&line};
	Dropnet__SubmitOrder order = DROPNET__SUBMIT_ORDER__INIT;
	order.version = 1;
	const char *me = getenv("DROPNET_STOREFRONT_AUTH_NAME");
	order.storefront = me != NULL && me[0] ? (char *)me : "example-shop";
	order.order_key = argv[2];
	order.customer = argv[3];
	order.n_lines = 1;
	order.lines = lines;
	order.lat = strtod(argv[6], NULL);
	order.lon = strtod(argv[7], NULL);
	size_t len = dropnet__submit_order__get_packed_size(&order);
	uint8_t *buf = malloc(len);
	if (buf == NULL) {
		return 1;
	}
	dropnet__submit_order__pack(&order, buf);
	if (me != NULL && me[0]) {
		const char *kp = getenv("DROPNET_STOREFRONT_AUTH_KEY");
		size_t slen = 0;
		uint8_t *sealed = kp != NULL ? sign(me, kp, buf, len, &slen) : NULL;
		free(buf);
		if (sealed == NULL) {
			fprintf(stderr, "cannot sign: DROPNET_STOREFRONT_AUTH_KEY must name a"
			    " file of 64 hex digits\n");
			return 1;
		}
		buf = sealed;
		len = slen;
	}

	nng_socket sock;
	if (nng_req0_open(&sock) != 0 || tls_dial(sock, argv[1]) != 0) {
		fprintf(stderr, "cannot dial %s\n", argv[1]);
		return 1;
	}
	nng_setopt_ms(sock, NNG_OPT_SENDTIMEO, EXAMPLE_TIMEOUT_MS);
	nng_setopt_ms(sock, NNG_OPT_RECVTIMEO, EXAMPLE_TIMEOUT_MS);
	for (int attempt = 1; attempt <= EXAMPLE_ATTEMPTS; attempt++) {
		void *reply = NULL;
		size_t rlen = 0;
		if (nng_send(sock, buf, len, 0) != 0 ||
		    nng_recv(sock, &reply, &rlen, NNG_FLAG_ALLOC) != 0) {
			fprintf(stderr, "attempt %d: no answer, retrying with the same key\n", attempt);
			continue;
		}
		Dropnet__OrderAck *ack = dropnet__order_ack__unpack(NULL, rlen, reply);
		nng_free(reply, rlen);
		if (ack == NULL) {
			fprintf(stderr, "reply did not decode\n");
			break;
		}
		const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
		    &dropnet__status__descriptor, ack->status);
		const char *name = v ? v->name : "UNKNOWN";
		if (ack->status == DROPNET__STATUS__UNAVAILABLE) {
			fprintf(stderr, "attempt %d: UNAVAILABLE, retrying with the same key\n", attempt);
			dropnet__order_ack__free_unpacked(ack, NULL);
			continue;
		}
		printf("%s hub=%s order_id=%llu duplicate=%d field=%s message=%s\n", name,
		    ack->hub, (unsigned long long)ack->order_id, ack->duplicate, ack->field,
		    ack->message);
		dropnet__order_ack__free_unpacked(ack, NULL);
		nng_close(sock);
		free(buf);
		return 0;
	}
	nng_close(sock);
	free(buf);
	return 1;
}
