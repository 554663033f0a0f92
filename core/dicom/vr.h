/* dicomfs core: Value Representations (PS3.5 6.2). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
    DFS_VR_NONE = 0, /* items and delimiters (FFFE,xxxx) have no VR */
    DFS_VR_AE, DFS_VR_AS, DFS_VR_AT, DFS_VR_CS, DFS_VR_DA, DFS_VR_DS, DFS_VR_DT,
    DFS_VR_FD, DFS_VR_FL, DFS_VR_IS, DFS_VR_LO, DFS_VR_LT, DFS_VR_OB, DFS_VR_OD,
    DFS_VR_OF, DFS_VR_OL, DFS_VR_OV, DFS_VR_OW, DFS_VR_PN, DFS_VR_SH, DFS_VR_SL,
    DFS_VR_SQ, DFS_VR_SS, DFS_VR_ST, DFS_VR_SV, DFS_VR_TM, DFS_VR_UC, DFS_VR_UI,
    DFS_VR_UL, DFS_VR_UN, DFS_VR_UR, DFS_VR_US, DFS_VR_UT, DFS_VR_UV,
    DFS_VR_COUNT
} DfsVr;

/* Two-letter name ("PN"); "na" for DFS_VR_NONE.  Static storage. */
const char *dfs_vr_name(DfsVr vr);

/* The VR spelled by two bytes, or DFS_VR_NONE when they spell no VR. */
DfsVr dfs_vr_from_bytes(guint8 a, guint8 b);

/* Explicit VR encodings with a 2-byte reserved field and a 4-byte length
 * (PS3.5 7.1.2): OB OD OF OL OV OW SQ SV UC UN UR UT UV. */
gboolean dfs_vr_has_long_length(DfsVr vr);

/* Size of one binary value (US=2, FD=8, OB=1, AT=4 ...); 0 for text VRs and SQ. */
guint dfs_vr_unit_size(DfsVr vr);

/* Text VRs whose bytes are governed by Specific Character Set
 * (PS3.5 6.1.2.3): SH LO UC ST LT UT PN. */
gboolean dfs_vr_uses_charset(DfsVr vr);

/* Text VRs (the ones stored as characters, padded with a space or NUL). */
gboolean dfs_vr_is_text(DfsVr vr);

/* Text VRs that hold one value in which a backslash is an ordinary
 * character: LT ST UT UR (PS3.5 6.2). */
gboolean dfs_vr_is_single_valued_text(DfsVr vr);

/* Binary bulk VRs: OB OD OF OL OV OW UN. */
gboolean dfs_vr_is_bulk(DfsVr vr);

G_END_DECLS
