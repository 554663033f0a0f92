/* dicomfs core: frames for display.  See display.h. */
#include "pixels/display.h"

#include <math.h>
#include <string.h>

#include "base/error.h"
#include "dicom/tags.h"
#include "dicom/value.h"

/* Decoded sample k of a frame as a number. */
static double sample_at(const DfsImage *img, const guint8 *frame, gsize k)
{
    guint sb = dfs_image_sample_bytes(img);
    const guint8 *p = frame + k * sb;
    guint64 u = 0;
    for (guint b = 0; b < sb; b++)
        u |= (guint64)p[b] << (8 * b);
    if (img->is_float) {
        if (sb == 4) {
            guint32 u32 = (guint32)u;
            float f;
            memcpy(&f, &u32, 4);
            return f;
        }
        double d;
        memcpy(&d, &u, 8);
        return d;
    }
    if (img->is_signed && sb < 8 && (u >> (8 * sb - 1)) & 1)
        return (double)(gint64)(u | ~((G_GUINT64_CONSTANT(1) << (8 * sb)) - 1));
    return img->is_signed ? (double)(gint64)u : (double)u;
}

/* A LUT (PS3.3 C.11.1.1): descriptor [entries, first value, bits], data. */
typedef struct {
    guint entries;
    double first;
    guint bits;
    guint index; /* LUT Data element */
    const DfsDataset *ds;
} Lut;

static gboolean lut_in(const DfsDataset *ds, guint item, Lut *l)
{
    guint d = dfs_dataset_find(ds, item, DFS_TAG_LUT_DESCRIPTOR);
    guint data = dfs_dataset_find(ds, item, DFS_TAG_LUT_DATA);
    guint64 n, bits;
    gint64 first;
    if (d == DFS_NO_INDEX || data == DFS_NO_INDEX || !dfs_value_binary_uint(ds, d, 0, &n) ||
        !dfs_value_binary_int(ds, d, 1, &first) || !dfs_value_binary_uint(ds, d, 2, &bits))
        return FALSE;
    /* An entry count of 0 means 65536 (C.11.1.1.1). */
    l->entries = n == 0 ? 65536 : (guint)n;
    l->first = (double)first;
    l->bits = bits >= 1 && bits <= 16 ? (guint)bits : 16;
    l->index = data;
    l->ds = ds;
    return dfs_value_count(ds, data) >= l->entries || dfs_dataset_element(ds, data)->length / 2 >= l->entries;
}

static double lut_apply(const Lut *l, double v)
{
    double i = v - l->first;
    /* !(i > 0): NaN (float pixel data) takes the first entry too */
    guint k = !(i > 0) ? 0 : i >= l->entries - 1 ? l->entries - 1 : (guint)i;
    guint64 out = 0;
    const DfsElement *e = dfs_dataset_element(l->ds, l->index);
    if (e->vr == DFS_VR_OB || l->bits <= 8) {
        gsize len;
        const guint8 *b = dfs_dataset_value(l->ds, l->index, &len);
        if (e->vr == DFS_VR_OB && b && k < len)
            return b[k];
    }
    dfs_value_binary_uint(l->ds, l->index, k, &out);
    return (double)out;
}

/* The first item of sequence tag with a usable LUT. */
static gboolean lut_from_sequence(const DfsDataset *ds, guint32 tag, Lut *l)
{
    guint sq = dfs_dataset_find(ds, DFS_ROOT, tag);
    if (sq == DFS_NO_INDEX || dfs_dataset_element(ds, sq)->end == sq + 1)
        return FALSE;
    return lut_in(ds, sq + 1, l);
}

typedef enum { VOI_LINEAR, VOI_LINEAR_EXACT, VOI_SIGMOID, VOI_LUT, VOI_MINMAX } VoiKind;

typedef struct {
    gboolean have_modality_lut;
    Lut modality;
    double slope, intercept;
    VoiKind kind;
    double center, width;
    Lut voi;
    double lo, hi; /* min-max */
} GrayPipeline;

