/* dicomfs core: an instance's instance.dcm, its bytes as the source holds
 * them: served from the local file that has them (fs/ reads it at the
 * offsets asked), never rendered; its size is the catalog's (or, where the
 * source could not say before, what it learned at the first open). */
#include "tree/kind.h"

static gboolean dcm_size(const DfsView *v, DfsEntry e, guint64 *size, GError **error)
{
    *size = dfs_view_instance_size(v, DFS_ENTRY_NODE(e));
    return TRUE;
}

static gboolean dcm_range(const DfsView *v, DfsEntry e, guint64 *offset, guint64 *length)
{
    *offset = 0;
    *length = dfs_view_instance_size(v, DFS_ENTRY_NODE(e));
    return TRUE;
}

const DfsKind dfs_kind_instance_dcm = {
    .flags = DFS_KIND_INSTANCE_SIZED,
    .size = dcm_size,
    .source_range = dcm_range,
    .name = "instance.dcm",
    .levels = DFS_LEVEL_MASK(DFS_LEVEL_INSTANCE),
};
