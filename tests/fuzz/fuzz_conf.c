/* fuzz_conf.c - config INI bytes -> both daemons' config loaders
 * (common/io/conf.c over libinih, with the coordinator's and the hub's key
 * tables). The bytes become a memfd read back by path, as a file would be. */
#include <sys/mman.h>
#include <unistd.h>
#include "fuzz_machine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	log_set_level(LOG_OFF);
	int fd = memfd_create("fuzz.ini", 0);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
		abort();
	}
	char path[64], err[512];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	static coord_config cc;
	static hub_conf hc;
	(void)conf_load(coord_config_keys, coord_config_nkeys, &cc, path, NULL, 0, err,
	    sizeof(err));
	(void)hub_conf_load(&hc, path, NULL, 0, err, sizeof(err));
	close(fd);
	return 0;
}
