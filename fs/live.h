/* dicomfs fs: a mount that follows its source (issue 14): the kernel's
 * events (core/catalog/watch.h) or periodic rescans feed the catalog
 * (core/catalog/live.h), whose new snapshots go to the tree, and the
 * kernel's caches of what changed are dropped (fuse_lowlevel_notify_*), so
 * that the rest keeps its long timeouts. */
#pragma once

#include "ops.h"
#include "catalog/index.h"
#include "catalog/scan.h"

typedef struct _DfsFsLive DfsFsLive;

typedef struct {
    gboolean watch;   /* kernel events (inotify) where the source has them */
    guint rescan_s;   /* rescan every so many seconds (0: only as a fallback) */
    /* A source that is listed, not walked (a server's catalog: its
     * listing revalidated every rescan_s), or NULL. */
    const DfsScanLister *lister;
    gpointer lister_self;
} DfsFsLiveOptions;

/* Follow source (changes met before its first scan is done wait for it),
 * status being the scan's status the tree shows (updated
 * here from now on, under the tree's publish).  NULL when nothing is to be
 * followed. */
DfsFsLive *dfs_fs_live_new(const char *source, DfsTree *tree, DfsTreeStatus *status,
                           const DfsFsLiveOptions *o);

/* Start the kernel's events (on the scan's thread, just before its walk:
 * listing every folder to watch takes a while on a large source, and the
 * mount should not wait for it; no change after it is missed). */
void dfs_fs_live_watch(DfsFsLive *fl);

/* The first scan is done: current is what it published, builder the one
 * that made it (taken; NULL if it came from the image), store_path the
 * persistent index (or NULL). */
void dfs_fs_live_ready(DfsFsLive *fl, DfsIndex *current, DfsIndexBuilder *builder,
                       const char *store_path);

/* The session to tell the kernel through, once mounted (NULL: not any more). */
void dfs_fs_live_set_session(DfsFsLive *fl, struct fuse_session *se);

/* Before dfs_fs_live_ready: the first rescan (a server's listing) comes
 * after seconds rather than a whole period (a stored listing shown at
 * mount was that far into its TTL). */
void dfs_fs_live_rescan_first_in(DfsFsLive *fl, guint seconds);

void dfs_fs_live_free(DfsFsLive *fl);
