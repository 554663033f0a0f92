/* Unit tests of a DICOMweb series retrieved in one request
 * (sources/retrieve.h) against the fake server of tests/web/fake_dicomweb.py
 * (its /series/SCENARIO: n Part 10 instances with 128 KiB of Pixel Data
 * and trailing padding, EOF-delimited as Orthanc's): headers kept as sparse
 * copies whose every byte but the Pixel Data value is the instance's; the
 * first instance wanted of such a series starts nothing, the second starts
 * one request; a series kept whole; a body cut before its closing boundary
 * (the parts before it kept, the error told once, no temporary file left);
 * a retrieve nobody waits on stopped idle and started again by a want,
 * keeping what came. */
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"
#include "dicom/reader.h"
#include "dicom/tags.h"
#include "sources/retrieve.h"
#include "sources/webcache.h"
#include "web/fake-client.h"
#include "web/http.h"

#define UID_ROOT "1.2.826.0.1.3680043.8.498.99."
#define PIXEL_BYTES (128u << 10)

typedef struct {
    char *dir;
    DfsHttp *http;
    DfsWebCache *cache;
    DfsRetriever *r;
    guint errors;
} Fixture;

static void count_error(const GError *error, gpointer user)
{
    (void)error;
    ((Fixture *)user)->errors++;
}

static void setup(Fixture *f, guint idle_ms)
{
    fake_reset();
    g_autoptr(GError) error = NULL;
    f->dir = g_dir_make_tmp("dfs-retrieve-XXXXXX", &error);
    g_assert_no_error(error);
    DfsHttpOptions o = {.base_delay_ms = 10};
    f->http = dfs_http_new(&o, &error);
    g_assert_no_error(error);
    f->cache = dfs_web_cache_new(f->dir, 64u << 20, &error);
    g_assert_no_error(error);
    g_autofree char *base = fake_url("");
    if (g_str_has_suffix(base, "/"))
        base[strlen(base) - 1] = '\0';
    f->r = dfs_retriever_new(f->http, f->cache, base, idle_ms, count_error, f);
    f->errors = 0;
}

static void teardown(Fixture *f)
{
    dfs_retriever_free(f->r);
    dfs_http_free(f->http);
    dfs_web_cache_free(f->cache);
    GDir *d = g_dir_open(f->dir, 0, NULL);
    const char *n;
    while (d != NULL && (n = g_dir_read_name(d)) != NULL) {
        g_autofree char *p = g_build_filename(f->dir, n, NULL);
        g_unlink(p);
    }
    if (d != NULL)
        g_dir_close(d);
    g_rmdir(f->dir);
    g_free(f->dir);
}

static char *relpath(const char *prefix, guint k)
{
    return g_strdup_printf("%s/instances/" UID_ROOT "%u", prefix, k);
}

static gboolean cached(Fixture *f, const char *key)
{
    guint64 size;
    return dfs_web_cache_size(f->cache, key, &size);
}

/* Files in the cache's folder whose names are temporary. */
static guint temporaries(Fixture *f)
{
    guint n = 0;
    GDir *d = g_dir_open(f->dir, 0, NULL);
    const char *name;
    while (d != NULL && (name = g_dir_read_name(d)) != NULL)
        n += g_str_has_prefix(name, ".part-");
    if (d != NULL)
        g_dir_close(d);
    return n;
}

/* A header copy: as long as the instance, most of its Pixel Data value a
 * hole (zeros), the header and the trailing padding the instance's. */
