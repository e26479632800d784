// SPDX-License-Identifier: GPL-2.0
/* `tcpkawatch export`: the observer's counts and a snapshot's gauges in the
 * Prometheus text format on /metrics, and /healthz, served by libmicrohttpd
 * on a thread of its own; with --web-config, over TLS and behind basic
 * auth. */
#include <argp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <search.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/tcp.h>
#include <unistd.h>
#include <microhttpd.h>
#include "args.h"
#include "cgroup.h"
#include "clock.h"
#include "decode.h"
#include "records.h"
#include "export.h"
#include "kernel.h"
#include "series.h"
#include "snapshot.h"
#include "watch.h"
#include "webauth.h"
#include "webconfig.h"

#define DEFAULT_LISTEN "127.0.0.1:9977"
#define MAX_PER_CONNECTION 10000
/* Identity labels where the cgroup tree has no kubepods (--labels auto) */
#define DEFAULT_HOST_LABELS "cgroup,netns"
#define DEFAULT_KUBERNETES_LABELS "pod_uid,container_id"
#define DEFAULT_MAX_WORKLOADS 2000
#define MAX_MAX_WORKLOADS 1000000
#define DEFAULT_FORGET_AFTER_S 600

/* The HTTP server's limits (README, "Export"). Every client waits on
 * one polling thread, so an idle or slow one costs a socket and its
 * buffer, never a thread or the observer's time. */
#define HTTP_CONNECTION_LIMIT 512U	/* clients at once: fds and buffers */
#define HTTP_TIMEOUT_S 10U		/* a client silent this long is closed */
#define HTTP_MEMORY_LIMIT 16384U	/* a client's request buffer, bytes */
/* /healthz fails once the observer's loop (a tick about every 100 ms) has
 * not run for this long */
#define HEALTHY_TICK_AGE_NS (5 * 1000000000ULL)
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define AUTH_REALM "tcpkawatch"
/* TLS 1.2 and 1.3, as exporter-toolkit's default min_version */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* The observer (main thread) writes the counts, losses and tick time;
 * the HTTP thread reads them under the lock. Only the HTTP thread uses the
 * snapshot: its one polling thread runs one request at a time, so scrapes
 * never share the iterator link at once. */
struct exporter {
	struct MHD_Daemon *httpd;
	const struct web_config *web;
	struct web_auth *auth;	/* NULL: no basic auth */
	struct snapshot *snap;
	unsigned int per_conn_max;
	__u64 forget_ns;	/* --forget-after */
	pthread_mutex_t lock;
	struct series_set counters;	/* by workload, its gauges too */
	__u64 events_over_limit;	/* counted in counters.other */
	struct lost_counts lost;
	__u64 tick_ns;		/* the observer's last tick; 0 before the first */
	unsigned int netns_skipped;	/* by the last scrape (HTTP thread only) */
};

/* One scrape: its sockets' gauges by workload (struct series), before
 * they join the exporter's series. */
struct scrape {
	struct series_set gauges;	/* its labels: --labels */
	void *by_socket;	/* struct socket_series by cgroup and netns (tsearch):
				 * each formatted once a scrape */
	__u64 now_ns;
	FILE *conn_series;	/* per-connection lines, if asked for */
	unsigned int conn_left;
	__u64 conn_dropped;
};

static void exporter_close(struct exporter *ex);

/* A Kubernetes node: the kubelet's cgroups, by either cgroup driver */
static bool kubernetes_node(void)
{
	char root[PATH_MAX], path[PATH_MAX + 16];
	struct stat st;

	if (cgroup2_root(root, sizeof(root)))
		return false;
	snprintf(path, sizeof(path), "%s/kubepods.slice", root);
	if (!stat(path, &st))
		return true;
	snprintf(path, sizeof(path), "%s/kubepods", root);
	return !stat(path, &st);
}

