/* dicomfs core: per-thread spare blocks.  See scratch.h. */
#include "base/scratch.h"

#include <string.h>

/* The kept block, its size in front of it. */
typedef struct {
    gsize size;
    max_align_t data[];
} Kept;

static GPrivate kept[DFS_SCRATCH_N] = {
    G_PRIVATE_INIT(g_free),
    G_PRIVATE_INIT(g_free),
    G_PRIVATE_INIT(g_free),
};
G_STATIC_ASSERT(DFS_SCRATCH_N == 3);

/* Blocks larger than this are never kept: a thread's spares stay small. */
#define KEEP_MAX (256u * 1024u)

gpointer dfs_scratch_take(DfsScratchKind kind, gsize size)
{
    Kept *k = g_private_get(&kept[kind]);
    if (k != NULL && k->size >= size) {
        g_private_set(&kept[kind], NULL);
        return k->data;
    }
    k = g_malloc(sizeof(Kept) + MAX(size, 1));
    k->size = size;
    return k->data;
}

gpointer dfs_scratch_grow(DfsScratchKind kind, gpointer block, gboolean *scratch, gsize used,
                          gsize size)
{
    if (!*scratch)
        return g_realloc(block, size);
    gpointer grown = g_malloc(size);
    memcpy(grown, block, MIN(used, size));
    dfs_scratch_give(kind, block);
    *scratch = FALSE;
    return grown;
}

void dfs_scratch_release(DfsScratchKind kind, gpointer block, gboolean scratch)
{
    if (scratch)
        dfs_scratch_give(kind, block);
    else
        g_free(block);
}

void dfs_scratch_give(DfsScratchKind kind, gpointer block)
{
    if (block == NULL)
        return;
    Kept *k = (Kept *)((char *)block - G_STRUCT_OFFSET(Kept, data));
    if (k->size <= KEEP_MAX && g_private_get(&kept[kind]) == NULL)
        g_private_set(&kept[kind], k);
    else
        g_free(k);
}
