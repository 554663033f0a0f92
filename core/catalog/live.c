/* dicomfs core: a catalog that follows its source.  See live.h. */
#include "catalog/live.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/image.h"
#include "catalog/scan.h"
#include "catalog/store.h"
#include "catalog/walk.h"

/* A file a walk meets must have kept its mtime this long to be read (one
 * being written is looked at again then). */
#define SETTLE_NS (200 * G_GINT64_CONSTANT(1000000))

/* Header reads of one batch in flight at once (a disk answers a deep queue
 * faster; a warm cache keeps both cores busy). */
#define READ_THREADS 8

/* A file of the batch to read: what it was when met, then what it holds. */
typedef struct {
    char *relpath;
    struct stat st;
    DfsFacts *facts;
    char *reason;
} Read;

struct _DfsLive {
    char *source;
    int source_fd;
    DfsStore *store;       /* or NULL (-o noindex, or it cannot be opened) */
    char *image_path;
    gboolean image_stale;  /* the store changed since the image was written */
    DfsIndexBuilder *b;    /* NULL until the first change when current is the image */
    DfsIndex *current;     /* the snapshot shown */
    GHashTable *rows;      /* relpath (owned) -> its row in the store */
    DfsLivePublish publish;
    gpointer user;
    GMutex lock;           /* one batch at a time; guards everything here */
    DfsLiveStats st;
    gboolean changed;      /* the batch being applied changed something */
    GArray *todo;          /* Read: the batch's files to read */
    GHashTable *queued;    /* their relpaths (owned) */
    /* Files met while they may still be written, and when to look again. */
    GMutex settle_lock;
    GCond settle_cond;
    GHashTable *unsettled; /* relpath (owned) -> gint64 monotonic µs (owned) */
    GThread *settler;      /* started by the first such file */
    gboolean stopping;
    /* A source listed rather than walked (dfs_live_set_lister). */
    const DfsScanLister *lister;
    gpointer lister_self;
    GHashTable *met;       /* relpaths met by the listing under way (owned) */
};

static void defer(DfsLive *l, const char *relpath);
static gpointer settler(gpointer data);

