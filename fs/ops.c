/* dicomfs fs: the FUSE low-level operations over a DfsTree.
 *
 * Inodes are tree entries (stable while mounted, computed, never freed), so
 * lookup counts need no bookkeeping and forget is a no-op.  The tree only
 * changes while the scan runs, so once it is done entries and attributes
 * get long timeouts.
 * Every write-like operation answers EROFS. */
#include "ops.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "dicom/input.h"
#include "walkers.h"

/* Once the scan is done the tree never changes: let the kernel keep what it
 * learns.  While it runs, folders fill in and names can change (a tenth
 * instance pads the others to two digits): nothing is kept. */
#define SETTLED_TIMEOUT 3600.0

static DfsTree *tree_of(fuse_req_t req)
{
    return ((DfsFs *)fuse_req_userdata(req))->tree;
}

static double entry_timeout(fuse_req_t req)
{
    return dfs_tree_settled(tree_of(req)) ? SETTLED_TIMEOUT : 0.0;
}

/* Status files change as the scan goes and as errors are met, and an
 * instance's size may come late: no caching.  Said by the stat whose
 * attributes the kernel is given, so that the two agree. */
static double attr_timeout(fuse_req_t req, const DfsEntryStat *es)
{
    return es->is_volatile ? 0.0 : entry_timeout(req);
}

/* The one place a core error becomes an errno. */
static int errno_of(const GError *error)
{
    if (error == NULL || error->domain != DFS_ERROR)
        return EIO;
    switch (error->code) {
    case DFS_ERROR_NOT_FOUND: return ENOENT;
    case DFS_ERROR_NOT_DIR: return ENOTDIR;
    case DFS_ERROR_IS_DIR: return EISDIR;
    default: return EIO; /* the file itself is bad: EIO for its reads */
    }
}

static void reply_error(fuse_req_t req, GError *error)
{
    int err = errno_of(error);
    if (err == EIO)
        g_warning("%s", error ? error->message : "I/O error");
    fuse_reply_err(req, err);
}

/* Everything belongs to the daemon's user: asked once, at init (before
 * any request), not in every stat (two system calls an entry, on a listing
 * of a million). */
static uid_t owner_uid;
static gid_t owner_gid;

static void fill_stat(fuse_ino_t ino, const DfsEntryStat *es, struct stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_ino = ino;
    st->st_mode = es->is_dir ? (S_IFDIR | 0555) : es->is_link ? (S_IFLNK | 0777) : (S_IFREG | 0444);
    st->st_nlink = es->nlink;
    st->st_size = (off_t)es->size;
    st->st_blksize = 4096;
    st->st_blocks = (blkcnt_t)((es->size + 511) / 512);
    st->st_mtim = es->mtime;
    st->st_ctim = es->mtime;
    st->st_atim = es->mtime;
    st->st_uid = owner_uid;
    st->st_gid = owner_gid;
}

/* With default_permissions (dicomfs adds it to -o allow_other) the kernel
 * checks these modes.  An instance folder and its instance.dcm (and a
 * pixels.raw served from the file) take the owner and read bits of the
 * source file, less those of classes that cannot enter a folder on its way
 * (a conservative reading: a folder's classes are taken for the file's),
 * the folder x where r: whoever cannot read the file in the source cannot
 * read it, or anything made from it, here. */
