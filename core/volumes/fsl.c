/* dicomfs core: .bval and .bvec.  See fsl.h.  The gradient of each volume
 * (its first image's, in the patient's LPS frame) is projected on the
 * stacked grid's axes (along a row, up the columns as NIfTI stores rows
 * bottom up, along the normal the slices are ordered by), then turned as
 * the volume's axes were (3D acquisitions).  GE's gradients are on the
 * image's axes already: written as they are, as dcm2niix does. */
#include "volumes/fsl.h"

#include <math.h>

#include "volumes/bytes.h"

static const DfsSlice *first_of(const DfsVolumePlan *p, const DfsVolume *v, guint t)
{
    return &p->slices[v->order[t * v->n_in[2]]];
}

gboolean dfs_fsl_is_diffusion(const DfsVolumePlan *p, const DfsVolume *v)
{
    for (guint t = 0; t < v->dim[3]; t++)
        if (first_of(p, v, t)->has_b && first_of(p, v, t)->b > 0)
            return TRUE;
    return FALSE;
}

void dfs_fsl_bval(const DfsVolumePlan *p, const DfsVolume *v, GString *out)
{
    for (guint t = 0; t < v->dim[3]; t++) {
        if (t)
            g_string_append_c(out, ' ');
        const DfsSlice *s = first_of(p, v, t);
        dfs_append_number(out, s->has_b ? s->b : 0);
    }
    g_string_append_c(out, '\n');
}

void dfs_fsl_bvec(const DfsVolumePlan *p, const DfsVolume *v, GString *out)
{
    const DfsSlice *s0 = first_of(p, v, 0);
    const double *row = s0->iop, *col = s0->iop + 3;
    double normal[3] = {row[1] * col[2] - row[2] * col[1], row[2] * col[0] - row[0] * col[2],
                        row[0] * col[1] - row[1] * col[0]};
    double len = sqrt(normal[0] * normal[0] + normal[1] * normal[1] + normal[2] * normal[2]);
    for (guint a = 0; a < 3; a++) {
        for (guint t = 0; t < v->dim[3]; t++) {
            const DfsSlice *s = first_of(p, v, t);
            const double *g = s->gradient;
            double stacked[3] = {
                g[0] * row[0] + g[1] * row[1] + g[2] * row[2],
                -(g[0] * col[0] + g[1] * col[1] + g[2] * col[2]),
                len > 0 ? (g[0] * normal[0] + g[1] * normal[1] + g[2] * normal[2]) / len : 0,
            };
            double x = s->gradient_on_axes ? g[a] : stacked[v->perm[a]] * (v->flip[a] ? -1 : 1);
            if (t)
                g_string_append_c(out, ' ');
            dfs_append_number(out, s->has_b && s->b > 0 ? x : 0);
        }
        g_string_append_c(out, '\n');
    }
}
