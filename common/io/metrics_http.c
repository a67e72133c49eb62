/*
 * metrics_http.c - GET /metrics over nng's HTTP server (metrics_http.h).
 *
 * The published text lives behind `mu`; the loop replaces it, handler
 * threads copy it. Process figures are read from /proc by the handler at
 * scrape time (they belong to no loop state).
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <nng/supplemental/tls/tls.h>
#include "core/err.h"
#include "core/metrics.h"
#include "io/metrics_http.h"
#include "io/nettls.h"

/* Room for the process figures appended to every scrape. */
#define METRICS_HTTP_PROC_MAX 2048

struct metrics_http {
	nng_http_server *srv;
	nng_http_handler *h; /* owned by srv once added */
	pthread_mutex_t mu;
	char *text;          /* last published, NULL before the first */
	size_t len;
	unsigned long long scrapes;
};

static bool host_loopback(const char *host)
{
	return strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
	    strncmp(host, "127.", 4) == 0;
}

static bool set(const char *s)
{
	return s != NULL && s[0] != '\0';
}

int metrics_http_check(const char *url, bool allow_public, const metrics_http_tls *tls,
    char *err, size_t err_len)
{
	nng_url *u = NULL;
	if (nng_url_parse(&u, url) != 0) {
		snprintf(err, err_len, "'%s' is not a URL (want http://127.0.0.1:PORT)", url);
		return DN_EINVAL;
	}
	int rv = 0;
	bool https = strcmp(u->u_scheme, "https") == 0;
	if (!https && strcmp(u->u_scheme, "http") != 0) {
		snprintf(err, err_len, "'%s': only http:// and https:// are served", url);
		rv = DN_EINVAL;
	} else if (u->u_hostname[0] == '\0' || strcmp(u->u_port, "0") == 0 ||
	    (u->u_path[0] != '\0' && strcmp(u->u_path, "/") != 0)) {
		snprintf(err, err_len, "'%s': want %s://HOST:PORT (no path)", url, u->u_scheme);
		rv = DN_EINVAL;
	} else if (https && (tls == NULL || !set(tls->cert_file) || !set(tls->key_file) ||
	    !set(tls->client_ca_file))) {
		snprintf(err, err_len, "'%s' needs a certificate, its key and the CA of the "
		    "scrapers' client certificates (metrics.cert_file, metrics.key_file, "
		    "metrics.client_ca_file)", url);
		rv = DN_EINVAL;
	} else if (!https && !allow_public && !host_loopback(u->u_hostname)) {
		snprintf(err, err_len, "'%s' is not a loopback address: metrics are plain "
		    "HTTP; set metrics.allow_public = 1 to serve them on a private network",
		    url);
		rv = DN_EINVAL;
	}
	nng_url_free(u);
	return rv;
}

/* The process's own figures, Prometheus's standard names, from /proc. */
static void proc_figures(metrics_text *t)
{
	long page = sysconf(_SC_PAGESIZE), tck = sysconf(_SC_CLK_TCK);
	unsigned long long size = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f != NULL) {
		if (fscanf(f, "%llu %llu", &size, &rss) == 2) {
			metrics_text_head(t, "process_resident_memory_bytes", "gauge",
			    "Resident memory size in bytes.");
			metrics_text_sample(t, "process_resident_memory_bytes", NULL,
			    (double)rss * (double)page);
			metrics_text_head(t, "process_virtual_memory_bytes", "gauge",
			    "Virtual memory size in bytes.");
			metrics_text_sample(t, "process_virtual_memory_bytes", NULL,
			    (double)size * (double)page);
		}
		fclose(f);
	}
	unsigned long utime = 0, stime = 0;
	f = fopen("/proc/self/stat", "r");
	if (f != NULL) {
		/* Fields 14 and 15 (utime, stime) after "pid (comm) state". */
		char line[1024];
		char *p = fgets(line, sizeof(line), f) ? strrchr(line, ')') : NULL;
		if (p != NULL && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
		    &utime, &stime) == 2 && tck > 0) {
			metrics_text_head(t, "process_cpu_seconds_total", "counter",
			    "Total user and system CPU time spent in seconds.");
			metrics_text_sample(t, "process_cpu_seconds_total", NULL,
			    (double)(utime + stime) / (double)tck);
		}
		fclose(f);
	}
	DIR *d = opendir("/proc/self/fd");
	if (d != NULL) {
		long n = 0;
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			n += e->d_name[0] != '.';
		}
		closedir(d);
		metrics_text_head(t, "process_open_fds", "gauge",
		    "Number of open file descriptors.");
		metrics_text_sample(t, "process_open_fds", NULL, (double)(n - 1)); /* the DIR's own */
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		metrics_text_head(t, "process_max_fds", "gauge",
		    "Maximum number of open file descriptors.");
		metrics_text_sample(t, "process_max_fds", NULL, (double)rl.rlim_cur);
	}
}

