/* dicomfs core: BIDS sidecars.  See bids.h.  Which keys, in which order and
 * units, is what dcm2niix 1.0.20220720 writes (README, "Volumes", says what
 * it writes that this does not), learnt from its output on real and
 * edited files: the standard attributes (an enhanced object's from the
 * functional groups), Siemens' CSA headers, its private elements and its
 * protocol (ASCCONV), and Philips' private elements. */
#include "volumes/bids.h"

#include <math.h>
#include <string.h>

#include "dicom/tags.h"
#include "volumes/ascconv.h"
#include "volumes/bytes.h"
#include "volumes/csa.h"

/* Vendors' private elements, by their fixed tags (dcm2niix reads them so,
 * whatever their creator says: an anonymiser's "Anon" included). */
#define SIEMENS_REAL_DWELL_TIME 0x00191018u        /* IS, ns */
#define SIEMENS_BANDWIDTH_PHASE_ENCODE 0x00191028u /* FD, Hz */
#define SIEMENS_IMAGE_ORIENTATION_TEXT 0x0051100Eu /* "Tra>Cor(-0.3)" */
#define SIEMENS_COIL_STRING 0x0051100Fu            /* "T:HEA;HEP" */
#define SIEMENS_PAT_MODE_TEXT 0x00511011u          /* "p2", "p2 s4" */
#define PHILIPS_EPI_FACTOR 0x20011013u             /* SL */
#define PHILIPS_WATER_FAT_SHIFT 0x20011022u        /* FL, pixels */
#define PHILIPS_SCALE_SLOPE 0x2005100Eu            /* FL */
#define GE_PULSE_SEQUENCE_NAME 0x0019109Cu         /* LO */
#define GE_EFFECTIVE_ECHO_SPACING 0x0043102Cu      /* SS, us */
#define GE_ASSET_R_FACTORS 0x00431083u             /* DS: in plane, out of plane */
#define GE_PRESCAN_REUSE_STRING 0x00431095u        /* LO */

/* The water-fat shift Philips' formula takes (ppm). */
#define WATER_FAT_PPM 3.4

/* What the keys are made from: the volume, its first image and the
 * header that holds it. */
typedef struct {
    const DfsVolumePlan *p;
    const DfsVolume *vol;
    const DfsSlice *s;
    const DfsDataset *ds;
    guint items[2]; /* an enhanced image's Per-Frame and Shared items, or DFS_NO_INDEX */
    gboolean mr, ct, siemens, philips, uih, ge;
    char *dir;      /* InPlanePhaseEncodingDirection, or NULL */
    gboolean by_row, by_col;
    DfsAscconv *asc; /* Siemens' protocol, or NULL */
    const guint8 *csa; /* Siemens' CSA image header, or NULL */
    gsize csa_len;
    GString *out;
} Ctx;

/* --- where the attributes are ------------------------------------------------ */

/* Item k of sequence seq directly inside parent, or DFS_NO_INDEX. */
static guint item_of(const DfsDataset *ds, guint parent, guint32 seq, guint k)
{
    guint sq = dfs_dataset_find(ds, parent, seq);
    if (sq == DFS_NO_INDEX)
        return DFS_NO_INDEX;
    guint end = dfs_dataset_element(ds, sq)->end;
    for (guint i = dfs_dataset_first_child(ds, sq); i < end; i = dfs_dataset_element(ds, i)->end)
        if (k-- == 0)
            return i;
    return DFS_NO_INDEX;
}

/* Where tag is for the volume's first image (its parent in *parent): for
 * a frame of an enhanced object, the first element with it at any depth of
 * the frame's Per-Frame item, else of the Shared item (dcm2niix reads the
 * functional groups' macros and Philips' private sequences in them alike,
 * and their values over the top level's); else the top level. */
static gboolean where(const Ctx *c, guint32 tag, guint *parent)
{
    for (guint k = 0; k < 2; k++) {
        if (c->items[k] == DFS_NO_INDEX)
            continue;
        guint end = dfs_dataset_element(c->ds, c->items[k])->end;
        for (guint i = c->items[k] + 1; i < end; i++) {
            const DfsElement *el = dfs_dataset_element(c->ds, i);
            if (el->tag == tag) {
                *parent = el->parent;
                return TRUE;
            }
        }
    }
    *parent = DFS_ROOT;
    return dfs_dataset_find(c->ds, DFS_ROOT, tag) != DFS_NO_INDEX;
}

/* The text of tag, trimmed, or NULL where absent or empty.  Caller frees. */
static char *text_of(const Ctx *c, guint32 tag)
{
    guint parent;
    char *v = where(c, tag, &parent) ? dfs_dataset_get_string(c->ds, parent, tag) : NULL;
    if (v != NULL && *g_strstrip(v) == '\0')
        g_clear_pointer(&v, g_free);
    return v;
}

/* The text of a top-level element whatever its VR (a private one read as
 * implicit VR has none: its bytes are the text), or NULL.  Caller frees. */
