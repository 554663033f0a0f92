/* dicomfs core: DICOM JSON attributes as a binary Part 10 file.  See
 * dicomjson.h.
 *
 * Each attribute added is kept as its tag, its VR (resolved when added) and
 * its values, copied one after another, NUL-terminated, into one text
 * buffer; a set of the tags seen makes the first one added win.  Encoding
 * sorts the attributes by tag and builds each element's value in a scratch
 * buffer before writing its header, which needs the value's length. */
#include "sources/dicomjson.h"

#include <math.h>
#include <string.h>
#include <zlib.h>

#include "base/error.h"
#include "dicom/dict.h"
#include "dicom/tags.h"
#include "dicom/vr.h"

#define UID_IMPLICIT_LE "1.2.840.10008.1.2"
#define UID_EXPLICIT_LE "1.2.840.10008.1.2.1"
#define UID_EXPLICIT_BE "1.2.840.10008.1.2.2"
#define UID_DEFLATED_LE "1.2.840.10008.1.2.1.99"
#define UID_JPIP_DEFLATE "1.2.840.10008.1.2.4.95" /* also deflated (PS3.5 A.5) */

/* PS3.18 F.2: DICOM JSON is UTF-8, which PS3.3 C.12.1.1.2 spells so. */
#define CHARSET_UTF8 "ISO_IR 192"

#define PREAMBLE_LEN 128
/* Largest even value a length field holds (PS3.5 7.1.2; 0xFFFFFFFF is
 * undefined length). */
#define MAX_SHORT_LENGTH 0xFFFEu
#define MAX_LONG_LENGTH 0xFFFFFFFEu
/* PS3.5 Table 6.2-1: at most 16 bytes of DS, 12 of IS, whose values lie
 * in -2^31 .. 2^31-1, and 64 of UI. */
#define DS_MAX_CHARS 16
#define IS_MAX_CHARS 12
#define UI_MAX_CHARS 64
/* Integers a double holds exactly: beyond, "1e300" is no integer value. */
#define EXACT_DOUBLE_INT 9007199254740992.0
/* How much of a bad value an error message quotes. */
#define QUOTE_MAX 64

typedef struct {
    guint32 tag;
    guint8 vr; /* DfsVr */
    guint n_values;
    gsize text; /* offset in the encoder's text of the first of n_values
                   NUL-terminated values */
} Attr;

struct _DfsDicomJson {
    GArray *attrs;    /* Attr, in the order added until an encoding sorts them */
    GHashTable *seen; /* the tags of attrs */
    GString *text;    /* every value, NUL-terminated */
    GString *value;   /* scratch: the value of the element being written */
};

/* Where the elements go and how: explicit or implicit VR, little or big
 * endian (PS3.5 7.1, 7.3). */
typedef struct {
    GString *out;
    gboolean implicit, big;
} Writer;

DfsDicomJson *dfs_dicomjson_new(void)
{
    DfsDicomJson *j = g_new0(DfsDicomJson, 1);
    j->attrs = g_array_new(FALSE, FALSE, sizeof(Attr));
    j->seen = g_hash_table_new(g_direct_hash, g_direct_equal);
    j->text = g_string_new(NULL);
    j->value = g_string_new(NULL);
    return j;
}

void dfs_dicomjson_free(DfsDicomJson *j)
{
    if (j == NULL)
        return;
    g_array_unref(j->attrs);
    g_hash_table_unref(j->seen);
    g_string_free(j->text, TRUE);
    g_string_free(j->value, TRUE);
    g_free(j);
}

void dfs_dicomjson_clear(DfsDicomJson *j)
{
    g_array_set_size(j->attrs, 0);
    g_hash_table_remove_all(j->seen);
    g_string_truncate(j->text, 0);
}

/* The VR given, UN if it names none; without one, the dictionary's (PS3.6),
 * else UN (as an implicit VR reader would, PS3.5 6.2.2). */
static DfsVr attr_vr(const DfsQidoAttr *a)
{
    if (a->vr[0] != '\0') {
        DfsVr vr = dfs_vr_from_bytes((guint8)a->vr[0], (guint8)a->vr[1]);
        return vr != DFS_VR_NONE ? vr : DFS_VR_UN;
    }
    const DfsDictEntry *d = dfs_dict_lookup(a->tag);
    return d != NULL && d->vr != DFS_VR_NONE ? (DfsVr)d->vr : DFS_VR_UN;
}