static double modality(const GrayPipeline *g, double v)
{
    return g->have_modality_lut ? lut_apply(&g->modality, v) : v * g->slope + g->intercept;
}

/* PS3.3 C.11.2.1.2: the three VOI LUT Functions, to [0, 255]. */
static double voi(const GrayPipeline *g, double x)
{
    double c = g->center, w = g->width;
    switch (g->kind) {
    case VOI_LINEAR:
        if (x <= c - 0.5 - (w - 1) / 2)
            return 0;
        if (x > c - 0.5 + (w - 1) / 2)
            return 255;
        return ((x - (c - 0.5)) / (w - 1) + 0.5) * 255;
    case VOI_LINEAR_EXACT:
        if (x <= c - w / 2)
            return 0;
        if (x > c + w / 2)
            return 255;
        return ((x - c) / w + 0.5) * 255;
    case VOI_SIGMOID:
        return 255 / (1 + exp(-4 * (x - c) / w));
    case VOI_LUT:
        return lut_apply(&g->voi, x) * 255 / ((1u << g->voi.bits) - 1);
    default:
        return g->hi > g->lo ? (x - g->lo) * 255 / (g->hi - g->lo) : 0;
    }
}

static void choose_voi(const DfsDataset *ds, GrayPipeline *g)
{
    g_autofree char *fn = dfs_dataset_get_string(ds, DFS_ROOT, DFS_TAG_VOILUT_FUNCTION);
    double c, w;
    if (dfs_dataset_get_double(ds, DFS_ROOT, DFS_TAG_WINDOW_CENTER, 0, &c) &&
        dfs_dataset_get_double(ds, DFS_ROOT, DFS_TAG_WINDOW_WIDTH, 0, &w) && w > 0) {
        g->center = c;
        g->width = w;
        g->kind = g_strcmp0(fn, "SIGMOID") == 0        ? VOI_SIGMOID
                  : g_strcmp0(fn, "LINEAR_EXACT") == 0 ? VOI_LINEAR_EXACT
                                                       : VOI_LINEAR;
        if (g->kind == VOI_LINEAR && w < 1)
            g->kind = VOI_LINEAR_EXACT; /* LINEAR needs width >= 1 */
    } else if (lut_from_sequence(ds, DFS_TAG_VOILUT_SEQUENCE, &g->voi)) {
        g->kind = VOI_LUT;
    } else {
        g->kind = VOI_MINMAX;
    }
}

/* Integer samples of 1, 2 or 4 bytes as keys: the sample's bits, with the
 * sign bit flipped when signed, so that keys sort as values do and a value
 * is its key less `bias`. */
typedef struct {
    const guint8 *frame;
    gsize count; /* samples */
    guint sb;
    guint32 flip;
    gint64 bias;
    guint32 min, span; /* the least key, and max - min + 1 */
} Keys;

/* Key k of a frame of sb-byte samples (sb a constant where inlined). */
static G_ALWAYS_INLINE inline guint32 key_at(const guint8 *frame, gsize k, guint sb, guint32 flip)
{
    const guint8 *p = frame + k * sb;
    guint32 u = sb == 1   ? p[0]
                : sb == 2 ? (guint32)(p[0] | p[1] << 8)
                          : (guint32)p[0] | (guint32)p[1] << 8 | (guint32)p[2] << 16 |
                                (guint32)p[3] << 24;
    return u ^ flip;
}

/* The passes over the keys, one loop per sample width: the range, which
 * keys occur (seen[key - min] = 1), and the mapping out[k] = table[key -
 * min], or three bytes each for RGB out of one sample. */
typedef enum { PASS_RANGE, PASS_SEEN, PASS_MAP, PASS_MAP_RGB } Pass;

