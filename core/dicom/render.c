/* dicomfs core: values as text, and the full dump.  See render.h. */
#include "dicom/render.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dicom/dict.h"
#include "dicom/tags.h"
#include "dicom/value.h"

#define DUMP_NAME_COLUMN 48

const char *dfs_render_name(const DfsDataset *ds, guint i, char buf[64])
{
    const DfsElement *e = dfs_dataset_element(ds, i);
    /* Private elements (creators too) are named by number: their meaning
     * depends on the creator, and a keyword would hide that (PS3.5 7.8). */
    gboolean is_private = (e->tag >> 16) & 1;
    const DfsDictEntry *d = is_private ? NULL : dfs_dict_lookup(e->tag);
    if (e->tag == DFS_TAG_ITEM)
        g_strlcpy(buf, "Item", 64);
    else if (d != NULL && d->keyword[0] != '\0')
        g_strlcpy(buf, d->keyword, 64);
    else
        g_snprintf(buf, 64, "%08X", e->tag);
    return buf;
}

static void append_real(GString *out, double v, gboolean single)
{
    char buf[DFS_REAL_BUF];
    g_string_append(out, dfs_format_real(v, single, buf));
}

static void append_escaped(GString *out, const char *s, gsize len)
{
    for (gsize k = 0; k < len; k++) {
        guchar c = (guchar)s[k];
        if (c >= 0x20 && c != 0x7f) {
            g_string_append_c(out, (char)c);
            continue;
        }
        switch (c) {
        case '\n': g_string_append(out, "\\n"); break;
        case '\r': g_string_append(out, "\\r"); break;
        case '\t': g_string_append(out, "\\t"); break;
        default: g_string_append_printf(out, "\\x%02x", c);
        }
    }
}

/* Binary values: numbers for numeric VRs, hex for the others, cut after
 * DFS_RENDER_BINARY_MAX bytes. */
static void append_binary(const DfsDataset *ds, guint i, const DfsElement *e, GString *out)
{
    guint unit = dfs_vr_unit_size(e->vr);
    guint n = e->length / unit;
    guint shown = MIN(n, DFS_RENDER_BINARY_MAX / unit);
    for (guint k = 0; k < shown; k++) {
        if (k > 0)
            g_string_append_c(out, '\\');
        guint64 u;
        gint64 x;
        double d;
        switch (e->vr) {
        case DFS_VR_FL: case DFS_VR_OF:
        case DFS_VR_FD: case DFS_VR_OD:
            dfs_value_binary_double(ds, i, k, &d);
            append_real(out, d, unit == 4);
            break;
        case DFS_VR_SS: case DFS_VR_SL: case DFS_VR_SV:
            dfs_value_binary_int(ds, i, k, &x);
            g_string_append_printf(out, "%" G_GINT64_FORMAT, x);
            break;
        case DFS_VR_US: case DFS_VR_UL: case DFS_VR_UV:
            dfs_value_binary_uint(ds, i, k, &u);
            g_string_append_printf(out, "%" G_GUINT64_FORMAT, u);
            break;
        case DFS_VR_AT:
            dfs_value_binary_uint(ds, i, k, &u);
            g_string_append_printf(out, "(%04X,%04X)", (guint)(u >> 16), (guint)(u & 0xffff));
            break;
        default: {
            gsize len;
            const guint8 *v = dfs_dataset_value(ds, i, &len);
            u = 0;
            /* Bulk words are shown as numbers of their unit, in the file's byte order. */
            if (unit == 1)
                u = v[k];
            else
                dfs_value_binary_uint(ds, i, k, &u);
            g_string_append_printf(out, "%0*" G_GINT64_MODIFIER "x", (int)unit * 2, u);
        }
        }
    }
    if (shown < n)
        g_string_append_printf(out, "\\... (%u bytes)", e->length);
}

