/* Unit tests of the multipart reader and the Content-Type parser
 * (web/multipart.h), on bodies made here: one and many parts, with and
 * without Content-Length, data that holds pieces of the delimiter, empty
 * parts, a preamble and an epilogue; every body read whole, in two pieces
 * at every offset and one byte at a time, with the same parts and the same
 * outcome; every prefix of a good body refused as cut short; Content-Length
 * too long and too short, garbage where a delimiter must be, bad header
 * lines, the header limits, callbacks that stop the reader; the bytes held
 * back in a long part; a large body of near-delimiters.  Content-Type
 * values as servers send them (a quoted `type` holding ';', escapes,
 * case, spaces) and the refused ones. */
#define _GNU_SOURCE /* memmem */
#include <string.h>

#include "base/error.h"
#include "web/multipart.h"

/* --- bodies ------------------------------------------------------------------ */

typedef struct {
    const char *headers; /* header lines, each with its CRLF; NULL: none */
    const void *data;
    gsize len;
    gboolean counted; /* the part gets a Content-Length */
} Spec;

/* preamble (NULL: none) CRLF, then each part after "--boundary" CRLF, then
 * "--boundary--" and the epilogue (NULL: none).  at[k], when given, gets
 * the offset of part k's data in the body. */
static GByteArray *make_body(const char *boundary, const char *preamble, const Spec *parts, guint n,
                             const char *epilogue, gsize *at)
{
    GByteArray *b = g_byte_array_new();
#define ADD(s) g_byte_array_append(b, (const guint8 *)(s), (guint)strlen(s))
    if (preamble != NULL) {
        ADD(preamble);
        ADD("\r\n");
    }
    for (guint k = 0; k < n; k++) {
        ADD("--");
        ADD(boundary);
        ADD("\r\n");
        if (parts[k].headers != NULL)
            ADD(parts[k].headers);
        if (parts[k].counted) {
            g_autofree char *cl = g_strdup_printf("Content-Length: %zu\r\n", parts[k].len);
            ADD(cl);
        }
        ADD("\r\n");
        if (at != NULL)
            at[k] = b->len;
        g_byte_array_append(b, parts[k].data, (guint)parts[k].len);
        ADD("\r\n");
    }
    ADD("--");
    ADD(boundary);
    ADD("--");
    if (epilogue != NULL)
        ADD(epilogue);
#undef ADD
    return b;
}

/* --- what the reader gives ------------------------------------------------------ */

typedef struct {
    guint index;
    char *headers; /* "name=value\n" each */
    gint64 length;
    GByteArray *data;
    gboolean ended;
} Part;

typedef struct {
    GPtrArray *parts; /* Part */
    gboolean ok;
    int code;      /* when not ok */
    char *message; /* when not ok */
    gsize max_held;
    /* Callbacks that fail: at the begin / data / end of this part (-1: never);
     * with_error: setting an error (else returning FALSE alone). */
    int fail_begin, fail_data, fail_end;
    gboolean with_error;
} Result;

static void part_free(gpointer p)
{
    Part *part = p;
    g_free(part->headers);
    g_byte_array_unref(part->data);
    g_free(part);
}

static Result *result_new(void)
{
    Result *r = g_new0(Result, 1);
    r->parts = g_ptr_array_new_with_free_func(part_free);
    r->fail_begin = r->fail_data = r->fail_end = -1;
    r->with_error = TRUE;
    return r;
}

static void result_free(Result *r)
{
    g_ptr_array_unref(r->parts);
    g_free(r->message);
    g_free(r);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Result, result_free)

static Part *open_part(Result *r)
{
    g_assert_cmpuint(r->parts->len, >, 0);
    Part *p = r->parts->pdata[r->parts->len - 1];
    g_assert_false(p->ended);
    return p;
}

/* The error of a callback that stops the reader. */
#define STOP_ERROR (g_quark_from_static_string("test-multipart-stop"))
#define STOP_CODE 7

static gboolean stop(Result *r, GError **error)
{
    if (r->with_error)
        g_set_error_literal(error, STOP_ERROR, STOP_CODE, "stopped here");
    return FALSE;
}

static gboolean on_begin(const DfsMultipartPart *part, gpointer user, GError **error)
{
    Result *r = user;
    g_assert_cmpuint(part->index, ==, r->parts->len);
    if (r->parts->len > 0)
        g_assert_true(((Part *)r->parts->pdata[r->parts->len - 1])->ended);
    Part *p = g_new0(Part, 1);
    p->index = part->index;
    p->length = part->content_length;
    p->data = g_byte_array_new();
    GString *h = g_string_new(NULL);
    for (guint k = 0; k < part->n_headers; k++)
        g_string_append_printf(h, "%s=%s\n", part->headers[k].name, part->headers[k].value);
    p->headers = g_string_free(h, FALSE);
    g_ptr_array_add(r->parts, p);
    return (int)part->index == r->fail_begin ? stop(r, error) : TRUE;
}

static gboolean on_data(const guint8 *data, gsize len, gpointer user, GError **error)
{
    Result *r = user;
    g_assert_cmpuint(len, >, 0);
    Part *p = open_part(r);
    g_byte_array_append(p->data, data, (guint)len);
    return (int)p->index == r->fail_data ? stop(r, error) : TRUE;
}

static gboolean on_end(gpointer user, GError **error)
{
    Result *r = user;
    Part *p = open_part(r);
    p->ended = TRUE;
    return (int)p->index == r->fail_end ? stop(r, error) : TRUE;
}

static const DfsMultipartCallbacks callbacks = {on_begin, on_data, on_end};

/* Read body in pieces: cuts[] are the offsets where a piece ends (sorted;
 * the last piece runs to the end).  Feeding stops at the first failure;
 * finish is called in every case. */
