/* dicomfs core: the folders of index nodes: the root, a patient, a study, a
 * series, an instance.
 *
 * A node's folder holds the kinds shown at its level (kinds.c lists them:
 * .dicomfs at the root, tags/ at every other level, the instance's files),
 * at fixed positions whatever is shown, then its child nodes in the index's
 * order.  A listing starts at the position asked for (folders of 10,000+
 * entries are listed in many calls): each call costs what it emits.  A
 * lookup is a hash lookup in the index.  The first listing of an instance's
 * folder tells the source that its series' headers are wanted next (a walk
 * goes into each instance: prefetch); a series' listing does not (find
 * -maxdepth 4 stops there). */
#include "tree/kind.h"

#include "sources/source.h"

#include <string.h>

/* The fixed entry of this level called name, or DFS_KIND_N. */
static DfsKindId fixed_entry(const DfsView *v, guint node, DfsLevel level, const char *name)
{
    guint n;
    const DfsKindId *ids = dfs_kinds_in_nodes(&n);
    for (guint i = 0; i < n; i++) {
        const DfsKind *k = dfs_kind_by_id(ids[i]);
        if ((k->levels & DFS_LEVEL_MASK(level)) && strcmp(k->name, name) == 0)
            return k->shown == NULL || k->shown(v, node) ? ids[i] : DFS_KIND_N;
    }
    return DFS_KIND_N;
}

static gboolean node_lookup(const DfsView *v, DfsEntry dir, const char *name, DfsEntry *out,
                            GError **error)
{
    guint node = DFS_ENTRY_NODE(dir);
    DfsLevel level = dfs_index_level(v->idx, node);
    DfsKindId id = fixed_entry(v, node, level, name);
    if (id != DFS_KIND_N) {
        *out = DFS_ENTRY_MAKE(id, node, 0);
        return TRUE;
    }
    guint child = dfs_index_lookup(v->idx, node, name);
    if (child == DFS_NO_INDEX)
        return dfs_view_not_found(error, name);
    *out = DFS_ENTRY_MAKE(DFS_KIND_NODE, child, 1);
    return TRUE;
}

static gboolean node_list(const DfsView *v, DfsEntry dir, DfsLister *l, GError **error)
{
    guint node = DFS_ENTRY_NODE(dir);
    DfsLevel level = dfs_index_level(v->idx, node);
    if (level == DFS_LEVEL_INSTANCE && l->from == 0)
        dfs_source_prefetch(dfs_view_source(v), v->idx, dfs_index_parent(v->idx, node));
    guint n_ids;
    const DfsKindId *ids = dfs_kinds_in_nodes(&n_ids);
    guint64 pos = 0;
    for (guint i = 0; i < n_ids && !l->stopped; i++) {
        const DfsKind *k = dfs_kind_by_id(ids[i]);
        if (!(k->levels & DFS_LEVEL_MASK(level)))
            continue;
        if (pos >= l->from && (k->shown == NULL || k->shown(v, node)))
            dfs_lister_emit(l, pos, k->name,
                            DFS_ENTRY_MAKE(ids[i], node, 0),
                            (k->flags & DFS_KIND_DIR) != 0);
        pos++; /* positions stay fixed whatever is shown */
    }
    guint n;
    const guint32 *ch = dfs_index_children(v->idx, node, &n);
    for (guint k = l->from > pos ? (guint)(l->from - pos) : 0; k < n && !l->stopped; k++)
        dfs_lister_emit(l, pos + k, dfs_index_name(v->idx, ch[k]),
                        DFS_ENTRY_MAKE(DFS_KIND_NODE, ch[k], 1), TRUE);
    return TRUE;
}

const DfsKind dfs_kind_node = {
    .flags = DFS_KIND_DIR | DFS_KIND_MOUNT_TIME,
    .lookup = node_lookup,
    .list = node_list,
};
