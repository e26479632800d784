// SPDX-License-Identifier: GPL-2.0
/* Basic auth for export's server: bcrypt (libcrypt's crypt_r) on a thread
 * of its own, the last good password of each user remembered as a
 * SHA-256 (GnuTLS) and compared in constant time. */
#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include "webauth.h"

#define DIGEST_LEN 32		/* SHA-256 */
/* web_auth_stop waits this long for the server to take back the
 * connections it resumed */
#define RESUMED_WAIT_S 5
/* Checks waiting at most: more are denied at once, so that wrong passwords
 * cannot hold the server's connections (a remembered good password never
 * waits). */
#define QUEUED_MAX 16

/* A request waiting for a bcrypt check: the handler's *req_cls. */
struct check {
	struct check *next;
	struct MHD_Connection *conn;
	long user;			/* cfg->users[user]; -1: no such user */
	char *pass;			/* MHD's; the thread wipes and frees it */
	unsigned char digest[DIGEST_LEN];
	bool suspended;
	enum web_auth_result result;	/* PENDING until the thread decided */
};

struct good {
	bool set;
	unsigned char digest[DIGEST_LEN];
};

struct web_auth {
	const struct web_config *cfg;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t work;		/* a check queued, or stop */
	pthread_cond_t back;		/* a resumed connection came back */
	/* under lock: */
	struct check *head, **tail;
	unsigned int queued, suspended;
	bool stop;
	struct good *good;		/* a user's last good password */
	size_t costliest;		/* the user whose hash costs most */
	/* the thread's: */
	struct crypt_data *crypt;
};

static void wipe_free(char *pass)
{
	if (pass)
		explicit_bzero(pass, strlen(pass));
	MHD_free(pass);
}

/* Called with a->lock held. */
static bool remembered(const struct web_auth *a, long user, const unsigned char *digest)
{
	return user >= 0 && a->good[user].set &&
	       !gnutls_memcmp(a->good[user].digest, digest, DIGEST_LEN);
}

static bool bcrypt_ok(struct crypt_data *cd, const char *pass, const char *hash)
{
	const char *out = crypt_r(pass, hash, cd);
	size_t n = strlen(hash);

	/* on failure crypt_r returns NULL or "*0", never the hash */
	return out && strlen(out) == n && !gnutls_memcmp(out, hash, n);
}

/* Decide c (dequeued, the thread's until resumed). Called with a->lock
 * held; drops it for the bcrypt. */
static void decide(struct web_auth *a, struct check *c)
{
	const struct web_user *users = a->cfg->users;
	bool ok;

	if (a->stop) {
		c->result = WEB_AUTH_DENIED;
	} else if (remembered(a, c->user, c->digest)) {
		c->result = WEB_AUTH_OK;	/* checked meanwhile for another request */
	} else {
		pthread_mutex_unlock(&a->lock);
		/* no such user: work as dear as the dearest user's, so that
		 * the time taken does not tell which users exist */
		ok = bcrypt_ok(a->crypt, c->pass,
			       users[c->user >= 0 ? (size_t)c->user : a->costliest].hash) &&
		     c->user >= 0;
		pthread_mutex_lock(&a->lock);
		if (ok) {
			a->good[c->user].set = true;
			memcpy(a->good[c->user].digest, c->digest, DIGEST_LEN);
		}
		c->result = ok ? WEB_AUTH_OK : WEB_AUTH_DENIED;
	}
	wipe_free(c->pass);
	c->pass = NULL;
}

