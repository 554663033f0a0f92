/* dicomfs core: a streaming reader of multipart bodies (RFC 2046 5.1,
 * multipart/related of RFC 2387), as DICOMweb's WADO-RS sends instances
 * and frames (PS3.18 8.7.3), and the parser of the Content-Type value that
 * names its boundary.
 *
 * The reader is fed the body in chunks of any size (one byte at a time
 * gives the same parts as the whole body at once) and hands each part to
 * the caller as it comes: its headers, its data in pieces, its end.  A part
 * is complete only when the delimiter after it has been read, so a body cut
 * mid-transfer (a server killed, a connection dropped; a series retrieve is
 * delimited by the end of the connection alone) is told from a whole one
 * by dfs_multipart_finish(), which fails unless the closing delimiter
 * `--boundary--` came.
 *
 * The rules read (RFC 2046 5.1.1): a delimiter is CRLF "--" boundary at
 * the start of a line, then optional spaces or tabs (transport padding)
 * and CRLF before a part, or "--" for the closing one.  The preamble before
 * the first delimiter and the epilogue after the closing one are ignored;
 * the first delimiter may also open the body with no CRLF before it.  Part
 * headers are RFC 822 lines up to an empty line (a bare LF ends a line as
 * CRLF does; folded lines are joined).  A part that declares Content-Length
 * gets exactly that many bytes without looking for the boundary in them
 * (a part may then contain the boundary), and the delimiter must follow at
 * once; a part without one ends at the first delimiter.  Anything else
 * where a delimiter must be is an error, as is the boundary followed by
 * anything but padding, CRLF or "--" (RFC 2046 forbids a boundary inside a
 * part).  A body with no part at all ("--b--") is accepted;
 * dfs_multipart_parts() tells.
 *
 * Costs: linear in the input, each byte looked at a bounded number of
 * times (the delimiter begins with CR, which the boundary cannot contain,
 * so a failed partial match never has to be rescanned).  Part data goes to
 * the caller without a copy, straight from the chunk fed.  Memory is fixed
 * whatever the size of parts and body: the reader's struct, its delimiter,
 * one buffer of DFS_MULTIPART_MAX_HEADER_BYTES for a part's header block and
 * room for DFS_MULTIPART_MAX_HEADERS headers.  Of the data of a part
 * without Content-Length, at most the delimiter's length minus one bytes
 * (boundary + 3) are held back at any time: bytes that may begin the
 * delimiter. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* RFC 2046 5.1.1: a boundary is 1 to 70 characters. */
#define DFS_MULTIPART_MAX_BOUNDARY 70
/* Limits on untrusted input: one part's header block (every line with its
 * line end, and the empty line that closes it) and its number of header
 * lines (folded lines count once). */
#define DFS_MULTIPART_MAX_HEADER_BYTES 16384
#define DFS_MULTIPART_MAX_HEADERS 64
/* Parameters of one Content-Type value. */
#define DFS_CONTENT_TYPE_MAX_PARAMS 32

/* --- Content-Type (RFC 2045 5.1) ---------------------------------------- */

typedef struct _DfsContentType DfsContentType;

/* Parse a Content-Type header value: `type/subtype` then `; name=value`
 * parameters, a value either a token or an RFC 822 quoted string (a
 * backslash quotes the next character; ';' and spaces may be inside), with
 * spaces allowed around every separator.  An unquoted value runs to the next
 * ';' or space, so `type=application/dicom` is read as servers mean it.
 * The media type and the parameter names are case-insensitive and are kept
 * in lower case; values are kept as written, unquoted.  NULL with
 * DFS_ERROR_MALFORMED for a missing type or subtype, an unterminated quoted
 * string, a parameter without '=', text where ';' must be, a parameter
 * given twice, a control character or non-ASCII byte outside a quoted
 * string; DFS_ERROR_LIMIT past DFS_CONTENT_TYPE_MAX_PARAMS.  RFC 2231
 * continuations (`name*0=`) are not joined: they are ordinary names.  Free
 * with dfs_content_type_free. */
DfsContentType *dfs_content_type_parse(const char *value, GError **error);

/* "type/subtype" in lower case ("multipart/related").  Owned by ct. */
const char *dfs_content_type_media(const DfsContentType *ct);

/* The value of the parameter name (matched case-insensitively), or NULL
 * when it is absent.  Owned by ct. */
const char *dfs_content_type_param(const DfsContentType *ct, const char *name);

/* The number of parameters, and the k-th (0-based, in the order written):
 * its name (lower case) and value, owned by ct.  FALSE when k is past
 * the end. */
