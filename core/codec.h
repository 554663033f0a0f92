/* dicomfs core (internal): encapsulated pixel data (PS3.5 A.4): the bytes
 * of one frame out of the fragments, and the decoders. */
#pragma once

#include "image.h"

/* The encoded bytes of frame (0-based): by the Extended or Basic Offset
 * Table where there is one, else one fragment per frame, else (one frame)
 * every fragment.  Caller unrefs. */
GBytes *dfs_codec_frame_bytes(const DfsDataset *ds, const DfsImage *img, guint frame,
                              GError **error);

/* Are pixel files shown for this codec?  (All but unknown syntaxes.) */
gboolean dfs_codec_supported(DfsCodec codec);

/* Decode an encapsulated frame into out (dfs_image_frame_bytes() bytes). */
gboolean dfs_codec_decode(const DfsDataset *ds, const DfsImage *img, guint frame, guint8 *out,
                          GError **error);

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

/* The color spaces for a 3-component lossy JPEG (values of J_COLOR_SPACE
 * passed as int, so both libjpeg builds share the rule). */
void dfs_codec_jpeg_color(const DfsImage *img, gboolean marked, gboolean subsampled,
                          int *in_space, int *out_space, int rgb, int ycbcr);

/* 12-bit and lossless JPEG (codec-ijg.c, through libgdcmjpeg12/16). */
gboolean dfs_codec_ijg12(const DfsImage *img, const guint8 *data, gsize len, guint8 *out,
                         GError **error);
gboolean dfs_codec_ijg16(const DfsImage *img, const guint8 *data, gsize len, guint8 *out,
                         GError **error);

/* Decoded samples (sb bytes each, little endian, planar or interleaved) to
 * stored values in out. */
gboolean dfs_codec_finish(const DfsImage *img, const guint8 *samples, guint sb, gboolean planar,
                          guint8 *out);

/* Raw samples in the image's layout to stored values (image.c). */
void dfs_image_unpack(const DfsImage *img, const guint8 *raw, gboolean big, guint bit_offset,
                      guint8 *out);
