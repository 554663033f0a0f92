/* dicomfs fs: a mount that follows its source.  See live.h. */
#include "live.h"

#include <errno.h>
#include <string.h>
#include <sys/vfs.h>

#include "catalog/live.h"
#include "catalog/watch.h"

/* A file with no close is taken once it kept its size and mtime this long. */
#define SETTLE_MS 500
/* Rescans where events cannot be had and none were asked for. */
#define FALLBACK_RESCAN_S 30
/* Changes held while the first scan runs; past it, one walk of it all. */
#define MAX_PENDING 100000

struct _DfsFsLive {
    char *source;
    const DfsScanLister *lister; /* a listed source's (its revalidation), or NULL */
    gpointer lister_self;
    DfsTree *tree;
    DfsTreeStatus *status;   /* the tree's status: updated with each snapshot */
    GMutex lock;             /* guards what follows */
    struct fuse_session *se;
    DfsLive *live;           /* NULL until the first scan is done */
    GArray *pending;         /* DfsChange (relpath owned) met during the scan */
    gboolean pending_all;
    DfsWatch *watch;
    gboolean watch_failed;   /* the watch limit was reached: rescans took over */
    guint rescan_s;
    gint64 first_rescan_s; /* the first wait, when not rescan_s (-1) */
    GThread *rescanner;
    GCond wake;
    gboolean stop;
    char mode[256];
    char why[96];            /* why there are no events, or "" */
    gboolean want_watch;
};

/* --- the kernel's caches ------------------------------------------------------- */

typedef struct {
    struct fuse_session *se;
    DfsEntry meta;
} Forget;

/* A .dicomfs file's pages go; a view's folder goes by name (kinds/views.c:
 * its new version is another inode, whose listing the kernel never kept). */
static gboolean forget_file(const char *name, DfsEntry e, gboolean is_dir, guint64 next,
                            gpointer user)
{
    Forget *f = user;
    if (is_dir)
        fuse_lowlevel_notify_inval_entry(f->se, f->meta, name, strlen(name));
    else
        fuse_lowlevel_notify_inval_inode(f->se, e, 0, 0);
    return TRUE;
}

static void tell_kernel(DfsFsLive *fl, DfsIndex *old, const guint32 *changed, guint n_changed,
                        const guint32 *gone, guint n_gone)
{
    struct fuse_session *se = fl->se;
    if (se == NULL)
        return;
    /* The catalogs of .dicomfs/ (a fixed list: nothing is made to list it)
     * show every change. */
    Forget f = {se, 0};
    if (dfs_tree_lookup(fl->tree, DFS_ENTRY_ROOT, ".dicomfs", &f.meta, NULL))
        dfs_tree_list(fl->tree, NULL, f.meta, 0, forget_file, &f, NULL);
    for (guint k = 0; k < n_gone; k++) {
        guint parent = dfs_index_parent(old, gone[k]);
        const char *name = dfs_index_name(old, gone[k]);
        fuse_lowlevel_notify_inval_entry(se, dfs_tree_node_entry(parent), name, strlen(name));
    }
    /* A changed folder's listing and attributes go; so do its tags/ and
     * volume/ entries, whose files are made from its instances: the next
     * lookup gets them again, with the time of the change (tree.h), and the
     * kernel drops the pages it kept of them.  (Nothing is listed or made
     * here: that would read the folder's files.) */
    static const char *const derived[] = {"tags", "volume"};
    for (guint k = 0; k < n_changed; k++) {
        DfsEntry e = dfs_tree_node_entry(changed[k]);
        fuse_lowlevel_notify_inval_inode(se, e, 0, 0);
        for (guint d = 0; d < G_N_ELEMENTS(derived); d++)
            fuse_lowlevel_notify_inval_entry(se, e, derived[d], strlen(derived[d]));
    }
}

/* --- snapshots ------------------------------------------------------------------- */

static void set_mode(DfsFsLive *fl)
{
    g_autoptr(GString) m = g_string_new("followed: ");
    if (fl->watch != NULL) {
        DfsWatchStats ws;
        dfs_watch_stats(fl->watch, &ws);
        g_string_append_printf(m, "kernel events (inotify, %u folders watched%s)", ws.watches,
                               fl->watch_failed ? "; the watch limit (fs.inotify.max_user_watches) "
                                                  "was reached"
                                                : "");
    }
    if (fl->rescan_s > 0 && fl->lister != NULL)
        g_string_append_printf(m, "the server's listing revalidated every %u s", fl->rescan_s);
    else if (fl->rescan_s > 0)
        g_string_append_printf(m, "%s every %u s", fl->watch != NULL ? ", and a rescan" : "a rescan",
                               fl->rescan_s);
    if (fl->why[0])
        g_string_append_printf(m, " (%s)", fl->why);
    g_strlcpy(fl->mode, m->str, sizeof fl->mode);
}

