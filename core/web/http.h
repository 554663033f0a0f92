/* dicomfs core: the HTTP transport of a DICOMweb source (libcurl).
 *
 * One DfsHttp per source, shared by every thread of the daemon.  It holds a
 * pool of at most max_connections curl handles, each keeping one connection
 * alive (so no more than that many connections to the server at a time, and
 * none opened per request); a thread takes a free handle for each transfer
 * (none while it waits to try again) and waits for one when all are busy.
 * DNS answers and TLS sessions are shared between the handles.
 *
 * A GET streams its body to the caller's function as it arrives: nothing
 * is buffered unless the caller asks (dfs_http_get_bytes, with a bound).
 * Only a 2xx or 304 response's body reaches the caller; an error response's
 * body is kept (its first few hundred bytes) for the error message.
 *
 * Retries (a GET is idempotent): on 408, 429, 500, 502, 503 and 504, and on
 * a connection that broke before any body byte reached the caller (nothing
 * received, a send or receive error, a body cut before its first byte), up
 * to max_attempts in all, waiting base_delay_ms, then twice that, and so on
 * (with up to a quarter of jitter), or the Retry-After the server gave when
 * that is longer, as long as the waits add up to no more than max_wait_ms.
 * A connection refused or a timeout is not retried: the server is down or
 * too slow, and the caller is told within a bounded time.  A transfer that
 * breaks after body bytes went to the caller is an error, never a short
 * success.  On 401 the credential file is read again, once per request, and
 * the request is sent again if it changed.
 *
 * Timeouts: connecting (connect_timeout_ms), and a transfer slower than
 * low_speed_bytes per second for low_speed_seconds is abandoned; there is no
 * total timeout (a QIDO of 16,000 instances can take 25 s on Orthanc).
 *
 * Errors are in DFS_ERROR: DFS_ERROR_NOT_FOUND for 404 and 410 only;
 * DFS_ERROR_IO for everything else the network or the server did (other
 * statuses, curl errors, a body cut short), which fs/ turns into EIO, never
 * ENOENT.  Messages name the URL and the cause (status and reason, the
 * start of the server's answer, curl's error text).  A caller's function
 * that fails passes its own error through unchanged.
 *
 * Credentials never come from the command line: a password or a bearer
 * token is read from the first line of a file, or from ~/.netrc.  TLS uses
 * the system's CAs (/etc/ssl/certs), plus ca_file if given; verification is
 * never turned off.  Redirects are followed (5 at most, http and https
 * only); credentials go only to the host first asked (libcurl's rule).
 *
 * Costs: per request, one handle taken from the pool and the headers parsed;
 * per connection, one TCP (and TLS) handshake, reused for as long as the
 * server keeps it; memory per handle is libcurl's (~100 KB with its
 * buffers), and no body is held. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define DFS_HTTP_MAX_CONNECTIONS 4
#define DFS_HTTP_MAX_ATTEMPTS 5

typedef struct {
    guint max_connections;    /* 0: DFS_HTTP_MAX_CONNECTIONS */
    guint max_attempts;       /* tries of one request in all; 0: DFS_HTTP_MAX_ATTEMPTS */
    guint base_delay_ms;      /* the first wait before a retry; 0: 250 */
    guint max_wait_ms;        /* the waits of one request add up to at most this; 0: 20000 */
    guint connect_timeout_ms; /* 0: 5000 */
    guint low_speed_bytes;    /* abandon a transfer below this many bytes/s ... (0: 1024) */
    guint low_speed_seconds;  /* ... for this long (0: 30) */
    /* HTTP basic: the user, with the password read from the first line of
     * password_file, or from ~/.netrc when use_netrc is set.  With no user,
     * password_file's first line is "user:password". */
    const char *user;
    const char *password_file;
    gboolean use_netrc;
    const char *token_file; /* a bearer token on its first line (not with basic) */
    const char *ca_file;    /* PEM certificates trusted besides the system's */
    const char *user_agent; /* NULL: "dicomfs/VERSION" */
} DfsHttpOptions;

