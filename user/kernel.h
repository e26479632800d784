/* SPDX-License-Identifier: GPL-2.0 */
/* What the running kernel offers, checked before anything is loaded. */
#ifndef KERNEL_H
#define KERNEL_H

/* Each prints one line naming what is missing and returns -1, else 0. */
int check_root(void);
int check_btf(void);
/* Root, BTF, ring buffers and hash maps: what watch needs. */
int check_kernel_support(void);

#endif