guint dfs_content_type_n_params(const DfsContentType *ct);
gboolean dfs_content_type_nth_param(const DfsContentType *ct, guint k, const char **name,
                                    const char **value);

/* The boundary of a multipart type: the `boundary` parameter, checked.
 * NULL with DFS_ERROR_MALFORMED when the type is not multipart/..., the
 * parameter is absent, or it is not 1 to DFS_MULTIPART_MAX_BOUNDARY
 * characters of printable ASCII not ending in a space.  (RFC 2046 lists a
 * narrower set of characters; the reader needs only that CR and LF are
 * absent, so a server's unusual choice is not refused.)  Owned by ct. */
const char *dfs_content_type_boundary(const DfsContentType *ct, GError **error);

void dfs_content_type_free(DfsContentType *ct);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(DfsContentType, dfs_content_type_free)

/* --- the reader ------------------------------------------------------------- */

/* One header line of a part, its name as written (look it up with
 * dfs_multipart_header_get, case-insensitively) and its value without
 * the spaces around it. */
typedef struct {
    const char *name;
    const char *value;
} DfsMultipartHeader;

/* A part beginning.  Everything in it belongs to the reader and lives until
 * the function returns. */
typedef struct {
    guint index; /* 0 for the first part */
    const DfsMultipartHeader *headers;
    guint n_headers;
    gint64 content_length; /* as declared, or -1 when the part has none */
} DfsMultipartPart;

/* What the reader calls, on the thread that feeds it, in this order for
 * each part: begin once, data zero or more times (never with len 0), end
 * once when the delimiter after the part has been read in full.  A part
 * whose end is not called is incomplete: when the body fails, the caller
 * drops what it kept of that part.  Each may be NULL.  Returning FALSE
 * stops the reader: set error (the reader's feed or finish returns it;
 * without one, a DFS_ERROR_IO "stopped by the caller" is made).  None may
 * free the reader. */
typedef struct {
    gboolean (*part_begin)(const DfsMultipartPart *part, gpointer user, GError **error);
    /* data points into the chunk fed or into the reader; it lives until
     * the function returns. */
    gboolean (*part_data)(const guint8 *data, gsize len, gpointer user, GError **error);
    gboolean (*part_end)(gpointer user, GError **error);
} DfsMultipartCallbacks;

typedef struct _DfsMultipart DfsMultipart;

/* A reader of a body delimited by boundary (from dfs_content_type_boundary;
 * checked again here: NULL with DFS_ERROR_MALFORMED when it is bad).  cb is
 * copied; user is passed to every callback.  Free with dfs_multipart_free. */
DfsMultipart *dfs_multipart_new(const char *boundary, const DfsMultipartCallbacks *cb,
                                gpointer user, GError **error);

/* Read the next len bytes of the body (len 0 does nothing), calling back
 * as parts come.  FALSE with an error when the body is malformed
 * (DFS_ERROR_MALFORMED: text where a delimiter must be, a bad header line or
 * Content-Length), past a limit (DFS_ERROR_LIMIT) or a callback failed (its
 * error); the reader then stays failed, and every later feed or finish
 * returns the same error.  Bytes after the closing delimiter are ignored. */
gboolean dfs_multipart_feed(DfsMultipart *mp, const guint8 *data, gsize len, GError **error);

/* The body has ended: TRUE when the closing delimiter came.  Otherwise
 * FALSE with DFS_ERROR_TRUNCATED (no delimiter at all, the body cut inside
 * a part, its headers or a delimiter, or a part shorter than its
 * Content-Length) or the reader's earlier error.  Call it once; no feed
 * after it. */
gboolean dfs_multipart_finish(DfsMultipart *mp, GError **error);

/* Parts completed so far (their end called). */
guint dfs_multipart_parts(const DfsMultipart *mp);

/* TRUE once the closing delimiter has been read: the rest is epilogue, and
 * the caller may stop reading the body. */
gboolean dfs_multipart_closed(const DfsMultipart *mp);

/* Bytes of input held now and not yet handed on: a header block being
 * gathered, or the bytes that may begin a delimiter.  Never more than
 * DFS_MULTIPART_MAX_HEADER_BYTES, and at most boundary + 3 within a part's
 * data (for tests and fuzzing: memory stays bounded). */
gsize dfs_multipart_held(const DfsMultipart *mp);

/* NULL is ignored. */
void dfs_multipart_free(DfsMultipart *mp);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(DfsMultipart, dfs_multipart_free)

/* The value of the first header called name (case-insensitively) among
 * the n headers, or NULL. */
const char *dfs_multipart_header_get(const DfsMultipartHeader *headers, guint n, const char *name);

G_END_DECLS
