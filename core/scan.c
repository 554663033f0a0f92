/* dicomfs core: scanning a source folder into an index.  See scan.h. */
#include "scan.h"

#include "error.h"
#include "reader.h"
#include "walk.h"

typedef struct {
    const char *source;
    DfsIndex *idx;
    DfsScanCounts counts;
    DfsScanProgress progress;
    gpointer user;
} Scan;

char *dfs_scan_reason(const GError *error)
{
    const char *kind = "invalid DICOM";
    if (error->domain == DFS_ERROR) {
        switch (error->code) {
        case DFS_ERROR_NOT_DICOM: kind = "not DICOM"; break;
        case DFS_ERROR_TRUNCATED: kind = "truncated"; break;
        case DFS_ERROR_IO: kind = "unreadable"; break;
        case DFS_ERROR_LIMIT: kind = "over a limit"; break;
        default: break;
        }
    }
    return g_strdup_printf("%s: %s", kind, error->message);
}

static void report(Scan *s)
{
    if (s->progress)
        s->progress(&s->counts, s->user);
}

static void on_file(const char *relpath, const struct stat *st, gpointer user)
{
    Scan *s = user;
    s->counts.files_seen++;
    g_autofree char *path = g_build_filename(s->source, relpath, NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsDataset) ds = dfs_read_file(path, DFS_READ_HEADER_ONLY, &error);
    if (ds == NULL) {
        g_autofree char *reason = dfs_scan_reason(error);
        dfs_index_skip(s->idx, relpath, reason);
        s->counts.skipped++;
    } else if (dfs_index_add(s->idx, relpath, st, ds) == DFS_NO_INDEX) {
        s->counts.skipped++;
    } else {
        s->counts.indexed++;
    }
    report(s);
}

static void on_skip(const char *relpath, const char *reason, gpointer user)
{
    Scan *s = user;
    dfs_index_skip(s->idx, relpath, reason);
    s->counts.skipped++;
    report(s);
}

DfsIndex *dfs_scan(const char *source, DfsScanProgress progress, gpointer user,
                   DfsScanCounts *counts, GError **error)
{
    Scan s = {.source = source, .idx = dfs_index_new(), .progress = progress, .user = user};
    static const DfsWalkCallbacks cb = {on_file, on_skip};
    if (!dfs_walk(source, &cb, &s, error)) {
        dfs_index_free(s.idx);
        return NULL;
    }
    dfs_index_finish(s.idx);
    if (counts)
        *counts = s.counts;
    return s.idx;
}
