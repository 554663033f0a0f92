/* dicomfs core: MINC2 files.  See minc.h.  The layout is MINC 2.0's (the
 * groups, datasets and attributes libminc writes and reads: dimension
 * variables with start, step, direction_cosines, spacing; the image with
 * dimorder and valid_range; image-min and image-max), written with HDF5's
 * own library, its file format pinned to 1.8 as libminc pins it. */
#include "volumes/minc.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <hdf5.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"

static GMutex hdf5_lock; /* one file at a time: HDF5 keeps global state */

gboolean dfs_minc_supported(const DfsVolume *v)
{
    return v->datatype != DFS_NIFTI_RGB24 && !(v->to_float && (v->perm[2] != 2));
}

void dfs_minc_layout_free(DfsMincLayout *l)
{
    if (l == NULL)
        return;
    g_bytes_unref(l->head);
    g_bytes_unref(l->tail);
    g_free(l);
}

/* --- attributes ----------------------------------------------------------------- */

static void attr_string(hid_t obj, const char *name, const char *value)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, strlen(value) + 1);
    H5Tset_strpad(type, H5T_STR_NULLTERM);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, type, value);
    H5Aclose(a);
    H5Sclose(space);
    H5Tclose(type);
}

static void attr_doubles(hid_t obj, const char *name, const double *v, hsize_t n)
{
    hid_t space = n == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, NULL);
    hid_t a = H5Acreate2(obj, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_DOUBLE, v);
    H5Aclose(a);
    H5Sclose(space);
}

static void attr_u32(hid_t obj, const char *name, guint32 v)
{
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, H5T_STD_U32LE, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_UINT32, &v);
    H5Aclose(a);
    H5Sclose(space);
}

/* The attributes every MINC variable has. */
static void minc_variable(hid_t obj, const char *vartype)
{
    attr_string(obj, "varid", "MINC standard variable");
    attr_string(obj, "vartype", vartype);
    attr_string(obj, "version", "MINC Version    1.0");
}

/* --- the file ------------------------------------------------------------------------ */

static hid_t hdf5_type(guint datatype)
{
    switch (datatype) {
    case DFS_NIFTI_UINT8: return H5T_STD_U8LE;
    case DFS_NIFTI_INT8: return H5T_STD_I8LE;
    case DFS_NIFTI_INT16: return H5T_STD_I16LE;
    case DFS_NIFTI_UINT16: return H5T_STD_U16LE;
    case DFS_NIFTI_INT32: return H5T_STD_I32LE;
    case DFS_NIFTI_UINT32: return H5T_STD_U32LE;
    case DFS_NIFTI_FLOAT64: return H5T_IEEE_F64LE;
    default: return H5T_IEEE_F32LE;
    }
}

/* The full range of an integer type; [0, 1] for floats, whose values are
 * real values already (image-min 0 and image-max 1 make that identity). */
static void type_range(guint datatype, double range[2])
{
    switch (datatype) {
    case DFS_NIFTI_UINT8: range[0] = 0; range[1] = G_MAXUINT8; break;
    case DFS_NIFTI_INT8: range[0] = G_MININT8; range[1] = G_MAXINT8; break;
    case DFS_NIFTI_INT16: range[0] = G_MININT16; range[1] = G_MAXINT16; break;
    case DFS_NIFTI_UINT16: range[0] = 0; range[1] = G_MAXUINT16; break;
    case DFS_NIFTI_INT32: range[0] = G_MININT32; range[1] = G_MAXINT32; break;
    case DFS_NIFTI_UINT32: range[0] = 0; range[1] = G_MAXUINT32; break;
    default: range[0] = 0; range[1] = 1; break;
    }
}

static hid_t object_props(hid_t cls)
{
    hid_t p = H5Pcreate(cls);
    H5Pset_obj_track_times(p, FALSE); /* no times: the same bytes every time */
    return p;
}

/* Each NIfTI axis's MINC dimension: the world axis it is nearest (x, y or
 * z, each once), its direction cosines pointing that axis's way and the
 * step signed accordingly, start the origin's coordinate along it. */
typedef struct {
    const char *name;
    double cosines[3], step, start;
} Dim;

