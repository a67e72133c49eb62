/*
 * main.c - dropctl, the operations team's CLI: global flags and dispatch.
 *
 * Global flags may come before or after the command word; everything after
 * `forecast` belongs to the forecast command (it has flags of its own and
 * needs no network). See dropctl.h for the exit codes.
 */
#include <stdio.h>
#include <string.h>
#include "io/nettls.h"
#include "dropctl.h"
#include "forecast_cmd.h"

static void main_help(void)
{
	printf(
	    "usage: dropctl [global flags] COMMAND [args]\n"
	    "\n"
	    "commands:\n"
	    "  hubs                         hubs, health and stream positions\n"
	    "  hubs set ID [--lat --lon --radius-km]  move a hub (admin)\n"
	    "  stock [--hub H] [--sku S]    the ledger per (hub, sku)\n"
	    "  order show KEY... [--storefront F]\n"
	    "                               an order's journey, routing to ship\n"
	    "  order submit --key K --customer C --sku S [--qty N]\n"
	    "               --lat LAT --lon LON [--storefront F]\n"
	    "               [--line SKU:QTY ...]\n"
	    "               [--drop D --tier T] [--hold SECONDS]\n"
	    "                               send one order as a storefront\n"
	    "  order confirm|release --key K [--storefront F]\n"
	    "                               confirm or give back a HELD cart\n"
	    "  drop create|show|list|open|close ...\n"
	    "                               drops: tiers, holdback, gifts\n"
	    "  holdback release --drop D --sku S --qty N [--hub H]\n"
	    "                               make held-back units sellable\n"
	    "  price live --drop D --sku S --price MINOR --minutes M [--tier T]\n"
	    "  price live --drop D --sku S --end\n"
	    "  price show --drop D [--tier T] [--hub H]\n"
	    "                               live prices; what SKUs cost now\n"
	    "  quote --customer C --drop D --tier T --sku S --lat LAT --lon LON\n"
	    "                               ask for a quote as a storefront\n"
	    "  experiment create --id E --drop D --sku S --arm NAME:PRICE ...\n"
	    "  experiment show|stop E       price experiments and their readout\n"
	    "  activation add|list --drop D ...\n"
	    "                               what a livestream, pop-up, van cost;\n"
	    "                               revenue in its window, ROI\n"
	    "  kpi --drop D                 a drop's KPIs (and revenue)\n"
	    "  top [--metrics URL] [--plain] live view from /metrics: orders/s,\n"
	    "                               acks, hubs, drops' sell-through\n"
	    "  clock [now | set TIME]       the coordinator's clock (tests)\n"
	    "  demand [--sku S] [--bucket B]\n"
	    "                               demand history: sold, turned away\n"
	    "  rebalance plan|apply [--sku S] [--horizon N] [--service P]\n"
	    "                               forecast, releases and transfers\n"
	    "  transfers                    hub-to-hub transfers and state\n"
	    "  signals [--url URL] [--count N] [--spikes]\n"
	    "                               regional demand signals (pub)\n"
	    "  feed [--sku S [--region H]] [--count N]\n"
	    "                               price and availability changes (pub)\n"
	    "  audit                        run the invariant checks\n"
	    "  replicas                     every replica of a group (each URL of\n"
	    "                               --coordinator, and the members they\n"
	    "                               know): role, term, applied index,\n"
	    "                               books checksum at an index\n"
	    "  replicas add ID,RAFT_ADDR,INGEST,HUB,OPS   a member online (admin)\n"
	    "  replicas remove ID           a member out, online (admin)\n"
	    "  forecast ...                 forecast demand from a CSV history\n"
	    "\n"
	    "global flags:\n"
	    "  --coordinator URL   ops socket (default $%s); a group: every\n"
	    "                      replica's, comma-separated (the leader is\n"
	    "                      followed)\n"
	    "  --ingest URL        storefront socket for order submit\n"
	    "                      (default $%s)\n"
	    "  --json              one JSON object on stdout instead of tables\n"
	    "  --timeout-ms N      wait this long for an answer (default %d)\n"
	    "  --tls-ca F, --tls-cert F, --tls-key F, --tls-crl F\n"
	    "                      TLS files for tls+tcp:// addresses (default\n"
	    "                      $DROPNET_TLS_CA, _CERT, _KEY, _CRL)\n"
	    "  --help              this text; 'dropctl COMMAND --help' for one\n"
	    "\n"
	    NETTLS_ENV_HELP
	    "\n"
	    "exit codes: 0 ok, 1 error answer or audit findings, 2 usage,\n"
	    "            3 coordinator unreachable\n",
	    DROPCTL_ENV_COORDINATOR, DROPCTL_ENV_INGEST,
	    DROPCTL_TIMEOUT_MS_DEFAULT);
}

