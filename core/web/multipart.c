/* dicomfs core: a streaming reader of multipart bodies.  See multipart.h.
 *
 * The reader is a state machine over the bytes fed, each step taking what
 * it can of the chunk at hand: a run of part data, a header line, one byte
 * of a delimiter's tail.  Nothing of the input is kept but a part's header
 * block (in a buffer of fixed size, parsed in place) and the count of
 * delimiter bytes matched, which are the delimiter's own first bytes and
 * so are handed on from it when they turn out to be data. */
#include "web/multipart.h"

#include <string.h>

#include "base/error.h"

/* --- Content-Type (RFC 2045 5.1) ----------------------------------------------- */

typedef struct {
    char *name; /* lower case */
    char *value;
} Param;

struct _DfsContentType {
    char *media; /* lower case */
    Param params[DFS_CONTENT_TYPE_MAX_PARAMS];
    guint n;
};

/* How much of a bad header value an error message quotes. */
#define QUOTE_MAX 200

static gboolean is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 2045 5.1: token := 1*<any CHAR except SPACE, CTLs, or tspecials>. */
static gboolean is_token(char c)
{
    return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* An unquoted parameter value: a token, and the '/', '=', '?' and the like
 * that servers leave unquoted (`type=application/dicom`). */
static gboolean is_bare_value(char c)
{
    return c > 0x20 && c < 0x7f && c != ';' && c != '"';
}

static const char *skip_space(const char *p)
{
    while (is_space(*p))
        p++;
    return p;
}

static const char *skip_token(const char *p)
{
    while (is_token(*p))
        p++;
    return p;
}

static gboolean ct_fail(GError **error, const char *value, const char *at, const char *why)
{
    g_set_error(error, DFS_ERROR, DFS_ERROR_MALFORMED, "Content-Type \"%.*s\": %s at offset %td",
                QUOTE_MAX, value, why, at - value);
    return FALSE;
}

/* A quoted-string (RFC 822 3.3) from the opening quote at *pp, unquoted. */
static char *parse_quoted(const char **pp, const char *value, GError **error)
{
    g_autoptr(GString) out = g_string_new(NULL);
    const char *p = *pp + 1;
    for (;; p++) {
        if (*p == '"')
            break;
        if (*p == '\\')
            p++;
        if (*p == '\0') {
            ct_fail(error, value, p, "unterminated quoted string");
            return NULL;
        }
        if (((guchar)*p < 0x20 && *p != '\t') || *p == 0x7f) {
            ct_fail(error, value, p, "control character in a quoted string");
            return NULL;
        }
        g_string_append_c(out, *p);
    }
    *pp = p + 1;
    return g_string_free(g_steal_pointer(&out), FALSE);
}

/* One `name=value` from *pp, added to ct. */
static gboolean parse_param(DfsContentType *ct, const char **pp, const char *value, GError **error)
{
    const char *p = *pp, *name = p;
    p = skip_token(p);
    if (p == name)
        return ct_fail(error, value, p, "a parameter without a name");
    const char *name_end = p;
    p = skip_space(p);
    if (*p != '=')
        return ct_fail(error, value, p, "a parameter without '='");
    p = skip_space(p + 1);
    g_autofree char *v = NULL;
    if (*p == '"') {
        if ((v = parse_quoted(&p, value, error)) == NULL)
            return FALSE;
    } else {
        const char *start = p;
        while (is_bare_value(*p))
            p++;
        if (p == start)
            return ct_fail(error, value, p, "a parameter without a value");
        v = g_strndup(start, (gsize)(p - start));
    }
    g_autofree char *lower = g_ascii_strdown(name, name_end - name);
    if (dfs_content_type_param(ct, lower) != NULL)
        return ct_fail(error, value, name, "a parameter given twice");
    if (ct->n == DFS_CONTENT_TYPE_MAX_PARAMS) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_LIMIT, "Content-Type \"%.*s\": over %d parameters",
                    QUOTE_MAX, value, DFS_CONTENT_TYPE_MAX_PARAMS);
        return FALSE;
    }
    ct->params[ct->n].name = g_steal_pointer(&lower);
    ct->params[ct->n].value = g_steal_pointer(&v);
    ct->n++;
    *pp = p;
    return TRUE;
}