static int parse_listen(const char *arg, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *in = (void *)ss;
	struct sockaddr_in6 *in6 = (void *)ss;
	unsigned int port;
	__u8 addr[16];
	int family;

	if (!parse_endpoint(arg, strlen(arg), &family, addr, &port))
		return -1;
	memset(ss, 0, sizeof(*ss));
	ss->ss_family = family;
	if (family == AF_INET) {
		memcpy(&in->sin_addr, addr, 4);
		in->sin_port = htons(port);
		*len = sizeof(*in);
	} else {
		memcpy(&in6->sin6_addr, addr, 16);
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
	}
	return 0;
}

/* A listening socket on ss; -1 with one line naming listen_addr. */
static int listen_on(const char *listen_addr, const struct sockaddr_storage *ss, socklen_t len)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd >= 0 && !setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) &&
	    !bind(fd, (const struct sockaddr *)ss, len) && !listen(fd, SOMAXCONN))
		return fd;
	fprintf(stderr, "tcpkawatch: cannot listen on %s: %s\n", listen_addr, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
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

/* One sample: name{labels,more} value, the braces only around something */
static void sample(FILE *f, const char *name, const char *labels, const char *more,
		   unsigned long long v)
{
	const char *sep = *labels && *more ? "," : "";

	if (*labels || *more)
		fprintf(f, "%s{%s%s%s} %llu\n", name, labels, sep, more, v);
	else
		fprintf(f, "%s %llu\n", name, v);
}

struct family_walk {
	FILE *f;
	const char *name;
	__u8 type;
};

static void counter_samples(void *ctx, struct series *s)
{
	const struct family_walk *w = ctx;
	char more[96] = "";

	for (size_t i = 0; i < s->n; i++) {
		const struct series_counter *c = &s->counters[i];

		if (c->type != w->type)
			continue;
		if (c->type == EV_DEATH)
			snprintf(more, sizeof(more), "cause=\"%s\",errno=\"%s\"",
				 cause_name(c->cause), errno_name(c->err));
		sample(w->f, w->name, s->labels, more, c->n);
	}
}

/* Called with ex->lock held. */
static void counter_family(FILE *f, const struct exporter *ex, __u8 type, const char *name,
			   const char *help)
{
	struct family_walk w = { f, name, type };

	metric_head(f, name, "counter", help);
	series_for_each(&ex->counters, counter_samples, &w);
}

static void zero_gauges(void *ctx, struct series *s)
{
	(void)ctx;
	s->est_ka = s->est_no_ka = s->probing = 0;
}

/* A scrape's gauges of one workload into the exporter's series of it,
 * which it keeps alive (called with ex->lock held) */
static void add_gauges(void *ctx, struct series *g)
{
	struct exporter *ex = ctx;
	struct series *s = series_get(&ex->counters, g->labels);

	if (!s)
		return;
	s->est_ka += g->est_ka;	/* "_other" takes several */
	s->est_no_ka += g->est_no_ka;
	s->probing += g->probing;
	s->live_ns = g->live_ns;
}

static void gauge_samples(void *ctx, struct series *s)
{
	FILE *f = ctx;

	sample(f, "tcpkawatch_established_connections", s->labels, "keepalive=\"true\"",
	       s->est_ka);
	sample(f, "tcpkawatch_established_connections", s->labels, "keepalive=\"false\"",
	       s->est_no_ka);
}

static void probing_samples(void *ctx, struct series *s)
{
	sample(ctx, "tcpkawatch_probing_connections", s->labels, "", s->probing);
}

/* Every workload's series: the observer's counters and this scrape's
 * gauges (sc's, moved into the exporter's series under one cap), less
 * those of workloads with neither an event nor a socket for
 * --forget-after; what the observer lost so far in *lost. */
static void write_series(FILE *f, struct exporter *ex, const struct scrape *sc,
			 struct lost_counts *lost)
{
	pthread_mutex_lock(&ex->lock);
	series_for_each(&ex->counters, zero_gauges, NULL);
	series_for_each(&sc->gauges, add_gauges, ex);
	series_forget(&ex->counters, monotonic_ns(), ex->forget_ns);
	counter_family(f, ex, EV_PROBE, "tcpkawatch_keepalive_probes_total",
		       "Keepalive probes the kernel sent.");
	counter_family(f, ex, EV_ANSWERED, "tcpkawatch_keepalive_answers_total",
		       "Times a peer answered unanswered keepalive probes.");
	counter_family(f, ex, EV_DEATH, "tcpkawatch_deaths_total",
		       "Connections the kernel tore down, by cause and errno.");
	metric_head(f, "tcpkawatch_established_connections", "gauge",
		    "Established TCP connections now, with and without keepalive.");
	series_for_each(&ex->counters, gauge_samples, f);
	metric_head(f, "tcpkawatch_probing_connections", "gauge",
		    "Established TCP connections with unanswered keepalive probes now.");
	series_for_each(&ex->counters, probing_samples, f);
	metric_head(f, "tcpkawatch_workloads", "gauge",
		    "Workloads (label sets of --labels) with series now, at most --max-workloads.");
	fprintf(f, "tcpkawatch_workloads %zu\n", ex->counters.n);
	metric_head(f, "tcpkawatch_workloads_over_limit_total", "counter",
		    "Events counted under the label value \"_other\": --max-workloads was reached.");
	fprintf(f, "tcpkawatch_workloads_over_limit_total %llu\n",
		(unsigned long long)ex->events_over_limit);
	*lost = ex->lost;
	pthread_mutex_unlock(&ex->lock);
}

/* What a socket's cgroup and namespace make of its series, in a scrape */
struct socket_series {
	__u64 cgroup_id;
	__u32 netns;
	struct series *s;
};

static int by_cgroup_netns(const void *a, const void *b)
{
	const struct socket_series *x = a, *y = b;

	if (x->cgroup_id != y->cgroup_id)
		return x->cgroup_id < y->cgroup_id ? -1 : 1;
	return x->netns < y->netns ? -1 : x->netns > y->netns;
}

/* The series of a socket of the scrape, NULL when out of memory */
static struct series *gauges_of(struct scrape *sc, const struct list_record *r, __u32 netns)
{
	struct socket_series key = { r->cgroup_id, netns, NULL }, *known;
	char labels[SERIES_LABELS_LEN];
	struct workload w;
	void *node = tfind(&key, &sc->by_socket, by_cgroup_netns);

	if (node)
		return (*(struct socket_series **)node)->s;
	series_labels(labels, sc->gauges.labels, workload_of(r->cgroup_id, &w), netns);
	key.s = series_get(&sc->gauges, labels);
	known = key.s ? malloc(sizeof(*known)) : NULL;
	if (known)
		*known = key;
	if (known && !tsearch(known, &sc->by_socket, by_cgroup_netns))
		free(known);	/* not remembered: formatted again next time */
	return key.s;
}

static void scrape_one(void *ctx, const struct list_record *r, __u32 netns)
{
	struct scrape *sc = ctx;
	char laddr[ADDR_STR_LEN], raddr[ADDR_STR_LEN], more[160];
	struct series *g;

	if (!r->full)	/* TIME_WAIT, SYN_RECV: no cgroup of their own */
		return;
	g = gauges_of(sc, r, netns);
	if (!g)
		return;
	g->live_ns = sc->now_ns;
	if (r->state != TCP_ESTABLISHED)
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
	snprintf(more, sizeof(more), "laddr=\"%s\",lport=\"%u\",raddr=\"%s\",rport=\"%u\"", laddr,
		 r->t.sport, raddr, r->t.dport);
	sample(sc->conn_series, "tcpkawatch_connection_unanswered_probes", g->labels, more,
	       r->probes_out);
}

static void write_metrics(FILE *f, struct exporter *ex)
{
	struct scrape sc = { .conn_left = ex->per_conn_max };
	struct netns_skipped skipped;
	struct lost_counts lost;
	char *conn_buf = NULL;
	size_t conn_len = 0;

	series_set_init(&sc.gauges, ex->counters.labels, SIZE_MAX);	/* capped in write_series() */
	sc.now_ns = monotonic_ns();
	if (ex->per_conn_max)
		sc.conn_series = open_memstream(&conn_buf, &conn_len);
	snapshot_walk(ex->snap, 0, scrape_one, &sc, &skipped);
	if (sc.conn_series)
		fclose(sc.conn_series);
	if (skipped.count != ex->netns_skipped)	/* said once, not every scrape */
		netns_skipped_warn(&skipped);
	ex->netns_skipped = skipped.count;

	write_series(f, ex, &sc, &lost);
	metric_head(f, "tcpkawatch_netns_skipped", "gauge",
		    "Network namespaces this scrape could not enter: their connections are not counted.");
	fprintf(f, "tcpkawatch_netns_skipped %u\n", skipped.count);
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
		     lost.ringbuf_lost);
	lost_counter(f, "untracked_connections",
		     "Connections not tracked: the connection table was full.",
		     lost.untracked_connections);
	lost_counter(f, "hook_misses", "Runs of tcpkawatch's BPF programs the kernel skipped.",
		     lost.hook_misses);
	metric_head(f, "tcpkawatch_build_info", "gauge", "tcpkawatch's version.");
	fprintf(f, "tcpkawatch_build_info{version=\"%s\"} 1\n", TCPKAWATCH_VERSION);
	free(conn_buf);
	tdestroy(sc.by_socket, free);
	series_set_free(&sc.gauges);
}

