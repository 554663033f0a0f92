/* dicomfs core: a volume as MINC2 (<stem>.mnc): an HDF5 file with the
 * MINC 2.0 groups (dimensions, image/0 with image, image-min, image-max),
 * the stored values uncompressed in one contiguous block, real values by
 * image-min/image-max over the type's full valid_range (per slice where
 * the volume's scaling varies), no timestamps, no ident, no history: the
 * same bytes at every mount.
 *
 * The file is written by HDF5 once per volume with its image data left a
 * hole (a sparse temporary file, removed at once), and kept as its bytes
 * before and after the data: its size is exact before any pixel is read,
 * and reads of the data are the stored values by range. */
#pragma once

#include <glib.h>

#include "volumes/plan.h"

G_BEGIN_DECLS

typedef struct {
    GBytes *head, *tail;         /* the file before and after the image data */
    guint64 data_offset, data_bytes;
} DfsMincLayout;

/* Can vol be MINC2 here (not RGB)? */
gboolean dfs_minc_supported(const DfsVolume *vol);

/* The layout of vol's file (caller frees with dfs_minc_layout_free), or
 * NULL with an error. */
DfsMincLayout *dfs_minc_layout(const DfsVolumePlan *p, const DfsVolume *vol, GError **error);
void dfs_minc_layout_free(DfsMincLayout *l);

G_END_DECLS
