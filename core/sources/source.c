/* dicomfs core: the sources a mount reads from.  See source.h. */
#include "sources/source.h"

#include "base/error.h"

extern const DfsSourceClass dfs_source_dicomweb;
extern const DfsSourceClass dfs_source_folder;

/* The kinds, in the order they are asked: the folder claims whatever is
 * left. */
static const DfsSourceClass *const kinds[] = {&dfs_source_dicomweb, &dfs_source_folder};

DfsSource *dfs_source_open(const char *arg, const DfsSourceOptions *o, GError **error)
{
    static const DfsSourceOptions none = {.orthanc = -1};
    for (guint k = 0; k < G_N_ELEMENTS(kinds); k++)
        if (kinds[k]->claims(arg))
            return kinds[k]->open(arg, o != NULL ? o : &none, error);
    g_set_error(error, DFS_ERROR, DFS_ERROR_NOT_FOUND, "%s: not a source dicomfs can read", arg);
    return NULL;
}

void dfs_source_free(DfsSource *src)
{
    if (src != NULL)
        src->klass->free(src);
}

guint64 dfs_source_instance_size(DfsSource *src, const DfsIndex *idx, guint node)
{
    guint64 size = dfs_index_size(idx, node);
    if (size == 0 && dfs_source_sizes_late(src))
        src->klass->instance_size(src, idx, node, &size);
    return size;
}

void dfs_source_write_status(DfsSource *src, GString *out)
{
    if (src->klass->write_status != NULL)
        src->klass->write_status(src, out);
}

void dfs_source_init(DfsSource *src, const DfsSourceClass *klass, const char *location,
                     const char *root)
{
    src->klass = klass;
    src->location = g_strdup(location);
    src->root = g_strdup(root);
}

void dfs_source_clear(DfsSource *src)
{
    g_free(src->location);
    g_free(src->root);
}
