/* dicomfs core: following changes under a source folder.  See watch.h.
 *
 * The thread owns every table; only the counters are shared, behind a
 * mutex.  Events are handled in the kernel's order, so the folder map
 * always reflects every rename that came before the event at hand. */
#include "catalog/watch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "dicom/input.h"

/* What a folder's watch asks for.  IN_EXCL_UNLINK: a file deleted while a
 * writer still has it open sends nothing more.  IN_OPEN and IN_ACCESS are
 * left out: readers (our own among them) would flood the queue. */
#define WATCH_MASK                                                                                 \
    (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_MODIFY |            \
     IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK)

#define QUIET_US (50 * 1000)      /* a batch goes once no change came for this long */
#define MAX_DELAY_US (200 * 1000) /* ... or once its first change is this old */
#define MAX_BATCH 16384           /* ... or once it holds this many paths */
#define MIN_CHECK_US (10 * 1000)  /* unsettled files are stat'ed at most this often */
#define MAX_PENDING 65536         /* unsettled files tracked; past it, events count as lost */
#define MAX_DEPTH 128     /* folders nested deeper are not watched (as walk.c enters none) */
#define READS_PER_TURN 16 /* reads of the queue before batches and settling get a turn */
#define READ_BYTES 65536

/* A watched folder, in the tree of watched folders (for forgetting a folder
 * with everything under it at the cost of what is under it). */
typedef struct Folder Folder;
struct Folder {
    int wd;
    char *rel;
    Folder *parent;
    GQueue subs; /* Folder.link of each watched subfolder */
    GList link;  /* in parent->subs; data points back to this folder */
    guint seen;  /* the last listing that met it (resync) */
};

/* A file written to but neither closed nor settled yet. */
typedef struct {
    gint64 changed_at; /* monotonic time of the last change seen */
    gint64 size, mtime_ns;
    gboolean stated; /* size and mtime are known */
} Pending;

/* One path of the batch being gathered. */
typedef struct {
    DfsChangeKind kind;
    gboolean dir;        /* the path is (FOLDER) or was (GONE) a folder */
    gboolean gone_first; /* its kind changed within the batch: a GONE goes first */
} Entry;

struct _DfsWatch {
    char *root; /* canonical */
    gint64 settle_us, check_us;
    guint max_watches;
    DfsWatchFunc fn;
    gpointer user;
    int ifd, efd; /* inotify; eventfd that stops the thread */
    GThread *thread;

    /* The thread's own (dfs_watch_new's until the thread starts). */
    GHashTable *by_wd;   /* wd -> Folder (owned) */
    GHashTable *by_path; /* Folder.rel -> Folder */
    GHashTable *pending; /* relpath -> Pending */
    GHashTable *batch;   /* relpath -> Entry */
    gint64 batch_first, batch_last, next_check;
    gboolean limit_reported;
    gboolean resync_due; /* events were lost: the map may be stale */
    guint listing;       /* counts resyncs */
    GString *rel;        /* the path of the event at hand; scratch for flush */
    char *buf;           /* READ_BYTES of events */
    DfsWatchStats counts;

    GMutex lock; /* guards stats */
    DfsWatchStats stats;
};

static char *full_path(DfsWatch *w, const char *rel)
{
    return rel[0] ? g_strconcat(w->root, "/", rel, NULL) : g_strdup(w->root);
}

static guint depth_of(const char *rel)
{
    guint d = rel[0] != '\0';
    for (const char *p = rel; *p; p++)
        d += *p == '/';
    return d;
}

/* Counters for dfs_watch_stats. */
static void publish_stats(DfsWatch *w)
{
    g_mutex_lock(&w->lock);
    w->stats = w->counts;
    w->stats.watches = g_hash_table_size(w->by_wd);
    w->stats.pending = g_hash_table_size(w->pending);
    g_mutex_unlock(&w->lock);
}

/* --- the batch ----------------------------------------------------------- */

/* Record a change of rel.  The last change of a path wins (a file gone then
 * written again is written; written then gone is gone), but a path whose
 * kind changed (a file replaced by a folder) is also reported gone first, so
 * that what was there is dropped before the new one is read. */
