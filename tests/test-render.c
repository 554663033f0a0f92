/* Unit tests of value decoding, text rendering and DICOM JSON: inputs built
 * from PS3.5's encoding rules, expectations from PS3.5 (padding, value
 * multiplicity) and PS3.18 Annex F (the JSON model and its examples). */
#include <string.h>

#include "builder.h"
#include "dicom/json.h"
#include "dicom/render.h"
#include "dicom/tags.h"
#include "dicom/value.h"

static DfsDataset *build(TestEnc *e)
{
    g_autoptr(GError) error = NULL;
    DfsDataset *ds = enc_read(e, DFS_READ_FULL, &error);
    g_assert_no_error(error);
    return ds;
}

static char *value_of(DfsDataset *ds, guint32 tag)
{
    guint i = dfs_dataset_find(ds, DFS_ROOT, tag);
    g_assert_cmpuint(i, !=, DFS_NO_INDEX);
    GString *s = g_string_new(NULL);
    dfs_render_value(ds, i, DFS_RENDER_DEFAULT, s);
    return g_string_free(s, FALSE);
}

/* PS3.5 6.2: trailing spaces are padding everywhere; leading spaces are
 * insignificant in LO, significant in LT; UI pads with NUL. */
static void test_text_padding(void)
{
    TestEnc e = enc_part10("1.2.840.10008.1.2.1");
    enc_element(&e, DFS_TAG_SOP_INSTANCE_UID, "UI", "1.2.3\0", 6);
    enc_element(&e, DFS_TAG_IMAGE_TYPE, "CS", "ORIGINAL\\PRIMARY ", 18);
    enc_element(&e, DFS_TAG_INSTITUTION_NAME, "LO", "  Hosp  ", 8);
    enc_element(&e, DFS_TAG_PATIENT_ID, "LO", "", 0);
    enc_element(&e, DFS_TAG_PATIENT_COMMENTS, "LT", " a\\b  ", 6);
    g_autoptr(DfsDataset) ds = build(&e);
    g_autofree char *uid = value_of(ds, DFS_TAG_SOP_INSTANCE_UID);
    g_autofree char *type = value_of(ds, DFS_TAG_IMAGE_TYPE);
    g_autofree char *inst = value_of(ds, DFS_TAG_INSTITUTION_NAME);
    g_autofree char *pid = value_of(ds, DFS_TAG_PATIENT_ID);
    g_autofree char *lt = value_of(ds, DFS_TAG_PATIENT_COMMENTS);
    g_assert_cmpstr(uid, ==, "1.2.3");
    g_assert_cmpstr(type, ==, "ORIGINAL\\PRIMARY");
    g_assert_cmpstr(inst, ==, "Hosp");
    g_assert_cmpstr(pid, ==, "");
    g_assert_cmpstr(lt, ==, " a\\b"); /* LT is single-valued: '\' is text */
    g_assert_cmpuint(dfs_value_count(ds, dfs_dataset_find(ds, DFS_ROOT, DFS_TAG_IMAGE_TYPE)), ==, 2);
    g_assert_cmpuint(dfs_value_count(ds, dfs_dataset_find(ds, DFS_ROOT, DFS_TAG_PATIENT_ID)), ==, 0);
}

static void test_binary_numbers(gconstpointer big_p)
{
    gboolean big = GPOINTER_TO_INT(big_p);
    TestEnc e = enc_part10(big ? "1.2.840.10008.1.2.2" : "1.2.840.10008.1.2.1");
    e.big = big;
    enc_header(&e, DFS_TAG_ROWS, "US", 2);
    enc_put16(&e, 512);
    enc_header(&e, DFS_TAG_SMALLEST_IMAGE_PIXEL_VALUE, "SS", 4);
    enc_put16(&e, (guint16)-1024);
    enc_put16(&e, 7);
    enc_header(&e, DFS_TAG_FRAME_INCREMENT_POINTER, "AT", 4);
    enc_tag(&e, 0x00181063);
    float f = 1.5f;
    guint32 fu;
    memcpy(&fu, &f, 4);
    enc_header(&e, DFS_TAG_RECOMMENDED_DISPLAY_FRAME_RATE_IN_FLOAT, "FL", 4);
    enc_put32(&e, fu);
    g_autoptr(DfsDataset) ds = build(&e);
    g_autofree char *rows = value_of(ds, DFS_TAG_ROWS);
    g_autofree char *ss = value_of(ds, DFS_TAG_SMALLEST_IMAGE_PIXEL_VALUE);
    g_autofree char *at = value_of(ds, DFS_TAG_FRAME_INCREMENT_POINTER);
    g_autofree char *fl = value_of(ds, DFS_TAG_RECOMMENDED_DISPLAY_FRAME_RATE_IN_FLOAT);
    g_assert_cmpstr(rows, ==, "512");
    g_assert_cmpstr(ss, ==, "-1024\\7");
    g_assert_cmpstr(at, ==, "(0018,1063)");
    g_assert_cmpstr(fl, ==, "1.5");
}

