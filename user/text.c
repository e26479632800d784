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

char *text_ljust(const char *start, char *p, int width)
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