/* Queue status, the response, and let go of it (MHD keeps its own
 * reference until it is sent). */
static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status,
			     struct MHD_Response *resp, const char *content_type)
{
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;	/* out of memory: MHD closes the connection */
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	if (status == MHD_HTTP_UNAUTHORIZED)	/* with WWW-Authenticate: Basic */
		ret = MHD_queue_basic_auth_fail_response(conn, AUTH_REALM, resp);
	else
		ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned int status,
				  const char *text)
{
	/* PERSISTENT: MHD sends the static string as is, never frees it */
	return reply(conn, status,
		     MHD_create_response_from_buffer(strlen(text), (void *)text,
						     MHD_RESPMEM_PERSISTENT),
		     "text/plain; charset=utf-8");
}

/* The whole body built in memory first: MHD writes it out as the client
 * takes it, however slowly, while other clients are served. */
static enum MHD_Result reply_metrics(struct MHD_Connection *conn, struct exporter *ex)
{
	char *body = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&body, &len);

	if (!f)
		return MHD_NO;
	write_metrics(f, ex);
	if (fclose(f)) {
		free(body);
		return MHD_NO;
	}
	/* MUST_FREE: MHD free()s the malloc'd buffer with the response */
	return reply(conn, MHD_HTTP_OK,
		     MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE),
		     METRICS_CONTENT_TYPE);
}

