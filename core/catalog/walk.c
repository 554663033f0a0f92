/* dicomfs core: walking a source folder.  See walk.h. */
#include "catalog/walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "dicom/input.h"

/* Folders nested deeper than this are reported, not entered: each level
 * holds one open descriptor. */
#define WALK_MAX_DEPTH 128

typedef struct {
    const DfsWalkCallbacks *cb;
    gpointer user;
    char *root;            /* canonical path of the root */
    GHashTable *dirs_seen;  /* NodeId set */
    GHashTable *files_seen; /* NodeId set, with the first name */
} Walk;

/* A file or folder met, by device and inode (one allocation each). */
typedef struct {
    guint64 dev, ino;
    char first[]; /* relpath of the first name (files) */
} NodeId;

static guint node_hash(gconstpointer p)
{
    const NodeId *n = p;
    guint64 h = (n->ino ^ (n->dev << 32 | n->dev >> 32)) * G_GUINT64_CONSTANT(0x9E3779B97F4A7C15);
    return (guint)(h >> 32);
}

static gboolean node_equal(gconstpointer a, gconstpointer b)
{
    const NodeId *x = a, *y = b;
    return x->ino == y->ino && x->dev == y->dev;
}

static NodeId *node_id_new(guint64 dev, guint64 ino, const char *first)
{
    gsize n = first ? strlen(first) + 1 : 1;
    NodeId *id = g_malloc(sizeof(NodeId) + n);
    id->dev = dev;
    id->ino = ino;
    memcpy(id->first, first ? first : "", n);
    return id;
}

static void skip(Walk *w, const char *rel, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void skip(Walk *w, const char *rel, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *reason = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    w->cb->skip(rel, reason, w->user);
}

/* A symbolic link is followed only where it leads inside the root. */
static gboolean link_inside(Walk *w, const char *rel)
{
    g_autofree char *full = g_build_filename(w->root, rel, NULL);
    char *real = realpath(full, NULL);
    if (real == NULL)
        return FALSE;
    gsize n = strlen(w->root);
    gboolean inside = strncmp(real, w->root, n) == 0 && (real[n] == '/' || real[n] == '\0');
    free(real);
    return inside;
}

/* An entry of a folder's listing. */
typedef struct {
    const char *name;
    guint64 ino;
    unsigned char type; /* DT_* */
} Dirent;

static void walk_dir(Walk *w, int dirfd, GString *rel, guint depth);

/* A regular file, unless it was met already under another name. */
static void file_met(Walk *w, const struct stat *st, guint64 dev, guint64 ino, const char *rel)
{
    NodeId probe = {dev, ino};
    gpointer first;
    if (g_hash_table_lookup_extended(w->files_seen, &probe, &first, NULL)) {
        skip(w, rel, "same file as %s", ((NodeId *)first)->first);
        return;
    }
    g_hash_table_add(w->files_seen, node_id_new(dev, ino, rel));
    w->cb->file(rel, st, w->user);
}

/* rel: the entry's path under the root, which a folder's walk extends and
 * gives back as it was; dev: the folder's device. */
static void visit(Walk *w, int dirfd, const Dirent *d, guint64 dev, GString *relpath, guint depth)
{
    const char *rel = relpath->str, *name = d->name;
    if (d->type == DT_REG && !w->cb->stat_files) {
        file_met(w, NULL, dev, d->ino, rel);
        return;
    }
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        skip(w, rel, "cannot stat: %s", g_strerror(errno));
        return;
    }
    if (S_ISLNK(st.st_mode)) {
        if (!link_inside(w, rel)) {
            skip(w, rel, "symbolic link to nothing, or to outside the source");
            return;
        }
        if (fstatat(dirfd, name, &st, 0) != 0) {
            skip(w, rel, "broken symbolic link: %s", g_strerror(errno));
            return;
        }
    }
    if (S_ISDIR(st.st_mode)) {
        if (!g_hash_table_add(w->dirs_seen, node_id_new(st.st_dev, st.st_ino, NULL))) {
            skip(w, rel, "folder already visited (symbolic link loop or second link)");
            return;
        }
        if (depth >= WALK_MAX_DEPTH) {
            skip(w, rel, "folders nested deeper than %d", WALK_MAX_DEPTH);
            return;
        }
        int fd = dfs_input_openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
            skip(w, rel, "unreadable folder: %s", g_strerror(errno));
            return;
        }
        walk_dir(w, fd, relpath, depth + 1);
        return;
    }
    if (!S_ISREG(st.st_mode)) {
        skip(w, rel, "not a regular file (%s)",
             S_ISFIFO(st.st_mode) ? "FIFO" : S_ISSOCK(st.st_mode) ? "socket" : "device");
        return;
    }
    file_met(w, &st, st.st_dev, st.st_ino, rel);
}

static int compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(((const Dirent *)a)->name, ((const Dirent *)b)->name);
}

/* Takes ownership of dirfd.  rel is the folder's path ("" for the root). */
static void walk_dir(Walk *w, int dirfd, GString *rel, guint depth)
{
    DIR *dir = fdopendir(dirfd);
    if (dir == NULL) {
        skip(w, rel->len ? rel->str : ".", "unreadable folder: %s", g_strerror(errno));
        close(dirfd);
        return;
    }
    struct stat self;
    guint64 dev = fstat(dirfd, &self) == 0 ? self.st_dev : 0;
    GStringChunk *chunk = g_string_chunk_new(4096);
    g_autoptr(GArray) entries = g_array_new(FALSE, FALSE, sizeof(Dirent));
    struct dirent *d;
    while ((d = readdir(dir)) != NULL)
        if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0) {
            Dirent e = {g_string_chunk_insert(chunk, d->d_name), d->d_ino, d->d_type};
            g_array_append_val(entries, e);
        }
    g_array_sort(entries, compare_names);
    gsize base = rel->len;
    for (guint k = 0; k < entries->len; k++) {
        const Dirent *e = &g_array_index(entries, Dirent, k);
        if (w->cb->stop && w->cb->stop(w->user))
            break;
        g_string_truncate(rel, base);
        if (base > 0)
            g_string_append_c(rel, '/');
        g_string_append(rel, e->name);
        visit(w, dirfd, e, dev, rel, depth);
    }
    g_string_truncate(rel, base);
    g_string_chunk_free(chunk);
    closedir(dir);
}

gboolean dfs_walk(const char *root, const DfsWalkCallbacks *cb, gpointer user, GError **error)
{
    char *real = realpath(root, NULL);
    int fd = real ? dfs_input_openat(AT_FDCWD, real, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (fd < 0) {
        int err = errno;
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "%s: %s", root, g_strerror(err));
        free(real);
        return FALSE;
    }
    Walk w = {
        .cb = cb,
        .user = user,
        .root = real,
        .dirs_seen = g_hash_table_new_full(node_hash, node_equal, g_free, NULL),
        .files_seen = g_hash_table_new_full(node_hash, node_equal, g_free, NULL),
    };
    struct stat st;
    if (fstat(fd, &st) == 0)
        g_hash_table_add(w.dirs_seen, node_id_new(st.st_dev, st.st_ino, NULL));
    GString *rel = g_string_sized_new(256);
    walk_dir(&w, fd, rel, 0);
    g_string_free(rel, TRUE);
    g_hash_table_unref(w.dirs_seen);
    g_hash_table_unref(w.files_seen);
    free(real);
    return TRUE;
}
