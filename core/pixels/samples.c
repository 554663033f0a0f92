/* dicomfs core: samples to stored values.  See samples.h. */
#include "pixels/samples.h"

#include <string.h>

/* Native pixel data (PS3.5 8.1) is laid out this way; the decoders give
 * samples of their own width, which finish() re-packs first. */

static guint64 load(const guint8 *p, guint n, gboolean big)
{
    guint64 v = 0;
    for (guint k = 0; k < n; k++)
        v |= (guint64)p[big ? n - 1 - k : k] << (8 * k);
    return v;
}

static void store(guint8 *p, guint64 v, guint n)
{
    for (guint k = 0; k < n; k++)
        p[k] = (guint8)(v >> (8 * k));
}

/* A raw sample to its stored value: Bits Stored out of Bits Allocated at
 * High Bit, sign-extended when signed (PS3.5 8.1.1). */
static guint64 stored_value(const DfsImage *img, guint64 raw)
{
    if (img->is_float || img->bits_stored == 64)
        return raw;
    guint shift = img->high_bit + 1 - img->bits_stored;
    guint64 mask = (G_GUINT64_CONSTANT(1) << img->bits_stored) - 1;
    guint64 v = (raw >> shift) & mask;
    if (img->is_signed && (v >> (img->bits_stored - 1)) & 1)
        v |= ~mask;
    return v;
}

/* Convert one frame of raw samples (layout per planar, byte order big) into
 * the output layout.  raw holds exactly the frame's stored bytes, or for
 * 1-bit images the frame's bits starting at bit_offset. */
/* The common cases, little endian and interleaved with whole-byte samples,
 * in tight loops: a copy when every bit is stored, else shift, mask and
 * sign-extend 16-bit samples (most CT and MR). */
static gboolean unpack_fast(const DfsImage *img, const guint8 *raw, gboolean big, guint8 *out)
{
    guint ba = img->bits_allocated;
    gsize n = (gsize)img->rows * img->columns * img->samples;
    if (big || img->is_float || (img->planar && img->samples > 1) || ba == 1 || ba == 64)
        return FALSE;
    if (img->bits_stored == ba) {
        if (out != raw)
            memmove(out, raw, n * (ba / 8));
        return TRUE;
    }
    if (ba != 16)
        return FALSE;
    guint shift = img->high_bit + 1 - img->bits_stored, bits = img->bits_stored;
    guint16 mask = (guint16)((1u << bits) - 1), sign = (guint16)(1u << (bits - 1));
    for (gsize k = 0; k < n; k++) {
        guint16 v = (guint16)((raw[2 * k] | raw[2 * k + 1] << 8) >> shift) & mask;
        if (img->is_signed && (v & sign))
            v |= (guint16)~mask;
        out[2 * k] = (guint8)v;
        out[2 * k + 1] = (guint8)(v >> 8);
    }
    return TRUE;
}

void dfs_samples_unpack(const DfsImage *img, const guint8 *raw, gboolean big, guint bit_offset,
                        guint8 *out)
{
    if (bit_offset == 0 && unpack_fast(img, raw, big, out))
        return;
    guint64 npix = (guint64)img->rows * img->columns;
    guint ns = img->samples, sb = dfs_image_sample_bytes(img);
    guint rb = img->bits_allocated / 8;
    for (guint64 p = 0; p < npix; p++) {
        for (guint s = 0; s < ns; s++) {
            guint64 i = img->planar ? s * npix + p : p * ns + s;
            guint64 raw_v;
            if (img->bits_allocated == 1) {
                guint64 bit = i + bit_offset;
                raw_v = (raw[bit / 8] >> (bit % 8)) & 1;
            } else {
                raw_v = load(raw + i * rb, rb, big);
            }
            store(out + (p * ns + s) * sb, stored_value(img, raw_v), sb);
        }
    }
}

/* Decoded samples (sb bytes each, little endian, planar or interleaved, of
 * the image's shape) to stored values in out. */
gboolean dfs_samples_finish(const DfsImage *img, const guint8 *samples, guint sb, gboolean planar,
                          guint8 *out)
{
    DfsImage raw_img = *img;
    raw_img.planar = planar ? 1 : 0;
    guint rb = img->bits_allocated / 8;
    gsize n = (gsize)img->rows * img->columns * img->samples;
    if (rb == sb) {
        dfs_samples_unpack(&raw_img, samples, FALSE, 0, out);
        return TRUE;
    }
    /* Re-pack to Bits Allocated (a decoder's width can differ from it). */
    g_autofree guint8 *raw = g_malloc0(n * rb);
    for (gsize k = 0; k < n; k++)
        memcpy(raw + k * rb, samples + k * sb, MIN(rb, sb));
    dfs_samples_unpack(&raw_img, raw, FALSE, 0, out);
    return TRUE;
}
