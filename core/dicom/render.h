/* dicomfs core: values as text, and the full text dump.
 *
 * Text forms (documented in README "Value formats"):
 *  - text VRs: decoded to UTF-8, padding trimmed, values joined by '\';
 *  - PN: its component groups joined by '=', components by '^', as stored;
 *  - US SS UL SL SV UV: decimal; FL FD: shortest form that reads back exactly;
 *  - AT: (gggg,eeee);
 *  - OB UN: bytes as two hex digits, OW OL OV as 4/8/16 hex digits, OF OD as
 *    numbers, all joined by '\'; values longer than DFS_RENDER_BINARY_MAX
 *    bytes are cut there and followed by "... (N bytes)";
 *  - SQ: "(N items)"; Pixel Data: "(pixel data, N bytes)" or
 *    "(pixel data, encapsulated, N fragments, M bytes)": fragments after the
 *    Basic Offset Table, M the encoded length of all items. */
#pragma once

#include <glib.h>
#include "dicom/dataset.h"

G_BEGIN_DECLS

#define DFS_RENDER_BINARY_MAX 256

typedef enum {
    DFS_RENDER_DEFAULT = 0,
    DFS_RENDER_ESCAPE = 1 << 0, /* escape control characters (\n \r \t \xNN)
                                   so the value is one line */
} DfsRenderFlags;

/* Append element i's value as text (no trailing newline) to out. */
void dfs_render_value(const DfsDataset *ds, guint i, DfsRenderFlags flags, GString *out);

/* The keyword of element i ("PatientName"), or its 8 uppercase hex digits
 * for private and unknown tags, written into buf (at least 64 bytes). */
const char *dfs_render_name(const DfsDataset *ds, guint i, char buf[64]);

/* The full dump: one line per element, "(gggg,eeee) VR Name  value", items
 * as "(FFFE,E000) na Item N", two spaces of indent per level. */
void dfs_render_dump(const DfsDataset *ds, GString *out);

G_END_DECLS