static void mirror_source(fuse_req_t req, fuse_ino_t ino, struct stat *st)
{
    /* Only a shared mount needs it (no one else can enter another), and it
     * costs a stat of the source file and of its folders for every
     * instance folder: on a first walk of a million instances, most of the
     * time (cold inodes). */
    if (!((DfsFs *)fuse_req_userdata(req))->shared)
        return;
    DfsTree *t = tree_of(req);
    DfsEntry file = ino;
    if (S_ISDIR(st->st_mode) && !dfs_tree_lookup(t, ino, "instance.dcm", &file, NULL))
        return;
    guint64 offset, length;
    if (!dfs_tree_source(t)->is_local) /* a server's instances: the mount's modes */
        return;
    g_autofree char *path = dfs_tree_source_range(t, file, &offset, &length, NULL);
    struct stat src;
    if (path == NULL || stat(path, &src) != 0)
        return;
    mode_t r = src.st_mode & 0444;
    /* A folder on the way that a class may not enter takes its r away. */
    const char *root = dfs_input_confinement();
    g_autofree char *dir = g_path_get_dirname(path);
    while (root != NULL && r != 0 && strlen(dir) > strlen(root) && g_str_has_prefix(dir, root)) {
        struct stat d;
        r = stat(dir, &d) == 0 ? r & (d.st_mode & 0111) << 2 : 0;
        char *up = g_path_get_dirname(dir);
        g_free(dir);
        dir = up;
    }
    st->st_mode = (st->st_mode & S_IFMT) | r | (S_ISDIR(st->st_mode) ? r >> 2 : 0);
    st->st_uid = src.st_uid;
    st->st_gid = src.st_gid;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    g_autoptr(GError) error = NULL;
    DfsEntry e;
    DfsEntryStat es;
    if (!dfs_tree_lookup(tree_of(req), parent, name, &e, &error) ||
        !dfs_tree_stat(tree_of(req), e, &es, &error)) {
        reply_error(req, error);
        return;
    }
    struct fuse_entry_param p = {.ino = e, .attr_timeout = attr_timeout(req, &es),
                                 .entry_timeout = entry_timeout(req)};
    fill_stat(e, &es, &p.attr);
    mirror_source(req, e, &p.attr);
    if (!es.is_dir)
        dfs_walkers_looked_up(fuse_req_ctx(req)->pid);
    fuse_reply_entry(req, &p);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    g_autoptr(GError) error = NULL;
    DfsEntryStat es;
    if (!dfs_tree_stat(tree_of(req), ino, &es, &error)) {
        reply_error(req, error);
        return;
    }
    struct stat st;
    fill_stat(ino, &es, &st);
    mirror_source(req, ino, &st);
    fuse_reply_attr(req, &st, attr_timeout(req, &es));
}

/* --- folders -------------------------------------------------------------- */

typedef struct {
    fuse_req_t req;
    char *buf;
    size_t size, used;
    gboolean plus;
    gboolean file_attributes; /* with plus: files' too (walkers.h) */
} DirFill;

/* A listed entry's type, for d_type: find and ls -R tell links from files
 * by it, without a stat. */
static mode_t entry_type(DfsEntry e, gboolean is_dir)
{
    return is_dir ? S_IFDIR : dfs_tree_is_link(e) ? S_IFLNK : S_IFREG;
}

static gboolean add_entry(const char *name, DfsEntry e, gboolean is_dir, guint64 next,
                          gpointer user)
{
    DirFill *d = user;
    size_t left = d->size - d->used, n;
    if (d->plus && (dfs_tree_is_costly(e) || (!is_dir && !d->file_attributes))) {
        /* Its size takes a whole render, or the caller walks without a
         * stat: no attributes now (ino 0 tells the kernel so); a stat of
         * it asks for them. */
        struct fuse_entry_param p = {.ino = 0};
        p.attr.st_ino = e;
        p.attr.st_mode = entry_type(e, is_dir);
        n = fuse_add_direntry_plus(d->req, d->buf + d->used, left, name, &p, (off_t)next);
    } else if (d->plus) {
        g_autoptr(GError) error = NULL;
        DfsEntryStat es;
        struct fuse_entry_param p = {.ino = e, .entry_timeout = entry_timeout(d->req)};
        if (dfs_tree_stat(tree_of(d->req), e, &es, &error)) {
            p.attr_timeout = attr_timeout(d->req, &es);
            fill_stat(e, &es, &p.attr);
            mirror_source(d->req, e, &p.attr);
        } else { /* listed without attributes: its own lookup reports the error */
            p.ino = 0;
            p.attr.st_ino = e;
            p.attr.st_mode = entry_type(e, is_dir);
        }
        n = fuse_add_direntry_plus(d->req, d->buf + d->used, left, name, &p, (off_t)next);
    } else {
        struct stat st = {.st_ino = e, .st_mode = entry_type(e, is_dir)};
        n = fuse_add_direntry(d->req, d->buf + d->used, left, name, &st, (off_t)next);
    }
    if (n > left)
        return FALSE; /* full: the kernel asks again from `next` */
    d->used += n;
    return TRUE;
}

