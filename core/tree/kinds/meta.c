/* dicomfs core: .dicomfs/ at the root, and the files in it (and the views'
 * folders, kinds/views.c): status (the
 * scan's progress and the tree's counters), errors.tsv (files skipped by
 * the scan, and failures met while mounted), and one table per level
 * (patients.tsv, studies.tsv, series.tsv, instances.tsv: one line per
 * node).
 *
 * status and errors.tsv change while mounted: they get a new mtime at every
 * stat (DFS_KIND_VOLATILE).  The tables change only while the scan runs
 * (DFS_KIND_SETTLES), then the kernel keeps their pages.  A table, and the
 * skipped files in errors.tsv, are the archive: they are read by range
 * (catalog/tables.h), so reading one whole costs about one rendering of it
 * and a cheaper measuring pass, however many requests it takes. */
#include "tree/kind.h"

#include <string.h>

#include "catalog/tables.h"

static void render_status(const DfsView *v, GString *out)
{
    DfsTreeStatus st;
    dfs_view_status(v, &st);
    g_string_append_printf(out,
                           "source: %s\nfiles seen: %u\nindexed: %u\nskipped: %u\n"
                           "other entries listed: %u\nfiles read: %u\nindex: %s\n",
                           dfs_view_source(v)->location, st.files_seen, st.indexed, st.skipped, st.others,
                           st.reads, st.index[0] ? st.index : "off");
    if (st.reads > 0)
        g_string_append_printf(out, "files read in batches: %u%s%s\n", st.batched,
                               st.batch_off ? ", file by file: " : "",
                               st.batch_off ? st.batch_off : "");
    dfs_source_write_status(dfs_view_source(v), out);
    if (st.index[0])
        g_string_append_printf(out, "index at mount: %s, %u rows read before the first listing\n",
                               st.mapped ? "image mapped" : "rows loaded", st.loaded);
    if (st.listed_ago >= 0)
        g_string_append_printf(out, "listing at mount: the stored one, made %" G_GINT64_FORMAT
                               " s before (within the TTL): the server was not asked\n",
                               st.listed_ago);
    if (st.done)
        g_string_append(out, "scan: done\n");
    else if (st.walked)
        g_string_append_printf(out, "scan: running, %u of %u files\n", st.files_seen, st.total);
    else
        g_string_append_printf(out, "scan: running, %u of %u files found so far\n",
                               st.files_seen, st.total);
    g_string_append_printf(out, "changes: %s\n", st.live[0] ? st.live : "not followed");
    if (st.live[0]) {
        g_string_append_printf(out, "changes handled: %" G_GUINT64_FORMAT " (%" G_GUINT64_FORMAT
                               " updates, %" G_GUINT64_FORMAT " headers read, %" G_GUINT64_FORMAT
                               " whole-source walks)\n",
                               st.live_changes, st.live_batches, st.live_reads, st.live_rescans);
        if (st.last_change != 0) {
            g_autoptr(GDateTime) t = g_date_time_new_from_unix_local(st.last_change / G_USEC_PER_SEC);
            g_autofree char *when = g_date_time_format(t, "%Y-%m-%d %H:%M:%S");
            g_string_append_printf(out, "last change: %s\n", when);
        } else {
            g_string_append(out, "last change: none since the mount\n");
        }
    }
    dfs_view_write_counters(v, out);
}

typedef struct {
    const char *name;
    DfsKindId kind;
    DfsIndexTable table; /* the rows it shows (status: none) */
} MetaFile;

/* In listing order; an entry's sub is its place here. */
static const MetaFile files[] = {
    {"errors.tsv", DFS_KIND_META_FILE, DFS_TABLE_ERRORS},
    {"instances.tsv", DFS_KIND_META_TABLE, DFS_TABLE_INSTANCES},
    {"patients.tsv", DFS_KIND_META_TABLE, DFS_TABLE_PATIENTS},
    {"series.tsv", DFS_KIND_META_TABLE, DFS_TABLE_SERIES},
    {"status", DFS_KIND_META_FILE, DFS_TABLE_N},
    {"studies.tsv", DFS_KIND_META_TABLE, DFS_TABLE_STUDIES},
};

static const MetaFile *file_of(DfsEntry e)
{
    return &files[DFS_ENTRY_SUB(e) % G_N_ELEMENTS(files)];
}

/* --- .dicomfs/ ------------------------------------------------------------ */