static G_ALWAYS_INLINE inline void keys_pass_sb(Keys *ks, guint sb, Pass pass, const guint8 *table,
                                                guint8 *out)
{
    const guint8 *frame = ks->frame;
    guint32 flip = ks->flip, min = ks->min;
    gsize n = ks->count;
    if (pass == PASS_RANGE) {
        guint32 lo = G_MAXUINT32, hi = 0;
        for (gsize k = 0; k < n; k++) {
            guint32 u = key_at(frame, k, sb, flip);
            lo = MIN(lo, u);
            hi = MAX(hi, u);
        }
        ks->min = lo;
        ks->span = hi - lo + 1; /* 0 when it does not fit */
        if (hi - lo >= 65536)
            ks->span = 0;
    } else if (pass == PASS_SEEN) {
        for (gsize k = 0; k < n; k++)
            out[key_at(frame, k, sb, flip) - min] = 1;
    } else if (pass == PASS_MAP) {
        for (gsize k = 0; k < n; k++)
            out[k] = table[key_at(frame, k, sb, flip) - min];
    } else {
        for (gsize k = 0; k < n; k++)
            memcpy(out + 3 * k, table + 3 * (gsize)(key_at(frame, k, sb, flip) - min), 3);
    }
}

static void keys_pass(Keys *ks, Pass pass, const guint8 *table, guint8 *out)
{
    if (ks->sb == 1)
        keys_pass_sb(ks, 1, pass, table, out);
    else if (ks->sb == 2)
        keys_pass_sb(ks, 2, pass, table, out);
    else
        keys_pass_sb(ks, 4, pass, table, out);
}

/* Keys for a frame whose integer values span at most 2^16 (all of 1 and 2
 * byte samples; 4 byte ones when their range is that narrow), so that the
 * display pipeline can run once per value into a table of that span
 * rather than once per sample; the table gives the very bytes the per-
 * sample pipeline gives, as each entry goes through the same arithmetic. */
static gboolean keys_of(const DfsImage *img, const guint8 *frame, gsize count, Keys *ks)
{
    guint sb = dfs_image_sample_bytes(img);
    if (img->is_float || sb > 4 || count == 0)
        return FALSE;
    *ks = (Keys){frame, count, sb, 0, 0, 0, 0};
    if (img->is_signed) {
        ks->flip = 1u << (8 * sb - 1);
        ks->bias = ks->flip;
    }
    if (sb <= 2) { /* every key of the width: no pass needed */
        ks->span = 1u << (8 * sb);
        return TRUE;
    }
    keys_pass(ks, PASS_RANGE, NULL, NULL);
    return ks->span > 0;
}

static double key_value(const Keys *ks, guint i)
{
    return (double)((gint64)(ks->min + i) - ks->bias);
}

/* Which keys occur, where the table is wider than 256 entries or than the
 * frame (else NULL: every entry is made): 1 at their offset from the least. */
static guint8 *keys_seen(Keys *ks, gboolean always)
{
    if (!always && ks->span <= 256 && ks->span <= ks->count)
        return NULL;
    guint8 *seen = g_malloc0(ks->span);
    keys_pass(ks, PASS_SEEN, NULL, seen);
    return seen;
}

/* The first offset from *i whose key occurs (any, when seen is NULL):
 * FALSE past the last. */
static gboolean keys_next(const Keys *ks, const guint8 *seen, guint *i)
{
    while (seen != NULL && *i < ks->span && seen[*i] == 0) {
        guint64 word = 1;
        if (*i % 8 == 0 && *i + 8 <= ks->span)
            memcpy(&word, seen + *i, 8);
        *i += word == 0 ? 8 : 1;
    }
    return *i < ks->span;
}

/* The last steps for one modality value: VOI, rounding, MONOCHROME1. */
static guint8 gray_byte(const GrayPipeline *g, double m, gboolean invert)
{
    double y = isfinite(m) ? voi(g, m) : 0;
    guint8 v = (guint8)CLAMP(lround(y), 0, 255);
    return invert ? 255 - v : v;
}

