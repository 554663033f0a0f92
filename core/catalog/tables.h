/* dicomfs core: the .dicomfs tables of a snapshot read by range.
 *
 * A table of a million instances is over 200 MB: it is never rendered
 * whole to serve a read.  The first size or read of a table of a snapshot
 * measures its rows (their lengths, without writing them: a few times
 * cheaper than rendering) to note where every TABLE_CHUNK_ROWS-th row
 * starts (a few bytes per chunk, kept with the snapshot); a read of
 * [offset, offset + length) then renders only the rows it covers, from the
 * chunk before it.  So reading a table whole costs about one rendering and
 * one measuring, whatever its size and however many requests it takes. */
#pragma once

#include <glib.h>
#include "catalog/index.h"

G_BEGIN_DECLS

/* The table's size in bytes (the first call for a snapshot measures it). */
guint64 dfs_table_size(const DfsIndex *idx, DfsIndexTable table);

/* Append bytes [offset, offset + length) of the table to out (fewer at its
 * end), adding the bytes of the rows rendered for it to *rendered (the
 * status file's counters). */
void dfs_table_read(const DfsIndex *idx, DfsIndexTable table, guint64 offset, gsize length,
                    GString *out, guint64 *rendered);

/* The layouts of every table of idx (measured now if they were not), each
 * level's rows renumbered by map (a node's new number), appended to out:
 * a mapped image keeps them, so that sizing a table of its index costs
 * nothing (the first read of a chunk checks and copies them). */
void dfs_table_export(const DfsIndex *idx, const guint32 *map, GByteArray *out);

G_END_DECLS