static void batch_add(DfsWatch *w, DfsChangeKind kind, const char *rel, gboolean dir)
{
    gint64 now = g_get_monotonic_time();
    Entry *e = g_hash_table_lookup(w->batch, rel);
    if (e == NULL) {
        if (g_hash_table_size(w->batch) == 0)
            w->batch_first = now;
        e = g_new0(Entry, 1);
        g_hash_table_insert(w->batch, g_strdup(rel), e);
    } else if (kind == DFS_CHANGE_GONE) {
        e->gone_first = FALSE;
    } else if (e->gone_first || e->dir != dir) {
        e->gone_first = TRUE;
    }
    e->kind = kind;
    e->dir = dir;
    w->batch_last = now;
}

/* Events were lost, or the watches no longer cover the source: the caller
 * walks it all. */
static void lost(DfsWatch *w)
{
    w->counts.overflowed = TRUE;
    batch_add(w, DFS_CHANGE_FOLDER, "", TRUE);
}

static int kind_rank(DfsChangeKind k)
{
    return k == DFS_CHANGE_GONE ? 0 : k == DFS_CHANGE_FOLDER ? 1 : 2;
}

static int compare_changes(gconstpointer a, gconstpointer b)
{
    const DfsChange *x = a, *y = b;
    int d = kind_rank(x->kind) - kind_rank(y->kind);
    return d ? d : strcmp(x->relpath, y->relpath);
}

/* Is rel under a folder of the batch?  The caller's walk of that folder,
 * made after the batch is handed over, reads rel as it is by then. */
static gboolean under_walked_folder(DfsWatch *w, const char *rel)
{
    if (rel[0] == '\0')
        return FALSE;
    GString *up = w->rel;
    g_string_assign(up, rel);
    for (;;) {
        char *slash = strrchr(up->str, '/');
        g_string_truncate(up, slash ? (gsize)(slash - up->str) : 0);
        const Entry *e = g_hash_table_lookup(w->batch, up->str);
        if (e != NULL && e->kind == DFS_CHANGE_FOLDER)
            return TRUE;
        if (slash == NULL)
            return FALSE;
    }
}

/* Hand the batch over: gone first (so that a path reused within the batch is
 * dropped before it is read again), then folders, then files; a file or
 * folder inside a folder to be walked is left to that walk. */
static void flush(DfsWatch *w)
{
    guint n = g_hash_table_size(w->batch);
    GArray *out = g_array_sized_new(FALSE, FALSE, sizeof(DfsChange), n + n / 8 + 1);
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, w->batch);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        const Entry *e = value;
        if (e->gone_first && e->kind != DFS_CHANGE_GONE) {
            DfsChange gone = {DFS_CHANGE_GONE, key};
            g_array_append_val(out, gone);
        }
        DfsChange c = {e->kind, key};
        if (e->kind == DFS_CHANGE_GONE || !under_walked_folder(w, key))
            g_array_append_val(out, c);
    }
    g_array_sort(out, compare_changes);
    w->counts.batches++;
    publish_stats(w); /* what fn may ask is as of its batch */
    w->fn((const DfsChange *)(void *)out->data, out->len, w->user);
    g_array_free(out, TRUE);
    g_hash_table_remove_all(w->batch);
}

static gboolean batch_due(DfsWatch *w, gint64 now)
{
    guint n = g_hash_table_size(w->batch);
    return n > 0 && (now - w->batch_last >= QUIET_US || now - w->batch_first >= MAX_DELAY_US ||
                     n >= MAX_BATCH);
}

/* --- watched folders ----------------------------------------------------- */

static void folder_free(gpointer p)
{
    Folder *f = p;
    g_free(f->rel);
    g_free(f);
}

/* Drop f and every folder under it from the maps, removing their watches
 * (f's own too, unless the kernel has dropped it already). */
static void forget(DfsWatch *w, Folder *f, gboolean rm_own)
{
    Folder *sub;
    while ((sub = g_queue_peek_head(&f->subs)) != NULL)
        forget(w, sub, TRUE);
    if (rm_own)
        inotify_rm_watch(w->ifd, f->wd);
    if (f->parent != NULL)
        g_queue_unlink(&f->parent->subs, &f->link);
    g_hash_table_remove(w->by_path, f->rel);
    g_hash_table_remove(w->by_wd, GINT_TO_POINTER(f->wd)); /* frees f */
}

static gboolean is_within(const Folder *f, const Folder *ancestor)
{
    for (; f != NULL; f = f->parent)
        if (f == ancestor)
            return TRUE;
    return FALSE;
}

