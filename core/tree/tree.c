/* dicomfs core: the mounted tree, without FUSE.  See tree.h. */
#include "tree/tree.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/cache.h"
#include "base/error.h"
#include "pixels/display.h"
#include "pixels/decode.h"
#include "pixels/png.h"
#include "dicom/json.h"
#include "catalog/levels.h"
#include "dicom/reader.h"
#include "dicom/render.h"
#include "dicom/tags.h"

/* An entry is kind (4 bits) | index node (36 bits) | sub (24 bits).  For
 * attributes, sub is the element's index in the instance's dataset, which
 * DFS_LIMIT_ELEMENTS keeps below 2^24. */
enum {
    K_NODE,        /* an index node's folder; sub is 1, so the root is 1 */
    K_TAGS,        /* a node's tags/ */
    K_ATTR,        /* an element, item or sequence under tags/ */
    K_HEADER_JSON, /* instance header.json */
    K_HEADER_TXT,  /* instance header.txt */
    K_DCM,         /* instance.dcm */
    K_META_DIR,    /* .dicomfs */
    K_META_FILE,   /* .dicomfs/<sub> */
    K_IMAGE_PNG,   /* the first frame for display */
    K_PIXELS_RAW,  /* all frames as stored values */
    K_PIXELS_TXT,  /* the layout of pixels.raw */
    K_FRAMES,      /* frames/ of a multi-frame instance */
    K_FRAME_PNG,   /* frames/NNNN.png; sub is the frame */
    K_FRAME_RAW,   /* frames/NNNN.raw */
};

/* What an instance folder holds, in listing order. */
typedef struct {
    const char *name;
    guint kind;
    guint8 pixels; /* 1: only with Pixel Data; 2: only with several frames */
    guint8 is_dir;
} InstanceEntry;

static const InstanceEntry instance_entries[] = {
    {"frames", K_FRAMES, 2, TRUE},         {"header.json", K_HEADER_JSON, 0, FALSE},
    {"header.txt", K_HEADER_TXT, 0, FALSE}, {"image.png", K_IMAGE_PNG, 1, FALSE},
    {"instance.dcm", K_DCM, 0, FALSE},      {"pixels.raw", K_PIXELS_RAW, 1, FALSE},
    {"pixels.txt", K_PIXELS_TXT, 1, FALSE}, {"tags", K_TAGS, 0, TRUE},
};

#define KIND(e) ((guint)((e) >> 60))
#define NODE(e) ((guint)(((e) >> 24) & G_GUINT64_CONSTANT(0xFFFFFFFFF)))
#define SUB(e) ((guint)((e)&0xFFFFFF))
#define ENTRY(k, n, s) (((guint64)(k) << 60) | ((guint64)(n) << 24) | (guint64)(s))

/* A cache entry's own cost beside its value: the entry, its hash slot and
 * the allocator's overhead. */
#define ENTRY_COST 96

static const char *const meta_files[] = {"errors.tsv", "instances.tsv", "patients.tsv",
                                         "series.tsv", "status", "studies.tsv"};

struct _DfsTree {
    char *source;
    GMutex index_lock;  /* guards idx until the scan is done */
    DfsIndex *idx;      /* the latest snapshot; fixed once settled */
    gint settled;       /* the scan is done (atomic) */
    DfsCache *datasets; /* instance node -> DfsDataset */
    DfsCache *contents; /* entry -> GBytes */
    struct timespec mount_time;
    GMutex status_lock;   /* guards status and read_errors */
    DfsTreeStatus status;
    GHashTable *read_errors; /* "relpath\tfile" -> reason: failures met while mounted */
    GMutex render_lock;      /* guards rendering */
    GCond rendered;
    GHashTable *rendering;   /* entries being rendered now */
};

/* The tree as one request sees it: the index snapshot of that moment (a
 * scan may publish a newer one meanwhile) and the shared caches. */
typedef struct {
    DfsTree *tree;
    DfsIndex *idx;
    gboolean owned; /* a reference to drop */
} View;

static View view_open(DfsTree *t, DfsIndex *held)
{
    View v = {t, held, FALSE};
    if (held != NULL)
        return v;
    if (g_atomic_int_get(&t->settled)) {
        v.idx = t->idx; /* never replaced any more */
        return v;
    }
    g_mutex_lock(&t->index_lock);
    v.idx = dfs_index_ref(t->idx);
    v.owned = TRUE;
    g_mutex_unlock(&t->index_lock);
    return v;
}