static void *checker(void *arg)
{
	struct web_auth *a = arg;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		struct MHD_Connection *conn;
		struct check *c;

		while (!a->head && !a->stop)
			pthread_cond_wait(&a->work, &a->lock);
		c = a->head;
		if (!c)
			break;
		a->head = c->next;
		if (!a->head)
			a->tail = &a->head;
		a->queued--;
		decide(a, c);
		/* MHD's own lock is taken inside: never under ours */
		conn = c->conn;
		pthread_mutex_unlock(&a->lock);
		MHD_resume_connection(conn);
		pthread_mutex_lock(&a->lock);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

struct web_auth *web_auth_start(const struct web_config *cfg)
{
	struct web_auth *a = calloc(1, sizeof(*a));
	pthread_condattr_t attr;
	int err = ENOMEM;

	if (!a)
		goto fail;
	a->cfg = cfg;
	a->tail = &a->head;
	for (size_t i = 1; i < cfg->n_users; i++)
		if (bcrypt_cost(cfg->users[i].hash) > bcrypt_cost(cfg->users[a->costliest].hash))
			a->costliest = i;
	a->good = calloc(cfg->n_users, sizeof(*a->good));
	a->crypt = calloc(1, sizeof(*a->crypt));
	pthread_mutex_init(&a->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&a->work, NULL);
	pthread_cond_init(&a->back, &attr);
	pthread_condattr_destroy(&attr);
	if (!a->good || !a->crypt)
		goto fail;
	err = pthread_create(&a->thread, NULL, checker, a);
	if (!err)
		return a;
fail:
	fprintf(stderr, "tcpkawatch: cannot start basic auth's thread: %s\n", strerror(err));
	web_auth_free(a);
	return NULL;
}

enum web_auth_result web_auth_check(struct web_auth *a, struct MHD_Connection *conn,
				    void **req_cls)
{
	struct check *c = *req_cls;
	enum web_auth_result r;
	unsigned char digest[DIGEST_LEN];
	char *user, *pass = NULL;
	long u;

	if (c) {	/* resumed, decided */
		pthread_mutex_lock(&a->lock);
		if (c->suspended) {
			c->suspended = false;
			a->suspended--;
			pthread_cond_signal(&a->back);
		}
		r = c->result;
		pthread_mutex_unlock(&a->lock);
		return r;
	}
	user = MHD_basic_auth_get_username_password(conn, &pass);
	if (!user || !pass) {
		r = WEB_AUTH_DENIED;
		goto out;
	}
	u = web_config_user(a->cfg, user);
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, pass, strlen(pass), digest) < 0) {
		r = WEB_AUTH_ERROR;
		goto out;
	}
	pthread_mutex_lock(&a->lock);
	if (remembered(a, u, digest)) {
		r = WEB_AUTH_OK;
	} else if (a->stop || a->queued >= QUEUED_MAX) {
		r = WEB_AUTH_DENIED;
	} else if (!(c = calloc(1, sizeof(*c)))) {
		r = WEB_AUTH_ERROR;
	} else {
		c->conn = conn;
		c->user = u;
		c->pass = pass;
		pass = NULL;
		memcpy(c->digest, digest, DIGEST_LEN);
		c->suspended = true;
		c->result = WEB_AUTH_PENDING;
		*req_cls = c;	/* freed by web_auth_completed */
		/* before the thread can resume it: it dequeues under the lock */
		MHD_suspend_connection(conn);
		a->suspended++;
		a->queued++;
		*a->tail = c;
		a->tail = &c->next;
		pthread_cond_signal(&a->work);
		r = WEB_AUTH_PENDING;
	}
	pthread_mutex_unlock(&a->lock);
out:
	MHD_free(user);
	wipe_free(pass);
	return r;
}

void web_auth_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	free(*req_cls);
	*req_cls = NULL;
}

void web_auth_stop(struct web_auth *a)
{
	struct timespec deadline;

	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	a->stop = true;
	pthread_cond_signal(&a->work);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->thread, NULL);	/* it resumed every queued connection */
	/* resumed, they are suspended until the server's thread takes them
	 * back, which calls web_auth_check again */
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += RESUMED_WAIT_S;
	pthread_mutex_lock(&a->lock);
	while (a->suspended && pthread_cond_timedwait(&a->back, &a->lock, &deadline) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&a->lock);
}

void web_auth_free(struct web_auth *a)
{
	if (!a)
		return;
	pthread_cond_destroy(&a->work);
	pthread_cond_destroy(&a->back);
	pthread_mutex_destroy(&a->lock);
	if (a->crypt)
		explicit_bzero(a->crypt, sizeof(*a->crypt));
	free(a->crypt);
	free(a->good);
	free(a);
}