static Result *run_into(Result *r, const char *boundary, const guint8 *body, gsize len,
                        const gsize *cuts, guint n_cuts)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsMultipart) mp = dfs_multipart_new(boundary, &callbacks, r, &error);
    g_assert_no_error(error);
    gsize from = 0;
    gboolean ok = TRUE;
    for (guint k = 0; k <= n_cuts && ok; k++) {
        gsize to = k < n_cuts ? cuts[k] : len;
        ok = dfs_multipart_feed(mp, body + from, to - from, &error);
        r->max_held = MAX(r->max_held, dfs_multipart_held(mp));
        g_assert_cmpuint(dfs_multipart_held(mp), <=, DFS_MULTIPART_MAX_HEADER_BYTES);
        from = to;
    }
    gboolean done = dfs_multipart_finish(mp, ok ? &error : NULL);
    g_assert_true(ok || !done);
    r->ok = ok && done;
    if (!r->ok) {
        g_assert_nonnull(error);
        g_assert_true(error->message != NULL && error->message[0] != '\0');
        r->code = error->domain == DFS_ERROR ? error->code : 1000 + error->code;
        r->message = g_strdup(error->message);
    }
    guint ended = 0;
    for (guint k = 0; k < r->parts->len; k++)
        ended += ((Part *)r->parts->pdata[k])->ended;
    g_assert_cmpuint(ended, ==, dfs_multipart_parts(mp));
    return r;
}

static Result *run_cuts(const char *boundary, const GByteArray *body, const gsize *cuts, guint n)
{
    return run_into(result_new(), boundary, body->data, body->len, cuts, n);
}

static Result *run(const char *boundary, const GByteArray *body)
{
    return run_cuts(boundary, body, NULL, 0);
}

/* One byte at a time. */
static Result *run_bytes(const char *boundary, const GByteArray *body)
{
    g_autofree gsize *cuts = g_new(gsize, body->len + 1);
    for (gsize k = 0; k < body->len; k++)
        cuts[k] = k + 1;
    return run_cuts(boundary, body, cuts, body->len > 0 ? body->len - 1 : 0);
}

static void assert_same(const Result *a, const Result *b)
{
    g_assert_cmpint(a->ok, ==, b->ok);
    g_assert_cmpint(a->code, ==, b->code);
    g_assert_cmpstr(a->message, ==, b->message);
    g_assert_cmpuint(a->parts->len, ==, b->parts->len);
    for (guint k = 0; k < a->parts->len; k++) {
        const Part *p = a->parts->pdata[k], *q = b->parts->pdata[k];
        g_assert_cmpstr(p->headers, ==, q->headers);
        g_assert_cmpint(p->length, ==, q->length);
        g_assert_cmpint(p->ended, ==, q->ended);
        g_assert_cmpmem(p->data->data, p->data->len, q->data->data, q->data->len);
    }
}

/* r read every part of specs, complete, and the closing delimiter. */
static void assert_parts(const Result *r, const Spec *specs, guint n)
{
    if (!r->ok)
        g_error("unexpected failure: %s", r->message);
    g_assert_cmpuint(r->parts->len, ==, n);
    for (guint k = 0; k < n; k++) {
        const Part *p = r->parts->pdata[k];
        g_assert_true(p->ended);
        g_assert_cmpmem(p->data->data, p->data->len, specs[k].data, specs[k].len);
        g_assert_cmpint(p->length, ==, specs[k].counted ? (gint64)specs[k].len : -1);
    }
}

/* The same parts and outcome whole, split in two at every offset and one
 * byte at a time; returns the whole read. */
static Result *run_every_way(const char *boundary, const GByteArray *body)
{
    Result *whole = run(boundary, body);
    for (gsize cut = 0; cut <= body->len; cut++) {
        g_autoptr(Result) split = run_cuts(boundary, body, &cut, 1);
        assert_same(whole, split);
    }
    g_autoptr(Result) bytes = run_bytes(boundary, body);
    assert_same(whole, bytes);
    return whole;
}

static void assert_fails(const Result *r, int code, const char *text)
{
    g_assert_false(r->ok);
    g_assert_cmpint(r->code, ==, code);
    if (text != NULL && strstr(r->message, text) == NULL)
        g_error("\"%s\" does not say \"%s\"", r->message, text);
}

/* --- Content-Type ---------------------------------------------------------------- */

static void test_content_type(void)
{
    static const struct {
        const char *value, *media, *boundary, *type, *start;
    } cases[] = {
        {"multipart/related; type=\"application/dicom\"; boundary=abc", "multipart/related", "abc",
         "application/dicom", NULL},
        /* Orthanc's frames: a ';' inside the quotes. */
        {"multipart/related; type=\"application/octet-stream; "
         "transfer-syntax=1.2.840.10008.1.2.1\"; boundary=abc",
         "multipart/related", "abc",
         "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1", NULL},
        /* Unquoted values with '/' as servers send them; case; spaces. */
        {"  Multipart/Related ;Type = application/dicom ;  BOUNDARY=\"Case-Kept\"  ",
         "multipart/related", "Case-Kept", "application/dicom", NULL},
        {"multipart/related;boundary=b;type=application/dicom;start=<root@x>;", "multipart/related",
         "b", "application/dicom", "<root@x>"},
        /* Escapes (RFC 822 quoted-pair), an empty parameter. */
        {"multipart/related; ; start=\"<a\\\\b\\\"c;d>\"; boundary=\"x\\=y z\"",
         "multipart/related", "x=y z", NULL, "<a\\b\"c;d>"},
        {"multipart/related; boundary=\"\"; start=\"\"", "multipart/related", NULL, NULL, ""},
        {"application/dicom; transfer-syntax=1.2.840.10008.1.2.4.50", "application/dicom", NULL,
         NULL, NULL},
        {"multipart/mixed;\tboundary=\"----=_Part_0_1.2\"", "multipart/mixed", "----=_Part_0_1.2",
         NULL, NULL},
    };
    for (guint k = 0; k < G_N_ELEMENTS(cases); k++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(DfsContentType) ct = dfs_content_type_parse(cases[k].value, &error);
        g_assert_no_error(error);
        g_assert_cmpstr(dfs_content_type_media(ct), ==, cases[k].media);
        g_assert_cmpstr(dfs_content_type_param(ct, "type"), ==, cases[k].type);
        g_assert_cmpstr(dfs_content_type_param(ct, "START"), ==, cases[k].start);
        const char *b = dfs_content_type_boundary(ct, cases[k].boundary ? NULL : &error);
        g_assert_cmpstr(b, ==, cases[k].boundary);
        if (cases[k].boundary == NULL)
            g_assert_error(error, DFS_ERROR, DFS_ERROR_MALFORMED);
    }
    /* The parameters in order, names in lower case. */
    g_autoptr(DfsContentType) ct =
        dfs_content_type_parse("multipart/related; Type=\"a;b\"; Boundary=q; charset=UTF-8", NULL);
    g_assert_cmpuint(dfs_content_type_n_params(ct), ==, 3);
    const char *name, *value;
    g_assert_true(dfs_content_type_nth_param(ct, 1, &name, &value));
    g_assert_cmpstr(name, ==, "boundary");
    g_assert_cmpstr(value, ==, "q");
    g_assert_true(dfs_content_type_nth_param(ct, 2, &name, &value));
    g_assert_cmpstr(value, ==, "UTF-8");
    g_assert_false(dfs_content_type_nth_param(ct, 3, &name, &value));
}

