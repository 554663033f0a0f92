/* dicomfs core: the mounted tree, without FUSE.  See tree.h.
 *
 * This module routes: every request on an entry goes to the entry's kind
 * (kind.h, kinds/), and the tree adds what all kinds share: the index
 * snapshot a request sees, the caches, rendering each file once while
 * several requests wait for it, and the failures noted for errors.tsv.
 * Costs: a lookup, listing or stat touches one node and at most its one
 * source file (header-only, cached); nothing here grows with the archive. */
#include "tree/tree.h"

#include <string.h>
#include <time.h>

#include "base/cache.h"
#include "base/error.h"
#include "dicom/dataset.h"
#include "tree/kind.h"
#include "tree/tree-private.h"
#include "volumes/plan.h"

struct _DfsTree {
    DfsSource *source; /* not owned */
    GMutex index_lock;  /* guards idx until the scan is done */
    DfsIndex *idx;      /* the latest snapshot; fixed once settled */
    gint settled;       /* the scan is done (atomic) */
    gint generation;    /* snapshots published (atomic) */
    gboolean live;      /* the index goes on changing once settled (issue 14) */
    DfsCache *datasets; /* instance node -> DfsDataset */
    DfsCache *contents; /* entry -> GBytes */
    DfsCache *plans;    /* series node -> DfsVolumePlan */
    struct timespec mount_time;
    GMutex status_lock;   /* guards status and read_errors */
    DfsTreeStatus status;
    GHashTable *read_errors; /* "relpath\tfile" -> reason: failures met while mounted */
    GHashTable *changed;     /* node -> struct timespec: when its content last changed */
    gint any_changed;        /* changed is not empty (atomic) */
    GMutex render_lock;      /* guards rendering */
    GCond rendered;
    GHashTable *rendering;   /* entries being rendered now */
    /* Counters for the status file (atomic): files rendered whole and their
     * bytes; bytes rendered for reads by range; volume frames read straight
     * from their files; series' volume plans made. */
    gssize renders, render_bytes, range_bytes, frames_read, plans_made;
};

static DfsView view_open(DfsTree *t, DfsIndex *held)
{
    DfsView v = {t, held, FALSE};
    if (held != NULL)
        return v;
    if (g_atomic_int_get(&t->settled) && !t->live) {
        v.idx = t->idx; /* never replaced any more */
        return v;
    }
    g_mutex_lock(&t->index_lock);
    v.idx = dfs_index_ref(t->idx);
    v.owned = TRUE;
    g_mutex_unlock(&t->index_lock);
    return v;
}

