/* dicomfs core: values of elements, decoded.  See value.h. */
#include "dicom/value.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dicom/charset.h"

static gboolean trims_leading(DfsVr vr)
{
    switch (vr) {
    case DFS_VR_AE: case DFS_VR_CS: case DFS_VR_DS: case DFS_VR_IS: case DFS_VR_LO:
    case DFS_VR_SH:
        return TRUE;
    default:
        return FALSE;
    }
}

/* Trim one value in place (PS3.5 6.2 padding rules). */
static char *trim(char *s, DfsVr vr)
{
    gsize n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\0'))
        n--;
    s[n] = '\0';
    if (trims_leading(vr)) {
        char *t = s;
        while (*t == ' ')
            t++;
        memmove(s, t, strlen(t) + 1);
    }
    return s;
}

/* The whole value decoded to UTF-8, before splitting, appended to out;
 * FALSE (nothing appended) where the value is not in memory. */
static gboolean decode_into(const DfsDataset *ds, guint i, const DfsElement *e, GString *out)
{
    gsize len;
    const guint8 *v = dfs_dataset_value(ds, i, &len);
    if (v == NULL)
        return FALSE;
    /* Values may hold NUL padding; text stops at the first NUL of a UI and
     * is otherwise taken whole (NULs inside are dropped by the decoder). */
    const DfsCharset *cs = dfs_vr_uses_charset(e->vr) ? dfs_dataset_charset(ds, i) : NULL;
    dfs_charset_decode(cs, e->vr == DFS_VR_PN ? DFS_TEXT_PN : DFS_TEXT_PLAIN, v, len, out);
    return TRUE;
}

static char *decode_whole(const DfsDataset *ds, guint i, const DfsElement *e)
{
    GString *s = g_string_new(NULL);
    if (!decode_into(ds, i, e, s))
        return g_string_free(s, TRUE), NULL;
    return g_string_free(s, FALSE);
}

char **dfs_value_texts(const DfsDataset *ds, guint i)
{
    const DfsElement *e = dfs_dataset_element(ds, i);
    if (e == NULL || !dfs_vr_is_text(e->vr))
        return NULL;
    char *whole = decode_whole(ds, i, e);
    if (whole == NULL)
        return NULL;
    char **parts;
    if (dfs_vr_is_single_valued_text(e->vr)) {
        parts = g_new0(char *, 2);
        parts[0] = whole;
    } else {
        parts = g_strsplit(whole, "\\", -1);
        g_free(whole);
    }
    for (char **p = parts; *p; p++)
        trim(*p, e->vr);
    /* An empty value is no value (PS3.5 6.4): "" gives 0 values. */
    if (parts[0] != NULL && parts[1] == NULL && parts[0][0] == '\0') {
        g_free(parts[0]);
        parts[0] = NULL;
    }
    return parts;
}

gboolean dfs_value_append_text(const DfsDataset *ds, guint i, GString *out)
{
    const DfsElement *e = dfs_dataset_element(ds, i);
    if (e == NULL || !dfs_vr_is_text(e->vr))
        return FALSE;
    gsize start = out->len;
    if (!decode_into(ds, i, e, out))
        return TRUE;
    char *whole = out->str + start;
    if (strchr(whole, '\\') == NULL || dfs_vr_is_single_valued_text(e->vr)) {
        /* One value (the usual case): trimmed, without splitting. */
        trim(whole, e->vr);
        g_string_truncate(out, start + strlen(whole));
        return TRUE;
    }
    g_string_truncate(out, start);
    char **v = dfs_value_texts(ds, i);
    if (v == NULL)
        return TRUE;
    for (char **p = v; *p; p++) {
        if (p != v)
            g_string_append_c(out, '\\');
        g_string_append(out, *p);
    }
    g_strfreev(v);
    return TRUE;
}

guint dfs_value_count(const DfsDataset *ds, guint i)
{
    const DfsElement *e = dfs_dataset_element(ds, i);
    if (e == NULL)
        return 0;
    if (e->vr == DFS_VR_SQ) {
        guint n = 0;
        for (guint c = i + 1; c < e->end; c = dfs_dataset_element(ds, c)->end)
            n++;
        return n;
    }
    guint unit = dfs_vr_unit_size(e->vr);
    if (unit > 0)
        return e->length / unit;
    char **v = dfs_value_texts(ds, i);
    guint n = v ? g_strv_length(v) : 0;
    g_strfreev(v);
    return n;
}

/* Pointer to binary value n, or NULL. */
static const guint8 *binary_at(const DfsDataset *ds, guint i, guint n, DfsVr *vr, gboolean *big)
{
    const DfsElement *e = dfs_dataset_element(ds, i);
    if (e == NULL)
        return NULL;
    guint unit = dfs_vr_unit_size(e->vr);
    gsize len;
    const guint8 *v = dfs_dataset_value(ds, i, &len);
    if (unit < 2 && e->vr != DFS_VR_OB)
        return NULL;
    if (v == NULL || (guint64)n * unit + unit > len)
        return NULL;
    *vr = (DfsVr)e->vr;
    *big = (e->flags & DFS_ELEM_BIG_ENDIAN) != 0;
    return v + (gsize)n * unit;
}

static guint64 load_uint(const guint8 *p, guint size, gboolean big)
{
    guint64 x = 0;
    for (guint k = 0; k < size; k++)
        x |= (guint64)p[big ? size - 1 - k : k] << (8 * k);
    return x;
}

