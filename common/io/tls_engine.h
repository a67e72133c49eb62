/*
 * tls_engine.h - dropnet's own nng TLS engine (mbedtls), registered with
 * libnng before the first TLS config is made (nettls.c does it).
 *
 * Why it exists: libnng 1.5.2's SP-over-TLS transport hands each message to
 * the TLS layer as three pieces (the 8-byte length, the SP header, the
 * body), and its stock engine encrypts each piece as its own TLS record and
 * TCP send, with an aio completion between them - three records, three
 * sends and extra thread hand-offs per message each way. This engine does
 * everything the stock mbedtls engine does (TLS 1.2, auth modes, own
 * certificate and key, CA chain and CRL, server name check, close-notify,
 * errors mapped to NNG_E*), and in addition follows the SP framing of the
 * stream it carries: it keeps the length and header of a message in a
 * small plaintext buffer and sends the whole message as one record (or
 * several if it is bigger than the largest record). A stream that does not
 * open with the SP negotiation header (HTTPS) or whose framing looks wrong
 * is sent piece by piece, exactly as the stock engine does. See
 * tls_engine.c for the framing rules and the partial-write contract.
 *
 * DROPNET_TLS_ENGINE=nng in the environment keeps libnng's stock engine
 * (for comparison and as an escape hatch); anything else, or unset, uses
 * this one.
 *
 * Thread model: tls_engine_init from any thread, any number of times (the
 * first call registers); the engine itself runs on nng's threads under
 * nng's per-connection lock. The counters are atomics.
 */
#ifndef DN_TLS_ENGINE_H
#define DN_TLS_ENGINE_H
#include <stdint.h>

/* The name this engine registers under (nng_tls_engine_name()). */
#define TLS_ENGINE_NAME "dropnet-mbedtls"

/* Registers the engine once per process (later calls return the first
 * call's result) and logs which engine is in use at debug level (a
 * command-line client's stderr stays quiet). Returns 0, or DN_ENET if libnng
 * refused the registration (logged as an error; libnng's stock engine then
 * stays in use). */
int tls_engine_init(void);

/* tls_engine_init, then one INFO line naming the engine in use
 * (tls.engine name=... desc=... one_record_per_message=yes|no): the
 * daemons call it at start, so an operator sees which engine runs. */
void tls_engine_announce(void);

/* Counters over every connection of this process since start, for tests
 * and benchmarks. records: application-data records handed to mbedtls;
 * messages: SP messages sent whole (coalesced); fallbacks: connections that
 * left SP framing (a bad length) and send piece by piece; held: records
 * mbedtls had to hold while nng's send buffer was full (flushed on nng's
 * next call); deferred: writes on a non-SP stream (HTTPS) reported one
 * call late, after nng handed them to the socket (tls_engine.c,
 * "Completion"). */
typedef struct {
	uint64_t records;
	uint64_t messages;
	uint64_t fallbacks;
	uint64_t held;
	uint64_t deferred;
} tls_engine_stats;

void tls_engine_stats_get(tls_engine_stats *out);

#endif
