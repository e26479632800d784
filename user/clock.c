// SPDX-License-Identifier: GPL-2.0
#include <time.h>
#include "clock.h"

unsigned int hz_from_tick_ns(long tick_ns)
{
	return tick_ns > 0 ? (1000000000L + tick_ns / 2) / tick_ns : 0;
}

unsigned int kernel_hz(void)
{
	struct timespec res;

	/* posix_get_coarse_res(): the coarse clocks tick once a jiffy, and
	 * report TICK_NSEC, (NSEC_PER_SEC + HZ/2) / HZ, as their resolution. */
	if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) || res.tv_sec)
		return 0;
	return hz_from_tick_ns(res.tv_nsec);
}

long long realtime_offset_ns(void)
{
	struct timespec real, mono;

	clock_gettime(CLOCK_REALTIME, &real);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	return (real.tv_sec - mono.tv_sec) * 1000000000LL + (real.tv_nsec - mono.tv_nsec);
}

unsigned long long monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}
