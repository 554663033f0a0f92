/* dicomfs fs: the FUSE low-level operations.  The only folder that
 * includes <fuse_lowlevel.h>. */
#pragma once

#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 12)
#include <fuse_lowlevel.h>

#include "tree/tree.h"

/* What fuse_req_userdata() gives every operation. */
typedef struct {
    DfsTree *tree;
    gboolean shared; /* -o allow_other or allow_root: modes follow the source's */
} DfsFs;

extern const struct fuse_lowlevel_ops dfs_fs_ops;
