/*
 * netguard.c - keeps nng endpoints alive through libnng 1.5.2's stopping
 * error path (see netguard.h).
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>
#include "core/err.h"
#include "io/log.h"
#include "io/netguard.h"

/* A connection nng has not made a pipe of for this long is not negotiating
 * any more (nng gives a negotiation 10 s)... */
#define NETGUARD_STUCK_MS 6000u
/* ...nor for this long if its peer has closed it or bytes wait unread in
 * it (nng reads a connection it negotiates as soon as bytes arrive; these
 * are the peers that negotiated and are left unaccepted). */
#define NETGUARD_UNREAD_MS 2000u

/* netguard_tick does nothing when called sooner than this after the last
 * look (callers may tick on every request). */
#define NETGUARD_TICK_MIN_MS 900u
/* A suspect TCP listener with no connection under watch reads the
 * process's TCP table at most this often (it is watched every tick once
 * one is: the stuck verdicts are 2 s and 6 s). The table lists every TCP
 * socket of the network namespace, its cost grows with them: a follower
 * of a group, suspect since a handshake reset and accepting nothing more,
 * spent 5 % of its CPU in the kernel's walk of it under a drop's load. */
#define NETGUARD_IDLE_SCAN_MS 3000u
/* stdio buffer for that read: each read(2) of it walks the table to the
 * position reached, so fewer, larger reads cost less. */
#define NETGUARD_SCAN_BUF 262144
/* Unmatched connections tracked at once (more only delays detection). */
#define NETGUARD_TRACK_MAX 256u

typedef struct {
	uint32_t id;
	uint16_t port;
	uint8_t addr[16];
} guard_pipe;

typedef struct {
	uint64_t inode;
	uint64_t since_ms;
} guard_conn;

struct netguard {
	nng_socket sock;
	bool dialer;
	nng_listener l;
	nng_dialer d;
	char *url, *ca, *crl, *cert, *key;
	bool allow_plaintext;
	uint16_t port;          /* listening TCP port; 0: not TCP */
	char ipc_path[128];     /* ipc:// listener: its socket file; "" none */
	uint64_t excess_ms;     /* ipc: since when it has had more connections
	                         * than pipes; 0: not now */
	bool stats_ok;
	uint64_t other;         /* the endpoint's "other" errors, last tick */
	uint64_t accepted;      /* "accept" when the suspicion began or last moved */
	bool suspect;
	bool gone;              /* a listener that could not be made again:
	                         * netguard_tick tries once a tick */
	uint64_t restarts;
	uint64_t last_tick_ms;
	uint64_t last_scan_ms;  /* the TCP table was read then */
	guard_conn track[NETGUARD_TRACK_MAX];
	size_t ntrack;
	netguard_pipe_fn hook;
	void *hook_arg;
	nng_mtx *mtx;           /* the pipe table */
	guard_pipe *pipes;
	size_t npipes, cap;
};

static char *dup_or_null(const char *s)
{
	return s != NULL && s[0] != '\0' ? strdup(s) : NULL;
}

static nettls_files guard_files(const netguard *g)
{
	nettls_files f = {g->ca, g->crl, g->cert, g->key, g->allow_plaintext};
	return f;
}

static void guard_set_files(netguard *g, const nettls_files *f)
{
	free(g->ca);
	free(g->crl);
	free(g->cert);
	free(g->key);
	g->ca = g->crl = g->cert = g->key = NULL;
	g->allow_plaintext = false;
	if (f != NULL) {
		g->ca = dup_or_null(f->ca_file);
		g->crl = dup_or_null(f->crl_file);
		g->cert = dup_or_null(f->cert_file);
		g->key = dup_or_null(f->key_file);
		g->allow_plaintext = f->allow_plaintext;
	}
}

/* The peer of pipe p as 16 bytes (IPv4 mapped) and a port; false if not
 * TCP. */
static bool pipe_peer(nng_pipe p, uint8_t addr[16], uint16_t *port)
{
	nng_sockaddr sa;
	if (nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) != 0) {
		return false;
	}
	if (sa.s_family == NNG_AF_INET) {
		memset(addr, 0, 10);
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, &sa.s_in.sa_addr, 4);
		*port = ntohs(sa.s_in.sa_port);
		return true;
	}
	if (sa.s_family == NNG_AF_INET6) {
		memcpy(addr, sa.s_in6.sa_addr, 16);
		*port = ntohs(sa.s_in6.sa_port);
		return true;
	}
	return false;
}

