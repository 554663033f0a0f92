/* dicomfs core: reading the index, in memory or flat (a mapped image).
 * See index.h. */
#include "catalog/index.h"
#include "catalog/index-private.h"
#include "catalog/index-impl.h"

#include <stddef.h>
#include <string.h>

#include "catalog/levels.h"
#include "dicom/value.h"
#include "dicom/tags.h"

/* --- reading: in memory, or flat ----------------------------------------- */

G_STATIC_ASSERT(sizeof(struct timespec) == 16 && offsetof(struct timespec, tv_nsec) == 8);

static guint flat_id(const DfsIndex *idx, guint32 id)
{
    return id < idx->n_nodes ? id : DFS_INDEX_ROOT;
}

const DfsImageNode *fnode(const DfsIndex *idx, guint id)
{
    return &idx->flat.nodes[flat_id(idx, id)];
}

const char *fstr(const DfsIndex *idx, guint32 offset)
{
    return offset < idx->flat.n_strings ? idx->flat.strings + offset : "";
}

DfsIndex *dfs_index_new_flat(const DfsImageView *view, gpointer mapping, GDestroyNotify release)
{
    g_return_val_if_fail(view->n_nodes > 0 && view->n_strings > 0, NULL);
    DfsIndex *idx = g_new0(DfsIndex, 1);
    idx->refs = 1;
    idx->is_flat = TRUE;
    idx->flat = *view;
    idx->mapping = mapping;
    idx->release = release;
    idx->n_nodes = view->n_nodes;
    idx->n_skips = view->n_skips;
    idx->n_skipped = view->n_skipped;
    idx->n_instances = view->n_instances;
    return idx;
}

const DfsImageView *dfs_index_flat_view(const DfsIndex *idx)
{
    return idx->is_flat ? &idx->flat : NULL;
}

gpointer dfs_index_flat_mapping(const DfsIndex *idx)
{
    return idx->is_flat ? idx->mapping : NULL;
}

guint dfs_index_n_nodes(const DfsIndex *idx)
{
    return idx->n_nodes;
}

gboolean dfs_index_is_live(const DfsIndex *idx, guint id)
{
    return id < idx->n_nodes && (idx->is_flat ? idx->flat.nodes[id].live : idx->live[id]);
}

DfsLevel dfs_index_level(const DfsIndex *idx, guint id)
{
    if (idx->is_flat)
        return (DfsLevel)MIN(fnode(idx, id)->level, DFS_LEVEL_INSTANCE);
    return (DfsLevel)idx->nodes[id]->level;
}

const char *dfs_index_name(const DfsIndex *idx, guint id)
{
    if (idx->is_flat)
        return fstr(idx, fnode(idx, id)->name);
    return idx->names[id] ? idx->names[id] : "";
}

guint dfs_index_parent(const DfsIndex *idx, guint id)
{
    if (idx->is_flat)
        return flat_id(idx, fnode(idx, id)->parent);
    return idx->nodes[id]->parent;
}

const guint32 *dfs_index_children(const DfsIndex *idx, guint id, guint *n)
{
    if (idx->is_flat) {
        const DfsImageNode *f = fnode(idx, id);
        gboolean inside = f->first_child <= idx->flat.n_kids &&
                          f->n_children <= idx->flat.n_kids - f->first_child;
        *n = inside ? f->n_children : 0;
        return idx->flat.kids + (inside ? f->first_child : 0);
    }
    *n = idx->n_children[id];
    return idx->kids + idx->first_child[id];
}

guint dfs_index_lookup(const DfsIndex *idx, guint id, const char *name)
{
    guint n;
    const guint32 *ch = dfs_index_children(idx, id, &n);
    guint lo = 0, hi = n;
    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        int r = strcmp(dfs_index_name(idx, ch[mid]), name);
        if (r == 0)
            return ch[mid];
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return DFS_NO_INDEX;
}

guint dfs_index_first_instance(const DfsIndex *idx, guint id)
{
    if (dfs_index_level(idx, id) == DFS_LEVEL_INSTANCE)
        return id;
    if (idx->is_flat) {
        guint32 first = fnode(idx, id)->first_instance;
        return first < idx->n_nodes ? first : DFS_NO_INDEX;
    }
    return idx->first_instance[id];
}

const char *dfs_index_relpath(const DfsIndex *idx, guint id)
{
    if (idx->is_flat)
        return fstr(idx, fnode(idx, id)->relpath);
    return idx->nodes[id]->relpath;
}

guint64 dfs_index_size(const DfsIndex *idx, guint id)
{
    return idx->is_flat ? fnode(idx, id)->size : idx->nodes[id]->size;
}

const struct timespec *dfs_index_mtime(const DfsIndex *idx, guint id)
{
    if (idx->is_flat)
        return (const struct timespec *)&fnode(idx, id)->mtime_sec;
    return &idx->nodes[id]->mtime;
}

const char *dfs_index_field(const DfsIndex *idx, guint id, guint k)
{
    if (k >= dfs_index_n_columns(dfs_index_level(idx, id)))
        return "";
    if (idx->is_flat) {
        guint32 first = fnode(idx, id)->fields;
        return first < idx->flat.n_fields && k < idx->flat.n_fields - first
                   ? fstr(idx, idx->flat.fields[first + k])
                   : "";
    }
    return idx->nodes[id]->fields[k];
}

const char *dfs_index_key(const DfsIndex *idx, guint id)
{
    if (idx->is_flat)
        return fstr(idx, fnode(idx, id)->key);
    return idx->nodes[id]->key ? idx->nodes[id]->key : "";
}

guint dfs_index_n_skips(const DfsIndex *idx)
{
    return idx->n_skips;
}

void dfs_index_skip(const DfsIndex *idx, guint k, DfsIndexSkip *out)
{
    if (idx->is_flat) {
        const DfsImageSkip *f = &idx->flat.skips[k];
        *out = (DfsIndexSkip){fstr(idx, f->relpath), fstr(idx, f->reason),
                              (DfsSkipKind)MIN(f->kind, DFS_SKIP_NOTE), f->size, f->mtime_ns};
        return;
    }
    const Skip *s = &idx->skips[k];
    *out = (DfsIndexSkip){s->relpath, s->reason, s->kind, s->size, s->mtime_ns};
}

guint dfs_index_n_skipped(const DfsIndex *idx)
{
    return idx->n_skipped;
}

guint dfs_index_n_instances(const DfsIndex *idx)
{
    return idx->n_instances;
}

/* A cell: tabs and line breaks would break the table, so they become spaces. */
void dfs_index_cell_text(GString *out, const char *v)
{
    for (const char *p = v; *p; p++)
        g_string_append_c(out, (*p == '\t' || *p == '\n' || *p == '\r') ? ' ' : *p);
}

const char *dfs_index_uid(const DfsIndex *idx, guint node)
{
    switch (dfs_index_level(idx, node)) {
    case DFS_LEVEL_STUDY: return dfs_index_field(idx, node, ST_UID);
    case DFS_LEVEL_SERIES: return dfs_index_field(idx, node, SE_UID);
    case DFS_LEVEL_INSTANCE: return dfs_index_field(idx, node, IN_UID);
    default: return "";
    }
}
