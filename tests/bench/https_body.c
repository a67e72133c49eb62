/*
 * https_body.c - an HTTPS server of one fixed body, for
 * tests/bench/https_close.sh (the lost-last-record check of issue 9).
 *
 *   https_body --listen https://HOST:PORT --bytes N --ca F --cert F --key F
 *
 * Serves GET /metrics with N bytes (a-z repeated) through nng's HTTP
 * server and dropnet's TLS set-up (common/io/nettls: the TLS engine of
 * tls_engine.h, DROPNET_TLS_ENGINE=nng for libnng's stock one; a client
 * certificate from --ca is required), as the daemons serve /metrics.
 * Prints "https_body.ready URL" on stderr once listening; SIGINT/SIGTERM
 * stop it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <nng/supplemental/tls/tls.h>
#include "io/nettls.h"
#include "io/tls_engine.h"

#define BODY_MAX (64u * 1024u * 1024u)

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int usage(FILE *out, int rc)
{
	fprintf(out, "usage: https_body --listen https://HOST:PORT --bytes N --ca F --cert F --key F\n"
	    "Serves GET /metrics with N bytes over HTTPS (client certificate from --ca\n"
	    "required); DROPNET_TLS_ENGINE=nng selects libnng's stock TLS engine.\n");
	return rc;
}

static int serve(const char *url, size_t n, const nettls_files *f)
{
	nng_http_server *srv = NULL;
	nng_http_handler *h = NULL;
	nng_tls_config *cfg = NULL;
	nng_url *u = NULL;
	char *body = malloc(n > 0 ? n : 1);
	int rv = body == NULL ? NNG_ENOMEM : nng_url_parse(&u, url);
	for (size_t i = 0; body != NULL && i < n; i++) {
		body[i] = (char)('a' + i % 26);
	}
	if (rv == 0 && (rv = nng_http_server_hold(&srv, u)) == 0 &&
	    (rv = nettls_http_config(url, f, true, &cfg)) == 0 &&
	    (rv = nng_http_server_set_tls(srv, cfg)) == 0 &&
	    (rv = nng_http_handler_alloc_static(&h, "/metrics", body, n, "text/plain")) == 0 &&
	    (rv = nng_http_server_add_handler(srv, h)) == 0) {
		rv = nng_http_server_start(srv);
	}
	free(body); /* the handler keeps its own copy */
	nng_url_free(u);
	if (rv != 0) {
		fprintf(stderr, "https_body: %s: %s\n", url, rv > 0 ? nng_strerror(rv) : "TLS files");
		if (srv != NULL) {
			nng_http_server_release(srv);
		}
		nng_tls_config_free(cfg);
		return 1;
	}
	fprintf(stderr, "https_body.ready %s\n", url);
	while (!stop) {
		pause();
	}
	nng_http_server_release(srv);
	nng_tls_config_free(cfg);
	return 0;
}

int main(int argc, char **argv)
{
	const char *url = NULL;
	long long n = -1;
	nettls_files f = {0};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			return usage(stdout, 0);
		} else if (v == NULL) {
			return usage(stderr, 2);
		} else if (strcmp(a, "--listen") == 0) {
			url = v;
		} else if (strcmp(a, "--bytes") == 0) {
			n = atoll(v);
		} else if (strcmp(a, "--ca") == 0) {
			f.ca_file = v;
		} else if (strcmp(a, "--cert") == 0) {
			f.cert_file = v;
		} else if (strcmp(a, "--key") == 0) {
			f.key_file = v;
		} else {
			return usage(stderr, 2);
		}
		i++;
	}
	if (url == NULL || n < 0 || (unsigned long long)n > BODY_MAX || f.ca_file == NULL ||
	    f.cert_file == NULL || f.key_file == NULL) {
		return usage(stderr, 2);
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	tls_engine_announce();
	return serve(url, (size_t)n, &f);
}
