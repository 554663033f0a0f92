/* dicomfs core: the description of pixel data.  See image.h. */
#include "pixels/image.h"

#include <string.h>

#include "base/error.h"
#include "dicom/limits.h"
#include "dicom/tags.h"

DfsCodec dfs_codec_for(const char *ts)
{
    static const struct {
        const char *prefix;
        DfsCodec codec;
    } table[] = {
        {"1.2.840.10008.1.2.5", DFS_CODEC_RLE},
        {"1.2.840.10008.1.2.4.8", DFS_CODEC_JPEG_LS},  /* .80 .81 */
        {"1.2.840.10008.1.2.4.9", DFS_CODEC_J2K},      /* .90-.93 (.94/.95: JPIP, below) */
        {"1.2.840.10008.1.2.4.20", DFS_CODEC_J2K},     /* .201-.203 High-Throughput */
        {"1.2.840.10008.1.2.4.10", DFS_CODEC_VIDEO},   /* .100-.108 MPEG-2/4, HEVC */
        {"1.2.840.10008.1.2.4.5", DFS_CODEC_JPEG},     /* .50-.59 */
        {"1.2.840.10008.1.2.4.6", DFS_CODEC_JPEG},     /* .60-.66 */
        {"1.2.840.10008.1.2.4.70", DFS_CODEC_JPEG},
    };
    if (g_str_equal(ts, "1.2.840.10008.1.2.4.94") || g_str_equal(ts, "1.2.840.10008.1.2.4.95"))
        return DFS_CODEC_UNKNOWN; /* JPIP: the pixels are elsewhere */
    for (guint k = 0; k < G_N_ELEMENTS(table); k++)
        if (g_str_has_prefix(ts, table[k].prefix) &&
            (strlen(ts) <= strlen(table[k].prefix) + 1))
            return table[k].codec;
    if (g_str_has_prefix(ts, "1.2.840.10008.1.2.4.") || g_str_has_prefix(ts, "1.2.840.10008.1.2.6"))
        return DFS_CODEC_UNKNOWN;
    return DFS_CODEC_NATIVE;
}

static gboolean bad(GError **error, int code, const char *msg)
{
    g_set_error_literal(error, DFS_ERROR, code, msg);
    return FALSE;
}

static guint get_uint(const DfsDataset *ds, guint32 tag, guint fallback)
{
    gint64 v;
    return dfs_dataset_get_int(ds, DFS_ROOT, tag, 0, &v) && v >= 0 && v <= G_MAXUINT32 ? (guint)v
                                                                                       : fallback;
}

static gboolean find_pixels(const DfsDataset *ds, DfsImage *img)
{
    static const guint32 tags[] = {DFS_TAG_PIXEL_DATA, DFS_TAG_FLOAT_PIXEL_DATA,
                                   DFS_TAG_DOUBLE_FLOAT_PIXEL_DATA};
    for (guint k = 0; k < G_N_ELEMENTS(tags); k++) {
        img->pixel_index = dfs_dataset_find(ds, DFS_ROOT, tags[k]);
        if (img->pixel_index != DFS_NO_INDEX) {
            img->is_float = k > 0;
            return TRUE;
        }
    }
    return FALSE;
}

/* PS3.3 C.7.6.3.1: the attributes must describe a possible image, and the
 * image must fit the limits before anything is allocated for it. */
static gboolean check(const DfsImage *img, GError **error)
{
    guint ba = img->bits_allocated;
    if (img->rows == 0 || img->columns == 0 || img->samples == 0 || img->frames == 0)
        return bad(error, DFS_ERROR_MALFORMED, "image with no rows, columns, samples or frames");
    if (!(ba == 1 || ba == 8 || ba == 16 || ba == 32 || ba == 64))
        return bad(error, DFS_ERROR_UNSUPPORTED, "Bits Allocated is not 1, 8, 16, 32 or 64");
    if (img->bits_stored == 0 || img->bits_stored > ba || img->high_bit >= ba ||
        img->high_bit + 1 < img->bits_stored)
        return bad(error, DFS_ERROR_MALFORMED, "Bits Stored / High Bit do not fit Bits Allocated");
    if (img->samples != 1 && img->samples != 3 && img->samples != 4)
        return bad(error, DFS_ERROR_UNSUPPORTED, "Samples per Pixel is not 1, 3 or 4");
    if ((guint64)img->rows * img->columns > DFS_LIMIT_IMAGE_PIXELS)
        return bad(error, DFS_ERROR_LIMIT, "image larger than the rows x columns limit");
    if (img->frames > DFS_LIMIT_FRAMES)
        return bad(error, DFS_ERROR_LIMIT, "more frames than the frame limit");
    if ((guint64)dfs_image_frame_bytes(img) > DFS_LIMIT_FRAME_BYTES)
        return bad(error, DFS_ERROR_LIMIT, "decoded frame larger than the frame size limit");
    return TRUE;
}

