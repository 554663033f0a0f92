/* Unit tests of QIDO-RS results (web/qido.h): the streaming DICOM JSON
 * parser on inputs made here, fed whole, byte by byte and in random pieces
 * (PN groups, numbers, null, sequences read through, BulkDataURI,
 * InlineBinary, unknown keys; bad shapes; nesting and size limits), then the
 * pager against the fake server of tests/web/fake_dicomweb.py, which runs
 * this binary: pages capped below `limit` with and without a Warning, 204,
 * 200 [] and an empty body at the end, duplicates across pages, gzip, a
 * failed page, a page cut short, a server that ignores offset, hostile
 * bodies (deep nesting, a 100 MB string) in bounded memory, and the number
 * of connections of 50 pages and of listings on several threads. */
#include <string.h>

#include "base/error.h"
#include "web/http.h"
#include "web/qido.h"
#include "web/fake-client.h"

#define TAG_STUDY_UID 0x0020000Du
#define TAG_PATIENT_NAME 0x00100010u
#define TAG_NUMBER_OF_INSTANCES 0x00201208u

/* --- the parser ------------------------------------------------------------ */

static const char SHAPES[] =
    "[\n"
    " {\"00080005\":{\"vr\":\"CS\",\"Value\":[\"ISO_IR 192\"]},\n"
    "  \"00100010\":{\"vr\":\"PN\",\"Value\":[{\"Alphabetic\":\"Yamada^Tarou\","
    "\"Ideographic\":\"\xe5\xb1\xb1\xe7\x94\xb0^\xe5\xa4\xaa\xe9\x83\x8e\","
    "\"Phonetic\":\"\xe3\x82\x84\xe3\x81\xbe\xe3\x81\xa0^\xe3\x81\x9f\xe3\x82\x8d\xe3\x81\x86\"},"
    "{\"Phonetic\":\"P^Q\"},{}]},\n"
    "  \"00201208\":{\"Value\":[12,3.5e2,-1],\"vr\":\"IS\"},\n"
    "  \"00081115\":{\"vr\":\"SQ\",\"Value\":[{\"00081150\":{\"vr\":\"UI\",\"Value\":[\"1.2\"]},"
    "\"00081199\":{\"vr\":\"SQ\",\"Value\":[{}]}},{}]},\n"
    "  \"7FE00010\":{\"vr\":\"OW\",\"BulkDataURI\":\"http://x/bulk/7fe00010\"},\n"
    "  \"00091010\":{\"vr\":\"OB\",\"InlineBinary\":\"AAEC\"},\n"
    "  \"00100020\":{\"vr\":\"LO\",\"Value\":[null,\"B\"]},\n"
    "  \"00100030\":{\"vr\":\"DA\"},\n"
    "  \"0020000d\":{\"vr\":\"UI\",\"Value\":[\"1.2.3\"],\"x-vendor\":{\"a\":[1,{\"b\":[]}]}}\n"
    " },\n"
    " {\"0020000D\":{\"vr\":\"UI\",\"Value\":[\"4.5.6\"]}}, {}\n"
    "]\n";

/* Every row as one line of text, to compare parses. */
static gboolean describe(const DfsQidoRow *row, gpointer user, GError **error)
{
    GString *out = user;
    g_string_append_printf(out, "row %" G_GUINT64_FORMAT ":", row->index);
    for (guint k = 0; k < row->n_attrs; k++) {
        const DfsQidoAttr *a = &row->attrs[k];
        g_string_append_printf(out, " %08X %s", a->tag, a->vr);
        for (guint v = 0; v < a->n_values; v++)
            g_string_append_printf(out, "%c%s", v ? '\\' : '[', a->values[v]);
        if (a->n_values)
            g_string_append_c(out, ']');
        if (a->n_items)
            g_string_append_printf(out, " items=%u", a->n_items);
        if (a->bulk_data_uri)
            g_string_append_printf(out, " bulk=%s", a->bulk_data_uri);
        if (a->inline_binary)
            g_string_append(out, " inline");
        g_string_append_c(out, ';');
    }
    g_string_append_c(out, '\n');
    return TRUE;
}

