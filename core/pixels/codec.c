/* dicomfs core: encapsulated pixel data.  See codec.h. */
#include "pixels/codec.h"

#include <string.h>

#include "base/error.h"
#include "pixels/codecs.h"
#include "pixels/samples.h"
#include "dicom/tags.h"
#include "dicom/value.h"

static gboolean bad(GError **error, int code, const char *msg)
{
    g_set_error_literal(error, DFS_ERROR, code, msg);
    return FALSE;
}

/* Append fragments [first, last) (indices among data fragments). */
static gboolean append_fragments(const DfsDataset *ds, guint first, guint last, GByteArray *out,
                                 GError **error)
{
    guint n;
    const DfsFragment *fr = dfs_dataset_fragments(ds, &n);
    for (guint k = first; k < last; k++) {
        const DfsFragment *f = &fr[k + 1];
        gsize at = out->len;
        g_byte_array_set_size(out, at + f->length);
        if (!dfs_dataset_read_stream(ds, f->offset, out->data + at, f->length, error))
            return FALSE;
    }
    return TRUE;
}

/* The data fragment whose item starts `rel` bytes after the first one's
 * (offset tables count from the first item's tag, PS3.5 A.4). */
static guint fragment_at(const DfsDataset *ds, guint64 rel)
{
    guint n;
    const DfsFragment *fr = dfs_dataset_fragments(ds, &n);
    guint64 base = fr[1].offset - 8;
    for (guint k = 1; k < n; k++)
        if (fr[k].offset - 8 - base == rel)
            return k - 1;
    return G_MAXUINT;
}

/* Basic Offset Table entry k (PS3.5 A.4, 32-bit little endian). */
static gboolean bot_entry(const DfsDataset *ds, guint k, guint64 *out)
{
    guint n;
    const DfsFragment *fr = dfs_dataset_fragments(ds, &n);
    if ((guint64)k * 4 + 4 > fr[0].length)
        return FALSE;
    guint8 b[4];
    if (!dfs_dataset_read_stream(ds, fr[0].offset + (guint64)k * 4, b, 4, NULL))
        return FALSE;
    *out = (guint64)b[0] | (guint64)b[1] << 8 | (guint64)b[2] << 16 | (guint64)b[3] << 24;
    return TRUE;
}

/* Offset of frame k, from the Extended Offset Table (7FE0,0001) or the
 * Basic Offset Table; FALSE where neither says. */
static gboolean frame_offset(const DfsDataset *ds, guint k, guint64 *out)
{
    guint eot = dfs_dataset_find(ds, DFS_ROOT, DFS_TAG_EXTENDED_OFFSET_TABLE);
    guint64 v;
    if (eot != DFS_NO_INDEX && dfs_value_binary_uint(ds, eot, k, &v)) {
        *out = v;
        return TRUE;
    }
    return bot_entry(ds, k, out);
}

/* Does this fragment start a frame?  By the codec's first bytes: SOI for
 * JPEG and JPEG-LS, SOC+SIZ or the JP2 signature for JPEG 2000, an RLE
 * header with the image's segment count. */
static gboolean starts_frame(const DfsImage *img, const guint8 *b, gsize n)
{
    switch (img->codec) {
    case DFS_CODEC_JPEG:
    case DFS_CODEC_JPEG_LS:
        return n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF;
    case DFS_CODEC_J2K:
        return (n >= 4 && b[0] == 0xFF && b[1] == 0x4F && b[2] == 0xFF && b[3] == 0x51) ||
               (n >= 8 && memcmp(b + 4, "jP  ", 4) == 0);
    case DFS_CODEC_RLE:
        return n >= 64 && b[0] == img->samples * (img->bits_allocated / 8) && b[1] == 0 &&
               b[2] == 0 && b[3] == 0 && b[4] == 64;
    default:
        return FALSE;
    }
}

/* Without offset tables: fragments [*first, *last) of frame, found by the
 * frame starts; FALSE unless the starts count exactly the frames. */
static gboolean frame_by_starts(const DfsDataset *ds, const DfsImage *img, guint frame,
                                guint *first, guint *last)
{
    guint n, found = 0;
    const DfsFragment *fr = dfs_dataset_fragments(ds, &n);
    *first = *last = G_MAXUINT;
    for (guint k = 1; k < n; k++) {
        guint8 head[8] = {0};
        gsize len = MIN(fr[k].length, (guint32)sizeof head);
        if (!dfs_dataset_read_stream(ds, fr[k].offset, head, len, NULL))
            return FALSE;
        if (!starts_frame(img, head, len))
            continue;
        if (found == frame)
            *first = k - 1;
        else if (found == frame + 1)
            *last = k - 1;
        found++;
    }
    if (found != img->frames || *first == G_MAXUINT)
        return FALSE;
    if (*last == G_MAXUINT)
        *last = n - 1;
    return TRUE;
}

/* Several JPEG frames in one stream of fragments: frame k runs from its SOI
 * to the next frame's SOI (right after an EOI). */
static GBytes *split_jpeg(GBytes *all, guint frame, guint frames)
{
    gsize len;
    const guint8 *d = g_bytes_get_data(all, &len);
    gsize start = G_MAXSIZE, end = len;
    guint found = 0;
    for (gsize p = 0; p + 2 < len; p++) {
        gboolean soi = d[p] == 0xFF && d[p + 1] == 0xD8 && d[p + 2] == 0xFF &&
                       (p == 0 || (p >= 2 && d[p - 2] == 0xFF && d[p - 1] == 0xD9));
        if (!soi)
            continue;
        if (found == frame)
            start = p;
        else if (found == frame + 1)
            end = p;
        found++;
    }
    if (found != frames || start == G_MAXSIZE)
        return NULL;
    return g_bytes_new_from_bytes(all, start, end - start);
}

