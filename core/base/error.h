/* dicomfs core: the one error domain of the project.
 *
 * Every core function that can fail takes `GError **error` last and sets an
 * error in DFS_ERROR with one of these codes.  fs/ maps them to errno values
 * in exactly one place. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define DFS_ERROR (dfs_error_quark())

typedef enum {
    DFS_ERROR_IO,          /* open/read failed (errno text in the message) */
    DFS_ERROR_NOT_DICOM,   /* no preamble and no recognisable data set */
    DFS_ERROR_TRUNCATED,   /* the data ends inside an element or item */
    DFS_ERROR_MALFORMED,   /* structure that the standard forbids */
    DFS_ERROR_LIMIT,       /* a named limit (core/input-limits.h) was exceeded */
    DFS_ERROR_UNSUPPORTED, /* well-formed, but not something we decode */
    DFS_ERROR_NOT_FOUND,   /* no such entry in the tree */
    DFS_ERROR_NOT_DIR,     /* a folder was expected */
    DFS_ERROR_IS_DIR,      /* a file was expected */
} DfsErrorCode;

GQuark dfs_error_quark(void);

G_END_DECLS
