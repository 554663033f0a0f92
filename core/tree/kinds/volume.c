/* dicomfs core: a series' volume/: the series as the volumes dcm2niix
 * writes (volumes/plan.h), one file per volume and format, and
 * conversion.txt: the images used in slice order, and every warning or
 * refusal in words.  Formats: NIfTI-1 (.nii), its BIDS sidecar (.json),
 * FSL's b values and vectors of diffusion volumes (.bval, .bvec), Analyze
 * 7.5 with SPM's affine (.hdr, .img, .mat), MINC2 (.mnc).
 *
 * The plan is made from the series' headers (cached ones, read once) and
 * kept in the tree's plan cache: sizes and listings decode no pixel.  A
 * volume file is read by range: each request decodes (through the content
 * cache, as frames/NNNN.raw) only the frames its bytes come from.
 *
 * An entry's sub: 0 for conversion.txt, else (volume + 1) << 4 | format. */
#include "tree/kind.h"

#include <string.h>

#include "base/cache.h"
#include "base/error.h"
#include "dicom/input.h"
#include "tree/instance.h"
#include "tree/tree-private.h"
#include "volumes/analyze.h"
#include "volumes/bids.h"
#include "volumes/fsl.h"
#include "volumes/minc.h"
#include "volumes/nifti.h"
#include "volumes/plan.h"

#define CONVERSION_TXT "conversion.txt"
#define FORMAT_BITS 4

/* --- formats ----------------------------------------------------------------- */

typedef struct {
    const char *ext;
    /* Large files: their size from the plan, and bytes [offset, offset +
     * length) of them appended to out. */
    gboolean (*size)(const DfsVolumePlan *p, const DfsVolume *vol, guint64 *size,
                     GError **error);
    gboolean (*read)(const DfsView *v, const DfsVolumePlan *p, const DfsVolume *vol,
                     guint64 offset, gsize length, GString *out, GError **error);
    /* Small ones (headers, text), made whole (size and read alike). */
    gboolean (*render)(const DfsView *v, const DfsVolumePlan *p, const DfsVolume *vol,
                       GString *out, GError **error);
    /* Whether a volume has this file (NULL: every one). */
    gboolean (*shown)(const DfsVolumePlan *p, const DfsVolume *vol);
} Format;

typedef struct {
    const DfsView *v;
    const DfsVolumePlan *p;
} FetchCtx;

static GBytes *fetch_frame(gpointer user, guint slice, GError **error)
{
    const FetchCtx *c = user;
    const DfsSlice *s = &c->p->slices[slice];
    return dfs_view_rendered(c->v, DFS_ENTRY_MAKE(DFS_KIND_FRAME_RAW, s->node, s->frame), error);
}

static GBytes *fetch_frame_fresh(gpointer user, guint slice, GError **error)
{
    const FetchCtx *c = user;
    const DfsSlice *s = &c->p->slices[slice];
    return dfs_view_render_fresh(c->v, DFS_ENTRY_MAKE(DFS_KIND_FRAME_RAW, s->node, s->frame),
                                 error);
}

/* A native frame's stored values in its file (as the plan found them):
 * the volume's rows are read from it straight into place. */
static int frame_source(gpointer user, guint slice, guint64 *base, guint64 *length)
{
    const FetchCtx *c = user;
    const DfsSlice *s = &c->p->slices[slice];
    if (s->stored_at == 0)
        return -1;
    g_autofree char *path = dfs_view_path(c->v, s->node, NULL);
    *base = s->stored_at;
    *length = (guint64)s->frame_rows * s->frame_columns * s->samples * dfs_slice_sample_bytes(s);
    int fd = path != NULL ? dfs_input_open(path) : -1;
    if (fd >= 0)
        dfs_view_count_frame_read(c->v);
    return fd;
}

/* A turned volume is read in slabs of this many bytes, each made by one
 * pass over its frames and kept in the content cache: a read costs its
 * slab's pass once, whatever the requests' size. */
#define SLAB_BYTES ((guint64)4 << 20)

/* Which voxel bytes (a volume file's data part): its type, its scaling. */
typedef enum { VOXELS_NII, VOXELS_IMG, VOXELS_MNC } VoxelKind;

/* The content cache's key of slab n of vol's voxels as `kind`: under the
 * series' volume/ folder entry, which has no content of its own. */