/* Parse text in pieces of `piece` bytes (0: random sizes). */
static char *parse(const char *text, gsize len, gsize piece, gsize max_row, GError **error)
{
    GString *out = g_string_new(NULL);
    g_autoptr(DfsQidoParser) p = dfs_qido_parser_new(max_row, describe, out);
    for (gsize at = 0; at < len;) {
        gsize n = piece ? piece : (gsize)g_test_rand_int_range(1, 200);
        n = MIN(n, len - at);
        if (!dfs_qido_parser_feed(p, (const guint8 *)text + at, n, error))
            return g_string_free(out, TRUE), NULL;
        at += n;
    }
    if (!dfs_qido_parser_finish(p, error))
        return g_string_free(out, TRUE), NULL;
    return g_string_free(out, FALSE);
}

static void test_shapes(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *whole = parse(SHAPES, strlen(SHAPES), strlen(SHAPES), 0, &error);
    g_assert_no_error(error);
    g_test_message("%s", whole);
    g_assert_cmpstr(whole, ==,
                    "row 0: 00080005 CS[ISO_IR 192]; 00100010 PN[Yamada^Tarou="
                    "\xe5\xb1\xb1\xe7\x94\xb0^\xe5\xa4\xaa\xe9\x83\x8e="
                    "\xe3\x82\x84\xe3\x81\xbe\xe3\x81\xa0^\xe3\x81\x9f\xe3\x82\x8d\xe3\x81\x86"
                    "\\==P^Q\\]; 00201208 IS[12\\3.5e2\\-1]; 00081115 SQ items=2; "
                    "7FE00010 OW bulk=http://x/bulk/7fe00010; 00091010 OB inline; "
                    "00100020 LO[\\B]; 00100030 DA; 0020000D UI[1.2.3];\n"
                    "row 1: 0020000D UI[4.5.6];\n"
                    "row 2:\n");
    for (gsize piece = 1; piece <= 7; piece++) {
        g_autofree char *split = parse(SHAPES, strlen(SHAPES), piece, 0, &error);
        g_assert_no_error(error);
        g_assert_cmpstr(split, ==, whole);
    }
    for (int k = 0; k < 50; k++) {
        g_autofree char *random = parse(SHAPES, strlen(SHAPES), 0, 0, &error);
        g_assert_no_error(error);
        g_assert_cmpstr(random, ==, whole);
    }
}

static gboolean find_in_row(const DfsQidoRow *row, gpointer user, GError **error)
{
    if (row->index == 0) {
        g_assert_cmpstr(dfs_qido_row_string(row, TAG_STUDY_UID), ==, "1.2.3");
        g_assert_cmpstr(dfs_qido_row_string(row, 0x00201208), ==, "12");
        g_assert_null(dfs_qido_row_string(row, 0x00100030)); /* no value */
        g_assert_null(dfs_qido_row_string(row, 0x00081115)); /* a sequence */
        g_assert_null(dfs_qido_row_find(row, 0x00100040));
        g_assert_cmpuint(dfs_qido_row_find(row, 0x00081115)->n_items, ==, 2);
    }
    (*(int *)user)++;
    return TRUE;
}

static void test_lookups(void)
{
    int rows = 0;
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsQidoParser) p = dfs_qido_parser_new(0, find_in_row, &rows);
    g_assert_true(dfs_qido_parser_feed(p, (const guint8 *)SHAPES, strlen(SHAPES), &error));
    g_assert_true(dfs_qido_parser_finish(p, &error));
    g_assert_no_error(error);
    g_assert_cmpint(rows, ==, 3);
    g_assert_cmpuint(dfs_qido_parser_rows(p), ==, 3);
}

static void test_empty(void)
{
    const char *inputs[] = {"", "  \n", "[]", " [ ] \n"};
    for (guint k = 0; k < G_N_ELEMENTS(inputs); k++) {
        g_autoptr(GError) error = NULL;
        g_autofree char *out = parse(inputs[k], strlen(inputs[k]), 1, 0, &error);
        g_assert_no_error(error);
        g_assert_cmpstr(out, ==, "");
    }
}

