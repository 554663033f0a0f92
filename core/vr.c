#include "vr.h"

static const char vr_names[DFS_VR_COUNT][3] = {
    "na", "AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO",
    "LT", "OB", "OD", "OF", "OL", "OV", "OW", "PN", "SH", "SL", "SQ", "SS",
    "ST", "SV", "TM", "UC", "UI", "UL", "UN", "UR", "US", "UT", "UV",
};

const char *dfs_vr_name(DfsVr vr)
{
    return (unsigned)vr < DFS_VR_COUNT ? vr_names[vr] : "??";
}

DfsVr dfs_vr_from_bytes(guint8 a, guint8 b)
{
    /* 35 names: a linear scan of 2-byte keys is cheaper than any hash. */
    for (int i = 1; i < DFS_VR_COUNT; i++)
        if (vr_names[i][0] == a && vr_names[i][1] == b)
            return (DfsVr)i;
    return DFS_VR_NONE;
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
