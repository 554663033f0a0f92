/* See fake-client.h.  The counters are read with a transport of their own,
 * whose connection the server does not count. */
#include "fake-client.h"

#include <stdio.h>
#include <string.h>

#include "web/http.h"

static DfsHttp *control(void)
{
    static DfsHttp *h;
    if (h == NULL) {
        g_autoptr(GError) error = NULL;
        h = dfs_http_new(NULL, &error);
        g_assert_no_error(error);
    }
    return h;
}

gboolean fake_available(void)
{
    return g_getenv("DFS_FAKE_URL") != NULL;
}

void fake_skip(void)
{
    g_test_skip("no fake server: run through tests/web/fake_dicomweb.py");
}

char *fake_url(const char *path)
{
    return g_strconcat(g_getenv("DFS_FAKE_URL"), path, NULL);
}

char *fake_file(const char *name)
{
    return g_build_filename(g_getenv("DFS_FAKE_DIR"), name, NULL);
}

static char *control_get(const char *path)
{
    g_autofree char *url = fake_url(path);
    g_autoptr(GError) error = NULL;
    GBytes *b = dfs_http_get_bytes(control(), url, NULL, 1 << 20, NULL, &error);
    g_assert_no_error(error);
    gsize len;
    const char *data = g_bytes_get_data(b, &len);
    char *text = g_strndup(data, len);
    g_bytes_unref(b);
    return text;
}

void fake_reset(void)
{
    g_free(control_get("/_reset"));
}

/* The value after "name " on a line of /_stats. */
static char *stat_line(const char *name)
{
    g_autofree char *text = control_get("/_stats");
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    gsize n = strlen(name);
    for (guint k = 0; lines[k]; k++)
        if (strncmp(lines[k], name, n) == 0 && lines[k][n] == ' ')
            return g_strdup(lines[k] + n + 1);
    return NULL;
}

gint64 fake_counter(const char *name)
{
    g_autofree char *v = stat_line(name);
    return v ? g_ascii_strtoll(v, NULL, 10) : -1;
}

char *fake_last_query(void)
{
    return stat_line("query");
}

static gint64 status_kb(const char *field)
{
    g_autofree char *text = NULL;
    if (!g_file_get_contents("/proc/self/status", &text, NULL, NULL))
        return -1;
    const char *at = strstr(text, field);
    return at ? g_ascii_strtoll(at + strlen(field) + 1, NULL, 10) : -1;
}

gint64 fake_rss_kb(void)
{
    return status_kb("VmRSS");
}

gint64 fake_peak_kb(void)
{
    return status_kb("VmHWM");
}

gboolean fake_reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f == NULL)
        return FALSE;
    gboolean ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok;
}
