// SPDX-License-Identifier: GPL-2.0
/* export's --web-config: the YAML file (libyaml), the certificate and key
 * it names (checked with GnuTLS, as libmicrohttpd will load them) and the
 * users' bcrypt hashes. Like exporter-toolkit, unknown keys are refused. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <yaml.h>
#include "array.h"
#include "webconfig.h"

/* a certificate chain or key larger than this is not one */
#define PEM_MAX (1U << 20)

struct parse {
	const char *path;	/* the config file, as given */
	yaml_document_t doc;
	struct web_config *cfg;
};

/* A key of a mapping and where its value goes. */
struct field {
	const char *name;
	yaml_node_t *value;	/* NULL: not in the file */
};

/* One line "tcpkawatch: FILE: line N: ..." (no line without a node); -1. */
__attribute__((format(printf, 3, 4)))
/* One line on stderr: names from the file may hold any byte, so control
 * characters print as '?'. */
static int fail(const struct parse *p, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (char *c = msg; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	fprintf(stderr, "tcpkawatch: %s: ", p->path);
	if (n)
		fprintf(stderr, "line %zu: ", n->start_mark.line + 1);
	fprintf(stderr, "%s\n", msg);
	return -1;
}

/* A scalar's text; NULL if n is not a scalar or holds a NUL byte. */
static const char *scalar(const yaml_node_t *n)
{
	const char *s;

	if (n->type != YAML_SCALAR_NODE)
		return NULL;
	s = (const char *)n->data.scalar.value;
	return strlen(s) == n->data.scalar.length ? s : NULL;
}

/* YAML's null: an empty value, ~ or null, unquoted */
static bool is_null(const yaml_node_t *n)
{
	const char *s = scalar(n);

	return s && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
		!strcmp(s, "NULL"));
}

/* map's values into its two fields (of where: NULL at the top); a key
 * that is neither, or one twice, is refused */
static int map_fields(struct parse *p, yaml_node_t *map, const char *where, struct field *fields)
{
	const char *pre = where ? where : "", *dot = where ? "." : "";

	if (map->type != YAML_MAPPING_NODE)
		return fail(p, map, "%s%snot a mapping of %s and %s", pre, where ? ": " : "",
			    fields[0].name, fields[1].name);
	for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = yaml_document_get_node(&p->doc, pair->key);
		const char *name = scalar(key);
		size_t i;

		for (i = 0; name && i < 2 && strcmp(name, fields[i].name) != 0; i++)
			;
		if (!name || i == 2)
			return fail(p, key, "unknown key '%s%s%s' (tcpkawatch knows %s and %s there)",
				    pre, dot, name ? name : "?", fields[0].name, fields[1].name);
		if (fields[i].value)
			return fail(p, key, "%s%s%s given twice", pre, dot, name);
		fields[i].value = yaml_document_get_node(&p->doc, pair->value);
	}
	return 0;
}

/* name relative to the config file's directory, as exporter-toolkit does */
static char *resolve(const char *config, const char *name)
{
	const char *slash = strrchr(config, '/');
	char *path;

	if (name[0] == '/' || !slash)
		return strdup(name);
	if (asprintf(&path, "%.*s/%s", (int)(slash - config), config, name) < 0)
		return NULL;
	return path;
}

/* The whole of a small file, NUL-terminated; NULL with errno. The buffer
 * stays PEM_MAX long: malloc maps it, only the pages read into cost. */
