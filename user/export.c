// SPDX-License-Identifier: GPL-2.0
/* `tcpkawatch export`: the observer's counts and a snapshot's gauges in the
 * Prometheus text format on /metrics. */
#include <argp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/tcp.h>
#include <sys/time.h>
#include <unistd.h>
#include "args.h"
#include "array.h"
#include "decode.h"
#include "records.h"
#include "export.h"
#include "kernel.h"
#include "snapshot.h"
#include "watch.h"

#define DEFAULT_LISTEN "127.0.0.1:9977"
#define MAX_PER_CONNECTION 10000

struct counter {
	__u32 netns;
	__u8 type;		/* EV_PROBE, EV_ANSWERED, EV_DEATH */
	__u8 cause;
	__s32 err;
	__u64 n;
};

struct exporter {
	int listen_fd;
	unsigned int per_conn_max;
	struct counter *counters;
	size_t n, cap;
	struct snapshot *snap;
};

/* Gauges of one scrape, per namespace. */
struct ns_gauges {
	__u32 netns;
	__u64 est_ka, est_no_ka, probing;
};

struct scrape {
	struct ns_gauges *ns;
	size_t n, cap;
	FILE *conn_series;	/* per-connection lines, if asked for */
	unsigned int conn_left;
	__u64 conn_dropped;
};

static void exporter_close(struct exporter *ex);

static int parse_listen(const char *arg, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[64];
	const char *colon = strrchr(arg, ':');
	unsigned long port;
	struct sockaddr_in *in = (void *)ss;
	struct sockaddr_in6 *in6 = (void *)ss;
	size_t hl;

	if (!colon || !parse_ulong(colon + 1, 1, 65535, &port))
		return -1;
	hl = colon - arg;
	if (hl >= sizeof(host))
		return -1;
	memcpy(host, arg, hl);
	host[hl] = '\0';
	if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		*len = sizeof(*in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return 0;
	}
	return -1;
}

/* Listen on "ADDR:PORT" (parsed already into ss, len); NULL with one
 * line on stderr on failure. */
static struct exporter *exporter_open(const char *listen_addr, const struct sockaddr_storage *ss,
				      socklen_t len, unsigned int per_conn_max)
{
	struct exporter *ex = calloc(1, sizeof(*ex));
	int one = 1;

	if (!ex)
		return NULL;
	ex->per_conn_max = per_conn_max;
	ex->listen_fd = -1;
	ex->listen_fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ex->listen_fd < 0 ||
	    setsockopt(ex->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(ex->listen_fd, (const struct sockaddr *)ss, len) || listen(ex->listen_fd, 16)) {
		fprintf(stderr, "tcpkawatch: cannot listen on %s: %s\n", listen_addr,
			strerror(errno));
		goto fail;
	}
	ex->snap = snapshot_open(false);
	if (!ex->snap)
		goto fail;
	return ex;
fail:
	exporter_close(ex);
	return NULL;
}

static void exporter_close(struct exporter *ex)
{
	if (!ex)
		return;
	if (ex->listen_fd >= 0)
		close(ex->listen_fd);
	snapshot_close(ex->snap);
	free(ex->counters);
	free(ex);
}

/* Count one event of the observer. */
static void exporter_count(struct exporter *ex, const struct ka_event *e)
{
	struct counter key = { .netns = e->netns, .type = e->type };
	size_t i;

	if (e->type == EV_CLOSE)
		return;
	if (e->type == EV_DEATH) {
		key.cause = e->cause;
		key.err = e->err;
	}
	for (i = 0; i < ex->n; i++) {
		struct counter *c = &ex->counters[i];

		if (c->netns == key.netns && c->type == key.type && c->cause == key.cause &&
		    c->err == key.err)
			break;
	}
	if (i == ex->n) {
		if (ARRAY_RESERVE(ex->counters, ex->cap, ex->n, 32))
			return;
		ex->counters[ex->n++] = key;
	}
	ex->counters[i].n++;
}

static struct ns_gauges *gauges_of(struct scrape *sc, __u32 netns)
{
	for (size_t i = 0; i < sc->n; i++)
		if (sc->ns[i].netns == netns)
			return &sc->ns[i];
	if (ARRAY_RESERVE(sc->ns, sc->cap, sc->n, 16))
		return NULL;
	sc->ns[sc->n] = (struct ns_gauges){ .netns = netns };
	return &sc->ns[sc->n++];
}