static guint64 slab_key(guint series, guint vol, VoxelKind kind, guint64 n)
{
    return DFS_ENTRY_MAKE(DFS_KIND_VOLUME_DIR, series,
                          ((vol & 0xFF) << 16) | ((guint)kind << 14) | (guint)(n & 0x3FFF));
}

/* Append bytes [offset, offset + length) of vol's voxels as `kind` to out:
 * gathered row by row, or for a turned volume from its slabs. */
static gboolean read_voxels(const DfsView *v, const DfsVolumePlan *p, const DfsVolume *vol,
                            VoxelKind kind, guint64 offset, gsize length, GString *out,
                            GError **error)
{
    guint datatype = kind == VOXELS_MNC   ? vol->stored_type
                     : kind == VOXELS_IMG ? dfs_analyze_datatype(vol)
                                          : vol->datatype;
    gboolean scaled = kind != VOXELS_MNC && vol->to_float;
    FetchCtx c = {v, p};
    if (!dfs_volume_is_permuted(vol))
        return dfs_volume_read(p, vol, datatype, scaled, offset, length, fetch_frame,
                               frame_source, &c, out, error);
    guint64 total = dfs_volume_bytes_as(vol, datatype);
    DfsCache *cache = dfs_tree_contents(v->tree);
    guint series = p->slices[vol->order[0]].node; /* (any node of the series would do) */
    series = dfs_index_parent(v->idx, series);
    guint index = (guint)(vol - p->volumes);
    while (length > 0 && offset < total) {
        guint64 n = offset / SLAB_BYTES, start = n * SLAB_BYTES;
        guint64 key = slab_key(series, index, kind, n);
        GBytes *slab = dfs_cache_get(cache, key);
        if (slab == NULL) { /* one pass at a time: the others then find it made */
            DfsVolumePlan *mp = (DfsVolumePlan *)p;
            g_mutex_lock(&mp->lock);
            slab = dfs_cache_get(cache, key);
            if (slab == NULL) {
                GString *made = g_string_new(NULL);
                if (!dfs_volume_scatter(p, vol, datatype, scaled, start, SLAB_BYTES,
                                        fetch_frame_fresh, &c, made, error)) {
                    g_mutex_unlock(&mp->lock);
                    g_string_free(made, TRUE);
                    return FALSE;
                }
                gsize room = made->allocated_len + DFS_CACHE_ENTRY_COST;
                GBytes *fresh = g_string_free_to_bytes(made);
                slab = dfs_cache_put(cache, key, fresh, room);
                g_bytes_unref(fresh);
            }
            g_mutex_unlock(&mp->lock);
        }
        gsize have;
        const guint8 *bytes = g_bytes_get_data(slab, &have);
        gsize from = (gsize)(offset - start);
        gsize n_bytes = from < have ? MIN(length, have - from) : 0;
        g_string_append_len(out, (const char *)bytes + from, (gssize)n_bytes);
        g_bytes_unref(slab);
        if (n_bytes == 0)
            break;
        offset += n_bytes;
        length -= n_bytes;
    }
    return TRUE;
}

/* Append [offset, offset + length) of bytes (a header) to out; what is
 * left of the request in *offset and *length (offset then counts from the
 * end of the bytes). */
static void read_fixed(const guint8 *bytes, gsize n, guint64 *offset, gsize *length, GString *out)
{
    if (*offset < n) {
        gsize k = (gsize)MIN((guint64)*length, n - *offset);
        g_string_append_len(out, (const char *)bytes + *offset, (gssize)k);
        *length -= k;
        *offset = n;
    }
    *offset -= n;
}

static gboolean nii_read(const DfsView *v, const DfsVolumePlan *p, const DfsVolume *vol,
                         guint64 offset, gsize length, GString *out, GError **error)
{
    guint8 h[DFS_NIFTI_HEADER_BYTES];
    dfs_nifti_header(vol, h);
    read_fixed(h, sizeof h, &offset, &length, out);
    return length == 0 || read_voxels(v, p, vol, VOXELS_NII, offset, length, out, error);
}

static gboolean hdr_render(const DfsView *v, const DfsVolumePlan *p, const DfsVolume *vol,
                           GString *out, GError **error)
{
    guint8 h[DFS_ANALYZE_HEADER_BYTES];
    dfs_analyze_header(vol, h);
    g_string_append_len(out, (const char *)h, sizeof h);
    return TRUE;
}

