/* Unit tests of the reader: data sets built byte by byte from the encoding
 * rules of PS3.5 and PS3.10, so the expected values come from the standard,
 * not from our own output. */
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "builder.h"
#include "base/error.h"
#include "dicom/reader.h"
#include "dicom/tags.h"
#include "dicom/value.h"

static char *string_at(DfsDataset *ds, guint parent, guint32 tag)
{
    return dfs_dataset_get_string(ds, parent, tag);
}

/* --- the encodings ----------------------------------------------------- */

static void common_body(TestEnc *e)
{
    enc_text(e, DFS_TAG_SOP_INSTANCE_UID, "UI", "1.2.3.4");
    enc_text(e, DFS_TAG_MODALITY, "CS", "CT");
    enc_text(e, DFS_TAG_PATIENT_NAME, "PN", "Doe^John");
    guint16 rows = 512;
    guint8 r[2] = {e->big ? 0x02 : 0x00, e->big ? 0x00 : 0x02};
    (void)rows;
    enc_element(e, DFS_TAG_ROWS, "US", r, 2);
}

static void check_common(DfsDataset *ds)
{
    g_autofree char *uid = string_at(ds, DFS_ROOT, DFS_TAG_SOP_INSTANCE_UID);
    g_autofree char *mod = string_at(ds, DFS_ROOT, DFS_TAG_MODALITY);
    g_autofree char *pn = string_at(ds, DFS_ROOT, DFS_TAG_PATIENT_NAME);
    gint64 rows = 0;
    g_assert_cmpstr(uid, ==, "1.2.3.4");
    g_assert_cmpstr(mod, ==, "CT");
    g_assert_cmpstr(pn, ==, "Doe^John");
    g_assert_true(dfs_dataset_get_int(ds, DFS_ROOT, DFS_TAG_ROWS, 0, &rows));
    g_assert_cmpint(rows, ==, 512);
}

static void test_explicit_le(void)
{
    TestEnc e = enc_part10("1.2.840.10008.1.2.1");
    common_body(&e);
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsDataset) ds = enc_read(&e, DFS_READ_FULL, &error);
    g_assert_no_error(error);
    g_assert_true(dfs_dataset_has_preamble(ds));
    g_assert_cmpstr(dfs_dataset_transfer_syntax(ds), ==, "1.2.840.10008.1.2.1");
    check_common(ds);
    guint i = dfs_dataset_find(ds, DFS_ROOT, DFS_TAG_ROWS);
    g_assert_cmpint(dfs_dataset_element(ds, i)->vr, ==, DFS_VR_US);
}

static void test_implicit_le(void)
{
    TestEnc e = enc_part10("1.2.840.10008.1.2");
    e.implicit = TRUE;
    common_body(&e);
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsDataset) ds = enc_read(&e, DFS_READ_FULL, &error);
    g_assert_no_error(error);
    check_common(ds);
    /* The VR comes from the data dictionary (PS3.5 7.1.3). */
    guint i = dfs_dataset_find(ds, DFS_ROOT, DFS_TAG_PATIENT_NAME);
    g_assert_cmpint(dfs_dataset_element(ds, i)->vr, ==, DFS_VR_PN);
}

static void test_explicit_be(void)
{
    TestEnc e = enc_part10("1.2.840.10008.1.2.2");
    e.big = TRUE;
    common_body(&e);
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsDataset) ds = enc_read(&e, DFS_READ_FULL, &error);
    g_assert_no_error(error);
    check_common(ds);
}

/* Bare data sets, without preamble or meta: detected from the content. */
static void test_bare(gconstpointer data)
{
    int kind = GPOINTER_TO_INT(data);
    TestEnc e = {g_byte_array_new(), kind == 2, kind == 0};
    enc_text(&e, DFS_TAG_SPECIFIC_CHARACTER_SET, "CS", "ISO_IR 100");
    common_body(&e);
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsDataset) ds = enc_read(&e, DFS_READ_FULL, &error);
    g_assert_no_error(error);
    g_assert_false(dfs_dataset_has_preamble(ds));
    static const char *const ts[] = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1",
                                     "1.2.840.10008.1.2.2"};
    g_assert_cmpstr(dfs_dataset_transfer_syntax(ds), ==, ts[kind]);
    check_common(ds);
}

