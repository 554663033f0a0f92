/* dicomfs core: scanning a source folder into an index.  See scan.h. */
#define _GNU_SOURCE /* O_NOATIME */
#include "catalog/scan.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <linux/openat2.h>
#include <malloc.h>
#include <sys/syscall.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/error.h"
#include "dicom/input.h"
#include "dicom/reader.h"
#include "catalog/batch.h"
#include "catalog/image.h"
#include "catalog/walk.h"

/* Header reads kept in flight at once: a disk answers faster at a deep
 * queue than one read at a time, and a warm cache uses both cores.  (A
 * cold scan of 100,000 files here: 7.7 s with 8, 7.25 s with 32, 7.22 s
 * with 64.) */
#define SCAN_THREADS 32

/* Readers reading in batches (batch.h): each keeps DFS_BATCH_MAX reads in
 * flight, and parses on a core; more would only wait for the cores. */
#define BATCH_READERS 4

/* How much lower the readers' priority is than the scan thread's. */
#define READER_NICENESS 5

/* Items live in chunks that never move, so readers and the filing thread
 * reach them without a lock while the walk adds more. */
#define CHUNK_BITS 12
#define CHUNK_ITEMS (1u << CHUNK_BITS)
#define MAX_CHUNKS (1u << 18) /* a billion entries */

/* Items waiting before a sleeping reader is woken (the end of the walk
 * wakes them all). */
#define WAKE_BACKLOG 16

/* Read facts wait to be filed in walk order: readers stay at most this
 * many items ahead of the filing, and the walk this many ahead of it, so
 * memory does not grow with the source when reading outpaces filing. */
#define READ_AHEAD 8192u
#define WALK_AHEAD 65536u

/* What a reader's claim gives when there is nothing more to read. */
#define NO_MORE G_MAXUINT

/* Snapshots are published at most this often, and never taking more than a
 * fifth of the scan's time. */
#define PUBLISH_EVERY_US 250000

/* What the persistent index knew of a file at the start. */
typedef struct {
    gint64 row;      /* in the store */
    guint64 size;
    gint64 mtime_ns;
    gboolean usable; /* facts or a reason were stored and parse */
    gboolean seen;   /* the walk met it */
    char relpath[];  /* the key */
} Known;

/* An entry met by the walk that has to be filed: a new or changed file
 * (read by a worker), or an entry that is not a file to read. */
typedef struct {
    char *reason;     /* why it is skipped (walk, or a failed read) */
    struct stat st;
    DfsFacts *facts;  /* what the read found, for files */
    gboolean is_file;
    gboolean folder;  /* a listed study's facts: stored, not counted as a file */
    gboolean stat_pending; /* st is the reader's to fill, from the open file */
    gboolean batched; /* its first bytes came in a batch (batch.h) */
    gint64 replaces;  /* the store's row of an older version, or 0 */
    gint ready;       /* the read is done (files only; atomic) */
    char relpath[];
} Item;

/* A builder costs about 570 bytes an instance: kept after a scan (for a
 * tree that follows changes) up to this many instances, about 57 MB. */
#define KEEP_BUILDER_MAX 100000

struct _DfsScan {
    char *source;
    int source_fd;   /* files open relative to it: fewer path components to look up */
    DfsStore *store; /* or NULL */
    gboolean store_open; /* a transaction is open */
    const DfsScanSink *sink;
    gpointer user;
    DfsIndexBuilder *b;
    char *image_path;  /* the store's image (image.h), or NULL without a store */
    DfsIndex *image;   /* mapped at the start, until the source proves changed */
    guint matched;     /* entries the check found in the image */
    gboolean changed;  /* the check met an entry the image does not have */
    GHashTable *known; /* relpath -> Known */
    GArray *stale_rows; /* gint64: stored rows of a file stored again later */
    DfsScanCounts c;
    /* The walk appends items; readers claim them in order (and read the files);
     * the scan's thread files them in order as their reads end.  The
     * counters are atomic, and a thread sleeps only when it has nothing to
     * do: the others wake it only if it said so (sleepers, filer_waits). */
    Item ***chunks;   /* MAX_CHUNKS slots; a chunk is freed once filed */
    guint n_items;    /* published by the walk */
    guint next_read;  /* the first item no reader has claimed */
    guint next;       /* the first item not filed yet (atomic for readers) */
    gint readers_stop; /* the walk is over (or cancelled): no more items */
    gint dropping;    /* cancelled: claimed reads are dropped */
    gint sleepers;    /* readers waiting for items, or for the filing */
    gint throttled;   /* of them, readers READ_AHEAD ahead of the filing */
    gint filer_waits; /* the scan's thread waits for a read to end */
    GMutex lock;      /* for the sleeps only */
    GCond work, done;
    GThread *readers[SCAN_THREADS];
    gboolean batches; /* readers read in batches (batch.h) */
    gint64 last_publish, publish_cost;
    gboolean keep_builder;  /* hand the finished builder over (dfs_scan_take_builder) */
    DfsIndexBuilder *kept;
    /* A source whose listing brings each instance's facts (nothing to
     * read: no readers run), or NULL for a folder walked on disk. */
    const DfsScanLister *lister;
    gpointer lister_self;
    guint trust_listing_s; /* dfs_scan_trust_listing */
};
typedef struct _DfsScan Scan;

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