/* The watch limit, the kernel's or ours: the caller is told once to walk
 * everything (and may fall back to rescanning); what is watched stays. */
static void limit_hit(DfsWatch *w)
{
    w->counts.limit_reached = TRUE;
    if (!w->limit_reported) {
        w->limit_reported = TRUE;
        batch_add(w, DFS_CHANGE_FOLDER, "", TRUE);
    }
}

static int add_kernel_watch(DfsWatch *w, const char *rel, gboolean is_root)
{
    if (w->max_watches && g_hash_table_size(w->by_wd) >= w->max_watches) {
        errno = ENOSPC;
        return -1;
    }
    g_autofree char *full = full_path(w, rel);
    /* The root may be reached through a link; nothing under it is. */
    return inotify_add_watch(w->ifd, full, WATCH_MASK | (is_root ? 0 : IN_DONT_FOLLOW));
}

/* Watch the folder rel, under parent (NULL for the root).  The Folder, and
 * *fresh = TRUE when it was not watched under this name already; NULL with
 * errno set when it cannot be watched. */
static Folder *watch_one(DfsWatch *w, const char *rel, Folder *parent, gboolean *fresh)
{
    *fresh = TRUE;
    int wd = add_kernel_watch(w, rel, parent == NULL);
    if (wd < 0) {
        int err = errno;
        if (err == ENOSPC)
            limit_hit(w);
        errno = err;
        return NULL;
    }
    /* The kernel gives one watch per folder: a wd we know is this folder
     * met again, under this name (watched by a walk before its own event
     * came) or under a name our map has not caught up with. */
    Folder *old = g_hash_table_lookup(w->by_wd, GINT_TO_POINTER(wd));
    if (old != NULL && strcmp(old->rel, rel) == 0) {
        *fresh = FALSE;
        old->seen = w->listing;
        return old;
    }
    if (old != NULL && is_within(parent, old)) {
        errno = ELOOP; /* a folder inside itself: a bind mount */
        return NULL;
    }
    if (old != NULL)
        forget(w, old, FALSE);
    Folder *other = g_hash_table_lookup(w->by_path, rel);
    if (other != NULL)
        forget(w, other, TRUE); /* another folder had this name: replaced */
    Folder *f = g_new0(Folder, 1);
    f->wd = wd;
    f->rel = g_strdup(rel);
    f->parent = parent;
    f->link.data = f;
    f->seen = w->listing;
    if (parent != NULL)
        g_queue_push_tail_link(&parent->subs, &f->link);
    g_hash_table_insert(w->by_wd, GINT_TO_POINTER(wd), f);
    g_hash_table_insert(w->by_path, f->rel, f);
    return f;
}

