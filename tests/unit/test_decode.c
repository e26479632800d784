// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>
#include "decode.h"
#include "clock.h"
#include "unit.h"

static struct conn_tuple tuple(int family, const char *src, const char *dst, int sp, int dp)
{
	struct conn_tuple t = { .family = family, .sport = sp, .dport = dp };

	inet_pton(family, src, t.saddr);
	inet_pton(family, dst, t.daddr);
	return t;
}

int main(void)
{
	struct conn_tuple v4 = tuple(AF_INET, "10.0.0.1", "192.168.1.2", 40000, 443);
	struct conn_tuple v6 = tuple(AF_INET6, "::1", "fd00::2", 5000, 65535);
	char buf[ADDR_STR_LEN];

	CHECK(!strcmp(event_name(EV_PROBE), "probe"));
	CHECK(!strcmp(event_name(EV_ANSWERED), "answered"));
	CHECK(!strcmp(event_name(EV_DEATH), "death"));
	CHECK(!strcmp(event_name(99), "unknown"));

	CHECK(!strcmp(cause_name(CAUSE_KEEPALIVE), "keepalive"));
	CHECK(!strcmp(cause_name(CAUSE_USER_TIMEOUT), "user_timeout"));
	CHECK(!strcmp(cause_name(CAUSE_RETRANSMIT), "retransmit"));
	CHECK(!strcmp(cause_name(CAUSE_ZERO_WINDOW), "zero_window"));
	CHECK(!strcmp(cause_name(CAUSE_SYN_TIMEOUT), "syn_timeout"));
	CHECK(!strcmp(cause_name(CAUSE_RESET), "reset"));
	CHECK(!strcmp(cause_name(CAUSE_UNREACHABLE), "unreachable"));
	CHECK(!strcmp(cause_name(CAUSE_LOCAL_ABORT), "local_abort"));
	CHECK(!strcmp(cause_name(CAUSE_MAX), "unknown"));
	CHECK(!strcmp(cause_name(-1), "unknown"));

	CHECK(!strcmp(tcp_state_name(1), "ESTABLISHED"));
	CHECK(!strcmp(tcp_state_name(2), "SYN_SENT"));
	CHECK(!strcmp(tcp_state_name(8), "CLOSE_WAIT"));
	CHECK(!strcmp(tcp_state_name(10), "LISTEN"));
	CHECK(!strcmp(tcp_state_name(0), "UNKNOWN"));
	CHECK(!strcmp(tcp_state_name(200), "UNKNOWN"));

	CHECK(!strcmp(ka_source_name(KA_SRC_NONE), "none"));
	CHECK(!strcmp(ka_source_name(KA_SRC_APP), "app"));
	CHECK(!strcmp(ka_source_name(KA_SRC_ENFORCED), "enforced"));
	CHECK(!strcmp(ka_source_name(0), "unknown"));

	CHECK(!strcmp(errno_name(110), "ETIMEDOUT"));
	CHECK(!strcmp(errno_name(104), "ECONNRESET"));
	CHECK(!strcmp(errno_name(111), "ECONNREFUSED"));
	CHECK(!strcmp(errno_name(32), "EPIPE"));
	CHECK(!strcmp(errno_name(113), "EHOSTUNREACH"));
	CHECK(!strcmp(errno_name(103), "ECONNABORTED"));
	CHECK(!strcmp(errno_name(0), "0"));

	format_ip(buf, &v4, 0);
	CHECK(!strcmp(buf, "10.0.0.1"));
	format_ip(buf, &v4, 1);
	CHECK(!strcmp(buf, "192.168.1.2"));
	format_endpoint(buf, &v4, 0);
	CHECK(!strcmp(buf, "10.0.0.1:40000"));
	format_endpoint(buf, &v4, 1);
	CHECK(!strcmp(buf, "192.168.1.2:443"));
	format_endpoint(buf, &v6, 0);
	CHECK(!strcmp(buf, "[::1]:5000"));
	format_endpoint(buf, &v6, 1);
	CHECK(!strcmp(buf, "[fd00::2]:65535"));

	/* HZ from TICK_NSEC = (NSEC_PER_SEC + HZ/2) / HZ, for every HZ Kconfig offers */
	CHECK(hz_from_tick_ns(10000000) == 100);
	CHECK(hz_from_tick_ns(4000000) == 250);
	CHECK(hz_from_tick_ns(3333333) == 300);
	CHECK(hz_from_tick_ns(1000000) == 1000);
	CHECK(hz_from_tick_ns(0) == 0);
	CHECK(kernel_hz() >= 100 && kernel_hz() <= 1000);
	return unit_done("decode");
}
