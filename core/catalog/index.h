/* dicomfs core: the Patient / Study / Series / Instance index.
 *
 * Built from one header-only read per file: each instance is filed under
 * its series, study and patient (PS3.4 C.6.1.1 levels), found by key:
 *   patient  PatientID + IssuerOfPatientID, or PatientName without an ID;
 *   study    StudyInstanceUID (within the patient);
 *   series   SeriesInstanceUID (within the study);
 *   instance every file is its own instance, even with a duplicate UID.
 * A missing UID never merges files: the file's path stands in for it.
 *
 * Names are given by each snapshot: readable, unique among siblings,
 * the same for the same source on every run (see README "Names").
 *
 * Nodes are numbered from 0 (the root).  A builder is used from one thread;
 * a snapshot is immutable and safe from any thread. */
#pragma once

#include <glib.h>
#include <sys/stat.h>

#include "dicom/dataset.h"

G_BEGIN_DECLS

typedef enum {
    DFS_LEVEL_ROOT,
    DFS_LEVEL_PATIENT,
    DFS_LEVEL_STUDY,
    DFS_LEVEL_SERIES,
    DFS_LEVEL_INSTANCE,
} DfsLevel;

typedef struct _DfsIndex DfsIndex;
typedef struct _DfsIndexBuilder DfsIndexBuilder;

#define DFS_INDEX_ROOT 0u

/* What the index needs from one file, read from its dataset.  Pure and
 * thread-safe, so scans read files in parallel and file them in order. */
typedef struct _DfsFacts DfsFacts;
DfsFacts *dfs_facts_new(const DfsDataset *ds);
void dfs_facts_free(DfsFacts *facts);

/* One more column kept at level (an attribute a name template shows, by
 * its keyword): its position among the level's columns (the existing one
 * if tag is one already), or -1 when the level has no room left.  Call
 * before any facts are made.  (Only the name templates add columns, so the
 * templates in use say which: dfs_templates_signature.) */
gint dfs_facts_add_column(DfsLevel level, guint32 tag, const char *keyword);
/* Facts of a study or series (level) listed before its instances (a
 * server's catalog listed level by level): filed, they make its folder and
 * those above it, empty until its instances are filed.  They are stored as
 * the rest, and are no entry of the tree's (no instance, no skip). */
void dfs_facts_mark_folder(DfsFacts *facts, DfsLevel level);
gboolean dfs_facts_is_folder(const DfsFacts *facts);

/* The tags of level's columns (what a source that lists its instances
 * must give for each: a DICOMweb query asks for them), up to max, in
 * column order; returns how many there are. */
guint dfs_facts_tags(DfsLevel level, guint32 *tags, guint max);
/* The same as dfs_facts_new, where the dataset's transfer syntax is not
 * the instance's (a header made from a server's description of it, which
 * DICOM JSON never gives): the facts say none (unknown). */
DfsFacts *dfs_facts_new_described(const DfsDataset *ds);
/* Facts as bytes and back, for the persistent store.  NULL from
 * dfs_facts_deserialize when the bytes are not a serialization. */
void dfs_facts_serialize(const DfsFacts *facts, GString *out); /* out emptied first */
DfsFacts *dfs_facts_deserialize(const guint8 *data, gsize len);

/* --- building -------------------------------------------------------------
 *
 * A builder grows while a scan goes on and gives finished, immutable
 * snapshots at any time; snapshots share the builder's node records and
 * strings, so one costs a few bytes per node and the naming of its folders.
 * A node keeps its number for the builder's life: a file changed or removed
 * during a rescan is taken out, and its new version gets a new number. */

DfsIndexBuilder *dfs_index_builder_new(void);
void dfs_index_builder_free(DfsIndexBuilder *b);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DfsIndexBuilder, dfs_index_builder_free)

/* File the instance read from relpath (facts taken, stat st).  Returns its
 * node.  A DICOMDIR is not an instance: it goes to the skip list, and
 * DFS_NO_INDEX is returned; nor are a folder's facts (dfs_facts_mark_folder):
 * its folders are made, and DFS_NO_INDEX is returned. */
guint dfs_index_builder_add(DfsIndexBuilder *b, const char *relpath, const struct stat *st,
                            DfsFacts *facts);

/* File what a read of relpath found: facts (taken) with reason its
 * errors.tsv note where it is damaged (NULL when whole), or, without facts,
 * the file not in the tree and why (dfs_index_builder_skip). */
void dfs_index_builder_file(DfsIndexBuilder *b, const char *relpath, const struct stat *st,
                            DfsFacts *facts, const char *reason);

/* Record a file that is not in the tree, and why: a file read (st, its
 * version), or an entry the walk does not read (st NULL). */
void dfs_index_builder_skip(DfsIndexBuilder *b, const char *relpath, const struct stat *st,
                            const char *reason);

/* A line in errors.tsv about relpath, an instance in the tree (it is
 * damaged: shown with what could be read). */
void dfs_index_builder_note(DfsIndexBuilder *b, const char *relpath, const char *reason);

/* Take out every file at or under prefix (a file or a folder; "" is
 * everything), its instances and its lines in the skip list. */
