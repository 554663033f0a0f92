/* dicomfs core: a DICOMweb server (PS3.18) as a source.
 *
 *   dicomfs https://pacs.example.org/dicom-web MNT
 *
 * The catalog comes from QIDO-RS, level by level: every study (paged to
 * the end, deduplicated by UID; patients are derived from the study rows,
 * as QIDO has no patient level), then each study's series, then each
 * series' instances, each query asking for the attributes the catalog's
 * columns need (includefield).  An instance's facts are its study, series
 * and instance rows made into one header (sources/dicomjson.h) and read by
 * our own reader, so names follow the same rules as a folder's.  Its path
 * in the catalog is its WADO-RS path under the base URL:
 *   studies/<StudyInstanceUID>/series/<SeriesInstanceUID>/instances/<SOPInstanceUID>
 * Studies, series and instances are listed in UID order, so that names
 * (which depend on filing order) are the same on every run.
 *
 * An instance's bytes are fetched when first needed (a read of
 * instance.dcm, of its tags/ or pixels) into a bounded cache on disk
 * (sources/webcache.h): by WADO-RS with `transfer-syntax=*` (the stored
 * bytes, never a transcoded copy), a multipart/related body read as it
 * streams (web/multipart.h), complete only when its closing boundary came;
 * a series in one request, a frame alone where that is the cheaper
 * (dicomweb-fetch.c).
 *
 * Orthanc (found by GET <root>/system, where <root> is the base URL less
 * its last path segment, or forced with -o orthanc): its REST API lists a
 * series' instances with their exact FileSize (one request per series), so
 * instance.dcm has its true size before anything is read, and serves the
 * stored file at /instances/<id>/file, far faster than WADO-RS.  Its
 * identifiers are SHA-1 hashes of the UIDs (the Orthanc Book, "Orthanc
 * identifiers"), so none is looked up.  Elsewhere an instance's size is 0
 * until its first open fetches it (never a guessed size).
 *
 * Failures: a listing that fails fails the scan (the tree already shown,
 * from the persistent index, stays: offline_tree); a fetch that fails is
 * DFS_ERROR_IO (EIO for the reader), after the transport's retries, in a
 * bounded time (web/http.h); the next read tries again.
 *
 * Costs: requests: one per page of studies, one per study, one per series
 * (two on Orthanc); memory: the study and series rows of the study being
 * listed, one series' instance rows, and a small entry per Orthanc
 * instance (its REST identifier is derived, not stored). */
#include "sources/dicomweb-private.h"

#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "dicom/reader.h"
#include "sources/dicomjson.h"
#include "sources/orthanc.h"
#include "web/qido.h"

extern const DfsSourceClass dfs_source_dicomweb;

#define TAG_STUDY_UID 0x0020000Du
#define TAG_SERIES_UID 0x0020000Eu
#define TAG_SOP_UID 0x00080018u
#define TAG_STUDY_DATE 0x00080020u
#define TAG_STUDY_TIME 0x00080030u
#define TAG_STUDY_SERIES 0x00201206u     /* Number of Study Related Series */
#define TAG_SERIES_INSTANCES 0x00201209u /* Number of Series Related Instances */

/* Rows asked in one QIDO page at most (a series' instances are asked in
 * one page where the series row says how many there are). */
#define PAGE_MAX 50000

/* How long a listing of a folder waits for its study or series to be
 * listed (Orthanc took 108 s for a series of 16,000 instances). */
#define EXPAND_WAIT_S 600

/* How long a folder listed already (its snapshot perhaps not yet shown, or
 * empty on the server) waits for the next snapshot. */
#define DONE_WAIT_MS 2000

/* A listing's request is given up when less than 1 KB/s came for this long
 * (Orthanc's deep QIDO pages of a 16,000-instance series took up to 30 s
 * before their first byte). */
#define LIST_LOW_SPEED_S 300




/* --- rows kept -------------------------------------------------------------- */

/* A QIDO row copied out of the parser (which keeps it only while its
 * function runs). */
typedef struct {
    DfsQidoRow q;   /* its attributes, owned here */
    char *uid;
    char **strings; /* everything the attributes point to, to free */
} Row;

