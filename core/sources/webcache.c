/* dicomfs core: the bounded cache on disk of a remote source's instances.
 * See webcache.h. */
#include "sources/webcache.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"

/* One cached file, in the recency list (most recent at the head). */
typedef struct {
    char name[41]; /* SHA-1 of the key, in hex: the file's name */
    guint64 size;    /* the file's length */
    guint64 charged; /* the disk it takes (a header copy is sparse: less than size) */
    gint64 atime;  /* at start: the order of use an earlier mount left */
    GList link;    /* data: this */
} Entry;

struct _DfsWebCache {
    char *dir;
    guint64 max_bytes, bytes;
    GMutex lock;
    GCond fetched;
    GHashTable *entries;  /* name -> Entry */
    GQueue recency;       /* of Entry links, most recent first */
    GHashTable *fetching; /* names being fetched now */
    guint64 fetches, failures, evictions, hits;
    guint temp_seq;
    /* What an earlier mount left is listed on a thread of its own, so that
     * opening the cache costs nothing per file: until it is done, a name
     * not in the table is looked for on disk. */
    GThread *indexer;
    gboolean indexed, stopping;
    GHashTable *evicted; /* names deleted before the listing was done: not taken from it */
};

static void name_of(const char *key, char name[41])
{
    g_autofree char *sum = g_compute_checksum_for_string(G_CHECKSUM_SHA1, key, -1);
    g_strlcpy(name, sum, 41);
}

static char *path_of(const DfsWebCache *c, const char *name)
{
    return g_build_filename(c->dir, name, NULL);
}

/* Keep name's entry, most recent (lock held). */
static Entry *add_entry(DfsWebCache *c, const char *name, const struct stat *st)
{
    Entry *e = g_new0(Entry, 1);
    g_strlcpy(e->name, name, sizeof e->name);
    e->size = (guint64)st->st_size;
    e->charged = (guint64)st->st_blocks * 512;
    e->link.data = e;
    g_queue_push_head_link(&c->recency, &e->link);
    g_hash_table_replace(c->entries, e->name, e);
    c->bytes += e->charged;
    return e;
}

/* Delete the least recently used files until the total fits, never the
 * one just added (lock held). */
static void evict(DfsWebCache *c, const Entry *keep)
{
    while (c->bytes > c->max_bytes && c->recency.tail != NULL) {
        Entry *e = c->recency.tail->data;
        if (e == keep)
            break;
        g_queue_unlink(&c->recency, &e->link);
        c->bytes -= e->charged;
        g_autofree char *path = path_of(c, e->name);
        g_unlink(path); /* a reader that has it open keeps reading it */
        if (!c->indexed)
            g_hash_table_add(c->evicted, g_strdup(e->name));
        g_hash_table_remove(c->entries, e->name);
        c->evictions++;
    }
}

static gint by_atime(gconstpointer a, gconstpointer b)
{
    gint64 x = (*(Entry *const *)a)->atime, y = (*(Entry *const *)b)->atime;
    return x < y ? -1 : x > y;
}

/* The table of what is on disk (lock held): name's entry, found on disk
 * (most recent) while the folder is not indexed yet, or NULL. */
static Entry *lookup(DfsWebCache *c, const char *name)
{
    Entry *e = g_hash_table_lookup(c->entries, name);
    struct stat st;
    if (e != NULL || c->indexed)
        return e;
    g_autofree char *path = path_of(c, name);
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return NULL;
    e = add_entry(c, name, &st);
    evict(c, e);
    return e;
}

/* What an earlier mount fetched, each at the end of the recency order by
 * its access time (the oldest last), and the temporary files an
 * interrupted one left (not this process's: those are fetches under way). */
static gpointer index_folder(gpointer data)
{
    DfsWebCache *c = data;
    g_autofree char *ours = g_strdup_printf(".part-%d-", (int)getpid());
    GPtrArray *found = g_ptr_array_new_with_free_func(g_free);
    GDir *d = g_dir_open(c->dir, 0, NULL);
    const char *n;
    while (d != NULL && !g_atomic_int_get(&c->stopping) && (n = g_dir_read_name(d)) != NULL) {
        g_autofree char *path = path_of(c, n);
        struct stat st;
        if (strlen(n) != 40 || strspn(n, "0123456789abcdef") != 40) {
            if (g_str_has_prefix(n, ".part-") && !g_str_has_prefix(n, ours))
                g_unlink(path);
            continue;
        }
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        Entry *e = g_new0(Entry, 1);
        g_strlcpy(e->name, n, sizeof e->name);
        e->size = (guint64)st.st_size;
        e->charged = (guint64)st.st_blocks * 512;
        e->atime = (gint64)st.st_atim.tv_sec * 1000000000 + st.st_atim.tv_nsec;
        e->link.data = e;
        g_ptr_array_add(found, e);
    }
    if (d != NULL)
        g_dir_close(d);
    g_ptr_array_sort(found, by_atime);
    g_mutex_lock(&c->lock);
    for (guint k = found->len; k-- > 0;) { /* the newest first, each at the tail */
        Entry *e = found->pdata[k];
        if (g_hash_table_contains(c->entries, e->name) || g_hash_table_contains(c->evicted, e->name))
            continue; /* met since, by a lookup, or deleted since */
        found->pdata[k] = NULL;
        g_queue_push_tail_link(&c->recency, &e->link);
        g_hash_table_replace(c->entries, e->name, e);
        c->bytes += e->charged;
    }
    c->indexed = TRUE;
    g_hash_table_remove_all(c->evicted);
    evict(c, NULL);
    g_mutex_unlock(&c->lock);
    g_ptr_array_free(found, TRUE);
    return NULL;
}

