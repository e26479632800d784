/* SPDX-License-Identifier: GPL-2.0 */
/* Appending numbers and strings to a line without printf, for output that
 * runs once a socket (list over 100,000 sockets: printf was a third of
 * its time). Each call writes at p and returns the new end; the caller
 * sizes the buffer and adds the final '\0' if it needs one. */
#ifndef TEXT_H
#define TEXT_H

char *text_u64(char *p, unsigned long long v);
char *text_s64(char *p, long long v);
/* milliseconds as seconds with one decimal, rounded half away from 0 ("1.3") */
char *text_tenths(char *p, long long ms);
/* the text from start to p, padded with spaces to width: left-aligned
 * (printf's %-Ns) or right-aligned (%Ns); longer text is kept whole */
char *text_ljust(const char *start, char *p, int width);
char *text_rjust(char *start, char *p, int width);
/* a JSON string literal, quoted and escaped: up to 6 * strlen(s) + 2 bytes */
char *text_json_string(char *p, const char *s);
/* a CSV field, quoted when it holds a comma, a quote or a newline:
 * up to 2 * strlen(s) + 2 bytes */
char *text_csv_field(char *p, const char *s);

#endif