static void test_deflated(void)
{
    TestEnc body = {g_byte_array_new(), FALSE, FALSE};
    common_body(&body);
    /* PS3.5 A.5: the data set is a raw deflate stream (no zlib header). */
    z_stream z = {0};
    g_assert_cmpint(deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), ==, Z_OK);
    guint8 out[4096];
    z.next_in = body.b->data;
    z.avail_in = body.b->len;
    z.next_out = out;
    z.avail_out = sizeof out;
    g_assert_cmpint(deflate(&z, Z_FINISH), ==, Z_STREAM_END);
    gsize n = sizeof out - z.avail_out;
    deflateEnd(&z);
    g_byte_array_unref(body.b);
    TestEnc e = enc_part10("1.2.840.10008.1.2.1.99");
    g_byte_array_append(e.b, out, n);
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsDataset) ds = enc_read(&e, DFS_READ_FULL, &error);
    g_assert_no_error(error);
    check_common(ds);
}

/* --- sequences ----------------------------------------------------------- */

static void test_sequences(void)
{
    TestEnc e = enc_part10("1.2.840.10008.1.2.1");
    /* Undefined-length SQ with an undefined-length item holding a defined-
     * length SQ with one defined-length item (PS3.5 7.5, Table 7.5-1..3). */
    enc_header(&e, DFS_TAG_REFERENCED_IMAGE_SEQUENCE, "SQ", DFS_UNDEFINED_LENGTH);
    enc_item(&e, DFS_UNDEFINED_LENGTH);
    enc_text(&e, DFS_TAG_REFERENCED_SOP_INSTANCE_UID, "UI", "1.2.3");
    TestEnc inner = {g_byte_array_new(), FALSE, FALSE};
    enc_text(&inner, DFS_TAG_CODE_VALUE, "SH", "T-04000");
    enc_header(&e, DFS_TAG_ANATOMIC_REGION_SEQUENCE, "SQ", inner.b->len + 8);
    enc_item(&e, inner.b->len);
    g_byte_array_append(e.b, inner.b->data, inner.b->len);
    g_byte_array_unref(inner.b);
    enc_delim(&e, DFS_TAG_ITEM_DELIMITATION);
    enc_item(&e, 0); /* an empty second item */
    enc_delim(&e, DFS_TAG_SEQUENCE_DELIMITATION);
    enc_text(&e, DFS_TAG_PATIENT_ID, "LO", "42");

    g_autoptr(GError) error = NULL;
    g_autoptr(DfsDataset) ds = enc_read(&e, DFS_READ_FULL, &error);
    g_assert_no_error(error);
    guint sq = dfs_dataset_find(ds, DFS_ROOT, DFS_TAG_REFERENCED_IMAGE_SEQUENCE);
    g_assert_cmpuint(sq, !=, DFS_NO_INDEX);
    g_assert_cmpint(dfs_dataset_element(ds, sq)->vr, ==, DFS_VR_SQ);
    g_assert_cmpuint(dfs_value_count(ds, sq), ==, 2);
    guint item = sq + 1;
    g_autofree char *ref = string_at(ds, item, DFS_TAG_REFERENCED_SOP_INSTANCE_UID);
    g_assert_cmpstr(ref, ==, "1.2.3");
    guint inner_sq = dfs_dataset_find(ds, item, DFS_TAG_ANATOMIC_REGION_SEQUENCE);
    g_assert_cmpuint(inner_sq, !=, DFS_NO_INDEX);
    g_autofree char *code = string_at(ds, inner_sq + 1, DFS_TAG_CODE_VALUE);
    g_assert_cmpstr(code, ==, "T-04000");
    g_assert_cmpint(dfs_dataset_element(ds, inner_sq + 2)->depth, ==, 4);
    /* The element after the sequence is back at the top level. */
    g_autofree char *pid = string_at(ds, DFS_ROOT, DFS_TAG_PATIENT_ID);
    g_assert_cmpstr(pid, ==, "42");
    /* Nested elements are not found at the top. */
    g_assert_cmpuint(dfs_dataset_find(ds, DFS_ROOT, DFS_TAG_CODE_VALUE), ==, DFS_NO_INDEX);
}

