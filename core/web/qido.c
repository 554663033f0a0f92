/* dicomfs core: QIDO-RS results, streamed and paged.  See qido.h.
 *
 * yajl's callbacks drive a small state machine (Where) over the shapes
 * PS3.18 F.2 allows: [ { "GGGGEEEE": { "vr": .., "Value": [..],
 * "BulkDataURI": .., "InlineBinary": .. }, .. }, .. ].  A value the row does
 * not keep (an unknown key's, an item's attributes) is skipped by counting
 * its nesting.  The input is fed to yajl in slices so that the bytes a row
 * has taken are known to within a slice, which is how a token yajl would
 * buffer without end (a huge string) is cut short. */
#include "web/qido.h"

#include <string.h>
#include <yajl/yajl_parse.h>

#include "base/error.h"

#define SLICE 4096   /* input handed to yajl at a time, at most ... */
#define MIN_SLICE 64 /* ... and at least */

/* PS3.18 F.2.2: a person name's groups, in the order of PS3.5 6.2. */
static const char *const PN_GROUPS[] = {"Alphabetic", "Ideographic", "Phonetic"};
#define N_GROUPS 3

typedef enum {
    AT_TOP,         /* before the array */
    AT_ARRAY,       /* in the array: a row or its end */
    AT_ROW,         /* in a row: a tag or its end */
    AT_ATTR_START,  /* after a tag: its object */
    AT_ATTR,        /* in an attribute: a key or its end */
    AT_VR,          /* after "vr": a string */
    AT_BULK,        /* after "BulkDataURI": a string */
    AT_INLINE,      /* after "InlineBinary": a string */
    AT_VALUE_START, /* after "Value": an array */
    AT_VALUES,      /* in Value: a value or its end */
    AT_OBJECT,      /* in an object of Value: PN groups or an item's tags */
    AT_GROUP,       /* after a PN group's key: a string */
    AT_DONE,        /* after the array */
} Where;

struct _DfsQidoParser {
    DfsQidoRowFunc fn;
    gpointer user;
    gsize max_row_bytes;
    gsize slice; /* a sixteenth of max_row_bytes, within MIN_SLICE..SLICE */
    yajl_handle yajl;
    Where where;
    guint depth;      /* arrays and objects open */
    guint skip;       /* > 0: skipping a value, this many levels in, plus one */
    Where after_skip; /* where the skipped value leaves us */
    guint64 fed;      /* bytes given to yajl */
    guint64 slice_at; /* where the slice being parsed begins */
    guint64 mark;     /* the slice where the row (or the gap before it) began */
    gboolean seen_text, failed;
    GError *error; /* set by a callback */
    guint64 rows;

    /* The row being read. */
    GArray *attrs;      /* DfsQidoAttr */
    GPtrArray *values;  /* every value of the row, attribute after attribute */
    GStringChunk *text; /* their text, and URIs */
    guint first_value;  /* of the attribute being read */
    int group;          /* the PN group being read */
    char *groups[N_GROUPS];
    gboolean object_groups, object_tags; /* what the object in Value held */
};

/* --- rows --------------------------------------------------------------- */

const DfsQidoAttr *dfs_qido_row_find(const DfsQidoRow *row, guint32 tag)
{
    for (guint k = 0; k < row->n_attrs; k++)
        if (row->attrs[k].tag == tag)
            return &row->attrs[k];
    return NULL;
}

const char *dfs_qido_row_string(const DfsQidoRow *row, guint32 tag)
{
    const DfsQidoAttr *a = dfs_qido_row_find(row, tag);
    return a && a->n_values > 0 ? a->values[0] : NULL;
}

/* --- callbacks ---------------------------------------------------------------- */

G_GNUC_PRINTF(3, 4)
static int fail(DfsQidoParser *p, int code, const char *fmt, ...)
{
    if (p->error == NULL) {
        va_list ap;
        va_start(ap, fmt);
        g_autofree char *msg = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        p->error =
            g_error_new(DFS_ERROR, code, "DICOM JSON, row %" G_GUINT64_FORMAT ": %s", p->rows, msg);
    }
    return 0;
}