static void dimensions(const DfsVolume *v, Dim dims[3])
{
    static const char *names[] = {"xspace", "yspace", "zspace"};
    gboolean used[3] = {FALSE, FALSE, FALSE}, done[3] = {FALSE, FALSE, FALSE};
    guint world[3] = {0, 1, 2};
    for (guint round = 0; round < 3; round++) {
        double best = -1;
        guint ba = 0, bw = 0;
        for (guint a = 0; a < 3; a++)
            for (guint w = 0; w < 3; w++)
                if (!done[a] && !used[w] && fabs(v->qform[w][a]) > best) {
                    best = fabs(v->qform[w][a]);
                    ba = a;
                    bw = w;
                }
        done[ba] = used[bw] = TRUE;
        world[ba] = bw;
    }
    for (guint a = 0; a < 3; a++) {
        double len = 0;
        for (guint w = 0; w < 3; w++)
            len += v->qform[w][a] * v->qform[w][a];
        len = sqrt(len);
        double sign = v->qform[world[a]][a] < 0 ? -1 : 1;
        dims[a].name = names[world[a]];
        dims[a].step = sign * len;
        dims[a].start = 0;
        for (guint w = 0; w < 3; w++) {
            dims[a].cosines[w] = len > 0 ? sign * v->qform[w][a] / len : (w == world[a]);
            dims[a].start += dims[a].cosines[w] * v->qform[w][3];
        }
    }
}

static void write_dimension(hid_t group, const char *name, const double *cosines, double step,
                            double start, guint32 length, const char *units)
{
    hid_t space = H5Screate(H5S_SCALAR), dcpl = object_props(H5P_DATASET_CREATE);
    hid_t d = H5Dcreate2(group, name, H5T_STD_I32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    minc_variable(d, "dimension____");
    attr_string(d, "spacing", "regular__");
    attr_string(d, "alignment", "centre");
    attr_doubles(d, "step", &step, 0);
    attr_doubles(d, "start", &start, 0);
    if (cosines != NULL)
        attr_doubles(d, "direction_cosines", cosines, 3);
    attr_u32(d, "length", length);
    attr_string(d, "units", units);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
}

/* image-min or image-max: scalar, or one value per slice (and volume). */
static void write_extreme(hid_t group, const char *name, const double *values, guint nt,
                          guint nz, const char *dimorder)
{
    hsize_t shape[2] = {nt, nz};
    int rank = dimorder == NULL ? 0 : nt > 1 ? 2 : 1;
    if (rank == 1)
        shape[0] = nz;
    hid_t space = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, shape, NULL);
    hid_t dcpl = object_props(H5P_DATASET_CREATE);
    hid_t d = H5Dcreate2(group, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values);
    minc_variable(d, "var_attribute");
    if (dimorder != NULL)
        attr_string(d, "dimorder", dimorder);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
}