/* PS3.5 6.2.2: UN with undefined length holds an Implicit VR LE sequence,
 * whatever the outer transfer syntax. */
static void test_un_sequence(void)
{
    TestEnc e = enc_part10("1.2.840.10008.1.2.2");
    e.big = TRUE;
    enc_header(&e, 0x00091010, "UN", DFS_UNDEFINED_LENGTH);
    TestEnc in = {e.b, FALSE, TRUE};
    enc_item(&in, DFS_UNDEFINED_LENGTH);
    enc_text(&in, DFS_TAG_MODALITY, "CS", "MR");
    enc_delim(&in, DFS_TAG_ITEM_DELIMITATION);
    enc_delim(&in, DFS_TAG_SEQUENCE_DELIMITATION);
    enc_text(&e, 0x00100020, "LO", "7");
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsDataset) ds = enc_read(&e, DFS_READ_FULL, &error);
    g_assert_no_error(error);
    guint sq = dfs_dataset_find(ds, DFS_ROOT, 0x00091010);
    g_assert_cmpint(dfs_dataset_element(ds, sq)->vr, ==, DFS_VR_SQ);
    g_autofree char *mod = string_at(ds, sq + 1, DFS_TAG_MODALITY);
    g_assert_cmpstr(mod, ==, "MR");
    g_autofree char *pid = string_at(ds, DFS_ROOT, 0x00100020);
    g_assert_cmpstr(pid, ==, "7");
}

static void test_private(void)
{
    TestEnc e = enc_part10("1.2.840.10008.1.2");
    e.implicit = TRUE;
    enc_text(&e, 0x00290010, "LO", "SIEMENS CSA HEADER");
    enc_text(&e, 0x00291008, "CS", "IMAGE NUM 4");
    enc_text(&e, 0x00291108, "CS", "orphan");
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsDataset) ds = enc_read(&e, DFS_READ_FULL, &error);
    g_assert_no_error(error);
    guint i = dfs_dataset_find(ds, DFS_ROOT, 0x00291008);
    g_assert_cmpstr(dfs_dataset_private_creator(ds, i), ==, "SIEMENS CSA HEADER");
    guint c = dfs_dataset_find(ds, DFS_ROOT, 0x00290010);
    g_assert_cmpint(dfs_dataset_element(ds, c)->vr, ==, DFS_VR_LO);
    guint o = dfs_dataset_find(ds, DFS_ROOT, 0x00291108);
    g_assert_null(dfs_dataset_private_creator(ds, o));
    g_assert_cmpint(dfs_dataset_element(ds, o)->vr, ==, DFS_VR_UN);
}

/* --- pixel data ---------------------------------------------------------- */

static TestEnc encapsulated(void)
{
    TestEnc e = enc_part10("1.2.840.10008.1.2.4.50");
    common_body(&e);
    enc_header(&e, DFS_TAG_PIXEL_DATA, "OB", DFS_UNDEFINED_LENGTH);
    enc_item(&e, 4); /* Basic Offset Table with one entry */
    enc_put32(&e, 0);
    enc_item(&e, 6);
    g_byte_array_append(e.b, (const guint8 *)"\xff\xd8\x01\x02\xff\xd9", 6);
    enc_delim(&e, DFS_TAG_SEQUENCE_DELIMITATION);
    enc_text(&e, 0xFFFCFFFC, "OB", "");
    return e;
}