static gint64 mtime_ns(const struct stat *st)
{
    return (gint64)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* --- the persistent index ------------------------------------------------------ */

static void forget_row(DfsLive *l, const char *relpath)
{
    gpointer row;
    if (l->store == NULL || !g_hash_table_lookup_extended(l->rows, relpath, NULL, &row))
        return;
    dfs_store_remove(l->store, (gint64)(gintptr)row);
    g_hash_table_remove(l->rows, relpath);
}

static void put_row(DfsLive *l, const char *relpath, const struct stat *st, const DfsFacts *facts,
                    const char *reason)
{
    if (l->store == NULL)
        return;
    gint64 row = dfs_store_put(l->store, relpath, (guint64)st->st_size, mtime_ns(st), facts, reason);
    g_hash_table_replace(l->rows, g_strdup(relpath), (gpointer)(gintptr)row);
}

static void on_path(gint64 row, const char *relpath, gpointer user)
{
    DfsLive *l = user;
    g_hash_table_replace(l->rows, g_strdup(relpath), (gpointer)(gintptr)row);
}

static void on_row(gint64 row, const char *relpath, guint64 size, gint64 mtime, DfsFacts *facts,
                   const char *reason, gpointer user)
{
    DfsLive *l = user;
    on_path(row, relpath, l);
    struct stat st = {.st_size = (off_t)size};
    st.st_mtim.tv_sec = mtime / 1000000000;
    st.st_mtim.tv_nsec = mtime % 1000000000;
    if (facts == NULL) {
        if (reason != NULL)
            dfs_index_builder_skip(l->b, relpath, &st, reason);
        return;
    }
    dfs_index_builder_remove(l->b, relpath); /* a row of the same file again: the later one */
    dfs_index_builder_file(l->b, relpath, &st, facts, reason);
}

/* The builder, loaded from the store the first time when the tree came
 * from the image (numbered alike: the image is what the store's rows make,
 * and it names them). */
static gboolean ensure_builder(DfsLive *l)
{
    if (l->b != NULL)
        return TRUE;
    if (l->store == NULL)
        return FALSE;
    l->b = dfs_index_builder_new();
    guint n = 0;
    if (!dfs_store_load(l->store, on_row, l, &n)) {
        g_warning("the persistent index cannot be read: changes are not followed");
        g_clear_pointer(&l->b, dfs_index_builder_free);
        return FALSE;
    }
    dfs_index_builder_seed_names(l->b, l->current);
    dfs_index_builder_keep_names(l->b);
    return TRUE;
}

/* --- changes -------------------------------------------------------------------- */

static void take_out(DfsLive *l, const char *relpath)
{
    guint64 size;
    gint64 mtime;
    if (dfs_index_builder_version(l->b, relpath, &size, &mtime)) {
        /* A file filed: only it goes (no pass over every path filed). */
        l->changed = TRUE;
        forget_row(l, relpath);
        dfs_index_builder_remove(l->b, relpath);
        return;
    }
    g_autoptr(GPtrArray) under = g_ptr_array_new();
    dfs_index_builder_paths_under(l->b, relpath, under);
    if (under->len == 0 && !g_hash_table_contains(l->rows, relpath))
        return; /* never heard of (a temporary name renamed away) */
    l->changed = TRUE;
    for (guint k = 0; k < under->len; k++)
        forget_row(l, under->pdata[k]);
    forget_row(l, relpath);
    dfs_index_builder_remove_under(l->b, relpath);
}

static void walk_folder(DfsLive *l, const char *relpath);

/* relpath as it is now: read if new or changed (st from the walk, or
 * NULL: stat it here). */
static void file_changed(DfsLive *l, const char *relpath, const struct stat *walked,
                         gboolean settle)
{
    struct stat st;
    if (walked != NULL)
        st = *walked;
    else if (fstatat(l->source_fd, relpath, &st, 0) != 0) {
        take_out(l, relpath);
        return;
    }
    if (settle && S_ISREG(st.st_mode) && g_get_real_time() * 1000 - mtime_ns(&st) < SETTLE_NS) {
        /* Met by a walk while it may still be written (a folder being
         * copied in): taken once it has kept its size and mtime. */
        defer(l, relpath);
        return;
    }
    if (S_ISDIR(st.st_mode)) { /* a file replaced by a folder */
        take_out(l, relpath);
        walk_folder(l, relpath);
        return;
    }
    guint64 size;
    gint64 mtime;
    if (dfs_index_builder_version(l->b, relpath, &size, &mtime) && size == (guint64)st.st_size &&
        mtime == mtime_ns(&st))
        return; /* filed as it is */
    l->changed = TRUE;
    dfs_index_builder_remove(l->b, relpath);
    forget_row(l, relpath);
    if (!S_ISREG(st.st_mode)) {
        dfs_index_builder_skip(l->b, relpath, NULL, "not a regular file");
        return;
    }
    if (!g_hash_table_add(l->queued, g_strdup(relpath)))
        return; /* met twice in one batch (a walk and an event) */
    Read r = {g_strdup(relpath), st, NULL, NULL};
    g_array_append_val(l->todo, r);
}

/* --- the batch's reads, in parallel ------------------------------------------------ */

typedef struct {
    DfsLive *l;
    Read *reads;
    guint n;
    gint next;
} Readers;

static gpointer read_some(gpointer data)
{
    Readers *rs = data;
    guint k;
    while ((k = (guint)g_atomic_int_add(&rs->next, 1)) < rs->n) {
        Read *r = &rs->reads[k];
        r->facts = dfs_scan_read_one(rs->l->source_fd, r->relpath, &r->st, TRUE, &r->reason);
    }
    return NULL;
}

/* Read what the batch found new or changed (several at once: a folder of
 * 10,000 files moved in is one batch), then file it in the order met. */
static void read_todo(DfsLive *l)
{
    Readers rs = {l, (Read *)l->todo->data, l->todo->len, 0};
    if (rs.n == 0)
        return;
    guint n_threads = MIN(READ_THREADS, (rs.n + 15) / 16);
    GThread *threads[READ_THREADS];
    for (guint t = 1; t < n_threads; t++)
        threads[t] = g_thread_new("live-read", read_some, &rs);
    read_some(&rs);
    for (guint t = 1; t < n_threads; t++)
        g_thread_join(threads[t]);
    for (guint k = 0; k < rs.n; k++) {
        Read *r = &rs.reads[k];
        put_row(l, r->relpath, &r->st, r->facts, r->reason);
        dfs_index_builder_file(l->b, r->relpath, &r->st, g_steal_pointer(&r->facts), r->reason);
        g_free(r->reason);
        g_free(r->relpath);
    }
    l->st.reads += rs.n;
    g_array_set_size(l->todo, 0);
    g_hash_table_remove_all(l->queued);
}

/* A folder walked: every entry met is filed as it is now, and what was
 * filed under it and not met is taken out. */
typedef struct {
    DfsLive *l;
    const char *prefix; /* "" or "folder/" */
    GHashTable *met;    /* relpaths met (owned) */
} Walk;

static char *full_relpath(const Walk *w, const char *rel)
{
    return g_strconcat(w->prefix, rel, NULL);
}

static void walk_file(const char *rel, const struct stat *st, gpointer user)
{
    Walk *w = user;
    char *path = full_relpath(w, rel);
    file_changed(w->l, path, st, TRUE);
    g_hash_table_add(w->met, path);
}

static void walk_skip(const char *rel, const char *reason, gpointer user)
{
    Walk *w = user;
    char *path = full_relpath(w, rel);
    /* The same line again only if it says something else. */
    DfsIndexBuilder *b = w->l->b;
    g_autoptr(GPtrArray) had = g_ptr_array_new();
    dfs_index_builder_paths_under(b, path, had);
    dfs_index_builder_remove(b, path);
    dfs_index_builder_skip(b, path, NULL, reason);
    w->l->changed |= had->len == 0;
    g_hash_table_add(w->met, path);
}

static void walk_folder(DfsLive *l, const char *relpath)
{
    if (relpath[0] == '\0')
        l->st.rescans++;
    g_autofree char *root = relpath[0] ? g_build_filename(l->source, relpath, NULL) : g_strdup(l->source);
    g_autofree char *prefix = relpath[0] ? g_strconcat(relpath, "/", NULL) : g_strdup("");
    Walk w = {l, prefix, g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL)};
    static const DfsWalkCallbacks cb = {walk_file, walk_skip, NULL, TRUE};
    g_autoptr(GError) error = NULL;
    if (!dfs_walk(root, &cb, &w, &error)) {
        /* Gone again (or never a folder): what was under it goes. */
        take_out(l, relpath);
        g_hash_table_unref(w.met);
        return;
    }
    g_autoptr(GPtrArray) filed = g_ptr_array_new();
    dfs_index_builder_paths_under(l->b, relpath, filed);
    for (guint k = 0; k < filed->len; k++) {
        const char *p = filed->pdata[k];
        if (strcmp(p, relpath) != 0 && !g_hash_table_contains(w.met, p))
            take_out(l, p);
    }
    g_hash_table_unref(w.met);
}