/* Healthy: the observer's loop ran in the last few seconds. */
static enum MHD_Result reply_health(struct MHD_Connection *conn, struct exporter *ex)
{
	__u64 tick_ns;

	pthread_mutex_lock(&ex->lock);
	tick_ns = ex->tick_ns;
	pthread_mutex_unlock(&ex->lock);
	if (!tick_ns)
		return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "starting\n");
	if (monotonic_ns() - tick_ns > HEALTHY_TICK_AGE_NS)
		return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				  "stalled: the observer's loop is not running\n");
	return reply_text(conn, MHD_HTTP_OK, "ok\n");
}

/* MHD's access handler, on the HTTP thread, once a request's headers are
 * in (a GET or HEAD has no body to wait for). With basic auth, every path
 * is behind it, /healthz too, as in exporter-toolkit. */
static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req_cls)
{
	struct exporter *ex = cls;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	switch (ex->auth ? web_auth_check(ex->auth, conn, req_cls) : WEB_AUTH_OK) {
	case WEB_AUTH_OK:
		break;
	case WEB_AUTH_DENIED:
		return reply_text(conn, MHD_HTTP_UNAUTHORIZED, "unauthorized\n");
	case WEB_AUTH_PENDING:
		return MHD_YES;	/* called again once decided */
	case WEB_AUTH_ERROR:
		return MHD_NO;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
	if (!strcmp(url, "/metrics"))
		return reply_metrics(conn, ex);
	if (!strcmp(url, "/healthz"))
		return reply_health(conn, ex);
	return reply_text(conn, MHD_HTTP_NOT_FOUND,
			  "tcpkawatch: metrics are at /metrics, health at /healthz\n");
}

/* Serve on listen_fd from MHD's own thread (and check passwords on basic
 * auth's), which inherit our signal mask: with SIGINT and SIGTERM blocked
 * there, they go to the observer's thread and interrupt its poll.
 * listen_fd is MHD's from now on: it closes it when it stops (not always
 * when it fails to start: we exit then). */
static int start_httpd(struct exporter *ex, int listen_fd)
{
	const struct web_config *web = ex->web;
	struct MHD_OptionItem tls[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, web->cert_pem },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, web->key_pem },
		{ MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES },
		{ MHD_OPTION_END, 0, NULL },
	};
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
	sigset_t block, old;

	if (web->cert_pem)
		flags |= MHD_USE_TLS;
	if (web->n_users)
		flags |= MHD_ALLOW_SUSPEND_RESUME;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	if (web->n_users)
		ex->auth = web_auth_start(web);
	if (ex->auth || !web->n_users)
		ex->httpd = MHD_start_daemon(flags, 0, NULL, NULL, answer, ex,
					     MHD_OPTION_LISTEN_SOCKET, listen_fd,
					     MHD_OPTION_CONNECTION_LIMIT, HTTP_CONNECTION_LIMIT,
					     MHD_OPTION_CONNECTION_TIMEOUT, HTTP_TIMEOUT_S,
					     MHD_OPTION_CONNECTION_MEMORY_LIMIT,
					     (size_t)HTTP_MEMORY_LIMIT,
					     MHD_OPTION_NOTIFY_COMPLETED, web_auth_completed, NULL,
					     MHD_OPTION_ARRAY, web->cert_pem ? tls : &tls[3],
					     MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (web->n_users && !ex->auth)
		return -1;	/* said why */
	if (!ex->httpd) {
		fprintf(stderr, "tcpkawatch: cannot start the HTTP server (libmicrohttpd)\n");
		return -1;
	}
	return 0;
}

