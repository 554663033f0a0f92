/* dicomfs core: the instance behind the kinds.  See instance.h. */
#include "tree/instance.h"

#include "base/cache.h"
#include "base/error.h"
#include "catalog/scan.h"
#include "dicom/reader.h"
#include "dicom/tags.h"
#include "pixels/decode.h"
#include "pixels/display.h"
#include "pixels/png.h"
#include "tree/tree-private.h"

/* Does the file go on after a Pixel Data of defined length?  (With
 * encapsulated Pixel Data the header-only read cannot tell, and it is not
 * read whole for that.) */
static gboolean has_trailing_elements(const DfsDataset *ds, guint64 file_size)
{
    guint px = dfs_dataset_pixel_data(ds);
    if (px == DFS_NO_INDEX)
        return FALSE;
    const DfsElement *e = dfs_dataset_element(ds, px);
    return e->length != DFS_UNDEFINED_LENGTH && e->offset + e->length + 8 <= file_size;
}

/* The dataset cache's keys of an instance's datasets: its file read
 * header-only (the node) or whole (KEY_FULL), from the instance's bytes
 * or (KEY_HEADER_COPY) from a remote source's header copy, whose Pixel
 * Data value is not there: its attributes only. */
#define KEY_FULL (G_GUINT64_CONSTANT(1) << 63)
#define KEY_HEADER_COPY (G_GUINT64_CONSTANT(1) << 62)

/* What a dataset is read for: attributes (a header copy serves), or
 * pixels (the instance's own bytes). */
typedef enum { FOR_ATTRIBUTES, FOR_PIXELS } ReadFor;

static DfsDataset *read_cached(const DfsView *v, guint node, DfsReadFlags flags, ReadFor use,
                               GError **error);

/* The scan's line in errors.tsv covers damage before Pixel Data; damage a
 * whole read meets in or after it gets its own line. */
static void note_late_damage(const DfsView *v, guint node, const DfsDataset *full)
{
    guint64 at, header_at;
    if (dfs_dataset_damage(full, &at) == NULL)
        return;
    g_autoptr(DfsDataset) header = read_cached(v, node, DFS_READ_HEADER_ONLY, FOR_ATTRIBUTES, NULL);
    if (header != NULL && dfs_dataset_damage(header, &header_at) != NULL && header_at == at)
        return;
    g_autofree char *line = dfs_scan_damage(full);
    dfs_view_note_damage(v, node, line);
}

/* Node's file read header-only (cached by the node's number) or whole
 * (by node | KEY_FULL: the frames of one file are read one after
 * another); for attributes, from the source's header copy where it has
 * one (by node | KEY_HEADER_COPY). */
static DfsDataset *read_cached(const DfsView *v, guint node, DfsReadFlags flags, ReadFor use,
                               GError **error)
{
    guint64 key = node | (flags == DFS_READ_FULL ? KEY_FULL : 0);
    gboolean copy_serves = use == FOR_ATTRIBUTES;
    DfsCache *cache = dfs_tree_datasets(v->tree);
    DfsDataset *ds = dfs_cache_get(cache, key);
    if (ds == NULL && copy_serves)
        ds = dfs_cache_get(cache, key | KEY_HEADER_COPY);
    if (ds != NULL)
        return ds;
    gboolean whole = TRUE;
    g_autofree char *path = copy_serves ? dfs_view_header_path(v, node, &whole, error)
                                        : dfs_view_path(v, node, error);
    ds = path != NULL ? dfs_read_file(path, flags, error) : NULL;
    if (ds == NULL)
        return NULL;
    if (!whole)
        key |= KEY_HEADER_COPY;
    if (flags == DFS_READ_FULL)
        note_late_damage(v, node, ds);
    /* Read whole for the elements after a native Pixel Data: the value
     * goes, so that the attributes stay cached whatever its size (else
     * every attribute file of a 1 GB instance would read 1 GB again). */
    if (flags == DFS_READ_FULL && use == FOR_ATTRIBUTES)
        dfs_dataset_drop_pixel_value(ds);
    DfsDataset *cached = dfs_cache_put(cache, key, ds, dfs_dataset_memory(ds) + DFS_CACHE_ENTRY_COST);
    dfs_dataset_free(ds);
    return cached;
}

/* The first instance at or below node. */
static guint instance_of(const DfsView *v, guint node, GError **error)
{
    guint inst = dfs_index_first_instance(v->idx, node);
    if (inst == DFS_NO_INDEX)
        dfs_view_not_found(error, "instance");
    return inst;
}

