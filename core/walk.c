/* dicomfs core: walking a source folder.  See walk.h. */
#include "walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"

/* Folders nested deeper than this are reported, not entered: each level
 * holds one open descriptor. */
#define WALK_MAX_DEPTH 128

typedef struct {
    const DfsWalkCallbacks *cb;
    gpointer user;
    char *root;            /* canonical path of the root */
    GHashTable *dirs_seen; /* "dev:ino" -> NULL */
    GHashTable *files_seen; /* "dev:ino" -> relpath of the first name */
} Walk;

static char *node_key(const struct stat *st)
{
    return g_strdup_printf("%lx:%lx", (unsigned long)st->st_dev, (unsigned long)st->st_ino);
}

static char *join(const char *rel, const char *name)
{
    return rel[0] ? g_strconcat(rel, "/", name, NULL) : g_strdup(name);
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

static void walk_dir(Walk *w, int dirfd, const char *rel, guint depth);

static void visit(Walk *w, int dirfd, const char *name, const char *rel, guint depth)
{
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
        char *key = node_key(&st);
        if (!g_hash_table_add(w->dirs_seen, key)) {
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
        walk_dir(w, fd, rel, depth + 1);
        return;
    }
    if (!S_ISREG(st.st_mode)) {
        skip(w, rel, "not a regular file (%s)",
             S_ISFIFO(st.st_mode) ? "FIFO" : S_ISSOCK(st.st_mode) ? "socket" : "device");
        return;
    }
    char *key = node_key(&st);
    const char *first = g_hash_table_lookup(w->files_seen, key);
    if (first != NULL) {
        skip(w, rel, "same file as %s", first);
        g_free(key);
        return;
    }
    g_hash_table_insert(w->files_seen, key, g_strdup(rel));
    w->cb->file(rel, &st, w->user);
}

static int compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Takes ownership of dirfd. */
static void walk_dir(Walk *w, int dirfd, const char *rel, guint depth)
{
    DIR *dir = fdopendir(dirfd);
    if (dir == NULL) {
        skip(w, rel[0] ? rel : ".", "unreadable folder: %s", g_strerror(errno));
        close(dirfd);
        return;
    }
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    struct dirent *d;
    while ((d = readdir(dir)) != NULL)
        if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0)
            g_ptr_array_add(names, g_strdup(d->d_name));
    g_ptr_array_sort(names, compare_names);
    for (guint k = 0; k < names->len; k++) {
        if (w->cb->stop && w->cb->stop(w->user))
            break;
        g_autofree char *child = join(rel, names->pdata[k]);
        visit(w, dirfd, names->pdata[k], child, depth);
    }
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
        .dirs_seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
        .files_seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free),
    };
    struct stat st;
    if (fstat(fd, &st) == 0)
        g_hash_table_add(w.dirs_seen, node_key(&st));
    walk_dir(&w, fd, "", 0);
    g_hash_table_unref(w.dirs_seen);
    g_hash_table_unref(w.files_seen);
    free(real);
    return TRUE;
}