static DfsQidoAttr *current(DfsQidoParser *p)
{
    return &g_array_index(p->attrs, DfsQidoAttr, p->attrs->len - 1);
}

static void add_value(DfsQidoParser *p, const char *s, gsize len)
{
    g_ptr_array_add(p->values, g_string_chunk_insert_len(p->text, s, (gssize)len));
    current(p)->n_values++;
}

static void start_skip(DfsQidoParser *p, Where after)
{
    p->skip = 1;
    p->after_skip = after;
}

/* A scalar, or the end of an array or object, ended the skipped value. */
static void skip_step(DfsQidoParser *p, int nest)
{
    if (nest > 0) {
        p->skip++;
        return;
    }
    if (nest < 0)
        p->skip--;
    if (p->skip == 1) {
        p->skip = 0;
        p->where = p->after_skip;
    }
}

/* Every scalar (string, number, null, boolean) as text. */
static int on_scalar(DfsQidoParser *p, const char *s, gsize len, const char *kind)
{
    if (p->skip) {
        skip_step(p, 0);
        return 1;
    }
    switch (p->where) {
    case AT_VR:
        if (len != 2 || !g_ascii_isupper(s[0]) || !g_ascii_isupper(s[1]))
            return fail(p, DFS_ERROR_MALFORMED, "\"vr\" is not a VR");
        memcpy(current(p)->vr, s, 2);
        p->where = AT_ATTR;
        return 1;
    case AT_BULK:
        current(p)->bulk_data_uri = g_string_chunk_insert_len(p->text, s, (gssize)len);
        p->where = AT_ATTR;
        return 1;
    case AT_INLINE:
        current(p)->inline_binary = TRUE;
        p->where = AT_ATTR;
        return 1;
    case AT_VALUES:
        add_value(p, s, len);
        return 1;
    case AT_GROUP:
        g_free(p->groups[p->group]);
        p->groups[p->group] = g_strndup(s, len);
        p->where = AT_OBJECT;
        return 1;
    default:
        return fail(p, DFS_ERROR_MALFORMED, "unexpected %s", kind);
    }
}

static int on_null(void *ctx)
{
    return on_scalar(ctx, "", 0, "null");
}

static int on_boolean(void *ctx, int value)
{
    return value ? on_scalar(ctx, "true", 4, "true") : on_scalar(ctx, "false", 5, "false");
}

static int on_number(void *ctx, const char *s, size_t len)
{
    return on_scalar(ctx, s, len, "number");
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
    return on_scalar(ctx, (const char *)s, len, "string");
}

static gboolean parse_tag(const unsigned char *s, size_t len, guint32 *tag)
{
    if (len != 8)
        return FALSE;
    guint32 t = 0;
    for (size_t k = 0; k < 8; k++) {
        int d = g_ascii_xdigit_value((char)s[k]);
        if (d < 0)
            return FALSE;
        t = t << 4 | (guint32)d;
    }
    *tag = t;
    return TRUE;
}

static int key_in_attr(DfsQidoParser *p, const char *key, size_t len)
{
    static const struct {
        const char *key;
        Where next;
    } keys[] = {{"vr", AT_VR},
                {"Value", AT_VALUE_START},
                {"BulkDataURI", AT_BULK},
                {"InlineBinary", AT_INLINE}};
    for (guint k = 0; k < G_N_ELEMENTS(keys); k++) {
        if (strlen(keys[k].key) == len && memcmp(keys[k].key, key, len) == 0) {
            p->where = keys[k].next;
            return 1;
        }
    }
    start_skip(p, AT_ATTR); /* another key (F.2.3 has none): its value is read through */
    return 1;
}

