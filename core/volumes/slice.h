/* dicomfs core: what a volume needs of one image (an instance, or one
 * frame of it): its shape, sample type, geometry, scaling and the
 * attributes that split a series into volumes, read from the header alone
 * (no pixel byte is read). */
#pragma once

#include <glib.h>

#include "dicom/dataset.h"
#include "pixels/image.h"

G_BEGIN_DECLS

typedef struct {
    guint node, frame; /* the instance (an index node of the caller's) and its frame */
    DfsImage image;    /* shape and sample type, as decoded */
    /* Where the slice lies in its frame: all of it, or one tile of a
     * Siemens mosaic (rows x columns at row0, col0 of a frame of
     * frame_rows x frame_columns). */
    guint row0, col0, frame_rows, frame_columns;
    /* Where the frame's stored values are in the instance's file as they
     * are (native little-endian pixel data, every bit stored), for reading
     * them straight into a volume; 0 where they must be decoded.  Set by
     * the caller, which knows the file. */
    guint64 stored_at;
    guint rows, columns, samples, bits_allocated, bits_stored; /* from image, for short */
    gboolean is_signed, is_float;
    gboolean has_geometry; /* ImagePositionPatient, ImageOrientationPatient, PixelSpacing */
    double ipp[3], iop[6], spacing[2]; /* spacing: between rows, between columns */
    double thickness;                  /* SliceThickness, 0 without */
    double between;                    /* SpacingBetweenSlices, 0 without */
    double slope, intercept;           /* 1 and 0 without; Philips' precise ones where
                                          its private scale slope is there */
    gboolean philips_precise;
    gint phase_positive;               /* CSA PhaseEncodingDirectionPositive, -1 without */
    gboolean has_b;                    /* a diffusion b value (s/mm2) and gradient (LPS) */
    double b, gradient[3];
    gboolean gradient_on_axes;         /* the gradient is on the image's axes (GE's): as is */
    double echo_time, tr, flip;        /* ms, ms, degrees; 0 without */
    double acq_time;                   /* AcquisitionTime in seconds since midnight, -1 without */
    double acq_time_hhmmss;            /* the same as the number HHMMSS.FFFFFF, 0 without */
    gint64 echo_number, series_number, instance_number;
    gboolean phase, real, imaginary;   /* ImageType's third value, or its P/R/I flags */
    gboolean mr3d;                     /* MRAcquisitionType 3D */
    gboolean mosaic;                   /* ImageType MOSAIC: Siemens' slices as tiles */
    gboolean enhanced;                 /* a frame of an enhanced multi-frame object:
                                          its functional groups said where it is */
    char *modality, *protocol, *description, *series_uid, *sop_uid, *manufacturer;
    char *image_type;                  /* its values joined by '\' */
    char *comments;                    /* ImageComments */
    char *transfer_syntax;
} DfsSlice;

/* The facts of frame `frame` of dataset ds (header-only is enough) for the
 * caller's node: an enhanced object's from the frame's Per-Frame (else the
 * Shared) Functional Groups.  FALSE with an error where it has no usable
 * image. */
gboolean dfs_slice_read(const DfsDataset *ds, guint node, guint frame, DfsSlice *out,
                        GError **error);

/* Append every image of the instance (dataset ds, the caller's node) to
 * slices (DfsSlice): each frame, and each tile of a Siemens mosaic (its
 * CSA header's NumberOfImagesInMosaic, placed along SliceNormalVector as
 * dcm2niix does).  FALSE with an error (nothing appended) where it has no
 * usable image. */
gboolean dfs_slices_read(const DfsDataset *ds, guint node, guint frames, GArray *slices,
                         GError **error);

void dfs_slice_clear(DfsSlice *s);

/* dcm2niix's name for the vendor of a Manufacturer value ("Siemens", "GE",
 * "Philips", ...), or NULL for one it does not know (it names no other). */
const char *dfs_vendor_name(const char *manufacturer);

/* Value n of top-level element tag as a finite number, whatever its VR: a
 * private element read as implicit VR has none, so its bytes are taken as
 * text (DS, IS) or, 2 bytes that are no text, as an SS. */
gboolean dfs_private_number(const DfsDataset *ds, guint32 tag, guint n, double *out);

/* Bytes of one sample as decoded (1, 2, 4 or 8). */
guint dfs_slice_sample_bytes(const DfsSlice *s);

G_END_DECLS
