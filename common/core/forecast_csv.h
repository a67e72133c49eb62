/*
 * forecast_csv.h - the demand-history CSV read by `dropctl forecast` and
 * tests/eval, parsed from a memory buffer (no FILE *: the caller reads the
 * file, so this stays pure and testable).
 *
 * Format (fixed, so a hand parser is enough):
 *   series_id,t,demand          header, exactly these three columns
 *   SKU_1,1,2                   one line per period
 * - series_id follows validate_id (printable ASCII, no space, comma or
 *   quote, 1..DN_ID_MAX bytes); no quoting.
 * - t is 1..n oldest first inside a series; a series' lines are contiguous.
 * - demand is a non-negative integer <= FORECAST_DEMAND_MAX.
 * - lines end in LF or CRLF; a final line may lack its newline; blank lines
 *   are refused (they are usually a truncated export).
 *
 * The parser allocates the result (outside any hot loop); free it with
 * forecast_csv_fini. Not thread-safe per history object.
 */
#ifndef DN_FORECAST_CSV_H
#define DN_FORECAST_CSV_H
#include <stddef.h>

#include "core/limits.h"

/* Series in one file: a regional catalogue is 256 hubs x a few thousand
 * SKUs; a million keeps the parsed history under ~200 MB. */
#define FORECAST_CSV_SERIES_MAX 1000000u

/* Longest line accepted: a DN_ID_MAX id, two numbers and separators fit in
 * far less; anything longer is not this format. */
#define FORECAST_CSV_LINE_MAX 256u

/* Data rows in one file (periods over all series): bounds memory at
 * 8 bytes each, 400 MB. */
#define FORECAST_CSV_ROWS_MAX 50000000u

typedef struct {
	char id[DN_ID_MAX + 1];
	size_t start; /* index of the first period in forecast_csv_history.y */
	size_t n;     /* periods */
	size_t line;  /* line of its first row, for messages */
} forecast_csv_series;

typedef struct {
	forecast_csv_series *series;
	size_t nseries;
	size_t series_cap;
	double *y; /* every series' demands, series after series */
	size_t ny;
	size_t y_cap;
} forecast_csv_history;

/* Parses buf[0..len-1] into *out (initialised here; call forecast_csv_fini
 * after, also on error). Returns 0; DN_EINVAL on bad input with *err_line
 * the 1-based line at fault (0 when the whole file is at fault) and a
 * message in why (always NUL-terminated); DN_ERANGE when a bound above is
 * exceeded (also with line and message); DN_ENOMEM. */
int forecast_csv_parse(const char *buf, size_t len, forecast_csv_history *out,
    size_t *err_line, char *why, size_t why_len);

/* Frees what forecast_csv_parse allocated; accepts NULL. */
void forecast_csv_fini(forecast_csv_history *h);

#endif