static void view_clear(View *v)
{
    if (v->owned)
        dfs_index_unref(v->idx);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(View, view_clear)

static gpointer bytes_ref(gpointer b)
{
    return g_bytes_ref(b);
}

DfsTree *dfs_tree_new(const char *source, gsize cache_bytes)
{
    DfsTree *t = g_new0(DfsTree, 1);
    t->source = g_strdup(source);
    g_mutex_init(&t->index_lock);
    t->idx = dfs_index_new_empty();
    t->datasets = dfs_cache_new(cache_bytes / 2, (DfsCacheRef)dfs_dataset_ref,
                                (DfsCacheUnref)dfs_dataset_free);
    t->contents = dfs_cache_new(cache_bytes / 2, bytes_ref, (DfsCacheUnref)g_bytes_unref);
    clock_gettime(CLOCK_REALTIME, &t->mount_time);
    g_mutex_init(&t->status_lock);
    t->read_errors = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_mutex_init(&t->render_lock);
    g_cond_init(&t->rendered);
    t->rendering = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    return t;
}

void dfs_tree_free(DfsTree *t)
{
    if (t == NULL)
        return;
    dfs_cache_free(t->datasets);
    dfs_cache_free(t->contents);
    dfs_index_unref(t->idx);
    g_mutex_clear(&t->index_lock);
    g_mutex_clear(&t->status_lock);
    g_hash_table_unref(t->read_errors);
    g_hash_table_unref(t->rendering);
    g_mutex_clear(&t->render_lock);
    g_cond_clear(&t->rendered);
    g_free(t->source);
    g_free(t);
}

void dfs_tree_publish(DfsTree *t, DfsIndex *idx, const DfsTreeStatus *st)
{
    g_mutex_lock(&t->status_lock);
    t->status = *st;
    g_mutex_unlock(&t->status_lock);
    if (idx == NULL)
        return;
    g_return_if_fail(!g_atomic_int_get(&t->settled));
    g_mutex_lock(&t->index_lock);
    DfsIndex *old = t->idx;
    t->idx = idx;
    g_mutex_unlock(&t->index_lock);
    dfs_index_unref(old);
    if (st->done)
        g_atomic_int_set(&t->settled, 1);
}

gboolean dfs_tree_settled(DfsTree *t)
{
    return g_atomic_int_get(&t->settled);
}

DfsIndex *dfs_tree_hold(DfsTree *t)
{
    g_mutex_lock(&t->index_lock);
    DfsIndex *idx = dfs_index_ref(t->idx);
    g_mutex_unlock(&t->index_lock);
    return idx;
}

static gboolean not_found(GError **error, const char *name)
{
    g_set_error(error, DFS_ERROR, DFS_ERROR_NOT_FOUND, "no entry '%s'", name);
    return FALSE;
}

static gboolean valid_node(const View *v, guint node)
{
    return dfs_index_is_live(v->idx, node);
}

/* --- datasets ------------------------------------------------------------- */

/* Does the file go on after a Pixel Data of defined length?  (With
 * encapsulated Pixel Data the header-only read cannot tell, and it is not
 * read whole for that.) */
static gboolean has_trailing_elements(const DfsDataset *ds, guint64 file_size)
{
    guint px = dfs_dataset_pixel_data(ds);
    if (px == DFS_NO_INDEX)
        return FALSE;
    const DfsElement *e = dfs_dataset_element(ds, px);
    return e->length != DFS_UNDEFINED_LENGTH && e->offset + e->length + 8 <= file_size;
}

/* The header-only dataset of the instance below node (cached).  Caller
 * frees. */
static DfsDataset *dataset_for(const View *v, guint node, GError **error)
{
    guint inst = dfs_index_first_instance(v->idx, node);
    if (inst == DFS_NO_INDEX)
        return (void)not_found(error, "instance"), NULL;
    DfsDataset *ds = dfs_cache_get(v->tree->datasets, inst);
    if (ds != NULL)
        return ds;
    g_autofree char *path = g_build_filename(v->tree->source, dfs_index_relpath(v->idx, inst), NULL);
    ds = dfs_read_file(path, DFS_READ_HEADER_ONLY, error);
    if (ds == NULL)
        return NULL;
    if (has_trailing_elements(ds, dfs_index_size(v->idx, inst))) {
        /* Elements after Pixel Data (padding, signatures) belong in tags/
         * and the header too: this file is read whole. */
        DfsDataset *full = dfs_read_file(path, DFS_READ_FULL, NULL);
        if (full != NULL) {
            dfs_dataset_free(ds);
            ds = full;
        }
    }
    DfsDataset *cached = dfs_cache_put(v->tree->datasets, inst, ds, dfs_dataset_memory(ds) + ENTRY_COST);
    dfs_dataset_free(ds);
    return cached;
}

/* --- pixel files ---------------------------------------------------------- */

/* The image of an instance, from its header: FALSE without Pixel Data.
 * Where the Pixel Data is there but its description is not usable, *ok is
 * FALSE and the pixel files answer with errors. */
static gboolean instance_image(const View *v, guint node, DfsImage *img, GError **error)
{
    DfsDataset *ds = dataset_for(v, node, error);
    if (ds == NULL)
        return FALSE;
    gboolean ok = dfs_image_describe(ds, img, error);
    dfs_dataset_free(ds);
    return ok;
}

/* The image as its header declares it, even over a limit (then nothing is
 * decoded, but sizes and pixels.txt say what the file claims). */
static gboolean declared_image(const View *v, guint node, DfsImage *img, GError **error)
{
    g_autoptr(GError) why = NULL;
    if (instance_image(v, node, img, &why))
        return TRUE;
    if (g_error_matches(why, DFS_ERROR, DFS_ERROR_LIMIT))
        return TRUE;
    g_propagate_error(error, g_steal_pointer(&why));
    return FALSE;
}

/* 0 without Pixel Data, else the number of frames (1 if undescribable);
 * *is_float for Float / Double Float Pixel Data, which get no PNGs (their
 * values are not pictures but data: raw only). */
static guint instance_pixels(const View *v, guint node, gboolean *is_float);

static guint instance_frames(const View *v, guint node)
{
    gboolean is_float;
    return instance_pixels(v, node, &is_float);
}

static gboolean shows_png(const View *v, guint node)
{
    gboolean is_float;
    return instance_pixels(v, node, &is_float) > 0 && !is_float;
}

static guint instance_pixels(const View *v, guint node, gboolean *is_float)
{
    *is_float = FALSE;
    DfsDataset *ds = dataset_for(v, node, NULL);
    if (ds == NULL)
        return 0;
    guint frames = 0;
    if (dfs_dataset_pixel_data(ds) != DFS_NO_INDEX ||
        dfs_dataset_find(ds, DFS_ROOT, DFS_TAG_FLOAT_PIXEL_DATA) != DFS_NO_INDEX ||
        dfs_dataset_find(ds, DFS_ROOT, DFS_TAG_DOUBLE_FLOAT_PIXEL_DATA) != DFS_NO_INDEX) {
        DfsImage img;
        gboolean ok = dfs_image_describe(ds, &img, NULL);
        /* Pixel files appear for every syntax with a decoder (and video). */
        frames = !ok ? 1 : dfs_codec_supported(img.codec) ? img.frames : 0;
        *is_float = ok && img.is_float;
    }
    dfs_dataset_free(ds);
    return frames;
}

static guint png_channels(const DfsImage *img)
{
    return img->samples == 1 && !g_str_equal(img->decoded_photometric, "PALETTE COLOR") ? 1 : 3;
}

/* Sizes fixed by the header: no frame is decoded for ls -l. */
static gboolean pixel_size(const View *v, DfsEntry e, guint64 *size, GError **error)
{
    DfsImage img;
    gboolean png = KIND(e) == K_IMAGE_PNG || KIND(e) == K_FRAME_PNG;
    /* A PNG's size is measured on a blank image of its shape: never for an
     * image over a limit.  Raw sizes are what the header declares. */
    if (!(png ? instance_image(v, NODE(e), &img, error) : declared_image(v, NODE(e), &img, error)))
        return FALSE;
    switch (KIND(e)) {
    case K_PIXELS_RAW:
        *size = (guint64)dfs_image_frame_bytes(&img) * img.frames;
        return TRUE;
    case K_FRAME_RAW:
        *size = dfs_image_frame_bytes(&img);
        return TRUE;
    default: /* PNGs */
        *size = dfs_png_size(img.columns, img.rows, png_channels(&img));
        return *size > 0 || (g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "PNG failed"), FALSE);
    }
}

