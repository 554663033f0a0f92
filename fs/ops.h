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

/* The largest read request: 1 MiB less 16 KiB.  libfuse splices a read's
 * reply through a pipe, which it asks to be the data, the header and three
 * pages of room for a slice that starts mid-page; a pipe grows to at most
 * /proc/sys/fs/pipe-max-size (1 MiB by default): a 1 MiB read did not fit,
 * and libfuse then copied it through memory twice (pread, writev) instead
 * of splicing.  A mount option (main.c) and the session's (ops.c) both. */
#define DFS_READ_MAX ((1u << 20) - (16u << 10))

extern const struct fuse_lowlevel_ops dfs_fs_ops;
