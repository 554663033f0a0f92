/* dicomfs: mount a folder of DICOM files, or a DICOMweb server, as a
 * Patient / Study / Series / Instance tree.
 *
 *   dicomfs [options] SOURCE MOUNTPOINT
 *
 * SOURCE is a folder or a DICOMweb base URL (http:// or https://): the
 * kinds of source are core/sources/'s.
 * Options are libfuse's (-f, -d, -s, -o opt,...) plus dicomfs's own
 * (-o cache_mb=N, index=PATH, noindex, wait).  The mount answers at once
 * and folders fill in as the scan goes (with -o wait, the command returns
 * once the scan is done and the mount complete).  Unmount with
 * `fusermount3 -u MOUNTPOINT`; SIGINT and SIGTERM unmount too. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ops.h"
#include "live.h"
#include "dicom/input.h"
#include "catalog/image.h"
#include "catalog/scan.h"
#include "catalog/store.h"
#include "catalog/template.h"
#include "sources/source.h"

typedef struct {
    char *source;
    unsigned cache_mb;
    char *index;  /* path of the persistent index, or NULL for the default */
    int noindex;
    int wait;
    int nowatch;
    unsigned rescan;
    char *templates[DFS_LEVEL_INSTANCE + 1]; /* -o patient=T ... (catalog/template.h) */
    /* A DICOMweb source's (sources/source.h) */
    char *cache_dir, *user, *password_file, *token_file, *cafile;
    char *cache_gb; /* GiB, a decimal number */
    unsigned connections, ttl;
    int netrc, orthanc, not_orthanc;
    int show_help;
} Options;

#define DFS_OPT(t, p) {t, offsetof(Options, p), 1}
static const struct fuse_opt option_spec[] = {
    DFS_OPT("cache_mb=%u", cache_mb),
    DFS_OPT("index=%s", index),
    DFS_OPT("noindex", noindex),
    DFS_OPT("wait", wait),
    DFS_OPT("nowatch", nowatch),
    DFS_OPT("rescan=%u", rescan),
    DFS_OPT("patient=%s", templates[DFS_LEVEL_PATIENT]),
    DFS_OPT("study=%s", templates[DFS_LEVEL_STUDY]),
    DFS_OPT("series=%s", templates[DFS_LEVEL_SERIES]),
    DFS_OPT("instance=%s", templates[DFS_LEVEL_INSTANCE]),
    DFS_OPT("cache_dir=%s", cache_dir),
    DFS_OPT("cache_gb=%s", cache_gb),
    DFS_OPT("connections=%u", connections),
    DFS_OPT("ttl=%u", ttl),
    DFS_OPT("user=%s", user),
    DFS_OPT("password_file=%s", password_file),
    DFS_OPT("token_file=%s", token_file),
    DFS_OPT("cafile=%s", cafile),
    DFS_OPT("netrc", netrc),
    DFS_OPT("orthanc", orthanc),
    DFS_OPT("noorthanc", not_orthanc),
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
        o->source = strdup(arg);
        return 0;
    }
    return 1;
}