static char *root_text(const Ctx *c, guint32 tag)
{
    char *v = dfs_dataset_get_string(c->ds, DFS_ROOT, tag);
    if (v == NULL) {
        gsize len;
        guint i = dfs_dataset_find(c->ds, DFS_ROOT, tag);
        const guint8 *b = i == DFS_NO_INDEX ? NULL : dfs_dataset_value(c->ds, i, &len);
        if (b != NULL && g_utf8_validate((const char *)b, len, NULL) && !memchr(b, '\0', len))
            v = g_strndup((const char *)b, len);
    }
    if (v != NULL && *g_strstrip(v) == '\0')
        g_clear_pointer(&v, g_free);
    return v;
}

/* Value n of tag as a finite number. */
static gboolean number_of(const Ctx *c, guint32 tag, guint n, double *out)
{
    guint parent;
    return where(c, tag, &parent) && dfs_dataset_get_double(c->ds, parent, tag, n, out) &&
           isfinite(*out);
}

static gboolean private_number(const Ctx *c, guint32 tag, guint n, double *out)
{
    return dfs_private_number(c->ds, tag, n, out);
}

static double number_or(const Ctx *c, guint32 tag, double fallback)
{
    double v;
    return number_of(c, tag, 0, &v) ? v : fallback;
}

static double asc_or(const Ctx *c, const char *key, double fallback)
{
    double v;
    return dfs_ascconv_number(c->asc, key, &v) ? v : fallback;
}

/* --- writing ------------------------------------------------------------------- */

static void append_json_string(GString *out, const char *s)
{
    g_string_append_c(out, '"');
    for (const char *p = s; *p; p++) {
        if (*p == '"' || *p == '\\')
            g_string_append_printf(out, "\\%c", *p);
        else if ((guchar)*p < 0x20)
            g_string_append_printf(out, "\\u%04x", (guchar)*p);
        else
            g_string_append_c(out, *p);
    }
    g_string_append_c(out, '"');
}

static void key(GString *out, const char *name)
{
    g_string_append_printf(out, "\t\"%s\": ", name);
}

/* "key": "text", */
static void text_key(GString *out, const char *name, const char *text)
{
    key(out, name);
    append_json_string(out, text);
    g_string_append(out, ",\n");
}

/* "key": number, as dcm2niix prints it (%g: six significant digits) */
static void value_key(GString *out, const char *name, double v)
{
    key(out, name);
    dfs_append_number(out, v);
    g_string_append(out, ",\n");
}

/* "key": integer, */
static void int_key(GString *out, const char *name, gint64 v)
{
    key(out, name);
    g_string_append_printf(out, "%" G_GINT64_FORMAT ",\n", v);
}

static void bool_key(GString *out, const char *name, gboolean v)
{
    key(out, name);
    g_string_append(out, v ? "true,\n" : "false,\n");
}

/* "key": [ one number a line ], */
static void array_key(GString *out, const char *name, const double *v, guint n)
{
    key(out, name);
    g_string_append(out, "[\n");
    for (guint k = 0; k < n; k++) {
        g_string_append(out, k ? ",\n\t\t" : "\t\t");
        dfs_append_number(out, v[k]);
    }
    g_string_append(out, "\t],\n");
}

/* "key": "text", where the element has a non-empty value. */
static void string_key(const Ctx *c, const char *name, guint32 tag)
{
    g_autofree char *v = text_of(c, tag);
    if (v != NULL)
        text_key(c->out, name, v);
}

/* "key": number (the value times scale), where present. */
static void number_key(const Ctx *c, const char *name, guint32 tag, double scale)
{
    double v;
    if (number_of(c, tag, 0, &v))
        value_key(c->out, name, v * scale);
}

/* "key": number (times scale), where the value is above 0. */
static void positive_key(const Ctx *c, const char *name, guint32 tag, double scale)
{
    double v;
    if (number_of(c, tag, 0, &v) && v > 0)
        value_key(c->out, name, v * scale);
}

/* "key": number (times scale) of the protocol's key, where above min. */
static void asc_key(const Ctx *c, const char *name, const char *asc, double min, double scale)
{
    double v;
    if (dfs_ascconv_number(c->asc, asc, &v) && v > min)
        value_key(c->out, name, v * scale);
}

/* --- the keys, in dcm2niix's order ------------------------------------------- */

/* ImageType's values as the file has them (blanks inside kept, as
 * dcm2niix does), or NULL.  Caller frees. */
static char **raw_image_type(const Ctx *c)
{
    gsize len;
    guint i = dfs_dataset_find(c->ds, DFS_ROOT, DFS_TAG_IMAGE_TYPE);
    const guint8 *b = i == DFS_NO_INDEX ? NULL : dfs_dataset_value(c->ds, i, &len);
    if (b == NULL || len == 0 || !g_utf8_validate((const char *)b, len, NULL) ||
        memchr(b, '\0', len) != NULL)
        return NULL;
    g_autofree char *v = g_strchomp(g_strndup((const char *)b, len));
    return g_strsplit(v, "\\", -1);
}

static void image_type_key(const Ctx *c)
{
    const DfsSlice *s = c->s;
    g_auto(GStrv) types = raw_image_type(c);
    if (types == NULL)
        types = g_strsplit(s->image_type, "\\", -1);
    if (types[0] == NULL || !*s->image_type)
        return;
    key(c->out, "ImageType");
    g_string_append_c(c->out, '[');
    for (guint k = 0; types[k]; k++) {
        if (k)
            g_string_append(c->out, ", ");
        append_json_string(c->out, types[k]); /* (blanks inside kept, as dcm2niix) */
    }
    /* dcm2niix names the complex part it split by */
    const char *part = s->real ? "REAL" : s->imaginary ? "IMAGINARY" : s->phase ? "PHASE" : NULL;
    for (guint k = 0; types[k]; k++)
        g_strstrip(types[k]);
    if (part != NULL && !g_strv_contains((const char *const *)types, part)) {
        g_string_append(c->out, ", ");
        append_json_string(c->out, part);
    }
    g_string_append(c->out, "],\n");
}

