/* dicomfs core (internal): the byte stream a reader parses.  See input.h. */
#define _GNU_SOURCE /* O_NOATIME */
#include "dicom/input.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <zlib.h>

#include "base/error.h"
#include "dicom/limits.h"
#include "base/scratch.h"

#define IN_CHUNK 16384

/* Direct reads: offsets, lengths and memory aligned to this (any logical
 * block size up to a page), through a buffer of at most DIRECT_CHUNK. */
#define DIRECT_ALIGN 4096u
#define DIRECT_CHUNK (256u * 1024u)

/* How an uncached source reads (dfs_input_uncached). */
typedef enum {
    READS_BUFFERED = 0, /* through the page cache, as every source */
    READS_PROBE,        /* the first read asks what is cached (cachestat) */
    READS_DIRECT,       /* O_DIRECT is set on fd: aligned reads */
} ReadMode;

struct _DfsInput {
    int fd;          /* -1 for memory sources */
    GBytes *bytes;   /* memory source, or NULL */
    guint64 in_size; /* size of the file or memory */

    guint8 *buf;     /* stream bytes [0, len) */
    gsize len;
    gsize cap;
    gboolean borrowed; /* buf points into bytes (no copy) */
    gboolean scratch;  /* buf is the thread's first-read block (scratch.h) */
    ReadMode mode;
    int fd_flags;      /* fd's status flags before O_DIRECT was set */
    gboolean leave_direct; /* the fd's owner closes it as it is: no restore */

    /* Deflated tail: inflate input bytes [in_pos, in_size). */
    z_stream *z;
    guint64 in_pos;
    guint64 deflate_at;   /* stream offset where inflated data starts */
    guint64 inflate_max;  /* bomb guard: most bytes we accept from it */
    gboolean z_done;      /* the deflate stream ended */
    gboolean deflated;    /* a deflated part was started */
    guint8 *in_chunk;     /* input buffer of IN_CHUNK bytes */
};

static void end_direct(DfsInput *src);
static void reserve(DfsInput *src, gsize need);

static gboolean set_io_error(GError **error, int err, const char *what)
{
    g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "%s: %s", what, g_strerror(err));
    return FALSE;
}

DfsInput *dfs_input_new_fd(int fd, GError **error)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        set_io_error(error, errno, "stat");
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "not a regular file");
        return NULL;
    }
    DfsInput *src = g_new0(DfsInput, 1);
    src->fd = fd;
    src->in_size = (guint64)st.st_size;
    return src;
}

DfsInput *dfs_input_new_loaded(int fd, guint64 size, const guint8 *data, gsize len,
                               gboolean direct)
{
    DfsInput *src = g_new0(DfsInput, 1);
    src->fd = fd;
    src->in_size = size;
    len = (gsize)MIN((guint64)len, size);
    if (len > 0) {
        reserve(src, len);
        memcpy(src->buf, data, len);
        src->len = len;
    }
    if (direct) {
        src->mode = READS_DIRECT;
        src->leave_direct = TRUE;
    }
    return src;
}

DfsInput *dfs_input_new_bytes(GBytes *bytes)
{
    DfsInput *src = g_new0(DfsInput, 1);
    gsize size;
    src->fd = -1;
    src->bytes = g_bytes_ref(bytes);
    src->buf = (guint8 *)g_bytes_get_data(bytes, &size);
    src->len = size;
    src->in_size = size;
    src->borrowed = TRUE;
    return src;
}

void dfs_input_free(DfsInput *src)
{
    if (src == NULL)
        return;
    end_direct(src);
    if (src->z != NULL) {
        inflateEnd(src->z);
        g_free(src->z);
    }
    if (!src->borrowed)
        dfs_scratch_release(DFS_SCRATCH_HEADER, src->buf, src->scratch);
    g_free(src->in_chunk);
    if (src->bytes != NULL)
        g_bytes_unref(src->bytes);
    g_free(src);
}

/* Grow the owned buffer to hold at least `need` bytes.  Callers have already
 * bounded `need` by the real input size or the inflate limit. */
static void reserve(DfsInput *src, gsize need)
{
    if (need <= src->cap)
        return;
    gsize cap = src->cap ? src->cap : DFS_HEADER_FIRST_READ;
    while (cap < need)
        cap = cap > G_MAXSIZE / 2 ? need : cap * 2;
    if (src->buf == NULL && cap == DFS_HEADER_FIRST_READ) {
        /* Most headers fit their first read: one block per thread serves. */
        src->buf = dfs_scratch_take(DFS_SCRATCH_HEADER, cap);
        src->scratch = TRUE;
    } else {
        src->buf = dfs_scratch_grow(DFS_SCRATCH_HEADER, src->buf, &src->scratch, src->len, cap);
    }
    src->cap = cap;
}

