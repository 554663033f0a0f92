/* dicomfs: mount a folder of DICOM files as a Patient / Study / Series /
 * Instance tree.
 *
 *   dicomfs [options] SOURCE MOUNTPOINT
 *
 * Options are libfuse's (-f, -d, -s, -o opt,...) plus dicomfs's own
 * (-o cache_mb=N).  Unmount with `fusermount3 -u MOUNTPOINT`; SIGINT and
 * SIGTERM unmount too. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ops.h"
#include "scan.h"
#include "store.h"

typedef struct {
    char *source;
    unsigned cache_mb;
    char *index;  /* path of the persistent index, or NULL for the default */
    int noindex;
    int show_help;
} Options;

#define DFS_OPT(t, p) {t, offsetof(Options, p), 1}
static const struct fuse_opt option_spec[] = {
    DFS_OPT("cache_mb=%u", cache_mb),
    DFS_OPT("index=%s", index),
    DFS_OPT("noindex", noindex),
    DFS_OPT("-h", show_help),
    DFS_OPT("--help", show_help),
    FUSE_OPT_END,
};

/* The first non-option argument is SOURCE; the second goes to libfuse as
 * the mount point. */
static int take_source(void *data, const char *arg, int key, struct fuse_args *outargs)
{
    Options *o = data;
    if (key == FUSE_OPT_KEY_NONOPT && o->source == NULL) {
        o->source = realpath(arg, NULL);
        if (o->source == NULL) {
            fprintf(stderr, "dicomfs: source %s: %s\n", arg, strerror(errno));
            exit(1);
        }
        return 0;
    }
    return 1;
}

static void usage(const char *prog)
{
    printf("usage: %s [options] SOURCE MOUNTPOINT\n\n"
           "Mount the DICOM files under SOURCE as a read-only Patient / Study /\n"
           "Series / Instance tree at MOUNTPOINT.\n\n"
           "dicomfs options:\n"
           "    -o cache_mb=N          memory for parsed headers and rendered files\n"
           "                           (default 128)\n"
           "    -o index=PATH          keep the persistent index at PATH (default\n"
           "                           $XDG_CACHE_HOME/dicomfs/<hash of SOURCE>.sqlite)\n"
           "    -o noindex             no persistent index: read every file\n\n",
           prog);
}

/* One clear line and a non-zero exit, before anything is mounted. */
static gboolean check_mountpoint(const char *mp)
{
    struct stat st;
    errno = 0;
    if (stat(mp, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "dicomfs: mount point %s: %s\n", mp,
                errno ? strerror(errno) : "not a folder");
        return FALSE;
    }
    g_autofree char *real = realpath(mp, NULL);
    g_autofree char *mounts = NULL;
    if (real && g_file_get_contents("/proc/self/mounts", &mounts, NULL, NULL)) {
        g_auto(GStrv) lines = g_strsplit(mounts, "\n", -1);
        for (char **l = lines; *l; l++) {
            g_auto(GStrv) f = g_strsplit(*l, " ", 3);
            if (f[0] && f[1] && strcmp(f[1], real) == 0) {
                fprintf(stderr, "dicomfs: mount point %s is busy (already mounted)\n", mp);
                return FALSE;
            }
        }
    }
    return TRUE;
}

/* Scan SOURCE into the tree.  Runs after fuse_daemonize(): the scan starts
 * threads, and a fork() with other threads alive can leave a lock (glibc's
 * iconv lock, say) held forever in the child. */
static DfsStore *open_store(const Options *o, DfsTreeStatus *ts)
{
    if (o->noindex)
        return NULL;
    g_autofree char *path = o->index ? g_strdup(o->index) : dfs_store_default_path(o->source);
    gboolean existed = g_file_test(path, G_FILE_TEST_EXISTS), rebuilt;
    g_autoptr(GError) error = NULL;
    DfsStore *store = dfs_store_open(path, o->source, &rebuilt, &error);
    if (store == NULL) {
        g_printerr("dicomfs: %s; going on without it\n", error->message);
        return NULL;
    }
    g_snprintf(ts->index, sizeof ts->index, "%s (%s)", path,
               rebuilt ? "rebuilt" : existed ? "reused" : "new");
    return store;
}

/* In the foreground on a terminal: one line of progress, files/s and the
 * time left, at most five times a second. */
typedef struct {
    gint64 start, last;
} Progress;

