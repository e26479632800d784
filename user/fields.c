// SPDX-License-Identifier: GPL-2.0
#include <string.h>
#include <sys/socket.h>
#include "fields.h"
#include "text.h"

/* How each format writes a value that is not a number */
struct value_format {
	const char *null, *yes, *no;
	char *(*str)(char *p, const char *s);
};

static const struct value_format json_format = { "null", "true", "false", text_json_string };
static const struct value_format csv_format = { "", "1", "0", text_csv_field };
static const struct value_format column_format = { "-", "on", "off", stpcpy };

static char *put_value(char *p, const struct value_format *fmt, const struct field_val *v)
{
	switch (v->kind) {
	case VAL_NUM:
		return text_s64(p, v->num);
	case VAL_BOOL:
		return stpcpy(p, v->num ? fmt->yes : fmt->no);
	case VAL_STR:
		return fmt->str(p, v->str);
	case VAL_DECIMAL:
		return stpcpy(p, v->buf);
	default:
		return stpcpy(p, fmt->null);
	}
}

static char *column_value(char *p, const struct field *f, const struct field_val *v)
{
	if (f->seconds && v->kind == VAL_NUM)
		return stpcpy(text_tenths(p, v->num), "s");
	return put_value(p, &column_format, v);
}

char *record_json(char *p, const struct record_kind *k, const struct out_row *row)
{
	struct field_val v;

	*p++ = '{';
	for (size_t i = 0; i < k->n; i++) {
		const struct field *f = &k->fields[i];

		if (!f->key)
			continue;
		v.kind = VAL_NULL;
		f->get(row, &v);
		p = stpcpy(stpcpy(stpcpy(p, "\""), f->key), "\":");
		p = put_value(p, &json_format, &v);
		*p++ = ',';
	}
	if (p[-1] == ',')
		p--;
	return stpcpy(p, "}\n");
}

char *record_csv(char *p, const struct record_kind *k, const struct out_row *row)
{
	struct field_val v;
	char *start = p;

	for (size_t i = 0; i < k->n; i++) {
		const struct field *f = &k->fields[i];

		if (!f->key)
			continue;
		if (p != start)
			*p++ = ',';
		v.kind = VAL_NULL;
		f->get(row, &v);
		p = put_value(p, &csv_format, &v);
	}
	*p++ = '\n';
	return p;
}

char *record_csv_header(char *p, const struct record_kind *k)
{
	char *start = p;

	for (size_t i = 0; i < k->n; i++) {
		if (!k->fields[i].key)
			continue;
		if (p != start)
			*p++ = ',';
		p = stpcpy(p, k->fields[i].key);
	}
	*p++ = '\n';
	return p;
}

/* text from start to p as column f (the last one unpadded) */
static char *align(char *start, char *p, const struct field *f, bool last, int endpoint_width)
{
	int width = f->width == -FIELD_ENDPOINT ? -endpoint_width : f->width;

	if (width > 0)
		p = text_rjust(start, p, width);
	else if (!last)
		p = text_ljust(start, p, -width);
	return p;
}

static bool is_last_column(const struct record_kind *k, size_t i)
{
	while (++i < k->n)
		if (k->fields[i].title)
			return false;
	return true;
}

/* The columns of row, or with row NULL their titles */
static char *columns(char *p, const struct record_kind *k, const struct out_row *row,
		     int endpoint_width)
{
	struct field_val v;
	char *start = p;

	for (size_t i = 0; i < k->n; i++) {
		const struct field *f = &k->fields[i];
		char *col, *end;

		if (!f->title)
			continue;
		if (p != start)
			*p++ = ' ';
		col = p;
		if (row) {
			v.kind = VAL_NULL;
			f->get(row, &v);
			end = column_value(col, f, &v);
		} else {
			end = stpcpy(col, f->title);
		}
		p = align(col, end, f, is_last_column(k, i), endpoint_width);
	}
	*p++ = '\n';
	return p;
}

char *record_columns(char *p, const struct record_kind *k, const struct out_row *row,
		     int endpoint_width)
{
	return columns(p, k, row, endpoint_width);
}

char *record_titles(char *p, const struct record_kind *k, int endpoint_width)
{
	return columns(p, k, NULL, endpoint_width);
}

int endpoint_width(int family)
{
	/* "255.255.255.255:65535"; "[ffff:...:ffff]:65535" */
	return family == AF_INET ? 21 : family == AF_INET6 ? 47 : 27;
}
