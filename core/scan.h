/* dicomfs core: scanning a source folder into an index.
 *
 * Walks the folder (walk.h), reads every regular file header-only, files
 * each instance in the index and every other file in its skip list with the
 * reason.  Reads nothing but headers and writes nothing. */
#pragma once

#include <glib.h>
#include "index.h"
#include "store.h"

G_BEGIN_DECLS

typedef struct {
    guint total;      /* regular files the walk found (known before reading ends) */
    guint files_seen; /* regular files filed so far */
    guint indexed;    /* instances in the tree */
    guint skipped;    /* regular files not in the tree */
    guint others;     /* entries that are no regular file to read: links that
                         loop or lead outside, FIFOs, devices, a file met twice */
    guint reads;      /* files whose header was read (the others came from the
                         persistent index, unchanged) */
} DfsScanCounts;

/* Called after each file; may be NULL. */
typedef void (*DfsScanProgress)(const DfsScanCounts *counts, gpointer user);

/* A finished index of source, or NULL if source cannot be opened.  With a
 * store, files whose size and mtime it knows are not read again, and the
 * store is rewritten with this scan. */
DfsIndex *dfs_scan(const char *source, DfsStore *store, DfsScanProgress progress, gpointer user,
                   DfsScanCounts *counts, GError **error);

/* Why a file that failed to read is not in the tree, for errors.tsv. */
char *dfs_scan_reason(const GError *error);

G_END_DECLS
