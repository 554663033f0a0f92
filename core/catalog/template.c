/* dicomfs core: name templates.  See template.h. */
#include "catalog/template.h"

#include <stdarg.h>
#include <string.h>

#include "base/error.h"
#include "catalog/levels.h"
#include "catalog/names.h"
#include "dicom/dict.h"

typedef enum { PART_TEXT, PART_FIELD } PartKind;

typedef struct {
    PartKind kind;
    char *text;      /* PART_TEXT: the text; PART_FIELD: the keyword */
    DfsLevel level;  /* the attribute's level, where its column is */
    guint column;
    guint pad;       /* zero-pad integers to this many digits (0: none) */
    guint vr;        /* the attribute's (DfsVr) */
    char *format;    /* a date/time format, or NULL */
} Part;

struct _DfsTemplate {
    DfsLevel level;
    char *text;
    GArray *parts; /* Part */
};

static const char *const level_names[] = {"root", "patient", "study", "series", "instance"};

static void part_clear(gpointer p)
{
    Part *part = p;
    g_free(part->text);
    g_free(part->format);
}

void dfs_template_free(DfsTemplate *t)
{
    if (t == NULL)
        return;
    g_array_unref(t->parts);
    g_free(t->text);
    g_free(t);
}

/* The level an attribute belongs to: the highest whose tags/ shows it
 * (catalog/levels.h), else the instance. */
static DfsLevel level_of(guint32 tag)
{
    for (guint l = DFS_LEVEL_PATIENT; l < DFS_LEVEL_INSTANCE; l++)
        if (dfs_level_has_tag((DfsLevel)l, tag))
            return (DfsLevel)l;
    return DFS_LEVEL_INSTANCE;
}

static gboolean is_binary(guint vr)
{
    return vr == DFS_VR_OB || vr == DFS_VR_OW || vr == DFS_VR_OF || vr == DFS_VR_OD ||
           vr == DFS_VR_OL || vr == DFS_VR_OV || vr == DFS_VR_UN;
}

static gboolean is_temporal(guint vr)
{
    return vr == DFS_VR_DA || vr == DFS_VR_TM || vr == DFS_VR_DT;
}