void dfs_dicomjson_add(DfsDicomJson *j, const DfsQidoAttr *a)
{
    guint16 group = a->tag >> 16;
    /* The meta is made here, group lengths are optional (PS3.5 7.2) and
     * would be wrong, and FFFE tags are items, not attributes. */
    if (group == 0x0002 || group == 0xFFFE || (a->tag & 0xFFFF) == 0)
        return;
    if (!g_hash_table_add(j->seen, GUINT_TO_POINTER(a->tag)))
        return;
    Attr at = {a->tag, (guint8)attr_vr(a), a->n_values, j->text->len};
    for (guint v = 0; v < a->n_values; v++)
        g_string_append_len(j->text, a->values[v], (gssize)strlen(a->values[v]) + 1);
    g_array_append_val(j->attrs, at);
}

void dfs_dicomjson_add_row(DfsDicomJson *j, const DfsQidoRow *row)
{
    for (guint k = 0; k < row->n_attrs; k++)
        dfs_dicomjson_add(j, &row->attrs[k]);
}

/* --- writing ------------------------------------------------------------------ */

static gboolean fail(GError **error, int code, guint32 tag, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

/* An error about the attribute tag: "(gggg,eeee) " and the message. */
static gboolean fail(GError **error, int code, guint32 tag, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *why = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, DFS_ERROR, code, "(%04X,%04X) %s", tag >> 16, tag & 0xFFFF, why);
    return FALSE;
}

/* Bytes of v that an error quotes: at most QUOTE_MAX, whole characters
 * (the parser has checked the text is UTF-8). */
static int quoted(const char *v)
{
    glong chars = g_utf8_strlen(v, QUOTE_MAX);
    return (int)(g_utf8_offset_to_pointer(v, chars) - v);
}

/* size bytes of v, little or big endian. */
static void put_uint(GString *s, guint64 v, guint size, gboolean big)
{
    for (guint k = 0; k < size; k++) {
        guint shift = 8 * (big ? size - 1 - k : k);
        g_string_append_c(s, (char)(v >> shift & 0xFF));
    }
}

/* The element's header and value (PS3.5 7.1.1-7.1.3), the value padded
 * to even length with pad first.  DFS_ERROR_LIMIT when the value is too
 * long for the length field. */
static gboolean put_element(const Writer *w, guint32 tag, DfsVr vr, GString *value, char pad,
                            GError **error)
{
    if (value->len & 1)
        g_string_append_c(value, pad);
    gboolean long_length = w->implicit || dfs_vr_has_long_length(vr);
    if (value->len > (long_length ? MAX_LONG_LENGTH : MAX_SHORT_LENGTH))
        return fail(error, DFS_ERROR_LIMIT, tag,
                    "%s value of %" G_GSIZE_FORMAT " bytes is too long for its length field",
                    dfs_vr_name(vr), value->len);
    put_uint(w->out, tag >> 16, 2, w->big);
    put_uint(w->out, tag & 0xFFFF, 2, w->big);
    if (w->implicit) {
        put_uint(w->out, value->len, 4, w->big);
    } else {
        g_string_append_len(w->out, dfs_vr_name(vr), 2);
        if (long_length) {
            put_uint(w->out, 0, 2, w->big);
            put_uint(w->out, value->len, 4, w->big);
        } else {
            put_uint(w->out, value->len, 2, w->big);
        }
    }
    g_string_append_len(w->out, value->str, (gssize)value->len);
    return TRUE;
}

/* A text element of one value (the meta's UIDs, the character set).  A
 * UID too long for its length field is left out here; the data set's own
 * (0008,0016) or (0008,0018) then fails with the error. */
static void put_text(const Writer *w, GString *scratch, guint32 tag, DfsVr vr, const char *s)
{
    g_string_assign(scratch, s);
    put_element(w, tag, vr, scratch, vr == DFS_VR_UI ? '\0' : ' ', NULL);
}

/* --- text values ----------------------------------------------------------------- */

/* s without the spaces around it, as [*start, *start + return). */
static gsize trim(const char *s, const char **start)
{
    while (*s == ' ')
        s++;
    gsize n = strlen(s);
    while (n > 0 && s[n - 1] == ' ')
        n--;
    *start = s;
    return n;
}

/* The whole of s (n bytes, n > 0) as a finite double. */
static gboolean parse_double(const char *s, gsize n, double *out)
{
    g_autofree char *copy = g_strndup(s, n);
    char *end;
    *out = g_ascii_strtod(copy, &end);
    return end == copy + n && isfinite(*out);
}

/* A DS value: the number's text as given when it fits 16 characters, else
 * the same number with as many digits as fit (PS3.5 6.2). */
