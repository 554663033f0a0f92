/* dicomfs core: values of elements, decoded.
 *
 * Text is decoded to UTF-8 through the element's Specific Character Set,
 * then split into values at '\' (PS3.5 6.4; single-valued LT ST UT UR are
 * not split) and trimmed of the padding PS3.5 6.2 calls insignificant:
 * trailing spaces and NULs always, leading spaces for AE CS DS IS LO SH. */
#pragma once

#include <glib.h>
#include "dicom/dataset.h"

G_BEGIN_DECLS

/* Number of values: for text, the values after splitting (0 if empty); for
 * binary VRs, length / unit size; for SQ, the number of items. */
guint dfs_value_count(const DfsDataset *ds, guint i);

/* The decoded, trimmed values of a text element as a NULL-terminated
 * vector (free with g_strfreev); NULL for non-text or unloaded elements. */
char **dfs_value_texts(const DfsDataset *ds, guint i);

/* Append all values of a text element joined by '\'.  FALSE if not text. */
gboolean dfs_value_append_text(const DfsDataset *ds, guint i, GString *out);

/* Binary value n (0-based) of element i, converted.  FALSE when absent or
 * the VR is not numeric binary (US SS UL SL SV UV FL FD OW OL OV OF OD AT). */
gboolean dfs_value_binary_int(const DfsDataset *ds, guint i, guint n, gint64 *out);
gboolean dfs_value_binary_uint(const DfsDataset *ds, guint i, guint n, guint64 *out);
gboolean dfs_value_binary_double(const DfsDataset *ds, guint i, guint n, double *out);

#define DFS_REAL_BUF G_ASCII_DTOSTR_BUF_SIZE

/* The shortest decimal that reads back to the same float (single) or
 * double; "NaN", "Infinity", "-Infinity" for those.  Returns buf. */
const char *dfs_format_real(double v, gboolean single, char buf[DFS_REAL_BUF]);

G_END_DECLS
