/*
 * replay.c - runs a fuzz harness over files, without libFuzzer: what the
 * suite does with the checked-in corpus (tests/fuzz/corpus/NAME/), so CI
 * needs no clang. Every file is one input; a crash, a sanitizer report or
 * an abort fails the test.
 *
 *   fuzz_NAME_replay FILE|DIR...
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Largest input replayed: above every socket's cap (1 MiB). */
#define REPLAY_MAX (2u * 1024u * 1024u)

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "replay: cannot open %s\n", path);
		return 1;
	}
	uint8_t *buf = malloc(REPLAY_MAX);
	if (buf == NULL) {
		fclose(f);
		return 1;
	}
	size_t n = fread(buf, 1, REPLAY_MAX, f);
	fclose(f);
	/* A copy of exactly n bytes, so reading past the input is caught. */
	uint8_t *in = malloc(n > 0 ? n : 1);
	if (in == NULL) {
		free(buf);
		return 1;
	}
	memcpy(in, buf, n);
	free(buf);
	LLVMFuzzerTestOneInput(in, n);
	free(in);
	return 0;
}


int main(int argc, char **argv)
{
	size_t files = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: no %s\n", argv[i]);
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (replay_file(argv[i]) != 0) {
				return 1;
			}
			files++;
			continue;
		}
		struct dirent **ents = NULL;
		int n = scandir(argv[i], &ents, NULL, alphasort);
		for (int k = 0; k < n; k++) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/%s", argv[i], ents[k]->d_name);
			if (ents[k]->d_name[0] != '.' && stat(path, &st) == 0 &&
			    S_ISREG(st.st_mode)) {
				if (replay_file(path) != 0) {
					return 1;
				}
				files++;
			}
			free(ents[k]);
		}
		free(ents);
	}
	if (files == 0) {
		fprintf(stderr, "replay: no inputs\n");
		return 1;
	}
	printf("replay: %zu inputs, no crash\n", files);
	return 0;
}