/* What ImageType says: NonlinearGradientCorrection (where a value is ND,
 * DIS2D or DIS3D) and RawImage (FALSE for a DERIVED image). */
static void image_type_flags(const Ctx *c)
{
    g_auto(GStrv) types = g_strsplit(c->s->image_type, "\\", -1);
    gboolean nd = FALSE, dis = FALSE;
    for (guint k = 0; types[k]; k++) {
        const char *t = g_strstrip(types[k]);
        nd |= g_str_equal(t, "ND");
        dis |= g_str_equal(t, "DIS2D") || g_str_equal(t, "DIS3D");
    }
    if (nd || dis)
        bool_key(c->out, "NonlinearGradientCorrection", dis);
    if (types[0] != NULL && g_str_has_prefix(c->s->image_type, "DERIVED"))
        bool_key(c->out, "RawImage", FALSE);
}

/* A DICOM time as dcm2niix reads it (the number HHMMSS.FFFFFF: "0936" is
 * 00:09:36) and prints it (the seconds unpadded: 09:36:6.750000). */
static void time_key(GString *out, const char *name, const char *tm)
{
    char *end;
    double v = g_ascii_strtod(tm, &end);
    if (end == tm || !isfinite(v) || v < 0 || v >= 1e6)
        return;
    key(out, name);
    g_string_append_printf(out, "\"%02d:%02d:", (int)(v / 10000), (int)fmod(v / 100, 100));
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    g_string_append(out, g_ascii_formatd(buf, sizeof buf, "%f", fmod(v, 100)));
    g_string_append(out, "\",\n");
}

/* AcquisitionTime: of AcquisitionDate and AcquisitionTime where either is
 * there (nothing without both), else of AcquisitionDateTime. */
static void acquisition_time_key(const Ctx *c)
{
    g_autofree char *date = root_text(c, DFS_TAG_ACQUISITION_DATE);
    g_autofree char *tm = root_text(c, DFS_TAG_ACQUISITION_TIME);
    g_autofree char *dt = root_text(c, DFS_TAG_ACQUISITION_DATE_TIME);
    if (date != NULL || tm != NULL) {
        if (date != NULL && tm != NULL)
            time_key(c->out, "AcquisitionTime", tm);
    } else if (dt != NULL && strlen(dt) > 8) {
        time_key(c->out, "AcquisitionTime", dt + 8);
    }
}

static void header_keys(const Ctx *c, const char *modality, const char *maker)
{
    const DfsSlice *s = c->s;
    static const char *const modalities[] = {"MR", "CT", "PT", "US", "CR", NULL};
    if (g_strv_contains(modalities, modality)) /* (dcm2niix names no other) */
        text_key(c->out, "Modality", modality);
    number_key(c, "MagneticFieldStrength", DFS_TAG_MAGNETIC_FIELD_STRENGTH, 1);
    number_key(c, "ImagingFrequency", DFS_TAG_IMAGING_FREQUENCY, 1);
    if (dfs_vendor_name(maker) != NULL)
        text_key(c->out, "Manufacturer", dfs_vendor_name(maker));
    string_key(c, "ManufacturersModelName", DFS_TAG_MANUFACTURER_MODEL_NAME);
    string_key(c, "InstitutionName", DFS_TAG_INSTITUTION_NAME);
    string_key(c, "InstitutionalDepartmentName", DFS_TAG_INSTITUTIONAL_DEPARTMENT_NAME);
    string_key(c, "InstitutionAddress", DFS_TAG_INSTITUTION_ADDRESS);
    string_key(c, "DeviceSerialNumber", DFS_TAG_DEVICE_SERIAL_NUMBER);
    string_key(c, "StationName", DFS_TAG_STATION_NAME);
    string_key(c, "BodyPartExamined", DFS_TAG_BODY_PART_EXAMINED);
    string_key(c, "PatientPosition", DFS_TAG_PATIENT_POSITION);
    string_key(c, "ProcedureStepDescription", DFS_TAG_PERFORMED_PROCEDURE_STEP_DESCRIPTION);
    string_key(c, "SoftwareVersions", DFS_TAG_SOFTWARE_VERSIONS);
    string_key(c, "MRAcquisitionType", DFS_TAG_MR_ACQUISITION_TYPE);
    string_key(c, "SeriesDescription", DFS_TAG_SERIES_DESCRIPTION);
    /* ProtocolName, or SeriesDescription where it is empty, as in the name */
    g_autofree char *protocol = g_strstrip(g_strdup(s->protocol));
    g_autofree char *description = g_strstrip(g_strdup(s->description));
    if (*protocol || *description)
        text_key(c->out, "ProtocolName", *protocol ? protocol : description);
    string_key(c, "ScanningSequence", DFS_TAG_SCANNING_SEQUENCE);
    string_key(c, "SequenceVariant", DFS_TAG_SEQUENCE_VARIANT);
    string_key(c, "ScanOptions", DFS_TAG_SCAN_OPTIONS);
    string_key(c, "SequenceName", DFS_TAG_SEQUENCE_NAME);
    g_autofree char *pulse = text_of(c, DFS_TAG_PULSE_SEQUENCE_NAME);
    if (pulse == NULL && c->ge && c->mr)
        pulse = root_text(c, GE_PULSE_SEQUENCE_NAME);
    if (pulse != NULL)
        text_key(c->out, "PulseSequenceName", pulse);
    image_type_key(c);
    image_type_flags(c);
    int_key(c->out, "SeriesNumber", s->series_number);
    acquisition_time_key(c);
    gint64 acq;
    if (dfs_dataset_get_int(c->ds, DFS_ROOT, DFS_TAG_ACQUISITION_NUMBER, 0, &acq) && acq > 0)
        int_key(c->out, "AcquisitionNumber", acq);
    string_key(c, "ImageComments", DFS_TAG_IMAGE_COMMENTS);
}

