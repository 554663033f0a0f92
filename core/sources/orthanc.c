/* dicomfs core: Orthanc's REST API.  See orthanc.h. */
#include "sources/orthanc.h"

#include <string.h>
#include <yajl/yajl_parse.h>
#include <yajl/yajl_tree.h>

#include "base/error.h"

char *dfs_orthanc_id(const char *const *keys, guint n)
{
    g_autoptr(GString) joined = g_string_new(NULL);
    for (guint k = 0; k < n; k++)
        g_string_append_printf(joined, "%s%s", k ? "|" : "", keys[k]);
    g_autofree char *sum = g_compute_checksum_for_string(G_CHECKSUM_SHA1, joined->str, -1);
    return g_strdup_printf("%.8s-%.8s-%.8s-%.8s-%.8s", sum, sum + 8, sum + 16, sum + 24, sum + 32);
}

char *dfs_orthanc_version(DfsHttp *http, const char *root)
{
    g_autofree char *url = g_strconcat(root, "/system", NULL);
    g_autoptr(GBytes) body = dfs_http_get_bytes(http, url, NULL, 1u << 20, NULL, NULL);
    if (body == NULL)
        return NULL;
    gsize len;
    const char *data = g_bytes_get_data(body, &len);
    g_autofree char *text = g_strndup(data, len);
    yajl_val v = yajl_tree_parse(text, NULL, 0);
    static const char *version_path[] = {"Version", NULL}, *api_path[] = {"ApiVersion", NULL};
    yajl_val version = v ? yajl_tree_get(v, version_path, yajl_t_string) : NULL;
    char *out = version != NULL && yajl_tree_get(v, api_path, yajl_t_number) != NULL
                    ? g_strdup(YAJL_GET_STRING(version))
                    : NULL;
    yajl_tree_free(v);
    return out;
}

/* --- a series' instances, as they stream in ---------------------------------------
 *
 * [ {"FileSize": N, "MainDicomTags": {"SOPInstanceUID": "...", ...}, ...}, ... ]
 * Depth 1 is the array, 2 an instance, 3 and more what it nests. */

typedef struct {
    GHashTable *sizes;
    int depth;
    gboolean in_tags;      /* inside the instance's MainDicomTags */
    int want;              /* the next value: 1 FileSize, 2 SOPInstanceUID, 3 MainDicomTags */
    char *sop;
    gint64 size;
} Sizes;

static int on_start_map(void *ctx)
{
    Sizes *s = ctx;
    s->depth++;
    if (s->depth == 3 && s->want == 3)
        s->in_tags = TRUE;
    s->want = 0;
    return 1;
}

static int on_end_map(void *ctx)
{
    Sizes *s = ctx;
    if (s->depth == 3)
        s->in_tags = FALSE;
    if (s->depth == 2) { /* an instance is over */
        if (s->sop != NULL && s->size > 0)
            g_hash_table_insert(s->sizes, g_steal_pointer(&s->sop),
                                GSIZE_TO_POINTER((gsize)s->size));
        g_clear_pointer(&s->sop, g_free);
        s->size = 0;
    }
    s->depth--;
    s->want = 0;
    return 1;
}

static int on_start_array(void *ctx)
{
    Sizes *s = ctx;
    s->depth++;
    s->want = 0;
    return 1;
}

static int on_end_array(void *ctx)
{
    ((Sizes *)ctx)->depth--;
    return 1;
}

static int on_key(void *ctx, const unsigned char *key, size_t len)
{
    Sizes *s = ctx;
    s->want = 0;
#define IS(k) (len == sizeof(k) - 1 && memcmp(key, k, len) == 0)
    if (s->depth == 2 && IS("FileSize"))
        s->want = 1;
    else if (s->depth == 2 && IS("MainDicomTags"))
        s->want = 3;
    else if (s->depth == 3 && s->in_tags && IS("SOPInstanceUID"))
        s->want = 2;
#undef IS
    return 1;
}

static int on_integer(void *ctx, long long v)
{
    Sizes *s = ctx;
    if (s->want == 1)
        s->size = v;
    s->want = 0;
    return 1;
}

static int on_string(void *ctx, const unsigned char *v, size_t len)
{
    Sizes *s = ctx;
    if (s->want == 2 && len < 128) {
        g_free(s->sop);
        s->sop = g_strndup((const char *)v, len);
    }
    s->want = 0;
    return 1;
}

static int on_other(void *ctx)
{
    ((Sizes *)ctx)->want = 0;
    return 1;
}

static int on_bool(void *ctx, int v)
{
    (void)v;
    return on_other(ctx);
}

static int on_double(void *ctx, double v)
{
    (void)v;
    return on_other(ctx);
}

static const yajl_callbacks sizes_callbacks = {
    on_other, on_bool, on_integer, on_double, NULL, on_string,
    on_start_map, on_key, on_end_map, on_start_array, on_end_array,
};

static gboolean feed(const guint8 *data, gsize len, gpointer user, GError **error)
{
    yajl_handle y = user;
    if (yajl_parse(y, data, len) == yajl_status_ok)
        return TRUE;
    g_set_error(error, DFS_ERROR, DFS_ERROR_MALFORMED, "Orthanc's instance list is not JSON");
    return FALSE;
}

GHashTable *dfs_orthanc_series_sizes(DfsHttp *http, const char *root, const char *patient_id,
                                     const char *study, const char *series, GError **error)
{
    const char *keys[] = {patient_id, study, series};
    g_autofree char *id = dfs_orthanc_id(keys, 3);
    g_autofree char *url = g_strdup_printf("%s/series/%s/instances", root, id);
    Sizes s = {.sizes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL)};
    yajl_handle y = yajl_alloc(&sizes_callbacks, NULL, &s);
    DfsHttpResponse resp = {0};
    g_autoptr(GError) why = NULL;
    gboolean ok = dfs_http_get(http, url, NULL, NULL, feed, y, &resp, &why) &&
                  yajl_complete_parse(y) == yajl_status_ok;
    yajl_free(y);
    g_free(s.sop);
    if (!ok && resp.status == 404) { /* not under these keys: sizes learned at the first open */
        ok = TRUE;
        g_hash_table_remove_all(s.sizes);
    }
    dfs_http_response_clear(&resp);
    if (!ok) {
        if (why == NULL)
            g_set_error(&why, DFS_ERROR, DFS_ERROR_MALFORMED, "%s: not JSON", url);
        g_propagate_error(error, g_steal_pointer(&why));
        g_clear_pointer(&s.sizes, g_hash_table_unref);
    }
    return s.sizes;
}
