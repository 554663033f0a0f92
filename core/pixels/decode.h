/* dicomfs core: one frame of pixel data as stored values (PS3.5 8).
 *
 * Stored values: little endian, samples interleaved, Bits Stored masked out
 * of Bits Allocated and sign-extended for Pixel Representation 1, one byte
 * per sample for 1-bit images.  Native frames are read at their offset
 * (only the frame's bytes); encapsulated ones go through codec.h.  The top
 * of pixels/ below the display pipeline. */
#pragma once

#include <glib.h>
#include "pixels/image.h"

G_BEGIN_DECLS

/* Decode frame (0-based) into out, which holds dfs_image_frame_bytes(). */
gboolean dfs_image_decode(const DfsDataset *ds, const DfsImage *img, guint frame, guint8 *out,
                          GError **error);

/* Are pixel files shown for this codec?  (All but unknown syntaxes.) */
gboolean dfs_codec_supported(DfsCodec codec);

G_END_DECLS