static void render_pixels_txt(const DfsImage *img, GString *out)
{
    const char *dt = dfs_image_dtype(img);
    guint sb = dfs_image_sample_bytes(img);
    char code = img->is_float ? 'f' : img->is_signed ? 'i' : 'u';
    g_string_append_printf(out,
                           "dtype %s\nshape %u %u %u %u\nframes %u\nrows %u\ncolumns %u\n"
                           "samples_per_pixel %u\nphotometric %s\nbyteorder little\n"
                           "numpy numpy.fromfile(\"pixels.raw\", dtype=\"<%c%u\").reshape(%u, %u, %u, %u)\n",
                           dt, img->frames, img->rows, img->columns, img->samples, img->frames,
                           img->rows, img->columns, img->samples, img->decoded_photometric, code, sb,
                           img->frames, img->rows, img->columns, img->samples);
}

/* The whole file read, for its pixels (cached beside the headers: frames of
 * one file are read one after another). */
static DfsDataset *full_dataset_for(const View *v, guint node, GError **error)
{
    guint64 key = node | (G_GUINT64_CONSTANT(1) << 63);
    DfsDataset *ds = dfs_cache_get(v->tree->datasets, key);
    if (ds != NULL)
        return ds;
    g_autofree char *path = g_build_filename(v->tree->source, dfs_index_relpath(v->idx, node), NULL);
    ds = dfs_read_file(path, DFS_READ_FULL, error);
    if (ds == NULL)
        return NULL;
    DfsDataset *cached = dfs_cache_put(v->tree->datasets, key, ds, dfs_dataset_memory(ds) + ENTRY_COST);
    dfs_dataset_free(ds);
    return cached;
}

/* The dataset to decode pixels from: for native pixel data the header is
 * enough (frames are read from the file at their offsets); encapsulated and
 * deflated pixel data need the whole file. */
static DfsDataset *pixel_dataset_for(const View *v, guint node, GError **error)
{
    DfsDataset *ds = dataset_for(v, node, error);
    if (ds == NULL)
        return NULL;
    DfsImage img;
    const char *ts = dfs_dataset_transfer_syntax(ds);
    gboolean by_offset = dfs_image_describe(ds, &img, NULL) && img.codec == DFS_CODEC_NATIVE &&
                         !(dfs_dataset_element(ds, img.pixel_index)->flags & DFS_ELEM_ENCAPSULATED) &&
                         !g_str_equal(ts, "1.2.840.10008.1.2.1.99") &&
                         !g_str_equal(ts, "1.2.840.10008.1.2.4.95");
    if (by_offset)
        return ds;
    dfs_dataset_free(ds);
    return full_dataset_for(v, node, error);
}

/* Decode frames [first, last) of the instance into out (raw), or the first
 * of them as PNG. */