static gboolean img_size(const DfsVolumePlan *p, const DfsVolume *vol, guint64 *size,
                         GError **error)
{
    *size = dfs_volume_bytes_as(vol, dfs_analyze_datatype(vol));
    return TRUE;
}

static gboolean img_read(const DfsView *v, const DfsVolumePlan *p, const DfsVolume *vol,
                         guint64 offset, gsize length, GString *out, GError **error)
{
    return read_voxels(v, p, vol, VOXELS_IMG, offset, length, out, error);
}

static gboolean mat_render(const DfsView *v, const DfsVolumePlan *p, const DfsVolume *vol,
                           GString *out, GError **error)
{
    guint8 m[DFS_SPM_MAT_BYTES];
    dfs_spm_mat(vol, m);
    g_string_append_len(out, (const char *)m, sizeof m);
    return TRUE;
}

static gboolean json_render(const DfsView *v, const DfsVolumePlan *p, const DfsVolume *vol,
                            GString *out, GError **error)
{
    g_autoptr(DfsDataset) ds = dfs_instance_header(v, p->slices[vol->order[0]].node, error);
    if (ds == NULL)
        return FALSE;
    dfs_bids_json(p, vol, ds, out);
    return TRUE;
}

/* The MINC2 layout of vol, made once and kept with the plan. */
static const DfsMincLayout *minc_of(const DfsVolumePlan *p, const DfsVolume *vol, GError **error)
{
    DfsVolumePlan *mp = (DfsVolumePlan *)p;
    DfsVolume *mv = (DfsVolume *)vol;
    g_mutex_lock(&mp->lock);
    if (mv->kept == NULL) {
        mv->kept = dfs_minc_layout(p, vol, error);
        mv->kept_free = (GDestroyNotify)dfs_minc_layout_free;
    }
    const DfsMincLayout *l = mv->kept;
    g_mutex_unlock(&mp->lock);
    return l;
}

static gboolean mnc_size(const DfsVolumePlan *p, const DfsVolume *vol, guint64 *size,
                         GError **error)
{
    const DfsMincLayout *l = minc_of(p, vol, error);
    if (l != NULL)
        *size = g_bytes_get_size(l->head) + l->data_bytes + g_bytes_get_size(l->tail);
    return l != NULL;
}

static gboolean nii_size(const DfsVolumePlan *p, const DfsVolume *vol, guint64 *size,
                         GError **error)
{
    *size = dfs_nifti_size(vol);
    return TRUE;
}

static gboolean mnc_read(const DfsView *v, const DfsVolumePlan *p, const DfsVolume *vol,
                         guint64 offset, gsize length, GString *out, GError **error)
{
    const DfsMincLayout *l = minc_of(p, vol, error);
    if (l == NULL)
        return FALSE;
    gsize n;
    const guint8 *head = g_bytes_get_data(l->head, &n);
    read_fixed(head, n, &offset, &length, out);
    if (length > 0 && offset < l->data_bytes) {
        gsize k = (gsize)MIN((guint64)length, l->data_bytes - offset);
        if (!read_voxels(v, p, vol, VOXELS_MNC, offset, k, out, error))
            return FALSE;
        length -= k;
        offset = l->data_bytes;
    }
    offset -= l->data_bytes;
    const guint8 *tail = g_bytes_get_data(l->tail, &n);
    read_fixed(tail, n, &offset, &length, out);
    return TRUE;
}

static gboolean mnc_shown(const DfsVolumePlan *p, const DfsVolume *vol)
{
    return dfs_minc_supported(vol);
}

static gboolean bval_render(const DfsView *v, const DfsVolumePlan *p, const DfsVolume *vol,
                            GString *out, GError **error)
{
    dfs_fsl_bval(p, vol, out);
    return TRUE;
}

static gboolean bvec_render(const DfsView *v, const DfsVolumePlan *p, const DfsVolume *vol,
                            GString *out, GError **error)
{
    dfs_fsl_bvec(p, vol, out);
    return TRUE;
}

