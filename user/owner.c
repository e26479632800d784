// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "array.h"
#include "owner.h"

/* Calls found(ctx, inode, pid) for every socket descriptor under
 * proc_root/PID/fd until it returns true; returns whether one did. */
static bool scan_sockets(const char *proc_root, bool (*found)(void *, __u64, __u32), void *ctx)
{
	char path[PATH_MAX], link[64];
	struct dirent *p, *fd;
	bool stop = false;
	DIR *procs = opendir(proc_root), *fds;

	while (procs && !stop && (p = readdir(procs))) {
		if (!isdigit((unsigned char)p->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "%s/%s/fd", proc_root, p->d_name);
		fds = opendir(path);
		while (fds && !stop && (fd = readdir(fds))) {
			unsigned long long ino;
			ssize_t n;

			if (fd->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s/fd/%s", proc_root, p->d_name, fd->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = '\0';
			if (sscanf(link, "socket:[%llu]", &ino) == 1)
				stop = found(ctx, ino, strtoul(p->d_name, NULL, 10));
		}
		if (fds)
			closedir(fds);
	}
	if (procs)
		closedir(procs);
	return stop;
}

static void read_comm(const char *proc_root, __u32 pid, char comm[TASK_COMM_LEN])
{
	char path[PATH_MAX];
	FILE *f;

	memset(comm, 0, TASK_COMM_LEN);
	snprintf(path, sizeof(path), "%s/%u/comm", proc_root, pid);
	f = fopen(path, "r");
	if (!f)
		return;
	if (fgets(comm, TASK_COMM_LEN, f))
		comm[strcspn(comm, "\n")] = '\0';
	fclose(f);
}

/* A socket's holder: 16 bytes, so that a lookup is one cache line. */
struct owner_entry {
	__u64 key;		/* 0: a free slot */
	__u32 pid;
	__u32 comm;		/* index into comms, NO_COMM: read from proc_root */
};

#define NO_COMM UINT32_MAX

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
	const char *proc_root;		/* where to read a missing comm */
};

struct owner_table *owner_table_new(const char *proc_root)
{
	struct owner_table *t = calloc(1, sizeof(*t));

	if (t)
		t->proc_root = proc_root;
	return t;
}

int owner_table_add(struct owner_table *t, __u64 key, __u32 pid, const char *comm)
{
	struct owner_entry *last = t->n ? &t->entries[t->n - 1] : NULL;
	__u32 c = NO_COMM;

	if (comm && last && last->pid == pid && last->comm != NO_COMM) {
		c = last->comm;
	} else if (comm) {
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

static bool add_entry(void *ctx, __u64 ino, __u32 pid)
{
	/* stop when out of memory: what we have is still usable */
	return owner_table_add(ctx, ino, pid, NULL) != 0;
}

/* Keys are inodes from one counter (get_next_ino()) or slab addresses:
 * multiply to spread neighbours over the slots, take the top bits. */
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

struct owner_table *owner_table_build(const char *proc_root)
{
	struct owner_table *t = owner_table_new(proc_root);

	if (!t)
		return NULL;
	scan_sockets(proc_root, add_entry, t);
	if (owner_table_index(t)) {
		owner_table_free(t);
		return NULL;
	}
	return t;
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
		if (e->comm != NO_COMM)
			memcpy(comm, t->comms[e->comm].name, TASK_COMM_LEN);
		else
			read_comm(t->proc_root, e->pid, comm);
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