/* Through a table of the values present. */
static void render_gray_table(GrayPipeline *g, Keys *ks, gboolean invert, guint8 *out)
{
    g_autofree guint8 *seen = keys_seen(ks, g->kind == VOI_MINMAX);
    g_autofree guint8 *table = g_malloc0(ks->span);
    g->lo = G_MAXDOUBLE, g->hi = -G_MAXDOUBLE;
    if (g->kind == VOI_MINMAX)
        for (guint i = 0; keys_next(ks, seen, &i); i++) {
            double m = modality(g, key_value(ks, i));
            if (isfinite(m)) {
                g->lo = MIN(g->lo, m);
                g->hi = MAX(g->hi, m);
            }
        }
    for (guint i = 0; keys_next(ks, seen, &i); i++)
        table[i] = gray_byte(g, modality(g, key_value(ks, i)), invert);
    keys_pass(ks, PASS_MAP, table, out);
}

static void render_gray(const DfsDataset *ds, const DfsImage *img, const guint8 *frame,
                        DfsDisplay *out)
{
    GrayPipeline g = {.slope = 1, .intercept = 0};
    g.have_modality_lut = lut_from_sequence(ds, DFS_TAG_MODALITY_LUT_SEQUENCE, &g.modality);
    if (!dfs_dataset_get_double(ds, DFS_ROOT, DFS_TAG_RESCALE_SLOPE, 0, &g.slope) || g.slope == 0)
        g.slope = 1;
    dfs_dataset_get_double(ds, DFS_ROOT, DFS_TAG_RESCALE_INTERCEPT, 0, &g.intercept);
    choose_voi(ds, &g);
    gsize n = (gsize)img->rows * img->columns;
    gboolean invert = g_str_equal(img->decoded_photometric, "MONOCHROME1");
    Keys ks;
    if (keys_of(img, frame, n, &ks)) {
        render_gray_table(&g, &ks, invert, out->pixels);
        return;
    }
    /* Floating point, or integers too far apart: sample by sample. */
    g_autofree double *m = g_new(double, n);
    g.lo = G_MAXDOUBLE, g.hi = -G_MAXDOUBLE;
    for (gsize k = 0; k < n; k++) {
        m[k] = modality(&g, sample_at(img, frame, k));
        if (isfinite(m[k])) {
            g.lo = MIN(g.lo, m[k]);
            g.hi = MAX(g.hi, m[k]);
        }
    }
    for (gsize k = 0; k < n; k++)
        out->pixels[k] = gray_byte(&g, m[k], invert);
}

/* YCbCr (full range) to RGB, PS3.3 C.7.6.3.1.2. */
static void ybr_to_rgb(double y, double cb, double cr, double max, double rgb[3])
{
    double half = (max + 1) / 2;
    rgb[0] = y + 1.402 * (cr - half);
    rgb[1] = y - 0.344136 * (cb - half) - 0.714136 * (cr - half);
    rgb[2] = y + 1.772 * (cb - half);
}

/* A sample of maximum max to 8 bits. */
static guint8 color_byte(double c, double max)
{
    return (guint8)CLAMP(lround(c * 255 / max), 0, 255);
}

static void render_color(const DfsImage *img, const guint8 *frame, DfsDisplay *out)
{
    gsize n = (gsize)img->rows * img->columns;
    double max = img->is_float ? 1 : (double)((G_GUINT64_CONSTANT(1) << img->bits_stored) - 1);
    gboolean ybr = g_str_has_prefix(img->decoded_photometric, "YBR_FULL");
    Keys ks;
    if (!ybr && img->samples == 3 && keys_of(img, frame, n * 3, &ks)) {
        /* RGB: every sample scaled alike, through a table. */
        g_autofree guint8 *seen = keys_seen(&ks, FALSE);
        g_autofree guint8 *table = g_malloc0(ks.span);
        for (guint i = 0; keys_next(&ks, seen, &i); i++)
            table[i] = color_byte(key_value(&ks, i), max);
        keys_pass(&ks, PASS_MAP, table, out->pixels);
        return;
    }
    for (gsize k = 0; k < n; k++) {
        double c[3];
        for (guint s = 0; s < 3; s++)
            c[s] = sample_at(img, frame, k * img->samples + s);
        if (ybr)
            ybr_to_rgb(c[0], c[1], c[2], max, c);
        for (guint s = 0; s < 3; s++)
            out->pixels[k * 3 + s] = color_byte(c[s], max);
    }
}