/* In listing order (by name). */
static const Format formats[] = {
    {NULL, NULL, NULL, NULL, NULL}, /* 0: conversion.txt */
    {".bval", NULL, NULL, bval_render, dfs_fsl_is_diffusion},
    {".bvec", NULL, NULL, bvec_render, dfs_fsl_is_diffusion},
    {".hdr", NULL, NULL, hdr_render, NULL},
    {".img", img_size, img_read, NULL, NULL},
    {".json", NULL, NULL, json_render, NULL},
    {".mat", NULL, NULL, mat_render, NULL},
    {".mnc", mnc_size, mnc_read, NULL, mnc_shown},
    {".nii", nii_size, nii_read, NULL, NULL},
};

static gboolean format_shown(const DfsVolumePlan *p, guint vol, guint f)
{
    return formats[f].shown == NULL || formats[f].shown(p, &p->volumes[vol]);
}

/* --- the plan of a series ------------------------------------------------------ */

/* The images of series node's instances, and what could not be read. */
static DfsVolumePlan *make_plan(const DfsView *v, guint series)
{
    guint n;
    const guint32 *ch = dfs_index_children(v->idx, series, &n);
    dfs_view_count_plan(v);
    GArray *slices = g_array_sized_new(FALSE, TRUE, sizeof(DfsSlice), n);
    GPtrArray *unread = g_ptr_array_new_with_free_func(g_free);
    for (guint k = 0; k < n; k++) {
        guint node = ch[k];
        if (dfs_index_level(v->idx, node) != DFS_LEVEL_INSTANCE)
            continue;
        g_autoptr(GError) error = NULL;
        /* One pass: headers not in the cache are not put there (a series
         * of thousands would only churn it; memory fresh for each would
         * cost more than the parse). */
        g_autoptr(DfsDataset) ds = dfs_instance_header_once(v, node, &error);
        guint frames = ds != NULL ? dfs_instance_frames_of(ds) : 0;
        if (ds != NULL && frames == 0) {
            g_ptr_array_add(unread, g_strdup_printf("%s: no pixel data that dicomfs decodes",
                                                    dfs_index_relpath(v->idx, node)));
            continue;
        }
        guint before = slices->len;
        if (ds == NULL || !dfs_slices_read(ds, node, frames, slices, &error)) {
            g_ptr_array_add(unread, g_strdup_printf("%s: %s", dfs_index_relpath(v->idx, node),
                                                    error ? error->message : "no image"));
            continue;
        }
        for (guint i = before; i < slices->len; i++) {
            DfsSlice *s = &g_array_index(slices, DfsSlice, i);
            guint64 at, length;
            if (dfs_instance_raw_slice_of(v, node, ds, s->frame, 1, &at, &length))
                s->stored_at = at;
        }
    }
    guint count = slices->len;
    DfsVolumePlan *p = dfs_volume_plan_new((DfsSlice *)g_array_free(slices, FALSE), count);
    for (guint k = 0; k < unread->len; k++)
        g_ptr_array_add(p->notes, g_strdup_printf("not an image of a volume: %s",
                                                  (char *)unread->pdata[k]));
    g_ptr_array_unref(unread);
    p->tag = n;
    return p;
}

/* The plan of series node (a new reference), from the cache or made now. */
static DfsVolumePlan *plan_of(const DfsView *v, guint series)
{
    DfsCache *cache = dfs_tree_plans(v->tree);
    guint n;
    dfs_index_children(v->idx, series, &n);
    DfsVolumePlan *p = dfs_cache_get(cache, series);
    if (p != NULL && p->tag == n) /* (while the scan runs, a series may grow) */
        return p;
    dfs_volume_plan_unref(p);
    DfsVolumePlan *fresh = make_plan(v, series);
    p = dfs_cache_put(cache, series, fresh, dfs_volume_plan_memory(fresh) + DFS_CACHE_ENTRY_COST);
    dfs_volume_plan_unref(fresh);
    if (p->tag != n) { /* another thread's, older */
        dfs_volume_plan_unref(p);
        return make_plan(v, series);
    }
    return p;
}

/* The volume and format of file entry e in plan p; FALSE where e names
 * none (conversion.txt: vol NULL). */
static gboolean volume_of(const DfsVolumePlan *p, DfsEntry e, const DfsVolume **vol,
                          const Format **fmt)
{
    guint sub = DFS_ENTRY_SUB(e), k = (sub >> FORMAT_BITS), f = sub & ((1u << FORMAT_BITS) - 1);
    *vol = NULL;
    *fmt = NULL;
    if (sub == 0)
        return TRUE;
    if (k == 0 || k > p->n_volumes || f == 0 || f >= G_N_ELEMENTS(formats) ||
        !format_shown(p, k - 1, f))
        return FALSE;
    *vol = &p->volumes[k - 1];
    *fmt = &formats[f];
    return TRUE;
}

