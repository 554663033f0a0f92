/* dicomfs core: which attributes belong to the patient, study and series
 * levels (the tags/ folders of those levels).
 *
 * PS3.4 C.6.1.1.2-4: the patient level holds the attributes of the Patient
 * module, the study level those of the General Study and Patient Study
 * modules, the series level those of General Series, Frame of Reference and
 * General Equipment (PS3.3 C.7.1.1, C.7.2.1-2, C.7.3.1, C.7.4.1, C.7.5.1),
 * plus the query/retrieve counts of PS3.4 Table C.3-*. */
#pragma once

#include <glib.h>
#include "catalog/index.h"

G_BEGIN_DECLS

gboolean dfs_level_has_tag(DfsLevel level, guint32 tag);

G_END_DECLS
