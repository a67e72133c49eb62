/*
 * tui.h - pickterm's two interactive front ends over app.h: the full-screen
 * ncurses terminal and the line mode for screen readers and scripts.
 * Each returns a pickterm exit code.
 */
#ifndef PICKTERM_TUI_H
#define PICKTERM_TUI_H
#include <stdbool.h>
#include "pickterm.h"

/* Full screen on the controlling terminal; mono: no colour. */
int tui_run(const pickterm_opts *o, bool mono);

/* Line mode: one input line per scan or key on stdin, one line per change
 * on stdout. Ends at EOF (after the last action is answered) or 'q'. */
int plain_run(const pickterm_opts *o);

#endif
