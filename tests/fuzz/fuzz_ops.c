/* fuzz_ops.c - ops request bytes -> the coordinator machine
 * (coord_ops_batch: reads, drops, holdback, the clock, rebalancing). */
#include "fuzz_machine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FUZZ_CALL(coord_ops_batch, fuzz_coord(), data, size);
	return 0;
}