static void test_content_type_refused(void)
{
    static const struct {
        const char *value, *why; /* why: in the message of the parse, or NULL when the
                                    parse works and the boundary is refused */
    } cases[] = {
        {"", "no type/subtype"},
        {"multipart", "no type/subtype"},
        {"multipart/", "no subtype"},
        {"/related", "no type/subtype"},
        {"multipart/related boundary=x", "where ';' must be"},
        {"multipart/related; boundary=\"abc", "unterminated"},
        {"multipart/related; boundary=\"abc\\", "unterminated"},
        {"multipart/related; boundary=\"a\"b", "where ';' must be"},
        {"multipart/related; boundary", "without '='"},
        {"multipart/related; boundary=", "without a value"},
        {"multipart/related; =x", "without a name"},
        {"multipart/related; boundary=a; BOUNDARY=b", "twice"},
        {"multipart/related; boundary=\"a\rb\"", "control character"},
        {"multipart/related; bo\x01undary=a", "without '='"},
        {"multipart/related; type=\"a;b\"", NULL},          /* no boundary */
        {"multipart/related; boundary=\"\"", NULL},         /* empty */
        {"multipart/related; boundary=\"ab \"", NULL},      /* ends in a space */
        {"multipart/related; boundary=\"a\\\tb\"", NULL},   /* a tab */
        {"multipart/related; boundary=\"\xc3\xa9\"", NULL}, /* not ASCII */
        {"application/dicom; boundary=abc", NULL},          /* not multipart */
        {"multipart/related; boundary=0123456789012345678901234567890123456789"
         "012345678901234567890123456789X",
         NULL}, /* 71 */
    };
    for (guint k = 0; k < G_N_ELEMENTS(cases); k++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(DfsContentType) ct = dfs_content_type_parse(cases[k].value, &error);
        if (cases[k].why != NULL) {
            g_assert_null(ct);
            g_assert_error(error, DFS_ERROR, DFS_ERROR_MALFORMED);
            if (strstr(error->message, cases[k].why) == NULL)
                g_error("%s: \"%s\" does not say \"%s\"", cases[k].value, error->message,
                        cases[k].why);
            continue;
        }
        g_assert_no_error(error);
        g_assert_null(dfs_content_type_boundary(ct, &error));
        g_assert_error(error, DFS_ERROR, DFS_ERROR_MALFORMED);
    }
    /* 70 characters are allowed, and so is the reader made with them. */
    char b70[71];
    memset(b70, 'b', 70);
    b70[70] = '\0';
    g_autofree char *value = g_strdup_printf("multipart/related; boundary=%s", b70);
    g_autoptr(DfsContentType) ct = dfs_content_type_parse(value, NULL);
    g_assert_cmpstr(dfs_content_type_boundary(ct, NULL), ==, b70);
    g_autoptr(DfsMultipart) mp = dfs_multipart_new(b70, &callbacks, NULL, NULL);
    g_assert_nonnull(mp);
    /* The reader checks its boundary too. */
    g_autoptr(GError) error = NULL;
    g_assert_null(dfs_multipart_new("a\r\nb", &callbacks, NULL, &error));
    g_assert_error(error, DFS_ERROR, DFS_ERROR_MALFORMED);
    /* Too many parameters. */
    g_autoptr(GString) many = g_string_new("multipart/related");
    for (int k = 0; k <= DFS_CONTENT_TYPE_MAX_PARAMS; k++)
        g_string_append_printf(many, "; p%d=v", k);
    g_clear_error(&error);
    g_assert_null(dfs_content_type_parse(many->str, &error));
    g_assert_error(error, DFS_ERROR, DFS_ERROR_LIMIT);
}

/* --- parts ------------------------------------------------------------------------ */

#define B "dfs-b0undary"

static const char dicom_headers[] = "Content-Type: application/dicom\r\n";

static void test_one_part(void)
{
    static const char data[] = "DICM and some bytes";
    for (int counted = 0; counted <= 1; counted++) {
        Spec s = {dicom_headers, data, sizeof data - 1, counted};
        g_autoptr(GByteArray) body = make_body(B, NULL, &s, 1, "\r\n", NULL);
        g_autoptr(Result) r = run_every_way(B, body);
        assert_parts(r, &s, 1);
        const Part *p = r->parts->pdata[0];
        if (counted)
            g_assert_cmpstr(p->headers, ==, "Content-Type=application/dicom\nContent-Length=19\n");
        else
            g_assert_cmpstr(p->headers, ==, "Content-Type=application/dicom\n");
    }
}

/* Bytes of every value, some runs, from a fixed seed. */
static guint8 *random_bytes(GRand *rand, gsize len)
{
    guint8 *b = g_malloc(len + 1);
    for (gsize k = 0; k < len; k++)
        b[k] = (guint8)g_rand_int_range(rand, 0, 256);
    return b;
}

