/* dicomfs core: .dicomfs/ at the root, and the files in it: status (the
 * scan's progress), errors.tsv (files skipped by the scan, and failures
 * met while mounted), and one table per level (patients.tsv, studies.tsv,
 * series.tsv, instances.tsv: one line per node).
 *
 * These change while the scan runs, so they are rendered at every read and
 * get a new mtime at every stat (DFS_KIND_VOLATILE).  A table is the whole
 * archive: rendering it is linear in the number of its rows. */
#include "tree/kind.h"

#include <string.h>

typedef struct {
    const char *name;
    void (*render)(const DfsView *v, GString *out);
} MetaFile;

static void render_status(const DfsView *v, GString *out)
{
    DfsTreeStatus st;
    dfs_view_status(v, &st);
    g_string_append_printf(out,
                           "source: %s\nfiles seen: %u\nindexed: %u\nskipped: %u\n"
                           "other entries listed: %u\nfiles read: %u\nindex: %s\n",
                           dfs_view_source(v), st.files_seen, st.indexed, st.skipped, st.others,
                           st.reads, st.index[0] ? st.index : "off");
    if (st.done)
        g_string_append(out, "scan: done\n");
    else if (st.walked)
        g_string_append_printf(out, "scan: running, %u of %u files\n", st.files_seen, st.total);
    else
        g_string_append_printf(out, "scan: running, %u of %u files found so far\n",
                               st.files_seen, st.total);
}

static void render_errors(const DfsView *v, GString *out)
{
    dfs_index_write_skips(v->idx, out);
    dfs_view_write_read_errors(v, out);
}

static void render_patients(const DfsView *v, GString *out)
{
    dfs_index_write_tsv(v->idx, DFS_LEVEL_PATIENT, out);
}

static void render_studies(const DfsView *v, GString *out)
{
    dfs_index_write_tsv(v->idx, DFS_LEVEL_STUDY, out);
}

static void render_series(const DfsView *v, GString *out)
{
    dfs_index_write_tsv(v->idx, DFS_LEVEL_SERIES, out);
}

static void render_instances(const DfsView *v, GString *out)
{
    dfs_index_write_tsv(v->idx, DFS_LEVEL_INSTANCE, out);
}

/* In listing order; an entry's sub is its place here. */
static const MetaFile files[] = {
    {"errors.tsv", render_errors},   {"instances.tsv", render_instances},
    {"patients.tsv", render_patients}, {"series.tsv", render_series},
    {"status", render_status},       {"studies.tsv", render_studies},
};

static gboolean meta_lookup(const DfsView *v, DfsEntry dir, const char *name, DfsEntry *out,
                            GError **error)
{
    for (guint k = 0; k < G_N_ELEMENTS(files); k++)
        if (strcmp(name, files[k].name) == 0) {
            *out = DFS_ENTRY_MAKE(DFS_KIND_META_FILE, 0, k);
            return TRUE;
        }
    return dfs_view_not_found(error, name);
}

static gboolean meta_list(const DfsView *v, DfsEntry dir, DfsLister *l, GError **error)
{
    for (guint k = 0; k < G_N_ELEMENTS(files); k++)
        dfs_lister_emit(l, k, files[k].name, DFS_ENTRY_MAKE(DFS_KIND_META_FILE, 0, k), FALSE);
    return TRUE;
}

static gboolean meta_render(const DfsView *v, DfsEntry e, GString *out, GError **error)
{
    files[DFS_ENTRY_SUB(e) % G_N_ELEMENTS(files)].render(v, out);
    return TRUE;
}

const DfsKind dfs_kind_meta_dir = {
    .flags = DFS_KIND_DIR | DFS_KIND_MOUNT_TIME,
    .lookup = meta_lookup,
    .list = meta_list,
    .name = ".dicomfs",
    .levels = DFS_LEVEL_MASK(DFS_LEVEL_ROOT),
};

const DfsKind dfs_kind_meta_file = {
    .flags = DFS_KIND_VOLATILE | DFS_KIND_MOUNT_TIME,
    .render = meta_render,
};
