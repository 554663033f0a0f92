/* dicomfs core: the HTTP transport of a DICOMweb source.  See http.h.
 *
 * Each pooled curl handle keeps its own connection cache of one connection
 * (CURLOPT_MAXCONNECTS 1) and is used by one thread at a time, which is what
 * bounds the connections; DNS answers and TLS sessions are shared through a
 * CURLSH guarded by one mutex per kind of data.  A request's state (the
 * response being read, what went to the caller) lives in a Transfer on the
 * requesting thread's stack. */
#include "web/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"

#define CREDENTIAL_MAX_BYTES 16384 /* a credential file's first line, at most (less one) */
#define ERROR_BODY_BYTES 512       /* kept of an error response, for the message */
#define ERROR_BODY_MAX (1 << 20)   /* read of an error response, at most */
#define HEADER_VALUE_MAX 8192      /* a header value kept, at most (Warning: all of them) */
#define MAX_REDIRECTS 5
#define RETRY_AFTER_MAX_S 86400
#define RECEIVE_BUFFER (128 * 1024) /* what curl hands on at a time (its default: 16 KB) */

typedef enum { AUTH_NONE, AUTH_BASIC, AUTH_BEARER } AuthKind;

struct _DfsHttp {
    guint max_connections, max_attempts, base_delay_ms, max_wait_ms;
    guint connect_timeout_ms, low_speed_bytes, low_speed_seconds;
    gboolean use_netrc;
    char *ca_file, *user_agent, *cred_file;
    char *user_option; /* the user given, or NULL (then from the password file) */

    GMutex cred_lock; /* guards what follows down to cred_gen */
    AuthKind auth;
    char *user;     /* basic */
    char *secret;   /* the password or the token */
    guint cred_gen; /* bumped whenever secret or user change */

    CURLSH *share;
    GMutex share_locks[CURL_LOCK_DATA_LAST];

    GMutex pool_lock; /* guards the pool and the stats */
    GCond pool_cond;
    GPtrArray *idle; /* CURL * not in use */
    DfsHttpStats stats;
};

/* One request, on the requesting thread. */
typedef struct {
    DfsHttp *h;
    const char *url; /* for messages: without user information */
    DfsHttpHeadFunc head;
    DfsHttpBodyFunc body;
    gpointer user;
    DfsHttpResponse resp; /* of the attempt at hand */
    gboolean head_done;   /* head was called in this attempt */
    guint64 delivered;    /* body bytes given to body in this attempt */
    GString *error_body;  /* the start of a non-2xx body */
    gsize error_read;     /* bytes of a non-2xx body read */
    GError *cb_error;     /* what a caller's function failed with */
    guint gen;            /* the credentials' generation sent */
    char curl_error[CURL_ERROR_SIZE];
} Transfer;

typedef enum { TRY_OK, TRY_FAIL, TRY_AGAIN, TRY_AUTH } TryResult;

/* --- responses ------------------------------------------------------------ */

void dfs_http_response_clear(DfsHttpResponse *resp)
{
    g_clear_pointer(&resp->reason, g_free);
    g_clear_pointer(&resp->content_type, g_free);
    g_clear_pointer(&resp->warning, g_free);
    g_clear_pointer(&resp->etag, g_free);
    resp->status = 0;
    resp->content_length = -1;
    resp->retry_after_s = -1;
    resp->attempts = 0;
}

static gboolean is_success(int status)
{
    return (status >= 200 && status < 300) || status == 304;
}

static gboolean is_retried_status(int status)
{
    return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
           status == 504;
}

/* A connection that broke before an answer or before its body (a keep-alive
 * connection the server had dropped, a reset): worth another try. */
static gboolean is_retried_curl(CURLcode code)
{
    return code == CURLE_GOT_NOTHING || code == CURLE_RECV_ERROR || code == CURLE_SEND_ERROR ||
           code == CURLE_PARTIAL_FILE || code == CURLE_HTTP2 || code == CURLE_HTTP2_STREAM;
}

