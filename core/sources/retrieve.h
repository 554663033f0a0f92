/* dicomfs core: a DICOMweb series retrieved in one request, in the
 * background, its instances filed in the web cache as their parts come.
 *
 * A series' attribute files (each instance's tags/, header files, the
 * volume plan) want every instance's header: one WADO-RS request for the
 * whole series (PS3.18 10.4, `transfer-syntax=*`: the stored bytes), never
 * a request per instance.  What is kept of each part:
 *
 *   - DFS_KEEP_WHOLE: the instance, as if fetched alone (a series small
 *     enough for the cache: its pixels will be read too);
 *   - DFS_KEEP_HEADERS: its header copy (dfs_retriever_header_key): the
 *     part's bytes but its Pixel Data value, which is a hole (the file
 *     sparse, its length the instance's, so that the reader's checks of a
 *     native value against the file's length hold, and elements after it,
 *     trailing padding or signatures, are where they were).  An instance
 *     without Pixel Data, or with less than 64 KiB of it, is kept whole.
 *     Its pixels and instance.dcm are fetched alone when read.
 *
 * Why the whole series rather than WADO-RS /metadata: the attribute files
 * must equal those of a local mount of the same files, and DICOM JSON
 * cannot carry them (no group 0002, bulk values as links, DS and IS as
 * numbers, no character set of its own; Orthanc 1.7's /metadata leaves out
 * Pixel Data of compressed instances): README "DICOMweb servers".
 *
 * The headers of a series are retrieved from the second of its instances
 * wanted (a look at one instance costs that instance alone), and stop
 * when nobody has wanted one for 10 seconds (the rest of a large series
 * is not transferred for nothing); a later want starts it again, keeping
 * what came.  At most two retrieves run at once (the transport's other
 * connections stay for instances fetched alone).
 *
 * Costs: one request per series retrieved; a thread per running
 * retrieve; memory: a small entry per series retrieved; disk: each part
 * written once, then its pixel bytes punched out (FALLOC_FL_PUNCH_HOLE). */
#pragma once

#include <glib.h>

#include "sources/webcache.h"
#include "web/http.h"

G_BEGIN_DECLS

typedef enum { DFS_KEEP_WHOLE, DFS_KEEP_HEADERS } DfsKeep;

typedef struct _DfsRetriever DfsRetriever;

/* Told of a retrieve that failed (not one stopped idle or at the end). */
typedef void (*DfsRetrieveErrorFunc)(const GError *error, gpointer user);

/* Retrieves from base_url (no trailing '/') into cache; a retrieve of
 * headers stops after idle_ms without a want (0: DFS_RETRIEVE_IDLE_MS).
 * Free with dfs_retriever_free, before http and cache. */
#define DFS_RETRIEVE_IDLE_MS 10000
DfsRetriever *dfs_retriever_new(DfsHttp *http, DfsWebCache *cache, const char *base_url,
                                guint idle_ms, DfsRetrieveErrorFunc on_error, gpointer user);

/* Stops the running retrieves and waits for their threads. */
void dfs_retriever_free(DfsRetriever *r);

/* The cache key of instance relpath's header copy (caller frees). */
char *dfs_retriever_header_key(const char *relpath);

/* Instance relpath of series prefix (studies/S/series/E) wanted: the
 * series' retrieve, keeping keep, is started unless it ran already, runs,
 * or (DFS_KEEP_HEADERS) this is the first instance of it wanted; then this
 * waits until the instance is in the cache (whole, or with
 * DFS_KEEP_HEADERS its header copy), the retrieve has ended, or wait_ms
 * has passed (G_MAXUINT: until the retrieve ends, which the transport
 * bounds).  TRUE when it is there. */
gboolean dfs_retriever_wait(DfsRetriever *r, const char *prefix, DfsKeep keep,
                            const char *relpath, guint wait_ms);

typedef struct {
    guint64 whole, headers;      /* retrieves started, by what they keep */
    guint64 stopped_idle, failed;
    guint64 parts_whole, parts_header; /* instances kept whole, as header copies */
} DfsRetrieverStats;

void dfs_retriever_stats(DfsRetriever *r, DfsRetrieverStats *out);

G_END_DECLS