char *dfs_scan_damage(const DfsDataset *ds)
{
    g_autofree char *damage = dfs_dataset_damage_text(ds);
    return damage == NULL ? NULL : g_strconcat(damage, " (shown with what could be read)", NULL);
}

static Item *item_new(const char *relpath)
{
    gsize n = strlen(relpath) + 1;
    Item *it = g_malloc0(sizeof(Item) + n);
    memcpy(it->relpath, relpath, n);
    return it;
}

static void item_free(gpointer p)
{
    Item *it = p;
    if (it == NULL)
        return;
    g_free(it->reason);
    dfs_facts_free(it->facts);
    g_free(it);
}

static Item *item_at(Scan *s, guint k)
{
    return s->chunks[k >> CHUNK_BITS][k & (CHUNK_ITEMS - 1)];
}

/* relpath under the source folder, never outside it: a link swapped in
 * since the walk (to a file outside) fails with EXDEV instead of being
 * read.  Links that stay inside are followed, as the walk follows them.
 * Kernels before openat2 (5.6) open it plainly. */
static int open_beneath(int dirfd, const char *relpath)
{
    struct open_how how = dfs_batch_open_how();
    int fd = (int)syscall(SYS_openat2, dirfd, relpath, &how, sizeof how);
    if (dfs_input_noatime_refused(fd, (int)how.flags)) {
        how.flags &= ~(guint64)O_NOATIME;
        fd = (int)syscall(SYS_openat2, dirfd, relpath, &how, sizeof how);
    }
    if (fd < 0 && errno == ENOSYS)
        fd = openat(dirfd, relpath, (int)how.flags);
    return fd;
}

/* A reader is done with item it: from here on it is the filer's (which
 * may free it at once), so nothing touches it after. */
static void item_done(Scan *s, Item *it)
{
    g_atomic_int_set(&it->ready, TRUE);
    if (g_atomic_int_get(&s->filer_waits)) {
        g_mutex_lock(&s->lock);
        g_cond_signal(&s->done);
        g_mutex_unlock(&s->lock);
    }
}

/* The facts of a file read (ds), or the reason it fails in *reason. */
static DfsFacts *facts_or_reason(DfsDataset *ds, const GError *error, gboolean known_size,
                                 const struct stat *st, char **reason)
{
    *reason = ds                                        ? dfs_scan_damage(ds)
              : known_size && st->st_size == 0 ? g_strdup("empty file")
                                               : dfs_scan_reason(error);
    return ds ? dfs_facts_new(ds) : NULL;
}

DfsFacts *dfs_scan_read_one(int source_fd, const char *relpath, struct stat *st, gboolean stat_it,
                            char **reason)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsDataset) ds = NULL;
    int fd = open_beneath(source_fd, relpath);
    if (fd < 0)
        g_set_error(&error, DFS_ERROR, DFS_ERROR_IO, "cannot open: %s", g_strerror(errno));
    else if (stat_it && fstat(fd, st) != 0)
        g_set_error(&error, DFS_ERROR, DFS_ERROR_IO, "cannot stat: %s", g_strerror(errno));
    else if (!S_ISREG(st->st_mode))
        g_set_error(&error, DFS_ERROR, DFS_ERROR_IO, "no longer a regular file");
    else
        ds = dfs_read_fd(fd, DFS_READ_HEADER_ONLY | DFS_READ_UNCACHED, &error);
    if (fd >= 0)
        close(fd);
    gboolean known_size = fd >= 0 || !stat_it; /* st holds what it was */
    return facts_or_reason(ds, error, known_size, st, reason);
}

/* A file of a batch, opened and its first bytes read (or not) by it, as
 * dfs_scan_read_one reads one alone. */
