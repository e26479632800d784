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
/* The bytes of the well-formed UTF-8 character at s (1 to 4), or 0 if
 * s starts no such character (a stray or overlong byte, a surrogate). */
int text_utf8_len(const char *s);
/* The UTF-8 character at *s, or U+FFFD for a byte that starts none, at p;
 * *s moves past what was read. Names from the system (cgroups, commands)
 * are bytes: JSON and Prometheus' text format want UTF-8. */
char *text_utf8_char(char *p, const char **s);
/* a JSON string literal, quoted and escaped: up to 6 * strlen(s) + 2 bytes */
char *text_json_string(char *p, const char *s);
/* a CSV field, quoted when it holds a comma, a quote or a newline:
 * up to 2 * strlen(s) + 2 bytes */
char *text_csv_field(char *p, const char *s);

#endif
