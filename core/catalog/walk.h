/* dicomfs core: walking a source folder.
 *
 * Visits every entry under a root folder, depth first, in name order so that
 * the walk is the same on every run.  Symbolic links are followed when they
 * lead to something inside the root; a folder already visited (same device
 * and inode: a link loop, or two links to one folder) is not entered again,
 * and a file already seen (same device and inode; the inode the folder's
 * listing gives where files are not stat'ed) is reported once as a file
 * and then as a skip.
 * Nothing outside the root is ever visited.  Never writes anything. */
#pragma once

#include <glib.h>
#include <sys/stat.h>

G_BEGIN_DECLS

typedef struct {
    /* A regular file: relpath (from the root, '/'-separated) and its stat,
     * or NULL when stat_files is FALSE and the folder's listing said it is
     * a regular file (the caller stats it, in parallel with the walk, say:
     * on a cold disk a walk that stats every file waits for each inode). */
    void (*file)(const char *relpath, const struct stat *st, gpointer user);
    /* An entry that is not indexed, with the reason ("not a regular file",
     * "unreadable: Permission denied", "symlink loop", ...). */
    void (*skip)(const char *relpath, const char *reason, gpointer user);
    /* Asked before each entry (may be NULL): TRUE ends the walk early. */
    gboolean (*stop)(gpointer user);
    gboolean stat_files;
} DfsWalkCallbacks;

/* Walk root.  FALSE with an error only if root itself cannot be opened. */
gboolean dfs_walk(const char *root, const DfsWalkCallbacks *cb, gpointer user, GError **error);

G_END_DECLS