static gboolean render_pixels(const View *v, DfsEntry e, GString *out, GError **error)
{
    guint kind = KIND(e), node = NODE(e);
    g_autoptr(DfsDataset) ds = pixel_dataset_for(v, node, error);
    DfsImage img;
    if (ds == NULL || !dfs_image_describe(ds, &img, error))
        return FALSE;
    if (kind == K_PIXELS_TXT) {
        render_pixels_txt(&img, out);
        return TRUE;
    }
    guint first = kind == K_FRAME_PNG || kind == K_FRAME_RAW ? SUB(e) : 0;
    guint last = kind == K_PIXELS_RAW ? img.frames : first + 1;
    gsize fb = dfs_image_frame_bytes(&img);
    if (kind == K_PIXELS_RAW || kind == K_FRAME_RAW) {
        /* Decode straight into the file's content, frame after frame. */
        g_string_set_size(out, fb * (last - first));
        for (guint f = first; f < last; f++)
            if (!dfs_image_decode(ds, &img, f, (guint8 *)out->str + fb * (f - first), error))
                return FALSE;
        return TRUE;
    }
    g_autofree guint8 *frame = g_malloc(fb);
    for (guint f = first; f < last; f++) {
        if (!dfs_image_decode(ds, &img, f, frame, error))
            return FALSE;
        DfsDisplay d = {0};
        gboolean ok = dfs_display_render(ds, &img, frame, &d, error);
        g_autoptr(GBytes) png = ok ? dfs_png_encode(&d, error) : NULL;
        dfs_display_clear(&d);
        if (png == NULL)
            return FALSE;
        g_string_append_len(out, g_bytes_get_data(png, NULL), (gssize)g_bytes_get_size(png));
    }
    return TRUE;
}

/* frames/NNNN.png or NNNN.raw: the frame, or FALSE. */
static gboolean parse_frame_name(const char *name, guint frames, guint *frame, guint *kind)
{
    char *end;
    guint64 n = g_ascii_strtoull(name, &end, 10);
    if (end == name || n == 0 || n > frames)
        return FALSE;
    *frame = (guint)n - 1;
    *kind = strcmp(end, ".png") == 0 ? K_FRAME_PNG : strcmp(end, ".raw") == 0 ? K_FRAME_RAW : 0;
    return *kind != 0;
}

static void frame_name(guint frame, guint frames, const char *ext, char buf[32])
{
    guint width = MAX(4u, (guint)g_snprintf(NULL, 0, "%u", frames));
    g_snprintf(buf, 32, "%0*u.%s", (int)width, frame + 1, ext);
}

/* --- attribute folders ---------------------------------------------------- */

/* Is top-level element i shown in the tags/ of a node of this level? */
static gboolean shown_at(const DfsDataset *ds, guint i, DfsLevel level)
{
    guint32 tag = dfs_dataset_element(ds, i)->tag;
    if (tag == DFS_TAG_PIXEL_DATA)
        return FALSE; /* pixels get their own files */
    if (level == DFS_LEVEL_INSTANCE)
        return TRUE;
    return dfs_level_has_tag(level, tag);
}

/* The entries inside attribute folder `parent` (DFS_ROOT for tags/ itself):
 * calls fn(i) for each shown element index, in order, until it says stop. */
typedef gboolean (*EachFunc)(const DfsDataset *ds, guint i, guint position, gpointer user);

static void each_attr(const DfsDataset *ds, guint parent, DfsLevel level, EachFunc fn,
                      gpointer user)
{
    guint first = parent == DFS_ROOT ? 0 : parent + 1;
    guint end = parent == DFS_ROOT ? dfs_dataset_n_elements(ds)
                                   : dfs_dataset_element(ds, parent)->end;
    guint pos = 0;
    guint32 last = 0;
    g_autoptr(GHashTable) seen = NULL; /* tags met, once they come out of order */
    for (guint i = first; i < end; i = dfs_dataset_element(ds, i)->end) {
        if (parent == DFS_ROOT && !shown_at(ds, i, level))
            continue;
        guint32 tag = dfs_dataset_element(ds, i)->tag;
        if (tag != DFS_TAG_ITEM) {
            /* A tag repeated in a broken file: its first element only, so
             * that no name is listed twice. */
            if (seen == NULL && pos > 0 && tag <= last) {
                seen = g_hash_table_new(g_direct_hash, g_direct_equal);
                for (guint j = first; j < i; j = dfs_dataset_element(ds, j)->end)
                    g_hash_table_add(seen, GUINT_TO_POINTER(dfs_dataset_element(ds, j)->tag));
            }
            if (seen != NULL && !g_hash_table_add(seen, GUINT_TO_POINTER(tag)))
                continue;
            last = tag;
        }
        if (!fn(ds, i, pos++, user))
            return;
    }
}

/* Name of attribute entry i: item number within its sequence, or the
 * element's keyword (8 hex digits for private and unknown tags). */
static void attr_name(const DfsDataset *ds, guint i, guint position, char buf[64])
{
    if (dfs_dataset_element(ds, i)->tag == DFS_TAG_ITEM)
        g_snprintf(buf, 64, "%u", position + 1);
    else
        dfs_render_name(ds, i, buf);
}

typedef struct {
    const char *name;
    guint found;
} FindCtx;