static void test_many_parts(void)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(20261202);
    static const gsize sizes[] = {1, 700, 0, 31, 1024, 2, 300};
    Spec specs[G_N_ELEMENTS(sizes)];
    g_autoptr(GPtrArray) keep = g_ptr_array_new_with_free_func(g_free);
    for (guint k = 0; k < G_N_ELEMENTS(sizes); k++) {
        guint8 *data = random_bytes(rand, sizes[k]);
        g_ptr_array_add(keep, data);
        specs[k] = (Spec){k % 3 == 0 ? NULL : "Content-Type: application/octet-stream\r\n", data,
                          sizes[k], k % 2 == 1};
    }
    g_autoptr(GByteArray) body = make_body(B, NULL, specs, G_N_ELEMENTS(specs), NULL, NULL);
    g_autoptr(Result) r = run_every_way(B, body);
    assert_parts(r, specs, G_N_ELEMENTS(specs));
    /* Many small parts in chunks of every size up to 64. */
    for (gsize chunk = 1; chunk <= 64; chunk++) {
        g_autofree gsize *cuts = g_new(gsize, body->len / chunk + 1);
        guint n = 0;
        for (gsize at = chunk; at < body->len; at += chunk)
            cuts[n++] = at;
        g_autoptr(Result) c = run_cuts(B, body, cuts, n);
        assert_same(r, c);
    }
}

/* Data made of pieces of the delimiter, as parts without Content-Length
 * (the reader must tell them from the delimiter) and as a counted one, with
 * every ending. */
static void test_tricky_data(void)
{
    static const char *const pieces[] = {
        "\r",
        "\r\n",
        "\r\n-",
        "\r\n--",
        "--" B,
        B,
        "\r\r\n--",
        "\r\n\r\n--dfs-b0undar",
        "\n--" B,
        "\r--" B,
        "\r\n-" B,
        "\r\n--dfs-b0undar\r\n--dfs-b0und",
        "\x01\r\n--\xff",
        "\r\n--" B "x", /* the delimiter itself: only in the counted part */
    };
    static const char *const endings[] = {
        "", "\r", "\r\n", "\r\n-", "\r\n--", "\r\n--d", "\r\n--dfs-b0undar", "\r\r", "\r\n\r\n"};
    const guint n_plain = G_N_ELEMENTS(pieces) - 1;
    for (guint e = 0; e < G_N_ELEMENTS(endings); e++) {
        g_autoptr(GByteArray) plain = g_byte_array_new();
        g_autoptr(GByteArray) full = g_byte_array_new();
        for (guint k = 0; k < G_N_ELEMENTS(pieces); k++) {
            if (k < n_plain)
                g_byte_array_append(plain, (const guint8 *)pieces[k], (guint)strlen(pieces[k]));
            g_byte_array_append(full, (const guint8 *)pieces[k], (guint)strlen(pieces[k]));
        }
        g_byte_array_append(plain, (const guint8 *)endings[e], (guint)strlen(endings[e]));
        g_byte_array_append(full, (const guint8 *)endings[e], (guint)strlen(endings[e]));
        Spec specs[3] = {{NULL, plain->data, plain->len, FALSE},
                         {dicom_headers, full->data, full->len, TRUE},
                         {"X: y\r\n", plain->data, plain->len, FALSE}};
        g_autoptr(GByteArray) body = make_body(B, NULL, specs, 3, NULL, NULL);
        g_autoptr(Result) r = run_every_way(B, body);
        assert_parts(r, specs, 3);
    }
    /* A counted part may hold the delimiter and even the closing one. */
    static const char holds[] = "\r\n--" B "\r\nX: y\r\n\r\n\r\n--" B "--\r\n";
    Spec s = {NULL, holds, sizeof holds - 1, TRUE};
    g_autoptr(GByteArray) body = make_body(B, NULL, &s, 1, NULL, NULL);
    g_autoptr(Result) r = run_every_way(B, body);
    assert_parts(r, &s, 1);
}

/* Data that is the boundary, or the delimiter, but one byte short. */
static void test_boundary_minus_one(void)
{
    const gsize blen = strlen(B);
    g_autofree char *d1 = g_strndup(B, blen - 1);
    g_autofree char *d2 = g_strdup_printf("--%s", d1);
    g_autofree char *d3 = g_strdup_printf("\r\n--%s", d1);
    g_autofree char *d4 = g_strdup_printf("\r\n--%s", B + 1); /* missing its first byte */
    const char *datas[] = {d1, d2, d3, d4};
    for (guint k = 0; k < G_N_ELEMENTS(datas); k++) {
        for (int counted = 0; counted <= 1; counted++) {
            Spec specs[2] = {{NULL, datas[k], strlen(datas[k]), counted},
                             {dicom_headers, datas[k], strlen(datas[k]), !counted}};
            g_autoptr(GByteArray) body = make_body(B, NULL, specs, 2, NULL, NULL);
            g_autoptr(Result) r = run_every_way(B, body);
            assert_parts(r, specs, 2);
        }
    }
    /* A one-character boundary, data its near misses. */
    static const char near[] = "-\r\n-\r\n-q\r\n--\r\r\n-";
    Spec s = {NULL, near, sizeof near - 1, FALSE};
    g_autoptr(GByteArray) body = make_body("q", NULL, &s, 1, NULL, NULL);
    g_autoptr(Result) r = run_every_way("q", body);
    assert_parts(r, &s, 1);
}

