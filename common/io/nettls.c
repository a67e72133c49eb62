/*
 * nettls.c - the one place dropnet builds nng TLS configs (see nettls.h).
 *
 * The PEM files are read here (not with nng_tls_config_ca_file, which
 * cannot take a separate CRL file) and handed to nng as strings; the
 * config is given to the endpoint, which holds its own reference, and ours
 * is dropped at once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>
#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>
#include "core/err.h"
#include "core/limits.h"
#include "io/log.h"
#include "io/nettls.h"
#include "io/tls_engine.h"

static bool set(const char *s)
{
	return s != NULL && s[0] != '\0';
}

static bool prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

nettls_url_kind nettls_url_classify(const char *url)
{
	if (url == NULL) {
		return NETTLS_URL_UNKNOWN;
	}
	if (prefix(url, "ipc://") || prefix(url, "inproc://") ||
	    prefix(url, "abstract://")) {
		return NETTLS_URL_LOCAL;
	}
	if (prefix(url, "tls+tcp://") || prefix(url, "tls+tcp4://") ||
	    prefix(url, "tls+tcp6://")) {
		return NETTLS_URL_TLS;
	}
	if (prefix(url, "tcp://") || prefix(url, "tcp4://") ||
	    prefix(url, "tcp6://")) {
		return NETTLS_URL_PLAIN;
	}
	return NETTLS_URL_UNKNOWN;
}

int nettls_check(const char *url, const nettls_files *f, char *err,
    size_t err_len)
{
	if (url == NULL) {
		snprintf(err, err_len, "no URL");
		return DN_EINVAL;
	}
	switch (nettls_url_classify(url)) {
	case NETTLS_URL_LOCAL:
		return 0;
	case NETTLS_URL_PLAIN:
	case NETTLS_URL_UNKNOWN: /* ws://, wss:// ...: not configured for TLS here */
		if (f != NULL && f->allow_plaintext) {
			return 0;
		}
		snprintf(err, err_len, "%s is not TLS-protected: use tls+tcp:// or allow "
		    "plaintext explicitly (tls.allow_plaintext=1, DROPNET_PLAINTEXT=1)",
		    url);
		return DN_EINVAL;
	case NETTLS_URL_TLS:
		if (f == NULL || !set(f->ca_file) || !set(f->cert_file) ||
		    !set(f->key_file)) {
			snprintf(err, err_len, "%s needs a CA file, a certificate and a key "
			    "(tls.ca_file, tls.cert_file, tls.key_file; DROPNET_TLS_CA, "
			    "DROPNET_TLS_CERT, DROPNET_TLS_KEY)", url);
			return DN_EINVAL;
		}
		return 0;
	}
	return 0;
}

