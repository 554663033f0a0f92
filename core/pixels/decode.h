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

/* Can a frame of ds be decoded from its stored bytes alone, as WADO-RS
 * .../frames/N gives them (dfs_image_decode_stored)?  Every codec with a
 * decoder, and native little endian pixel data whose frames start on a
 * byte; not deflated data sets, whose frames exist only inflated. */
gboolean dfs_image_frame_alone(const DfsDataset *ds, const DfsImage *img);

/* Decode one frame from its stored bytes alone (encoded as one frame of
 * the instance's fragments, or native: the frame's bytes, little endian)
 * into out, which holds dfs_image_frame_bytes().  ds: the instance's
 * header (the Pixel Data element says whether the data is encapsulated). */
gboolean dfs_image_decode_stored(const DfsDataset *ds, const DfsImage *img, const guint8 *data,
                                 gsize len, guint8 *out, GError **error);

/* Are pixel files shown for this codec?  (All but unknown syntaxes.) */
gboolean dfs_codec_supported(DfsCodec codec);

G_END_DECLS