static void test_empty_parts(void)
{
    Spec specs[] = {{NULL, "", 0, FALSE},          {NULL, "", 0, TRUE},
                    {dicom_headers, "", 0, FALSE}, {dicom_headers, "", 0, TRUE},
                    {NULL, "a", 1, FALSE},         {NULL, "", 0, FALSE}};
    g_autoptr(GByteArray) body = make_body(B, NULL, specs, G_N_ELEMENTS(specs), NULL, NULL);
    g_autoptr(Result) r = run_every_way(B, body);
    assert_parts(r, specs, G_N_ELEMENTS(specs));
    g_assert_cmpstr(((Part *)r->parts->pdata[0])->headers, ==, "");
    /* No part at all: accepted, and told by the count. */
    g_autoptr(GByteArray) none = make_body(B, "preamble", NULL, 0, "\r\n", NULL);
    g_autoptr(Result) n = run_every_way(B, none);
    assert_parts(n, NULL, 0);
}

static void test_preamble_epilogue(void)
{
    Spec s[2] = {{dicom_headers, "one", 3, FALSE}, {NULL, "two", 3, TRUE}};
    static const char *const preambles[] = {
        "", "This is a preamble.", "--dfs-b0undar is not it\r\n--dfs\r\n-\r\n--", "\r\n\r\n--d"};
    static const char *const epilogues[] = {"", "\r\n", "\r\nthe epilogue\r\n--" B "\r\nX\r\n",
                                            "  garbage", "--" B};
    for (guint k = 0; k < G_N_ELEMENTS(preambles); k++) {
        for (guint e = 0; e < G_N_ELEMENTS(epilogues); e++) {
            g_autoptr(GByteArray) body = make_body(B, preambles[k], s, 2, epilogues[e], NULL);
            g_autoptr(Result) r = run_every_way(B, body);
            assert_parts(r, s, 2);
        }
    }
    /* The first delimiter with padding, the others too. */
    static const char padded[] = "--" B " \t \r\n\r\nA\r\n--" B "\t\r\n\r\nB\r\n--" B "--";
    g_autoptr(GByteArray) body = g_byte_array_new();
    g_byte_array_append(body, (const guint8 *)padded, sizeof padded - 1);
    g_autoptr(Result) r = run_every_way(B, body);
    Spec ab[2] = {{NULL, "A", 1, FALSE}, {NULL, "B", 1, FALSE}};
    assert_parts(r, ab, 2);
}

/* Header lines: names as written, found case-insensitively; values without
 * their spaces; folded lines joined; a bare LF ends a line. */
static void test_headers(void)
{
    static const char text[] =
        "--" B "\r\n"
        "Content-Type:application/dicom; transfer-syntax=1.2.840.10008.1.2\r\n"
        "X-Empty:\r\n"
        "X-Spaces: \t spaced \t \r\n"
        "X-Folded: one\r\n two \r\n\tthree\r\n"
        "X-Folded-Empty:\r\n  after\r\n"
        "x-lf: bare\n"
        "content-length: 4\n"
        "\n"
        "DATA\r\n--" B "--";
    g_autoptr(GByteArray) body = g_byte_array_new();
    g_byte_array_append(body, (const guint8 *)text, sizeof text - 1);
    g_autoptr(Result) r = run_every_way(B, body);
    Spec s = {NULL, "DATA", 4, TRUE};
    assert_parts(r, &s, 1);
    g_assert_cmpstr(((Part *)r->parts->pdata[0])->headers, ==,
                    "Content-Type=application/dicom; transfer-syntax=1.2.840.10008.1.2\n"
                    "X-Empty=\nX-Spaces=spaced\nX-Folded=one two three\nX-Folded-Empty=after\n"
                    "x-lf=bare\ncontent-length=4\n");
    DfsMultipartHeader h[] = {{"Content-Type", "a"}, {"Content-Length", "1"}};
    g_assert_cmpstr(dfs_multipart_header_get(h, 2, "content-LENGTH"), ==, "1");
    g_assert_null(dfs_multipart_header_get(h, 2, "Content"));
}

/* --- bodies refused ------------------------------------------------------------ */

/* Every prefix of a good body ends too early: TRUNCATED, never another
 * error, never all its parts complete; the whole body and anything longer
 * than the closing delimiter read fine. */
static void test_cut_short(void)
{
    Spec specs[] = {{dicom_headers, "\r\n--" B, 4 + strlen(B), TRUE},
                    {NULL, "\r\n--dfs", 7, FALSE},
                    {"A: b\r\n", "", 0, FALSE}};
    g_autoptr(GByteArray) body = make_body(B, "pre", specs, 3, NULL, NULL);
    for (gsize cut = 0; cut <= body->len; cut++) {
        g_autoptr(Result) r = run_into(result_new(), B, body->data, cut, NULL, 0);
        g_autoptr(Result) bytes = result_new();
        g_autofree gsize *cuts = g_new(gsize, cut + 1);
        for (gsize k = 0; k + 1 < cut; k++)
            cuts[k] = k + 1;
        run_into(bytes, B, body->data, cut, cuts, cut > 0 ? (guint)cut - 1 : 0);
        assert_same(r, bytes);
        if (cut == body->len) {
            assert_parts(r, specs, 3);
            continue;
        }
        assert_fails(r, DFS_ERROR_TRUNCATED, "--" B "--");
        g_assert_cmpuint(r->parts->len, <=, 3);
        if (r->parts->len == 3)
            g_assert_false(((Part *)r->parts->pdata[2])->ended);
    }
    g_autoptr(Result) empty = run_into(result_new(), B, (const guint8 *)"", 0, NULL, 0);
    assert_fails(empty, DFS_ERROR_TRUNCATED, "empty");
}

/* A part declared longer than its data: the reader runs out (the last
 * part) or meets text where the delimiter must be (a middle part). */