static void test_malformed(void)
{
    struct {
        const char *text;
        int code;
    } cases[] = {
        {"{}", DFS_ERROR_MALFORMED},
        {"\"x\"", DFS_ERROR_MALFORMED},
        {"[1]", DFS_ERROR_MALFORMED},
        {"[[]]", DFS_ERROR_MALFORMED},
        {"[{\"PatientName\":{}}]", DFS_ERROR_MALFORMED},
        {"[{\"0010001G\":{}}]", DFS_ERROR_MALFORMED},
        {"[{\"00100010\":\"Doe\"}]", DFS_ERROR_MALFORMED},
        {"[{\"00100010\":{\"vr\":\"PNX\"}}]", DFS_ERROR_MALFORMED},
        {"[{\"00100010\":{\"vr\":7}}]", DFS_ERROR_MALFORMED},
        {"[{\"00100010\":{\"vr\":\"PN\",\"Value\":\"Doe\"}}]", DFS_ERROR_MALFORMED},
        {"[{\"00100010\":{\"vr\":\"PN\",\"Value\":[[\"Doe\"]]}}]", DFS_ERROR_MALFORMED},
        {"[{\"00100010\":{\"vr\":\"PN\",\"Value\":[{\"Given\":\"x\"}]}}]", DFS_ERROR_MALFORMED},
        {"[{\"00100010\":{\"vr\":\"PN\",\"Value\":[{\"Alphabetic\":{}}]}}]", DFS_ERROR_MALFORMED},
        {"[] x", DFS_ERROR_MALFORMED},
        {"[] []", DFS_ERROR_MALFORMED},
        {"[{]", DFS_ERROR_MALFORMED},
        {"<html>", DFS_ERROR_MALFORMED},
        {"[{\"00100010\":{\"vr\":\"LO\",\"Value\":[\"\xff\"]}}]", DFS_ERROR_MALFORMED},
        {"[{\"00100010\":{\"vr\":\"PN\"", DFS_ERROR_TRUNCATED},
        {"[{\"00100010\":{\"vr\":\"PN\"}},", DFS_ERROR_TRUNCATED},
        {"[", DFS_ERROR_TRUNCATED},
    };
    for (guint k = 0; k < G_N_ELEMENTS(cases); k++) {
        for (gsize piece = 1; piece <= 64; piece += 63) {
            g_autoptr(GError) error = NULL;
            g_autofree char *out = parse(cases[k].text, strlen(cases[k].text), piece, 0, &error);
            g_autofree char *shown = g_strescape(cases[k].text, NULL);
            g_test_message("%s -> %s", shown, error ? error->message : "ok");
            g_assert_null(out);
            g_assert_error(error, DFS_ERROR, cases[k].code);
        }
    }
}

/* Nesting past the bound, in a skipped value and in sequences. */
static void test_deep(void)
{
    GString *deep = g_string_new("[{\"00100010\":{\"vr\":\"PN\",\"x\":");
    for (int k = 0; k < 100000; k++)
        g_string_append_c(deep, '[');
    GString *sq = g_string_new("[");
    for (int k = 0; k < 1000; k++)
        g_string_append(sq, "{\"00081115\":{\"vr\":\"SQ\",\"Value\":[");
    GString *inputs[] = {deep, sq};
    for (guint k = 0; k < G_N_ELEMENTS(inputs); k++) {
        g_autoptr(GError) error = NULL;
        g_autofree char *out = parse(inputs[k]->str, inputs[k]->len, 4096, 0, &error);
        g_assert_null(out);
        g_assert_error(error, DFS_ERROR, DFS_ERROR_LIMIT);
        g_assert_nonnull(strstr(error->message, "nested deeper"));
        g_string_free(inputs[k], TRUE);
    }
}

/* A 10 MB string against a bound of 1 MB: refused once about 1 MB was fed,
 * not buffered whole. */
