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

int text_utf8_len(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	int n = u[0] < 0x80 ? 1 : u[0] >= 0xc2 && u[0] <= 0xdf ? 2 : u[0] >= 0xe0 && u[0] <= 0xef ? 3
		: u[0] >= 0xf0 && u[0] <= 0xf4 ? 4 : 0;

	for (int i = 1; i < n; i++)
		if ((u[i] & 0xc0) != 0x80)
			return 0;
	/* overlong (E0 80-9F, F0 80-8F), surrogates (ED A0-BF), past
	 * U+10FFFF (F4 90-BF) */
	if ((u[0] == 0xe0 && u[1] < 0xa0) || (u[0] == 0xed && u[1] > 0x9f) ||
	    (u[0] == 0xf0 && u[1] < 0x90) || (u[0] == 0xf4 && u[1] > 0x8f))
		return 0;
	return n;
}

char *text_utf8_char(char *p, const char **s)
{
	int n = text_utf8_len(*s);

	if (!n) {
		(*s)++;
		return stpcpy(p, "\xef\xbf\xbd");	/* U+FFFD */
	}
	memcpy(p, *s, n);
	*s += n;
	return p + n;
}

char *text_json_string(char *p, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	*p++ = '"';
	while (*s) {
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
			p = text_utf8_char(p, &s);
			continue;
		}
		s++;
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