static void test_length_too_long(void)
{
    static const char head[] = "--" B "\r\nContent-Length: 100\r\n\r\n";
    g_autoptr(GByteArray) body = g_byte_array_new();
    g_byte_array_append(body, (const guint8 *)head, sizeof head - 1);
    g_byte_array_append(body, (const guint8 *)"short\r\n--" B "--\r\n", 13 + strlen(B));
    g_autoptr(Result) r = run_every_way(B, body);
    assert_fails(r, DFS_ERROR_TRUNCATED, "part 0 ends after 25 of its 100 bytes");
    g_assert_cmpuint(r->parts->len, ==, 1);
    g_assert_false(((Part *)r->parts->pdata[0])->ended);

    Spec specs[] = {{NULL, "short", 5, TRUE}, {NULL, "0123456789", 10, TRUE}};
    g_autoptr(GByteArray) two = make_body(B, NULL, specs, 2, NULL, NULL);
    /* Declare 6 bytes for the first: its data swallows the CR. */
    gchar *cl = memmem(two->data, two->len, "Length: 5", 9);
    cl[8] = '6';
    g_autoptr(Result) t = run_every_way(B, two);
    assert_fails(t, DFS_ERROR_MALFORMED, "where the delimiter --" B " must be");
    g_assert_false(((Part *)t->parts->pdata[0])->ended);
}

static void test_length_too_short(void)
{
    Spec s = {dicom_headers, "0123456789", 10, TRUE};
    g_autoptr(GByteArray) body = make_body(B, NULL, &s, 1, NULL, NULL);
    gchar *cl = memmem(body->data, body->len, "Length: 10", 10);
    cl[9] = '9'; /* 19 */
    cl[8] = ' '; /* " 9" */
    g_autoptr(Result) r = run_every_way(B, body);
    assert_fails(r, DFS_ERROR_MALFORMED, "0x39 after its 9 bytes (Content-Length)");
    g_assert_false(((Part *)r->parts->pdata[0])->ended);
}

/* A body written out, read every way: fails with code, the message saying
 * text; n parts seen, complete ones. */
static void refused(const char *text, int code, const char *why, guint complete)
{
    g_autoptr(GByteArray) body = g_byte_array_new();
    g_byte_array_append(body, (const guint8 *)text, (guint)strlen(text));
    g_autoptr(Result) r = run_every_way(B, body);
    assert_fails(r, code, why);
    guint ended = 0;
    for (guint k = 0; k < r->parts->len; k++)
        ended += ((Part *)r->parts->pdata[k])->ended;
    g_assert_cmpuint(ended, ==, complete);
}

#define D "--" B

static void test_garbage(void)
{
    const int M = DFS_ERROR_MALFORMED;
    /* Text between a counted part and its delimiter. */
    refused(D "\r\nContent-Length: 2\r\n\r\nabXX\r\n" D "--", M, "0x58 after its 2 bytes", 0);
    refused(D "\r\n\r\na\r\n" D "\r\nContent-Length: 1\r\n\r\nbZ\r\n" D "--", M,
            "part 1: 0x5a after its 1 bytes", 1);
    refused(D "\r\nContent-Length: 0\r\n\r\n \r\n" D "--", M, "0x20 after its 0 bytes", 0);
    /* Text after a delimiter, where padding, CRLF or "--" must be. */
    refused(D "X\r\n\r\n\r\n" D "--", M, "0x58 after the delimiter", 0);
    refused(D "\r\n\r\nab\r\n" D "X\r\n\r\n\r\n" D "--", M, "0x58 after the delimiter", 0);
    refused(D "\r\n\r\nab\r\n" D " x\r\n", M, "0x78 after the delimiter", 0);
    refused(D "\r\n\r\nab\r\n" D "-x", M, "0x78 after the delimiter", 0);
    refused(D "\r\n\r\nab\r\n" D " --", M, "0x2d after the delimiter", 0);
    refused(D "\r\n\r\nab\r\n" D "\rX", M, "0x58 after the delimiter", 0);
    refused(D "\n\r\nab\r\n" D "--", M, "0x0a after the delimiter", 0);
    refused("preamble\r\n" D "x", M, "0x78 after the delimiter", 0);
    /* Bad header lines. */
    refused(D "\r\nno colon\r\n\r\n\r\n" D "--", M, "not \"Name: value\"", 0);
    refused(D "\r\nBad Name: x\r\n\r\n\r\n" D "--", M, "not \"Name: value\"", 0);
    refused(D "\r\n: x\r\n\r\n\r\n" D "--", M, "not \"Name: value\"", 0);
    refused(D "\r\n folded: x\r\n\r\n\r\n" D "--", M, "folded", 0);
    refused(D "\r\nX: a\x01"
              "b\r\n\r\n\r\n" D "--",
            M, "control character", 0);
    refused(D "\r\nX: a\rb\r\n\r\n\r\n" D "--", M, "control character", 0);
    refused(D "\r\n\r\na\r\n" D "\r\nX: \x7f\r\n\r\n\r\n" D "--", M, "control character", 1);
    /* Bad Content-Length values. */
    static const char *const lengths[] = {"abc",
                                          "-1",
                                          "+1",
                                          "1 2",
                                          "0x1",
                                          "1.0",
                                          "99999999999999999999",
                                          "9223372036854775808",
                                          "1\r\nContent-Length: 2",
                                          ""};
    for (guint k = 0; k < G_N_ELEMENTS(lengths); k++) {
        g_autofree char *text =
            g_strdup_printf(D "\r\nContent-Length: %s\r\n\r\nx\r\n" D "--", lengths[k]);
        refused(text, M, "bad Content-Length", 0);
    }
    /* The same length twice is one length; the largest there is, a
     * truncation. */
    g_autoptr(GByteArray) body = g_byte_array_new();
    static const char twice[] = D "\r\nContent-Length: 1\r\ncontent-length:1\r\n\r\nx\r\n" D "--";
    g_byte_array_append(body, (const guint8 *)twice, sizeof twice - 1);
    g_autoptr(Result) r = run_every_way(B, body);
    Spec x = {NULL, "x", 1, TRUE};
    assert_parts(r, &x, 1);
    refused(D "\r\nContent-Length: 9223372036854775807\r\n\r\nx\r\n" D "--", DFS_ERROR_TRUNCATED,
            "of its 9223372036854775807 bytes", 0);
    /* No delimiter at all. */
    refused("just text\r\n--dfs-b0undar\r\n", DFS_ERROR_TRUNCATED, "no delimiter in 26 bytes", 0);
}