/* --- uncached reads ---------------------------------------------------- */

void dfs_input_uncached(DfsInput *src)
{
    if (src->fd >= 0 && src->mode == READS_BUFFERED)
        src->mode = READS_PROBE;
}

/* Back to reads through the cache. */
static void end_direct(DfsInput *src)
{
    if (src->mode == READS_DIRECT && !src->leave_direct)
        (void)fcntl(src->fd, F_SETFL, src->fd_flags);
    src->mode = READS_BUFFERED;
}

/* Each thread's aligned buffer for direct reads, freed when it ends. */
static void free_aligned(gpointer p)
{
    free(p);
}
static GPrivate direct_buffer = G_PRIVATE_INIT(free_aligned);

static guint8 *aligned_buffer(void)
{
    guint8 *p = g_private_get(&direct_buffer);
    if (p == NULL) {
        void *block = NULL;
        if (posix_memalign(&block, DIRECT_ALIGN, DIRECT_CHUNK) != 0)
            g_error("out of memory (%u bytes)", DIRECT_CHUNK);
        p = block;
        g_private_set(&direct_buffer, p);
    }
    return p;
}

/* cachestat(2) (Linux 6.5): how much of a range is in the page cache,
 * without reading anything.  (A read with RWF_NOWAIT would say too, but
 * it starts the readahead it does not wait for: the file read twice.) */
#ifndef __NR_cachestat
#define __NR_cachestat 451
#endif
struct dfs_cachestat_range {
    guint64 off, len;
};
struct dfs_cachestat {
    guint64 nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};
static gint no_cachestat; /* the kernel has none: every read buffered */

int dfs_input_cached(int fd, guint64 off, guint64 n)
{
    if (g_atomic_int_get(&no_cachestat))
        return -1;
    struct dfs_cachestat_range range = {off, n};
    struct dfs_cachestat cs;
    if (syscall(__NR_cachestat, fd, &range, &cs, 0) != 0) {
        if (errno == ENOSYS)
            g_atomic_int_set(&no_cachestat, TRUE);
        return -1;
    }
    return cs.nr_cache > 0;
}

/* Before the first read of an uncached source: where none of [off, off+n)
 * is in the page cache, set O_DIRECT on the file (mode DIRECT); else, or
 * where that cannot be known or done, read as usual. */
static void probe_cache(DfsInput *src, guint64 off, gsize n)
{
    src->mode = READS_BUFFERED;
    if (dfs_input_cached(src->fd, off, n) != 0)
        return;
    int flags = fcntl(src->fd, F_GETFL);
    if (flags >= 0 && fcntl(src->fd, F_SETFL, flags | O_DIRECT) == 0) {
        src->fd_flags = flags;
        src->mode = READS_DIRECT;
    }
}

/* Bytes [off, off+n) with direct reads of the aligned blocks around them;
 * -1 with errno, or fewer at the file's end.  EINVAL: the file's
 * alignment is larger, or O_DIRECT is refused after all. */
static gssize read_direct(int fd, guint64 off, guint8 *dst, gsize n)
{
    guint8 *buf = aligned_buffer();
    gsize done = 0;
    while (done < n) {
        guint64 at = off + done;
        guint64 start = at & ~(guint64)(DIRECT_ALIGN - 1);
        gsize skip = (gsize)(at - start);
        gsize want = MIN((gsize)DIRECT_CHUNK, (skip + (n - done) + DIRECT_ALIGN - 1) & ~(gsize)(DIRECT_ALIGN - 1));
        ssize_t r = pread(fd, buf, want, (off_t)start);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if ((gsize)r <= skip)
            break; /* the file ends here */
        gsize got = MIN((gsize)r - skip, n - done);
        memcpy(dst + done, buf + skip, got);
        done += got;
        if ((gsize)r < want)
            break;
    }
    return (gssize)done;
}

/* Read input bytes [off, off+n) into dst: from the file or from memory. */
static gssize read_input(DfsInput *src, guint64 off, guint8 *dst, gsize n, GError **error)
{
    if (off >= src->in_size)
        return 0;
    n = MIN(n, src->in_size - off);
    if (src->fd < 0) {
        memcpy(dst, (const guint8 *)g_bytes_get_data(src->bytes, NULL) + off, n);
        return (gssize)n;
    }
    gsize done = 0;
    if (src->mode == READS_PROBE)
        probe_cache(src, off, n);
    if (src->mode == READS_DIRECT) {
        gssize r = read_direct(src->fd, off, dst, n);
        if (r >= 0)
            return r;
        if (errno != EINVAL) {
            set_io_error(error, errno, "read");
            return -1;
        }
        src->leave_direct = FALSE; /* O_DIRECT must go now */
        end_direct(src);           /* and read as usual */
    }
    while (done < n) {
        ssize_t r = pread(src->fd, dst + done, n - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            set_io_error(error, errno, "read");
            return -1;
        }
        if (r == 0)
            break; /* the file shrank since fstat */
        done += (gsize)r;
    }
    return (gssize)done;
}