static void publish(DfsLive *l)
{
    g_autoptr(GArray) changed = g_array_new(FALSE, FALSE, sizeof(guint32));
    g_autoptr(GArray) gone = g_array_new(FALSE, FALSE, sizeof(guint32));
    dfs_index_builder_delta(l->b, changed, gone);
    DfsIndex *idx = dfs_index_builder_snapshot(l->b);
    DfsIndex *old = l->current;
    l->current = dfs_index_ref(idx);
    l->st.batches++;
    l->st.last_change = g_get_real_time();
    l->publish(idx, old, (const guint32 *)changed->data, changed->len,
               (const guint32 *)gone->data, gone->len, &l->st, l->user);
    dfs_index_unref(old);
}

/* A batch begins (the lock taken, the store's transaction begun): FALSE
 * when changes cannot be followed (no builder). */
static gboolean begin_batch(DfsLive *l)
{
    g_mutex_lock(&l->lock);
    if (!ensure_builder(l)) {
        g_mutex_unlock(&l->lock);
        return FALSE;
    }
    if (l->store != NULL)
        dfs_store_begin(l->store);
    l->changed = FALSE;
    return TRUE;
}

/* The batch is over: the store's transaction ends (committed if anything
 * changed), the new snapshot is published, and the lock let go. */
static void end_batch(DfsLive *l)
{
    if (l->store != NULL && !l->changed) {
        dfs_store_abandon(l->store); /* the stamp, and so the image, stay good */
    } else if (l->store != NULL) {
        g_autoptr(GError) error = NULL;
        if (!dfs_store_commit(l->store, &error))
            g_warning("the persistent index could not be written: %s", error->message);
        l->image_stale = TRUE;
    }
    if (l->changed)
        publish(l);
    g_mutex_unlock(&l->lock);
}