/* A body too big to read every way: whole, one byte at a time, and in two
 * at a few offsets. */
static Result *run_some_ways(const char *boundary, const GByteArray *body)
{
    Result *whole = run(boundary, body);
    g_autoptr(Result) bytes = run_bytes(boundary, body);
    assert_same(whole, bytes);
    for (gsize cut = 0; cut <= body->len; cut += 997) {
        g_autoptr(Result) split = run_cuts(boundary, body, &cut, 1);
        assert_same(whole, split);
    }
    return whole;
}

/* A part whose header block is `size` bytes, with `n` header lines. */
static GByteArray *headers_body(gsize size, guint n)
{
    GString *h = g_string_new(NULL);
    for (guint k = 1; k < n; k++)
        g_string_append_printf(h, "X-%u: v\r\n", k);
    g_string_append(h, "X-Pad: ");
    gsize used = h->len + 2 + 2; /* this line's CRLF, the empty line */
    g_assert_cmpuint(size, >=, used);
    for (gsize k = used; k < size; k++)
        g_string_append_c(h, 'p');
    g_string_append(h, "\r\n");
    Spec s = {h->str, "data", 4, FALSE};
    GByteArray *body = make_body(B, NULL, &s, 1, NULL, NULL);
    g_string_free(h, TRUE);
    return body;
}

static void test_limits(void)
{
    const gsize max = DFS_MULTIPART_MAX_HEADER_BYTES;
    g_autoptr(GByteArray) fits = headers_body(max, 3);
    g_autoptr(Result) r = run_some_ways(B, fits);
    g_assert_true(r->ok);
    /* Held, one byte at a time: all the block but its last LF. */
    g_autoptr(Result) rb = run_bytes(B, fits);
    g_assert_cmpuint(rb->max_held, ==, max - 1);
    g_autoptr(GByteArray) over = headers_body(max + 1, 3);
    g_autoptr(Result) o = run_some_ways(B, over);
    assert_fails(o, DFS_ERROR_LIMIT, "over 16384 bytes");
    g_assert_cmpuint(o->parts->len, ==, 0);

    g_autoptr(GByteArray) count = headers_body(2000, DFS_MULTIPART_MAX_HEADERS);
    g_autoptr(Result) c = run_every_way(B, count);
    g_assert_true(c->ok);
    g_assert_cmpuint(((Part *)c->parts->pdata[0])->data->len, ==, 4);
    g_autoptr(GByteArray) too_many = headers_body(2000, DFS_MULTIPART_MAX_HEADERS + 1);
    g_autoptr(Result) t = run_every_way(B, too_many);
    assert_fails(t, DFS_ERROR_LIMIT, "over 64 headers");

    /* A header line that never ends: refused once the block is full, not
     * gathered without end. */
    g_autoptr(GByteArray) endless = g_byte_array_new();
    g_byte_array_append(endless, (const guint8 *)D "\r\nX: ", 7 + strlen(B));
    g_autofree guint8 *filler = g_malloc(1 << 20);
    memset(filler, 'v', 1 << 20);
    g_byte_array_append(endless, filler, 1 << 20);
    g_autoptr(Result) e = run(B, endless);
    assert_fails(e, DFS_ERROR_LIMIT, "over 16384 bytes");
    g_assert_cmpuint(e->max_held, <=, max);
}

/* A callback that stops the reader: its error, at once and for every later
 * call; the parts after it never begin. */
static void test_callbacks(void)
{
    Spec specs[] = {{NULL, "zero", 4, TRUE}, {NULL, "one", 3, FALSE}, {NULL, "two", 3, TRUE}};
    g_autoptr(GByteArray) body = make_body(B, NULL, specs, 3, NULL, NULL);
    for (int where = 0; where < 3; where++) {
        for (int with_error = 0; with_error <= 1; with_error++) {
            g_autoptr(Result) r = result_new();
            r->with_error = with_error;
            *(where == 0 ? &r->fail_begin : where == 1 ? &r->fail_data : &r->fail_end) = 1;
            run_into(r, B, body->data, body->len, NULL, 0);
            if (with_error)
                assert_fails(r, 1000 + STOP_CODE, "stopped here");
            else
                assert_fails(r, DFS_ERROR_IO, "stopped by the caller");
            g_assert_cmpuint(r->parts->len, ==, 2);
            g_assert_cmpint(((Part *)r->parts->pdata[1])->ended, ==, where == 2);
        }
    }
    /* Every later feed and the finish say the same. */
    g_autoptr(Result) r = result_new();
    r->fail_begin = 0;
    g_autoptr(DfsMultipart) mp = dfs_multipart_new(B, &callbacks, r, NULL);
    g_autoptr(GError) error = NULL;
    g_assert_false(dfs_multipart_feed(mp, body->data, body->len, &error));
    g_assert_error(error, STOP_ERROR, STOP_CODE);
    g_clear_error(&error);
    g_assert_false(dfs_multipart_feed(mp, (const guint8 *)"x", 1, &error));
    g_assert_error(error, STOP_ERROR, STOP_CODE);
    g_clear_error(&error);
    g_assert_false(dfs_multipart_finish(mp, &error));
    g_assert_error(error, STOP_ERROR, STOP_CODE);

    /* No callbacks at all: parts counted; closed once "--B--" is read, and
     * anything after it ignored. */
    static const DfsMultipartCallbacks none = {NULL, NULL, NULL};
    g_autoptr(DfsMultipart) quiet = dfs_multipart_new(B, &none, NULL, NULL);
    gsize close_at = body->len - strlen(D "--");
    g_assert_true(dfs_multipart_feed(quiet, body->data, close_at, NULL));
    g_assert_false(dfs_multipart_closed(quiet));
    g_assert_cmpuint(dfs_multipart_parts(quiet), ==, 2);
    g_assert_true(dfs_multipart_feed(quiet, body->data + close_at, body->len - close_at, NULL));
    g_assert_true(dfs_multipart_closed(quiet));
    g_assert_cmpuint(dfs_multipart_parts(quiet), ==, 3);
    g_assert_true(dfs_multipart_feed(quiet, body->data, body->len, NULL));
    g_assert_true(dfs_multipart_finish(quiet, NULL));
}