static void usage(const char *prog)
{
    printf("usage: %s [options] SOURCE MOUNTPOINT\n\n"
           "Mount the DICOM files under SOURCE (a folder, or a DICOMweb server's\n"
           "base URL: http://... or https://...) as a read-only Patient / Study /\n"
           "Series / Instance tree at MOUNTPOINT.\n\n"
           "dicomfs options:\n"
           "    -o cache_mb=N          memory for parsed headers and rendered files\n"
           "                           (default 24)\n"
           "    -o index=PATH          keep the persistent index at PATH (default\n"
           "                           $XDG_CACHE_HOME/dicomfs/<hash of SOURCE>.sqlite)\n"
           "    -o noindex             no persistent index: read every file\n"
           "    -o wait                return only when the scan is done (without it,\n"
           "                           the mount answers at once and fills in)\n"
           "    -o rescan=SECONDS      also look for changes under SOURCE this often (for\n"
           "                           sources without kernel events; default: off, or\n"
           "                           60 on NFS, SMB and other network filesystems)\n"
           "    -o nowatch             do not follow changes with kernel events (the tree\n"
           "                           stays as scanned unless -o rescan is given)\n"
           "    -o patient=T, -o study=T, -o series=T, -o instance=T\n"
           "                           name that level's folders by template T: text and\n"
           "                           {Keyword}, {Keyword:03} (zero padding),\n"
           "                           {StudyDate:%%Y-%%m-%%d}; {{ and }} are braces, \\, a comma\n"
           "\nDICOMweb sources:\n"
           "    -o cache_dir=DIR       keep fetched instances under DIR (default\n"
           "                           $XDG_CACHE_HOME/dicomfs/web/<hash of URL>)\n"
           "    -o cache_gb=N          at most N GiB of them (default 4; 0.5: 512 MiB)\n"
           "    -o connections=N       at most N connections to the server (default 4)\n"
           "    -o ttl=SECONDS         a listing is good this long: the server listed\n"
           "                           again this often, showing what changed, and not\n"
           "                           at a remount within it (default 600; 0: never\n"
           "                           while mounted, always at a mount)\n"
           "    -o user=NAME           HTTP basic authentication as NAME, the password\n"
           "                           from -o password_file or ~/.netrc\n"
           "    -o password_file=F     the password on F's first line (never in argv)\n"
           "    -o netrc               credentials from ~/.netrc\n"
           "    -o token_file=F        a bearer token on F's first line\n"
           "    -o cafile=F            trust the CA certificates in F (PEM) too\n"
           "    -o orthanc, -o noorthanc  the server is (is not) an Orthanc: exact sizes\n"
           "                           and stored files from its REST API (default:\n"
           "                           asked of the server)\n\n",
           prog);
}

/* The name templates given, in use from now on; FALSE after one line
 * saying what is wrong with one. */
static gboolean take_templates(const Options *o)
{
    static const char *const names[] = {NULL, "patient", "study", "series", "instance"};
    for (guint l = DFS_LEVEL_PATIENT; l <= DFS_LEVEL_INSTANCE; l++) {
        if (o->templates[l] == NULL)
            continue;
        g_autoptr(GError) error = NULL;
        DfsTemplate *t = dfs_template_new((DfsLevel)l, o->templates[l], &error);
        if (t == NULL) {
            fprintf(stderr, "dicomfs: template %s=%s: %s\n", names[l], o->templates[l],
                    error->message);
            return FALSE;
        }
        dfs_templates_set((DfsLevel)l, t);
    }
    return TRUE;
}

/* Where the persistent index of src is. */
static char *store_path(const Options *o, const DfsSource *src)
{
    return o->index ? g_strdup(o->index) : dfs_store_default_path(src->location);
}

/* The source SOURCE names, or NULL after one line saying why not: it is
 * no source, or a server that does not answer with no stored tree to show
 * instead. */
static DfsSource *open_source(const Options *o)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *cache_dir = o->cache_dir ? g_canonicalize_filename(o->cache_dir, NULL) : NULL;
    guint64 cache_bytes = 0;
    if (o->cache_gb != NULL) {
        char *end;
        double gb = g_ascii_strtod(o->cache_gb, &end);
        if (end == o->cache_gb || *end != '\0' || !(gb > 0 && gb <= 1 << 20)) {
            fprintf(stderr, "dicomfs: -o cache_gb=%s: not a number of GiB above 0\n", o->cache_gb);
            return NULL;
        }
        cache_bytes = MAX((guint64)(gb * (double)(1u << 30)), 1);
    }
    DfsSourceOptions so = {.cache_dir = cache_dir,
                           .cache_bytes = cache_bytes,
                           .user = o->user,
                           .password_file = o->password_file,
                           .token_file = o->token_file,
                           .ca_file = o->cafile,
                           .use_netrc = o->netrc,
                           .orthanc = o->orthanc ? 1 : o->not_orthanc ? 0 : -1,
                           .connections = o->connections};
    DfsSource *src = dfs_source_open(o->source, &so, &error);
    if (src == NULL) {
        fprintf(stderr, "dicomfs: %s\n", error->message);
        return NULL;
    }
    /* A server is asked whether it answers before mounting only where
     * there is no stored tree to show: a remount shows it at once, and the
     * scan reaches the server in the background. */
    g_autofree char *path = store_path(o, src);
    g_autofree char *image = dfs_image_path(path);
    if (src->klass->connect != NULL && (o->noindex || !g_file_test(image, G_FILE_TEST_EXISTS)) &&
        !src->klass->connect(src, &error)) {
        fprintf(stderr, "dicomfs: %s does not answer: %s\n", src->location, error->message);
        dfs_source_free(src);
        return NULL;
    }
    return src;
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