static void on_snapshot(DfsIndex *idx, DfsIndex *old, const guint32 *changed, guint n_changed,
                        const guint32 *gone, guint n_gone, const DfsLiveStats *ls, gpointer user)
{
    DfsFsLive *fl = user;
    /* The folders changed and those above them (their tags/ show their
     * first instance) have what was rendered of them dropped. */
    g_autoptr(GHashTable) seen = g_hash_table_new(NULL, NULL);
    g_autoptr(GArray) stale = g_array_new(FALSE, FALSE, sizeof(guint32));
    for (guint k = 0; k < n_changed; k++)
        for (guint a = changed[k]; g_hash_table_add(seen, GUINT_TO_POINTER(a + 1));
             a = dfs_index_parent(idx, a)) {
            g_array_append_val(stale, a);
            if (a == DFS_INDEX_ROOT)
                break;
        }
    dfs_tree_forget(fl->tree, (const guint32 *)stale->data, stale->len);
    g_mutex_lock(&fl->lock);
    DfsTreeStatus *st = fl->status;
    st->indexed = dfs_index_n_instances(idx);
    st->skipped = dfs_index_n_skipped(idx) > st->others ? dfs_index_n_skipped(idx) - st->others : 0;
    st->live_changes = ls->changes;
    st->live_batches = ls->batches;
    st->live_reads = ls->reads;
    st->live_rescans = ls->rescans;
    st->last_change = ls->last_change;
    set_mode(fl);
    g_strlcpy(st->live, fl->mode, sizeof st->live);
    dfs_tree_publish(fl->tree, idx, st);
    tell_kernel(fl, old, (const guint32 *)stale->data, stale->len, gone, n_gone);
    g_mutex_unlock(&fl->lock);
}

/* --- changes ---------------------------------------------------------------------- */

static gpointer rescanner(gpointer user)
{
    DfsFsLive *fl = user;
    g_mutex_lock(&fl->lock);
    while (!fl->stop) {
        gint64 wait_s = fl->first_rescan_s >= 0 ? fl->first_rescan_s : (gint64)fl->rescan_s;
        fl->first_rescan_s = -1;
        gint64 until = g_get_monotonic_time() + wait_s * G_USEC_PER_SEC;
        while (!fl->stop && g_cond_wait_until(&fl->wake, &fl->lock, until))
            ;
        if (fl->stop)
            break;
        DfsLive *live = fl->live;
        g_mutex_unlock(&fl->lock);
        dfs_live_rescan(live);
        g_mutex_lock(&fl->lock);
    }
    g_mutex_unlock(&fl->lock);
    return NULL;
}

void dfs_fs_live_rescan_first_in(DfsFsLive *fl, guint seconds)
{
    g_mutex_lock(&fl->lock);
    fl->first_rescan_s = seconds;
    g_mutex_unlock(&fl->lock);
}

/* Called with the lock held. */
static void start_rescans(DfsFsLive *fl)
{
    if (fl->rescanner == NULL && fl->live != NULL && fl->rescan_s > 0)
        fl->rescanner = g_thread_new("rescan", rescanner, fl);
}

/* Some folders go unwatched once the watch limit is reached: what events
 * still come is used, and rescans find the rest.  With the lock held;
 * TRUE when that is new. */
static gboolean check_limit(DfsFsLive *fl)
{
    DfsWatchStats ws = {0};
    if (fl->watch != NULL) /* (not yet while dfs_watch_new lists the folders) */
        dfs_watch_stats(fl->watch, &ws);
    if (!ws.limit_reached || fl->watch_failed)
        return FALSE;
    fl->watch_failed = TRUE;
    if (fl->rescan_s == 0)
        fl->rescan_s = FALLBACK_RESCAN_S;
    set_mode(fl);
    g_strlcpy(fl->status->live, fl->mode, sizeof fl->status->live);
    start_rescans(fl);
    return TRUE;
}

static void on_changes(const DfsChange *changes, guint n, gpointer user)
{
    DfsFsLive *fl = user;
    g_mutex_lock(&fl->lock);
    if (check_limit(fl))
        dfs_tree_publish(fl->tree, NULL, fl->status);
    DfsLive *live = fl->live;
    if (live == NULL) {
        for (guint k = 0; k < n && !fl->pending_all; k++) {
            DfsChange c = {changes[k].kind, g_strdup(changes[k].relpath)};
            g_array_append_val(fl->pending, c);
            fl->pending_all = fl->pending->len > MAX_PENDING;
        }
        g_mutex_unlock(&fl->lock);
        return;
    }
    g_mutex_unlock(&fl->lock);
    dfs_live_apply(live, changes, n);
}

