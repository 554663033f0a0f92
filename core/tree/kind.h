/* dicomfs core (internal): a kind of file or folder in the mounted tree.
 *
 * An entry (tree.h) is a kind, an index node and a sub-number:
 *
 *   kind (6 bits) | index node (34 bits) | sub (24 bits)
 *
 * The tree (tree.c) routes every request on an entry to its kind, a
 * DfsKind with a few functions: a folder kind looks names up and lists its
 * entries; a file kind renders its content, and may know its size without
 * rendering or be a slice of the source file.  Each kind lives in a module
 * of its own under kinds/, and kinds.c lists them: a new kind of file is a
 * new module and a line there, nothing else.
 *
 * What a kind's functions cost is said in its module; none of them may
 * grow with the archive (they see one node and its dataset), except the
 * .dicomfs tables, which are the archive. */
#pragma once

#include <glib.h>

#include "catalog/index.h"
#include "tree/tree.h"

G_BEGIN_DECLS

/* --- entries --------------------------------------------------------------- */

#define DFS_ENTRY_KIND_BITS 6
#define DFS_ENTRY_NODE_BITS 34
#define DFS_ENTRY_SUB_BITS 24

#define DFS_ENTRY_KIND(e) ((guint)((e) >> (DFS_ENTRY_NODE_BITS + DFS_ENTRY_SUB_BITS)))
#define DFS_ENTRY_NODE(e)                                                                           \
    ((guint)(((e) >> DFS_ENTRY_SUB_BITS) &                                                          \
             ((G_GUINT64_CONSTANT(1) << DFS_ENTRY_NODE_BITS) - 1)))
#define DFS_ENTRY_SUB(e) ((guint)((e) & ((G_GUINT64_CONSTANT(1) << DFS_ENTRY_SUB_BITS) - 1)))
#define DFS_ENTRY_MAKE(k, n, s)                                                                     \
    (((guint64)(k) << (DFS_ENTRY_NODE_BITS + DFS_ENTRY_SUB_BITS)) |                                 \
     ((guint64)(n) << DFS_ENTRY_SUB_BITS) | (guint64)(s))

/* The kinds, by number (the entry's kind field).  kinds.c maps each to its
 * module.  A node folder is kind 0 with sub 1, so the root is entry 1. */
typedef enum {
    DFS_KIND_NODE,        /* kinds/node.c: a patient, study, series or instance folder */
    DFS_KIND_TAGS,        /* kinds/tags.c: a node's tags/ */
    DFS_KIND_ATTR,        /* kinds/tags.c: an element, item or sequence under tags/ */
    DFS_KIND_HEADER_JSON, /* kinds/header.c */
    DFS_KIND_HEADER_TXT,  /* kinds/header.c */
    DFS_KIND_DCM,         /* kinds/instance-dcm.c */
    DFS_KIND_META_DIR,    /* kinds/meta.c: .dicomfs */
    DFS_KIND_META_FILE,   /* kinds/meta.c: .dicomfs/status, errors.tsv; sub is the file */
    DFS_KIND_IMAGE_PNG,   /* kinds/pixels.c */
    DFS_KIND_PIXELS_RAW,  /* kinds/pixels.c */
    DFS_KIND_PIXELS_TXT,  /* kinds/pixels.c */
    DFS_KIND_FRAMES,      /* kinds/frames.c: frames/ */
    DFS_KIND_FRAME_PNG,   /* kinds/frames.c: frames/NNNN.png; sub is the frame */
    DFS_KIND_FRAME_RAW,   /* kinds/frames.c: frames/NNNN.raw */
    DFS_KIND_META_TABLE,  /* kinds/meta.c: .dicomfs/<level>.tsv; sub is the file */
    DFS_KIND_VOLUME_DIR,  /* kinds/volume.c: a series' volume/ */
    DFS_KIND_VOLUME_FILE, /* kinds/volume.c: a file in it; sub is volume and format */
    DFS_KIND_VIEW_DIR,    /* kinds/views.c: a folder of a view under .dicomfs */
    DFS_KIND_VIEW_LINK,   /* kinds/views.c: a view's link into the tree */
    DFS_KIND_N
} DfsKindId;

G_STATIC_ASSERT(DFS_KIND_N <= (1 << DFS_ENTRY_KIND_BITS));

/* --- what a kind sees -------------------------------------------------------- */

/* The tree as one request sees it: the index snapshot of that moment (a
 * scan may publish a newer one meanwhile) and the tree's shared state. */
