/* dicomfs core: a DICOMweb source's bytes.  An instance's bytes are fetched
 * when first needed (a read of instance.dcm, of its tags/ or pixels) into
 * the bounded cache on disk (sources/webcache.h): on Orthanc from its REST
 * API's stored file, elsewhere by WADO-RS with `transfer-syntax=*` (the
 * stored bytes, never a transcoded copy; sources/wado.h).  A small series
 * is retrieved whole at the first look at one of its instances, a large
 * one for its instances' headers (sources/retrieve.h): one request a
 * series, not one an instance.  A frame of an instance known only by its
 * header copy is fetched alone (sources/webframes.h).  See dicomweb.c for
 * the catalog. */
#include "sources/dicomweb-private.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "sources/orthanc.h"
#include "sources/wado.h"

/* Series of at most this many instances (and an eighth of the cache) are
 * retrieved whole at the first look at one of them; the others' headers
 * are retrieved (sources/retrieve.h). */
#define SERIES_MAX_INSTANCES 256

/* How long a header wanted waits for a series' retrieve to bring it
 * before its instance is fetched alone. */
#define HEADER_WAIT_MS 2000

typedef struct {
    Web *w;
    const char *relpath; /* studies/S/series/S/instances/I */
} Fetch;

/* The stored file from Orthanc's REST API: 1 when fetched, 0 when it
 * failed (error set), -1 when no PatientID of its study gives an
 * identifier Orthanc knows (WADO-RS then). */
static int fetch_orthanc(Fetch *f, int fd, GError **error)
{
    g_auto(GStrv) parts = g_strsplit(f->relpath, "/", -1);
    if (g_strv_length(parts) != 6)
        return -1;
    g_autofree char *joined = dfs_web_patients_of(f->w, parts[1]);
    if (joined == NULL)
        return -1;
    g_auto(GStrv) pids = g_strsplit(joined, "\n", -1);
    for (guint k = 0; pids[k] != NULL; k++) {
        const char *keys[] = {pids[k], parts[1], parts[3], parts[5]};
        g_autofree char *id = dfs_orthanc_id(keys, 4);
        g_autofree char *url = g_strdup_printf("%s/instances/%s/file", dfs_web_orthanc_root(f->w), id);
        static const char *const headers[] = {"Accept: application/dicom",
                                              "Accept-Encoding: identity", NULL}; /* wado.c */
        DfsHttpResponse resp = {0};
        if ((lseek(fd, 0, SEEK_SET) != 0 || ftruncate(fd, 0) != 0)) {
            g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "cache: %s", g_strerror(errno));
            return 0;
        }
        gboolean ok = dfs_http_get(f->w->http, url, headers, NULL, dfs_wado_write, &fd, &resp, error);
        int status = resp.status;
        dfs_http_response_clear(&resp);
        if (ok)
            return 1;
        if (status != 404)
            return 0;
        g_clear_error(error); /* not under this PatientID */
    }
    return -1; /* not where its keys say: WADO-RS finds it */
}

static gboolean fetch_instance(int fd, gpointer user, GError **error)
{
    Fetch *f = user;
    /* A mount that showed its stored listing has not reached the server
     * yet: it does so now, once (is it an Orthanc?). */
    if (!g_atomic_int_get(&f->w->connected))
        dfs_web_connect(&f->w->base, NULL);
    int got = dfs_web_orthanc_root(f->w) != NULL ? fetch_orthanc(f, fd, error) : -1;
    if (got >= 0)
        return got == 1;
    if (lseek(fd, 0, SEEK_SET) != 0 || ftruncate(fd, 0) != 0) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "cache: %s", g_strerror(errno));
        return FALSE;
    }
    g_autofree char *url = g_strdup_printf("%s/%s", f->w->url, f->relpath);
    return dfs_wado_instance(f->w->http, url, fd, error);
}

/* Series node's instance is in is retrieved in one request when it is
 * wanted: whole (*keep DFS_KEEP_WHOLE) if it is small (at most
 * SERIES_MAX_INSTANCES, an eighth of the cache), else its headers; FALSE
 * for a series of one instance.  *prefix: studies/S/series/E. */
static gboolean series_keep(Web *w, const DfsIndex *idx, guint node, DfsKeep *keep,
                            char **prefix)
{
    guint series = dfs_index_parent(idx, node), n;
    const guint32 *kids = dfs_index_children(idx, series, &n);
    const char *relpath = dfs_index_relpath(idx, node), *cut = strstr(relpath, "/instances/");
    if (n < 2 || cut == NULL)
        return FALSE;
    guint64 total = 0;
    for (guint k = 0; k < n && n <= SERIES_MAX_INSTANCES; k++)
        total += dfs_index_size(idx, kids[k]);
    *keep = n <= SERIES_MAX_INSTANCES && total <= dfs_web_cache_max_bytes(w->cache) / 8
                ? DFS_KEEP_WHOLE
                : DFS_KEEP_HEADERS;
    *prefix = g_strndup(relpath, (gsize)(cut - relpath));
    return TRUE;
}