static Row *row_copy(const DfsQidoRow *r, guint32 uid_tag)
{
    Row *row = g_new0(Row, 1);
    DfsQidoAttr *attrs = g_new0(DfsQidoAttr, r->n_attrs);
    row->q = (DfsQidoRow){r->n_attrs, attrs, r->index};
    GPtrArray *strings = g_ptr_array_new();
    for (guint k = 0; k < r->n_attrs; k++) {
        const DfsQidoAttr *a = &r->attrs[k];
        DfsQidoAttr *c = &attrs[k];
        *c = *a;
        const char **values = g_new0(const char *, a->n_values + 1);
        for (guint v = 0; v < a->n_values; v++) {
            values[v] = g_strdup(a->values[v]);
            g_ptr_array_add(strings, (char *)values[v]);
        }
        c->values = values;
        g_ptr_array_add(strings, values);
        if (a->bulk_data_uri != NULL) {
            c->bulk_data_uri = g_strdup(a->bulk_data_uri);
            g_ptr_array_add(strings, (char *)c->bulk_data_uri);
        }
    }
    g_ptr_array_add(strings, NULL);
    row->strings = (char **)g_ptr_array_free(strings, FALSE);
    const char *uid = dfs_qido_row_string(r, uid_tag);
    row->uid = g_strdup(uid != NULL ? uid : "");
    return row;
}

static void row_free(gpointer p)
{
    Row *row = p;
    g_strfreev(row->strings);
    g_free((DfsQidoAttr *)row->q.attrs);
    g_free(row->uid);
    g_free(row);
}

static const char *row_string(const Row *row, guint32 tag)
{
    return dfs_qido_row_string(&row->q, tag);
}

/* A count the row gives (Number of Study Related Series...), or 0 when it
 * gives none. */
static guint64 row_count(const Row *row, guint32 tag)
{
    const char *count = row_string(row, tag);
    return count != NULL ? g_ascii_strtoull(count, NULL, 10) : 0;
}

static gint row_by_uid(gconstpointer a, gconstpointer b)
{
    return strcmp((*(Row *const *)a)->uid, (*(Row *const *)b)->uid);
}

static gboolean same_uid(gconstpointer a, gconstpointer b)
{
    return strcmp(((const Row *)a)->uid, ((const Row *)b)->uid) == 0;
}

typedef struct {
    GPtrArray *rows;
    guint32 uid_tag;
} Rows;

static gboolean keep_row(const DfsQidoRow *r, gpointer user, GError **error)
{
    (void)error;
    Rows *rows = user;
    if (dfs_qido_row_string(r, rows->uid_tag) != NULL) /* a row without its UID names nothing */
        g_ptr_array_add(rows->rows, row_copy(r, rows->uid_tag));
    return TRUE;
}

/* Every row of url (paged to the end), in UID order; NULL with an error.
 * expected: the rows the server said there are (0: not said): the page
 * asked is then large enough for all of them (Orthanc's cost of a page
 * grows with its offset: a 16,000-instance series took 141 s in pages of
 * 1,000, 55 s in one), within a bound. */
static GPtrArray *list_rows(Web *w, const char *url, DfsLevel level, guint32 uid_tag,
                            guint64 expected, GError **error)
{
    GPtrArray *params = g_ptr_array_new_with_free_func(g_free);
    for (guint k = 0; k < w->n_tags[level]; k++)
        g_ptr_array_add(params, g_strdup_printf("includefield=%08X", w->tags[level][k]));
    g_ptr_array_add(params, NULL);
    Rows rows = {g_ptr_array_new_with_free_func(row_free), uid_tag};
    DfsQidoQuery q = {.url = url, .params = (const char *const *)params->pdata, .uid_tag = uid_tag,
                      .limit = (guint)CLAMP(expected + 1, DFS_QIDO_LIMIT, PAGE_MAX),
                      .expected = expected};
    gboolean ok = dfs_qido_list(w->list_http, &q, keep_row, &rows, NULL, error);
    g_ptr_array_unref(params);
    if (!ok) {
        g_ptr_array_unref(rows.rows);
        return NULL;
    }
    g_ptr_array_sort(rows.rows, row_by_uid);
    return rows.rows;
}

/* --- listing the catalog ---------------------------------------------------- */

/* StudyDate and StudyTime as a time (local), or 0: an instance's version,
 * the same on every listing. */
