/* dicomfs core: a volume's BIDS sidecar (<stem>.json) as dcm2niix -b y
 * writes it, anonymised as its default -ba y (no names, IDs or dates):
 * the keys it takes from the volume's first image, in its order, units
 * (times in seconds) and number format: from standard attributes (an
 * enhanced object's from its functional groups), Siemens' CSA headers,
 * private elements and protocol (ASCCONV, ascconv.h), and Philips' private
 * elements.  ConversionSoftware names dicomfs.  Costs: one pass over the
 * image's header (and its protocol text) per sidecar. */
#pragma once

#include <glib.h>

#include "dicom/dataset.h"
#include "volumes/plan.h"

G_BEGIN_DECLS

/* Append the sidecar of vol, whose first image's header is ds, to out. */
void dfs_bids_json(const DfsVolumePlan *p, const DfsVolume *vol, const DfsDataset *ds,
                   GString *out);

G_END_DECLS
