/* dicomfs core: questions answered about a parsed file.  See dataset.h. */
#include "dicom/dataset-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "dicom/input.h"
#include "base/scratch.h"
#include "dicom/tags.h"

DfsDataset *dfs_dataset_new_internal(DfsInput *src)
{
    DfsDataset *ds = g_new0(DfsDataset, 1);
    ds->refcount = 1;
    ds->elems = dfs_scratch_take(DFS_SCRATCH_ELEMS, DFS_SCRATCH_ELEMS_FIRST * sizeof(DfsElement));
    ds->elems_room = DFS_SCRATCH_ELEMS_FIRST;
    ds->elems_scratch = TRUE;
    ds->src = src;
    ds->pixel_data = DFS_NO_INDEX;
    ds->fd = -1;
    return ds;
}

DfsDataset *dfs_dataset_ref(DfsDataset *ds)
{
    g_atomic_int_inc(&ds->refcount);
    return ds;
}

void dfs_dataset_free(DfsDataset *ds)
{
    if (ds == NULL || !g_atomic_int_dec_and_test(&ds->refcount))
        return;
    dfs_scratch_release(DFS_SCRATCH_ELEMS, ds->elems, ds->elems_scratch);
    if (ds->top != NULL)
        g_array_unref(ds->top);
    if (ds->creators != NULL)
        g_array_unref(ds->creators);
    if (ds->creator_text != NULL)
        g_string_free(ds->creator_text, TRUE);
    if (ds->fragments != NULL)
        g_array_unref(ds->fragments);
    dfs_input_free(ds->src);
    g_free(ds->ts_uid);
    g_free(ds->path);
    g_free(ds->damage);
    dfs_charset_free(ds->root_charset);
    if (ds->item_charsets != NULL)
        g_hash_table_unref(ds->item_charsets);
    g_free(ds);
}

static DfsCharset *charset_of(DfsDataset *ds, guint parent)
{
    guint i = dfs_dataset_find(ds, parent, DFS_TAG_SPECIFIC_CHARACTER_SET);
    gsize len;
    const guint8 *v = i == DFS_NO_INDEX ? NULL : dfs_dataset_value(ds, i, &len);
    return v == NULL ? NULL : dfs_charset_parse(v, len);
}

/* Parse every (0008,0005) once, so rendering never parses one again. */
static void seal_charsets(DfsDataset *ds)
{
    ds->root_charset = charset_of(ds, DFS_ROOT);
    for (guint i = 0; i < ds->n_elems; i++) {
        const DfsElement *e = &ds->elems[i];
        if (e->tag != DFS_TAG_SPECIFIC_CHARACTER_SET || e->parent == DFS_ROOT)
            continue;
        DfsCharset *cs = charset_of(ds, e->parent);
        if (cs == NULL)
            continue;
        if (ds->item_charsets == NULL)
            ds->item_charsets = g_hash_table_new_full(NULL, NULL, NULL,
                                                      (GDestroyNotify)dfs_charset_free);
        g_hash_table_replace(ds->item_charsets, GUINT_TO_POINTER(e->parent), cs);
    }
}

/* The top-level elements in order, so that finding one (a dozen times per
 * file while scanning) is a binary search rather than a walk. */
static void seal_top(DfsDataset *ds)
{
    const DfsElement *el = ds->elems;
    guint n = 0;
    for (guint32 i = 0; i < ds->n_elems; i = el[i].end)
        n++;
    ds->top = g_array_sized_new(FALSE, FALSE, sizeof(guint32), n);
    g_array_set_size(ds->top, n);
    guint32 *top = (guint32 *)ds->top->data;
    ds->top_sorted = TRUE;
    n = 0;
    for (guint32 i = 0; i < ds->n_elems; i = el[i].end) {
        if (n > 0 && el[top[n - 1]].tag >= el[i].tag)
            ds->top_sorted = FALSE;
        top[n++] = i;
    }
}

void dfs_dataset_pad_creators(DfsDataset *ds, guint n)
{
    guint from = ds->creators->len;
    if (from >= n)
        return;
    g_array_set_size(ds->creators, n);
    for (guint k = from; k < n; k++)
        g_array_index(ds->creators, guint32, k) = DFS_NO_INDEX;
}

