/* dicomfs core: WADO-RS retrieves into files.  See wado.h. */
#include "sources/wado.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "base/error.h"
#include "web/multipart.h"

/* Instances and frames are asked for as they are stored, and not gzip'ed:
 * a server compressing hundreds of MB on the fly is the slowest part of
 * the transfer (Orthanc 1.10: 1.45 s for a 100 MB instance against 0.22 s
 * sent plain, on loopback); listings (JSON) are still asked gzip'ed. */
static const char *const accept_dicom[] = {
    "Accept: multipart/related; type=\"application/dicom\"; transfer-syntax=*",
    "Accept-Encoding: identity", NULL};
static const char *const accept_frames[] = {
    "Accept: multipart/related; type=\"application/octet-stream\"; transfer-syntax=*",
    "Accept-Encoding: identity", NULL};

gboolean dfs_wado_write(const guint8 *data, gsize len, gpointer fdp, GError **error)
{
    int fd = *(int *)fdp;
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "cache: %s", g_strerror(errno));
            return FALSE;
        }
        data += n;
        len -= (gsize)n;
    }
    return TRUE;
}

/* A retrieve in progress: the body's reader, and where parts go. */
typedef struct {
    const char *url;
    DfsMultipart *mp;
    DfsMultipartCallbacks cb;
    gpointer user;
} Retrieve;

static gboolean retrieve_head(const DfsHttpResponse *resp, gpointer user, GError **error)
{
    Retrieve *r = user;
    g_autoptr(DfsContentType) ct =
        dfs_content_type_parse(resp->content_type ? resp->content_type : "", error);
    const char *boundary = ct != NULL ? dfs_content_type_boundary(ct, error) : NULL;
    if (boundary == NULL)
        return FALSE;
    r->mp = dfs_multipart_new(boundary, &r->cb, r->user, error);
    return r->mp != NULL;
}

static gboolean retrieve_body(const guint8 *data, gsize len, gpointer user, GError **error)
{
    return dfs_multipart_feed(((Retrieve *)user)->mp, data, len, error);
}

/* GET url as multipart (accept: its Accept header), its parts through
 * cb: TRUE when the body was whole.  resp (may be NULL): the last
 * response, as dfs_http_get gives it. */
static gboolean retrieve(DfsHttp *http, const char *url, const char *const *accept,
                         const DfsMultipartCallbacks *cb, gpointer user, DfsHttpResponse *resp,
                         GError **error)
{
    Retrieve r = {url, NULL, *cb, user};
    gboolean ok = dfs_http_get(http, url, accept, retrieve_head, retrieve_body, &r, resp, error);
    if (ok && r.mp == NULL) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_MALFORMED, "%s: no body", url);
        ok = FALSE;
    }
    if (ok && !dfs_multipart_finish(r.mp, error)) {
        g_prefix_error(error, "%s: ", url);
        ok = FALSE;
    }
    dfs_multipart_free(r.mp);
    return ok;
}

/* --- one instance ----------------------------------------------------------- */

typedef struct {
    int fd;
    guint parts;
} One;

static gboolean one_begin(const DfsMultipartPart *part, gpointer user, GError **error)
{
    if (part->index == 0)
        return TRUE;
    g_set_error_literal(error, DFS_ERROR, DFS_ERROR_MALFORMED, "more than one part for one instance");
    return FALSE;
}

static gboolean one_data(const guint8 *data, gsize len, gpointer user, GError **error)
{
    return dfs_wado_write(data, len, &((One *)user)->fd, error);
}

static gboolean one_end(gpointer user, GError **error)
{
    ((One *)user)->parts++;
    return TRUE;
}

gboolean dfs_wado_instance(DfsHttp *http, const char *url, int fd, GError **error)
{
    static const DfsMultipartCallbacks cb = {one_begin, one_data, one_end};
    One one = {fd, 0};
    if (!retrieve(http, url, accept_dicom, &cb, &one, NULL, error))
        return FALSE;
    if (one.parts != 1) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_MALFORMED, "%s: %u parts for one instance", url,
                    one.parts);
        return FALSE;
    }
    return TRUE;
}

/* --- one frame ----------------------------------------------------------------- */

typedef struct {
    const char *syntax;
    gsize max_bytes;
    GByteArray *bytes;
    guint parts;
} Frame;

/* Explicit VR Little Endian, and the other native syntax whose frames
 * have the same bytes. */
static gboolean native_le(const char *syntax)
{
    return g_strcmp0(syntax, "1.2.840.10008.1.2.1") == 0 ||
           g_strcmp0(syntax, "1.2.840.10008.1.2") == 0;
}

static gboolean frame_too_long(const Frame *f, GError **error)
{
    g_set_error(error, DFS_ERROR, DFS_ERROR_LIMIT, "a frame of more than %" G_GSIZE_FORMAT " bytes",
                f->max_bytes);
    return FALSE;
}

