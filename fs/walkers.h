/* dicomfs fs: who stats what it lists.
 *
 * A listing with attributes (readdirplus) makes the kernel build an inode
 * for every entry, and the daemon size every file: what `ls -l` wants, and
 * wasted on `ls -R`, `find -name` or `du -a --apparent-size`'s cousins
 * that walk by d_type alone (on a fresh mount, most of a walk of
 * attribute folders).  The kernel cannot tell the two apart at a folder's
 * first chunk; the daemon learns it per caller: a process is listed files
 * without their attributes until it looks one of them up (a stat, an
 * open), and from then on, while it keeps asking, with them.  Folders are
 * always listed with theirs: every walker enters them. */
#pragma once

#include <glib.h>
#include <sys/types.h>

/* Should pid's listing give files' attributes?  FALSE also notes pid as a
 * walker listed without them. */
gboolean dfs_walkers_want_attributes(pid_t pid);

/* pid looked up a file (not a folder): if it was listed files without
 * their attributes, it stats what it lists. */
void dfs_walkers_looked_up(pid_t pid);
