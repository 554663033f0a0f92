/* dicomfs core: where a mount's instances come from.
 *
 * A source lists its instances into the catalog (a scan, catalog/scan.h)
 * and gives the bytes of each as a local file the tree reads: a folder's
 * own files (folder.c), or a DICOMweb server's instances fetched into a
 * bounded cache on disk (dicomweb.c).  The catalog, its names and views,
 * the tree, its renderers and caches are the same whatever the source: a
 * new kind of source (a zip archive, say) is one more implementation of
 * this interface, in a module of its own, and a line in source.c's list.
 *
 * Every function may be called from any thread once the source is open. */
#pragma once

#include <glib.h>

#include "catalog/index.h"
#include "catalog/scan.h"
#include "catalog/store.h"

G_BEGIN_DECLS

typedef struct _DfsSource DfsSource;

/* What a mount asks of a source besides its location (the options of the
 * kinds that use them; the others ignore them). */
typedef struct {
    /* DICOMweb: fetched instances are kept under cache_dir (NULL: under
     * $XDG_CACHE_HOME/dicomfs/web/), at most cache_bytes of them (0: 4 GiB). */
    const char *cache_dir;
    guint64 cache_bytes;
    /* DICOMweb credentials and TLS (web/http.h says how each is used). */
    const char *user, *password_file, *token_file, *ca_file;
    gboolean use_netrc;
    /* DICOMweb: the server is an Orthanc (its REST API gives exact sizes and
     * the stored bytes fast): -1 find out, 0 no, 1 yes. */
    int orthanc;
    /* DICOMweb: connections to the server at most (0: 4). */
    guint connections;
} DfsSourceOptions;

typedef struct {
    const char *kind; /* "folder", "dicomweb": what the status file says */
    /* Does arg (a command line's SOURCE) name a source of this kind? */
    gboolean (*claims)(const char *arg);
    /* Open it: NULL with one clear line of error when it cannot be. */
    DfsSource *(*open)(const char *arg, const DfsSourceOptions *o, GError **error);
    /* A scan of the source into the catalog (catalog/scan.h). */
    DfsScan *(*scan_new)(DfsSource *src, DfsStore *store, const DfsScanSink *sink, gpointer user);
    /* The local file holding the bytes of instance node (caller frees).
     * It may have to be fetched first: this blocks, for a bounded time.
     * NULL with an error (DFS_ERROR_IO) when it cannot be had now. */
    char *(*instance_path)(DfsSource *src, const DfsIndex *idx, guint node, GError **error);
    /* A local file holding instance node's attributes, for its attribute
     * files: the whole file (*whole TRUE, as instance_path gives), or a
     * copy of it whose Pixel Data value is not there (*whole FALSE: zeros;
     * its length and every other byte are the instance's).  May be NULL: instance_path serves.  Blocks and fails as
     * instance_path does. */
    char *(*instance_header_path)(DfsSource *src, const DfsIndex *idx, guint node,
                                  gboolean *whole, GError **error);
    /* Would frame of instance node rather be fetched alone (WADO-RS
     * .../frames/N) than read from the whole instance?  (A remote instance
     * whose attributes came without its bytes: one frame's request beats
     * the whole transfer, for the first few frames looked at.)  May be
     * NULL: never. */
    gboolean (*frame_alone)(DfsSource *src, const DfsIndex *idx, guint node);
    /* Frame (0-based) of instance node fetched alone: its stored bytes in
     * the instance's transfer syntax `syntax` (encoded as in its fragments;
     * native: the frame's bytes), at most max_bytes of them.  NULL with an
     * error: DFS_ERROR_UNSUPPORTED where the server will not give it so
     * (the whole instance is then read instead), else DFS_ERROR_IO. */
    GBytes *(*fetch_frame)(DfsSource *src, const DfsIndex *idx, guint node, guint frame,
                           const char *syntax, gsize max_bytes, GError **error);
    /* The byte count of instance node where the catalog has none (its size
     * 0: unknown before the bytes were fetched); FALSE while unknown. */
    gboolean (*instance_size)(DfsSource *src, const DfsIndex *idx, guint node, guint64 *size);
    /* Reach the source now (may be NULL: nothing to reach): FALSE with why
     * it cannot be.  Called before mounting where there is no stored tree
     * to show instead; otherwise its scan does it, in the background, so
     * that a remount shows its tree at once. */
    gboolean (*connect)(DfsSource *src, GError **error);
    /* A study or series folder (level) shown empty so far (a catalog
     * listed level by level): have what it holds listed and shown before
     * returning, within a bounded time (may be NULL: every folder is
     * whole). */
    void (*expand)(DfsSource *src, DfsLevel level, const char *uid);
    /* A walk went into an instance of `series`: the headers of its other
     * instances will be wanted next (their folders, tags/, volume/): start
     * reading them, in the background, and return at once (may be NULL).
     * A hint: it may be dropped. */
    void (*prefetch)(DfsSource *src, const DfsIndex *idx, guint series);
    /* Append the source's own lines to .dicomfs/status (may be NULL). */
    void (*write_status)(DfsSource *src, GString *out);
    void (*free)(DfsSource *src);
} DfsSourceClass;

