/* Unit tests of the watch of a source folder (catalog/watch.h), on a real
 * temporary folder: files closed, written slowly, renamed into place, left
 * open; folders made, moved out and back, renamed, deleted; a path whose
 * kind changes; the watch limit; lost events.  Every wait is generous (up to
 * 10 s, polled): the timing asserted is only "before" and "after", never how
 * long. */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/watch.h"

#define WAIT_US (10 * G_USEC_PER_SEC)

typedef struct {
    DfsChangeKind kind;
    char *rel;
    gint64 size; /* FILE: the file's size when it was reported, or -1 */
    guint batch; /* which batch, from 0 */
} Seen;

typedef struct {
    GMutex lock;
    GCond cond;
    GPtrArray *seen; /* Seen, in the order reported */
    char *root;
    gboolean disordered; /* a batch was not GONE, FOLDER, FILE */
    gboolean hold_first; /* the first batch waits for `released` */
    gboolean holding, released;
    guint batches;
} Collector;

typedef struct {
    char *base, *root, *outside;
    Collector c;
    DfsWatch *watch;
} Fixture;

static void seen_free(gpointer p)
{
    Seen *s = p;
    g_free(s->rel);
    g_free(s);
}

static int rank(DfsChangeKind k)
{
    return k == DFS_CHANGE_GONE ? 0 : k == DFS_CHANGE_FOLDER ? 1 : 2;
}

static void collect(const DfsChange *changes, guint n, gpointer user)
{
    Collector *c = user;
    g_mutex_lock(&c->lock);
    for (guint k = 0; k < n; k++) {
        Seen *s = g_new0(Seen, 1);
        s->kind = changes[k].kind;
        s->rel = g_strdup(changes[k].relpath);
        s->size = -1;
        s->batch = c->batches;
        g_autofree char *full = g_build_filename(c->root, s->rel, NULL);
        struct stat st;
        if (s->kind == DFS_CHANGE_FILE && stat(full, &st) == 0)
            s->size = st.st_size;
        if (k > 0 && rank(changes[k].kind) < rank(changes[k - 1].kind))
            c->disordered = TRUE;
        g_ptr_array_add(c->seen, s);
    }
    if (c->hold_first && c->batches == 0) {
        c->holding = TRUE;
        g_cond_broadcast(&c->cond);
        while (!c->released)
            g_cond_wait(&c->cond, &c->lock);
    }
    c->batches++;
    g_mutex_unlock(&c->lock);
}

/* How many times (kind, rel) was reported; kind -1: any kind. */
static guint count(Collector *c, int kind, const char *rel)
{
    guint n = 0;
    g_mutex_lock(&c->lock);
    for (guint k = 0; k < c->seen->len; k++) {
        const Seen *s = c->seen->pdata[k];
        n += (kind < 0 || (int)s->kind == kind) && strcmp(s->rel, rel) == 0;
    }
    g_mutex_unlock(&c->lock);
    return n;
}

/* Where (kind, rel) was first reported, or -1. */
static int position(Collector *c, DfsChangeKind kind, const char *rel)
{
    int at = -1;
    g_mutex_lock(&c->lock);
    for (guint k = 0; k < c->seen->len && at < 0; k++) {
        const Seen *s = c->seen->pdata[k];
        if (s->kind == kind && strcmp(s->rel, rel) == 0)
            at = (int)k;
    }
    g_mutex_unlock(&c->lock);
    return at;
}

/* The first report of (kind, rel), copied (its rel is not to be used). */
static Seen first_report(Collector *c, DfsChangeKind kind, const char *rel)
{
    int at = position(c, kind, rel);
    g_assert_cmpint(at, >=, 0);
    g_mutex_lock(&c->lock);
    Seen s = *(const Seen *)c->seen->pdata[at];
    g_mutex_unlock(&c->lock);
    return s;
}

/* The last change reported for rel, or -1. */
static int last_kind(Collector *c, const char *rel)
{
    int kind = -1;
    g_mutex_lock(&c->lock);
    for (guint k = 0; k < c->seen->len; k++) {
        const Seen *s = c->seen->pdata[k];
        if (strcmp(s->rel, rel) == 0)
            kind = (int)s->kind;
    }
    g_mutex_unlock(&c->lock);
    return kind;
}