/* The names of the folders in rel (not following links). */
static GPtrArray *list_subfolders(DfsWatch *w, const char *rel)
{
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *full = full_path(w, rel);
    int fd = dfs_input_openat(AT_FDCWD, full, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    if (dir == NULL) {
        if (fd >= 0)
            close(fd);
        return names;
    }
    struct dirent *d;
    while ((d = readdir(dir)) != NULL) {
        if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
            continue;
        struct stat st;
        if (d->d_type == DT_DIR ||
            (d->d_type == DT_UNKNOWN && fstatat(fd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
             S_ISDIR(st.st_mode)))
            g_ptr_array_add(names, g_strdup(d->d_name));
    }
    closedir(dir);
    return names;
}

/* Watch the folder rel and every folder under it.  FALSE when it was
 * watched already under this name (listed then, nothing new to report);
 * TRUE otherwise, also when it cannot be watched (gone again, unreadable,
 * the limit): the caller's walk will see what is there.  relist: list the
 * folders watched already too (after lost events). */
static gboolean add_tree(DfsWatch *w, const char *rel, Folder *parent, gboolean relist)
{
    gboolean fresh;
    Folder *f = watch_one(w, rel, parent, &fresh);
    if (f == NULL || !(fresh || relist))
        return f == NULL;
    if (depth_of(rel) >= MAX_DEPTH)
        return TRUE;
    g_autoptr(GPtrArray) subs = list_subfolders(w, rel);
    for (guint k = 0; k < subs->len; k++) {
        g_autofree char *child =
            rel[0] ? g_strconcat(rel, "/", subs->pdata[k], NULL) : g_strdup(subs->pdata[k]);
        add_tree(w, child, f, relist);
    }
    return TRUE;
}

/* After lost events (made folders not watched, gone ones still in the map):
 * list every folder there is now, watch those not watched, and forget those
 * no longer met where the map has them.  Costs a listing of every folder,
 * as the caller's walk of everything does. */
static void resync(DfsWatch *w)
{
    w->resync_due = FALSE;
    w->listing++;
    add_tree(w, "", NULL, TRUE);
    g_autoptr(GArray) stale = g_array_new(FALSE, FALSE, sizeof(int));
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, w->by_wd);
    while (g_hash_table_iter_next(&it, NULL, &value))
        if (((Folder *)value)->seen != w->listing)
            g_array_append_val(stale, ((Folder *)value)->wd);
    for (guint k = 0; k < stale->len; k++) {
        /* Gone already when it was under another stale one. */
        Folder *f = g_hash_table_lookup(w->by_wd, GINT_TO_POINTER(g_array_index(stale, int, k)));
        if (f != NULL)
            forget(w, f, TRUE);
    }
}

/* --- files not closed yet ------------------------------------------------ */

static void pending_touch(DfsWatch *w, const char *rel)
{
    gint64 now = g_get_monotonic_time();
    Pending *p = g_hash_table_lookup(w->pending, rel);
    if (p != NULL) {
        p->changed_at = now;
        return;
    }
    if (g_hash_table_size(w->pending) >= MAX_PENDING) {
        lost(w); /* the walk of everything will read it */
        return;
    }
    if (g_hash_table_size(w->pending) == 0)
        w->next_check = now + w->check_us;
    p = g_new0(Pending, 1);
    p->changed_at = now;
    g_hash_table_insert(w->pending, g_strdup(rel), p);
}

typedef enum { KEEP, DROP, SETTLED_FILE, SETTLED_FOLDER } Verdict;

/* Has rel kept its size and mtime for the settle time? */
static Verdict check_pending(DfsWatch *w, const char *rel, Pending *p, gint64 now)
{
    g_autofree char *full = full_path(w, rel);
    struct stat st;
    /* Gone or a folder now: its own event says so. */
    if (fstatat(AT_FDCWD, full, &st, AT_SYMLINK_NOFOLLOW) != 0 || S_ISDIR(st.st_mode))
        return DROP;
    gint64 mtime = (gint64)st.st_mtim.tv_sec * G_GINT64_CONSTANT(1000000000) + st.st_mtim.tv_nsec;
    if (!p->stated || st.st_size != p->size || mtime != p->mtime_ns) {
        if (p->stated)
            p->changed_at = now;
        p->stated = TRUE;
        p->size = st.st_size;
        p->mtime_ns = mtime;
        return KEEP;
    }
    if (now - p->changed_at < w->settle_us)
        return KEEP;
    /* A link is not watched behind; one to a folder is walked. */
    if (S_ISLNK(st.st_mode) && fstatat(AT_FDCWD, full, &st, 0) == 0 && S_ISDIR(st.st_mode))
        return SETTLED_FOLDER;
    return SETTLED_FILE;
}

static void settle(DfsWatch *w, gint64 now)
{
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, w->pending);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        Verdict v = check_pending(w, key, value, now);
        if (v == SETTLED_FILE || v == SETTLED_FOLDER)
            batch_add(w, v == SETTLED_FILE ? DFS_CHANGE_FILE : DFS_CHANGE_FOLDER, key,
                      v == SETTLED_FOLDER);
        if (v != KEEP)
            g_hash_table_iter_remove(&it);
    }
    w->next_check = now + w->check_us;
}

/* --- events -------------------------------------------------------------- */

static void file_event(DfsWatch *w, guint32 mask, const char *rel)
{
    if (mask & (IN_DELETE | IN_MOVED_FROM)) {
        /* Also a temporary name renamed away: the caller ignores a path it
         * does not know. */
        g_hash_table_remove(w->pending, rel);
        batch_add(w, DFS_CHANGE_GONE, rel, FALSE);
    } else if (mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
        g_hash_table_remove(w->pending, rel);
        batch_add(w, DFS_CHANGE_FILE, rel, FALSE);
    } else if (mask & (IN_CREATE | IN_MODIFY | IN_ATTRIB)) {
        /* Still being written, or changed with no close to come (a hard
         * link, a touch): reported once it settles or closes. */
        pending_touch(w, rel);
    }
}