static void scrape_one(void *ctx, const struct list_record *r, __u32 netns)
{
	struct scrape *sc = ctx;
	struct ns_gauges *g = gauges_of(sc, netns);
	char laddr[ADDR_STR_LEN], raddr[ADDR_STR_LEN];

	if (!g || r->state != TCP_ESTABLISHED || !r->full)
		return;
	if (r->keepalive)
		g->est_ka++;
	else
		g->est_no_ka++;
	if (!is_probing(r))
		return;
	g->probing++;
	if (!sc->conn_series)
		return;
	if (!sc->conn_left) {
		sc->conn_dropped++;
		return;
	}
	sc->conn_left--;
	format_ip(laddr, &r->t, 0);
	format_ip(raddr, &r->t, 1);
	fprintf(sc->conn_series, "tcpkawatch_connection_unanswered_probes{netns=\"%u\",laddr=\"%s\","
		"lport=\"%u\",raddr=\"%s\",rport=\"%u\"} %u\n", netns, laddr, r->t.sport, raddr,
		r->t.dport, r->probes_out);
}

static void metric_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* tcpkawatch_KEY_total: KEY as in the JSON "lost" record */
static void lost_counter(FILE *f, const char *key, const char *help, __u64 v)
{
	char name[64];

	snprintf(name, sizeof(name), "tcpkawatch_%s_total", key);
	metric_head(f, name, "counter", help);
	fprintf(f, "%s %llu\n", name, (unsigned long long)v);
}

static void counter_family(FILE *f, const struct exporter *ex, __u8 type, const char *name,
			   const char *help)
{
	metric_head(f, name, "counter", help);
	for (size_t i = 0; i < ex->n; i++) {
		const struct counter *c = &ex->counters[i];

		if (c->type != type)
			continue;
		fprintf(f, "%s{netns=\"%u\"", name, c->netns);
		if (type == EV_DEATH)
			fprintf(f, ",cause=\"%s\",errno=\"%s\"", cause_name(c->cause),
				errno_name(c->err));
		fprintf(f, "} %llu\n", (unsigned long long)c->n);
	}
}

static void write_metrics(FILE *f, struct exporter *ex, const struct lost_counts *l)
{
	struct scrape sc = { .conn_left = ex->per_conn_max };
	char *conn_buf = NULL;
	size_t conn_len = 0;

	if (ex->per_conn_max)
		sc.conn_series = open_memstream(&conn_buf, &conn_len);
	snapshot_walk(ex->snap, 0, scrape_one, &sc);
	if (sc.conn_series)
		fclose(sc.conn_series);

	counter_family(f, ex, EV_PROBE, "tcpkawatch_keepalive_probes_total",
		       "Keepalive probes the kernel sent.");
	counter_family(f, ex, EV_ANSWERED, "tcpkawatch_keepalive_answers_total",
		       "Times a peer answered unanswered keepalive probes.");
	counter_family(f, ex, EV_DEATH, "tcpkawatch_deaths_total",
		       "Connections the kernel tore down, by cause and errno.");
	metric_head(f, "tcpkawatch_established_connections", "gauge",
		    "Established TCP connections now, with and without keepalive.");
	for (size_t i = 0; i < sc.n; i++)
		fprintf(f, "tcpkawatch_established_connections{netns=\"%u\",keepalive=\"true\"} %llu\n"
			"tcpkawatch_established_connections{netns=\"%u\",keepalive=\"false\"} %llu\n",
			sc.ns[i].netns, (unsigned long long)sc.ns[i].est_ka, sc.ns[i].netns,
			(unsigned long long)sc.ns[i].est_no_ka);
	metric_head(f, "tcpkawatch_probing_connections", "gauge",
		    "Established TCP connections with unanswered keepalive probes now.");
	for (size_t i = 0; i < sc.n; i++)
		fprintf(f, "tcpkawatch_probing_connections{netns=\"%u\"} %llu\n", sc.ns[i].netns,
			(unsigned long long)sc.ns[i].probing);
	if (ex->per_conn_max) {
		metric_head(f, "tcpkawatch_connection_unanswered_probes", "gauge",
			    "Unanswered keepalive probes of one connection (--per-connection).");
		fwrite(conn_buf, 1, conn_len, f);
		metric_head(f, "tcpkawatch_connection_series_dropped", "gauge",
			    "Probing connections left out by the --per-connection cap.");
		fprintf(f, "tcpkawatch_connection_series_dropped %llu\n",
			(unsigned long long)sc.conn_dropped);
	}
	lost_counter(f, "ringbuf_lost", "Event records lost: the ring buffer was full.",
		     l->ringbuf_lost);
	lost_counter(f, "untracked_connections",
		     "Connections not tracked: the connection table was full.",
		     l->untracked_connections);
	lost_counter(f, "hook_misses", "Runs of tcpkawatch's BPF programs the kernel skipped.",
		     l->hook_misses);
	metric_head(f, "tcpkawatch_build_info", "gauge", "tcpkawatch's version.");
	fprintf(f, "tcpkawatch_build_info{version=\"%s\"} 1\n", TCPKAWATCH_VERSION);
	free(conn_buf);
	free(sc.ns);
}