static gboolean fail(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static gboolean fail(GError **error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *m = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error_literal(error, DFS_ERROR, DFS_ERROR_MALFORMED, m);
    return FALSE;
}

/* One {field} (spec: what is between the braces). */
static gboolean parse_field(DfsTemplate *t, const char *spec, Part *out, GError **error)
{
    const char *colon = strchr(spec, ':');
    g_autofree char *keyword = colon ? g_strndup(spec, (gsize)(colon - spec)) : g_strdup(spec);
    if (keyword[0] == '\0')
        return fail(error, "an empty field {%s}", spec);
    const DfsDictEntry *d = dfs_dict_lookup_keyword(keyword);
    if (d == NULL)
        return fail(error, "unknown keyword %s (keywords are the DICOM dictionary's, as in "
                           "tags/: PatientID, StudyDate ...)", keyword);
    if (d->vr == DFS_VR_SQ)
        return fail(error, "%s is a sequence, which has no one value to name a folder by",
                    keyword);
    if (is_binary(d->vr))
        return fail(error, "%s is a binary value, which cannot name a folder", keyword);
    DfsLevel level = level_of(d->tag);
    if (level > t->level) {
        return fail(error, "%s is an attribute of the %s level; a %s template shows those of its level and the levels above it",
                    keyword, level_names[level], level_names[t->level]);
    }
    out->kind = PART_FIELD;
    out->level = level;
    out->vr = d->vr;
    if (colon != NULL) {
        const char *f = colon + 1;
        if (strchr(f, '%') != NULL) {
            if (!is_temporal(d->vr))
                return fail(error, "a date or time format for %s, which is not a date or time",
                            keyword);
            out->format = g_strdup(f);
        } else {
            char *end;
            guint64 n = g_ascii_strtoull(f, &end, 10);
            if (f[0] == '\0' || *end != '\0' || n > 64)
                return fail(error, "a format that is neither 0N (zero padding) nor a date "
                                   "format with %%: {%s}", spec);
            out->pad = (guint)n;
        }
    }
    gint column = dfs_facts_add_column(level, d->tag, d->keyword);
    if (column < 0)
        return fail(error, "too many fields at the level of %s", keyword);
    out->column = (guint)column;
    out->text = g_strdup(d->keyword);
    return TRUE;
}

static void add_text(DfsTemplate *t, GString *text)
{
    if (text->len == 0)
        return;
    Part p = {.kind = PART_TEXT, .text = g_strdup(text->str)};
    g_array_append_val(t->parts, p);
    g_string_truncate(text, 0);
}

DfsTemplate *dfs_template_new(DfsLevel level, const char *text, GError **error)
{
    g_return_val_if_fail(level >= DFS_LEVEL_PATIENT && level <= DFS_LEVEL_INSTANCE, NULL);
    DfsTemplate *t = g_new0(DfsTemplate, 1);
    t->level = level;
    t->text = g_strdup(text);
    t->parts = g_array_new(FALSE, TRUE, sizeof(Part));
    g_array_set_clear_func(t->parts, part_clear);
    g_autoptr(GString) lit = g_string_new(NULL);
    if (text == NULL || text[0] == '\0') {
        fail(error, "an empty template");
        return dfs_template_free(t), NULL;
    }
    for (const char *p = text; *p;) {
        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
            g_string_append_c(lit, p[0]);
            p += 2;
        } else if (p[0] == '}') {
            fail(error, "a '}' with no '{' before it (write }} for a brace)");
            return dfs_template_free(t), NULL;
        } else if (p[0] == '{') {
            const char *close = strchr(p + 1, '}');
            const char *open = strchr(p + 1, '{');
            if (close == NULL || (open != NULL && open < close)) {
                fail(error, "a '{' that is not closed by '}' (write {{ for a brace)");
                return dfs_template_free(t), NULL;
            }
            g_autofree char *spec = g_strndup(p + 1, (gsize)(close - p - 1));
            Part field = {0};
            if (!parse_field(t, spec, &field, error)) {
                part_clear(&field);
                return dfs_template_free(t), NULL;
            }
            add_text(t, lit);
            g_array_append_val(t->parts, field);
            p = close + 1;
        } else {
            g_string_append_c(lit, *p++);
        }
    }
    add_text(t, lit);
    return t;
}

/* --- the templates in use ------------------------------------------------------ */

static DfsTemplate *in_use[DFS_LEVEL_INSTANCE + 1];

void dfs_templates_set(DfsLevel level, DfsTemplate *t)
{
    g_return_if_fail(level >= DFS_LEVEL_PATIENT && level <= DFS_LEVEL_INSTANCE);
    dfs_template_free(in_use[level]);
    in_use[level] = t;
}

char *dfs_templates_signature(void)
{
    GString *s = g_string_new(NULL);
    for (guint l = DFS_LEVEL_PATIENT; l <= DFS_LEVEL_INSTANCE; l++)
        if (in_use[l] != NULL)
            g_string_append_printf(s, "%s%s=%s", s->len ? "\x1f" : "", level_names[l],
                                   in_use[l]->text);
    return g_string_free(s, FALSE);
}

const DfsTemplate *dfs_templates_get(DfsLevel level)
{
    return level >= DFS_LEVEL_PATIENT && level <= DFS_LEVEL_INSTANCE ? in_use[level] : NULL;
}

/* --- names ---------------------------------------------------------------------- */

/* Up to 8 digits from *p (advanced), as a number; -1 where there are fewer
 * than n. */
static gint digits(const char **p, guint n)
{
    gint v = 0;
    for (guint k = 0; k < n; k++) {
        if (!g_ascii_isdigit((*p)[k]))
            return -1;
        v = v * 10 + ((*p)[k] - '0');
    }
    *p += n;
    return v;
}