GBytes *dfs_codec_frame_bytes(const DfsDataset *ds, const DfsImage *img, guint frame,
                              GError **error)
{
    guint n;
    dfs_dataset_fragments(ds, &n);
    if (n < 2)
        return (void)bad(error, DFS_ERROR_MALFORMED, "encapsulated Pixel Data has no fragments"),
               NULL;
    guint data_frags = n - 1, first, last;
    guint64 off, next;
    if (frame_offset(ds, frame, &off)) {
        first = fragment_at(ds, off);
        last = frame + 1 < img->frames && frame_offset(ds, frame + 1, &next)
                   ? fragment_at(ds, next)
                   : data_frags;
        if (first == G_MAXUINT || last == G_MAXUINT || last <= first)
            return (void)bad(error, DFS_ERROR_MALFORMED, "offset table points between fragments"),
                   NULL;
    } else if (img->frames == 1) {
        first = 0, last = data_frags;
    } else if (data_frags == img->frames) {
        first = frame, last = frame + 1;
    } else if (!frame_by_starts(ds, img, frame, &first, &last)) {
        /* Fragments holding several frames: split the whole stream. */
        gboolean jpeg = img->codec == DFS_CODEC_JPEG || img->codec == DFS_CODEC_JPEG_LS;
        GByteArray *all = g_byte_array_new();
        GBytes *whole = NULL, *part = NULL;
        if (jpeg && append_fragments(ds, 0, data_frags, all, error)) {
            whole = g_byte_array_free_to_bytes(all);
            part = split_jpeg(whole, frame, img->frames);
            g_bytes_unref(whole);
        } else {
            g_byte_array_unref(all);
        }
        if (part == NULL && (error == NULL || *error == NULL))
            bad(error, DFS_ERROR_MALFORMED, "cannot tell where the frames start in the fragments");
        return part;
    }
    GByteArray *out = g_byte_array_new();
    if (!append_fragments(ds, first, last, out, error)) {
        g_byte_array_unref(out);
        return NULL;
    }
    return g_byte_array_free_to_bytes(out);
}

/* The SOF marker of a JPEG stream (ISO 10918-1 B.2.2): its type and sample
 * precision decide which library decodes it. */
static gboolean jpeg_sof(const guint8 *d, gsize len, guint *type, guint *precision)
{
    for (gsize i = 2; i + 4 < len;) {
        if (d[i] != 0xFF) {
            i++;
            continue;
        }
        guint m = d[i + 1];
        if (m == 0xFF || m == 0x01 || (m >= 0xD0 && m <= 0xD8)) {
            i += m == 0xFF ? 1 : 2;
            continue;
        }
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
            *type = m - 0xC0;
            *precision = i + 4 < len ? d[i + 4] : 0;
            return TRUE;
        }
        i += 2 + ((gsize)d[i + 2] << 8 | d[i + 3]);
    }
    return FALSE;
}

/* libjpeg-turbo for 8-bit DCT; the IJG builds for 12 bits and lossless. */
static gboolean decode_jpeg(const DfsImage *img, const guint8 *data, gsize len, guint8 *out,
                            GError **error)
{
    guint type = 0, precision = 8;
    if (!jpeg_sof(data, len, &type, &precision))
        return bad(error, DFS_ERROR_MALFORMED, "JPEG frame without a frame header");
    gboolean lossless = type == 3 || type == 7 || type == 11 || type == 15;
    if (lossless)
        return dfs_codec_ijg16(img, data, len, out, error);
    if (precision > 8)
        return dfs_codec_ijg12(img, data, len, out, error);
    return dfs_codec_jpeg(img, data, len, out, error);
}

gboolean dfs_codec_decode_bytes(const DfsImage *img, const guint8 *data, gsize len, guint8 *out,
                                GError **error)
{
    switch (img->codec) {
    case DFS_CODEC_RLE:
        return dfs_codec_rle(img, data, len, out, error);
    case DFS_CODEC_JPEG:
        return decode_jpeg(img, data, len, out, error);
    case DFS_CODEC_JPEG_LS:
        return dfs_codec_jpegls(img, data, len, out, error);
    case DFS_CODEC_J2K:
        return dfs_codec_j2k(img, data, len, out, error);
    case DFS_CODEC_NATIVE: /* Encapsulated Uncompressed Explicit VR LE */
        if (len < (gsize)img->rows * img->columns * img->samples * (img->bits_allocated / 8))
            return bad(error, DFS_ERROR_TRUNCATED, "frame shorter than the image");
        dfs_samples_unpack(img, data, FALSE, 0, out);
        return TRUE;
    case DFS_CODEC_VIDEO:
        return bad(error, DFS_ERROR_UNSUPPORTED, "video transfer syntaxes are not decoded");
    default:
        return bad(error, DFS_ERROR_UNSUPPORTED, "unknown transfer syntax: pixels not decoded");
    }
}

gboolean dfs_codec_decode(const DfsDataset *ds, const DfsImage *img, guint frame, guint8 *out,
                          GError **error)
{
    if (img->codec == DFS_CODEC_VIDEO)
        return bad(error, DFS_ERROR_UNSUPPORTED, "video transfer syntaxes are not decoded");
    g_autoptr(GBytes) bytes = dfs_codec_frame_bytes(ds, img, frame, error);
    if (bytes == NULL)
        return FALSE;
    gsize len;
    const guint8 *data = g_bytes_get_data(bytes, &len);
    return dfs_codec_decode_bytes(img, data, len, out, error);
}
