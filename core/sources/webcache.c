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
    guint64 size;
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
static Entry *add_entry(DfsWebCache *c, const char *name, guint64 size)
{
    Entry *e = g_new0(Entry, 1);
    g_strlcpy(e->name, name, sizeof e->name);
    e->size = size;
    e->link.data = e;
    g_queue_push_head_link(&c->recency, &e->link);
    g_hash_table_replace(c->entries, e->name, e);
    c->bytes += size;
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
        c->bytes -= e->size;
        g_autofree char *path = path_of(c, e->name);
        g_unlink(path); /* a reader that has it open keeps reading it */
        g_hash_table_remove(c->entries, e->name);
        c->evictions++;
    }
}

static gint by_atime(gconstpointer a, gconstpointer b)
{
    gint64 x = (*(Entry *const *)a)->atime, y = (*(Entry *const *)b)->atime;
    return x < y ? -1 : x > y;
}

DfsWebCache *dfs_web_cache_new(const char *dir, guint64 max_bytes, GError **error)
{
    if (g_mkdir_with_parents(dir, 0700) != 0) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "cache %s: %s", dir, g_strerror(errno));
        return NULL;
    }
    GDir *d = g_dir_open(dir, 0, error);
    if (d == NULL)
        return NULL;
    DfsWebCache *c = g_new0(DfsWebCache, 1);
    c->dir = g_strdup(dir);
    c->max_bytes = max_bytes;
    g_mutex_init(&c->lock);
    g_cond_init(&c->fetched);
    c->entries = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
    c->fetching = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    /* What an earlier mount fetched, oldest use last (by access time). */
    GPtrArray *found = g_ptr_array_new();
    const char *n;
    while ((n = g_dir_read_name(d)) != NULL) {
        g_autofree char *path = path_of(c, n);
        struct stat st;
        if (strlen(n) != 40 || strspn(n, "0123456789abcdef") != 40) {
            if (g_str_has_prefix(n, ".part-")) /* an interrupted fetch */
                g_unlink(path);
            continue;
        }
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        Entry *e = add_entry(c, n, (guint64)st.st_size);
        g_queue_unlink(&c->recency, &e->link);
        e->atime = (gint64)st.st_atim.tv_sec * 1000000000 + st.st_atim.tv_nsec;
        g_ptr_array_add(found, e);
    }
    g_dir_close(d);
    g_ptr_array_sort(found, by_atime);
    for (guint k = 0; k < found->len; k++) /* oldest first, each pushed to the head */
        g_queue_push_head_link(&c->recency, &((Entry *)found->pdata[k])->link);
    g_ptr_array_free(found, TRUE);
    evict(c, NULL);
    return c;
}

void dfs_web_cache_free(DfsWebCache *c)
{
    if (c == NULL)
        return;
    g_hash_table_unref(c->entries);
    g_hash_table_unref(c->fetching);
    g_mutex_clear(&c->lock);
    g_cond_clear(&c->fetched);
    g_free(c->dir);
    g_free(c);
}

/* Fetch into a temporary file, then rename it into place: TRUE with its
 * size. */
static gboolean fetch_file(DfsWebCache *c, const char *name, guint seq, DfsWebFetchFunc fetch,
                           gpointer user, guint64 *size, GError **error)
{
    g_autofree char *temp_name = g_strdup_printf(".part-%s-%u", name, seq);
    g_autofree char *temp = path_of(c, temp_name), *path = path_of(c, name);
    int fd = open(temp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "cache %s: %s", temp, g_strerror(errno));
        return FALSE;
    }
    gboolean ok = fetch(fd, user, error);
    struct stat st;
    if (ok && fstat(fd, &st) != 0) {
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
    else
        *size = (guint64)st.st_size;
    return ok;
}

char *dfs_web_cache_get(DfsWebCache *c, const char *key, DfsWebFetchFunc fetch, gpointer user,
                        GError **error)
{
    char name[41];
    name_of(key, name);
    g_mutex_lock(&c->lock);
    for (;;) {
        Entry *e = g_hash_table_lookup(c->entries, name);
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

    guint64 size = 0;
    gboolean ok = fetch_file(c, name, seq, fetch, user, &size, error);

    g_mutex_lock(&c->lock);
    g_hash_table_remove(c->fetching, name);
    if (ok)
        evict(c, add_entry(c, name, size));
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
    if (g_hash_table_contains(c->entries, name) || g_hash_table_contains(c->fetching, name) ||
        stat(path, &st) != 0 || rename(path, dest) != 0)
        g_unlink(path);
    else
        evict(c, add_entry(c, name, (guint64)st.st_size));
    g_mutex_unlock(&c->lock);
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
    Entry *e = g_hash_table_lookup(c->entries, name);
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