DfsContentType *dfs_content_type_parse(const char *value, GError **error)
{
    g_return_val_if_fail(value != NULL, NULL);
    g_autoptr(DfsContentType) ct = g_new0(DfsContentType, 1);
    const char *p = skip_space(value), *type = p;
    p = skip_token(p);
    if (p == type || *p != '/') {
        ct_fail(error, value, p, "no type/subtype");
        return NULL;
    }
    const char *sub = ++p;
    p = skip_token(p);
    if (p == sub) {
        ct_fail(error, value, p, "no subtype");
        return NULL;
    }
    ct->media = g_ascii_strdown(type, p - type);
    for (;;) {
        p = skip_space(p);
        if (*p == '\0')
            break;
        if (*p != ';') {
            ct_fail(error, value, p, "text where ';' must be");
            return NULL;
        }
        p = skip_space(p + 1);
        if (*p == '\0' || *p == ';')
            continue; /* an empty parameter (a trailing ';'), as servers send */
        if (!parse_param(ct, &p, value, error))
            return NULL;
    }
    return g_steal_pointer(&ct);
}

const char *dfs_content_type_media(const DfsContentType *ct)
{
    return ct->media;
}

const char *dfs_content_type_param(const DfsContentType *ct, const char *name)
{
    for (guint k = 0; k < ct->n; k++)
        if (g_ascii_strcasecmp(ct->params[k].name, name) == 0)
            return ct->params[k].value;
    return NULL;
}

guint dfs_content_type_n_params(const DfsContentType *ct)
{
    return ct->n;
}

gboolean dfs_content_type_nth_param(const DfsContentType *ct, guint k, const char **name,
                                    const char **value)
{
    if (k >= ct->n)
        return FALSE;
    if (name != NULL)
        *name = ct->params[k].name;
    if (value != NULL)
        *value = ct->params[k].value;
    return TRUE;
}

/* RFC 2046 5.1.1: 1 to 70 characters, not ending in a space.  Any printable
 * ASCII is taken (see multipart.h); CR and LF never, as the delimiter's
 * only CR must be its first byte (scan() relies on it). */
static gboolean check_boundary(const char *b, GError **error)
{
    gsize n = strlen(b);
    if (n == 0 || n > DFS_MULTIPART_MAX_BOUNDARY) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_MALFORMED,
                    "multipart boundary of %zu characters (RFC 2046 5.1.1: 1 to %d)", n,
                    DFS_MULTIPART_MAX_BOUNDARY);
        return FALSE;
    }
    for (gsize k = 0; k < n; k++) {
        if ((guchar)b[k] < 0x20 || (guchar)b[k] > 0x7e) {
            g_set_error(error, DFS_ERROR, DFS_ERROR_MALFORMED,
                        "multipart boundary with the byte 0x%02x", (guchar)b[k]);
            return FALSE;
        }
    }
    if (b[n - 1] == ' ') {
        g_set_error_literal(error, DFS_ERROR, DFS_ERROR_MALFORMED,
                            "multipart boundary ending in a space (RFC 2046 5.1.1)");
        return FALSE;
    }
    return TRUE;
}

const char *dfs_content_type_boundary(const DfsContentType *ct, GError **error)
{
    if (!g_str_has_prefix(ct->media, "multipart/")) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_MALFORMED, "%s is not a multipart type", ct->media);
        return NULL;
    }
    const char *b = dfs_content_type_param(ct, "boundary");
    if (b == NULL) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_MALFORMED, "%s without a boundary parameter",
                    ct->media);
        return NULL;
    }
    return check_boundary(b, error) ? b : NULL;
}

void dfs_content_type_free(DfsContentType *ct)
{
    if (ct == NULL)
        return;
    for (guint k = 0; k < ct->n; k++) {
        g_free(ct->params[k].name);
        g_free(ct->params[k].value);
    }
    g_free(ct->media);
    g_free(ct);
}

/* --- the reader ------------------------------------------------------------------ */

typedef enum {
    ST_PREAMBLE,   /* before the first delimiter: scanned for it, dropped */
    ST_TAIL,       /* a delimiter read: "--", padding or CRLF follows */
    ST_CLOSE_DASH, /* "-" after the delimiter: a second one must follow */
    ST_PADDING,    /* transport padding after the delimiter, then CRLF */
    ST_LF,         /* CR after the delimiter: LF must follow */
    ST_HEADERS,    /* a part's header block, up to its empty line */
    ST_SCAN,       /* part data without Content-Length: up to a delimiter */
    ST_COUNTED,    /* part data counted by its Content-Length */
    ST_EXPECT,     /* after counted data: the delimiter, nothing else */
    ST_EPILOGUE,   /* after the closing delimiter: dropped */
    ST_FAILED,
} State;

