/* dicomfs core: a finished index as one file that is mapped back with no
 * work per node, so that a remount shows its tree at once whatever its size.
 *
 * The image is a copy of what the persistent index (store.h) holds, as the
 * tree shows it: every node with its name, children sorted by name, fields,
 * source path, size and mtime, and the skip list (index-private.h has the
 * records).  It lives beside the store (in the user's cache, never beside
 * the source), carries the store's stamp (an image of another version of
 * the store is not used), and is written whole to a temporary file that is
 * then renamed over the old one.
 *
 * Costs: writing is linear in the index (a sort of the instances by source
 * path is the largest part); mapping reads the header only; a mapped index
 * costs the pages a walk touches (64 bytes a node and its name), which the
 * kernel may drop and read again. */
#pragma once

#include <glib.h>
#include "catalog/index.h"

G_BEGIN_DECLS

/* Where the image of the store at store_path lives (beside it).  Caller
 * frees. */
char *dfs_image_path(const char *store_path);

/* Write idx (an index from a builder) to path with the store's stamp.
 * compact: numbered as a builder that files the store's rows in order
 * numbers it (nodes taken out are dropped and the others renumbered in
 * order), which is what the next mount loads if the source has changed;
 * otherwise numbered as idx, for this mount to map. */
gboolean dfs_image_write(const DfsIndex *idx, const char *path, guint64 stamp, gboolean compact,
                         GError **error);

/* Does writing idx compact renumber anything (has a node been taken out)? */
gboolean dfs_image_renumbers(const DfsIndex *idx);

/* path mapped as an index (caller unrefs), or NULL when it is missing, of
 * another stamp, or not a whole image. */
DfsIndex *dfs_image_map(const char *path, guint64 stamp, GError **error);

/* --- when a listed source was last listed whole ------------------------------
 *
 * A server's listing is trusted for a time (its TTL): a remount within it
 * shows the image and asks the server nothing.  When the listing behind an
 * image was last whole is a line beside it ("<stamp> <unix seconds>"),
 * good only while the store keeps that stamp (a change filed since makes it
 * void). */

/* The listing behind the image at path, of the store's stamp, was whole
 * now. */
void dfs_image_note_listed(const char *path, guint64 stamp);

/* Seconds since it was (never negative), or -1 when unknown or void. */
gint64 dfs_image_listed_ago(const char *path, guint64 stamp);

/* --- the source against a mapped index ------------------------------------
 *
 * A walk of the source checks each entry it meets: a file whose version
 * (size, mtime) the image has as an instance or a skipped file, or an entry
 * the walk skips for the same reason.  The source is unchanged if every
 * entry was found and the walk met as many entries as the image holds. */
gboolean dfs_image_has_file(const DfsIndex *idx, const char *relpath, guint64 size,
                            gint64 mtime_ns);
gboolean dfs_image_has_skip(const DfsIndex *idx, const char *relpath, const char *reason);
guint dfs_image_n_entries(const DfsIndex *idx);

/* The pages of idx's file that the process has touched are let go (they
 * stay in the page cache, and come back on the next touch): after a check,
 * which touches every instance, only what is walked counts again. */
void dfs_image_forget_pages(const DfsIndex *idx);

G_END_DECLS
