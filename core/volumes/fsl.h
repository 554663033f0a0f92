/* dicomfs core: a diffusion volume's b values and gradients in FSL's text
 * formats, as dcm2niix writes them: <stem>.bval (one line, a value per
 * volume) and <stem>.bvec (three lines, the gradient in the voxel axes of
 * the .nii: along the rows, up the columns, along the slices). */
#pragma once

#include <glib.h>

#include "volumes/plan.h"

G_BEGIN_DECLS

/* Does vol have diffusion weighting (some volume's b value above 0)? */
gboolean dfs_fsl_is_diffusion(const DfsVolumePlan *p, const DfsVolume *vol);

void dfs_fsl_bval(const DfsVolumePlan *p, const DfsVolume *vol, GString *out);
void dfs_fsl_bvec(const DfsVolumePlan *p, const DfsVolume *vol, GString *out);

G_END_DECLS
