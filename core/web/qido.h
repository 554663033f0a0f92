/* dicomfs core: QIDO-RS results, read as they stream in (yajl), and paged
 * to their end.
 *
 * The parser reads a DICOM JSON array (application/dicom+json, PS3.18 F.2)
 * in pieces of any size and hands each object of the array to the caller as
 * soon as its closing brace is read, as a row of attributes: tag, VR and
 * values as text (strings as they are; numbers as the JSON text of the
 * number; a person name (F.2.2) as its Alphabetic, Ideographic and Phonetic
 * groups joined by '=' as in PS3.5 6.2, trailing empty groups dropped; null
 * as an empty value).  Sequence items (SQ) are read through (checked, not
 * kept: only their number is); BulkDataURI is kept, InlineBinary only noted
 * (never decoded).
 *
 * Untrusted input: memory is one row at a time.  A row (and anything between
 * two rows) may take at most max_row_bytes of the input (checked every
 * sixteenth of it, so a row up to 15/16 of the bound always passes), which
 * also bounds what yajl buffers for a token that spans pieces (a 100 MB
 * string is refused after max_row_bytes, not read); nesting is at most
 * DFS_QIDO_MAX_DEPTH deep.  Past either: DFS_ERROR_LIMIT.  Anything but an
 * array of objects of "GGGGEEEE" keys: DFS_ERROR_MALFORMED; input that ends
 * inside the array: DFS_ERROR_TRUNCATED.
 *
 * The pager GETs url?PARAMS&limit=L&offset=K for K = 0, then K + the rows
 * of each page, until a page has no rows (200 with [], or an empty body) or
 * the server answers 204 (PS3.18 8.3.4.4: no more results), or, where the
 * caller knows how many rows the server holds (a series row's Number of
 * Series Related Instances), until a short page brings the listing to that
 * count: on Orthanc the page past the end costs as much as the listing.  Pages are
 * never assumed full: a server may cap a page below `limit`, with or
 * without a `Warning: 299 ... "There are N additional results..."` header,
 * and paging goes on to the empty page all the same.  Rows are deduplicated
 * by the first value of uid_tag (Orthanc lists a study once per PatientID it
 * was stored under).  A failed page fails the listing: the rows already
 * handed over are then an incomplete listing, and the caller must not take
 * them for the whole.
 *
 * Costs: per listing, one request per page plus one for the end; memory is
 * one row plus a hash entry (the UID) per row for deduplication; per byte,
 * yajl's lexer. */
#pragma once

#include <glib.h>

#include "web/http.h"

G_BEGIN_DECLS

#define DFS_QIDO_MAX_DEPTH 64             /* JSON nesting, arrays and objects */
#define DFS_QIDO_MAX_ROW_BYTES (4u << 20) /* default bound of a row's input */
#define DFS_QIDO_LIMIT 1000               /* default page size asked */

/* One attribute of a row.  Everything points into the parser and lives
 * until the row function returns. */
typedef struct {
    guint32 tag;               /* (gggg << 16) | eeee */
    char vr[3];                /* "PN", "UI"...; "" when the object had none */
    guint n_values;            /* values in Value (0 without one) */
    const char *const *values; /* n_values strings; "" for null */
    guint n_items;             /* SQ: items in Value (read, not kept) */
    const char *bulk_data_uri; /* BulkDataURI, or NULL */
    gboolean inline_binary;    /* InlineBinary was given (not decoded) */
} DfsQidoAttr;

typedef struct {
    guint n_attrs;
    const DfsQidoAttr *attrs; /* in the order of the input */
    guint64 index;            /* of the row in its array (or its listing), from 0 */
} DfsQidoRow;

/* The attribute with tag in row (the first, if a hostile input repeats
 * it), or NULL. */
const DfsQidoAttr *dfs_qido_row_find(const DfsQidoRow *row, guint32 tag);

/* The first value of tag in row, or NULL when the row has no such
 * attribute or no value. */
const char *dfs_qido_row_string(const DfsQidoRow *row, guint32 tag);

/* A row has been read.  FALSE with error set stops the parse (or listing)
 * with that error. */
typedef gboolean (*DfsQidoRowFunc)(const DfsQidoRow *row, gpointer user, GError **error);

/* --- the parser ----------------------------------------------------------- */

typedef struct _DfsQidoParser DfsQidoParser;

/* A parser calling fn(row, user) for each row.  max_row_bytes: 0 for
 * DFS_QIDO_MAX_ROW_BYTES.  Free with dfs_qido_parser_free. */
DfsQidoParser *dfs_qido_parser_new(gsize max_row_bytes, DfsQidoRowFunc fn, gpointer user);

/* Read the next piece of the input.  FALSE with an error for bad input, a
 * limit passed, or the row function's error; the parser is then done. */
gboolean dfs_qido_parser_feed(DfsQidoParser *p, const guint8 *data, gsize len, GError **error);

/* The input is over: TRUE when it was one whole array, or nothing at all
 * (an empty body, as some servers send for no results). */
gboolean dfs_qido_parser_finish(DfsQidoParser *p, GError **error);

/* Rows handed over so far. */
guint64 dfs_qido_parser_rows(DfsQidoParser *p);

void dfs_qido_parser_free(DfsQidoParser *p);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(DfsQidoParser, dfs_qido_parser_free)

/* --- the pager -------------------------------------------------------------- */

typedef struct {
    const char *url;           /* e.g. BASE "/studies"; may hold a query already */
    const char *const *params; /* query parameters, URL-encoded ("includefield=00100010"),
                                  NULL-terminated, or NULL */
    guint limit;               /* rows asked per page; 0: DFS_QIDO_LIMIT */
    guint32 uid_tag;           /* rows deduplicated by this tag's first value; 0: none */
    gsize max_row_bytes;       /* 0: DFS_QIDO_MAX_ROW_BYTES */
    guint64 expected;          /* the rows the server said there are (a parent row's
                                  count), or 0: a page shorter than limit that
                                  brings the rows listed to exactly that ends
                                  the listing (the empty page is not asked
                                  for); any other count pages on to the end */
} DfsQidoQuery;

typedef struct {
    guint pages;        /* requests made, the final empty page included */
    guint64 rows;       /* rows handed to the function */
    guint64 duplicates; /* rows dropped as duplicates */
    guint short_pages;  /* pages with rows but fewer than asked (a server's cap) */
    char *warning;      /* the last Warning header seen, or NULL (the caller frees) */
} DfsQidoStats;

/* List every row of q's url, page by page, through fn (see the header
 * comment).  stats (may be NULL) is filled on failure too.  The row's index
 * counts the rows handed over, from 0.  A server that pages nowhere (a full
 * page of nothing but rows already seen: offset ignored) is an error,
 * DFS_ERROR_MALFORMED, rather than a listing that never ends.  FALSE with
 * the error of the first page that failed, with the URL and offset. */
gboolean dfs_qido_list(DfsHttp *http, const DfsQidoQuery *q, DfsQidoRowFunc fn, gpointer user,
                       DfsQidoStats *stats, GError **error);

G_END_DECLS
