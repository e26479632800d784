// SPDX-License-Identifier: GPL-2.0
/* Load a BPF object, attach each of its programs (in the object's order),
 * say "attached" on stderr, and hold them until SIGINT or SIGTERM.
 * Usage: attach_all OBJECT. */
#include <signal.h>
#include <stdio.h>
#include <bpf/libbpf.h>

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	sigset_t stop;
	int sig, rc = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: attach_all OBJECT\n");
		return 1;
	}
	obj = bpf_object__open_file(argv[1], NULL);	/* libbpf says why not */
	if (!obj)
		return 1;
	/* blocked before the first attach: a signal meanwhile waits for sigwait() */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop, NULL);
	if (bpf_object__load(obj))
		goto out;
	bpf_object__for_each_program(prog, obj) {
		if (!bpf_program__attach(prog)) {
			fprintf(stderr, "attach_all: %s: cannot attach\n", bpf_program__name(prog));
			goto out;
		}
	}
	fprintf(stderr, "attached\n");
	sigwait(&stop, &sig);
	rc = 0;
out:
	bpf_object__close(obj);	/* the links close with the process */
	return rc;
}