/* Segmented LUT Data (PS3.3 C.7.9.2): segments of 16-bit words, each an
 * opcode, a length and data: 0 discrete (length values), 1 linear (to one
 * value over length entries), 2 indirect (copy length segments found at a
 * byte offset, given as two words, low first).  Indirect segments may not
 * nest here past one level, so hostile data cannot loop. */
typedef struct {
    const DfsDataset *ds;
    guint seg, words;
    guint16 *lut;
    guint entries, out;
    double last;
} Segments;

static guint word(const Segments *s, guint k)
{
    guint64 v = 0;
    dfs_value_binary_uint(s->ds, s->seg, k, &v);
    return (guint)v;
}

/* Expand up to `count` segments from word k; FALSE on malformed data. */
static gboolean expand_segments(Segments *s, guint k, guint count, guint depth)
{
    for (guint n = 0; n < count && k + 1 < s->words && s->out < s->entries; n++) {
        guint op = word(s, k), len = word(s, k + 1);
        if (op == 0) {
            for (guint j = 0; j < len && s->out < s->entries && k + 2 + j < s->words; j++)
                s->last = s->lut[s->out++] = (guint16)word(s, k + 2 + j);
            k += 2 + len;
        } else if (op == 1 && k + 2 < s->words) {
            double y1 = word(s, k + 2);
            for (guint j = 1; j <= len && s->out < s->entries; j++)
                s->lut[s->out++] = (guint16)lround(s->last + (y1 - s->last) * j / len);
            s->last = y1;
            k += 3;
        } else if (op == 2 && depth == 0 && k + 3 < s->words) {
            guint offset = word(s, k + 2) | word(s, k + 3) << 16;
            if (offset % 2 || !expand_segments(s, offset / 2, len, depth + 1))
                return FALSE;
            k += 4;
        } else {
            return FALSE;
        }
    }
    return TRUE;
}

static guint16 *segments_expand(const DfsDataset *ds, guint seg, guint entries)
{
    Segments s = {ds, seg, dfs_value_count(ds, seg), g_new0(guint16, entries), entries, 0, 0};
    if (!expand_segments(&s, 0, G_MAXUINT, 0)) {
        g_free(s.lut);
        return NULL;
    }
    return s.lut;
}

static guint16 *palette_channel(const DfsDataset *ds, guint c, guint *entries, gint64 *first,
                                guint *bits)
{
    static const guint32 desc[3] = {DFS_TAG_RED_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
                                    DFS_TAG_GREEN_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
                                    DFS_TAG_BLUE_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR};
    static const guint32 data[3] = {DFS_TAG_RED_PALETTE_COLOR_LOOKUP_TABLE_DATA,
                                    DFS_TAG_GREEN_PALETTE_COLOR_LOOKUP_TABLE_DATA,
                                    DFS_TAG_BLUE_PALETTE_COLOR_LOOKUP_TABLE_DATA};
    static const guint32 seg[3] = {DFS_TAG_SEGMENTED_RED_PALETTE_COLOR_LOOKUP_TABLE_DATA,
                                   DFS_TAG_SEGMENTED_GREEN_PALETTE_COLOR_LOOKUP_TABLE_DATA,
                                   DFS_TAG_SEGMENTED_BLUE_PALETTE_COLOR_LOOKUP_TABLE_DATA};
    guint d = dfs_dataset_find(ds, DFS_ROOT, desc[c]);
    guint64 n, b;
    if (d == DFS_NO_INDEX || !dfs_value_binary_uint(ds, d, 0, &n) ||
        !dfs_value_binary_int(ds, d, 1, first) || !dfs_value_binary_uint(ds, d, 2, &b))
        return NULL;
    if (n > 65535) /* US: at most 65535 entries, and 0 means 2^16 (C.7.6.3.1.5) */
        return NULL;
    *entries = n == 0 ? 65536 : (guint)n;
    *first = (guint16)*first;
    *bits = b == 8 ? 8 : 16;
    guint di = dfs_dataset_find(ds, DFS_ROOT, data[c]);
    if (di == DFS_NO_INDEX) {
        guint si = dfs_dataset_find(ds, DFS_ROOT, seg[c]);
        return si == DFS_NO_INDEX ? NULL : segments_expand(ds, si, *entries);
    }
    guint16 *lut = g_new0(guint16, *entries);
    gsize len;
    const guint8 *bytes = dfs_dataset_value(ds, di, &len);
    /* 8-bit entries may be packed two per word in an OW value. */
    gboolean packed = *bits == 8 && bytes != NULL && len == *entries + (*entries & 1);
    for (guint k = 0; k < *entries; k++) {
        guint64 v = 0;
        if (packed)
            v = bytes[k];
        else
            dfs_value_binary_uint(ds, di, k, &v);
        lut[k] = (guint16)v;
    }
    return lut;
}

