/*
 * main.c - pickterm: global flags, then one command (see pickterm.h), or
 * no command: the interactive terminal (tui.c full screen, plain.c with
 * --plain).
 *
 *   pickterm [--hub URL] [--operator NAME] [--plain] [--mono]
 *   pickterm [--hub URL] [--operator NAME] [--json] COMMAND ...
 *
 * Global flags may stand anywhere on the line (`pickterm queue --json`
 * works).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/rpc.h"
#include "io/nettls.h"
#include "pickterm.h"
#include "tui.h"

void pickterm_usage(FILE *f)
{
	fprintf(f,
	    "usage: pickterm [--hub URL] [--operator NAME] [--plain] [--mono]\n"
	    "       pickterm [--hub URL] [--operator NAME] [--json] COMMAND ...\n"
	    "\n"
	    "With no command: the full-screen terminal (live queue, claim, pick\n"
	    "with bin and SKU scans, short, pack, ship, receive, move, count,\n"
	    "returns; '?' shows every key). --plain: the same as plain lines on\n"
	    "stdin/stdout for screen readers and scripts. --mono: no colour.\n"
	    "\n"
	    "commands:\n"
	    "  receive SKU QTY [--bin B] [--transfer T]\n"
	    "                                   stock in (bin default MAIN)\n"
	    "  queue                            open orders, oldest first\n"
	    "  pick ORDER --scan SKU [--scan SKU ...]\n"
	    "                                   confirm units (one scan each)\n"
	    "  short ORDER SKU QTY              QTY units of SKU cannot be found\n"
	    "  ship ORDER [--tracking T]        ship a picked order\n"
	    "  ship ORDER --tracking T --already-shipped\n"
	    "                                   a RESENT order that left before\n"
	    "                                   the data loss: record, no pick\n"
	    "  status                           hub id, stream positions, counts\n"
	    "  stock                            on hand per SKU\n"
	    "  claim [ORDER] [--batch N]        claim an order (default: next by\n"
	    "                                   priority; N small orders)\n"
	    "  release ORDER                    give a claim back\n"
	    "  pack ORDER --scan SKU ...        confirm every line (gift too)\n"
	    "  move SKU QTY --from B --to B     move units between bins\n"
	    "  count BIN SKU QTY                cycle count: QTY found in BIN\n"
	    "  return SKU QTY [--bin B] [--quarantine]\n"
	    "                                   a customer return\n"
	    "  bin BIN                          what the book says BIN holds\n"
	    "\n"
	    "ORDER is the numeric order id shown by `queue`.\n"
	    "\n"
	    "flags:\n"
	    "  --hub URL        the hub's terminal socket (default $%s,\n"
	    "                   else %s)\n"
	    "  --operator NAME  who is at the terminal (default $%s)\n"
	    "  --json           one JSON object on stdout\n"
	    "  --request-key K  a write sent again with the same K is done once;\n"
	    "                   the retry gets the first answer (without it a\n"
	    "                   write gets a key of its own, printed when the\n"
	    "                   hub does not answer)\n"
	    "  --plain          line mode instead of full screen\n"
	    "  --mono           full screen without colour (also $NO_COLOR)\n"
	    "  --help           this text; 'pickterm COMMAND --help' for one\n"
	    "\n"
	    "The hub socket is normally ipc:// (same machine, no TLS).\n"
	    NETTLS_ENV_HELP
	    "\n"
	    "exit codes: 0 OK, 1 the hub refused (reason on stderr), 2 usage,\n"
	    "            3 hub unreachable\n",
	    PICKTERM_ENV_HUB, PICKTERM_HUB_DEFAULT, PICKTERM_ENV_OPERATOR);
}

int main(int argc, char **argv)
{
	pickterm_opts o = { 0 };
	bool plain = false, mono = false;
	const char *hub_flag = NULL;
	char **rest = calloc((size_t)argc + 1, sizeof(*rest));
	int nrest = 0, rv;

	if (rest == NULL) {
		fprintf(stderr, "pickterm: out of memory\n");
		return PICKTERM_EXIT_USAGE;
	}
	o.operator_ = getenv(PICKTERM_ENV_OPERATOR);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--json") == 0) {
			o.json = true;
		} else if (strcmp(a, "--plain") == 0) {
			plain = true;
		} else if (strcmp(a, "--mono") == 0) {
			mono = true;
		} else if (strcmp(a, "--request-key") == 0 && i + 1 < argc) {
			o.request_key = argv[++i];
		} else if (strcmp(a, "--hub") == 0 || strcmp(a, "--operator") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "pickterm: %s needs a value\n", a);
				free(rest);
				return PICKTERM_EXIT_USAGE;
			}
			if (a[2] == 'h') {
				hub_flag = argv[++i];
			} else {
				o.operator_ = argv[++i];
			}
		} else if (strncmp(a, "--hub=", 6) == 0) {
			hub_flag = a + 6;
		} else if (strncmp(a, "--operator=", 11) == 0) {
			o.operator_ = a + 11;
		} else if (nrest == 0 && (strcmp(a, "--help") == 0
		    || strcmp(a, "-h") == 0)) {
			pickterm_usage(stdout);
			free(rest);
			return PICKTERM_EXIT_OK;
		} else {
			rest[nrest++] = argv[i];
		}
	}
	o.hub = rpc_endpoint(hub_flag, PICKTERM_ENV_HUB);
	if (o.hub == NULL) {
		o.hub = PICKTERM_HUB_DEFAULT;
	}
	if (o.operator_ == NULL) {
		o.operator_ = "";
	}
	if (nrest == 0) {
		free(rest);
		return plain ? plain_run(&o) : tui_run(&o, mono);
	}
	rv = pickterm_cmd_run(&o, nrest, rest);
	free(rest);
	return rv;
}
