/* dicomfs core: Analyze 7.5 and SPM's .mat.  See analyze.h.  Field offsets
 * are Mayo's dbh.h (header_key, image_dimension, data_history); the SPM
 * uses of funused1/funused2/originator are SPM2's; the .mat layout is
 * MATLAB's level 4 MAT-file format. */
#include "volumes/analyze.h"

#include <math.h>
#include <string.h>

#include "volumes/bytes.h"

guint dfs_analyze_datatype(const DfsVolume *v)
{
    switch (v->datatype) {
    case DFS_NIFTI_INT8: return DFS_NIFTI_INT16;
    case DFS_NIFTI_UINT16: return DFS_NIFTI_INT32;
    case DFS_NIFTI_UINT32: return DFS_NIFTI_FLOAT64;
    default: return v->datatype;
    }
}

/* The 4x4 affine from 1-based voxels (SPM's mat): the sform after a shift
 * of one voxel along each axis. */
static void spm_mat(const DfsVolume *v, double m[4][4])
{
    for (guint r = 0; r < 3; r++) {
        for (guint c = 0; c < 3; c++)
            m[r][c] = v->sform[r][c];
        m[r][3] = v->sform[r][3] - v->sform[r][0] - v->sform[r][1] - v->sform[r][2];
    }
    m[3][0] = m[3][1] = m[3][2] = 0;
    m[3][3] = 1;
}

/* The 1-based voxel at world (0, 0, 0): the sform's inverse applied. */
static void origin_voxel(const DfsVolume *v, double out[3])
{
    const double (*a)[4] = v->sform;
    double det = a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
                 a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
                 a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
    if (fabs(det) < 1e-12) {
        out[0] = out[1] = out[2] = 0;
        return;
    }
    double inv[3][3] = {
        {a[1][1] * a[2][2] - a[1][2] * a[2][1], a[0][2] * a[2][1] - a[0][1] * a[2][2],
         a[0][1] * a[1][2] - a[0][2] * a[1][1]},
        {a[1][2] * a[2][0] - a[1][0] * a[2][2], a[0][0] * a[2][2] - a[0][2] * a[2][0],
         a[0][2] * a[1][0] - a[0][0] * a[1][2]},
        {a[1][0] * a[2][1] - a[1][1] * a[2][0], a[0][1] * a[2][0] - a[0][0] * a[2][1],
         a[0][0] * a[1][1] - a[0][1] * a[1][0]},
    };
    for (guint r = 0; r < 3; r++)
        out[r] = 1 - (inv[r][0] * a[0][3] + inv[r][1] * a[1][3] + inv[r][2] * a[2][3]) / det;
}

void dfs_analyze_header(const DfsVolume *v, guint8 h[DFS_ANALYZE_HEADER_BYTES])
{
    memset(h, 0, DFS_ANALYZE_HEADER_BYTES);
    dfs_put_i32(h, 0, DFS_ANALYZE_HEADER_BYTES); /* sizeof_hdr */
    dfs_put_i32(h, 32, 16384);                   /* extents */
    h[38] = 'r';                             /* regular */
    dfs_put_i16(h, 40, v->dim[3] > 1 ? 4 : 3);
    for (guint k = 0; k < 4; k++)
        dfs_put_i16(h, 42 + 2 * k, (gint16)v->dim[k]);
    guint type = dfs_analyze_datatype(v);
    dfs_put_i16(h, 70, (gint16)type);
    dfs_put_i16(h, 72, (gint16)(8 * dfs_volume_type_bytes(type)));
    for (guint k = 0; k < 4; k++)
        dfs_put_f32(h, 80 + 4 * k, v->pixdim[k]);
    dfs_put_f32(h, 112, v->slope); /* funused1: SPM's scale */
    dfs_put_f32(h, 116, v->inter); /* funused2: SPM2's intercept */
    memcpy(h + 148, v->descrip, MIN(strlen(v->descrip), 79u));
    memcpy(h + 228, v->aux_file, MIN(strlen(v->aux_file), 23u));
    double origin[3];
    origin_voxel(v, origin);
    for (guint k = 0; k < 3; k++) /* originator: SPM's origin voxel, 1-based */
        dfs_put_i16(h, 253 + 2 * k, (gint16)CLAMP(round(origin[k]), G_MININT16, G_MAXINT16));
}

/* One MATLAB v4 matrix: a 4x4 double, column by column. */
static guint put_matrix(guint8 *out, const char *name, double m[4][4])
{
    gint32 head[5] = {0 /* little endian, double, full */, 4, 4, 0, (gint32)strlen(name) + 1};
    memcpy(out, head, sizeof head);
    guint at = sizeof head;
    memcpy(out + at, name, strlen(name) + 1);
    at += (guint)strlen(name) + 1;
    for (guint c = 0; c < 4; c++)
        for (guint r = 0; r < 4; r++) {
            memcpy(out + at, &m[r][c], 8);
            at += 8;
        }
    return at;
}

void dfs_spm_mat(const DfsVolume *v, guint8 out[DFS_SPM_MAT_BYTES])
{
    double m[4][4];
    spm_mat(v, m);
    guint at = put_matrix(out, "M", m);
    at += put_matrix(out + at, "mat", m);
    g_assert(at == DFS_SPM_MAT_BYTES);
}