/* Let the kernel read ahead 1 MiB at a time in this mount.  A FUSE
 * mount's readahead is the smaller of the daemon's max_readahead and its
 * backing device's read_ahead_kb, 128 KiB by default, which only root may
 * raise: where we may, a large file is read in requests of up to 1 MiB
 * (max_write, ops.c) instead of 128-256 KiB.  Found in mountinfo, not by
 * a stat of the mount, which would wait for the loop not yet running. */
static void raise_readahead(const char *mountpoint)
{
    g_autofree char *real = realpath(mountpoint, NULL), *info = NULL;
    if (real == NULL || !g_file_get_contents("/proc/self/mountinfo", &info, NULL, NULL))
        return;
    g_auto(GStrv) lines = g_strsplit(info, "\n", -1);
    for (char **l = lines; *l; l++) {
        g_auto(GStrv) f = g_strsplit(*l, " ", 6); /* id parent major:minor root mountpoint */
        if (g_strv_length(f) < 5)
            continue;
        g_autofree char *at = g_strcompress(f[4]); /* (spaces are \040 there) */
        if (strcmp(at, real) != 0)
            continue;
        g_autofree char *path = g_strdup_printf("/sys/class/bdi/%s/read_ahead_kb", f[2]);
        int fd = open(path, O_WRONLY | O_CLOEXEC); /* (not root: stays as it is) */
        if (fd >= 0) {
            if (write(fd, "1024", 4) != 4)
                g_debug("readahead of %s left as it was", real);
            close(fd);
        }
    }
}

/* The persistent index, or NULL (off, or it cannot be opened). */
static DfsStore *open_store(const Options *o, const DfsSource *src, DfsTreeStatus *ts)
{
    if (o->noindex)
        return NULL;
    g_autofree char *path = store_path(o, src);
    gboolean existed = g_file_test(path, G_FILE_TEST_EXISTS), rebuilt;
    g_autoptr(GError) error = NULL;
    DfsStore *store = dfs_store_open(path, src->location, &rebuilt, &error);
    if (store == NULL) {
        g_printerr("dicomfs: %s; going on without it\n", error->message);
        return NULL;
    }
    g_snprintf(ts->index, sizeof ts->index, "%s (%s)", path,
               rebuilt ? "rebuilt" : existed ? "reused" : "new");
    return store;
}

/* The scan, in the background (or before mounting, with -o wait). */
typedef struct {
    const Options *o;
    DfsSource *src;
    DfsTree *tree;
    DfsTreeStatus ts;
    gboolean show;     /* the progress line, in the foreground on a terminal */
    gint64 start, last_shown;
    gint stop;         /* atomic: the mount is going away */
    gboolean ok;
    DfsStore *store;
    char *store_path;  /* the persistent index's, or NULL */
    DfsScan *scan;
    GThread *thread;
    DfsFsLive *live;   /* following changes, or NULL */
} Scanner;

/* One line of progress, files/s and the time left, at most five times a
 * second. */
static void show_progress(const DfsScanCounts *c, gpointer user)
{
    Scanner *sc = user;
    gint64 now = g_get_monotonic_time();
    gboolean last = c->walked && c->files_seen == c->total;
    if (!sc->show || (now - sc->last_shown < 200000 && !last))
        return;
    sc->last_shown = now;
    double secs = MAX((now - sc->start) / 1e6, 1e-3), rate = c->files_seen / secs;
    if (c->walked)
        fprintf(stderr, "\rdicomfs: %u of %u files (%u read), %.0f files/s, %.0f s left   %s",
                c->files_seen, c->total, c->reads, rate,
                rate > 0 ? (c->total - c->files_seen) / rate : 0, last ? "\n" : "");
    else
        fprintf(stderr, "\rdicomfs: %u of %u files found so far (%u read), %.0f files/s   ",
                c->files_seen, c->total, c->reads, rate);
}