/* Reads a whole PEM file, NUL-terminated, into a malloc'd buffer. */
static int pem_read(const char *path, char **out)
{
	*out = NULL;
	FILE *fp = fopen(path, "rb");
	if (fp == NULL) {
		log_error("tls.file_unreadable", "path=%s err=\"%s\"", path, strerror(errno));
		return DN_EINVAL;
	}
	char *buf = malloc(DN_TLS_FILE_MAX + 1);
	if (buf == NULL) {
		fclose(fp);
		return DN_ENOMEM;
	}
	size_t n = fread(buf, 1, DN_TLS_FILE_MAX + 1, fp);
	int bad = ferror(fp);
	fclose(fp);
	if (bad || n > DN_TLS_FILE_MAX || n == 0) {
		log_error("tls.file_unreadable", "path=%s reason=%s", path,
		    bad ? "read_error" : n == 0 ? "empty" : "too_big");
		free(buf);
		return DN_EINVAL;
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
}

/* An mbedtls time as seconds since the epoch (UTC). */
static int64_t x509_epoch(const mbedtls_x509_time *t)
{
	struct tm tm = {.tm_year = t->year - 1900, .tm_mon = t->mon - 1, .tm_mday = t->day,
	    .tm_hour = t->hour, .tm_min = t->min, .tm_sec = t->sec};
	return (int64_t)timegm(&tm);
}

/* Logs a CRL (next update) or certificate (not after) that has expired,
 * or expires within NETTLS_EXPIRY_WARN_DAYS: an expired CRL makes mbedtls
 * refuse every peer of its CA, an expired certificate every handshake. */
static void expiry_log(const char *what, const char *path, int64_t until, int64_t now)
{
	char when[32];
	time_t tt = (time_t)until;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (until <= now) {
		log_error(strcmp(what, "crl") == 0 ? "tls.crl_expired" : "tls.cert_expired",
		    "path=%s expired=%s fix=\"%s\"", path, when,
		    strcmp(what, "crl") == 0 ? "deploy/pki.sh crl, then SIGHUP"
		                             : "issue a new certificate, then restart");
	} else if (until - now <= (int64_t)NETTLS_EXPIRY_WARN_DAYS * 86400) {
		log_warn(strcmp(what, "crl") == 0 ? "tls.crl_expiring" : "tls.cert_expiring",
		    "path=%s expires=%s days_left=%lld", path, when,
		    (long long)((until - now) / 86400));
	}
}

/* Checks the expiry of the CRLs in crl_pem and of the certificate in
 * cert_pem (NUL-terminated PEM); logs only (nettls_expiry_warn). */
static void expiry_check(const nettls_files *f, const char *crl_pem, const char *cert_pem)
{
	int64_t now = (int64_t)time(NULL);
	if (crl_pem != NULL) {
		mbedtls_x509_crl crl;
		mbedtls_x509_crl_init(&crl);
		if (mbedtls_x509_crl_parse(&crl, (const unsigned char *)crl_pem,
		        strlen(crl_pem) + 1) == 0) {
			for (const mbedtls_x509_crl *c = &crl; c != NULL && c->version != 0; c = c->next) {
				expiry_log("crl", f->crl_file, x509_epoch(&c->next_update), now);
			}
		}
		mbedtls_x509_crl_free(&crl);
	}
	if (cert_pem != NULL) {
		mbedtls_x509_crt crt;
		mbedtls_x509_crt_init(&crt);
		if (mbedtls_x509_crt_parse(&crt, (const unsigned char *)cert_pem,
		        strlen(cert_pem) + 1) == 0) {
			expiry_log("cert", f->cert_file, x509_epoch(&crt.valid_to), now);
		}
		mbedtls_x509_crt_free(&crt);
	}
}

/* Builds a config for one endpoint from files every one of which is set
 * (crl_file optional); *out holds one reference. */
static int config_make(nng_tls_config **out, nng_tls_mode mode,
    const char *url, const nettls_files *f)
{
	char *ca = NULL, *crl = NULL, *cert = NULL, *key = NULL;
	nng_tls_config *cfg = NULL;
	int rv;

	*out = NULL;
	/* Every config is made by dropnet's engine (tls_engine.h: one TLS
	 * record per message); registered before the first one. */
	(void)tls_engine_init();
	if ((rv = pem_read(f->ca_file, &ca)) != 0 ||
	    (set(f->crl_file) && (rv = pem_read(f->crl_file, &crl)) != 0) ||
	    (rv = pem_read(f->cert_file, &cert)) != 0 ||
	    (rv = pem_read(f->key_file, &key)) != 0) {
		goto free_pem;
	}
	if (nng_tls_config_alloc(&cfg, mode) != 0) {
		rv = DN_ENOMEM;
		goto free_pem;
	}
	const char *step = "version";
	int nrv = nng_tls_config_version(cfg, NNG_TLS_1_2, NNG_TLS_1_3);
	if (nrv == NNG_ENOTSUP) {
		/* mbedtls 2.28 has no TLS 1.3: 1.2 only. */
		nrv = nng_tls_config_version(cfg, NNG_TLS_1_2, NNG_TLS_1_2);
	}
	if (nrv == 0) {
		step = "auth_mode";
		nrv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED);
	}
	if (nrv == 0) {
		step = "ca_or_crl";
		nrv = nng_tls_config_ca_chain(cfg, ca, crl);
	}
	if (nrv == 0) {
		step = "cert_or_key";
		nrv = nng_tls_config_own_cert(cfg, cert, key, NULL);
	}
	if (nrv == 0 && mode == NNG_TLS_MODE_CLIENT) {
		nng_url *u = NULL;
		step = "server_name";
		if ((nrv = nng_url_parse(&u, url)) == 0) {
			nrv = nng_tls_config_server_name(cfg, u->u_hostname);
			nng_url_free(u);
		}
	}
	if (nrv != 0) {
		log_error("tls.config_invalid", "url=%s step=%s ca=%s crl=%s cert=%s key=%s"
		    " err=\"%s\"", url, step, f->ca_file, set(f->crl_file) ? f->crl_file : "-",
		    f->cert_file, f->key_file, nng_strerror(nrv));
		nng_tls_config_free(cfg);
		rv = nrv == NNG_ENOMEM ? DN_ENOMEM : DN_EINVAL;
		goto free_pem;
	}
	expiry_check(f, crl, cert);
	*out = cfg;
	rv = 0;
free_pem:
	free(key);
	free(cert);
	free(crl);
	free(ca);
	return rv;
}

