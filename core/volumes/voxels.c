/* dicomfs core: a volume's voxels read by range.  See plan.h.
 *
 * Each output row is gathered from its frame (dfs_volume_read), or, for a
 * volume turned so that its rows cross frames, each frame's voxels are
 * scattered into place (dfs_volume_scatter).  Frames come decoded through
 * the caller's fetch; native frames whose stored values are their file's
 * bytes are read from the file straight into place instead. */
#include "volumes/plan.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/error.h"

static double sample_value(const guint8 *b, const DfsSlice *s)
{
    switch (dfs_slice_sample_bytes(s)) {
    case 1: return s->is_signed ? (double)(gint8)b[0] : (double)b[0];
    case 2: {
        guint16 u = (guint16)(b[0] | b[1] << 8);
        return s->is_signed ? (double)(gint16)u : (double)u;
    }
    case 4: {
        guint32 u = (guint32)b[0] | (guint32)b[1] << 8 | (guint32)b[2] << 16 | (guint32)b[3] << 24;
        if (s->is_float) {
            float f;
            memcpy(&f, &u, 4);
            return f;
        }
        return s->is_signed ? (double)(gint32)u : (double)u;
    }
    default: {
        guint64 u = 0;
        for (guint k = 0; k < 8; k++)
            u |= (guint64)b[k] << (8 * k);
        double d;
        memcpy(&d, &u, 8);
        return d;
    }
    }
}

/* A fetched frame, checked to hold a whole frame: its bytes, or NULL with
 * an error (b dropped). */
static const guint8 *whole_frame(GBytes *b, gsize need, GError **error)
{
    if (b != NULL && g_bytes_get_size(b) >= need)
        return g_bytes_get_data(b, NULL);
    if (b != NULL)
        g_set_error(error, DFS_ERROR, DFS_ERROR_MALFORMED,
                    "a frame decoded to %zu bytes where %zu were expected", g_bytes_get_size(b),
                    need);
    return NULL;
}

/* A run of a frame's bytes read from its file straight into place. */
typedef struct {
    guint64 at; /* in the file */
    guint8 *dst;
    gsize len;
} Run;

typedef struct {
    int fd;         /* -1 once its runs are read */
    guint64 base;
} FrameFile;

typedef struct {
    const DfsVolumePlan *p;
    DfsFrameFetch fetch;
    DfsFrameSource source;
    gpointer user;
    GHashTable *frames; /* plan image -> GBytes, for this read */
    GHashTable *files;  /* plan image -> its frame's file (FrameFile), or a NULL value: none */
    FrameFile *run_file; /* the file of the runs waiting, or NULL */
    GArray *runs;       /* of Run, for run_file */
} Fetcher;

static void frame_file_free(gpointer data)
{
    FrameFile *ff = data;
    if (ff != NULL) {
        if (ff->fd >= 0)
            close(ff->fd);
        g_free(ff);
    }
}

/* Slice's frame as bytes of a file, if the source says so: its file, open,
 * or NULL (then fetched).  A file is closed once its runs are read (a
 * request over small frames touches hundreds) and opened again if a later
 * row needs it. */
static FrameFile *frame_file(Fetcher *f, guint slice, gsize frame_bytes)
{
    gpointer key = GUINT_TO_POINTER(slice + 1), value;
    FrameFile *ff = NULL;
    if (g_hash_table_lookup_extended(f->files, key, NULL, &value)) {
        ff = value;
        if (ff == NULL || ff->fd >= 0)
            return ff;
    }
    guint64 base = 0, length = 0;
    int fd = f->source != NULL ? f->source(f->user, slice, &base, &length) : -1;
    if (fd >= 0 && length < frame_bytes) {
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        g_hash_table_insert(f->files, key, NULL); /* (frees a closed one) */
        return NULL;
    }
    if (ff == NULL) {
        ff = g_new(FrameFile, 1);
        g_hash_table_insert(f->files, key, ff);
    }
    ff->fd = fd;
    ff->base = base;
    return ff;
}

static int by_file_offset(gconstpointer a, gconstpointer b)
{
    guint64 x = ((const Run *)a)->at, y = ((const Run *)b)->at;
    return x < y ? -1 : x > y;
}

/* Read the runs waiting, in file order, each stretch of touching runs by
 * one preadv, then close its file.  A file shorter than its frame (changed
 * since) is an error. */