typedef struct {
    DfsTree *tree;
    DfsIndex *idx;
    gboolean owned; /* a reference to drop */
} DfsView;

/* The source being mounted. */
DfsSource *dfs_view_source(const DfsView *v);

/* The path of a local file holding instance node's bytes (the source's
 * own, or its fetched copy: sources/source.h).  Caller frees.  NULL with
 * an error when they cannot be had now. */
char *dfs_view_path(const DfsView *v, guint node, GError **error);

/* The path of a local file holding instance node's header at least: its
 * bytes (*whole TRUE), or a copy of its header without its pixel bytes
 * (*whole FALSE; a remote source's series retrieved for its headers).
 * For attribute files only: pixel bytes are read from dfs_view_path's. */
char *dfs_view_header_path(const DfsView *v, guint node, gboolean *whole, GError **error);

/* Would a frame of instance node rather be fetched alone than read from
 * its whole bytes (the source's frame_alone, sources/source.h)?  Then the
 * frame's stored bytes in transfer syntax `syntax`, at most max_bytes;
 * NULL with an error when they cannot be had (DFS_ERROR_UNSUPPORTED: the
 * server will not give them so; DFS_ERROR_IO). */
gboolean dfs_view_frame_alone(const DfsView *v, guint node);
GBytes *dfs_view_fetch_frame(const DfsView *v, guint node, guint frame, const char *syntax,
                             gsize max_bytes, GError **error);

/* The byte count of instance node: the catalog's, or what the source has
 * learned since (0 while unknown). */
guint64 dfs_view_instance_size(const DfsView *v, guint node);

/* How many snapshots the tree has had (a view folder's inode changes
 * with it: kinds/views.c). */
guint dfs_view_generation(const DfsView *v);

/* The tree's status, as the scan last published it. */
void dfs_view_status(const DfsView *v, DfsTreeStatus *out);

/* Append the failures met while mounted (read errors of pixel files), one
 * errors.tsv line each. */
void dfs_view_write_read_errors(const DfsView *v, GString *out);
/* Note node's damage that only a whole read saw (past Pixel Data, which
 * the scan does not read): line is its errors.tsv reason. */
void dfs_view_note_damage(const DfsView *v, guint node, const char *line);

/* Count bytes a kind rendered by range, and write the tree's counters
 * (the status file's last lines). */
void dfs_view_count_rendered(const DfsView *v, guint64 bytes);
/* Count a volume's frame read from its file as stored (not decoded), and
 * a series' volume plan made (its headers read). */
void dfs_view_count_frame_read(const DfsView *v);
void dfs_view_count_plan(const DfsView *v);
void dfs_view_write_counters(const DfsView *v, GString *out);

/* The content of file entry e, rendered once and kept in the content cache
 * (as a read of the whole file would have it), with a reference. */
GBytes *dfs_view_rendered(const DfsView *v, DfsEntry e, GError **error);

/* The same rendered now and not kept (a pass over many files that would
 * only churn the cache). */
GBytes *dfs_view_render_fresh(const DfsView *v, DfsEntry e, GError **error);

/* Set a DFS_ERROR_NOT_FOUND error about name; FALSE. */
gboolean dfs_view_not_found(GError **error, const char *name);

/* --- listings ----------------------------------------------------------------- */

/* A listing in progress: the caller's callback and where it started. */
typedef struct {
    guint64 from;  /* the first position wanted */
    DfsTreeListFunc fn;
    gpointer user;
    gboolean stopped; /* fn said stop */
} DfsLister;

/* Give entry e at position pos (positions are stable within a snapshot;
 * those before from are skipped).  FALSE once the caller wants no more. */
gboolean dfs_lister_emit(DfsLister *l, guint64 pos, const char *name, DfsEntry e, gboolean is_dir);

/* --- the interface ---------------------------------------------------------------- */

