// SPDX-License-Identifier: GPL-2.0
/* export's per-workload series: --labels, label text, the cap and
 * "_other", forgetting. */
#include <string.h>
#include "series.h"
#include "tcpkawatch.h"
#include "unit.h"

static void count_labels(void *ctx, struct series *s)
{
	(void)s;
	(*(int *)ctx)++;
}

int main(void)
{
	struct workload w = { .cgroup = "/a \"b\"\\c\nd", .container_id = "c1", .pod_uid = "" };
	char text[SERIES_LABELS_LEN];
	struct series_set set;
	struct series *a, *b;
	int n = 0;

	CHECK(series_labels_parse("pod_uid,container_id") == (LABEL_POD_UID | LABEL_CONTAINER_ID));
	CHECK(series_labels_parse("netns") == LABEL_NETNS);
	CHECK(series_labels_parse("none") == 0);
	CHECK(series_labels_parse("") == -1);
	CHECK(series_labels_parse("pod") == -1);
	CHECK(series_labels_parse("cgroup,") == -1);
	CHECK(series_labels_parse("cgroup,,netns") == -1);

	/* the order is fixed, values escaped as the text format says */
	series_labels(text, LABEL_NETNS | LABEL_CGROUP | LABEL_POD_UID, &w, 42);
	CHECK(!strcmp(text, "pod_uid=\"\",cgroup=\"/a \\\"b\\\"\\\\c\\nd\",netns=\"42\""));
	/* a byte that is no UTF-8: U+FFFD (Prometheus refuses the scrape) */
	strcpy(w.cgroup, "/a\xff");
	series_labels(text, LABEL_CGROUP, &w, 0);
	CHECK(!strcmp(text, "cgroup=\"/a\xef\xbf\xbd\""));
	series_labels(text, LABEL_CONTAINER_ID, NULL, 0);
	CHECK(!strcmp(text, "container_id=\"\""));
	series_labels(text, 0, &w, 1);
	CHECK(!strcmp(text, ""));

	/* two workloads of their own, the third is "_other", counted */
	series_set_init(&set, LABEL_CONTAINER_ID | LABEL_NETNS, 2);
	a = series_get(&set, "container_id=\"a\"");
	REQUIRE(a && series_get(&set, "container_id=\"a\"") == a);
	b = series_get(&set, "container_id=\"b\"");
	REQUIRE(b && b != a);
	CHECK(!series_count(a, EV_DEATH, 1, 110) && !series_count(a, EV_DEATH, 1, 110) &&
	      !series_count(a, EV_PROBE, 0, 0));
	CHECK(a->n == 2 && a->counters[0].n == 2 && a->counters[1].n == 1);
	b = series_get(&set, "container_id=\"c\"");
	REQUIRE(b && b == set.other);
	CHECK(!strcmp(b->labels, "container_id=\"_other\",netns=\"_other\""));
	CHECK(series_get(&set, "container_id=\"d\"") == b);
	CHECK(set.n == 2 && series_find(&set, "container_id=\"c\"") == NULL);
	b = series_find(&set, "container_id=\"b\"");
	series_for_each(&set, count_labels, &n);
	CHECK(n == 3);

	/* forgotten: neither an event nor a socket for 10 (units of time) */
	a->event_ns = 100;
	b->event_ns = 50;
	b->live_ns = 95;
	set.other->event_ns = 95;
	series_forget(&set, 105, 10);
	CHECK(set.n == 2 && set.other);
	series_forget(&set, 106, 10);	/* b's socket was last seen at 95 */
	CHECK(set.n == 1 && series_find(&set, "container_id=\"a\"") == a && !set.other);
	series_set_free(&set);
	return unit_done("series");
}