/* --- volume/ ------------------------------------------------------------------- */

static gboolean volume_dir_lookup(const DfsView *v, DfsEntry dir, const char *name, DfsEntry *out,
                                  GError **error)
{
    guint series = DFS_ENTRY_NODE(dir);
    if (strcmp(name, CONVERSION_TXT) == 0) {
        *out = DFS_ENTRY_MAKE(DFS_KIND_VOLUME_FILE, series, 0);
        return TRUE;
    }
    /* A name that ends in no format's extension names no volume file: no
     * plan is made for it (a shell glob down to every instance's tags looks up
     * "tags" in every series' volume/ too, and a plan reads every header). */
    gboolean any = FALSE;
    for (guint f = 1; f < G_N_ELEMENTS(formats) && !any; f++)
        any = g_str_has_suffix(name, formats[f].ext) && strlen(name) > strlen(formats[f].ext);
    if (!any)
        return dfs_view_not_found(error, name);
    g_autoptr(DfsVolumePlan) p = plan_of(v, series);
    for (guint k = 0; k < p->n_volumes; k++) {
        gsize len = strlen(p->volumes[k].stem);
        if (strncmp(name, p->volumes[k].stem, len) != 0)
            continue;
        for (guint f = 1; f < G_N_ELEMENTS(formats); f++)
            if (strcmp(name + len, formats[f].ext) == 0 && format_shown(p, k, f)) {
                *out = DFS_ENTRY_MAKE(DFS_KIND_VOLUME_FILE, series, (k + 1) << FORMAT_BITS | f);
                return TRUE;
            }
    }
    return dfs_view_not_found(error, name);
}

static gboolean volume_dir_list(const DfsView *v, DfsEntry dir, DfsLister *l, GError **error)
{
    guint series = DFS_ENTRY_NODE(dir);
    if (l->from == 0 &&
        !dfs_lister_emit(l, 0, CONVERSION_TXT, DFS_ENTRY_MAKE(DFS_KIND_VOLUME_FILE, series, 0),
                         FALSE))
        return TRUE;
    g_autoptr(DfsVolumePlan) p = plan_of(v, series);
    guint nf = G_N_ELEMENTS(formats) - 1;
    for (guint64 pos = MAX(l->from, 1); pos < 1 + (guint64)p->n_volumes * nf && !l->stopped;
         pos++) {
        guint k = (guint)((pos - 1) / nf), f = (guint)((pos - 1) % nf) + 1;
        if (!format_shown(p, k, f))
            continue; /* (positions stay the same) */
        g_autofree char *name = g_strconcat(p->volumes[k].stem, formats[f].ext, NULL);
        dfs_lister_emit(l, pos, name,
                        DFS_ENTRY_MAKE(DFS_KIND_VOLUME_FILE, series, (k + 1) << FORMAT_BITS | f),
                        FALSE);
    }
    return TRUE;
}

static gboolean has_instances(const DfsView *v, guint node)
{
    return dfs_index_first_instance(v->idx, node) != DFS_NO_INDEX;
}

const DfsKind dfs_kind_volume_dir = {
    .flags = DFS_KIND_DIR | DFS_KIND_MOUNT_TIME,
    .lookup = volume_dir_lookup,
    .list = volume_dir_list,
    .name = "volume",
    .levels = DFS_LEVEL_MASK(DFS_LEVEL_SERIES),
    .shown = has_instances,
};

/* --- its files ------------------------------------------------------------------ */

static const char *type_name(guint datatype)
{
    switch (datatype) {
    case DFS_NIFTI_UINT8: return "uint8";
    case DFS_NIFTI_INT8: return "int8";
    case DFS_NIFTI_INT16: return "int16";
    case DFS_NIFTI_UINT16: return "uint16";
    case DFS_NIFTI_INT32: return "int32";
    case DFS_NIFTI_UINT32: return "uint32";
    case DFS_NIFTI_FLOAT32: return "float32";
    case DFS_NIFTI_FLOAT64: return "float64";
    case DFS_NIFTI_RGB24: return "rgb24";
    default: return "?";
    }
}

