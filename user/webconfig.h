/* SPDX-License-Identifier: GPL-2.0 */
/* export's --web-config FILE, in the format of Prometheus' exporter-toolkit:
 *
 *   tls_server_config:
 *     cert_file: server.crt     # relative to FILE's directory
 *     key_file: server.key
 *   basic_auth_users:
 *     alice: $2y$10$...         # bcrypt
 *
 * Either section may be left out. */
#ifndef WEBCONFIG_H
#define WEBCONFIG_H
#include <stddef.h>

/* Each check of a password costs 2^cost rounds: at 15, about a second on
 * one core; more would let one request hold the checks up for minutes. */
#define BCRYPT_MAX_COST 15

struct web_user {
	char *name;
	char *hash;		/* bcrypt: $2a$, $2b$ or $2y$ */
};

struct web_config {
	char *cert_pem;		/* NULL: plain HTTP */
	char *key_pem;
	size_t key_len;		/* to wipe it */
	struct web_user *users;	/* none: no basic auth */
	size_t n_users, cap_users;
};

/* Read FILE, the certificate and key it names, and check them all (GnuTLS
 * accepts the pair, every hash is bcrypt). 0, or -1 with one line on
 * stderr naming the file and the problem; cfg is freed then. */
int web_config_load(const char *path, struct web_config *cfg);
/* The cost of a bcrypt hash that load accepted. */
int bcrypt_cost(const char *hash);
/* Frees what load filled in, the key wiped first. */
void web_config_free(struct web_config *cfg);

/* The index of user name in cfg->users, -1 if none */
long web_config_user(const struct web_config *cfg, const char *name);

#endif