static gboolean find_by_name(const DfsDataset *ds, guint i, guint position, gpointer user)
{
    FindCtx *c = user;
    char buf[64];
    attr_name(ds, i, position, buf);
    if (strcmp(buf, c->name) == 0) {
        c->found = i;
        return FALSE;
    }
    /* Every public tag also opens by its 8 hex digits. */
    g_snprintf(buf, sizeof buf, "%08X", dfs_dataset_element(ds, i)->tag);
    if (dfs_dataset_element(ds, i)->tag != DFS_TAG_ITEM && g_ascii_strcasecmp(buf, c->name) == 0) {
        c->found = i;
        return FALSE;
    }
    return TRUE;
}

static gboolean lookup_attr(const View *v, guint node, guint parent, const char *name,
                            DfsEntry *out, GError **error)
{
    DfsDataset *ds = dataset_for(v, node, error);
    if (ds == NULL)
        return FALSE;
    FindCtx c = {name, DFS_NO_INDEX};
    if (parent == DFS_ROOT || parent < dfs_dataset_n_elements(ds))
        each_attr(ds, parent, dfs_index_level(v->idx, node), find_by_name, &c);
    dfs_dataset_free(ds);
    if (c.found == DFS_NO_INDEX)
        return not_found(error, name);
    *out = ENTRY(K_ATTR, node, c.found);
    return TRUE;
}

/* --- lookup --------------------------------------------------------------- */

static gboolean lookup_in_node(const View *v, guint node, const char *name, DfsEntry *out,
                               GError **error)
{
    DfsLevel level = dfs_index_level(v->idx, node);
    if (level == DFS_LEVEL_ROOT && strcmp(name, ".dicomfs") == 0) {
        *out = ENTRY(K_META_DIR, 0, 0);
        return TRUE;
    }
    if (level == DFS_LEVEL_INSTANCE) {
        guint frames = instance_frames(v, node);
        for (guint k = 0; k < G_N_ELEMENTS(instance_entries); k++)
            if (strcmp(name, instance_entries[k].name) == 0 &&
                frames >= instance_entries[k].pixels &&
                (instance_entries[k].kind != K_IMAGE_PNG || shows_png(v, node))) {
                *out = ENTRY(instance_entries[k].kind, node, 0);
                return TRUE;
            }
        return not_found(error, name);
    }
    if (level != DFS_LEVEL_ROOT && strcmp(name, "tags") == 0) {
        *out = ENTRY(K_TAGS, node, 0);
        return TRUE;
    }
    guint child = dfs_index_lookup(v->idx, node, name);
    if (child == DFS_NO_INDEX)
        return not_found(error, name);
    *out = ENTRY(K_NODE, child, 1);
    return TRUE;
}

gboolean dfs_tree_lookup(DfsTree *tree, DfsEntry dir, const char *name, DfsEntry *out,
                         GError **error)
{
    g_auto(View) view = view_open(tree, NULL);
    const View *v = &view;
    guint node = NODE(dir);
    if (!valid_node(v, node))
        return not_found(error, name);
    switch (KIND(dir)) {
    case K_NODE:
        return lookup_in_node(v, node, name, out, error);
    case K_TAGS:
        return lookup_attr(v, node, DFS_ROOT, name, out, error);
    case K_ATTR:
        return lookup_attr(v, node, SUB(dir), name, out, error);
    case K_META_DIR:
        for (guint k = 0; k < G_N_ELEMENTS(meta_files); k++)
            if (strcmp(name, meta_files[k]) == 0) {
                *out = ENTRY(K_META_FILE, 0, k);
                return TRUE;
            }
        return not_found(error, name);
    case K_FRAMES: {
        guint frame, kind;
        char canonical[32];
        if (!parse_frame_name(name, instance_frames(v, node), &frame, &kind) ||
            (kind == K_FRAME_PNG && !shows_png(v, node)))
            return not_found(error, name);
        frame_name(frame, instance_frames(v, node), kind == K_FRAME_PNG ? "png" : "raw", canonical);
        if (strcmp(canonical, name) != 0)
            return not_found(error, name);
        *out = ENTRY(kind, node, frame);
        return TRUE;
    }
    default:
        g_set_error(error, DFS_ERROR, DFS_ERROR_NOT_DIR, "not a folder");
        return FALSE;
    }
}

/* --- listing -------------------------------------------------------------- */

typedef struct {
    const View *v;
    guint node;
    guint64 from;
    DfsTreeListFunc fn;
    gpointer user;
    gboolean stopped;
} ListCtx;

static gboolean emit(ListCtx *c, guint64 pos, const char *name, DfsEntry e, gboolean is_dir)
{
    if (pos < c->from || c->stopped)
        return !c->stopped;
    if (!c->fn(name, e, is_dir, pos + 1, c->user))
        c->stopped = TRUE;
    return !c->stopped;
}

static gboolean list_attr(const DfsDataset *ds, guint i, guint position, gpointer user)
{
    ListCtx *c = user;
    const DfsElement *el = dfs_dataset_element(ds, i);
    char name[64];
    attr_name(ds, i, position, name);
    gboolean dir = el->vr == DFS_VR_SQ || el->tag == DFS_TAG_ITEM;
    return emit(c, position, name, ENTRY(K_ATTR, c->node, i), dir);
}

