/* fuzz_hubsync.c - hub sync request bytes -> the coordinator machine
 * (coord_hubsync_batch: hello, resync verdicts, events on the ledger,
 * the reply with commands). */
#include "fuzz_machine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FUZZ_CALL(coord_hubsync_batch, fuzz_coord(), data, size);
	return 0;
}
