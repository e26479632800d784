/* SPDX-License-Identifier: GPL-2.0 */
/* libbpf's messages, and one line naming why the kernel refused a load. */
#ifndef BPF_LOG_H
#define BPF_LOG_H
#include <stdbool.h>

/* libbpf's messages: on stderr with verbose (-v), else kept quietly so
 * that a failed load can name its reason. */
void libbpf_messages(bool verbose);
/* Call before loading an object; after a failed load (err: its negative
 * errno), report_load_error() prints one line: what was refused and why,
 * in libbpf's and the verifier's words (the first failure's since
 * libbpf_load_begin()), then hint, if any. */
void libbpf_load_begin(void);
void report_load_error(const char *what, int err, const char *hint);

#endif