static gboolean append_ds(GString *out, const char *v, guint32 tag, GError **error)
{
    const char *s;
    gsize n = trim(v, &s);
    double d;
    if (n == 0)
        return TRUE;
    if (!parse_double(s, n, &d))
        return fail(error, DFS_ERROR_MALFORMED, tag, "DS value \"%.*s\" is not a number", quoted(v),
                    v);
    if (n <= DS_MAX_CHARS) {
        g_string_append_len(out, s, (gssize)n);
        return TRUE;
    }
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    for (int digits = DS_MAX_CHARS; digits > 0; digits--) {
        char format[8];
        g_snprintf(format, sizeof format, "%%.%dg", digits);
        if (strlen(g_ascii_formatd(buf, sizeof buf, format, d)) <= DS_MAX_CHARS)
            break;
    }
    g_string_append(out, buf); /* "-1e-100" at one digit always fits */
    return TRUE;
}

/* The whole of s (n bytes, n > 0) as an integer in [min, max]: its digits,
 * or an integral number written otherwise ("12.0", "1e3"). */
static gboolean parse_integer(const char *s, gsize n, gint64 min, guint64 max, guint64 *out)
{
    g_autofree char *copy = g_strndup(s, n);
    gint64 i;
    guint64 u;
    if (copy[0] == '-' && min < 0 && g_ascii_string_to_signed(copy, 10, min, 0, &i, NULL)) {
        *out = (guint64)i;
        return TRUE;
    }
    if (copy[0] != '-' && g_ascii_string_to_unsigned(copy, 10, 0, max, &u, NULL)) {
        *out = u;
        return TRUE;
    }
    double d;
    if (!parse_double(s, n, &d) || d != floor(d) || fabs(d) > EXACT_DOUBLE_INT || d < (double)min ||
        d > (double)max)
        return FALSE;
    *out = d < 0 ? (guint64)(gint64)d : (guint64)d;
    return TRUE;
}

/* An IS value: an integer in its range, as given when it is plain digits
 * that fit, else written again as digits. */
static gboolean append_is(GString *out, const char *v, guint32 tag, GError **error)
{
    const char *s;
    gsize n = trim(v, &s);
    guint64 u;
    if (n == 0)
        return TRUE;
    if (!parse_integer(s, n, G_MININT32, G_MAXINT32, &u))
        return fail(error, DFS_ERROR_MALFORMED, tag, "IS value \"%.*s\" is not an integer",
                    quoted(v), v);
    gboolean digits = n <= IS_MAX_CHARS;
    for (gsize k = s[0] == '-' || s[0] == '+'; k < n && digits; k++)
        digits = g_ascii_isdigit(s[k]);
    if (digits)
        g_string_append_len(out, s, (gssize)n);
    else
        g_string_append_printf(out, "%" G_GINT64_FORMAT, (gint64)u);
    return TRUE;
}

/* The values of a text VR joined by '\' (PS3.5 6.4). */
static gboolean text_value(DfsDicomJson *j, const Attr *a, GError **error)
{
    const char *v = j->text->str + a->text;
    for (guint n = 0; n < a->n_values; n++, v += strlen(v) + 1) {
        if (n > 0)
            g_string_append_c(j->value, '\\');
        if (a->vr == DFS_VR_DS) {
            if (!append_ds(j->value, v, a->tag, error))
                return FALSE;
        } else if (a->vr == DFS_VR_IS) {
            if (!append_is(j->value, v, a->tag, error))
                return FALSE;
        } else {
            g_string_append(j->value, v);
        }
    }
    return TRUE;
}

/* --- binary values ---------------------------------------------------------------- */