/* nng's thread. */
static void guard_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	netguard *g = arg;
	if (ev == NNG_PIPE_EV_ADD_POST) {
		guard_pipe gp = {.id = nng_pipe_id(p)};
		if (g->port == 0 || !pipe_peer(p, gp.addr, &gp.port)) {
			return;
		}
		nng_mtx_lock(g->mtx);
		if (g->npipes == g->cap) {
			size_t cap = g->cap ? g->cap * 2 : 64;
			guard_pipe *np = realloc(g->pipes, cap * sizeof(*np));
			if (np == NULL) {
				nng_mtx_unlock(g->mtx);
				return; /* unmatched: at worst a restart */
			}
			g->pipes = np;
			g->cap = cap;
		}
		g->pipes[g->npipes++] = gp;
		nng_mtx_unlock(g->mtx);
		return;
	}
	/* NNG_PIPE_EV_REM_POST */
	uint32_t id = nng_pipe_id(p);
	nng_mtx_lock(g->mtx);
	for (size_t i = 0; i < g->npipes; i++) {
		if (g->pipes[i].id == id) {
			g->pipes[i] = g->pipes[--g->npipes];
			break;
		}
	}
	nng_mtx_unlock(g->mtx);
	if (g->hook != NULL) {
		g->hook(g->hook_arg, p);
	}
}

/* The scope of kind ("listener", "dialer") whose "id" is id, depth first.
 * (libnng 1.5.2's nng_stat_find_listener/_dialer return the first scope of
 * that kind whatever its id: its search recurses by name only.) */
static nng_stat *guard_find_scope(nng_stat *st, const char *kind, int id)
{
	for (; st != NULL; st = nng_stat_next(st)) {
		if (nng_stat_type(st) == NNG_STAT_SCOPE && strcmp(nng_stat_name(st), kind) == 0) {
			for (nng_stat *c = nng_stat_child(st); c != NULL; c = nng_stat_next(c)) {
				if (strcmp(nng_stat_name(c), "id") == 0 && nng_stat_value(c) == (uint64_t)id) {
					return st;
				}
			}
		}
		nng_stat *found = guard_find_scope(nng_stat_child(st), kind, id);
		if (found != NULL) {
			return found;
		}
	}
	return NULL;
}

/* One endpoint's counters from one snapshot: "other" errors, accepted (or
 * connected) and open pipes. false if nng keeps no statistics or has no
 * such endpoint. */
static bool ep_stats(bool dialer, int id, uint64_t *other, uint64_t *accepted,
    uint64_t *pipes)
{
	nng_stat *all = NULL;
	if (nng_stats_get(&all) != 0) {
		return false;
	}
	nng_stat *ep = guard_find_scope(all, dialer ? "dialer" : "listener", id);
	nng_stat *o = ep != NULL ? nng_stat_find(ep, "other") : NULL;
	nng_stat *a = ep != NULL ? nng_stat_find(ep, dialer ? "connect" : "accept") : NULL;
	nng_stat *p = ep != NULL ? nng_stat_find(ep, "pipes") : NULL;
	bool ok = o != NULL && a != NULL && p != NULL;
	if (ok) {
		*other = nng_stat_value(o);
		*accepted = nng_stat_value(a);
		*pipes = nng_stat_value(p);
	}
	nng_stats_free(all);
	return ok;
}

static bool guard_stats(const netguard *g, uint64_t *other, uint64_t *accepted,
    uint64_t *pipes)
{
	return ep_stats(g->dialer, g->dialer ? nng_dialer_id(g->d) : nng_listener_id(g->l),
	    other, accepted, pipes);
}

static void guard_baseline(netguard *g)
{
	uint64_t pipes = 0;
	bool was = g->stats_ok;
	g->stats_ok = guard_stats(g, &g->other, &g->accepted, &pipes);
	if (!g->stats_ok && !was) {
		log_warn("net.guard_off", "url=%s reason=\"libnng keeps no statistics\"", g->url);
	}
	g->suspect = false;
	g->ntrack = 0;
	g->excess_ms = 0;
}

/* Reads /proc/self/net/unix: true if the ipc listener has had more
 * connections (accepted sockets: its path, state connected) than pipes
 * for NETGUARD_STUCK_MS without a break. A Unix socket has no peer
 * address to match, so this counts. */
