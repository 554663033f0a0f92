/* dicomfs core: a catalog that follows its source while mounted (issue 14).
 *
 * Once the first scan is done, changes under the source (from the kernel's
 * events, catalog/watch.h, or from a periodic rescan) are applied to the
 * index where they happened: a file new or changed is read (its header
 * only, and only if its size or mtime differ from what was filed), a file
 * or folder gone is taken out, a folder moved in is walked.  Each batch
 * ends in one new snapshot, published with what it changed, and in one
 * transaction of the persistent index, so that a remount reads only what
 * changed since the last event.  Names once shown are kept (README
 * "Names").
 *
 * Costs: a batch costs its files' header reads and one snapshot (linear in
 * the index's nodes, a few milliseconds for 100,000, no file read); a
 * folder gone or walked costs a pass over the paths filed; a rescan walks
 * and stats the whole source and reads only what changed.  A tree that
 * came from the mapped image (an unchanged remount) has no builder: the
 * first change loads the persistent index once. */
#pragma once

#include <glib.h>

#include "catalog/index.h"
#include "catalog/scan.h"
#include "catalog/watch.h"

G_BEGIN_DECLS

typedef struct _DfsLive DfsLive;

typedef struct {
    guint64 changes;     /* changes applied (files, folders, gone) */
    guint64 batches;     /* snapshots published */
    guint64 reads;       /* headers read */
    guint64 rescans;     /* walks of the whole source */
    gint64 last_change;  /* real time (µs) of the last batch that changed something, or 0 */
} DfsLiveStats;

/* A new snapshot idx (taken), the snapshot it replaces (old, not taken),
 * the folders whose children changed and the nodes taken out (numbers in
 * old, with their names there), for the mount to tell the kernel; and the
 * counters as of this snapshot. */
typedef void (*DfsLivePublish)(DfsIndex *idx, DfsIndex *old, const guint32 *changed,
                               guint n_changed, const guint32 *gone, guint n_gone,
                               const DfsLiveStats *stats, gpointer user);

/* Follow source from current (the mounted snapshot, ref'd).  builder: the
 * scan's that made current (taken), or NULL when current came from the
 * image.  store_path: the persistent index to keep up (opened here), or
 * NULL.  publish is called from the thread that applies a batch. */
DfsLive *dfs_live_new(const char *source, const char *store_path, DfsIndexBuilder *builder,
                      DfsIndex *current, DfsLivePublish publish, gpointer user);

/* Apply a batch of changes (any thread; batches are applied one at a time). */
void dfs_live_apply(DfsLive *live, const DfsChange *changes, guint n);

/* Walk the whole source and apply what differs (size, mtime, files new or
 * gone): the periodic rescan where events cannot be had.  A source with a
 * lister is listed again instead (the revalidation of a server's catalog
 * after its time to live): one snapshot when the listing ends, nothing
 * changed if it fails. */
void dfs_live_rescan(DfsLive *live);

/* The source is listed by lister (catalog/scan.h), not walked: set before
 * the first rescan. */
void dfs_live_set_lister(DfsLive *live, const DfsScanLister *lister, gpointer self);

/* Stop following; the persistent index's image is brought up to date for
 * the next mount. */
void dfs_live_free(DfsLive *live);

G_END_DECLS