/* Plain file source: read ahead by doubling, never past the file's end. */
static gboolean fill_plain(DfsInput *src, guint64 end, GError **error)
{
    guint64 want = MAX(end, MAX((guint64)DFS_HEADER_FIRST_READ, (guint64)src->len * 2));
    want = MIN(want, src->in_size);
    if (want <= src->len)
        return TRUE;
    reserve(src, want);
    gssize r = read_input(src, src->len, src->buf + src->len, want - src->len, error);
    if (r < 0)
        return FALSE;
    src->len += (gsize)r;
    return TRUE;
}

static gboolean inflate_error(GError **error, const char *msg)
{
    g_set_error(error, DFS_ERROR, DFS_ERROR_MALFORMED, "deflated data set: %s",
                msg ? msg : "corrupt stream");
    return FALSE;
}

/* Inflate until the stream holds `end` bytes or the deflate stream ends. */
static gboolean fill_deflate(DfsInput *src, guint64 end, GError **error)
{
    z_stream *z = src->z;
    while (src->len < end && !src->z_done) {
        if (src->len - src->deflate_at >= src->inflate_max) {
            g_set_error(error, DFS_ERROR, DFS_ERROR_LIMIT,
                        "deflated data set inflates past %" G_GUINT64_FORMAT " bytes",
                        src->inflate_max);
            return FALSE;
        }
        if (z->avail_in == 0) {
            gssize r = read_input(src, src->in_pos, src->in_chunk, IN_CHUNK, error);
            if (r < 0)
                return FALSE;
            src->in_pos += (guint64)r;
            z->next_in = src->in_chunk;
            z->avail_in = (uInt)r;
        }
        /* Grow by doubling, so a full read of an unknown-size stream does
         * not reserve the whole limit up front. */
        guint64 room64 = MIN(MAX(end - src->len, (guint64)65536), MAX((guint64)src->len, 65536));
        room64 = MIN(room64, src->deflate_at + src->inflate_max - src->len);
        gsize room = (gsize)MIN(room64, (guint64)G_MAXUINT32);
        reserve(src, src->len + room);
        z->next_out = src->buf + src->len;
        z->avail_out = (uInt)room;
        int rc = inflate(z, Z_NO_FLUSH);
        src->len += room - z->avail_out;
        if (rc == Z_STREAM_END)
            src->z_done = TRUE;
        else if (rc == Z_BUF_ERROR && z->avail_in == 0)
            src->z_done = TRUE; /* input ended without a final block: keep what we have */
        else if (rc != Z_OK && rc != Z_BUF_ERROR)
            return inflate_error(error, z->msg);
    }
    return TRUE;
}

gint64 dfs_input_fill(DfsInput *src, guint64 end, GError **error)
{
    if (end > src->len) {
        gboolean ok = src->z != NULL  ? fill_deflate(src, end, error)
                      : src->fd >= 0 ? fill_plain(src, end, error)
                                     : TRUE;
        if (!ok)
            return -1;
    }
    return (gint64)MIN(end, (guint64)src->len);
}

gboolean dfs_input_ensure(DfsInput *src, guint64 end, GError **error)
{
    gint64 have = dfs_input_fill(src, end, error);
    if (have < 0)
        return FALSE;
    if ((guint64)have < end) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_TRUNCATED,
                    "data ends at byte %" G_GINT64_FORMAT ", %" G_GUINT64_FORMAT " needed", have,
                    end);
        return FALSE;
    }
    return TRUE;
}

guint64 dfs_input_size(const DfsInput *src)
{
    if (src->z != NULL)
        return src->z_done ? src->len : G_MAXUINT64;
    return src->in_size;
}

guint64 dfs_input_size_bound(const DfsInput *src)
{
    if (src->z != NULL && !src->z_done)
        return src->deflate_at + src->inflate_max;
    return dfs_input_size(src);
}

/* PS3.5 A.5 says raw deflate (RFC 1951); some writers add a zlib header
 * (RFC 1950).  Accept both: a valid zlib header is checked by its FCHECK. */
static int window_bits_for(const guint8 *p, gsize n)
{
    if (n >= 2 && (p[0] & 0x0f) == 8 && (p[0] >> 4) <= 7 && ((p[0] << 8) | p[1]) % 31 == 0)
        return 15;
    return -15;
}

