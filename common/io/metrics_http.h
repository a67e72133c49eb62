/*
 * metrics_http.h - serve a daemon's /metrics (Prometheus text format) with
 * nng's HTTP server.
 *
 * Thread model: nng runs the handler on its own threads. The daemon's loop
 * renders its metrics into text on the loop thread and publishes a copy
 * (metrics_http_publish, under a mutex); a scrape copies the last published
 * text under the same mutex, then appends the process's own figures (RSS,
 * open files, CPU time, read from /proc at scrape time). The handler never
 * reads the loop's state.
 *
 * Exposure: http:// is plain HTTP, so by default only a loopback address
 * is accepted (127.0.0.0/8, ::1, localhost); any other needs allow_public
 * (a private network the operator controls: DESIGN.md "Trust"). https://
 * is TLS with the network's certificates (common/io/nettls.h policy): the
 * daemon's certificate, and a client certificate required of every
 * scraper, verified against a CA the operator names; it may listen on any
 * address.
 */
#ifndef DN_METRICS_HTTP_H
#define DN_METRICS_HTTP_H
#include <stdbool.h>
#include <stddef.h>

typedef struct metrics_http metrics_http;

/* The PEM files of an https:// server: its certificate and key, the CA
 * every scraper's client certificate must chain to, and optional CRLs.
 * Empty or NULL strings are "not set". */
typedef struct {
	const char *cert_file, *key_file, *client_ca_file, *crl_file;
} metrics_http_tls;

/* Checks a listen URL: http://HOST:PORT with a loopback HOST unless
 * allow_public, or https://HOST:PORT with tls's cert_file, key_file and
 * client_ca_file set (tls may be NULL for http). 0, or DN_EINVAL with a
 * one-line reason in err. */
int metrics_http_check(const char *url, bool allow_public, const metrics_http_tls *tls,
    char *err, size_t err_len);

/* Starts serving GET /metrics on url (checked as above; for https the
 * files are read now). Until the first publish a scrape carries the
 * process figures only. 0, DN_EINVAL (the URL or a TLS file; reason in
 * err), DN_ENET (bind failed; reason in err) or DN_ENOMEM. */
int metrics_http_create(metrics_http **out, const char *url, bool allow_public,
    const metrics_http_tls *tls, char *err, size_t err_len);

/* Replaces the published text with a copy of text[0..len). Any thread;
 * the daemon calls it from its loop. On out-of-memory the old text stays. */
void metrics_http_publish(metrics_http *m, const char *text, size_t len);

/* Stops the server (waits for running handlers) and frees it. NULL is
 * fine. */
void metrics_http_destroy(metrics_http *m);

/* Scrapes served so far (for the daemon's log at exit). */
unsigned long long metrics_http_scrapes(metrics_http *m);

#endif