static void append_special(const DfsDataset *ds, guint i, const DfsElement *e, GString *out)
{
    if (e->vr == DFS_VR_SQ) {
        guint n = dfs_value_count(ds, i);
        g_string_append_printf(out, "(%u item%s)", n, n == 1 ? "" : "s");
    } else if (e->flags & DFS_ELEM_ENCAPSULATED) {
        guint nf = 0;
        if (i == dfs_dataset_pixel_data(ds))
            dfs_dataset_fragments(ds, &nf);
        nf = nf > 0 ? nf - 1 : 0; /* the Basic Offset Table is no fragment (PS3.5 A.4) */
        g_string_append_printf(out, "(pixel data, encapsulated, %u fragments, %u bytes)", nf,
                               e->length);
    } else if (e->tag == DFS_TAG_PIXEL_DATA) {
        if (e->length == DFS_UNDEFINED_LENGTH)
            g_string_append(out, "(pixel data, encapsulated, not loaded)");
        else
            g_string_append_printf(out, "(pixel data, %u bytes)", e->length);
    } else if (e->flags & DFS_ELEM_NOT_LOADED) {
        g_string_append_printf(out, "(not loaded, %u bytes)", e->length);
    }
}

void dfs_render_value(const DfsDataset *ds, guint i, DfsRenderFlags flags, GString *out)
{
    const DfsElement *e = dfs_dataset_element(ds, i);
    if (e == NULL || e->vr == DFS_VR_NONE)
        return;
    if (e->vr == DFS_VR_SQ || e->tag == DFS_TAG_PIXEL_DATA ||
        (e->flags & (DFS_ELEM_ENCAPSULATED | DFS_ELEM_NOT_LOADED))) {
        append_special(ds, i, e, out);
        return;
    }
    if (!dfs_vr_is_text(e->vr)) {
        append_binary(ds, i, e, out);
        return;
    }
    if (!(flags & DFS_RENDER_ESCAPE)) {
        dfs_value_append_text(ds, i, out);
        return;
    }
    GString *tmp = g_string_new(NULL);
    dfs_value_append_text(ds, i, tmp);
    append_escaped(out, tmp->str, tmp->len);
    g_string_free(tmp, TRUE);
}

static void dump_line(const DfsDataset *ds, guint i, guint item_number, GString *out)
{
    const DfsElement *e = dfs_dataset_element(ds, i);
    gsize start = out->len;
    for (guint d = 0; d < e->depth; d++)
        g_string_append(out, "  ");
    char name[64];
    g_string_append_printf(out, "(%04X,%04X) %s %s", e->tag >> 16, e->tag & 0xffff,
                           dfs_vr_name(e->vr), dfs_render_name(ds, i, name));
    if (e->tag == DFS_TAG_ITEM) {
        g_string_append_printf(out, " %u\n", item_number);
        return;
    }
    gsize col = out->len - start;
    do {
        g_string_append_c(out, ' ');
    } while (++col < DUMP_NAME_COLUMN);
    gsize before = out->len;
    dfs_render_value(ds, i, DFS_RENDER_ESCAPE, out);
    if (out->len == before) /* no value: no trailing spaces */
        while (out->len > start && out->str[out->len - 1] == ' ')
            g_string_truncate(out, out->len - 1);
    g_string_append_c(out, '\n');
}

void dfs_render_dump(const DfsDataset *ds, GString *out)
{
    guint n = dfs_dataset_n_elements(ds);
    /* Item numbers: count items per sequence as they come. */
    guint counters[64] = {0};
    for (guint i = 0; i < n; i++) {
        const DfsElement *e = dfs_dataset_element(ds, i);
        guint item_number = 0;
        if (e->tag == DFS_TAG_ITEM) {
            guint d = MIN(e->depth, 63u);
            item_number = ++counters[d];
        } else if (e->vr == DFS_VR_SQ) {
            counters[MIN(e->depth + 1u, 63u)] = 0;
        }
        dump_line(ds, i, item_number, out);
    }
    g_autofree char *damage = dfs_dataset_damage_text(ds);
    if (damage != NULL)
        g_string_append_printf(out, "# %s; the rest of the file could not be read\n", damage);
}
