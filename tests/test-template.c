/* Unit tests of name templates (catalog/template.h): what each field kind
 * gives for values set here (padding, date and time formats, missing
 * values, braces, the name rules), and every kind of bad template refused
 * with a message naming the problem.  The expected names are written out
 * from the rules in README "Name templates". */
#include <string.h>

#include "catalog/index-private.h"
#include "catalog/template.h"

/* keyword -> value; a keyword not in it is missing. */
static GHashTable *values;

static const char *value_of(DfsLevel level, guint k, gpointer user)
{
    const char *v = g_hash_table_lookup(values, dfs_index_column(level, k));
    return v ? v : "";
}

/* The name text gives at level for the pairs (keyword, value, ..., NULL). */
static char *expand(DfsLevel level, const char *text, ...)
{
    g_hash_table_remove_all(values);
    va_list ap;
    va_start(ap, text);
    for (const char *k; (k = va_arg(ap, const char *)) != NULL;)
        g_hash_table_insert(values, (gpointer)k, (gpointer)va_arg(ap, const char *));
    va_end(ap);
    g_autoptr(GError) error = NULL;
    DfsTemplate *t = dfs_template_new(level, text, &error);
    g_assert_no_error(error);
    char *name = dfs_template_expand(t, value_of, NULL);
    dfs_template_free(t);
    return name;
}

#define CHECK(expected, ...)                                                                        \
    do {                                                                                            \
        g_autofree char *got_ = expand(__VA_ARGS__, NULL);                                          \
        g_assert_cmpstr(got_, ==, expected);                                                        \
    } while (0)

static void test_fields(void)
{
    CHECK("007_MR", DFS_LEVEL_SERIES, "{SeriesNumber:03}_{Modality}", "SeriesNumber", "7",
          "Modality", "MR");
    CHECK("1234", DFS_LEVEL_SERIES, "{SeriesNumber:03}", "SeriesNumber", "1234");
    CHECK("-05", DFS_LEVEL_SERIES, "{SeriesNumber:03}", "SeriesNumber", "-5");
    CHECK("abc", DFS_LEVEL_SERIES, "{SeriesNumber:03}", "SeriesNumber", "abc");
    CHECK("0042", DFS_LEVEL_INSTANCE, "{InstanceNumber:4}", "InstanceNumber", "42");
    /* a higher level's attribute, and an instance's of any kind */
    CHECK("P1 MR", DFS_LEVEL_SERIES, "{PatientID} {Modality}", "PatientID", "P1", "Modality",
          "MR");
    CHECK("512x256", DFS_LEVEL_INSTANCE, "{Rows}x{Columns}", "Rows", "512", "Columns", "256");
}

static void test_dates(void)
{
    CHECK("2024-03-05", DFS_LEVEL_STUDY, "{StudyDate:%Y-%m-%d}", "StudyDate", "20240305");
    CHECK("2024-03-05", DFS_LEVEL_STUDY, "{StudyDate:%Y-%m-%d}", "StudyDate", "2024.03.05");
    CHECK("2024", DFS_LEVEL_STUDY, "{StudyDate:%Y-%m-%d}", "StudyDate", "2024");
    CHECK("05.03.2024 100%", DFS_LEVEL_STUDY, "{StudyDate:%d.%m.%Y 100%%}", "StudyDate",
          "20240305");
    CHECK("10h15m30", DFS_LEVEL_STUDY, "{StudyTime:%Hh%Mm%S}", "StudyTime", "101530.123");
    CHECK("10h00", DFS_LEVEL_STUDY, "{StudyTime:%Hh%M}", "StudyTime", "10");
    CHECK("10h15", DFS_LEVEL_STUDY, "{StudyTime:%Hh%M}", "StudyTime", "10:15:00");
    CHECK("20240305-101500", DFS_LEVEL_INSTANCE, "{AcquisitionDateTime:%Y%m%d-%H%M%S}",
          "AcquisitionDateTime", "20240305101500.5+0100");
}

static void test_names(void)
{
    CHECK("(no AccessionNumber)", DFS_LEVEL_STUDY, "{AccessionNumber}", "AccessionNumber", "");
    CHECK("x (no PatientID)", DFS_LEVEL_PATIENT, "x {PatientID}");
    CHECK("{x}_P1", DFS_LEVEL_PATIENT, "{{x}}_{PatientID}", "PatientID", "P1");
    CHECK("a_b", DFS_LEVEL_PATIENT, "{PatientID}", "PatientID", "a/b");
    CHECK("_.hidden", DFS_LEVEL_PATIENT, "{PatientID}", "PatientID", ".hidden");
    CHECK("a b", DFS_LEVEL_PATIENT, "{PatientID}", "PatientID", "a\nb");
    /* at most 245 bytes, cut at a character boundary (room for " (N)") */
    GString *long_value = g_string_new(NULL);
    for (int k = 0; k < 200; k++)
        g_string_append(long_value, "\xc3\xa9"); /* é */
    g_autofree char *name = expand(DFS_LEVEL_PATIENT, "{PatientID}", "PatientID", long_value->str,
                                   NULL);
    g_assert_cmpuint(strlen(name), ==, 244);
    g_assert_true(g_utf8_validate(name, -1, NULL));
    g_string_free(long_value, TRUE);
}

static void refused(DfsLevel level, const char *text, const char *says)
{
    g_autoptr(GError) error = NULL;
    DfsTemplate *t = dfs_template_new(level, text, &error);
    g_assert_null(t);
    g_assert_nonnull(error);
    if (strstr(error->message, says) == NULL)
        g_error("%s: \"%s\" does not say \"%s\"", text, error->message, says);
    g_assert_null(strchr(error->message, '\n'));
}

static void test_refused(void)
{
    refused(DFS_LEVEL_STUDY, "{NoSuchKeyword}", "unknown keyword NoSuchKeyword");
    refused(DFS_LEVEL_PATIENT, "{SeriesNumber}", "SeriesNumber is an attribute of the series level");
    refused(DFS_LEVEL_SERIES, "{Rows}", "Rows is an attribute of the instance level");
    refused(DFS_LEVEL_SERIES, "{ReferencedImageSequence}", "sequence");
    refused(DFS_LEVEL_INSTANCE, "{PixelData}", "binary");
    refused(DFS_LEVEL_SERIES, "{Modality", "not closed");
    refused(DFS_LEVEL_SERIES, "Modality}", "with no '{'");
    refused(DFS_LEVEL_SERIES, "", "empty template");
    refused(DFS_LEVEL_SERIES, "{}", "empty field");
    refused(DFS_LEVEL_SERIES, "{Modality:%Y}", "not a date or time");
    refused(DFS_LEVEL_SERIES, "{SeriesNumber:x}", "neither 0N");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    values = g_hash_table_new(g_str_hash, g_str_equal);
    g_test_add_func("/template/fields", test_fields);
    g_test_add_func("/template/dates", test_dates);
    g_test_add_func("/template/names", test_names);
    g_test_add_func("/template/refused", test_refused);
    int rc = g_test_run();
    g_hash_table_unref(values);
    return rc;
}
