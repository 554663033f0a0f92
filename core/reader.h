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
#include "dataset.h"

G_BEGIN_DECLS

typedef enum {
    DFS_READ_FULL = 0,
    DFS_READ_HEADER_ONLY = 1 << 0, /* stop before the Pixel Data value */
} DfsReadFlags;

/* Confine every file opened with dfs_open_for_read (so dfs_read_file too)
 * to root, a canonical folder path; NULL lifts it.  Set once, before other
 * threads start: dicomfs confines reads to its SOURCE. */
void dfs_read_confine(const char *root);

/* Open path for reading (non-blocking: a FIFO never waits).  When confined,
 * the file really opened must lie under the root, whatever symbolic links
 * the path went through (checked on the open descriptor, so a link swapped
 * in at any time cannot lead out): else -1 with errno EACCES. */
int dfs_open_for_read(const char *path);

/* The root reads are confined to, or NULL. */
const char *dfs_read_confinement(void);

/* Read the file at `path`.  Returns a new dataset (free with
 * dfs_dataset_free) or NULL with an error in DFS_ERROR. */
DfsDataset *dfs_read_file(const char *path, DfsReadFlags flags, GError **error);

/* Read from an open file descriptor (not closed; must stay open as long as
 * the dataset is used for dfs_dataset_read_stream). */
DfsDataset *dfs_read_fd(int fd, DfsReadFlags flags, GError **error);

/* Read from memory.  The dataset takes a reference on `bytes`; nothing is
 * copied unless the data set is deflated. */
DfsDataset *dfs_read_bytes(GBytes *bytes, DfsReadFlags flags, GError **error);

G_END_DECLS
