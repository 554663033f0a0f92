/* dicomfs core: the scan's reads, many files at a time.  See batch.h. */
#define _GNU_SOURCE /* O_NOATIME, O_DIRECT, statx */
#include "catalog/batch.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "dicom/input.h"

/* What the kernel writes through the ring (read bytes, statx) is memory
 * valgrind never sees written: it is told so, where its header is there
 * (a client request: nothing at all outside valgrind). */
#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define WRITTEN_BY_KERNEL(p, n) VALGRIND_MAKE_MEM_DEFINED(p, n)
#endif
#endif
#ifndef WRITTEN_BY_KERNEL
#define WRITTEN_BY_KERNEL(p, n) ((void)(p), (void)(n))
#endif

/* Direct reads: memory, offsets and lengths aligned to this (any logical
 * block size up to a page). */
#define ALIGN 4096u

/* What a completion is for: file index << 2 | step. */
enum { OP_OPEN, OP_STAT, OP_READ, OP_CLOSE };

struct _DfsBatch {
    struct io_uring ring;
    guint8 *buf;                      /* DFS_BATCH_MAX blocks of DFS_BATCH_FIRST */
    struct statx stx[DFS_BATCH_MAX];
    int res[DFS_BATCH_MAX][4];        /* each file's result of each step */
    gboolean broken;                  /* the ring failed once: not used again */
};

DfsBatch *dfs_batch_new(const char **why)
{
    if (g_getenv("DICOMFS_NO_IO_URING") != NULL) {
        *why = "DICOMFS_NO_IO_URING is set";
        return NULL;
    }
    DfsBatch *b = g_new0(DfsBatch, 1);
    /* SUBMIT_ALL (5.18): a request that fails as it is submitted (a path
     * too long) does not leave those after it unsubmitted. */
    struct io_uring_params params = {.flags = IORING_SETUP_SUBMIT_ALL};
    int r = io_uring_queue_init_params(4 * DFS_BATCH_MAX, &b->ring, &params);
    if (r < 0) {
        *why = "io_uring cannot be set up (a kernel before 5.18, or disabled)";
        g_free(b);
        return NULL;
    }
    struct io_uring_probe *probe = io_uring_get_probe_ring(&b->ring);
    gboolean ok = (params.features & IORING_FEAT_CQE_SKIP) && probe != NULL &&
                  io_uring_opcode_supported(probe, IORING_OP_OPENAT2) &&
                  io_uring_opcode_supported(probe, IORING_OP_STATX) &&
                  io_uring_opcode_supported(probe, IORING_OP_READ) &&
                  io_uring_opcode_supported(probe, IORING_OP_CLOSE);
    if (probe != NULL)
        io_uring_free_probe(probe);
    void *block = NULL;
    if (!ok || posix_memalign(&block, ALIGN, (gsize)DFS_BATCH_MAX * DFS_BATCH_FIRST) != 0) {
        *why = ok ? "out of memory" : "io_uring lacks openat2, statx, read, close or skipped completions";
        io_uring_queue_exit(&b->ring);
        g_free(b);
        return NULL;
    }
    b->buf = block;
    return b;
}

void dfs_batch_free(DfsBatch *b)
{
    if (b == NULL)
        return;
    io_uring_submit(&b->ring); /* closes not yet submitted */
    io_uring_queue_exit(&b->ring);
    free(b->buf);
    g_free(b);
}

static struct io_uring_sqe *sqe_for(DfsBatch *b, guint i, int op)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);
    if (sqe != NULL) /* never NULL: the ring holds a step of a whole batch and
                        the closes of the last, twice over */
        io_uring_sqe_set_data64(sqe, (guint64)i << 2 | (guint64)op);
    return sqe;
}

/* Submit what is queued and take the `want` completions of opens, stats
 * and reads (each result into res[file][step]; a close says something only
 * when it fails, and that is let go).  FALSE if the ring failed. */
static gboolean run(DfsBatch *b, guint want)
{
    if (want == 0)
        return TRUE;
    int r;
    do
        r = io_uring_submit_and_wait(&b->ring, want);
    while (r == -EINTR);
    if (r < 0 || io_uring_sq_ready(&b->ring) > 0) {
        b->broken = TRUE; /* a completion would never come for those left */
        return FALSE;
    }
    guint got = 0;
    while (got < want) {
        struct io_uring_cqe *cqe;
        r = io_uring_wait_cqe(&b->ring, &cqe);
        if (r == -EINTR)
            continue;
        if (r < 0) {
            b->broken = TRUE;
            return FALSE;
        }
        guint64 d = io_uring_cqe_get_data64(cqe);
        b->res[d >> 2][d & 3] = cqe->res;
        io_uring_cqe_seen(&b->ring, cqe);
        if ((d & 3) != OP_CLOSE)
            got++;
    }
    return TRUE;
}

static void stat_from_statx(struct stat *st, const struct statx *x)
{
    memset(st, 0, sizeof *st);
    st->st_dev = makedev(x->stx_dev_major, x->stx_dev_minor);
    st->st_ino = x->stx_ino;
    st->st_mode = x->stx_mode;
    st->st_nlink = x->stx_nlink;
    st->st_uid = x->stx_uid;
    st->st_gid = x->stx_gid;
    st->st_rdev = makedev(x->stx_rdev_major, x->stx_rdev_minor);
    st->st_size = (off_t)x->stx_size;
    st->st_blksize = (blksize_t)x->stx_blksize;
    st->st_blocks = (blkcnt_t)x->stx_blocks;
    st->st_atim.tv_sec = x->stx_atime.tv_sec;
    st->st_atim.tv_nsec = x->stx_atime.tv_nsec;
    st->st_mtim.tv_sec = x->stx_mtime.tv_sec;
    st->st_mtim.tv_nsec = x->stx_mtime.tv_nsec;
    st->st_ctim.tv_sec = x->stx_ctime.tv_sec;
    st->st_ctim.tv_nsec = x->stx_ctime.tv_nsec;
}

