/* fuzz_ingest.c - ingest request bytes -> the coordinator machine
 * (coord_ingest_request, the daemon's entry: the envelope read at the wire
 * level - a bare SubmitOrder, IngestRequest with one order, a batch or a
 * quote - then decode, validate, route, allocate, journal, price). */
#include "fuzz_machine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FUZZ_CALL(coord_ingest_request, fuzz_coord(), data, size);
	return 0;
}
