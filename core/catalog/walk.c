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

static NodeId *node_id_new(const struct stat *st, const char *first)
{
    gsize n = first ? strlen(first) + 1 : 1;
    NodeId *id = g_malloc(sizeof(NodeId) + n);
    id->dev = st->st_dev;
    id->ino = st->st_ino;
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

static void walk_dir(Walk *w, int dirfd, GString *rel, guint depth);

/* rel: the entry's path under the root, which a folder's walk extends and
 * gives back as it was. */
static void visit(Walk *w, int dirfd, const char *name, GString *relpath, guint depth)
{
    const char *rel = relpath->str;
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
        if (!g_hash_table_add(w->dirs_seen, node_id_new(&st, NULL))) {
            skip(w, rel, "folder already visited (symbolic link loop or second link)");
            return;
        }
        if (depth >= WALK_MAX_DEPTH) {
            skip(w, rel, "folders nested deeper than %d", WALK_MAX_DEPTH);
            return;
        }
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY);
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
    NodeId probe = {st.st_dev, st.st_ino};
    gpointer first;
    if (g_hash_table_lookup_extended(w->files_seen, &probe, &first, NULL)) {
        skip(w, rel, "same file as %s", ((NodeId *)first)->first);
        return;
    }
    g_hash_table_add(w->files_seen, node_id_new(&st, rel));
    w->cb->file(rel, &st, w->user);
}

static int compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
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
    GStringChunk *chunk = g_string_chunk_new(4096);
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    struct dirent *d;
    while ((d = readdir(dir)) != NULL)
        if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0)
            g_ptr_array_add(names, g_string_chunk_insert(chunk, d->d_name));
    g_ptr_array_sort(names, compare_names);
    gsize base = rel->len;
    for (guint k = 0; k < names->len; k++) {
        if (w->cb->stop && w->cb->stop(w->user))
            break;
        g_string_truncate(rel, base);
        if (base > 0)
            g_string_append_c(rel, '/');
        g_string_append(rel, names->pdata[k]);
        visit(w, dirfd, names->pdata[k], rel, depth);
    }
    g_string_truncate(rel, base);
    g_string_chunk_free(chunk);
    closedir(dir);
}

gboolean dfs_walk(const char *root, const DfsWalkCallbacks *cb, gpointer user, GError **error)
{
    char *real = realpath(root, NULL);
    int fd = real ? open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
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
        g_hash_table_add(w.dirs_seen, node_id_new(&st, NULL));
    GString *rel = g_string_sized_new(256);
    walk_dir(&w, fd, rel, 0);
    g_string_free(rel, TRUE);
    g_hash_table_unref(w.dirs_seen);
    g_hash_table_unref(w.files_seen);
    free(real);
    return TRUE;
}