struct _DfsMultipart {
    DfsMultipartCallbacks cb;
    gpointer user;
    char *boundary;
    char *delim; /* CRLF "--" boundary: what ends a part (RFC 2046 5.1.1) */
    gsize delim_len;
    State state;
    gsize matched;      /* ST_PREAMBLE, ST_SCAN, ST_EXPECT: bytes of delim matched */
    guint64 offset;     /* of the body, of the chunk's first byte being stepped */
    gboolean in_part;   /* a part began and has not ended */
    guint begun, ended; /* parts */
    gint64 length;      /* the current part's Content-Length, or -1 */
    guint64 remaining;  /* ST_COUNTED: bytes of it still to come */
    guint64 part_bytes; /* data of the current part handed on */
    char *hbuf;         /* ST_HEADERS: the header block so far */
    gsize hlen, line_start;
    guint64 block_end; /* offset of the end of the header block being parsed */
    DfsMultipartHeader headers[DFS_MULTIPART_MAX_HEADERS];
    GError *error; /* ST_FAILED: why */
    gboolean finished;
};

DfsMultipart *dfs_multipart_new(const char *boundary, const DfsMultipartCallbacks *cb,
                                gpointer user, GError **error)
{
    g_return_val_if_fail(boundary != NULL && cb != NULL, NULL);
    if (!check_boundary(boundary, error))
        return NULL;
    DfsMultipart *mp = g_new0(DfsMultipart, 1);
    mp->cb = *cb;
    mp->user = user;
    mp->boundary = g_strdup(boundary);
    mp->delim = g_strconcat("\r\n--", boundary, NULL);
    mp->delim_len = strlen(mp->delim);
    mp->state = ST_PREAMBLE;
    /* The first delimiter may open the body: as if a CRLF came before it. */
    mp->matched = 2;
    mp->length = -1;
    mp->hbuf = g_malloc(DFS_MULTIPART_MAX_HEADER_BYTES);
    return mp;
}

void dfs_multipart_free(DfsMultipart *mp)
{
    if (mp == NULL)
        return;
    g_clear_error(&mp->error);
    g_free(mp->hbuf);
    g_free(mp->delim);
    g_free(mp->boundary);
    g_free(mp);
}

/* A callback's answer: FALSE without an error gets one. */
static gboolean called(gboolean ok, GError **error)
{
    if (!ok && error != NULL && *error == NULL)
        g_set_error_literal(error, DFS_ERROR, DFS_ERROR_IO,
                            "multipart reading stopped by the caller");
    return ok;
}

static gboolean malformed(DfsMultipart *mp, gsize at, GError **error, const char *why)
{
    g_set_error(error, DFS_ERROR, DFS_ERROR_MALFORMED,
                "multipart body, byte %" G_GUINT64_FORMAT ": %s", mp->offset + at, why);
    return FALSE;
}

/* A header block refused: where it ends, whatever the chunks. */
static gboolean bad_header(DfsMultipart *mp, GError **error, const char *why)
{
    g_set_error(error, DFS_ERROR, DFS_ERROR_MALFORMED,
                "multipart body, part %u, header block ending at byte %" G_GUINT64_FORMAT ": %s",
                mp->begun, mp->block_end, why);
    return FALSE;
}

/* Part data (dropped in the preamble). */
static gboolean emit(DfsMultipart *mp, const guint8 *data, gsize len, GError **error)
{
    if (!mp->in_part || len == 0)
        return TRUE;
    mp->part_bytes += len;
    return mp->cb.part_data == NULL || called(mp->cb.part_data(data, len, mp->user, error), error);
}

/* Look for the delimiter, handing on what comes before it; the state moves
 * to ST_TAIL when it is complete.  Returns the bytes used, or -1. */