/* Runs on an nng thread: the published text plus the process figures. */
static void metrics_http_handle(nng_aio *aio)
{
	nng_http_handler *h = nng_aio_get_input(aio, 1);
	metrics_http *m = nng_http_handler_get_data(h);
	nng_http_res *res = NULL;
	char proc[METRICS_HTTP_PROC_MAX];
	metrics_text t;
	metrics_text_init(&t, proc, sizeof(proc));
	proc_figures(&t);
	if (nng_http_res_alloc(&res) != 0) {
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	pthread_mutex_lock(&m->mu);
	size_t len = m->len;
	char *body = malloc(len + t.len + 1);
	if (body != NULL) {
		if (len > 0) {
			memcpy(body, m->text, len);
		}
		memcpy(body + len, proc, t.len);
	}
	m->scrapes++;
	pthread_mutex_unlock(&m->mu);
	if (body == NULL) {
		nng_http_res_free(res);
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	int rv = nng_http_res_copy_data(res, body, len + t.len);
	free(body);
	if (rv == 0) {
		rv = nng_http_res_set_header(res, "Content-Type",
		    "text/plain; version=0.0.4; charset=utf-8");
	}
	if (rv != 0) {
		nng_http_res_free(res);
		nng_aio_finish(aio, rv);
		return;
	}
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

/* https: the server's TLS config (nettls.h policy: client certificate
 * required). 0, or DN_EINVAL / DN_ENOMEM (logged by nettls). */
static int metrics_http_tls_set(metrics_http *m, const char *url,
    const metrics_http_tls *tls)
{
	const nettls_files f = {.ca_file = tls->client_ca_file, .crl_file = tls->crl_file,
	    .cert_file = tls->cert_file, .key_file = tls->key_file};
	nng_tls_config *cfg = NULL;
	int rv = nettls_http_config(url, &f, true, &cfg);
	if (rv != 0) {
		return rv;
	}
	/* The server holds its own reference. */
	rv = nng_http_server_set_tls(m->srv, cfg) == 0 ? 0 : DN_ENOMEM;
	nng_tls_config_free(cfg);
	return rv;
}

static int metrics_http_start(metrics_http *m, const char *url,
    const metrics_http_tls *tls, char *err, size_t err_len)
{
	nng_url *u = NULL;
	bool https = false;
	int rv = nng_url_parse(&u, url);
	if (rv == 0) {
		https = strcmp(u->u_scheme, "https") == 0;
		rv = nng_http_server_hold(&m->srv, u);
		nng_url_free(u);
	}
	if (rv == 0 && https) {
		int trv = metrics_http_tls_set(m, url, tls);
		if (trv != 0) {
			snprintf(err, err_len, "%s: the TLS files could not be used (see the "
			    "tls.* log line)", url);
			return trv;
		}
	}
	if (rv == 0) {
		rv = nng_http_handler_alloc(&m->h, "/metrics", metrics_http_handle);
	}
	if (rv == 0 && (rv = nng_http_handler_set_method(m->h, "GET")) == 0 &&
	    (rv = nng_http_handler_set_data(m->h, m, NULL)) == 0) {
		rv = nng_http_server_add_handler(m->srv, m->h);
		if (rv != 0) {
			nng_http_handler_free(m->h);
		}
		m->h = NULL;
	} else if (m->h != NULL) {
		nng_http_handler_free(m->h);
		m->h = NULL;
	}
	if (rv == 0) {
		rv = nng_http_server_start(m->srv);
	}
	if (rv != 0) {
		snprintf(err, err_len, "%s: %s", url, nng_strerror(rv));
		return rv == NNG_ENOMEM ? DN_ENOMEM : DN_ENET;
	}
	return 0;
}

int metrics_http_create(metrics_http **out, const char *url, bool allow_public,
    const metrics_http_tls *tls, char *err, size_t err_len)
{
	*out = NULL;
	int rv = metrics_http_check(url, allow_public, tls, err, err_len);
	if (rv != 0) {
		return rv;
	}
	metrics_http *m = calloc(1, sizeof(*m));
	if (m == NULL) {
		return DN_ENOMEM;
	}
	pthread_mutex_init(&m->mu, NULL);
	rv = metrics_http_start(m, url, tls, err, err_len);
	if (rv != 0) {
		if (m->srv != NULL) {
			nng_http_server_release(m->srv);
		}
		pthread_mutex_destroy(&m->mu);
		free(m);
		return rv;
	}
	*out = m;
	return 0;
}

void metrics_http_publish(metrics_http *m, const char *text, size_t len)
{
	char *copy = malloc(len + 1);
	if (copy == NULL) {
		return;
	}
	memcpy(copy, text, len);
	copy[len] = '\0';
	pthread_mutex_lock(&m->mu);
	char *old = m->text;
	m->text = copy;
	m->len = len;
	pthread_mutex_unlock(&m->mu);
	free(old);
}

unsigned long long metrics_http_scrapes(metrics_http *m)
{
	pthread_mutex_lock(&m->mu);
	unsigned long long n = m->scrapes;
	pthread_mutex_unlock(&m->mu);
	return n;
}

void metrics_http_destroy(metrics_http *m)
{
	if (m == NULL) {
		return;
	}
	nng_http_server_stop(m->srv);
	nng_http_server_release(m->srv);
	pthread_mutex_destroy(&m->mu);
	free(m->text);
	free(m);
}