static void clear_pending(gpointer p)
{
    g_free((char *)((DfsChange *)p)->relpath);
}

/* --- life -------------------------------------------------------------------------- */

/* Network and FUSE filesystems give no events for changes made elsewhere. */
static const char *no_events(const char *source)
{
    struct statfs sf;
    if (statfs(source, &sf) != 0)
        return NULL;
    switch ((unsigned long)sf.f_type) {
    case 0x6969: return "NFS";
    case 0x517B: return "SMB";
    case 0xFF534D42: return "CIFS";
    case 0xFE534D42: return "SMB2";
    case 0x65735546: return "FUSE";
    case 0x01021997: return "9P";
    default: return NULL;
    }
}

DfsFsLive *dfs_fs_live_new(const char *source, DfsTree *tree, DfsTreeStatus *status,
                           const DfsFsLiveOptions *o)
{
    const char *remote = o->lister != NULL ? NULL : no_events(source);
    if ((!o->watch || remote != NULL) && o->rescan_s == 0 && remote == NULL)
        return NULL;
    DfsFsLive *fl = g_new0(DfsFsLive, 1);
    fl->lister = o->lister;
    fl->lister_self = o->lister_self;
    fl->source = g_strdup(source);
    fl->tree = tree;
    fl->status = status;
    fl->rescan_s = o->rescan_s;
    fl->first_rescan_s = -1;
    g_mutex_init(&fl->lock);
    g_cond_init(&fl->wake);
    fl->pending = g_array_new(FALSE, FALSE, sizeof(DfsChange));
    g_array_set_clear_func(fl->pending, clear_pending);
    fl->want_watch = o->watch && remote == NULL && o->lister == NULL;
    if (remote != NULL) {
        g_snprintf(fl->why, sizeof fl->why, "%s: no events for changes made elsewhere", remote);
        if (fl->rescan_s == 0)
            fl->rescan_s = 60;
    }
    set_mode(fl);
    g_strlcpy(status->live, fl->mode, sizeof status->live);
    dfs_tree_set_live(tree);
    return fl;
}

void dfs_fs_live_watch(DfsFsLive *fl)
{
    if (!fl->want_watch)
        return;
    g_autoptr(GError) error = NULL;
    DfsWatch *w = dfs_watch_new(fl->source, SETTLE_MS, on_changes, fl, &error);
    g_mutex_lock(&fl->lock);
    fl->watch = w;
    if (w == NULL) {
        g_printerr("dicomfs: changes cannot be watched (%s): rescanning\n", error->message);
        g_snprintf(fl->why, sizeof fl->why, "inotify: %s", error->message);
        if (fl->rescan_s == 0)
            fl->rescan_s = FALLBACK_RESCAN_S;
    }
    check_limit(fl);
    set_mode(fl);
    g_strlcpy(fl->status->live, fl->mode, sizeof fl->status->live);
    g_mutex_unlock(&fl->lock);
}

void dfs_fs_live_ready(DfsFsLive *fl, DfsIndex *current, DfsIndexBuilder *builder,
                       const char *store_path)
{
    DfsLive *live = dfs_live_new(fl->source, store_path, builder, current, on_snapshot, fl);
    if (fl->lister != NULL)
        dfs_live_set_lister(live, fl->lister, fl->lister_self);
    g_mutex_lock(&fl->lock);
    fl->live = live;
    g_autoptr(GArray) pending = g_steal_pointer(&fl->pending);
    gboolean all = fl->pending_all;
    fl->pending = g_array_new(FALSE, FALSE, sizeof(DfsChange));
    g_array_set_clear_func(fl->pending, clear_pending);
    start_rescans(fl);
    g_mutex_unlock(&fl->lock);
    /* What changed while the scan ran: the scan may have seen it or not. */
    if (all)
        dfs_live_rescan(live);
    else if (pending->len > 0)
        dfs_live_apply(live, (const DfsChange *)pending->data, pending->len);
}

void dfs_fs_live_set_session(DfsFsLive *fl, struct fuse_session *se)
{
    g_mutex_lock(&fl->lock);
    fl->se = se;
    g_mutex_unlock(&fl->lock);
}

void dfs_fs_live_free(DfsFsLive *fl)
{
    if (fl == NULL)
        return;
    g_mutex_lock(&fl->lock);
    fl->stop = TRUE;
    fl->se = NULL;
    g_cond_broadcast(&fl->wake);
    g_mutex_unlock(&fl->lock);
    if (fl->rescanner != NULL)
        g_thread_join(fl->rescanner);
    dfs_watch_free(fl->watch); /* no more batches after it */
    dfs_live_free(fl->live);
    g_array_unref(fl->pending);
    g_cond_clear(&fl->wake);
    g_mutex_clear(&fl->lock);
    g_free(fl->source);
    g_free(fl);
}
