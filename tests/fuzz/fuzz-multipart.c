/* Fuzz target for the multipart reader and the Content-Type parser
 * (web/multipart.h).
 *
 * Input: one flags byte, a Content-Type value up to the first LF, then the
 * body.  The value is parsed (its media type in lower case, its parameters
 * listed); its boundary, or "dfs" when it has none, delimits the body, which
 * is read whole, in chunks of 1 to 64 bytes (from the flags) and, up to
 * 64 KiB, one byte at a time: the three reads give the same parts (headers,
 * Content-Length, data, complete or not) and the same outcome, and a
 * failure says why.  The reader never holds more than a header block of
 * input; within a part's data, never more than boundary + 3 bytes; and the
 * target keeps only digests, so memory stays bounded whatever the input.
 * See fuzz.h. */
#include <string.h>

#include "base/error.h"
#include "fuzz.h"
#include "web/multipart.h"

#define BYTES_MAX (64 * 1024)

/* What a read gave, as a digest of every event in order. */
typedef struct {
    GChecksum *events;
    guint begun, ended;
    gboolean in_part;
    gint64 length; /* of the open part */
    guint64 part_bytes;
} Seen;

static void note(Seen *s, const char *what, const void *data, gsize len)
{
    g_checksum_update(s->events, (const guchar *)what, (gssize)strlen(what) + 1);
    g_checksum_update(s->events, data, (gssize)len);
}

static gboolean on_begin(const DfsMultipartPart *part, gpointer user, GError **error)
{
    Seen *s = user;
    FUZZ_CHECK(!s->in_part && part->index == s->begun);
    FUZZ_CHECK(part->n_headers <= DFS_MULTIPART_MAX_HEADERS);
    FUZZ_CHECK(part->content_length >= -1);
    s->begun++;
    s->in_part = TRUE;
    s->length = part->content_length;
    s->part_bytes = 0;
    note(s, "begin", &part->content_length, sizeof part->content_length);
    for (guint k = 0; k < part->n_headers; k++) {
        FUZZ_CHECK(part->headers[k].name[0] != '\0');
        note(s, part->headers[k].name, part->headers[k].value, strlen(part->headers[k].value));
    }
    return TRUE;
}

/* Data is noted per byte run as a whole: chunking must not show. */
static gboolean on_data(const guint8 *data, gsize len, gpointer user, GError **error)
{
    Seen *s = user;
    FUZZ_CHECK(s->in_part && len > 0);
    s->part_bytes += len;
    FUZZ_CHECK(s->length < 0 || s->part_bytes <= (guint64)s->length);
    g_checksum_update(s->events, data, (gssize)len);
    return TRUE;
}

static gboolean on_end(gpointer user, GError **error)
{
    Seen *s = user;
    FUZZ_CHECK(s->in_part);
    FUZZ_CHECK(s->length < 0 || s->part_bytes == (guint64)s->length);
    s->in_part = FALSE;
    s->ended++;
    note(s, "end", NULL, 0);
    return TRUE;
}

static const DfsMultipartCallbacks callbacks = {on_begin, on_data, on_end};

/* Read body in chunks of `chunk` bytes (0: whole); the digest of what came
 * and of the outcome, to free. */
static char *read_body(const char *boundary, const guint8 *body, gsize len, gsize chunk)
{
    Seen s = {.events = g_checksum_new(G_CHECKSUM_SHA256)};
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsMultipart) mp = dfs_multipart_new(boundary, &callbacks, &s, &error);
    FUZZ_CHECK(mp != NULL);
    const gsize data_hold = strlen(boundary) + 3;
    guint64 fed = 0;
    gboolean ok = TRUE;
    for (gsize at = 0; at < len && ok; at += chunk) {
        gsize n = chunk == 0 || chunk > len - at ? len - at : chunk;
        ok = dfs_multipart_feed(mp, body + at, n, &error);
        fed += n;
        gsize held = dfs_multipart_held(mp);
        FUZZ_CHECK(held <= DFS_MULTIPART_MAX_HEADER_BYTES && held <= fed);
        if (ok && s.in_part)
            FUZZ_CHECK(held <= data_hold);
        if (chunk == 0)
            break;
    }
    if (!ok)
        FUZZ_CHECK_REASON(error);
    gboolean done = dfs_multipart_finish(mp, ok ? &error : NULL);
    FUZZ_CHECK(ok || !done);
    FUZZ_CHECK(done == dfs_multipart_closed(mp));
    FUZZ_CHECK(dfs_multipart_parts(mp) == s.ended && s.ended <= s.begun);
    FUZZ_CHECK(!done || !s.in_part);
    if (!done) {
        FUZZ_CHECK_REASON(error);
        FUZZ_CHECK(error->domain == DFS_ERROR);
        note(&s, "failed", &error->code, sizeof error->code);
        note(&s, error->message, NULL, 0);
    }
    char *digest = g_strdup(g_checksum_get_string(s.events));
    g_checksum_free(s.events);
    return digest;
}

/* The Content-Type parser's invariants; its boundary (owned by ct) or
 * NULL. */
static const char *check_content_type(const DfsContentType *ct)
{
    const char *media = dfs_content_type_media(ct);
    FUZZ_CHECK(strchr(media, '/') != NULL);
    g_autofree char *lower = g_ascii_strdown(media, -1);
    FUZZ_CHECK(strcmp(lower, media) == 0);
    guint n = dfs_content_type_n_params(ct);
    FUZZ_CHECK(n <= DFS_CONTENT_TYPE_MAX_PARAMS);
    const char *name, *value;
    for (guint k = 0; k < n; k++) {
        FUZZ_CHECK(dfs_content_type_nth_param(ct, k, &name, &value));
        FUZZ_CHECK(name[0] != '\0' && dfs_content_type_param(ct, name) == value);
    }
    FUZZ_CHECK(!dfs_content_type_nth_param(ct, n, &name, &value));
    g_autoptr(GError) error = NULL;
    const char *b = dfs_content_type_boundary(ct, &error);
    if (b == NULL)
        FUZZ_CHECK_REASON(error);
    else
        FUZZ_CHECK(strlen(b) >= 1 && strlen(b) <= DFS_MULTIPART_MAX_BOUNDARY);
    return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    gsize chunk = (gsize)(data[0] & 63) + 1;
    const guint8 *line = data + 1, *lf = memchr(line, '\n', size - 1);
    gsize line_len = lf != NULL ? (gsize)(lf - line) : size - 1;
    const guint8 *body = lf != NULL ? lf + 1 : data + size;
    gsize len = (gsize)(data + size - body);

    g_autofree char *value = g_strndup((const char *)line, line_len);
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsContentType) ct = dfs_content_type_parse(value, &error);
    const char *boundary = NULL;
    if (ct == NULL)
        FUZZ_CHECK_REASON(error);
    else
        boundary = check_content_type(ct);
    if (boundary == NULL)
        boundary = "dfs";

    g_autofree char *whole = read_body(boundary, body, len, 0);
    g_autofree char *chunks = read_body(boundary, body, len, chunk);
    FUZZ_CHECK(strcmp(whole, chunks) == 0);
    if (len <= BYTES_MAX) {
        g_autofree char *bytes = read_body(boundary, body, len, 1);
        FUZZ_CHECK(strcmp(whole, bytes) == 0);
    }
    return 0;
}
