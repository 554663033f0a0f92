/* Fuzz target for the text and JSON renderers (render.h, json.h, value.h):
 * the input read as DICOM (in full, then header-only), then the dump, every
 * element's value in both text forms with its name, every accessor of
 * value.h, and the JSON model in each option.  Output is valid UTF-8; the
 * dump has one line per element; the JSON is well-formed.  See fuzz.h. */
#include <string.h>

#include "fuzz.h"
#include "dicom/json.h"
#include "dicom/reader.h"
#include "dicom/render.h"
#include "dicom/value.h"

/* --- a JSON syntax check (RFC 8259), enough to reject malformed output --- */

typedef struct {
    const char *p, *end;
} Json;

static void json_space(Json *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

static gboolean json_lit(Json *j, const char *lit)
{
    gsize n = strlen(lit);
    if ((gsize)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
        return FALSE;
    j->p += n;
    return TRUE;
}

static gboolean json_string(Json *j)
{
    if (!json_lit(j, "\""))
        return FALSE;
    while (j->p < j->end && *j->p != '"') {
        guchar c = (guchar)*j->p++;
        if (c < 0x20)
            return FALSE;
        if (c != '\\')
            continue;
        if (j->p >= j->end)
            return FALSE;
        c = (guchar)*j->p++;
        if (c == 'u') {
            for (int k = 0; k < 4; k++, j->p++)
                if (j->p >= j->end || !g_ascii_isxdigit(*j->p))
                    return FALSE;
        } else if (!strchr("\"\\/bfnrt", c)) {
            return FALSE;
        }
    }
    return json_lit(j, "\"");
}

static gboolean json_digits(Json *j)
{
    const char *start = j->p;
    while (j->p < j->end && g_ascii_isdigit(*j->p))
        j->p++;
    return j->p > start;
}

static gboolean json_number(Json *j)
{
    json_lit(j, "-");
    if (!json_lit(j, "0") && !(j->p < j->end && *j->p >= '1' && *j->p <= '9' && json_digits(j)))
        return FALSE;
    if (json_lit(j, ".") && !json_digits(j))
        return FALSE;
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (!json_lit(j, "+"))
            json_lit(j, "-");
        return json_digits(j);
    }
    return TRUE;
}

static gboolean json_value(Json *j, guint depth);

/* An object (close '}') or an array (close ']') after its opening. */
static gboolean json_members(Json *j, char close, guint depth)
{
    json_space(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        return TRUE;
    }
    for (;;) {
        json_space(j);
        if (close == '}') {
            if (!json_string(j))
                return FALSE;
            json_space(j);
            if (!json_lit(j, ":"))
                return FALSE;
        }
        if (!json_value(j, depth + 1))
            return FALSE;
        json_space(j);
        if (j->p < j->end && *j->p == close) {
            j->p++;
            return TRUE;
        }
        if (!json_lit(j, ","))
            return FALSE;
    }
}

static gboolean json_value(Json *j, guint depth)
{
    json_space(j);
    if (depth > 1000 || j->p >= j->end)
        return FALSE;
    switch (*j->p) {
    case '{': j->p++; return json_members(j, '}', depth);
    case '[': j->p++; return json_members(j, ']', depth);
    case '"': return json_string(j);
    case 't': return json_lit(j, "true");
    case 'f': return json_lit(j, "false");
    case 'n': return json_lit(j, "null");
    default: return json_number(j);
    }
}

static void check_json(const GString *s)
{
    FUZZ_CHECK(g_utf8_validate(s->str, (gssize)s->len, NULL));
    Json j = {s->str, s->str + s->len};
    FUZZ_CHECK(json_value(&j, 0));
    json_space(&j);
    FUZZ_CHECK(j.p == j.end);
}

/* --- the renderers ----------------------------------------------------------- */

static void check_text(const GString *s)
{
    FUZZ_CHECK(g_utf8_validate(s->str, (gssize)s->len, NULL));
}

static void exercise_element(const DfsDataset *ds, guint i, GString *s)
{
    char name[64];
    const char *kw = dfs_render_name(ds, i, name);
    FUZZ_CHECK(kw != NULL && strlen(kw) < 64);

    g_string_truncate(s, 0);
    dfs_render_value(ds, i, DFS_RENDER_DEFAULT, s);
    check_text(s);
    g_string_truncate(s, 0);
    dfs_render_value(ds, i, DFS_RENDER_ESCAPE, s);
    check_text(s);
    FUZZ_CHECK(strchr(s->str, '\n') == NULL && strchr(s->str, '\r') == NULL);

    guint count = dfs_value_count(ds, i);
    char **texts = dfs_value_texts(ds, i);
    for (char **t = texts; t != NULL && *t != NULL; t++)
        FUZZ_CHECK(g_utf8_validate(*t, -1, NULL));
    g_strfreev(texts);
    g_string_truncate(s, 0);
    if (dfs_value_append_text(ds, i, s))
        check_text(s);

    /* The first few binary values, and one past the last. */
    guint upto = MIN(count, 8u);
    for (guint n = 0; n <= upto; n++) {
        gint64 x;
        guint64 u;
        double d;
        char buf[DFS_REAL_BUF];
        dfs_value_binary_int(ds, i, n, &x);
        dfs_value_binary_uint(ds, i, n, &u);
        if (dfs_value_binary_double(ds, i, n, &d))
            FUZZ_CHECK(g_utf8_validate(dfs_format_real(d, FALSE, buf), -1, NULL));
    }
    dfs_value_binary_uint(ds, i, count, &(guint64){0});
    dfs_value_binary_uint(ds, i, G_MAXUINT, &(guint64){0});

    (void)dfs_dataset_private_creator(ds, i); /* for dictionary lookups, not shown */
    const DfsCharset *cs = dfs_dataset_charset(ds, i);
    FUZZ_CHECK(g_utf8_validate(dfs_charset_terms(cs), -1, NULL));
}

/* A few typed accessors at the top level and within every item. */
static void exercise_accessors(const DfsDataset *ds, guint parent)
{
    static const guint32 tags[] = {0x00080005, 0x00100010, 0x00100020, 0x00200013,
                                   0x00280010, 0x00281050, 0x00281053, 0x00080060};
    for (guint k = 0; k < G_N_ELEMENTS(tags); k++) {
        g_autofree char *v = dfs_dataset_get_string(ds, parent, tags[k]);
        FUZZ_CHECK(v == NULL || g_utf8_validate(v, -1, NULL));
        gint64 x;
        double d;
        dfs_dataset_get_int(ds, parent, tags[k], 0, &x);
        dfs_dataset_get_int(ds, parent, tags[k], 1, &x);
        dfs_dataset_get_double(ds, parent, tags[k], 0, &d);
        dfs_dataset_get_double(ds, parent, tags[k], 2, &d);
    }
}

static void exercise(const DfsDataset *ds)
{
    guint n = dfs_dataset_n_elements(ds);
    g_autoptr(GString) s = g_string_new(NULL);

    dfs_render_dump(ds, s);
    check_text(s);
    guint lines = 0;
    for (gsize k = 0; k < s->len; k++)
        lines += s->str[k] == '\n';
    /* One line per element, control characters escaped, and one more where
     * the file is damaged (where and why). */
    FUZZ_CHECK(lines == n + (dfs_dataset_damage(ds, NULL) != NULL));

    exercise_accessors(ds, DFS_ROOT);
    for (guint i = 0; i < n; i++) {
        exercise_element(ds, i, s);
        if (dfs_dataset_element(ds, i)->tag == 0xFFFEE000)
            exercise_accessors(ds, i);
    }

    const DfsJsonOptions options[] = {
        {.include_meta = FALSE},
        {.include_meta = TRUE, .pretty = TRUE},
        {.include_meta = TRUE, .pixel_data_uri = "http://example.com/pixels?a=\"b\"\\"},
    };
    for (guint k = 0; k < G_N_ELEMENTS(options); k++) {
        g_string_truncate(s, 0);
        dfs_render_json(ds, &options[k], s);
        check_json(s);
    }
    g_string_truncate(s, 0);
    dfs_render_json(ds, NULL, s);
    check_json(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GBytes) bytes = g_bytes_new_static(data, size);
    const DfsReadFlags flags[] = {DFS_READ_FULL, DFS_READ_HEADER_ONLY};
    for (guint k = 0; k < G_N_ELEMENTS(flags); k++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(DfsDataset) ds = dfs_read_bytes(bytes, flags[k], &error);
        if (ds == NULL) {
            FUZZ_CHECK_REASON(error);
            continue;
        }
        exercise(ds);
    }
    return 0;
}