gboolean dfs_input_start_deflate(DfsInput *src, guint64 at, GError **error)
{
    g_return_val_if_fail(at <= src->len && src->z == NULL, FALSE);
    if (src->borrowed) {
        /* Copy the plain prefix out of the caller's memory: the inflated
         * stream continues it in a buffer of our own. */
        guint8 *own = g_malloc(MAX(at, (guint64)DFS_HEADER_FIRST_READ));
        memcpy(own, src->buf, at);
        src->buf = own;
        src->cap = MAX(at, (guint64)DFS_HEADER_FIRST_READ);
        src->borrowed = FALSE;
    }
    src->len = at;
    src->deflated = TRUE;
    src->deflate_at = at;
    src->in_pos = at;
    guint64 compressed = src->in_size - at;
    src->inflate_max = MIN((guint64)DFS_LIMIT_INFLATED_BYTES,
                           MAX(compressed, (guint64)1024) * DFS_LIMIT_INFLATE_RATIO);
    guint8 head[2] = {0, 0};
    gssize r = read_input(src, at, head, 2, error);
    if (r < 0)
        return FALSE;
    src->z = g_new0(z_stream, 1);
    src->in_chunk = g_malloc(IN_CHUNK);
    if (inflateInit2(src->z, window_bits_for(head, (gsize)r)) != Z_OK) {
        g_clear_pointer(&src->z, g_free);
        return inflate_error(error, "cannot start zlib");
    }
    return TRUE;
}

const guint8 *dfs_input_data(const DfsInput *src)
{
    return src->buf;
}

gsize dfs_input_len(const DfsInput *src)
{
    return src->len;
}

gsize dfs_input_memory(const DfsInput *src)
{
    gsize n = sizeof *src + (src->borrowed ? 0 : src->cap);
    if (src->in_chunk != NULL)
        n += IN_CHUNK;
    if (src->z != NULL)
        n += sizeof(z_stream) + 48 * 1024; /* zlib's state and window */
    return n;
}

void dfs_input_finish(DfsInput *src)
{
    end_direct(src);
    if (src->z != NULL) {
        inflateEnd(src->z);
        g_clear_pointer(&src->z, g_free);
        src->z_done = TRUE;
    }
    /* A first-read block is kept whole (DFS_HEADER_FIRST_READ bytes). */
    if (!src->borrowed && !src->scratch && src->cap > src->len + 4096) {
        src->buf = g_realloc(src->buf, MAX(src->len, 1));
        src->cap = MAX(src->len, 1);
    }
}

gboolean dfs_input_cut(DfsInput *src, guint64 at, guint64 n)
{
    if (src->borrowed || src->deflated || src->fd < 0 || at > src->len || n > src->len - at)
        return FALSE;
    memmove(src->buf + at, src->buf + at + n, src->len - at - n);
    src->len -= n;
    if (!src->scratch && src->cap > src->len + 4096) {
        src->buf = g_realloc(src->buf, MAX(src->len, 1));
        src->cap = MAX(src->len, 1);
    }
    return TRUE;
}

gboolean dfs_input_is_plain(const DfsInput *src)
{
    return !src->deflated;
}

/* --- confinement ---------------------------------------------------------- */

static char *confined_to;

void dfs_input_confine(const char *root)
{
    g_free(confined_to);
    confined_to = g_strdup(root);
}

const char *dfs_input_confinement(void)
{
    return confined_to;
}

/* Reading a file updates its access time (relatime: the first read after a
 * change, then once a day), an inode write for every file a scan reads: the
 * source's metadata changed, and a cold scan of files untouched for a day
 * writes as many inodes as it reads.  O_NOATIME is only for the files'
 * owner (or CAP_FOWNER): after the first refusal the process stops asking. */
static gint noatime_refused;

int dfs_input_noatime_flag(void)
{
    return g_atomic_int_get(&noatime_refused) ? 0 : O_NOATIME;
}

gboolean dfs_input_noatime_refused(int fd, int flags)
{
    if (fd >= 0 || errno != EPERM || !(flags & O_NOATIME))
        return FALSE;
    g_atomic_int_set(&noatime_refused, 1);
    return TRUE;
}

int dfs_input_openat(int dirfd, const char *path, int flags)
{
    flags |= dfs_input_noatime_flag();
    int fd = openat(dirfd, path, flags);
    if (dfs_input_noatime_refused(fd, flags))
        fd = openat(dirfd, path, flags & ~O_NOATIME);
    return fd;
}

int dfs_input_open(const char *path)
{
    int fd = dfs_input_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0 || confined_to == NULL)
        return fd;
    char link[32], real[4096];
    g_snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, real, sizeof real - 1);
    gsize r = strlen(confined_to);
    if (n > 0 && (gsize)n < sizeof real - 1) {
        real[n] = '\0';
        if (strncmp(real, confined_to, r) == 0 && (real[r] == '/' || real[r] == '\0'))
            return fd;
    }
    close(fd);
    errno = EACCES;
    return -1;
}
