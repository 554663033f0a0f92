/* dicomfs core: the views under .dicomfs/ (by-uid, by-date, by-modality,
 * by-accession): folders of catalog/views.h's lists, whose last level is
 * symbolic links into the tree, so that nothing is shown twice to
 * `find -type f` or `grep -r` and `cd` through a link lands in the real
 * folder.
 *
 * A view folder's entry is (DFS_KIND_VIEW_DIR, number, folder | generation):
 * its DfsViewFolder and number (views.h) say what it lists; a link's is
 * (DFS_KIND_VIEW_LINK, node, folder it is in).  The generation is the
 * tree's count of snapshots: a view folder is another inode after every
 * change, so the listings the kernel keeps of the old one are never shown
 * for the new (fs/live.c drops the views' names at .dicomfs/).
 *
 * Costs: a lookup is a binary search and a listing call costs what it
 * emits, in the snapshot's lists (made on first use: views.h).  A link's
 * target is its node's path, a walk up the tree. */
#include "tree/kind.h"

#include <string.h>

#include "catalog/views.h"

#define FOLDER_BITS 5
#define SELF_LINK 16 /* a link's sub: the "study" or "series" link of a by-uid folder */

G_STATIC_ASSERT(DFS_VIEW_N < SELF_LINK);

static DfsViewFolder folder_of(DfsEntry e)
{
    return (DfsViewFolder)(DFS_ENTRY_SUB(e) & (SELF_LINK - 1));
}

static DfsEntry dir_entry(const DfsView *v, DfsViewFolder f, guint number)
{
    guint gen = dfs_view_generation(v) & ((1u << (DFS_ENTRY_SUB_BITS - FOLDER_BITS)) - 1);
    return DFS_ENTRY_MAKE(DFS_KIND_VIEW_DIR, number, (guint)f | gen << FOLDER_BITS);
}

/* The views' first folders, as .dicomfs lists them. */
static const struct {
    const char *name;
    DfsViewFolder folder;
} roots[] = {
    {"by-accession", DFS_VIEW_ACCESSIONS},
    {"by-date", DFS_VIEW_YEARS},
    {"by-modality", DFS_VIEW_MODALITIES},
    {"by-uid", DFS_VIEW_UID_STUDIES},
};

guint dfs_views_n_roots(void)
{
    return G_N_ELEMENTS(roots);
}

const char *dfs_views_root(const DfsView *v, guint k, DfsEntry *out)
{
    *out = dir_entry(v, roots[k].folder, 0);
    return roots[k].name;
}

/* What the items of folder f are: folders of this kind, or links
 * (DFS_VIEW_N). */
static DfsViewFolder items_of(DfsViewFolder f, guint32 number)
{
    switch (f) {
    case DFS_VIEW_UID_STUDIES: return DFS_VIEW_UID_SERIES;
    case DFS_VIEW_UID_SERIES: return DFS_VIEW_UID_INSTANCES;
    case DFS_VIEW_YEARS: return number == 0 ? DFS_VIEW_DAY_STUDIES : DFS_VIEW_MONTHS;
    case DFS_VIEW_MONTHS: return DFS_VIEW_DAYS;
    case DFS_VIEW_DAYS: return DFS_VIEW_DAY_STUDIES;
    case DFS_VIEW_MODALITIES: return DFS_VIEW_MODALITY_SERIES;
    case DFS_VIEW_ACCESSIONS: return DFS_VIEW_ACCESSION_STUDIES;
    default: return DFS_VIEW_N;
    }
}

static DfsEntry item_entry(const DfsView *v, DfsViewFolder f, const DfsViewItem *it,
                           gboolean *is_dir)
{
    DfsViewFolder sub = items_of(f, it->number);
    *is_dir = sub != DFS_VIEW_N;
    return *is_dir ? dir_entry(v, sub, it->number)
                   : DFS_ENTRY_MAKE(DFS_KIND_VIEW_LINK, it->number, (guint)f);
}

