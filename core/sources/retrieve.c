/* dicomfs core: series retrieved in one request, in the background.  See
 * retrieve.h. */
#define _GNU_SOURCE
#include "sources/retrieve.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "dicom/reader.h"
#include "dicom/tags.h"
#include "sources/wado.h"

/* Retrieves running at once, at most. */
#define MAX_RUNNING 2

/* Pixel bytes less than this are kept (no hole punched). */
#define HOLE_MIN (64u << 10)

typedef enum {
    RUN_FIRST,   /* one instance wanted (fetched alone): not started */
    RUN_RUNNING,
    RUN_STOPPED, /* stopped idle: a want starts it again */
    RUN_DONE,    /* ended (whole or not): never again */
} RunState;

typedef struct {
    DfsRetriever *r;
    char *prefix;
    char *first;      /* RUN_FIRST: the instance wanted */
    DfsKeep keep;
    RunState state;
    gint stop;        /* set: the transfer ends at its next piece */
    gboolean idle;    /* ... because nobody wanted its headers */
    gint64 last_want; /* monotonic, us */
    guint waiters;
    GThread *thread;  /* the last started, joined before the next or at the end */
} Run;

struct _DfsRetriever {
    DfsHttp *http;
    DfsWebCache *cache;
    char *url;
    gint64 idle_us; /* a retrieve of headers nobody wanted one of for this long stops */
    DfsRetrieveErrorFunc on_error;
    gpointer user;
    GMutex lock;
    GCond arrived;     /* a part filed, or a retrieve ended */
    GHashTable *runs;  /* prefix -> Run */
    guint running;
    gboolean stopping;
    DfsRetrieverStats stats;
};

char *dfs_retriever_header_key(const char *relpath)
{
    return g_strconcat(relpath, "#header", NULL);
}

static void run_free(gpointer data)
{
    Run *run = data;
    if (run->thread != NULL)
        g_thread_join(run->thread);
    g_free(run->prefix);
    g_free(run->first);
    g_free(run);
}

DfsRetriever *dfs_retriever_new(DfsHttp *http, DfsWebCache *cache, const char *base_url,
                                guint idle_ms, DfsRetrieveErrorFunc on_error, gpointer user)
{
    DfsRetriever *r = g_new0(DfsRetriever, 1);
    r->idle_us = (gint64)(idle_ms ? idle_ms : DFS_RETRIEVE_IDLE_MS) * 1000;
    r->http = http;
    r->cache = cache;
    r->url = g_strdup(base_url);
    r->on_error = on_error;
    r->user = user;
    g_mutex_init(&r->lock);
    g_cond_init(&r->arrived);
    r->runs = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, run_free);
    return r;
}

void dfs_retriever_free(DfsRetriever *r)
{
    if (r == NULL)
        return;
    g_mutex_lock(&r->lock);
    r->stopping = TRUE;
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, r->runs);
    while (g_hash_table_iter_next(&it, NULL, &value))
        g_atomic_int_set(&((Run *)value)->stop, 1);
    g_mutex_unlock(&r->lock);
    g_hash_table_unref(r->runs); /* joins each thread */
    g_cond_clear(&r->arrived);
    g_mutex_clear(&r->lock);
    g_free(r->url);
    g_free(r);
}

/* Which of path's bytes can go: [*from, *to), its Pixel Data value less
 * the partial pages at each end, or FALSE to keep it whole (no Pixel
 * Data, or less than HOLE_MIN of it).  A native value's elements after it
 * (padding, signatures: tags/ shows them) are kept; an encapsulated one
 * goes to the end (the header-only read cannot tell what follows it, and
 * its file is read whole only for its frames).  *uid: its SOP Instance
 * UID. */
static gboolean pixel_bytes(const char *path, guint64 size, GString *uid, guint64 *from,
                            guint64 *to)
{
    g_autoptr(DfsDataset) ds = dfs_read_file(path, DFS_READ_HEADER_ONLY, NULL);
    if (ds == NULL || !dfs_dataset_append_string(ds, DFS_ROOT, DFS_TAG_SOP_INSTANCE_UID, uid))
        return FALSE;
    guint px = dfs_dataset_pixel_data(ds);
    if (px == DFS_NO_INDEX)
        return FALSE;
    const DfsElement *e = dfs_dataset_element(ds, px);
    const guint64 page = 4096;
    *from = (e->offset + page - 1) / page * page;
    *to = e->length == DFS_UNDEFINED_LENGTH || e->offset + e->length >= size
              ? size
              : (e->offset + e->length) / page * page;
    return *to >= *from + HOLE_MIN;
}