DfsWebCache *dfs_web_cache_new(const char *dir, guint64 max_bytes, GError **error)
{
    if (g_mkdir_with_parents(dir, 0700) != 0 || access(dir, R_OK | W_OK | X_OK) != 0) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "cache %s: %s", dir, g_strerror(errno));
        return NULL;
    }
    DfsWebCache *c = g_new0(DfsWebCache, 1);
    c->dir = g_strdup(dir);
    c->max_bytes = max_bytes;
    g_mutex_init(&c->lock);
    g_cond_init(&c->fetched);
    c->entries = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
    c->fetching = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    c->evicted = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    c->indexer = g_thread_new("web-cache", index_folder, c);
    return c;
}

void dfs_web_cache_free(DfsWebCache *c)
{
    if (c == NULL)
        return;
    g_atomic_int_set(&c->stopping, TRUE);
    g_thread_join(c->indexer);
    g_hash_table_unref(c->entries);
    g_hash_table_unref(c->evicted);
    g_hash_table_unref(c->fetching);
    g_mutex_clear(&c->lock);
    g_cond_clear(&c->fetched);
    g_free(c->dir);
    g_free(c);
}

/* Fetch into a temporary file, then rename it into place: TRUE with its
 * stat. */
static gboolean fetch_file(DfsWebCache *c, const char *name, guint seq, DfsWebFetchFunc fetch,
                           gpointer user, struct stat *st, GError **error)
{
    g_autofree char *temp_name = g_strdup_printf(".part-%d-%s-%u", (int)getpid(), name, seq);
    g_autofree char *temp = path_of(c, temp_name), *path = path_of(c, name);
    int fd = open(temp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "cache %s: %s", temp, g_strerror(errno));
        return FALSE;
    }
    gboolean ok = fetch(fd, user, error);
    if (ok && fstat(fd, st) != 0) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "cache %s: %s", temp, g_strerror(errno));
        ok = FALSE;
    }
    if (close(fd) != 0 && ok) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "cache %s: %s", temp, g_strerror(errno));
        ok = FALSE;
    }
    if (ok && rename(temp, path) != 0) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "cache %s: %s", path, g_strerror(errno));
        ok = FALSE;
    }
    if (!ok)
        g_unlink(temp);
    return ok;
}

char *dfs_web_cache_get(DfsWebCache *c, const char *key, DfsWebFetchFunc fetch, gpointer user,
                        GError **error)
{
    char name[41];
    name_of(key, name);
    g_mutex_lock(&c->lock);
    for (;;) {
        Entry *e = lookup(c, name);
        if (e != NULL) {
            g_queue_unlink(&c->recency, &e->link);
            g_queue_push_head_link(&c->recency, &e->link);
            c->hits++;
            g_mutex_unlock(&c->lock);
            return path_of(c, name);
        }
        if (!g_hash_table_contains(c->fetching, name))
            break;
        g_cond_wait(&c->fetched, &c->lock); /* another caller fetches it */
    }
    g_hash_table_add(c->fetching, g_strdup(name));
    guint seq = ++c->temp_seq;
    c->fetches++;
    g_mutex_unlock(&c->lock);

    struct stat st;
    gboolean ok = fetch_file(c, name, seq, fetch, user, &st, error);

    g_mutex_lock(&c->lock);
    g_hash_table_remove(c->fetching, name);
    if (ok)
        evict(c, add_entry(c, name, &st));
    else
        c->failures++;
    g_cond_broadcast(&c->fetched);
    g_mutex_unlock(&c->lock);
    return ok ? path_of(c, name) : NULL;
}

void dfs_web_cache_put(DfsWebCache *c, const char *key, const char *path)
{
    char name[41];
    name_of(key, name);
    g_autofree char *dest = path_of(c, name);
    struct stat st;
    g_mutex_lock(&c->lock);
    if (lookup(c, name) != NULL || g_hash_table_contains(c->fetching, name) ||
        stat(path, &st) != 0 || rename(path, dest) != 0)
        g_unlink(path);
    else
        evict(c, add_entry(c, name, &st));
    g_mutex_unlock(&c->lock);
}

char *dfs_web_cache_lookup(DfsWebCache *c, const char *key)
{
    char name[41];
    name_of(key, name);
    g_mutex_lock(&c->lock);
    Entry *e = lookup(c, name);
    if (e != NULL) {
        g_queue_unlink(&c->recency, &e->link);
        g_queue_push_head_link(&c->recency, &e->link);
        c->hits++;
    }
    g_mutex_unlock(&c->lock);
    return e != NULL ? path_of(c, name) : NULL;
}

const char *dfs_web_cache_dir(const DfsWebCache *c)
{
    return c->dir;
}

guint64 dfs_web_cache_max_bytes(const DfsWebCache *c)
{
    return c->max_bytes;
}

gboolean dfs_web_cache_size(DfsWebCache *c, const char *key, guint64 *size)
{
    char name[41];
    name_of(key, name);
    g_mutex_lock(&c->lock);
    Entry *e = lookup(c, name);
    if (e != NULL)
        *size = e->size;
    g_mutex_unlock(&c->lock);
    return e != NULL;
}

void dfs_web_cache_stats(DfsWebCache *c, DfsWebCacheStats *out)
{
    g_mutex_lock(&c->lock);
    *out = (DfsWebCacheStats){g_hash_table_size(c->entries), c->bytes, c->max_bytes,
                              c->fetches, c->failures, c->evictions, c->hits};
    g_mutex_unlock(&c->lock);
}