static void list(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, gboolean plus,
                 struct fuse_file_info *fi)
{
    g_autoptr(GError) error = NULL;
    DirFill d = {req, g_malloc(size), size, 0, plus, FALSE};
    if (plus)
        d.file_attributes = dfs_walkers_want_attributes(fuse_req_ctx(req)->pid);
    DfsIndex *held = (DfsIndex *)(uintptr_t)fi->fh;
    if (!dfs_tree_list(tree_of(req), held, ino, (guint64)off, add_entry, &d, &error))
        reply_error(req, error);
    else
        fuse_reply_buf(req, d.buf, d.used);
    g_free(d.buf);
}

/* Once the scan is done folders never change: the kernel may keep their
 * listings.  While it runs, a listing holds the index as it was when the
 * folder was opened, so one `ls` sees one consistent folder. */
/* The kernel can stop sending opendir and releasedir once told ENOSYS, and
 * then keeps listings itself: a walk of a settled tree is the kernel's
 * alone, two requests per folder fewer. */
static gboolean no_opendir;

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    if (dfs_tree_settled(tree_of(req)) && no_opendir) {
        fuse_reply_err(req, ENOSYS);
        return;
    }
    dfs_tree_open_dir(tree_of(req), ino);
    if (dfs_tree_settled(tree_of(req))) {
        fi->cache_readdir = 1;
        fi->keep_cache = 1;
        fi->fh = 0;
    } else {
        fi->fh = (uint64_t)(uintptr_t)dfs_tree_hold(tree_of(req));
    }
    fuse_reply_open(req, fi);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    dfs_index_unref((DfsIndex *)(uintptr_t)fi->fh);
    fuse_reply_err(req, 0);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
    list(req, ino, size, off, FALSE, fi);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           struct fuse_file_info *fi)
{
    list(req, ino, size, off, TRUE, fi);
}

/* --- links ---------------------------------------------------------------- */

/* The views' links (.dicomfs/by-*): asked each time (a target can change
 * while the scan still names folders). */
static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
    g_autoptr(GError) error = NULL;
    if (!dfs_tree_is_link(ino)) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    g_autofree char *target = dfs_tree_readlink(tree_of(req), ino, &error);
    if (target == NULL)
        reply_error(req, error);
    else
        fuse_reply_readlink(req, target);
}

/* --- files ---------------------------------------------------------------- */

/* An open file: rendered bytes, the snapshot a file read by range is read
 * from (a table stays the same from its first read to its last), or a slice
 * of a source file. */
typedef struct {
    GBytes *bytes;
    DfsIndex *held;
    int fd;
    guint64 base, length; /* the slice of fd */
} OpenFile;

/* As with folders: once the scan is done, open answers ENOSYS and the kernel
 * stops sending open and release (FUSE_CAP_NO_OPEN_SUPPORT).  Reads then
 * come without a handle and find their bytes by inode (read_unopened), and
 * the kernel keeps the pages it has read: a cached attribute file is opened
 * and read without a request.  The mount is read-only for the kernel, so
 * write opens never get here once it stops asking.  Not for a server's
 * instances, whose size may be unknown (0) until an open fetches them: the
 * kernel reads no further than the size it has, so without the open, and
 * its direct reads, such a file would read empty. */
