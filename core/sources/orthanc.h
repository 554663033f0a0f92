/* dicomfs core: what Orthanc's REST API adds to its DICOMweb (the Orthanc
 * Book, "REST API" and "Orthanc identifiers"): whether a server is an
 * Orthanc, the exact size of every instance of a series in one request, and
 * each instance's stored file at /instances/<id>/file.  Its identifiers are
 * the SHA-1 of the UIDs joined by '|' (PatientID first), so none is looked
 * up.
 *
 * Costs: one request each; a series' list is parsed as it streams (yajl),
 * keeping only its UIDs and sizes (a 16,000-instance series' answer is
 * about 16 MB of JSON; its table, about 1 MB). */
#pragma once

#include <glib.h>

#include "web/http.h"

G_BEGIN_DECLS

/* The identifier of the object keyed by keys[0..n) (PatientID, then the
 * study's, series' and instance's UIDs, as deep as the level).  Caller
 * frees. */
char *dfs_orthanc_id(const char *const *keys, guint n);

/* Orthanc's version if the server whose REST API is at root is one, else
 * NULL.  Caller frees. */
char *dfs_orthanc_version(DfsHttp *http, const char *root);

/* SOPInstanceUID -> size (GSIZE_TO_POINTER) of every instance of the
 * series, an empty table when Orthanc does not know it by these keys, or
 * NULL with an error when the request fails. */
GHashTable *dfs_orthanc_series_sizes(DfsHttp *http, const char *root, const char *patient_id,
                                     const char *study, const char *series, GError **error);

G_END_DECLS