static gint64 study_time_ns(const Row *study)
{
    const char *date = row_string(study, TAG_STUDY_DATE), *time = row_string(study, TAG_STUDY_TIME);
    int y, mo, d, h = 0, mi = 0, s = 0;
    if (date == NULL || sscanf(date, "%4d%2d%2d", &y, &mo, &d) != 3)
        return 0;
    if (time != NULL)
        sscanf(time, "%2d%2d%2d", &h, &mi, &s);
    g_autoptr(GDateTime) t = g_date_time_new_local(y, mo, d, MIN(h, 23), MIN(mi, 59), MIN(s, 59));
    return t != NULL ? g_date_time_to_unix(t) * G_GINT64_CONSTANT(1000000000) : 0;
}

typedef struct {
    Web *w;
    DfsScanFound found;
    gpointer scan;
    DfsDicomJson *json;
    GString *header;
    gboolean stopped;
} Lister;

/* The facts of rows made into one header (the first row's value of a tag
 * wins), or NULL and why not. */
static DfsFacts *facts_of(Lister *l, const Row *const *rows, guint n, char **reason)
{
    dfs_dicomjson_clear(l->json);
    for (guint r = 0; r < n; r++)
        dfs_dicomjson_add_row(l->json, &rows[r]->q);
    g_autoptr(GError) error = NULL;
    DfsFacts *facts = NULL;
    if (dfs_dicomjson_encode(l->json, NULL, l->header, &error)) {
        g_autoptr(GBytes) bytes = g_bytes_new_static(l->header->str, l->header->len);
        g_autoptr(DfsDataset) ds = dfs_read_bytes(bytes, DFS_READ_HEADER_ONLY, &error);
        if (ds != NULL)
            facts = dfs_facts_new_described(ds);
    }
    if (facts == NULL)
        *reason = g_strdup_printf("the server's description of it is not usable: %s",
                                  error->message);
    return facts;
}

/* A listed entry's version: no size (sizes are the instances'), the
 * study's time. */
static void listed_stat(struct stat *st, const Row *study, guint64 size)
{
    *st = (struct stat){.st_mode = S_IFREG | 0444, .st_size = (off_t)size};
    st->st_mtim.tv_sec = study_time_ns(study) / 1000000000;
}

/* A study's folders, before its series and instances are listed. */
static void list_study_folder(Lister *l, const Row *study)
{
    g_autofree char *relpath = g_strdup_printf("studies/%s", study->uid), *reason = NULL;
    DfsFacts *facts = facts_of(l, &study, 1, &reason);
    if (facts == NULL)
        return; /* its instances say why */
    dfs_facts_mark_folder(facts, DFS_LEVEL_STUDY);
    struct stat st;
    listed_stat(&st, study, 0);
    l->stopped = !l->found(l->scan, relpath, &st, facts, NULL);
}

/* One instance: its facts from its rows, to the scan. */
static void list_instance(Lister *l, const Row *study, const Row *series, const Row *inst,
                          GHashTable *sizes)
{
    g_autofree char *relpath = g_strdup_printf("studies/%s/series/%s/instances/%s", study->uid,
                                               series->uid, inst->uid);
    g_autofree char *reason = NULL;
    const Row *rows[] = {inst, series, study};
    DfsFacts *facts = facts_of(l, rows, 3, &reason);
    gpointer size = sizes != NULL ? g_hash_table_lookup(sizes, inst->uid) : NULL;
    struct stat st;
    listed_stat(&st, study, GPOINTER_TO_SIZE(size));
    if (facts != NULL)
        l->stopped = !l->found(l->scan, relpath, &st, facts, NULL);
    else
        l->stopped = !l->found(l->scan, relpath, NULL, NULL, reason);
}

/* A series' instances. */
static gboolean list_instances(Lister *l, const Row *study, const Row *series, GError **error)
{
    Web *w = l->w;
    g_autofree char *url = g_strdup_printf("%s/studies/%s/series/%s/instances", w->url, study->uid,
                                           series->uid);
    g_autoptr(GPtrArray) insts = list_rows(w, url, DFS_LEVEL_INSTANCE, TAG_SOP_UID,
                                           row_count(series, TAG_SERIES_INSTANCES), error);
    if (insts == NULL)
        return FALSE;
    g_autoptr(GHashTable) sizes = NULL;
    if (dfs_web_orthanc_root(w) != NULL) {
        const char *pid = row_string(study, TAG_PATIENT_ID);
        sizes = dfs_orthanc_series_sizes(w->list_http, w->orthanc, pid != NULL ? pid : "", study->uid,
                                         series->uid, error);
        if (sizes == NULL)
            return FALSE;
    }
    for (guint k = 0; k < insts->len && !l->stopped; k++)
        list_instance(l, study, series, insts->pdata[k], sizes);
    g_mutex_lock(&w->lock);
    w->listed_series++;
    w->listed_instances += insts->len;
    g_mutex_unlock(&w->lock);
    return TRUE;
}

