/* dicomfs core: one frame as stored values.  See decode.h. */
#include "pixels/decode.h"

#include <string.h>

#include "base/error.h"
#include "dicom/tags.h"
#include "pixels/codec.h"
#include "pixels/samples.h"

static gboolean bad(GError **error, int code, const char *msg)
{
    g_set_error_literal(error, DFS_ERROR, code, msg);
    return FALSE;
}

/* --- native pixel data (PS3.5 8.1) ---------------------------------------- */

/* Native pixel data (not encapsulated) whose frames are read at their offsets. */
static gboolean is_native(const DfsDataset *ds, const DfsImage *img)
{
    const DfsElement *e = dfs_dataset_element(ds, img->pixel_index);
    return img->codec == DFS_CODEC_NATIVE && !(e->flags & DFS_ELEM_ENCAPSULATED) &&
           e->length != DFS_UNDEFINED_LENGTH;
}

/* Bits of one native frame as stored. */
static guint64 native_frame_bits(const DfsImage *img)
{
    gboolean sub = dfs_image_is_native_422(img);
    return (guint64)img->rows * img->columns * (sub ? 2 : img->samples) * img->bits_allocated;
}

static guint8 *expand_422(const DfsImage *img, const guint8 *raw)
{
    guint rb = img->bits_allocated / 8;
    gsize pairs = (gsize)img->rows * img->columns / 2;
    guint8 *full = g_malloc(pairs * 6 * rb);
    for (gsize k = 0; k < pairs; k++) {
        const guint8 *in = raw + k * 4 * rb;
        guint8 *o = full + k * 6 * rb;
        memcpy(o, in, rb);                   /* Y1 */
        memcpy(o + rb, in + 2 * rb, 2 * rb); /* Cb Cr */
        memcpy(o + 3 * rb, in + rb, rb);     /* Y2 */
        memcpy(o + 4 * rb, in + 2 * rb, 2 * rb);
    }
    return full;
}

static gboolean decode_native(const DfsDataset *ds, const DfsImage *img, guint frame,
                              guint8 *out, GError **error)
{
    const DfsElement *e = dfs_dataset_element(ds, img->pixel_index);
    gboolean sub = dfs_image_is_native_422(img);
    guint64 bits = native_frame_bits(img);
    guint64 start_bit = bits * frame;
    guint64 first = start_bit / 8, last = (start_bit + bits + 7) / 8;
    if (last > e->length)
        return bad(error, DFS_ERROR_TRUNCATED, "Pixel Data is shorter than its frames need");
    gboolean big = (e->flags & DFS_ELEM_BIG_ENDIAN) != 0;
    gsize vlen;
    const guint8 *value = dfs_dataset_value(ds, img->pixel_index, &vlen);
    if (value != NULL && !sub && !big) { /* loaded: decode in place, no copy */
        dfs_samples_unpack(img, value + first, FALSE, (guint)(start_bit % 8), out);
        return TRUE;
    }
    if (!big && !sub && start_bit % 8 == 0 && img->bits_allocated >= 8 &&
        (img->samples == 1 || img->planar == 0) && !img->is_float) {
        /* Read straight into the output and finish in place: stored values
         * are at most as wide as the raw samples here. */
        if (!dfs_dataset_read_stream(ds, e->offset + first, out, last - first, error))
            return FALSE;
        dfs_samples_unpack(img, out, FALSE, 0, out);
        return TRUE;
    }
    g_autofree guint8 *raw = g_malloc(last - first);
    if (!dfs_dataset_read_stream(ds, e->offset + first, raw, last - first, error))
        return FALSE;
    /* Big endian values are swapped in units of their VR (PS3.5 7.3): OW
     * in 16-bit words whatever Bits Allocated is (DCMTK and GDCM read 8-
     * and 32-bit samples in OW the same way), OF/OL in 32, OD/OV in 64, OB
     * not at all.  Swapping back gives the little endian layout. */
    guint unit = dfs_vr_unit_size(e->vr);
    if (big && unit > 1 && first % unit == 0)
        for (guint64 k = 0; k + unit <= last - first; k += unit)
            for (guint b = 0; b < unit / 2; b++) {
                guint8 t = raw[k + b];
                raw[k + b] = raw[k + unit - 1 - b];
                raw[k + unit - 1 - b] = t;
            }
    big = FALSE;
    if (sub) {
        g_autofree guint8 *full = expand_422(img, raw);
        dfs_samples_unpack(img, full, big, 0, out);
    } else {
        dfs_samples_unpack(img, raw, big, (guint)(start_bit % 8), out);
    }
    return TRUE;
}

gboolean dfs_image_frame_alone(const DfsDataset *ds, const DfsImage *img)
{
    const char *ts = dfs_dataset_transfer_syntax(ds);
    if (img->codec == DFS_CODEC_VIDEO || !dfs_codec_supported(img->codec) ||
        g_str_equal(ts, DFS_UID_DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN) ||
        g_str_equal(ts, DFS_UID_JPIP_REFERENCED_DEFLATE))
        return FALSE;
    if (!is_native(ds, img))
        return TRUE;
    const DfsElement *e = dfs_dataset_element(ds, img->pixel_index);
    return !(e->flags & DFS_ELEM_BIG_ENDIAN) && native_frame_bits(img) % 8 == 0;
}

gboolean dfs_image_decode_stored(const DfsDataset *ds, const DfsImage *img, const guint8 *data,
                                 gsize len, guint8 *out, GError **error)
{
    if (!is_native(ds, img))
        return dfs_codec_decode_bytes(img, data, len, out, error);
    if (len < native_frame_bits(img) / 8)
        return bad(error, DFS_ERROR_TRUNCATED, "frame shorter than the image");
    if (dfs_image_is_native_422(img)) {
        g_autofree guint8 *full = expand_422(img, data);
        dfs_samples_unpack(img, full, FALSE, 0, out);
    } else {
        dfs_samples_unpack(img, data, FALSE, 0, out);
    }
    return TRUE;
}

gboolean dfs_image_decode(const DfsDataset *ds, const DfsImage *img, guint frame, guint8 *out,
                          GError **error)
{
    if (frame >= img->frames)
        return bad(error, DFS_ERROR_NOT_FOUND, "no such frame");
    /* Undefined length means fragments, even where a header-only read
     * stopped before them (and so did not mark the element encapsulated). */
    if (is_native(ds, img))
        return decode_native(ds, img, frame, out, error);
    return dfs_codec_decode(ds, img, frame, out, error);
}

gboolean dfs_codec_supported(DfsCodec codec)
{
    /* Video is "supported" in that its pixel files exist and say clearly,
     * with EIO and a line in errors.tsv, that video is not decoded. */
    return codec != DFS_CODEC_UNKNOWN;
}