/* Philips' three scalings (the display one's RS and RI, and SS), where
 * the precise one (dcm2niix's default -p y) is the volume's. */
static void philips_scaling_keys(const Ctx *c)
{
    double ss;
    if (!c->s->philips_precise || !number_of(c, PHILIPS_SCALE_SLOPE, 0, &ss))
        return;
    value_key(c->out, "PhilipsRescaleSlope", number_or(c, DFS_TAG_RESCALE_SLOPE, 1));
    value_key(c->out, "PhilipsRescaleIntercept", number_or(c, DFS_TAG_RESCALE_INTERCEPT, 0));
    value_key(c->out, "PhilipsScaleSlope", ss);
    key(c->out, "UsePhilipsFloatNotDisplayScaling");
    g_string_append(c->out, "1,\n");
}

/* MTState from Magnetization Transfer: TRUE, FALSE, or -1 (none). */
static gint mt_state(const Ctx *c)
{
    g_autofree char *mt = text_of(c, DFS_TAG_MAGNETIZATION_TRANSFER);
    if (mt == NULL)
        return -1;
    if (g_str_equal(mt, "OFF_RESONANCE"))
        return TRUE;
    if (g_str_equal(mt, "ON_RESONANCE") || g_str_equal(mt, "ON_WATER") || g_str_equal(mt, "NONE"))
        return FALSE;
    return -1;
}

/* SpoilingState and SpoilingType from Spoiling (RF spoiling is named
 * COMBINED, as dcm2niix does), else SpoilingState from an "SP" after the
 * first value of SequenceVariant (a first "SP" does not count there). */
static void spoiling_keys(const Ctx *c)
{
    g_autofree char *spoiling = text_of(c, DFS_TAG_SPOILING);
    const char *type = spoiling == NULL                        ? NULL
                       : g_str_has_prefix(spoiling, "GRADIENT") ? "GRADIENT"
                       : g_str_has_prefix(spoiling, "RF")       ? "COMBINED"
                                                                : NULL;
    if (type != NULL) {
        bool_key(c->out, "SpoilingState", TRUE);
        text_key(c->out, "SpoilingType", type);
        return;
    }
    g_autofree char *variant = text_of(c, DFS_TAG_SEQUENCE_VARIANT);
    if (variant != NULL && strstr(variant, "\\SP") != NULL)
        bool_key(c->out, "SpoilingState", TRUE);
}

static void timing_keys(const Ctx *c)
{
    const DfsSlice *s = c->s;
    if (!c->ct) { /* (dcm2niix writes neither for CT) */
        number_key(c, "SliceThickness", DFS_TAG_SLICE_THICKNESS, 1);
        number_key(c, "SpacingBetweenSlices", DFS_TAG_SPACING_BETWEEN_SLICES, 1);
    }
    number_key(c, "SAR", DFS_TAG_SAR, 1);
    double averages;
    if (number_of(c, DFS_TAG_NUMBER_OF_AVERAGES, 0, &averages) && averages > 1)
        value_key(c->out, "NumberOfAverages", averages);
    if (c->vol->multi_echo || s->echo_number > 1)
        int_key(c->out, "EchoNumber", s->echo_number);
    if (s->echo_time > 0)
        value_key(c->out, "EchoTime", s->echo_time / 1000);
    if (c->vol->pixdim[3] > 0)
        value_key(c->out, "RepetitionTime", c->vol->pixdim[3]);
    gint mt = mt_state(c);
    if (mt >= 0)
        bool_key(c->out, "MTState", mt);
    spoiling_keys(c);
    positive_key(c, "InversionTime", DFS_TAG_INVERSION_TIME, 1.0 / 1000);
    number_key(c, "FlipAngle", DFS_TAG_FLIP_ANGLE, 1);
    g_autofree char *reuse = c->ge && c->mr ? root_text(c, GE_PRESCAN_REUSE_STRING) : NULL;
    if (reuse != NULL)
        text_key(c->out, "PrescanReuseString", reuse);
}

/* EchoTrainLength, else Philips' EPI factor; 0 without. */
static double echo_train(const Ctx *c)
{
    double etl = number_or(c, DFS_TAG_ECHO_TRAIN_LENGTH, 0);
    if (etl <= 0 && c->philips)
        etl = number_or(c, PHILIPS_EPI_FACTOR, 0);
    return etl > 0 ? etl : 0;
}