struct export_opts {
	const char *listen;
	unsigned int per_conn;
	const char *web_config;
	int labels;		/* -1: auto */
	unsigned long max_workloads;
	unsigned long forget_after_s;
	__u32 max_conns;	/* 0: tcp_sockets_max() */
};

/* Listen on "ADDR:PORT" (parsed already into ss, len) and serve; NULL
 * with one line on stderr on failure. */
static struct exporter *exporter_open(const struct export_opts *o, const struct sockaddr_storage *ss,
				      socklen_t len, const struct web_config *web)
{
	struct exporter *ex = calloc(1, sizeof(*ex));
	int fd;

	if (!ex)
		return NULL;
	ex->per_conn_max = o->per_conn;
	ex->forget_ns = o->forget_after_s * 1000000000ULL;
	series_set_init(&ex->counters, o->labels, o->max_workloads);
	ex->web = web;
	pthread_mutex_init(&ex->lock, NULL);
	fd = listen_on(o->listen, ss, len);
	if (fd < 0)
		goto fail;
	ex->snap = snapshot_open(false, false);
	if (!ex->snap) {
		close(fd);
		goto fail;
	}
	if (start_httpd(ex, fd))
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
	web_auth_stop(ex->auth);	/* MHD must find no connection suspended */
	if (ex->httpd)
		MHD_stop_daemon(ex->httpd);	/* joins its thread */
	web_auth_free(ex->auth);
	snapshot_close(ex->snap);
	pthread_mutex_destroy(&ex->lock);
	series_set_free(&ex->counters);
	free(ex);
}

