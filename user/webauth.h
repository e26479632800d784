/* SPDX-License-Identifier: GPL-2.0 */
/* HTTP basic auth for export's server, for --web-config's
 * basic_auth_users. A bcrypt check takes 50 to 250 ms: it runs on a thread
 * of its own while the request's connection waits suspended, so that the
 * server's one thread never waits for one; and a user's last good
 * password is remembered (its SHA-256), so that a scrape every second
 * costs no bcrypt. */
#ifndef WEBAUTH_H
#define WEBAUTH_H
#include <microhttpd.h>
#include "webconfig.h"

struct web_auth;

enum web_auth_result {
	WEB_AUTH_OK,
	WEB_AUTH_DENIED,	/* answer 401 */
	WEB_AUTH_PENDING,	/* the connection is suspended until decided */
	WEB_AUTH_ERROR,		/* out of memory */
};

/* The checking thread for cfg's users (cfg outlives it); NULL with one
 * line on stderr. */
struct web_auth *web_auth_start(const struct web_config *cfg);
/* First in the access handler, req_cls its request pointer: the server
 * needs MHD_ALLOW_SUSPEND_RESUME, and web_auth_completed as its
 * MHD_OPTION_NOTIFY_COMPLETED. After PENDING the handler returns MHD_YES
 * and is called again once decided. */
enum web_auth_result web_auth_check(struct web_auth *a, struct MHD_Connection *conn,
				    void **req_cls);
void web_auth_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			enum MHD_RequestTerminationCode toe);
/* Before MHD_stop_daemon (it must find no connection suspended): the
 * requests still waiting are denied, the thread ends. */
void web_auth_stop(struct web_auth *a);
/* After MHD_stop_daemon. */
void web_auth_free(struct web_auth *a);

#endif