/* A series' folders, before its instances are listed. */
static void list_series_folder(Lister *l, const Row *study, const Row *series)
{
    g_autofree char *relpath = g_strdup_printf("studies/%s/series/%s", study->uid, series->uid);
    g_autofree char *reason = NULL;
    const Row *rows[] = {series, study};
    DfsFacts *facts = facts_of(l, rows, 2, &reason);
    if (facts == NULL)
        return; /* its instances say why */
    dfs_facts_mark_folder(facts, DFS_LEVEL_SERIES);
    struct stat st;
    listed_stat(&st, study, 0);
    l->stopped = !l->found(l->scan, relpath, &st, facts, NULL);
}

/* What a listing knows: the studies, and the series of those whose series
 * are listed, in the order they are listed further. */
typedef struct {
    const Row *study, *series;
} SeriesRef;

typedef struct {
    GPtrArray *studies;     /* Row, in UID order */
    guint next_study;       /* the next whose series to list */
    GPtrArray *series_rows; /* Row, owned */
    GArray *series;         /* SeriesRef, in the order listed */
    GHashTable *series_at;  /* series UID -> its place in series, plus 1 */
    guint next_series;      /* the next whose instances to list */
} Crawl;

/* A study's series: their folders filed (shown empty), each to be listed
 * further. */
static gboolean list_study_series(Lister *l, Crawl *c, const Row *study, GError **error)
{
    Web *w = l->w;
    g_autofree char *url = g_strdup_printf("%s/studies/%s/series", w->url, study->uid);
    g_autoptr(GPtrArray) series = list_rows(w, url, DFS_LEVEL_SERIES, TAG_SERIES_UID,
                                            row_count(study, TAG_STUDY_SERIES), error);
    if (series == NULL)
        return FALSE;
    for (guint k = 0; k < series->len && !l->stopped; k++) {
        Row *row = series->pdata[k];
        if (g_hash_table_contains(c->series_at, row->uid))
            continue; /* a UID in two studies: its first */
        list_series_folder(l, study, row);
        g_ptr_array_add(c->series_rows, row);
        series->pdata[k] = NULL;
        SeriesRef ref = {study, row};
        g_array_append_val(c->series, ref);
        g_hash_table_insert(c->series_at, row->uid, GUINT_TO_POINTER(c->series->len));
    }
    g_ptr_array_set_free_func(series, NULL);
    for (guint k = 0; k < series->len; k++)
        if (series->pdata[k] != NULL)
            row_free(series->pdata[k]);
    g_mutex_lock(&w->lock);
    w->listed_studies++;
    g_mutex_unlock(&w->lock);
    return TRUE;
}

void dfs_web_note_error(Web *w, const GError *error)
{
    g_mutex_lock(&w->lock);
    g_free(w->last_error);
    w->last_error = g_strdup(error->message);
    g_mutex_unlock(&w->lock);
}

/* The next thing to list (lock held): a study or series someone waits
 * for; else the next study's series (every study's before any instance);
 * else the next series' instances.  *study, and *series for instances;
 * FALSE when everything is listed. */
static gboolean next_work(Web *w, Crawl *c, const Row **study, const SeriesRef **series)
{
    *study = NULL;
    *series = NULL;
    while (!g_queue_is_empty(&w->wanted)) {
        g_autofree char *want = g_queue_pop_head(&w->wanted); /* "S" or "E", then the UID */
        const char *uid = want + 1;
        if (want[0] == 'E') {
            guint at = GPOINTER_TO_UINT(g_hash_table_lookup(c->series_at, uid));
            if (at != 0 && !g_hash_table_contains(w->series_done, uid)) {
                *series = &g_array_index(c->series, SeriesRef, at - 1);
                return TRUE;
            }
            continue;
        }
        Row key = {.uid = (char *)uid}, *keyp = &key;
        guint at;
        if (!g_hash_table_contains(w->studies_done, uid) &&
            g_ptr_array_find_with_equal_func(c->studies, keyp, same_uid, &at)) {
            *study = c->studies->pdata[at];
            return TRUE;
        }
    }
    while (c->next_study < c->studies->len) {
        const Row *r = c->studies->pdata[c->next_study++];
        if (!g_hash_table_contains(w->studies_done, r->uid)) {
            *study = r;
            return TRUE;
        }
    }
    while (c->next_series < c->series->len) {
        const SeriesRef *r = &g_array_index(c->series, SeriesRef, c->next_series++);
        if (!g_hash_table_contains(w->series_done, r->series->uid)) {
            *series = r;
            return TRUE;
        }
    }
    return FALSE;
}