static char *read_pem(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	int err = 0;

	if (!f)
		return NULL;
	buf = malloc(PEM_MAX + 1);
	if (!buf) {
		err = ENOMEM;
		goto out;
	}
	*len = fread(buf, 1, PEM_MAX + 1, f);
	if (ferror(f))
		err = errno ? errno : EIO;
	else if (*len > PEM_MAX)
		err = EFBIG;
	if (err) {
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[*len] = '\0';
out:
	fclose(f);
	errno = err;
	return buf;
}

/* The file that tls_server_config's field f names (at path) into *pem
 * and d. */
static int load_pem(struct parse *p, const struct field *f, const char *path, char **pem,
		    gnutls_datum_t *d)
{
	size_t len = 0;

	*pem = read_pem(path, &len);
	if (!*pem)
		return fail(p, f->value, "tls_server_config.%s %s: %s", f->name, path,
			    strerror(errno));
	d->data = (unsigned char *)*pem;
	d->size = len;
	return 0;
}

/* The checks libmicrohttpd's start would make, made now: the certificate
 * chain parses, and the key parses and is the certificate's. */
static int check_tls(struct parse *p, const struct field *f, char *const *path,
		     const gnutls_datum_t *d)
{
	gnutls_certificate_credentials_t cred;
	gnutls_x509_crt_t *crts;
	unsigned int n;
	int err;

	err = gnutls_x509_crt_list_import2(&crts, &n, &d[0], GNUTLS_X509_FMT_PEM, 0);
	if (err < 0)
		return fail(p, f[0].value, "tls_server_config.cert_file %s: %s", path[0],
			    gnutls_strerror(err));
	for (unsigned int i = 0; i < n; i++)
		gnutls_x509_crt_deinit(crts[i]);
	gnutls_free(crts);
	err = gnutls_certificate_allocate_credentials(&cred);
	if (err < 0)
		return fail(p, NULL, "%s", gnutls_strerror(err));
	err = gnutls_certificate_set_x509_key_mem(cred, &d[0], &d[1], GNUTLS_X509_FMT_PEM);
	gnutls_certificate_free_credentials(cred);
	if (err < 0)
		return fail(p, f[1].value, "tls_server_config.key_file %s: %s", path[1],
			    gnutls_strerror(err));
	return 0;
}

static int parse_tls(struct parse *p, yaml_node_t *map)
{
	struct field f[] = { { "cert_file", NULL }, { "key_file", NULL } };
	char **pem[] = { &p->cfg->cert_pem, &p->cfg->key_pem };
	char *path[2] = {};
	gnutls_datum_t d[2] = {};
	int err = -1;

	if (map_fields(p, map, "tls_server_config", f))
		return -1;
	for (int i = 0; i < 2; i++) {
		if (f[i].value && !scalar(f[i].value))
			return fail(p, f[i].value, "tls_server_config.%s: not a file name", f[i].name);
		if (f[i].value && is_null(f[i].value))
			f[i].value = NULL;
	}
	/* as exporter-toolkit: neither is plain HTTP, one alone an error */
	if (!f[0].value && !f[1].value)
		return 0;
	if (!f[0].value || !f[1].value)
		return fail(p, map, "tls_server_config: %s without %s", f[0].value ? "cert_file" :
			    "key_file", f[0].value ? "key_file" : "cert_file");
	for (int i = 0; i < 2; i++) {
		path[i] = resolve(p->path, scalar(f[i].value));
		if (!path[i]) {
			fail(p, NULL, "out of memory");
			goto out;
		}
		if (load_pem(p, &f[i], path[i], pem[i], &d[i]))
			goto out;
	}
	p->cfg->key_len = d[1].size;
	err = check_tls(p, f, path, d);
out:
	free(path[0]);
	free(path[1]);
	return err;
}

/* $2a$, $2b$ or $2y$, a cost of 04 to 31, $, then 22 characters of salt
 * and 31 of hash in bcrypt's base64 */
int bcrypt_cost(const char *hash)
{
	return (hash[4] - '0') * 10 + (hash[5] - '0');
}

static bool is_bcrypt(const char *h)
{
	static const char b64[] = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	int cost;

	if (strlen(h) != 60 || strncmp(h, "$2", 2) != 0 ||
	    (h[2] != 'a' && h[2] != 'b' && h[2] != 'y') || h[3] != '$' ||
	    h[4] < '0' || h[4] > '9' || h[5] < '0' || h[5] > '9' || h[6] != '$')
		return false;
	cost = bcrypt_cost(h);
	return cost >= 4 && cost <= BCRYPT_MAX_COST && strspn(h + 7, b64) == 53;
}

static int parse_users(struct parse *p, yaml_node_t *map)
{
	struct web_config *cfg = p->cfg;

	if (map->type != YAML_MAPPING_NODE)
		return fail(p, map, "basic_auth_users: not a mapping of user names to bcrypt hashes");
	for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = yaml_document_get_node(&p->doc, pair->key);
		yaml_node_t *value = yaml_document_get_node(&p->doc, pair->value);
		const char *name = scalar(key), *hash = scalar(value);
		struct web_user *u;

		if (!name || !*name || strchr(name, ':'))
			return fail(p, key, "basic_auth_users: a user name must be a string, "
				    "not empty, without ':' (basic auth splits at the first ':')");
		if (web_config_user(cfg, name) >= 0)
			return fail(p, key, "basic_auth_users.%s given twice", name);
		if (!hash || !is_bcrypt(hash))
			return fail(p, value, "basic_auth_users.%s: not a bcrypt hash ($2a$, $2b$ "
				    "or $2y$, 60 characters, cost 4 to %d; see htpasswd -nbBC 10 USER "
				    "PASS)", name, BCRYPT_MAX_COST);
		if (ARRAY_RESERVE(cfg->users, cfg->cap_users, cfg->n_users, 4))
			return fail(p, NULL, "out of memory");
		u = &cfg->users[cfg->n_users];
		u->name = strdup(name);
		u->hash = strdup(hash);
		cfg->n_users++;
		if (!u->name || !u->hash)
			return fail(p, NULL, "out of memory");
	}
	return 0;
}

