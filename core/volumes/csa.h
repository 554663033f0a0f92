/* dicomfs core: Siemens' CSA header (the private element (0029,xx10) of
 * the creator "SIEMENS CSA HEADER"), SV10 format: named elements whose
 * items are text.  What the volumes need of it: NumberOfImagesInMosaic,
 * SliceNormalVector.  Every length is checked against the bytes given. */
#pragma once

#include <glib.h>

#include "dicom/dataset.h"

G_BEGIN_DECLS

/* The CSA image header of ds, or NULL (absent, or not SV10). */
const guint8 *dfs_csa_image_header(const DfsDataset *ds, gsize *len);

/* Item `item` of the element called name as a number; FALSE where there
 * is none or it is not a number. */
gboolean dfs_csa_number(const guint8 *csa, gsize len, const char *name, guint item,
                        double *out);

G_END_DECLS
