/* dicomfs core: reading DICOM files (PS3.10 file format, PS3.5 encoding).
 *
 * Reads Part 10 files (preamble, "DICM", File Meta Information) and bare
 * data sets (Implicit VR Little Endian, Explicit VR Little/Big Endian),
 * detected by content.  Transfer syntaxes: Implicit VR LE, Explicit VR LE,
 * Explicit VR BE, Deflated Explicit VR LE and every encapsulated syntax.
 *
 * Header-only reads stop at top-level Pixel Data and read, with pread, just
 * the bytes up to it (starting with DFS_HEADER_FIRST_READ and doubling).
 * Full reads load the whole file (bounded by its real size). */
#pragma once

#include <glib.h>
#include "dicom/dataset.h"

G_BEGIN_DECLS

typedef enum {
    DFS_READ_FULL = 0,
    DFS_READ_HEADER_ONLY = 1 << 0, /* stop before the Pixel Data value */
    /* The file is read once (a scan): bytes not in the page cache come from
     * the disk directly, not through the cache (dfs_input_uncached). */
    DFS_READ_UNCACHED = 1 << 1,
} DfsReadFlags;

/* Read the file at `path`.  Returns a new dataset (free with
 * dfs_dataset_free) or NULL with an error in DFS_ERROR. */
DfsDataset *dfs_read_file(const char *path, DfsReadFlags flags, GError **error);

/* Read from an open file descriptor (not closed; must stay open as long as
 * the dataset is used for dfs_dataset_read_stream). */
DfsDataset *dfs_read_fd(int fd, DfsReadFlags flags, GError **error);

/* Read from an open file of size bytes whose first len bytes are data
 * (copied), read already by a scan's batch (catalog/batch.h); direct: fd
 * has O_DIRECT set (further reads are aligned, and it stays set). */
DfsDataset *dfs_read_loaded(int fd, guint64 size, const guint8 *data, gsize len,
                            gboolean direct, DfsReadFlags flags, GError **error);

/* Read from memory.  The dataset takes a reference on `bytes`; nothing is
 * copied unless the data set is deflated. */
DfsDataset *dfs_read_bytes(GBytes *bytes, DfsReadFlags flags, GError **error);

G_END_DECLS