static void test_binary_cut(void)
{
    TestEnc e = enc_part10("1.2.840.10008.1.2.1");
    guint8 bytes[300];
    for (guint k = 0; k < sizeof bytes; k++)
        bytes[k] = (guint8)k;
    enc_element(&e, 0x00091010, "OB", bytes, sizeof bytes);
    g_autoptr(DfsDataset) ds = build(&e);
    g_autofree char *v = value_of(ds, 0x00091010);
    g_assert_true(g_str_has_prefix(v, "00\\01\\02\\03"));
    g_assert_true(g_str_has_suffix(v, "\\... (300 bytes)"));
}

static void test_dump(void)
{
    TestEnc e = enc_part10("1.2.840.10008.1.2.1");
    enc_header(&e, DFS_TAG_REFERENCED_IMAGE_SEQUENCE, "SQ", DFS_UNDEFINED_LENGTH);
    enc_item(&e, DFS_UNDEFINED_LENGTH);
    enc_text(&e, DFS_TAG_REFERENCED_SOP_INSTANCE_UID, "UI", "1.2.3");
    enc_delim(&e, DFS_TAG_ITEM_DELIMITATION);
    enc_delim(&e, DFS_TAG_SEQUENCE_DELIMITATION);
    enc_text(&e, DFS_TAG_PATIENT_COMMENTS, "LT", "line1\r\nline2");
    g_autoptr(DfsDataset) ds = build(&e);
    g_autoptr(GString) s = g_string_new(NULL);
    dfs_render_dump(ds, s);
    g_auto(GStrv) lines = g_strsplit(s->str, "\n", -1);
    /* meta (0002,0010), the sequence, its item, the element, the LT */
    g_assert_cmpuint(g_strv_length(lines), ==, 6);
    g_assert_true(g_str_has_prefix(lines[1], "(0008,1140) SQ ReferencedImageSequence "));
    g_assert_true(g_str_has_suffix(lines[1], "(1 item)"));
    g_assert_cmpstr(lines[2], ==, "  (FFFE,E000) na Item 1");
    g_assert_true(g_str_has_prefix(lines[3], "    (0008,1155) UI ReferencedSOPInstanceUID "));
    g_assert_true(g_str_has_suffix(lines[3], " 1.2.3"));
    g_assert_true(g_str_has_suffix(lines[4], " line1\\r\\nline2")); /* one line per element */
}


/* PS3.18 F.2: the model's shape for each kind of value. */
static void test_json(void)
{
    TestEnc e = enc_part10("1.2.840.10008.1.2.2");
    e.big = TRUE;
    enc_text(&e, DFS_TAG_SPECIFIC_CHARACTER_SET, "CS", "ISO_IR 192");
    enc_header(&e, 0x00080000, "UL", 4); /* group length: not in JSON */
    enc_put32(&e, 0);
    enc_text(&e, DFS_TAG_PATIENT_NAME, "PN", "Yamada^Tarou=\xe5\xb1\xb1\xe7\x94\xb0^\xe5\xa4\xaa\xe9\x83\x8e");
    enc_text(&e, DFS_TAG_PATIENT_AGE, "AS", "");
    enc_text(&e, DFS_TAG_SERIES_NUMBER, "IS", "42");
    enc_text(&e, DFS_TAG_SLICE_THICKNESS, "DS", "2.50");
    enc_header(&e, DFS_TAG_FRAME_INCREMENT_POINTER, "AT", 4);
    enc_tag(&e, 0x00181063);
    enc_header(&e, 0x00091010, "OW", 2);
    enc_put16(&e, 0x0102);
    g_autoptr(DfsDataset) ds = build(&e);
    g_autoptr(GString) s = g_string_new(NULL);
    dfs_render_json(ds, NULL, s);
    const char *expect[] = {
        "\"00100010\":{\"vr\":\"PN\",\"Value\":[{\"Alphabetic\":\"Yamada^Tarou\","
        "\"Ideographic\":\"\xe5\xb1\xb1\xe7\x94\xb0^\xe5\xa4\xaa\xe9\x83\x8e\"}]}",
        "\"00101010\":{\"vr\":\"AS\"}",
        "\"00200011\":{\"vr\":\"IS\",\"Value\":[42]}",
        "\"00180050\":{\"vr\":\"DS\",\"Value\":[2.5]}",
        "\"00280009\":{\"vr\":\"AT\",\"Value\":[\"00181063\"]}",
        /* InlineBinary is little endian: 0x0102 is 02 01, base64 "AgE=" */
        "\"00091010\":{\"vr\":\"OW\",\"InlineBinary\":\"AgE=\"}",
    };
    for (guint k = 0; k < G_N_ELEMENTS(expect); k++)
        if (strstr(s->str, expect[k]) == NULL)
            g_error("JSON lacks %s in %s", expect[k], s->str);
    g_assert_null(strstr(s->str, "\"00080000\""));
    g_assert_null(strstr(s->str, "\"00020010\""));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/value/text-padding", test_text_padding);
    g_test_add_data_func("/value/binary/little-endian", GINT_TO_POINTER(0), test_binary_numbers);
    g_test_add_data_func("/value/binary/big-endian", GINT_TO_POINTER(1), test_binary_numbers);
    g_test_add_func("/render/binary-cut", test_binary_cut);
    g_test_add_func("/render/dump", test_dump);
    g_test_add_func("/json/model", test_json);
    return g_test_run();
}