/* A file none of whose first bytes is in the page cache is read directly:
 * O_DIRECT set on fd (with the flags it was opened with).  FALSE where it
 * stays buffered (cached, or that cannot be known or done). */
static gboolean go_direct(int fd, int open_flags)
{
    return dfs_input_cached(fd, 0, DFS_BATCH_FIRST) == 0 &&
           fcntl(fd, F_SETFL, open_flags | O_DIRECT) == 0;
}

struct open_how dfs_batch_open_how(void)
{
    return (struct open_how){.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
                                      (guint64)dfs_input_noatime_flag(),
                             .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
}

/* Give up on the batch: every file is left to be opened alone.  (A ring
 * that failed while opening may have opened some: those stay open; it has
 * never happened here, and the ring is not used again.) */
static void all_alone(DfsBatch *b, DfsBatchFile *files, guint n)
{
    dfs_batch_close(b, files, n);
    for (guint i = 0; i < n; i++) {
        files[i].retry_alone = TRUE;
        files[i].fd = -1;
    }
}

void dfs_batch_read(DfsBatch *b, int dirfd, DfsBatchFile *files, guint n, gboolean fill_cache)
{
    g_return_if_fail(n <= DFS_BATCH_MAX);
    struct open_how how = dfs_batch_open_how();
    /* The status flags F_SETFL sets again with or without O_DIRECT. */
    int status_flags = (int)how.flags & ~(O_RDONLY | O_CLOEXEC | O_NOCTTY);
    for (guint i = 0; i < n; i++) {
        DfsBatchFile *f = &files[i];
        f->fd = -1;
        f->err = 0;
        f->step = NULL;
        f->retry_alone = FALSE;
        f->direct = FALSE;
        f->data = NULL;
        f->len = 0;
        if (!b->broken)
            io_uring_prep_openat2(sqe_for(b, i, OP_OPEN), dirfd, f->relpath, &how);
    }
    if (b->broken || !run(b, n)) {
        all_alone(b, files, n);
        return;
    }
    guint queued = 0;
    for (guint i = 0; i < n; i++) {
        DfsBatchFile *f = &files[i];
        if (b->res[i][OP_OPEN] < 0) {
            /* Its error, O_NOATIME refused or openat2 missing: the scan's
             * own open says which, and does what can be done. */
            f->retry_alone = TRUE;
            continue;
        }
        f->fd = b->res[i][OP_OPEN];
        io_uring_prep_statx(sqe_for(b, i, OP_STAT), f->fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
                            STATX_BASIC_STATS, &b->stx[i]);
        queued++;
    }
    if (!run(b, queued)) {
        all_alone(b, files, n);
        return;
    }
    /* Only regular files are read (a FIFO swapped in since the walk would
     * make its read wait for a writer). */
    queued = 0;
    for (guint i = 0; i < n; i++) {
        DfsBatchFile *f = &files[i];
        if (f->fd < 0)
            continue;
        if (b->res[i][OP_STAT] < 0) {
            f->step = "stat";
            f->err = -b->res[i][OP_STAT];
            continue;
        }
        WRITTEN_BY_KERNEL(&b->stx[i], sizeof b->stx[i]);
        stat_from_statx(&f->st, &b->stx[i]);
        if (!S_ISREG(f->st.st_mode) || f->st.st_size == 0)
            continue; /* the caller says what it is */
        f->direct = !fill_cache && go_direct(f->fd, status_flags);
        io_uring_prep_read(sqe_for(b, i, OP_READ), f->fd, b->buf + (gsize)i * DFS_BATCH_FIRST,
                           DFS_BATCH_FIRST, 0);
        queued++;
    }
    if (!run(b, queued)) {
        all_alone(b, files, n);
        return;
    }
    for (guint i = 0; i < n; i++) {
        DfsBatchFile *f = &files[i];
        if (f->fd < 0 || f->step != NULL || !S_ISREG(f->st.st_mode) || f->st.st_size == 0)
            continue;
        guint8 *data = b->buf + (gsize)i * DFS_BATCH_FIRST;
        int r = b->res[i][OP_READ];
        if (r == -EINVAL && f->direct) {
            /* The file's blocks are larger than a page after all: read it
             * through the cache. */
            f->direct = fcntl(f->fd, F_SETFL, status_flags) != 0;
            do
                r = (int)pread(f->fd, data, DFS_BATCH_FIRST, 0);
            while (r < 0 && errno == EINTR);
            r = r < 0 ? -errno : r;
        }
        if (r < 0) {
            f->step = "read";
            f->err = -r;
            continue;
        }
        WRITTEN_BY_KERNEL(data, (gsize)r);
        f->data = data;
        f->len = (gsize)MIN((guint64)r, (guint64)f->st.st_size);
    }
}

void dfs_batch_close(DfsBatch *b, DfsBatchFile *files, guint n)
{
    /* The closes go with the next submission (or this one): a close is done
     * at once, and gives no completion when it succeeds. */
    if (b->broken) {
        for (guint i = 0; i < n; i++)
            if (files[i].fd >= 0) {
                close(files[i].fd);
                files[i].fd = -1;
            }
        return;
    }
    gboolean any = FALSE;
    for (guint i = 0; i < n; i++)
        if (files[i].fd >= 0) {
            struct io_uring_sqe *sqe = sqe_for(b, i, OP_CLOSE);
            io_uring_prep_close(sqe, files[i].fd);
            sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
            files[i].fd = -1;
            any = TRUE;
        }
    if (any)
        io_uring_submit(&b->ring); /* if it fails, the next one takes them */
}
