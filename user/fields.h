/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Records as tables of fields. A kind of record is one table; the same
 * table writes it as a JSON object, a CSV row (and the CSV header), and
 * fixed-width columns (and their titles), so a fact has one key and one
 * column wherever it comes out. The keys are documented, and checked by
 * the tests, in doc/schema.json.
 */
#ifndef FIELDS_H
#define FIELDS_H
#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "tcpkawatch.h"
#include "workload.h"

enum val_kind {
	VAL_NULL,	/* unknown or not applicable: JSON null, CSV empty, "-" */
	VAL_NUM,	/* num */
	VAL_BOOL,	/* num != 0: JSON true/false, CSV 1/0, "on"/"off" */
	VAL_STR,	/* str */
	VAL_DECIMAL,	/* a number already written in buf ("1764.250000") */
};

struct field_val {
	enum val_kind kind;
	long long num;
	const char *str;
	char buf[160];	/* for a getter that writes its text */
};

/* What a record's fields are read from: who the connection is, and the
 * kind's own data. */
struct out_row {
	__u32 netns;
	const struct conn_tuple *t;	/* NULL: no connection (lost) */
	__u32 pid;			/* 0: unknown */
	const char *comm;
	const struct workload *workload;	/* NULL: unknown (workload_of()) */
	const void *rec;		/* ka_event, conn_record, list_record, ... */
	const void *ctx;		/* what else the kind's getters need */
};

/* A column as wide as "addr:port" needs: the width of endpoint columns */
#define FIELD_ENDPOINT 0x7fff

struct field {
	const char *key;	/* JSON key, CSV column; NULL: a column only */
	const char *title;	/* column title; NULL: not a column */
	int width;		/* column width: > 0 right-, < 0 left-aligned;
				 * -FIELD_ENDPOINT: the caller's endpoint width */
	bool seconds;		/* column: a _ms value shown as "1.3s" */
	void (*get)(const struct out_row *row, struct field_val *v);
};

struct record_kind {
	const struct field *fields;
	size_t n;
};

#define RECORD_KIND(table) { table, sizeof(table) / sizeof((table)[0]) }

/* The longest line a writer can make: every field at its widest, a
 * cgroup path of control characters (\u00XX) among them. */
#define RECORD_LINE_LEN (4096 + 6 * WORKLOAD_CGROUP_MAX)

/* Each writes one line, '\n' included, '\0' not, at p (RECORD_LINE_LEN
 * bytes at most), and returns its end. */
char *record_json(char *p, const struct record_kind *k, const struct out_row *row);
char *record_csv(char *p, const struct record_kind *k, const struct out_row *row);
char *record_csv_header(char *p, const struct record_kind *k);
char *record_columns(char *p, const struct record_kind *k, const struct out_row *row,
		     int endpoint_width);
char *record_titles(char *p, const struct record_kind *k, int endpoint_width);

/* The endpoint column's width for the families shown: AF_INET, AF_INET6,
 * or 0 for both (IPv6 wider than this is kept whole). */
int endpoint_width(int family);

#endif
