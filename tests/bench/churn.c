// SPDX-License-Identifier: GPL-2.0
/*
 * Loopback connection churn: a client connects, sends one byte, the server
 * accepts, reads it and closes, the client closes. Prints connections a
 * second. Usage: churn SECONDS [PORT]. Run it inside its own namespace.
 *
 * churn --resets N [PORT]: N connections the server resets instead
 * (SO_LINGER 0: an RST, tcp_reset() on the client's side, a death by
 * reset); prints N once every client saw ECONNRESET.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void serve(int ls, int reset)
{
	struct linger abort_close = { .l_onoff = 1, .l_linger = 0 };
	char b;

	for (;;) {
		int c = accept(ls, NULL, NULL);

		if (c < 0)
			die("accept");
		if (read(c, &b, 1) != 1)
			die("read");
		if (reset && setsockopt(c, SOL_SOCKET, SO_LINGER, &abort_close, sizeof(abort_close)))
			die("SO_LINGER");
		close(c);	/* the server closes first: TIME_WAIT stays here */
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	int reset = argc > 2 && !strcmp(argv[1], "--resets");
	double secs = argc > 1 && !reset ? atof(argv[1]) : 5, start, end;
	long conns = 0, want = reset ? atol(argv[2]) : 0;
	int ls, one = 1;
	pid_t server;

	if (reset) {
		argv += 1;	/* the port after N */
		argc -= 1;
	}
	addr.sin_port = htons(argc > 2 ? atoi(argv[2]) : 7777);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(ls, (struct sockaddr *)&addr, sizeof(addr)) || listen(ls, 4096))
		die("listen");
	server = fork();
	if (server < 0)
		die("fork");
	if (!server)
		serve(ls, reset);
	close(ls);

	start = now();
	end = start + secs;
	while (reset ? conns < want : now() < end) {
		char b = 'x';
		int s = socket(AF_INET, SOCK_STREAM, 0);
		ssize_t n;

		if (s < 0 || connect(s, (struct sockaddr *)&addr, sizeof(addr)))
			die("connect");
		if (write(s, &b, 1) != 1)
			die("write");
		n = read(s, &b, 1);
		if (reset ? n != -1 || errno != ECONNRESET : n != 0)	/* RST, or EOF */
			die(reset ? "read: no reset" : "read eof");
		close(s);
		conns++;
	}
	if (reset)
		printf("%ld\n", conns);
	else
		printf("%.0f\n", conns / (now() - start));
	kill(server, SIGKILL);
	waitpid(server, NULL, 0);
	return 0;
}