/* Retry-After (RFC 9110 10.2.3): seconds, or an HTTP date. */
static gint64 parse_retry_after(const char *v)
{
    if (g_ascii_isdigit(v[0])) {
        guint64 s = g_ascii_strtoull(v, NULL, 10);
        return (gint64)MIN(s, RETRY_AFTER_MAX_S);
    }
    time_t at = curl_getdate(v, NULL);
    if (at < 0)
        return -1;
    gint64 s = (gint64)at - (gint64)time(NULL);
    return CLAMP(s, 0, RETRY_AFTER_MAX_S);
}

/* The status line: "HTTP/1.1 503 Service Unavailable", "HTTP/2 200". */
static void parse_status_line(DfsHttpResponse *r, const char *line)
{
    guint attempts = r->attempts;
    dfs_http_response_clear(r);
    r->attempts = attempts;
    const char *p = strchr(line, ' ');
    if (p == NULL)
        return;
    char *end = NULL;
    guint64 status = g_ascii_strtoull(p + 1, &end, 10);
    r->status = status <= 999 ? (int)status : 0;
    while (end && *end == ' ')
        end++;
    if (end && *end)
        r->reason = g_strndup(end, HEADER_VALUE_MAX);
}

static void parse_header(DfsHttpResponse *r, const char *name, const char *value)
{
    if (g_ascii_strcasecmp(name, "content-type") == 0) {
        g_free(r->content_type);
        r->content_type = g_strndup(value, HEADER_VALUE_MAX);
    } else if (g_ascii_strcasecmp(name, "content-length") == 0) {
        r->content_length =
            g_ascii_isdigit(value[0]) ? (gint64)g_ascii_strtoull(value, NULL, 10) : -1;
    } else if (g_ascii_strcasecmp(name, "etag") == 0) {
        g_free(r->etag);
        r->etag = g_strndup(value, HEADER_VALUE_MAX);
    } else if (g_ascii_strcasecmp(name, "retry-after") == 0) {
        r->retry_after_s = parse_retry_after(value);
    } else if (g_ascii_strcasecmp(name, "warning") == 0) {
        if (r->warning == NULL) {
            r->warning = g_strndup(value, HEADER_VALUE_MAX);
        } else if (strlen(r->warning) < HEADER_VALUE_MAX) {
            char *joined = g_strconcat(r->warning, ", ", value, NULL);
            g_free(r->warning);
            r->warning = joined;
        }
    }
}

/* Each header line of each response (redirects and 1xx included: a status
 * line starts a response afresh). */
static size_t on_header(char *buf, size_t size, size_t n, void *p)
{
    Transfer *t = p;
    size_t len = size * n;
    g_autofree char *line = g_strndup(buf, len);
    g_strchomp(line);
    if (g_str_has_prefix(line, "HTTP/")) {
        parse_status_line(&t->resp, line);
        return len;
    }
    char *colon = strchr(line, ':');
    if (colon == NULL)
        return len;
    *colon = '\0';
    parse_header(&t->resp, g_strstrip(line), g_strstrip(colon + 1));
    return len;
}

/* --- handing the response to the caller ------------------------------------ */

static gboolean caller_failed(Transfer *t, const char *what)
{
    if (t->cb_error == NULL)
        g_set_error(&t->cb_error, DFS_ERROR, DFS_ERROR_IO, "GET %s: the %s function failed", t->url,
                    what);
    return FALSE;
}

static gboolean deliver_head(Transfer *t)
{
    if (t->head_done)
        return TRUE;
    t->head_done = TRUE;
    if (t->head && !t->head(&t->resp, t->user, &t->cb_error))
        return caller_failed(t, "header");
    return TRUE;
}

static size_t on_write(char *data, size_t size, size_t n, void *p)
{
    Transfer *t = p;
    size_t len = size * n;
    if (!is_success(t->resp.status)) {
        gsize room = ERROR_BODY_BYTES - MIN(t->error_body->len, ERROR_BODY_BYTES);
        g_string_append_len(t->error_body, data, (gssize)MIN(room, len));
        t->error_read += len;
        return t->error_read <= ERROR_BODY_MAX ? len : 0; /* enough of it: stop */
    }
    if (!deliver_head(t))
        return 0;
    if (len > 0 && t->body && !t->body((const guint8 *)data, len, t->user, &t->cb_error))
        return caller_failed(t, "body"), 0;
    t->delivered += len;
    return len;
}

