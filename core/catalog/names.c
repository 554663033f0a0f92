/* dicomfs core: folder names from attribute values.  See names.h. */
#include "catalog/names.h"

#include <stdlib.h>
#include <string.h>

/* Room kept for a " (NNNNNN)" suffix when names must be made unique. */
#define SUFFIX_ROOM 10

static gboolean is_control(gunichar c)
{
    return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x2028 || c == 0x2029;
}

/* Cut s to at most max bytes at a character boundary. */
static void cut(GString *s, gsize max)
{
    if (s->len <= max)
        return;
    const char *end = s->str + max;
    while (end > s->str && ((guchar)*end & 0xc0) == 0x80)
        end--;
    g_string_truncate(s, (gsize)(end - s->str));
}

char *dfs_name_sanitize(const char *value, gsize max, const char *placeholder)
{
    GString *s = g_string_sized_new(64);
    const char *p = value ? value : "";
    const char *end = p + strlen(p);
    while (p < end) {
        gunichar c = g_utf8_get_char_validated(p, end - p);
        if (c == (gunichar)-1 || c == (gunichar)-2) {
            g_string_append(s, "\xef\xbf\xbd"); /* U+FFFD for a bad byte */
            p++;
            continue;
        }
        if (c == '/')
            g_string_append_c(s, '_');
        else if (is_control(c))
            g_string_append_c(s, ' ');
        else
            g_string_append_unichar(s, c);
        p = g_utf8_next_char(p);
    }
    g_strstrip(s->str);
    s->len = strlen(s->str);
    if (s->str[0] == '.')
        g_string_prepend_c(s, '_');
    cut(s, max);
    g_strchomp(s->str);
    s->len = strlen(s->str);
    if (s->len == 0)
        g_string_assign(s, placeholder);
    return g_string_free(s, FALSE);
}

static gsize part_max(void)
{
    return DFS_NAME_MAX - SUFFIX_ROOM;
}

char *dfs_name_patient(const char *name, const char *id)
{
    g_autofree char *i = dfs_name_sanitize(id, 64, DFS_NAME_NO_ID);
    gsize room = part_max() - strlen(i) - 3;
    g_autofree char *n = dfs_name_sanitize(name, room, DFS_NAME_NO_NAME);
    return g_strdup_printf("%s [%s]", n, i);
}

gboolean dfs_name_date(const char *da, guint *ymd)
{
    gsize n = da ? strlen(da) : 0;
    if (n != 8 && !(n == 10 && da[4] == '.' && da[7] == '.'))
        return FALSE;
    guint v = 0;
    for (gsize k = 0; k < n; k++) {
        if (n == 10 && (k == 4 || k == 7))
            continue;
        if (!g_ascii_isdigit(da[k]))
            return FALSE;
        v = v * 10 + (guint)(da[k] - '0');
    }
    *ymd = v;
    return TRUE;
}

/* A date shown as YYYY-MM-DD.  Anything else is shown as it is. */
static char *format_date(const char *date)
{
    guint d;
    if (dfs_name_date(date, &d))
        return g_strdup_printf("%04u-%02u-%02u", d / 10000, d / 100 % 100, d % 100);
    return dfs_name_sanitize(date, 32, DFS_NAME_NO_DATE);
}

static char *join_parts(const char *head, const char *tail)
{
    if (tail == NULL || tail[0] == '\0')
        return g_strdup(head);
    gsize room = part_max() - strlen(head) - 1;
    g_autofree char *t = dfs_name_sanitize(tail, room, "");
    return t[0] ? g_strdup_printf("%s %s", head, t) : g_strdup(head);
}

char *dfs_name_study(const char *date, const char *description)
{
    g_autofree char *d = format_date(date);
    return join_parts(d, description);
}

guint dfs_name_number_width(const char *value)
{
    if (value == NULL || value[0] == '\0')
        return 0;
    char *end;
    gint64 v = g_ascii_strtoll(value, &end, 10);
    if (*end != '\0' || v < 0)
        return 0;
    guint w = 1;
    while (v >= 10) {
        v /= 10;
        w++;
    }
    return w;
}

static char *padded(const char *number, guint width)
{
    if (dfs_name_number_width(number) == 0)
        return dfs_name_sanitize(number, 32, DFS_NAME_NO_NUMBER);
    gint64 v = g_ascii_strtoll(number, NULL, 10);
    char buf[24];
    g_snprintf(buf, sizeof buf, "%0*" G_GINT64_FORMAT, (int)MIN(width, 19u), v);
    return g_strdup(buf);
}

char *dfs_name_series(const char *number, guint width, const char *modality,
                      const char *description)
{
    g_autofree char *num = padded(number, width);
    g_autofree char *mod = dfs_name_sanitize(modality, 16, DFS_NAME_NO_MODALITY);
    g_autofree char *head = g_strdup_printf("%s %s", num, mod);
    return join_parts(head, description);
}

char *dfs_name_instance(const char *number, guint width)
{
    return padded(number, width);
}

typedef struct {
    char **names;
    const char *const *keys;
} SortCtx;

static int by_name_then_key(gconstpointer a, gconstpointer b, gpointer user)
{
    const SortCtx *c = user;
    guint i = *(const guint *)a, j = *(const guint *)b;
    int r = strcmp(c->names[i], c->names[j]);
    return r ? r : strcmp(c->keys[i], c->keys[j]);
}

void dfs_names_make_unique(char **names, const char *const *keys, guint n)
{
    dfs_names_make_unique_kept(names, keys, NULL, n);
}

void dfs_names_make_unique_kept(char **names, const char *const *keys, const gboolean *kept, guint n)
{
    g_autofree guint *order = g_new(guint, n);
    for (guint k = 0; k < n; k++)
        order[k] = k;
    SortCtx ctx = {names, keys};
    g_qsort_with_data(order, (gint)n, sizeof(guint), by_name_then_key, &ctx);
    gboolean repeats = FALSE;
    for (guint k = 1; k < n && !repeats; k++)
        repeats = strcmp(names[order[k - 1]], names[order[k]]) == 0;
    if (!repeats)
        return; /* the usual case: every name is unique already */
    /* Every name in use, so a suffixed name never takes one that exists. */
    g_autoptr(GHashTable) taken = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GHashTable) kept_names = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint k = 0; k < n; k++) {
        g_hash_table_add(taken, g_strdup(names[k]));
        if (kept != NULL && kept[k])
            g_hash_table_add(kept_names, names[k]);
    }
    g_autofree char **out = g_new0(char *, n);
    for (guint k = 0, run = 1; k < n; k++) {
        guint i = order[k];
        run = (k > 0 && strcmp(names[order[k - 1]], names[i]) == 0) ? run + 1 : 1;
        /* A kept name stays; the first of a run of new ones stays bare
         * unless a kept one has it. */
        gboolean is_kept = kept != NULL && kept[i];
        if (is_kept || (run == 1 && !g_hash_table_contains(kept_names, names[i]))) {
            out[i] = g_strdup(names[i]);
            continue;
        }
        for (guint s = MAX(run, 2u);; s++) {
            char *fresh = g_strdup_printf("%s (%u)", names[i], s);
            if (!g_hash_table_contains(taken, fresh)) {
                g_hash_table_add(taken, g_strdup(fresh));
                out[i] = fresh;
                break;
            }
            g_free(fresh);
        }
    }
    for (guint k = 0; k < n; k++) {
        g_free(names[k]);
        names[k] = out[k];
    }
}