static gssize scan(DfsMultipart *mp, const guint8 *p, gsize n, GError **error)
{
    gsize i = 0;
    while (i < n) {
        if (mp->matched == 0) {
            const guint8 *cr = memchr(p + i, '\r', n - i);
            gsize upto = cr != NULL ? (gsize)(cr - p) : n;
            if (!emit(mp, p + i, upto - i, error))
                return -1;
            if (cr == NULL)
                return (gssize)n;
            mp->matched = 1;
            i = upto + 1;
        } else if (p[i] == (guint8)mp->delim[mp->matched]) {
            i++;
            if (++mp->matched == mp->delim_len) {
                mp->matched = 0;
                mp->state = ST_TAIL;
                return (gssize)i;
            }
        } else {
            /* Not the delimiter: the bytes matched were data.  The
             * delimiter's only CR is its first byte, so no later one of
             * them can begin a match: p[i] alone is looked at again. */
            gsize k = mp->matched;
            mp->matched = 0;
            if (!emit(mp, (const guint8 *)mp->delim, k, error))
                return -1;
        }
    }
    return (gssize)n;
}

/* The part before the delimiter just read is complete. */
static gboolean end_part(DfsMultipart *mp, GError **error)
{
    if (!mp->in_part)
        return TRUE;
    mp->in_part = FALSE;
    mp->ended++;
    return mp->cb.part_end == NULL || called(mp->cb.part_end(mp->user, error), error);
}

/* One byte after a delimiter (RFC 2046 5.1.1: transport padding, then CRLF
 * before a part, or "--" closing the body).  The part before the delimiter
 * ends once the delimiter is known to be good. */
static gssize tail(DfsMultipart *mp, guint8 c, GError **error)
{
    State next = ST_FAILED;
    if (mp->state == ST_CLOSE_DASH)
        next = c == '-' ? ST_EPILOGUE : ST_FAILED;
    else if (mp->state == ST_LF)
        next = c == '\n' ? ST_HEADERS : ST_FAILED;
    else if (c == '\r')
        next = ST_LF;
    else if (is_space((char)c))
        next = ST_PADDING;
    else if (c == '-' && mp->state == ST_TAIL)
        next = ST_CLOSE_DASH;
    if (next == ST_FAILED) {
        g_autofree char *why = g_strdup_printf(
            "0x%02x after the delimiter --%s, where CRLF or \"--\" must follow", c, mp->boundary);
        malformed(mp, 0, error, why);
        return -1;
    }
    if ((next == ST_EPILOGUE || next == ST_HEADERS) && !end_part(mp, error))
        return -1;
    mp->state = next;
    mp->hlen = mp->line_start = 0;
    return 1;
}

/* A part's Content-Length: digits only (RFC 7230 3.3.2), given once or
 * always the same. */
static gboolean content_length(DfsMultipart *mp, guint n, gint64 *out, GError **error)
{
    *out = -1;
    for (guint k = 0; k < n; k++) {
        if (g_ascii_strcasecmp(mp->headers[k].name, "Content-Length") != 0)
            continue;
        const char *v = mp->headers[k].value;
        gint64 len = 0;
        for (const char *d = v; *d != '\0'; d++) {
            if (!g_ascii_isdigit(*d) || len > (G_MAXINT64 - (*d - '0')) / 10) {
                len = -1;
                break;
            }
            len = len * 10 + (*d - '0');
        }
        if (*v == '\0' || len < 0 || (*out >= 0 && *out != len)) {
            g_autofree char *why = g_strdup_printf("bad Content-Length \"%.*s\"", QUOTE_MAX, v);
            return bad_header(mp, error, why);
        }
        *out = len;
    }
    return TRUE;
}

/* One header line buf[r, end), not empty, into the compacted headers at *w
 * (never past r: a line only shrinks).  n: headers so far. */
static gboolean header_line(DfsMultipart *mp, gsize r, gsize end, gsize *w, guint *n,
                            GError **error)
{
    char *buf = mp->hbuf;
    for (gsize k = r; k < end; k++)
        if (((guchar)buf[k] < 0x20 && buf[k] != '\t') || buf[k] == 0x7f)
            return bad_header(mp, error, "control character in a header");
    gsize v = r, v_end = end;
    gboolean fold = is_space(buf[r]);
    if (!fold) {
        char *colon = memchr(buf + r, ':', end - r);
        gsize name_end = colon != NULL ? (gsize)(colon - buf) : r;
        for (gsize k = r; k < name_end; k++)
            if (!is_token(buf[k]))
                name_end = r;
        if (name_end == r)
            return bad_header(mp, error, "a header line is not \"Name: value\"");
        if (*n == DFS_MULTIPART_MAX_HEADERS) {
            g_set_error(error, DFS_ERROR, DFS_ERROR_LIMIT,
                        "multipart body: part %u has over %d headers", mp->begun,
                        DFS_MULTIPART_MAX_HEADERS);
            return FALSE;
        }
        memmove(buf + *w, buf + r, name_end - r);
        mp->headers[*n].name = buf + *w;
        *w += name_end - r;
        buf[(*w)++] = '\0';
        v = name_end + 1;
    } else if (*n == 0) {
        return bad_header(mp, error, "the headers begin with a folded line");
    }
    while (v < v_end && is_space(buf[v]))
        v++;
    while (v_end > v && is_space(buf[v_end - 1]))
        v_end--;
    if (!fold) {
        mp->headers[(*n)++].value = buf + *w;
    } else if (v_end > v && mp->headers[*n - 1].value[0] != '\0') {
        buf[*w - 1] = ' '; /* RFC 822 3.1.1: unfolding keeps one space */
    } else {
        (*w)--; /* joined to an empty value, or nothing to join */
    }
    memmove(buf + *w, buf + v, v_end - v);
    *w += v_end - v;
    buf[(*w)++] = '\0';
    return TRUE;
}