/* The views' folders (kinds/views.c) come first, then the files. */
static gboolean meta_lookup(const DfsView *v, DfsEntry dir, const char *name, DfsEntry *out,
                            GError **error)
{
    for (guint k = 0; k < dfs_views_n_roots(); k++) {
        DfsEntry e;
        if (strcmp(name, dfs_views_root(v, k, &e)) == 0) {
            *out = e;
            return TRUE;
        }
    }
    for (guint k = 0; k < G_N_ELEMENTS(files); k++)
        if (strcmp(name, files[k].name) == 0) {
            *out = DFS_ENTRY_MAKE(files[k].kind, 0, k);
            return TRUE;
        }
    return dfs_view_not_found(error, name);
}

static gboolean meta_list(const DfsView *v, DfsEntry dir, DfsLister *l, GError **error)
{
    guint n = dfs_views_n_roots();
    for (guint k = 0; k < n; k++) {
        DfsEntry e;
        const char *name = dfs_views_root(v, k, &e);
        dfs_lister_emit(l, k, name, e, TRUE);
    }
    for (guint k = 0; k < G_N_ELEMENTS(files); k++)
        dfs_lister_emit(l, n + k, files[k].name, DFS_ENTRY_MAKE(files[k].kind, 0, k), FALSE);
    return TRUE;
}

const DfsKind dfs_kind_meta_dir = {
    .flags = DFS_KIND_DIR | DFS_KIND_MOUNT_TIME,
    .lookup = meta_lookup,
    .list = meta_list,
    .name = ".dicomfs",
    .levels = DFS_LEVEL_MASK(DFS_LEVEL_ROOT),
};

/* --- the tables (and the skipped files of errors.tsv) --------------------- */

static gboolean table_size(const DfsView *v, DfsEntry e, guint64 *size, GError **error)
{
    *size = dfs_table_size(v->idx, file_of(e)->table);
    return TRUE;
}

static gboolean table_read(const DfsView *v, DfsEntry e, guint64 offset, gsize length,
                           GString *out, GError **error)
{
    guint64 rendered = 0;
    dfs_table_read(v->idx, file_of(e)->table, offset, length, out, &rendered);
    dfs_view_count_rendered(v, rendered);
    return TRUE;
}

const DfsKind dfs_kind_meta_table = {
    .flags = DFS_KIND_SETTLES | DFS_KIND_MOUNT_TIME,
    .size = table_size,
    .read = table_read,
};

/* --- status and errors.tsv -------------------------------------------------- */

/* errors.tsv is the skipped files' table (read by range), then the failures
 * met while mounted (few: one per file that failed to read); status is all
 * "tail".  head: the table's size, 0 for status. */
static guint64 head_size(const DfsView *v, DfsEntry e)
{
    return file_of(e)->table == DFS_TABLE_ERRORS ? dfs_table_size(v->idx, DFS_TABLE_ERRORS) : 0;
}

static void write_tail(const DfsView *v, DfsEntry e, GString *out)
{
    if (file_of(e)->table == DFS_TABLE_ERRORS)
        dfs_view_write_read_errors(v, out);
    else
        render_status(v, out);
}

static gboolean file_size(const DfsView *v, DfsEntry e, guint64 *size, GError **error)
{
    GString *tail = g_string_new(NULL);
    write_tail(v, e, tail);
    *size = head_size(v, e) + tail->len;
    g_string_free(tail, TRUE);
    return TRUE;
}

static gboolean file_read(const DfsView *v, DfsEntry e, guint64 offset, gsize length,
                          GString *out, GError **error)
{
    guint64 head = head_size(v, e), end = offset + MIN((guint64)length, G_MAXUINT64 - offset);
    if (offset < head)
        table_read(v, e, offset, (gsize)(MIN(end, head) - offset), out, error);
    if (end <= head)
        return TRUE;
    GString *tail = g_string_new(NULL);
    write_tail(v, e, tail);
    guint64 from = MAX(offset, head) - head, to = MIN(end - head, (guint64)tail->len);
    if (from < to)
        g_string_append_len(out, tail->str + from, (gssize)(to - from));
    g_string_free(tail, TRUE);
    return TRUE;
}

const DfsKind dfs_kind_meta_file = {
    .flags = DFS_KIND_VOLATILE | DFS_KIND_MOUNT_TIME,
    .size = file_size,
    .read = file_read,
};
