/*
 * log.c - one line per event on stderr (see log.h). Each line is formatted
 * into a stack buffer and written with a single write(2), so lines from
 * different threads never interleave.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include "core/err.h"
#include "io/log.h"

/* Longest log line; longer ones are cut (and end with "..."). */
#define LOG_LINE_MAX 2048

static log_level log_min = LOG_INFO;
static const char *log_program = NULL;
static const char *const log_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void log_set_level(log_level lvl)
{
	log_min = lvl;
}

void log_set_program(const char *name)
{
	log_program = name;
}

int log_level_parse(const char *s, log_level *out)
{
	static const char *const lower[] = {"debug", "info", "warn", "error"};
	for (int i = 0; i < 4; i++) {
		if (strcasecmp(s, lower[i]) == 0) {
			*out = (log_level)i;
			return 0;
		}
	}
	return DN_EINVAL;
}

void log_write(log_level lvl, const char *event, const char *fmt, ...)
{
	if (lvl < log_min) {
		return;
	}
	char line[LOG_LINE_MAX];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line),
	    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s%s%s %s ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    ts.tv_nsec / 1000000, log_program ? log_program : "",
	    log_program ? " " : "", log_names[lvl], event);
	if (n < 0) {
		return;
	}
	size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	va_end(ap);
	if (m > 0) {
		len += (size_t)m;
	}
	if (len >= sizeof(line) - 1) {
		len = sizeof(line) - 1;
		memcpy(line + len - 4, "...", 3);
		len -= 1;
	}
	line[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}