void dfs_dataset_seal(DfsDataset *ds)
{
    seal_top(ds);
    if (ds->creators != NULL)
        dfs_dataset_pad_creators(ds, ds->n_elems);
    seal_charsets(ds);
}

guint dfs_dataset_n_elements(const DfsDataset *ds)
{
    return ds->n_elems;
}

const DfsElement *dfs_dataset_element(const DfsDataset *ds, guint i)
{
    g_return_val_if_fail(i < ds->n_elems, NULL);
    return &ds->elems[i];
}

const guint8 *dfs_dataset_value(const DfsDataset *ds, guint i, gsize *len)
{
    const DfsElement *e = dfs_dataset_element(ds, i);
    *len = 0;
    if (e == NULL || e->vr == DFS_VR_SQ || e->vr == DFS_VR_NONE ||
        (e->flags & DFS_ELEM_NOT_LOADED))
        return NULL;
    if (e->offset + e->length > dfs_input_len(ds->src))
        return NULL;
    *len = e->length;
    return dfs_input_data(ds->src) + e->offset;
}

static guint find_top(const DfsDataset *ds, guint32 tag)
{
    const DfsElement *el = ds->elems;
    const guint32 *top = (const guint32 *)ds->top->data;
    guint lo = 0, hi = ds->top->len;
    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        guint32 t = el[top[mid]].tag;
        if (t == tag)
            return top[mid];
        if (t < tag)
            lo = mid + 1;
        else
            hi = mid;
    }
    return DFS_NO_INDEX;
}

guint dfs_dataset_find(const DfsDataset *ds, guint parent, guint32 tag)
{
    if (parent == DFS_ROOT && ds->top != NULL && ds->top_sorted)
        return find_top(ds, tag);
    guint i, end;
    if (parent == DFS_ROOT) {
        i = 0;
        end = ds->n_elems;
    } else {
        if (parent >= ds->n_elems)
            return DFS_NO_INDEX;
        i = parent + 1;
        end = ds->elems[parent].end;
    }
    const DfsElement *el = ds->elems;
    /* Siblings are in ascending tag order in valid files, but not all files
     * are valid: walk them all rather than stop early. */
    while (i < end) {
        if (el[i].tag == tag)
            return i;
        i = el[i].end;
    }
    return DFS_NO_INDEX;
}

const char *dfs_dataset_private_creator(const DfsDataset *ds, guint i)
{
    if (ds->creators == NULL || i >= ds->creators->len)
        return NULL;
    guint32 c = g_array_index(ds->creators, guint32, i);
    return c == DFS_NO_INDEX ? NULL : ds->creator_text->str + c;
}

const DfsCharset *dfs_dataset_charset(const DfsDataset *ds, guint i)
{
    if (ds->item_charsets != NULL) {
        const DfsElement *el = ds->elems;
        for (guint p = i < ds->n_elems ? el[i].parent : DFS_ROOT; p != DFS_ROOT;
             p = el[p].parent) {
            DfsCharset *cs = g_hash_table_lookup(ds->item_charsets, GUINT_TO_POINTER(p));
            if (cs != NULL)
                return cs;
        }
    }
    return ds->root_charset;
}

const char *dfs_dataset_transfer_syntax(const DfsDataset *ds)
{
    return ds->ts_uid ? ds->ts_uid : "1.2.840.10008.1.2";
}

const char *dfs_dataset_damage(const DfsDataset *ds, guint64 *offset)
{
    if (offset != NULL)
        *offset = ds->damage_at;
    return ds->damage;
}

char *dfs_dataset_damage_text(const DfsDataset *ds)
{
    return ds->damage == NULL ? NULL
                              : g_strdup_printf("damaged at byte %" G_GUINT64_FORMAT ": %s",
                                                ds->damage_at, ds->damage);
}

gboolean dfs_dataset_has_preamble(const DfsDataset *ds)
{
    return ds->preamble;
}

gboolean dfs_dataset_is_header_only(const DfsDataset *ds)
{
    return ds->header_only;
}

gsize dfs_dataset_loaded_size(const DfsDataset *ds)
{
    return dfs_input_len(ds->src);
}

