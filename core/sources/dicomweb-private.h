/* dicomfs core (internal): the DICOMweb source's state, shared by its
 * catalog (dicomweb.c: listing by QIDO-RS, the source's class) and its
 * bytes (dicomweb-fetch.c: instances and frames fetched by WADO-RS or
 * Orthanc's REST API into the cache). */
#pragma once

#include <glib.h>

#include "sources/retrieve.h"
#include "sources/source.h"
#include "sources/webcache.h"
#include "sources/webframes.h"
#include "web/http.h"

G_BEGIN_DECLS

#define TAG_PATIENT_ID 0x00100020u

typedef struct {
    DfsSource base;
    DfsHttp *http;      /* fetches: a stalled transfer is given up after 30 s */
    DfsHttp *list_http; /* listings: a server may think for minutes before a deep page */
    DfsWebCache *cache;
    DfsRetriever *retriever; /* series in one request each */
    DfsWebFrames *frames;    /* frames of instances known by their headers */
    char *url;         /* the base URL, without a trailing '/' */
    int orthanc_wanted; /* -o orthanc: 1, -o noorthanc: 0, else -1 */
    gint connected;    /* web_connect has reached the server (atomic); then: */
    char *orthanc;     /* Orthanc's REST root, or NULL */
    char *orthanc_version;
    guint32 tags[DFS_LEVEL_INSTANCE + 1][32]; /* each level's includefields */
    guint n_tags[DFS_LEVEL_INSTANCE + 1];
    GMutex lock;       /* what follows */
    GHashTable *patient_of_study; /* StudyInstanceUID -> PatientID, as listed (Orthanc's keys) */
    char *last_error;  /* the last failure, for the status */
    gboolean listing_failed; /* the last listing did not end: the tree shown is older */
    gboolean crawling;       /* a listing runs */
    gboolean all_studies;    /* every study is listed (their series and instances to come) */
    guint n_studies;
    GHashTable *studies_done; /* UIDs of the studies whose series are listed */
    GHashTable *series_done;  /* UIDs of the series whose instances are listed */
    GQueue wanted;           /* studies ("S" UID) and series ("E" UID) someone waits for */
    guint waiters;           /* callers of web_expand waiting now */
    guint64 published;       /* snapshots published for them */
    GCond listed;            /* a study is done, or the listing ended */
    guint64 listed_studies, listed_series, listed_instances;
} Web;

/* Orthanc's REST root once the server is known to be one, else NULL. */
static inline const char *dfs_web_orthanc_root(Web *w)
{
    return g_atomic_int_get(&w->connected) ? w->orthanc : NULL;
}

/* dicomweb.c: reach the server now (is it an Orthanc?); keep error as the
 * last server error (for the status); the PatientIDs of a study (joined by
 * newlines; caller frees), NULL when the study cannot be found. */
gboolean dfs_web_connect(DfsSource *src, GError **error);
void dfs_web_note_error(Web *w, const GError *error);
char *dfs_web_patients_of(Web *w, const char *study);

/* dicomweb-fetch.c: the source's hooks for bytes (sources/source.h), and
 * the retriever's failure callback. */
char *dfs_web_instance_path(DfsSource *src, const DfsIndex *idx, guint node, GError **error);
char *dfs_web_instance_header_path(DfsSource *src, const DfsIndex *idx, guint node,
                                   gboolean *whole, GError **error);
gboolean dfs_web_instance_size(DfsSource *src, const DfsIndex *idx, guint node, guint64 *size);
gboolean dfs_web_frame_alone(DfsSource *src, const DfsIndex *idx, guint node);
GBytes *dfs_web_fetch_frame(DfsSource *src, const DfsIndex *idx, guint node, guint frame,
                            const char *syntax, gsize max_bytes, GError **error);
void dfs_web_retrieve_failed(const GError *error, gpointer user);

G_END_DECLS
