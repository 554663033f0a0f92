/* dicomfs core: Siemens' ASCCONV text.  See ascconv.h.  A line is
 * "key = value" (the key has no blanks; the value runs to the end of the
 * line); the section starts after the line holding "### ASCCONV BEGIN"
 * (newer systems add a checksum to it) and ends at "### ASCCONV END". */
#include "volumes/ascconv.h"

#include <math.h>
#include <string.h>

#include "volumes/csa.h"

#define BEGIN_MARK "### ASCCONV BEGIN"
#define END_MARK "### ASCCONV END"

typedef struct {
    char *key;
    char *value;  /* the raw value, trimmed */
    char *string; /* the quoted text of it, or NULL */
} Entry;

struct _DfsAscconv {
    GArray *entries;  /* Entry, in the text's order */
    GHashTable *keys; /* key -> index + 1 in entries */
};

static void entry_clear(gpointer data)
{
    Entry *e = data;
    g_free(e->key);
    g_free(e->value);
    g_free(e->string);
}

/* The text between the first run of quotes and the next quote; NULL where
 * the value is not quoted, has no closing quote or nothing inside. */
static char *unquote(const char *value)
{
    if (*value != '"')
        return NULL;
    while (*value == '"')
        value++;
    const char *close = strchr(value, '"');
    if (close == NULL || close == value)
        return NULL;
    char *s = g_strndup(value, close - value);
    if (!g_utf8_validate(s, -1, NULL)) { /* the protocol is Latin-1 where not ASCII */
        char *u = g_convert(s, -1, "UTF-8", "ISO-8859-1", NULL, NULL, NULL);
        g_free(s);
        s = u;
    }
    return s;
}

static gboolean valid_key(const char *key, gsize n)
{
    if (n == 0)
        return FALSE;
    for (gsize k = 0; k < n; k++)
        if (!g_ascii_isgraph(key[k]))
            return FALSE;
    return TRUE;
}

/* One line (no newline, no NUL): kept where it is "key = value". */
static void add_line(DfsAscconv *a, const char *line, gsize n)
{
    const char *eq = memchr(line, '=', n);
    if (eq == NULL)
        return;
    gsize key_start = 0, key_end = eq - line;
    while (key_start < key_end && g_ascii_isspace(line[key_start]))
        key_start++;
    while (key_end > key_start && g_ascii_isspace(line[key_end - 1]))
        key_end--;
    if (!valid_key(line + key_start, key_end - key_start))
        return;
    g_autofree char *key = g_strndup(line + key_start, key_end - key_start);
    if (g_hash_table_contains(a->keys, key))
        return; /* (the first value stands) */
    Entry e = {g_steal_pointer(&key), g_strstrip(g_strndup(eq + 1, line + n - eq - 1)), NULL};
    e.string = unquote(e.value);
    g_array_append_val(a->entries, e);
    g_hash_table_insert(a->keys, e.key, GUINT_TO_POINTER(a->entries->len));
}

DfsAscconv *dfs_ascconv_parse(const char *text, gsize len)
{
    const char *begin = text ? g_strstr_len(text, len, BEGIN_MARK) : NULL;
    if (begin == NULL)
        return NULL;
    const char *end = text + len;
    const char *p = memchr(begin, '\n', end - begin);
    if (p == NULL)
        return NULL;
    p++;
    DfsAscconv *a = g_new0(DfsAscconv, 1);
    a->entries = g_array_new(FALSE, FALSE, sizeof(Entry));
    g_array_set_clear_func(a->entries, entry_clear);
    a->keys = g_hash_table_new(g_str_hash, g_str_equal);
    while (p < end && a->entries->len < DFS_ASCCONV_MAX_KEYS) {
        const char *nl = memchr(p, '\n', end - p);
        const char *nul = memchr(p, '\0', (nl ? nl : end) - p);
        gsize n = (nul ? nul : nl ? nl : end) - p;
        if (n >= strlen(END_MARK) && memcmp(p, END_MARK, strlen(END_MARK)) == 0)
            break;
        if (nul != NULL || nl == NULL)
            break; /* cut: the line is not whole */
        if (n > 0 && p[n - 1] == '\r')
            n--;
        if (n <= DFS_ASCCONV_MAX_LINE)
            add_line(a, p, n);
        p = nl + 1;
    }
    return a;
}

DfsAscconv *dfs_ascconv_from_dataset(const DfsDataset *ds)
{
    gsize len, text_len;
    const guint8 *csa = dfs_csa_series_header(ds, &len);
    const guint8 *text = dfs_csa_item(csa, len, "MrPhoenixProtocol", 0, &text_len);
    if (text == NULL)
        text = dfs_csa_item(csa, len, "MrProtocol", 0, &text_len);
    return text ? dfs_ascconv_parse((const char *)text, text_len) : NULL;
}

void dfs_ascconv_free(DfsAscconv *a)
{
    if (a == NULL)
        return;
    g_hash_table_unref(a->keys);
    g_array_unref(a->entries);
    g_free(a);
}

guint dfs_ascconv_size(const DfsAscconv *a)
{
    return a ? a->entries->len : 0;
}

static const Entry *lookup(const DfsAscconv *a, const char *key)
{
    guint i = a ? GPOINTER_TO_UINT(g_hash_table_lookup(a->keys, key)) : 0;
    return i ? &g_array_index(a->entries, Entry, i - 1) : NULL;
}

gboolean dfs_ascconv_has(const DfsAscconv *a, const char *key)
{
    return lookup(a, key) != NULL;
}

gboolean dfs_ascconv_number(const DfsAscconv *a, const char *key, double *out)
{
    const Entry *e = lookup(a, key);
    if (e == NULL)
        return FALSE;
    const char *v = e->value;
    char *end;
    double x;
    if (v[0] == '0' && (v[1] == 'x' || v[1] == 'X') && g_ascii_isxdigit(v[2]))
        x = (double)g_ascii_strtoull(v + 2, &end, 16);
    else if (g_ascii_isdigit(*v) || ((*v == '-' || *v == '+' || *v == '.') && v[1]))
        x = g_ascii_strtod(v, &end);
    else
        return FALSE;
    if (end == v || !isfinite(x) || (*end && !g_ascii_isspace(*end) && *end != '#'))
        return FALSE;
    *out = x;
    return TRUE;
}

const char *dfs_ascconv_string(const DfsAscconv *a, const char *key)
{
    const Entry *e = lookup(a, key);
    return e ? e->string : NULL;
}

const char *dfs_ascconv_first_key(const DfsAscconv *a, const char *prefix, const char *suffix)
{
    for (guint k = 0; a && k < a->entries->len; k++) {
        const char *key = g_array_index(a->entries, Entry, k).key;
        if (g_str_has_prefix(key, prefix) && g_str_has_suffix(key, suffix))
            return key;
    }
    return NULL;
}