static void test_big_string(void)
{
    g_autoptr(GError) error = NULL;
    int rows = 0;
    g_autoptr(DfsQidoParser) p = dfs_qido_parser_new(1 << 20, find_in_row, &rows);
    const char *head = "[{\"00100010\":{\"vr\":\"LO\",\"Value\":[\"";
    g_assert_true(dfs_qido_parser_feed(p, (const guint8 *)head, strlen(head), &error));
    guint8 block[65536];
    memset(block, 'a', sizeof block);
    gsize fed = strlen(head);
    while (fed < (10u << 20) && dfs_qido_parser_feed(p, block, sizeof block, &error))
        fed += sizeof block;
    g_assert_error(error, DFS_ERROR, DFS_ERROR_LIMIT);
    g_assert_cmpuint(fed, <=, (1u << 20) + sizeof block);
    g_assert_cmpint(rows, ==, 0);
    g_clear_error(&error);
    g_assert_false(dfs_qido_parser_finish(p, &error)); /* done after an error */
    g_assert_nonnull(error);
    g_clear_error(&error);

    /* Just under the bound (less the slice the bound is checked by) passes. */
    GString *row = g_string_new(head);
    for (gsize k = 0; k < (1u << 20) - 70000; k++)
        g_string_append_c(row, 'b');
    g_string_append(row, "\"]}}]");
    g_autofree char *out = parse(row->str, row->len, 65536, 1 << 20, &error);
    g_assert_no_error(error);
    g_assert_nonnull(out);
    g_string_free(row, TRUE);
}

static gboolean refuse_second(const DfsQidoRow *row, gpointer user, GError **error)
{
    if (row->index == 1) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_UNSUPPORTED, "the caller says no");
        return FALSE;
    }
    return TRUE;
}

static void test_row_error(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsQidoParser) p = dfs_qido_parser_new(0, refuse_second, NULL);
    g_assert_false(dfs_qido_parser_feed(p, (const guint8 *)SHAPES, strlen(SHAPES), &error));
    g_assert_error(error, DFS_ERROR, DFS_ERROR_UNSUPPORTED);
    g_assert_cmpstr(error->message, ==, "the caller says no");
}

/* --- the pager ------------------------------------------------------------------- */

typedef struct {
    GPtrArray *uids;
    GPtrArray *names;
    gboolean misnumbered;
} Listing;

static gboolean collect(const DfsQidoRow *row, gpointer user, GError **error)
{
    Listing *l = user;
    l->misnumbered |= row->index != l->uids->len;
    g_ptr_array_add(l->uids, g_strdup(dfs_qido_row_string(row, TAG_STUDY_UID)));
    g_ptr_array_add(l->names, g_strdup(dfs_qido_row_string(row, TAG_PATIENT_NAME)));
    return TRUE;
}

static void listing_clear(Listing *l)
{
    g_ptr_array_unref(l->uids);
    g_ptr_array_unref(l->names);
}

/* List scenario; the rows in l, TRUE on success. */
static gboolean list(DfsHttp *h, const char *scenario, guint limit, guint32 uid_tag, gsize max_row,
                     Listing *l, DfsQidoStats *st, GError **error)
{
    g_autofree char *path = g_strdup_printf("/qido/%s/studies", scenario);
    g_autofree char *url = fake_url(path);
    const char *const params[] = {"includefield=00100010", "includefield=00201208", NULL};
    DfsQidoQuery q = {
        .url = url, .params = params, .limit = limit, .uid_tag = uid_tag, .max_row_bytes = max_row};
    l->uids = g_ptr_array_new_with_free_func(g_free);
    l->names = g_ptr_array_new_with_free_func(g_free);
    l->misnumbered = FALSE;
    return dfs_qido_list(h, &q, collect, l, st, error);
}

/* Rows 0..n-1 of the fake server, in order, each once. */
static void assert_complete(const Listing *l, guint n)
{
    g_assert_false(l->misnumbered);
    g_assert_cmpuint(l->uids->len, ==, n);
    for (guint k = 0; k < n; k++) {
        g_autofree char *uid = g_strdup_printf("1.2.826.0.1.3680043.99.%u", k);
        g_autofree char *name = g_strdup_printf("Doe^Jane%u", k);
        g_assert_cmpstr(l->uids->pdata[k], ==, uid);
        g_assert_cmpstr(l->names->pdata[k], ==, name);
    }
}

static DfsHttp *new_http(guint max_connections)
{
    DfsHttpOptions o = {.max_connections = max_connections, .base_delay_ms = 10};
    g_autoptr(GError) error = NULL;
    DfsHttp *h = dfs_http_new(&o, &error);
    g_assert_no_error(error);
    return h;
}