/* Checks url's policy, then builds its config (config_make). */
static int config_build(nng_tls_config **out, nng_tls_mode mode,
    const char *url, const nettls_files *f)
{
	char why[256];
	int rv;

	*out = NULL;
	if ((rv = nettls_check(url, f, why, sizeof(why))) != 0) {
		log_error("tls.config_missing", "url=%s reason=\"%s\"", url, why);
		return rv;
	}
	return config_make(out, mode, url, f);
}

int nettls_http_config(const char *url, const nettls_files *f, bool server,
    struct nng_tls_config **out)
{
	*out = NULL;
	if (f == NULL || !set(f->ca_file) || !set(f->cert_file) || !set(f->key_file)) {
		log_error("tls.config_missing", "url=%s reason=\"needs a CA file, a "
		    "certificate and a key\"", url);
		return DN_EINVAL;
	}
	return config_make(out, server ? NNG_TLS_MODE_SERVER : NNG_TLS_MODE_CLIENT, url, f);
}

static int nng_to_dn(int rv)
{
	switch (rv) {
	case 0: return 0;
	case NNG_ENOMEM: return DN_ENOMEM;
	case NNG_EADDRINVAL:
	case NNG_ENOTSUP:
	case NNG_EINVAL: return DN_EINVAL;
	default: return DN_ENET;
	}
}

int nettls_listen(nng_socket s, const char *url, const nettls_files *f)
{
	nng_listener l;
	return nettls_listen_l(s, url, f, &l);
}

int nettls_relisten(nng_socket s, const char *url, const nettls_files *f,
    nng_listener *l, bool *closed)
{
	nng_tls_config *cfg = NULL;
	int rv;

	*closed = false;
	if (nettls_url_classify(url) != NETTLS_URL_TLS) {
		return 0; /* no TLS config to re-read */
	}
	/* The new files first: a bad CRL or certificate keeps the old
	 * listener serving. */
	if ((rv = config_build(&cfg, NNG_TLS_MODE_SERVER, url, f)) != 0) {
		log_error("tls.reload_failed", "url=%s err=%s kept=old", url, dn_strerror(rv));
		return rv;
	}
	nng_tls_config_free(cfg);
	/* Closing the listener closes the connections it accepted: every
	 * peer reconnects through a handshake against the new files. */
	nng_listener_close(*l);
	*closed = true;
	for (int i = 0; i < NETTLS_RELISTEN_TRIES; i++) {
		if ((rv = nettls_listen_l(s, url, f, l)) == 0) {
			log_info("tls.reloaded", "url=%s", url);
			return 0;
		}
		nng_msleep(NETTLS_RELISTEN_WAIT_MS);
	}
	return rv;
}

