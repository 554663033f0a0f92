/* dicomfs core (internal): the byte stream a reader parses.
 *
 * A source keeps one buffer holding the stream from offset 0 up to
 * `len`, and grows it on demand: from a file with pread (never past the
 * file's real size), from memory by pointing into the caller's GBytes, and
 * for Deflated Explicit VR Little Endian (PS3.5 A.5) by inflating more of
 * the file.  Stream offsets are file offsets up to the start of the deflated
 * part, and inflated offsets after it. */
#pragma once

#include <glib.h>

typedef struct _DfsSource DfsSource;

/* Ownership: the source does not close fd; it refs bytes. */
DfsSource *dfs_source_new_fd(int fd, GError **error);
DfsSource *dfs_source_new_bytes(GBytes *bytes);
void dfs_source_free(DfsSource *src);

/* Make [0, end) available.  FALSE with DFS_ERROR_TRUNCATED if the stream is
 * shorter, DFS_ERROR_IO on read errors, DFS_ERROR_LIMIT for a deflate bomb. */
gboolean dfs_source_ensure(DfsSource *src, guint64 end, GError **error);

/* Like ensure, but a short stream is not an error: returns how many bytes
 * from 0 are available, up to `end` (or -1 with an error for I/O faults). */
gint64 dfs_source_fill(DfsSource *src, guint64 end, GError **error);

/* The stream's total size where known: the file's size, or G_MAXUINT64
 * while a deflated stream has not been inflated to its end. */
guint64 dfs_source_size(const DfsSource *src);

/* The most the stream can hold: its size where known, else the inflate
 * limit of a deflated stream.  Lengths past it are errors at once. */
guint64 dfs_source_size_bound(const DfsSource *src);

/* From stream offset `at` on, the stream is the raw deflate (RFC 1951) of
 * the remaining input.  `at` must be within the loaded buffer. */
gboolean dfs_source_start_deflate(DfsSource *src, guint64 at, GError **error);

/* The loaded buffer and its length (bytes [0, len) of the stream). */
const guint8 *dfs_source_data(const DfsSource *src);
gsize dfs_source_len(const DfsSource *src);
/* Bytes of memory the source holds (its buffers and inflate state). */
gsize dfs_source_memory(const DfsSource *src);

/* Give up further reading: closes the inflater and trims the buffer to
 * what is loaded.  The buffer stays valid until dfs_source_free. */
void dfs_source_finish(DfsSource *src);

/* TRUE when stream offsets are file offsets (no deflated part). */
gboolean dfs_source_is_plain(const DfsSource *src);