static int key_in_object(DfsQidoParser *p, const unsigned char *key, size_t len)
{
    for (int g = 0; g < N_GROUPS; g++) {
        if (strlen(PN_GROUPS[g]) == len && memcmp(PN_GROUPS[g], key, len) == 0) {
            p->object_groups = TRUE;
            p->group = g;
            p->where = AT_GROUP;
            return 1;
        }
    }
    guint32 tag;
    if (!parse_tag(key, len, &tag))
        return fail(p, DFS_ERROR_MALFORMED, "a key in Value is neither a tag nor a PN group");
    p->object_tags = TRUE; /* an item's attribute: read through, not kept */
    start_skip(p, AT_OBJECT);
    return 1;
}

static int on_map_key(void *ctx, const unsigned char *key, size_t len)
{
    DfsQidoParser *p = ctx;
    if (p->skip)
        return 1;
    if (p->where == AT_ATTR)
        return key_in_attr(p, (const char *)key, len);
    if (p->where == AT_OBJECT)
        return key_in_object(p, key, len);
    if (p->where != AT_ROW)
        return fail(p, DFS_ERROR_MALFORMED, "unexpected key");
    DfsQidoAttr a = {0};
    if (!parse_tag(key, len, &a.tag))
        return fail(p, DFS_ERROR_MALFORMED, "a key is not a tag (GGGGEEEE)");
    g_array_append_val(p->attrs, a);
    p->first_value = p->values->len;
    p->where = AT_ATTR_START;
    return 1;
}

static gboolean nest(DfsQidoParser *p)
{
    if (p->depth >= DFS_QIDO_MAX_DEPTH)
        return fail(p, DFS_ERROR_LIMIT, "nested deeper than %d", DFS_QIDO_MAX_DEPTH);
    p->depth++;
    return TRUE;
}

static int on_start_map(void *ctx)
{
    DfsQidoParser *p = ctx;
    if (!nest(p))
        return 0;
    if (p->skip) {
        skip_step(p, 1);
        return 1;
    }
    switch (p->where) {
    case AT_ARRAY:
        p->mark = p->slice_at;
        p->where = AT_ROW;
        return 1;
    case AT_ATTR_START:
        p->where = AT_ATTR;
        return 1;
    case AT_VALUES:
        p->object_groups = p->object_tags = FALSE;
        p->where = AT_OBJECT;
        return 1;
    default:
        return fail(p, DFS_ERROR_MALFORMED, "unexpected object");
    }
}

/* A person name's groups as PS3.5 6.2 writes them: A=I=P, trailing empty
 * groups left out. */
static void end_person_name(DfsQidoParser *p)
{
    int last = N_GROUPS - 1;
    while (last >= 0 && (p->groups[last] == NULL || p->groups[last][0] == '\0'))
        last--;
    GString *s = g_string_new(NULL);
    for (int g = 0; g <= last; g++) {
        if (g > 0)
            g_string_append_c(s, '=');
        g_string_append(s, p->groups[g] ? p->groups[g] : "");
    }
    add_value(p, s->str, s->len);
    g_string_free(s, TRUE);
    for (int g = 0; g < N_GROUPS; g++)
        g_clear_pointer(&p->groups[g], g_free);
}

/* The attribute is read: SQ keeps its items' number, others their values
 * (an empty object in Value is an empty item or an empty name: the VR
 * says which). */
static void end_attr(DfsQidoParser *p)
{
    DfsQidoAttr *a = current(p);
    if (strcmp(a->vr, "SQ") == 0) {
        g_ptr_array_set_size(p->values, p->first_value);
        a->n_values = 0;
    } else {
        a->n_items = 0;
    }
}

static int end_row(DfsQidoParser *p)
{
    guint v = 0;
    for (guint k = 0; k < p->attrs->len; k++) {
        DfsQidoAttr *a = &g_array_index(p->attrs, DfsQidoAttr, k);
        a->values = a->n_values ? (const char *const *)&p->values->pdata[v] : NULL;
        v += a->n_values;
    }
    DfsQidoRow row = {p->attrs->len, (const DfsQidoAttr *)(void *)p->attrs->data, p->rows};
    gboolean ok = p->fn(&row, p->user, &p->error);
    if (!ok && p->error == NULL)
        fail(p, DFS_ERROR_IO, "the row function failed");
    p->rows++;
    g_array_set_size(p->attrs, 0);
    g_ptr_array_set_size(p->values, 0);
    g_string_chunk_clear(p->text);
    p->mark = p->slice_at;
    p->where = AT_ARRAY;
    return ok;
}