static void test_encapsulated(void)
{
    TestEnc e = encapsulated();
    /* The fragment precedes the sequence delimiter (8) and padding (12). */
    gsize frag_at = e.b->len - 12 - 8 - 6;
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsDataset) ds = enc_read(&e, DFS_READ_FULL, &error);
    g_assert_no_error(error);
    guint n;
    const DfsFragment *fr = dfs_dataset_fragments(ds, &n);
    g_assert_cmpuint(n, ==, 2);
    g_assert_cmpuint(fr[0].length, ==, 4);
    g_assert_cmpuint(fr[1].length, ==, 6);
    g_assert_cmpuint(fr[1].offset, ==, frag_at);
    guint8 buf[6];
    g_assert_true(dfs_dataset_read_stream(ds, fr[1].offset, buf, 6, &error));
    g_assert_cmpmem(buf, 6, "\xff\xd8\x01\x02\xff\xd9", 6);
    /* The element after Pixel Data is read too. */
    g_assert_cmpuint(dfs_dataset_find(ds, DFS_ROOT, 0xFFFCFFFC), !=, DFS_NO_INDEX);
}

static void test_header_only(void)
{
    TestEnc e = encapsulated();
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsDataset) ds = enc_read(&e, DFS_READ_HEADER_ONLY, &error);
    g_assert_no_error(error);
    check_common(ds);
    guint px = dfs_dataset_pixel_data(ds);
    g_assert_cmpuint(px, !=, DFS_NO_INDEX);
    g_assert_true(dfs_dataset_element(ds, px)->flags & DFS_ELEM_NOT_LOADED);
    g_assert_cmpuint(px, ==, dfs_dataset_n_elements(ds) - 1);
    gsize len;
    g_assert_null(dfs_dataset_value(ds, px, &len));
}

/* A header-only read of a file loads the header, not the pixels: the file
 * here has 4 MiB of Pixel Data, cut short (8 MiB are declared), which a
 * header-only read sees from the file's size alone: both reads keep what
 * comes before Pixel Data and say where the damage begins. */
/* e's bytes in a new temporary file (its path; the caller unlinks it). */
static char *write_tmp(TestEnc *e)
{
    char *path = NULL;
    int fd = g_file_open_tmp("dicomfs-test-XXXXXX.dcm", &path, NULL);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, e->b->data, e->b->len), ==, (gssize)e->b->len);
    close(fd);
    g_byte_array_unref(e->b);
    return path;
}

static void test_header_only_file(void)
{
    TestEnc e = enc_part10("1.2.840.10008.1.2.1");
    common_body(&e);
    guint64 pixel_at = e.b->len;
    enc_header(&e, DFS_TAG_PIXEL_DATA, "OW", 8u << 20);
    guint8 *zeros = g_malloc0(4u << 20);
    g_byte_array_append(e.b, zeros, 4u << 20);
    g_free(zeros);
    g_autofree char *path = write_tmp(&e);
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsDataset) ds = dfs_read_file(path, DFS_READ_HEADER_ONLY, &error);
    g_assert_no_error(error);
    check_common(ds);
    g_assert_cmpuint(dfs_dataset_loaded_size(ds), <=, 16384);
    guint64 at = 0;
    g_assert_nonnull(dfs_dataset_damage(ds, &at));
    g_assert_cmpuint(at, ==, pixel_at);
    g_assert_cmpuint(dfs_dataset_pixel_data(ds), ==, DFS_NO_INDEX);
    g_autoptr(DfsDataset) full = dfs_read_file(path, DFS_READ_FULL, &error);
    g_assert_no_error(error);
    check_common(full);
    g_assert_nonnull(dfs_dataset_damage(full, &at));
    g_assert_cmpuint(at, ==, pixel_at);
    g_assert_cmpuint(dfs_dataset_pixel_data(full), ==, DFS_NO_INDEX);
    g_assert_cmpuint(dfs_dataset_n_elements(full), ==, dfs_dataset_n_elements(ds));
    g_unlink(path);
}

/* A full read's native Pixel Data value dropped: the elements after it
 * (padding, a private element) keep their values, the pixel bytes are
 * read from the file at their offsets, and the dataset no longer holds
 * them. */