/* One value of a binary number VR (or AT, "GGGGEEEE") appended to out. */
static gboolean append_binary(GString *out, DfsVr vr, const char *v, gboolean big)
{
    gsize n = strlen(v);
    guint64 u;
    double d;
    switch (vr) {
    case DFS_VR_US:
    case DFS_VR_UL:
    case DFS_VR_UV:
    case DFS_VR_SS:
    case DFS_VR_SL:
    case DFS_VR_SV: {
        guint size = dfs_vr_unit_size(vr);
        gboolean sign = vr == DFS_VR_SS || vr == DFS_VR_SL || vr == DFS_VR_SV;
        guint64 max = size == 8 ? G_MAXUINT64 : (G_GUINT64_CONSTANT(1) << (8 * size)) - 1;
        gint64 min = sign ? -(gint64)(max / 2) - 1 : 0;
        if (n == 0 || !parse_integer(v, n, min, sign ? max / 2 : max, &u))
            return FALSE;
        put_uint(out, u, size, big);
        return TRUE;
    }
    case DFS_VR_FL: {
        if (n == 0 || !parse_double(v, n, &d) || fabs(d) > G_MAXFLOAT)
            return FALSE;
        float f = (float)d;
        guint32 bits;
        memcpy(&bits, &f, 4);
        put_uint(out, bits, 4, big);
        return TRUE;
    }
    case DFS_VR_FD:
        if (n == 0 || !parse_double(v, n, &d))
            return FALSE;
        memcpy(&u, &d, 8);
        put_uint(out, u, 8, big);
        return TRUE;
    case DFS_VR_AT:
        /* PS3.18 F.2.3: "GGGGEEEE", eight hex digits. */
        for (gsize k = 0; k < n; k++)
            if (!g_ascii_isxdigit(v[k]))
                return FALSE;
        if (n != 8 || !g_ascii_string_to_unsigned(v, 16, 0, G_MAXUINT32, &u, NULL))
            return FALSE;
        put_uint(out, u >> 16, 2, big);
        put_uint(out, u & 0xFFFF, 2, big);
        return TRUE;
    default:
        return FALSE;
    }
}

/* The values of a binary VR.  A lone null is an empty value; a null among
 * others has no binary form. */
static gboolean binary_value(DfsDicomJson *j, const Writer *w, const Attr *a, GError **error)
{
    const char *v = j->text->str + a->text;
    if (a->n_values == 1 && v[0] == '\0')
        return TRUE;
    for (guint n = 0; n < a->n_values; n++, v += strlen(v) + 1)
        if (!append_binary(j->value, a->vr, v, w->big))
            return fail(error, DFS_ERROR_MALFORMED, a->tag, "%s value %u \"%.*s\" is not %s",
                        dfs_vr_name(a->vr), n + 1, quoted(v), v,
                        a->vr == DFS_VR_AT ? "a tag (GGGGEEEE)" : "a number in the VR's range");
    return TRUE;
}

/* --- the data set ----------------------------------------------------------------- */

static gboolean write_attr(DfsDicomJson *j, const Writer *w, const Attr *a, GError **error)
{
    DfsVr vr = a->vr;
    g_string_truncate(j->value, 0);
    /* SQ items are not kept, bulk values not here: both written empty. */
    if (vr != DFS_VR_SQ && !dfs_vr_is_bulk(vr)) {
        gboolean ok = dfs_vr_is_text(vr) ? text_value(j, a, error) : binary_value(j, w, a, error);
        if (!ok)
            return FALSE;
    }
    return put_element(w, a->tag, vr, j->value, vr == DFS_VR_UI ? '\0' : ' ', error);
}

/* Does any attribute but the character set have a text value? */
static gboolean has_text(const DfsDicomJson *j)
{
    for (guint k = 0; k < j->attrs->len; k++) {
        const Attr *a = &g_array_index(j->attrs, Attr, k);
        if (a->tag == DFS_TAG_SPECIFIC_CHARACTER_SET || !dfs_vr_is_text(a->vr))
            continue;
        const char *v = j->text->str + a->text;
        for (guint n = 0; n < a->n_values; n++, v += strlen(v) + 1)
            if (v[0] != '\0')
                return TRUE;
    }
    return FALSE;
}

/* Every attribute in tag order, (0008,0005) replaced by ISO_IR 192 where
 * there is text. */
static gboolean write_data_set(DfsDicomJson *j, const Writer *w, GError **error)
{
    gboolean charset = has_text(j);
    for (guint k = 0; k <= j->attrs->len; k++) {
        const Attr *a = k < j->attrs->len ? &g_array_index(j->attrs, Attr, k) : NULL;
        if (charset && (a == NULL || a->tag >= DFS_TAG_SPECIFIC_CHARACTER_SET)) {
            put_text(w, j->value, DFS_TAG_SPECIFIC_CHARACTER_SET, DFS_VR_CS, CHARSET_UTF8);
            charset = FALSE;
        }
        if (a != NULL && a->tag != DFS_TAG_SPECIFIC_CHARACTER_SET && !write_attr(j, w, a, error))
            return FALSE;
    }
    return TRUE;
}

static int compare_tags(gconstpointer x, gconstpointer y)
{
    guint32 a = ((const Attr *)x)->tag, b = ((const Attr *)y)->tag;
    return a < b ? -1 : a > b;
}