gsize dfs_dataset_memory(const DfsDataset *ds)
{
    /* Each allocation costs about 16 bytes more than asked (glibc). */
    gsize n = sizeof *ds + 16 + (gsize)ds->elems_room * sizeof(DfsElement) + 16 +
              dfs_input_memory(ds->src) + 32;
    if (ds->top != NULL)
        n += ds->top->len * sizeof(guint32) + 64;
    if (ds->creators != NULL)
        n += ds->creators->len * sizeof(guint32) + 64;
    if (ds->creator_text != NULL)
        n += ds->creator_text->allocated_len + 64;
    if (ds->fragments != NULL)
        n += ds->fragments->len * sizeof(DfsFragment) + 64;
    if (ds->ts_uid != NULL)
        n += strlen(ds->ts_uid) + 17;
    if (ds->path != NULL)
        n += strlen(ds->path) + 17;
    if (ds->root_charset != NULL)
        n += 256;
    if (ds->item_charsets != NULL)
        n += g_hash_table_size(ds->item_charsets) * 320 + 128;
    return n;
}

guint dfs_dataset_pixel_data(const DfsDataset *ds)
{
    return ds->pixel_data;
}

const DfsFragment *dfs_dataset_fragments(const DfsDataset *ds, guint *n_fragments)
{
    if (ds->fragments == NULL) {
        *n_fragments = 0;
        return NULL;
    }
    *n_fragments = ds->fragments->len;
    return (const DfsFragment *)ds->fragments->data;
}

static gboolean pread_all(int fd, guint64 offset, void *buf, gsize len, GError **error)
{
    gsize done = 0;
    while (done < len) {
        ssize_t r = pread(fd, (guint8 *)buf + done, len - done, (off_t)(offset + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            g_set_error(error, DFS_ERROR, r == 0 ? DFS_ERROR_TRUNCATED : DFS_ERROR_IO,
                        "read at byte %" G_GUINT64_FORMAT ": %s", offset + done,
                        r == 0 ? "file is shorter than when it was read" : g_strerror(errno));
            return FALSE;
        }
        done += (gsize)r;
    }
    return TRUE;
}

gboolean dfs_dataset_drop_pixel_value(DfsDataset *ds)
{
    if (ds->pixel_data == DFS_NO_INDEX || ds->cut_len > 0)
        return FALSE;
    DfsElement *e = &ds->elems[ds->pixel_data];
    if ((e->flags & (DFS_ELEM_ENCAPSULATED | DFS_ELEM_NOT_LOADED)) ||
        e->length == DFS_UNDEFINED_LENGTH || !dfs_input_is_plain(ds->src))
        return FALSE;
    guint64 at = e->offset, n = e->length;
    if (!dfs_input_cut(ds->src, at, n))
        return FALSE;
    for (guint i = 0; i < ds->n_elems; i++) /* what follows moved down */
        if (ds->elems[i].offset >= at + n)
            ds->elems[i].offset -= n;
    e->flags |= DFS_ELEM_NOT_LOADED;
    ds->cut_at = at;
    ds->cut_len = n;
    return TRUE;
}

gboolean dfs_dataset_read_stream(const DfsDataset *ds, guint64 offset, void *buf, gsize len,
                                 GError **error)
{
    /* Past a cut the buffer is no longer the file: read the file there. */
    gsize have = ds->cut_len > 0 ? (gsize)ds->cut_at : dfs_input_len(ds->src);
    if (offset <= have && len <= have - offset) {
        memcpy(buf, dfs_input_data(ds->src) + offset, len);
        return TRUE;
    }
    if (!dfs_input_is_plain(ds->src)) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_UNSUPPORTED,
                    "deflated data beyond the header was not loaded; read the file in full");
        return FALSE;
    }
    if (ds->fd >= 0)
        return pread_all(ds->fd, offset, buf, len, error);
    if (ds->path == NULL) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_TRUNCATED,
                    "bytes %" G_GUINT64_FORMAT "+%" G_GSIZE_FORMAT " are past the data", offset,
                    len);
        return FALSE;
    }
    int fd = dfs_input_open(ds->path);
    if (fd < 0) {
        int err = errno;
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "cannot open: %s", g_strerror(err));
        return FALSE;
    }
    gboolean ok = pread_all(fd, offset, buf, len, error);
    close(fd);
    return ok;
}