/* Pages capped at 100 while 1000 are asked, ended every way servers do. */
static void test_capped(void)
{
    const char *scenarios[] = {"n=250,cap=100,end=204", "n=250,cap=100,end=empty",
                               "n=250,cap=100,end=nobody", "n=250,cap=100,warn=1,end=204",
                               "n=250,cap=100,warn=1,end=empty"};
    g_autoptr(DfsHttp) h = new_http(0);
    for (guint k = 0; k < G_N_ELEMENTS(scenarios); k++) {
        g_autoptr(GError) error = NULL;
        Listing l;
        DfsQidoStats st;
        g_assert_true(list(h, scenarios[k], 1000, TAG_STUDY_UID, 0, &l, &st, &error));
        g_assert_no_error(error);
        assert_complete(&l, 250);
        g_assert_cmpuint(st.pages, ==, 4);
        g_assert_cmpuint(st.rows, ==, 250);
        g_assert_cmpuint(st.short_pages, ==, 3);
        g_assert_cmpuint(st.duplicates, ==, 0);
        if (strstr(scenarios[k], "warn"))
            g_assert_nonnull(strstr(st.warning, "There are 50 additional results"));
        else
            g_assert_null(st.warning);
        g_free(st.warning);
        listing_clear(&l);
        g_autofree char *query = fake_last_query();
        g_assert_cmpstr(query, ==,
                        "includefield=00100010&includefield=00201208&limit=1000&offset=250");
    }
}

/* The count the server gave ends the listing at the short page that
 * reaches it exactly; a count it does not match (stale: higher, or lower,
 * even one a capped page passes) goes on to the empty page. */
static void test_expected(void)
{
    g_autoptr(DfsHttp) h = new_http(0);
    g_autofree char *url = fake_url("/qido/n=250,cap=100,end=204/studies");
    const guint64 counts[] = {250, 251, 249, 150, 0}; /* right, stale or none */
    const guint pages[] = {3, 4, 4, 4, 4};
    for (guint k = 0; k < G_N_ELEMENTS(counts); k++) {
        Listing l = {g_ptr_array_new_with_free_func(g_free), g_ptr_array_new_with_free_func(g_free),
                     FALSE};
        DfsQidoStats st;
        g_autoptr(GError) error = NULL;
        DfsQidoQuery q = {.url = url, .limit = 1000, .uid_tag = TAG_STUDY_UID, .expected = counts[k]};
        g_assert_true(dfs_qido_list(h, &q, collect, &l, &st, &error));
        g_assert_no_error(error);
        assert_complete(&l, 250);
        g_assert_cmpuint(st.pages, ==, pages[k]);
        g_free(st.warning);
        listing_clear(&l);
    }
    /* Full pages never end it, whatever the count says. */
    g_autofree char *url2 = fake_url("/qido/n=200,cap=100,end=204/studies");
    Listing l = {g_ptr_array_new_with_free_func(g_free), g_ptr_array_new_with_free_func(g_free),
                 FALSE};
    DfsQidoStats st;
    DfsQidoQuery q = {.url = url2, .limit = 100, .uid_tag = TAG_STUDY_UID, .expected = 100};
    g_assert_true(dfs_qido_list(h, &q, collect, &l, &st, NULL));
    assert_complete(&l, 200);
    g_assert_cmpuint(st.pages, ==, 3);
    g_free(st.warning);
    listing_clear(&l);
}

static void test_duplicates(void)
{
    g_autoptr(DfsHttp) h = new_http(0);
    g_autoptr(GError) error = NULL;
    Listing l;
    DfsQidoStats st;
    g_assert_true(list(h, "n=250,cap=100,dup=1,end=204", 1000, TAG_STUDY_UID, 0, &l, &st, &error));
    g_assert_no_error(error);
    assert_complete(&l, 250);
    g_assert_cmpuint(st.duplicates, ==, 2);
    g_assert_cmpuint(st.pages, ==, 4);
    listing_clear(&l);
}

static void test_gzip(void)
{
    fake_reset();
    g_autoptr(DfsHttp) h = new_http(0);
    g_autoptr(GError) error = NULL;
    Listing l;
    g_assert_true(list(h, "n=300,cap=100,gzip=1", 100, TAG_STUDY_UID, 0, &l, NULL, &error));
    g_assert_no_error(error);
    assert_complete(&l, 300);
    g_assert_cmpint(fake_counter("gzip"), ==, 3);
    listing_clear(&l);
}

