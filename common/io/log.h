/*
 * log.h - one line per event on stderr, journald-friendly:
 *
 *   2026-11-26T18:00:00.123Z WARN hub.down hub=leeds missed=3
 *
 * The event name is stable and greppable; details are key=value pairs.
 * Thread-safe (one write(2) per line). Pure logic (common/core) never logs.
 */
#ifndef DN_LOG_H
#define DN_LOG_H

/* LOG_OFF drops every line: the simulator runs thousands of failures on
 * purpose and says what it found in its own report. */
typedef enum { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF } log_level;

/* Lines below this level are dropped. Default LOG_INFO. */
void log_set_level(log_level lvl);
/* Parses "debug|info|warn|error"; returns 0 or DN_EINVAL. */
int log_level_parse(const char *s, log_level *out);
/* Prefix every line with "name: " (the program name); NULL for none. */
void log_set_program(const char *name);

void log_write(log_level lvl, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(ev, ...) log_write(LOG_DEBUG, ev, __VA_ARGS__)
#define log_info(ev, ...) log_write(LOG_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...) log_write(LOG_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) log_write(LOG_ERROR, ev, __VA_ARGS__)

#endif
