/* dicomfs core: an instance's instance.dcm, the source file byte for byte:
 * served from the file (fs/ reads it at the offsets asked), never
 * rendered; its size is the index's. */
#include "tree/kind.h"

static gboolean dcm_size(const DfsView *v, DfsEntry e, guint64 *size, GError **error)
{
    *size = dfs_index_size(v->idx, DFS_ENTRY_NODE(e));
    return TRUE;
}

static gboolean dcm_range(const DfsView *v, DfsEntry e, guint64 *offset, guint64 *length)
{
    *offset = 0;
    *length = dfs_index_size(v->idx, DFS_ENTRY_NODE(e));
    return TRUE;
}

const DfsKind dfs_kind_instance_dcm = {
    .size = dcm_size,
    .source_range = dcm_range,
    .name = "instance.dcm",
    .levels = DFS_LEVEL_MASK(DFS_LEVEL_INSTANCE),
};