static void test_drop_pixel_value(void)
{
    TestEnc e = enc_part10("1.2.840.10008.1.2.1");
    common_body(&e);
    const guint32 px_len = 4u << 20;
    enc_header(&e, DFS_TAG_PIXEL_DATA, "OW", px_len);
    guint64 px_at = e.b->len;
    guint8 *px = g_malloc(px_len);
    for (guint32 k = 0; k < px_len; k++)
        px[k] = (guint8)(k * 7 + k / 4096);
    g_byte_array_append(e.b, px, px_len);
    enc_text(&e, 0x00990010u, "LO", "AFTER CREATOR");
    enc_text(&e, 0x00991001u, "LO", "after the pixels");
    enc_element(&e, 0xFFFCFFFCu, "OB", "padding!", 8);
    g_autofree char *path = write_tmp(&e);
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsDataset) ds = dfs_read_file(path, DFS_READ_FULL, &error);
    g_assert_no_error(error);
    guint n = dfs_dataset_n_elements(ds);
    gsize before = dfs_dataset_memory(ds);
    g_assert_true(dfs_dataset_drop_pixel_value(ds));
    g_assert_false(dfs_dataset_drop_pixel_value(ds)); /* once */
    check_common(ds);
    g_assert_cmpuint(dfs_dataset_n_elements(ds), ==, n);
    g_assert_cmpuint(dfs_dataset_memory(ds) + px_len - 65536, <, before);
    guint i = dfs_dataset_find(ds, DFS_ROOT, 0x00991001u);
    g_assert_cmpuint(i, !=, DFS_NO_INDEX);
    g_autoptr(GString) text = g_string_new(NULL);
    dfs_value_append_text(ds, i, text);
    g_assert_cmpstr(text->str, ==, "after the pixels");
    gsize len;
    const guint8 *pad = dfs_dataset_value(ds, dfs_dataset_find(ds, DFS_ROOT, 0xFFFCFFFCu), &len);
    g_assert_cmpmem(pad, len, "padding!", 8);
    guint pi = dfs_dataset_pixel_data(ds);
    const DfsElement *pe = dfs_dataset_element(ds, pi);
    g_assert_true(pe->flags & DFS_ELEM_NOT_LOADED);
    g_assert_cmpuint(pe->offset, ==, px_at);
    g_assert_null(dfs_dataset_value(ds, pi, &len));
    guint8 got[4096];
    for (guint64 at = 0; at < px_len; at += px_len / 4) { /* from the file */
        g_assert_true(dfs_dataset_read_stream(ds, pe->offset + at, got, sizeof got, &error));
        g_assert_no_error(error);
        g_assert_cmpmem(got, sizeof got, px + at, sizeof got);
    }
    g_free(px);
    g_unlink(path);
}

/* --- bad input: every case a clean error --------------------------------- */

static void expect_error(TestEnc *e, int code)
{
    g_autoptr(GError) error = NULL;
    DfsDataset *ds = enc_read(e, DFS_READ_FULL, &error);
    g_assert_null(ds);
    g_assert_error(error, DFS_ERROR, code);
}

static void test_bad_truncated(void)
{
    TestEnc full = enc_part10("1.2.840.10008.1.2.1");
    common_body(&full);
    /* Cut at every byte past the preamble: never a crash, always an error
     * or a shorter data set. */
    for (guint cut = 132; cut < full.b->len; cut++) {
        GBytes *b = g_bytes_new(full.b->data, cut);
        g_autoptr(GError) error = NULL;
        DfsDataset *ds = dfs_read_bytes(b, DFS_READ_FULL, &error);
        g_assert_true((ds == NULL) != (error == NULL));
        dfs_dataset_free(ds);
        g_bytes_unref(b);
    }
    g_byte_array_unref(full.b);
}

static void test_bad_length(void)
{
    TestEnc e = enc_part10("1.2.840.10008.1.2.1");
    enc_header(&e, DFS_TAG_PATIENT_COMMENTS, "LT", 0xFFFFFFF0u);
    g_byte_array_append(e.b, (const guint8 *)"abc", 3);
    expect_error(&e, DFS_ERROR_TRUNCATED);
}

static void test_bad_nesting(void)
{
    TestEnc e = enc_part10("1.2.840.10008.1.2.1");
    for (int k = 0; k < 100000; k++) {
        enc_header(&e, DFS_TAG_REFERENCED_IMAGE_SEQUENCE, "SQ", DFS_UNDEFINED_LENGTH);
        enc_item(&e, DFS_UNDEFINED_LENGTH);
    }
    expect_error(&e, DFS_ERROR_LIMIT);
}

