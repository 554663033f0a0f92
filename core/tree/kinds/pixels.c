/* dicomfs core: an instance's pixel files: image.png (the first frame as a
 * viewer shows it), pixels.raw (every frame as stored values) and
 * pixels.txt (pixels.raw's dtype and shape).
 *
 * Sizes come from the header alone (ls -l decodes nothing); contents decode
 * the instance's frames once and are kept in the content cache.  pixels.raw
 * of native pixel data whose stored values are its bytes is a slice of the
 * source file, served from it.  Failures are lines in errors.tsv. */
#include "tree/kind.h"

#include "pixels/decode.h"
#include "tree/instance.h"

static gboolean has_pixels(const DfsView *v, guint node)
{
    return dfs_instance_frames(v, node) > 0;
}

/* --- image.png ------------------------------------------------------------- */

const DfsKind dfs_kind_image_png = {
    .error_name = "image.png",
    .size = dfs_instance_png_size,
    .render = dfs_instance_render_png,
    .name = "image.png",
    .levels = DFS_LEVEL_MASK(DFS_LEVEL_INSTANCE),
    .shown = dfs_instance_shows_png,
};

/* --- pixels.raw -------------------------------------------------------------- */

static gboolean raw_size(const DfsView *v, DfsEntry e, guint64 *size, GError **error)
{
    return dfs_instance_raw_size(v, DFS_ENTRY_NODE(e), 0, 0, size, error);
}

static gboolean raw_render(const DfsView *v, DfsEntry e, GString *out, GError **error)
{
    return dfs_instance_render_raw(v, DFS_ENTRY_NODE(e), 0, 0, out, error);
}

static gboolean raw_range(const DfsView *v, DfsEntry e, guint64 *offset, guint64 *length)
{
    return dfs_instance_raw_slice(v, DFS_ENTRY_NODE(e), 0, 0, offset, length);
}

const DfsKind dfs_kind_pixels_raw = {
    .error_name = "pixels.raw",
    .size = raw_size,
    .render = raw_render,
    .source_range = raw_range,
    .name = "pixels.raw",
    .levels = DFS_LEVEL_MASK(DFS_LEVEL_INSTANCE),
    .shown = has_pixels,
};

/* --- pixels.txt --------------------------------------------------------------- */

static gboolean txt_render(const DfsView *v, DfsEntry e, GString *out, GError **error)
{
    DfsImage img;
    if (!dfs_instance_image(v, DFS_ENTRY_NODE(e), &img, error))
        return FALSE;
    const char *dt = dfs_image_dtype(&img);
    guint sb = dfs_image_sample_bytes(&img);
    char code = img.is_float ? 'f' : img.is_signed ? 'i' : 'u';
    g_string_append_printf(out,
                           "dtype %s\nshape %u %u %u %u\nframes %u\nrows %u\ncolumns %u\n"
                           "samples_per_pixel %u\nphotometric %s\nbyteorder little\n"
                           "numpy numpy.fromfile(\"pixels.raw\", dtype=\"<%c%u\").reshape(%u, %u, %u, %u)\n",
                           dt, img.frames, img.rows, img.columns, img.samples, img.frames,
                           img.rows, img.columns, img.samples, img.decoded_photometric, code, sb,
                           img.frames, img.rows, img.columns, img.samples);
    return TRUE;
}

const DfsKind dfs_kind_pixels_txt = {
    .error_name = "pixels.txt",
    .render = txt_render,
    .name = "pixels.txt",
    .levels = DFS_LEVEL_MASK(DFS_LEVEL_INSTANCE),
    .shown = has_pixels,
};
