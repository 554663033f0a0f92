/* dicomfs core (internal): the scan's reads, many files at a time.
 *
 * A scan opens a file, reads its first bytes and closes it, a million
 * times.  One system call for each step and one wait for each disk read
 * cost more than the reads themselves on a cold disk: here (a VM) each
 * read submitted alone is a notification of the host and a task switch.
 * A batch hands the kernel the opens of up to DFS_BATCH_MAX files in one
 * submission (io_uring, liburing), their stats in a second, the first
 * reads of the regular files among them in a third, their closes with the
 * next: the block layer sends the reads
 * on together, and the thread sleeps once a batch.  (A C probe over the
 * 1,000,000 files of bench-scale, caches dropped, four threads: 15.6 s
 * and 17 s of system time, where 32 threads of openat/pread/close took
 * 22.7 s and 34 s.)
 *
 * Each file's first bytes are read as dicom/input.h's uncached reads do:
 * a file not in the page cache (cachestat(2)) directly from the disk
 * (O_DIRECT, aligned), one already cached from the cache.  Opens are
 * confined beneath the folder as the scan's own (openat2 RESOLVE_BENEATH);
 * one the batch cannot do (O_NOATIME refused, an old kernel) is left to
 * the caller to do alone.
 *
 * Where io_uring is not there (before Linux 5.18, or disabled by
 * kernel.io_uring_disabled or a seccomp filter) dfs_batch_new says so, and
 * the scan reads file by file. */
#pragma once

#include <glib.h>
#include <linux/openat2.h>
#include <sys/stat.h>

G_BEGIN_DECLS

#define DFS_BATCH_MAX 64u

/* Bytes read first from each file (a header that goes on is read on by
 * the reader, from the open file). */
#define DFS_BATCH_FIRST 8192u

typedef struct _DfsBatch DfsBatch;

typedef struct {
    const char *relpath; /* in: under the batch's folder */
    int fd;              /* out: open, or -1 (err, step) */
    int err;             /* errno of the step that failed */
    const char *step;    /* the step that failed: "stat", "read" (NULL: none) */
    gboolean retry_alone; /* the batch could not open it: open it alone */
    struct stat st;      /* of the open file */
    gboolean direct;     /* fd has O_DIRECT set: further reads aligned */
    const guint8 *data;  /* its first bytes [0, len), valid until the next batch */
    gsize len;
} DfsBatchFile;

/* How a scan opens a source file, alone or in a batch: read-only, never
 * blocking (a FIFO), without access times where allowed, and confined
 * beneath the source folder (RESOLVE_BENEATH: a link swapped in that leads
 * outside fails with EXDEV). */
struct open_how dfs_batch_open_how(void);

/* A batch reader for one thread (it may be handed to another), or NULL where io_uring cannot do what it
 * needs (say why in *why, static). */
DfsBatch *dfs_batch_new(const char **why);
void dfs_batch_free(DfsBatch *b);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DfsBatch, dfs_batch_free)

/* Open files[0..n) (n <= DFS_BATCH_MAX) beneath dirfd, stat them and read
 * the first bytes of the regular ones (three submissions); fill_cache: read
 * through the page cache even where nothing is cached (a read ahead of
 * what the tree will want).  A file that
 * fails says at which step (step, err); one the batch could not open has
 * fd -1 and retry_alone. */
void dfs_batch_read(DfsBatch *b, int dirfd, DfsBatchFile *files, guint n, gboolean fill_cache);

/* Close the files a read opened. */
void dfs_batch_close(DfsBatch *b, DfsBatchFile *files, guint n);

G_END_DECLS
