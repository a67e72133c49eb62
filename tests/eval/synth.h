/*
 * synth.h - synthetic demand families with known truth for the harder
 * evaluation (issue 11). Each family stresses one thing; every series is
 * drawn from a seeded splitmix64 stream, so the same (family, seed) gives the
 * same panel on every machine. docs/forecast.md lists the parameters.
 */
#ifndef DN_EVAL_SYNTH_H
#define DN_EVAL_SYNTH_H
#include <stddef.h>

#include "core/forecast_panel.h"

#define SYNTH_SERIES 1000u /* series per family */
#define SYNTH_PERIODS 60u  /* periods per series (new products: fewer) */
/* Latest change time of the shift and burst families, as a share of T, in
 * the standard grid: every such series changes within its 60 periods, so
 * the chance that a series not yet changed changes in the next periods
 * rises to 1 towards the end (the dying family draws its start up to
 * 1.2 T). forecast_eval --change-hi sets another value (docs/forecast.md,
 * "the generators' deadline"). */
#define SYNTH_CHANGE_HI 0.95

typedef enum {
	SYNTH_STEADY = 0, /* control: stationary Bernoulli x (1 + Poisson) */
	SYNTH_DYING,      /* demand probability decays to 0 from a random time */
	SYNTH_NEW,        /* new products: 8..24 periods of history */
	SYNTH_SHIFT_UP,   /* rate x 2..4 from a random time */
	SYNTH_SHIFT_DOWN, /* rate / 2..4 from a random time */
	SYNTH_LUMPY,      /* rare demands of very variable size */
	SYNTH_SEASONAL,   /* Poisson with a 12-period cycle */
	SYNTH_BURST,      /* a drop: a burst of 1..3 periods, then near silence */
	SYNTH_FAMILIES
} synth_family;

const char *synth_name(synth_family f);

/* Generates a family: fills y (room for SYNTH_SERIES x SYNTH_PERIODS) and
 * spans[0..SYNTH_SERIES-1] pointing into it. change_hi is the latest change
 * time of the shift and burst families as a share of T (SYNTH_CHANGE_HI in
 * the standard grid; the random draws are the same whatever its value). */
void synth_generate(synth_family f, unsigned long long seed, double change_hi,
    double *y, forecast_span *spans);

#endif
