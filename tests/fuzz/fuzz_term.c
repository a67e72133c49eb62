/* fuzz_term.c - terminal request bytes -> the hub machine (hub_term_batch:
 * receive, claim, pick, pack, ship, counts, moves, returns). */
#include "fuzz_machine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FUZZ_CALL(hub_term_batch, fuzz_hub(), data, size);
	return 0;
}