/* The by-uid folders' own link first: "study" and "series". */
static const char *self_link(DfsViewFolder f)
{
    return f == DFS_VIEW_UID_SERIES ? "study" : f == DFS_VIEW_UID_INSTANCES ? "series" : NULL;
}

static gboolean dir_lookup(const DfsView *v, DfsEntry dir, const char *name, DfsEntry *out,
                           GError **error)
{
    DfsViewFolder f = folder_of(dir);
    guint number = DFS_ENTRY_NODE(dir);
    const char *self = self_link(f);
    if (self != NULL && strcmp(name, self) == 0 && dfs_index_is_live(v->idx, number)) {
        *out = DFS_ENTRY_MAKE(DFS_KIND_VIEW_LINK, number, (guint)f | SELF_LINK);
        return TRUE;
    }
    const DfsViewList *l = dfs_view_list(v->idx, f, number);
    gint k = dfs_view_list_find(l, name);
    if (k < 0)
        return dfs_view_not_found(error, name);
    gboolean is_dir;
    *out = item_entry(v, f, &l->items[k], &is_dir);
    return TRUE;
}

static gboolean dir_list(const DfsView *v, DfsEntry dir, DfsLister *l, GError **error)
{
    DfsViewFolder f = folder_of(dir);
    guint number = DFS_ENTRY_NODE(dir);
    const char *self = self_link(f);
    guint64 first = 0;
    if (self != NULL) {
        if (dfs_index_is_live(v->idx, number))
            dfs_lister_emit(l, 0, self,
                            DFS_ENTRY_MAKE(DFS_KIND_VIEW_LINK, number, (guint)f | SELF_LINK),
                            FALSE);
        first = 1;
    }
    const DfsViewList *list = dfs_view_list(v->idx, f, number);
    for (guint k = l->from > first ? (guint)(l->from - first) : 0; k < list->n && !l->stopped;
         k++) {
        gboolean is_dir;
        DfsEntry e = item_entry(v, f, &list->items[k], &is_dir);
        dfs_lister_emit(l, first + k, list->items[k].name, e, is_dir);
    }
    return TRUE;
}

const DfsKind dfs_kind_view_dir = {
    .flags = DFS_KIND_DIR | DFS_KIND_MOUNT_TIME | DFS_KIND_NOT_NODE,
    .lookup = dir_lookup,
    .list = dir_list,
};

/* --- links ----------------------------------------------------------------- */

/* How deep under the root the folder a link is in lies. */
static guint depth_of(const DfsView *v, DfsEntry e)
{
    switch (folder_of(e)) {
    case DFS_VIEW_UID_INSTANCES: return 4;       /* .dicomfs/by-uid/<study>/<series> */
    case DFS_VIEW_DAY_STUDIES:                   /* .dicomfs/by-date/Y/Y-M/Y-M-D, or (no date) */
        return dfs_view_study_day(v->idx, DFS_ENTRY_NODE(e)) ? 5 : 3;
    default: return 3;                           /* .dicomfs/<view>/<folder> */
    }
}

static char *target(const DfsView *v, DfsEntry e)
{
    GString *s = g_string_new(NULL);
    for (guint a = DFS_ENTRY_NODE(e); a != DFS_INDEX_ROOT; a = dfs_index_parent(v->idx, a)) {
        if (s->len > 0)
            g_string_prepend_c(s, '/');
        g_string_prepend(s, dfs_index_name(v->idx, a));
    }
    for (guint d = depth_of(v, e); d > 0; d--)
        g_string_prepend(s, "../");
    return g_string_free(s, FALSE);
}

static gboolean link_target(const DfsView *v, DfsEntry e, GString *out, GError **error)
{
    g_autofree char *t = target(v, e);
    g_string_append(out, t);
    return TRUE;
}

static gboolean link_size(const DfsView *v, DfsEntry e, guint64 *size, GError **error)
{
    g_autofree char *t = target(v, e);
    *size = strlen(t);
    return TRUE;
}

const DfsKind dfs_kind_view_link = {
    .flags = DFS_KIND_LINK | DFS_KIND_MOUNT_TIME,
    .size = link_size,
    .link = link_target,
};
