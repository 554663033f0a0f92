/* dicomfs core: a bounded cache, thread-safe, least recently used first out.
 *
 * Keys are 64-bit numbers; values are reference-counted by the caller's
 * ref/unref functions, so a value handed out stays valid after eviction
 * until its user lets go.  The bound is on the sum of the sizes given. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _DfsCache DfsCache;

typedef gpointer (*DfsCacheRef)(gpointer value);
typedef void (*DfsCacheUnref)(gpointer value);

/* A cache holding at most max_bytes (sum of the sizes given to put). */
DfsCache *dfs_cache_new(gsize max_bytes, DfsCacheRef ref, DfsCacheUnref unref);
void dfs_cache_free(DfsCache *c);

/* The value for key with a new reference (caller unrefs), or NULL. */
gpointer dfs_cache_get(DfsCache *c, guint64 key);

/* Store value (the cache takes its own reference) and return the value now
 * cached for key, with a reference for the caller: when two threads build
 * the same value, both get the first one stored. */
gpointer dfs_cache_put(DfsCache *c, guint64 key, gpointer value, gsize size);

/* Entries and bytes held, for status and tests. */
void dfs_cache_usage(DfsCache *c, guint *entries, gsize *bytes);

/* Drop every entry whose key drop() says (a pass over the entries; for
 * what a change to the tree makes stale). */
typedef gboolean (*DfsCacheKeyFunc)(guint64 key, gpointer user);
void dfs_cache_drop_if(DfsCache *c, DfsCacheKeyFunc drop, gpointer user);

G_END_DECLS