static void answer(int fd, struct exporter *ex, const struct lost_counts *l)
{
	struct timeval tv = { .tv_sec = 2 };
	char req[4096], *body = NULL, head[256];
	size_t have = 0, blen = 0;
	FILE *f;
	int n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (have < sizeof(req) - 1 && (n = read(fd, req + have, sizeof(req) - 1 - have)) > 0) {
		have += n;
		req[have] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	req[have] = '\0';
	f = open_memstream(&body, &blen);
	if (!f)
		return;
	if (!strncmp(req, "GET /metrics ", 13) || !strncmp(req, "GET /metrics?", 13)) {
		write_metrics(f, ex, l);
		fclose(f);
		n = snprintf(head, sizeof(head), "HTTP/1.0 200 OK\r\nContent-Type: text/plain; "
			     "version=0.0.4; charset=utf-8\r\nContent-Length: %zu\r\n\r\n", blen);
	} else {
		fputs("tcpkawatch: metrics are at /metrics\n", f);
		fclose(f);
		n = snprintf(head, sizeof(head), "HTTP/1.0 404 Not Found\r\nContent-Type: "
			     "text/plain\r\nContent-Length: %zu\r\n\r\n", blen);
	}
	if (write(fd, head, n) == n && blen)
		(void)!write(fd, body, blen);
	free(body);
}

/* Answer the scrapes waiting, without blocking for new ones. */
static void exporter_serve(struct exporter *ex, const struct lost_counts *l)
{
	int fd;

	while ((fd = accept4(ex->listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		answer(fd, ex, l);
		close(fd);
	}
}

static void sink_event(void *ctx, const struct ka_event *e)
{
	exporter_count(ctx, e);
}

static bool sink_tick(void *ctx, const struct lost_counts *l)
{
	exporter_serve(ctx, l);
	return true;
}

struct export_opts {
	const char *listen;
	unsigned int per_conn;
};

static const char export_doc[] =
"Serve Prometheus metrics of keepalive probes, answers and deaths (by\n"
"cause and errno) and gauges of established connections with and without\n"
"keepalive and of probing connections, per network namespace, on\n"
"http://ADDR:PORT/metrics (default " DEFAULT_LISTEN ", loopback only).\n"
"\n"
"EXAMPLES:\n"
"  tcpkawatch export\n"
"  tcpkawatch export --listen 0.0.0.0:9977   # reachable from the network\n"
"  tcpkawatch export --per-connection 100     # a series per probing connection\n";

static const struct argp_option export_options[] = {
	{ "listen", 'l', "ADDR:PORT", 0, "Where to serve (default " DEFAULT_LISTEN ")", 0 },
	{ "per-connection", 'c', "N", 0,
	  "Also a series per probing connection, at most N (1-10000; default none)", 0 },
	COMMON_OPTIONS,
	{},
};

static error_t export_parse(int key, char *arg, struct argp_state *state)
{
	struct export_opts *o = state->input;
	unsigned long v;

	switch (key) {
	case 'l':
		o->listen = arg;
		break;
	case 'c':
		if (!parse_ulong(arg, 1, MAX_PER_CONNECTION, &v))
			usage_error("invalid --per-connection '%s': 1 to %d", arg, MAX_PER_CONNECTION);
		o->per_conn = v;
		break;
	default:
		return common_parse(key, arg, state);
	}
	return 0;
}

int export_main(int argc, char **argv)
{
	static const struct argp argp = {
		.options = export_options,
		.parser = export_parse,
		.doc = export_doc,
	};
	struct export_opts o = { .listen = DEFAULT_LISTEN };
	struct sockaddr_storage addr;
	socklen_t addr_len;
	struct watch_opts wopts = {};
	struct watch_sink sink = { .event = sink_event, .tick = sink_tick };
	struct exporter *ex;
	char ready[128];
	int err;

	parse_command(&argp, "tcpkawatch export", argc, argv, &o);
	if (parse_listen(o.listen, &addr, &addr_len))
		usage_error("invalid --listen '%s': ADDR:PORT such as %s", o.listen, DEFAULT_LISTEN);
	if (check_root())
		return 1;
	ex = exporter_open(o.listen, &addr, addr_len, o.per_conn);
	if (!ex)
		return 1;
	snprintf(ready, sizeof(ready), "Serving Prometheus metrics on http://%s/metrics. "
		 "Ctrl-C to end.", o.listen);
	sink.ready = ready;
	sink.ctx = ex;
	err = watch(&wopts, &sink);
	exporter_close(ex);
	return err;
}
