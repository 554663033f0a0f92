/* Unit tests of DICOM JSON attributes as Part 10 files (sources/dicomjson.h):
 * rows made by the QIDO parser (web/qido.h) from JSON written here, encoded,
 * read back with our reader (dicom/reader.h) and checked with the dataset's
 * accessors: text, PN groups, numbers of every binary VR and AT, DS and IS
 * kept or written again, the first value winning across rows, the
 * character set replaced, group 0002 and group lengths ignored, bad numbers
 * refused, empty sequences and bulk data present and empty, the VR from the
 * dictionary, the length limit, and the other transfer syntaxes' encodings. */
#include <math.h>
#include <string.h>

#include "base/error.h"
#include "dicom/reader.h"
#include "dicom/tags.h"
#include "sources/dicomjson.h"
#include "web/qido.h"

#define UID_EXPLICIT_LE "1.2.840.10008.1.2.1"

static gboolean add_row(const DfsQidoRow *row, gpointer user, GError **error)
{
    dfs_dicomjson_add_row(user, row);
    return TRUE;
}

/* Every row of json (an array) added to j. */
static void add_json(DfsDicomJson *j, const char *json)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsQidoParser) p = dfs_qido_parser_new(0, add_row, j);
    g_assert_true(dfs_qido_parser_feed(p, (const guint8 *)json, strlen(json), &error));
    g_assert_true(dfs_qido_parser_finish(p, &error));
    g_assert_no_error(error);
}