/* Which color space the decoders give (PS3.5 8.2: lossy JPEG decoders
 * convert YCbCr to RGB; JPEG 2000 undoes its component transform, ICT or
 * RCT; native YBR_FULL_422 is expanded to YBR_FULL). */
static void set_decoded_photometric(DfsImage *img, const char *ts)
{
    const char *pi = img->photometric;
    gboolean ybr = g_str_has_prefix(pi, "YBR");
    gboolean jpeg_lossless = g_str_equal(ts, "1.2.840.10008.1.2.4.57") ||
                             g_str_equal(ts, "1.2.840.10008.1.2.4.70");
    if (img->samples == 3 && ybr && img->codec == DFS_CODEC_JPEG && !jpeg_lossless)
        pi = "RGB";
    else if (img->samples == 3 && img->codec == DFS_CODEC_J2K &&
             (g_str_equal(pi, "YBR_ICT") || g_str_equal(pi, "YBR_RCT")))
        pi = "RGB";
    else if (img->codec == DFS_CODEC_NATIVE && dfs_image_is_native_422(img))
        pi = "YBR_FULL";
    g_strlcpy(img->decoded_photometric, pi, sizeof img->decoded_photometric);
}

gboolean dfs_image_describe(const DfsDataset *ds, DfsImage *img, GError **error)
{
    memset(img, 0, sizeof *img);
    if (!find_pixels(ds, img))
        return bad(error, DFS_ERROR_NOT_FOUND, "no Pixel Data");
    img->rows = get_uint(ds, DFS_TAG_ROWS, 0);
    img->columns = get_uint(ds, DFS_TAG_COLUMNS, 0);
    img->samples = get_uint(ds, DFS_TAG_SAMPLES_PER_PIXEL, 1);
    img->frames = get_uint(ds, DFS_TAG_NUMBER_OF_FRAMES, 1);
    img->bits_allocated = get_uint(ds, DFS_TAG_BITS_ALLOCATED, img->is_float ? 32 : 0);
    if (dfs_dataset_element(ds, img->pixel_index)->tag == DFS_TAG_DOUBLE_FLOAT_PIXEL_DATA)
        img->bits_allocated = 64;
    img->bits_stored = get_uint(ds, DFS_TAG_BITS_STORED, img->bits_allocated);
    img->high_bit = get_uint(ds, DFS_TAG_HIGH_BIT, img->bits_stored - 1);
    img->is_signed = get_uint(ds, DFS_TAG_PIXEL_REPRESENTATION, 0) == 1;
    img->planar = get_uint(ds, DFS_TAG_PLANAR_CONFIGURATION, 0);
    g_autofree char *pi = dfs_dataset_get_string(ds, DFS_ROOT, DFS_TAG_PHOTOMETRIC_INTERPRETATION);
    g_strlcpy(img->photometric, pi ? pi : (img->samples == 1 ? "MONOCHROME2" : "RGB"),
              sizeof img->photometric);
    img->codec = dfs_codec_for(dfs_dataset_transfer_syntax(ds));
    if (img->is_float)
        img->codec = DFS_CODEC_NATIVE;
    set_decoded_photometric(img, dfs_dataset_transfer_syntax(ds));
    return check(img, error);
}

guint dfs_image_sample_bytes(const DfsImage *img)
{
    return img->bits_allocated <= 8 ? 1 : img->bits_allocated / 8;
}

gsize dfs_image_frame_bytes(const DfsImage *img)
{
    /* Each factor is bounded by check(): no overflow on 64-bit sizes. */
    return (gsize)img->rows * img->columns * img->samples * dfs_image_sample_bytes(img);
}

const char *dfs_image_dtype(const DfsImage *img)
{
    if (img->is_float)
        return img->bits_allocated == 64 ? "float64" : "float32";
    static const char *const u[] = {"uint8", "uint16", "uint32", "uint64"};
    static const char *const s[] = {"int8", "int16", "int32", "int64"};
    guint b = dfs_image_sample_bytes(img);
    guint k = b == 1 ? 0 : b == 2 ? 1 : b == 4 ? 2 : 3;
    return img->is_signed ? s[k] : u[k];
}

/* Native YBR_FULL_422 holds two pixels in four samples, Y Y Cb Cr (PS3.3
 * C.7.6.3.1.2): the chroma is repeated for both, giving three per pixel. */
gboolean dfs_image_is_native_422(const DfsImage *img)
{
    return g_str_equal(img->photometric, "YBR_FULL_422") && img->samples == 3 &&
           img->planar == 0 && img->bits_allocated >= 8 && img->columns % 2 == 0;
}
