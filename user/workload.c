// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <pthread.h>
#include <search.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cgroup.h"
#include "clock.h"
#include "tree.h"
#include "workload.h"

/* A removed cgroup is forgotten once it has not been asked for this long. */
#define GONE_KEEP_NS (600 * 1000000000ULL)

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* name, len: one path component, its ".scope"/".slice" cut off */
static bool names_container(const char *name, size_t len)
{
	const char *id;

	if (len < CONTAINER_ID_LEN)
		return false;
	id = name + len - CONTAINER_ID_LEN;
	return all_hex(id, CONTAINER_ID_LEN) && (id == name || id[-1] == '-');
}

static bool names_pod(const char *name, size_t len)
{
	const char *uid;

	if (len < POD_UID_LEN + 3)
		return false;
	uid = name + len - POD_UID_LEN;
	if (strncmp(uid - 3, "pod", 3) != 0 || (uid - 3 != name && uid[-4] != '-'))
		return false;
	for (int i = 0; i < POD_UID_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? uid[i] != '-' && uid[i] != '_' : !isxdigit((unsigned char)uid[i]))
			return false;
	}
	return true;
}

static size_t cut_suffix(const char *name, size_t len)
{
	static const char *const suffixes[] = { ".scope", ".slice" };

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t n = strlen(suffixes[i]);

		if (len > n && !memcmp(name + len - n, suffixes[i], n))
			return len - n;
	}
	return len;
}

/* The container id and pod uid path names, "" for none */
static void parse_ids(const char *path, char container_id[CONTAINER_ID_LEN + 1],
		      char pod_uid[POD_UID_LEN + 1])
{
	bool kubepods = false;
	const char *p = path;

	container_id[0] = '\0';
	pod_uid[0] = '\0';
	while (*p) {
		const char *name = p + strspn(p, "/");
		size_t len = strcspn(name, "/");

		p = name + len;
		if (!len)
			break;
		len = cut_suffix(name, len);
		if (strncmp(name, "kubepods", 8) == 0)
			kubepods = true;
		if (names_container(name, len)) {	/* the innermost wins */
			memcpy(container_id, name + len - CONTAINER_ID_LEN, CONTAINER_ID_LEN);
			container_id[CONTAINER_ID_LEN] = '\0';
		}
		if (kubepods && names_pod(name, len)) {
			for (int i = 0; i < POD_UID_LEN; i++) {
				char c = name[len - POD_UID_LEN + i];

				pod_uid[i] = c == '_' ? '-' : c;
			}
			pod_uid[POD_UID_LEN] = '\0';
		}
	}
}

/* path into w->cgroup, "" if it does not fit */
static void copy_path(struct workload *w, const char *path)
{
	size_t len = strlen(path);

	if (len < sizeof(w->cgroup))
		memcpy(w->cgroup, path, len + 1);
	else
		w->cgroup[0] = '\0';
}

void workload_parse(struct workload *w, const char *path)
{
	copy_path(w, path);
	parse_ids(path, w->container_id, w->pod_uid);
}

/* What the walks learnt: a cgroup by id, its path (NULL: gone before the
 * first walk after it was asked for; ids are never reused). */
struct cgroup_entry {
	__u64 id;
	char *path;
	char container_id[CONTAINER_ID_LEN + 1];	/* parse_ids() of path, once */
	char pod_uid[POD_UID_LEN + 1];
	__u64 asked_ns;		/* last asked for */
	unsigned int walk;	/* the last walk that found it */
};

static struct {
	pthread_mutex_t lock;
	void *tree;		/* of struct cgroup_entry, by id (tsearch) */
	unsigned int walk;	/* walks so far */
} known = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int by_id(const void *a, const void *b)
{
	__u64 x = ((const struct cgroup_entry *)a)->id, y = ((const struct cgroup_entry *)b)->id;

	return x < y ? -1 : x > y;
}

static struct cgroup_entry *entry_of(__u64 id)
{
	struct cgroup_entry key = { .id = id };
	void *node = tfind(&key, &known.tree, by_id);

	return node ? *(struct cgroup_entry **)node : NULL;
}

static void entry_free(void *elem)
{
	struct cgroup_entry *e = elem;

	free(e->path);
	free(e);
}

/* Add id, path if new; NULL when out of memory. */
static struct cgroup_entry *entry_add(__u64 id, const char *path)
{
	struct cgroup_entry *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->id = id;
	e->path = path ? strdup(path) : NULL;
	if (e->path)
		parse_ids(e->path, e->container_id, e->pod_uid);
	if ((path && !e->path) || !tsearch(e, &known.tree, by_id)) {
		entry_free(e);
		return NULL;
	}
	return e;
}

static void found(void *ctx, __u64 id, const char *path)
{
	struct cgroup_entry *e = entry_of(id);

	(void)ctx;
	if (!e)
		e = entry_add(id, path);
	if (e)
		e->walk = known.walk;
}

/* Removed (not found by this walk), and not asked for lately (ctx: now) */
static bool forgotten(const void *elem, void *ctx)
{
	const struct cgroup_entry *e = elem;

	return e->walk != known.walk && *(const __u64 *)ctx - e->asked_ns > GONE_KEEP_NS;
}

/* Learn every cgroup there is now; forget removed ones nobody asked for
 * lately. */
static void walk(__u64 now_ns)
{
	known.walk++;
	cgroup_walk(found, NULL);
	tree_prune(&known.tree, by_id, forgotten, &now_ns, entry_free);
}

const struct workload *workload_of(__u64 cgroup_id, struct workload *w)
{
	__u64 now_ns = monotonic_ns();
	struct cgroup_entry *e;
	const char *path = NULL;

	if (!cgroup_id)
		return NULL;
	pthread_mutex_lock(&known.lock);
	e = entry_of(cgroup_id);
	if (!e) {
		walk(now_ns);
		e = entry_of(cgroup_id);
		if (!e)		/* removed already: said once, not a walk a time */
			e = entry_add(cgroup_id, NULL);
	}
	if (e) {
		e->asked_ns = now_ns;
		path = e->path;
	}
	if (path) {
		copy_path(w, path);
		memcpy(w->container_id, e->container_id, sizeof(w->container_id));
		memcpy(w->pod_uid, e->pod_uid, sizeof(w->pod_uid));
	}
	pthread_mutex_unlock(&known.lock);
	return path ? w : NULL;
}
