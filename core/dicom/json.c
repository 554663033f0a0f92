/* dicomfs core: the DICOM JSON Model (PS3.18 Annex F).  See json.h. */
#include "dicom/json.h"

#include <math.h>
#include <string.h>

#include "dicom/tags.h"
#include "dicom/value.h"

typedef struct {
    const DfsDataset *ds;
    const DfsJsonOptions *opts;
    GString *out;
} Writer;

static void newline(Writer *w, guint level)
{
    if (!w->opts->pretty)
        return;
    g_string_append_c(w->out, '\n');
    for (guint k = 0; k < level; k++)
        g_string_append(w->out, "  ");
}

static void append_string(GString *out, const char *s)
{
    g_string_append_c(out, '"');
    for (const guchar *p = (const guchar *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            g_string_append_printf(out, "\\%c", *p);
        else if (*p < 0x20)
            g_string_append_printf(out, "\\u%04x", *p);
        else
            g_string_append_c(out, (char)*p);
    }
    g_string_append_c(out, '"');
}

/* JSON numbers cannot be NaN or infinite; those are written as strings. */
static void append_number(GString *out, double v, gboolean single)
{
    char buf[DFS_REAL_BUF];
    if (isnan(v) || isinf(v))
        append_string(out, dfs_format_real(v, single, buf));
    else
        g_string_append(out, dfs_format_real(v, single, buf));
}

/* PS3.18 F.2.2: a PN value is an object of up to three component groups. */
static void append_pn(GString *out, const char *value)
{
    static const char *const groups[] = {"Alphabetic", "Ideographic", "Phonetic"};
    char **parts = g_strsplit(value, "=", 3);
    gboolean first = TRUE;
    g_string_append_c(out, '{');
    for (guint k = 0; parts[k] != NULL && k < 3; k++) {
        if (parts[k][0] == '\0')
            continue;
        if (!first)
            g_string_append_c(out, ',');
        first = FALSE;
        g_string_append_printf(out, "\"%s\":", groups[k]);
        append_string(out, parts[k]);
    }
    g_string_append_c(out, '}');
    g_strfreev(parts);
}

/* IS and DS are JSON numbers (F.2.3.1); a value that is no number stays a
 * string rather than being lost. */
static void append_text_value(GString *out, DfsVr vr, const char *v)
{
    if (v[0] == '\0') {
        g_string_append(out, "null");
        return;
    }
    if (vr == DFS_VR_PN) {
        append_pn(out, v);
        return;
    }
    if (vr == DFS_VR_IS || vr == DFS_VR_DS) {
        char *end;
        double d = g_ascii_strtod(v, &end);
        if (end != v && *end == '\0' && !isnan(d) && !isinf(d)) {
            if (vr == DFS_VR_IS && fabs(d) < 9007199254740992.0 && d == (gint64)d)
                g_string_append_printf(out, "%" G_GINT64_FORMAT, (gint64)d);
            else
                append_number(out, d, FALSE);
            return;
        }
    }
    append_string(out, v);
}

static gboolean append_text_values(Writer *w, guint i, DfsVr vr)
{
    char **v = dfs_value_texts(w->ds, i);
    if (v == NULL || v[0] == NULL) {
        g_strfreev(v);
        return FALSE;
    }
    g_string_append(w->out, ",\"Value\":[");
    for (char **p = v; *p; p++) {
        if (p != v)
            g_string_append_c(w->out, ',');
        append_text_value(w->out, vr, *p);
    }
    g_string_append_c(w->out, ']');
    g_strfreev(v);
    return TRUE;
}

static void append_numeric_values(Writer *w, guint i, const DfsElement *e)
{
    guint n = e->length / dfs_vr_unit_size(e->vr);
    if (n == 0)
        return;
    g_string_append(w->out, ",\"Value\":[");
    for (guint k = 0; k < n; k++) {
        if (k > 0)
            g_string_append_c(w->out, ',');
        guint64 u;
        gint64 x;
        double d;
        if (e->vr == DFS_VR_AT) {
            dfs_value_binary_uint(w->ds, i, k, &u);
            g_string_append_printf(w->out, "\"%08X\"", (guint32)u);
        } else if (e->vr == DFS_VR_FL || e->vr == DFS_VR_FD) {
            dfs_value_binary_double(w->ds, i, k, &d);
            append_number(w->out, d, e->vr == DFS_VR_FL);
        } else if (e->vr == DFS_VR_UL || e->vr == DFS_VR_US || e->vr == DFS_VR_UV) {
            dfs_value_binary_uint(w->ds, i, k, &u);
            g_string_append_printf(w->out, "%" G_GUINT64_FORMAT, u);
        } else {
            dfs_value_binary_int(w->ds, i, k, &x);
            g_string_append_printf(w->out, "%" G_GINT64_FORMAT, x);
        }
    }
    g_string_append_c(w->out, ']');
}

/* InlineBinary is the value in little endian (F.2.7), so big endian words
 * are swapped first. */
static void append_inline_binary(Writer *w, guint i, const DfsElement *e)
{
    gsize len;
    const guint8 *v = dfs_dataset_value(w->ds, i, &len);
    if (v == NULL || len == 0)
        return;
    guint unit = dfs_vr_unit_size(e->vr);
    g_autofree guint8 *swapped = NULL;
    if ((e->flags & DFS_ELEM_BIG_ENDIAN) && unit > 1) {
        swapped = g_malloc(len);
        for (gsize k = 0; k + unit <= len; k += unit)
            for (guint b = 0; b < unit; b++)
                swapped[k + b] = v[k + unit - 1 - b];
        memcpy(swapped + len - len % unit, v + len - len % unit, len % unit);
        v = swapped;
    }
    g_autofree char *b64 = g_base64_encode(v, len);
    g_string_append(w->out, ",\"InlineBinary\":\"");
    g_string_append(w->out, b64);
    g_string_append_c(w->out, '"');
}

static void write_object(Writer *w, guint first, guint end, guint level);

static void append_items(Writer *w, guint i, const DfsElement *e, guint level)
{
    if (e->end == i + 1)
        return;
    g_string_append(w->out, ",\"Value\":[");
    for (guint c = i + 1; c < e->end; c = dfs_dataset_element(w->ds, c)->end) {
        if (c != i + 1)
            g_string_append_c(w->out, ',');
        newline(w, level + 1);
        write_object(w, c + 1, dfs_dataset_element(w->ds, c)->end, level + 1);
    }
    g_string_append_c(w->out, ']');
}

static void write_attribute(Writer *w, guint i, guint level)
{
    const DfsElement *e = dfs_dataset_element(w->ds, i);
    g_string_append_printf(w->out, "\"%08X\":{\"vr\":\"%s\"", e->tag, dfs_vr_name(e->vr));
    if (e->vr == DFS_VR_SQ)
        append_items(w, i, e, level);
    else if (e->tag == DFS_TAG_PIXEL_DATA && w->opts->pixel_data_uri != NULL) {
        g_string_append(w->out, ",\"BulkDataURI\":");
        append_string(w->out, w->opts->pixel_data_uri);
    } else if (e->flags & (DFS_ELEM_ENCAPSULATED | DFS_ELEM_NOT_LOADED))
        ; /* no value to give inline */
    else if (dfs_vr_is_text(e->vr))
        append_text_values(w, i, (DfsVr)e->vr);
    else if (dfs_vr_is_bulk(e->vr))
        append_inline_binary(w, i, e);
    else
        append_numeric_values(w, i, e);
    g_string_append_c(w->out, '}');
}

/* Group lengths are left out (PS3.18 F.2: they are not encoded), and the
 * File Meta Information unless asked for. */
static gboolean skipped(const Writer *w, guint32 tag)
{
    if ((tag & 0xffff) == 0)
        return TRUE;
    return (tag >> 16) == 0x0002 && !w->opts->include_meta;
}

static void write_object(Writer *w, guint first, guint end, guint level)
{
    gboolean any = FALSE;
    g_string_append_c(w->out, '{');
    for (guint i = first; i < end; i = dfs_dataset_element(w->ds, i)->end) {
        const DfsElement *e = dfs_dataset_element(w->ds, i);
        if (skipped(w, e->tag))
            continue;
        if (any)
            g_string_append_c(w->out, ',');
        any = TRUE;
        newline(w, level + 1);
        write_attribute(w, i, level + 1);
    }
    if (any)
        newline(w, level);
    g_string_append_c(w->out, '}');
}

void dfs_render_json(const DfsDataset *ds, const DfsJsonOptions *opts, GString *out)
{
    static const DfsJsonOptions defaults = {0};
    Writer w = {.ds = ds, .opts = opts ? opts : &defaults, .out = out};
    write_object(&w, 0, dfs_dataset_n_elements(ds), 0);
    if (w.opts->pretty)
        g_string_append_c(out, '\n');
}