/* Count one event of the observer (its thread). */
static void sink_event(void *ctx, const struct ka_event *e)
{
	struct exporter *ex = ctx;
	char labels[SERIES_LABELS_LEN];
	struct workload w;
	struct series *s;

	if (e->type == EV_CLOSE)
		return;
	series_labels(labels, ex->counters.labels, workload_of(e->cgroup_id, &w), e->netns);
	pthread_mutex_lock(&ex->lock);
	s = series_get(&ex->counters, labels);
	if (s && !series_count(s, e->type, e->type == EV_DEATH ? e->cause : 0,
			       e->type == EV_DEATH ? e->err : 0)) {
		s->event_ns = e->ts_ns;	/* CLOCK_MONOTONIC, as monotonic_ns() */
		if (s == ex->counters.other)
			ex->events_over_limit++;
	}
	pthread_mutex_unlock(&ex->lock);
}

/* The observer's loop ran (its thread): what it lost so far, and when. */
static bool sink_tick(void *ctx, const struct lost_counts *l)
{
	struct exporter *ex = ctx;

	pthread_mutex_lock(&ex->lock);
	ex->lost = *l;
	ex->tick_ns = monotonic_ns();
	pthread_mutex_unlock(&ex->lock);
	return true;
}

static const char export_doc[] =
"Serve Prometheus metrics of keepalive probes, answers and deaths (by\n"
"cause and errno) and gauges of established connections with and without\n"
"keepalive and of probing connections, per workload, on\n"
"http://ADDR:PORT/metrics (default " DEFAULT_LISTEN ", loopback only);\n"
"/healthz answers 200 \"ok\" while the observer reads events.\n"
"\n"
"A workload is what --labels names of a socket's cgroup v2 (the one it\n"
"was created in): pod_uid (the Kubernetes pod), container_id, cgroup (its\n"
"path), netns (its network namespace's inode). The default, auto, is\n"
DEFAULT_KUBERNETES_LABELS " where the cgroup tree has kubepods, else\n"
DEFAULT_HOST_LABELS ". The series of a workload that had neither an event nor\n"
"a TCP socket for --forget-after are dropped (at a scrape); past\n"
"--max-workloads, new workloads are counted under the label value \"_other\".\n"
"\n"
"--web-config FILE serves over TLS and behind basic auth (every path,\n"
"/healthz too), in the format of Prometheus' exporter-toolkit:\n"
"  tls_server_config:\n"
"    cert_file: server.crt    # relative to FILE's directory\n"
"    key_file: server.key\n"
"  basic_auth_users:\n"
"    prometheus: $2y$10$...   # bcrypt: htpasswd -nbBC 10 USER PASS\n"
"\n"
"EXAMPLES:\n"
"  tcpkawatch export\n"
"  tcpkawatch export --listen 0.0.0.0:9977   # reachable from the network\n"
"  tcpkawatch export --per-connection 100     # a series per probing connection\n"
"  tcpkawatch export --labels pod_uid         # one series per pod\n"
"  tcpkawatch export --labels none            # one series for the machine\n"
"  tcpkawatch export --listen 0.0.0.0:9977 --web-config /etc/tcpkawatch/web.yml\n";

enum { OPT_WEB_CONFIG = 1000, OPT_LABELS, OPT_MAX_WORKLOADS, OPT_FORGET_AFTER };