int nettls_listen_l(nng_socket s, const char *url, const nettls_files *f,
    nng_listener *out)
{
	char why[256];
	nng_tls_config *cfg = NULL;
	nng_listener l;
	int rv;

	switch (nettls_url_classify(url)) {
	case NETTLS_URL_TLS:
		break;
	case NETTLS_URL_PLAIN:
	case NETTLS_URL_UNKNOWN:
		if (nettls_check(url, f, why, sizeof(why)) != 0) {
			log_error("tls.plaintext_refused", "url=%s reason=\"%s\"", url, why);
			return DN_EINVAL;
		}
		log_warn("tls.plaintext", "url=%s reason=allow_plaintext", url);
		/* fall through */
	case NETTLS_URL_LOCAL:
		rv = nng_listener_create(&l, s, url);
		bool made = rv == 0;
		/* An ipc:// socket file is the only guard of a plaintext local
		 * socket: owner and group may connect, nobody else (0660,
		 * whatever the umask). inproc:// has no file. */
		if (rv == 0 && strncmp(url, "ipc://", 6) == 0) {
			rv = nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, NETTLS_IPC_MODE);
		}
		if (rv == 0) {
			rv = nng_listener_start(l, 0);
		}
		if (rv != 0) {
			if (made) {
				nng_listener_close(l); /* else every failed try kept one */
			}
			log_error("net.listen_failed", "url=%s err=\"%s\"", url, nng_strerror(rv));
			return nng_to_dn(rv);
		}
		*out = l;
		return 0;
	}
	if ((rv = config_build(&cfg, NNG_TLS_MODE_SERVER, url, f)) != 0) {
		return rv;
	}
	if ((rv = nng_listener_create(&l, s, url)) != 0) {
		log_error("net.listen_failed", "url=%s err=\"%s\"", url, nng_strerror(rv));
		nng_tls_config_free(cfg);
		return nng_to_dn(rv);
	}
	rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, cfg);
	nng_tls_config_free(cfg); /* the listener holds its own reference */
	if (rv == 0) {
		rv = nng_listener_start(l, 0);
	}
	if (rv != 0) {
		log_error("net.listen_failed", "url=%s err=\"%s\"", url, nng_strerror(rv));
		nng_listener_close(l);
		return nng_to_dn(rv);
	}
	log_info("tls.listening", "url=%s ca=%s crl=%s cert=%s client_cert=required", url,
	    f->ca_file, set(f->crl_file) ? f->crl_file : "-", f->cert_file);
	*out = l;
	return 0;
}

int nettls_dial(nng_socket s, const char *url, const nettls_files *f, int flags)
{
	return nettls_dial_dialer(s, url, f, flags, NULL);
}

int nettls_dial_dialer(nng_socket s, const char *url, const nettls_files *f,
    int flags, nng_dialer *out)
{
	char why[256];
	nng_tls_config *cfg = NULL;
	nng_dialer d;
	int rv;

	switch (nettls_url_classify(url)) {
	case NETTLS_URL_TLS:
		break;
	case NETTLS_URL_PLAIN:
	case NETTLS_URL_UNKNOWN:
		if (nettls_check(url, f, why, sizeof(why)) != 0) {
			log_error("tls.plaintext_refused", "url=%s reason=\"%s\"", url, why);
			return DN_EINVAL;
		}
		/* fall through */
	case NETTLS_URL_LOCAL:
		return nng_to_dn(nng_dial(s, url, out, flags));
	}
	if ((rv = config_build(&cfg, NNG_TLS_MODE_CLIENT, url, f)) != 0) {
		return rv;
	}
	if ((rv = nng_dialer_create(&d, s, url)) != 0) {
		nng_tls_config_free(cfg);
		return nng_to_dn(rv);
	}
	rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg);
	nng_tls_config_free(cfg); /* the dialer holds its own reference */
	if (rv == 0) {
		rv = nng_dialer_start(d, flags);
	}
	if (rv != 0) {
		nng_dialer_close(d);
		return nng_to_dn(rv);
	}
	if (out != NULL) {
		*out = d;
	}
	return 0;
}

void nettls_files_from_env(nettls_files *f, nettls_as as)
{
	const char *p = getenv("DROPNET_PLAINTEXT");
	f->ca_file = getenv("DROPNET_TLS_CA");
	f->crl_file = getenv("DROPNET_TLS_CRL");
	f->cert_file = getenv("DROPNET_TLS_CERT");
	f->key_file = getenv("DROPNET_TLS_KEY");
	if (as == NETTLS_AS_STOREFRONT && set(getenv("DROPNET_STOREFRONT_TLS_CERT"))) {
		f->cert_file = getenv("DROPNET_STOREFRONT_TLS_CERT");
		f->key_file = getenv("DROPNET_STOREFRONT_TLS_KEY");
	}
	f->allow_plaintext = p != NULL && strcmp(p, "1") == 0;
}