/* Does any image of the volume have a b value? */
static gboolean diffusion(const Ctx *c)
{
    for (guint k = 0; k < c->vol->n_order; k++)
        if (c->p->slices[c->vol->order[k]].has_b)
            return TRUE;
    return FALSE;
}

/* ShimSetting: the first order shims (sGRADSPEC.lOffsetX/Y/Z) and the
 * five second order ones (alShimCurrent), 0 for those missing; where a
 * first order one is there. */
static void shim_key(const Ctx *c)
{
    static const char *const first[] = {"sGRADSPEC.lOffsetX", "sGRADSPEC.lOffsetY",
                                        "sGRADSPEC.lOffsetZ"};
    gboolean any = FALSE;
    double shim[8];
    for (guint k = 0; k < 3; k++) {
        any |= dfs_ascconv_has(c->asc, first[k]);
        shim[k] = asc_or(c, first[k], 0);
    }
    for (guint k = 0; k < 5; k++) {
        char name[40];
        g_snprintf(name, sizeof name, "sGRADSPEC.alShimCurrent[%u]", k);
        shim[3 + k] = asc_or(c, name, 0);
    }
    if (any)
        array_key(c->out, "ShimSetting", shim, G_N_ELEMENTS(shim));
}

/* The protocol's keys before the coil string. */
static void siemens_protocol_keys(const Ctx *c)
{
    if (c->asc == NULL)
        return;
    asc_key(c, "AveragesDouble", "dAveragesDouble", 1, 1);
    double v;
    if (dfs_ascconv_number(c->asc, "sKSpace.ucPhasePartialFourier", &v)) {
        /* the enumeration's 1, 2, 4, 8: 4/8 to 7/8; anything else full */
        double f = v == 1 ? 0.5 : v == 2 ? 0.625 : v == 4 ? 0.75 : v == 8 ? 0.875 : 1;
        value_key(c->out, "PartialFourier", f);
    }
    if (asc_or(c, "sKSpace.uc2DInterpolation", 0) > 0)
        value_key(c->out, "Interpolation2D", 1);
    asc_key(c, "BaseResolution", "sKSpace.lBaseResolution", 0, 1);
    shim_key(c);
    if (diffusion(c)) {
        double scheme = asc_or(c, "sDiffusion.dsScheme", 2);
        if (scheme == 1 || scheme == 2)
            text_key(c->out, "DiffusionScheme", scheme == 1 ? "Bipolar" : "Monopolar");
    }
    asc_key(c, "DelayTime", "lDelayTimeInTR", 0, 1e-6);
    asc_key(c, "TxRefAmp", "sTXSPEC.asNucleusInfo[0].flReferenceAmplitude", 0, 1);
    asc_key(c, "PhaseResolution", "sKSpace.dPhaseResolution", 0, 1);
    asc_key(c, "PhaseOversampling", "sKSpace.dPhaseOversamplingForDialog", 0, 1);
    const char *coil = dfs_ascconv_first_key(c->asc, "asCoilSelectMeas[", "sCoilElementID.tCoilID");
    if (coil != NULL && dfs_ascconv_string(c->asc, coil) != NULL)
        text_key(c->out, "ReceiveCoilName", dfs_ascconv_string(c->asc, coil));
}

/* CoilString: Siemens' (0051,100F), else ReceiveCoilName. */
static void coil_key(const Ctx *c)
{
    g_autofree char *coil = c->siemens ? root_text(c, SIEMENS_COIL_STRING) : NULL;
    if (coil == NULL)
        coil = text_of(c, DFS_TAG_RECEIVE_COIL_NAME);
    if (coil != NULL)
        text_key(c->out, "CoilString", coil);
}

/* Siemens' PATModeText: "p<N>" alone for the in-plane acceleration, "s<N>"
 * last for the slices' (multiband: "p2 s4"); 0 where not said. */
static void pat_mode(const Ctx *c, double *in_plane, double *multiband)
{
    *in_plane = *multiband = 0;
    g_autofree char *text = c->siemens ? root_text(c, SIEMENS_PAT_MODE_TEXT) : NULL;
    if (text == NULL)
        return;
    guint64 n;
    if (text[0] == 'p' && g_ascii_string_to_unsigned(text + 1, 10, 1, 1000, &n, NULL))
        *in_plane = n;
    const char *last = strrchr(text, ' ');
    last = last ? last + 1 : text;
    if (last[0] == 's' && g_ascii_string_to_unsigned(last + 1, 10, 2, 1000, &n, NULL))
        *multiband = n;
}

