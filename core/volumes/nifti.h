/* dicomfs core: a volume as NIfTI-1 (.nii): the 348-byte header, four zero
 * extension bytes, then the voxels (vox_offset 352), as dcm2niix writes it
 * uncompressed.  Little endian, like every file dicomfs writes. */
#pragma once

#include <glib.h>

#include "volumes/plan.h"

G_BEGIN_DECLS

#define DFS_NIFTI_HEADER_BYTES 352

/* The header and extension bytes of vol. */
void dfs_nifti_header(const DfsVolume *vol, guint8 out[DFS_NIFTI_HEADER_BYTES]);

/* The file's size. */
guint64 dfs_nifti_size(const DfsVolume *vol);

G_END_DECLS
