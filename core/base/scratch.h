/* dicomfs core: one spare block per thread for the reader's big buffers.
 *
 * Reading file after file, a thread takes and returns the same few large
 * blocks (the parser, the first header buffer, the element array).  glibc
 * serves blocks that size from a shared arena under a lock, and with the
 * two arenas the daemon allows, eight scan readers queue on those locks.
 * A block given back here is kept for the same thread's next take of the
 * same kind instead; it is freed when its thread ends, or when the thread
 * already keeps one. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
    DFS_SCRATCH_PARSER, /* the reader's parser state */
    DFS_SCRATCH_HEADER, /* a source's first buffer, DFS_HEADER_FIRST_READ bytes */
    DFS_SCRATCH_ELEMS,  /* a dataset's first element array */
    DFS_SCRATCH_N
} DfsScratchKind;

/* A block of at least `size` bytes (uninitialised): the kept one if it is
 * big enough, else a new one. */
gpointer dfs_scratch_take(DfsScratchKind kind, gsize size);

/* Give back a block from dfs_scratch_take (never one from g_malloc). */
void dfs_scratch_give(DfsScratchKind kind, gpointer block);

/* For a buffer that starts as a scratch block and may outgrow it: *scratch
 * says which it is now.  Grow it to `size` bytes keeping the first `used`:
 * a scratch block is copied into an ordinary one (g_malloc) and given back;
 * an ordinary one (or NULL) is reallocated. */
gpointer dfs_scratch_grow(DfsScratchKind kind, gpointer block, gboolean *scratch, gsize used,
                          gsize size);

/* Free such a buffer: given back when it is a scratch block, else g_free. */
void dfs_scratch_release(DfsScratchKind kind, gpointer block, gboolean scratch);

/* Elements in a dataset's first array. */
#define DFS_SCRATCH_ELEMS_FIRST 256

G_END_DECLS
