/* Unit tests of the DICOMweb transport (web/http.h) against the fake
 * server of tests/web/fake_dicomweb.py, which runs this binary: statuses and
 * headers, gzip, retries on 503 with Retry-After and their bounds, dropped
 * and reused connections, bodies cut before and after their first byte,
 * basic and bearer authentication from files (a token renewed after a 401)
 * and ~/.netrc, TLS with a CA file (and refused without it, or with another
 * CA), streaming a large body in bounded memory, the pool's bound
 * on connections under threads, and errors that tell a server failure from
 * "not found". */
#include <errno.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/error.h"
#include "web/http.h"
#include "web/fake-client.h"

/* Fast retries, so that tests of exhaustion take milliseconds. */
static DfsHttp *quick_http(guint max_connections)
{
    DfsHttpOptions o = {.max_connections = max_connections, .base_delay_ms = 10};
    g_autoptr(GError) error = NULL;
    DfsHttp *h = dfs_http_new(&o, &error);
    g_assert_no_error(error);
    return h;
}

/* GET path; the body as a string (NULL on failure, with *error). */
static char *get_text(DfsHttp *h, const char *path, DfsHttpResponse *resp, GError **error)
{
    g_autofree char *url = fake_url(path);
    GBytes *b = dfs_http_get_bytes(h, url, NULL, 16 << 20, resp, error);
    if (b == NULL)
        return NULL;
    gsize len;
    const char *data = g_bytes_get_data(b, &len);
    char *text = g_strndup(data, len);
    g_bytes_unref(b);
    return text;
}

static void test_ok(void)
{
    g_autoptr(DfsHttp) h = quick_http(0);
    g_autofree char *url = fake_url("/ok");
    const char *const headers[] = {"X-Dfs-Test: sent", NULL};
    DfsHttpResponse r;
    g_autoptr(GError) error = NULL;
    GBytes *b = dfs_http_get_bytes(h, url, headers, 1024, &r, &error);
    g_assert_no_error(error);
    g_assert_cmpmem(g_bytes_get_data(b, NULL), g_bytes_get_size(b), "hello\necho sent\n", 16);
    g_bytes_unref(b);
    g_assert_cmpint(r.status, ==, 200);
    g_assert_cmpstr(r.reason, ==, "OK");
    g_assert_cmpstr(r.content_type, ==, "text/plain");
    g_assert_cmpint(r.content_length, ==, 16);
    g_assert_cmpstr(r.etag, ==, "\"abc\"");
    g_assert_null(r.warning);
    g_assert_cmpint(r.retry_after_s, ==, -1);
    g_assert_cmpuint(r.attempts, ==, 1);
    dfs_http_response_clear(&r);
    DfsHttpStats st;
    dfs_http_stats(h, &st);
    g_assert_cmpuint(st.requests, ==, 1);
    g_assert_cmpuint(st.retries, ==, 0);
    g_assert_cmpuint(st.bytes, ==, 16);
    g_assert_cmpuint(st.connections, ==, 1);
}

/* The head function sees the final response only, once. */
static gboolean count_heads(const DfsHttpResponse *resp, gpointer user, GError **error)
{
    (*(int *)user)++;
    return TRUE;
}

static void test_head_once(void)
{
    g_autoptr(DfsHttp) h = quick_http(0);
    g_autofree char *url = fake_url("/retry-after/head/1");
    int heads = 0;
    g_autoptr(GError) error = NULL;
    g_assert_true(dfs_http_get(h, url, NULL, count_heads, NULL, &heads, NULL, &error));
    g_assert_no_error(error);
    g_assert_cmpint(heads, ==, 1); /* the 503 before was not the caller's */
}

static void test_gzip(void)
{
    fake_reset();
    g_autoptr(DfsHttp) h = quick_http(0);
    g_autoptr(GError) error = NULL;
    DfsHttpResponse r;
    g_autofree char *text = get_text(h, "/gzip", &r, &error);
    g_assert_no_error(error);
    g_assert_cmpint(fake_counter("gzip"), ==, 1);
    g_assert_true(g_str_has_prefix(text, "line 0 of a compressible body\n"));
    g_assert_true(g_str_has_suffix(text, "line 2999 of a compressible body\n"));
    g_assert_cmpint(r.content_length, <, (gint64)strlen(text) / 10); /* on the wire */
    dfs_http_response_clear(&r);
}