DfsDataset *dfs_instance_header(const DfsView *v, guint node, GError **error)
{
    guint inst = instance_of(v, node, error);
    return inst == DFS_NO_INDEX ? NULL
                                : read_cached(v, inst, DFS_READ_HEADER_ONLY, FOR_ATTRIBUTES, error);
}

DfsDataset *dfs_instance_dataset(const DfsView *v, guint node, GError **error)
{
    guint inst = instance_of(v, node, error);
    if (inst == DFS_NO_INDEX)
        return NULL;
    DfsDataset *ds = read_cached(v, inst, DFS_READ_HEADER_ONLY, FOR_ATTRIBUTES, error);
    if (ds == NULL || !has_trailing_elements(ds, dfs_view_instance_size(v, inst)))
        return ds;
    /* Elements after Pixel Data (padding, signatures) belong in tags/ and
     * the header too: this file is read whole. */
    DfsDataset *full = read_cached(v, inst, DFS_READ_FULL, FOR_ATTRIBUTES, NULL);
    if (full == NULL)
        return ds;
    dfs_dataset_free(ds);
    return full;
}

DfsDataset *dfs_instance_pixel_dataset(const DfsView *v, guint node, GError **error)
{
    guint inst = instance_of(v, node, error);
    if (inst == DFS_NO_INDEX)
        return NULL;
    node = inst;
    /* Native pixels are read through the header's dataset: the
     * instance's own bytes, not a header copy. */
    DfsDataset *ds = read_cached(v, node, DFS_READ_HEADER_ONLY, FOR_PIXELS, error);
    if (ds == NULL)
        return NULL;
    DfsImage img;
    const char *ts = dfs_dataset_transfer_syntax(ds);
    gboolean by_offset = dfs_image_describe(ds, &img, NULL) && img.codec == DFS_CODEC_NATIVE &&
                         !(dfs_dataset_element(ds, img.pixel_index)->flags & DFS_ELEM_ENCAPSULATED) &&
                         !g_str_equal(ts, DFS_UID_DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN) &&
                         !g_str_equal(ts, DFS_UID_JPIP_REFERENCED_DEFLATE);
    if (by_offset)
        return ds;
    dfs_dataset_free(ds);
    DfsDataset *full = read_cached(v, node, DFS_READ_FULL, FOR_PIXELS, error);
    g_autofree char *damage = full != NULL ? dfs_dataset_damage_text(full) : NULL;
    if (damage != NULL && dfs_dataset_pixel_data(full) == DFS_NO_INDEX) {
        /* Encapsulated Pixel Data is only read whole here, so its damage
         * shows only now: the pixel files were listed, and fail. */
        g_set_error_literal(error, DFS_ERROR, DFS_ERROR_MALFORMED, damage);
        g_clear_pointer(&full, dfs_dataset_free);
    }
    return full;
}

gboolean dfs_instance_image(const DfsView *v, guint node, DfsImage *img, GError **error)
{
    DfsDataset *ds = dfs_instance_header(v, node, error);
    if (ds == NULL)
        return FALSE;
    gboolean ok = dfs_image_describe(ds, img, error);
    dfs_dataset_free(ds);
    return ok;
}

gboolean dfs_instance_declared_image(const DfsView *v, guint node, DfsImage *img,
                                     GError **error)
{
    g_autoptr(GError) why = NULL;
    if (dfs_instance_image(v, node, img, &why))
        return TRUE;
    if (g_error_matches(why, DFS_ERROR, DFS_ERROR_LIMIT))
        return TRUE;
    g_propagate_error(error, g_steal_pointer(&why));
    return FALSE;
}

/* 0 without Pixel Data, else the number of frames (1 if undescribable);
 * *is_float for Float / Double Float Pixel Data. */
static guint pixels_of(const DfsDataset *ds, gboolean *is_float)
{
    *is_float = FALSE;
    guint frames = 0;
    if (dfs_dataset_pixel_data(ds) != DFS_NO_INDEX ||
        dfs_dataset_find(ds, DFS_ROOT, DFS_TAG_FLOAT_PIXEL_DATA) != DFS_NO_INDEX ||
        dfs_dataset_find(ds, DFS_ROOT, DFS_TAG_DOUBLE_FLOAT_PIXEL_DATA) != DFS_NO_INDEX) {
        DfsImage img;
        gboolean ok = dfs_image_describe(ds, &img, NULL);
        /* Pixel files appear for every syntax with a decoder (and video). */
        frames = !ok ? 1 : dfs_codec_supported(img.codec) ? img.frames : 0;
        *is_float = ok && img.is_float;
    }
    return frames;
}

static guint instance_pixels(const DfsView *v, guint node, gboolean *is_float)
{
    *is_float = FALSE;
    DfsDataset *ds = dfs_instance_header(v, node, NULL);
    if (ds == NULL)
        return 0;
    guint frames = pixels_of(ds, is_float);
    dfs_dataset_free(ds);
    return frames;
}

