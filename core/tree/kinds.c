/* dicomfs core: the kinds of entries the tree has.  See kind.h.  A new kind
 * is a module under kinds/ and a line in each table below. */
#include "tree/kind.h"

static const DfsKind *const kinds[DFS_KIND_N] = {
    [DFS_KIND_NODE] = &dfs_kind_node,
    [DFS_KIND_TAGS] = &dfs_kind_tags,
    [DFS_KIND_ATTR] = &dfs_kind_attr,
    [DFS_KIND_HEADER_JSON] = &dfs_kind_header_json,
    [DFS_KIND_HEADER_TXT] = &dfs_kind_header_txt,
    [DFS_KIND_DCM] = &dfs_kind_instance_dcm,
    [DFS_KIND_META_DIR] = &dfs_kind_meta_dir,
    [DFS_KIND_META_FILE] = &dfs_kind_meta_file,
    [DFS_KIND_IMAGE_PNG] = &dfs_kind_image_png,
    [DFS_KIND_PIXELS_RAW] = &dfs_kind_pixels_raw,
    [DFS_KIND_PIXELS_TXT] = &dfs_kind_pixels_txt,
    [DFS_KIND_FRAMES] = &dfs_kind_frames,
    [DFS_KIND_FRAME_PNG] = &dfs_kind_frame_png,
    [DFS_KIND_FRAME_RAW] = &dfs_kind_frame_raw,
    [DFS_KIND_META_TABLE] = &dfs_kind_meta_table,
    [DFS_KIND_VOLUME_DIR] = &dfs_kind_volume_dir,
    [DFS_KIND_VOLUME_FILE] = &dfs_kind_volume_file,
    [DFS_KIND_VIEW_DIR] = &dfs_kind_view_dir,
    [DFS_KIND_VIEW_LINK] = &dfs_kind_view_link,
};

/* What a node's folder holds besides its child nodes, in listing order
 * (each kind says at which levels). */
static const DfsKindId in_nodes[] = {
    DFS_KIND_META_DIR,   /* .dicomfs (root) */
    DFS_KIND_FRAMES,     DFS_KIND_HEADER_JSON, DFS_KIND_HEADER_TXT, DFS_KIND_IMAGE_PNG,
    DFS_KIND_DCM,        DFS_KIND_PIXELS_RAW,  DFS_KIND_PIXELS_TXT,
    DFS_KIND_TAGS,       DFS_KIND_VOLUME_DIR,
};

const DfsKind *dfs_kind_by_id(DfsKindId id)
{
    return (guint)id < DFS_KIND_N ? kinds[id] : NULL;
}

const DfsKind *dfs_kind_of(DfsEntry e)
{
    return dfs_kind_by_id((DfsKindId)DFS_ENTRY_KIND(e));
}

const DfsKindId *dfs_kinds_in_nodes(guint *n)
{
    *n = G_N_ELEMENTS(in_nodes);
    return in_nodes;
}