/* --- credentials ------------------------------------------------------------ */

static void secret_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        g_free(s);
    }
}

/* The first line of a small file (without its line end). */
static char *read_first_line(const char *path, GError **error)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "%s: %s", path, g_strerror(e));
        return NULL;
    }
    char buf[CREDENTIAL_MAX_BYTES + 1] = {0};
    gsize got = 0;
    int e = 0;
    while (got < CREDENTIAL_MAX_BYTES && e == 0) {
        ssize_t r = read(fd, buf + got, CREDENTIAL_MAX_BYTES - got);
        if (r == 0)
            break;
        if (r < 0 && errno != EINTR)
            e = errno;
        got += r > 0 ? (gsize)r : 0;
    }
    close(fd);
    gsize line = strcspn(buf, "\r\n");
    char *out = NULL;
    if (e != 0)
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "%s: %s", path, g_strerror(e));
    else if (line == CREDENTIAL_MAX_BYTES)
        g_set_error(error, DFS_ERROR, DFS_ERROR_LIMIT, "%s: the first line is over %d bytes", path,
                    CREDENTIAL_MAX_BYTES - 1);
    else
        out = g_strndup(buf, line);
    explicit_bzero(buf, sizeof buf);
    return out;
}

/* Read the credential file again; TRUE (under cred_lock) when it changed. */
static gboolean load_credentials(DfsHttp *h, GError **error)
{
    char *line = read_first_line(h->cred_file, error);
    if (line == NULL)
        return FALSE;
    char *user = NULL, *secret = line;
    if (h->auth == AUTH_BASIC && h->user_option == NULL) {
        char *colon = strchr(line, ':');
        if (colon == NULL) {
            secret_free(line);
            g_set_error(error, DFS_ERROR, DFS_ERROR_IO,
                        "%s: no user given, and the first line is not user:password", h->cred_file);
            return FALSE;
        }
        user = g_strndup(line, (gsize)(colon - line));
        secret = g_strdup(colon + 1);
        secret_free(line);
    } else if (h->auth == AUTH_BEARER && line[0] == '\0') {
        secret_free(line);
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "%s: the first line is empty", h->cred_file);
        return FALSE;
    }
    gboolean changed = h->secret == NULL || strcmp(h->secret, secret) != 0 ||
                       (user && g_strcmp0(h->user, user) != 0);
    if (changed) {
        secret_free(h->secret);
        h->secret = secret;
        if (user) {
            g_free(h->user);
            h->user = user;
        }
        h->cred_gen++;
    } else {
        secret_free(secret);
        g_free(user);
    }
    return changed;
}

/* Set the request's credentials on c, noting which generation was sent. */
static void apply_credentials(DfsHttp *h, CURL *c, Transfer *t)
{
    g_mutex_lock(&h->cred_lock);
    t->gen = h->cred_gen;
    if (h->auth == AUTH_BASIC) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, h->user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, h->secret);
    } else if (h->auth == AUTH_BEARER) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
        curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, h->secret);
    }
    g_mutex_unlock(&h->cred_lock);
}

/* After a 401: TRUE when the request is worth sending again, because the
 * credentials changed since it was sent (another thread read them anew) or
 * their file says something new now. */
static gboolean renew_credentials(DfsHttp *h, Transfer *t)
{
    if (h->cred_file == NULL)
        return FALSE;
    g_mutex_lock(&h->cred_lock);
    gboolean again = h->cred_gen != t->gen;
    if (!again) {
        g_autoptr(GError) error = NULL;
        again = load_credentials(h, &error);
        if (error)
            g_warning("%s", error->message);
    }
    g_mutex_unlock(&h->cred_lock);
    return again;
}

/* --- the pool ----------------------------------------------------------------- */

static void share_lock(CURL *c, curl_lock_data data, curl_lock_access access, void *p)
{
    DfsHttp *h = p;
    if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
        g_mutex_lock(&h->share_locks[data]);
}