static void list_node(ListCtx *c)
{
    DfsLevel level = dfs_index_level(c->v->idx, c->node);
    guint64 pos = 0;
    if (level == DFS_LEVEL_INSTANCE) {
        guint frames = instance_frames(c->v, c->node);
        for (guint k = 0; k < G_N_ELEMENTS(instance_entries); k++) {
            const InstanceEntry *ie = &instance_entries[k];
            if (frames >= ie->pixels && (ie->kind != K_IMAGE_PNG || shows_png(c->v, c->node)))
                emit(c, pos, ie->name, ENTRY(ie->kind, c->node, 0), ie->is_dir);
            pos++; /* positions stay fixed whatever is shown */
        }
        return;
    }
    if (level == DFS_LEVEL_ROOT)
        emit(c, pos++, ".dicomfs", ENTRY(K_META_DIR, 0, 0), TRUE);
    else
        emit(c, pos++, "tags", ENTRY(K_TAGS, c->node, 0), TRUE);
    guint n;
    const guint32 *ch = dfs_index_children(c->v->idx, c->node, &n);
    /* Start at the asked position directly: folders of 10,000+ entries are
     * listed in many calls. */
    for (guint k = c->from > pos ? (guint)(c->from - pos) : 0; k < n && !c->stopped; k++)
        emit(c, pos + k, dfs_index_name(c->v->idx, ch[k]), ENTRY(K_NODE, ch[k], 1), TRUE);
}

gboolean dfs_tree_list(DfsTree *tree, DfsIndex *held, DfsEntry dir, guint64 from,
                       DfsTreeListFunc fn, gpointer user, GError **error)
{
    g_auto(View) view = view_open(tree, held);
    const View *v = &view;
    ListCtx c = {v, NODE(dir), from, fn, user, FALSE};
    if (!valid_node(v, c.node))
        return not_found(error, "folder");
    switch (KIND(dir)) {
    case K_NODE:
        list_node(&c);
        return TRUE;
    case K_META_DIR:
        for (guint k = 0; k < G_N_ELEMENTS(meta_files); k++)
            emit(&c, k, meta_files[k], ENTRY(K_META_FILE, 0, k), FALSE);
        return TRUE;
    case K_FRAMES: {
        guint frames = instance_frames(v, c.node);
        gboolean png = shows_png(v, c.node);
        for (guint f = (guint)(from / 2); f < frames && !c.stopped; f++) {
            char name[32];
            frame_name(f, frames, "png", name);
            if (png)
                emit(&c, 2 * (guint64)f, name, ENTRY(K_FRAME_PNG, c.node, f), FALSE);
            frame_name(f, frames, "raw", name);
            emit(&c, 2 * (guint64)f + 1, name, ENTRY(K_FRAME_RAW, c.node, f), FALSE);
        }
        return TRUE;
    }
    case K_TAGS:
    case K_ATTR: {
        DfsDataset *ds = dataset_for(v, c.node, error);
        if (ds == NULL)
            return FALSE;
        guint parent = KIND(dir) == K_TAGS ? DFS_ROOT : SUB(dir);
        if (parent == DFS_ROOT || parent < dfs_dataset_n_elements(ds))
            each_attr(ds, parent, dfs_index_level(v->idx, c.node), list_attr, &c);
        dfs_dataset_free(ds);
        return TRUE;
    }
    default:
        g_set_error(error, DFS_ERROR, DFS_ERROR_NOT_DIR, "not a folder");
        return FALSE;
    }
}

/* --- contents ------------------------------------------------------------- */

/* A file that fails to read gets a line in errors.tsv, once. */
static void note_read_error(const View *v, DfsEntry e, const GError *error)
{
    static const char *const names[] = {[K_IMAGE_PNG] = "image.png", [K_PIXELS_RAW] = "pixels.raw",
                                        [K_PIXELS_TXT] = "pixels.txt",
                                        [K_FRAME_PNG] = "frames", [K_FRAME_RAW] = "frames"};
    guint kind = KIND(e);
    const char *file = kind < G_N_ELEMENTS(names) && names[kind] ? names[kind] : "file";
    char *key = g_strdup_printf("%s\t%s", dfs_index_relpath(v->idx, NODE(e)), file);
    g_mutex_lock(&v->tree->status_lock);
    g_hash_table_replace(v->tree->read_errors, key,
                         g_strdup_printf("%s: %s", file, error ? error->message : "error"));
    g_mutex_unlock(&v->tree->status_lock);
}

static void render_read_errors(const View *v, GString *out)
{
    g_mutex_lock(&v->tree->status_lock);
    GHashTableIter it;
    gpointer k, reason;
    g_hash_table_iter_init(&it, v->tree->read_errors);
    while (g_hash_table_iter_next(&it, &k, &reason)) {
        g_autofree char *relpath = g_strndup(k, strrchr(k, '\t') - (const char *)k);
        dfs_index_cell_text(out, relpath);
        g_string_append_c(out, '\t');
        dfs_index_cell_text(out, reason);
        g_string_append_c(out, '\n');
    }
    g_mutex_unlock(&v->tree->status_lock);
}