static void test_retry_after(void)
{
    g_autoptr(DfsHttp) h = quick_http(0);
    g_autoptr(GError) error = NULL;
    DfsHttpResponse r;
    gint64 t0 = g_get_monotonic_time();
    g_autofree char *text = get_text(h, "/retry-after/a/2", &r, &error);
    double s = (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
    g_assert_no_error(error);
    g_assert_cmpstr(text, ==, "after retries\n");
    g_assert_cmpuint(r.attempts, ==, 3);
    g_assert_cmpfloat(s, >=, 1.9); /* Retry-After: 1, twice, over a 10 ms backoff */
    g_assert_cmpfloat(s, <, 10);
    dfs_http_response_clear(&r);
    DfsHttpStats st;
    dfs_http_stats(h, &st);
    g_assert_cmpuint(st.retries, ==, 2);
    g_assert_cmpuint(st.attempts, ==, 3);
    g_assert_cmpuint(st.failures, ==, 0);
}

static void test_retry_exhausted(void)
{
    DfsHttpOptions o = {.max_attempts = 3, .base_delay_ms = 10};
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsHttp) h = dfs_http_new(&o, &error);
    DfsHttpResponse r;
    g_autofree char *text = get_text(h, "/status/503", &r, &error);
    g_assert_null(text);
    g_assert_error(error, DFS_ERROR, DFS_ERROR_IO);
    g_test_message("%s", error->message);
    g_assert_nonnull(strstr(error->message, "/status/503"));
    g_assert_nonnull(strstr(error->message, "HTTP 503 Service Unavailable: boom 503 second line"));
    g_assert_nonnull(strstr(error->message, "(after 3 attempts)"));
    g_assert_cmpuint(r.attempts, ==, 3);
    g_assert_cmpint(r.status, ==, 503);
    dfs_http_response_clear(&r);
}

/* A Retry-After longer than the waits allowed fails at once. */
static void test_retry_budget(void)
{
    DfsHttpOptions o = {.base_delay_ms = 10, .max_wait_ms = 500};
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsHttp) h = dfs_http_new(&o, &error);
    gint64 t0 = g_get_monotonic_time();
    g_autofree char *text = get_text(h, "/retry-after/budget/5", NULL, &error);
    g_assert_error(error, DFS_ERROR, DFS_ERROR_IO);
    g_assert_cmpint(g_get_monotonic_time() - t0, <, G_USEC_PER_SEC * 9 / 10); /* no wait */
    g_test_message("%s", error->message);
    g_assert_nonnull(strstr(error->message, "503"));
    g_assert_nonnull(strstr(error->message, "would be too late"));
}

static void test_statuses(void)
{
    g_autoptr(DfsHttp) h = quick_http(0);
    struct {
        int status, code;
        guint attempts;
    } cases[] = {{404, DFS_ERROR_NOT_FOUND, 1}, {410, DFS_ERROR_NOT_FOUND, 1},
                 {403, DFS_ERROR_IO, 1},        {400, DFS_ERROR_IO, 1},
                 {500, DFS_ERROR_IO, 5},        {502, DFS_ERROR_IO, 5},
                 {504, DFS_ERROR_IO, 5},        {429, DFS_ERROR_IO, 5}};
    for (guint k = 0; k < G_N_ELEMENTS(cases); k++) {
        g_autofree char *path = g_strdup_printf("/status/%d", cases[k].status);
        g_autoptr(GError) error = NULL;
        DfsHttpResponse r;
        g_assert_null(get_text(h, path, &r, &error));
        g_assert_error(error, DFS_ERROR, cases[k].code);
        g_assert_nonnull(strstr(error->message, path));
        g_assert_cmpuint(r.attempts, ==, cases[k].attempts);
        dfs_http_response_clear(&r);
    }
}

