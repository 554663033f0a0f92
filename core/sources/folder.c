/* dicomfs core: a folder of files as a source: walked and read by the
 * catalog's scan (catalog/scan.h), each instance's bytes its own file.
 *
 * When a walk first goes into an instance of a series, the first 8 KiB of
 * the series' files (where their headers are) are read into the page cache
 * in the background, 64 files a submission (catalog/batch.h): a walk of a fresh
 * mount (ls -R, find) then lists each instance's folder and tags/ from
 * cached headers, where it would otherwise wait for one disk read at a
 * time.  One thread does it; requests beyond a few series waiting are
 * dropped, and at most PREFETCH_MAX files a series are read.  Without
 * io_uring nothing is read ahead. */
#include "sources/source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "catalog/batch.h"

extern const DfsSourceClass dfs_source_folder;

#define PREFETCH_MAX 4096u    /* files of one series read ahead, at most */
#define PREFETCH_WAITING 16   /* series waiting; more are dropped */
#define PREFETCH_SEEN 65536u  /* series remembered as read ahead */

typedef struct {
    DfsSource base;
    int dirfd;             /* the folder, for the reads ahead; -1: none */
    GMutex lock;           /* what follows */
    GThread *thread;       /* started at the first series walked into */
    DfsBatch *batch;       /* the thread's (made with it) */
    gboolean no_batches;   /* io_uring is not there: nothing is read ahead */
    GAsyncQueue *queue;    /* GPtrArray of relpaths; an empty one: stop */
    GHashTable *seen;      /* the first relpath of each series read ahead */
    guint64 prefetched;    /* files read ahead */
} Folder;

static gboolean folder_claims(const char *arg)
{
    (void)arg;
    return TRUE;
}

static DfsSource *folder_open(const char *arg, const DfsSourceOptions *o, GError **error)
{
    (void)o;
    char *real = realpath(arg, NULL);
    struct stat st;
    if (real == NULL || stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
        int err = errno;
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "source %s: %s", arg,
                    real == NULL ? g_strerror(err) : "not a folder");
        free(real);
        return NULL;
    }
    Folder *f = g_new0(Folder, 1);
    dfs_source_init(&f->base, &dfs_source_folder, real, real);
    f->base.is_local = TRUE;
    f->dirfd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    g_mutex_init(&f->lock);
    f->seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    free(real);
    return &f->base;
}

static DfsScan *folder_scan_new(DfsSource *src, DfsStore *store, const DfsScanSink *sink,
                                gpointer user)
{
    return dfs_scan_new(src->location, store, sink, user);
}

static char *folder_instance_path(DfsSource *src, const DfsIndex *idx, guint node, GError **error)
{
    (void)error;
    return g_build_filename(src->location, dfs_index_relpath(idx, node), NULL);
}

/* The reads ahead: each series' files, a batch at a time, read through the
 * page cache and let go (opened beneath the folder, as the scan opens). */
static gpointer prefetch_thread(gpointer data)
{
    Folder *f = data;
    DfsBatch *b = f->batch;
    for (;;) {
        g_autoptr(GPtrArray) paths = g_async_queue_pop(f->queue);
        if (paths->len == 0)
            return NULL;
        DfsBatchFile files[DFS_BATCH_MAX];
        for (guint i = 0; i < paths->len; i += DFS_BATCH_MAX) {
            guint n = MIN(DFS_BATCH_MAX, paths->len - i);
            for (guint j = 0; j < n; j++)
                files[j].relpath = paths->pdata[i + j];
            dfs_batch_read(b, f->dirfd, files, n, TRUE);
            dfs_batch_close(b, files, n);
        }
        g_mutex_lock(&f->lock);
        f->prefetched += paths->len;
        g_mutex_unlock(&f->lock);
    }
}

static void folder_prefetch(DfsSource *src, const DfsIndex *idx, guint series)
{
    Folder *f = (Folder *)src;
    guint n;
    const guint32 *kids = dfs_index_children(idx, series, &n);
    if (f->dirfd < 0 || n == 0 || dfs_index_level(idx, kids[0]) != DFS_LEVEL_INSTANCE)
        return;
    const char *first = dfs_index_relpath(idx, kids[0]);
    g_mutex_lock(&f->lock);
    if (f->thread == NULL && !f->no_batches) {
        const char *why;
        f->batch = dfs_batch_new(&why);
        f->no_batches = f->batch == NULL;
        if (f->batch != NULL) {
            f->queue = g_async_queue_new_full((GDestroyNotify)g_ptr_array_unref);
            f->thread = g_thread_new("prefetch", prefetch_thread, f);
        }
    }
    gboolean wanted = f->thread != NULL && !g_hash_table_contains(f->seen, first) &&
                      g_async_queue_length(f->queue) < PREFETCH_WAITING;
    if (wanted) {
        if (g_hash_table_size(f->seen) >= PREFETCH_SEEN)
            g_hash_table_remove_all(f->seen);
        g_hash_table_add(f->seen, g_strdup(first));
    }
    g_mutex_unlock(&f->lock);
    if (!wanted)
        return;
    GPtrArray *paths = g_ptr_array_new_full(MIN(n, PREFETCH_MAX), g_free);
    for (guint k = 0; k < n && paths->len < PREFETCH_MAX; k++)
        g_ptr_array_add(paths, g_strdup(dfs_index_relpath(idx, kids[k])));
    g_async_queue_push(f->queue, paths);
}

static void folder_write_status(DfsSource *src, GString *out)
{
    Folder *f = (Folder *)src;
    g_mutex_lock(&f->lock);
    g_string_append_printf(out, "headers read ahead: %" G_GUINT64_FORMAT " files, as walks went into their series\n",
                           f->prefetched);
    g_mutex_unlock(&f->lock);
}

static void folder_free(DfsSource *src)
{
    Folder *f = (Folder *)src;
    if (f->thread != NULL) {
        /* What waits is dropped; the stop goes first in line. */
        GPtrArray *left;
        while ((left = g_async_queue_try_pop(f->queue)) != NULL)
            g_ptr_array_unref(left);
        g_async_queue_push_front(f->queue, g_ptr_array_new());
        g_thread_join(f->thread);
        g_async_queue_unref(f->queue);
        dfs_batch_free(f->batch);
    }
    if (f->dirfd >= 0)
        close(f->dirfd);
    g_hash_table_unref(f->seen);
    g_mutex_clear(&f->lock);
    dfs_source_clear(src);
    g_free(f);
}

const DfsSourceClass dfs_source_folder = {
    .kind = "folder",
    .claims = folder_claims,
    .open = folder_open,
    .scan_new = folder_scan_new,
    .instance_path = folder_instance_path,
    .prefetch = folder_prefetch,
    .write_status = folder_write_status,
    .free = folder_free,
};