/* The protocol's keys after the coil string. */
static void siemens_acceleration_keys(const Ctx *c, gboolean mt_written)
{
    double in_plane, multiband;
    pat_mode(c, &in_plane, &multiband);
    if (c->asc != NULL) {
        if (dfs_ascconv_string(c->asc, "tSequenceFileName") != NULL)
            text_key(c->out, "PulseSequenceDetails",
                     dfs_ascconv_string(c->asc, "tSequenceFileName"));
        asc_key(c, "RefLinesPE", "sPat.lRefLinesPE", 0, 1);
        double combine = asc_or(c, "ucCoilCombineMode", 0);
        if (combine == 1 || combine == 2)
            text_key(c->out, "CoilCombinationMethod",
                     combine == 1 ? "Sum of Squares" : "Adaptive Combine");
        asc_key(c, "AccelFact3D", "sPat.lAccelFact3D", 1, 1);
        if (!mt_written && asc_or(c, "sPrepPulses.ucMTC", 0) == 1)
            bool_key(c->out, "MTState", TRUE);
        double mode = asc_or(c, "sPat.ucPATMode", 0);
        if (asc_or(c, "sPat.lAccelFactPE", 0) >= 1 && (mode == 1 || mode == 2))
            text_key(c->out, "MatrixCoilMode", mode == 1 ? "SENSE" : "GRAPPA");
    }
    if (multiband > 1)
        value_key(c->out, "MultibandAccelerationFactor", multiband);
}

/* The in-plane acceleration: Siemens' PATModeText, else its protocol's
 * lAccelFactPE, else ParallelReductionFactorInPlane; 1 without. */
static double in_plane_acceleration(const Ctx *c)
{
    double in_plane, multiband, v;
    pat_mode(c, &in_plane, &multiband);
    if (in_plane >= 1)
        return in_plane;
    if (c->siemens && dfs_ascconv_number(c->asc, "sPat.lAccelFactPE", &v) && v > 1)
        return v;
    if (number_of(c, DFS_TAG_PARALLEL_REDUCTION_FACTOR_IN_PLANE, 0, &v) && v > 1)
        return v;
    if (c->ge && c->mr && private_number(c, GE_ASSET_R_FACTORS, 0, &v) && v > 0 && v < 1)
        return 1 / v; /* (GE's ASSET R factor is the sampled fraction) */
    return 1;
}

static gboolean bandwidth_phase_encode(const Ctx *c, double *bw)
{
    if (c->csa != NULL &&
        dfs_csa_number(c->csa, c->csa_len, "BandwidthPerPixelPhaseEncode", 0, bw) && *bw > 0)
        return TRUE;
    return (c->siemens || c->uih) &&
           dfs_dataset_get_double(c->ds, DFS_ROOT, SIEMENS_BANDWIDTH_PHASE_ENCODE, 0, bw) &&
           isfinite(*bw) && *bw > 0;
}

/* From the bandwidth per pixel along the phase encoding (Siemens'): the
 * echo spacing and readout time, and the vendor's echo spacing (before
 * the acceleration and the phase oversampling). */
static void echo_spacing_keys(const Ctx *c, double bw, guint matrix, double accel)
{
    double spacing = 1 / (bw * matrix);
    value_key(c->out, "EffectiveEchoSpacing", spacing);
    double oversampling = asc_or(c, "sKSpace.dPhaseOversamplingForDialog", 0);
    value_key(c->out, "DerivedVendorReportedEchoSpacing",
              spacing * accel / (1 + MAX(oversampling, 0)));
    value_key(c->out, "TotalReadoutTime", spacing * (matrix - 1));
}

/* GE's: its effective echo spacing (us) over the phase lines acquired,
 * AcquisitionMatrix's times the ASSET factor rounded up to even, gives
 * the readout time, which over the image's phase steps gives the
 * effective spacing (as dcm2niix: only with an ASSET factor). */
static void ge_echo_spacing_keys(const Ctx *c, guint matrix)
{
    double spacing, asset, m2 = 0, m3 = 0;
    number_of(c, DFS_TAG_ACQUISITION_MATRIX, 2, &m2);
    number_of(c, DFS_TAG_ACQUISITION_MATRIX, 3, &m3);
    double acquired = MAX(m2, m3);
    if (!c->ge || !c->mr || !private_number(c, GE_EFFECTIVE_ECHO_SPACING, 0, &spacing) ||
        spacing <= 0 || !private_number(c, GE_ASSET_R_FACTORS, 0, &asset) || asset <= 0 ||
        acquired <= 0 || matrix < 2)
        return;
    double lines = 2 * ceil(acquired * asset / 2);
    double readout = spacing * 1e-6 * (lines - 1);
    value_key(c->out, "EffectiveEchoSpacing", readout / (matrix - 1));
    value_key(c->out, "TotalReadoutTime", readout);
}

/* Philips' water-fat shift (pixels) and dcm2niix's estimates from it: the
 * actual echo spacing WFS / (frequency x 3.4 ppm x (ETL + 1)), the readout
 * that times ETL, the effective spacing the readout over matrix - 1. */
static void water_fat_keys(const Ctx *c, guint matrix)
{
    double wfs, freq;
    if (!c->philips || !number_of(c, PHILIPS_WATER_FAT_SHIFT, 0, &wfs) || wfs <= 0)
        return;
    value_key(c->out, "WaterFatShift", wfs);
    if (!number_of(c, DFS_TAG_IMAGING_FREQUENCY, 0, &freq) || freq <= 0 || matrix < 2)
        return;
    double etl = MAX(echo_train(c), 1);
    double readout = wfs / (freq * WATER_FAT_PPM * (etl + 1)) * etl;
    value_key(c->out, "EstimatedEffectiveEchoSpacing", readout / (matrix - 1));
    value_key(c->out, "EstimatedTotalReadoutTime", readout);
}

