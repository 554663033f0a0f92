/* dicomfs core: the mounted tree, without FUSE.
 *
 * Every file and folder the mount shows is an entry: a 64-bit number that
 * stays the same while mounted (the FUSE front end uses it as the inode).
 *
 *   <patient>/<study>/<series>/<instance>/     index nodes
 *   .../tags/                                  attributes, one file each
 *   .../tags/<Sequence>/<N>/...                sequence items as folders
 *   <instance>/header.txt, header.json, instance.dcm
 *   .dicomfs/status, errors.tsv, patients.tsv, studies.tsv, series.tsv,
 *            instances.tsv
 *
 * Attribute files are rendered from header-only reads of the source files,
 * kept in a bounded cache.  Thread-safe. */
#pragma once

#include <glib.h>
#include <sys/stat.h>

#include "catalog/index.h"
#include "sources/source.h"

G_BEGIN_DECLS

typedef guint64 DfsEntry;

/* The root folder's entry (FUSE's root inode is 1 too). */
#define DFS_ENTRY_ROOT ((DfsEntry)1)

typedef struct _DfsTree DfsTree;

typedef struct {
    gboolean is_dir;
    gboolean is_link;      /* a symbolic link (the views' links into the tree) */
    guint64 size;          /* exact byte count a read returns */
    struct timespec mtime; /* the source file's, or the mount time */
    guint nlink;
    gboolean is_volatile;  /* may read otherwise at the next look: not to be cached */
} DfsEntryStat;

/* A tree over the instances of source (which outlives it), empty until a
 * scan publishes an index.  cache_bytes bounds the parsed headers and
 * rendered files kept. */
DfsTree *dfs_tree_new(DfsSource *source, gsize cache_bytes);
DfsSource *dfs_tree_source(DfsTree *tree);
void dfs_tree_free(DfsTree *tree);

/* What the status file says. */
typedef struct {
    guint files_seen, indexed, skipped, others;
    guint total;          /* files found so far */
    gboolean walked;      /* total is final */
    guint reads;          /* headers read; the rest came from the persistent index */
    guint batched;        /* of them, opened and first read in batches */
    const char *batch_off; /* why the scan read file by file (static), or NULL */
    char index[512];      /* the persistent index: "PATH (new|reused|rebuilt)" or "off" */
    gboolean mapped;      /* its image was mapped at mount */
    guint loaded;         /* its rows read before the first listing */
    gint64 listed_ago;    /* a server's stored listing shown as it is, made
                             so many seconds before the mount; -1 otherwise */
    gboolean done;
    /* Following changes (issue 14): how ("" when not), and what it did. */
    char live[256];
    guint64 live_changes, live_batches, live_reads, live_rescans;
    gint64 last_change; /* real time, µs; 0 for none */
} DfsTreeStatus;

/* A scan's newer snapshot of the index (taken; NULL to change the status
 * alone) and its status.  Entries keep their numbers from one snapshot to
 * the next; once st->done, the tree never changes again (settled). */
void dfs_tree_publish(DfsTree *tree, DfsIndex *idx, const DfsTreeStatus *st);
gboolean dfs_tree_settled(DfsTree *tree);

/* Before the scan is done: the tree follows its source, so snapshots go on
 * coming after it (each request then holds the snapshot it uses). */
void dfs_tree_set_live(DfsTree *tree);

/* The folder entry of index node `node`. */
DfsEntry dfs_tree_node_entry(guint node);

/* What was rendered or planned for these nodes (folders whose content
 * changed) is dropped, to be made again from the new snapshot; their
 * files made from their instances (tags/, volume/) show the time of the
 * change as their mtime from now on. */
void dfs_tree_forget(DfsTree *tree, const guint32 *nodes, guint n);

/* The current snapshot, for a listing that must stay the same through
 * several calls while a scan goes on.  Caller unrefs. */
DfsIndex *dfs_tree_hold(DfsTree *tree);

/* Folder dir is about to be read: a study or series its source has listed
 * without what it holds (sources/source.h, expand) gets it now (this may
 * block for a while).  dfs_tree_lookup does it too. */
void dfs_tree_open_dir(DfsTree *tree, DfsEntry dir);

/* The entry called name in folder dir.  FALSE with DFS_ERROR_NOT_FOUND when
 * there is none, DFS_ERROR_NOT_DIR when dir is a file. */
gboolean dfs_tree_lookup(DfsTree *tree, DfsEntry dir, const char *name, DfsEntry *out,
                         GError **error);

gboolean dfs_tree_stat(DfsTree *tree, DfsEntry e, DfsEntryStat *st, GError **error);

/* Call fn for the entries of dir from position `from` on (0 is the first),
 * until fn returns FALSE, as in snapshot held (NULL: the current one).
 * Positions are stable within one snapshot. */
typedef gboolean (*DfsTreeListFunc)(const char *name, DfsEntry e, gboolean is_dir, guint64 next,
                                    gpointer user);
gboolean dfs_tree_list(DfsTree *tree, DfsIndex *held, DfsEntry dir, guint64 from,
                       DfsTreeListFunc fn, gpointer user, GError **error);

/* The whole content of a rendered file (everything but instance.dcm).
 * Caller unrefs. */
GBytes *dfs_tree_content(DfsTree *tree, DfsEntry e, GError **error);

/* Bytes [offset, offset + length) of a rendered file (fewer at its end), as
 * in snapshot held (NULL: the current one).  Files read by range
 * (dfs_tree_is_ranged: the .dicomfs tables) render only the part asked
 * for; the others are rendered whole once and kept in the cache while
 * they are read.  Caller unrefs. */
GBytes *dfs_tree_read(DfsTree *tree, DfsIndex *held, DfsEntry e, guint64 offset, gsize length,
                      GError **error);
gboolean dfs_tree_is_ranged(DfsEntry e);

/* Entries whose content can change now (.dicomfs/status and errors.tsv
 * always, the tables while the scan runs, an instance.dcm whose size its
 * server has not said yet): not to be cached by the kernel. */
gboolean dfs_tree_is_volatile(DfsTree *tree, DfsEntry e);

/* Files whose size takes a whole render (header.txt, header.json): worth
 * computing only when asked for. */
gboolean dfs_tree_is_costly(DfsEntry e);

/* The extended attributes of entry e: names and values (strings the caller
 * frees with the arrays), both empty where it has none.  FALSE with an
 * error where e is gone. */
gboolean dfs_tree_xattrs(DfsTree *tree, DfsEntry e, GPtrArray **names, GPtrArray **values,
                         GError **error);

/* Symbolic links (the views under .dicomfs): the target of link e (caller
 * frees), or NULL with an error; dfs_tree_is_link says which entries are. */
char *dfs_tree_readlink(DfsTree *tree, DfsEntry e, GError **error);
gboolean dfs_tree_is_link(DfsEntry e);

/* Files that are a slice of an instance's bytes: instance.dcm, and
 * pixels.raw (or a frame's .raw) of native pixel data whose stored values
 * are its bytes.  Returns the path of the local file that holds them
 * (caller frees: the source's own file, or its fetched copy) and the
 * slice; or NULL for rendered entries (error not set), or NULL with an
 * error when the bytes cannot be had now (a server that does not answer:
 * DFS_ERROR_IO). */
char *dfs_tree_source_range(DfsTree *tree, DfsEntry e, guint64 *offset, guint64 *length,
                            GError **error);



G_END_DECLS