guint dfs_instance_frames_of(const DfsDataset *ds)
{
    gboolean is_float;
    return pixels_of(ds, &is_float);
}

DfsDataset *dfs_instance_header_once(const DfsView *v, guint node, GError **error)
{
    guint inst = instance_of(v, node, error);
    if (inst == DFS_NO_INDEX)
        return NULL;
    DfsCache *cache = dfs_tree_datasets(v->tree);
    DfsDataset *ds = dfs_cache_get(cache, inst);
    if (ds == NULL)
        ds = dfs_cache_get(cache, inst | KEY_HEADER_COPY);
    if (ds != NULL)
        return ds;
    gboolean whole;
    g_autofree char *path = dfs_view_header_path(v, inst, &whole, error);
    return path != NULL ? dfs_read_file(path, DFS_READ_HEADER_ONLY, error) : NULL;
}

guint dfs_instance_frames(const DfsView *v, guint node)
{
    gboolean is_float;
    return instance_pixels(v, node, &is_float);
}

gboolean dfs_instance_shows_png(const DfsView *v, guint node)
{
    gboolean is_float;
    return instance_pixels(v, node, &is_float) > 0 && !is_float;
}

guint dfs_instance_png_channels(const DfsImage *img)
{
    return img->samples == 1 && !g_str_equal(img->decoded_photometric, "PALETTE COLOR") ? 1 : 3;
}

gboolean dfs_instance_raw_slice_of(const DfsView *v, guint node, const DfsDataset *ds,
                                   guint first, guint count, guint64 *offset, guint64 *length)
{
    DfsImage img;
    if (ds == NULL || !dfs_image_describe(ds, &img, NULL) || img.codec != DFS_CODEC_NATIVE)
        return FALSE;
    const DfsElement *px = dfs_dataset_element(ds, img.pixel_index);
    const char *ts = dfs_dataset_transfer_syntax(ds);
    gsize fb = dfs_image_frame_bytes(&img);
    gboolean slice = !(px->flags & (DFS_ELEM_ENCAPSULATED | DFS_ELEM_BIG_ENDIAN)) &&
                     !g_str_equal(ts, DFS_UID_DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN) &&
                     img.bits_allocated >= 8 &&
                     (img.bits_stored == img.bits_allocated || img.is_float) &&
                     (img.samples == 1 || img.planar == 0) &&
                     g_str_equal(img.photometric, img.decoded_photometric) &&
                     (guint64)fb * img.frames <= px->length &&
                     px->offset + px->length <= dfs_view_instance_size(v, node);
    if (!slice || first >= img.frames)
        return FALSE;
    if (count == 0 || count > img.frames - first)
        count = img.frames - first;
    *offset = px->offset + (guint64)fb * first;
    *length = (guint64)fb * count;
    return TRUE;
}

gboolean dfs_instance_raw_slice(const DfsView *v, guint node, guint first, guint count,
                                guint64 *offset, guint64 *length)
{
    g_autoptr(DfsDataset) ds = dfs_instance_header(v, node, NULL);
    return dfs_instance_raw_slice_of(v, node, ds, first, count, offset, length);
}

/* --- pixel files ----------------------------------------------------------------- */

/* The header (caller frees) and image of instance node where its frame
 * `frame` is fetched alone: the source would rather fetch one frame than
 * the whole instance (a remote multi-frame instance known by its header
 * copy: sources/webframes.h), and the frame can be decoded from its
 * stored bytes alone; else NULL. */
static DfsDataset *alone_header(const DfsView *v, guint node, guint frame, DfsImage *img)
{
    if (!dfs_view_frame_alone(v, node))
        return NULL;
    DfsDataset *ds = dfs_instance_header(v, node, NULL);
    if (ds != NULL && dfs_image_describe(ds, img, NULL) && img->frames >= 2 &&
        frame < img->frames && dfs_image_frame_alone(ds, img))
        return ds;
    dfs_dataset_free(ds);
    return NULL;
}

gboolean dfs_instance_frame_alone(const DfsView *v, guint node, guint frame)
{
    DfsImage img;
    g_autoptr(DfsDataset) ds = alone_header(v, node, frame, &img);
    return ds != NULL;
}

/* Frame `frame` of instance node from its stored bytes fetched alone
 * (alone_header): DONE with its header in *header and its stored values
 * in *pixels (caller frees both); NOT_ALONE where that does not apply or
 * the server refused the frame (the whole instance serves); FAILED with
 * an error. */