static bool guard_scan_unix(netguard *g, uint64_t pipes, uint64_t now_ms)
{
	FILE *fp = fopen("/proc/self/net/unix", "r");
	if (fp == NULL) {
		return false;
	}
	uint64_t conns = 0;
	char line[512];
	while (fgets(line, sizeof(line), fp) != NULL) {
		unsigned st = 0;
		char path[256] = "";
		/* Num RefCount Protocol Flags Type St Inode Path */
		if (sscanf(line, "%*s %*s %*s %*s %*s %x %*s %255s", &st, path) == 2 && st == 0x03 &&
		    strcmp(path, g->ipc_path) == 0) {
			conns++;
		}
	}
	fclose(fp);
	if (conns <= pipes) {
		g->excess_ms = 0;
		return false;
	}
	if (g->excess_ms == 0) {
		g->excess_ms = now_ms;
	}
	return now_ms - g->excess_ms >= NETGUARD_STUCK_MS;
}

static uint16_t guard_port(const netguard *g)
{
	nettls_url_kind k = nettls_url_classify(g->url);
	if (g->dialer || (k != NETTLS_URL_TLS && k != NETTLS_URL_PLAIN)) {
		return 0;
	}
	int port = 0;
	if (nng_listener_get_int(g->l, NNG_OPT_TCP_BOUND_PORT, &port) != 0 || port <= 0 ||
	    port > 65535) {
		return 0;
	}
	return (uint16_t)port;
}

static netguard *guard_new(nng_socket s, const char *url, const nettls_files *f, bool dialer)
{
	netguard *g = calloc(1, sizeof(*g));
	if (g == NULL || (g->url = strdup(url)) == NULL || nng_mtx_alloc(&g->mtx) != 0) {
		if (g != NULL) {
			free(g->url);
		}
		free(g);
		return NULL;
	}
	g->sock = s;
	g->dialer = dialer;
	guard_set_files(g, f);
	return g;
}

int netguard_listen(netguard **out, nng_socket s, const char *url, const nettls_files *f)
{
	*out = NULL;
	netguard *g = guard_new(s, url, f, false);
	if (g == NULL) {
		return DN_ENOMEM;
	}
	nng_pipe_notify(s, NNG_PIPE_EV_ADD_POST, guard_pipe_cb, g);
	nng_pipe_notify(s, NNG_PIPE_EV_REM_POST, guard_pipe_cb, g);
	nettls_files files = guard_files(g);
	int rv = nettls_listen_l(s, url, &files, &g->l);
	if (rv != 0) {
		nng_pipe_notify(s, NNG_PIPE_EV_ADD_POST, NULL, NULL);
		nng_pipe_notify(s, NNG_PIPE_EV_REM_POST, NULL, NULL);
		netguard_destroy(g);
		return rv;
	}
	g->port = guard_port(g);
	if (strncmp(url, "ipc://", 6) == 0) {
		snprintf(g->ipc_path, sizeof(g->ipc_path), "%s", url + 6);
	}
	guard_baseline(g);
	*out = g;
	return 0;
}

int netguard_dial(netguard **out, nng_socket s, const char *url, const nettls_files *f)
{
	*out = NULL;
	netguard *g = guard_new(s, url, f, true);
	if (g == NULL) {
		return DN_ENOMEM;
	}
	nettls_files files = guard_files(g);
	int rv = nettls_dial_dialer(s, url, &files, NNG_FLAG_NONBLOCK, &g->d);
	if (rv != 0) {
		netguard_destroy(g);
		return rv;
	}
	guard_baseline(g);
	*out = g;
	return 0;
}

void netguard_set_pipe_hook(netguard *g, netguard_pipe_fn removed, void *arg)
{
	g->hook = removed;
	g->hook_arg = arg;
}