static gboolean flush_runs(Fetcher *f, GError **error)
{
    GArray *runs = f->runs;
    int fd = f->run_file->fd;
    gboolean ok = TRUE;
    g_array_sort(runs, by_file_offset);
    for (guint i = 0; i < runs->len && ok;) {
        struct iovec iov[256];
        guint n = 0;
        guint64 at = g_array_index(runs, Run, i).at, end = at;
        while (i + n < runs->len && n < G_N_ELEMENTS(iov)) {
            const Run *r = &g_array_index(runs, Run, i + n);
            if (r->at != end)
                break;
            iov[n].iov_base = r->dst;
            iov[n].iov_len = r->len;
            end += r->len;
            n++;
        }
        /* Short reads (a signal) go on from where they stopped. */
        guint first = 0;
        while (first < n) {
            ssize_t got = preadv(fd, iov + first, (int)(n - first), (off_t)at);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "reading a frame's file: %s",
                            got < 0 ? g_strerror(errno) : "it is shorter than its header says");
                ok = FALSE;
                break;
            }
            at += (guint64)got;
            while (first < n && (gsize)got >= iov[first].iov_len)
                got -= (ssize_t)iov[first++].iov_len;
            if (first < n) {
                iov[first].iov_base = (guint8 *)iov[first].iov_base + got;
                iov[first].iov_len -= (gsize)got;
            }
        }
        i += n;
    }
    g_array_set_size(runs, 0);
    close(fd);
    f->run_file->fd = -1;
    f->run_file = NULL;
    return ok;
}

/* Queue bytes [at, at + len) of ff's frame to be read into dst; the runs
 * of the file before are read (and it closed) first. */
static gboolean queue_run(Fetcher *f, FrameFile *ff, guint64 at, guint8 *dst, gsize len,
                          GError **error)
{
    if (f->run_file != ff && f->run_file != NULL && !flush_runs(f, error))
        return FALSE;
    f->run_file = ff;
    Run r = {ff->base + at, dst, len};
    g_array_append_val(f->runs, r);
    return TRUE;
}

static const guint8 *frame_of(Fetcher *f, guint slice, gsize need, GError **error)
{
    GBytes *b = g_hash_table_lookup(f->frames, GUINT_TO_POINTER(slice + 1));
    if (b == NULL) {
        b = f->fetch(f->user, slice, error);
        if (b == NULL)
            return NULL;
        g_hash_table_insert(f->frames, GUINT_TO_POINTER(slice + 1), b);
    }
    return whole_frame(b, need, error);
}

guint dfs_volume_type_bytes(guint datatype)
{
    switch (datatype) {
    case DFS_NIFTI_UINT8: case DFS_NIFTI_INT8: return 1;
    case DFS_NIFTI_INT16: case DFS_NIFTI_UINT16: return 2;
    case DFS_NIFTI_RGB24: return 3;
    case DFS_NIFTI_FLOAT64: return 8;
    default: return 4;
    }
}

/* value as one voxel of datatype (an integer type holds it exactly: the
 * callers widen, never narrow). */
static void put_value(double value, guint datatype, guint8 *out)
{
    switch (datatype) {
    case DFS_NIFTI_INT16: { gint16 x = (gint16)value; memcpy(out, &x, 2); break; }
    case DFS_NIFTI_INT32: { gint32 x = (gint32)value; memcpy(out, &x, 4); break; }
    case DFS_NIFTI_FLOAT32: { float x = (float)value; memcpy(out, &x, 4); break; }
    case DFS_NIFTI_FLOAT64: memcpy(out, &value, 8); break;
    default: out[0] = (guint8)value; break;
    }
}

guint64 dfs_volume_bytes_as(const DfsVolume *v, guint datatype)
{
    return (guint64)v->dim[0] * v->dim[1] * v->dim[2] * v->dim[3] * dfs_volume_type_bytes(datatype);
}

gboolean dfs_volume_is_permuted(const DfsVolume *v)
{
    return v->perm[0] != 0 || v->perm[1] != 1 || v->perm[2] != 2;
}

/* One voxel of slice s at (row, column) of its frame as datatype: its
 * stored bytes, or its value converted (scaled or not). */