static void view_clear(DfsView *v)
{
    if (v->owned)
        dfs_index_unref(v->idx);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(DfsView, view_clear)

static gpointer bytes_ref(gpointer b)
{
    return g_bytes_ref(b);
}

DfsTree *dfs_tree_new(DfsSource *source, gsize cache_bytes)
{
    DfsTree *t = g_new0(DfsTree, 1);
    t->source = source;
    g_mutex_init(&t->index_lock);
    t->idx = dfs_index_new_empty();
    t->datasets = dfs_cache_new(cache_bytes / 2, (DfsCacheRef)dfs_dataset_ref,
                                (DfsCacheUnref)dfs_dataset_free);
    t->contents = dfs_cache_new(cache_bytes / 2, bytes_ref, (DfsCacheUnref)g_bytes_unref);
    /* Plans are small (a few hundred bytes an image): an eighth more. */
    t->plans = dfs_cache_new(MAX(cache_bytes / 8, (gsize)1 << 20), (DfsCacheRef)dfs_volume_plan_ref,
                             (DfsCacheUnref)dfs_volume_plan_unref);
    clock_gettime(CLOCK_REALTIME, &t->mount_time);
    g_mutex_init(&t->status_lock);
    t->status.listed_ago = -1;
    t->read_errors = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    t->changed = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    g_mutex_init(&t->render_lock);
    g_cond_init(&t->rendered);
    t->rendering = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    return t;
}

void dfs_tree_free(DfsTree *t)
{
    if (t == NULL)
        return;
    dfs_cache_free(t->datasets);
    dfs_cache_free(t->contents);
    dfs_cache_free(t->plans);
    dfs_index_unref(t->idx);
    g_mutex_clear(&t->index_lock);
    g_mutex_clear(&t->status_lock);
    g_hash_table_unref(t->read_errors);
    g_hash_table_unref(t->changed);
    g_hash_table_unref(t->rendering);
    g_mutex_clear(&t->render_lock);
    g_cond_clear(&t->rendered);
    g_free(t);
}

void dfs_tree_publish(DfsTree *t, DfsIndex *idx, const DfsTreeStatus *st)
{
    g_mutex_lock(&t->status_lock);
    t->status = *st;
    g_mutex_unlock(&t->status_lock);
    if (idx != NULL) {
        g_return_if_fail(t->live || !g_atomic_int_get(&t->settled));
        g_mutex_lock(&t->index_lock);
        DfsIndex *old = t->idx;
        t->idx = idx;
        g_atomic_int_inc(&t->generation);
        g_mutex_unlock(&t->index_lock);
        dfs_index_unref(old);
    }
    if (st->done)
        g_atomic_int_set(&t->settled, 1);
}

DfsEntry dfs_tree_node_entry(guint node)
{
    return node == DFS_INDEX_ROOT ? DFS_ENTRY_ROOT : DFS_ENTRY_MAKE(DFS_KIND_NODE, node, 1);
}

void dfs_tree_set_live(DfsTree *t)
{
    g_return_if_fail(!g_atomic_int_get(&t->settled));
    t->live = TRUE;
}

static gboolean in_nodes(guint64 node, gpointer user)
{
    return g_hash_table_contains(user, GUINT_TO_POINTER((guint)node));
}

static gboolean entry_in_nodes(guint64 key, gpointer user)
{
    return in_nodes(DFS_ENTRY_NODE(key), user);
}

void dfs_tree_forget(DfsTree *t, const guint32 *nodes, guint n)
{
    if (n == 0)
        return;
    g_autoptr(GHashTable) set = g_hash_table_new(NULL, NULL);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    g_mutex_lock(&t->status_lock);
    for (guint k = 0; k < n; k++) {
        g_hash_table_add(set, GUINT_TO_POINTER(nodes[k]));
        g_hash_table_replace(t->changed, GUINT_TO_POINTER(nodes[k]), g_memdup2(&now, sizeof now));
    }
    g_atomic_int_set(&t->any_changed, 1);
    g_mutex_unlock(&t->status_lock);
    dfs_cache_drop_if(t->plans, in_nodes, set);
    dfs_cache_drop_if(t->contents, entry_in_nodes, set);
}

gboolean dfs_tree_settled(DfsTree *t)
{
    return g_atomic_int_get(&t->settled);
}

DfsIndex *dfs_tree_hold(DfsTree *t)
{
    g_mutex_lock(&t->index_lock);
    DfsIndex *idx = dfs_index_ref(t->idx);
    g_mutex_unlock(&t->index_lock);
    return idx;
}

/* --- what kinds see (kind.h, tree-private.h) --------------------------------- */

DfsCache *dfs_tree_datasets(DfsTree *tree)
{
    return tree->datasets;
}

DfsCache *dfs_tree_plans(DfsTree *tree)
{
    return tree->plans;
}

guint dfs_view_generation(const DfsView *v)
{
    return (guint)g_atomic_int_get(&v->tree->generation);
}

DfsSource *dfs_view_source(const DfsView *v)
{
    return v->tree->source;
}

char *dfs_view_path(const DfsView *v, guint node, GError **error)
{
    return dfs_source_instance_path(v->tree->source, v->idx, node, error);
}

char *dfs_view_header_path(const DfsView *v, guint node, gboolean *whole, GError **error)
{
    return dfs_source_instance_header_path(v->tree->source, v->idx, node, whole, error);
}

gboolean dfs_view_frame_alone(const DfsView *v, guint node)
{
    return dfs_source_frame_alone(v->tree->source, v->idx, node);
}

GBytes *dfs_view_fetch_frame(const DfsView *v, guint node, guint frame, const char *syntax,
                             gsize max_bytes, GError **error)
{
    return dfs_source_fetch_frame(v->tree->source, v->idx, node, frame, syntax, max_bytes, error);
}

guint64 dfs_view_instance_size(const DfsView *v, guint node)
{
    return dfs_source_instance_size(v->tree->source, v->idx, node);
}

void dfs_view_status(const DfsView *v, DfsTreeStatus *out)
{
    g_mutex_lock(&v->tree->status_lock);
    *out = v->tree->status;
    g_mutex_unlock(&v->tree->status_lock);
}

void dfs_view_write_read_errors(const DfsView *v, GString *out)
{
    g_mutex_lock(&v->tree->status_lock);
    GHashTableIter it;
    gpointer k, reason;
    g_hash_table_iter_init(&it, v->tree->read_errors);
    while (g_hash_table_iter_next(&it, &k, &reason)) {
        g_autofree char *relpath = g_strndup(k, strrchr(k, '\t') - (const char *)k);
        dfs_index_cell_text(out, relpath);
        g_string_append_c(out, '\t');
        dfs_index_cell_text(out, reason);
        g_string_append_c(out, '\n');
    }
    g_mutex_unlock(&v->tree->status_lock);
}

void dfs_view_count_rendered(const DfsView *v, guint64 bytes)
{
    g_atomic_pointer_add(&v->tree->range_bytes, (gssize)bytes);
}

void dfs_view_count_frame_read(const DfsView *v)
{
    g_atomic_pointer_add(&v->tree->frames_read, 1);
}

void dfs_view_count_plan(const DfsView *v)
{
    g_atomic_pointer_add(&v->tree->plans_made, 1);
}

void dfs_view_write_counters(const DfsView *v, GString *out)
{
    DfsTree *t = v->tree;
    gssize renders = g_atomic_pointer_get(&t->renders);
    gssize bytes = g_atomic_pointer_get(&t->render_bytes);
    gssize ranged = g_atomic_pointer_get(&t->range_bytes);
    gssize frames = g_atomic_pointer_get(&t->frames_read);
    gssize plans = g_atomic_pointer_get(&t->plans_made);
    g_string_append_printf(out,
                           "rendered whole: %" G_GSSIZE_FORMAT " files, %" G_GSSIZE_FORMAT
                           " bytes\nrendered by range: %" G_GSSIZE_FORMAT
                           " bytes\nvolume plans made: %" G_GSSIZE_FORMAT
                           "\nvolume frames read from their files: %" G_GSSIZE_FORMAT "\n",
                           renders, bytes, ranged, plans, frames);
}

gboolean dfs_view_not_found(GError **error, const char *name)
{
    g_set_error(error, DFS_ERROR, DFS_ERROR_NOT_FOUND, "no entry '%s'", name);
    return FALSE;
}

gboolean dfs_lister_emit(DfsLister *l, guint64 pos, const char *name, DfsEntry e, gboolean is_dir)
{
    if (pos < l->from || l->stopped)
        return !l->stopped;
    if (!l->fn(name, e, is_dir, pos + 1, l->user))
        l->stopped = TRUE;
    return !l->stopped;
}

/* --- routing -------------------------------------------------------------------- */

/* A file that fails to size or read gets a line in errors.tsv, once. */
static void note_read_error(const DfsView *v, const DfsKind *k, DfsEntry e, GError **error)
{
    if (k->error_name == NULL)
        return;
    const GError *err = error ? *error : NULL;
    char *key = g_strdup_printf("%s\t%s", dfs_index_relpath(v->idx, DFS_ENTRY_NODE(e)),
                                k->error_name);
    g_mutex_lock(&v->tree->status_lock);
    g_hash_table_replace(v->tree->read_errors, key,
                         g_strdup_printf("%s: %s", k->error_name, err ? err->message : "error"));
    g_mutex_unlock(&v->tree->status_lock);
}

void dfs_view_note_damage(const DfsView *v, guint node, const char *line)
{
    char *key = g_strdup_printf("%s\tdamage", dfs_index_relpath(v->idx, node));
    g_mutex_lock(&v->tree->status_lock);
    g_hash_table_replace(v->tree->read_errors, key, g_strdup(line));
    g_mutex_unlock(&v->tree->status_lock);
}

/* The kind of e where e's node is in the view's snapshot, else NULL with
 * DFS_ERROR_NOT_FOUND about what. */
static const DfsKind *kind_in_view(const DfsView *v, DfsEntry e, const char *what, GError **error)
{
    const DfsKind *k = dfs_kind_of(e);
    if (k == NULL ||
        (!(k->flags & DFS_KIND_NOT_NODE) && !dfs_index_is_live(v->idx, DFS_ENTRY_NODE(e))))
        return (void)dfs_view_not_found(error, what), NULL;
    return k;
}

static gboolean not_a_folder(GError **error)
{
    g_set_error_literal(error, DFS_ERROR, DFS_ERROR_NOT_DIR, "not a folder");
    return FALSE;
}

void dfs_tree_open_dir(DfsTree *tree, DfsEntry dir)
{
    if (tree->source->klass->expand == NULL || dfs_tree_settled(tree) ||
        DFS_ENTRY_KIND(dir) != DFS_KIND_NODE)
        return;
    g_auto(DfsView) v = view_open(tree, NULL);
    guint node = DFS_ENTRY_NODE(dir), n;
    if (node >= dfs_index_n_nodes(v.idx) || !dfs_index_is_live(v.idx, node))
        return;
    DfsLevel level = dfs_index_level(v.idx, node);
    if (level != DFS_LEVEL_STUDY && level != DFS_LEVEL_SERIES)
        return;
    dfs_index_children(v.idx, node, &n);
    if (n == 0) /* listed before what it holds: that is asked for now */
        tree->source->klass->expand(tree->source, level, dfs_index_uid(v.idx, node));
}

gboolean dfs_tree_lookup(DfsTree *tree, DfsEntry dir, const char *name, DfsEntry *out,
                         GError **error)
{
    dfs_tree_open_dir(tree, dir);
    g_auto(DfsView) v = view_open(tree, NULL);
    const DfsKind *k = kind_in_view(&v, dir, name, error);
    if (k == NULL)
        return FALSE;
    return k->lookup ? k->lookup(&v, dir, name, out, error) : not_a_folder(error);
}

gboolean dfs_tree_list(DfsTree *tree, DfsIndex *held, DfsEntry dir, guint64 from,
                       DfsTreeListFunc fn, gpointer user, GError **error)
{
    g_auto(DfsView) v = view_open(tree, held);
    const DfsKind *k = kind_in_view(&v, dir, "folder", error);
    if (k == NULL)
        return FALSE;
    DfsLister l = {from, fn, user, FALSE};
    return k->list ? k->list(&v, dir, &l, error) : not_a_folder(error);
}

/* Render e into a new string; a failure is noted for errors.tsv. */
static GString *render(const DfsView *v, const DfsKind *k, DfsEntry e, GError **error)
{
    GString *out = g_string_new(NULL);
    if (k->render(v, e, out, error)) {
        g_atomic_pointer_add(&v->tree->renders, 1);
        g_atomic_pointer_add(&v->tree->render_bytes, (gssize)out->len);
        return out;
    }
    note_read_error(v, k, e, error);
    g_string_free(out, TRUE);
    return NULL;
}

/* A file is read in several requests, some at once (readahead): the first
 * renders it, the others wait for that and take it from the cache. */
static GBytes *render_once(const DfsView *v, const DfsKind *k, DfsEntry e, GError **error)
{
    DfsTree *t = v->tree;
    GBytes *b;
    g_mutex_lock(&t->render_lock);
    while ((b = dfs_cache_get(t->contents, e)) == NULL && g_hash_table_contains(t->rendering, &e))
        g_cond_wait(&t->rendered, &t->render_lock);
    if (b != NULL) {
        g_mutex_unlock(&t->render_lock);
        return b;
    }
    g_hash_table_add(t->rendering, g_memdup2(&e, sizeof e));
    g_mutex_unlock(&t->render_lock);
    GString *out = render(v, k, e, error);
    GBytes *cached = NULL;
    if (out != NULL) {
        /* What it takes: the string's whole room (it grows by doubling) and
         * the GBytes around it. */
        gsize held = out->allocated_len + 16 + 48 + 16;
        b = g_string_free_to_bytes(out);
        cached = dfs_cache_put(t->contents, e, b, held + DFS_CACHE_ENTRY_COST);
        g_bytes_unref(b);
    }
    g_mutex_lock(&t->render_lock);
    g_hash_table_remove(t->rendering, &e);
    g_cond_broadcast(&t->rendered);
    g_mutex_unlock(&t->render_lock);
    return cached;
}

/* Bytes [offset, offset + length) of a file read by range. */
static GBytes *read_range(const DfsView *v, const DfsKind *k, DfsEntry e, guint64 offset,
                          gsize length, GError **error)
{
    GString *out = g_string_sized_new(MIN(length, (gsize)1 << 16));
    if (!k->read(v, e, offset, length, out, error)) {
        note_read_error(v, k, e, error);
        g_string_free(out, TRUE);
        return NULL;
    }
    return g_string_free_to_bytes(out);
}

static GBytes *content(const DfsView *v, const DfsKind *k, DfsEntry e, GError **error)
{
    if (k->read != NULL) /* whole, for the callers that want it so: in one read
                            to its end, so that a file that changes (status)
                            comes out as one version of it */
        return read_range(v, k, e, 0, G_MAXSIZE, error);
    if (k->render == NULL) {
        g_set_error(error, DFS_ERROR, k->source_range ? DFS_ERROR_UNSUPPORTED : DFS_ERROR_IS_DIR,
                    "not a rendered file");
        return NULL;
    }
    /* Attribute values render in well under a microsecond from the cached
     * header: caching them would only churn the cache. */
    if (k->flags & DFS_KIND_UNCACHED) {
        GString *out = render(v, k, e, error);
        return out ? g_string_free_to_bytes(out) : NULL;
    }
    return render_once(v, k, e, error);
}

GBytes *dfs_tree_read(DfsTree *tree, DfsIndex *held, DfsEntry e, guint64 offset, gsize length,
                      GError **error)
{
    g_auto(DfsView) v = view_open(tree, held);
    const DfsKind *k = dfs_kind_of(e);
    if (k != NULL && k->render == NULL && k->read == NULL)
        return content(&v, k, e, error); /* the error for folders and slices */
    k = kind_in_view(&v, e, "file", error);
    if (k == NULL)
        return NULL;
    if (k->read != NULL)
        return read_range(&v, k, e, offset, length, error);
    g_autoptr(GBytes) whole = content(&v, k, e, error);
    if (whole == NULL)
        return NULL;
    gsize size = g_bytes_get_size(whole);
    if (offset == 0 && length >= size)
        return g_steal_pointer(&whole);
    gsize from = (gsize)MIN(offset, (guint64)size);
    return g_bytes_new_from_bytes(whole, from, MIN(length, size - from));
}

GBytes *dfs_view_render_fresh(const DfsView *v, DfsEntry e, GError **error)
{
    const DfsKind *k = kind_in_view(v, e, "file", error);
    if (k == NULL)
        return NULL;
    if (k->render == NULL) {
        g_set_error_literal(error, DFS_ERROR, DFS_ERROR_IS_DIR, "not a rendered file");
        return NULL;
    }
    GString *out = render(v, k, e, error);
    return out ? g_string_free_to_bytes(out) : NULL;
}

DfsCache *dfs_tree_contents(DfsTree *tree)
{
    return tree->contents;
}

GBytes *dfs_view_rendered(const DfsView *v, DfsEntry e, GError **error)
{
    const DfsKind *k = kind_in_view(v, e, "file", error);
    return k == NULL ? NULL : content(v, k, e, error);
}

GBytes *dfs_tree_content(DfsTree *tree, DfsEntry e, GError **error)
{
    return dfs_tree_read(tree, NULL, e, 0, G_MAXSIZE, error);
}

gboolean dfs_tree_is_ranged(DfsEntry e)
{
    const DfsKind *k = dfs_kind_of(e);
    return k != NULL && k->read != NULL;
}

gboolean dfs_tree_xattrs(DfsTree *tree, DfsEntry e, GPtrArray **names, GPtrArray **values,
                         GError **error)
{
    g_auto(DfsView) v = view_open(tree, NULL);
    const DfsKind *k = kind_in_view(&v, e, "entry", error);
    if (k == NULL)
        return FALSE;
    *names = g_ptr_array_new_with_free_func(g_free);
    *values = g_ptr_array_new_with_free_func(g_free);
    if (k->xattrs == NULL || k->xattrs(&v, e, *names, *values, error))
        return TRUE;
    g_clear_pointer(names, g_ptr_array_unref);
    g_clear_pointer(values, g_ptr_array_unref);
    return FALSE;
}

char *dfs_tree_readlink(DfsTree *tree, DfsEntry e, GError **error)
{
    g_auto(DfsView) v = view_open(tree, NULL);
    const DfsKind *k = kind_in_view(&v, e, "link", error);
    if (k == NULL)
        return NULL;
    if (k->link == NULL) {
        g_set_error_literal(error, DFS_ERROR, DFS_ERROR_UNSUPPORTED, "not a link");
        return NULL;
    }
    GString *out = g_string_new(NULL);
    if (!k->link(&v, e, out, error))
        return g_string_free(out, TRUE), NULL;
    return g_string_free(out, FALSE);
}

gboolean dfs_tree_is_link(DfsEntry e)
{
    const DfsKind *k = dfs_kind_of(e);
    return k != NULL && (k->flags & DFS_KIND_LINK);
}

gboolean dfs_tree_is_costly(DfsEntry e)
{
    const DfsKind *k = dfs_kind_of(e);
    return k != NULL && (k->flags & DFS_KIND_COSTLY);
}

/* Whether e may read otherwise at the next look.  An instance whose size
 * comes late is, until its size is known: size is the one a stat just saw
 * (NULL: asked of the source, in a view of its own; only then is one
 * opened, so that an open of any other file costs a flag test). */
static gboolean kind_is_volatile(DfsTree *t, const DfsKind *k, DfsEntry e, const guint64 *size)
{
    if ((k->flags & DFS_KIND_INSTANCE_SIZED) && dfs_source_sizes_late(t->source)) {
        if (size != NULL)
            return *size == 0;
        g_auto(DfsView) v = view_open(t, NULL);
        guint node = DFS_ENTRY_NODE(e);
        return node < dfs_index_n_nodes(v.idx) && dfs_view_instance_size(&v, node) == 0;
    }
    return (k->flags & DFS_KIND_VOLATILE) || ((k->flags & DFS_KIND_SETTLES) && !dfs_tree_settled(t));
}

gboolean dfs_tree_is_volatile(DfsTree *tree, DfsEntry e)
{
    const DfsKind *k = dfs_kind_of(e);
    return k != NULL && kind_is_volatile(tree, k, e, NULL);
}

char *dfs_tree_source_range(DfsTree *tree, DfsEntry e, guint64 *offset, guint64 *length,
                            GError **error)
{
    g_auto(DfsView) v = view_open(tree, NULL);
    const DfsKind *k = kind_in_view(&v, e, "file", NULL);
    if (k == NULL || k->source_range == NULL || !k->source_range(&v, e, offset, length))
        return NULL;
    char *path = dfs_view_path(&v, DFS_ENTRY_NODE(e), error);
    /* A source that learns an instance's size by fetching it has it now. */
    if (path != NULL && *length == 0 && dfs_source_sizes_late(tree->source) &&
        !k->source_range(&v, e, offset, length))
        g_clear_pointer(&path, g_free);
    return path;
}

DfsSource *dfs_tree_source(DfsTree *tree)
{
    return tree->source;
}

/* --- stat ------------------------------------------------------------------------ */

/* When node's content last changed while mounted (a folder that gained or
 * lost instances), if it did: its files made from them (tags/, volume/)
 * take that time, so that the kernel drops the pages it keeps of them when
 * it looks them up again. */
static gboolean changed_at(DfsTree *t, guint node, struct timespec *when)
{
    if (!g_atomic_int_get(&t->any_changed))
        return FALSE; /* (every stat asks: no lock until a change came) */
    g_mutex_lock(&t->status_lock);
    const struct timespec *at = g_hash_table_lookup(t->changed, GUINT_TO_POINTER(node));
    if (at != NULL)
        *when = *at;
    g_mutex_unlock(&t->status_lock);
    return at != NULL;
}

static void stat_time(const DfsView *v, const DfsKind *k, DfsEntry e, gboolean is_volatile,
                      struct timespec *mtime)
{
    *mtime = v->tree->mount_time;
    if (is_volatile) /* a new time each time: cached pages are dropped */
        clock_gettime(CLOCK_REALTIME, mtime);
    struct timespec at;
    gboolean changed = !(k->flags & DFS_KIND_NOT_NODE) && changed_at(v->tree, DFS_ENTRY_NODE(e), &at);
    if (!(k->flags & DFS_KIND_MOUNT_TIME)) {
        guint inst = dfs_index_first_instance(v->idx, DFS_ENTRY_NODE(e));
        if (inst != DFS_NO_INDEX)
            *mtime = *dfs_index_mtime(v->idx, inst);
    }
    if (changed && (at.tv_sec > mtime->tv_sec ||
                    (at.tv_sec == mtime->tv_sec && at.tv_nsec > mtime->tv_nsec)))
        *mtime = at;
}

static gboolean stat_size(const DfsView *v, const DfsKind *k, DfsEntry e, guint64 *size,
                          GError **error)
{
    if (k->size != NULL) {
        if (k->size(v, e, size, error))
            return TRUE;
        note_read_error(v, k, e, error);
        return FALSE;
    }
    if (k->flags & DFS_KIND_UNCACHED) { /* render to measure, nothing kept */
        GString *out = render(v, k, e, error);
        if (out == NULL)
            return FALSE;
        *size = out->len;
        g_string_free(out, TRUE);
        return TRUE;
    }
    GBytes *b = content(v, k, e, error);
    if (b == NULL)
        return FALSE;
    *size = g_bytes_get_size(b);
    g_bytes_unref(b);
    return TRUE;
}

gboolean dfs_tree_stat(DfsTree *tree, DfsEntry e, DfsEntryStat *st, GError **error)
{
    g_auto(DfsView) v = view_open(tree, NULL);
    const DfsKind *k = kind_in_view(&v, e, "entry", error);
    if (k == NULL)
        return FALSE;
    memset(st, 0, sizeof *st);
    gboolean dir = (k->flags & DFS_KIND_DIR) != 0;
    if (k->is_dir != NULL && !k->is_dir(&v, e, &dir, error))
        return FALSE;
    st->is_dir = dir;
    st->is_link = !dir && (k->flags & DFS_KIND_LINK);
    st->nlink = dir ? 2 : 1;
    if (!dir && !stat_size(&v, k, e, &st->size, error))
        return FALSE;
    /* From the size this stat saw: an instance fetched since a size 0 was
     * read must not have that 0 cached as settled. */
    st->is_volatile = kind_is_volatile(tree, k, e, dir ? NULL : &st->size);
    stat_time(&v, k, e, st->is_volatile, &st->mtime);
    return TRUE;
}