static int on_end_map(void *ctx)
{
    DfsQidoParser *p = ctx;
    p->depth--;
    if (p->skip) {
        skip_step(p, -1);
        return 1;
    }
    switch (p->where) {
    case AT_ROW:
        return end_row(p);
    case AT_ATTR:
        end_attr(p);
        p->where = AT_ROW;
        return 1;
    case AT_OBJECT:
        if (p->object_groups || !p->object_tags)
            end_person_name(p);
        if (p->object_tags || !p->object_groups)
            current(p)->n_items++;
        p->where = AT_VALUES;
        return 1;
    default:
        return fail(p, DFS_ERROR_MALFORMED, "unexpected end of an object");
    }
}

static int on_start_array(void *ctx)
{
    DfsQidoParser *p = ctx;
    if (!nest(p))
        return 0;
    if (p->skip) {
        skip_step(p, 1);
        return 1;
    }
    if (p->where == AT_TOP) {
        p->mark = p->slice_at;
        p->where = AT_ARRAY;
    } else if (p->where == AT_VALUE_START) {
        p->where = AT_VALUES;
    } else {
        return fail(p, DFS_ERROR_MALFORMED, "unexpected array");
    }
    return 1;
}

static int on_end_array(void *ctx)
{
    DfsQidoParser *p = ctx;
    p->depth--;
    if (p->skip) {
        skip_step(p, -1);
        return 1;
    }
    if (p->where == AT_ARRAY)
        p->where = AT_DONE;
    else if (p->where == AT_VALUES)
        p->where = AT_ATTR;
    else
        return fail(p, DFS_ERROR_MALFORMED, "unexpected end of an array");
    return 1;
}

static const yajl_callbacks CALLBACKS = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_map_key,
    .yajl_end_map = on_end_map,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end_array,
};

/* --- the parser ----------------------------------------------------------------- */

DfsQidoParser *dfs_qido_parser_new(gsize max_row_bytes, DfsQidoRowFunc fn, gpointer user)
{
    DfsQidoParser *p = g_new0(DfsQidoParser, 1);
    p->fn = fn;
    p->user = user;
    p->max_row_bytes = max_row_bytes ? max_row_bytes : DFS_QIDO_MAX_ROW_BYTES;
    p->slice = CLAMP(p->max_row_bytes / 16, MIN_SLICE, SLICE);
    p->yajl = yajl_alloc(&CALLBACKS, NULL, p);
    p->attrs = g_array_new(FALSE, TRUE, sizeof(DfsQidoAttr));
    p->values = g_ptr_array_new();
    p->text = g_string_chunk_new(1024);
    return p;
}

void dfs_qido_parser_free(DfsQidoParser *p)
{
    if (p == NULL)
        return;
    yajl_free(p->yajl);
    g_array_free(p->attrs, TRUE);
    g_ptr_array_free(p->values, TRUE);
    g_string_chunk_free(p->text);
    for (int g = 0; g < N_GROUPS; g++)
        g_free(p->groups[g]);
    g_clear_error(&p->error);
    g_free(p);
}

guint64 dfs_qido_parser_rows(DfsQidoParser *p)
{
    return p->rows;
}

/* yajl's word on a status other than ok, or the callback's error. */
static gboolean parse_failed(DfsQidoParser *p, yajl_status st, const guint8 *data, gsize len,
                             GError **error)
{
    p->failed = TRUE;
    if (p->error) {
        g_propagate_error(error, g_steal_pointer(&p->error));
        return FALSE;
    }
    unsigned char *msg = yajl_get_error(p->yajl, 0, data, len);
    g_set_error(error, DFS_ERROR, DFS_ERROR_MALFORMED, "DICOM JSON, row %" G_GUINT64_FORMAT ": %s",
                p->rows, msg ? g_strstrip((char *)msg) : "not JSON");
    if (msg)
        yajl_free_error(p->yajl, msg);
    return FALSE;
}

