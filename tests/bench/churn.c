// SPDX-License-Identifier: GPL-2.0
/*
 * Loopback connection churn: a client connects, sends one byte, the server
 * accepts, reads it and closes, the client closes. Prints connections a
 * second. Usage: churn SECONDS [PORT]. Run it inside its own namespace.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
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

static void serve(int ls)
{
	char b;

	for (;;) {
		int c = accept(ls, NULL, NULL);

		if (c < 0)
			die("accept");
		if (read(c, &b, 1) != 1)
			die("read");
		close(c);	/* the server closes first: TIME_WAIT stays here */
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	double secs = argc > 1 ? atof(argv[1]) : 5, start, end;
	long conns = 0;
	int ls, one = 1;
	pid_t server;

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
		serve(ls);
	close(ls);

	start = now();
	end = start + secs;
	while (now() < end) {
		char b = 'x';
		int s = socket(AF_INET, SOCK_STREAM, 0);

		if (s < 0 || connect(s, (struct sockaddr *)&addr, sizeof(addr)))
			die("connect");
		if (write(s, &b, 1) != 1)
			die("write");
		if (read(s, &b, 1) != 0)	/* EOF: the server closed */
			die("read eof");
		close(s);
		conns++;
	}
	printf("%.0f\n", conns / (now() - start));
	kill(server, SIGKILL);
	waitpid(server, NULL, 0);
	return 0;
}
