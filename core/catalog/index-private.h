/* dicomfs core: what the index shares with the rest of catalog/ and no one
 * else: the fields and skips a table row or an image needs, and the flat
 * form of a snapshot that image.c writes to a file and maps back. */
#pragma once

#include "catalog/index.h"

G_BEGIN_DECLS

/* The facts kept per level (they name folders and fill the tables): how
 * many, and each column's keyword (facts.c). */
guint dfs_index_n_columns(DfsLevel level);
const char *dfs_index_column(DfsLevel level, guint k);

/* Column positions used for names and keys. */
enum { P_NAME, P_ID, P_ISSUER };
enum { ST_DATE, ST_DESC, ST_ACCESSION, ST_ID, ST_UID };
enum { SE_NUMBER, SE_MODALITY, SE_DESC, SE_UID };
enum { IN_NUMBER, IN_UID, IN_CLASS, IN_TS };

/* At most this many columns a level (defaults and the templates' extras),
 * and every level's columns and its NULL row fit DfsFacts' slots. */
#define FACTS_MAX_COLUMNS 16
#define FACTS_SLOTS (DFS_LEVEL_INSTANCE * (FACTS_MAX_COLUMNS + 1))

/* One allocation: the readers make one per file and the scan's thread
 * frees it, so each costs a lock of the shared heap at most once. */
struct _DfsFacts {
    gboolean dicomdir;
    guint8 folder; /* a study or series listed before its instances: its level
                      (dfs_facts_mark_folder), else 0 */
    char **fields[DFS_LEVEL_INSTANCE + 1]; /* per level's columns, into slots; [0] unused */
    char *slots[FACTS_SLOTS];
    char text[]; /* every field's text, a NUL after each */
};

/* Node id's k-th field ("" where absent), and a folder's key (what groups
 * it among its siblings: the same key is the same folder). */
const char *dfs_index_field(const DfsIndex *idx, guint id, guint k);
const char *dfs_index_key(const DfsIndex *idx, guint id);

/* Why a file is in the skip list. */
typedef enum {
    DFS_SKIP_FILE, /* a file read (or stored) and not an instance: its size and mtime say which version */
    DFS_SKIP_WALK, /* an entry the walk does not read (a link that loops, a FIFO ...) */
    DFS_SKIP_NOTE, /* a note on an instance in the tree (a duplicate UID, damage) */
} DfsSkipKind;

typedef struct {
    const char *relpath, *reason;
    DfsSkipKind kind;
    guint64 size;
    gint64 mtime_ns;
} DfsIndexSkip;

/* The skip list, sorted by path then reason. */
guint dfs_index_n_skips(const DfsIndex *idx);
void dfs_index_skip(const DfsIndex *idx, guint k, DfsIndexSkip *out);

/* --- the flat form ---------------------------------------------------------
 *
 * A snapshot as arrays of fixed records whose strings are offsets into one
 * block, so that a mapped file is an index with no work per node.  Every
 * number read from it is checked where it is used (a node beyond the end
 * is the root, a string beyond the end is ""), so a damaged file gives a
 * wrong tree, never a crash. */
typedef struct {
    gint64 mtime_sec, mtime_nsec;
    guint64 size;
    guint32 parent, name, key, relpath;
    guint32 fields;      /* the first of its level's fields in the fields array */
    guint32 first_child; /* into kids, sorted by name */
    guint32 n_children, first_instance;
    guint8 level, live, pad[6];
} DfsImageNode;

typedef struct {
    guint64 size;
    gint64 mtime_ns;
    guint32 relpath, reason;
    guint8 kind, pad[7];
} DfsImageSkip;

G_STATIC_ASSERT(sizeof(DfsImageNode) == 64 && sizeof(DfsImageSkip) == 32);

typedef struct {
    guint n_nodes, n_kids, n_fields, n_skips, n_instances, n_skipped;
    const DfsImageNode *nodes;
    const guint32 *kids;
    const guint32 *fields;       /* string offsets */
    const DfsImageSkip *skips;
    const guint32 *by_relpath;   /* the live instances, by source path */
    const char *strings;         /* strings[0] and strings[n_strings - 1] are NUL */
    gsize n_strings;
    const guint8 *tables;        /* the tables' layouts (tables.c), or NULL */
    gsize n_tables;              /* bytes */
} DfsImageView;

/* An index over view, which stays valid until release(mapping) is called
 * when the index is freed. */
DfsIndex *dfs_index_new_flat(const DfsImageView *view, gpointer mapping, GDestroyNotify release);

/* The view and mapping of an index made by dfs_index_new_flat, or NULL. */
const DfsImageView *dfs_index_flat_view(const DfsIndex *idx);
gpointer dfs_index_flat_mapping(const DfsIndex *idx);

G_END_DECLS