static void render_status(const View *v, GString *out)
{
    g_mutex_lock(&v->tree->status_lock);
    DfsTreeStatus st = v->tree->status;
    g_mutex_unlock(&v->tree->status_lock);
    g_string_append_printf(out,
                           "source: %s\nfiles seen: %u\nindexed: %u\nskipped: %u\n"
                           "other entries listed: %u\nfiles read: %u\nindex: %s\n",
                           v->tree->source, st.files_seen, st.indexed, st.skipped, st.others,
                           st.reads, st.index[0] ? st.index : "off");
    if (st.done)
        g_string_append(out, "scan: done\n");
    else if (st.walked)
        g_string_append_printf(out, "scan: running, %u of %u files\n", st.files_seen, st.total);
    else
        g_string_append_printf(out, "scan: running, %u of %u files found so far\n",
                               st.files_seen, st.total);
}

static void render_meta(const View *v, guint which, GString *out)
{
    static const DfsLevel tsv_level[] = {0, DFS_LEVEL_INSTANCE, DFS_LEVEL_PATIENT,
                                         DFS_LEVEL_SERIES, 0, DFS_LEVEL_STUDY};
    if (strcmp(meta_files[which], "status") == 0)
        render_status(v, out);
    else if (strcmp(meta_files[which], "errors.tsv") == 0) {
        dfs_index_write_skips(v->idx, out);
        render_read_errors(v, out);
    } else
        dfs_index_write_tsv(v->idx, tsv_level[which], out);
}

/* Render entry e (a file) into out. */
static gboolean render(const View *v, DfsEntry e, GString *out, GError **error)
{
    guint kind = KIND(e), node = NODE(e);
    if (kind == K_META_FILE) {
        render_meta(v, SUB(e) % G_N_ELEMENTS(meta_files), out);
        return TRUE;
    }
    if (kind == K_PIXELS_TXT) {
        DfsImage img;
        if (!instance_image(v, node, &img, error))
            return note_read_error(v, e, error ? *error : NULL), FALSE;
        render_pixels_txt(&img, out);
        return TRUE;
    }
    if (kind >= K_IMAGE_PNG && kind <= K_FRAME_RAW)
        return render_pixels(v, e, out, error) ||
               (note_read_error(v, e, error ? *error : NULL), FALSE);
    DfsDataset *ds = dataset_for(v, node, error);
    if (ds == NULL)
        return FALSE;
    if (kind == K_HEADER_TXT) {
        dfs_render_dump(ds, out);
    } else if (kind == K_HEADER_JSON) {
        DfsJsonOptions o = {.include_meta = TRUE, .pixel_data_uri = "instance.dcm", .pretty = TRUE};
        dfs_render_json(ds, &o, out);
    } else if (SUB(e) < dfs_dataset_n_elements(ds)) {
        dfs_render_value(ds, SUB(e), DFS_RENDER_DEFAULT, out);
        g_string_append_c(out, '\n');
    }
    dfs_dataset_free(ds);
    return TRUE;
}

GBytes *dfs_tree_content(DfsTree *tree, DfsEntry e, GError **error)
{
    g_auto(View) view = view_open(tree, NULL);
    const View *v = &view;
    guint kind = KIND(e);
    if (kind == K_NODE || kind == K_TAGS || kind == K_META_DIR || kind == K_DCM ||
        kind == K_FRAMES) {
        g_set_error(error, DFS_ERROR, kind == K_DCM ? DFS_ERROR_UNSUPPORTED : DFS_ERROR_IS_DIR,
                    "not a rendered file");
        return NULL;
    }
    if (!valid_node(v, NODE(e)))
        return (void)not_found(error, "file"), NULL;
    /* Status changes during a scan; attribute values render in well under a
     * microsecond from the cached header, so caching them would only churn
     * the cache. */
    gboolean volatile_content = kind == K_META_FILE || kind == K_ATTR;
    if (volatile_content) {
        GString *out = g_string_new(NULL);
        if (!render(v, e, out, error))
            return g_string_free(out, TRUE), NULL;
        return g_string_free_to_bytes(out);
    }
    /* A file is read in several requests, some at once (readahead): the
     * first renders it, the others wait for that and take it from the
     * cache. */
    DfsTree *t = v->tree;
    GBytes *b;
    g_mutex_lock(&t->render_lock);
    while ((b = dfs_cache_get(t->contents, e)) == NULL &&
           g_hash_table_contains(t->rendering, &e))
        g_cond_wait(&t->rendered, &t->render_lock);
    if (b != NULL) {
        g_mutex_unlock(&t->render_lock);
        return b;
    }
    guint64 *key = g_memdup2(&e, sizeof e);
    g_hash_table_add(t->rendering, key);
    g_mutex_unlock(&t->render_lock);
    GString *out = g_string_new(NULL);
    gboolean ok = render(v, e, out, error);
    GBytes *cached = NULL;
    if (ok) {
        /* What it takes: the string's whole room (it grows by doubling) and
         * the GBytes around it. */
        gsize held = out->allocated_len + 16 + 48 + 16;
        b = g_string_free_to_bytes(out);
        cached = dfs_cache_put(t->contents, e, b, held + ENTRY_COST);
        g_bytes_unref(b);
    } else {
        g_string_free(out, TRUE);
    }
    g_mutex_lock(&t->render_lock);
    g_hash_table_remove(t->rendering, &e);
    g_cond_broadcast(&t->rendered);
    g_mutex_unlock(&t->render_lock);
    return cached;
}

gboolean dfs_tree_is_costly(DfsEntry e)
{
    return KIND(e) == K_HEADER_JSON || KIND(e) == K_HEADER_TXT;
}

