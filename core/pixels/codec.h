/* dicomfs core (internal): encapsulated pixel data (PS3.5 A.4): the bytes
 * of one frame out of the fragments, and which decoder (codecs.h) takes
 * them. */
#pragma once

#include "pixels/image.h"

G_BEGIN_DECLS

/* The encoded bytes of frame (0-based): by the Extended or Basic Offset
 * Table where there is one, else one fragment per frame, else (one frame)
 * every fragment.  Caller unrefs. */
GBytes *dfs_codec_frame_bytes(const DfsDataset *ds, const DfsImage *img, guint frame,
                              GError **error);

/* Decode one frame's encoded bytes (as dfs_codec_frame_bytes gives them)
 * into out (dfs_image_frame_bytes() bytes). */
gboolean dfs_codec_decode_bytes(const DfsImage *img, const guint8 *data, gsize len, guint8 *out,
                                GError **error);

/* Decode an encapsulated frame into out (dfs_image_frame_bytes() bytes). */
gboolean dfs_codec_decode(const DfsDataset *ds, const DfsImage *img, guint frame, guint8 *out,
                          GError **error);

G_END_DECLS
