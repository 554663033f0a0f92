/* dicomfs core: the bytes a reader parses, and how source files are opened.
 *
 * An input keeps one buffer holding the stream from offset 0 up to
 * `len`, and grows it on demand: from a file with pread (never past the
 * file's real size), from memory by pointing into the caller's GBytes, and
 * for Deflated Explicit VR Little Endian (PS3.5 A.5) by inflating more of
 * the file.  Stream offsets are file offsets up to the start of the deflated
 * part, and inflated offsets after it.
 *
 * Source files are opened here (dfs_input_open), confined beneath the
 * mounted SOURCE: the reader and a dataset's later reads of its pixel data
 * both go through it, so both sit above this module. */
#pragma once

#include <glib.h>

typedef struct _DfsInput DfsInput;

/* Ownership: the source does not close fd; it refs bytes. */
DfsInput *dfs_input_new_fd(int fd, GError **error);
DfsInput *dfs_input_new_bytes(GBytes *bytes);
/* A file source of size bytes whose first len bytes were read already
 * (data, copied): a scan's batched first read (catalog/batch.h).  direct:
 * fd has O_DIRECT set, so further reads are aligned; its owner closes it
 * as it is (the flag is not taken off again). */
DfsInput *dfs_input_new_loaded(int fd, guint64 size, const guint8 *data, gsize len,
                               gboolean direct);
void dfs_input_free(DfsInput *src);

/* A file source read once, for a scan: where its first bytes are not in the
 * page cache, it is read from the disk directly (O_DIRECT, through an
 * aligned buffer) rather than through the cache.  On a cold disk that is
 * half the kernel's work a file (a scan of a million 8 KB files here: 21 s
 * of reads where buffered ones took 42 s, both cores busy in the kernel),
 * and a scan does not push what users read out of the cache.  A file
 * already cached is read from the cache; without cachestat(2) (before
 * Linux 6.5) or O_DIRECT every read goes through the cache.  The
 * descriptor's flags are restored by dfs_input_finish and dfs_input_free. */
void dfs_input_uncached(DfsInput *src);

/* Is any of bytes [off, off+n) of the open file fd in the page cache
 * (cachestat(2))?  1 yes, 0 none, -1 not known (a kernel before 6.5). */
int dfs_input_cached(int fd, guint64 off, guint64 n);

/* Make [0, end) available.  FALSE with DFS_ERROR_TRUNCATED if the stream is
 * shorter, DFS_ERROR_IO on read errors, DFS_ERROR_LIMIT for a deflate bomb. */
gboolean dfs_input_ensure(DfsInput *src, guint64 end, GError **error);

/* Like ensure, but a short stream is not an error: returns how many bytes
 * from 0 are available, up to `end` (or -1 with an error for I/O faults). */
gint64 dfs_input_fill(DfsInput *src, guint64 end, GError **error);

/* The stream's total size where known: the file's size, or G_MAXUINT64
 * while a deflated stream has not been inflated to its end. */
guint64 dfs_input_size(const DfsInput *src);

/* The most the stream can hold: its size where known, else the inflate
 * limit of a deflated stream.  Lengths past it are errors at once. */
guint64 dfs_input_size_bound(const DfsInput *src);

/* From stream offset `at` on, the stream is the raw deflate (RFC 1951) of
 * the remaining input.  `at` must be within the loaded buffer. */
gboolean dfs_input_start_deflate(DfsInput *src, guint64 at, GError **error);

/* The loaded buffer and its length (bytes [0, len) of the stream). */
const guint8 *dfs_input_data(const DfsInput *src);
gsize dfs_input_len(const DfsInput *src);
/* Bytes of memory the source holds (its buffers and inflate state). */
gsize dfs_input_memory(const DfsInput *src);

/* Give up further reading: closes the inflater and trims the buffer to
 * what is loaded.  The buffer stays valid until dfs_input_free. */
void dfs_input_finish(DfsInput *src);

/* Take bytes [at, at + n) out of the loaded buffer (of a plain file
 * source, not memory's): the bytes after them move down by n, and the
 * buffer shrinks.  FALSE (nothing done) where that cannot be. */
gboolean dfs_input_cut(DfsInput *src, guint64 at, guint64 n);

/* TRUE when stream offsets are file offsets (no deflated part). */
gboolean dfs_input_is_plain(const DfsInput *src);

/* Confine every file opened with dfs_input_open (so dfs_read_file too)
 * to root, a canonical folder path; NULL lifts it.  Set once, before other
 * threads start: dicomfs confines reads to its SOURCE. */
void dfs_input_confine(const char *root);

/* Open path for reading (non-blocking: a FIFO never waits).  When confined,
 * the file really opened must lie under the root, whatever symbolic links
 * the path went through (checked on the open descriptor, so a link swapped
 * in at any time cannot lead out): else -1 with errno EACCES. */
int dfs_input_open(const char *path);

/* O_NOATIME for opening a source file (reads leave its access time alone),
 * or 0 once the process was refused it (the files' owner or CAP_FOWNER
 * only).  After an open with flags gave fd: TRUE where it failed for
 * O_NOATIME alone, to be opened again without it. */
int dfs_input_noatime_flag(void);
gboolean dfs_input_noatime_refused(int fd, int flags);

/* openat(2) of a source file or folder with O_NOATIME added (as above). */
int dfs_input_openat(int dirfd, const char *path, int flags);

/* The root reads are confined to, or NULL. */
const char *dfs_input_confinement(void);
