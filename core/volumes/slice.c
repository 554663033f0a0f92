/* dicomfs core: the facts of one image for the volumes.  See slice.h. */
#include "volumes/slice.h"

#include <math.h>
#include <string.h>

#include "base/error.h"
#include "dicom/tags.h"
#include "volumes/csa.h"

static gint64 get_int(const DfsDataset *ds, guint32 tag, gint64 fallback)
{
    gint64 v;
    return dfs_dataset_get_int(ds, DFS_ROOT, tag, 0, &v) ? v : fallback;
}

gboolean dfs_private_number(const DfsDataset *ds, guint32 tag, guint n, double *out)
{
    if (dfs_dataset_get_double(ds, DFS_ROOT, tag, n, out))
        return isfinite(*out);
    gsize len;
    guint i = dfs_dataset_find(ds, DFS_ROOT, tag);
    const guint8 *b = i == DFS_NO_INDEX ? NULL : dfs_dataset_value(ds, i, &len);
    if (b == NULL || len == 0)
        return FALSE;
    /* text read as implicit VR (DS, IS) is digits, signs, points, blanks
     * and backslashes; anything else of 2 bytes is an SS */
    gboolean text = TRUE;
    for (gsize k = 0; k < len && text; k++)
        text = g_ascii_isdigit(b[k]) || (b[k] != 0 && strchr("+-.eE \\", b[k]) != NULL);
    if (!text && len == 2 && n == 0) {
        *out = (gint16)(b[0] | b[1] << 8);
        return TRUE;
    }
    if (!text)
        return FALSE;
    g_autofree char *chars = g_strndup((const char *)b, len);
    g_auto(GStrv) parts = g_strsplit(chars, "\\", -1);
    if (n >= g_strv_length(parts))
        return FALSE;
    char *end;
    *out = g_ascii_strtod(g_strstrip(parts[n]), &end);
    return end != parts[n] && *end == '\0' && isfinite(*out);
}

const char *dfs_vendor_name(const char *raw)
{
    static const struct {
        const char *contains, *name;
    } known[] = {
        {"SIEMENS", "Siemens"}, {"GE ", "GE"},         {"GE_", "GE"},
        {"PHILIPS", "Philips"}, {"TOSHIBA", "Toshiba"}, {"CANON", "Canon"},
        {"UIH", "UIH"},         {"HITACHI", "Hitachi"},
        {"BRUKER", "Bruker"},   {"MEDISO", "Mediso"},
    };
    g_autofree char *up = g_ascii_strup(raw, -1);
    if (g_str_equal(up, "GE"))
        return "GE";
    for (guint k = 0; k < G_N_ELEMENTS(known); k++)
        if (strstr(up, known[k].contains) != NULL)
            return known[k].name;
    return NULL;
}

static char *get_string(const DfsDataset *ds, guint32 tag)
{
    char *s = dfs_dataset_get_string(ds, DFS_ROOT, tag);
    return s ? s : g_strdup("");
}

/* A DICOM TM value (HHMMSS.FFFFFF, or the old HH:MM:SS) in seconds, and as
 * the number HHMMSS.FFFFFF; FALSE if absent or not a time. */
static gboolean parse_time(const char *tm, double *seconds, double *hhmmss)
{
    char digits[32];
    guint n = 0;
    const char *p = tm;
    for (; *p && n < sizeof digits - 1; p++)
        if (*p != ':')
            digits[n++] = *p;
    digits[n] = '\0';
    guint whole = 0;
    while (whole < n && g_ascii_isdigit(digits[whole]))
        whole++;
    if (whole < 2 || whole > 6 || whole % 2 != 0)
        return FALSE;
    char *end;
    double v = g_ascii_strtod(digits, &end);
    if (end == digits || *end != '\0' || !isfinite(v))
        return FALSE;
    /* Missing minutes and seconds are zero. */
    double scale = whole == 2 ? 10000 : whole == 4 ? 100 : 1;
    v *= scale;
    double h = floor(v / 10000), m = floor(fmod(v, 10000) / 100), s = fmod(v, 100);
    *seconds = h * 3600 + m * 60 + s;
    *hhmmss = v;
    return TRUE;
}

/* Philips' private scale slope (SS), and the per-frame sequence holding it:
 * fixed tags, as dcm2niix reads them. */