static DfsFacts *read_batched(DfsBatchFile *f, struct stat *st, gboolean stat_it, char **reason)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsDataset) ds = NULL;
    gboolean stated = f->step == NULL || !g_str_equal(f->step, "stat");
    if (!stated)
        g_set_error(&error, DFS_ERROR, DFS_ERROR_IO, "cannot stat: %s", g_strerror(f->err));
    else if (!S_ISREG(f->st.st_mode))
        g_set_error(&error, DFS_ERROR, DFS_ERROR_IO, "no longer a regular file");
    else if (f->step != NULL)
        g_set_error(&error, DFS_ERROR, DFS_ERROR_IO, "%s: %s", f->step, g_strerror(f->err));
    else
        ds = dfs_read_loaded(f->fd, (guint64)f->st.st_size, f->data, f->len, f->direct,
                             DFS_READ_HEADER_ONLY, &error);
    if (stat_it && stated)
        *st = f->st;
    return facts_or_reason(ds, error, stated || !stat_it, st, reason);
}

/* A reader: read one file's header into facts, or the reason it fails. */
static void read_one(Scan *s, Item *it)
{
    it->facts = dfs_scan_read_one(s->source_fd, it->relpath, &it->st, it->stat_pending, &it->reason);
    item_done(s, it);
}

/* Items claimed by readers and not filed yet (the filing never passes the
 * claims, but the two counters are read one after the other). */
static gint ahead_of_filing(Scan *s)
{
    gint filed = g_atomic_int_get(&s->next);
    return g_atomic_int_get(&s->next_read) - filed;
}

/* The next items for a reader, at most max of them (*count), or NO_MORE
 * once the walk is over and every item is claimed (or the scan is
 * cancelled). */
static guint claim(Scan *s, guint max, guint *count)
{
    for (;;) {
        guint k = (guint)g_atomic_int_get(&s->next_read);
        if (g_atomic_int_get(&s->dropping))
            return NO_MORE;
        if (k < (guint)g_atomic_int_get(&s->n_items)) {
            if (ahead_of_filing(s) >= (gint)READ_AHEAD) {
                /* Far enough ahead: wait for the filing (file_items wakes). */
                g_mutex_lock(&s->lock);
                g_atomic_int_inc(&s->sleepers);
                g_atomic_int_inc(&s->throttled);
                while (!g_atomic_int_get(&s->dropping) && ahead_of_filing(s) >= (gint)READ_AHEAD)
                    g_cond_wait(&s->work, &s->lock);
                g_atomic_int_add(&s->throttled, -1);
                g_atomic_int_add(&s->sleepers, -1);
                g_mutex_unlock(&s->lock);
                continue;
            }
            /* At most up to the read-ahead bound (the filing may have moved
             * since the check above, either way). */
            gint ahead = CLAMP(ahead_of_filing(s), 0, (gint)READ_AHEAD - 1);
            guint n = MIN(max, (guint)g_atomic_int_get(&s->n_items) - k);
            n = MAX(MIN(n, READ_AHEAD - (guint)ahead), 1);
            if (g_atomic_int_compare_and_exchange(&s->next_read, (gint)k, (gint)(k + n))) {
                *count = n;
                return k;
            }
            continue;
        }
        g_mutex_lock(&s->lock);
        g_atomic_int_inc(&s->sleepers);
        while (!g_atomic_int_get(&s->readers_stop) &&
               (guint)g_atomic_int_get(&s->next_read) >= (guint)g_atomic_int_get(&s->n_items))
            g_cond_wait(&s->work, &s->lock);
        g_atomic_int_add(&s->sleepers, -1);
        gboolean over = g_atomic_int_get(&s->readers_stop) &&
                        (guint)g_atomic_int_get(&s->next_read) >= (guint)g_atomic_int_get(&s->n_items);
        g_mutex_unlock(&s->lock);
        if (over)
            return NO_MORE;
    }
}

/* Items [k, k + n) read in one batch (batch.h): the files among them
 * opened and their first bytes read together, then each parsed; a file
 * the batch could not open is read alone. */
static void read_batch(Scan *s, DfsBatch *b, guint k, guint n)
{
    DfsBatchFile files[DFS_BATCH_MAX];
    Item *items[DFS_BATCH_MAX];
    guint m = 0;
    for (guint i = k; i < k + n; i++) {
        Item *it = item_at(s, i);
        if (!it->is_file) {
            item_done(s, it);
            continue;
        }
        items[m] = it;
        files[m++].relpath = it->relpath;
    }
    dfs_batch_read(b, s->source_fd, files, m, FALSE);
    for (guint j = 0; j < m; j++) {
        Item *it = items[j];
        if (files[j].retry_alone) {
            read_one(s, it);
            continue;
        }
        it->facts = read_batched(&files[j], &it->st, it->stat_pending, &it->reason);
        it->batched = TRUE;
        item_done(s, it);
    }
    dfs_batch_close(b, files, m);
}

