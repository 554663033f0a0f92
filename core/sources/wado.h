/* dicomfs core: retrieving instances by WADO-RS (PS3.18 10.4), their stored
 * bytes (`transfer-syntax=*`, never a transcoded copy), into files.
 *
 * The answer is a multipart/related body read as it streams
 * (web/multipart.h): a part is kept only once the delimiter after it has
 * come, and the body is whole only with its closing delimiter, so a
 * transfer cut short (a server killed, a dropped connection; Orthanc ends
 * a series' body by closing the connection) never passes for a short file.
 *
 * Costs: one request; the bytes are written as they come, nothing held
 * but the multipart reader's few bytes. */
#pragma once

#include <glib.h>

#include "web/http.h"

G_BEGIN_DECLS

/* The one instance at url (.../studies/S/series/S/instances/I) into fd
 * (empty, at offset 0): TRUE when its one part and the closing delimiter
 * came. */
gboolean dfs_wado_instance(DfsHttp *http, const char *url, int fd, GError **error);

/* Frame n (1-based) of the instance at url (.../instances/I/frames/n),
 * its stored bytes (`transfer-syntax=*`): the one part, at most max_bytes,
 * whose transfer syntax is `syntax` (a part that names none is taken as
 * Explicit VR Little Endian, PS3.18 8.7.3.5.2; native little endian
 * syntaxes have the same frame bytes).  NULL with an error otherwise:
 * DFS_ERROR_UNSUPPORTED where the server will not give it so (a part in
 * another syntax; 400, 404, 406, 415, 500 or 501: no frames resource, or
 * not for this instance), else the transfer's error. */
GBytes *dfs_wado_frame(DfsHttp *http, const char *url, guint n, const char *syntax,
                       gsize max_bytes, GError **error);

/* Bytes from a response body into fd (a body function for dfs_http_get
 * whose user is a pointer to the fd). */
gboolean dfs_wado_write(const guint8 *data, gsize len, gpointer fd, GError **error);

/* Each instance of the series at url (.../studies/S/series/S), written to
 * a new file in dir as its part comes; got(path, user) is called for each
 * whole part, and takes the file (renames or deletes it); its FALSE (with
 * an error) ends the retrieve.  So does *stop (when stop is not NULL)
 * turning non-zero, at the next piece of the body.  TRUE when the body
 * ended with its closing delimiter; FALSE with an error otherwise (the
 * parts already given are whole all the same). */
typedef gboolean (*DfsWadoPartFunc)(const char *path, gpointer user, GError **error);
gboolean dfs_wado_series(DfsHttp *http, const char *url, const char *dir, DfsWadoPartFunc got,
                         gpointer user, const gint *stop, GError **error);

G_END_DECLS