/* AcquisitionTime as dcm2niix reads it: the number HHMMSS.FFFFFF in single
 * precision (so to 1/128 s, or 1/64 s after 13:00), then seconds. */
static double single_precision_seconds(double hhmmss)
{
    double v = (float)hhmmss;
    double hh = floor(v / 10000), mm = floor((v - hh * 10000) / 100);
    return hh * 3600 + mm * 60 + (v - hh * 10000 - mm * 100);
}

/* Slice times of a Siemens 2D MR volume that is no mosaic, as dcm2niix
 * gives them: each slice's AcquisitionTime (the first volume's, in slice
 * order) less the earliest, in seconds to five decimals; none where they
 * are all equal or one is missing. */
static gboolean acquisition_times(const Ctx *c, GArray *times)
{
    const DfsVolume *vol = c->vol;
    guint nz = vol->n_in[2];
    if (!c->siemens || !c->mr || c->s->mr3d || c->s->mosaic || nz < 2)
        return FALSE;
    double first = G_MAXDOUBLE, last = -G_MAXDOUBLE;
    for (guint k = 0; k < nz; k++) {
        const DfsSlice *s = &c->p->slices[vol->order[k]];
        if (s->acq_time_hhmmss <= 0)
            return FALSE;
        double t = single_precision_seconds(s->acq_time_hhmmss);
        g_array_append_val(times, t);
        first = MIN(first, t);
        last = MAX(last, t);
    }
    if (last <= first)
        return FALSE;
    for (guint k = 0; k < nz; k++) {
        double *t = &g_array_index(times, double, k);
        *t = rint((*t - first) * 1e5) / 1e5;
    }
    return TRUE;
}

/* SliceTiming: a mosaic's slice times (ms from the CSA header), or those
 * of the slices' acquisition times, in seconds. */
static void slice_timing_key(const Ctx *c)
{
    double t;
    g_autoptr(GArray) times = g_array_new(FALSE, FALSE, sizeof(double));
    if (c->csa != NULL && c->s->columns < c->s->frame_columns &&
        dfs_csa_number(c->csa, c->csa_len, "MosaicRefAcqTimes", 0, &t)) {
        for (guint k = 0; dfs_csa_number(c->csa, c->csa_len, "MosaicRefAcqTimes", k, &t); k++) {
            t /= 1000;
            g_array_append_val(times, t);
        }
    } else if (!acquisition_times(c, times)) {
        return;
    }
    key(c->out, "SliceTiming");
    g_string_append(c->out, "[\n");
    for (guint k = 0; k < times->len; k++) {
        g_string_append(c->out, k ? ",\n\t\t" : "\t\t");
        dfs_append_number(c->out, g_array_index(times, double, k));
    }
    g_string_append(c->out, "\t],\n");
}

static void matrix_keys(const Ctx *c)
{
    number_key(c, "PercentPhaseFOV", DFS_TAG_PERCENT_PHASE_FIELD_OF_VIEW, 1);
    number_key(c, "PercentSampling", DFS_TAG_PERCENT_SAMPLING, 1);
    double train = echo_train(c);
    if (train > 1 && train < G_MAXINT32)
        int_key(c->out, "EchoTrainLength", (gint64)train);
    string_key(c, "PartialFourierDirection", DFS_TAG_PARTIAL_FOURIER_DIRECTION);
    /* (with partial Fourier, dcm2niix names the steps otherwise) */
    g_autofree char *partial = text_of(c, DFS_TAG_PARTIAL_FOURIER);
    gboolean pf = partial != NULL && g_str_equal(partial, "YES");
    if (pf)
        text_key(c->out, "PartialFourierEnabled", "YES");
    number_key(c, pf ? "PhaseEncodingStepsNoPartialFourier" : "PhaseEncodingSteps",
               DFS_TAG_NUMBER_OF_PHASE_ENCODING_STEPS, 1);
    /* AcquisitionMatrix: frequency rows, frequency columns, phase rows,
     * phase columns; the phase one is the non-zero of the last two */
    double m2 = 0, m3 = 0;
    number_of(c, DFS_TAG_ACQUISITION_MATRIX, 2, &m2);
    number_of(c, DFS_TAG_ACQUISITION_MATRIX, 3, &m3);
    if (MAX(m2, m3) > 0 && MAX(m2, m3) < G_MAXINT32)
        int_key(c->out, "AcquisitionMatrixPE", (gint64)MAX(m2, m3));
}