/* A page that fails fails the listing, naming the page. */
static void test_failed_page(void)
{
    g_autoptr(DfsHttp) h = new_http(0);
    g_autoptr(GError) error = NULL;
    Listing l;
    DfsQidoStats st;
    g_assert_false(list(h, "n=300,cap=100,fail=200", 1000, TAG_STUDY_UID, 0, &l, &st, &error));
    g_assert_error(error, DFS_ERROR, DFS_ERROR_IO);
    g_test_message("%s", error->message);
    g_assert_nonnull(strstr(error->message, "offset=200"));
    g_assert_nonnull(strstr(error->message, "503"));
    g_assert_cmpuint(l.uids->len, ==, 200);
    g_assert_cmpuint(st.pages, ==, 3);
    listing_clear(&l);
}

/* A page whose body ends early (EOF-delimited, so HTTP cannot tell). */
static void test_cut_page(void)
{
    g_autoptr(DfsHttp) h = new_http(0);
    g_autoptr(GError) error = NULL;
    Listing l;
    g_assert_false(list(h, "n=300,cap=100,cut=100", 1000, TAG_STUDY_UID, 0, &l, NULL, &error));
    g_assert_error(error, DFS_ERROR, DFS_ERROR_TRUNCATED);
    g_test_message("%s", error->message);
    g_assert_nonnull(strstr(error->message, "offset=100"));
    listing_clear(&l);
}

static void test_offset_ignored(void)
{
    g_autoptr(DfsHttp) h = new_http(0);
    guint32 tags[] = {TAG_STUDY_UID, 0};
    for (guint k = 0; k < G_N_ELEMENTS(tags); k++) {
        g_autoptr(GError) error = NULL;
        Listing l;
        g_assert_false(list(h, "n=300,cap=100,ignore=1", 1000, tags[k], 0, &l, NULL, &error));
        g_assert_error(error, DFS_ERROR, DFS_ERROR_MALFORMED);
        g_assert_nonnull(strstr(error->message, "offset ignored"));
        listing_clear(&l);
    }
}

static void test_not_json(void)
{
    g_autoptr(DfsHttp) h = new_http(0);
    g_autofree char *url = fake_url("/hostile/html");
    DfsQidoQuery q = {.url = url};
    g_autoptr(GError) error = NULL;
    g_assert_false(dfs_qido_list(h, &q, collect, NULL, NULL, &error));
    g_assert_error(error, DFS_ERROR, DFS_ERROR_MALFORMED);
    g_assert_nonnull(strstr(error->message, "text/html"));
}

static void test_hostile_deep(void)
{
    g_autoptr(DfsHttp) h = new_http(0);
    const char *paths[] = {"/hostile/deep", "/hostile/deep-sq"};
    for (guint k = 0; k < G_N_ELEMENTS(paths); k++) {
        g_autofree char *url = fake_url(paths[k]);
        DfsQidoQuery q = {.url = url};
        g_autoptr(GError) error = NULL;
        g_assert_false(dfs_qido_list(h, &q, collect, NULL, NULL, &error));
        g_assert_error(error, DFS_ERROR, DFS_ERROR_LIMIT);
        g_assert_nonnull(strstr(error->message, paths[k]));
    }
}

/* A 100 MB string: refused after about a megabyte, in bounded memory. */
static void test_hostile_string(void)
{
    g_autoptr(DfsHttp) h = new_http(0);
    g_autofree char *url = fake_url("/hostile/bigstring");
    DfsQidoQuery q = {.url = url, .max_row_bytes = 1 << 20};
    g_autoptr(GError) error = NULL;
    gboolean peak = fake_reset_peak();
    gint64 before = fake_rss_kb();
    g_assert_false(dfs_qido_list(h, &q, collect, NULL, NULL, &error));
    g_assert_error(error, DFS_ERROR, DFS_ERROR_LIMIT);
    g_test_message("%s (peak %" G_GINT64_FORMAT " KB over %" G_GINT64_FORMAT " KB)", error->message,
                   fake_peak_kb() - before, before);
    if (peak)
        g_assert_cmpint(fake_peak_kb() - before, <, 24 * 1024);
    DfsHttpStats st;
    dfs_http_stats(h, &st);
    g_assert_cmpuint(st.bytes, <, 4u << 20);
}

