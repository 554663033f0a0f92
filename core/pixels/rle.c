/* dicomfs core: RLE Lossless (PS3.5 Annex G), ours: no library in Debian
 * decodes DICOM's RLE.  See codecs.h. */
#include "pixels/codecs.h"

#include <string.h>

#include "base/error.h"
#include "pixels/samples.h"

static gboolean bad(GError **error, int code, const char *msg)
{
    g_set_error_literal(error, DFS_ERROR, code, msg);
    return FALSE;
}

static guint32 le32(const guint8 *p)
{
    return (guint32)p[0] | (guint32)p[1] << 8 | (guint32)p[2] << 16 | (guint32)p[3] << 24;
}

/* One segment (PackBits, G.3.1) into exactly n bytes of out. */
static gboolean unpack_bits(const guint8 *in, gsize len, guint8 *out, gsize n)
{
    gsize i = 0, o = 0;
    while (o < n && i < len) {
        gint8 c = (gint8)in[i++];
        if (c >= 0) {
            gsize run = (gsize)c + 1;
            if (i + run > len || o + run > n)
                return FALSE;
            memcpy(out + o, in + i, run);
            i += run, o += run;
        } else if (c != -128) {
            gsize run = (gsize)(1 - c);
            if (i >= len || o + run > n)
                return FALSE;
            memset(out + o, in[i++], run);
            o += run;
        }
    }
    return o == n;
}

gboolean dfs_codec_rle(const DfsImage *img, const guint8 *data, gsize len, guint8 *out,
                       GError **error)
{
    guint rb = img->bits_allocated / 8;
    gsize npix = (gsize)img->rows * img->columns;
    guint nseg = img->samples * rb;
    if (img->bits_allocated < 8 || len < 64 || le32(data) != nseg || nseg > 15)
        return bad(error, DFS_ERROR_MALFORMED, "RLE header does not match the image");
    /* Segments are byte planes, most significant first per sample (G.2):
     * gather them into planar, little endian raw samples. */
    g_autofree guint8 *plane = g_malloc(npix);
    g_autofree guint8 *raw = g_malloc(npix * nseg);
    for (guint s = 0; s < nseg; s++) {
        guint32 start = le32(data + 4 + 4 * s);
        guint32 end = s + 1 < nseg ? le32(data + 8 + 4 * s) : (guint32)MIN(len, G_MAXUINT32);
        if (start < 64 || end > len || end < start ||
            !unpack_bits(data + start, end - start, plane, npix))
            return bad(error, DFS_ERROR_MALFORMED, "corrupt RLE segment");
        guint sample = s / rb, byte = rb - 1 - s % rb;
        for (gsize p = 0; p < npix; p++)
            raw[(sample * npix + p) * rb + byte] = plane[p];
    }
    DfsImage planar = *img;
    planar.planar = 1;
    dfs_samples_unpack(&planar, raw, FALSE, 0, out);
    return TRUE;
}