char *dfs_web_instance_path(DfsSource *src, const DfsIndex *idx, guint node, GError **error)
{
    Web *w = (Web *)src;
    Fetch f = {w, dfs_index_relpath(idx, node)};
    guint64 size;
    DfsKeep keep;
    g_autofree char *prefix = NULL;
    /* The first look at a small series brings all of it: one request a
     * series, not one an instance. */
    if (!dfs_web_cache_size(w->cache, f.relpath, &size) &&
        series_keep(w, idx, node, &keep, &prefix) && keep == DFS_KEEP_WHOLE)
        dfs_retriever_wait(w->retriever, prefix, keep, f.relpath, G_MAXUINT);
    g_autoptr(GError) why = NULL;
    char *path = dfs_web_cache_get(w->cache, f.relpath, fetch_instance, &f, &why);
    if (path == NULL) {
        dfs_web_note_error(w, why);
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "%s", why->message);
    }
    return path;
}

/* The cached file with relpath's attributes: the instance (*whole), or
 * its header copy; NULL when neither is cached. */
static char *cached_attributes(Web *w, const char *relpath, gboolean *whole)
{
    char *path = dfs_web_cache_lookup(w->cache, relpath);
    *whole = path != NULL;
    if (path == NULL) {
        g_autofree char *header_key = dfs_retriever_header_key(relpath);
        path = dfs_web_cache_lookup(w->cache, header_key);
    }
    return path;
}

/* The instance whole if it is cached, else its header copy, brought by
 * its series' retrieve (waiting HEADER_WAIT_MS at most for its part), else
 * the instance fetched alone. */
char *dfs_web_instance_header_path(DfsSource *src, const DfsIndex *idx, guint node,
                                      gboolean *whole, GError **error)
{
    Web *w = (Web *)src;
    const char *relpath = dfs_index_relpath(idx, node);
    char *path = cached_attributes(w, relpath, whole);
    DfsKeep keep;
    g_autofree char *prefix = NULL;
    if (path == NULL && series_keep(w, idx, node, &keep, &prefix) && keep == DFS_KEEP_HEADERS &&
        dfs_retriever_wait(w->retriever, prefix, keep, relpath, HEADER_WAIT_MS))
        path = cached_attributes(w, relpath, whole);
    if (path != NULL)
        return path;
    *whole = TRUE;
    return dfs_web_instance_path(src, idx, node, error);
}

/* Known by its header copy alone (not whole here: then every frame is
 * read from it), and the frames' policy lets it. */
gboolean dfs_web_frame_alone(DfsSource *src, const DfsIndex *idx, guint node)
{
    Web *w = (Web *)src;
    const char *relpath = dfs_index_relpath(idx, node);
    gboolean whole;
    g_autofree char *path = cached_attributes(w, relpath, &whole);
    return path != NULL && !whole && dfs_web_frames_alone(w->frames, relpath);
}

GBytes *dfs_web_fetch_frame(DfsSource *src, const DfsIndex *idx, guint node, guint frame,
                            const char *syntax, gsize max_bytes, GError **error)
{
    g_autoptr(GError) why = NULL;
    GBytes *bytes = dfs_web_frames_fetch(((Web *)src)->frames, dfs_index_relpath(idx, node), frame,
                                         syntax, max_bytes, &why);
    if (bytes != NULL)
        return bytes;
    gboolean refused = g_error_matches(why, DFS_ERROR, DFS_ERROR_UNSUPPORTED);
    if (!refused)
        dfs_web_note_error((Web *)src, why);
    g_set_error(error, DFS_ERROR, refused ? DFS_ERROR_UNSUPPORTED : DFS_ERROR_IO, "%s", why->message);
    return NULL;
}

void dfs_web_retrieve_failed(const GError *error, gpointer user)
{
    dfs_web_note_error(user, error);
}

gboolean dfs_web_instance_size(DfsSource *src, const DfsIndex *idx, guint node, guint64 *size)
{
    Web *w = (Web *)src;
    const char *relpath = dfs_index_relpath(idx, node);
    if (dfs_web_cache_size(w->cache, relpath, size))
        return TRUE;
    g_autofree char *header_key = dfs_retriever_header_key(relpath);
    return dfs_web_cache_size(w->cache, header_key, size); /* as long as the instance */
}