/* Every study first (the patients and studies shown at once, empty), then
 * every study's series (shown empty), then each series' instances; a study
 * or series someone opens is listed next. */
/* Orthanc's identifiers start with the PatientID, and Orthanc keeps a
 * study UID stored under two PatientIDs as two studies: every PatientID a
 * study was listed under is kept (joined by newlines), and each tried. */
static void add_patient(Web *w, const char *study, const char *pid)
{
    pid = pid != NULL ? pid : "";
    g_mutex_lock(&w->lock);
    const char *had = g_hash_table_lookup(w->patient_of_study, study);
    gboolean known = FALSE;
    if (had != NULL) {
        g_auto(GStrv) pids = g_strsplit(had, "\n", -1);
        known = g_strv_contains((const char *const *)pids, pid);
    }
    if (!known)
        g_hash_table_replace(w->patient_of_study, g_strdup(study),
                             had != NULL ? g_strconcat(had, "\n", pid, NULL) : g_strdup(pid));
    g_mutex_unlock(&w->lock);
}

static gboolean study_patient_row(const DfsQidoRow *row, gpointer user, GError **error)
{
    Web *w = ((gpointer *)user)[0];
    const char *study = ((gpointer *)user)[1];
    const char *uid = dfs_qido_row_string(row, TAG_STUDY_UID);
    if (uid != NULL && strcmp(uid, study) == 0)
        add_patient(w, study, dfs_qido_row_string(row, TAG_PATIENT_ID));
    return TRUE;
}

/* The PatientIDs of study (joined by newlines; caller frees): as listed in
 * this mount, else asked of the server (one query, its rows not
 * deduplicated), NULL when the study cannot be found so. */
char *dfs_web_patients_of(Web *w, const char *study)
{
    g_mutex_lock(&w->lock);
    char *pids = g_strdup(g_hash_table_lookup(w->patient_of_study, study));
    g_mutex_unlock(&w->lock);
    if (pids != NULL)
        return pids;
    g_autofree char *url = g_strconcat(w->url, "/studies", NULL);
    g_autofree char *match = g_strdup_printf("StudyInstanceUID=%s", study);
    g_autofree char *field = g_strdup_printf("includefield=%08X", TAG_PATIENT_ID);
    const char *params[] = {match, field, NULL};
    DfsQidoQuery q = {.url = url, .params = params, .uid_tag = 0};
    gpointer user[] = {w, (gpointer)study};
    if (!dfs_qido_list(w->http, &q, study_patient_row, user, NULL, NULL))
        return NULL;
    g_mutex_lock(&w->lock);
    pids = g_strdup(g_hash_table_lookup(w->patient_of_study, study));
    g_mutex_unlock(&w->lock);
    return pids;
}