/* The final response of a request: its status and the headers a DICOMweb
 * client needs.  Strings are owned by the struct (dfs_http_response_clear). */
typedef struct {
    int status;            /* 200, 204, 304, 404...; 0 when no response came */
    char *reason;          /* the status line's reason phrase, or NULL */
    char *content_type;    /* Content-Type, or NULL */
    gint64 content_length; /* Content-Length (on the wire: before gzip is undone), or -1 */
    char *warning;         /* every Warning header, joined by ", ", or NULL */
    char *etag;            /* ETag, or NULL */
    gint64 retry_after_s;  /* Retry-After in seconds (a date made relative), or -1 */
    guint attempts;        /* transfers it took, from 1 */
} DfsHttpResponse;

/* Free the strings of a response and reset it (to status 0, lengths -1). */
void dfs_http_response_clear(DfsHttpResponse *resp);

/* Called with the final response's status and headers once, before its
 * first body byte (or at its end, when it has none).  FALSE with error set
 * ends the request with that error. */
typedef gboolean (*DfsHttpHeadFunc)(const DfsHttpResponse *resp, gpointer user, GError **error);

/* Called with each piece of the final response's body, in order, as it
 * arrives (gzip undone).  data lives until the function returns.  FALSE
 * with error set ends the request with that error. */
typedef gboolean (*DfsHttpBodyFunc)(const guint8 *data, gsize len, gpointer user, GError **error);

typedef struct {
    guint64 requests;    /* dfs_http_get calls */
    guint64 attempts;    /* transfers tried (requests and their retries) */
    guint64 retries;     /* transfers tried again */
    guint64 failures;    /* requests that ended in an error */
    guint64 bytes;       /* body bytes handed to callers (gzip undone) */
    guint64 connections; /* connections opened (CURLINFO_NUM_CONNECTS, summed) */
    guint handles;       /* handles in the pool now (at most max_connections) */
    guint busy;          /* handles in use now */
} DfsHttpStats;

typedef struct _DfsHttp DfsHttp;

/* A transport with options (NULL: every default).  The option strings are
 * copied; credential files are read now (one line, under 16 KB), so a
 * missing or unreadable file is an error here.  NULL with an error for a
 * bad option or a file that cannot be read.  Free with dfs_http_free. */
DfsHttp *dfs_http_new(const DfsHttpOptions *options, GError **error);

/* Close every connection and free.  No request may be running.  NULL is
 * ignored. */
void dfs_http_free(DfsHttp *h);

/* GET url, with extra request headers ("Name: value", a NULL-terminated
 * list, or NULL), retried as the header comment says.  head (may be NULL)
 * and body (may be NULL: the body is read and dropped) see only the final
 * 2xx or 304 response.  On return resp (may be NULL) holds the last
 * response seen, on failure too; the caller clears it.  TRUE when the
 * response was 2xx or 304 and its whole body went to body; FALSE with an
 * error otherwise.  Any thread. */
gboolean dfs_http_get(DfsHttp *h, const char *url, const char *const *headers, DfsHttpHeadFunc head,
                      DfsHttpBodyFunc body, gpointer user, DfsHttpResponse *resp, GError **error);

/* The same, keeping the body: a new GBytes (the caller unrefs) of at most
 * max_bytes, or NULL with DFS_ERROR_LIMIT when the body is larger (the
 * transfer is stopped there), or NULL with the request's error. */
GBytes *dfs_http_get_bytes(DfsHttp *h, const char *url, const char *const *headers, gsize max_bytes,
                           DfsHttpResponse *resp, GError **error);

/* Counters as of now, from any thread (for a status file). */
void dfs_http_stats(DfsHttp *h, DfsHttpStats *out);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(DfsHttp, dfs_http_free)

G_END_DECLS