static void publish(DfsIndex *idx, const DfsScanCounts *c, gboolean done, gpointer user)
{
    Scanner *sc = user;
    char *state = strrchr(sc->ts.index, '(');
    if (c->store_damaged && state != NULL && strcmp(state, "(rebuilt)") != 0)
        g_strlcpy(state, "(rebuilt)", sizeof sc->ts.index - (gsize)(state - sc->ts.index));
    sc->ts.files_seen = c->files_seen;
    sc->ts.total = c->total;
    sc->ts.walked = c->walked;
    sc->ts.indexed = c->indexed;
    sc->ts.skipped = c->skipped;
    sc->ts.others = c->others;
    sc->ts.reads = c->reads;
    sc->ts.batched = c->batched;
    sc->ts.batch_off = c->batch_off;
    sc->ts.mapped = c->mapped;
    sc->ts.loaded = c->loaded;
    sc->ts.listed_ago = c->listed_ago;
    sc->ts.done = done;
    dfs_tree_publish(sc->tree, idx, &sc->ts);
}

static gboolean scan_cancelled(gpointer user)
{
    return g_atomic_int_get(&((Scanner *)user)->stop);
}

static const DfsScanSink scan_sink = {publish, show_progress, scan_cancelled};

/* Open the persistent index and file what it knows: before mounting, so a
 * remount shows the stored tree from the first request. */
static void scan_begin(Scanner *sc)
{
    sc->start = g_get_monotonic_time();
    sc->store = open_store(sc->o, sc->src, &sc->ts);
    sc->store_path = sc->store ? g_strdup(dfs_store_path(sc->store)) : NULL;
    /* Watched from just before the scan's walk: nothing changed during it
     * is missed.  (A folder's changes only: a server's are not followed.) */
    DfsFsLiveOptions lo = {.watch = !sc->o->nowatch, .rescan_s = sc->o->rescan};
    if (sc->src->lister != NULL) /* a server's: its listing revalidated after a time */
        lo = (DfsFsLiveOptions){.rescan_s = sc->o->ttl, .lister = sc->src->lister,
                                .lister_self = sc->src};
    sc->live = dfs_fs_live_new(sc->src->location, sc->tree, &sc->ts, &lo);
    sc->scan = dfs_source_scan_new(sc->src, sc->store, &scan_sink, sc);
    if (sc->live != NULL)
        dfs_scan_keep_builder(sc->scan);
    /* A server listed whole within its TTL is not listed again at a
     * remount: the next listing comes when the TTL runs out. */
    if (sc->src->lister != NULL)
        dfs_scan_trust_listing(sc->scan, sc->o->ttl);
}

/* The walk and the reads (a thread of its own, or before mounting with
 * -o wait). */
static gpointer scan_run(gpointer user)
{
    Scanner *sc = user;
    g_autoptr(GError) error = NULL;
    if (sc->live != NULL)
        dfs_fs_live_watch(sc->live);
    DfsIndex *idx = dfs_scan_run(sc->scan, NULL, &error);
    DfsIndexBuilder *b = dfs_scan_take_builder(sc->scan);
    dfs_scan_free(sc->scan);
    sc->scan = NULL;
    dfs_store_close(sc->store);
    sc->store = NULL;
    /* A server that does not answer leaves the tree it had shown: the
     * stored one, or what its listing had brought. */
    gboolean stored_tree = sc->src->offline_tree && (sc->ts.mapped || sc->ts.loaded > 0);
    sc->ok = idx != NULL || stored_tree;
    if (idx == NULL && error != NULL) {
        g_printerr("dicomfs: %s%s\n", error->message,
                   sc->src->offline_tree ? "; the tree shown stays as it was" : "");
        sc->ts.done = TRUE;
        dfs_tree_publish(sc->tree, sc->src->offline_tree ? NULL : dfs_index_new_empty(), &sc->ts);
    }
    if (idx != NULL && sc->live != NULL) {
        if (sc->ts.listed_ago >= 0)
            dfs_fs_live_rescan_first_in(sc->live, (guint)MAX(0, (gint64)sc->o->ttl - sc->ts.listed_ago));
        dfs_fs_live_ready(sc->live, idx, b, sc->store_path);
        b = NULL;
    }
    dfs_index_builder_free(b);
    dfs_index_unref(idx);
    /* What the scan's threads freed goes back to the system. */
    malloc_trim(0);
    return NULL;
}

