/* Unit tests of one WADO-RS frame fetched alone (sources/wado.h's
 * dfs_wado_frame) against the fake server of tests/web/fake_dicomweb.py
 * (its /frame/SCENARIO/frames/N): the frame's bytes when its part is in
 * the syntax asked (or names none and the syntax asked is native little
 * endian); DFS_ERROR_UNSUPPORTED for a part in another syntax and for the
 * answers that say the server will not give the frame so (406, 404, 501),
 * an error of another kind for a server that cannot be reached right (401)
 * or a body cut before its closing boundary; two parts, or more bytes than
 * asked for, refused. */
#include <string.h>

#include "base/error.h"
#include "sources/wado.h"
#include "web/fake-client.h"
#include "web/http.h"

#define RLE "1.2.840.10008.1.2.5"
#define EXPLICIT_LE "1.2.840.10008.1.2.1"
#define IMPLICIT_LE "1.2.840.10008.1.2"
#define JPEG_BASELINE "1.2.840.10008.1.2.4.50"

/* Frame n of the fake instance under scenario, asked in syntax. */
static GBytes *frame(const char *scenario, guint n, const char *syntax, gsize max_bytes,
                     GError **error)
{
    DfsHttpOptions o = {.base_delay_ms = 10, .max_attempts = 2};
    g_autoptr(GError) why = NULL;
    DfsHttp *http = dfs_http_new(&o, &why);
    g_assert_no_error(why);
    g_autofree char *path = g_strdup_printf("/frame/%s", scenario);
    g_autofree char *url = fake_url(path);
    GBytes *bytes = dfs_wado_frame(http, url, n, syntax, max_bytes, error);
    dfs_http_free(http);
    return bytes;
}

static void assert_frame(GBytes *bytes, guint n, gsize size)
{
    g_assert_nonnull(bytes);
    gsize len;
    const guint8 *data = g_bytes_get_data(bytes, &len);
    g_assert_cmpuint(len, ==, size);
    for (gsize k = 0; k < len; k++)
        g_assert_cmpuint(data[k], ==, n);
}

static void test_same_syntax(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) b = frame("media=image~dicom-rle,ts=" RLE ",size=3000", 3, RLE, 1 << 20, &error);
    g_assert_no_error(error);
    assert_frame(b, 3, 3000);
}

static void test_native(void)
{
    /* A part naming no syntax is Explicit VR Little Endian, whose frames
     * are those of Implicit VR Little Endian too. */
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) b = frame("ts=none", 7, IMPLICIT_LE, 1 << 20, &error);
    g_assert_no_error(error);
    assert_frame(b, 7, 1000);
    g_autoptr(GBytes) c = frame("ts=" EXPLICIT_LE, 2, IMPLICIT_LE, 1 << 20, &error);
    g_assert_no_error(error);
    assert_frame(c, 2, 1000);
}

static void test_other_syntax(void)
{
    /* A server that transcodes: not the stored frame. */
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) b = frame("ts=" EXPLICIT_LE, 1, JPEG_BASELINE, 1 << 20, &error);
    g_assert_null(b);
    g_assert_error(error, DFS_ERROR, DFS_ERROR_UNSUPPORTED);
    g_clear_error(&error);
    g_autoptr(GBytes) c = frame("media=image~jpeg,ts=none", 1, JPEG_BASELINE, 1 << 20, &error);
    g_assert_null(c);
    g_assert_error(error, DFS_ERROR, DFS_ERROR_UNSUPPORTED);
}

static void test_refused(void)
{
    static const char *const refusals[] = {"status=406", "status=404", "status=501"};
    for (guint k = 0; k < G_N_ELEMENTS(refusals); k++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) b = frame(refusals[k], 1, RLE, 1 << 20, &error);
        g_assert_null(b);
        g_assert_error(error, DFS_ERROR, DFS_ERROR_UNSUPPORTED);
    }
    /* Credentials wanted, or a body cut short: failures, not refusals. */
    static const char *const failures[] = {"status=401", "cut=1,ts=" RLE};
    for (guint k = 0; k < G_N_ELEMENTS(failures); k++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) b = frame(failures[k], 1, RLE, 1 << 20, &error);
        g_assert_null(b);
        g_assert_nonnull(error);
        g_assert_false(g_error_matches(error, DFS_ERROR, DFS_ERROR_UNSUPPORTED));
    }
}

static void test_bounds(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) b = frame("parts=2,ts=" RLE, 1, RLE, 1 << 20, &error);
    g_assert_null(b);
    g_assert_error(error, DFS_ERROR, DFS_ERROR_MALFORMED);
    g_clear_error(&error);
    g_autoptr(GBytes) c = frame("size=5000,ts=" RLE, 1, RLE, 4096, &error);
    g_assert_null(c);
    g_assert_error(error, DFS_ERROR, DFS_ERROR_LIMIT);
    g_clear_error(&error);
    g_autoptr(GBytes) d = frame("size=4096,ts=" RLE, 1, RLE, 4096, &error);
    g_assert_no_error(error);
    assert_frame(d, 1, 4096);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    if (!fake_available()) {
        g_test_add_func("/wado-frame/no-fake-server", fake_skip);
        return g_test_run();
    }
    g_test_add_func("/wado-frame/same-syntax", test_same_syntax);
    g_test_add_func("/wado-frame/native", test_native);
    g_test_add_func("/wado-frame/other-syntax", test_other_syntax);
    g_test_add_func("/wado-frame/refused", test_refused);
    g_test_add_func("/wado-frame/bounds", test_bounds);
    return g_test_run();
}
