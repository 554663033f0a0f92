/* dicomfs core (internal): the inside of the index, shared by the files
 * that build it (index.c) and read it (index-read.c). */
#pragma once

#include <time.h>

#include "catalog/index.h"
#include "catalog/index-private.h"

/* A node's facts, never changed once filed: shared by the builder and every
 * snapshot, in the arena. */
typedef struct {
    const char *key;           /* levels: what groups it among its siblings */
    const char *const *fields; /* per level_cols[level], "" where absent */
    const char *relpath;       /* instances: the source file */
    guint64 size;
    struct timespec mtime;
    guint32 parent;
    guint8 level;
} Node;

typedef struct {
    const char *relpath;
    const char *reason;
    guint64 size;
    gint64 mtime_ns;
    DfsSkipKind kind;
} Skip;

/* Strings and node records of a builder and its snapshots: append-only, so
 * what a snapshot points to never moves; freed with the last of them. */
#define ARENA_BLOCK (64 * 1024)

typedef struct {
    gint refs;
    GStringChunk *strings;
    GPtrArray *blocks; /* bump-allocated memory for records */
    guint8 *pos;
    gsize left;
} Arena;

struct _DfsIndexBuilder {
    Arena *arena;
    GPtrArray *nodes;       /* Node*, by number */
    GByteArray *live;       /* per node */
    GByteArray *dirty;      /* per node: its children changed since the last snapshot */
    DfsIndex *last;         /* the last snapshot: clean folders' names are taken from it */
    GPtrArray *children;    /* per node: GArray of guint32 in filing order, NULL for instances */
    GHashTable *by_key;     /* "parent\x1fkey" -> node */
    GHashTable *by_relpath; /* relpath (arena) -> instance node */
    GHashTable *sop_uids;   /* SOP Instance UID (arena) -> first relpath (arena) */
    GArray *skips;          /* Skip */
    /* The last instance's folders: files of one series usually come one
     * after another, and then need no key built or looked up. */
    GString *last_keys[DFS_LEVEL_INSTANCE]; /* patient, study, series keys */
    guint last_ids[DFS_LEVEL_INSTANCE];
    GString *keys[DFS_LEVEL_INSTANCE]; /* the file being added's (reused) */
    GString *full;                     /* a by_key key being looked up */
    /* Names once shown are kept (dfs_index_builder_keep_names): a file read
     * again keeps its instance's name (inherit: new node -> old node, from
     * replaced: relpath -> node taken out since the last snapshot); seed
     * is an earlier mount's index numbered alike. */
    gboolean keep_names;
    GHashTable *replaced;
    GHashTable *inherit;
    GHashTable *claimed; /* old nodes whose name is inherited */
    DfsIndex *seed;
    GArray *gone; /* guint32: nodes taken out since the last snapshot */
    GArray *emptied; /* guint32: folders left empty since then (names kept: unlink_node) */
};

struct _DfsIndex {
    gint refs;
    Arena *arena;
    guint n_nodes;
    const Node **nodes;
    guint8 *live;
    const char **names;
    guint32 *first_child; /* into kids: node's children, sorted by name */
    guint32 *n_children;
    guint32 *kids;
    guint32 *first_instance;
    Skip *skips;
    guint n_skips, n_skipped, n_instances;
    GStringChunk *name_strings;
    /* A flat index (dfs_index_new_flat) has only these and the counts. */
    DfsImageView flat;
    gboolean is_flat;
    gpointer mapping;
    GDestroyNotify release;
    gpointer extras[DFS_INDEX_EXTRAS]; /* dfs_index_set_extra */
    GDestroyNotify extras_free[DFS_INDEX_EXTRAS];
};


/* A node of a flat index (a mapped image), and a string of it. */
#define fnode dfs_index_flat_node
#define fstr dfs_index_flat_str
const DfsImageNode *fnode(const DfsIndex *idx, guint id);
const char *fstr(const DfsIndex *idx, guint32 offset);