static void check_header_copy(Fixture *f, const char *rel, guint k)
{
    g_autofree char *key = dfs_retriever_header_key(rel);
    g_autofree char *path = dfs_web_cache_lookup(f->cache, key);
    g_assert_nonnull(path);
    struct stat st;
    g_assert_cmpint(stat(path, &st), ==, 0);
    g_assert_cmpuint((guint64)st.st_blocks * 512, <, (guint64)st.st_size / 2);
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsDataset) ds = dfs_read_file(path, DFS_READ_FULL, &error);
    g_assert_no_error(error);
    g_autoptr(GString) uid = g_string_new(NULL);
    g_assert_true(dfs_dataset_append_string(ds, DFS_ROOT, DFS_TAG_SOP_INSTANCE_UID, uid));
    g_autofree char *want = g_strdup_printf(UID_ROOT "%u", k);
    g_assert_cmpstr(uid->str, ==, want);
    guint px = dfs_dataset_pixel_data(ds);
    g_assert_cmpuint(px, !=, DFS_NO_INDEX);
    const DfsElement *e = dfs_dataset_element(ds, px);
    g_assert_cmpuint(e->length, ==, PIXEL_BYTES);
    g_assert_cmpuint(e->offset + e->length + 12 + 8, ==, (guint64)st.st_size); /* (FFFC,FFFC) OB */
    g_autofree char *bytes = NULL;
    gsize len;
    g_assert_true(g_file_get_contents(path, &bytes, &len, NULL));
    g_assert_cmpmem(bytes + len - 8, 8, "trailing", 8); /* after the hole */
    g_assert_cmpint(bytes[e->offset + e->length / 2], ==, 0); /* punched */
    g_assert_cmpint(bytes[e->offset], ==, 0x5a); /* the partial page before it kept */
}

static void test_headers(void)
{
    Fixture f;
    setup(&f, 0);
    const char *prefix = "series/n=8";
    g_autofree char *r0 = relpath(prefix, 0), *r1 = relpath(prefix, 1), *r7 = relpath(prefix, 7);
    /* The first instance wanted of a series kept as headers: nothing asked. */
    g_assert_false(dfs_retriever_wait(f.r, prefix, DFS_KEEP_HEADERS, r0, 200));
    g_assert_cmpint(fake_counter("requests"), ==, 0);
    /* The second: the series, in one request. */
    g_assert_true(dfs_retriever_wait(f.r, prefix, DFS_KEEP_HEADERS, r1, G_MAXUINT));
    g_assert_true(dfs_retriever_wait(f.r, prefix, DFS_KEEP_HEADERS, r7, G_MAXUINT));
    /* Asked again: the retrieve ran, nothing is asked again. */
    g_assert_true(dfs_retriever_wait(f.r, prefix, DFS_KEEP_HEADERS, r0, G_MAXUINT));
    g_assert_cmpint(fake_counter("requests"), ==, 1);
    for (guint k = 0; k < 8; k++) {
        g_autofree char *rel = relpath(prefix, k);
        g_assert_false(cached(&f, rel)); /* not whole */
        check_header_copy(&f, rel, k);
    }
    DfsRetrieverStats s;
    dfs_retriever_stats(f.r, &s);
    g_assert_cmpuint(s.headers, ==, 1);
    g_assert_cmpuint(s.whole, ==, 0);
    g_assert_cmpuint(s.parts_header, ==, 8);
    g_assert_cmpuint(s.failed, ==, 0);
    g_assert_cmpuint(f.errors, ==, 0);
    g_assert_cmpuint(temporaries(&f), ==, 0);
    teardown(&f);
}

static void test_whole(void)
{
    Fixture f;
    setup(&f, 0);
    const char *prefix = "series/n=5";
    g_autofree char *r2 = relpath(prefix, 2);
    /* A series kept whole starts at the first want. */
    g_assert_true(dfs_retriever_wait(f.r, prefix, DFS_KEEP_WHOLE, r2, G_MAXUINT));
    for (guint k = 0; k < 5; k++) {
        g_autofree char *rel = relpath(prefix, k);
        g_assert_true(dfs_retriever_wait(f.r, prefix, DFS_KEEP_WHOLE, rel, G_MAXUINT));
        g_autofree char *path = dfs_web_cache_lookup(f.cache, rel);
        g_autofree char *bytes = NULL;
        gsize len;
        g_assert_true(g_file_get_contents(path, &bytes, &len, NULL));
        g_autoptr(DfsDataset) ds = dfs_read_file(path, DFS_READ_HEADER_ONLY, NULL);
        const DfsElement *e = dfs_dataset_element(ds, dfs_dataset_pixel_data(ds));
        for (guint64 i = e->offset; i < e->offset + e->length; i += 4096)
            g_assert_cmpint(bytes[i], ==, 0x5a);
    }
    g_assert_cmpint(fake_counter("requests"), ==, 1);
    DfsRetrieverStats s;
    dfs_retriever_stats(f.r, &s);
    g_assert_cmpuint(s.whole, ==, 1);
    g_assert_cmpuint(s.parts_whole, ==, 5);
    teardown(&f);
}