#define PHILIPS_SCALE_SLOPE 0x2005100Eu
#define PHILIPS_PIXEL_VALUE_SEQUENCE 0x2005140Fu
#define GE_RAW_DATA_TYPE 0x0043102Fu /* SS: 0 magnitude, 1 phase, 2 real, 3 imaginary */
#define GE_SLOP_INT_6_9 0x00431039u  /* IS: the b value (plus 10^9 on some), ... */
#define GE_GRADIENT_X 0x001910BBu    /* DS: user data 20-22, the gradient on the image's axes */
#define GE_GRADIENT_Y 0x001910BCu
#define GE_GRADIENT_Z 0x001910BDu

/* --- enhanced multi-frame objects ------------------------------------------ */

/* Item k of sequence seq directly inside parent, or DFS_NO_INDEX. */
static guint item_of(const DfsDataset *ds, guint parent, guint32 seq, guint k)
{
    guint sq = dfs_dataset_find(ds, parent, seq);
    if (sq == DFS_NO_INDEX)
        return DFS_NO_INDEX;
    guint end = dfs_dataset_element(ds, sq)->end;
    for (guint i = dfs_dataset_first_child(ds, sq); i < end;
         i = dfs_dataset_element(ds, i)->end) {
        if (k-- == 0)
            return i;
    }
    return DFS_NO_INDEX;
}

/* Where frame's attributes are: the item of each functional group macro
 * (a sequence tag) for the frame, in its Per-Frame item, else the Shared
 * one; then the top level.  A classic image has only the top level. */
typedef struct {
    const DfsDataset *ds;
    guint frame_item, shared_item;
} Frame;

static guint group_of(const Frame *f, guint32 group)
{
    guint it = f->frame_item == DFS_NO_INDEX ? DFS_NO_INDEX
                                             : item_of(f->ds, f->frame_item, group, 0);
    if (it == DFS_NO_INDEX && f->shared_item != DFS_NO_INDEX)
        it = item_of(f->ds, f->shared_item, group, 0);
    return it;
}

/* Value n of tag: in group's item for the frame, else at the top level. */
static gboolean frame_double(const Frame *f, guint32 group, guint32 tag, guint n,
                             double *out)
{
    guint it = group ? group_of(f, group) : DFS_NO_INDEX;
    if (it != DFS_NO_INDEX && dfs_dataset_get_double(f->ds, it, tag, n, out) && isfinite(*out))
        return TRUE;
    return dfs_dataset_get_double(f->ds, DFS_ROOT, tag, n, out) && isfinite(*out);
}

static double frame_double_or(const Frame *f, guint32 group, guint32 tag, double fallback)
{
    double v;
    return frame_double(f, group, tag, 0, &v) ? v : fallback;
}

/* The b value and gradient: the MR Diffusion macro (an enhanced frame's
 * MR Diffusion Sequence, else the top level), else Siemens' CSA header. */
static void read_diffusion(const Frame *f, const guint8 *csa, gsize csa_len, gboolean ge,
                           DfsSlice *out)
{
    guint it = group_of(f, DFS_TAG_MR_DIFFUSION_SEQUENCE);
    guint where = it != DFS_NO_INDEX ? it : DFS_ROOT;
    double b;
    if (dfs_dataset_get_double(f->ds, where, DFS_TAG_DIFFUSION_B_VALUE, 0, &b) && isfinite(b)) {
        out->has_b = TRUE;
        out->b = b;
        /* (DFS_ROOT is DFS_NO_INDEX: the top level is asked for apart) */
        guint dir = it != DFS_NO_INDEX
                        ? item_of(f->ds, it, DFS_TAG_DIFFUSION_GRADIENT_DIRECTION_SEQUENCE, 0)
                        : DFS_ROOT;
        gboolean found = it == DFS_NO_INDEX || dir != DFS_NO_INDEX;
        for (guint k = 0; k < 3; k++)
            if (!found ||
                !dfs_dataset_get_double(f->ds, dir, DFS_TAG_DIFFUSION_GRADIENT_ORIENTATION, k,
                                        &out->gradient[k]) || !isfinite(out->gradient[k]))
                out->gradient[k] = 0;
        return;
    }
    if (ge && dfs_private_number(f->ds, GE_SLOP_INT_6_9, 0, &b) && b >= 0) {
        /* GE's: the b value less the 10^9 some versions add; the gradient
         * already on the image's axes, written as it is (as dcm2niix) */
        static const guint32 axes[3] = {GE_GRADIENT_X, GE_GRADIENT_Y, GE_GRADIENT_Z};
        out->has_b = TRUE;
        out->b = fmod(b, 1e9);
        out->gradient_on_axes = TRUE;
        for (guint k = 0; k < 3; k++)
            if (!dfs_private_number(f->ds, axes[k], 0, &out->gradient[k]))
                out->gradient[k] = 0;
        return;
    }
    if (csa != NULL && dfs_csa_number(csa, csa_len, "B_value", 0, &b)) {
        out->has_b = TRUE;
        out->b = b;
        for (guint k = 0; k < 3; k++)
            if (!dfs_csa_number(csa, csa_len, "DiffusionGradientDirection", k, &out->gradient[k]))
                out->gradient[k] = 0;
    }
}