/* The header block is complete: parse it in place and begin the part. */
static gboolean begin_part(DfsMultipart *mp, GError **error)
{
    gsize r = 0, w = 0;
    guint n = 0;
    for (;;) {
        const char *lf = memchr(mp->hbuf + r, '\n', mp->hlen - r);
        gsize next = (gsize)(lf - mp->hbuf) + 1, end = next - 1;
        if (end > r && mp->hbuf[end - 1] == '\r')
            end--;
        if (end == r)
            break; /* the empty line */
        if (!header_line(mp, r, end, &w, &n, error))
            return FALSE;
        r = next;
    }
    DfsMultipartPart part = {.index = mp->begun, .headers = mp->headers, .n_headers = n};
    if (!content_length(mp, n, &part.content_length, error))
        return FALSE;
    mp->begun++;
    mp->in_part = TRUE;
    mp->length = part.content_length;
    mp->part_bytes = 0;
    mp->hlen = 0;
    mp->matched = 0;
    if (mp->length < 0) {
        mp->state = ST_SCAN;
    } else {
        mp->remaining = (guint64)mp->length;
        mp->state = mp->remaining > 0 ? ST_COUNTED : ST_EXPECT;
    }
    return mp->cb.part_begin == NULL || called(mp->cb.part_begin(&part, mp->user, error), error);
}

/* Gather the header block up to the end of its next line. */
static gssize headers(DfsMultipart *mp, const guint8 *p, gsize n, GError **error)
{
    const guint8 *lf = memchr(p, '\n', n);
    gsize take = lf != NULL ? (gsize)(lf - p) + 1 : n;
    if (take > DFS_MULTIPART_MAX_HEADER_BYTES - mp->hlen) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_LIMIT,
                    "multipart body: the headers of part %u are over %d bytes", mp->begun,
                    DFS_MULTIPART_MAX_HEADER_BYTES);
        return -1;
    }
    memcpy(mp->hbuf + mp->hlen, p, take);
    mp->hlen += take;
    if (lf == NULL)
        return (gssize)take;
    gsize line = mp->hlen - mp->line_start;
    if (line == 1 || (line == 2 && mp->hbuf[mp->line_start] == '\r')) {
        mp->block_end = mp->offset + take;
        if (!begin_part(mp, error))
            return -1;
    } else {
        mp->line_start = mp->hlen;
    }
    return (gssize)take;
}

/* Part data counted by Content-Length, handed on without a look. */
static gssize counted(DfsMultipart *mp, const guint8 *p, gsize n, GError **error)
{
    gsize take = (gsize)MIN((guint64)n, mp->remaining);
    if (!emit(mp, p, take, error))
        return -1;
    mp->remaining -= take;
    if (mp->remaining == 0) {
        mp->state = ST_EXPECT;
        mp->matched = 0;
    }
    return (gssize)take;
}

/* After counted data, the delimiter and nothing else. */
static gssize expect(DfsMultipart *mp, const guint8 *p, gsize n, GError **error)
{
    for (gsize i = 0; i < n; i++) {
        if (p[i] != (guint8)mp->delim[mp->matched]) {
            g_autofree char *why = g_strdup_printf("part %u: 0x%02x after its %" G_GINT64_FORMAT
                                                   " bytes (Content-Length), "
                                                   "where the delimiter --%s must be",
                                                   mp->begun - 1, p[i], mp->length, mp->boundary);
            malformed(mp, i, error, why);
            return -1;
        }
        if (++mp->matched == mp->delim_len) {
            mp->matched = 0;
            mp->state = ST_TAIL;
            return (gssize)i + 1;
        }
    }
    return (gssize)n;
}