static void write_conversion(const DfsView *v, const DfsVolumePlan *p, GString *out)
{
    g_string_append_printf(out, "%u image(s), %u volume(s)\n", p->n_slices, p->n_volumes);
    for (guint k = 0; k < p->n_volumes; k++) {
        const DfsVolume *vol = &p->volumes[k];
        g_string_append_printf(out, "\n%s: %u x %u x %u x %u, %s, voxels %g x %g x %g mm, "
                                    "TR %g s, scl_slope %g, scl_inter %g\n",
                               vol->stem, vol->dim[0], vol->dim[1], vol->dim[2], vol->dim[3],
                               type_name(vol->datatype), vol->pixdim[0], vol->pixdim[1],
                               vol->pixdim[2], vol->pixdim[3], vol->slope, vol->inter);
        for (guint w = 0; w < vol->warnings->len; w++)
            g_string_append_printf(out, "  warning: %s\n", (char *)vol->warnings->pdata[w]);
        guint nz = vol->n_in[2];
        for (guint i = 0; i < vol->n_order; i++) {
            const DfsSlice *s = &p->slices[vol->order[i]];
            g_string_append_printf(out, "  volume %u slice %u: %s", i / nz + 1, i % nz + 1,
                                   dfs_index_relpath(v->idx, s->node));
            if (s->image.frames > 1)
                g_string_append_printf(out, " frame %u", s->frame + 1);
            if (s->columns < s->frame_columns) /* a tile of a mosaic */
                g_string_append_printf(out, " tile %u",
                                       s->row0 / s->rows * (s->frame_columns / s->columns) +
                                           s->col0 / s->columns + 1);
            g_string_append_c(out, '\n');
        }
    }
    if (p->notes->len)
        g_string_append_c(out, '\n');
    for (guint k = 0; k < p->notes->len; k++)
        g_string_append_printf(out, "%s\n", (char *)p->notes->pdata[k]);
}

/* The size of file entry e in *size and, where out is given, bytes
 * [offset, offset + length) of it appended to out. */
static gboolean file_access(const DfsView *v, DfsEntry e, guint64 offset, gsize length,
                            GString *out, guint64 *size, GError **error)
{
    g_autoptr(DfsVolumePlan) p = plan_of(v, DFS_ENTRY_NODE(e));
    const DfsVolume *vol;
    const Format *fmt;
    if (!volume_of(p, e, &vol, &fmt))
        return dfs_view_not_found(error, "volume file");
    if (vol == NULL) { /* conversion.txt: small, made whole */
        GString *all = g_string_new(NULL);
        write_conversion(v, p, all);
        *size = all->len;
        if (out != NULL && offset < all->len)
            g_string_append_len(out, all->str + offset, (gssize)MIN(length, all->len - offset));
        g_string_free(all, TRUE);
        return TRUE;
    }
    if (fmt->render != NULL) {
        GString *all = g_string_new(NULL);
        gboolean ok = fmt->render(v, p, vol, all, error);
        *size = all->len;
        if (ok && out != NULL && offset < all->len)
            g_string_append_len(out, all->str + offset, (gssize)MIN(length, all->len - offset));
        g_string_free(all, TRUE);
        return ok;
    }
    if (!fmt->size(p, vol, size, error))
        return FALSE;
    if (out == NULL || offset >= *size)
        return TRUE;
    return fmt->read(v, p, vol, offset, (gsize)MIN((guint64)length, *size - offset), out, error);
}

static gboolean file_size(const DfsView *v, DfsEntry e, guint64 *size, GError **error)
{
    return file_access(v, e, 0, 0, NULL, size, error);
}

static gboolean file_read(const DfsView *v, DfsEntry e, guint64 offset, gsize length,
                          GString *out, GError **error)
{
    guint64 size;
    return file_access(v, e, offset, length, out, &size, error);
}

/* A frame that fails to decode is noted (errors.tsv) under its own file,
 * as frames/NNNN.raw; the volume's read fails with it. */
const DfsKind dfs_kind_volume_file = {
    /* Sizes come from the plan, but a .mnc's from an HDF5 file made for
     * it: not for every listing of a walk (find, ls -R), only for a stat. */
    .flags = DFS_KIND_COSTLY,
    .size = file_size,
    .read = file_read,
};