void dfs_index_builder_remove_under(DfsIndexBuilder *b, const char *prefix);

/* The paths filed at or under prefix ("": all): instances' and skipped
 * entries' (the builder's strings, valid as long as it is).  A path may
 * come twice. */
void dfs_index_builder_paths_under(const DfsIndexBuilder *b, const char *prefix, GPtrArray *out);

/* The size and mtime relpath had when filed (an instance, or a file
 * skipped after its read); FALSE if it is not filed. */
gboolean dfs_index_builder_version(const DfsIndexBuilder *b, const char *relpath, guint64 *size,
                                   gint64 *mtime_ns);

/* What the next snapshot changes (call before it): the folders whose
 * children changed (guint32 node numbers appended to changed) and the nodes
 * taken out (to gone). */
void dfs_index_builder_delta(DfsIndexBuilder *b, GArray *changed, GArray *gone);

/* From now on the snapshots keep every name they showed (README "Names"):
 * new siblings are named around them, and a file read again keeps its
 * instance's name.  For a mounted tree that changes (issue 14). */
void dfs_index_builder_keep_names(DfsIndexBuilder *b);
/* Name nodes as seed (an earlier snapshot of the same source, numbered
 * alike: a mapped image) names the same ones (level, parent and key), so
 * that a remount keeps the names of what did not change.  seed is ref'd. */
void dfs_index_builder_seed_names(DfsIndexBuilder *b, DfsIndex *seed);

/* Take relpath out: its instance (and folders left empty) and its lines in
 * the skip list. */
void dfs_index_builder_remove(DfsIndexBuilder *b, const char *relpath);

/* The finished index as it stands: sorted, every node named (README
 * "Names").  Caller unrefs. */
DfsIndex *dfs_index_builder_snapshot(DfsIndexBuilder *b);

/* An index of nothing (the root alone), what a mount shows before its scan
 * has filed anything. */
DfsIndex *dfs_index_new_empty(void);

DfsIndex *dfs_index_ref(DfsIndex *idx);
void dfs_index_unref(DfsIndex *idx);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DfsIndex, dfs_index_unref)

/* --- reading the finished index ------------------------------------------ */

/* Node numbers run below dfs_index_n_nodes(); a number whose node was
 * taken out by a rescan is not live (nothing lists or finds it). */
guint dfs_index_n_nodes(const DfsIndex *idx);
gboolean dfs_index_is_live(const DfsIndex *idx, guint node);
DfsLevel dfs_index_level(const DfsIndex *idx, guint node);
const char *dfs_index_name(const DfsIndex *idx, guint node);
guint dfs_index_parent(const DfsIndex *idx, guint node);

/* Children, sorted by name (strcmp).  Owned by idx. */
const guint32 *dfs_index_children(const DfsIndex *idx, guint node, guint *n);

/* The child of node called name, or DFS_NO_INDEX. */
guint dfs_index_lookup(const DfsIndex *idx, guint node, const char *name);

/* A representative instance below node (the first filed), for level
 * attributes: the same for the node's whole life while it is live. */
guint dfs_index_first_instance(const DfsIndex *idx, guint node);

/* The UID that keys a study, series or instance node ("" if it has none). */
const char *dfs_index_uid(const DfsIndex *idx, guint node);

/* Instance facts: source path (relative), size and mtime at scan time. */
const char *dfs_index_relpath(const DfsIndex *idx, guint instance);
guint64 dfs_index_size(const DfsIndex *idx, guint instance);
const struct timespec *dfs_index_mtime(const DfsIndex *idx, guint instance);

/* The tables of .dicomfs/ (catalog/tables.h): a header row, then one row
 * per object (or per skipped file), tab-separated, the object's path in the
 * mount first. */
typedef enum {
    DFS_TABLE_ERRORS,                        /* files skipped, and why */
    DFS_TABLE_PATIENTS = DFS_LEVEL_PATIENT,  /* one row per node of a level */
    DFS_TABLE_STUDIES = DFS_LEVEL_STUDY,
    DFS_TABLE_SERIES = DFS_LEVEL_SERIES,
    DFS_TABLE_INSTANCES = DFS_LEVEL_INSTANCE,
    DFS_TABLE_N
} DfsIndexTable;

/* A lazily made companion of a snapshot (the row offsets of its tables,
 * catalog/tables.c), in one of DFS_INDEX_EXTRAS slots: set once, by the
 * first caller (a later one's data is freed and the first's returned), and
 * freed with free when the snapshot is. */
#define DFS_INDEX_EXTRA_VIEWS DFS_TABLE_N /* catalog/views.c */
#define DFS_INDEX_EXTRAS (DFS_TABLE_N + 1)
gpointer dfs_index_get_extra(const DfsIndex *idx, guint slot);
gpointer dfs_index_set_extra(const DfsIndex *idx, guint slot, gpointer data, GDestroyNotify free);

/* v as one cell of those tables: tabs and line breaks become spaces. */
void dfs_index_cell_text(GString *out, const char *v);

guint dfs_index_n_skipped(const DfsIndex *idx);
guint dfs_index_n_instances(const DfsIndex *idx);

G_END_DECLS
