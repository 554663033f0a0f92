/* dicomfs core (internal): what the tree's own modules (instance.c, the
 * kinds) reach of the tree beyond DfsView. */
#pragma once

#include "base/cache.h"
#include "tree/tree.h"

G_BEGIN_DECLS

/* A cache entry's own cost beside its value: the entry, its hash slot and
 * the allocator's overhead. */
#define DFS_CACHE_ENTRY_COST 96

/* The bounded cache of parsed datasets (header-only by instance node, whole
 * files by node | 1 << 63). */
DfsCache *dfs_tree_datasets(DfsTree *tree);

/* The bounded cache of rendered files, by entry (kinds/volume.c keeps the
 * slabs of turned volumes there too, under keys of its own). */
DfsCache *dfs_tree_contents(DfsTree *tree);

/* The bounded cache of volume plans, by series node (kinds/volume.c). */
DfsCache *dfs_tree_plans(DfsTree *tree);

G_END_DECLS
