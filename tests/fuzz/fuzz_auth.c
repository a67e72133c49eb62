/* fuzz_auth.c - identity bytes (common/io/auth.c): the input is parsed as a
 * peers file, and opened as a Signed envelope against a fixed table on each
 * socket; an envelope that verifies must carry the name it was checked for. */
#include "fuzz_machine.h"

static const char fuzz_peers[] =
    "hub london 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
    "storefront default 1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100\n"
    "admin ops 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static auth_table *fixed;
	char err[256];
	if (fixed == NULL && auth_table_parse(fuzz_peers, sizeof(fuzz_peers) - 1, &fixed,
	    err, sizeof(err)) != 0) {
		abort();
	}
	auth_table *t = NULL;
	if (auth_table_parse((const char *)data, size, &t, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < t->n; i++) {
			if (auth_table_find(t, t->peers[i].name) != &t->peers[i]) {
				abort(); /* names are unique */
			}
		}
		auth_table_destroy(t);
	}
	static const char *const sockets[] = {AUTH_SOCKET_INGEST, AUTH_SOCKET_HUBSYNC,
	    AUTH_SOCKET_OPS};
	for (size_t s = 0; s < 3; s++) {
		Dropnet__Signed *env = NULL;
		auth_peer *p = NULL;
		if (auth_open(fixed, sockets[s], data, size, &env, &p) == AUTH_OK) {
			if (p == NULL || strcmp(p->name, env->peer) != 0) {
				abort();
			}
			codec_signed_req_free(env);
		}
	}
	return 0;
}
