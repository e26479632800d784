// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <dirent.h>
#include <limits.h>
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

struct owner_table {
	struct owner_entry {
		__u64 ino;
		__u32 pid;
		char comm[TASK_COMM_LEN];	/* "" until looked up */
	} *entries;
	size_t n, cap;
	/* open addressing over entries, built by owner_table_index():
	 * entry index + 1, 0 for a free slot; a power of two, over half free */
	__u32 *slots;
	size_t nslots;
	const char *proc_root;		/* where to read a missing comm */
};

struct owner_table *owner_table_new(const char *proc_root)
{
	struct owner_table *t = calloc(1, sizeof(*t));

	if (t)
		t->proc_root = proc_root;
	return t;
}

int owner_table_add(struct owner_table *t, __u64 ino, __u32 pid, const char *comm)
{
	if (ARRAY_RESERVE(t->entries, t->cap, t->n, 1024))
		return -1;
	t->entries[t->n].ino = ino;
	t->entries[t->n].pid = pid;
	memset(t->entries[t->n].comm, 0, TASK_COMM_LEN);
	if (comm)
		strncpy(t->entries[t->n].comm, comm, TASK_COMM_LEN - 1);
	t->n++;
	return 0;
}

static bool add_entry(void *ctx, __u64 ino, __u32 pid)
{
	/* stop when out of memory: what we have is still usable */
	return owner_table_add(ctx, ino, pid, NULL) != 0;
}

/* Socket inodes come from one counter (get_next_ino()): multiply to
 * spread neighbours over the slots, take the top bits. */
static size_t slot_of(const struct owner_table *t, __u64 ino)
{
	return (ino * 0x9e3779b97f4a7c15ULL) >> (64 - __builtin_ctzll(t->nslots));
}

int owner_table_index(struct owner_table *t)
{
	size_t i, s;

	t->nslots = 1024;
	while (t->nslots < 2 * t->n)
		t->nslots *= 2;
	free(t->slots);
	t->slots = calloc(t->nslots, sizeof(*t->slots));
	if (!t->slots)
		return -1;
	for (i = 0; i < t->n; i++) {
		for (s = slot_of(t, t->entries[i].ino); t->slots[s]; s = (s + 1) & (t->nslots - 1))
			;
		t->slots[s] = i + 1;
	}
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

bool owner_table_find(const struct owner_table *t, __u64 ino, __u32 *pid,
		      char comm[TASK_COMM_LEN])
{
	const struct owner_entry *e = NULL;
	size_t s;

	if (!t || !t->slots || !ino)
		return false;
	for (s = slot_of(t, ino); t->slots[s]; s = (s + 1) & (t->nslots - 1)) {
		if (t->entries[t->slots[s] - 1].ino == ino) {
			e = &t->entries[t->slots[s] - 1];
			break;
		}
	}
	if (!e)
		return false;
	*pid = e->pid;
	if (e->comm[0])
		memcpy(comm, e->comm, TASK_COMM_LEN);
	else
		read_comm(t->proc_root, e->pid, comm);
	return true;
}

void owner_table_free(struct owner_table *t)
{
	if (t) {
		free(t->entries);
		free(t->slots);
	}
	free(t);
}