/* A part has come whole: filed in the cache under its instance's key. */
static gboolean file_part(const char *path, gpointer user, GError **error)
{
    Run *run = user;
    DfsRetriever *r = run->r;
    struct stat st;
    g_autoptr(GString) uid = g_string_new(NULL);
    guint64 from = 0, to = 0;
    gboolean punch = stat(path, &st) == 0 && pixel_bytes(path, (guint64)st.st_size, uid, &from, &to);
    if (uid->len == 0) {
        g_unlink(path); /* not an instance we can name */
        return TRUE;
    }
    g_autofree char *relpath = g_strdup_printf("%s/instances/%s", run->prefix, uid->str);
    g_autofree char *key = NULL;
    if (run->keep == DFS_KEEP_HEADERS && punch) {
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd >= 0 && fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)from,
                                 (off_t)(to - from)) == 0)
            key = dfs_retriever_header_key(relpath);
        if (fd >= 0)
            close(fd);
    }
    dfs_web_cache_put(r->cache, key != NULL ? key : relpath, path);
    g_mutex_lock(&r->lock);
    if (key != NULL)
        r->stats.parts_header++;
    else
        r->stats.parts_whole++;
    if (run->keep == DFS_KEEP_HEADERS && run->waiters == 0 &&
        g_get_monotonic_time() - run->last_want > r->idle_us) {
        run->idle = TRUE;
        g_atomic_int_set(&run->stop, 1);
    }
    g_cond_broadcast(&r->arrived);
    g_mutex_unlock(&r->lock);
    (void)error;
    return TRUE;
}

static gpointer run_thread(gpointer data)
{
    Run *run = data;
    DfsRetriever *r = run->r;
    g_autofree char *url = g_strdup_printf("%s/%s", r->url, run->prefix);
    g_autoptr(GError) error = NULL;
    gboolean ok = dfs_wado_series(r->http, url, dfs_web_cache_dir(r->cache), file_part, run,
                                  &run->stop, &error);
    g_mutex_lock(&r->lock);
    gboolean report = !ok && !g_atomic_int_get(&run->stop);
    run->state = !ok && run->idle && !r->stopping ? RUN_STOPPED : RUN_DONE;
    if (run->state == RUN_STOPPED)
        r->stats.stopped_idle++;
    else if (!ok && !r->stopping)
        r->stats.failed++;
    r->running--;
    g_cond_broadcast(&r->arrived);
    g_mutex_unlock(&r->lock);
    if (report && r->on_error != NULL)
        r->on_error(error, r->user); /* what came whole is kept; the rest, one at a time */
    return NULL;
}

/* Is relpath there as run keeps it (lock held; the cache has its own)? */
static gboolean arrived(DfsRetriever *r, const Run *run, const char *relpath,
                        const char *header_key)
{
    guint64 size;
    return dfs_web_cache_size(r->cache, relpath, &size) ||
           (run->keep == DFS_KEEP_HEADERS && dfs_web_cache_size(r->cache, header_key, &size));
}

/* Start run's retrieve (lock held), unless too many run. */
static void start(DfsRetriever *r, Run *run)
{
    if (r->stopping || r->running >= MAX_RUNNING)
        return;
    if (run->thread != NULL) /* stopped idle: its thread has ended */
        g_thread_join(run->thread);
    run->state = RUN_RUNNING;
    run->idle = FALSE;
    g_atomic_int_set(&run->stop, 0);
    r->running++;
    if (run->keep == DFS_KEEP_WHOLE)
        r->stats.whole++;
    else
        r->stats.headers++;
    run->thread = g_thread_new("retrieve", run_thread, run);
}

gboolean dfs_retriever_wait(DfsRetriever *r, const char *prefix, DfsKeep keep,
                            const char *relpath, guint wait_ms)
{
    g_autofree char *header_key = dfs_retriever_header_key(relpath);
    gint64 now = g_get_monotonic_time();
    gint64 deadline = wait_ms == G_MAXUINT ? G_MAXINT64 : now + (gint64)wait_ms * 1000;
    g_mutex_lock(&r->lock);
    Run *run = g_hash_table_lookup(r->runs, prefix);
    if (run == NULL) {
        run = g_new0(Run, 1);
        run->r = r;
        run->prefix = g_strdup(prefix);
        run->keep = keep;
        run->state = RUN_FIRST;
        run->first = g_strdup(relpath);
        g_hash_table_insert(r->runs, run->prefix, run);
    }
    run->last_want = now;
    gboolean wanted_again = strcmp(run->first, relpath) != 0;
    if ((run->state == RUN_FIRST && (keep == DFS_KEEP_WHOLE || wanted_again)) ||
        run->state == RUN_STOPPED)
        start(r, run);
    gboolean there = arrived(r, run, relpath, header_key);
    run->waiters++;
    while (!there && run->state == RUN_RUNNING) {
        if (!g_cond_wait_until(&r->arrived, &r->lock, deadline))
            break;
        there = arrived(r, run, relpath, header_key);
    }
    run->waiters--;
    run->last_want = g_get_monotonic_time();
    g_mutex_unlock(&r->lock);
    return there;
}

void dfs_retriever_stats(DfsRetriever *r, DfsRetrieverStats *out)
{
    g_mutex_lock(&r->lock);
    *out = r->stats;
    g_mutex_unlock(&r->lock);
}