static gpointer reader_thread(gpointer data)
{
    Scan *s = data;
    guint k, n;
    /* Readers yield to the scan's thread, which feeds and files them all:
     * with eight of them runnable on two cores it would get a quarter of
     * a core and hold everything up.  (Readers waiting for a disk are not
     * running anyway, so cold scans keep their reads in flight.) */
    id_t tid = (id_t)syscall(SYS_gettid);
    errno = 0;
    int nice = getpriority(PRIO_PROCESS, tid);
    if (errno == 0)
        setpriority(PRIO_PROCESS, tid, MIN(nice + READER_NICENESS, 19));
    const char *why;
    g_autoptr(DfsBatch) b = s->batches ? dfs_batch_new(&why) : NULL;
    while ((k = claim(s, b != NULL ? DFS_BATCH_MAX : 1, &n)) != NO_MORE) {
        if (b != NULL) {
            read_batch(s, b, k, n);
            continue;
        }
        /* Every item passes a reader (entries that are no files to read
         * are only marked done), so the filer never frees one a reader is
         * still looking at. */
        Item *it = item_at(s, k);
        if (it->is_file)
            read_one(s, it);
        else
            item_done(s, it);
    }
    return NULL;
}

/* Readers sleeping on `work` wake up to look again. */
static void wake_readers(Scan *s, gboolean all)
{
    if (!g_atomic_int_get(&s->sleepers))
        return;
    g_mutex_lock(&s->lock);
    if (all)
        g_cond_broadcast(&s->work);
    else
        g_cond_signal(&s->work);
    g_mutex_unlock(&s->lock);
}

