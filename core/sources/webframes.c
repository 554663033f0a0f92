/* dicomfs core: frames fetched one by one.  See webframes.h. */
#include "sources/webframes.h"

#include "base/error.h"
#include "sources/wado.h"

struct _DfsWebFrames {
    DfsHttp *http;
    char *url;
    GMutex lock;         /* what follows */
    GHashTable *fetched; /* relpath -> frames of it fetched alone */
    guint refusals;      /* frames the server would not give (DFS_ERROR_UNSUPPORTED) */
    guint64 frames, failed, bytes;
};

DfsWebFrames *dfs_web_frames_new(DfsHttp *http, const char *url)
{
    DfsWebFrames *f = g_new0(DfsWebFrames, 1);
    f->http = http;
    f->url = g_strdup(url);
    g_mutex_init(&f->lock);
    f->fetched = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    return f;
}

void dfs_web_frames_free(DfsWebFrames *f)
{
    if (f == NULL)
        return;
    g_hash_table_unref(f->fetched);
    g_mutex_clear(&f->lock);
    g_free(f->url);
    g_free(f);
}

gboolean dfs_web_frames_alone(DfsWebFrames *f, const char *relpath)
{
    g_mutex_lock(&f->lock);
    guint n = GPOINTER_TO_UINT(g_hash_table_lookup(f->fetched, relpath));
    gboolean refused = f->refusals >= DFS_WEB_FRAMES_REFUSALS;
    g_mutex_unlock(&f->lock);
    return n < DFS_WEB_FRAMES_ALONE && !refused;
}

GBytes *dfs_web_frames_fetch(DfsWebFrames *f, const char *relpath, guint frame,
                             const char *syntax, gsize max_bytes, GError **error)
{
    g_mutex_lock(&f->lock);
    if (g_hash_table_size(f->fetched) >= DFS_WEB_FRAMES_TRACKED)
        g_hash_table_remove_all(f->fetched);
    guint n = GPOINTER_TO_UINT(g_hash_table_lookup(f->fetched, relpath));
    g_hash_table_insert(f->fetched, g_strdup(relpath), GUINT_TO_POINTER(n + 1));
    g_mutex_unlock(&f->lock);
    g_autofree char *url = g_strdup_printf("%s/%s", f->url, relpath);
    GBytes *bytes = dfs_wado_frame(f->http, url, frame + 1, syntax, max_bytes, error);
    g_mutex_lock(&f->lock);
    if (bytes != NULL) {
        f->frames++;
        f->bytes += g_bytes_get_size(bytes);
    } else if (error != NULL && g_error_matches(*error, DFS_ERROR, DFS_ERROR_UNSUPPORTED)) {
        /* Refused: this instance is read whole from now on, and after a
         * few refusals every instance is. */
        f->refusals++;
        g_hash_table_insert(f->fetched, g_strdup(relpath), GUINT_TO_POINTER(DFS_WEB_FRAMES_ALONE));
    } else {
        f->failed++;
    }
    g_mutex_unlock(&f->lock);
    return bytes;
}

void dfs_web_frames_write_status(DfsWebFrames *f, GString *out)
{
    g_mutex_lock(&f->lock);
    g_string_append_printf(out,
                           "frames fetched alone: %" G_GUINT64_FORMAT " (%" G_GUINT64_FORMAT
                           " bytes, %" G_GUINT64_FORMAT " failed, %u refused%s)\n",
                           f->frames, f->bytes, f->failed, f->refusals,
                           f->refusals >= DFS_WEB_FRAMES_REFUSALS ? ": instances read whole" : "");
    g_mutex_unlock(&f->lock);
}