static gboolean no_open;

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    if ((fi->flags & O_ACCMODE) != O_RDONLY) {
        fuse_reply_err(req, EROFS);
        return;
    }
    if (no_open && dfs_tree_settled(tree_of(req)) &&
        !dfs_source_sizes_late(dfs_tree_source(tree_of(req)))) {
        fuse_reply_err(req, ENOSYS);
        return;
    }
    g_autoptr(GError) error = NULL;
    /* Asked before the open fetches anything: an instance whose size was
     * unknown (0) until now may have that size in the kernel's cache, so
     * its reads must reach us whatever that size says. */
    gboolean is_volatile = dfs_tree_is_volatile(tree_of(req), ino);
    OpenFile *of = g_new0(OpenFile, 1);
    of->fd = -1;
    g_autofree char *source =
        dfs_tree_source_range(tree_of(req), ino, &of->base, &of->length, &error);
    if (source == NULL && error != NULL) { /* its bytes cannot be had now */
        g_free(of);
        fuse_reply_err(req, EIO);
        return;
    }
    if (source != NULL) {
        of->fd = dfs_input_open(source);
        if (of->fd < 0) {
            int err = errno;
            g_free(of);
            fuse_reply_err(req, err == ENOENT ? EIO : err);
            return;
        }
    } else if (dfs_tree_is_ranged(ino) && !is_volatile) {
        /* A settled table: read by range from the snapshot.  What can
         * change (status, errors.tsv, a table during the scan) is taken
         * whole now, so that its reads agree with each other. */
        of->held = dfs_tree_hold(tree_of(req));
        g_autoptr(GBytes) none = dfs_tree_read(tree_of(req), of->held, ino, 0, 0, &error);
        if (none == NULL) {
            dfs_index_unref(of->held);
            g_free(of);
            reply_error(req, error);
            return;
        }
    } else if ((of->bytes = dfs_tree_content(tree_of(req), ino, &error)) == NULL) {
        g_free(of);
        reply_error(req, error);
        return;
    }
    fi->fh = (uint64_t)(uintptr_t)of;
    if (is_volatile)
        fi->direct_io = 1; /* reads return what is there now, whatever size was cached */
    else if (dfs_tree_settled(tree_of(req)))
        fi->keep_cache = 1; /* contents never change any more */
    fuse_reply_open(req, fi);
}

/* Reply with [off, off + size) of bytes. */
static void reply_slice(fuse_req_t req, GBytes *bytes, size_t size, off_t off)
{
    gsize len;
    const char *data = g_bytes_get_data(bytes, &len);
    gsize start = MIN((gsize)off, len);
    fuse_reply_buf(req, data + start, MIN(size, len - start));
}

/* Reply with [off, off + size) of a slice of a source file, spliced. */
static void reply_source(fuse_req_t req, int fd, guint64 base, guint64 length, size_t size,
                         off_t off)
{
    guint64 start = MIN((guint64)off, length);
    struct fuse_bufvec buf = FUSE_BUFVEC_INIT(MIN((guint64)size, length - start));
    buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
    buf.buf[0].fd = fd;
    buf.buf[0].pos = (off_t)(base + start);
    fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

/* Reply with [off, off + size) of a rendered file, as in snapshot held
 * (NULL: the current one). */
static void reply_rendered(fuse_req_t req, DfsIndex *held, fuse_ino_t ino, size_t size, off_t off)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) bytes = dfs_tree_read(tree_of(req), held, ino, (guint64)off, size, &error);
    if (bytes == NULL)
        reply_error(req, error);
    else
        reply_slice(req, bytes, size, 0);
}

/* A read without an open (see op_open): the source slice, or the rendered
 * part (a file read by range), or the part of the rendered content from
 * the cache (rendered once however many requests read it). */
