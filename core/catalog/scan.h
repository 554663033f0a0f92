/* dicomfs core: scanning a source folder into an index.
 *
 * Walks the folder (walk.h), reads every regular file header-only, files
 * each instance in the index and every other file in its skip list with the
 * reason.  Reads nothing but headers and writes nothing beside the source.
 *
 * With a persistent store (store.h), its image (image.h) is mapped and
 * published at once, with no work per file; the walk then checks the source
 * against it and, if nothing changed, that is all.  Otherwise (or with no
 * image of the store's version) the stored index is filed, the walk reads
 * only files that are new or whose size or mtime changed, takes out those
 * that are gone, writes the changes back and a new image, and the tree is
 * served from that image.  Snapshots of the growing index are published as the scan
 * goes, so a mount can show folders filling in. */
#pragma once

#include <glib.h>
#include <sys/stat.h>
#include "catalog/index.h"
#include "catalog/store.h"
#include "dicom/dataset.h"

G_BEGIN_DECLS

typedef struct {
    guint total;      /* regular files the walk has found so far */
    gboolean walked;  /* the walk is over: total is final */
    guint files_seen; /* regular files filed so far */
    guint indexed;    /* instances in the tree (as of the last snapshot) */
    guint skipped;    /* regular files not in the tree (as of the last snapshot) */
    guint others;     /* entries that are no regular file to read: links that
                         loop or lead outside, FIFOs, devices, a file met twice */
    guint reads;      /* files whose header was read (the others came from the
                         persistent index, unchanged) */
    guint batched;    /* of them, files opened and first read in batches (batch.h) */
    const char *batch_off; /* why the scan reads file by file (static), or NULL */
    guint stored;     /* files the persistent index knew at the start */
    gboolean mapped;  /* its image was mapped: no row of it was read to show the tree */
    guint loaded;     /* rows of it read before the first snapshot was shown */
    gboolean store_damaged; /* it failed while loading, and is built anew */
    gint64 listed_ago; /* a listed source's stored tree shown as it is, its
                          listing made so many seconds ago (the source not
                          asked: dfs_scan_trust_listing); -1 otherwise */
} DfsScanCounts;

typedef struct {
    /* A snapshot of the index so far (the callee takes it); done on the
     * last call, whose idx may be NULL (the tree is the one given last). */
    void (*publish)(DfsIndex *idx, const DfsScanCounts *counts, gboolean done, gpointer user);
    /* After each file (may be NULL). */
    void (*progress)(const DfsScanCounts *counts, gpointer user);
    /* Asked often (may be NULL): TRUE stops the scan early. */
    gboolean (*cancelled)(gpointer user);
} DfsScanSink;

typedef struct _DfsScan DfsScan;

/* A scan of source, its stored index (if any) filed and published already:
 * quick, and it starts no thread, so a mount can show the stored tree from
 * its first request.  sink may be NULL. */
DfsScan *dfs_scan_new(const char *source, DfsStore *store, const DfsScanSink *sink,
                      gpointer user);

/* A source that lists its instances with their facts (a DICOMweb server's
 * catalog: nothing to read), instead of a folder to walk and read.  list
 * calls found for every entry, in an order that is the same on every run
 * (names depend on it), on the scan's thread:
 *   an instance: its path (the key the store and the tree know it by),
 *   st (st_size: its bytes, 0 when unknown; st_mtim: its version) and
 *   facts (taken; reason: its errors.tsv note, or NULL);
 *   an entry not in the tree: facts NULL, reason why, st NULL;
 *   a study listed before its instances: facts marked as a folder's
 *   (dfs_facts_mark_folder), its path its key;
 *   relpath NULL: what was given so far is to be shown now (a snapshot
 *   published at once, as someone waits for it).
 * found returns FALSE when the scan wants no more (it is cancelled, or a
 * check found a change): list then returns TRUE at once.  list returns
 * FALSE with an error when the listing failed (the scan fails with it). */
typedef gboolean (*DfsScanFound)(gpointer scan, const char *relpath, const struct stat *st,
                                 DfsFacts *facts, const char *reason);
typedef struct {
    gboolean (*list)(gpointer self, DfsScanFound found, gpointer scan, GError **error);
} DfsScanLister;

/* A scan of what lister lists (self is its own): as dfs_scan_new, source
 * naming it (a URL), with no file read. */
DfsScan *dfs_scan_new_listed(const char *source, const DfsScanLister *lister, gpointer self,
                             DfsStore *store, const DfsScanSink *sink, gpointer user);

/* Walk and read; return the finished index (caller unrefs), or NULL if the
 * source cannot be opened or the scan was cancelled. */
DfsIndex *dfs_scan_run(DfsScan *scan, DfsScanCounts *counts, GError **error);
void dfs_scan_free(DfsScan *scan);

/* Before dfs_scan_run: keep the builder of the finished index, for a tree
 * that goes on changing (catalog/live.h) to take with
 * dfs_scan_take_builder (NULL when the index came from the mapped image
 * unchanged, or the scan did not finish, or the index is large and mapped
 * from its image: the builder is then loaded from the store when needed,
 * and memory after a scan stays bounded). */
void dfs_scan_keep_builder(DfsScan *scan);
DfsIndexBuilder *dfs_scan_take_builder(DfsScan *scan);

/* A listed source whose stored listing was whole less than seconds ago (a
 * server's listing, trusted for its TTL; image.h) is shown as stored: its
 * run asks the source nothing and says how old the listing is
 * (DfsScanCounts.listed_ago).  0 (the default): always listed again. */
void dfs_scan_trust_listing(DfsScan *scan, guint seconds);

/* Both in one. */
DfsIndex *dfs_scan(const char *source, DfsStore *store, const DfsScanSink *sink, gpointer user,
                   DfsScanCounts *counts, GError **error);

/* Read the header of relpath under the folder source_fd (never outside it)
 * into facts, or NULL and the reason it is not in the tree (*reason;
 * also set, with facts, when the file is damaged: its errors.tsv note).
 * st is filled from the open file when stat_it, else says what the walk
 * saw.  Caller frees both. */
DfsFacts *dfs_scan_read_one(int source_fd, const char *relpath, struct stat *st, gboolean stat_it,
                            char **reason);

/* Why a file that failed to read is not in the tree, for errors.tsv. */
char *dfs_scan_reason(const GError *error);
/* The errors.tsv line of a dataset read only in part, or NULL if whole. */
char *dfs_scan_damage(const DfsDataset *ds);

G_END_DECLS
