/* dicomfs core: the description of pixel data (PS3.3 C.7.6.3).
 *
 * dfs_image_describe() reads the Image Pixel module and checks it against
 * the limits of dicom/limits.h.  This is the bottom of pixels/: the codecs
 * (codecs.h, codec.h) and the frame decoder (decode.h) build on it, and it
 * knows none of them. */
#pragma once

#include <glib.h>
#include "dicom/dataset.h"

G_BEGIN_DECLS

typedef enum {
    DFS_CODEC_NATIVE,
    DFS_CODEC_RLE,
    DFS_CODEC_JPEG,      /* baseline, extended, lossless (ISO 10918) */
    DFS_CODEC_JPEG_LS,   /* ISO 14495 */
    DFS_CODEC_J2K,       /* ISO 15444, including High-Throughput */
    DFS_CODEC_VIDEO,     /* MPEG-2/4, HEVC: not decoded */
    DFS_CODEC_UNKNOWN,
} DfsCodec;

typedef struct {
    guint32 rows, columns, samples, frames;
    guint bits_allocated, bits_stored, high_bit;
    gboolean is_signed;
    gboolean is_float;   /* Float / Double Float Pixel Data */
    guint planar;        /* Planar Configuration */
    char photometric[24];
    char decoded_photometric[24]; /* what decoding gives: lossy JPEG and
                                     JPEG 2000 with a component transform
                                     give RGB, native YBR_FULL_422 YBR_FULL */
    DfsCodec codec;
    guint pixel_index;   /* the Pixel Data element */
} DfsImage;

/* The image of a dataset read in full, or FALSE with an error (no pixel
 * data, missing or impossible attributes, a limit exceeded). */
gboolean dfs_image_describe(const DfsDataset *ds, DfsImage *img, GError **error);

/* Bytes of one decoded sample: 1, 2, 4 or 8. */
guint dfs_image_sample_bytes(const DfsImage *img);

/* Bytes of one decoded frame: rows x columns x samples x sample bytes. */
gsize dfs_image_frame_bytes(const DfsImage *img);

/* numpy's name for a sample ("uint16", "int16", "float32" ...). */
const char *dfs_image_dtype(const DfsImage *img);

/* The codec of a transfer syntax UID. */
DfsCodec dfs_codec_for(const char *transfer_syntax);

/* Native YBR_FULL_422: two pixels in four samples (Y Y Cb Cr), expanded to
 * YBR_FULL when decoded. */
gboolean dfs_image_is_native_422(const DfsImage *img);

G_END_DECLS
