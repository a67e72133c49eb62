/*
 * forecast_cmd.h - `dropctl forecast`: forecast intermittent demand from a
 * CSV history, with no running network (issue 5).
 */
#ifndef DN_FORECAST_CMD_H
#define DN_FORECAST_CMD_H

/* argv[0] is "forecast". Returns the process exit code (0 ok, 2 usage,
 * 1 bad input or I/O error, with a message naming the line). */
int dropctl_forecast(int argc, char **argv);

#endif
