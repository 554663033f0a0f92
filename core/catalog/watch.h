/* dicomfs core: following changes under a source folder, from the kernel.
 *
 * One inotify watch per folder under the root (symbolic links are not
 * followed for watching: changes behind a linked folder are not seen live,
 * and neither are changes made on another machine of a network filesystem;
 * there the caller rescans).  A thread of its own reads the events and hands
 * the caller batches of settled changes:
 *   - a file is reported when its writer closes it or when it is renamed
 *     into place, or, with no close (a writer keeping it open, a hard link,
 *     a copy that never closes), once its size and mtime have not changed
 *     for settle_ms; never half-written by the close path;
 *   - a file or folder deleted or moved away is reported gone, a folder once
 *     for itself and everything under it;
 *   - a folder made, moved or copied in is watched with every folder under
 *     it, then reported to be walked (which covers the files made in it
 *     before its watch was in place); a folder renamed within the source is
 *     gone under its old name and to be walked under its new one;
 *   - lost events (the kernel's queue overflowed) and the watch limit
 *     (fs.inotify.max_user_watches) are reported as the whole source to be
 *     walked, the limit once, with stats saying which.  After lost events
 *     the watches are brought up to date (every folder listed again); at the
 *     limit the watches in place stay, and the caller falls back to
 *     rescanning.
 * Changes are coalesced for ~50 ms after the last one, never more than
 * ~200 ms under a constant stream, one per path; a change inside a folder
 * to be walked in the same batch is left to that walk.
 *
 * Costs: one watch and one small entry per folder (the first listing of
 * every folder is made by dfs_watch_new, every later one only for folders
 * made or moved in, or after lost events); per event, a hash lookup or two;
 * one entry per file written but not yet settled, stat'ed every
 * settle_ms / 4 (past 65,536 of them, the whole source is reported to be
 * walked instead); one entry per changed path of the batch being gathered,
 * which goes out early past 16,384. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
    /* relpath is an entry other than a folder (nearly always a regular
     * file; a symbolic link to a file, a FIFO) that is new or changed and
     * has settled.  It may be gone again by the time it is handled. */
    DFS_CHANGE_FILE,
    /* relpath (a file or folder, with everything under it) is gone.  It may
     * be a path the caller never heard of (a temporary name renamed away). */
    DFS_CHANGE_GONE,
    /* relpath is a folder whose whole content must be walked again: made,
     * moved or copied in, or events were lost ("": the whole source). */
    DFS_CHANGE_FOLDER,
} DfsChangeKind;

typedef struct {
    DfsChangeKind kind;
    const char *relpath; /* from the root, '/'-separated, "" for the root */
} DfsChange;

/* A batch of changes, on the watch's thread: every GONE first, then every
 * FOLDER, then every FILE, each path once (except a GONE that comes before
 * a FILE or FOLDER of the same path whose kind changed: a file replaced by a
 * folder, or the reverse).  changes and their paths belong to the watch and
 * live until the function returns.  It must not free the watch. */
typedef void (*DfsWatchFunc)(const DfsChange *changes, guint n, gpointer user);

typedef struct {
    guint watches;          /* folders watched now */
    guint pending;          /* files written but not settled yet */
    guint64 events;         /* kernel events read */
    guint64 batches;        /* batches handed to the function */
    gboolean limit_reached; /* a folder could not be watched: the watch limit */
    gboolean overflowed;    /* events were lost at least once */
} DfsWatchStats;

typedef struct _DfsWatch DfsWatch;

/* Watch every folder under root (listing them all before it returns, so
 * that a walk begun after it misses no change) and start the thread that
 * calls fn(changes, n, user) with each batch.  settle_ms: how long a file
 * with no close must keep its size and mtime.  NULL with an error if
 * inotify cannot start or root cannot be watched.  Free with
 * dfs_watch_free. */
DfsWatch *dfs_watch_new(const char *root, guint settle_ms, DfsWatchFunc fn, gpointer user,
                        GError **error);

/* The same, watching at most max_watches folders (0: as many as the kernel
 * allows), reaching that bound as the kernel's limit would be reached: to
 * leave watches for other programs, and for tests. */
DfsWatch *dfs_watch_new_full(const char *root, guint settle_ms, guint max_watches, DfsWatchFunc fn,
                             gpointer user, GError **error);

/* Counters as of now, from any thread. */
void dfs_watch_stats(DfsWatch *w, DfsWatchStats *out);

/* Stop the thread (waiting for a batch being handed over), drop changes not
 * yet handed over, and close everything.  NULL is ignored. */
void dfs_watch_free(DfsWatch *w);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(DfsWatch, dfs_watch_free)

G_END_DECLS