static gboolean web_list(gpointer self, DfsScanFound found, gpointer scan, GError **error)
{
    Web *w = self;
    g_mutex_lock(&w->lock);
    w->crawling = TRUE;
    w->all_studies = FALSE;
    w->listed_studies = w->listed_series = w->listed_instances = 0;
    g_hash_table_remove_all(w->studies_done);
    g_hash_table_remove_all(w->series_done);
    g_mutex_unlock(&w->lock);
    g_autofree char *url = g_strconcat(w->url, "/studies", NULL);
    Crawl c = {dfs_web_connect(&w->base, error) ? list_rows(w, url, DFS_LEVEL_STUDY, TAG_STUDY_UID, 0, error)
                                            : NULL, 0,
               g_ptr_array_new_with_free_func(row_free), g_array_new(FALSE, FALSE, sizeof(SeriesRef)),
               g_hash_table_new(g_str_hash, g_str_equal), 0};
    Lister l = {w, found, scan, dfs_dicomjson_new(), g_string_new(NULL), FALSE};
    gboolean ok = c.studies != NULL;
    for (guint k = 0; ok && k < c.studies->len && !l.stopped; k++) {
        const Row *study = c.studies->pdata[k];
        add_patient(w, study->uid, row_string(study, TAG_PATIENT_ID));
        list_study_folder(&l, study);
    }
    if (ok && !l.stopped)
        l.stopped = !found(scan, NULL, NULL, NULL, NULL);
    g_mutex_lock(&w->lock);
    w->all_studies = ok;
    w->n_studies = ok ? c.studies->len : 0;
    const Row *study;
    const SeriesRef *series;
    while (ok && !l.stopped && next_work(w, &c, &study, &series)) {
        g_mutex_unlock(&w->lock);
        ok = study != NULL ? list_study_series(&l, &c, study, error)
                           : list_instances(&l, series->study, series->series, error);
        g_mutex_lock(&w->lock);
        if (study != NULL)
            g_hash_table_add(w->studies_done, g_strdup(study->uid));
        else
            g_hash_table_add(w->series_done, g_strdup(series->series->uid));
        gboolean waited = w->waiters > 0;
        g_mutex_unlock(&w->lock);
        /* Whoever waits sees what is listed now: it waits for a snapshot
         * published after its folder was done. */
        if (ok && !l.stopped && waited)
            l.stopped = !found(scan, NULL, NULL, NULL, NULL);
        g_mutex_lock(&w->lock);
        w->published += waited;
        g_cond_broadcast(&w->listed);
    }
    g_mutex_unlock(&w->lock);
    if (!ok && error != NULL && *error != NULL)
        dfs_web_note_error(w, *error);
    g_mutex_lock(&w->lock);
    w->listing_failed = !ok;
    w->crawling = FALSE;
    g_cond_broadcast(&w->listed);
    g_mutex_unlock(&w->lock);
    if (c.studies != NULL)
        g_ptr_array_unref(c.studies);
    g_hash_table_unref(c.series_at);
    g_array_unref(c.series);
    g_ptr_array_unref(c.series_rows);
    dfs_dicomjson_free(l.json);
    g_string_free(l.header, TRUE);
    return ok;
}

/* A study or series shown empty so far: its series (or instances) listed
 * next, and shown, before this returns (or the listing ends, or
 * EXPAND_WAIT_S). */
static void web_expand(DfsSource *src, DfsLevel level, const char *uid)
{
    Web *w = (Web *)src;
    GHashTable *done = level == DFS_LEVEL_STUDY ? w->studies_done : w->series_done;
    gint64 deadline = g_get_monotonic_time() + EXPAND_WAIT_S * G_USEC_PER_SEC;
    g_mutex_lock(&w->lock);
    guint64 arrived = w->published;
    if (w->crawling) {
        if (!g_hash_table_contains(done, uid))
            g_queue_push_tail(&w->wanted,
                              g_strconcat(level == DFS_LEVEL_STUDY ? "S" : "E", uid, NULL));
        else /* listed (or empty on the server): the next snapshot, briefly */
            deadline = MIN(deadline, g_get_monotonic_time() + DONE_WAIT_MS * 1000);
        w->waiters++;
        /* Until it is listed and a snapshot with it shown (the step that
         * lists it, or the next, publishes one for the waiters). */
        while (w->crawling && !(g_hash_table_contains(done, uid) && w->published > arrived))
            if (!g_cond_wait_until(&w->listed, &w->lock, deadline))
                break;
        w->waiters--;
    }
    g_mutex_unlock(&w->lock);
}

static const DfsScanLister web_lister = {web_list};

static DfsScan *web_scan_new(DfsSource *src, DfsStore *store, const DfsScanSink *sink,
                             gpointer user)
{
    return dfs_scan_new_listed(src->location, &web_lister, src, store, sink, user);
}

/* --- the source --------------------------------------------------------------- */

static gboolean web_claims(const char *arg)
{
    return g_str_has_prefix(arg, "http://") || g_str_has_prefix(arg, "https://");
}