/* --- the daemon ----------------------------------------------------------- */

/* The write end of the pipe the waiting parent reads its exit status from. */
static int parent_pipe = -1;

/* Fork: the parent waits until the child says the mount is ready (0) or has
 * failed, and exits with that.  The scan's threads all start after the fork
 * (a fork with threads alive can leave a lock, glibc's iconv lock say, held
 * forever in the child). */
static gboolean go_background(void)
{
    int p[2];
    if (pipe(p) != 0)
        return FALSE;
    pid_t pid = fork();
    if (pid < 0)
        return FALSE;
    if (pid > 0) {
        close(p[1]);
        unsigned char status = 1;
        if (read(p[0], &status, 1) != 1)
            status = 1;
        _exit(status);
    }
    close(p[0]);
    parent_pipe = p[1];
    setsid();
    return TRUE;
}

/* Tell the waiting parent (if any); once mounted, let go of the terminal. */
static void tell_parent(unsigned char status)
{
    if (parent_pipe < 0)
        return;
    if (status == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, STDIN_FILENO);
            dup2(null, STDOUT_FILENO);
            dup2(null, STDERR_FILENO);
            if (null > STDERR_FILENO)
                close(null);
        }
    }
    if (write(parent_pipe, &status, 1) != 1)
        g_printerr("dicomfs: lost the waiting parent\n");
    close(parent_pipe);
    parent_pipe = -1;
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

/* Go to the background, mount and answer while the scan runs (or scan
 * first, with -o wait). */
static int run(struct fuse_args *args, struct fuse_cmdline_opts *cl, const Options *o, DfsFs *fs)
{
    if (!cl->foreground && !go_background()) {
        fprintf(stderr, "dicomfs: cannot go to the background: %s\n", strerror(errno));
        return 1;
    }
    if (chdir("/") != 0)
        g_printerr("dicomfs: chdir /: %s\n", g_strerror(errno));
    Scanner sc = {.o = o,
                  .src = dfs_tree_source(fs->tree),
                  .tree = fs->tree,
                  .show = cl->foreground && isatty(STDERR_FILENO),
                  .ts = {.listed_ago = -1}};
    scan_begin(&sc);
    if (o->wait) {
        scan_run(&sc);
        if (!sc.ok) {
            tell_parent(1);
            return 1;
        }
    }
    struct fuse_session *se = fuse_session_new(args, &dfs_fs_ops, sizeof dfs_fs_ops, fs);
    int rc = 1;
    if (se != NULL && fuse_set_signal_handlers(se) == 0) {
        if (fuse_session_mount(se, cl->mountpoint) == 0) {
            raise_readahead(cl->mountpoint);
            if (sc.live != NULL)
                dfs_fs_live_set_session(sc.live, se);
            tell_parent(0);
            if (!o->wait)
                sc.thread = g_thread_new("scan", scan_run, &sc);
            /* The loop returns the signal that ended it: SIGINT, SIGTERM
             * and SIGHUP are the requested, clean way out. */
            int r = serve(se, cl);
            rc = r == 0 || r == SIGINT || r == SIGTERM || r == SIGHUP ? 0 : 1;
            g_atomic_int_set(&sc.stop, 1);
            if (sc.thread != NULL)
                g_thread_join(sc.thread);
            /* No more snapshots, nor news for the kernel, once unmounting. */
            dfs_fs_live_free(g_steal_pointer(&sc.live));
            fuse_session_unmount(se);
        }
        fuse_remove_signal_handlers(se);
    }
    tell_parent(1);
    if (sc.scan != NULL) { /* never run: the mount failed */
        dfs_scan_free(sc.scan);
        dfs_store_close(sc.store);
    }
    dfs_fs_live_free(sc.live);
    g_free(sc.store_path);
    if (se != NULL)
        fuse_session_destroy(se);
    return rc;
}

