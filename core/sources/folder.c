/* dicomfs core: a folder of files as a source: walked and read by the
 * catalog's scan (catalog/scan.h), each instance's bytes its own file. */
#include "sources/source.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "base/error.h"

extern const DfsSourceClass dfs_source_folder;

static gboolean folder_claims(const char *arg)
{
    (void)arg;
    return TRUE;
}

static DfsSource *folder_open(const char *arg, const DfsSourceOptions *o, GError **error)
{
    (void)o;
    char *real = realpath(arg, NULL);
    struct stat st;
    if (real == NULL || stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
        int err = errno;
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "source %s: %s", arg,
                    real == NULL ? g_strerror(err) : "not a folder");
        free(real);
        return NULL;
    }
    DfsSource *src = g_new0(DfsSource, 1);
    dfs_source_init(src, &dfs_source_folder, real, real);
    src->is_local = TRUE;
    free(real);
    return src;
}

static DfsScan *folder_scan_new(DfsSource *src, DfsStore *store, const DfsScanSink *sink,
                                gpointer user)
{
    return dfs_scan_new(src->location, store, sink, user);
}

static char *folder_instance_path(DfsSource *src, const DfsIndex *idx, guint node, GError **error)
{
    (void)error;
    return g_build_filename(src->location, dfs_index_relpath(idx, node), NULL);
}

static void folder_free(DfsSource *src)
{
    dfs_source_clear(src);
    g_free(src);
}

const DfsSourceClass dfs_source_folder = {
    .kind = "folder",
    .claims = folder_claims,
    .open = folder_open,
    .scan_new = folder_scan_new,
    .instance_path = folder_instance_path,
    .free = folder_free,
};