bool netguard_parse_tcp_line(const char *line, uint16_t port, uint8_t peer[16],
    uint16_t *peer_port, uint64_t *inode, bool *unread)
{
	char local[64], rem[64];
	unsigned st = 0;
	unsigned long txq = 0, rxq = 0;
	unsigned long long ino = 0;
	/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
	if (sscanf(line, " %*s %63s %63s %x %lx:%lx %*s %*s %*s %*s %llu", local, rem, &st, &txq,
	        &rxq, &ino) != 6) {
		return false;
	}
	if (st != 0x01 && st != 0x08) { /* ESTABLISHED, CLOSE_WAIT */
		return false;
	}
	char *lc = strchr(local, ':'), *rc = strchr(rem, ':');
	if (lc == NULL || rc == NULL || strtoul(lc + 1, NULL, 16) != port) {
		return false;
	}
	size_t hex = (size_t)(rc - rem);
	if (hex != 8 && hex != 32) {
		return false;
	}
	uint8_t a[16] = {0};
	size_t words = hex / 8;
	for (size_t w = 0; w < words; w++) {
		char part[9];
		memcpy(part, rem + w * 8, 8);
		part[8] = '\0';
		/* The kernel prints each 32-bit word as a host-order number of
		 * network-order bytes: copying the number back gives the bytes. */
		uint32_t v = (uint32_t)strtoul(part, NULL, 16);
		memcpy(a + (words == 1 ? 12 : w * 4), &v, 4);
	}
	if (words == 1) {
		a[10] = a[11] = 0xff;
	}
	memcpy(peer, a, 16);
	*peer_port = (uint16_t)strtoul(rc + 1, NULL, 16);
	*inode = ino;
	*unread = st == 0x08 || rxq > 0;
	return true;
}

static bool guard_is_pipe(netguard *g, const uint8_t addr[16], uint16_t port)
{
	bool found = false;
	nng_mtx_lock(g->mtx);
	for (size_t i = 0; i < g->npipes && !found; i++) {
		found = g->pipes[i].port == port && memcmp(g->pipes[i].addr, addr, 16) == 0;
	}
	nng_mtx_unlock(g->mtx);
	return found;
}

/* Reads the process's TCP sockets: true if a connection to the listening
 * port has been no pipe for NETGUARD_STUCK_MS. */
static bool guard_scan(netguard *g, uint64_t now_ms)
{
	guard_conn seen[NETGUARD_TRACK_MAX];
	size_t nseen = 0;
	bool stuck = false;
	static const char *const files[] = {"/proc/self/net/tcp", "/proc/self/net/tcp6"};
	if (g->ntrack == 0 && g->last_scan_ms != 0 &&
	    now_ms - g->last_scan_ms < NETGUARD_IDLE_SCAN_MS) {
		return false;
	}
	g->last_scan_ms = now_ms;
	char *buf = malloc(NETGUARD_SCAN_BUF);
	for (size_t f = 0; f < 2; f++) {
		FILE *fp = fopen(files[f], "r");
		if (fp == NULL) {
			continue;
		}
		if (buf != NULL) {
			setvbuf(fp, buf, _IOFBF, NETGUARD_SCAN_BUF);
		}
		char line[512];
		while (fgets(line, sizeof(line), fp) != NULL) {
			uint8_t addr[16];
			uint16_t port = 0;
			uint64_t inode = 0;
			bool unread = false;
			if (!netguard_parse_tcp_line(line, g->port, addr, &port, &inode, &unread) ||
			    inode == 0 ||
			    guard_is_pipe(g, addr, port) || nseen == NETGUARD_TRACK_MAX) {
				continue;
			}
			uint64_t since = now_ms;
			for (size_t i = 0; i < g->ntrack; i++) {
				if (g->track[i].inode == inode) {
					since = g->track[i].since_ms;
					break;
				}
			}
			seen[nseen++] = (guard_conn){inode, since};
			uint64_t age = now_ms - since;
			stuck = stuck || age >= NETGUARD_STUCK_MS || (unread && age >= NETGUARD_UNREAD_MS);
		}
		fclose(fp);
	}
	free(buf);
	memcpy(g->track, seen, nseen * sizeof(seen[0]));
	g->ntrack = nseen;
	return stuck;
}