static void test_drop_fresh(void)
{
    g_autoptr(DfsHttp) h = quick_http(0);
    g_autoptr(GError) error = NULL;
    g_autofree char *text = get_text(h, "/drop-fresh/a", NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(text, ==, "fresh\n");
    DfsHttpStats st;
    dfs_http_stats(h, &st);
    g_assert_cmpuint(st.retries, ==, 1);
}

/* The server drops a kept-alive connection (as Orthanc does after a long
 * request): the request goes again, on a new connection. */
static void test_drop_reused(void)
{
    fake_reset();
    g_autoptr(DfsHttp) h = quick_http(1);
    g_autoptr(GError) error = NULL;
    g_free(get_text(h, "/ok", NULL, &error));
    g_assert_no_error(error);
    g_autofree char *text = get_text(h, "/drop-reused/a", NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(text, ==, "reused\n");
    g_assert_cmpint(fake_counter("dropped_reused"), ==, 1);
    DfsHttpStats st;
    dfs_http_stats(h, &st);
    g_assert_cmpuint(st.connections, ==, 2);
}

static void test_cut_before_body(void)
{
    g_autoptr(DfsHttp) h = quick_http(0);
    g_autoptr(GError) error = NULL;
    DfsHttpResponse r;
    g_autofree char *text = get_text(h, "/cut-head/a", &r, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(strlen(text), ==, 1000);
    g_assert_cmpuint(r.attempts, ==, 2);
    dfs_http_response_clear(&r);
}

static gboolean count_body(const guint8 *data, gsize len, gpointer user, GError **error)
{
    *(guint64 *)user += len;
    return TRUE;
}

/* Cut after body bytes reached the caller: an error, not a short success,
 * and not tried again (the caller has seen bytes). */
static void test_cut_body(void)
{
    fake_reset();
    g_autoptr(DfsHttp) h = quick_http(0);
    g_autofree char *url = fake_url("/cut-body");
    g_autoptr(GError) error = NULL;
    guint64 got = 0;
    DfsHttpResponse r;
    g_assert_false(dfs_http_get(h, url, NULL, NULL, count_body, &got, &r, &error));
    g_assert_error(error, DFS_ERROR, DFS_ERROR_IO);
    g_test_message("%s", error->message);
    g_assert_nonnull(strstr(error->message, "/cut-body"));
    g_assert_nonnull(strstr(error->message, "broke after 500 bytes"));
    g_assert_cmpuint(got, ==, 500);
    g_assert_cmpuint(r.attempts, ==, 1);
    g_assert_cmpint(fake_counter("requests"), ==, 1);
    dfs_http_response_clear(&r);
}

/* 50 MB through the body function in bounded memory; kept in memory only
 * up to the bound asked for. */
static void test_stream_big(void)
{
    g_autoptr(DfsHttp) h = quick_http(0);
    g_autofree char *url = fake_url("/big/52428800");
    g_autoptr(GError) error = NULL;
    gboolean peak = fake_reset_peak();
    gint64 before = fake_rss_kb();
    guint64 got = 0;
    g_assert_true(dfs_http_get(h, url, NULL, NULL, count_body, &got, NULL, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(got, ==, 52428800);
    if (peak)
        g_assert_cmpint(fake_peak_kb() - before, <, 20 * 1024);
    g_assert_null(dfs_http_get_bytes(h, url, NULL, 1 << 20, NULL, &error));
    g_assert_error(error, DFS_ERROR, DFS_ERROR_LIMIT);
}

static void test_refused(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    g_assert_cmpint(bind(fd, (struct sockaddr *)&a, sizeof a), ==, 0);
    g_assert_cmpint(getsockname(fd, (struct sockaddr *)&a, &len), ==, 0);
    close(fd); /* nobody listens there now */
    g_autofree char *url = g_strdup_printf("http://127.0.0.1:%u/x", ntohs(a.sin_port));
    g_autoptr(DfsHttp) h = quick_http(0);
    g_autoptr(GError) error = NULL;
    DfsHttpResponse r;
    g_assert_null(dfs_http_get_bytes(h, url, NULL, 1024, &r, &error));
    g_assert_error(error, DFS_ERROR, DFS_ERROR_IO);
    g_test_message("%s", error->message);
    g_assert_nonnull(strstr(error->message, url));
    g_assert_cmpuint(r.attempts, ==, 1);
    g_assert_cmpint(r.status, ==, 0);
    dfs_http_response_clear(&r);
}

static void test_basic(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsHttp) none = quick_http(0);
    g_assert_null(get_text(none, "/auth/basic", NULL, &error));
    g_assert_error(error, DFS_ERROR, DFS_ERROR_IO);
    g_assert_nonnull(strstr(error->message, "401"));
    g_clear_error(&error);

    g_autofree char *password = fake_file("password");
    DfsHttpOptions o = {.user = "alice", .password_file = password};
    g_autoptr(DfsHttp) with_user = dfs_http_new(&o, &error);
    g_assert_no_error(error);
    g_autofree char *t1 = get_text(with_user, "/auth/basic", NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(t1, ==, "welcome alice\n");

    g_autofree char *userpass = fake_file("userpass");
    DfsHttpOptions o2 = {.password_file = userpass};
    g_autoptr(DfsHttp) from_file = dfs_http_new(&o2, &error);
    g_assert_no_error(error);
    g_autofree char *t2 = get_text(from_file, "/auth/basic", NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(t2, ==, "welcome alice\n");
    /* Refused, then the file holds the right user:password: read again on
     * the 401, as user:password still (not as a password). */
    g_autofree char *rotated = fake_file("rotated");
    g_assert_true(g_file_set_contents(rotated, "alice:old\n", -1, NULL));
    DfsHttpOptions o4 = {.password_file = rotated};
    g_autoptr(DfsHttp) renewed = dfs_http_new(&o4, &error);
    g_assert_no_error(error);
    g_assert_true(g_file_set_contents(rotated, "alice:s3cret\n", -1, NULL));
    DfsHttpResponse r2;
    g_autofree char *t3 = get_text(renewed, "/auth/basic", &r2, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(t3, ==, "welcome alice\n");
    g_assert_cmpuint(r2.attempts, ==, 2);
    dfs_http_response_clear(&r2);

    g_autofree char *wrong = fake_file("wrong");
    DfsHttpOptions o3 = {.user = "alice", .password_file = wrong};
    g_autoptr(DfsHttp) refused = dfs_http_new(&o3, &error);
    DfsHttpResponse r;
    g_assert_null(get_text(refused, "/auth/basic", &r, &error));
    g_assert_error(error, DFS_ERROR, DFS_ERROR_IO);
    g_assert_cmpint(r.status, ==, 401);
    g_assert_cmpuint(r.attempts, ==, 1); /* the file said nothing new */
    g_assert_null(strstr(error->message, "nope"));
    g_assert_nonnull(strstr(error->message, "refused the credentials of"));
    dfs_http_response_clear(&r);
}

static void test_bad_options(void)
{
    g_autoptr(GError) error = NULL;
    DfsHttpOptions o = {.user = "alice", .password_file = "/nonexistent/password"};
    g_assert_null(dfs_http_new(&o, &error));
    g_assert_error(error, DFS_ERROR, DFS_ERROR_IO);
    g_assert_nonnull(strstr(error->message, "/nonexistent/password"));
    g_clear_error(&error);
    DfsHttpOptions o2 = {.ca_file = "/nonexistent/ca.pem"};
    g_assert_null(dfs_http_new(&o2, &error));
    g_assert_error(error, DFS_ERROR, DFS_ERROR_IO);
    g_clear_error(&error);
    DfsHttpOptions o3 = {.user = "alice"};
    g_assert_null(dfs_http_new(&o3, &error));
    g_assert_error(error, DFS_ERROR, DFS_ERROR_IO);
}

/* The server rotates the token (writing the new one to the file) and
 * answers 401: the file is read again and the request sent again. */
static void test_bearer_renewed(void)
{
    g_autofree char *token = fake_file("token");
    g_assert_true(g_file_set_contents(token, "tok-1\n", -1, NULL));
    DfsHttpOptions o = {.token_file = token};
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsHttp) h = dfs_http_new(&o, &error);
    g_assert_no_error(error);
    DfsHttpResponse r;
    g_autofree char *text = get_text(h, "/auth/bearer", &r, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(text, ==, "welcome bearer\n");
    g_assert_cmpuint(r.attempts, ==, 2);
    dfs_http_response_clear(&r);
    g_autofree char *again = get_text(h, "/auth/bearer", &r, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(r.attempts, ==, 1);
    dfs_http_response_clear(&r);
}

static void test_netrc(void)
{
    g_autofree char *home = fake_file("home");
    g_assert_cmpint(g_mkdir_with_parents(home, 0700), ==, 0);
    g_autofree char *netrc = g_build_filename(home, ".netrc", NULL);
    g_assert_true(
        g_file_set_contents(netrc, "machine 127.0.0.1 login alice password s3cret\n", -1, NULL));
    g_chmod(netrc, 0600);
    g_autofree char *old_home = g_strdup(g_getenv("HOME"));
    g_setenv("HOME", home, TRUE);
    DfsHttpOptions o = {.use_netrc = TRUE};
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsHttp) h = dfs_http_new(&o, &error);
    g_assert_no_error(error);
    g_autofree char *text = get_text(h, "/auth/basic", NULL, &error);
    if (old_home)
        g_setenv("HOME", old_home, TRUE);
    g_assert_no_error(error);
    g_assert_cmpstr(text, ==, "welcome alice\n");
}

/* TLS on the fake server's self-signed certificate: trusted through
 * ca_file, refused without it and with a CA that did not sign it. */
static void test_tls(void)
{
    if (g_getenv("DFS_FAKE_TLS_URL") == NULL) {
        g_test_skip("no TLS server (no openssl command)");
        return;
    }
    g_autofree char *url = g_strconcat(g_getenv("DFS_FAKE_TLS_URL"), "/ok", NULL);
    g_autofree char *cert = fake_file("tls-cert.pem");
    g_autofree char *other = fake_file("other-ca.pem");
    const char *cas[] = {cert, NULL, other};
    for (guint k = 0; k < G_N_ELEMENTS(cas); k++) {
        DfsHttpOptions o = {.ca_file = cas[k], .base_delay_ms = 10};
        g_autoptr(GError) error = NULL;
        g_autoptr(DfsHttp) h = dfs_http_new(&o, &error);
        g_assert_no_error(error);
        DfsHttpResponse r;
        GBytes *b = dfs_http_get_bytes(h, url, NULL, 1024, &r, &error);
        if (k == 0) {
            g_assert_no_error(error);
            g_assert_cmpmem(g_bytes_get_data(b, NULL), g_bytes_get_size(b), "hello\n", 6);
            g_bytes_unref(b);
        } else {
            g_assert_null(b);
            g_assert_error(error, DFS_ERROR, DFS_ERROR_IO);
            g_test_message("%s", error->message);
            g_assert_nonnull(strstr(error->message, "certificate"));
            g_assert_cmpuint(r.attempts, ==, 1);
        }
        dfs_http_response_clear(&r);
    }
}

typedef struct {
    DfsHttp *h;
    guint ok;
} Worker;

static gpointer worker(gpointer p)
{
    Worker *w = p;
    for (int k = 0; k < 15; k++) {
        g_autoptr(GError) error = NULL;
        g_autofree char *text = get_text(w->h, "/slow/10", NULL, &error);
        w->ok += text && strcmp(text, "slow\n") == 0;
    }
    return NULL;
}

/* Eight threads through a pool of three: never more than three
 * connections, each kept alive. */
static void test_pool_bound(void)
{
    fake_reset();
    g_autoptr(DfsHttp) h = quick_http(3);
    Worker w[8] = {{0}};
    GThread *t[8];
    for (int k = 0; k < 8; k++) {
        w[k].h = h;
        t[k] = g_thread_new("worker", worker, &w[k]);
    }
    for (int k = 0; k < 8; k++) {
        g_thread_join(t[k]);
        g_assert_cmpuint(w[k].ok, ==, 15);
    }
    DfsHttpStats st;
    dfs_http_stats(h, &st);
    g_test_message("120 requests on 8 threads: %" G_GUINT64_FORMAT
                   " connections opened, at most %" G_GINT64_FORMAT " open at once",
                   st.connections, fake_counter("max_open"));
    g_assert_cmpuint(st.requests, ==, 120);
    g_assert_cmpuint(st.handles, <=, 3);
    g_assert_cmpuint(st.busy, ==, 0);
    g_assert_cmpuint(st.connections, <=, 3);
    g_assert_cmpint(fake_counter("opened"), <=, 3);
    g_assert_cmpint(fake_counter("max_open"), <=, 3);
    g_assert_cmpint(fake_counter("requests"), ==, 120);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    if (!fake_available()) {
        g_test_add_func("/http/no-fake-server", fake_skip);
        return g_test_run();
    }
    struct {
        const char *path;
        GTestFunc fn;
    } tests[] = {
        {"/http/get/ok", test_ok},
        {"/http/get/head-once", test_head_once},
        {"/http/get/gzip", test_gzip},
        {"/http/retry/retry-after", test_retry_after},
        {"/http/retry/exhausted", test_retry_exhausted},
        {"/http/retry/budget", test_retry_budget},
        {"/http/errors/statuses", test_statuses},
        {"/http/errors/refused", test_refused},
        {"/http/connection/dropped-fresh", test_drop_fresh},
        {"/http/connection/dropped-reused", test_drop_reused},
        {"/http/body/cut-before-body", test_cut_before_body},
        {"/http/body/cut-in-body", test_cut_body},
        {"/http/body/stream-50mb", test_stream_big},
        {"/http/auth/basic", test_basic},
        {"/http/auth/bad-options", test_bad_options},
        {"/http/auth/bearer-renewed", test_bearer_renewed},
        {"/http/auth/netrc", test_netrc},
        {"/http/tls/ca-file", test_tls},
        {"/http/pool/bound", test_pool_bound},
    };
    for (guint k = 0; k < G_N_ELEMENTS(tests); k++)
        g_test_add_func(tests[k].path, tests[k].fn);
    return g_test_run();
}
