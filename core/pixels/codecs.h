/* dicomfs core (internal): the frame decoders, one frame's encoded bytes
 * to stored values (dfs_image_frame_bytes() bytes in out): ours (RLE,
 * rle.c) and the libraries' (codec-libs.c, codec-ijg.c).  They know the
 * image's description and the samples helpers, nothing above. */
#pragma once

#include "pixels/image.h"

G_BEGIN_DECLS

/* RLE Lossless (PS3.5 Annex G) of one frame into stored values. */
gboolean dfs_codec_rle(const DfsImage *img, const guint8 *data, gsize len, guint8 *out,
                       GError **error);

/* The library decoders (codec-libs.c): one frame's bytes to stored values. */
gboolean dfs_codec_jpeg(const DfsImage *img, const guint8 *data, gsize len, guint8 *out,
                        GError **error);
gboolean dfs_codec_jpegls(const DfsImage *img, const guint8 *data, gsize len, guint8 *out,
                          GError **error);
gboolean dfs_codec_j2k(const DfsImage *img, const guint8 *data, gsize len, guint8 *out,
                       GError **error);

/* 12-bit and lossless JPEG (codec-ijg.c, through libgdcmjpeg12/16). */
gboolean dfs_codec_ijg12(const DfsImage *img, const guint8 *data, gsize len, guint8 *out,
                         GError **error);
gboolean dfs_codec_ijg16(const DfsImage *img, const guint8 *data, gsize len, guint8 *out,
                         GError **error);

/* The color spaces for a 3-component lossy JPEG (values of J_COLOR_SPACE
 * passed as int, so both libjpeg builds share the rule). */
static inline void dfs_codec_jpeg_color(const DfsImage *img, gboolean marked,
                                        gboolean subsampled, int *in_space,
                                        int *out_space, int rgb, int ycbcr)
{
    if (img->samples != 3)
        return;
    /* Without a JFIF or Adobe marker the stream does not say its color
     * space, and the data set's RGB is believed (PS3.5 8.2.1) unless the
     * chroma is subsampled, which only YCbCr streams do. */
    if (!marked && !subsampled && g_str_equal(img->photometric, "RGB"))
        *in_space = rgb;
    /* YCbCr comes out as RGB, as DCMTK's dcmdjpeg gives it. */
    *out_space = *in_space == ycbcr ? rgb : *in_space;
}

G_END_DECLS