static gboolean frame_begin(const DfsMultipartPart *part, gpointer user, GError **error)
{
    Frame *f = user;
    if (part->index != 0) {
        g_set_error_literal(error, DFS_ERROR, DFS_ERROR_MALFORMED, "more than one part for one frame");
        return FALSE;
    }
    const char *type = dfs_multipart_header_get(part->headers, part->n_headers, "Content-Type");
    g_autoptr(DfsContentType) ct = type != NULL ? dfs_content_type_parse(type, NULL) : NULL;
    const char *ts = ct != NULL ? dfs_content_type_param(ct, "transfer-syntax") : NULL;
    if (ts == NULL && (ct == NULL || g_str_equal(dfs_content_type_media(ct), "application/octet-stream")))
        ts = "1.2.840.10008.1.2.1";
    if (ts == NULL || !(g_str_equal(ts, f->syntax) || (native_le(ts) && native_le(f->syntax)))) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_UNSUPPORTED, "the frame came as %s, not %s",
                    type != NULL ? type : "(no type)", f->syntax);
        return FALSE;
    }
    if (part->content_length > (gint64)f->max_bytes)
        return frame_too_long(f, error);
    return TRUE;
}

static gboolean frame_data(const guint8 *data, gsize len, gpointer user, GError **error)
{
    Frame *f = user;
    if (len > f->max_bytes - f->bytes->len)
        return frame_too_long(f, error);
    g_byte_array_append(f->bytes, data, (guint)len);
    return TRUE;
}

static gboolean frame_end(gpointer user, GError **error)
{
    ((Frame *)user)->parts++;
    return TRUE;
}

GBytes *dfs_wado_frame(DfsHttp *http, const char *url, guint n, const char *syntax,
                       gsize max_bytes, GError **error)
{
    static const DfsMultipartCallbacks cb = {frame_begin, frame_data, frame_end};
    g_autofree char *frame_url = g_strdup_printf("%s/frames/%u", url, n);
    Frame f = {syntax, MIN(max_bytes, (gsize)G_MAXUINT - 1), g_byte_array_new(), 0};
    DfsHttpResponse resp = {0};
    gboolean ok = retrieve(http, frame_url, accept_frames, &cb, &f, &resp, error);
    /* The server will not give this frame so (it has no frames resource,
     * or not for this instance, or not in its stored syntax): an answer,
     * not a failure to reach it. */
    static const int refusals[] = {400, 404, 406, 415, 500, 501};
    for (guint k = 0; !ok && k < G_N_ELEMENTS(refusals); k++)
        if (resp.status == refusals[k] && error != NULL && *error != NULL)
            (*error)->code = DFS_ERROR_UNSUPPORTED;
    dfs_http_response_clear(&resp);
    if (ok && f.parts != 1) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_MALFORMED, "%s: %u parts for one frame", frame_url,
                    f.parts);
        ok = FALSE;
    }
    if (!ok) {
        g_byte_array_unref(f.bytes);
        return NULL;
    }
    return g_byte_array_free_to_bytes(f.bytes);
}

/* --- a series --------------------------------------------------------------- */

typedef struct {
    const char *dir;
    DfsWadoPartFunc got;
    gpointer user;
    const gint *stop;
    int fd;          /* the part being written, or -1 */
    char *path;
    guint n;
} Series;

static gboolean series_begin(const DfsMultipartPart *part, gpointer user, GError **error)
{
    Series *s = user;
    g_free(s->path);
    s->path = g_strdup_printf("%s/.part-%d-series-%u-%u", s->dir, (int)getpid(),
                              GPOINTER_TO_UINT(g_thread_self()) & 0xffffffu, s->n++);
    s->fd = open(s->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (s->fd < 0) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "cache %s: %s", s->path, g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

static gboolean stopped(const Series *s, GError **error)
{
    if (s->stop == NULL || !g_atomic_int_get(s->stop))
        return FALSE;
    g_set_error_literal(error, DFS_ERROR, DFS_ERROR_IO, "series retrieve stopped");
    return TRUE;
}

static gboolean series_data(const guint8 *data, gsize len, gpointer user, GError **error)
{
    Series *s = user;
    return !stopped(s, error) && dfs_wado_write(data, len, &s->fd, error);
}

static gboolean series_end(gpointer user, GError **error)
{
    Series *s = user;
    gboolean ok = close(s->fd) == 0;
    s->fd = -1;
    if (!ok) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "cache %s: %s", s->path, g_strerror(errno));
        g_unlink(s->path);
        return FALSE;
    }
    return s->got(s->path, s->user, error) && !stopped(s, error);
}

gboolean dfs_wado_series(DfsHttp *http, const char *url, const char *dir, DfsWadoPartFunc got,
                         gpointer user, const gint *stop, GError **error)
{
    static const DfsMultipartCallbacks cb = {series_begin, series_data, series_end};
    Series s = {dir, got, user, stop, -1, NULL, 0};
    gboolean ok = retrieve(http, url, accept_dicom, &cb, &s, NULL, error);
    if (s.fd >= 0) { /* a part cut short */
        close(s.fd);
        g_unlink(s.path);
    }
    g_free(s.path);
    return ok;
}