/* j encoded with transfer syntax ts and read back. */
static DfsDataset *encode_read(DfsDicomJson *j, const char *ts)
{
    g_autoptr(GError) error = NULL;
    GString *out = g_string_new("left over");
    g_assert_true(dfs_dicomjson_encode(j, ts, out, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(out->len, >, 132);
    g_assert_cmpmem(out->str + 128, 4, "DICM", 4);
    g_autoptr(GBytes) bytes = g_string_free_to_bytes(out);
    DfsDataset *ds = dfs_read_bytes(bytes, DFS_READ_FULL, &error);
    g_assert_no_error(error);
    g_assert_nonnull(ds);
    g_assert_null(dfs_dataset_damage(ds, NULL));
    return ds;
}

/* The JSON read back as a data set. */
static DfsDataset *read_json(const char *json, const char *ts)
{
    g_autoptr(DfsDicomJson) j = dfs_dicomjson_new();
    add_json(j, json);
    return encode_read(j, ts);
}

/* The error of encoding json. */
static GError *encode_error(const char *json)
{
    g_autoptr(DfsDicomJson) j = dfs_dicomjson_new();
    g_autoptr(GString) out = g_string_new(NULL);
    GError *error = NULL;
    add_json(j, json);
    g_assert_false(dfs_dicomjson_encode(j, NULL, out, &error));
    g_assert_nonnull(error);
    g_test_message("%s", error->message);
    return error;
}

static void assert_string(const DfsDataset *ds, guint32 tag, const char *want)
{
    g_autofree char *s = dfs_dataset_get_string(ds, DFS_ROOT, tag);
    g_assert_cmpstr(s, ==, want);
}

static void assert_int(const DfsDataset *ds, guint32 tag, guint n, gint64 want)
{
    gint64 i;
    g_assert_true(dfs_dataset_get_int(ds, DFS_ROOT, tag, n, &i));
    g_assert_cmpint(i, ==, want);
}

static void assert_double(const DfsDataset *ds, guint32 tag, guint n, double want)
{
    double d;
    g_assert_true(dfs_dataset_get_double(ds, DFS_ROOT, tag, n, &d));
    g_assert_cmpfloat(d, ==, want);
}

/* The element tag's raw value, checked to have VR vr. */
static const guint8 *raw(const DfsDataset *ds, guint32 tag, DfsVr vr, gsize *len)
{
    guint i = dfs_dataset_find(ds, DFS_ROOT, tag);
    g_assert_cmpuint(i, !=, DFS_NO_INDEX);
    g_assert_cmpstr(dfs_vr_name(dfs_dataset_element(ds, i)->vr), ==, dfs_vr_name(vr));
    const guint8 *v = dfs_dataset_value(ds, i, len);
    g_assert_nonnull(v);
    return v;
}

static void test_strings(void)
{
    g_autoptr(DfsDataset) ds =
        read_json("[{\"00080060\":{\"vr\":\"CS\",\"Value\":[\"MR\"]},"
                  "\"00080008\":{\"vr\":\"CS\",\"Value\":[\"ORIGINAL\",\"PRIMARY\"]},"
                  "\"00100010\":{\"vr\":\"PN\",\"Value\":[{\"Alphabetic\":\"Yamada^Tarou\","
                  "\"Ideographic\":\"\xe5\xb1\xb1\xe7\x94\xb0^\xe5\xa4\xaa\xe9\x83\x8e\"}]},"
                  "\"00100020\":{\"vr\":\"LO\",\"Value\":[\"ID 7\"]},"
                  "\"00100030\":{\"vr\":\"DA\",\"Value\":[null]},"
                  "\"00081030\":{\"vr\":\"LO\"},"
                  "\"00204000\":{\"vr\":\"LT\",\"Value\":[\"a\\\\b\"]},"
                  "\"0020000D\":{\"vr\":\"UI\",\"Value\":[\"1.2.345\"]}}]",
                  NULL);
    assert_string(ds, DFS_TAG_MODALITY, "MR");
    assert_string(ds, DFS_TAG_IMAGE_TYPE, "ORIGINAL\\PRIMARY");
    assert_string(ds, DFS_TAG_PATIENT_NAME,
                  "Yamada^Tarou=\xe5\xb1\xb1\xe7\x94\xb0^\xe5\xa4\xaa\xe9\x83\x8e");
    assert_string(ds, DFS_TAG_PATIENT_ID, "ID 7");
    assert_string(ds, DFS_TAG_PATIENT_BIRTH_DATE, "");
    assert_string(ds, DFS_TAG_STUDY_DESCRIPTION, "");
    assert_string(ds, DFS_TAG_IMAGE_COMMENTS, "a\\b");
    assert_string(ds, DFS_TAG_STUDY_INSTANCE_UID, "1.2.345");
    /* Even lengths: UI padded with NUL, the others with a space. */
    gsize len;
    const guint8 *v = raw(ds, DFS_TAG_STUDY_INSTANCE_UID, DFS_VR_UI, &len);
    g_assert_cmpmem(v, len, "1.2.345\0", 8);
    v = raw(ds, DFS_TAG_IMAGE_TYPE, DFS_VR_CS, &len);
    g_assert_cmpmem(v, len, "ORIGINAL\\PRIMARY", 16);
    v = raw(ds, DFS_TAG_PATIENT_ID, DFS_VR_LO, &len);
    g_assert_cmpmem(v, len, "ID 7", 4);
    v = raw(ds, DFS_TAG_MODALITY, DFS_VR_CS, &len);
    g_assert_cmpmem(v, len, "MR", 2);
    v = raw(ds, DFS_TAG_PATIENT_BIRTH_DATE, DFS_VR_DA, &len);
    g_assert_cmpuint(len, ==, 0);
}

static void test_numbers(void)
{
    g_autoptr(DfsDataset) ds = read_json(
        "[{\"00280010\":{\"vr\":\"US\",\"Value\":[512]},"
        "\"00280106\":{\"vr\":\"SS\",\"Value\":[-32768]},"
        "\"00280011\":{\"vr\":\"US\",\"Value\":[65535]},"
        "\"00191001\":{\"vr\":\"UL\",\"Value\":[4294967295,7]},"
        "\"00191002\":{\"vr\":\"SL\",\"Value\":[-2147483648]},"
        "\"00191003\":{\"vr\":\"FL\",\"Value\":[1.5,-0.25]},"
        "\"00191004\":{\"vr\":\"FD\",\"Value\":[0.1,-2e300]},"
        "\"00191005\":{\"vr\":\"SV\",\"Value\":[-9223372036854775808]},"
        "\"00191006\":{\"vr\":\"UV\",\"Value\":[18446744073709551615]},"
        "\"00191007\":{\"vr\":\"US\",\"Value\":[1e3]},"
        "\"00209165\":{\"vr\":\"AT\",\"Value\":[\"00100010\",\"7fe00010\"]},"
        "\"00180050\":{\"vr\":\"DS\",\"Value\":[1.5e-3]},"
        "\"00180088\":{\"vr\":\"DS\",\"Value\":[0.30000000000000004,-1.2345678901234567e-100]},"
        "\"00200013\":{\"vr\":\"IS\",\"Value\":[12,3.5e2,-7]}}]",
        NULL);
    assert_int(ds, DFS_TAG_ROWS, 0, 512);
    assert_int(ds, DFS_TAG_COLUMNS, 0, 65535);
    assert_int(ds, DFS_TAG_SMALLEST_IMAGE_PIXEL_VALUE, 0, -32768);
    assert_int(ds, 0x00191001, 0, 4294967295);
    assert_int(ds, 0x00191001, 1, 7);
    assert_int(ds, 0x00191002, 0, G_MININT32);
    assert_double(ds, 0x00191003, 1, -0.25);
    assert_double(ds, 0x00191004, 0, 0.1);
    assert_double(ds, 0x00191004, 1, -2e300);
    assert_int(ds, 0x00191005, 0, G_MININT64);
    gsize len;
    const guint8 *v = raw(ds, 0x00191006, DFS_VR_UV, &len);
    g_assert_cmpmem(v, len, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
    assert_int(ds, 0x00191007, 0, 1000);
    v = raw(ds, DFS_TAG_DIMENSION_INDEX_POINTER, DFS_VR_AT, &len);
    g_assert_cmpmem(v, len, "\x10\x00\x10\x00\xe0\x7f\x10\x00", 8);
    /* DS as given where it fits 16 characters, else fewer digits. */
    assert_string(ds, DFS_TAG_SLICE_THICKNESS, "1.5e-3");
    g_autofree char *spacing = dfs_dataset_get_string(ds, DFS_ROOT, DFS_TAG_SPACING_BETWEEN_SLICES);
    g_auto(GStrv) parts = g_strsplit(spacing, "\\", -1);
    g_assert_cmpuint(g_strv_length(parts), ==, 2);
    for (guint k = 0; k < 2; k++)
        g_assert_cmpuint(strlen(parts[k]), <=, 16);
    double d;
    g_assert_true(dfs_dataset_get_double(ds, DFS_ROOT, DFS_TAG_SPACING_BETWEEN_SLICES, 0, &d));
    g_assert_cmpfloat_with_epsilon(d, 0.3, 1e-15);
    g_assert_true(dfs_dataset_get_double(ds, DFS_ROOT, DFS_TAG_SPACING_BETWEEN_SLICES, 1, &d));
    g_assert_cmpfloat_with_epsilon(d / -1.2345678901234567e-100, 1, 1e-9);
    /* IS: integers, an integral 3.5e2 written as digits. */
    assert_string(ds, DFS_TAG_INSTANCE_NUMBER, "12\\350\\-7");
}

static void test_bad_numbers(void)
{
    static const struct {
        const char *json, *names;
    } cases[] = {
        {"[{\"00280010\":{\"vr\":\"US\",\"Value\":[\"abc\"]}}]", "(0028,0010)"},
        {"[{\"00280010\":{\"vr\":\"US\",\"Value\":[65536]}}]", "(0028,0010)"},
        {"[{\"00280010\":{\"vr\":\"US\",\"Value\":[-1]}}]", "(0028,0010)"},
        {"[{\"00280010\":{\"vr\":\"US\",\"Value\":[1.5]}}]", "(0028,0010)"},
        {"[{\"00280106\":{\"vr\":\"SS\",\"Value\":[32768]}}]", "(0028,0106)"},
        {"[{\"00280010\":{\"vr\":\"US\",\"Value\":[1,null]}}]", "(0028,0010)"},
        {"[{\"00191004\":{\"vr\":\"FD\",\"Value\":[\"x1\"]}}]", "(0019,1004)"},
        {"[{\"00191003\":{\"vr\":\"FL\",\"Value\":[1e300]}}]", "(0019,1003)"},
        {"[{\"00209165\":{\"vr\":\"AT\",\"Value\":[\"0010001\"]}}]", "(0020,9165)"},
        {"[{\"00209165\":{\"vr\":\"AT\",\"Value\":[\"0x100010\"]}}]", "(0020,9165)"},
        {"[{\"00180050\":{\"vr\":\"DS\",\"Value\":[\"thick\"]}}]", "(0018,0050)"},
        {"[{\"00200013\":{\"vr\":\"IS\",\"Value\":[1.5]}}]", "(0020,0013)"},
        {"[{\"00200013\":{\"vr\":\"IS\",\"Value\":[2147483648]}}]", "(0020,0013)"},
    };
    for (guint k = 0; k < G_N_ELEMENTS(cases); k++) {
        g_autoptr(GError) error = encode_error(cases[k].json);
        g_assert_error(error, DFS_ERROR, DFS_ERROR_MALFORMED);
        g_assert_nonnull(strstr(error->message, cases[k].names));
    }
    /* A lone null is an empty value. */
    g_autoptr(DfsDataset) ds = read_json("[{\"00280010\":{\"vr\":\"US\",\"Value\":[null]}}]", NULL);
    gsize len;
    raw(ds, DFS_TAG_ROWS, DFS_VR_US, &len);
    g_assert_cmpuint(len, ==, 0);
}

/* Rows of a study, a series and an instance: the first value given wins. */
static void test_merge(void)
{
    g_autoptr(DfsDicomJson) j = dfs_dicomjson_new();
    add_json(j, "[{\"00100010\":{\"vr\":\"PN\",\"Value\":[{\"Alphabetic\":\"First^Name\"}]},"
                "\"00100020\":{\"vr\":\"LO\"}}]");
    add_json(j, "[{\"00100010\":{\"vr\":\"PN\",\"Value\":[{\"Alphabetic\":\"Second^Name\"}]},"
                "\"00100020\":{\"vr\":\"LO\",\"Value\":[\"late\"]},"
                "\"00080060\":{\"vr\":\"CS\",\"Value\":[\"CT\"]}},"
                "{\"00080060\":{\"vr\":\"CS\",\"Value\":[\"MR\"]}}]");
    g_autoptr(DfsDataset) ds = encode_read(j, NULL);
    assert_string(ds, DFS_TAG_PATIENT_NAME, "First^Name");
    assert_string(ds, DFS_TAG_PATIENT_ID, "");
    assert_string(ds, DFS_TAG_MODALITY, "CT");
    /* Encoding twice gives the same; cleared, the encoder starts afresh. */
    g_autoptr(DfsDataset) again = encode_read(j, NULL);
    assert_string(again, DFS_TAG_PATIENT_NAME, "First^Name");
    dfs_dicomjson_clear(j);
    add_json(j, "[{\"00100010\":{\"vr\":\"PN\",\"Value\":[{\"Alphabetic\":\"Second^Name\"}]}}]");
    g_autoptr(DfsDataset) cleared = encode_read(j, NULL);
    assert_string(cleared, DFS_TAG_PATIENT_NAME, "Second^Name");
    g_assert_cmpuint(dfs_dataset_find(cleared, DFS_ROOT, DFS_TAG_MODALITY), ==, DFS_NO_INDEX);
}

static void test_charset(void)
{
    g_autoptr(DfsDataset) ds =
        read_json("[{\"00080005\":{\"vr\":\"CS\",\"Value\":[\"ISO_IR 100\"]},"
                  "\"00100010\":{\"vr\":\"PN\",\"Value\":[{\"Alphabetic\":\"M\xc3\xbcller^"
                  "J\xc3\xbcrgen\"}]}}]",
                  NULL);
    assert_string(ds, DFS_TAG_SPECIFIC_CHARACTER_SET, "ISO_IR 192");
    assert_string(ds, DFS_TAG_PATIENT_NAME, "M\xc3\xbcller^J\xc3\xbcrgen");
    /* Without text there is nothing to declare: the row's is dropped. */
    g_autoptr(DfsDataset) numbers =
        read_json("[{\"00080005\":{\"vr\":\"CS\",\"Value\":[\"ISO_IR 100\"]},"
                  "\"00280010\":{\"vr\":\"US\",\"Value\":[2]},\"00100010\":{\"vr\":\"PN\"}}]",
                  NULL);
    g_assert_cmpuint(dfs_dataset_find(numbers, DFS_ROOT, DFS_TAG_SPECIFIC_CHARACTER_SET), ==,
                     DFS_NO_INDEX);
    /* Written in its place when all the text comes after it in tag order. */
    g_autoptr(DfsDataset) late =
        read_json("[{\"00100020\":{\"vr\":\"LO\",\"Value\":[\"x\"]}}]", NULL);
    assert_string(late, DFS_TAG_SPECIFIC_CHARACTER_SET, "ISO_IR 192");
    g_assert_cmpuint(dfs_dataset_find(late, DFS_ROOT, DFS_TAG_SPECIFIC_CHARACTER_SET), <,
                     dfs_dataset_find(late, DFS_ROOT, DFS_TAG_PATIENT_ID));
}

/* The meta is made here: the input's group 0002 and group lengths are
 * dropped, the elements come in tag order. */
static void test_meta(void)
{
    g_autoptr(DfsDataset) ds =
        read_json("[{\"00100010\":{\"vr\":\"PN\",\"Value\":[{\"Alphabetic\":\"A\"}]},"
                  "\"00020010\":{\"vr\":\"UI\",\"Value\":[\"1.2.840.10008.1.2.2\"]},"
                  "\"00020013\":{\"vr\":\"SH\",\"Value\":[\"THEIRS\"]},"
                  "\"00080000\":{\"vr\":\"UL\",\"Value\":[1234]},"
                  "\"FFFEE000\":{\"vr\":\"UN\"},"
                  "\"00080018\":{\"vr\":\"UI\",\"Value\":[\"1.2.3.4\"]},"
                  "\"00080016\":{\"vr\":\"UI\",\"Value\":[\"1.2.840.10008.5.1.4.1.1.4\"]}}]",
                  NULL);
    g_assert_true(dfs_dataset_has_preamble(ds));
    g_assert_cmpstr(dfs_dataset_transfer_syntax(ds), ==, UID_EXPLICIT_LE);
    assert_string(ds, DFS_TAG_MEDIA_STORAGE_SOP_CLASS_UID, "1.2.840.10008.5.1.4.1.1.4");
    assert_string(ds, DFS_TAG_MEDIA_STORAGE_SOP_INSTANCE_UID, "1.2.3.4");
    g_assert_cmpuint(dfs_dataset_find(ds, DFS_ROOT, DFS_TAG_IMPLEMENTATION_VERSION_NAME), ==,
                     DFS_NO_INDEX);
    g_assert_cmpuint(dfs_dataset_find(ds, DFS_ROOT, 0x00080000), ==, DFS_NO_INDEX);
    static const guint32 order[] = {
        DFS_TAG_FILE_META_INFORMATION_GROUP_LENGTH,
        DFS_TAG_FILE_META_INFORMATION_VERSION,
        DFS_TAG_MEDIA_STORAGE_SOP_CLASS_UID,
        DFS_TAG_MEDIA_STORAGE_SOP_INSTANCE_UID,
        DFS_TAG_TRANSFER_SYNTAX_UID,
        DFS_TAG_SPECIFIC_CHARACTER_SET,
        DFS_TAG_SOP_CLASS_UID,
        DFS_TAG_SOP_INSTANCE_UID,
        DFS_TAG_PATIENT_NAME,
    };
    g_assert_cmpuint(dfs_dataset_n_elements(ds), ==, G_N_ELEMENTS(order));
    for (guint k = 0; k < G_N_ELEMENTS(order); k++)
        g_assert_cmphex(dfs_dataset_element(ds, k)->tag, ==, order[k]);
    /* The group length counts the meta's bytes: the reader checks it. */
    gint64 length;
    g_assert_true(
        dfs_dataset_get_int(ds, DFS_ROOT, DFS_TAG_FILE_META_INFORMATION_GROUP_LENGTH, 0, &length));
    const DfsElement *ts = dfs_dataset_element(ds, 4);
    g_assert_cmpint(length, ==, ts->offset + ts->length - 144);
}

/* Sequences (their items not kept) and bulk data are present and empty. */
static void test_sequence_bulk(void)
{
    g_autoptr(DfsDataset) ds =
        read_json("[{\"00081115\":{\"vr\":\"SQ\",\"Value\":[{\"00081150\":{\"vr\":\"UI\",\"Value\":"
                  "[\"1.2\"]}},{}]},"
                  "\"00081140\":{\"vr\":\"SQ\"},"
                  "\"7FE00010\":{\"vr\":\"OW\",\"BulkDataURI\":\"http://x/bulk/7fe00010\"},"
                  "\"00091010\":{\"vr\":\"OB\",\"InlineBinary\":\"AAEC\"},"
                  "\"00280010\":{\"vr\":\"US\",\"Value\":[2]}}]",
                  NULL);
    static const struct {
        guint32 tag;
        DfsVr vr;
    } empty[] = {
        {DFS_TAG_REFERENCED_SERIES_SEQUENCE, DFS_VR_SQ},
        {DFS_TAG_REFERENCED_IMAGE_SEQUENCE, DFS_VR_SQ},
        {DFS_TAG_PIXEL_DATA, DFS_VR_OW},
        {0x00091010, DFS_VR_OB},
    };
    for (guint k = 0; k < G_N_ELEMENTS(empty); k++) {
        guint i = dfs_dataset_find(ds, DFS_ROOT, empty[k].tag);
        g_assert_cmpuint(i, !=, DFS_NO_INDEX);
        const DfsElement *e = dfs_dataset_element(ds, i);
        g_assert_cmpstr(dfs_vr_name(e->vr), ==, dfs_vr_name(empty[k].vr));
        g_assert_cmpuint(e->length, ==, 0);
        g_assert_cmpuint(e->end, ==, i + 1); /* no items */
    }
    assert_int(ds, DFS_TAG_ROWS, 0, 2);
}

/* Without a VR: the dictionary's, else UN. */
static void test_no_vr(void)
{
    g_autoptr(DfsDataset) ds = read_json("[{\"00100010\":{\"Value\":[{\"Alphabetic\":\"No^Vr\"}]},"
                                         "\"00280010\":{\"Value\":[256]},"
                                         "\"00091010\":{\"Value\":[\"x\"]},"
                                         "\"00090010\":{\"Value\":[\"CREATOR\"]},"
                                         "\"00180050\":{\"vr\":\"QQ\",\"Value\":[\"1\"]}}]",
                                         NULL);
    gsize len;
    raw(ds, DFS_TAG_PATIENT_NAME, DFS_VR_PN, &len);
    assert_string(ds, DFS_TAG_PATIENT_NAME, "No^Vr");
    raw(ds, DFS_TAG_ROWS, DFS_VR_US, &len);
    assert_int(ds, DFS_TAG_ROWS, 0, 256);
    raw(ds, 0x00091010, DFS_VR_UN, &len);
    g_assert_cmpuint(len, ==, 0);
    raw(ds, 0x00090010, DFS_VR_LO, &len);
    assert_string(ds, 0x00090010, "CREATOR");
    raw(ds, DFS_TAG_SLICE_THICKNESS, DFS_VR_UN, &len);
}

/* [{"key": {"vr": vr, "Value": ["abc...", 70,000 letters]}}]. */
static char *long_value_json(const char *key, const char *vr)
{
    GString *json = g_string_new(NULL);
    g_string_printf(json, "[{\"%s\":{\"vr\":\"%s\",\"Value\":[\"", key, vr);
    for (guint k = 0; k < 70000; k++)
        g_string_append_c(json, (char)('a' + k % 26));
    g_string_append(json, "\"]}}]");
    return g_string_free(json, FALSE);
}

/* A value longer than a 2-byte length field holds is refused; the VRs
 * with a 4-byte length take it, as implicit VR takes every VR. */
static void test_limit(void)
{
    g_autofree char *lo = long_value_json("00100020", "LO");
    g_autoptr(GError) error = encode_error(lo);
    g_assert_error(error, DFS_ERROR, DFS_ERROR_LIMIT);
    g_assert_nonnull(strstr(error->message, "(0010,0020)"));

    g_autofree char *ut = long_value_json("00204000", "UT");
    g_autoptr(DfsDataset) ds = read_json(ut, NULL);
    g_autofree char *text = dfs_dataset_get_string(ds, DFS_ROOT, DFS_TAG_IMAGE_COMMENTS);
    g_assert_cmpuint(strlen(text), ==, 70000);

    g_autoptr(DfsDataset) implicit = read_json(lo, "1.2.840.10008.1.2");
    g_autofree char *id = dfs_dataset_get_string(implicit, DFS_ROOT, DFS_TAG_PATIENT_ID);
    g_assert_cmpuint(strlen(id), ==, 70000);
}

/* The data set in each transfer syntax's encoding reads back the same. */
static void test_transfer_syntaxes(void)
{
    static const char *const syntaxes[] = {
        "1.2.840.10008.1.2",      "1.2.840.10008.1.2.1",    "1.2.840.10008.1.2.2",
        "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.5",
    };
    static const char json[] =
        "[{\"00100010\":{\"vr\":\"PN\",\"Value\":[{\"Alphabetic\":\"Ts^Test\"}]},"
        "\"00280010\":{\"vr\":\"US\",\"Value\":[512]},"
        "\"00280030\":{\"vr\":\"DS\",\"Value\":[0.5,0.25]},"
        "\"00189087\":{\"vr\":\"FD\",\"Value\":[1000.5]},"
        "\"00209165\":{\"vr\":\"AT\",\"Value\":[\"00280010\"]},"
        "\"00081115\":{\"vr\":\"SQ\",\"Value\":[{}]},"
        "\"7FE00010\":{\"vr\":\"OB\",\"BulkDataURI\":\"http://x/1\"},"
        "\"00080018\":{\"vr\":\"UI\",\"Value\":[\"1.2.3\"]}}]";
    for (guint k = 0; k < G_N_ELEMENTS(syntaxes); k++) {
        g_autoptr(DfsDataset) ds = read_json(json, syntaxes[k]);
        g_assert_cmpstr(dfs_dataset_transfer_syntax(ds), ==, syntaxes[k]);
        assert_string(ds, DFS_TAG_PATIENT_NAME, "Ts^Test");
        assert_string(ds, DFS_TAG_SOP_INSTANCE_UID, "1.2.3");
        assert_string(ds, DFS_TAG_PIXEL_SPACING, "0.5\\0.25");
        assert_int(ds, DFS_TAG_ROWS, 0, 512);
        assert_double(ds, DFS_TAG_DIFFUSION_B_VALUE, 0, 1000.5);
        guint i = dfs_dataset_find(ds, DFS_ROOT, DFS_TAG_DIMENSION_INDEX_POINTER);
        const DfsElement *e = dfs_dataset_element(ds, i);
        gsize len;
        const guint8 *v = dfs_dataset_value(ds, i, &len);
        g_assert_cmpuint(len, ==, 4);
        gboolean big = (e->flags & DFS_ELEM_BIG_ENDIAN) != 0;
        g_assert_cmpmem(v, 4, big ? "\x00\x28\x00\x10" : "\x28\x00\x10\x00", 4);
        i = dfs_dataset_find(ds, DFS_ROOT, DFS_TAG_REFERENCED_SERIES_SEQUENCE);
        g_assert_cmpuint(i, !=, DFS_NO_INDEX);
        g_assert_cmpuint(dfs_dataset_element(ds, i)->end, ==, i + 1);
        i = dfs_dataset_find(ds, DFS_ROOT, DFS_TAG_PIXEL_DATA);
        g_assert_cmpuint(i, !=, DFS_NO_INDEX);
        g_assert_cmpuint(dfs_dataset_element(ds, i)->length, ==, 0);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/dicomjson/strings", test_strings);
    g_test_add_func("/dicomjson/numbers", test_numbers);
    g_test_add_func("/dicomjson/bad-numbers", test_bad_numbers);
    g_test_add_func("/dicomjson/merge", test_merge);
    g_test_add_func("/dicomjson/charset", test_charset);
    g_test_add_func("/dicomjson/meta", test_meta);
    g_test_add_func("/dicomjson/sequence-bulk", test_sequence_bulk);
    g_test_add_func("/dicomjson/no-vr", test_no_vr);
    g_test_add_func("/dicomjson/limit", test_limit);
    g_test_add_func("/dicomjson/transfer-syntaxes", test_transfer_syntaxes);
    return g_test_run();
}
