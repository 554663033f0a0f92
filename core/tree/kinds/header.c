/* dicomfs core: an instance's header.txt (the dump, one line per element,
 * as dcmdump prints it) and header.json (the DICOM JSON model, PS3.18
 * F.2), rendered from the cached header.  Their size takes a whole render,
 * so a listing does not compute it (DFS_KIND_COSTLY); once rendered they
 * are kept in the content cache. */
#include "tree/kind.h"

#include "dicom/json.h"
#include "dicom/render.h"
#include "tree/instance.h"

static gboolean render_txt(const DfsView *v, DfsEntry e, GString *out, GError **error)
{
    g_autoptr(DfsDataset) ds = dfs_instance_dataset(v, DFS_ENTRY_NODE(e), error);
    if (ds == NULL)
        return FALSE;
    dfs_render_dump(ds, out);
    return TRUE;
}

static gboolean render_json(const DfsView *v, DfsEntry e, GString *out, GError **error)
{
    g_autoptr(DfsDataset) ds = dfs_instance_dataset(v, DFS_ENTRY_NODE(e), error);
    if (ds == NULL)
        return FALSE;
    DfsJsonOptions o = {.include_meta = TRUE, .pixel_data_uri = "instance.dcm", .pretty = TRUE};
    dfs_render_json(ds, &o, out);
    return TRUE;
}

const DfsKind dfs_kind_header_txt = {
    .flags = DFS_KIND_COSTLY,
    .render = render_txt,
    .name = "header.txt",
    .levels = DFS_LEVEL_MASK(DFS_LEVEL_INSTANCE),
};

const DfsKind dfs_kind_header_json = {
    .flags = DFS_KIND_COSTLY,
    .render = render_json,
    .name = "header.json",
    .levels = DFS_LEVEL_MASK(DFS_LEVEL_INSTANCE),
};