static const struct argp_option export_options[] = {
	{ "listen", 'l', "ADDR:PORT", 0, "Where to serve (default " DEFAULT_LISTEN ")", 0 },
	{ "per-connection", 'c', "N", 0,
	  "Also a series per probing connection, at most N (1-10000; default none)", 0 },
	{ "web-config", OPT_WEB_CONFIG, "FILE", 0,
	  "TLS and basic auth as FILE says (exporter-toolkit's YAML format; see above)", 0 },
	{ "labels", OPT_LABELS, "LIST", 0,
	  "Identity labels: a comma list of pod_uid, container_id, cgroup, netns; or "
	  "none; or auto (default; see above)", 0 },
	{ "max-workloads", OPT_MAX_WORKLOADS, "N", 0,
	  "Series of at most N workloads (1-1000000; default 2000)", 0 },
	{ "forget-after", OPT_FORGET_AFTER, "SECONDS", 0,
	  "Drop a workload's series after this long without an event or a socket (default 600)",
	  0 },
	MAX_CONNS_OPTION,
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
	case OPT_WEB_CONFIG:
		o->web_config = arg;
		break;
	case OPT_LABELS:
		if (!strcmp(arg, "auto"))
			o->labels = -1;
		else if ((o->labels = series_labels_parse(arg)) < 0)
			usage_error("invalid --labels '%s': a comma list of pod_uid, container_id, "
				    "cgroup, netns; or none; or auto", arg);
		break;
	case OPT_MAX_WORKLOADS:
		if (!parse_ulong(arg, 1, MAX_MAX_WORKLOADS, &o->max_workloads))
			usage_error("invalid --max-workloads '%s': 1 to %d", arg, MAX_MAX_WORKLOADS);
		break;
	case OPT_FORGET_AFTER:
		if (!parse_ulong(arg, 1, UINT32_MAX, &o->forget_after_s))
			usage_error("invalid --forget-after '%s': seconds, 1 or more", arg);
		break;
	case OPT_MAX_CONNS:
		o->max_conns = parse_max_conns(arg);
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
	struct export_opts o = {
		.listen = DEFAULT_LISTEN, .labels = -1, .max_workloads = DEFAULT_MAX_WORKLOADS,
		.forget_after_s = DEFAULT_FORGET_AFTER_S,
	};
	struct sockaddr_storage addr;
	socklen_t addr_len;
	struct watch_opts wopts = {};
	struct watch_sink sink = { .event = sink_event, .tick = sink_tick };
	struct web_config web = {};
	struct exporter *ex;
	char ready[192];
	int err = 1;

	parse_command(&argp, "tcpkawatch export", argc, argv, &o);
	if (parse_listen(o.listen, &addr, &addr_len))
		usage_error("invalid --listen '%s': ADDR:PORT such as %s", o.listen, DEFAULT_LISTEN);
	if (o.labels == -1)
		o.labels = series_labels_parse(kubernetes_node() ? DEFAULT_KUBERNETES_LABELS
								 : DEFAULT_HOST_LABELS);
	if (o.web_config && web_config_load(o.web_config, &web))
		return 2;
	if (web.cert_pem && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		fprintf(stderr, "tcpkawatch: %s asks for TLS, and this libmicrohttpd was built "
			"without it\n", o.web_config);
		goto out;
	}
	if (check_privileges("export", PRIV_OBSERVE | PRIV_NETNS, NULL))
		goto out;
	ex = exporter_open(&o, &addr, addr_len, &web);
	if (!ex)
		goto out;
	snprintf(ready, sizeof(ready), "Serving Prometheus metrics on %s://%s/metrics%s. "
		 "Ctrl-C to end.", web.cert_pem ? "https" : "http", o.listen,
		 web.n_users ? " (basic auth)" : "");
	sink.ready = ready;
	sink.ctx = ex;
	wopts.max_conns = o.max_conns;
	err = watch(&wopts, &sink);
	exporter_close(ex);
out:
	web_config_free(&web);
	return err;
}