static void folder_event(DfsWatch *w, Folder *parent, guint32 mask, const char *rel)
{
    if (mask & (IN_DELETE | IN_MOVED_FROM)) {
        Folder *f = g_hash_table_lookup(w->by_path, rel);
        if (f != NULL)
            forget(w, f, TRUE);
        batch_add(w, DFS_CHANGE_GONE, rel, TRUE);
    } else if ((mask & (IN_CREATE | IN_MOVED_TO)) ||
               ((mask & IN_ATTRIB) && !g_hash_table_contains(w->by_path, rel))) {
        /* Made, moved in, or readable now: watched before it is reported,
         * so that the caller's walk of it misses nothing. */
        if (add_tree(w, rel, parent, FALSE))
            batch_add(w, DFS_CHANGE_FOLDER, rel, TRUE);
    }
}

/* An event about a watched folder itself. */
static void self_event(DfsWatch *w, Folder *f, guint32 mask)
{
    g_autofree char *rel = g_strdup(f->rel);
    Folder *parent = f->parent;
    if (mask & IN_IGNORED) {
        forget(w, f, FALSE); /* the kernel dropped the watch: deleted or unmounted */
    } else if (mask & IN_DELETE_SELF) {
        batch_add(w, DFS_CHANGE_GONE, rel, TRUE);
        forget(w, f, FALSE);
    } else if (mask & IN_UNMOUNT) {
        /* The folder under the mount shows through: watch and walk it. */
        forget(w, f, FALSE);
        add_tree(w, rel, parent, FALSE);
        batch_add(w, DFS_CHANGE_FOLDER, rel, TRUE);
    } else if ((mask & IN_MOVE_SELF) && rel[0] == '\0') {
        /* The root moved away: the source's path leads elsewhere now.  A
         * folder under it that moved is reported by its parent's event. */
        batch_add(w, DFS_CHANGE_FOLDER, "", TRUE);
    }
}

static void handle_event(DfsWatch *w, const struct inotify_event *ev)
{
    if (ev->mask & IN_Q_OVERFLOW) {
        lost(w);
        w->resync_due = TRUE;
        return;
    }
    Folder *f = g_hash_table_lookup(w->by_wd, GINT_TO_POINTER(ev->wd));
    if (f == NULL)
        return; /* a watch forgotten already, its folder reported then */
    if (ev->mask & (IN_IGNORED | IN_UNMOUNT | IN_DELETE_SELF | IN_MOVE_SELF)) {
        self_event(w, f, ev->mask);
        return;
    }
    if (ev->len == 0)
        return; /* the folder's own attributes */
    g_string_assign(w->rel, f->rel);
    if (f->rel[0])
        g_string_append_c(w->rel, '/');
    g_string_append(w->rel, ev->name);
    if (ev->mask & IN_ISDIR)
        folder_event(w, f, ev->mask, w->rel->str);
    else
        file_event(w, ev->mask, w->rel->str);
}

/* Read what is queued, a bounded number of reads, so that a constant stream
 * still lets batches go out on time. */
static void read_events(DfsWatch *w)
{
    for (guint turn = 0; turn < READS_PER_TURN; turn++) {
        ssize_t n = read(w->ifd, w->buf, READ_BYTES);
        if (n <= 0)
            return; /* EAGAIN: all read */
        for (ssize_t at = 0; at + (ssize_t)sizeof(struct inotify_event) <= n;) {
            const struct inotify_event *ev = (const void *)(w->buf + at);
            handle_event(w, ev);
            w->counts.events++;
            at += (ssize_t)(sizeof(struct inotify_event) + ev->len);
        }
    }
}

/* --- the thread ---------------------------------------------------------- */

/* Milliseconds until a batch is due or unsettled files are to be checked;
 * -1 when nothing waits. */
static int next_timeout(DfsWatch *w)
{
    gint64 due = G_MAXINT64;
    if (g_hash_table_size(w->batch) > 0)
        due = MIN(w->batch_last + QUIET_US, w->batch_first + MAX_DELAY_US);
    if (g_hash_table_size(w->pending) > 0)
        due = MIN(due, w->next_check);
    if (due == G_MAXINT64)
        return -1;
    gint64 left = due - g_get_monotonic_time();
    return left <= 0 ? 0 : (int)MIN((left + 999) / 1000, G_MAXINT);
}