int netguard_restart(netguard *g, const nettls_files *f, const char *why)
{
	int rv;
	bool closed = true; /* on failure: nothing listens any more */
	if (g->dialer) {
		nng_dialer_close(g->d);
		nettls_files files = guard_files(g);
		rv = nettls_dial_dialer(g->sock, g->url, &files, NNG_FLAG_NONBLOCK, &g->d);
	} else if (f != NULL && !g->gone) {
		/* New files (SIGHUP): checked first, the old listener kept if bad. */
		rv = nettls_relisten(g->sock, g->url, f, &g->l, &closed);
		if (rv == 0) {
			guard_set_files(g, f);
		}
	} else {
		/* A gone listener is made anew, with the new files if any. */
		if (f != NULL) {
			guard_set_files(g, f);
		}
		if (!g->gone) {
			nng_listener_close(g->l);
		}
		nettls_files files = guard_files(g);
		rv = DN_ENET;
		for (int i = 0; i < NETTLS_RELISTEN_TRIES && rv != 0; i++) {
			if (i > 0) {
				nng_msleep(NETTLS_RELISTEN_WAIT_MS);
			}
			rv = nettls_listen_l(g->sock, g->url, &files, &g->l);
		}
	}
	if (rv != 0) {
		log_error("net.endpoint_restart_failed", "url=%s kind=%s reason=%s err=%s", g->url,
		    g->dialer ? "dialer" : "listener", why, dn_strerror(rv));
		/* Closed and not made again (its address taken meanwhile):
		 * every later tick tries again. A SIGHUP's bad files keep the
		 * old listener, which still serves. */
		g->gone = !g->dialer && (g->gone || closed);
		return rv;
	}
	g->gone = false;
	if (!g->dialer) {
		g->port = guard_port(g);
	}
	guard_baseline(g);
	return 0;
}

/* A listener netguard_restart could not make again: one try a tick. */
static bool guard_relisten(netguard *g)
{
	nettls_files files = guard_files(g);
	int rv = nettls_listen_l(g->sock, g->url, &files, &g->l);
	if (rv != 0) {
		return false;
	}
	g->gone = false;
	g->port = guard_port(g);
	guard_baseline(g);
	log_warn("net.endpoint_restored", "url=%s restarts=%" PRIu64, g->url, g->restarts);
	return true;
}

bool netguard_tick(netguard *g, uint64_t now_ms)
{
	uint64_t other = 0, accepted = 0, pipes = 0;
	if (g == NULL || !g->stats_ok ||
	    (g->last_tick_ms != 0 && now_ms - g->last_tick_ms < NETGUARD_TICK_MIN_MS)) {
		return false;
	}
	g->last_tick_ms = now_ms;
	if (g->gone) {
		return guard_relisten(g);
	}
	if (!guard_stats(g, &other, &accepted, &pipes)) {
		return false;
	}
	bool moved = other != g->other;
	g->other = other;
	const char *why = NULL;
	if (g->dialer) {
		/* A dialer with no connection whose last attempt failed in a way
		 * that may have ended its redialling: dial again. */
		if (moved && pipes == 0) {
			why = "dial_stopped";
		}
	} else {
		if (moved) {
			g->suspect = true;
			g->accepted = accepted;
			g->last_scan_ms = 0;    /* a fresh error: look now */
		} else if (g->suspect && accepted != g->accepted) {
			g->suspect = false; /* accepting again */
			g->ntrack = 0;
			g->excess_ms = 0;
		}
		if (g->suspect && g->port != 0) {
			why = guard_scan(g, now_ms) ? "unaccepted_connection" : NULL;
		} else if (g->suspect && g->ipc_path[0] != '\0') {
			why = guard_scan_unix(g, pipes, now_ms) ? "unaccepted_connection" : NULL;
		}
	}
	if (why == NULL) {
		return false;
	}
	g->restarts++;
	log_warn("net.endpoint_restarted", "url=%s kind=%s reason=%s other_errors=%" PRIu64
	    " restarts=%" PRIu64, g->url, g->dialer ? "dialer" : "listener", why, other, g->restarts);
	(void)netguard_restart(g, NULL, why);
	return true;
}

bool netguard_dialer_stuck(nng_dialer d, uint64_t *other)
{
	uint64_t now = 0, connected = 0, pipes = 0;
	if (!ep_stats(true, nng_dialer_id(d), &now, &connected, &pipes)) {
		return false;
	}
	bool stuck = now != *other && pipes == 0;
	*other = now;
	return stuck;
}

int netguard_dialer_pipes(nng_dialer d)
{
	uint64_t other = 0, connected = 0, pipes = 0;
	return ep_stats(true, nng_dialer_id(d), &other, &connected, &pipes) ? (int)pipes : -1;
}

uint64_t netguard_restarts(const netguard *g)
{
	return g != NULL ? g->restarts : 0;
}

void netguard_destroy(netguard *g)
{
	if (g == NULL) {
		return;
	}
	guard_set_files(g, NULL);
	free(g->url);
	free(g->pipes);
	nng_mtx_free(g->mtx);
	free(g);
}
