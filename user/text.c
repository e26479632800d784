// SPDX-License-Identifier: GPL-2.0
#include <string.h>
#include "text.h"

char *text_u64(char *p, unsigned long long v)
{
	char digits[20], *d = digits + sizeof(digits);

	do {
		*--d = '0' + v % 10;
		v /= 10;
	} while (v);
	memcpy(p, d, digits + sizeof(digits) - d);
	return p + (digits + sizeof(digits) - d);
}

char *text_s64(char *p, long long v)
{
	if (v >= 0)
		return text_u64(p, v);
	*p++ = '-';
	return text_u64(p, -(unsigned long long)v);
}

char *text_tenths(char *p, long long ms)
{
	unsigned long long tenths = ((ms < 0 ? -(unsigned long long)ms : (unsigned long long)ms) + 50) / 100;

	if (ms < 0 && tenths)	/* "0.0", not "-0.0" */
		*p++ = '-';
	p = text_u64(p, tenths / 10);
	*p++ = '.';
	*p++ = '0' + tenths % 10;
	return p;
}

char *text_ljust(char *start, char *p, int width)
{
	while (p - start < width)
		*p++ = ' ';
	return p;
}

char *text_rjust(char *start, char *p, int width)
{
	int len = p - start;

	if (len >= width)
		return p;
	memmove(start + width - len, start, len);
	memset(start, ' ', width - len);
	return start + width;
}

char *text_json_string(char *p, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	*p++ = '"';
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\') {
			*p++ = '\\';
			*p++ = c;
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(p, "\\u00", 4);
			p[4] = hex[c >> 4];
			p[5] = hex[c & 15];
			p += 6;
		} else {
			*p++ = c;
		}
	}
	*p++ = '"';
	return p;
}

char *text_csv_field(char *p, const char *s)
{
	if (!strpbrk(s, ",\"\n"))
		return stpcpy(p, s);
	*p++ = '"';
	for (; *s; s++) {
		if (*s == '"')
			*p++ = '"';
		*p++ = *s;
	}
	*p++ = '"';
	return p;
}

/* "key": before a JSON value; nothing before a CSV one */
static char *json_key(char *p, enum text_record f, const char *key)
{
	return f == TEXT_JSON ? stpcpy(stpcpy(stpcpy(p, "\""), key), "\":") : p;
}

static char *header_field(char *p, const char *key)
{
	return stpcpy(stpcpy(p, key), ",");
}

char *text_field_num(char *p, enum text_record f, const char *key, long long v)
{
	if (f == TEXT_CSV_HEADER)
		return header_field(p, key);
	p = text_s64(json_key(p, f, key), v);
	*p++ = ',';
	return p;
}

char *text_field_str(char *p, enum text_record f, const char *key, const char *s)
{
	if (f == TEXT_CSV_HEADER)
		return header_field(p, key);
	p = json_key(p, f, key);
	p = f == TEXT_JSON ? text_json_string(p, s) : text_csv_field(p, s);
	*p++ = ',';
	return p;
}

char *text_field_bool(char *p, enum text_record f, const char *key, int v)
{
	if (f == TEXT_CSV_HEADER)
		return header_field(p, key);
	if (f == TEXT_JSON)
		return stpcpy(json_key(p, f, key), v ? "true," : "false,");
	return stpcpy(p, v ? "1," : "0,");
}

char *text_field_null(char *p, enum text_record f, const char *key)
{
	if (f == TEXT_CSV_HEADER)
		return header_field(p, key);
	return stpcpy(json_key(p, f, key), f == TEXT_JSON ? "null," : ",");
}
