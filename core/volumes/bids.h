/* dicomfs core: a volume's BIDS sidecar (<stem>.json) as dcm2niix -b y
 * writes it, anonymised as its default -ba y (no names, IDs or dates):
 * the keys it takes from standard attributes, in its order and units
 * (times in seconds), from the volume's first image.  ConversionSoftware
 * names dicomfs. */
#pragma once

#include <glib.h>

#include "dicom/dataset.h"
#include "volumes/plan.h"

G_BEGIN_DECLS

/* Append the sidecar of vol, whose first image's header is ds, to out. */
void dfs_bids_json(const DfsVolumePlan *p, const DfsVolume *vol, const DfsDataset *ds,
                   GString *out);

G_END_DECLS
