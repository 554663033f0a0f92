/* dicomfs core: the bounded cache on disk of a remote source's instances.
 *
 * Each instance fetched from a server is kept as one file under the cache's
 * folder, named by a hash of its key (the instance's path in the catalog),
 * so that the tree reads it as it reads a folder's files.  A file is
 * written to a temporary name and renamed into place only once the fetch
 * has ended well: the cache never holds a partial instance.  Instances
 * never change under one key (a SOP Instance UID names one object for
 * good), so a file kept is good for ever; the least recently used are
 * deleted when the total passes the bound, the total being the disk the
 * files take (their allocated blocks: a sparse file put here, a header
 * kept without its pixel data, counts what it holds).  Fetches of one key are done
 * once: a second caller waits for the first.
 *
 * The folder is the source's own (one per base URL), made 0700; nothing is
 * ever written beside the source.  Files found there are the cache's (a
 * remount reads them without fetching again); stray temporary files of an
 * earlier run are deleted.
 *
 * Costs: opening costs nothing per file: what an earlier mount left is
 * listed on a thread of its own (one stat per file), and until that is
 * done a name not yet in the table costs a stat; a lookup is a hash-table
 * probe; memory is about 80 bytes per cached file. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _DfsWebCache DfsWebCache;

/* The cache in folder dir (made if missing), at most max_bytes (the newest
 * file is kept even if it alone is larger).  NULL with an error if dir
 * cannot be made or listed. */
DfsWebCache *dfs_web_cache_new(const char *dir, guint64 max_bytes, GError **error);
void dfs_web_cache_free(DfsWebCache *c);

/* Fill fd (a new, empty temporary file) with the bytes of the instance:
 * TRUE when they are all there, FALSE with an error otherwise. */
typedef gboolean (*DfsWebFetchFunc)(int fd, gpointer user, GError **error);

/* The path of key's file (caller frees), fetched first with fetch if it is
 * not cached: once for concurrent callers.  NULL with fetch's error. */
char *dfs_web_cache_get(DfsWebCache *c, const char *key, DfsWebFetchFunc fetch, gpointer user,
                        GError **error);

/* File path (a whole instance, written in the cache's folder under a name
 * of its own) as key's: renamed into place, or deleted if key is cached
 * already. */
void dfs_web_cache_put(DfsWebCache *c, const char *key, const char *path);

/* The path of key's file if it is cached (nothing fetched), or NULL. */
char *dfs_web_cache_lookup(DfsWebCache *c, const char *key);

/* The cache's folder (where files to put are written first). */
const char *dfs_web_cache_dir(const DfsWebCache *c);
guint64 dfs_web_cache_max_bytes(const DfsWebCache *c);

/* The size of key's file if it is cached (nothing fetched). */
gboolean dfs_web_cache_size(DfsWebCache *c, const char *key, guint64 *size);

typedef struct {
    guint files;
    guint64 bytes, max_bytes;
    guint64 fetches, failures, evictions, hits;
} DfsWebCacheStats;
void dfs_web_cache_stats(DfsWebCache *c, DfsWebCacheStats *out);

G_END_DECLS
