/* dicomfs core: frames/ of a multi-frame instance: 0001.png, 0001.raw, ...
 * one pair per frame (the number zero-padded to at least four digits, to
 * the width of the frame count beyond that).  A frame's files are those of
 * pixels.c for one frame; an entry's sub is the frame (below 2^24:
 * DFS_LIMIT_FRAMES).  A listing emits from the position asked for. */
#include "tree/kind.h"

#include <string.h>

#include "tree/instance.h"

static gboolean several_frames(const DfsView *v, guint node)
{
    return dfs_instance_frames(v, node) >= 2;
}

static void frame_name(guint frame, guint frames, const char *ext, char buf[32])
{
    guint width = MAX(4u, (guint)g_snprintf(NULL, 0, "%u", frames));
    g_snprintf(buf, 32, "%0*u.%s", (int)width, frame + 1, ext);
}

/* NNNN.png or NNNN.raw: the frame and the kind, or FALSE. */
static gboolean parse_frame_name(const char *name, guint frames, guint *frame, DfsKindId *kind)
{
    char *end;
    guint64 n = g_ascii_strtoull(name, &end, 10);
    if (end == name || n == 0 || n > frames)
        return FALSE;
    *frame = (guint)n - 1;
    *kind = strcmp(end, ".png") == 0   ? DFS_KIND_FRAME_PNG
            : strcmp(end, ".raw") == 0 ? DFS_KIND_FRAME_RAW
                                       : DFS_KIND_N;
    return *kind != DFS_KIND_N;
}

static gboolean frames_lookup(const DfsView *v, DfsEntry dir, const char *name, DfsEntry *out,
                              GError **error)
{
    guint node = DFS_ENTRY_NODE(dir), frame, frames = dfs_instance_frames(v, node);
    DfsKindId kind;
    char canonical[32];
    if (!parse_frame_name(name, frames, &frame, &kind) ||
        (kind == DFS_KIND_FRAME_PNG && !dfs_instance_shows_png(v, node)))
        return dfs_view_not_found(error, name);
    frame_name(frame, frames, kind == DFS_KIND_FRAME_PNG ? "png" : "raw", canonical);
    if (strcmp(canonical, name) != 0)
        return dfs_view_not_found(error, name);
    *out = DFS_ENTRY_MAKE(kind, node, frame);
    return TRUE;
}

static gboolean frames_list(const DfsView *v, DfsEntry dir, DfsLister *l, GError **error)
{
    guint node = DFS_ENTRY_NODE(dir), frames = dfs_instance_frames(v, node);
    gboolean png = dfs_instance_shows_png(v, node);
    for (guint f = (guint)(l->from / 2); f < frames && !l->stopped; f++) {
        char name[32];
        frame_name(f, frames, "png", name);
        if (png)
            dfs_lister_emit(l, 2 * (guint64)f, name, DFS_ENTRY_MAKE(DFS_KIND_FRAME_PNG, node, f),
                            FALSE);
        frame_name(f, frames, "raw", name);
        dfs_lister_emit(l, 2 * (guint64)f + 1, name, DFS_ENTRY_MAKE(DFS_KIND_FRAME_RAW, node, f),
                        FALSE);
    }
    return TRUE;
}

const DfsKind dfs_kind_frames = {
    .flags = DFS_KIND_DIR,
    .lookup = frames_lookup,
    .list = frames_list,
    .name = "frames",
    .levels = DFS_LEVEL_MASK(DFS_LEVEL_INSTANCE),
    .shown = several_frames,
};

/* --- frames/NNNN.png, frames/NNNN.raw ------------------------------------------ */

static gboolean raw_size(const DfsView *v, DfsEntry e, guint64 *size, GError **error)
{
    return dfs_instance_raw_size(v, DFS_ENTRY_NODE(e), DFS_ENTRY_SUB(e), 1, size, error);
}

static gboolean raw_render(const DfsView *v, DfsEntry e, GString *out, GError **error)
{
    return dfs_instance_render_raw(v, DFS_ENTRY_NODE(e), DFS_ENTRY_SUB(e), 1, out, error);
}

static gboolean raw_range(const DfsView *v, DfsEntry e, guint64 *offset, guint64 *length)
{
    if (dfs_instance_frame_alone(v, DFS_ENTRY_NODE(e), DFS_ENTRY_SUB(e)))
        return FALSE;
    return dfs_instance_raw_slice(v, DFS_ENTRY_NODE(e), DFS_ENTRY_SUB(e), 1, offset, length);
}

const DfsKind dfs_kind_frame_png = {
    .error_name = "frames",
    .size = dfs_instance_png_size,
    .render = dfs_instance_render_png,
};

const DfsKind dfs_kind_frame_raw = {
    .error_name = "frames",
    .size = raw_size,
    .render = raw_render,
    .source_range = raw_range,
};