gboolean dfs_slice_read(const DfsDataset *ds, guint node, guint frame, DfsSlice *out,
                        GError **error)
{
    memset(out, 0, sizeof *out);
    if (!dfs_image_describe(ds, &out->image, error))
        return FALSE;
    if (frame >= out->image.frames) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_MALFORMED, "no frame %u", frame + 1);
        return FALSE;
    }
    out->node = node;
    out->frame = frame;
    out->rows = out->frame_rows = out->image.rows;
    out->columns = out->frame_columns = out->image.columns;
    out->samples = out->image.samples;
    out->bits_allocated = out->image.bits_allocated;
    out->bits_stored = out->image.bits_stored;
    out->is_signed = out->image.is_signed;
    out->is_float = out->image.is_float;
    Frame f = {ds, item_of(ds, DFS_ROOT, DFS_TAG_PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE, frame),
               item_of(ds, DFS_ROOT, DFS_TAG_SHARED_FUNCTIONAL_GROUPS_SEQUENCE, 0)};
    out->enhanced = f.frame_item != DFS_NO_INDEX;
    gsize csa_len;
    const guint8 *csa = dfs_csa_image_header(ds, &csa_len);
    double positive;
    out->phase_positive = csa != NULL && dfs_csa_number(csa, csa_len,
                                                        "PhaseEncodingDirectionPositive", 0,
                                                        &positive)
                              ? positive != 0
                              : -1;

    gboolean geometry = TRUE;
    for (guint k = 0; k < 3; k++)
        geometry &= frame_double(&f, DFS_TAG_PLANE_POSITION_SEQUENCE,
                                 DFS_TAG_IMAGE_POSITION_PATIENT, k, &out->ipp[k]);
    for (guint k = 0; k < 6; k++)
        geometry &= frame_double(&f, DFS_TAG_PLANE_ORIENTATION_SEQUENCE,
                                 DFS_TAG_IMAGE_ORIENTATION_PATIENT, k, &out->iop[k]);
    for (guint k = 0; k < 2; k++)
        geometry &= frame_double(&f, DFS_TAG_PIXEL_MEASURES_SEQUENCE, DFS_TAG_PIXEL_SPACING, k,
                                 &out->spacing[k]) && out->spacing[k] > 0;
    out->has_geometry = geometry;
    out->thickness = frame_double_or(&f, DFS_TAG_PIXEL_MEASURES_SEQUENCE,
                                     DFS_TAG_SLICE_THICKNESS, 0);
    out->between = frame_double_or(&f, DFS_TAG_PIXEL_MEASURES_SEQUENCE,
                                   DFS_TAG_SPACING_BETWEEN_SLICES, 0);
    if (!isfinite(out->between) || out->between < 0)
        out->between = 0;
    out->slope = frame_double_or(&f, DFS_TAG_PIXEL_VALUE_TRANSFORMATION_SEQUENCE,
                                 DFS_TAG_RESCALE_SLOPE, 1);
    out->intercept = frame_double_or(&f, DFS_TAG_PIXEL_VALUE_TRANSFORMATION_SEQUENCE,
                                     DFS_TAG_RESCALE_INTERCEPT, 0);
    if (out->slope == 0)
        out->slope = 1; /* as the converters read a zero slope */
    g_autofree char *maker = get_string(ds, DFS_TAG_MANUFACTURER);
    const char *vendor = dfs_vendor_name(maker);
    double ss;
    if (vendor != NULL && g_str_equal(vendor, "Philips") &&
        frame_double(&f, PHILIPS_PIXEL_VALUE_SEQUENCE, PHILIPS_SCALE_SLOPE, 0, &ss) && ss > 0) {
        /* Philips' floating point values (dcm2niix's default -p y):
         * (stored x RS + RI) / (RS x SS) */
        out->intercept = out->intercept / (out->slope * ss);
        out->slope = 1 / ss;
        out->philips_precise = TRUE;
    }
    gboolean ge = vendor != NULL && g_str_equal(vendor, "GE");
    read_diffusion(&f, csa, csa_len, ge, out);
    out->echo_time = frame_double_or(&f, 0, DFS_TAG_ECHO_TIME, 0);
    if (out->enhanced)
        out->echo_time = frame_double_or(&f, DFS_TAG_MR_ECHO_SEQUENCE, DFS_TAG_EFFECTIVE_ECHO_TIME,
                                         out->echo_time);
    out->tr = frame_double_or(&f, DFS_TAG_MR_TIMING_AND_RELATED_PARAMETERS_SEQUENCE,
                              DFS_TAG_REPETITION_TIME, 0);
    out->flip = frame_double_or(&f, DFS_TAG_MR_TIMING_AND_RELATED_PARAMETERS_SEQUENCE,
                                DFS_TAG_FLIP_ANGLE, 0);
    out->echo_number = get_int(ds, DFS_TAG_ECHO_NUMBERS, 0);
    out->series_number = get_int(ds, DFS_TAG_SERIES_NUMBER, 0);
    out->instance_number = get_int(ds, DFS_TAG_INSTANCE_NUMBER, 0);

    /* The frame's acquisition time (a DT's time part), else the image's. */
    g_autofree char *tm = NULL;
    guint content = out->enhanced ? group_of(&f, DFS_TAG_FRAME_CONTENT_SEQUENCE) : DFS_NO_INDEX;
    char *dt = content == DFS_NO_INDEX ? NULL
               : dfs_dataset_get_string(ds, content, DFS_TAG_FRAME_ACQUISITION_DATE_TIME);
    if (dt != NULL && strlen(g_strstrip(dt)) > 8)
        tm = g_strdup(dt + 8);
    g_free(dt);
    if (tm == NULL)
        tm = get_string(ds, DFS_TAG_ACQUISITION_TIME);
    if (!parse_time(g_strstrip(tm), &out->acq_time, &out->acq_time_hhmmss)) {
        out->acq_time = -1;
        out->acq_time_hhmmss = 0;
    }

    out->image_type = get_string(ds, DFS_TAG_IMAGE_TYPE);
    g_auto(GStrv) types = g_strsplit(out->image_type, "\\", -1);
    for (guint k = 2; types[0] && types[1] && types[k]; k++) {
        const char *t = g_strstrip(types[k]);
        out->phase |= g_str_equal(t, "P") || g_str_equal(t, "PHASE");
        out->real |= g_str_equal(t, "R") || g_str_equal(t, "REAL");
        out->imaginary |= g_str_equal(t, "I") || g_str_equal(t, "IMAGINARY");
    }
    /* GE says which in its raw data type (its ImageType often says OTHER) */
    double raw_type = 0;
    if (!ge || !dfs_private_number(ds, GE_RAW_DATA_TYPE, 0, &raw_type))
        raw_type = 0;
    out->phase |= raw_type == 1;
    out->real |= raw_type == 2;
    out->imaginary |= raw_type == 3;
    for (guint k = 0; types[k]; k++)
        out->mosaic |= g_str_equal(g_strstrip(types[k]), "MOSAIC");
    g_autofree char *acq_type = get_string(ds, DFS_TAG_MR_ACQUISITION_TYPE);
    out->mr3d = g_str_equal(g_strstrip(acq_type), "3D");
    out->modality = get_string(ds, DFS_TAG_MODALITY);
    out->protocol = get_string(ds, DFS_TAG_PROTOCOL_NAME);
    out->description = get_string(ds, DFS_TAG_SERIES_DESCRIPTION);
    out->series_uid = get_string(ds, DFS_TAG_SERIES_INSTANCE_UID);
    out->sop_uid = get_string(ds, DFS_TAG_SOP_INSTANCE_UID);
    out->manufacturer = get_string(ds, DFS_TAG_MANUFACTURER);
    out->comments = get_string(ds, DFS_TAG_IMAGE_COMMENTS);
    const char *ts = dfs_dataset_transfer_syntax(ds);
    out->transfer_syntax = g_strdup(ts ? ts : "");
    return TRUE;
}

