/* SPDX-License-Identifier: GPL-2.0 */
/* Time: the kernel's tick rate, and the clocks events are stamped with. */
#ifndef CLOCK_H
#define CLOCK_H

/* Kernel ticks a second (CONFIG_HZ), from the resolution of the coarse
 * clocks: no kernel config file needed; 0 if unknown. */
unsigned int kernel_hz(void);

/* HZ from one tick's length in ns (TICK_NSEC). */
unsigned int hz_from_tick_ns(long tick_ns);

/* CLOCK_MONOTONIC in ns: what bpf_ktime_get_ns() stamps events with. */
unsigned long long monotonic_ns(void);

/* CLOCK_REALTIME minus CLOCK_MONOTONIC, in ns. */
long long realtime_offset_ns(void);

#endif
