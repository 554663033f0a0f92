/* dicomfs core (internal): raw or decoded samples to stored values, for
 * native pixel data (decode.c) and every decoder (codecs.h). */
#pragma once

#include "pixels/image.h"

G_BEGIN_DECLS

/* One frame of raw samples in the image's layout (planar or interleaved,
 * byte order big) into stored values in out.  raw holds exactly the
 * frame's stored bytes, or for 1-bit images the frame's bits starting at
 * bit_offset.  out may be raw itself when every bit is stored. */
void dfs_samples_unpack(const DfsImage *img, const guint8 *raw, gboolean big, guint bit_offset,
                        guint8 *out);

/* Decoded samples (sb bytes each, little endian, planar or interleaved, of
 * the image's shape) to stored values in out. */
gboolean dfs_samples_finish(const DfsImage *img, const guint8 *samples, guint sb, gboolean planar,
                            guint8 *out);

G_END_DECLS