static void voxel_of(const DfsSlice *s, const guint8 *src, guint datatype, gboolean convert,
                     gboolean scaled, guint8 *voxel)
{
    if (!convert)
        memcpy(voxel, src, dfs_volume_type_bytes(datatype));
    else if (scaled)
        put_value(sample_value(src, s) * s->slope + s->intercept, datatype, voxel);
    else
        put_value(sample_value(src, s), datatype, voxel);
}

/* What reading bytes [offset, offset + *length) of v as datatype takes:
 * FALSE where there is nothing to read (*length is clipped to the end). */
typedef struct {
    guint8 *dst;           /* where the bytes go: room made in out */
    gsize base;            /* out's length before */
    guint vb;              /* bytes of an output voxel */
    gboolean convert;      /* values converted, not stored bytes copied */
    const DfsSlice *s0;
    guint in_vb;           /* bytes of a stored voxel */
    gsize frame_bytes;
} Reading;

static gboolean begin_read(const DfsVolumePlan *p, const DfsVolume *v, guint datatype,
                           gboolean scaled, guint64 offset, gsize *length, GString *out,
                           Reading *r)
{
    guint64 total = dfs_volume_bytes_as(v, datatype);
    if (offset >= total || *length == 0)
        return FALSE;
    *length = (gsize)MIN((guint64)*length, total - offset);
    r->vb = dfs_volume_type_bytes(datatype);
    /* Stored bytes as they are, or each value converted (scaled when the
     * volume's scaling varies by slice). */
    guint same = scaled ? v->datatype : v->stored_type;
    r->convert = scaled || datatype != same;
    r->s0 = &p->slices[v->order[0]];
    r->in_vb = dfs_slice_sample_bytes(r->s0) * r->s0->samples;
    r->frame_bytes = (gsize)r->s0->frame_rows * r->s0->frame_columns * r->in_vb;
    /* Written in place: the room for every byte asked for, made once. */
    r->base = out->len;
    g_string_set_size(out, r->base + *length);
    r->dst = (guint8 *)out->str + r->base;
    return TRUE;
}


gboolean dfs_volume_scatter(const DfsVolumePlan *p, const DfsVolume *v, guint datatype,
                            gboolean scaled, guint64 offset, gsize length, DfsFrameFetch fetch,
                            gpointer user, GString *out, GError **error)
{
    Reading r;
    if (!begin_read(p, v, datatype, scaled, offset, &length, out, &r))
        return TRUE;
    guint8 *dst = r.dst;
    guint nz = v->n_in[2];
    guint64 lo = offset / r.vb, hi = (offset + length + r.vb - 1) / r.vb; /* voxels */
    /* Where stacked (i, j, k) lands: output index = sum of stride x o. */
    guint64 stride[3], whole = 1;
    for (guint a = 0; a < 3; a++) {
        stride[a] = whole;
        whole *= v->dim[a];
    }
    for (guint t = 0; t < v->dim[3]; t++)
        for (guint k = 0; k < nz; k++) {
            guint slice = v->order[t * nz + k];
            const DfsSlice *s = &p->slices[slice];
            GBytes *b = fetch(user, slice, error);
            const guint8 *frame = whole_frame(b, r.frame_bytes, error);
            if (frame == NULL) {
                if (b != NULL)
                    g_bytes_unref(b);
                g_string_truncate(out, r.base);
                return FALSE;
            }
            for (guint j = 0; j < v->n_in[1]; j++) {
                /* This row's voxels land on base + step * o, o the output
                 * coordinate along the axis the row runs on: only those
                 * inside the range are made. */
                guint in[3] = {0, j, k};
                guint64 row_at = whole * t;
                guint a0 = 0;
                for (guint a = 0; a < 3; a++) {
                    if (v->perm[a] == 0) {
                        a0 = a;
                        continue;
                    }
                    guint x = in[v->perm[a]];
                    row_at += stride[a] * (v->flip[a] ? v->dim[a] - 1 - x : x);
                }
                guint64 step = stride[a0];
                if (row_at >= hi || row_at + step * (v->dim[a0] - 1) < lo)
                    continue;
                guint64 o_lo = row_at >= lo ? 0 : (lo - row_at + step - 1) / step;
                guint64 o_hi = MIN((guint64)v->dim[a0] - 1, (hi - 1 - row_at) / step);
                for (guint64 o = o_lo; o <= o_hi; o++) {
                    guint i = (guint)(v->flip[a0] ? v->dim[a0] - 1 - o : o);
                    guint64 first = (row_at + step * o) * r.vb;
                    guint8 voxel[8];
                    gsize row = s->row0 + r.s0->rows - 1 - j; /* rows stored top down */
                    const guint8 *src = frame + (row * s->frame_columns + s->col0 + i) * r.in_vb;
                    voxel_of(s, src, datatype, r.convert, scaled, voxel);
                    /* the part of the voxel inside the range */
                    guint64 from = MAX(first, offset), to = MIN(first + r.vb, offset + length);
                    memcpy(dst + (from - offset), voxel + (from - first), (gsize)(to - from));
                }
            }
            g_bytes_unref(b);
        }
    return TRUE;
}