static void note_text(DfsQidoParser *p, const guint8 *data, gsize len)
{
    for (gsize k = 0; k < len && !p->seen_text; k++)
        p->seen_text = !g_ascii_isspace(data[k]);
}

gboolean dfs_qido_parser_feed(DfsQidoParser *p, const guint8 *data, gsize len, GError **error)
{
    if (p->failed) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_MALFORMED, "DICOM JSON: fed after an error");
        return FALSE;
    }
    for (gsize at = 0; at < len;) {
        gsize n = MIN(len - at, p->slice);
        if (p->where == AT_TOP)
            note_text(p, data + at, n);
        p->slice_at = p->fed;
        yajl_status st = yajl_parse(p->yajl, data + at, n);
        if (st != yajl_status_ok)
            return parse_failed(p, st, data + at, n, error);
        p->fed += n;
        at += n;
        if (p->fed - p->mark > p->max_row_bytes && p->where != AT_DONE) {
            p->failed = TRUE;
            g_set_error(error, DFS_ERROR, DFS_ERROR_LIMIT,
                        "DICOM JSON, row %" G_GUINT64_FORMAT ": over %" G_GSIZE_FORMAT " bytes",
                        p->rows, p->max_row_bytes);
            return FALSE;
        }
    }
    return TRUE;
}

gboolean dfs_qido_parser_finish(DfsQidoParser *p, GError **error)
{
    if (p->failed) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_MALFORMED, "DICOM JSON: finished after an error");
        return FALSE;
    }
    if (p->where == AT_TOP && !p->seen_text)
        return TRUE; /* no body at all: no rows */
    if (p->where != AT_DONE) {
        p->failed = TRUE;
        g_set_error(error, DFS_ERROR,
                    p->where == AT_TOP ? DFS_ERROR_MALFORMED : DFS_ERROR_TRUNCATED,
                    "DICOM JSON: the input ends %s (after %" G_GUINT64_FORMAT " rows)",
                    p->where == AT_TOP ? "before its array" : "inside its array", p->rows);
        return FALSE;
    }
    yajl_status st = yajl_complete_parse(p->yajl);
    if (st != yajl_status_ok)
        return parse_failed(p, st, NULL, 0, error);
    return TRUE;
}

/* --- the pager -------------------------------------------------------------------- */

typedef struct {
    const DfsQidoQuery *q;
    DfsQidoRowFunc fn;
    gpointer user;
    DfsQidoStats *stats;
    GHashTable *seen; /* UIDs handed over (owned) */
    const char *url;  /* of the page at hand */
    DfsQidoParser *parser;
    GChecksum *sum; /* of the page's body */
    guint64 page_new;
    gboolean no_content; /* 204 */
} Pager;

/* Each row of a page: dropped when its UID was handed over already. */
static gboolean pager_row(const DfsQidoRow *row, gpointer user, GError **error)
{
    Pager *g = user;
    const char *uid = g->q->uid_tag ? dfs_qido_row_string(row, g->q->uid_tag) : NULL;
    if (uid) {
        if (g_hash_table_contains(g->seen, uid)) {
            g->stats->duplicates++;
            return TRUE;
        }
        g_hash_table_add(g->seen, g_strdup(uid));
    }
    DfsQidoRow numbered = *row;
    numbered.index = g->stats->rows++;
    g->page_new++;
    return g->fn(&numbered, g->user, error);
}

static gboolean pager_head(const DfsHttpResponse *resp, gpointer user, GError **error)
{
    Pager *g = user;
    g->no_content = resp->status == 204;
    if (resp->warning) {
        g_free(g->stats->warning);
        g->stats->warning = g_strdup(resp->warning);
        g_debug("GET %s: %s", g->url, resp->warning);
    }
    const char *type = resp->content_type;
    if (!g->no_content && type && strstr(type, "json") == NULL) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_MALFORMED,
                    "GET %s: the answer is %s, not application/dicom+json", g->url, type);
        return FALSE;
    }
    return TRUE;
}