gboolean dfs_tree_is_volatile(DfsEntry e)
{
    return KIND(e) == K_META_FILE;
}

/* Native pixel data whose stored values are its bytes (little endian,
 * every bit stored, interleaved): pixels.raw is a slice of the file. */
static gboolean raw_is_slice(const View *v, DfsEntry e, guint64 *offset, guint64 *length)
{
    g_autoptr(DfsDataset) ds = dataset_for(v, NODE(e), NULL);
    DfsImage img;
    if (ds == NULL || !dfs_image_describe(ds, &img, NULL) || img.codec != DFS_CODEC_NATIVE)
        return FALSE;
    const DfsElement *px = dfs_dataset_element(ds, img.pixel_index);
    const char *ts = dfs_dataset_transfer_syntax(ds);
    gsize fb = dfs_image_frame_bytes(&img);
    gboolean slice = !(px->flags & (DFS_ELEM_ENCAPSULATED | DFS_ELEM_BIG_ENDIAN)) &&
                     !g_str_equal(ts, "1.2.840.10008.1.2.1.99") && img.bits_allocated >= 8 &&
                     (img.bits_stored == img.bits_allocated || img.is_float) &&
                     (img.samples == 1 || img.planar == 0) &&
                     g_str_equal(img.photometric, img.decoded_photometric) &&
                     (guint64)fb * img.frames <= px->length &&
                     px->offset + px->length <= dfs_index_size(v->idx, NODE(e));
    if (!slice)
        return FALSE;
    guint first = KIND(e) == K_FRAME_RAW ? SUB(e) : 0;
    *offset = px->offset + (guint64)fb * first;
    *length = KIND(e) == K_FRAME_RAW ? fb : (guint64)fb * img.frames;
    return TRUE;
}

char *dfs_tree_source_range(DfsTree *tree, DfsEntry e, guint64 *offset, guint64 *length)
{
    g_auto(View) view = view_open(tree, NULL);
    const View *v = &view;
    guint kind = KIND(e);
    if (!valid_node(v, NODE(e)))
        return NULL;
    if (kind == K_DCM) {
        *offset = 0;
        *length = dfs_index_size(v->idx, NODE(e));
    } else if (!((kind == K_PIXELS_RAW || kind == K_FRAME_RAW) && raw_is_slice(v, e, offset, length))) {
        return NULL;
    }
    return g_build_filename(v->tree->source, dfs_index_relpath(v->idx, NODE(e)), NULL);
}

/* --- stat ----------------------------------------------------------------- */

static gboolean attr_is_dir(const View *v, DfsEntry e, gboolean *is_dir, GError **error)
{
    DfsDataset *ds = dataset_for(v, NODE(e), error);
    if (ds == NULL)
        return FALSE;
    gboolean ok = SUB(e) < dfs_dataset_n_elements(ds);
    if (ok) {
        const DfsElement *el = dfs_dataset_element(ds, SUB(e));
        *is_dir = el->vr == DFS_VR_SQ || el->tag == DFS_TAG_ITEM;
    }
    dfs_dataset_free(ds);
    return ok ? TRUE : not_found(error, "attribute");
}

gboolean dfs_tree_stat(DfsTree *tree, DfsEntry e, DfsEntryStat *st, GError **error)
{
    g_auto(View) view = view_open(tree, NULL);
    const View *v = &view;
    guint kind = KIND(e), node = NODE(e);
    if (!valid_node(v, node))
        return not_found(error, "entry");
    memset(st, 0, sizeof *st);
    st->mtime = v->tree->mount_time;
    if (dfs_tree_is_volatile(e)) /* a new time each time: cached pages are dropped */
        clock_gettime(CLOCK_REALTIME, &st->mtime);
    guint inst = kind == K_NODE || kind == K_META_DIR || kind == K_META_FILE
                     ? DFS_NO_INDEX
                     : dfs_index_first_instance(v->idx, node);
    if (inst != DFS_NO_INDEX)
        st->mtime = *dfs_index_mtime(v->idx, inst);
    gboolean dir = kind == K_NODE || kind == K_TAGS || kind == K_META_DIR || kind == K_FRAMES;
    if (kind == K_ATTR && !attr_is_dir(v, e, &dir, error))
        return FALSE;
    st->is_dir = dir;
    st->nlink = dir ? 2 : 1;
    if (dir)
        return TRUE;
    if (kind == K_DCM) {
        st->size = dfs_index_size(v->idx, node);
        return TRUE;
    }
    if (kind == K_IMAGE_PNG || kind == K_PIXELS_RAW || kind == K_FRAME_PNG || kind == K_FRAME_RAW) {
        /* The size the header declares (a raw file over a limit has it
         * too; its reads give EIO, and errors.tsv says why). */
        return pixel_size(v, e, &st->size, error) ||
               (note_read_error(v, e, error ? *error : NULL), FALSE);
    }
    if (kind == K_ATTR) { /* render to measure, nothing kept */
        GString *out = g_string_sized_new(128);
        gboolean ok = render(v, e, out, error);
        st->size = out->len;
        g_string_free(out, TRUE);
        return ok;
    }
    GBytes *b = dfs_tree_content(tree, e, error);
    if (b == NULL)
        return FALSE;
    st->size = g_bytes_get_size(b);
    g_bytes_unref(b);
    return TRUE;
}
