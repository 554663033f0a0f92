/* dicomfs core: a volume as Analyze 7.5, SPM2 flavour: <stem>.hdr (348
 * bytes: scale in funused1, intercept in funused2, the origin voxel in
 * originator), <stem>.img (the voxels in the .nii's order), and <stem>.mat
 * (MATLAB v4: M and mat, the exact affine from 1-based voxels, which SPM
 * and nibabel read before anything in the header). */
#pragma once

#include <glib.h>

#include "volumes/plan.h"

G_BEGIN_DECLS

#define DFS_ANALYZE_HEADER_BYTES 348
#define DFS_SPM_MAT_BYTES 302

/* The type the .img holds: the volume's where Analyze has it (uint8, int16,
 * int32, float32, float64, RGB), else one that holds every value (int8 as
 * int16, uint16 as int32, uint32 as float64). */
guint dfs_analyze_datatype(const DfsVolume *vol);

void dfs_analyze_header(const DfsVolume *vol, guint8 out[DFS_ANALYZE_HEADER_BYTES]);
void dfs_spm_mat(const DfsVolume *vol, guint8 out[DFS_SPM_MAT_BYTES]);

G_END_DECLS