/* One step: what the state takes of p[0, n), n > 0.  Bytes used, or -1. */
static gssize step(DfsMultipart *mp, const guint8 *p, gsize n, GError **error)
{
    switch (mp->state) {
    case ST_PREAMBLE:
    case ST_SCAN:
        return scan(mp, p, n, error);
    case ST_TAIL:
    case ST_CLOSE_DASH:
    case ST_PADDING:
    case ST_LF:
        return tail(mp, p[0], error);
    case ST_HEADERS:
        return headers(mp, p, n, error);
    case ST_COUNTED:
        return counted(mp, p, n, error);
    case ST_EXPECT:
        return expect(mp, p, n, error);
    case ST_EPILOGUE:
        return (gssize)n;
    case ST_FAILED:
        break;
    }
    g_assert_not_reached();
    return -1;
}

static gboolean failed(DfsMultipart *mp, GError *why, GError **error)
{
    if (mp->error == NULL)
        mp->error = why;
    else
        g_clear_error(&why);
    mp->state = ST_FAILED;
    g_propagate_error(error, g_error_copy(mp->error));
    return FALSE;
}

gboolean dfs_multipart_feed(DfsMultipart *mp, const guint8 *data, gsize len, GError **error)
{
    g_return_val_if_fail(mp != NULL && !mp->finished, FALSE);
    g_return_val_if_fail(data != NULL || len == 0, FALSE);
    if (mp->state == ST_FAILED)
        return failed(mp, NULL, error);
    gsize i = 0;
    while (i < len) {
        GError *why = NULL;
        gssize used = step(mp, data + i, len - i, &why);
        if (used < 0)
            return failed(mp, why, error);
        i += (gsize)used;
        mp->offset += (guint64)used;
    }
    return TRUE;
}

gboolean dfs_multipart_finish(DfsMultipart *mp, GError **error)
{
    g_return_val_if_fail(mp != NULL && !mp->finished, FALSE);
    mp->finished = TRUE;
    if (mp->state == ST_EPILOGUE)
        return TRUE;
    if (mp->state == ST_FAILED)
        return failed(mp, NULL, error);
    g_autofree char *where = NULL;
    if (mp->state == ST_PREAMBLE)
        where = mp->offset == 0
                    ? g_strdup("the body is empty")
                    : g_strdup_printf("no delimiter in %" G_GUINT64_FORMAT " bytes", mp->offset);
    else if (mp->state == ST_HEADERS)
        where = g_strdup_printf("the body ends in the headers of part %u", mp->begun);
    else if (mp->state == ST_COUNTED)
        where = g_strdup_printf("part %u ends after %" G_GUINT64_FORMAT " of its %" G_GINT64_FORMAT
                                " bytes (Content-Length)",
                                mp->begun - 1, mp->part_bytes, mp->length);
    else if (mp->in_part)
        where = g_strdup_printf("the body ends in part %u", mp->begun - 1);
    else
        where = g_strdup("the body ends in a delimiter");
    GError *why = g_error_new(DFS_ERROR, DFS_ERROR_TRUNCATED,
                              "multipart body cut short: %s, without the closing --%s--", where,
                              mp->boundary);
    return failed(mp, why, error);
}

guint dfs_multipart_parts(const DfsMultipart *mp)
{
    return mp->ended;
}

gboolean dfs_multipart_closed(const DfsMultipart *mp)
{
    return mp->state == ST_EPILOGUE;
}

gsize dfs_multipart_held(const DfsMultipart *mp)
{
    switch (mp->state) {
    case ST_HEADERS:
        return mp->hlen;
    case ST_PREAMBLE:
        /* The CRLF taken as read before the body is not input. */
        return (gsize)MIN((guint64)mp->matched, mp->offset);
    case ST_SCAN:
    case ST_EXPECT:
        return mp->matched;
    default:
        return 0;
    }
}

const char *dfs_multipart_header_get(const DfsMultipartHeader *headers, guint n, const char *name)
{
    for (guint k = 0; k < n; k++)
        if (g_ascii_strcasecmp(headers[k].name, name) == 0)
            return headers[k].value;
    return NULL;
}