static void test_bad_garbage(void)
{
    TestEnc e = {g_byte_array_new(), FALSE, FALSE};
    const char *s = "This is a plain text file, not DICOM at all.\n";
    for (int k = 0; k < 10; k++)
        g_byte_array_append(e.b, (const guint8 *)s, strlen(s));
    expect_error(&e, DFS_ERROR_NOT_DICOM);
}

/* --- damaged files: what comes before the damage is kept ------------------ */

/* The number of File Meta Information elements of a dataset. */
static guint n_meta(const DfsDataset *ds)
{
    guint n = 0;
    while (n < dfs_dataset_n_elements(ds) && (dfs_dataset_element(ds, n)->flags & DFS_ELEM_META))
        n++;
    return n;
}

/* A defined-length item shorter than the element inside it: the sequence
 * and its item are kept (closed where the element begins), the element is
 * not. */
static void test_damaged_item_overrun(void)
{
    TestEnc e = enc_part10("1.2.840.10008.1.2.1");
    enc_text(&e, DFS_TAG_MODALITY, "CS", "CT");
    enc_header(&e, DFS_TAG_REFERENCED_IMAGE_SEQUENCE, "SQ", 8 + 4);
    enc_item(&e, 4);
    guint64 bad = e.b->len;
    enc_text(&e, DFS_TAG_REFERENCED_SOP_INSTANCE_UID, "UI", "1.2.3.4.5.6");
    enc_text(&e, DFS_TAG_PATIENT_NAME, "PN", "Doe^John");
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsDataset) ds = enc_read(&e, DFS_READ_FULL, &error);
    g_assert_no_error(error);
    guint64 at = 0;
    const char *why = dfs_dataset_damage(ds, &at);
    g_assert_nonnull(why);
    g_assert_cmpuint(at, ==, bad);
    guint m = n_meta(ds), n = dfs_dataset_n_elements(ds);
    g_assert_cmpuint(n - m, ==, 3); /* Modality, the sequence, its item */
    g_assert_cmpuint(dfs_dataset_element(ds, m + 1)->tag, ==, DFS_TAG_REFERENCED_IMAGE_SEQUENCE);
    g_assert_cmpuint(dfs_dataset_element(ds, m + 1)->end, ==, n);
    g_assert_cmpuint(dfs_dataset_element(ds, m + 2)->end, ==, n);
    g_assert_cmpuint(dfs_dataset_find(ds, DFS_ROOT, DFS_TAG_PATIENT_NAME), ==, DFS_NO_INDEX);
}

/* Cut anywhere in the data set: the elements wholly before the cut are
 * kept, and the damage is where the first one cut short begins (the
 * builder says where each begins); cut between two elements the file is
 * whole; cut inside the first one nothing is read. */
static void test_damaged_cut(void)
{
    TestEnc e = enc_part10("1.2.840.10008.1.2.1");
    guint starts[6], k = 0;
    starts[k++] = e.b->len;
    enc_text(&e, DFS_TAG_SOP_INSTANCE_UID, "UI", "1.2.3.4");
    starts[k++] = e.b->len;
    enc_text(&e, DFS_TAG_MODALITY, "CS", "CT");
    starts[k++] = e.b->len;
    enc_text(&e, DFS_TAG_PATIENT_NAME, "PN", "Doe^John");
    starts[k++] = e.b->len;
    enc_text(&e, DFS_TAG_PATIENT_COMMENTS, "LT", "a comment that is long enough to cut");
    starts[k++] = e.b->len;
    for (guint cut = starts[0] + 1; cut < starts[k - 1]; cut++) {
        guint whole = 0; /* data set elements wholly before the cut */
        while (whole + 1 < k && starts[whole + 1] <= cut)
            whole++;
        GBytes *b = g_bytes_new(e.b->data, cut);
        g_autoptr(GError) error = NULL;
        g_autoptr(DfsDataset) ds = dfs_read_bytes(b, DFS_READ_FULL, &error);
        g_bytes_unref(b);
        if (whole == 0) {
            g_assert_null(ds);
            g_assert_error(error, DFS_ERROR, DFS_ERROR_TRUNCATED);
            continue;
        }
        g_assert_no_error(error);
        g_assert_cmpuint(dfs_dataset_n_elements(ds) - n_meta(ds), ==, whole);
        guint64 at = 0;
        const char *why = dfs_dataset_damage(ds, &at);
        if (cut == starts[whole]) {
            g_assert_null(why);
        } else {
            g_assert_nonnull(why);
            g_assert_cmpuint(at, ==, starts[whole]);
        }
    }
    g_byte_array_unref(e.b);
}

