/* dicomfs core: BIDS sidecars.  See bids.h.  Which keys, in which order and
 * units, is what dcm2niix 1.0.20220720 writes for the attributes here
 * (README, "Volumes", says what it writes that this does not). */
#include "volumes/bids.h"

#include <math.h>
#include <string.h>

#include "dicom/tags.h"
#include "volumes/bytes.h"
#include "volumes/csa.h"

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

/* A number as dcm2niix prints it (%g: six significant digits). */
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

/* "key": "text", where the element has a non-empty value. */
static void string_key(GString *out, const DfsDataset *ds, const char *name, guint32 tag)
{
    g_autofree char *v = dfs_dataset_get_string(ds, DFS_ROOT, tag);
    if (v == NULL || *g_strstrip(v) == '\0')
        return;
    text_key(out, name, v);
}

/* "key": number (the value times scale), where present. */
static void number_key(GString *out, const DfsDataset *ds, const char *name, guint32 tag,
                       double scale)
{
    double v;
    if (!dfs_dataset_get_double(ds, DFS_ROOT, tag, 0, &v) || !isfinite(v))
        return;
    key(out, name);
    dfs_append_number(out, v * scale);
    g_string_append(out, ",\n");
}

/* dcm2niix's names for the manufacturers it knows. */
static const char *manufacturer(const char *raw)
{
    static const struct {
        const char *contains, *name;
    } known[] = {
        {"SIEMENS", "Siemens"}, {"GE ", "GE"},         {"GE_", "GE"},
        {"PHILIPS", "Philips"}, {"TOSHIBA", "Toshiba"}, {"CANON", "Canon"},
        {"UIH", "UIH"},         {"UNITED IMAGING", "UIH"}, {"HITACHI", "Hitachi"},
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

void dfs_bids_json(const DfsVolumePlan *p, const DfsVolume *vol, const DfsDataset *ds,
                   GString *out)
{
    const DfsSlice *s = &p->slices[vol->order[0]];
    g_autofree char *modality = g_strstrip(g_strdup(s->modality));
    gboolean mr = g_str_equal(modality, "MR");
    g_string_append(out, "{\n");
    if (*modality) {
        text_key(out, "Modality", modality);
    }
    number_key(out, ds, "MagneticFieldStrength", DFS_TAG_MAGNETIC_FIELD_STRENGTH, 1);
    number_key(out, ds, "ImagingFrequency", DFS_TAG_IMAGING_FREQUENCY, 1);
    g_autofree char *maker = g_strstrip(g_strdup(s->manufacturer));
    if (*maker) {
        text_key(out, "Manufacturer", manufacturer(maker) ? manufacturer(maker) : maker);
    }
    string_key(out, ds, "ManufacturersModelName", DFS_TAG_MANUFACTURER_MODEL_NAME);
    string_key(out, ds, "InstitutionName", DFS_TAG_INSTITUTION_NAME);
    string_key(out, ds, "InstitutionalDepartmentName", DFS_TAG_INSTITUTIONAL_DEPARTMENT_NAME);
    string_key(out, ds, "InstitutionAddress", DFS_TAG_INSTITUTION_ADDRESS);
    string_key(out, ds, "DeviceSerialNumber", DFS_TAG_DEVICE_SERIAL_NUMBER);
    string_key(out, ds, "StationName", DFS_TAG_STATION_NAME);
    string_key(out, ds, "BodyPartExamined", DFS_TAG_BODY_PART_EXAMINED);
    string_key(out, ds, "PatientPosition", DFS_TAG_PATIENT_POSITION);
    string_key(out, ds, "ProcedureStepDescription", DFS_TAG_PERFORMED_PROCEDURE_STEP_DESCRIPTION);
    string_key(out, ds, "SoftwareVersions", DFS_TAG_SOFTWARE_VERSIONS);
    string_key(out, ds, "MRAcquisitionType", DFS_TAG_MR_ACQUISITION_TYPE);
    string_key(out, ds, "SeriesDescription", DFS_TAG_SERIES_DESCRIPTION);
    /* ProtocolName, or SeriesDescription where it is empty, as in the name */
    g_autofree char *protocol = g_strstrip(g_strdup(s->protocol));
    g_autofree char *description = g_strstrip(g_strdup(s->description));
    if (*protocol || *description) {
        text_key(out, "ProtocolName", *protocol ? protocol : description);
    }
    string_key(out, ds, "ScanningSequence", DFS_TAG_SCANNING_SEQUENCE);
    string_key(out, ds, "SequenceVariant", DFS_TAG_SEQUENCE_VARIANT);
    string_key(out, ds, "ScanOptions", DFS_TAG_SCAN_OPTIONS);
    string_key(out, ds, "SequenceName", DFS_TAG_SEQUENCE_NAME);
    g_auto(GStrv) types = g_strsplit(s->image_type, "\\", -1);
    if (types[0] != NULL && *s->image_type) {
        key(out, "ImageType");
        g_string_append_c(out, '[');
        for (guint k = 0; types[k]; k++) {
            if (k)
                g_string_append(out, ", ");
            append_json_string(out, g_strstrip(types[k]));
        }
        /* dcm2niix names the complex part it split by */
        const char *part = s->real        ? "REAL"
                           : s->imaginary ? "IMAGINARY"
                           : s->phase     ? "PHASE"
                                          : NULL;
        if (part != NULL && !g_strv_contains((const char *const *)types, part)) {
            g_string_append(out, ", ");
            append_json_string(out, part);
        }
        g_string_append(out, "],\n");
    }
    if (mr && manufacturer(maker) != NULL && !g_str_equal(manufacturer(maker), "Philips")) {
        /* (not for Philips, as dcm2niix) */
        gboolean dis = strstr(s->image_type, "DIS2D") || strstr(s->image_type, "DIS3D");
        key(out, "NonlinearGradientCorrection");
        g_string_append(out, dis ? "true,\n" : "false,\n");
    }
    key(out, "SeriesNumber");
    g_string_append_printf(out, "%" G_GINT64_FORMAT ",\n", s->series_number);
    g_autofree char *date = dfs_dataset_get_string(ds, DFS_ROOT, DFS_TAG_ACQUISITION_DATE);
    if (s->acq_time >= 0 && date != NULL && *g_strstrip(date)) { /* (not without a date) */
        key(out, "AcquisitionTime");
        double t = s->acq_time;
        g_string_append_printf(out, "\"%02d:%02d:%09.6f\",\n", (int)(t / 3600),
                               (int)fmod(t / 60, 60), fmod(t, 60));
    }
    gint64 acq;
    if (dfs_dataset_get_int(ds, DFS_ROOT, DFS_TAG_ACQUISITION_NUMBER, 0, &acq)) {
        key(out, "AcquisitionNumber");
        g_string_append_printf(out, "%" G_GINT64_FORMAT ",\n", acq);
    }
    string_key(out, ds, "ImageComments", DFS_TAG_IMAGE_COMMENTS);
    if (mr) { /* (dcm2niix writes neither for CT) */
        number_key(out, ds, "SliceThickness", DFS_TAG_SLICE_THICKNESS, 1);
        number_key(out, ds, "SpacingBetweenSlices", DFS_TAG_SPACING_BETWEEN_SLICES, 1);
    }
    number_key(out, ds, "SAR", DFS_TAG_SAR, 1);
    if (vol->multi_echo || s->echo_number > 1) {
        key(out, "EchoNumber");
        g_string_append_printf(out, "%" G_GINT64_FORMAT ",\n", s->echo_number);
    }
    if (s->echo_time > 0) {
        key(out, "EchoTime");
        dfs_append_number(out, s->echo_time / 1000);
        g_string_append(out, ",\n");
    }
    if (vol->pixdim[3] > 0) {
        key(out, "RepetitionTime");
        dfs_append_number(out, vol->pixdim[3]);
        g_string_append(out, ",\n");
    }
    number_key(out, ds, "InversionTime", DFS_TAG_INVERSION_TIME, 1.0 / 1000);
    number_key(out, ds, "FlipAngle", DFS_TAG_FLIP_ANGLE, 1);
    g_autofree char *dir = dfs_dataset_get_string(ds, DFS_ROOT,
                                                  DFS_TAG_IN_PLANE_PHASE_ENCODING_DIRECTION);
    if (dir != NULL)
        g_strstrip(dir);
    gboolean by_row = dir != NULL && g_str_equal(dir, "ROW");
    gsize csa_len;
    const guint8 *csa = dfs_csa_image_header(ds, &csa_len);
    if (mr) {
        number_key(out, ds, "PercentPhaseFOV", DFS_TAG_PERCENT_PHASE_FIELD_OF_VIEW, 1);
        number_key(out, ds, "PercentSampling", DFS_TAG_PERCENT_SAMPLING, 1);
        gint64 train;
        if (dfs_dataset_get_int(ds, DFS_ROOT, DFS_TAG_ECHO_TRAIN_LENGTH, 0, &train) && train > 1) {
            key(out, "EchoTrainLength");
            g_string_append_printf(out, "%" G_GINT64_FORMAT ",\n", train);
        }
        number_key(out, ds, "PhaseEncodingSteps", DFS_TAG_NUMBER_OF_PHASE_ENCODING_STEPS, 1);
        /* AcquisitionMatrix: frequency rows, frequency columns, phase rows,
         * phase columns; the phase one is the non-zero of the last two */
        gint64 m2 = 0, m3 = 0;
        dfs_dataset_get_int(ds, DFS_ROOT, DFS_TAG_ACQUISITION_MATRIX, 2, &m2);
        dfs_dataset_get_int(ds, DFS_ROOT, DFS_TAG_ACQUISITION_MATRIX, 3, &m3);
        if (MAX(m2, m3) > 0) {
            key(out, "AcquisitionMatrixPE");
            g_string_append_printf(out, "%" G_GINT64_FORMAT ",\n", MAX(m2, m3));
        }
        key(out, "ReconMatrixPE");
        g_string_append_printf(out, "%u,\n", by_row ? s->columns : s->rows);
        gboolean by_col = dir != NULL && g_str_equal(dir, "COL");
        double bw;
        if (csa != NULL && dfs_csa_number(csa, csa_len, "BandwidthPerPixelPhaseEncode", 0, &bw) &&
            bw > 0) {
            guint matrix = by_row ? s->columns : s->rows;
            double spacing = 1 / (bw * matrix);
            key(out, "BandwidthPerPixelPhaseEncode");
            dfs_append_number(out, bw);
            g_string_append(out, ",\n");
            key(out, "EffectiveEchoSpacing");
            dfs_append_number(out, spacing);
            g_string_append(out, ",\n");
            key(out, "TotalReadoutTime");
            dfs_append_number(out, spacing * (matrix - 1));
            g_string_append(out, ",\n");
        }
        number_key(out, ds, "PixelBandwidth", DFS_TAG_PIXEL_BANDWIDTH, 1);
        if ((by_row || by_col) && s->phase_positive >= 0) {
            /* the polarity too; NIfTI's rows run bottom up, reversing j */
            key(out, "PhaseEncodingDirection");
            gboolean minus = by_col ? s->phase_positive == 1 : s->phase_positive == 0;
            g_string_append_printf(out, "\"%s%s\",\n", by_row ? "i" : "j", minus ? "-" : "");
        } else if (by_row || by_col) {
            key(out, "PhaseEncodingAxis");
            g_string_append(out, by_row ? "\"i\",\n" : "\"j\",\n");
        }
        /* a mosaic's slice times (ms from the CSA header), in seconds */
        double t;
        if (csa != NULL && s->columns < s->frame_columns &&
            dfs_csa_number(csa, csa_len, "MosaicRefAcqTimes", 0, &t)) {
            key(out, "SliceTiming");
            g_string_append(out, "[\n");
            for (guint k = 0; dfs_csa_number(csa, csa_len, "MosaicRefAcqTimes", k, &t); k++) {
                if (k)
                    g_string_append(out, ",\n");
                g_string_append(out, "\t\t");
                dfs_append_number(out, t / 1000);
            }
            g_string_append(out, "\t],\n");
        }
    }
    string_key(out, ds, "ConvolutionKernel", DFS_TAG_CONVOLUTION_KERNEL);
    number_key(out, ds, "ExposureTime", DFS_TAG_EXPOSURE_TIME, 1.0 / 1000);
    number_key(out, ds, "XRayTubeCurrent", DFS_TAG_X_RAY_TUBE_CURRENT, 1);
    number_key(out, ds, "XRayExposure", DFS_TAG_EXPOSURE, 1);
    key(out, "ImageOrientationPatientDICOM");
    g_string_append(out, "[\n");
    for (guint k = 0; k < 6; k++) {
        g_string_append(out, "\t\t");
        dfs_append_number(out, s->iop[k]);
        g_string_append(out, k < 5 ? ",\n" : "\t],\n");
    }
    if (dir != NULL && *dir) {
        text_key(out, "InPlanePhaseEncodingDirectionDICOM", dir);
    }
    key(out, "ConversionSoftware");
    g_string_append(out, "\"dicomfs\",\n");
    key(out, "ConversionSoftwareVersion");
    g_string_append(out, "\"" DFS_VERSION "\"\n}\n");
}