/* The options dicomfs adds to the user's: read-only for the kernel too, a
 * name for `mount` to show, reads that splice whole (DFS_READ_MAX), and,
 * for a mount shared with other users,
 * default_permissions: the kernel checks the modes, which follow the source
 * files' (fs/ops.c).  TRUE for such a shared mount. */
static gboolean add_mount_options(struct fuse_args *args)
{
    g_autofree char *fixed = g_strdup_printf("-oro,fsname=dicomfs,subtype=dicomfs,max_read=%u",
                                             DFS_READ_MAX);
    fuse_opt_add_arg(args, fixed);
    static const struct fuse_opt shared_spec[] = {{"allow_other", 0, 1}, {"allow_root", 0, 1},
                                                  FUSE_OPT_END};
    int shared = 0;
    struct fuse_args copy = FUSE_ARGS_INIT(args->argc, args->argv);
    if (fuse_opt_parse(&copy, &shared, shared_spec, NULL) == 0 && shared)
        fuse_opt_add_arg(args, "-odefault_permissions");
    fuse_opt_free_args(&copy);
    return shared != 0;
}

int main(int argc, char **argv)
{
    struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
    /* Two malloc arenas, not one per thread: sixteen request threads would
     * each keep their own freed memory. */
    mallopt(M_ARENA_MAX, 2);
    Options o = {.cache_mb = 24, .ttl = 600};
    struct fuse_cmdline_opts cl = {0};
    DfsSource *src = NULL;
    int rc = 1; /* every way out frees what the options hold (leak checkers look) */
    if (fuse_opt_parse(&args, &o, option_spec, take_source) != 0 ||
        fuse_parse_cmdline(&args, &cl) != 0)
        goto out;
    if (o.show_help || cl.show_help) {
        usage(argv[0]);
        fuse_cmdline_help();
        fuse_lowlevel_help();
        rc = 0;
        goto out;
    }
    if (cl.show_version) {
        printf("dicomfs %s\n", DFS_VERSION);
        fuse_lowlevel_version();
        rc = 0;
        goto out;
    }
    if (o.source == NULL || cl.mountpoint == NULL) {
        fprintf(stderr, "usage: %s [options] SOURCE MOUNTPOINT (see --help)\n", argv[0]);
        goto out;
    }
    if (!take_templates(&o) || !check_mountpoint(cl.mountpoint))
        goto out;
    if (o.index != NULL) { /* the daemon works from / */
        char *abs = g_canonicalize_filename(o.index, NULL);
        free(o.index);
        o.index = abs; /* freed below with g_free */
    }
    if ((src = open_source(&o)) == NULL)
        goto out;
    gboolean shared = add_mount_options(&args);
    /* Nothing outside the source's folder (or its cache) is ever read,
     * whatever links appear in it. */
    dfs_input_confine(src->root);
    DfsFs fs = {dfs_tree_new(src, (gsize)o.cache_mb << 20), shared};
    rc = run(&args, &cl, &o, &fs);
    dfs_tree_free(fs.tree);
out:
    dfs_source_free(src);
    free(o.source);
    g_free(o.index);
    free(o.cache_dir);
    free(o.cache_gb);
    free(o.user);
    free(o.password_file);
    free(o.token_file);
    free(o.cafile);
    for (guint l = DFS_LEVEL_PATIENT; l <= DFS_LEVEL_INSTANCE; l++) {
        free(o.templates[l]);
        dfs_templates_set((DfsLevel)l, NULL);
    }
    free(cl.mountpoint);
    fuse_opt_free_args(&args);
    return rc;
}