/* --- Siemens mosaics ---------------------------------------------------------- */

static void copy_strings(DfsSlice *to, const DfsSlice *from)
{
    char **fields[] = {&to->modality,     &to->protocol,   &to->description, &to->series_uid,
                       &to->sop_uid,      &to->manufacturer, &to->image_type, &to->comments,
                       &to->transfer_syntax};
    for (guint k = 0; k < G_N_ELEMENTS(fields); k++)
        *fields[k] = g_strdup(*fields[k]);
}

/* The n tiles of mosaic m (n >= 2) appended to slices; FALSE where they do
 * not fit. */
static gboolean expand_mosaic(const DfsDataset *ds, const DfsSlice *m, guint n, GArray *slices,
                              GError **error)
{
    guint per_row = (guint)ceil(sqrt((double)n));
    guint rows = m->frame_rows / per_row, cols = m->frame_columns / per_row;
    if (rows == 0 || cols == 0 || rows * per_row != m->frame_rows ||
        cols * per_row != m->frame_columns) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_MALFORMED,
                    "a mosaic of %u images in %u x %u pixels: not %u x %u tiles of one size", n,
                    m->frame_columns, m->frame_rows, per_row, per_row);
        return FALSE;
    }
    gsize csa_len;
    const guint8 *csa = dfs_csa_image_header(ds, &csa_len);
    double normal[3], len = 0;
    for (guint k = 0; k < 3; k++) {
        if (!dfs_csa_number(csa, csa_len, "SliceNormalVector", k, &normal[k]))
            normal[k] = m->iop[(k + 1) % 3] * m->iop[3 + (k + 2) % 3] - /* row x column */
                        m->iop[(k + 2) % 3] * m->iop[3 + (k + 1) % 3];
        len += normal[k] * normal[k];
    }
    len = sqrt(len);
    double step;
    if (!dfs_dataset_get_double(ds, DFS_ROOT, DFS_TAG_SPACING_BETWEEN_SLICES, 0, &step) ||
        !isfinite(step) || step <= 0)
        step = m->thickness > 0 ? m->thickness : 1;
    /* ImagePositionPatient is the mosaic's corner: the first tile's is
     * half the rest of the mosaic further along the rows and columns. */
    double first[3];
    for (guint k = 0; k < 3; k++)
        first[k] = m->ipp[k] + m->iop[k] * m->spacing[1] * (m->frame_columns - cols) / 2.0 +
                   m->iop[3 + k] * m->spacing[0] * (m->frame_rows - rows) / 2.0;
    for (guint t = 0; t < n; t++) {
        DfsSlice s = *m;
        copy_strings(&s, m);
        s.rows = rows;
        s.columns = cols;
        s.row0 = (t / per_row) * rows;
        s.col0 = (t % per_row) * cols;
        for (guint k = 0; k < 3; k++)
            s.ipp[k] = first[k] + (len > 0 ? normal[k] / len : 0) * step * t;
        g_array_append_val(slices, s);
    }
    return TRUE;
}

