/* dicomfs core: a series as volumes.  See plan.h.
 *
 * Conventions: vectors are in the patient's LPS frame until the affine is
 * turned to NIfTI's RAS at the end.  The stacked grid's first axis runs
 * along a row (ImageOrientationPatient's first three values, one column
 * spacing a voxel), its second up the columns from the bottom row (NIfTI
 * stores rows bottom up), its third along the normal row x column. */
#include "volumes/plan.h"

#include <math.h>
#include <string.h>

#include "base/error.h"

/* Positions closer than this along the normal are one position (mm). */
#define SAME_POSITION 1e-3
/* Orientations equal within this (per direction cosine), as dcm2niix's
 * isSameFloatGE. */
#define SAME_ORIENTATION 1e-4
/* Slice steps that differ by more than this vary (mm). */
#define SAME_STEP 1e-2
/* A step further off the normal than this angle is a shear (gantry tilt,
 * degrees); less is the rounding of the positions' decimal strings. */
#define TILT_DEGREES 0.5

static double dot3(const double *a, const double *b)
{
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

static void cross3(const double *a, const double *b, double *out)
{
    out[0] = a[1] * b[2] - a[2] * b[1];
    out[1] = a[2] * b[0] - a[0] * b[2];
    out[2] = a[0] * b[1] - a[1] * b[0];
}

static void normal_of(const DfsSlice *s, double n[3])
{
    cross3(s->iop, s->iop + 3, n);
    double len = sqrt(dot3(n, n));
    for (guint k = 0; k < 3; k++)
        n[k] = len > 0 ? n[k] / len : 0;
}

/* --- splitting a series ------------------------------------------------------- */

/* What makes two images parts of different volumes (dcm2niix's isSameSet,
 * less the attributes that are one per series here). */
static char *set_key(const DfsSlice *s)
{
    GString *k = g_string_new(s->series_uid);
    g_string_append_printf(k, "|%ux%ux%u|%u%c%c|e%" G_GINT64_FORMAT "|%.4f|%c%c%c|%.2f|%.2f|",
                           s->columns, s->rows, s->samples, s->bits_allocated,
                           s->is_signed ? 's' : 'u', s->is_float ? 'f' : 'i', s->echo_number,
                           s->echo_time, s->phase ? 'p' : '-', s->real ? 'r' : '-',
                           s->imaginary ? 'i' : '-', s->tr, s->flip);
    for (guint k2 = 0; k2 < 6; k2++) /* rounded to the tolerance */
        g_string_append_printf(k, "%.0f,", s->iop[k2] / SAME_ORIENTATION / 2);
    return g_string_free(k, FALSE);
}

typedef struct {
    const DfsSlice *slices;
    double normal[3];
} SortCtx;

static int by_instance(gconstpointer a, gconstpointer b, gpointer user)
{
    const DfsSlice *s = user;
    const DfsSlice *x = &s[*(const guint *)a], *y = &s[*(const guint *)b];
    if (x->instance_number != y->instance_number)
        return x->instance_number < y->instance_number ? -1 : 1;
    if (x->frame != y->frame)
        return x->frame < y->frame ? -1 : 1;
    return *(const guint *)a < *(const guint *)b ? -1 : 1;
}

static double position(const SortCtx *c, guint i)
{
    return dot3(c->slices[i].ipp, c->normal);
}

/* By position along the normal, then (at one position) instance order. */
static int by_position(gconstpointer a, gconstpointer b, gpointer user)
{
    const SortCtx *c = user;
    guint i = *(const guint *)a, j = *(const guint *)b;
    double pi = position(c, i), pj = position(c, j);
    if (fabs(pi - pj) > SAME_POSITION)
        return pi < pj ? -1 : 1;
    return by_instance(a, b, (gpointer)c->slices);
}

/* --- names ----------------------------------------------------------------------- */

/* dcm2niix's %p: ProtocolName (SeriesDescription where it is empty), with
 * the characters it replaces made '_'. */
static void append_sanitised(GString *out, const char *text)
{
    for (const char *p = text; *p; p++)
        g_string_append_c(out, strchr("\\/ <>:;\"$*|?", *p) != NULL ? '_' : *p);
}

static char *base_stem(const DfsSlice *s)
{
    GString *out = g_string_new(NULL);
    g_autofree char *protocol = g_strstrip(g_strdup(s->protocol));
    g_autofree char *description = g_strstrip(g_strdup(s->description));
    append_sanitised(out, *protocol ? protocol : description);
    g_string_append_printf(out, "_%" G_GINT64_FORMAT, s->series_number);
    return g_string_free(out, FALSE);
}

/* --- the affine ---------------------------------------------------------------------- */

/* The quaternion (b, c, d) and qfac of the rotation part of m (columns
 * normalised; a left-handed one has its third column negated, qfac -1). */
static void quaternion_of(double m[3][4], double quatern[3], double *qfac)
{
    double r[3][3];
    for (guint c = 0; c < 3; c++) {
        double len = sqrt(m[0][c] * m[0][c] + m[1][c] * m[1][c] + m[2][c] * m[2][c]);
        for (guint a = 0; a < 3; a++)
            r[a][c] = len > 0 ? m[a][c] / len : (a == c);
    }
    double det = r[0][0] * (r[1][1] * r[2][2] - r[1][2] * r[2][1]) -
                 r[0][1] * (r[1][0] * r[2][2] - r[1][2] * r[2][0]) +
                 r[0][2] * (r[1][0] * r[2][1] - r[1][1] * r[2][0]);
    *qfac = 1;
    if (det < 0) {
        *qfac = -1;
        for (guint a = 0; a < 3; a++)
            r[a][2] = -r[a][2];
    }
    /* The rotation's quaternion (a, b, c, d), a >= 0, from its largest
     * component for accuracy. */
    double tr = r[0][0] + r[1][1] + r[2][2], qa, qb, qc, qd;
    if (tr > 0) {
        double s = sqrt(tr + 1) * 2;
        qa = s / 4;
        qb = (r[2][1] - r[1][2]) / s;
        qc = (r[0][2] - r[2][0]) / s;
        qd = (r[1][0] - r[0][1]) / s;
    } else if (r[0][0] > r[1][1] && r[0][0] > r[2][2]) {
        double s = sqrt(1 + r[0][0] - r[1][1] - r[2][2]) * 2;
        qa = (r[2][1] - r[1][2]) / s;
        qb = s / 4;
        qc = (r[0][1] + r[1][0]) / s;
        qd = (r[0][2] + r[2][0]) / s;
    } else if (r[1][1] > r[2][2]) {
        double s = sqrt(1 + r[1][1] - r[0][0] - r[2][2]) * 2;
        qa = (r[0][2] - r[2][0]) / s;
        qb = (r[0][1] + r[1][0]) / s;
        qc = s / 4;
        qd = (r[1][2] + r[2][1]) / s;
    } else {
        double s = sqrt(1 + r[2][2] - r[0][0] - r[1][1]) * 2;
        qa = (r[1][0] - r[0][1]) / s;
        qb = (r[0][2] + r[2][0]) / s;
        qc = (r[1][2] + r[2][1]) / s;
        qd = s / 4;
    }
    if (qa < 0) {
        qb = -qb;
        qc = -qc;
        qd = -qd;
    }
    quatern[0] = qb;
    quatern[1] = qc;
    quatern[2] = qd;
}

/* LPS to RAS: the first two rows negated. */
static void to_ras(double m[3][4])
{
    for (guint a = 0; a < 2; a++)
        for (guint c = 0; c < 4; c++)
            m[a][c] = -m[a][c];
}

/* A 3D acquisition turned without loss to the orientation nearest RAS, as
 * dcm2niix does by default: output axis a is the stacked axis closest to
 * RAS axis a, reversed where it points the other way. */
static void orient_nearest_ras(DfsVolume *v)
{
    gboolean used[3] = {FALSE, FALSE, FALSE}, done[3] = {FALSE, FALSE, FALSE};
    for (guint round = 0; round < 3; round++) {
        /* the largest remaining |component| decides one pairing */
        double best = -1;
        guint ba = 0, bc = 0;
        for (guint a = 0; a < 3; a++)
            for (guint c = 0; c < 3; c++)
                if (!done[a] && !used[c] && fabs(v->sform[a][c]) > best) {
                    best = fabs(v->sform[a][c]);
                    ba = a;
                    bc = c;
                }
        done[ba] = used[bc] = TRUE;
        v->perm[ba] = bc;
        v->flip[ba] = v->sform[ba][bc] < 0;
    }
    double s[3][4], q[3][4];
    for (guint r = 0; r < 3; r++) {
        s[r][3] = v->sform[r][3];
        q[r][3] = v->qform[r][3];
    }
    for (guint a = 0; a < 3; a++) {
        guint c = v->perm[a];
        double sign = v->flip[a] ? -1 : 1;
        for (guint r = 0; r < 3; r++) {
            s[r][a] = sign * v->sform[r][c];
            q[r][a] = sign * v->qform[r][c];
            if (v->flip[a]) { /* the origin moves to the other end */
                s[r][3] += v->sform[r][c] * (v->n_in[c] - 1);
                q[r][3] += v->qform[r][c] * (v->n_in[c] - 1);
            }
        }
    }
    memcpy(v->sform, s, sizeof s);
    memcpy(v->qform, q, sizeof q);
    double pix[3] = {v->pixdim[0], v->pixdim[1], v->pixdim[2]};
    for (guint a = 0; a < 3; a++) {
        v->dim[a] = v->n_in[v->perm[a]];
        v->pixdim[a] = pix[v->perm[a]];
    }
}

/* --- one volume ------------------------------------------------------------------------ */

static void warn(DfsVolume *v, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void warn(DfsVolume *v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_ptr_array_add(v->warnings, g_strdup_vprintf(fmt, ap));
    va_end(ap);
}

static void note(DfsVolumePlan *p, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void note(DfsVolumePlan *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_ptr_array_add(p->notes, g_strdup_vprintf(fmt, ap));
    va_end(ap);
}

static void choose_type(DfsVolume *v, const DfsSlice *s, gboolean scaling_varies)
{
    /* The bytes of a stored value: 1-bit data (segmentations) are unpacked
     * to a byte a value, 0 or 1, and are 8-bit voxels. */
    guint bits = 8 * dfs_slice_sample_bytes(s);
    v->slope = s->slope;
    v->inter = s->intercept;
    if (s->samples == 3)
        v->datatype = DFS_NIFTI_RGB24;
    else if (s->is_float)
        v->datatype = bits == 64 ? DFS_NIFTI_FLOAT64 : DFS_NIFTI_FLOAT32;
    else if (bits == 8)
        v->datatype = s->is_signed ? DFS_NIFTI_INT8 : DFS_NIFTI_UINT8;
    else if (bits == 16)
        /* unsigned with fewer than 16 bits stored fits INT16, as dcm2niix writes it */
        v->datatype = s->is_signed || s->bits_stored < 16 ? DFS_NIFTI_INT16 : DFS_NIFTI_UINT16;
    else /* 32-bit, signed or not, as INT32 (dcm2niix writes an RT dose's UINT32 so) */
        v->datatype = DFS_NIFTI_INT32;
    v->stored_type = v->datatype;
    if (s->bits_allocated == 1)
        warn(v, "1-bit values unpacked to 8-bit voxels (0 or 1).");
    if (scaling_varies) {
        v->to_float = TRUE;
        v->datatype = DFS_NIFTI_FLOAT32;
        v->slope = 1;
        v->inter = 0;
        warn(v, "Saving as 32-bit float (slope, intercept or bits allocated varies).");
    }
    v->bitpix = 8 * dfs_volume_type_bytes(v->datatype);
}

/* Slices and volumes (n_in[2], dim[3], order) of images idx[0..n) in
 * instance order: volumes where positions repeat, each position holding
 * one image of each.  FALSE (and a note) where they do not. */
static gboolean order_slices(DfsVolumePlan *p, DfsVolume *v, guint *idx, guint n,
                             const SortCtx *ctx)
{
    guint nt = 0;
    for (guint k = 0; k < n; k++)
        nt += fabs(position(ctx, idx[k]) - position(ctx, idx[0])) <= SAME_POSITION;
    g_qsort_with_data(idx, (gint)n, sizeof *idx, by_position, (gpointer)ctx);
    if (nt == 0 || n % nt != 0) {
        note(p, "%u image(s) at positions that repeat unevenly (%u at the first position): "
                "slices missing, no volume", n, nt);
        return FALSE;
    }
    guint nz = n / nt;
    /* Each position must hold nt images. */
    for (guint z = 0; z < nz; z++) {
        double pz = position(ctx, idx[z * nt]);
        if (fabs(position(ctx, idx[z * nt + nt - 1]) - pz) > SAME_POSITION ||
            (z + 1 < nz && fabs(position(ctx, idx[(z + 1) * nt]) - pz) <= SAME_POSITION)) {
            note(p, "%u image(s) whose positions hold unequal numbers of images: slices "
                    "missing, no volume", n);
            return FALSE;
        }
    }
    v->order = g_new(guint, n);
    v->n_order = n;
    for (guint z = 0; z < nz; z++)
        for (guint t = 0; t < nt; t++)
            v->order[t * nz + z] = idx[z * nt + t];
    v->n_in[2] = nz;
    v->dim[3] = nt;
    return TRUE;
}

/* The same for the tiles of mosaics: each mosaic one volume (as dcm2niix
 * takes them), its tiles in position order; the first mosaic's positions
 * are the volume's (a later one elsewhere is warned of). */
static gboolean order_mosaics(DfsVolumePlan *p, DfsVolume *v, guint *idx, guint n,
                              const SortCtx *ctx)
{
    const DfsSlice *first = &p->slices[idx[0]];
    guint nz = 0;
    while (nz < n && p->slices[idx[nz]].node == first->node &&
           p->slices[idx[nz]].frame == first->frame)
        nz++;
    if (n % nz != 0) {
        note(p, "%u mosaic tiles, %u in the first mosaic: mosaics of different sizes, no volume",
             n, nz);
        return FALSE;
    }
    guint nt = n / nz;
    gboolean moved = FALSE;
    for (guint t = 0; t < nt; t++) {
        guint *tiles = idx + t * nz;
        for (guint z = 1; z < nz; z++)
            if (p->slices[tiles[z]].node != p->slices[tiles[0]].node ||
                p->slices[tiles[z]].frame != p->slices[tiles[0]].frame) {
                note(p, "%u mosaic tiles in mosaics of different sizes: no volume", n);
                return FALSE;
            }
        g_qsort_with_data(tiles, (gint)nz, sizeof *tiles, by_position, (gpointer)ctx);
        moved |= fabs(position(ctx, tiles[0]) - position(ctx, idx[0])) > SAME_POSITION;
    }
    if (moved)
        warn(v, "Mosaics of this series start at different positions along the normal: the "
                "first one's positions are written for every volume.");
    v->order = g_memdup2(idx, n * sizeof *idx);
    v->n_order = n;
    v->n_in[2] = nz;
    v->dim[3] = nt;
    return TRUE;
}

/* Volume v of the images idx[0..n) of one set. FALSE (and a note) where
 * they make no volume. */
static gboolean build_volume(DfsVolumePlan *p, DfsVolume *v, guint *idx, guint n)
{
    const DfsSlice *first = &p->slices[idx[0]];
    SortCtx ctx = {p->slices, {0, 0, 0}};
    normal_of(first, ctx.normal);
    if (!first->has_geometry || dot3(ctx.normal, ctx.normal) < 0.5) {
        note(p, "%u image(s) without ImagePositionPatient, ImageOrientationPatient and "
                "PixelSpacing: no volume", n);
        return FALSE;
    }
    for (guint k = 0; k < n; k++)
        if (!p->slices[idx[k]].has_geometry) {
            note(p, "%u image(s) where some lack ImagePositionPatient: no volume", n);
            return FALSE;
        }
    /* Instance order first: volumes follow each other in it. */
    g_qsort_with_data(idx, (gint)n, sizeof *idx, by_instance, p->slices);
    gboolean ok = first->rows < first->frame_rows || first->columns < first->frame_columns
                      ? order_mosaics(p, v, idx, n, &ctx)
                      : order_slices(p, v, idx, n, &ctx);
    if (!ok)
        return FALSE;
    guint nz = v->n_in[2], nt = v->dim[3];

    /* Scaling that varies makes float32. */
    gboolean varies = FALSE;
    for (guint k = 1; k < n; k++) {
        const DfsSlice *s = &p->slices[idx[k]];
        varies |= fabs(s->slope - first->slope) > 1e-6 * fabs(first->slope) ||
                  fabs(s->intercept - first->intercept) > 1e-6 * MAX(1, fabs(first->intercept));
    }
    const DfsSlice *s0 = &p->slices[v->order[0]];
    choose_type(v, s0, varies);

    /* Geometry from the first slice of the first volume. */
    /* One slice: its spacing is SpacingBetweenSlices, else its thickness
     * (as dcm2niix writes it). */
    double step[3] = {0, 0, 0},
           dz = s0->between > 0 ? s0->between : s0->thickness > 0 ? s0->thickness : 1, proj = dz;
    if (nz > 1) {
        const DfsSlice *s1 = &p->slices[v->order[1]];
        for (guint k = 0; k < 3; k++)
            step[k] = s1->ipp[k] - s0->ipp[k];
        dz = sqrt(dot3(step, step));
        proj = dot3(step, ctx.normal);
        double min = G_MAXDOUBLE, max = 0;
        for (guint z = 0; z + 1 < nz; z++) {
            double d = position(&ctx, v->order[z + 1]) - position(&ctx, v->order[z]);
            min = MIN(min, d);
            max = MAX(max, d);
        }
        if (max - min > SAME_STEP)
            warn(v, "Interslice distance varies in this volume (incompatible with NIfTI "
                    "format): steps from %.4g to %.4g mm, written with the first (%.4g mm), "
                    "never resampled.", min, max, proj);
        double off = sqrt(MAX(0, dot3(step, step) - proj * proj));
        if (off > SAME_STEP && atan2(off, fabs(proj)) > TILT_DEGREES * G_PI / 180) {
            v->tilted = TRUE;
            warn(v, "Gantry tilt: each slice is %.4g mm off the normal of the one before; the "
                    "sform carries the shear, so every slice lands on its "
                    "ImagePositionPatient (dcm2niix estimates the tilt instead, and writes a "
                    "resliced _Tilt copy, not made here).", off);
        }
    }
    double col[3], row[3], nrm[3];
    for (guint k = 0; k < 3; k++) {
        col[k] = s0->iop[k] * s0->spacing[1];     /* along a row: i */
        row[k] = s0->iop[3 + k] * s0->spacing[0]; /* down the columns: j */
        nrm[k] = ctx.normal[k] * (v->tilted ? proj : dz);
    }
    for (guint k = 0; k < 3; k++) {
        /* j runs bottom up: the origin is the last row's first voxel */
        double origin = s0->ipp[k] + row[k] * (s0->rows - 1);
        v->sform[k][0] = v->qform[k][0] = col[k];
        v->sform[k][1] = v->qform[k][1] = -row[k];
        v->qform[k][2] = nrm[k];
        v->sform[k][2] = v->tilted ? step[k] : nrm[k];
        v->sform[k][3] = v->qform[k][3] = origin;
    }
    to_ras(v->sform);
    to_ras(v->qform);
    v->n_in[0] = s0->columns;
    v->n_in[1] = s0->rows;
    for (guint a = 0; a < 3; a++) {
        v->perm[a] = a;
        v->flip[a] = FALSE;
        v->dim[a] = v->n_in[a];
    }
    v->dim[3] = nt;
    v->pixdim[0] = s0->spacing[1];
    v->pixdim[1] = s0->spacing[0];
    v->pixdim[2] = v->tilted ? proj : dz;
    if (nz == 1 && nt > 1)
        warn(v, "All images appear to be a single slice: written as %u volumes of one slice.",
             nt);
    if (s0->mr3d && nt == 1 && nz > 1 && g_str_equal(g_strstrip(s0->modality), "MR") &&
        !v->tilted) /* (a single slice is written as it is stored, as dcm2niix does) */
        orient_nearest_ras(v);

    /* TR in seconds; between volumes, the acquisition times where they
     * differ from it by more than 50 ms. */
    v->pixdim[3] = s0->tr / 1000;
    if (nt > 1) {
        const DfsSlice *s1 = &p->slices[v->order[nz]];
        if (s0->acq_time >= 0 && s1->acq_time >= 0) {
            double dt = s1->acq_time - s0->acq_time;
            if (dt > 0 && fabs(dt - v->pixdim[3]) > 0.05) {
                if (v->pixdim[3] > 0)
                    warn(v, "TR %.4g s from RepetitionTime, %.4g s between volumes from "
                            "AcquisitionTime: the latter written.", v->pixdim[3], dt);
                v->pixdim[3] = dt;
            }
        }
    }
    quaternion_of(v->qform, v->quatern, &v->qfac);
    GString *d = g_string_new(NULL);
    if (s0->echo_time > 0)
        g_string_append_printf(d, "TE=%.2g;", s0->echo_time);
    g_string_append_printf(d, "Time=%.3f", s0->acq_time_hhmmss);
    if (s0->phase_positive >= 0) /* Siemens' phase encoding polarity */
        g_string_append_printf(d, ";phase=%d", s0->phase_positive);
    g_strlcpy(v->descrip, d->str, sizeof v->descrip);
    g_string_free(d, TRUE);
    g_strlcpy(v->aux_file, s0->comments, sizeof v->aux_file);
    v->voxel_bytes = (guint64)v->dim[0] * v->dim[1] * v->dim[2] * v->dim[3] * (v->bitpix / 8);
    return TRUE;
}

/* --- the plan ------------------------------------------------------------------------- */

typedef struct {
    char *key;
    GArray *idx; /* guint */
} Set;

static int by_first(gconstpointer a, gconstpointer b, gpointer user)
{
    const Set *x = *(Set *const *)a, *y = *(Set *const *)b;
    return by_instance(&g_array_index(x->idx, guint, 0), &g_array_index(y->idx, guint, 0), user);
}

/* The postfixes of dcm2niix for what split the sets. */
static char *postfix(DfsVolumePlan *p, const Set *sets, guint n_sets, guint k)
{
    const DfsSlice *s = &p->slices[g_array_index(sets[k].idx, guint, 0)];
    gboolean echoes = FALSE, other = FALSE;
    for (guint j = 0; j < n_sets; j++) {
        const DfsSlice *o = &p->slices[g_array_index(sets[j].idx, guint, 0)];
        if (o->echo_number != s->echo_number || o->echo_time != s->echo_time)
            echoes = TRUE;
        else if (j != k && o->phase == s->phase && o->real == s->real &&
                 o->imaginary == s->imaginary)
            other = TRUE;
    }
    GString *out = g_string_new(NULL);
    if (echoes) {
        g_string_append_printf(out, "_e%" G_GINT64_FORMAT, s->echo_number);
        p->volumes[p->n_volumes].multi_echo = TRUE;
    }
    if (s->phase)
        g_string_append(out, "_ph");
    if (s->real)
        g_string_append(out, "_real");
    if (s->imaginary)
        g_string_append(out, "_imaginary");
    if (other) /* split by orientation, shape, TR or flip angle */
        g_string_append_printf(out, "_i%05" G_GINT64_FORMAT, s->instance_number);
    return g_string_free(out, FALSE);
}

DfsVolumePlan *dfs_volume_plan_new(DfsSlice *slices, guint n)
{
    DfsVolumePlan *p = g_new0(DfsVolumePlan, 1);
    p->refs = 1;
    p->slices = slices;
    p->n_slices = n;
    p->notes = g_ptr_array_new_with_free_func(g_free);
    g_mutex_init(&p->lock);

    /* Exact duplicates (one SOP Instance UID, frame and tile twice) are dropped. */
    GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GHashTable *by_key = g_hash_table_new(g_str_hash, g_str_equal);
    GPtrArray *list = g_ptr_array_new();
    guint dropped = 0, mosaics = 0;
    for (guint i = 0; i < n; i++) {
        if (slices[i].mosaic && slices[i].rows == slices[i].frame_rows) { /* not taken apart */
            mosaics++;
            continue;
        }
        char *id = g_strdup_printf("%s/%u/%u/%u", slices[i].sop_uid, slices[i].frame,
                                   slices[i].row0, slices[i].col0);
        if (*slices[i].sop_uid && g_hash_table_contains(seen, id)) {
            dropped++;
            g_free(id);
            continue;
        }
        g_hash_table_add(seen, id);
        char *key = set_key(&slices[i]);
        Set *set = g_hash_table_lookup(by_key, key);
        if (set == NULL) {
            set = g_new(Set, 1);
            set->key = key;
            set->idx = g_array_new(FALSE, FALSE, sizeof(guint));
            g_hash_table_insert(by_key, key, set);
            g_ptr_array_add(list, set);
        } else
            g_free(key);
        g_array_append_val(set->idx, i);
    }
    if (dropped)
        note(p, "%u duplicate image(s) (the same SOPInstanceUID) dropped", dropped);
    if (mosaics)
        note(p, "%u Siemens mosaic image(s) (ImageType MOSAIC) whose CSA header does not say "
                "how many images they hold (NumberOfImagesInMosaic): no volume", mosaics);
    g_hash_table_unref(by_key);
    g_hash_table_unref(seen);
    g_ptr_array_sort_with_data(list, by_first, slices);
    GArray *sets = g_array_new(FALSE, FALSE, sizeof(Set));
    for (guint k = 0; k < list->len; k++) {
        g_array_append_vals(sets, list->pdata[k], 1);
        g_free(list->pdata[k]);
    }
    g_ptr_array_unref(list);

    p->volumes = g_new0(DfsVolume, sets->len);
    for (guint k = 0; k < sets->len; k++) {
        Set *set = &g_array_index(sets, Set, k);
        DfsVolume *v = &p->volumes[p->n_volumes];
        v->warnings = g_ptr_array_new_with_free_func(g_free);
        if (build_volume(p, v, (guint *)set->idx->data, set->idx->len)) {
            g_autofree char *base = base_stem(&slices[g_array_index(set->idx, guint, 0)]);
            g_autofree char *post = postfix(p, (Set *)sets->data, sets->len, k);
            v->stem = g_strconcat(base, post, NULL);
            p->n_volumes++;
        } else {
            g_ptr_array_unref(v->warnings);
            memset(v, 0, sizeof *v);
        }
    }
    /* Names that collide get a, b, ... as dcm2niix's -w 2. */
    for (guint k = 1; k < p->n_volumes; k++) {
        guint dup = 0;
        for (guint j = 0; j < k; j++)
            dup += g_str_equal(p->volumes[j].stem, p->volumes[k].stem);
        if (dup > 0 && dup <= 26) {
            char *named = g_strdup_printf("%s%c", p->volumes[k].stem, 'a' + dup - 1);
            g_free(p->volumes[k].stem);
            p->volumes[k].stem = named;
        }
    }
    for (guint k = 0; k < sets->len; k++) {
        g_free(g_array_index(sets, Set, k).key);
        g_array_unref(g_array_index(sets, Set, k).idx);
    }
    g_array_unref(sets);
    return p;
}

DfsVolumePlan *dfs_volume_plan_ref(DfsVolumePlan *p)
{
    g_atomic_int_inc(&p->refs);
    return p;
}

void dfs_volume_plan_unref(DfsVolumePlan *p)
{
    if (p == NULL || !g_atomic_int_dec_and_test(&p->refs))
        return;
    for (guint k = 0; k < p->n_volumes; k++) {
        if (p->volumes[k].kept_free != NULL)
            p->volumes[k].kept_free(p->volumes[k].kept);
        g_free(p->volumes[k].stem);
        g_free(p->volumes[k].order);
        g_ptr_array_unref(p->volumes[k].warnings);
    }
    g_free(p->volumes);
    for (guint k = 0; k < p->n_slices; k++)
        dfs_slice_clear(&p->slices[k]);
    g_free(p->slices);
    g_ptr_array_unref(p->notes);
    g_mutex_clear(&p->lock);
    g_free(p);
}

gsize dfs_volume_plan_memory(const DfsVolumePlan *p)
{
    gsize m = sizeof *p + p->n_slices * (sizeof(DfsSlice) + 256);
    for (guint k = 0; k < p->n_volumes; k++)
        m += sizeof(DfsVolume) + p->volumes[k].n_order * sizeof(guint) + 256;
    return m;
}