/* The part every source begins with. */
struct _DfsSource {
    const DfsSourceClass *klass;
    char *location;    /* the folder's real path or the base URL: the persistent
                          index is keyed by it, and the status shows it */
    char *root;        /* every file the tree reads lies under it (dicom/input.h's
                          confinement): the folder, or the cache */
    gboolean is_local; /* its files are the user's own: their modes and owners
                          are mirrored on a shared mount, and changes can be
                          followed with kernel events */
    gboolean offline_tree; /* when it cannot be reached, the stored tree is served
                              as it was (not emptied) */
    /* A source listed rather than walked: its lister (catalog/scan.h), to
     * list it again (its revalidation), with the source as self; or NULL. */
    const DfsScanLister *lister;
};

/* The source arg names (the first kind in source.c's list that claims
 * it), opened.  NULL with an error saying why in one line. */
DfsSource *dfs_source_open(const char *arg, const DfsSourceOptions *o, GError **error);
void dfs_source_free(DfsSource *src);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DfsSource, dfs_source_free)

static inline DfsScan *dfs_source_scan_new(DfsSource *src, DfsStore *store,
                                           const DfsScanSink *sink, gpointer user)
{
    return src->klass->scan_new(src, store, sink, user);
}

static inline char *dfs_source_instance_path(DfsSource *src, const DfsIndex *idx, guint node,
                                             GError **error)
{
    return src->klass->instance_path(src, idx, node, error);
}

static inline char *dfs_source_instance_header_path(DfsSource *src, const DfsIndex *idx,
                                                    guint node, gboolean *whole, GError **error)
{
    if (src->klass->instance_header_path == NULL) {
        *whole = TRUE;
        return src->klass->instance_path(src, idx, node, error);
    }
    return src->klass->instance_header_path(src, idx, node, whole, error);
}

static inline void dfs_source_prefetch(DfsSource *src, const DfsIndex *idx, guint series)
{
    if (src->klass->prefetch != NULL)
        src->klass->prefetch(src, idx, series);
}

static inline gboolean dfs_source_frame_alone(DfsSource *src, const DfsIndex *idx, guint node)
{
    return src->klass->frame_alone != NULL && src->klass->frame_alone(src, idx, node);
}

static inline GBytes *dfs_source_fetch_frame(DfsSource *src, const DfsIndex *idx, guint node,
                                             guint frame, const char *syntax, gsize max_bytes,
                                             GError **error)
{
    return src->klass->fetch_frame(src, idx, node, frame, syntax, max_bytes, error);
}

/* The size of instance node: the catalog's, or what the source learned. */
guint64 dfs_source_instance_size(DfsSource *src, const DfsIndex *idx, guint node);

/* Can an instance's size be unknown (0) until its bytes are fetched?  (A
 * folder's never is: its catalog has every file's size.) */
static inline gboolean dfs_source_sizes_late(const DfsSource *src)
{
    return src->klass->instance_size != NULL;
}

void dfs_source_write_status(DfsSource *src, GString *out);

/* For implementations: fill the common part (location and root copied). */
void dfs_source_init(DfsSource *src, const DfsSourceClass *klass, const char *location,
                     const char *root);
void dfs_source_clear(DfsSource *src);

G_END_DECLS