gboolean dfs_slices_read(const DfsDataset *ds, guint node, guint frames, GArray *slices,
                         GError **error)
{
    guint before = slices->len;
    for (guint f = 0; f < MAX(frames, 1u); f++) {
        DfsSlice s;
        if (!dfs_slice_read(ds, node, f, &s, error))
            goto fail;
        gsize csa_len;
        const guint8 *csa = s.mosaic ? dfs_csa_image_header(ds, &csa_len) : NULL;
        double n;
        if (csa != NULL && s.has_geometry &&
            dfs_csa_number(csa, csa_len, "NumberOfImagesInMosaic", 0, &n) && n >= 2 &&
            n <= 4096) {
            gboolean ok = expand_mosaic(ds, &s, (guint)n, slices, error);
            dfs_slice_clear(&s);
            if (!ok)
                goto fail;
            continue;
        }
        g_array_append_val(slices, s); /* (a mosaic without its CSA: refused by the plan) */
    }
    return TRUE;
fail:
    for (guint k = before; k < slices->len; k++)
        dfs_slice_clear(&g_array_index(slices, DfsSlice, k));
    g_array_set_size(slices, before);
    return FALSE;
}

void dfs_slice_clear(DfsSlice *s)
{
    g_free(s->modality);
    g_free(s->protocol);
    g_free(s->description);
    g_free(s->series_uid);
    g_free(s->sop_uid);
    g_free(s->manufacturer);
    g_free(s->image_type);
    g_free(s->comments);
    g_free(s->transfer_syntax);
    memset(s, 0, sizeof *s);
}

guint dfs_slice_sample_bytes(const DfsSlice *s)
{
    return dfs_image_sample_bytes(&s->image);
}
