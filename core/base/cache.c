/* dicomfs core: a bounded LRU cache.  See cache.h. */
#include "base/cache.h"

typedef struct {
    guint64 key;
    gpointer value;
    gsize size;
    GList link; /* in DfsCache.lru; data points back to this entry */
} Entry;

struct _DfsCache {
    GMutex lock;
    GHashTable *map; /* &key -> Entry */
    GQueue lru;      /* head: most recently used */
    gsize bytes, max_bytes;
    DfsCacheRef ref;
    DfsCacheUnref unref;
};

static void entry_free(DfsCache *c, Entry *e)
{
    c->unref(e->value);
    g_free(e);
}

DfsCache *dfs_cache_new(gsize max_bytes, DfsCacheRef ref, DfsCacheUnref unref)
{
    DfsCache *c = g_new0(DfsCache, 1);
    g_mutex_init(&c->lock);
    c->map = g_hash_table_new(g_int64_hash, g_int64_equal);
    g_queue_init(&c->lru);
    c->max_bytes = max_bytes;
    c->ref = ref;
    c->unref = unref;
    return c;
}

void dfs_cache_free(DfsCache *c)
{
    if (c == NULL)
        return;
    GList *l;
    while ((l = g_queue_pop_head_link(&c->lru)) != NULL)
        entry_free(c, l->data);
    g_hash_table_unref(c->map);
    g_mutex_clear(&c->lock);
    g_free(c);
}

gpointer dfs_cache_get(DfsCache *c, guint64 key)
{
    g_mutex_lock(&c->lock);
    Entry *e = g_hash_table_lookup(c->map, &key);
    gpointer v = NULL;
    if (e != NULL) {
        g_queue_unlink(&c->lru, &e->link);
        g_queue_push_head_link(&c->lru, &e->link);
        v = c->ref(e->value);
    }
    g_mutex_unlock(&c->lock);
    return v;
}

/* Drop least recently used entries until the bound holds (keeps `keep`). */
static void evict(DfsCache *c, Entry *keep)
{
    while (c->bytes > c->max_bytes && c->lru.tail != NULL && c->lru.tail->data != keep) {
        Entry *e = c->lru.tail->data;
        g_queue_unlink(&c->lru, &e->link);
        g_hash_table_remove(c->map, &e->key);
        c->bytes -= e->size;
        entry_free(c, e);
    }
}

gpointer dfs_cache_put(DfsCache *c, guint64 key, gpointer value, gsize size)
{
    g_mutex_lock(&c->lock);
    Entry *e = g_hash_table_lookup(c->map, &key);
    if (e == NULL) {
        e = g_new0(Entry, 1);
        e->key = key;
        e->value = c->ref(value);
        e->size = size;
        e->link.data = e;
        g_hash_table_insert(c->map, &e->key, e);
        g_queue_push_head_link(&c->lru, &e->link);
        c->bytes += size;
        evict(c, e);
    }
    gpointer v = c->ref(e->value);
    g_mutex_unlock(&c->lock);
    return v;
}

void dfs_cache_usage(DfsCache *c, guint *entries, gsize *bytes)
{
    g_mutex_lock(&c->lock);
    *entries = g_hash_table_size(c->map);
    *bytes = c->bytes;
    g_mutex_unlock(&c->lock);
}

void dfs_cache_drop_if(DfsCache *c, DfsCacheKeyFunc drop, gpointer user)
{
    g_mutex_lock(&c->lock);
    for (GList *l = c->lru.head; l != NULL;) {
        Entry *e = l->data;
        l = l->next;
        if (!drop(e->key, user))
            continue;
        g_queue_unlink(&c->lru, &e->link);
        g_hash_table_remove(c->map, &e->key);
        c->bytes -= e->size;
        entry_free(c, e);
    }
    g_mutex_unlock(&c->lock);
}
