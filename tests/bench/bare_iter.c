// SPDX-License-Identifier: GPL-2.0
/* Load an object, walk the TCP sockets of this network namespace with its
 * iter/tcp program PROGRAM (default bare_walk: bare_iter.bpf.o's, 24
 * bytes a socket), print how many bytes it wrote. With BTF, libbpf
 * relocates the object (CO-RE) against that file in place of the kernel's
 * BTF. Usage: bare_iter OBJECT [PROGRAM [BTF]] (run it with ip netns
 * exec). */
#include <stdio.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

int main(int argc, char **argv)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .btf_custom_path = argc > 3 ? argv[3] : NULL);
	struct bpf_object *obj = argc > 1 ? bpf_object__open_file(argv[1], &opts) : NULL;
	struct bpf_program *prog;
	struct bpf_link *link;
	char buf[24 * 4096];
	long bytes = 0;
	ssize_t n;
	int fd;

	if (!obj || bpf_object__load(obj))
		return 1;
	prog = bpf_object__find_program_by_name(obj, argc > 2 ? argv[2] : "bare_walk");
	link = prog ? bpf_program__attach_iter(prog, NULL) : NULL;
	fd = link ? bpf_iter_create(bpf_link__fd(link)) : -1;
	if (fd < 0)
		return 1;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		bytes += n;
	printf("%ld\n", bytes);
	return 0;
}