static void main_help_order(void)
{
	printf("usage: dropctl [global flags] order show KEY... [--storefront F]\n"
	       "       dropctl [global flags] order submit --key K ...\n"
	       "       dropctl [global flags] order confirm --key K [--storefront F]\n"
	       "       dropctl [global flags] order release --key K [--storefront F]\n"
	       "\n"
	       "'dropctl order show --help', 'dropctl order submit --help' and\n"
	       "'dropctl order confirm --help' for details.\n");
}

/* `order SUB ...`: argv[0] is "order". */
static int main_order(dropctl_opts *o, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (dropctl_is_help(argv[i])) {
			main_help_order();
			return DROPCTL_EXIT_OK;
		}
		int g = dropctl_global_flag(o, argc, argv, &i);
		if (g < 0) {
			return DROPCTL_EXIT_USAGE;
		}
		if (g > 0) {
			continue;
		}
		if (strcmp(argv[i], "show") == 0) {
			return dropctl_order_show(o, argc - i, argv + i);
		}
		if (strcmp(argv[i], "submit") == 0) {
			return dropctl_order_submit(o, argc - i, argv + i);
		}
		if (strcmp(argv[i], "confirm") == 0 ||
		    strcmp(argv[i], "release") == 0) {
			return dropctl_order_hold_action(o, argc - i, argv + i);
		}
		return dropctl_usage_error("order", "unknown subcommand '%s' "
		    "(show, submit, confirm, release)", argv[i]);
	}
	return dropctl_usage_error("order", "missing subcommand (show, submit, "
	    "confirm, release)");
}

static int main_run(int argc, char **argv)
{
	dropctl_opts o = {
		.coordinator = NULL,
		.ingest = NULL,
		.json = false,
		.timeout_ms = DROPCTL_TIMEOUT_MS_DEFAULT,
	};

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (dropctl_is_help(a)) {
			main_help();
			return DROPCTL_EXIT_OK;
		}
		int g = dropctl_global_flag(&o, argc, argv, &i);
		if (g < 0) {
			return DROPCTL_EXIT_USAGE;
		}
		if (g > 0) {
			continue;
		}
		if (strcmp(a, "hubs") == 0) {
			return dropctl_hubs(&o, argc - i, argv + i);
		}
		if (strcmp(a, "stock") == 0) {
			return dropctl_stock(&o, argc - i, argv + i);
		}
		if (strcmp(a, "audit") == 0) {
			return dropctl_audit(&o, argc - i, argv + i);
		}
		if (strcmp(a, "order") == 0) {
			return main_order(&o, argc - i, argv + i);
		}
		if (strcmp(a, "drop") == 0) {
			return dropctl_drop(&o, argc - i, argv + i);
		}
		if (strcmp(a, "holdback") == 0) {
			return dropctl_holdback(&o, argc - i, argv + i);
		}
		if (strcmp(a, "price") == 0) {
			return dropctl_price(&o, argc - i, argv + i);
		}
		if (strcmp(a, "experiment") == 0) {
			return dropctl_experiment(&o, argc - i, argv + i);
		}
		if (strcmp(a, "activation") == 0) {
			return dropctl_activation(&o, argc - i, argv + i);
		}
		if (strcmp(a, "quote") == 0) {
			return dropctl_quote(&o, argc - i, argv + i);
		}
		if (strcmp(a, "kpi") == 0) {
			return dropctl_kpi(&o, argc - i, argv + i);
		}
		if (strcmp(a, "top") == 0) {
			return dropctl_top(&o, argc - i, argv + i);
		}
		if (strcmp(a, "clock") == 0) {
			return dropctl_clock(&o, argc - i, argv + i);
		}
		if (strcmp(a, "demand") == 0) {
			return dropctl_demand(&o, argc - i, argv + i);
		}
		if (strcmp(a, "rebalance") == 0) {
			return dropctl_rebalance(&o, argc - i, argv + i);
		}
		if (strcmp(a, "transfers") == 0) {
			return dropctl_transfers(&o, argc - i, argv + i);
		}
		if (strcmp(a, "signals") == 0) {
			return dropctl_signals(&o, argc - i, argv + i);
		}
		if (strcmp(a, "replicas") == 0) {
			return dropctl_replicas(&o, argc - i, argv + i);
		}
		if (strcmp(a, "feed") == 0) {
			return dropctl_feed(&o, argc - i, argv + i);
		}
		if (strcmp(a, "forecast") == 0) {
			return dropctl_forecast(argc - i, argv + i);
		}
		fprintf(stderr, "dropctl: unknown command '%s' (see dropctl "
				"--help)\n",
		    a);
		return DROPCTL_EXIT_USAGE;
	}
	fprintf(stderr, "dropctl: missing command (see dropctl --help)\n");
	return DROPCTL_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	int ex = main_run(argc, argv);
	dropctl_disconnect();
	return ex;
}