static void show_progress(const DfsScanCounts *c, gpointer user)
{
    Progress *p = user;
    gint64 now = g_get_monotonic_time();
    gboolean last = c->files_seen == c->total;
    if (now - p->last < 200000 && !last)
        return;
    p->last = now;
    double secs = MAX((now - p->start) / 1e6, 1e-3), rate = c->files_seen / secs;
    double left = rate > 0 ? (c->total - c->files_seen) / rate : 0;
    fprintf(stderr, "\rdicomfs: %u of %u files (%u read), %.0f files/s, %.0f s left   %s",
            c->files_seen, c->total, c->reads, rate, left, last ? "\n" : "");
}

static gboolean scan(const Options *o, gboolean foreground, DfsFs *fs)
{
    g_autoptr(GError) error = NULL;
    DfsScanCounts counts;
    DfsTreeStatus ts = {0};
    DfsStore *store = open_store(o, &ts);
    Progress progress = {g_get_monotonic_time(), 0};
    gboolean show = foreground && isatty(STDERR_FILENO);
    DfsIndex *idx = dfs_scan(o->source, store, show ? show_progress : NULL, &progress, &counts,
                             &error);
    dfs_store_close(store);
    if (idx == NULL) {
        g_printerr("dicomfs: %s\n", error->message);
        return FALSE;
    }
    fs->tree = dfs_tree_new(o->source, idx, (gsize)o->cache_mb << 20);
    ts.files_seen = counts.files_seen;
    ts.indexed = counts.indexed;
    ts.skipped = counts.skipped;
    ts.others = counts.others;
    ts.reads = counts.reads;
    ts.done = TRUE;
    dfs_tree_set_status(fs->tree, &ts);
    return TRUE;
}

static int serve(struct fuse_session *se, struct fuse_cmdline_opts *cl)
{
    if (cl->singlethread)
        return fuse_session_loop(se);
    struct fuse_loop_config *lc = fuse_loop_cfg_create();
    fuse_loop_cfg_set_max_threads(lc, cl->max_threads ? cl->max_threads : 16);
    int rc = fuse_session_loop_mt(se, lc);
    fuse_loop_cfg_destroy(lc);
    return rc;
}

/* Mount, go to the background, scan, then answer requests: requests that
 * come during the scan wait for it. */
static int run(struct fuse_args *args, struct fuse_cmdline_opts *cl, const Options *o, DfsFs *fs)
{
    struct fuse_session *se = fuse_session_new(args, &dfs_fs_ops, sizeof dfs_fs_ops, fs);
    if (se == NULL)
        return 1;
    int rc = 1;
    if (fuse_set_signal_handlers(se) == 0) {
        if (fuse_session_mount(se, cl->mountpoint) == 0) {
            fuse_daemonize(cl->foreground);
            if (scan(o, cl->foreground, fs)) {
                /* The loop returns the signal that ended it: SIGINT, SIGTERM
                 * and SIGHUP are the requested, clean way out. */
                int r = serve(se, cl);
                rc = r == 0 || r == SIGINT || r == SIGTERM || r == SIGHUP ? 0 : 1;
            }
            fuse_session_unmount(se);
        }
        fuse_remove_signal_handlers(se);
    }
    fuse_session_destroy(se);
    return rc;
}

int main(int argc, char **argv)
{
    struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
    Options o = {.cache_mb = 128};
    if (fuse_opt_parse(&args, &o, option_spec, take_source) != 0)
        return 1;
    struct fuse_cmdline_opts cl;
    if (fuse_parse_cmdline(&args, &cl) != 0)
        return 1;
    if (o.show_help || cl.show_help) {
        usage(argv[0]);
        fuse_cmdline_help();
        fuse_lowlevel_help();
        return 0;
    }
    if (cl.show_version) {
        printf("dicomfs %s\n", DFS_VERSION);
        fuse_lowlevel_version();
        return 0;
    }
    if (o.source == NULL || cl.mountpoint == NULL) {
        fprintf(stderr, "usage: %s [options] SOURCE MOUNTPOINT (see --help)\n", argv[0]);
        return 1;
    }
    struct stat st;
    if (stat(o.source, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "dicomfs: source %s is not a folder\n", o.source);
        return 1;
    }
    if (!check_mountpoint(cl.mountpoint))
        return 1;
    /* Read-only for the kernel too, and a name for `mount` to show. */
    fuse_opt_add_arg(&args, "-oro,fsname=dicomfs,subtype=dicomfs");
    DfsFs fs = {NULL};
    int rc = run(&args, &cl, &o, &fs);
    dfs_tree_free(fs.tree);
    free(o.source);
    free(cl.mountpoint);
    fuse_opt_free_args(&args);
    return rc;
}