static void apply(DfsLive *l, const DfsChange *changes, guint n, gboolean settle)
{
    if (!begin_batch(l))
        return;
    for (guint k = 0; k < n; k++) {
        const char *p = changes[k].relpath;
        switch (changes[k].kind) {
        case DFS_CHANGE_GONE: take_out(l, p); break;
        case DFS_CHANGE_FOLDER: walk_folder(l, p); break;
        case DFS_CHANGE_FILE: file_changed(l, p, NULL, settle); break;
        }
    }
    read_todo(l);
    l->st.changes += n;
    end_batch(l);
}

void dfs_live_apply(DfsLive *l, const DfsChange *changes, guint n)
{
    apply(l, changes, n, FALSE);
}

/* --- files met while they may be written ------------------------------------------ */

static void defer(DfsLive *l, const char *relpath)
{
    g_mutex_lock(&l->settle_lock);
    gint64 due = g_get_monotonic_time() + SETTLE_NS / 1000;
    g_hash_table_replace(l->unsettled, g_strdup(relpath), g_memdup2(&due, sizeof due));
    if (l->settler == NULL)
        l->settler = g_thread_new("live-settle", settler, l);
    g_cond_signal(&l->settle_cond);
    g_mutex_unlock(&l->settle_lock);
}

/* Look again at deferred files once due (deferred again if still written). */
static gpointer settler(gpointer data)
{
    DfsLive *l = data;
    g_mutex_lock(&l->settle_lock);
    while (!l->stopping) {
        gint64 now = g_get_monotonic_time(), next = G_MAXINT64;
        GHashTableIter it;
        gpointer key, value;
        g_autoptr(GPtrArray) due = g_ptr_array_new_with_free_func(g_free);
        g_hash_table_iter_init(&it, l->unsettled);
        while (g_hash_table_iter_next(&it, &key, &value)) {
            gint64 at = *(gint64 *)value;
            if (at <= now) {
                g_ptr_array_add(due, g_strdup(key));
                g_hash_table_iter_remove(&it);
            } else {
                next = MIN(next, at);
            }
        }
        if (due->len == 0) {
            if (next == G_MAXINT64)
                g_cond_wait(&l->settle_cond, &l->settle_lock);
            else
                g_cond_wait_until(&l->settle_cond, &l->settle_lock, next);
            continue;
        }
        g_mutex_unlock(&l->settle_lock);
        g_autofree DfsChange *changes = g_new(DfsChange, due->len);
        for (guint k = 0; k < due->len; k++)
            changes[k] = (DfsChange){DFS_CHANGE_FILE, due->pdata[k]};
        apply(l, changes, due->len, TRUE);
        g_mutex_lock(&l->settle_lock);
    }
    g_mutex_unlock(&l->settle_lock);
    return NULL;
}

/* --- a source listed again ------------------------------------------------------ */

/* An entry of the listing: filed as it is now, if it is not already. */
static gboolean relisted(gpointer user, const char *relpath, const struct stat *st,
                         DfsFacts *facts, const char *reason)
{
    DfsLive *l = user;
    if (relpath == NULL) /* one snapshot at the end */
        return !l->stopping;
    g_hash_table_add(l->met, g_strdup(relpath));
    guint64 size;
    gint64 mtime;
    if (facts != NULL && dfs_facts_is_folder(facts)) {
        /* A study's folders: made again if they went, stored once. */
        if (!g_hash_table_contains(l->rows, relpath))
            put_row(l, relpath, st, facts, NULL);
        dfs_index_builder_add(l->b, relpath, st, facts);
        return !l->stopping;
    }
    if (st != NULL && dfs_index_builder_version(l->b, relpath, &size, &mtime) &&
        size == (guint64)st->st_size && mtime == mtime_ns(st)) {
        dfs_facts_free(facts);
        return !l->stopping; /* filed as it is */
    }
    l->changed = TRUE;
    dfs_index_builder_remove(l->b, relpath);
    forget_row(l, relpath);
    struct stat none = {0};
    put_row(l, relpath, st != NULL ? st : &none, facts, reason);
    dfs_index_builder_file(l->b, relpath, st, facts, reason);
    l->st.reads++;
    return !l->stopping;
}

/* List the source again, and apply what differs: entries new or changed
 * filed, those not listed any more taken out.  A listing that fails
 * changes nothing (the tree stays as it was). */