typedef struct {
    guint16 *lut[3];
    guint entries[3], bits[3];
    gint64 first[3];
} Palette;

static void palette_rgb(const Palette *p, double sample, guint8 rgb[3])
{
    for (guint c = 0; c < 3; c++) {
        double i = sample - (double)p->first[c];
        guint idx = !(i > 0) ? 0 : i >= p->entries[c] - 1 ? p->entries[c] - 1 : (guint)i;
        guint v = p->lut[c][idx];
        rgb[c] = (guint8)(p->bits[c] == 8 ? v : v >> 8);
    }
}

static gboolean render_palette(const DfsDataset *ds, const DfsImage *img, const guint8 *frame,
                               DfsDisplay *out, GError **error)
{
    Palette p = {0};
    gboolean ok = TRUE;
    for (guint c = 0; c < 3; c++)
        ok = ok && (p.lut[c] = palette_channel(ds, c, &p.entries[c], &p.first[c], &p.bits[c])) != NULL;
    gsize n = (gsize)img->rows * img->columns;
    Keys ks;
    if (ok && keys_of(img, frame, n, &ks)) {
        /* Through a table of three bytes per value. */
        g_autofree guint8 *seen = keys_seen(&ks, FALSE);
        g_autofree guint8 *table = g_malloc0((gsize)ks.span * 3);
        for (guint i = 0; keys_next(&ks, seen, &i); i++)
            palette_rgb(&p, key_value(&ks, i), table + (gsize)i * 3);
        keys_pass(&ks, PASS_MAP_RGB, table, out->pixels);
    } else {
        for (gsize k = 0; ok && k < n; k++)
            palette_rgb(&p, sample_at(img, frame, k), out->pixels + k * 3);
    }
    for (guint c = 0; c < 3; c++)
        g_free(p.lut[c]);
    if (!ok)
        g_set_error_literal(error, DFS_ERROR, DFS_ERROR_MALFORMED,
                            "PALETTE COLOR without usable lookup tables");
    return ok;
}

gboolean dfs_display_render(const DfsDataset *ds, const DfsImage *img, const guint8 *frame,
                            DfsDisplay *out, GError **error)
{
    gboolean palette = g_str_equal(img->decoded_photometric, "PALETTE COLOR");
    out->width = img->columns;
    out->height = img->rows;
    out->channels = img->samples == 1 && !palette ? 1 : 3;
    out->pixels = g_malloc((gsize)out->width * out->height * out->channels);
    if (palette)
        return render_palette(ds, img, frame, out, error);
    if (img->samples == 1)
        render_gray(ds, img, frame, out);
    else
        render_color(img, frame, out);
    return TRUE;
}

void dfs_display_clear(DfsDisplay *d)
{
    g_clear_pointer(&d->pixels, g_free);
}