typedef enum { NOT_ALONE, DONE, FAILED } Alone;

static Alone decode_alone(const DfsView *v, guint node, guint frame, DfsDataset **header,
                          DfsImage *img, guint8 **pixels, GError **error)
{
    g_autoptr(DfsDataset) ds = alone_header(v, node, frame, img);
    if (ds == NULL)
        return NOT_ALONE;
    /* Encoded frames are at most a little larger than their values. */
    gsize decoded = dfs_image_frame_bytes(img);
    g_autoptr(GError) why = NULL;
    g_autoptr(GBytes) bytes = dfs_view_fetch_frame(v, node, frame, dfs_dataset_transfer_syntax(ds),
                                                   2 * decoded + 65536, &why);
    if (bytes == NULL && g_error_matches(why, DFS_ERROR, DFS_ERROR_UNSUPPORTED))
        return NOT_ALONE; /* refused: the whole instance serves */
    if (bytes == NULL) {
        g_propagate_error(error, g_steal_pointer(&why));
        return FAILED;
    }
    gsize len;
    const guint8 *data = g_bytes_get_data(bytes, &len);
    g_autofree guint8 *out = g_malloc(decoded);
    if (!dfs_image_decode_stored(ds, img, data, len, out, error))
        return FAILED;
    *pixels = g_steal_pointer(&out);
    *header = g_steal_pointer(&ds);
    return DONE;
}

gboolean dfs_instance_raw_size(const DfsView *v, guint node, guint first, guint count,
                               guint64 *size, GError **error)
{
    DfsImage img;
    if (!dfs_instance_declared_image(v, node, &img, error))
        return FALSE;
    guint n = count ? count : first < img.frames ? img.frames - first : 0;
    *size = (guint64)dfs_image_frame_bytes(&img) * n;
    return TRUE;
}

gboolean dfs_instance_png_size(const DfsView *v, DfsEntry e, guint64 *size, GError **error)
{
    DfsImage img;
    if (!dfs_instance_image(v, DFS_ENTRY_NODE(e), &img, error))
        return FALSE;
    *size = dfs_png_size(img.columns, img.rows, dfs_instance_png_channels(&img));
    return *size > 0 || (g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "PNG failed"), FALSE);
}

gboolean dfs_instance_render_raw(const DfsView *v, guint node, guint first, guint count,
                                 GString *out, GError **error)
{
    DfsImage img;
    g_autoptr(DfsDataset) header = NULL;
    g_autofree guint8 *frame = NULL;
    Alone alone = count == 1 ? decode_alone(v, node, first, &header, &img, &frame, error) : NOT_ALONE;
    if (alone != NOT_ALONE) {
        if (alone == DONE)
            g_string_append_len(out, (const char *)frame, (gssize)dfs_image_frame_bytes(&img));
        return alone == DONE;
    }
    g_autoptr(DfsDataset) ds = dfs_instance_pixel_dataset(v, node, error);
    if (ds == NULL || !dfs_image_describe(ds, &img, error))
        return FALSE;
    guint last = count ? first + count : MAX(first, img.frames);
    gsize fb = dfs_image_frame_bytes(&img);
    g_string_set_size(out, fb * (last - first));
    for (guint f = first; f < last; f++)
        if (!dfs_image_decode(ds, &img, f, (guint8 *)out->str + fb * (f - first), error))
            return FALSE;
    return TRUE;
}

gboolean dfs_instance_render_png(const DfsView *v, DfsEntry e, GString *out, GError **error)
{
    guint frame = DFS_ENTRY_SUB(e);
    DfsImage img;
    g_autoptr(DfsDataset) ds = NULL;
    g_autofree guint8 *pixels = NULL;
    Alone alone = decode_alone(v, DFS_ENTRY_NODE(e), frame, &ds, &img, &pixels, error);
    if (alone == FAILED)
        return FALSE;
    if (alone == NOT_ALONE) {
        ds = dfs_instance_pixel_dataset(v, DFS_ENTRY_NODE(e), error);
        if (ds == NULL || !dfs_image_describe(ds, &img, error))
            return FALSE;
        pixels = g_malloc(dfs_image_frame_bytes(&img));
        if (!dfs_image_decode(ds, &img, frame, pixels, error))
            return FALSE;
    }
    DfsDisplay d = {0};
    gboolean ok = dfs_display_render(ds, &img, pixels, &d, error);
    g_autoptr(GBytes) png = ok ? dfs_png_encode(&d, error) : NULL;
    dfs_display_clear(&d);
    if (png == NULL)
        return FALSE;
    g_string_append_len(out, g_bytes_get_data(png, NULL), (gssize)g_bytes_get_size(png));
    return TRUE;
}
