/* dicomfs core: the views of the catalog.  See views.h. */
#include "catalog/views.h"

#include <stdlib.h>
#include <string.h>

#include "catalog/index-private.h"
#include "catalog/names.h"

/* What a snapshot keeps of its views: the lists made so far, and the sorted
 * groupings the first levels are cut from. */
typedef struct {
    GMutex lock;
    GHashTable *lists;     /* (folder << 40 | number) -> DfsViewList* */
    GStringChunk *strings; /* names made here */
    /* Made on first use: studies by day, series by modality, studies by
     * accession (each sorted by its key, then node). */
    GArray *days;       /* Keyed */
    GArray *modalities; /* Keyed */
    GArray *accessions; /* Keyed */
} Views;

typedef struct {
    const char *key; /* the grouping value ("" for none) */
    guint32 day;     /* days: YYYYMMDD, 0 for none */
    guint32 node;
} Keyed;

static void list_free(gpointer p)
{
    DfsViewList *l = p;
    g_free((gpointer)l->items);
    g_free(l);
}

static void views_free(gpointer p)
{
    Views *v = p;
    g_hash_table_unref(v->lists);
    g_string_chunk_free(v->strings);
    if (v->days)
        g_array_unref(v->days);
    if (v->modalities)
        g_array_unref(v->modalities);
    if (v->accessions)
        g_array_unref(v->accessions);
    g_mutex_clear(&v->lock);
    g_free(v);
}

static Views *views_of(DfsIndex *idx)
{
    Views *v = dfs_index_get_extra(idx, DFS_INDEX_EXTRA_VIEWS);
    if (v != NULL)
        return v;
    v = g_new0(Views, 1);
    g_mutex_init(&v->lock);
    v->lists = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, list_free);
    v->strings = g_string_chunk_new(64 * 1024);
    return dfs_index_set_extra(idx, DFS_INDEX_EXTRA_VIEWS, v, views_free);
}

/* --- walking the levels above the instances --------------------------------- */

/* Every node of level (study or series), found from the root down: the
 * instances are never touched. */
static void nodes_of_level(const DfsIndex *idx, DfsLevel level, GArray *out)
{
    guint np;
    const guint32 *patients = dfs_index_children(idx, DFS_INDEX_ROOT, &np);
    for (guint p = 0; p < np; p++) {
        guint ns;
        const guint32 *studies = dfs_index_children(idx, patients[p], &ns);
        for (guint s = 0; s < ns; s++) {
            if (level == DFS_LEVEL_STUDY) {
                g_array_append_val(out, studies[s]);
                continue;
            }
            guint nr;
            const guint32 *series = dfs_index_children(idx, studies[s], &nr);
            g_array_append_vals(out, series, nr);
        }
    }
}

guint dfs_view_study_day(const DfsIndex *idx, guint study)
{
    guint day;
    return dfs_name_date(dfs_index_field(idx, study, ST_DATE), &day) ? day : 0;
}

static int by_key(gconstpointer a, gconstpointer b)
{
    const Keyed *x = a, *y = b;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    int r = strcmp(x->key, y->key);
    return r ? r : (x->node > y->node) - (x->node < y->node);
}

/* The nodes of level, keyed by field k (or by day) and sorted. */
static GArray *grouped(const DfsIndex *idx, DfsLevel level, guint field, gboolean day)
{
    g_autoptr(GArray) nodes = g_array_new(FALSE, FALSE, sizeof(guint32));
    nodes_of_level(idx, level, nodes);
    GArray *out = g_array_sized_new(FALSE, FALSE, sizeof(Keyed), nodes->len);
    for (guint k = 0; k < nodes->len; k++) {
        guint32 n = g_array_index(nodes, guint32, k);
        Keyed e = {day ? "" : dfs_index_field(idx, n, field), day ? dfs_view_study_day(idx, n) : 0,
                   n};
        g_array_append_val(out, e);
    }
    g_array_sort(out, by_key);
    return out;
}