gboolean dfs_value_binary_uint(const DfsDataset *ds, guint i, guint n, guint64 *out)
{
    DfsVr vr;
    gboolean big;
    const guint8 *p = binary_at(ds, i, n, &vr, &big);
    if (p == NULL)
        return FALSE;
    if (vr == DFS_VR_AT) {
        /* AT is a pair of 16-bit values, group first (PS3.5 6.2). */
        *out = load_uint(p, 2, big) << 16 | load_uint(p + 2, 2, big);
        return TRUE;
    }
    *out = load_uint(p, dfs_vr_unit_size(vr), big);
    return TRUE;
}

gboolean dfs_value_binary_int(const DfsDataset *ds, guint i, guint n, gint64 *out)
{
    guint64 u;
    DfsVr vr;
    gboolean big;
    if (binary_at(ds, i, n, &vr, &big) == NULL || !dfs_value_binary_uint(ds, i, n, &u))
        return FALSE;
    switch (vr) {
    case DFS_VR_SS: *out = (gint16)u; break;
    case DFS_VR_SL: *out = (gint32)u; break;
    case DFS_VR_SV: *out = (gint64)u; break;
    case DFS_VR_FL: case DFS_VR_FD: case DFS_VR_OF: case DFS_VR_OD: return FALSE;
    default:
        if (u > G_MAXINT64)
            return FALSE;
        *out = (gint64)u;
    }
    return TRUE;
}

gboolean dfs_value_binary_double(const DfsDataset *ds, guint i, guint n, double *out)
{
    DfsVr vr;
    gboolean big;
    const guint8 *p = binary_at(ds, i, n, &vr, &big);
    if (p == NULL)
        return FALSE;
    if (vr == DFS_VR_FL || vr == DFS_VR_OF) {
        guint32 u = (guint32)load_uint(p, 4, big);
        float f;
        memcpy(&f, &u, 4);
        *out = f;
        return TRUE;
    }
    if (vr == DFS_VR_FD || vr == DFS_VR_OD) {
        guint64 u = load_uint(p, 8, big);
        memcpy(out, &u, 8);
        return TRUE;
    }
    gint64 x;
    if (!dfs_value_binary_int(ds, i, n, &x))
        return FALSE;
    *out = (double)x;
    return TRUE;
}

const char *dfs_format_real(double v, gboolean single, char buf[DFS_REAL_BUF])
{
    if (isnan(v) || isinf(v)) {
        g_strlcpy(buf, isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity", DFS_REAL_BUF);
        return buf;
    }
    for (int prec = 1; prec <= 17; prec++) {
        char fmt[8];
        g_snprintf(fmt, sizeof fmt, "%%.%dg", prec);
        g_ascii_formatd(buf, DFS_REAL_BUF, fmt, v);
        double back = g_ascii_strtod(buf, NULL);
        if (single ? (float)back == (float)v : back == v)
            break;
    }
    return buf;
}

/* --- typed accessors of dataset.h ----------------------------------------- */

gboolean dfs_dataset_append_string(const DfsDataset *ds, guint parent, guint32 tag, GString *out)
{
    guint i = dfs_dataset_find(ds, parent, tag);
    return i != DFS_NO_INDEX && dfs_value_append_text(ds, i, out);
}

char *dfs_dataset_get_string(const DfsDataset *ds, guint parent, guint32 tag)
{
    GString *s = g_string_new(NULL);
    if (!dfs_dataset_append_string(ds, parent, tag, s)) {
        g_string_free(s, TRUE);
        return NULL;
    }
    return g_string_free(s, FALSE);
}

/* Text value n as a number (IS, DS), through strtod/strtoll rules. */
static gboolean text_number(const DfsDataset *ds, guint i, guint n, double *d, gint64 *x)
{
    char **v = dfs_value_texts(ds, i);
    gboolean ok = FALSE;
    if (v != NULL && n < g_strv_length(v) && v[n][0] != '\0') {
        char *end;
        if (x != NULL) {
            *x = g_ascii_strtoll(v[n], &end, 10);
        } else {
            *d = g_ascii_strtod(v[n], &end);
        }
        while (*end == ' ')
            end++;
        ok = *end == '\0';
    }
    g_strfreev(v);
    return ok;
}

gboolean dfs_dataset_get_int(const DfsDataset *ds, guint parent, guint32 tag, guint n,
                             gint64 *out)
{
    guint i = dfs_dataset_find(ds, parent, tag);
    if (i == DFS_NO_INDEX)
        return FALSE;
    if (dfs_dataset_element(ds, i)->vr == DFS_VR_IS)
        return text_number(ds, i, n, NULL, out);
    return dfs_value_binary_int(ds, i, n, out);
}

gboolean dfs_dataset_get_double(const DfsDataset *ds, guint parent, guint32 tag, guint n,
                                double *out)
{
    guint i = dfs_dataset_find(ds, parent, tag);
    if (i == DFS_NO_INDEX)
        return FALSE;
    DfsVr vr = (DfsVr)dfs_dataset_element(ds, i)->vr;
    if (vr == DFS_VR_IS || vr == DFS_VR_DS)
        return text_number(ds, i, n, out, NULL);
    return dfs_value_binary_double(ds, i, n, out);
}