/* 50 pages of 100 on one connection (the pool holds at most 4). */
static void test_fifty_pages(void)
{
    fake_reset();
    g_autoptr(DfsHttp) h = new_http(4);
    g_autoptr(GError) error = NULL;
    Listing l;
    DfsQidoStats st;
    g_assert_true(
        list(h, "n=5000,cap=100,warn=1,end=204", 1000, TAG_STUDY_UID, 0, &l, &st, &error));
    g_assert_no_error(error);
    assert_complete(&l, 5000);
    g_assert_cmpuint(st.pages, ==, 51);
    g_free(st.warning);
    listing_clear(&l);
    DfsHttpStats hs;
    dfs_http_stats(h, &hs);
    g_test_message("51 requests: %" G_GUINT64_FORMAT
                   " connection(s) opened by curl, %" G_GINT64_FORMAT " seen by the server",
                   hs.connections, fake_counter("opened"));
    g_assert_cmpuint(hs.requests, ==, 51);
    g_assert_cmpuint(hs.connections, <=, 4);
    g_assert_cmpint(fake_counter("opened"), <=, 4);
    g_assert_cmpint(fake_counter("requests"), ==, 51);
}

static gpointer list_thread(gpointer p)
{
    DfsHttp *h = p;
    Listing l;
    g_autoptr(GError) error = NULL;
    gboolean ok = list(h, "n=1000,cap=100,end=204", 1000, TAG_STUDY_UID, 0, &l, NULL, &error);
    g_assert_no_error(error);
    g_assert_true(ok);
    assert_complete(&l, 1000);
    listing_clear(&l);
    return NULL;
}

/* Six listings at once through a pool of 4: never more than 4 connections. */
static void test_threads(void)
{
    fake_reset();
    g_autoptr(DfsHttp) h = new_http(4);
    GThread *t[6];
    for (int k = 0; k < 6; k++)
        t[k] = g_thread_new("lister", list_thread, h);
    for (int k = 0; k < 6; k++)
        g_thread_join(t[k]);
    DfsHttpStats hs;
    dfs_http_stats(h, &hs);
    g_test_message("66 requests on 6 threads: %" G_GUINT64_FORMAT
                   " connections opened, at most %" G_GINT64_FORMAT " open at once",
                   hs.connections, fake_counter("max_open"));
    g_assert_cmpuint(hs.requests, ==, 66);
    g_assert_cmpuint(hs.connections, <=, 4);
    g_assert_cmpuint(hs.handles, <=, 4);
    g_assert_cmpint(fake_counter("opened"), <=, 4);
    g_assert_cmpint(fake_counter("max_open"), <=, 4);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qido/parser/shapes", test_shapes);
    g_test_add_func("/qido/parser/lookups", test_lookups);
    g_test_add_func("/qido/parser/empty", test_empty);
    g_test_add_func("/qido/parser/malformed", test_malformed);
    g_test_add_func("/qido/parser/deep", test_deep);
    g_test_add_func("/qido/parser/big-string", test_big_string);
    g_test_add_func("/qido/parser/row-error", test_row_error);
    if (!fake_available()) {
        g_test_add_func("/qido/list/no-fake-server", fake_skip);
        return g_test_run();
    }
    g_test_add_func("/qido/list/capped", test_capped);
    g_test_add_func("/qido/list/duplicates", test_duplicates);
    g_test_add_func("/qido/list/gzip", test_gzip);
    g_test_add_func("/qido/list/failed-page", test_failed_page);
    g_test_add_func("/qido/list/cut-page", test_cut_page);
    g_test_add_func("/qido/list/offset-ignored", test_offset_ignored);
    g_test_add_func("/qido/list/not-json", test_not_json);
    g_test_add_func("/qido/list/hostile-deep", test_hostile_deep);
    g_test_add_func("/qido/list/hostile-string", test_hostile_string);
    g_test_add_func("/qido/list/fifty-pages", test_fifty_pages);
    g_test_add_func("/qido/list/expected", test_expected);
    g_test_add_func("/qido/list/threads", test_threads);
    return g_test_run();
}
