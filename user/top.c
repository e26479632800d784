// SPDX-License-Identifier: GPL-2.0
/* `tcpkawatch top`: a live view of connections by unanswered probes, then
 * silence, with the deaths seen by cause; a snapshot each second. */
#include <argp.h>
#include <curses.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "args.h"
#include "array.h"
#include "decode.h"
#include "kernel.h"
#include "owner.h"
#include "records.h"
#include "snapshot.h"
#include "top.h"
#include "watch.h"

struct top_row {
	struct list_record r;
	__u32 netns;
};

struct top {
	struct snapshot *snap;
	struct owner_table *owners;	/* of the last snapshot */
	__u64 deaths[CAUSE_MAX];
	struct top_row *rows;
	size_t n, cap;
	size_t scroll;
	struct netns_skipped skipped;	/* by the last snapshot */
	struct timespec last_draw;
	bool screen;
};

static void top_event(void *ctx, const struct ka_event *e)
{
	struct top *t = ctx;

	if (e->type == EV_DEATH && e->cause < CAUSE_MAX)
		t->deaths[e->cause]++;
}

static void collect(void *ctx, const struct list_record *r, __u32 netns)
{
	struct top *t = ctx;

	if (!r->full || r->state == TCP_LISTEN)
		return;
	if (ARRAY_RESERVE(t->rows, t->cap, t->n, 256))
		return;
	t->rows[t->n].r = *r;
	t->rows[t->n++].netns = netns;
}

/* Unanswered probes first, then the longest silence. */
static int by_risk(const void *a, const void *b)
{
	const struct list_record *x = &((const struct top_row *)a)->r;
	const struct list_record *y = &((const struct top_row *)b)->r;

	if (x->probes_out != y->probes_out)
		return y->probes_out - x->probes_out;
	return x->silence_ms < y->silence_ms ? 1 : x->silence_ms > y->silence_ms ? -1 : 0;
}

static void draw(struct top *t, const struct lost_counts *l)
{
	char line[RECORD_LINE_LEN], comm[TASK_COMM_LEN];
	__u64 lost = l->ringbuf_lost + l->untracked_connections + l->hook_misses;
	int width = endpoint_width(0);
	size_t probing = 0, shown;
	int y = 0;

	for (size_t i = 0; i < t->n; i++)
		probing += is_probing(&t->rows[i].r);
	erase();
	mvprintw(y++, 0, "tcpkawatch top: %zu connection(s), %zu probing an unanswering peer"
		 "   (q quits, arrows scroll)", t->n, probing);
	move(y++, 0);
	printw("deaths:");
	for (int c = CAUSE_KEEPALIVE; c < CAUSE_MAX; c++)
		printw(" %s %llu", cause_name(c), (unsigned long long)t->deaths[c]);
	if (lost)
		printw("   LOST %llu", (unsigned long long)lost);
	if (t->skipped.count) {
		char text[NETNS_SKIPPED_TEXT_LEN];

		netns_skipped_text(&t->skipped, text, sizeof(text));
		mvaddstr(y++, 0, text);
	}
	y++;
	attron(A_REVERSE);
	record_titles(line, &socket_record, width)[-1] = '\0';	/* the '\n' */
	mvaddstr(y++, 0, line);
	attroff(A_REVERSE);
	if (t->scroll >= t->n)
		t->scroll = t->n ? t->n - 1 : 0;
	for (shown = t->scroll; shown < t->n && y < LINES; shown++, y++) {
		struct out_row row = {
			.netns = t->rows[shown].netns, .t = &t->rows[shown].r.t, .comm = comm,
			.rec = &t->rows[shown].r,
		};

		owner_table_find(t->owners, t->rows[shown].r.sock, &row.pid, comm);
		record_columns(line, &socket_record, &row, width)[-1] = '\0';
		mvaddstr(y, 0, line);
	}
	refresh();
}

static bool top_tick(void *ctx, const struct lost_counts *l)
{
	struct top *t = ctx;
	struct timespec now;
	bool redraw = false;
	int key;

	if (!t->screen) {
		initscr();
		cbreak();
		noecho();
		keypad(stdscr, TRUE);
		nodelay(stdscr, TRUE);
		curs_set(0);
		t->screen = true;
		redraw = true;
	}
	while ((key = getch()) != ERR) {
		if (key == 'q' || key == 'Q')
			return false;
		if (key == KEY_DOWN && t->scroll + 1 < t->n)
			t->scroll++;
		else if (key == KEY_UP && t->scroll)
			t->scroll--;
		else if (key == KEY_NPAGE)
			t->scroll += LINES / 2;
		else if (key == KEY_PPAGE)
			t->scroll = t->scroll > (size_t)LINES / 2 ? t->scroll - LINES / 2 : 0;
		redraw = true;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec != t->last_draw.tv_sec || redraw) {
		if (now.tv_sec != t->last_draw.tv_sec) {
			t->n = 0;
			snapshot_walk(t->snap, 0, collect, t, &t->skipped);
			owner_table_free(t->owners);
			t->owners = snapshot_owners(t->snap);
			qsort(t->rows, t->n, sizeof(*t->rows), by_risk);
		}
		draw(t, l);
		t->last_draw = now;
	}
	return true;
}

static const char top_doc[] =
"A live full-screen view of TCP connections in every network namespace,\n"
"those with unanswered keepalive probes first, then the longest silent,\n"
"refreshed each second, with the deaths seen since start by cause.\n"
"Keys: q quits; up and down arrows, page up and page down scroll.\n";

static const struct argp_option top_options[] = {
	COMMON_OPTIONS,
	{},
};

static error_t top_parse(int key, char *arg, struct argp_state *state)
{
	return common_parse(key, arg, state);
}

int top_main(int argc, char **argv)
{
	static const struct argp argp = {
		.options = top_options,
		.parser = top_parse,
		.doc = top_doc,
	};
	struct top t = {};
	struct watch_opts wopts = {};
	struct watch_sink sink = {
		.event = top_event,
		.tick = top_tick,
		.ready = "Starting tcpkawatch top. Ctrl-C to end.",
		.ctx = &t,
	};
	int err;

	parse_command(&argp, "tcpkawatch top", argc, argv, NULL);
	if (check_privileges("top", PRIV_OBSERVE | PRIV_NETNS, NULL))
		return 1;
	if (!isatty(STDOUT_FILENO)) {
		fprintf(stderr, "tcpkawatch: top needs a terminal; for a snapshot use "
			"tcpkawatch list\n");
		return 1;
	}
	t.snap = snapshot_open(false, false);
	if (!t.snap)
		return 1;
	err = watch(&wopts, &sink);
	if (t.screen)
		endwin();
	snapshot_close(t.snap);
	owner_table_free(t.owners);
	free(t.rows);
	return err;
}