static void read_unopened(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off)
{
    guint64 base, length;
    g_autoptr(GError) error = NULL;
    g_autofree char *source = dfs_tree_source_range(tree_of(req), ino, &base, &length, &error);
    if (source == NULL && error != NULL) {
        fuse_reply_err(req, EIO);
        return;
    }
    if (source != NULL) {
        int fd = dfs_input_open(source);
        if (fd < 0) {
            fuse_reply_err(req, errno == ENOENT ? EIO : errno);
            return;
        }
        reply_source(req, fd, base, length, size, off);
        close(fd);
        return;
    }
    reply_rendered(req, NULL, ino, size, off);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    OpenFile *of = (OpenFile *)(uintptr_t)fi->fh;
    if (of == NULL) {
        read_unopened(req, ino, size, off);
        return;
    }
    if (of->held != NULL) {
        reply_rendered(req, of->held, ino, size, off);
        return;
    }
    if (of->bytes != NULL) {
        /* Held until the reply is written: the reader may close the file
         * (release, on another thread) as soon as the kernel has the data. */
        GBytes *bytes = g_bytes_ref(of->bytes);
        reply_slice(req, bytes, size, off);
        g_bytes_unref(bytes);
        return;
    }
    /* A slice of the source: straight from it, spliced where possible. */
    reply_source(req, of->fd, of->base, of->length, size, off);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    OpenFile *of = (OpenFile *)(uintptr_t)fi->fh;
    if (of == NULL) {
        fuse_reply_err(req, 0);
        return;
    }
    if (of->bytes)
        g_bytes_unref(of->bytes);
    if (of->held)
        dfs_index_unref(of->held);
    if (of->fd >= 0)
        close(of->fd);
    g_free(of);
    fuse_reply_err(req, 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
    struct statvfs sv = {.f_bsize = 4096, .f_frsize = 4096, .f_namemax = 255};
    fuse_reply_statfs(req, &sv);
}

/* --- read-only ------------------------------------------------------------ */

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                       struct fuse_file_info *fi)
{
    fuse_reply_err(req, EROFS);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                     dev_t rdev)
{
    fuse_reply_err(req, EROFS);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
    fuse_reply_err(req, EROFS);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    fuse_reply_err(req, EROFS);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
    fuse_reply_err(req, EROFS);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                      const char *newname, unsigned int flags)
{
    fuse_reply_err(req, EROFS);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
    fuse_reply_err(req, EROFS);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                      struct fuse_file_info *fi)
{
    fuse_reply_err(req, EROFS);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
                        size_t size, int flags)
{
    fuse_reply_err(req, EROFS);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
    fuse_reply_err(req, EROFS);
}

/* getxattr and listxattr: the size alone when size is 0, ERANGE when the
 * caller's room is short, ENODATA for a name the entry does not have. */
static void reply_xattr(fuse_req_t req, const char *data, size_t len, size_t size)
{
    if (size == 0)
        fuse_reply_xattr(req, len);
    else if (size < len)
        fuse_reply_err(req, ERANGE);
    else
        fuse_reply_buf(req, data, len);
}

