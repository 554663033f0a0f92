/* dicomfs core: a series as volumes, by the rules of dcm2niix (Debian 12's
 * 1.0.20220720 is the reference; README, "Volumes", lists the rules and
 * every known difference).
 *
 * A plan takes the images of one series (slice.h), drops exact duplicates,
 * splits them into volumes where dcm2niix does (echo, orientation, image
 * type, shape, TR, flip angle, SeriesInstanceUID), orders each volume's
 * slices along the normal of their orientation (4D where positions repeat),
 * and fixes everything a volume file needs without reading a pixel: shape,
 * voxel size, data type and scaling, the affine, the file's name.  The
 * voxels are then read by range (dfs_volume_read), each request
 * fetching only the frames it touches.
 *
 * Costs: a plan is O(n log n) in the series' images, nothing else. */
#pragma once

#include <glib.h>

#include "volumes/slice.h"

G_BEGIN_DECLS

/* NIfTI data type codes. */
enum {
    DFS_NIFTI_UINT8 = 2,
    DFS_NIFTI_INT16 = 4,
    DFS_NIFTI_INT32 = 8,
    DFS_NIFTI_FLOAT32 = 16,
    DFS_NIFTI_FLOAT64 = 64,
    DFS_NIFTI_RGB24 = 128,
    DFS_NIFTI_INT8 = 256,
    DFS_NIFTI_UINT16 = 512,
    DFS_NIFTI_UINT32 = 768,
};

typedef struct {
    char *stem;              /* dcm2niix's -f %p_%s name, with its postfixes */
    guint dim[4];            /* x y z t */
    double pixdim[4];        /* mm mm mm s */
    double qfac;             /* pixdim[0]: 1 or -1 */
    guint datatype, bitpix;
    guint stored_type;       /* the stored values' type (datatype but where to_float) */
    double slope, inter;     /* scl_slope, scl_inter */
    double sform[3][4];      /* RAS mm of voxel (i j k): exact, with any shear */
    double qform[3][4];      /* the same without shear (what a quaternion holds) */
    double quatern[3];       /* b c d of qform */
    char descrip[80];
    char aux_file[24];       /* ImageComments, as dcm2niix puts it there */
    gboolean to_float;       /* scaling varies: each slice's applied, float32 written */
    gboolean tilted;         /* the slices are sheared (gantry tilt) */
    gboolean multi_echo;     /* one of the echoes of a series split by echo */
    /* The stacked grid: columns, rows (bottom row first), slices in order
     * along the normal.  Output axis a runs along stacked axis perm[a],
     * backwards where flip[a] (3D acquisitions turned to the nearest RAS). */
    guint n_in[3];
    guint perm[3];
    gboolean flip[3];
    guint *order;            /* slice k of volume t: plan image order[t * n_in[2] + k] */
    guint n_order;
    guint64 voxel_bytes;     /* dim product x bitpix / 8 */
    GPtrArray *warnings;     /* strings: what a user should know of this volume */
    /* What a format keeps of the volume once made (the MINC2 layout), set
     * once under the plan's lock, freed with the plan by its notify. */
    gpointer kept;
    GDestroyNotify kept_free;
} DfsVolume;

typedef struct {
    DfsSlice *slices;        /* the images given, in the order given */
    guint n_slices;
    DfsVolume *volumes;
    guint n_volumes;
    GPtrArray *notes;        /* strings: images dropped or not converted, and why */
    guint64 tag;             /* the caller's: what the plan was made from */
    GMutex lock;             /* guards the volumes' kept */
    gint refs;
} DfsVolumePlan;

/* A plan of the n images in slices (taken: the plan owns and clears them).
 * Never fails: what cannot be converted is a note. */
DfsVolumePlan *dfs_volume_plan_new(DfsSlice *slices, guint n);
DfsVolumePlan *dfs_volume_plan_ref(DfsVolumePlan *p);
void dfs_volume_plan_unref(DfsVolumePlan *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DfsVolumePlan, dfs_volume_plan_unref)

/* Bytes the plan holds, for a cache's budget. */
gsize dfs_volume_plan_memory(const DfsVolumePlan *p);

/* --- the voxels, read by range (voxels.c) --- */

/* The decoded frame of plan image `slice` (stored values, rows x columns x
 * samples, little endian), with a reference for the caller; NULL with an
 * error. */
typedef GBytes *(*DfsFrameFetch)(gpointer user, guint slice, GError **error);

/* Optional, beside the fetch: where plan image `slice`'s stored frame is
 * bytes [*base, *base + *length) of a file as they are (native pixel data,
 * little endian): an fd open for reading, which the caller closes, or -1
 * where the frame is to be fetched. */
typedef int (*DfsFrameSource)(gpointer user, guint slice, guint64 *base, guint64 *length);

/* Bytes [offset, offset + length) of the voxels as datatype (the volume's,
 * or one that holds every value of it: Analyze has no UINT16, say), each
 * slice's scaling applied where `scaled` (as the .nii of a volume whose
 * scaling varies), else the stored values (MINC keeps each slice's).  By
 * gathering: each output row from its frame, the frames of the range
 * fetched once each.  Where `source` gives a frame's file and the rows are
 * its bytes as they are, they are read from the file straight into place
 * (one preadv a frame) rather than fetched and copied. */
gboolean dfs_volume_read(const DfsVolumePlan *p, const DfsVolume *vol, guint datatype,
                         gboolean scaled, guint64 offset, gsize length, DfsFrameFetch fetch,
                         DfsFrameSource source, gpointer user, GString *out, GError **error);

/* Is the volume turned (3D acquisitions to the nearest RAS), so that an
 * output row crosses many frames? */
gboolean dfs_volume_is_permuted(const DfsVolume *vol);

/* The same bytes as dfs_volume_read, by scattering: every frame fetched
 * once, one at a time, its voxels inside the range put in place.  For
 * turned volumes, read in slabs: memory is the range and one frame. */
gboolean dfs_volume_scatter(const DfsVolumePlan *p, const DfsVolume *vol, guint datatype,
                            gboolean scaled, guint64 offset, gsize length, DfsFrameFetch fetch,
                            gpointer user, GString *out, GError **error);

guint64 dfs_volume_bytes_as(const DfsVolume *vol, guint datatype);

/* Bytes of one voxel of a NIfTI/Analyze data type (RGB24: 3). */
guint dfs_volume_type_bytes(guint datatype);

G_END_DECLS
