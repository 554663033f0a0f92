/* dicomfs core: the persistent index (SQLite), so that a remount reads only
 * the files that changed.
 *
 * One database per source folder, kept under $XDG_CACHE_HOME/dicomfs/ (never
 * beside the source), keyed by the source's real path.  It remembers, per
 * file, its size and mtime and either the facts the index needs or why it
 * was skipped.  A file whose size or mtime changed is read again; a damaged
 * or foreign database is deleted and built anew, never trusted. */
#pragma once

#include <glib.h>
#include "catalog/index.h"

G_BEGIN_DECLS

typedef struct _DfsStore DfsStore;

/* $XDG_CACHE_HOME/dicomfs/<sha256 of source>.sqlite.  Caller frees. */
char *dfs_store_default_path(const char *source);

/* Open or create the store at path for source (a real path).  *rebuilt is
 * TRUE when an existing file was unusable and was replaced.  NULL with an
 * error only if no store can be created there. */
DfsStore *dfs_store_open(const char *path, const char *source, gboolean *rebuilt, GError **error);
void dfs_store_close(DfsStore *store);

/* Call fn for every stored file, in the order they were filed: its row
 * number (for dfs_store_remove), facts
 * (fn takes them) or, for a file not in the tree, the reason.  A row whose
 * facts do not parse is passed with neither, so that it is read again.
 * FALSE when the database fails part way (damaged): what was passed then
 * is not to be trusted, and dfs_store_clear() starts it anew. */
typedef void (*DfsStoreRowFunc)(gint64 row, const char *relpath, guint64 size, gint64 mtime_ns,
                                DfsFacts *facts, const char *reason, gpointer user);
gboolean dfs_store_load(DfsStore *store, DfsStoreRowFunc fn, gpointer user, guint *n_rows);
void dfs_store_clear(DfsStore *store);
/* Only the row numbers and paths (what a tree that follows its source
 * needs to take rows out; catalog/live.h). */
typedef void (*DfsStorePathFunc)(gint64 row, const char *relpath, gpointer user);
gboolean dfs_store_load_paths(DfsStore *store, DfsStorePathFunc fn, gpointer user);

/* Changes, in one transaction: begin, then puts (a new or changed file,
 * filed after every stored one; a changed file's old row is removed) and
 * removes of rows by number, then commit.  Rows are found by number, not
 * by path: no index on paths to build or keep.  The commit leaves the
 * write-ahead log as it is; closing the store folds it in. */
void dfs_store_begin(DfsStore *store);
gint64 dfs_store_put(DfsStore *store, const char *relpath, guint64 size, gint64 mtime_ns,
                     const DfsFacts *facts, const char *reason); /* returns its row */
void dfs_store_remove(DfsStore *store, gint64 row);
gboolean dfs_store_commit(DfsStore *store, GError **error);
/* End a transaction that changed nothing (the stamp stays). */
void dfs_store_abandon(DfsStore *store);

/* Where it is (owned by store), and a number that every commit changes: a
 * copy of what it held (catalog/image.h) is of this version if it carries
 * this stamp. */
const char *dfs_store_path(const DfsStore *store);
guint64 dfs_store_stamp(const DfsStore *store);

G_END_DECLS
