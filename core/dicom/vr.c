#include "dicom/vr.h"

static const char vr_names[DFS_VR_COUNT][3] = {
    "na", "AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO",
    "LT", "OB", "OD", "OF", "OL", "OV", "OW", "PN", "SH", "SL", "SQ", "SS",
    "ST", "SV", "TM", "UC", "UI", "UL", "UN", "UR", "US", "UT", "UV",
};

const char *dfs_vr_name(DfsVr vr)
{
    return (unsigned)vr < DFS_VR_COUNT ? vr_names[vr] : "??";
}

/* Indexed by (a - 'A') * 26 + (b - 'A'): every explicit VR element header
 * goes through here, so it is one table load rather than a search. */
#define VR_SLOT(a, b) [((a) - 'A') * 26 + ((b) - 'A')]
static const guint8 vr_by_letters[26 * 26] = {
    VR_SLOT('A', 'E') = DFS_VR_AE, VR_SLOT('A', 'S') = DFS_VR_AS, VR_SLOT('A', 'T') = DFS_VR_AT,
    VR_SLOT('C', 'S') = DFS_VR_CS, VR_SLOT('D', 'A') = DFS_VR_DA, VR_SLOT('D', 'S') = DFS_VR_DS,
    VR_SLOT('D', 'T') = DFS_VR_DT, VR_SLOT('F', 'D') = DFS_VR_FD, VR_SLOT('F', 'L') = DFS_VR_FL,
    VR_SLOT('I', 'S') = DFS_VR_IS, VR_SLOT('L', 'O') = DFS_VR_LO, VR_SLOT('L', 'T') = DFS_VR_LT,
    VR_SLOT('O', 'B') = DFS_VR_OB, VR_SLOT('O', 'D') = DFS_VR_OD, VR_SLOT('O', 'F') = DFS_VR_OF,
    VR_SLOT('O', 'L') = DFS_VR_OL, VR_SLOT('O', 'V') = DFS_VR_OV, VR_SLOT('O', 'W') = DFS_VR_OW,
    VR_SLOT('P', 'N') = DFS_VR_PN, VR_SLOT('S', 'H') = DFS_VR_SH, VR_SLOT('S', 'L') = DFS_VR_SL,
    VR_SLOT('S', 'Q') = DFS_VR_SQ, VR_SLOT('S', 'S') = DFS_VR_SS, VR_SLOT('S', 'T') = DFS_VR_ST,
    VR_SLOT('S', 'V') = DFS_VR_SV, VR_SLOT('T', 'M') = DFS_VR_TM, VR_SLOT('U', 'C') = DFS_VR_UC,
    VR_SLOT('U', 'I') = DFS_VR_UI, VR_SLOT('U', 'L') = DFS_VR_UL, VR_SLOT('U', 'N') = DFS_VR_UN,
    VR_SLOT('U', 'R') = DFS_VR_UR, VR_SLOT('U', 'S') = DFS_VR_US, VR_SLOT('U', 'T') = DFS_VR_UT,
    VR_SLOT('U', 'V') = DFS_VR_UV,
};

DfsVr dfs_vr_from_bytes(guint8 a, guint8 b)
{
    if (a < 'A' || a > 'Z' || b < 'A' || b > 'Z')
        return DFS_VR_NONE;
    return (DfsVr)vr_by_letters[(a - 'A') * 26 + (b - 'A')];
}

gboolean dfs_vr_has_long_length(DfsVr vr)
{
    switch (vr) {
    case DFS_VR_OB: case DFS_VR_OD: case DFS_VR_OF: case DFS_VR_OL: case DFS_VR_OV:
    case DFS_VR_OW: case DFS_VR_SQ: case DFS_VR_SV: case DFS_VR_UC: case DFS_VR_UN:
    case DFS_VR_UR: case DFS_VR_UT: case DFS_VR_UV:
        return TRUE;
    default:
        return FALSE;
    }
}

guint dfs_vr_unit_size(DfsVr vr)
{
    switch (vr) {
    case DFS_VR_OB: case DFS_VR_UN:
        return 1;
    case DFS_VR_US: case DFS_VR_SS: case DFS_VR_OW:
        return 2;
    case DFS_VR_UL: case DFS_VR_SL: case DFS_VR_FL: case DFS_VR_OF: case DFS_VR_OL:
    case DFS_VR_AT:
        return 4;
    case DFS_VR_FD: case DFS_VR_OD: case DFS_VR_SV: case DFS_VR_UV: case DFS_VR_OV:
        return 8;
    default:
        return 0;
    }
}

gboolean dfs_vr_uses_charset(DfsVr vr)
{
    switch (vr) {
    case DFS_VR_SH: case DFS_VR_LO: case DFS_VR_UC: case DFS_VR_ST: case DFS_VR_LT:
    case DFS_VR_UT: case DFS_VR_PN:
        return TRUE;
    default:
        return FALSE;
    }
}

gboolean dfs_vr_is_text(DfsVr vr)
{
    switch (vr) {
    case DFS_VR_AE: case DFS_VR_AS: case DFS_VR_CS: case DFS_VR_DA: case DFS_VR_DS:
    case DFS_VR_DT: case DFS_VR_IS: case DFS_VR_LO: case DFS_VR_LT: case DFS_VR_PN:
    case DFS_VR_SH: case DFS_VR_ST: case DFS_VR_TM: case DFS_VR_UC: case DFS_VR_UI:
    case DFS_VR_UR: case DFS_VR_UT:
        return TRUE;
    default:
        return FALSE;
    }
}

gboolean dfs_vr_is_single_valued_text(DfsVr vr)
{
    return vr == DFS_VR_LT || vr == DFS_VR_ST || vr == DFS_VR_UT || vr == DFS_VR_UR;
}

gboolean dfs_vr_is_bulk(DfsVr vr)
{
    switch (vr) {
    case DFS_VR_OB: case DFS_VR_OD: case DFS_VR_OF: case DFS_VR_OL: case DFS_VR_OV:
    case DFS_VR_OW: case DFS_VR_UN:
        return TRUE;
    default:
        return FALSE;
    }
}
