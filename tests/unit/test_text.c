// SPDX-License-Identifier: GPL-2.0
/* text.c: what list writes a line per socket with, against printf. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "text.h"
#include "unit.h"

static char buf[256];

/* the text from buf to end, as a string */
static const char *str(char *end)
{
	*end = '\0';
	return buf;
}

int main(void)
{
	char expect[64], *p;
	bool agree = true;

	CHECK(!strcmp(str(text_u64(buf, 0)), "0"));
	CHECK(!strcmp(str(text_u64(buf, 18446744073709551615ULL)), "18446744073709551615"));
	CHECK(!strcmp(str(text_s64(buf, -9223372036854775807LL - 1)), "-9223372036854775808"));
	CHECK(!strcmp(str(text_s64(buf, 42)), "42"));

	/* tenths: printf's %.1f of ms / 1e3 wherever that is not a tie */
	for (long long ms = -5000; ms <= 70000; ms += 7) {
		if (ms % 50 == 0 && ms % 100 != 0)
			continue;	/* a tie: printf rounds to even, we away from 0 */
		snprintf(expect, sizeof(expect), "%.1f", ms / 1e3);
		if (!strcmp(expect, "-0.0"))
			strcpy(expect, "0.0");
		if (strcmp(str(text_tenths(buf, ms)), expect) != 0) {
			fprintf(stderr, "  %lld ms: %s, printf %s\n", ms, buf, expect);
			agree = false;
			break;
		}
	}
	CHECK(agree);
	CHECK(!strcmp(str(text_tenths(buf, 1250)), "1.3"));
	CHECK(!strcmp(str(text_tenths(buf, -1250)), "-1.3"));

	p = stpcpy(buf, "ab");
	CHECK(!strcmp(str(text_ljust(buf, p, 5)), "ab   "));
	p = stpcpy(buf, "ab");
	CHECK(!strcmp(str(text_rjust(buf, p, 5)), "   ab"));
	p = stpcpy(buf, "abcdef");
	CHECK(!strcmp(str(text_rjust(buf, p, 3)), "abcdef"));
	CHECK(!strcmp(str(text_ljust(buf, buf + 6, 3)), "abcdef"));

	CHECK(!strcmp(str(text_json_string(buf, "a\"b\\c\n\x7f")), "\"a\\\"b\\\\c\\u000a\\u007f\""));
	/* UTF-8 kept; a byte that starts no character becomes U+FFFD */
	CHECK(!strcmp(str(text_json_string(buf, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7")),
		      "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7\""));
	CHECK(!strcmp(str(text_json_string(buf, "a\xff" "b\xc3")), "\"a\xef\xbf\xbd" "b\xef\xbf\xbd\""));
	CHECK(text_utf8_len("\xc0\x80") == 0 && text_utf8_len("\xe0\x80\x80") == 0 &&
	      text_utf8_len("\xed\xa0\x80") == 0 && text_utf8_len("\xf4\x90\x80\x80") == 0 &&
	      text_utf8_len("\xf4\x8f\xbf\xbf") == 4 && text_utf8_len("\xe2\x82") == 0);
	CHECK(!strcmp(str(text_csv_field(buf, "plain")), "plain"));
	CHECK(!strcmp(str(text_csv_field(buf, "a,\"b\"")), "\"a,\"\"b\"\"\""));

	return unit_done("text");
}
