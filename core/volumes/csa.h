/* dicomfs core: Siemens' CSA headers (the private elements (0029,xx10),
 * the image header, and (0029,xx20), the series header, of the creator
 * "SIEMENS CSA HEADER"), SV10 format: named elements whose items are text.
 * What the volumes need of them: NumberOfImagesInMosaic, SliceNormalVector
 * and the other numbers of the image header; the series header's
 * MrPhoenixProtocol, whose ASCCONV part ascconv.h reads.  Every length is
 * checked against the bytes given. */
#pragma once

#include <glib.h>

#include "dicom/dataset.h"

G_BEGIN_DECLS

/* The CSA image header of ds, or NULL (absent, or not SV10).  Owned by ds. */
const guint8 *dfs_csa_image_header(const DfsDataset *ds, gsize *len);

/* The CSA series header of ds, or NULL (absent, or not SV10).  Owned by
 * ds. */
const guint8 *dfs_csa_series_header(const DfsDataset *ds, gsize *len);

/* Item `item` of the element called name as a number; FALSE where there
 * is none or it is not a number. */
gboolean dfs_csa_number(const guint8 *csa, gsize len, const char *name, guint item,
                        double *out);

/* The bytes of item `item` of the element called name (inside csa, not
 * NUL-terminated: *text_len of them), or NULL where there is none. */
const guint8 *dfs_csa_item(const guint8 *csa, gsize len, const char *name, guint item,
                           gsize *text_len);

G_END_DECLS