static void test_cut(void)
{
    Fixture f;
    setup(&f, 0);
    const char *prefix = "series/n=8,cut=3";
    g_autofree char *r0 = relpath(prefix, 0), *r1 = relpath(prefix, 1), *r5 = relpath(prefix, 5);
    g_assert_false(dfs_retriever_wait(f.r, prefix, DFS_KEEP_HEADERS, r0, 200));
    g_assert_true(dfs_retriever_wait(f.r, prefix, DFS_KEEP_HEADERS, r1, G_MAXUINT));
    /* After the cut: the retrieve ended without it, and is not tried again. */
    g_assert_false(dfs_retriever_wait(f.r, prefix, DFS_KEEP_HEADERS, r5, G_MAXUINT));
    g_assert_false(dfs_retriever_wait(f.r, prefix, DFS_KEEP_HEADERS, r5, G_MAXUINT));
    g_assert_cmpint(fake_counter("requests"), ==, 1);
    DfsRetrieverStats s;
    dfs_retriever_stats(f.r, &s);
    g_assert_cmpuint(s.failed, ==, 1);
    /* Three parts came, the third without the delimiter after it: two are
     * known whole and kept, the third is not. */
    g_assert_cmpuint(s.parts_header, ==, 2);
    g_assert_cmpuint(f.errors, ==, 1);
    for (guint k = 0; k < 2; k++) {
        g_autofree char *rel = relpath(prefix, k);
        check_header_copy(&f, rel, k);
    }
    g_autofree char *r2 = relpath(prefix, 2), *h2 = dfs_retriever_header_key(r2);
    g_assert_false(cached(&f, r2) || cached(&f, h2));
    g_assert_cmpuint(temporaries(&f), ==, 0);
    teardown(&f);
}

static void test_idle(void)
{
    Fixture f;
    setup(&f, 300); /* stop after 0.3 s without a want */
    const char *prefix = "series/n=12,delay=150";
    g_autofree char *r0 = relpath(prefix, 0), *r1 = relpath(prefix, 1), *r11 = relpath(prefix, 11);
    g_assert_false(dfs_retriever_wait(f.r, prefix, DFS_KEEP_HEADERS, r0, 200));
    g_assert_true(dfs_retriever_wait(f.r, prefix, DFS_KEEP_HEADERS, r1, G_MAXUINT));
    /* Nobody wants more: it stops (a part every 0.15 s; idle after 0.3 s). */
    DfsRetrieverStats s;
    for (int i = 0; i < 200; i++) {
        dfs_retriever_stats(f.r, &s);
        if (s.stopped_idle > 0)
            break;
        g_usleep(50000);
    }
    g_assert_cmpuint(s.stopped_idle, ==, 1);
    g_assert_cmpuint(s.parts_header, <, 12);
    g_assert_cmpuint(f.errors, ==, 0); /* a stop is no failure */
    g_assert_false(cached(&f, r11));
    /* A want starts it again; it brings the rest. */
    g_assert_true(dfs_retriever_wait(f.r, prefix, DFS_KEEP_HEADERS, r11, G_MAXUINT));
    dfs_retriever_stats(f.r, &s);
    g_assert_cmpuint(s.headers, ==, 2);
    g_assert_cmpint(fake_counter("requests"), ==, 2);
    for (guint k = 0; k < 12; k++) {
        g_autofree char *rel = relpath(prefix, k);
        check_header_copy(&f, rel, k);
    }
    g_assert_cmpuint(temporaries(&f), ==, 0);
    teardown(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    if (!fake_available()) {
        g_test_add_func("/retrieve/no-fake-server", fake_skip);
        return g_test_run();
    }
    g_test_add_func("/retrieve/headers", test_headers);
    g_test_add_func("/retrieve/whole", test_whole);
    g_test_add_func("/retrieve/cut", test_cut);
    g_test_add_func("/retrieve/idle", test_idle);
    return g_test_run();
}