typedef enum {
    DFS_KIND_DIR = 1 << 0,       /* a folder (unless is_dir says otherwise) */
    DFS_KIND_VOLATILE = 1 << 1,  /* content changes while mounted: a new mtime at every
                                    stat, never cached (.dicomfs files) */
    DFS_KIND_UNCACHED = 1 << 2,  /* rendered at every read and stat: cheaper than the
                                    cache's churn (attribute values) */
    DFS_KIND_COSTLY = 1 << 3,    /* its size takes a whole render: not worth computing
                                    for a listing (header.txt, header.json) */
    DFS_KIND_MOUNT_TIME = 1 << 4, /* mtime is the mount's, not the instance's */
    DFS_KIND_SETTLES = 1 << 5,   /* volatile only while the scan runs (the tables) */
    DFS_KIND_LINK = 1 << 6,      /* a symbolic link: link gives its target */
    DFS_KIND_NOT_NODE = 1 << 7,  /* the entry's node field is not an index node (the
                                    kind checks what it names itself) */
    DFS_KIND_INSTANCE_SIZED = 1 << 8, /* its size is the instance's byte count: volatile
                                         while the source does not know it (0: a server
                                         that says it only once the bytes are fetched) */
} DfsKindFlags;

typedef struct {
    /* For errors.tsv: a failure to size or render this file is noted under
     * this name ("image.png"); NULL: not noted. */
    const char *error_name;
    DfsKindFlags flags;

    /* Folders.  lookup: the entry called name in folder dir (FALSE with
     * DFS_ERROR_NOT_FOUND).  list: emit the entries from l->from on. */
    gboolean (*lookup)(const DfsView *v, DfsEntry dir, const char *name, DfsEntry *out,
                       GError **error);
    gboolean (*list)(const DfsView *v, DfsEntry dir, DfsLister *l, GError **error);
    /* Where the entry decides whether it is a folder (NULL: flags say). */
    gboolean (*is_dir)(const DfsView *v, DfsEntry e, gboolean *is_dir, GError **error);

    /* Files.  size: the exact size without rendering (NULL: the length of
     * the rendered content).  render: append the whole content to out.
     * source_range: TRUE when the file is bytes [offset, offset + length)
     * of the node's source file, served from it unrendered. */
    gboolean (*size)(const DfsView *v, DfsEntry e, guint64 *size, GError **error);
    gboolean (*render)(const DfsView *v, DfsEntry e, GString *out, GError **error);
    gboolean (*source_range)(const DfsView *v, DfsEntry e, guint64 *offset, guint64 *length);
    /* Files read by range, never rendered whole (they need size too):
     * append bytes [offset, offset + length) to out, fewer at the end.
     * Each read costs what it returns, whatever the file's size. */
    gboolean (*read)(const DfsView *v, DfsEntry e, guint64 offset, gsize length, GString *out,
                     GError **error);

    /* Links: append the target to out. */
    gboolean (*link)(const DfsView *v, DfsEntry e, GString *out, GError **error);

    /* Extended attributes of entry e (NULL: none): append their names
     * ("user.dicom.tag") to names and their values to values, in pairs. */
    gboolean (*xattrs)(const DfsView *v, DfsEntry e, GPtrArray *names, GPtrArray *values,
                       GError **error);

    /* Entries of a node's own folder: a kind shown in the folders of the
     * levels in `levels` (a mask of 1 << DfsLevel) under `name`, where
     * shown() says so (NULL: always). */
    const char *name;
    guint levels;
    gboolean (*shown)(const DfsView *v, guint node);
} DfsKind;

#define DFS_LEVEL_MASK(l) (1u << (l))

/* The kind of entry e, or NULL for a kind number no module has. */
const DfsKind *dfs_kind_of(DfsEntry e);
const DfsKind *dfs_kind_by_id(DfsKindId id);

/* The kinds that are entries of node folders, in listing order (by name):
 * n of them. */
const DfsKindId *dfs_kinds_in_nodes(guint *n);

/* The modules (kinds/). */
extern const DfsKind dfs_kind_node;
extern const DfsKind dfs_kind_tags, dfs_kind_attr;
extern const DfsKind dfs_kind_header_json, dfs_kind_header_txt;
extern const DfsKind dfs_kind_instance_dcm;
extern const DfsKind dfs_kind_meta_dir, dfs_kind_meta_file, dfs_kind_meta_table;
extern const DfsKind dfs_kind_image_png, dfs_kind_pixels_raw, dfs_kind_pixels_txt;
extern const DfsKind dfs_kind_frames, dfs_kind_frame_png, dfs_kind_frame_raw;
extern const DfsKind dfs_kind_volume_dir, dfs_kind_volume_file;
extern const DfsKind dfs_kind_view_dir, dfs_kind_view_link;

/* The views' first folders (kinds/views.c), listed in .dicomfs: n of them;
 * the k-th one's name, and its entry in out. */
guint dfs_views_n_roots(void);
const char *dfs_views_root(const DfsView *v, guint k, DfsEntry *out);

G_END_DECLS