/* Wait until (kind, rel) was reported at least n times. */
static void wait_for_n(Collector *c, DfsChangeKind kind, const char *rel, guint n)
{
    gint64 end = g_get_monotonic_time() + WAIT_US;
    while (count(c, (int)kind, rel) < n && g_get_monotonic_time() < end)
        g_usleep(10 * 1000);
    if (count(c, (int)kind, rel) < n)
        g_error("no change %d for \"%s\" (seen %u of %u)", kind, rel, count(c, (int)kind, rel), n);
}

static void wait_for(Collector *c, DfsChangeKind kind, const char *rel)
{
    wait_for_n(c, kind, rel, 1);
}

static DfsWatchStats stats_of(Fixture *fx)
{
    DfsWatchStats st;
    dfs_watch_stats(fx->watch, &st);
    return st;
}

static void wait_for_watches(Fixture *fx, guint n)
{
    gint64 end = g_get_monotonic_time() + WAIT_US;
    while (stats_of(fx).watches != n && g_get_monotonic_time() < end)
        g_usleep(10 * 1000);
    g_assert_cmpuint(stats_of(fx).watches, ==, n);
}

static char *path_in(Fixture *fx, const char *rel)
{
    return g_build_filename(fx->root, rel, NULL);
}

static int open_new(Fixture *fx, const char *rel)
{
    g_autofree char *p = path_in(fx, rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    g_assert_cmpint(fd, >=, 0);
    return fd;
}

static void put(int fd, const char *text)
{
    g_assert_cmpint(write(fd, text, strlen(text)), ==, (gssize)strlen(text));
}

static void write_file(Fixture *fx, const char *rel, const char *text)
{
    int fd = open_new(fx, rel);
    put(fd, text);
    g_assert_cmpint(close(fd), ==, 0);
}

static void make_dirs(Fixture *fx, const char *rel)
{
    g_autofree char *p = path_in(fx, rel);
    g_assert_cmpint(g_mkdir_with_parents(p, 0755), ==, 0);
}

static void rename_in(Fixture *fx, const char *from, const char *to)
{
    g_autofree char *a = path_in(fx, from);
    g_autofree char *b = path_in(fx, to);
    g_assert_cmpint(g_rename(a, b), ==, 0);
}

static void rm_rf(const char *path)
{
    GDir *dir = g_dir_open(path, 0, NULL);
    if (dir == NULL || g_file_test(path, G_FILE_TEST_IS_SYMLINK)) {
        if (dir != NULL)
            g_dir_close(dir);
        g_unlink(path);
        return;
    }
    const char *name;
    while ((name = g_dir_read_name(dir)) != NULL) {
        g_autofree char *sub = g_build_filename(path, name, NULL);
        rm_rf(sub);
    }
    g_dir_close(dir);
    g_rmdir(path);
}

static void setup(Fixture *fx, gconstpointer data)
{
    fx->base = g_dir_make_tmp("dfs-watch-XXXXXX", NULL);
    g_assert_nonnull(fx->base);
    fx->root = g_build_filename(fx->base, "src", NULL);
    fx->outside = g_build_filename(fx->base, "out", NULL);
    g_assert_cmpint(g_mkdir(fx->root, 0755), ==, 0);
    g_assert_cmpint(g_mkdir(fx->outside, 0755), ==, 0);
    g_mutex_init(&fx->c.lock);
    g_cond_init(&fx->c.cond);
    fx->c.seen = g_ptr_array_new_with_free_func(seen_free);
    fx->c.root = fx->root;
}

static void start(Fixture *fx, guint settle_ms, guint max_watches)
{
    GError *error = NULL;
    fx->watch = dfs_watch_new_full(fx->root, settle_ms, max_watches, collect, &fx->c, &error);
    g_assert_no_error(error);
    g_assert_nonnull(fx->watch);
}

static void teardown(Fixture *fx, gconstpointer data)
{
    dfs_watch_free(fx->watch);
    g_assert_false(fx->c.disordered);
    g_ptr_array_unref(fx->c.seen);
    g_cond_clear(&fx->c.cond);
    g_mutex_clear(&fx->c.lock);
    rm_rf(fx->base);
    g_free(fx->base);
    g_free(fx->root);
    g_free(fx->outside);
}

/* --- the tests ----------------------------------------------------------- */

static void test_closed(Fixture *fx, gconstpointer data)
{
    start(fx, 1000, 0);
    g_assert_cmpuint(stats_of(fx).watches, ==, 1);
    write_file(fx, "a.dcm", "closed");
    wait_for(&fx->c, DFS_CHANGE_FILE, "a.dcm");
    DfsWatchStats st = stats_of(fx);
    g_assert_cmpuint(st.events, >=, 2);
    g_assert_cmpuint(st.batches, >=, 1);
    g_assert_false(st.limit_reached);
    g_assert_false(st.overflowed);
}

/* Pauses shorter than the settle time: reported once, after the close. */
static void test_slow(Fixture *fx, gconstpointer data)
{
    start(fx, 3000, 0);
    int fd = open_new(fx, "slow.dcm");
    const char *pieces[] = {"first piece ", "second piece ", "third piece"};
    for (guint k = 0; k < G_N_ELEMENTS(pieces); k++) {
        put(fd, pieces[k]);
        g_usleep(250 * 1000);
        g_assert_cmpuint(count(&fx->c, -1, "slow.dcm"), ==, 0);
    }
    g_usleep(300 * 1000);
    g_assert_cmpuint(count(&fx->c, -1, "slow.dcm"), ==, 0);
    g_assert_cmpuint(stats_of(fx).pending, ==, 1);
    g_assert_cmpint(close(fd), ==, 0);
    wait_for(&fx->c, DFS_CHANGE_FILE, "slow.dcm");
    g_usleep(500 * 1000);
    g_assert_cmpuint(count(&fx->c, -1, "slow.dcm"), ==, 1);
    g_assert_cmpuint(stats_of(fx).pending, ==, 0);
    g_assert_cmpint(first_report(&fx->c, DFS_CHANGE_FILE, "slow.dcm").size, ==,
                    (gint64)strlen("first piece second piece third piece"));
}

/* rsync's way: a temporary name, closed, renamed into place. */
static void test_renamed_into_place(Fixture *fx, gconstpointer data)
{
    start(fx, 1000, 0);
    write_file(fx, ".a.dcm.XXXXXX", "whole");
    rename_in(fx, ".a.dcm.XXXXXX", "a.dcm");
    wait_for(&fx->c, DFS_CHANGE_FILE, "a.dcm");
    int last = last_kind(&fx->c, ".a.dcm.XXXXXX");
    g_assert_true(last == -1 || last == DFS_CHANGE_GONE);
}

/* A new folder is watched with the folders under it, then reported; files
 * made in it before its watch was in place are the walk's. */
static void test_new_folder(Fixture *fx, gconstpointer data)
{
    start(fx, 1000, 0);
    make_dirs(fx, "d");
    write_file(fx, "d/early.dcm", "early");
    make_dirs(fx, "d/s1/s2");
    wait_for(&fx->c, DFS_CHANGE_FOLDER, "d");
    wait_for_watches(fx, 4);
    /* Never in the folder's own batch: its walk reads it. */
    if (count(&fx->c, DFS_CHANGE_FILE, "d/early.dcm") > 0)
        g_assert_cmpuint(first_report(&fx->c, DFS_CHANGE_FILE, "d/early.dcm").batch, >,
                         first_report(&fx->c, DFS_CHANGE_FOLDER, "d").batch);
    write_file(fx, "d/late.dcm", "late");
    write_file(fx, "d/s1/s2/deep.dcm", "deep");
    wait_for(&fx->c, DFS_CHANGE_FILE, "d/late.dcm");
    wait_for(&fx->c, DFS_CHANGE_FILE, "d/s1/s2/deep.dcm");
}

static void test_moved_out_and_back(Fixture *fx, gconstpointer data)
{
    make_dirs(fx, "m/sub");
    start(fx, 1000, 0);
    g_assert_cmpuint(stats_of(fx).watches, ==, 3);
    g_autofree char *in = path_in(fx, "m");
    g_autofree char *out = g_build_filename(fx->outside, "m", NULL);
    g_assert_cmpint(g_rename(in, out), ==, 0);
    wait_for(&fx->c, DFS_CHANGE_GONE, "m");
    wait_for_watches(fx, 1);
    /* Changes out there are not ours. */
    g_autofree char *stray = g_build_filename(fx->outside, "m", "sub", "x.dcm", NULL);
    g_assert_true(g_file_set_contents(stray, "x", -1, NULL));
    g_assert_cmpint(g_rename(out, in), ==, 0);
    wait_for(&fx->c, DFS_CHANGE_FOLDER, "m");
    wait_for_watches(fx, 3);
    write_file(fx, "m/sub/y.dcm", "y");
    wait_for(&fx->c, DFS_CHANGE_FILE, "m/sub/y.dcm");
    g_assert_cmpuint(count(&fx->c, -1, "m/sub/x.dcm"), ==, 0);
}

/* Renamed within the source: gone under the old name, walked under the
 * new one, its files reported under the new one. */
static void test_renamed_folder(Fixture *fx, gconstpointer data)
{
    make_dirs(fx, "a/b");
    start(fx, 1000, 0);
    rename_in(fx, "a", "c");
    wait_for(&fx->c, DFS_CHANGE_GONE, "a");
    wait_for(&fx->c, DFS_CHANGE_FOLDER, "c");
    write_file(fx, "c/b/f.dcm", "f");
    wait_for(&fx->c, DFS_CHANGE_FILE, "c/b/f.dcm");
    g_assert_cmpuint(count(&fx->c, -1, "a/b/f.dcm"), ==, 0);
    g_assert_cmpuint(stats_of(fx).watches, ==, 3);
}

static void test_deleted(Fixture *fx, gconstpointer data)
{
    make_dirs(fx, "dd/sub");
    write_file(fx, "f.dcm", "f");
    write_file(fx, "dd/sub/g.dcm", "g");
    start(fx, 1000, 0);
    g_autofree char *f = path_in(fx, "f.dcm");
    g_assert_cmpint(g_unlink(f), ==, 0);
    wait_for(&fx->c, DFS_CHANGE_GONE, "f.dcm");
    g_autofree char *dd = path_in(fx, "dd");
    rm_rf(dd);
    wait_for(&fx->c, DFS_CHANGE_GONE, "dd");
    wait_for_watches(fx, 1);
}

/* A writer that never closes: reported once size and mtime settle. */
static void test_left_open(Fixture *fx, gconstpointer data)
{
    start(fx, 300, 0);
    int fd = open_new(fx, "open.dcm");
    put(fd, "kept open");
    wait_for(&fx->c, DFS_CHANGE_FILE, "open.dcm");
    g_assert_cmpuint(stats_of(fx).pending, ==, 0);
    g_assert_cmpint(close(fd), ==, 0);
    wait_for_n(&fx->c, DFS_CHANGE_FILE, "open.dcm", 2);
}

/* Within a batch the last change wins; a path whose kind changed is gone
 * first. */
static void test_kinds_in_a_batch(Fixture *fx, gconstpointer data)
{
    start(fx, 1000, 0);
    write_file(fx, "brief.dcm", "b");
    g_autofree char *brief = path_in(fx, "brief.dcm");
    g_assert_cmpint(g_unlink(brief), ==, 0);
    wait_for(&fx->c, DFS_CHANGE_GONE, "brief.dcm");
    g_assert_cmpint(last_kind(&fx->c, "brief.dcm"), ==, DFS_CHANGE_GONE);

    write_file(fx, "x", "a file");
    wait_for(&fx->c, DFS_CHANGE_FILE, "x");
    g_autofree char *x = path_in(fx, "x");
    g_assert_cmpint(g_unlink(x), ==, 0);
    make_dirs(fx, "x");
    wait_for(&fx->c, DFS_CHANGE_FOLDER, "x");
    int gone = position(&fx->c, DFS_CHANGE_GONE, "x"); /* also when in one batch */
    g_assert_cmpint(gone, >=, 0);
    g_assert_cmpint(gone, <, position(&fx->c, DFS_CHANGE_FOLDER, "x"));
}

/* The watch limit (ours, standing in for the kernel's): what fits is
 * watched, and the whole source is reported to be walked, once. */
static void test_limit(Fixture *fx, gconstpointer data)
{
    make_dirs(fx, "a");
    make_dirs(fx, "b");
    make_dirs(fx, "c");
    start(fx, 1000, 2);
    DfsWatchStats st = stats_of(fx);
    g_assert_true(st.limit_reached);
    g_assert_cmpuint(st.watches, ==, 2);
    wait_for(&fx->c, DFS_CHANGE_FOLDER, "");
    make_dirs(fx, "e");
    write_file(fx, "top.dcm", "still seen where watched");
    wait_for(&fx->c, DFS_CHANGE_FOLDER, "e");
    wait_for(&fx->c, DFS_CHANGE_FILE, "top.dcm");
    g_assert_cmpuint(count(&fx->c, DFS_CHANGE_FOLDER, ""), ==, 1);
    g_assert_cmpuint(stats_of(fx).watches, ==, 2);
}

/* The kernel's queue overflows while the consumer is busy: everything is
 * to be walked, and folders made meanwhile are watched. */
static void test_overflow(Fixture *fx, gconstpointer data)
{
    g_autofree char *text = NULL;
    guint64 queued = 16384;
    if (g_file_get_contents("/proc/sys/fs/inotify/max_queued_events", &text, NULL, NULL))
        queued = g_ascii_strtoull(text, NULL, 10);
    if (queued > 100000) {
        g_test_skip("max_queued_events too large to fill here");
        return;
    }
    fx->c.hold_first = TRUE;
    start(fx, 1000, 0);
    write_file(fx, "first.dcm", "1");
    g_mutex_lock(&fx->c.lock);
    while (!fx->c.holding)
        g_cond_wait(&fx->c.cond, &fx->c.lock);
    g_mutex_unlock(&fx->c.lock);
    /* Two events each (made, closed). */
    for (guint64 k = 0; k < queued / 2 + 500; k++) {
        g_autofree char *name = g_strdup_printf("f%06" G_GUINT64_FORMAT, k);
        write_file(fx, name, "");
    }
    /* Its events are lost: found when the watch lists everything again. */
    make_dirs(fx, "late/sub");
    g_mutex_lock(&fx->c.lock);
    fx->c.released = TRUE;
    g_cond_broadcast(&fx->c.cond);
    g_mutex_unlock(&fx->c.lock);
    wait_for(&fx->c, DFS_CHANGE_FOLDER, "");
    g_assert_true(stats_of(fx).overflowed);
    wait_for_watches(fx, 3);
    write_file(fx, "late/sub/seen.dcm", "seen");
    wait_for(&fx->c, DFS_CHANGE_FILE, "late/sub/seen.dcm");
}

static void test_errors(void)
{
    GError *error = NULL;
    DfsWatch *w = dfs_watch_new("/nonexistent/dicomfs-watch", 1000, collect, NULL, &error);
    g_assert_null(w);
    g_assert_nonnull(error);
    g_clear_error(&error);
    g_autofree char *file = NULL;
    int fd = g_file_open_tmp("dfs-watch-XXXXXX", &file, NULL);
    g_assert_cmpint(fd, >=, 0);
    close(fd);
    w = dfs_watch_new(file, 1000, collect, NULL, &error);
    g_assert_null(w);
    g_assert_nonnull(error);
    g_clear_error(&error);
    g_unlink(file);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, setup, fn, teardown)
    ADD("/watch/file/closed", test_closed);
    ADD("/watch/file/slow", test_slow);
    ADD("/watch/file/renamed-into-place", test_renamed_into_place);
    ADD("/watch/file/left-open", test_left_open);
    ADD("/watch/file/deleted", test_deleted);
    ADD("/watch/folder/new", test_new_folder);
    ADD("/watch/folder/moved-out-and-back", test_moved_out_and_back);
    ADD("/watch/folder/renamed", test_renamed_folder);
    ADD("/watch/batch/kinds", test_kinds_in_a_batch);
    ADD("/watch/limit", test_limit);
    ADD("/watch/overflow", test_overflow);
#undef ADD
    g_test_add_func("/watch/errors", test_errors);
    return g_test_run();
}