gboolean dfs_volume_read(const DfsVolumePlan *p, const DfsVolume *v, guint datatype,
                         gboolean scaled, guint64 offset, gsize length, DfsFrameFetch fetch,
                         DfsFrameSource source, gpointer user, GString *out, GError **error)
{
    Reading r;
    if (!begin_read(p, v, datatype, scaled, offset, &length, out, &r))
        return TRUE;
    guint vb = r.vb, in_vb = r.in_vb;
    gboolean convert = r.convert;
    const DfsSlice *s0 = r.s0;
    gsize frame_bytes = r.frame_bytes;
    Fetcher f = {p, fetch, source, user,
                 g_hash_table_new_full(NULL, NULL, NULL, (GDestroyNotify)g_bytes_unref),
                 g_hash_table_new_full(NULL, NULL, NULL, frame_file_free), NULL,
                 g_array_new(FALSE, FALSE, sizeof(Run))};
    gboolean ok = TRUE;
    guint64 first = offset / vb, last = (offset + length - 1) / vb; /* voxels */
    gsize skip = (gsize)(offset - first * vb);
    guint8 voxel[8];
    guint nz = v->n_in[2];
    guint8 *dst = r.dst;
    for (guint64 i = first; i <= last && ok; i++) {
        guint64 rest = i;
        guint o[4];
        for (guint a = 0; a < 3; a++) {
            o[a] = (guint)(rest % v->dim[a]);
            rest /= v->dim[a];
        }
        o[3] = (guint)rest;
        guint in[3];
        for (guint a = 0; a < 3; a++)
            in[v->perm[a]] = v->flip[a] ? v->dim[a] - 1 - o[a] : o[a];
        guint slice = v->order[o[3] * nz + in[2]];
        const DfsSlice *s = &p->slices[slice];
        gsize row = s0->rows - 1 - in[1];
        /* Where the stacked row runs the same way as x and its bytes are
         * the stored ones: the part of the row inside the range in one
         * piece, read from the frame's file into place, or copied from the
         * frame. */
        if (v->perm[0] == 0 && !v->flip[0] && !convert && vb == in_vb) {
            guint64 row_start = (i - o[0]) * vb;
            guint64 from = MAX(row_start, offset);
            guint64 to = MIN(row_start + (guint64)v->dim[0] * vb, offset + length);
            gsize at = ((s->row0 + row) * s->frame_columns + s->col0) * in_vb + (gsize)(from - row_start);
            gsize n = (gsize)(to - from);
            FrameFile *ff = frame_file(&f, slice, frame_bytes);
            if (ff != NULL) {
                ok = queue_run(&f, ff, at, dst, n, error);
            } else {
                const guint8 *frame = frame_of(&f, slice, frame_bytes, error);
                if (frame == NULL)
                    ok = FALSE;
                else
                    memcpy(dst, frame + at, n);
            }
            dst += n;
            i = (to - 1) / vb; /* the last voxel touched */
            continue;
        }
        const guint8 *frame = frame_of(&f, slice, frame_bytes, error);
        if (frame == NULL) {
            ok = FALSE;
            break;
        }
        const guint8 *src = frame + ((s->row0 + row) * s->frame_columns + s->col0 + in[0]) * in_vb;
        voxel_of(s, src, datatype, convert, scaled, voxel);
        gsize from = i == first ? skip : 0;
        gsize to = i == last ? (gsize)(offset + length - i * vb) : vb;
        memcpy(dst, voxel + from, to - from);
        dst += to - from;
    }
    if (ok && f.runs->len > 0)
        ok = flush_runs(&f, error);
    g_array_unref(f.runs);
    g_hash_table_unref(f.files);
    g_hash_table_unref(f.frames);
    if (!ok)
        g_string_truncate(out, r.base);
    return ok;
}