static void encoding_keys(const Ctx *c)
{
    const DfsSlice *s = c->s;
    matrix_keys(c);
    guint matrix = c->by_row ? s->columns : s->rows;
    int_key(c->out, "ReconMatrixPE", matrix);
    double accel = in_plane_acceleration(c), bw;
    gboolean has_bw = bandwidth_phase_encode(c, &bw);
    if (has_bw)
        value_key(c->out, "BandwidthPerPixelPhaseEncode", bw);
    if (accel > 1)
        value_key(c->out, "ParallelReductionFactorInPlane", accel);
    string_key(c, "ParallelAcquisitionTechnique", DFS_TAG_PARALLEL_ACQUISITION_TECHNIQUE);
    double out_of_plane, r;
    if (number_of(c, DFS_TAG_PARALLEL_REDUCTION_FACTOR_OUT_OF_PLANE, 0, &out_of_plane) &&
        out_of_plane > 1)
        value_key(c->out, "ParallelReductionOutOfPlane", out_of_plane);
    else if (c->ge && c->mr && private_number(c, GE_ASSET_R_FACTORS, 1, &r) && r > 0 && r < 1)
        value_key(c->out, "ParallelReductionOutOfPlane", 1 / r);
    if (has_bw)
        echo_spacing_keys(c, bw, matrix, accel);
    else
        ge_echo_spacing_keys(c, matrix);
    water_fat_keys(c, matrix);
    positive_key(c, "AcquisitionDuration", DFS_TAG_ACQUISITION_DURATION, 1);
    number_key(c, "PixelBandwidth", DFS_TAG_PIXEL_BANDWIDTH, 1);
    double dwell; /* (not the CSA header's RealDwellTime, as dcm2niix) */
    if (c->siemens && dfs_dataset_get_double(c->ds, DFS_ROOT, SIEMENS_REAL_DWELL_TIME, 0, &dwell) &&
        isfinite(dwell) && dwell > 0)
        value_key(c->out, "DwellTime", dwell * 1e-9);
    if ((c->by_row || c->by_col) && s->phase_positive >= 0) {
        /* the polarity too; NIfTI's rows run bottom up, reversing j */
        key(c->out, "PhaseEncodingDirection");
        gboolean minus = c->by_col ? s->phase_positive == 1 : s->phase_positive == 0;
        g_string_append_printf(c->out, "\"%s%s\",\n", c->by_row ? "i" : "j", minus ? "-" : "");
    } else if ((c->by_row || c->by_col) && (!c->philips || echo_train(c) > 1)) {
        /* (Philips': only with an echo train, as dcm2niix) */
        text_key(c->out, "PhaseEncodingAxis", c->by_row ? "i" : "j");
    }
    slice_timing_key(c);
}

static void closing_keys(const Ctx *c)
{
    string_key(c, "ConvolutionKernel", DFS_TAG_CONVOLUTION_KERNEL);
    number_key(c, "ExposureTime", DFS_TAG_EXPOSURE_TIME, 1.0 / 1000);
    number_key(c, "XRayTubeCurrent", DFS_TAG_X_RAY_TUBE_CURRENT, 1);
    number_key(c, "XRayExposure", DFS_TAG_EXPOSURE, 1);
    array_key(c->out, "ImageOrientationPatientDICOM", c->s->iop, 6);
    g_autofree char *orientation = c->siemens ? root_text(c, SIEMENS_IMAGE_ORIENTATION_TEXT) : NULL;
    if (orientation != NULL)
        text_key(c->out, "ImageOrientationText", orientation);
    if (c->dir != NULL)
        text_key(c->out, "InPlanePhaseEncodingDirectionDICOM", c->dir);
    key(c->out, "ConversionSoftware");
    g_string_append(c->out, "\"dicomfs\",\n");
    key(c->out, "ConversionSoftwareVersion");
    g_string_append(c->out, "\"" DFS_VERSION "\"\n}\n");
}

void dfs_bids_json(const DfsVolumePlan *p, const DfsVolume *vol, const DfsDataset *ds,
                   GString *out)
{
    const DfsSlice *s = &p->slices[vol->order[0]];
    Ctx c = {.p = p, .vol = vol, .s = s, .ds = ds, .items = {DFS_NO_INDEX, DFS_NO_INDEX},
             .out = out};
    if (s->enhanced) {
        c.items[0] = item_of(ds, DFS_ROOT, DFS_TAG_PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE, s->frame);
        c.items[1] = item_of(ds, DFS_ROOT, DFS_TAG_SHARED_FUNCTIONAL_GROUPS_SEQUENCE, 0);
    }
    g_autofree char *modality = g_strstrip(g_strdup(s->modality));
    g_autofree char *maker = g_strstrip(g_strdup(s->manufacturer));
    const char *vendor = dfs_vendor_name(maker);
    vendor = vendor != NULL ? vendor : "";
    c.mr = g_str_equal(modality, "MR");
    c.ct = g_str_equal(modality, "CT");
    c.siemens = g_str_equal(vendor, "Siemens");
    c.philips = g_str_equal(vendor, "Philips");
    c.uih = g_str_equal(vendor, "UIH");
    c.ge = g_str_equal(vendor, "GE");
    c.dir = text_of(&c, DFS_TAG_IN_PLANE_PHASE_ENCODING_DIRECTION);
    c.by_row = c.dir != NULL && g_str_equal(c.dir, "ROW");
    c.by_col = c.dir != NULL && g_str_equal(c.dir, "COL");
    c.csa = dfs_csa_image_header(ds, &c.csa_len);
    c.asc = c.siemens && c.mr ? dfs_ascconv_from_dataset(ds) : NULL;

    g_string_append(out, "{\n");
    header_keys(&c, modality, maker);
    philips_scaling_keys(&c);
    timing_keys(&c);
    if (c.mr) {
        siemens_protocol_keys(&c);
        coil_key(&c);
        siemens_acceleration_keys(&c, mt_state(&c) >= 0);
        encoding_keys(&c);
    } else {
        coil_key(&c);
    }
    closing_keys(&c);
    g_free(c.dir);
    dfs_ascconv_free(c.asc);
}
