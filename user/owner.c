// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include <string.h>
#include "array.h"
#include "owner.h"

/* A socket's holder: 16 bytes, so that a lookup is one cache line. */
struct owner_entry {
	__u64 key;		/* 0: a free slot */
	__u32 pid;
	__u32 comm;		/* index into comms */
};

struct owner_table {
	/* filled by owner_table_add(), then moved into slots */
	struct owner_entry *entries;
	size_t n, cap;
	/* open addressing by key, built by owner_table_index(): a power of
	 * two, at least a quarter free */
	struct owner_entry *slots;
	size_t nslots;
	/* the names, once per process: the kernel lists a process's files
	 * one after the other */
	struct owner_comm {
		char name[TASK_COMM_LEN];
	} *comms;
	size_t ncomms, comms_cap;
};

struct owner_table *owner_table_new(void)
{
	return calloc(1, sizeof(struct owner_table));
}

int owner_table_add(struct owner_table *t, __u64 key, __u32 pid, const char *comm)
{
	__u32 c;

	if (t->n && t->entries[t->n - 1].pid == pid) {
		c = t->entries[t->n - 1].comm;
	} else {
		if (ARRAY_RESERVE(t->comms, t->comms_cap, t->ncomms, 64))
			return -1;
		c = t->ncomms++;
		memset(t->comms[c].name, 0, TASK_COMM_LEN);
		strncpy(t->comms[c].name, comm, TASK_COMM_LEN - 1);
	}
	if (ARRAY_RESERVE(t->entries, t->cap, t->n, 1024))
		return -1;
	t->entries[t->n++] = (struct owner_entry){ .key = key, .pid = pid, .comm = c };
	return 0;
}

/* Keys are slab addresses: multiply to spread neighbours over the slots,
 * take the top bits. */
static size_t slot_of(const struct owner_table *t, __u64 key)
{
	return (key * 0x9e3779b97f4a7c15ULL) >> (64 - __builtin_ctzll(t->nslots));
}

int owner_table_index(struct owner_table *t)
{
	size_t i, s;

	t->nslots = 1024;
	while (t->nslots * 3 < t->n * 4)
		t->nslots *= 2;
	free(t->slots);
	t->slots = calloc(t->nslots, sizeof(*t->slots));
	if (!t->slots)
		return -1;
	for (i = 0; i < t->n; i++) {
		if (!t->entries[i].key)
			continue;
		for (s = slot_of(t, t->entries[i].key); t->slots[s].key; s = (s + 1) & (t->nslots - 1))
			;
		t->slots[s] = t->entries[i];
	}
	free(t->entries);
	t->entries = NULL;
	t->n = t->cap = 0;
	return 0;
}

bool owner_table_find(const struct owner_table *t, __u64 key, __u32 *pid,
		      char comm[TASK_COMM_LEN])
{
	size_t s;

	if (!t || !t->slots || !key)
		return false;
	for (s = slot_of(t, key); t->slots[s].key; s = (s + 1) & (t->nslots - 1)) {
		const struct owner_entry *e = &t->slots[s];

		if (e->key != key)
			continue;
		*pid = e->pid;
		memcpy(comm, t->comms[e->comm].name, TASK_COMM_LEN);
		return true;
	}
	return false;
}

void owner_table_free(struct owner_table *t)
{
	if (t) {
		free(t->entries);
		free(t->slots);
		free(t->comms);
	}
	free(t);
}
