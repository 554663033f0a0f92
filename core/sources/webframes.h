/* dicomfs core: frames of a remote source's instances fetched one by one.
 *
 * An instance whose attributes came without its bytes (a header copy of a
 * series too large to keep whole, sources/retrieve.h) would otherwise be
 * fetched whole for the first look at one frame's picture: for a
 * multi-frame instance of hundreds of MB, one frame's request (WADO-RS
 * .../frames/N, the stored bytes, decoded by our own decoders) is far the
 * cheaper.  Looking at many frames of one instance is not: after
 * DFS_WEB_FRAMES_ALONE of its frames were fetched alone, the instance is
 * fetched whole, once, and every frame read from it.  So is an instance
 * whose frame the server refused (no frames resource, another syntax), and
 * after DFS_WEB_FRAMES_REFUSALS refusals every instance.
 *
 * Costs: one request a frame, its bytes held in memory (bounded by the
 * caller's max_bytes) until decoded; a counter per instance looked at, the
 * table emptied past DFS_WEB_FRAMES_TRACKED instances. */
#pragma once

#include <glib.h>

#include "web/http.h"

G_BEGIN_DECLS

#define DFS_WEB_FRAMES_ALONE 4
#define DFS_WEB_FRAMES_TRACKED 4096
#define DFS_WEB_FRAMES_REFUSALS 3

typedef struct _DfsWebFrames DfsWebFrames;

/* Frames of the instances under base url (no trailing '/'), fetched
 * through http.  Whether an instance is known by its header copy alone is
 * the caller's to say (its cache, sources/dicomweb-fetch.c). */
DfsWebFrames *dfs_web_frames_new(DfsHttp *http, const char *url);
void dfs_web_frames_free(DfsWebFrames *f);

/* May a frame of instance relpath (studies/S/series/E/instances/I), known
 * by its header copy, be fetched alone: fewer than DFS_WEB_FRAMES_ALONE of
 * its frames were, none was refused, and the server refused fewer than
 * DFS_WEB_FRAMES_REFUSALS in all? */
gboolean dfs_web_frames_alone(DfsWebFrames *f, const char *relpath);

/* Frame (0-based) of instance relpath: its stored bytes in transfer
 * syntax `syntax`, at most max_bytes (sources/wado.h's dfs_wado_frame).
 * NULL with an error when it cannot be had: DFS_ERROR_UNSUPPORTED where
 * the server will not give it so (read the instance whole instead). */
GBytes *dfs_web_frames_fetch(DfsWebFrames *f, const char *relpath, guint frame,
                             const char *syntax, gsize max_bytes, GError **error);

/* Its line of .dicomfs/status. */
void dfs_web_frames_write_status(DfsWebFrames *f, GString *out);

G_END_DECLS
