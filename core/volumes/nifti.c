/* dicomfs core: NIfTI-1 single files.  See nifti.h.  Field offsets are the
 * NIfTI-1 standard's (nifti1.h, 2004). */
#include "volumes/nifti.h"

#include <string.h>

#include "volumes/bytes.h"

void dfs_nifti_header(const DfsVolume *v, guint8 h[DFS_NIFTI_HEADER_BYTES])
{
    memset(h, 0, DFS_NIFTI_HEADER_BYTES);
    dfs_put_i32(h, 0, 348);   /* sizeof_hdr */
    h[38] = 'r';          /* regular */
    guint ndim = v->dim[3] > 1 ? 4 : 3;
    dfs_put_i16(h, 40, (gint16)ndim);
    for (guint k = 0; k < 4; k++)
        dfs_put_i16(h, 42 + 2 * k, (gint16)v->dim[k]);
    for (guint k = 4; k < 7; k++)
        dfs_put_i16(h, 42 + 2 * k, 1);
    dfs_put_i16(h, 70, (gint16)v->datatype);
    dfs_put_i16(h, 72, (gint16)v->bitpix);
    dfs_put_f32(h, 76, v->qfac); /* pixdim[0] */
    for (guint k = 0; k < 4; k++)
        dfs_put_f32(h, 80 + 4 * k, v->pixdim[k]);
    dfs_put_f32(h, 108, DFS_NIFTI_HEADER_BYTES); /* vox_offset */
    dfs_put_f32(h, 112, v->slope);
    dfs_put_f32(h, 116, v->inter);
    h[123] = 2 | 8;      /* xyzt_units: mm, s */
    memcpy(h + 148, v->descrip, MIN(strlen(v->descrip), 79u));
    memcpy(h + 228, v->aux_file, MIN(strlen(v->aux_file), 23u));
    dfs_put_i16(h, 252, 1);  /* qform_code: scanner */
    dfs_put_i16(h, 254, 1);  /* sform_code: scanner */
    for (guint k = 0; k < 3; k++) {
        dfs_put_f32(h, 256 + 4 * k, v->quatern[k]);
        dfs_put_f32(h, 268 + 4 * k, v->qform[k][3]);
    }
    for (guint r = 0; r < 3; r++)
        for (guint c = 0; c < 4; c++)
            dfs_put_f32(h, 280 + 16 * r + 4 * c, v->sform[r][c]);
    memcpy(h + 344, "n+1", 4);
}

guint64 dfs_nifti_size(const DfsVolume *v)
{
    return DFS_NIFTI_HEADER_BYTES + v->voxel_bytes;
}