static gpointer watch_thread(gpointer data)
{
    DfsWatch *w = data;
    for (;;) {
        struct pollfd fds[2] = {{.fd = w->ifd, .events = POLLIN}, {.fd = w->efd, .events = POLLIN}};
        if (poll(fds, 2, next_timeout(w)) < 0 && errno != EINTR && errno != ENOMEM) {
            g_warning("watch of %s stopped: poll: %s", w->root, g_strerror(errno));
            break;
        }
        if (fds[1].revents)
            break;
        if (fds[0].revents & POLLIN)
            read_events(w);
        if (w->resync_due)
            resync(w);
        gint64 now = g_get_monotonic_time();
        if (g_hash_table_size(w->pending) > 0 && now >= w->next_check)
            settle(w, now);
        if (batch_due(w, now))
            flush(w);
        publish_stats(w);
    }
    return NULL;
}

DfsWatch *dfs_watch_new(const char *root, guint settle_ms, DfsWatchFunc fn, gpointer user,
                        GError **error)
{
    return dfs_watch_new_full(root, settle_ms, 0, fn, user, error);
}

/* A watch with its tables, not watching anything yet. */
static DfsWatch *watch_alloc(char *real, guint settle_ms, guint max_watches)
{
    DfsWatch *w = g_new0(DfsWatch, 1);
    w->root = real;
    w->settle_us = (gint64)settle_ms * 1000;
    w->check_us = MAX(w->settle_us / 4, MIN_CHECK_US);
    w->max_watches = max_watches;
    w->ifd = w->efd = -1;
    w->by_wd = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, folder_free);
    w->by_path = g_hash_table_new(g_str_hash, g_str_equal);
    w->pending = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    w->batch = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    w->rel = g_string_sized_new(256);
    w->buf = g_malloc(READ_BYTES);
    g_mutex_init(&w->lock);
    return w;
}

DfsWatch *dfs_watch_new_full(const char *root, guint settle_ms, guint max_watches, DfsWatchFunc fn,
                             gpointer user, GError **error)
{
    g_return_val_if_fail(root != NULL && fn != NULL, NULL);
    char *real = realpath(root, NULL);
    if (real == NULL) {
        int err = errno;
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "%s: %s", root, g_strerror(err));
        return NULL;
    }
    g_autoptr(DfsWatch) w = watch_alloc(g_strdup(real), settle_ms, max_watches);
    free(real);
    w->fn = fn;
    w->user = user;
    w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->ifd < 0 || w->efd < 0) {
        int err = errno;
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "cannot start inotify: %s%s", g_strerror(err),
                    err == EMFILE ? " (fs.inotify.max_user_instances)" : "");
        return NULL;
    }
    add_tree(w, "", NULL, FALSE);
    if (!g_hash_table_contains(w->by_path, "")) {
        int err = errno;
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "cannot watch %s: %s%s", root, g_strerror(err),
                    err == ENOSPC ? " (fs.inotify.max_user_watches)" : "");
        return NULL;
    }
    publish_stats(w);
    w->thread = g_thread_try_new("dfs-watch", watch_thread, w, error);
    if (w->thread == NULL)
        return NULL;
    return g_steal_pointer(&w);
}

void dfs_watch_stats(DfsWatch *w, DfsWatchStats *out)
{
    g_mutex_lock(&w->lock);
    *out = w->stats;
    g_mutex_unlock(&w->lock);
}

void dfs_watch_free(DfsWatch *w)
{
    if (w == NULL)
        return;
    if (w->thread != NULL) {
        guint64 one = 1;
        ssize_t r = write(w->efd, &one, sizeof one); /* cannot fail below 2^64 - 1 */
        (void)r;
        g_thread_join(w->thread);
    }
    if (w->ifd >= 0)
        close(w->ifd); /* drops every watch */
    if (w->efd >= 0)
        close(w->efd);
    g_hash_table_destroy(w->by_path);
    g_hash_table_destroy(w->by_wd);
    g_hash_table_destroy(w->pending);
    g_hash_table_destroy(w->batch);
    g_string_free(w->rel, TRUE);
    g_free(w->buf);
    g_mutex_clear(&w->lock);
    g_free(w->root);
    g_free(w);
}