static void share_unlock(CURL *c, curl_lock_data data, void *p)
{
    DfsHttp *h = p;
    if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
        g_mutex_unlock(&h->share_locks[data]);
}

/* A handle with everything that is the same for every request. */
static CURL *handle_new(DfsHttp *h)
{
    CURL *c = curl_easy_init();
    if (c == NULL)
        return NULL;
    curl_easy_setopt(c, CURLOPT_SHARE, h->share);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, (long)RECEIVE_BUFFER);
    curl_easy_setopt(c, CURLOPT_MAXCONNECTS, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)h->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, (long)h->low_speed_bytes);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)h->low_speed_seconds);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, (long)MAX_REDIRECTS);
    curl_easy_setopt(c, CURLOPT_USERAGENT, h->user_agent);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (h->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
    if (h->use_netrc)
        curl_easy_setopt(c, CURLOPT_NETRC, (long)CURL_NETRC_OPTIONAL);
    if (h->use_netrc && h->auth == AUTH_NONE) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        if (h->user)
            curl_easy_setopt(c, CURLOPT_USERNAME, h->user);
    }
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    return c;
}

static CURL *pool_take(DfsHttp *h, GError **error)
{
    g_mutex_lock(&h->pool_lock);
    while (h->idle->len == 0 && h->stats.handles >= h->max_connections)
        g_cond_wait(&h->pool_cond, &h->pool_lock);
    CURL *c = h->idle->len ? g_ptr_array_steal_index(h->idle, h->idle->len - 1) : NULL;
    if (c == NULL)
        h->stats.handles++;
    h->stats.busy++;
    g_mutex_unlock(&h->pool_lock);
    if (c == NULL && (c = handle_new(h)) == NULL) {
        g_mutex_lock(&h->pool_lock);
        h->stats.handles--;
        h->stats.busy--;
        g_cond_signal(&h->pool_cond);
        g_mutex_unlock(&h->pool_lock);
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "libcurl could not make a handle");
    }
    return c;
}

static void pool_give(DfsHttp *h, CURL *c)
{
    g_mutex_lock(&h->pool_lock);
    g_ptr_array_add(h->idle, c);
    h->stats.busy--;
    g_cond_signal(&h->pool_cond);
    g_mutex_unlock(&h->pool_lock);
}

/* --- making the transport ------------------------------------------------------- */

static gpointer global_init(gpointer unused)
{
    return GINT_TO_POINTER(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK);
}

static gboolean setup_auth(DfsHttp *h, const DfsHttpOptions *o, GError **error)
{
    if (o->password_file && o->token_file) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO,
                    "a password file and a token file cannot both be given");
        return FALSE;
    }
    h->user = g_strdup(o->user);
    h->user_option = g_strdup(o->user);
    h->auth = o->password_file ? AUTH_BASIC : o->token_file ? AUTH_BEARER : AUTH_NONE;
    h->cred_file = g_strdup(o->password_file ? o->password_file : o->token_file);
    if (h->auth == AUTH_NONE && o->user && !o->use_netrc) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO,
                    "user %s has no password: give a password file or use ~/.netrc", o->user);
        return FALSE;
    }
    if (h->auth == AUTH_NONE)
        return TRUE;
    g_mutex_lock(&h->cred_lock);
    gboolean ok = load_credentials(h, error) || h->secret != NULL;
    g_mutex_unlock(&h->cred_lock);
    return ok;
}

static gboolean setup_tls(DfsHttp *h, const DfsHttpOptions *o, GError **error)
{
    if (o->ca_file == NULL)
        return TRUE;
    if (access(o->ca_file, R_OK) != 0) {
        int e = errno;
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "CA file %s: %s", o->ca_file, g_strerror(e));
        return FALSE;
    }
    h->ca_file = g_strdup(o->ca_file);
    return TRUE;
}

