// SPDX-License-Identifier: GPL-2.0
/* The owner table, filled by hand with more keys than its first index
 * size (collisions, growth): neighbours and keys far apart. */
#include <string.h>
#include "owner.h"
#include "unit.h"

int main(void)
{
	char comm[TASK_COMM_LEN];
	__u32 pid = 0;

	{
		struct owner_table *t = owner_table_new();
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
		CHECK(!owner_table_find(t, 0, &pid, comm));
		owner_table_free(t);
	}
	{
		/* a process's files one after the other share its name */
		struct owner_table *t = owner_table_new();

		REQUIRE(t && !owner_table_add(t, 10, 77, "server") &&
			!owner_table_add(t, 11, 77, "server") &&
			!owner_table_add(t, 12, 78, "a-very-long-command-name") &&
			!owner_table_index(t));
		CHECK(owner_table_find(t, 11, &pid, comm) && pid == 77 && !strcmp(comm, "server"));
		CHECK(owner_table_find(t, 12, &pid, comm) && pid == 78 &&
		      !strcmp(comm, "a-very-long-com"));
		owner_table_free(t);
	}
	CHECK(!owner_table_find(NULL, 1, &pid, comm));
	return unit_done("owner");
}
