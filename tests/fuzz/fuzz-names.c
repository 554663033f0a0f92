/* Fuzz target for folder names (names.h).
 *
 * Input: a byte giving a length limit, then fields separated by NUL bytes
 * (each an attribute value as the reader gives it, but any bytes).  Every field is sanitized; they make patient, study,
 * series and instance names in turn; then all the names are made unique.
 * Every name must follow the README's rules: valid UTF-8, at most 255
 * bytes, no '/' or control characters, not starting with '.', no spaces at
 * either end, never empty; and after dfs_names_make_unique no two alike.
 * See fuzz.h. */
#include <string.h>

#include "fuzz.h"
#include "catalog/names.h"

static gboolean is_control(gunichar c)
{
    return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x2028 || c == 0x2029;
}

static void check_name(const char *name, gsize max)
{
    FUZZ_CHECK(name != NULL);
    gsize len = strlen(name);
    FUZZ_CHECK(len > 0 && len <= max && len <= DFS_NAME_MAX);
    FUZZ_CHECK(g_utf8_validate(name, (gssize)len, NULL));
    FUZZ_CHECK(name[0] != '.' && name[0] != ' ' && name[len - 1] != ' ');
    FUZZ_CHECK(strchr(name, '/') == NULL);
    for (const char *p = name; *p; p = g_utf8_next_char(p))
        FUZZ_CHECK(!is_control(g_utf8_get_char(p)));
}

/* Field k of the input, or NULL past the last (a missing value). */
static const char *field(GPtrArray *fields, guint k)
{
    return k < fields->len ? g_ptr_array_index(fields, k) : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    gsize max = data[0] % (DFS_NAME_MAX - 10 + 1); /* callers leave room for a suffix */
    g_autoptr(GPtrArray) fields = g_ptr_array_new_with_free_func(g_free);
    for (gsize start = 1; start <= size;) {
        const uint8_t *nul = memchr(data + start, 0, size - start);
        gsize end = nul ? (gsize)(nul - data) : size;
        g_ptr_array_add(fields, g_strndup((const char *)data + start, end - start));
        start = end + 1;
    }

    g_autoptr(GPtrArray) names = g_ptr_array_new();
    for (guint k = 0; k < fields->len; k++) {
        char *s = dfs_name_sanitize(field(fields, k), max, DFS_NAME_NO_NAME);
        check_name(s, MAX(max, strlen(DFS_NAME_NO_NAME)));
        g_ptr_array_add(names, s);
        guint w = dfs_name_number_width(field(fields, k));
        FUZZ_CHECK(w <= 19);
    }
    /* The four levels from consecutive fields (NULL where missing). */
    for (guint k = 0; k == 0 || k < fields->len; k += 4) {
        guint width = dfs_name_number_width(field(fields, k + 3)) + (guint)(max % 24);
        char *made[] = {
            dfs_name_patient(field(fields, k), field(fields, k + 1)),
            dfs_name_study(field(fields, k + 1), field(fields, k + 2)),
            dfs_name_series(field(fields, k + 3), width, field(fields, k), field(fields, k + 2)),
            dfs_name_instance(field(fields, k + 3), width),
        };
        for (guint m = 0; m < G_N_ELEMENTS(made); m++) {
            check_name(made[m], DFS_NAME_MAX - 10); /* room for a " (N)" suffix */
            g_ptr_array_add(names, made[m]);
        }
    }

    /* Unique among siblings, keyed by the fields (some alike too). */
    guint n = names->len;
    g_autofree const char **keys = g_new(const char *, n);
    for (guint k = 0; k < n; k++)
        keys[k] = field(fields, k % 3) ? field(fields, k % 3) : "";
    dfs_names_make_unique((char **)names->pdata, keys, n);
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint k = 0; k < n; k++) {
        const char *name = g_ptr_array_index(names, k);
        check_name(name, DFS_NAME_MAX);
        FUZZ_CHECK(g_hash_table_add(seen, (gpointer)name));
    }
    g_ptr_array_set_free_func(names, g_free);
    return 0;
}
