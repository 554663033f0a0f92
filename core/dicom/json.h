/* dicomfs core: the DICOM JSON Model (PS3.18 Annex F). */
#pragma once

#include <glib.h>
#include "dicom/dataset.h"

G_BEGIN_DECLS

typedef struct {
    gboolean include_meta; /* also write group 0002 */
    /* URI for Pixel Data as "BulkDataURI"; NULL writes it as InlineBinary
     * when loaded, and leaves it out when not. */
    const char *pixel_data_uri;
    gboolean pretty; /* newlines and indentation */
} DfsJsonOptions;

/* Append the data set as one JSON object to out.  opts may be NULL. */
void dfs_render_json(const DfsDataset *ds, const DfsJsonOptions *opts, GString *out);

G_END_DECLS