/* Zero bytes after the data set end it where they begin, said so. */
static void test_damaged_padding(void)
{
    TestEnc e = enc_part10("1.2.840.10008.1.2.1");
    common_body(&e);
    guint64 end = e.b->len;
    static const guint8 zeros[1000] = {0};
    g_byte_array_append(e.b, zeros, sizeof zeros);
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsDataset) ds = enc_read(&e, DFS_READ_FULL, &error);
    g_assert_no_error(error);
    check_common(ds);
    guint64 at = 0;
    const char *why = dfs_dataset_damage(ds, &at);
    g_assert_nonnull(why);
    g_assert_nonnull(strstr(why, "padding"));
    g_assert_cmpuint(at, ==, end);
    g_assert_cmpuint(dfs_dataset_n_elements(ds) - n_meta(ds), ==, 4);
}

static void test_odd_length(void)
{
    TestEnc e = enc_part10("1.2.840.10008.1.2.1");
    /* Odd lengths break PS3.5 7.1.1, but real writers produce them and
     * DCMTK and pydicom read them: so do we. */
    enc_element(&e, DFS_TAG_PATIENT_ID, "LO", "ABC", 3);
    enc_text(&e, DFS_TAG_MODALITY, "CS", "CT");
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsDataset) ds = enc_read(&e, DFS_READ_FULL, &error);
    g_assert_no_error(error);
    g_autofree char *pid = string_at(ds, DFS_ROOT, DFS_TAG_PATIENT_ID);
    g_autofree char *mod = string_at(ds, DFS_ROOT, DFS_TAG_MODALITY);
    g_assert_cmpstr(pid, ==, "ABC");
    g_assert_cmpstr(mod, ==, "CT");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/reader/explicit-le", test_explicit_le);
    g_test_add_func("/reader/implicit-le", test_implicit_le);
    g_test_add_func("/reader/explicit-be", test_explicit_be);
    g_test_add_data_func("/reader/bare/implicit-le", GINT_TO_POINTER(0), test_bare);
    g_test_add_data_func("/reader/bare/explicit-le", GINT_TO_POINTER(1), test_bare);
    g_test_add_data_func("/reader/bare/explicit-be", GINT_TO_POINTER(2), test_bare);
    g_test_add_func("/reader/deflated", test_deflated);
    g_test_add_func("/reader/sequences", test_sequences);
    g_test_add_func("/reader/un-sequence", test_un_sequence);
    g_test_add_func("/reader/private", test_private);
    g_test_add_func("/reader/encapsulated", test_encapsulated);
    g_test_add_func("/reader/header-only", test_header_only);
    g_test_add_func("/reader/header-only-file", test_header_only_file);
    g_test_add_func("/reader/drop-pixel-value", test_drop_pixel_value);
    g_test_add_func("/reader/odd-length", test_odd_length);
    g_test_add_func("/reader/bad/truncated", test_bad_truncated);
    g_test_add_func("/reader/bad/length", test_bad_length);
    g_test_add_func("/reader/bad/nesting", test_bad_nesting);
    g_test_add_func("/reader/bad/garbage", test_bad_garbage);
    g_test_add_func("/reader/damaged/item-overrun", test_damaged_item_overrun);
    g_test_add_func("/reader/damaged/cut", test_damaged_cut);
    g_test_add_func("/reader/damaged/padding", test_damaged_padding);
    return g_test_run();
}