static int parse_root(struct parse *p, yaml_node_t *root)
{
	struct field f[] = { { "tls_server_config", NULL }, { "basic_auth_users", NULL } };

	if (map_fields(p, root, NULL, f))
		return -1;
	if (f[0].value && !is_null(f[0].value) && parse_tls(p, f[0].value))
		return -1;
	if (f[1].value && !is_null(f[1].value) && parse_users(p, f[1].value))
		return -1;
	return 0;
}

/* libyaml's reason, with where it found it */
static int syntax_error(struct parse *p, const yaml_parser_t *parser, FILE *f)
{
	if (parser->error == YAML_READER_ERROR && ferror(f))
		return fail(p, NULL, "%s", strerror(errno ? errno : EIO));
	if (parser->error == YAML_READER_ERROR)
		return fail(p, NULL, "byte %zu: %s", parser->problem_offset,
			    parser->problem ? parser->problem : "cannot read it");
	return fail(p, NULL, "line %zu column %zu: %s%s%s%s", parser->problem_mark.line + 1,
		    parser->problem_mark.column + 1, parser->problem ? parser->problem : "not YAML",
		    parser->context ? " (" : "", parser->context ? parser->context : "",
		    parser->context ? ")" : "");
}

int web_config_load(const char *path, struct web_config *cfg)
{
	struct parse p = { .path = path, .cfg = cfg };
	yaml_parser_t parser;
	yaml_node_t *root;
	FILE *f;
	int err;

	memset(cfg, 0, sizeof(*cfg));
	f = fopen(path, "re");
	if (!f)
		return fail(&p, NULL, "%s", strerror(errno));
	if (!yaml_parser_initialize(&parser)) {
		fclose(f);
		return fail(&p, NULL, "out of memory");
	}
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &p.doc)) {
		err = syntax_error(&p, &parser, f);
	} else {
		/* an empty file configures nothing, as in exporter-toolkit */
		root = yaml_document_get_root_node(&p.doc);
		err = root && !is_null(root) ? parse_root(&p, root) : 0;
		yaml_document_delete(&p.doc);
	}
	yaml_parser_delete(&parser);
	fclose(f);
	if (err)
		web_config_free(cfg);
	return err;
}

void web_config_free(struct web_config *cfg)
{
	if (cfg->key_pem)
		explicit_bzero(cfg->key_pem, cfg->key_len);
	free(cfg->key_pem);
	free(cfg->cert_pem);
	for (size_t i = 0; i < cfg->n_users; i++) {
		free(cfg->users[i].name);
		free(cfg->users[i].hash);
	}
	free(cfg->users);
	memset(cfg, 0, sizeof(*cfg));
}

long web_config_user(const struct web_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_users; i++)
		if (!strcmp(cfg->users[i].name, name))
			return i;
	return -1;
}