static gint64 mtime_ns(const struct stat *st)
{
    return (gint64)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static gboolean cancelled(Scan *s)
{
    return s->sink && s->sink->cancelled && s->sink->cancelled(s->user);
}

/* --- publishing ------------------------------------------------------------ */

static void publish(Scan *s, gboolean done)
{
    if (s->sink == NULL || s->sink->publish == NULL)
        return;
    gint64 t0 = g_get_monotonic_time();
    DfsIndex *idx = dfs_index_builder_snapshot(s->b);
    s->c.indexed = dfs_index_n_instances(idx);
    s->c.skipped = dfs_index_n_skipped(idx) - s->c.others;
    s->last_publish = g_get_monotonic_time();
    s->publish_cost = s->last_publish - t0;
    s->sink->publish(idx, &s->c, done, s->user);
}

static void maybe_publish(Scan *s)
{
    gint64 now = g_get_monotonic_time();
    if (now - s->last_publish >= MAX(PUBLISH_EVERY_US, 4 * s->publish_cost))
        publish(s, FALSE);
}

/* --- the stored index ----------------------------------------------------- */

static void on_row(gint64 row, const char *relpath, guint64 size, gint64 mtime, DfsFacts *facts,
                   const char *reason, gpointer user)
{
    Scan *s = user;
    Known *old = g_hash_table_lookup(s->known, relpath);
    if (old != NULL) { /* a row of the same file again: the later one is kept */
        g_array_append_val(s->stale_rows, old->row);
        dfs_index_builder_remove(s->b, relpath);
    }
    gsize n = strlen(relpath) + 1;
    Known *k = g_malloc(sizeof(Known) + n);
    k->row = row;
    k->size = size;
    k->mtime_ns = mtime;
    k->usable = facts != NULL || reason != NULL;
    k->seen = FALSE;
    memcpy(k->relpath, relpath, n);
    g_hash_table_replace(s->known, k->relpath, k);
    struct stat st = {.st_size = (off_t)size};
    st.st_mtim.tv_sec = mtime / 1000000000;
    st.st_mtim.tv_nsec = mtime % 1000000000;
    if (facts != NULL || reason != NULL)
        dfs_index_builder_file(s->b, relpath, &st, facts, reason);
}

/* Remove row old (if not 0), then put relpath (if st is not NULL). */
static void store_change(Scan *s, gint64 old, const char *relpath, const struct stat *st,
                         const DfsFacts *facts, const char *reason)
{
    if (s->store == NULL)
        return;
    if (!s->store_open)
        dfs_store_begin(s->store);
    s->store_open = TRUE;
    if (old != 0)
        dfs_store_remove(s->store, old);
    if (st != NULL)
        dfs_store_put(s->store, relpath, (guint64)st->st_size, mtime_ns(st), facts, reason);
}

/* --- the walk ------------------------------------------------------------- */

/* File the items in walk order (so names do not depend on thread timing):
 * those whose reads are done, waiting for those before item `until`. */
static void file_items_until(Scan *s, guint until)
{
    while (s->next < s->n_items) {
        Item *it = item_at(s, s->next);
        if (!g_atomic_int_get(&it->ready)) {
            if (s->next >= until)
                return;
            g_mutex_lock(&s->lock);
            g_atomic_int_set(&s->filer_waits, TRUE);
            while (!g_atomic_int_get(&it->ready))
                g_cond_wait(&s->done, &s->lock);
            g_atomic_int_set(&s->filer_waits, FALSE);
            g_mutex_unlock(&s->lock);
        }
        if (it->replaces)
            dfs_index_builder_remove(s->b, it->relpath);
        if (it->is_file)
            store_change(s, it->replaces, it->relpath, &it->st, it->facts, it->reason);
        dfs_index_builder_file(s->b, it->relpath, it->is_file ? &it->st : NULL,
                               g_steal_pointer(&it->facts), it->reason);
        s->c.files_seen += it->is_file && !it->folder;
        s->c.batched += it->batched;
        item_free(it);
        guint k = s->next;
        g_atomic_int_set(&s->next, (gint)k + 1);
        if (((k + 1) & (CHUNK_ITEMS - 1)) == 0) /* the chunk is all filed */
            g_clear_pointer(&s->chunks[k >> CHUNK_BITS], g_free);
        if (((k + 1) & 255) == 0 && g_atomic_int_get(&s->throttled))
            wake_readers(s, TRUE);
        if (s->sink && s->sink->progress)
            s->sink->progress(&s->c, s->user);
        maybe_publish(s);
    }
}

/* File what is ready, or (wait) every item. */
static void file_items(Scan *s, gboolean wait)
{
    file_items_until(s, wait ? G_MAXUINT : 0);
}

static void add_item(Scan *s, Item *it)
{
    guint k = s->n_items;
    if (k >> CHUNK_BITS >= MAX_CHUNKS) { /* not a source one walk could ever end */
        item_free(it);
        return;
    }
    Item **chunk = s->chunks[k >> CHUNK_BITS];
    if (chunk == NULL)
        chunk = s->chunks[k >> CHUNK_BITS] = g_new(Item *, CHUNK_ITEMS);
    chunk[k & (CHUNK_ITEMS - 1)] = it;
    g_atomic_int_set(&s->n_items, (gint)k + 1); /* a full barrier: readers see the item */
    s->c.reads += it->is_file && !it->folder;
    /* A reader that found nothing to do is woken for a handful of items,
     * not for each: a wake-up costs about as much as a read. */
    if (k + 1 - (guint)g_atomic_int_get(&s->next_read) >= WAKE_BACKLOG)
        wake_readers(s, FALSE);
    /* The walk waits for the filing when far ahead of it. */
    file_items_until(s, k + 1 - s->next > WALK_AHEAD ? k + 1 - WALK_AHEAD / 2 : 0);
}

/* A file the walk met; facts (taken), when the listing brings them: its
 * item is ready at once (nothing to read), and they are dropped where the
 * store knows the file unchanged. */
static void file_met(Scan *s, const char *relpath, const struct stat *st, DfsFacts *facts,
                     const char *reason)
{
    gboolean folder = facts != NULL && dfs_facts_is_folder(facts);
    s->c.total += !folder;
    /* st is NULL only on a first scan (dfs_scan_run), which knows no file. */
    Known *k = g_hash_table_lookup(s->known, relpath);
    if (k != NULL) {
        k->seen = TRUE;
        if (k->usable && k->size == (guint64)st->st_size && k->mtime_ns == mtime_ns(st)) {
            /* Unchanged: filed from the store already. */
            s->c.files_seen += !folder;
            if (s->sink && s->sink->progress)
                s->sink->progress(&s->c, s->user);
            dfs_facts_free(facts);
            return;
        }
    }
    Item *it = item_new(relpath);
    if (st != NULL)
        it->st = *st;
    it->stat_pending = st == NULL;
    it->is_file = TRUE;
    it->replaces = k != NULL ? k->row : 0;
    if (s->lister != NULL) {
        it->folder = folder;
        it->facts = facts;
        it->reason = g_strdup(reason);
        it->ready = TRUE;
    }
    add_item(s, it);
}

static void on_file(const char *relpath, const struct stat *st, gpointer user)
{
    file_met(user, relpath, st, NULL, NULL);
}

static void on_skip(const char *relpath, const char *reason, gpointer user)
{
    Scan *s = user;
    Item *it = item_new(relpath);
    it->reason = g_strdup(reason);
    s->c.others++;
    add_item(s, it);
}

static gboolean on_stop(gpointer user)
{
    return cancelled(user);
}

/* Files the store knew that the walk did not meet are gone. */
static void take_out_vanished(Scan *s)
{
    GHashTableIter iter;
    gpointer key, value;
    g_hash_table_iter_init(&iter, s->known);
    while (g_hash_table_iter_next(&iter, &key, &value)) {
        if (((Known *)value)->seen)
            continue;
        dfs_index_builder_remove(s->b, key);
        store_change(s, ((Known *)value)->row, key, NULL, NULL, NULL);
    }
}

/* File what the store knows (nothing if it is damaged: then it is built
 * anew). */
static void load_store(Scan *s)
{
    if (!dfs_store_load(s->store, on_row, s, &s->c.stored)) {
        /* Damaged past its first pages: nothing it said is kept. */
        g_warning("the persistent index is damaged: built anew");
        if (s->keep_builder)
            s->kept = s->b;
        else
            dfs_index_builder_free(s->b);
        s->b = dfs_index_builder_new();
        g_hash_table_remove_all(s->known);
        s->c.stored = 0;
        s->c.store_damaged = TRUE;
        dfs_store_begin(s->store);
        dfs_store_clear(s->store);
        s->store_open = TRUE;
    } else {
        for (guint k = 0; k < s->stale_rows->len; k++)
            store_change(s, g_array_index(s->stale_rows, gint64, k), NULL, NULL, NULL, NULL);
    }
    g_array_set_size(s->stale_rows, 0);
}

static void publish_index(Scan *s, DfsIndex *idx, gboolean done)
{
    if (s->sink && s->sink->publish)
        s->sink->publish(idx, &s->c, done, s->user);
    else if (idx != NULL)
        dfs_index_unref(idx);
}

DfsScan *dfs_scan_new(const char *source, DfsStore *store, const DfsScanSink *sink,
                      gpointer user)
{
    return dfs_scan_new_listed(source, NULL, NULL, store, sink, user);
}

DfsScan *dfs_scan_new_listed(const char *source, const DfsScanLister *lister, gpointer self,
                             DfsStore *store, const DfsScanSink *sink, gpointer user)
{
    Scan *s = g_new0(Scan, 1);
    s->source = g_strdup(source);
    s->lister = lister;
    s->lister_self = self;
    s->source_fd = lister != NULL ? -1 : open(source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    s->store = store;
    s->sink = sink;
    s->user = user;
    s->b = dfs_index_builder_new();
    s->c.listed_ago = -1;
    s->known = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
    s->stale_rows = g_array_new(FALSE, FALSE, sizeof(gint64));
    s->chunks = g_new0(Item **, MAX_CHUNKS);
    g_mutex_init(&s->lock);
    g_cond_init(&s->work);
    g_cond_init(&s->done);
    if (store != NULL) {
        s->image_path = dfs_image_path(dfs_store_path(store));
        s->image = dfs_image_map(s->image_path, dfs_store_stamp(store), NULL);
    }
    if (s->image != NULL) {
        /* The stored tree as it was last shown, with no work per file:
         * the walk checks it, and only a change loads the store. */
        s->c.mapped = TRUE;
        s->c.stored = dfs_image_n_entries(s->image);
        s->c.indexed = dfs_index_n_instances(s->image);
        publish_index(s, dfs_index_ref(s->image), FALSE);
        return s;
    }
    if (store != NULL) {
        load_store(s);
        s->c.loaded = s->c.stored;
    }
    /* What the store knew, at once: the walk corrects it. */
    publish(s, FALSE);
    return s;
}

void dfs_scan_free(DfsScan *s)
{
    if (s == NULL)
        return;
    dfs_index_builder_free(s->b);
    dfs_index_builder_free(s->kept);
    dfs_index_unref(s->image);
    g_free(s->image_path);
    g_hash_table_unref(s->known);
    g_array_unref(s->stale_rows);
    for (guint k = s->next; k < s->n_items; k++) /* left by a cancelled scan */
        item_free(item_at(s, k));
    for (guint c = 0; c < MAX_CHUNKS && c <= s->n_items >> CHUNK_BITS; c++)
        g_free(s->chunks[c]);
    g_free(s->chunks);
    if (s->source_fd >= 0)
        close(s->source_fd);
    g_cond_clear(&s->done);
    g_cond_clear(&s->work);
    g_mutex_clear(&s->lock);
    g_free(s->source);
    g_free(s);
}

/* --- the mapped image ----------------------------------------------------- */

static void check_file(const char *relpath, const struct stat *st, gpointer user)
{
    Scan *s = user;
    s->c.total++;
    s->c.files_seen++;
    if (dfs_image_has_file(s->image, relpath, (guint64)st->st_size, mtime_ns(st)))
        s->matched++;
    else
        s->changed = TRUE;
    if (s->sink && s->sink->progress)
        s->sink->progress(&s->c, s->user);
    gint64 now = g_get_monotonic_time();
    if (now - s->last_publish >= PUBLISH_EVERY_US) { /* the status alone */
        s->last_publish = now;
        publish_index(s, NULL, FALSE);
    }
}

static void check_skip(const char *relpath, const char *reason, gpointer user)
{
    Scan *s = user;
    s->c.others++;
    if (dfs_image_has_skip(s->image, relpath, reason))
        s->matched++;
    else
        s->changed = TRUE;
}

static gboolean check_stop(gpointer user)
{
    Scan *s = user;
    return s->changed || cancelled(s);
}

/* Walk the source against the mapped image: TRUE when nothing changed (it
 * is published as the finished index).  Otherwise the store is loaded (its
 * builder numbers the nodes as the image does) for the scan proper. */
static gboolean check_listed(gpointer user, const char *relpath, const struct stat *st,
                             DfsFacts *facts, const char *reason)
{
    gboolean folder = facts != NULL && dfs_facts_is_folder(facts);
    dfs_facts_free(facts);
    if (relpath == NULL || folder) /* no entry of the tree's */
        return !check_stop(user);
    if (facts != NULL || reason == NULL)
        check_file(relpath, st, user);
    else
        check_skip(relpath, reason, user);
    return !check_stop(user);
}

static gboolean scan_listed(gpointer user, const char *relpath, const struct stat *st,
                            DfsFacts *facts, const char *reason)
{
    Scan *s = user;
    if (relpath == NULL) { /* the lister asks that what it gave be shown now */
        file_items(s, TRUE);
        publish(s, FALSE);
        return !cancelled(s);
    }
    if (facts == NULL && reason != NULL && st == NULL)
        on_skip(relpath, reason, s);
    else
        file_met(s, relpath, st, facts, reason);
    return !cancelled(s);
}

/* The source's entries, from the walk of its folder or from its lister. */
static gboolean walk_source(Scan *s, const DfsWalkCallbacks *cb, DfsScanFound found,
                            GError **error)
{
    if (s->lister != NULL)
        return s->lister->list(s->lister_self, found, s, error);
    return s->source_fd >= 0 && dfs_walk(s->source, cb, s, error);
}

/* The image is the source as it is: the tree, done. */
static void show_image(Scan *s)
{
    s->c.walked = TRUE;
    dfs_image_forget_pages(s->image);
    s->c.skipped = dfs_index_n_skipped(s->image) - s->c.others;
    publish_index(s, dfs_index_ref(s->image), TRUE);
}

/* A listed source's image whose listing is younger than the time it is
 * trusted for: shown as it is, the source not asked. */
static gboolean listing_trusted(Scan *s)
{
    if (s->lister == NULL || s->trust_listing_s == 0)
        return FALSE;
    gint64 ago = dfs_image_listed_ago(s->image_path, dfs_store_stamp(s->store));
    if (ago < 0 || ago >= (gint64)s->trust_listing_s)
        return FALSE;
    s->c.listed_ago = ago;
    show_image(s);
    return TRUE;
}

static gboolean check_image(Scan *s, GError **error)
{
    static const DfsWalkCallbacks cb = {check_file, check_skip, check_stop, TRUE};
    gboolean ok = walk_source(s, &cb, check_listed, error);
    if (!ok || cancelled(s))
        return FALSE; /* the scan proper says why */
    if (!s->changed && s->matched == dfs_image_n_entries(s->image)) {
        if (s->lister != NULL)
            dfs_image_note_listed(s->image_path, dfs_store_stamp(s->store));
        show_image(s);
        return TRUE;
    }
    s->c.total = s->c.files_seen = s->c.others = 0;
    load_store(s);
    /* What did not change keeps the name the last mount showed. */
    dfs_index_builder_seed_names(s->b, s->image);
    g_clear_pointer(&s->image, dfs_index_unref);
    return FALSE;
}

/* The finished index as an image for the next mount, mapped for this one
 * in place of idx (taken) when that can be done: a builder's memory is
 * then given back, and a walk costs only the pages it touches. */
static DfsIndex *to_image(Scan *s, DfsIndex *idx)
{
    g_autoptr(GError) error = NULL;
    guint64 stamp = dfs_store_stamp(s->store);
    if (!dfs_image_write(idx, s->image_path, stamp, TRUE, &error)) {
        g_warning("the index image could not be written: %s", error->message);
        return idx;
    }
    DfsIndex *mapped = NULL;
    if (dfs_image_renumbers(idx)) {
        /* Files were taken out: this mount keeps its numbers, in an image
         * of its own that lives as long as its mapping. */
        g_autofree char *own = g_strdup_printf("%s.%d", s->image_path, (int)getpid());
        if (dfs_image_write(idx, own, stamp, FALSE, NULL))
            mapped = dfs_image_map(own, stamp, NULL);
        g_unlink(own);
    } else {
        mapped = dfs_image_map(s->image_path, stamp, NULL);
    }
    if (mapped == NULL)
        return idx;
    dfs_index_unref(idx);
    return mapped;
}

DfsIndex *dfs_scan_run(DfsScan *s, DfsScanCounts *counts, GError **error)
{
    if (s->image != NULL && (listing_trusted(s) || check_image(s, error))) {
        if (counts)
            *counts = s->c;
        return dfs_index_ref(s->image);
    }
    if (error != NULL && *error != NULL)
        return NULL; /* the source is gone */
    if (cancelled(s)) { /* the mount is: what was filed is true */
        if (s->store_open)
            dfs_store_commit(s->store, NULL);
        s->store_open = FALSE;
        return NULL;
    }
    if (s->lister == NULL) {
        const char *why = NULL;
        DfsBatch *probe = dfs_batch_new(&why);
        s->batches = probe != NULL;
        s->c.batch_off = why;
        dfs_batch_free(probe);
    }
    guint n_readers = s->lister != NULL ? 0 : s->batches ? BATCH_READERS : SCAN_THREADS;
    for (guint t = 0; t < n_readers; t++)
        s->readers[t] = g_thread_new("scan-read", reader_thread, s);
    /* A first scan has nothing to compare: the readers stat what they open. */
    const DfsWalkCallbacks cb = {on_file, on_skip, on_stop, g_hash_table_size(s->known) > 0};
    gboolean ok = walk_source(s, &cb, scan_listed, error);
    if (s->lister == NULL && s->source_fd < 0 && error != NULL && *error == NULL)
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "%s: %s", s->source, g_strerror(errno));
    s->c.walked = TRUE;
    ok = ok && !cancelled(s);
    /* Cancelled: reads not started are dropped.  Else the readers read
     * what is left while it is filed (they wait for the filing). */
    g_atomic_int_set(&s->dropping, !ok);
    g_atomic_int_set(&s->readers_stop, TRUE);
    wake_readers(s, TRUE);
    if (ok)
        file_items(s, TRUE);
    for (guint t = 0; t < n_readers; t++)
        g_thread_join(s->readers[t]);
    DfsIndex *idx = NULL;
    if (ok) {
        if (s->sink && s->sink->progress) /* the total is final now */
            s->sink->progress(&s->c, s->user);
        take_out_vanished(s);
        /* An index that cannot be written only costs the next mount time. */
        gboolean stored = s->store != NULL && (!s->store_open || dfs_store_commit(s->store, NULL));
        if (s->store != NULL && !stored)
            g_warning("the persistent index could not be written");
        s->store_open = FALSE;
        idx = dfs_index_builder_snapshot(s->b);
        s->c.indexed = dfs_index_n_instances(idx);
        s->c.skipped = dfs_index_n_skipped(idx) - s->c.others;
        DfsIndex *built = idx;
        if (stored)
            idx = to_image(s, idx);
        if (stored && s->lister != NULL)
            dfs_image_note_listed(s->image_path, dfs_store_stamp(s->store));
        /* The builder's memory goes back as the scan says it is done: the
         * snapshot the tree showed until now is the last to hold it.  Kept
         * for a tree that follows changes only where it is small, or where
         * no image stands in for it (a larger one is loaded from the store
         * at the first change, as after a remount). */
        if (s->keep_builder && (idx == built || s->c.indexed <= KEEP_BUILDER_MAX))
            s->kept = s->b;
        else
            dfs_index_builder_free(s->b);
        s->b = dfs_index_builder_new();
        g_hash_table_remove_all(s->known);
        /* The final tree first (the tree lets go of the last snapshot that
         * held the builder's memory), then that memory goes back to the
         * system, and only then does the status say done: at a million
         * instances the trim takes ~0.1 s, and the RSS falls from ~350 to
         * ~30 MB in it. */
        publish_index(s, dfs_index_ref(idx), FALSE);
        malloc_trim(0);
        publish_index(s, NULL, TRUE);
    } else if (s->store_open) {
        dfs_store_commit(s->store, NULL); /* what was filed is true; the rest is read next time */
        s->store_open = FALSE;
    }
    if (counts)
        *counts = s->c;
    return idx;
}

void dfs_scan_trust_listing(DfsScan *s, guint seconds)
{
    s->trust_listing_s = seconds;
}

void dfs_scan_keep_builder(DfsScan *s)
{
    s->keep_builder = TRUE;
}

DfsIndexBuilder *dfs_scan_take_builder(DfsScan *s)
{
    return g_steal_pointer(&s->kept);
}

DfsIndex *dfs_scan(const char *source, DfsStore *store, const DfsScanSink *sink, gpointer user,
                   DfsScanCounts *counts, GError **error)
{
    DfsScan *s = dfs_scan_new(source, store, sink, user);
    DfsIndex *idx = dfs_scan_run(s, counts, error);
    dfs_scan_free(s);
    return idx;
}
