// SPDX-License-Identifier: GPL-2.0
/* fields.c: one table of fields, written in every format. */
#include <string.h>
#include "fields.h"
#include "unit.h"

struct sample {
	long long n, ms;
	const char *s;
	int on;
};

#define SAMPLE(row) ((const struct sample *)(row)->rec)

static void get_n(const struct out_row *row, struct field_val *v)
{
	v->kind = VAL_NUM;
	v->num = SAMPLE(row)->n;
}

static void get_s(const struct out_row *row, struct field_val *v)
{
	v->kind = VAL_STR;
	v->str = SAMPLE(row)->s;
}

static void get_on(const struct out_row *row, struct field_val *v)
{
	v->kind = VAL_BOOL;
	v->num = SAMPLE(row)->on;
}

static void get_null(const struct out_row *row, struct field_val *v)
{
	(void)row;
	(void)v;
}

static void get_ms(const struct out_row *row, struct field_val *v)
{
	v->kind = VAL_NUM;
	v->num = SAMPLE(row)->ms;
}

static void get_shown(const struct out_row *row, struct field_val *v)
{
	strcpy(v->buf, SAMPLE(row)->s);
	strcat(v->buf, "!");
	v->kind = VAL_STR;
	v->str = v->buf;
}

static const struct field fields[] = {
	{ "n", "N", 4, false, get_n },
	{ "s", NULL, 0, false, get_s },
	{ NULL, "SHOWN", -FIELD_ENDPOINT, false, get_shown },
	{ "on", "KA", -3, false, get_on },
	{ "z", "Z", 2, false, get_null },
	{ "silence_ms", "SILENCE", -8, true, get_ms },
};

static const struct record_kind kind = RECORD_KIND(fields);

static char buf[RECORD_LINE_LEN];

static const char *str(char *end)
{
	*end = '\0';
	return buf;
}

int main(void)
{
	struct sample x = { .n = -7, .ms = 1250, .s = "a,\"b\"", .on = 1 };
	struct out_row row = { .rec = &x };

	CHECK(!strcmp(str(record_json(buf, &kind, &row)),
		      "{\"n\":-7,\"s\":\"a,\\\"b\\\"\",\"on\":true,\"z\":null,\"silence_ms\":1250}\n"));
	CHECK(!strcmp(str(record_csv(buf, &kind, &row)), "-7,\"a,\"\"b\"\"\",1,,1250\n"));
	CHECK(!strcmp(str(record_csv_header(buf, &kind)), "n,s,on,z,silence_ms\n"));
	/* right- and left-aligned, the endpoint width given, the last column
	 * unpadded, null as "-", bool as on/off, milliseconds as seconds */
	CHECK(!strcmp(str(record_titles(buf, &kind, 7)), "   N SHOWN   KA   Z SILENCE\n"));
	CHECK(!strcmp(str(record_columns(buf, &kind, &row, 7)), "  -7 a,\"b\"!  on   - 1.3s\n"));
	x.on = 0;
	x.s = "longer than 7";	/* kept whole */
	CHECK(!strcmp(str(record_columns(buf, &kind, &row, 7)),
		      "  -7 longer than 7! off  - 1.3s\n"));
	CHECK(endpoint_width(0) > endpoint_width(2));	/* both families wider than IPv4 */
	return unit_done("fields");
}