/* Data of a long part is handed on as it comes: of a part without
 * Content-Length, at most boundary + 3 bytes are held back (bytes that may
 * begin the delimiter); of a counted part, none. */
static void test_held_back(void)
{
    char b70[71];
    for (int k = 0; k < 70; k++)
        b70[k] = "abcdefghij"[k % 10];
    b70[70] = '\0';
    g_autofree char *delim = g_strdup_printf("\r\n--%s", b70);
    const gsize bound = strlen(b70) + 3;
    /* Near misses of every length, and random bytes. */
    g_autoptr(GRand) rand = g_rand_new_with_seed(17);
    g_autoptr(GByteArray) data = g_byte_array_new();
    while (data->len < (1u << 18)) {
        guint8 noise = (guint8)g_rand_int(rand);
        g_byte_array_append(data, (const guint8 *)delim,
                            (guint)g_rand_int_range(rand, 0, (gint32)strlen(delim)));
        g_byte_array_append(data, &noise, noise == '\r' ? 0 : 1);
    }
    for (int counted = 0; counted <= 1; counted++) {
        Spec s = {NULL, data->data, data->len, counted};
        gsize at;
        g_autoptr(GByteArray) body = make_body(b70, NULL, &s, 1, NULL, &at);
        g_autoptr(Result) r = result_new();
        g_autoptr(DfsMultipart) mp = dfs_multipart_new(b70, &callbacks, r, NULL);
        for (gsize fed = 1; fed <= body->len; fed++) {
            g_assert_true(dfs_multipart_feed(mp, body->data + fed - 1, 1, NULL));
            if (fed <= at || fed > at + data->len)
                continue;
            gsize handed = ((Part *)r->parts->pdata[0])->data->len;
            gsize held = dfs_multipart_held(mp);
            if (counted) {
                g_assert_cmpuint(handed, ==, fed - at);
                g_assert_cmpuint(held, ==, 0);
            } else {
                g_assert_cmpuint(handed + held, ==, fed - at);
                g_assert_cmpuint(held, <=, bound);
            }
        }
        r->ok = dfs_multipart_finish(mp, NULL);
        assert_parts(r, &s, 1);
    }
}

/* A large body of near-delimiters (each one byte short of the 70-character
 * boundary's delimiter) read in time linear in its size: whole and in
 * chunks of 4 KiB. */
static void test_linear(void)
{
    char b70[71];
    memset(b70, 'z', 70);
    b70[70] = '\0';
    g_autofree char *miss = g_strdup_printf("\r\n--%.69sX", b70);
    g_autoptr(GByteArray) data = g_byte_array_new();
    while (data->len < (8u << 20))
        g_byte_array_append(data, (const guint8 *)miss, (guint)strlen(miss));
    Spec s = {NULL, data->data, data->len, FALSE};
    g_autoptr(GByteArray) body = make_body(b70, NULL, &s, 1, NULL, NULL);
    g_test_timer_start();
    g_autoptr(Result) whole = run(b70, body);
    assert_parts(whole, &s, 1);
    g_autofree gsize *cuts = g_new(gsize, body->len / 4096 + 1);
    guint n = 0;
    for (gsize at = 4096; at < body->len; at += 4096)
        cuts[n++] = at;
    g_autoptr(Result) chunks = run_cuts(b70, body, cuts, n);
    assert_same(whole, chunks);
    g_test_message("%.1f MB of near-delimiters read twice in %.2f s", body->len / 1e6,
                   g_test_timer_elapsed());
}

/* What Orthanc sends for an instance with transfer-syntax=*: the
 * Content-Type value, then one counted part. */
static void test_orthanc_like(void)
{
    static const char type[] = "multipart/related; type=\"application/dicom\"; "
                               "boundary=6e2f1f5c-0b7e-4f0e-9d3c-0f0a5a1b2c3d";
    g_autoptr(DfsContentType) ct = dfs_content_type_parse(type, NULL);
    const char *b = dfs_content_type_boundary(ct, NULL);
    g_assert_nonnull(b);
    g_autoptr(GRand) rand = g_rand_new_with_seed(3);
    g_autofree guint8 *file = random_bytes(rand, 5000);
    memcpy(file + 128, "DICM", 4);
    Spec s = {"Content-Type: application/dicom\r\n", file, 5000, TRUE};
    g_autoptr(GByteArray) body = make_body(b, NULL, &s, 1, NULL, NULL);
    g_autoptr(Result) r = run_some_ways(b, body);
    assert_parts(r, &s, 1);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/multipart/content-type", test_content_type);
    g_test_add_func("/multipart/content-type-refused", test_content_type_refused);
    g_test_add_func("/multipart/one-part", test_one_part);
    g_test_add_func("/multipart/many-parts", test_many_parts);
    g_test_add_func("/multipart/tricky-data", test_tricky_data);
    g_test_add_func("/multipart/boundary-minus-one", test_boundary_minus_one);
    g_test_add_func("/multipart/empty-parts", test_empty_parts);
    g_test_add_func("/multipart/preamble-epilogue", test_preamble_epilogue);
    g_test_add_func("/multipart/headers", test_headers);
    g_test_add_func("/multipart/cut-short", test_cut_short);
    g_test_add_func("/multipart/length-too-long", test_length_too_long);
    g_test_add_func("/multipart/length-too-short", test_length_too_short);
    g_test_add_func("/multipart/garbage", test_garbage);
    g_test_add_func("/multipart/limits", test_limits);
    g_test_add_func("/multipart/callbacks", test_callbacks);
    g_test_add_func("/multipart/held-back", test_held_back);
    g_test_add_func("/multipart/linear", test_linear);
    g_test_add_func("/multipart/orthanc-like", test_orthanc_like);
    return g_test_run();
}