/* The first value of tag (attrs sorted), or NULL when absent or empty. */
static const char *first_value(const DfsDicomJson *j, guint32 tag)
{
    Attr key = {.tag = tag};
    guint at;
    if (!g_array_binary_search(j->attrs, &key, compare_tags, &at))
        return NULL;
    const Attr *a = &g_array_index(j->attrs, Attr, at);
    const char *v = j->text->str + a->text;
    return a->n_values > 0 && v[0] != '\0' ? v : NULL;
}

/* Preamble, "DICM" and the File Meta Information (PS3.10 7.1), always
 * Explicit VR Little Endian, its group length filled in last. */
static void write_meta(DfsDicomJson *j, const char *ts, GString *out)
{
    static const guint8 version[2] = {0x00, 0x01};
    Writer w = {out, FALSE, FALSE};
    g_string_set_size(out, PREAMBLE_LEN);
    memset(out->str, 0, PREAMBLE_LEN);
    g_string_append(out, "DICM");
    g_string_assign(j->value, "....");
    put_element(&w, DFS_TAG_FILE_META_INFORMATION_GROUP_LENGTH, DFS_VR_UL, j->value, 0, NULL);
    gsize length_at = out->len - 4, start = out->len;
    g_string_truncate(j->value, 0);
    g_string_append_len(j->value, (const char *)version, 2);
    put_element(&w, DFS_TAG_FILE_META_INFORMATION_VERSION, DFS_VR_OB, j->value, 0, NULL);
    const char *sop_class = first_value(j, DFS_TAG_SOP_CLASS_UID);
    const char *sop_instance = first_value(j, DFS_TAG_SOP_INSTANCE_UID);
    if (sop_class != NULL)
        put_text(&w, j->value, DFS_TAG_MEDIA_STORAGE_SOP_CLASS_UID, DFS_VR_UI, sop_class);
    if (sop_instance != NULL)
        put_text(&w, j->value, DFS_TAG_MEDIA_STORAGE_SOP_INSTANCE_UID, DFS_VR_UI, sop_instance);
    put_text(&w, j->value, DFS_TAG_TRANSFER_SYNTAX_UID, DFS_VR_UI, ts);
    guint32 length = (guint32)(out->len - start);
    for (guint k = 0; k < 4; k++)
        out->str[length_at + k] = (char)(length >> (8 * k) & 0xFF);
}

/* Replace out's bytes from start on by their raw deflate (RFC 1951), padded
 * to even length (PS3.5 A.5). */
static gboolean deflate_from(GString *out, gsize start, GError **error)
{
    gsize n = out->len - start;
    if (n > G_MAXUINT32) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_LIMIT, "data set too large to deflate");
        return FALSE;
    }
    z_stream z = {0};
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "cannot start zlib");
        return FALSE;
    }
    gsize bound = deflateBound(&z, (uLong)n);
    g_autofree guint8 *buf = g_malloc(bound);
    z.next_in = (Bytef *)out->str + start;
    z.avail_in = (uInt)n;
    z.next_out = buf;
    z.avail_out = (uInt)bound;
    int r = deflate(&z, Z_FINISH);
    gsize deflated = z.total_out;
    deflateEnd(&z);
    if (r != Z_STREAM_END) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "cannot deflate the data set (zlib %d)", r);
        return FALSE;
    }
    g_string_truncate(out, start);
    g_string_append_len(out, (const char *)buf, (gssize)deflated);
    if (deflated & 1)
        g_string_append_c(out, '\0');
    return TRUE;
}

gboolean dfs_dicomjson_encode(DfsDicomJson *j, const char *transfer_syntax, GString *out,
                              GError **error)
{
    const char *ts = transfer_syntax != NULL ? transfer_syntax : UID_EXPLICIT_LE;
    if (strlen(ts) > UI_MAX_CHARS) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_MALFORMED, "transfer syntax \"%.*s\" is no UID",
                    quoted(ts), ts);
        return FALSE;
    }
    gboolean deflated = strcmp(ts, UID_DEFLATED_LE) == 0 || strcmp(ts, UID_JPIP_DEFLATE) == 0;
    Writer w = {out, strcmp(ts, UID_IMPLICIT_LE) == 0, strcmp(ts, UID_EXPLICIT_BE) == 0};
    g_array_sort(j->attrs, compare_tags);
    write_meta(j, ts, out);
    gsize start = out->len;
    if (!write_data_set(j, &w, error))
        return FALSE;
    return !deflated || deflate_from(out, start, error);
}
