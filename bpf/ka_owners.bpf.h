/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The owners: every socket file of every process, in one pass in the
 * kernel instead of a readlink() per descriptor under /proc; a struct
 * owner_record each. In list's object (list, export, top) and in the
 * observer's (watch), so that watch never loads a second object for it.
 * The task_file iterator skips threads that share their leader's file
 * table.
 */
#ifndef KA_OWNERS_BPF_H
#define KA_OWNERS_BPF_H

/* include/uapi/linux/stat.h */
#define S_IFMT		00170000
#define S_IFSOCK	0140000

SEC("iter/task_file")
int ka_owners(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct owner_record r = {};

	if (!task || !file)
		return 0;
	/* by file->f_op, without touching the inode, as sock_from_file()
	 * does. Kernels before 5.11 lack the helper: a socket inode there,
	 * whose file's private_data is its struct socket (sock_alloc_file();
	 * an O_PATH file of a socket's name has none). Not by comparing
	 * f_op with socket_file_ops: its address would come from kallsyms,
	 * which libbpf then reads whole at every load (40 ms of list's 200
	 * over 100,000 sockets), and which takes CAP_SYSLOG. */
	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_sock_from_file))
		r.sock = (__u64)bpf_sock_from_file(file);
	else if ((file->f_inode->i_mode & S_IFMT) == S_IFSOCK)
		r.sock = (__u64)file->private_data;
	if (!r.sock)
		return 0;
	r.pid = task->tgid;
	__builtin_memcpy(r.comm, task->comm, sizeof(r.comm));
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}

#endif