/* The entry's extended attributes, or FALSE having replied with the error. */
static gboolean xattrs_of(fuse_req_t req, fuse_ino_t ino, GPtrArray **names, GPtrArray **values)
{
    g_autoptr(GError) error = NULL;
    if (dfs_tree_xattrs(tree_of(req), ino, names, values, &error))
        return TRUE;
    reply_error(req, error);
    return FALSE;
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
    /* Only the user namespace is ours.  ls -l asks every file for
     * security.selinux and system.posix_acl_access: "not supported" for
     * those namespaces (as ext4 says without SELinux) is remembered by ls
     * for the whole mount, where "no such attribute" is asked again for
     * every file, a round trip each (the kernel stops asking only after
     * ENOSYS, which would end ours too). */
    if (!g_str_has_prefix(name, "user.")) {
        fuse_reply_err(req, EOPNOTSUPP);
        return;
    }
    if (!g_str_has_prefix(name, "user.dicom.")) {
        fuse_reply_err(req, ENODATA);
        return;
    }
    g_autoptr(GPtrArray) names = NULL;
    g_autoptr(GPtrArray) values = NULL;
    if (!xattrs_of(req, ino, &names, &values))
        return;
    for (guint k = 0; k < names->len; k++)
        if (strcmp(names->pdata[k], name) == 0) {
            const char *value = values->pdata[k];
            reply_xattr(req, value, strlen(value), size);
            return;
        }
    fuse_reply_err(req, ENODATA);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
    g_autoptr(GPtrArray) names = NULL;
    g_autoptr(GPtrArray) values = NULL;
    if (!xattrs_of(req, ino, &names, &values))
        return;
    GString *list = g_string_new(NULL);
    for (guint k = 0; k < names->len; k++)
        g_string_append_len(list, names->pdata[k], (gssize)strlen(names->pdata[k]) + 1);
    reply_xattr(req, list->str, list->len, size);
    g_string_free(list, TRUE);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
    owner_uid = getuid();
    owner_gid = getgid();
    /* Reads of source slices (instance.dcm, native pixels.raw) go from the
     * source file into the device by splice, without a copy through our
     * memory: SPLICE_WRITE is what lets fuse_reply_data() do that. */
    if (conn->capable & FUSE_CAP_SPLICE_WRITE)
        conn->want |= FUSE_CAP_SPLICE_WRITE;
    if (conn->capable & FUSE_CAP_SPLICE_MOVE)
        conn->want |= FUSE_CAP_SPLICE_MOVE;
    /* Reads of up to 1 MiB (max_write sets the request size the kernel may
     * use, max_pages; readahead asks for that much at once): a quarter of
     * the requests of the default 128 KiB for a large file. */
    conn->max_write = MAX(conn->max_write, 1u << 20);
    conn->max_readahead = MAX(conn->max_readahead, 1u << 20);
    conn->max_read = DFS_READ_MAX;
    /* readdirplus fills attributes in one go, and "auto" lets the kernel
     * use it only where stats follow (ls -l), not for plain listings
     * (ls -R, find) where computing every size would be wasted. */
    if (conn->capable & FUSE_CAP_READDIRPLUS)
        conn->want |= FUSE_CAP_READDIRPLUS;
    if (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT) {
        conn->want |= FUSE_CAP_NO_OPENDIR_SUPPORT;
        no_opendir = TRUE;
    }
    if (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT) {
        conn->want |= FUSE_CAP_NO_OPEN_SUPPORT;
        no_open = TRUE;
    }
    /* Cached pages are dropped when a file's mtime changes: the volatile
     * files get a new one at every stat. */
    if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)
        conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
    if (conn->capable & FUSE_CAP_READDIRPLUS_AUTO)
        conn->want |= FUSE_CAP_READDIRPLUS_AUTO;
    /* No FUSE_CAP_POSIX_ACL: with it the kernel asks the daemon for an
     * inode's ACL when it checks a permission for anyone but the owner, and
     * takes op_getxattr's "not supported" as the check's error, so a shared
     * mount refused every other user with EOPNOTSUPP.  Without it the
     * modes alone decide (default_permissions), and ls -l's ACL question
     * comes here, is answered "not supported", and is remembered by ls. */
}

const struct fuse_lowlevel_ops dfs_fs_ops = {
    .init = op_init,
    .lookup = op_lookup,
    .getattr = op_getattr,
    .readlink = op_readlink,
    .opendir = op_opendir,
    .releasedir = op_releasedir,
    .readdir = op_readdir,
    .readdirplus = op_readdirplus,
    .open = op_open,
    .read = op_read,
    .release = op_release,
    .statfs = op_statfs,
    .setattr = op_setattr,
    .mknod = op_mknod,
    .mkdir = op_mkdir,
    .unlink = op_unlink,
    .rmdir = op_unlink,
    .symlink = op_symlink,
    .rename = op_rename,
    .link = op_link,
    .create = op_create,
    .setxattr = op_setxattr,
    .removexattr = op_removexattr,
    .getxattr = op_getxattr,
    .listxattr = op_listxattr,
};