DfsHttp *dfs_http_new(const DfsHttpOptions *options, GError **error)
{
    static GOnce once = G_ONCE_INIT;
    if (!GPOINTER_TO_INT(g_once(&once, global_init, NULL))) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "libcurl could not start");
        return NULL;
    }
    DfsHttpOptions o = options ? *options : (DfsHttpOptions){0};
    DfsHttp *h = g_new0(DfsHttp, 1);
    h->max_connections = o.max_connections ? o.max_connections : DFS_HTTP_MAX_CONNECTIONS;
    h->max_attempts = o.max_attempts ? o.max_attempts : DFS_HTTP_MAX_ATTEMPTS;
    h->base_delay_ms = o.base_delay_ms ? o.base_delay_ms : 250;
    h->max_wait_ms = o.max_wait_ms ? o.max_wait_ms : 20000;
    h->connect_timeout_ms = o.connect_timeout_ms ? o.connect_timeout_ms : 5000;
    h->low_speed_bytes = o.low_speed_bytes ? o.low_speed_bytes : 1024;
    h->low_speed_seconds = o.low_speed_seconds ? o.low_speed_seconds : 30;
    h->use_netrc = o.use_netrc;
    h->user_agent = g_strdup(o.user_agent ? o.user_agent : "dicomfs/" DFS_VERSION);
    g_mutex_init(&h->cred_lock);
    g_mutex_init(&h->pool_lock);
    g_cond_init(&h->pool_cond);
    for (int k = 0; k < CURL_LOCK_DATA_LAST; k++)
        g_mutex_init(&h->share_locks[k]);
    h->idle = g_ptr_array_new();
    h->share = curl_share_init();
    if (h->share == NULL) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "libcurl could not make a share");
        dfs_http_free(h);
        return NULL;
    }
    curl_share_setopt(h->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(h->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(h->share, CURLSHOPT_USERDATA, h);
    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    if (!setup_auth(h, &o, error) || !setup_tls(h, &o, error)) {
        dfs_http_free(h);
        return NULL;
    }
    return h;
}

void dfs_http_free(DfsHttp *h)
{
    if (h == NULL)
        return;
    for (guint k = 0; k < h->idle->len; k++)
        curl_easy_cleanup(h->idle->pdata[k]);
    g_ptr_array_free(h->idle, TRUE);
    if (h->share)
        curl_share_cleanup(h->share);
    for (int k = 0; k < CURL_LOCK_DATA_LAST; k++)
        g_mutex_clear(&h->share_locks[k]);
    g_mutex_clear(&h->cred_lock);
    g_mutex_clear(&h->pool_lock);
    g_cond_clear(&h->pool_cond);
    secret_free(h->secret);
    g_free(h->user);
    g_free(h->user_option);
    g_free(h->cred_file);
    g_free(h->ca_file);
    g_free(h->user_agent);
    g_free(h);
}

void dfs_http_stats(DfsHttp *h, DfsHttpStats *out)
{
    g_mutex_lock(&h->pool_lock);
    *out = h->stats;
    g_mutex_unlock(&h->pool_lock);
}

/* --- one request ----------------------------------------------------------------- */

/* The start of an error response's body, on one line, printable. */
static char *body_excerpt(const GString *body)
{
    GString *s = g_string_new(NULL);
    for (gsize k = 0; k < body->len && s->len < 200; k++) {
        char ch = body->str[k];
        g_string_append_c(s, ch == '\n' || ch == '\r' || ch == '\t' ? ' '
                             : g_ascii_isprint(ch)                  ? ch
                                                                    : '?');
    }
    g_strstrip(s->str);
    return g_string_free(s, FALSE);
}

/* The error for a non-2xx response. */
static GError *status_error(Transfer *t)
{
    const DfsHttpResponse *r = &t->resp;
    g_autofree char *excerpt = body_excerpt(t->error_body);
    int code = r->status == 404 || r->status == 410 ? DFS_ERROR_NOT_FOUND : DFS_ERROR_IO;
    return g_error_new(DFS_ERROR, code, "GET %s: HTTP %d%s%s%s%s", t->url, r->status,
                       r->reason ? " " : "", r->reason ? r->reason : "", excerpt[0] ? ": " : "",
                       excerpt);
}

static GError *curl_failure(Transfer *t, CURLcode code)
{
    const char *text = t->curl_error[0] ? t->curl_error : curl_easy_strerror(code);
    if (t->delivered > 0 || t->head_done)
        return g_error_new(DFS_ERROR, DFS_ERROR_IO,
                           "GET %s: the transfer broke after %" G_GUINT64_FORMAT
                           " bytes of the body: %s",
                           t->url, t->delivered, text);
    return g_error_new(DFS_ERROR, DFS_ERROR_IO, "GET %s: %s", t->url, text);
}

/* One transfer of the request; *error gets the reason when it is not OK. */
static TryResult try_once(Transfer *t, CURL *c, const char *url, struct curl_slist *headers,
                          GError **error)
{
    guint attempts = t->resp.attempts;
    dfs_http_response_clear(&t->resp);
    t->resp.attempts = attempts + 1;
    t->head_done = FALSE;
    t->delivered = 0;
    g_string_truncate(t->error_body, 0);
    t->error_read = 0;
    t->curl_error[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, t->curl_error);
    apply_credentials(t->h, c, t);
    CURLcode code = curl_easy_perform(c);
    long connects = 0;
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    g_mutex_lock(&t->h->pool_lock);
    t->h->stats.attempts++;
    t->h->stats.connections += (guint64)MAX(connects, 0);
    t->h->stats.bytes += t->delivered;
    g_mutex_unlock(&t->h->pool_lock);

    if (t->cb_error) {
        g_propagate_error(error, g_steal_pointer(&t->cb_error));
        return TRY_FAIL;
    }
    gboolean error_body_cut = code == CURLE_WRITE_ERROR && t->error_read > ERROR_BODY_MAX;
    if (code != CURLE_OK && !error_body_cut) {
        g_propagate_error(error, curl_failure(t, code));
        return !t->head_done && is_retried_curl(code) ? TRY_AGAIN : TRY_FAIL;
    }
    int status = t->resp.status;
    if (is_success(status)) {
        if (deliver_head(t))
            return TRY_OK;
        g_propagate_error(error, g_steal_pointer(&t->cb_error));
        return TRY_FAIL;
    }
    g_propagate_error(error, status_error(t));
    if (status == 401)
        return TRY_AUTH;
    return is_retried_status(status) ? TRY_AGAIN : TRY_FAIL;
}

G_GNUC_PRINTF(2, 3)
static void append_to_error(GError *error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *more = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    char *message = g_strconcat(error->message, more, NULL);
    g_free(error->message);
    error->message = message;
}

/* How long to wait before attempt number `attempt` + 1, in ms. */
static guint64 backoff_ms(DfsHttp *h, guint attempt, const DfsHttpResponse *r)
{
    guint64 ms = (guint64)h->base_delay_ms << MIN(attempt - 1, 16u);
    ms += (guint64)g_random_int_range(0, (gint32)MIN(ms / 4, G_MAXINT32 - 1) + 1);
    if (r->retry_after_s >= 0)
        ms = MAX(ms, (guint64)r->retry_after_s * 1000);
    return ms;
}

/* After a failed attempt: TRY_AGAIN after *wait ms, or TRY_FAIL with the
 * reason added to failure. */
static TryResult next_step(Transfer *t, TryResult r, guint64 waited, gboolean *renewed,
                           GError *failure, guint64 *wait)
{
    DfsHttp *h = t->h;
    guint attempt = t->resp.attempts;
    *wait = 0;
    if (r == TRY_AUTH && !*renewed && attempt < h->max_attempts && renew_credentials(h, t)) {
        *renewed = TRUE;
        return TRY_AGAIN;
    }
    if (r == TRY_AUTH && h->cred_file)
        append_to_error(failure, " (refused the credentials of %s)", h->cred_file);
    else if (r == TRY_AUTH)
        append_to_error(failure, " (%s)", h->use_netrc ? "with ~/.netrc" : "no credentials given");
    if (r != TRY_AGAIN)
        return TRY_FAIL;
    if (attempt >= h->max_attempts) {
        append_to_error(failure, " (after %u attempts)", attempt);
        return TRY_FAIL;
    }
    *wait = backoff_ms(h, attempt, &t->resp);
    if (waited + *wait > h->max_wait_ms) {
        append_to_error(failure, " (after %u attempt%s; the next in %.1f s would be too late)",
                        attempt, attempt == 1 ? "" : "s", (double)*wait / 1000);
        return TRY_FAIL;
    }
    return TRY_AGAIN;
}

/* The attempts of one request, with their waits (holding no handle: other
 * requests use the connection meanwhile). */
static gboolean run(Transfer *t, const char *url, struct curl_slist *headers, GError **error)
{
    DfsHttp *h = t->h;
    guint64 waited = 0;
    gboolean renewed = FALSE;
    for (;;) {
        CURL *c = pool_take(h, error);
        if (c == NULL)
            return FALSE;
        GError *failure = NULL;
        TryResult r = try_once(t, c, url, headers, &failure);
        pool_give(h, c);
        guint64 wait = 0;
        if (r == TRY_OK)
            return TRUE;
        if (next_step(t, r, waited, &renewed, failure, &wait) == TRY_FAIL) {
            g_propagate_error(error, failure);
            return FALSE;
        }
        g_debug("%s (attempt %u; again in %" G_GUINT64_FORMAT " ms)", failure->message,
                t->resp.attempts, wait);
        g_clear_error(&failure);
        g_usleep((gulong)(wait * 1000));
        waited += wait;
        g_mutex_lock(&h->pool_lock);
        h->stats.retries++;
        g_mutex_unlock(&h->pool_lock);
    }
}

/* The URL without user information, for messages. */
static char *url_for_messages(const char *url)
{
    const char *scheme_end = strstr(url, "://");
    if (scheme_end == NULL)
        return g_strdup(url);
    const char *host = scheme_end + 3;
    const char *at = strchr(host, '@');
    const char *slash = strchr(host, '/');
    if (at == NULL || (slash && at > slash))
        return g_strdup(url);
    g_autofree char *scheme = g_strndup(url, (gsize)(host - url));
    return g_strconcat(scheme, at + 1, NULL);
}

gboolean dfs_http_get(DfsHttp *h, const char *url, const char *const *headers, DfsHttpHeadFunc head,
                      DfsHttpBodyFunc body, gpointer user, DfsHttpResponse *resp, GError **error)
{
    g_return_val_if_fail(h != NULL && url != NULL, FALSE);
    g_autofree char *shown = url_for_messages(url);
    Transfer t = {.h = h, .url = shown, .head = head, .body = body, .user = user};
    dfs_http_response_clear(&t.resp);
    t.error_body = g_string_new(NULL);
    struct curl_slist *list = NULL;
    for (guint k = 0; headers && headers[k]; k++)
        list = curl_slist_append(list, headers[k]);
    g_mutex_lock(&h->pool_lock);
    h->stats.requests++;
    g_mutex_unlock(&h->pool_lock);

    gboolean ok = run(&t, url, list, error);
    if (!ok) {
        g_mutex_lock(&h->pool_lock);
        h->stats.failures++;
        g_mutex_unlock(&h->pool_lock);
    }
    curl_slist_free_all(list);
    g_string_free(t.error_body, TRUE);
    if (resp)
        *resp = t.resp;
    else
        dfs_http_response_clear(&t.resp);
    return ok;
}

/* --- a bounded body in memory ------------------------------------------------------ */

typedef struct {
    GByteArray *data;
    gsize max;
    const char *url;
} Collect;

static gboolean collect_body(const guint8 *data, gsize len, gpointer user, GError **error)
{
    Collect *k = user;
    if (len > k->max - k->data->len) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_LIMIT,
                    "GET %s: the body is over %" G_GSIZE_FORMAT " bytes", k->url, k->max);
        return FALSE;
    }
    g_byte_array_append(k->data, data, (guint)len);
    return TRUE;
}

GBytes *dfs_http_get_bytes(DfsHttp *h, const char *url, const char *const *headers, gsize max_bytes,
                           DfsHttpResponse *resp, GError **error)
{
    g_autofree char *shown = url_for_messages(url);
    Collect k = {g_byte_array_new(), MIN(max_bytes, (gsize)G_MAXUINT), shown};
    if (!dfs_http_get(h, url, headers, NULL, collect_body, &k, resp, error)) {
        g_byte_array_unref(k.data);
        return NULL;
    }
    return g_byte_array_free_to_bytes(k.data);
}