static gboolean pager_body(const guint8 *data, gsize len, gpointer user, GError **error)
{
    Pager *g = user;
    g_checksum_update(g->sum, data, (gssize)len);
    return dfs_qido_parser_feed(g->parser, data, len, error);
}

static char *page_url(const DfsQidoQuery *q, guint limit, guint64 offset)
{
    GString *u = g_string_new(q->url);
    char sep = strchr(q->url, '?') ? '&' : '?';
    for (guint k = 0; q->params && q->params[k]; k++) {
        g_string_append_printf(u, "%c%s", sep, q->params[k]);
        sep = '&';
    }
    g_string_append_printf(u, "%climit=%u&offset=%" G_GUINT64_FORMAT, sep, limit, offset);
    return g_string_free(u, FALSE);
}

/* One page; *rows gets how many rows it held (duplicates included: the
 * server's offset counts them). */
static gboolean get_page(DfsHttp *http, Pager *g, guint limit, guint64 offset, guint64 *rows,
                         GError **error)
{
    static const char *const accept[] = {"Accept: application/dicom+json", NULL};
    g_autofree char *url = page_url(g->q, limit, offset);
    g_autoptr(DfsQidoParser) parser = dfs_qido_parser_new(g->q->max_row_bytes, pager_row, g);
    g->url = url;
    g->parser = parser;
    g->page_new = 0;
    g->no_content = FALSE;
    g_checksum_reset(g->sum);
    g->stats->pages++;
    gboolean ok = dfs_http_get(http, url, accept, pager_head, pager_body, g, NULL, error);
    if (ok && !g->no_content)
        ok = dfs_qido_parser_finish(parser, error);
    if (!ok && error && *error && !strstr((*error)->message, url))
        g_prefix_error(error, "GET %s: ", url);
    *rows = g->no_content ? 0 : dfs_qido_parser_rows(parser);
    g->parser = NULL;
    g->url = NULL;
    return ok;
}

gboolean dfs_qido_list(DfsHttp *http, const DfsQidoQuery *q, DfsQidoRowFunc fn, gpointer user,
                       DfsQidoStats *stats, GError **error)
{
    DfsQidoStats local = {0};
    DfsQidoStats *st = stats ? stats : &local;
    *st = (DfsQidoStats){0};
    Pager g = {.q = q, .fn = fn, .user = user, .stats = st};
    g.seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g.sum = g_checksum_new(G_CHECKSUM_MD5);
    guint limit = q->limit ? q->limit : DFS_QIDO_LIMIT;
    guint64 offset = 0, first_rows = 0;
    char *last_sum = NULL;
    gboolean ok = TRUE;
    for (;;) {
        guint64 rows = 0;
        if (!(ok = get_page(http, &g, limit, offset, &rows, error)) || rows == 0)
            break;
        /* A server that ignores offset would page forever: the same body
         * again, or a full page of rows already seen. */
        gboolean same = last_sum && strcmp(last_sum, g_checksum_get_string(g.sum)) == 0;
        if (same || (q->uid_tag && g.page_new == 0 && rows >= first_rows)) {
            g_set_error(error, DFS_ERROR, DFS_ERROR_MALFORMED,
                        "GET %s: the page at offset %" G_GUINT64_FORMAT
                        " repeats rows already listed (offset ignored?)",
                        q->url, offset);
            ok = FALSE;
            break;
        }
        g_free(last_sum);
        last_sum = g_strdup(g_checksum_get_string(g.sum));
        first_rows = first_rows ? first_rows : rows;
        st->short_pages += rows < limit;
        offset += rows;
        if (q->expected > 0 && rows < limit && offset == q->expected)
            break; /* as many as the server said it holds (a count that
                      does not match, stale, pages on to the end) */
    }
    g_free(last_sum);
    g_checksum_free(g.sum);
    g_hash_table_destroy(g.seen);
    if (stats == NULL)
        g_free(local.warning);
    return ok;
}