static void web_write_status(DfsSource *src, GString *out)
{
    Web *w = (Web *)src;
    DfsHttpStats hs, ls;
    dfs_http_stats(w->http, &hs);
    dfs_http_stats(w->list_http, &ls);
    hs.requests += ls.requests;
    hs.retries += ls.retries;
    hs.failures += ls.failures;
    hs.connections += ls.connections;
    hs.bytes += ls.bytes;
    DfsWebCacheStats cs;
    dfs_web_cache_stats(w->cache, &cs);
    DfsRetrieverStats rs;
    dfs_retriever_stats(w->retriever, &rs);
    g_mutex_lock(&w->lock);
    g_string_append_printf(out, "server: DICOMweb%s%s%s\n", w->orthanc ? " on Orthanc " : "",
                           w->orthanc ? w->orthanc_version : "",
                           w->listing_failed ? " (its listing failed: the tree is the one last listed)"
                                             : "");
    g_string_append_printf(out, "studies: %u listed%s\n", w->n_studies,
                           w->all_studies ? " (all)" : "");
    g_string_append_printf(out,
                           "listed: %" G_GUINT64_FORMAT " studies, %" G_GUINT64_FORMAT
                           " series, %" G_GUINT64_FORMAT " instances\n",
                           w->listed_studies, w->listed_series, w->listed_instances);
    g_string_append_printf(out,
                           "requests: %" G_GUINT64_FORMAT " (%" G_GUINT64_FORMAT
                           " retried, %" G_GUINT64_FORMAT " failed), connections opened: %"
                           G_GUINT64_FORMAT ", bytes: %" G_GUINT64_FORMAT "\n",
                           hs.requests, hs.retries, hs.failures, hs.connections, hs.bytes);
    g_string_append_printf(out,
                           "cache: %s, %u files, %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                           " bytes (%" G_GUINT64_FORMAT " instances fetched alone, %" G_GUINT64_FORMAT
                           " failed, %" G_GUINT64_FORMAT " evicted)\n",
                           src->root, cs.files, cs.bytes, cs.max_bytes, cs.fetches - cs.failures,
                           cs.failures, cs.evictions);
    g_string_append_printf(out,
                           "series retrieved: %" G_GUINT64_FORMAT " whole, %" G_GUINT64_FORMAT
                           " for their headers (%" G_GUINT64_FORMAT " stopped idle, %" G_GUINT64_FORMAT
                           " failed); instances from them: %" G_GUINT64_FORMAT " whole, %" G_GUINT64_FORMAT
                           " headers\n",
                           rs.whole, rs.headers, rs.stopped_idle, rs.failed, rs.parts_whole,
                           rs.parts_header);
    dfs_web_frames_write_status(w->frames, out);
    if (w->last_error != NULL)
        g_string_append_printf(out, "last server error: %s\n", w->last_error);
    g_mutex_unlock(&w->lock);
}

static void web_free(DfsSource *src)
{
    Web *w = (Web *)src;
    dfs_retriever_free(w->retriever);
    dfs_web_frames_free(w->frames);
    dfs_http_free(w->http);
    dfs_http_free(w->list_http);
    dfs_web_cache_free(w->cache);
    g_free(w->url);
    g_free(w->orthanc);
    g_free(w->orthanc_version);
    g_free(w->last_error);
    g_hash_table_unref(w->patient_of_study);
    g_hash_table_unref(w->studies_done);
    g_hash_table_unref(w->series_done);
    g_queue_clear_full(&w->wanted, g_free);
    g_cond_clear(&w->listed);
    g_mutex_clear(&w->lock);
    dfs_source_clear(src);
    g_free(w);
}

static void add_tag(Web *w, guint level, guint32 tag)
{
    for (guint j = 0; j < w->n_tags[level]; j++)
        if (w->tags[level][j] == tag)
            return;
    if (w->n_tags[level] < G_N_ELEMENTS(w->tags[level]))
        w->tags[level][w->n_tags[level]++] = tag;
}

/* Each level's includefields: its columns, less group 0002 (not a query
 * key), and the UIDs that file it. */
static void init_tags(Web *w)
{
    static const guint32 uids[] = {0, 0, TAG_STUDY_UID, TAG_SERIES_UID, TAG_SOP_UID};
    for (guint l = DFS_LEVEL_PATIENT; l <= DFS_LEVEL_INSTANCE; l++) {
        guint32 tags[32];
        guint n = MIN(dfs_facts_tags((DfsLevel)l, tags, 32), 32);
        guint level = l == DFS_LEVEL_PATIENT ? DFS_LEVEL_STUDY : l; /* no patient queries */
        for (guint k = 0; k < n; k++)
            if ((tags[k] >> 16) != 0x0002) /* not a query key */
                add_tag(w, level, tags[k]);
        if (uids[l] != 0)
            add_tag(w, l, uids[l]);
    }
    /* The study's time: an instance's version. */
    add_tag(w, DFS_LEVEL_STUDY, TAG_STUDY_TIME);
    /* How many instances a series has: its instances in one page. */
    add_tag(w, DFS_LEVEL_SERIES, TAG_SERIES_INSTANCES);
}

/* Is it there, and is it an Orthanc?  Once, before the first listing (or
 * before mounting, where there is no stored tree to show). */
gboolean dfs_web_connect(DfsSource *src, GError **error)
{
    Web *w = (Web *)src;
    if (g_atomic_int_get(&w->connected))
        return TRUE;
    g_autofree char *probe = g_strconcat(w->url, "/studies?limit=1", NULL);
    g_autoptr(GError) down = NULL;
    g_autoptr(GBytes) answer = dfs_http_get_bytes(w->http, probe, NULL, 16u << 20, NULL, &down);
    if (answer == NULL) {
        dfs_web_note_error(w, down);
        g_propagate_error(error, g_steal_pointer(&down));
        return FALSE;
    }
    char *root = NULL, *version = NULL;
    if (w->orthanc_wanted != 0) {
        root = g_path_get_dirname(w->url); /* the URL less its last segment */
        version = dfs_orthanc_version(w->http, root);
        if (version == NULL && w->orthanc_wanted == 1)
            version = g_strdup("(as told)");
        if (version == NULL)
            g_clear_pointer(&root, g_free);
    }
    g_mutex_lock(&w->lock);
    if (!w->connected) {
        w->orthanc = root;
        w->orthanc_version = version;
        root = version = NULL;
    }
    g_mutex_unlock(&w->lock);
    g_free(root);
    g_free(version);
    g_atomic_int_set(&w->connected, 1);
    return TRUE;
}

static DfsSource *web_open(const char *arg, const DfsSourceOptions *o, GError **error)
{
    g_autofree char *url = g_strdup(arg);
    while (g_str_has_suffix(url, "/"))
        url[strlen(url) - 1] = '\0';
    DfsHttpOptions ho = {.max_connections = o->connections,
                         .user = o->user,
                         .password_file = o->password_file,
                         .use_netrc = o->use_netrc,
                         .token_file = o->token_file,
                         .ca_file = o->ca_file};
    DfsHttp *http = dfs_http_new(&ho, error);
    if (http == NULL)
        return NULL;
    ho.low_speed_seconds = LIST_LOW_SPEED_S;
    ho.max_connections = 1; /* one listing at a time */
    DfsHttp *list_http = dfs_http_new(&ho, error);
    if (list_http == NULL) {
        dfs_http_free(http);
        return NULL;
    }
    g_autofree char *hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256, url, -1);
    g_autofree char *dir = o->cache_dir != NULL
                               ? g_build_filename(o->cache_dir, hash, NULL)
                               : g_build_filename(g_get_user_cache_dir(), "dicomfs", "web", hash, NULL);
    DfsWebCache *cache = dfs_web_cache_new(
        dir, o->cache_bytes ? o->cache_bytes : G_GUINT64_CONSTANT(4) << 30, error);
    if (cache == NULL) {
        dfs_http_free(http);
        dfs_http_free(list_http);
        return NULL;
    }
    Web *w = g_new0(Web, 1);
    dfs_source_init(&w->base, &dfs_source_dicomweb, url, dir);
    w->base.offline_tree = TRUE;
    w->base.lister = &web_lister;
    w->http = http;
    w->list_http = list_http;
    w->cache = cache;
    w->url = g_strdup(url);
    g_mutex_init(&w->lock);
    w->patient_of_study = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    w->studies_done = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    w->series_done = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_cond_init(&w->listed);
    w->retriever = dfs_retriever_new(http, cache, url, 0, dfs_web_retrieve_failed, w);
    w->frames = dfs_web_frames_new(http, url);
    init_tags(w);
    w->orthanc_wanted = o->orthanc;
    return &w->base;
}

const DfsSourceClass dfs_source_dicomweb = {
    .kind = "dicomweb",
    .claims = web_claims,
    .open = web_open,
    .scan_new = web_scan_new,
    .instance_path = dfs_web_instance_path,
    .instance_header_path = dfs_web_instance_header_path,
    .instance_size = dfs_web_instance_size,
    .frame_alone = dfs_web_frame_alone,
    .fetch_frame = dfs_web_fetch_frame,
    .connect = dfs_web_connect,
    .expand = web_expand,
    .write_status = web_write_status,
    .free = web_free,
};
