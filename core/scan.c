/* dicomfs core: scanning a source folder into an index.  See scan.h. */
#include "scan.h"

#include "error.h"
#include "reader.h"
#include "walk.h"

/* Header reads kept in flight at once: a disk answers faster at queue
 * depth 8 to 16 than one read at a time, and a warm cache uses both cores. */
#define SCAN_THREADS 8

/* One entry met by the walk, in walk order. */
typedef struct {
    char *relpath;
    char *reason;     /* why it is skipped (walk, or a failed read) */
    struct stat st;
    DfsFacts *facts;  /* what the read found, for files */
    gboolean is_file;
    gboolean ready;   /* the read is done (files only) */
} Item;

typedef struct {
    const char *source;
    DfsStore *store;  /* or NULL */
    guint reads;
    GPtrArray *items; /* Item*, grows during the walk */
    GMutex lock;      /* guards items (growth) and Item.ready */
    GCond done;
    GThreadPool *pool;
} Scan;

char *dfs_scan_reason(const GError *error)
{
    const char *kind = "invalid DICOM";
    if (error->domain == DFS_ERROR) {
        switch (error->code) {
        case DFS_ERROR_NOT_DICOM: kind = "not DICOM"; break;
        case DFS_ERROR_TRUNCATED: kind = "truncated"; break;
        case DFS_ERROR_IO: kind = "unreadable"; break;
        case DFS_ERROR_LIMIT: kind = "over a limit"; break;
        default: break;
        }
    }
    return g_strdup_printf("%s: %s", kind, error->message);
}

static void item_free(gpointer p)
{
    Item *it = p;
    g_free(it->relpath);
    g_free(it->reason);
    dfs_facts_free(it->facts);
    g_free(it);
}

static Item *item_at(Scan *s, guint k)
{
    g_mutex_lock(&s->lock);
    Item *it = g_ptr_array_index(s->items, k);
    g_mutex_unlock(&s->lock);
    return it;
}

/* A worker: read one file's header into facts, or the reason it fails. */
static void read_one(gpointer data, gpointer user)
{
    Scan *s = user;
    Item *it = item_at(s, GPOINTER_TO_UINT(data) - 1);
    g_autofree char *path = g_build_filename(s->source, it->relpath, NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsDataset) ds = dfs_read_file(path, DFS_READ_HEADER_ONLY, &error);
    DfsFacts *facts = ds ? dfs_facts_new(ds) : NULL;
    char *reason = ds ? NULL : it->st.st_size == 0 ? g_strdup("empty file") : dfs_scan_reason(error);
    g_mutex_lock(&s->lock);
    it->facts = facts;
    it->reason = reason;
    it->ready = TRUE;
    g_cond_broadcast(&s->done);
    g_mutex_unlock(&s->lock);
}

static gint64 mtime_ns(const struct stat *st)
{
    return (gint64)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static void add_item(Scan *s, Item *it)
{
    /* What the store knows of an unchanged file is not read again. */
    if (it->is_file && s->store != NULL &&
        dfs_store_lookup(s->store, it->relpath, (guint64)it->st.st_size, mtime_ns(&it->st),
                         &it->facts, &it->reason))
        it->ready = TRUE;
    g_mutex_lock(&s->lock);
    g_ptr_array_add(s->items, it);
    guint k = s->items->len;
    g_mutex_unlock(&s->lock);
    if (it->is_file && !it->ready) {
        s->reads++;
        g_thread_pool_push(s->pool, GUINT_TO_POINTER(k), NULL);
    }
}

static void on_file(const char *relpath, const struct stat *st, gpointer user)
{
    Item *it = g_new0(Item, 1);
    it->relpath = g_strdup(relpath);
    it->st = *st;
    it->is_file = TRUE;
    add_item(user, it);
}

static void on_skip(const char *relpath, const char *reason, gpointer user)
{
    Item *it = g_new0(Item, 1);
    it->relpath = g_strdup(relpath);
    it->reason = g_strdup(reason);
    add_item(user, it);
}

/* File the items in walk order (so names do not depend on thread timing),
 * each as soon as its read is done. */
static void file_items(Scan *s, DfsIndex *idx, DfsScanCounts *c, DfsScanProgress progress,
                       gpointer user)
{
    for (guint k = 0; k < s->items->len; k++)
        c->total += ((Item *)g_ptr_array_index(s->items, k))->is_file;
    for (guint k = 0; k < s->items->len; k++) {
        Item *it = g_ptr_array_index(s->items, k);
        g_mutex_lock(&s->lock);
        while (it->is_file && !it->ready)
            g_cond_wait(&s->done, &s->lock);
        g_mutex_unlock(&s->lock);
        c->files_seen += it->is_file;
        c->reads = s->reads;
        if (it->is_file && s->store != NULL)
            dfs_store_put(s->store, it->relpath, (guint64)it->st.st_size, mtime_ns(&it->st),
                          it->facts, it->reason);
        if (it->facts == NULL) {
            dfs_index_skip(idx, it->relpath, it->reason);
            if (it->is_file)
                c->skipped++;
            else
                c->others++;
        } else if (dfs_index_add_facts(idx, it->relpath, &it->st,
                                       g_steal_pointer(&it->facts)) == DFS_NO_INDEX) {
            c->skipped++;
        } else {
            c->indexed++;
        }
        if (progress)
            progress(c, user);
    }
}

DfsIndex *dfs_scan(const char *source, DfsStore *store, DfsScanProgress progress, gpointer user,
                   DfsScanCounts *counts, GError **error)
{
    Scan s = {.source = source, .store = store,
              .items = g_ptr_array_new_with_free_func(item_free)};
    g_mutex_init(&s.lock);
    g_cond_init(&s.done);
    s.pool = g_thread_pool_new(read_one, &s, SCAN_THREADS, FALSE, NULL);
    static const DfsWalkCallbacks cb = {on_file, on_skip};
    gboolean ok = dfs_walk(source, &cb, &s, error);
    DfsIndex *idx = NULL;
    DfsScanCounts c = {0};
    if (ok) {
        idx = dfs_index_new();
        if (store != NULL)
            dfs_store_begin(store);
        file_items(&s, idx, &c, progress, user);
        /* An index that cannot be written only costs the next mount time. */
        if (store != NULL && !dfs_store_commit(store, NULL))
            g_warning("the persistent index could not be written");
        dfs_index_finish(idx);
        c.reads = s.reads;
    }
    g_thread_pool_free(s.pool, FALSE, TRUE);
    g_ptr_array_unref(s.items);
    g_cond_clear(&s.done);
    g_mutex_clear(&s.lock);
    if (counts)
        *counts = c;
    return idx;
}
