/* fuzz_ingest.c - ingest request bytes -> the coordinator machine
 * (coord_ingest_batch: decode, validate, route, allocate, journal). */
#include "fuzz_machine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FUZZ_CALL(coord_ingest_batch, fuzz_coord(), data, size);
	return 0;
}
