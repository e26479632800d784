// SPDX-License-Identifier: GPL-2.0
/* The owner table: over a made-up /proc tree, and filled by hand with
 * more inodes than its first index size (collisions, growth). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "owner.h"
#include "unit.h"

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

int main(void)
{
	char root[] = "/tmp/tkw-owner-XXXXXX", path[256], comm[TASK_COMM_LEN];
	__u32 pid = 0;

	if (!mkdtemp(root))
		return 1;
	snprintf(path, sizeof(path), "%s/self", root);
	mkdir(path, 0755);		/* not a pid: skipped */
	snprintf(path, sizeof(path), "%s/77", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/77/fd", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/77/fd/0", root);
	symlink("/dev/null", path);
	snprintf(path, sizeof(path), "%s/77/fd/4", root);
	symlink("socket:[12345]", path);
	snprintf(path, sizeof(path), "%s/77/comm", root);
	put(path, "server\n");
	snprintf(path, sizeof(path), "%s/78/fd", root);
	mkdir(path, 0755);		/* parent missing: mkdir fails, fine */

	{
		struct owner_table *t = owner_table_build(root);

		pid = 0;
		CHECK(t && owner_table_find(t, 12345, &pid, comm));
		CHECK(pid == 77 && !strcmp(comm, "server"));
		CHECK(!owner_table_find(t, 1, &pid, comm));
		CHECK(!owner_table_find(t, 0, &pid, comm));
		owner_table_free(t);
	}
	{
		struct owner_table *t = owner_table_build("/nonexistent");

		CHECK(t && !owner_table_find(t, 12345, &pid, comm));
		owner_table_free(t);
	}

	{
		/* inodes as the kernel hands them out (neighbours) and far apart */
		struct owner_table *t = owner_table_new(root);
		bool all = true;
		__u64 i;

		for (i = 0; i < 5000 && t; i++) {
			owner_table_add(t, 1000 + i, 1, "near");
			owner_table_add(t, (i + 1) << 32, 2, "far");
		}
		REQUIRE(t && owner_table_index(t) == 0);
		for (i = 0; i < 5000; i++) {
			all &= owner_table_find(t, 1000 + i, &pid, comm) && pid == 1 &&
			       !strcmp(comm, "near");
			all &= owner_table_find(t, (i + 1) << 32, &pid, comm) && pid == 2 &&
			       !strcmp(comm, "far");
		}
		CHECK(all);
		CHECK(!owner_table_find(t, 999, &pid, comm));
		CHECK(!owner_table_find(t, 6000, &pid, comm));
		CHECK(!owner_table_find(t, 5001ULL << 32, &pid, comm));
		owner_table_free(t);
	}

	snprintf(path, sizeof(path), "rm -rf %s", root);
	CHECK(system(path) == 0);
	return unit_done("owner");
}
