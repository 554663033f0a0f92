/* dicomfs core (internal): what the tree knows of one instance, for the
 * kinds that show it: its header-only dataset and its whole file (both in
 * the tree's bounded dataset cache), its image, and which pixel files it
 * has.  Each call reads at most the one file (once, then from the cache). */
#pragma once

#include <glib.h>

#include "dicom/dataset.h"
#include "pixels/image.h"
#include "tree/kind.h"

G_BEGIN_DECLS

/* The header-only dataset of the (first) instance at or below node: what
 * its pixels need.  Caller frees. */
DfsDataset *dfs_instance_header(const DfsView *v, guint node, GError **error);

/* The same for one pass over many instances (a series' volume plan): the
 * cached header if there is one, else the file's read now and not kept
 * (a pass would only churn the cache).  Caller frees. */
DfsDataset *dfs_instance_header_once(const DfsView *v, guint node, GError **error);

/* The dataset of its attributes: the header, or the whole file where
 * elements follow its Pixel Data (trailing padding, signatures: they
 * belong in tags/ and header.txt too).  Caller frees. */
DfsDataset *dfs_instance_dataset(const DfsView *v, guint node, GError **error);

/* The dataset to decode pixels from: for native pixel data the header is
 * enough (frames are read at their offsets); encapsulated and deflated
 * pixel data need the whole file.  Caller frees. */
DfsDataset *dfs_instance_pixel_dataset(const DfsView *v, guint node, GError **error);

/* The image of the instance, from its header: FALSE without Pixel Data or
 * where its description is not usable. */
gboolean dfs_instance_image(const DfsView *v, guint node, DfsImage *img, GError **error);

/* The image as its header declares it, even over a limit (then nothing is
 * decoded, but sizes and pixels.txt say what the file claims). */
gboolean dfs_instance_declared_image(const DfsView *v, guint node, DfsImage *img,
                                     GError **error);

/* 0 without Pixel Data (or for a syntax without a decoder), else the number
 * of frames (1 where the image is not describable). */
guint dfs_instance_frames(const DfsView *v, guint node);
/* The same from node's header, at hand. */
guint dfs_instance_frames_of(const DfsDataset *ds);

/* Are there PNGs?  Pixel Data that is not Float / Double Float (whose
 * values are data, not pictures: raw only). */
gboolean dfs_instance_shows_png(const DfsView *v, guint node);

/* Channels of the PNG of the image: 1 gray, 3 color. */
guint dfs_instance_png_channels(const DfsImage *img);

/* Native pixel data whose stored values are its bytes (little endian,
 * every bit stored, interleaved): frames [first, first + count) (count 0:
 * every frame from first on) are bytes [offset, offset + length) of the
 * source file. */
gboolean dfs_instance_raw_slice(const DfsView *v, guint node, guint first, guint count,
                                guint64 *offset, guint64 *length);
/* The same from node's header, at hand. */
gboolean dfs_instance_raw_slice_of(const DfsView *v, guint node, const DfsDataset *ds,
                                   guint first, guint count, guint64 *offset, guint64 *length);


/* --- pixel files (kinds/pixels.c, kinds/frames.c) ---------------------------- */

/* Is frame `frame` of instance node fetched alone, not read from the
 * instance's bytes (a remote multi-frame instance known by its header
 * copy, its frame decodable from its stored bytes: sources/webframes.h)?
 * Then its raw file is rendered, never a range of the instance. */
gboolean dfs_instance_frame_alone(const DfsView *v, guint node, guint frame);

/* Sizes fixed by the header, nothing decoded: raw frames [first, first +
 * count) (count 0: all from first) as the header declares them (a raw file
 * over a limit has a size too; its reads fail), and the PNG of entry e's
 * frame (its sub: 0 for image.png; measured on a blank image of its shape,
 * never over a limit). */
gboolean dfs_instance_raw_size(const DfsView *v, guint node, guint first, guint count,
                               guint64 *size, GError **error);
gboolean dfs_instance_png_size(const DfsView *v, DfsEntry e, guint64 *size, GError **error);

/* Decode frames [first, first + count) (count 0: all from first) straight
 * into out, as stored values; or entry e's frame as a viewer shows it, as
 * PNG.  The PNG functions are image.png's and frames/NNNN.png's own. */
gboolean dfs_instance_render_raw(const DfsView *v, guint node, guint first, guint count,
                                 GString *out, GError **error);
gboolean dfs_instance_render_png(const DfsView *v, DfsEntry e, GString *out, GError **error);

G_END_DECLS
