/*
 * nettls.h - TLS on every TCP socket, set up in one place.
 *
 * Every listener and dialer in dropnet goes through nettls_listen or
 * nettls_dial, which apply one policy by URL scheme:
 *   tls+tcp:// (tls+tcp4://, tls+tcp6://)  TLS 1.2+, both sides present a
 *        certificate and verify the other's against ca_file (and crl_file);
 *        a server refuses a client without a valid certificate
 *        (NNG_TLS_AUTH_MODE_REQUIRED), a client checks the server's name
 *        (the URL's host) against its certificate.
 *   ipc://, inproc://  plaintext, same machine only (file permissions guard
 *        it: the socket file is made NETTLS_IPC_MODE, 0660); always allowed.
 *   tcp:// (tcp4://, tcp6://), and any other scheme (ws://, wss://: not
 *        configured for TLS here)  treated as plaintext over a network:
 *        refused unless allow_plaintext is set - the operator must ask.
 *
 * libnng 1.5.2 (mbedtls) fixes a TLS config once an endpoint uses it, so
 * the files are read when the endpoint is created: a new CRL or certificate
 * takes effect when the process re-creates its listeners (nettls_relisten:
 * the coordinator does it on SIGHUP).
 *
 * Thread model: call from the thread that owns the socket, before traffic.
 * Failures are logged with the reason ("tls.*" events) and returned as DN_E*.
 */
#ifndef DN_NETTLS_H
#define DN_NETTLS_H
#include <stdbool.h>
#include <stddef.h>
#include <nng/nng.h>

/* Where one endpoint's TLS material lives (PEM files). Empty or NULL
 * strings are "not set". ca_file: the CA certificate(s) a peer's
 * certificate must chain to; crl_file: optional CRLs of those CAs;
 * cert_file/key_file: this side's certificate and its unencrypted key. */
typedef struct {
	const char *ca_file;
	const char *crl_file;
	const char *cert_file;
	const char *key_file;
	bool allow_plaintext;
} nettls_files;

typedef enum {
	NETTLS_URL_LOCAL,     /* ipc://, inproc:// */
	NETTLS_URL_PLAIN,     /* tcp:// */
	NETTLS_URL_TLS,       /* tls+tcp:// */
	NETTLS_URL_UNKNOWN,   /* anything else: treated as plaintext */
} nettls_url_kind;

nettls_url_kind nettls_url_classify(const char *url);

/* Checks url against the policy above without touching the network or the
 * files' contents: 0, or DN_EINVAL with a one-line reason in err (a
 * plaintext tcp:// or unknown scheme without allow_plaintext, a tls+tcp://
 * with a file missing). For config validation at start. */
int nettls_check(const char *url, const nettls_files *f, char *err,
    size_t err_len);

/* Every endpoint's config logs a CRL or its own certificate that has
 * expired (tls.crl_expired, tls.cert_expired) or expires within this many
 * days (tls.crl_expiring, tls.cert_expiring): at start and at each reload. */
#define NETTLS_EXPIRY_WARN_DAYS 30

/* Listens on url with the policy above. Returns 0, DN_EINVAL (policy,
 * unreadable or invalid PEM, bad URL), DN_ENET (bind failed) or DN_ENOMEM;
 * each failure is logged. */
int nettls_listen(nng_socket s, const char *url, const nettls_files *f);

/* A TLS config for HTTPS, which is not an nng socket (the https://
 * /metrics server, metrics_http.h, and `dropctl top`'s client), under the
 * tls+tcp:// policy: TLS 1.2+, this side's cert_file/key_file, the peer's
 * certificate required and verified against ca_file (and crl_file); a
 * client also checks the server's name (url's host). ca_file, cert_file
 * and key_file must be set. 0 with *out holding one reference
 * (nng_tls_config_free), DN_EINVAL (a file missing, unreadable or invalid;
 * logged) or DN_ENOMEM. */
struct nng_tls_config;
int nettls_http_config(const char *url, const nettls_files *f, bool server,
    struct nng_tls_config **out);

/* The mode of every ipc:// socket file a listener makes (rw for owner and
 * group: a hub's staff terminals run in the hub's group). */
#define NETTLS_IPC_MODE 0660

/* nettls_listen that also gives back the listener (for nettls_relisten). */
int nettls_listen_l(nng_socket s, const char *url, const nettls_files *f,
    nng_listener *out);

/* Re-reads the TLS files (a new CRL, certificate or CA) of a listener made
 * by nettls_listen_l: the files are checked first (bad ones: logged, the old
 * listener kept, DN_EINVAL); then the old listener and the connections it
 * accepted are closed and a new one listens on url (retried a few times
 * while the port is released). Peers reconnect by themselves; a revoked
 * one is refused from then on. Not TLS: 0, nothing done. *closed says
 * whether the old listener was closed: on a failure after that, nothing
 * listens on url. */
#define NETTLS_RELISTEN_TRIES 20
#define NETTLS_RELISTEN_WAIT_MS 50
int nettls_relisten(nng_socket s, const char *url, const nettls_files *f,
    nng_listener *l, bool *closed);

/* Dials url with the policy above; flags as nng_dial (NNG_FLAG_NONBLOCK:
 * nng keeps redialling in the background). Returns as nettls_listen. */
int nettls_dial(nng_socket s, const char *url, const nettls_files *f,
    int flags);
/* nettls_dial that also gives back the dialer (*out, when not NULL), for a
 * client that closes it to move to another address. */
int nettls_dial_dialer(nng_socket s, const char *url, const nettls_files *f,
    int flags, nng_dialer *out);

/* Which certificate a command-line client presents. One shell may hold an
 * operator's certificate and a storefront's (dropctl order submit, loadgen
 * speak on the ingest socket, which trusts the storefront CA only). */
typedef enum {
	NETTLS_AS_DEFAULT,     /* DROPNET_TLS_CERT, DROPNET_TLS_KEY */
	NETTLS_AS_STOREFRONT,  /* DROPNET_STOREFRONT_TLS_CERT, _KEY if set, else default */
} nettls_as;

/* For command-line clients: fills f from DROPNET_TLS_CA, DROPNET_TLS_CRL,
 * the certificate and key named by as, and DROPNET_PLAINTEXT=1 (any of them
 * may be unset). The strings point into the environment. */
void nettls_files_from_env(nettls_files *f, nettls_as as);

/* One line for --help texts of the command-line clients. */
#define NETTLS_ENV_HELP                                                     \
	"TLS (for tls+tcp:// addresses): DROPNET_TLS_CA (CA file), DROPNET_TLS_CERT\n" \
	"and DROPNET_TLS_KEY (this client's certificate and key), DROPNET_TLS_CRL\n" \
	"(optional); on the ingest socket DROPNET_STOREFRONT_TLS_CERT and _KEY\n" \
	"when set. A plaintext tcp:// address needs DROPNET_PLAINTEXT=1.\n"        \
	"Identity (requests signed, SEMANTICS.md): DROPNET_AUTH_NAME and\n"       \
	"DROPNET_AUTH_KEY (the operator's name and secret file) on ops,\n"        \
	"DROPNET_STOREFRONT_AUTH_NAME and _KEY on ingest.\n"

#endif