/* Write the file at path; the image data's offset in *offset. */
static gboolean write_file(const DfsVolumePlan *p, const DfsVolume *v, const char *path,
                           guint64 *offset)
{
    hid_t fcpl = object_props(H5P_FILE_CREATE), fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, fapl);
    H5Pclose(fcpl);
    H5Pclose(fapl);
    if (f < 0)
        return FALSE;
    hid_t gcpl = object_props(H5P_GROUP_CREATE);
    hid_t root = H5Gcreate2(f, "minc-2.0", H5P_DEFAULT, gcpl, H5P_DEFAULT);
    attr_string(root, "minc_version", "2.0");
    hid_t dimg = H5Gcreate2(root, "dimensions", H5P_DEFAULT, gcpl, H5P_DEFAULT);
    hid_t info = H5Gcreate2(root, "info", H5P_DEFAULT, gcpl, H5P_DEFAULT);
    hid_t imgs = H5Gcreate2(root, "image", H5P_DEFAULT, gcpl, H5P_DEFAULT);
    hid_t img0 = H5Gcreate2(imgs, "0", H5P_DEFAULT, gcpl, H5P_DEFAULT);

    Dim dims[3];
    dimensions(v, dims);
    for (guint a = 0; a < 3; a++)
        write_dimension(dimg, dims[a].name, dims[a].cosines, dims[a].step, dims[a].start,
                        v->dim[a], "mm");
    gboolean time = v->dim[3] > 1;
    if (time)
        write_dimension(dimg, "time", NULL, v->pixdim[3] > 0 ? v->pixdim[3] : 1, 0, v->dim[3],
                        "s");

    /* The image: slowest first, as the .nii's voxels run. */
    GString *order = g_string_new(time ? "time," : "");
    g_string_append_printf(order, "%s,%s,%s", dims[2].name, dims[1].name, dims[0].name);
    hsize_t shape[4] = {v->dim[3], v->dim[2], v->dim[1], v->dim[0]};
    hid_t space = H5Screate_simple(time ? 4 : 3, time ? shape : shape + 1, NULL);
    hid_t dcpl = object_props(H5P_DATASET_CREATE);
    H5Pset_layout(dcpl, H5D_CONTIGUOUS);
    H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER); /* never written: a hole in the file */
    hid_t image = H5Dcreate2(img0, "image", hdf5_type(v->stored_type), space, H5P_DEFAULT, dcpl,
                             H5P_DEFAULT);
    double range[2];
    type_range(v->stored_type, range);
    minc_variable(image, "group________");
    attr_string(image, "dimorder", order->str);
    attr_doubles(image, "valid_range", range, 2);
    attr_string(image, "complete", "true_");
    haddr_t at = H5Dget_offset(image);

    /* Real values: stored x slope + intercept, by image-min/image-max
     * over valid_range, per slice where the scaling varies. */
    gboolean per_slice = v->to_float && !(range[0] == 0 && range[1] == 1);
    guint nz = v->dim[2], nt = v->dim[3], n = per_slice ? nz * nt : 1;
    double *lo = g_new(double, n), *hi = g_new(double, n);
    for (guint k = 0; k < n; k++) {
        double slope = v->slope, inter = v->inter;
        if (per_slice) {
            guint t = k / nz, z = k % nz;
            const DfsSlice *s = &p->slices[v->order[t * nz + (v->flip[2] ? nz - 1 - z : z)]];
            slope = s->slope;
            inter = s->intercept;
        }
        lo[k] = range[0] == 0 && range[1] == 1 ? 0 : slope * range[0] + inter;
        hi[k] = range[0] == 0 && range[1] == 1 ? 1 : slope * range[1] + inter;
    }
    g_autofree char *by = per_slice ? g_strdup_printf("%s%s", time ? "time," : "", dims[2].name)
                                    : NULL;
    write_extreme(img0, "image-min", lo, nt, nz, by);
    write_extreme(img0, "image-max", hi, nt, nz, by);
    g_free(lo);
    g_free(hi);

    H5Dclose(image);
    H5Pclose(dcpl);
    H5Sclose(space);
    g_string_free(order, TRUE);
    H5Gclose(img0);
    H5Gclose(imgs);
    H5Gclose(info);
    H5Gclose(dimg);
    H5Gclose(root);
    H5Pclose(gcpl);
    gboolean ok = H5Fclose(f) >= 0 && at != HADDR_UNDEF;
    *offset = at;
    return ok;
}

static gboolean read_part(int fd, guint64 from, guint64 to, GBytes **out)
{
    gsize n = (gsize)(to - from);
    guint8 *buf = g_malloc(MAX(n, 1));
    gsize got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, (off_t)(from + got));
        if (r <= 0) {
            g_free(buf);
            return FALSE;
        }
        got += (gsize)r;
    }
    *out = g_bytes_new_take(buf, n);
    return TRUE;
}

DfsMincLayout *dfs_minc_layout(const DfsVolumePlan *p, const DfsVolume *v, GError **error)
{
    if (!dfs_minc_supported(v)) {
        g_set_error_literal(error, DFS_ERROR, DFS_ERROR_UNSUPPORTED, "no MINC2 of this volume");
        return NULL;
    }
    g_autofree char *path = NULL;
    int fd = g_file_open_tmp("dicomfs-minc-XXXXXX.mnc", &path, error);
    if (fd < 0)
        return NULL;
    close(fd);
    g_mutex_lock(&hdf5_lock);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* failures are ours to say */
    guint64 offset = 0;
    gboolean ok = write_file(p, v, path, &offset);
    g_mutex_unlock(&hdf5_lock);
    DfsMincLayout *l = g_new0(DfsMincLayout, 1);
    l->data_offset = offset;
    l->data_bytes = dfs_volume_bytes_as(v, v->stored_type);
    struct stat st;
    fd = ok ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    ok = fd >= 0 && fstat(fd, &st) == 0 && (guint64)st.st_size >= offset + l->data_bytes &&
         read_part(fd, 0, offset, &l->head) &&
         read_part(fd, offset + l->data_bytes, (guint64)st.st_size, &l->tail);
    if (fd >= 0)
        close(fd);
    unlink(path);
    if (!ok) {
        dfs_minc_layout_free(l);
        g_set_error_literal(error, DFS_ERROR, DFS_ERROR_IO, "the MINC2 file could not be made");
        return NULL;
    }
    return l;
}