/* The first of keyed[lo..hi) not below (day, key). */
static guint lower_bound(GArray *a, guint32 day, const char *key)
{
    guint lo = 0, hi = a->len;
    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        const Keyed *e = &g_array_index(a, Keyed, mid);
        int r = e->day != day ? (e->day < day ? -1 : 1) : strcmp(e->key, key);
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* --- names ------------------------------------------------------------------ */

typedef struct {
    char *name;         /* owned until the list is made */
    const char *stable; /* the snapshot's own copy of name, or NULL */
    const char *key;    /* its order among same-named ones; NULL: the path
                           of node number in the tree, made only where the
                           name repeats (by_path) */
    guint32 number;
} Raw;

static int raw_by_name_key(gconstpointer a, gconstpointer b)
{
    const Raw *x = a, *y = b;
    int r = strcmp(x->name, y->name);
    if (r != 0)
        return r;
    if (x->key != NULL && y->key != NULL)
        return strcmp(x->key, y->key);
    return (x->number > y->number) - (x->number < y->number);
}

static int raw_by_key(gconstpointer a, gconstpointer b)
{
    return strcmp(((const Raw *)a)->key, ((const Raw *)b)->key);
}

static int item_by_name(gconstpointer a, gconstpointer b)
{
    return strcmp(((const DfsViewItem *)a)->name, ((const DfsViewItem *)b)->name);
}

/* Node's path in the tree ("patient/study/series"). */
static char *tree_path(const DfsIndex *idx, guint node)
{
    GString *s = g_string_new(dfs_index_name(idx, node));
    for (guint a = dfs_index_parent(idx, node); a != DFS_INDEX_ROOT; a = dfs_index_parent(idx, a)) {
        g_string_prepend_c(s, '/');
        g_string_prepend(s, dfs_index_name(idx, a));
    }
    return g_string_free(s, FALSE);
}

/* The list of raws (names taken): a name met again gets " (2)", " (3)" ...
 * in key order, never one another item has; sorted by name. */
static DfsViewList *make_list(Views *v, const DfsIndex *idx, GArray *raws)
{
    g_array_sort(raws, raw_by_name_key);
    gboolean repeats = FALSE;
    g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
    for (guint k = 1, first = 0; k <= raws->len; k++) {
        if (k < raws->len &&
            strcmp(g_array_index(raws, Raw, first).name, g_array_index(raws, Raw, k).name) == 0)
            continue;
        /* raws[first..k) share a name: ordered by their paths if they have
         * no key of their own */
        if (k - first > 1) {
            repeats = TRUE;
            Raw *run = &g_array_index(raws, Raw, first);
            if (run->key == NULL) {
                for (guint j = 0; j < k - first; j++)
                    g_ptr_array_add(paths, (gpointer)(run[j].key = tree_path(idx, run[j].number)));
                qsort(run, k - first, sizeof(Raw), raw_by_key);
            }
        }
        first = k;
    }
    g_autoptr(GHashTable) taken = NULL;
    if (repeats) {
        taken = g_hash_table_new(g_str_hash, g_str_equal);
        for (guint k = 0; k < raws->len; k++)
            g_hash_table_add(taken, g_array_index(raws, Raw, k).name);
    }
    DfsViewList *l = g_new0(DfsViewList, 1);
    DfsViewItem *items = g_new(DfsViewItem, MAX(raws->len, 1u));
    for (guint k = 0, run = 1; k < raws->len; k++) {
        Raw *r = &g_array_index(raws, Raw, k);
        run = k > 0 && strcmp(g_array_index(raws, Raw, k - 1).name, r->name) == 0 ? run + 1 : 1;
        const char *name = NULL;
        for (guint s = run; s > 1 && name == NULL; s++) {
            g_autofree char *fresh = g_strdup_printf("%s (%u)", r->name, s);
            if (!g_hash_table_contains(taken, fresh))
                g_hash_table_add(taken, (gpointer)(name = g_string_chunk_insert(v->strings, fresh)));
        }
        /* A name that is a value of the snapshot as it stands (a UID, the
         * usual case) is not copied: a million instances' UIDs would be
         * 60 MB again. */
        if (name == NULL)
            name = r->stable != NULL && strcmp(r->stable, r->name) == 0
                       ? r->stable
                       : g_string_chunk_insert(v->strings, r->name);
        items[k].name = name;
        items[k].number = r->number;
    }
    for (guint k = 0; k < raws->len; k++)
        g_free(g_array_index(raws, Raw, k).name);
    if (repeats)
        qsort(items, raws->len, sizeof(DfsViewItem), item_by_name);
    l->n = raws->len;
    l->items = items;
    return l;
}

static void add_raw(GArray *raws, char *name, const char *key, guint32 number)
{
    Raw r = {name, NULL, key, number};
    g_array_append_val(raws, r);
}

/* The same for a name made from value, a string of the snapshot. */
static void add_raw_value(GArray *raws, char *name, const char *value, const char *key,
                          guint32 number)
{
    Raw r = {name, value, key, number};
    g_array_append_val(raws, r);
}

/* A UID as a name: safe as a path component, or the placeholder. */
static char *uid_name(const char *uid)
{
    return dfs_name_sanitize(uid, DFS_NAME_MAX - 10, DFS_VIEW_NO_UID);
}

/* "<patient> <study>[ <series>]": the folder names of node and those above
 * it, cut to DFS_VIEW_LINK_MAX bytes. */
static char *link_name(const DfsIndex *idx, guint node)
{
    const char *parts[3];
    guint n = 0;
    for (guint a = node; a != DFS_INDEX_ROOT && n < 3; a = dfs_index_parent(idx, a))
        parts[n++] = dfs_index_name(idx, a);
    GString *s = g_string_new(NULL);
    while (n > 0) {
        g_string_append(s, parts[--n]);
        if (n > 0)
            g_string_append_c(s, ' ');
    }
    char *out = dfs_name_sanitize(s->str, DFS_VIEW_LINK_MAX, DFS_NAME_NO_NAME);
    g_string_free(s, TRUE);
    return out;
}

/* --- the folders ----------------------------------------------------------- */

static void uid_items(const DfsIndex *idx, const guint32 *nodes, guint n, guint field,
                      GArray *raws)
{
    for (guint k = 0; k < n; k++) {
        const char *uid = dfs_index_field(idx, nodes[k], field);
        add_raw_value(raws, uid_name(uid), uid, NULL, nodes[k]);
    }
}

/* Distinct day prefixes of days (day / div) within [lo, hi) of the days
 * grouping, named by fmt. */
static void date_items(Views *v, guint32 lo, guint32 hi, guint div, GArray *raws)
{
    GArray *a = v->days;
    guint32 last = G_MAXUINT32;
    for (guint k = lower_bound(a, lo, ""); k < a->len; k++) {
        guint32 day = g_array_index(a, Keyed, k).day;
        if (day >= hi)
            break;
        guint32 part = day / div;
        if (part == last)
            continue;
        last = part;
        char *name;
        if (day == 0)
            name = g_strdup(DFS_VIEW_NO_DATE);
        else if (div == 10000)
            name = g_strdup_printf("%04u", part);
        else if (div == 100)
            name = g_strdup_printf("%04u-%02u", part / 100, part % 100);
        else
            name = g_strdup_printf("%04u-%02u-%02u", part / 10000, part / 100 % 100, part % 100);
        add_raw(raws, name, "", day == 0 ? 0 : part);
    }
}

/* One item per distinct key of a grouping (named by it, or by the
 * placeholder), numbered by its first node. */
static void group_items(GArray *a, const char *placeholder, GArray *raws)
{
    for (guint k = 0; k < a->len; k++) {
        const Keyed *e = &g_array_index(a, Keyed, k);
        if (k > 0 && strcmp(g_array_index(a, Keyed, k - 1).key, e->key) == 0)
            continue;
        add_raw_value(raws, dfs_name_sanitize(e->key, DFS_NAME_MAX - 10, placeholder), e->key,
                      e->key, e->node);
    }
}

/* Links to the nodes of the group of a grouping with node's key. */
static void group_links(const DfsIndex *idx, GArray *a, guint node, guint field,
                        GArray *raws)
{
    if (!dfs_index_is_live(idx, node))
        return;
    const char *key = dfs_index_field(idx, node, field);
    for (guint k = lower_bound(a, 0, key); k < a->len; k++) {
        const Keyed *e = &g_array_index(a, Keyed, k);
        if (strcmp(e->key, key) != 0)
            break;
        add_raw(raws, link_name(idx, e->node), NULL, e->node);
    }
}

static gboolean is_level(const DfsIndex *idx, guint node, DfsLevel level)
{
    return dfs_index_is_live(idx, node) && dfs_index_level(idx, node) == level;
}

static DfsViewList *make(Views *v, DfsIndex *idx, DfsViewFolder f, guint number)
{
    g_autoptr(GArray) raws = g_array_new(FALSE, FALSE, sizeof(Raw));
    guint n = 0;
    const guint32 *ch;
    switch (f) {
    case DFS_VIEW_UID_STUDIES: {
        g_autoptr(GArray) studies = g_array_new(FALSE, FALSE, sizeof(guint32));
        nodes_of_level(idx, DFS_LEVEL_STUDY, studies);
        uid_items(idx, (const guint32 *)studies->data, studies->len, ST_UID, raws);
        break;
    }
    case DFS_VIEW_UID_SERIES:
        if (is_level(idx, number, DFS_LEVEL_STUDY)) {
            ch = dfs_index_children(idx, number, &n);
            uid_items(idx, ch, n, SE_UID, raws);
        }
        break;
    case DFS_VIEW_UID_INSTANCES:
        if (is_level(idx, number, DFS_LEVEL_SERIES)) {
            ch = dfs_index_children(idx, number, &n);
            for (guint k = 0; k < n; k++) { /* keys: the tree's names, unique in the series */
                const char *uid = dfs_index_field(idx, ch[k], IN_UID);
                add_raw_value(raws, uid_name(uid), uid, dfs_index_name(idx, ch[k]), ch[k]);
            }
        }
        break;
    case DFS_VIEW_YEARS:
        date_items(v, 0, G_MAXUINT32, 10000, raws);
        break;
    case DFS_VIEW_MONTHS:
        if (number > 0)
            date_items(v, number * 10000, (number + 1) * 10000, 100, raws);
        break;
    case DFS_VIEW_DAYS:
        if (number > 0)
            date_items(v, number * 100, (number + 1) * 100, 1, raws);
        break;
    case DFS_VIEW_DAY_STUDIES:
        for (guint k = lower_bound(v->days, number, ""); k < v->days->len; k++) {
            const Keyed *e = &g_array_index(v->days, Keyed, k);
            if (e->day != number)
                break;
            add_raw(raws, link_name(idx, e->node), NULL, e->node);
        }
        break;
    case DFS_VIEW_MODALITIES:
        group_items(v->modalities, DFS_VIEW_NO_MODALITY, raws);
        break;
    case DFS_VIEW_MODALITY_SERIES:
        if (is_level(idx, number, DFS_LEVEL_SERIES))
            group_links(idx, v->modalities, number, SE_MODALITY, raws);
        break;
    case DFS_VIEW_ACCESSIONS:
        group_items(v->accessions, DFS_VIEW_NO_ACCESSION, raws);
        break;
    case DFS_VIEW_ACCESSION_STUDIES:
        if (is_level(idx, number, DFS_LEVEL_STUDY))
            group_links(idx, v->accessions, number, ST_ACCESSION, raws);
        break;
    default:
        break;
    }
    return make_list(v, idx, raws);
}

const DfsViewList *dfs_view_list(DfsIndex *idx, DfsViewFolder f, guint number)
{
    Views *v = views_of(idx);
    gint64 key = (gint64)f << 40 | number;
    g_mutex_lock(&v->lock);
    DfsViewList *l = g_hash_table_lookup(v->lists, &key);
    if (l == NULL) {
        if (f >= DFS_VIEW_YEARS && f <= DFS_VIEW_DAY_STUDIES && v->days == NULL)
            v->days = grouped(idx, DFS_LEVEL_STUDY, 0, TRUE);
        if ((f == DFS_VIEW_MODALITIES || f == DFS_VIEW_MODALITY_SERIES) && v->modalities == NULL)
            v->modalities = grouped(idx, DFS_LEVEL_SERIES, SE_MODALITY, FALSE);
        if ((f == DFS_VIEW_ACCESSIONS || f == DFS_VIEW_ACCESSION_STUDIES) && v->accessions == NULL)
            v->accessions = grouped(idx, DFS_LEVEL_STUDY, ST_ACCESSION, FALSE);
        l = make(v, idx, f, number);
        g_hash_table_insert(v->lists, g_memdup2(&key, sizeof key), l);
    }
    g_mutex_unlock(&v->lock);
    return l;
}

gint dfs_view_list_find(const DfsViewList *list, const char *name)
{
    guint lo = 0, hi = list->n;
    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        int r = strcmp(list->items[mid].name, name);
        if (r == 0)
            return (gint)mid;
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}