/* Two-digit (four for the year) parts from *p while there are digits:
 * out[from..to), advancing *p; ':' between time parts is skipped. */
static void take_parts(const char **p, gint out[6], guint from, guint to)
{
    for (guint k = from; k < to && g_ascii_isdigit(**p); k++) {
        gint v = digits(p, k == 0 ? 4 : 2);
        if (v < 0)
            return;
        out[k] = v;
        if (k >= 3 && **p == ':')
            (*p)++;
    }
}

/* A DA (YYYYMMDD, or YYYY.MM.DD), TM (HH[MM[SS[.F]]], or HH:MM:SS) or DT
 * (YYYY[MM[DD[HH[MM[SS[.F]]]]]][&ZZXX]) value's parts Y m d H M S, -1
 * where absent.  FALSE where it does not read as one. */
static gboolean split_time(const char *v, guint vr, gint out[6])
{
    for (int k = 0; k < 6; k++)
        out[k] = -1;
    const char *p = v;
    if (vr == DFS_VR_DA) {
        guint d;
        if (!dfs_name_date(v, &d))
            return FALSE;
        out[0] = (gint)(d / 10000), out[1] = (gint)(d / 100 % 100), out[2] = (gint)(d % 100);
        return TRUE;
    }
    if (vr == DFS_VR_TM) {
        take_parts(&p, out, 3, 6);
        return out[3] >= 0 && (*p == '\0' || *p == '.');
    }
    take_parts(&p, out, 0, 6);
    return out[0] >= 0 && (*p == '\0' || *p == '.' || *p == '+' || *p == '-');
}

static void append_formatted(GString *out, const char *value, guint vr, const char *format)
{
    gint t[6];
    if (!split_time(value, vr, t)) {
        g_string_append(out, value);
        return;
    }
    for (const char *f = format; *f; f++) {
        if (f[0] != '%' || f[1] == '\0') {
            g_string_append_c(out, *f);
            continue;
        }
        f++;
        const char *conv = "YmdHMS";
        const char *at = strchr(conv, *f);
        if (*f == '%')
            g_string_append_c(out, '%');
        else if (at == NULL)
            g_string_append_c(out, '%'), g_string_append_c(out, *f);
        else {
            gint v = t[at - conv];
            g_string_append_printf(out, at == conv ? "%04d" : "%02d", v < 0 ? 0 : v);
        }
    }
}

static void append_padded(GString *out, const char *value, guint pad)
{
    char *end;
    const char *v = value;
    while (*v == ' ')
        v++;
    gint64 n = g_ascii_strtoll(v, &end, 10);
    while (*end == ' ')
        end++;
    if (v[0] == '\0' || *end != '\0' || !(g_ascii_isdigit(v[0]) || v[0] == '-' || v[0] == '+')) {
        g_string_append(out, value);
        return;
    }
    g_string_append_printf(out, "%0*" G_GINT64_FORMAT, (int)pad, n);
}

char *dfs_template_expand(const DfsTemplate *t, DfsTemplateValue value, gpointer user)
{
    g_autoptr(GString) s = g_string_new(NULL);
    for (guint k = 0; k < t->parts->len; k++) {
        const Part *p = &g_array_index(t->parts, Part, k);
        if (p->kind == PART_TEXT) {
            g_string_append(s, p->text);
            continue;
        }
        const char *v = value(p->level, p->column, user);
        if (v == NULL || v[0] == '\0')
            g_string_append_printf(s, "(no %s)", p->text);
        else if (p->format != NULL)
            append_formatted(s, v, p->vr, p->format);
        else if (p->pad > 0)
            append_padded(s, v, p->pad);
        else
            g_string_append(s, v);
    }
    return dfs_name_sanitize(s->str, DFS_NAME_MAX - 10, DFS_NAME_NO_NAME);
}