static void relist(DfsLive *l)
{
    if (!begin_batch(l))
        return;
    l->st.rescans++;
    l->met = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GError) error = NULL;
    gboolean ok = l->lister->list(l->lister_self, relisted, l, &error) && !l->stopping;
    if (ok) {
        g_autoptr(GPtrArray) filed = g_ptr_array_new();
        dfs_index_builder_paths_under(l->b, "", filed);
        for (guint k = 0; k < filed->len; k++)
            if (!g_hash_table_contains(l->met, filed->pdata[k]))
                take_out(l, filed->pdata[k]);
        GHashTableIter it;
        gpointer key;
        g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func(g_free);
        g_hash_table_iter_init(&it, l->rows); /* stored rows listed no more (studies' too) */
        while (g_hash_table_iter_next(&it, &key, NULL))
            if (!g_hash_table_contains(l->met, key))
                g_ptr_array_add(gone, g_strdup(key));
        for (guint k = 0; k < gone->len; k++)
            forget_row(l, gone->pdata[k]);
        l->changed |= gone->len > 0;
    } else if (error != NULL) {
        g_warning("the source could not be listed again: %s", error->message);
    }
    g_clear_pointer(&l->met, g_hash_table_unref);
    end_batch(l);
    /* Whole now: a remount within the TTL need not list it again. */
    if (ok && l->store != NULL)
        dfs_image_note_listed(l->image_path, dfs_store_stamp(l->store));
}

void dfs_live_set_lister(DfsLive *l, const DfsScanLister *lister, gpointer self)
{
    l->lister = lister;
    l->lister_self = self;
}

void dfs_live_rescan(DfsLive *l)
{
    if (l->lister != NULL) {
        relist(l);
        return;
    }
    DfsChange all = {DFS_CHANGE_FOLDER, ""};
    dfs_live_apply(l, &all, 1);
}

/* --- life ------------------------------------------------------------------------ */

DfsLive *dfs_live_new(const char *source, const char *store_path, DfsIndexBuilder *builder,
                      DfsIndex *current, DfsLivePublish publish_fn, gpointer user)
{
    DfsLive *l = g_new0(DfsLive, 1);
    l->source = g_strdup(source);
    l->source_fd = open(source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    l->current = dfs_index_ref(current);
    l->rows = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    l->todo = g_array_new(FALSE, FALSE, sizeof(Read));
    l->queued = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_mutex_init(&l->settle_lock);
    g_cond_init(&l->settle_cond);
    l->unsettled = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    l->publish = publish_fn;
    l->user = user;
    g_mutex_init(&l->lock);
    if (store_path != NULL) {
        gboolean rebuilt = FALSE;
        g_autoptr(GError) error = NULL;
        l->store = dfs_store_open(store_path, source, &rebuilt, &error);
        if (l->store == NULL)
            g_warning("changes are not kept in the persistent index: %s", error->message);
        else
            l->image_path = dfs_image_path(dfs_store_path(l->store));
    }
    l->b = builder;
    if (l->b != NULL) {
        if (l->store != NULL)
            dfs_store_load_paths(l->store, on_path, l);
        dfs_index_builder_keep_names(l->b);
    }
    return l;
}

void dfs_live_free(DfsLive *l)
{
    if (l == NULL)
        return;
    g_mutex_lock(&l->settle_lock);
    l->stopping = TRUE;
    g_cond_broadcast(&l->settle_cond);
    g_mutex_unlock(&l->settle_lock);
    if (l->settler != NULL)
        g_thread_join(l->settler);
    g_hash_table_unref(l->unsettled);
    g_cond_clear(&l->settle_cond);
    g_mutex_clear(&l->settle_lock);
    g_mutex_lock(&l->lock);
    if (l->image_stale && l->b != NULL) {
        g_autoptr(GError) error = NULL;
        if (!dfs_image_write(l->current, l->image_path, dfs_store_stamp(l->store), TRUE, &error))
            g_warning("the index image could not be written: %s", error->message);
    }
    g_mutex_unlock(&l->lock);
    dfs_index_builder_free(l->b);
    dfs_index_unref(l->current);
    g_hash_table_unref(l->rows);
    g_array_unref(l->todo);
    g_hash_table_unref(l->queued);
    if (l->store != NULL)
        dfs_store_close(l->store);
    g_free(l->image_path);
    if (l->source_fd >= 0)
        close(l->source_fd);
    g_free(l->source);
    g_mutex_clear(&l->lock);
    g_free(l);
}
