/* dicomfs core: a parsed DICOM file.
 *
 * A DfsDataset is one file's elements as a flat array in document order.
 * Sequences and items are elements too: an SQ element is followed by its
 * items (tag FFFE,E000), each item by its own elements.  Every element knows
 * `end`, the index one past its last descendant, so siblings are walked by
 * jumping (i = el->end) and the children of i are i+1 .. el->end-1.
 *
 * Values are not copied: an element records where its value lies in the
 * file (or in the inflated stream of a Deflated file).  Values before Pixel
 * Data are always in memory; Pixel Data and its fragments are located by
 * offset and read only when asked for.
 *
 * A dataset is immutable once read and may be read from many threads. */
#pragma once

#include <glib.h>
#include "dicom/vr.h"
#include "dicom/charset.h"

G_BEGIN_DECLS

typedef struct _DfsDataset DfsDataset;

#define DFS_NO_INDEX G_MAXUINT32
/* `parent` of top-level elements */
#define DFS_ROOT DFS_NO_INDEX
/* `length` of an element read with undefined length (FFFFFFFF) */
#define DFS_UNDEFINED_LENGTH G_MAXUINT32

typedef enum {
    DFS_ELEM_BIG_ENDIAN = 1 << 0,   /* binary value stored big endian */
    DFS_ELEM_UNDEFINED = 1 << 1,    /* read with undefined length */
    DFS_ELEM_ENCAPSULATED = 1 << 2, /* pixel data in fragments */
    DFS_ELEM_NOT_LOADED = 1 << 3,   /* value not in memory (header-only read) */
    DFS_ELEM_META = 1 << 4,         /* part of the File Meta Information */
    DFS_ELEM_IMPLICIT = 1 << 5,     /* encoded implicit VR: vr came from a dictionary */
} DfsElemFlags;

/* One element, item or sequence.  Read-only view into the dataset. */
typedef struct {
    guint32 tag;     /* (group << 16) | element */
    guint8 vr;       /* DfsVr; DFS_VR_NONE for items */
    guint8 flags;    /* DfsElemFlags */
    guint16 depth;   /* 0 top level; items of a top-level SQ 1, their elements 2 ... */
    guint32 length;  /* value length in bytes; for undefined length, the
                        length of the content as read (delimiters excluded) */
    guint64 offset;  /* of the value in the stream (file, or inflated data) */
    guint32 end;     /* index one past the last descendant */
    guint32 parent;  /* enclosing item (for items: their SQ), or DFS_ROOT */
} DfsElement;

/* One pixel data fragment (an item of the encapsulated Pixel Data).  The
 * first fragment is the Basic Offset Table, possibly empty (PS3.5 A.4). */
typedef struct {
    guint64 offset; /* of the fragment's bytes in the stream */
    guint32 length;
} DfsFragment;

/* Datasets are reference-counted: a new one has one reference.
 * dfs_dataset_free drops one (and frees at the last). */
DfsDataset *dfs_dataset_ref(DfsDataset *ds);
void dfs_dataset_free(DfsDataset *ds);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DfsDataset, dfs_dataset_free)

guint dfs_dataset_n_elements(const DfsDataset *ds);
/* Element i (0 <= i < n_elements).  Owned by ds. */
const DfsElement *dfs_dataset_element(const DfsDataset *ds, guint i);

/* The value bytes of element i, or NULL (and *len = 0) where the value is
 * not in memory (DFS_ELEM_NOT_LOADED) or the element is a sequence/item.
 * Owned by ds.  A value of length 0 gives a non-NULL pointer. */
const guint8 *dfs_dataset_value(const DfsDataset *ds, guint i, gsize *len);

/* The first element with `tag` directly inside `parent` (an item index, or
 * DFS_ROOT for the top level), or DFS_NO_INDEX. */
guint dfs_dataset_find(const DfsDataset *ds, guint parent, guint32 tag);

/* The index of the first child of item/sequence `i`; i+1 if it has any. */
static inline guint dfs_dataset_first_child(const DfsDataset *ds, guint i)
{
    (void)ds;
    return i + 1;
}

/* The private creator (trimmed, NUL-terminated, owned by ds) that reserves
 * the private element i, or NULL for public tags and orphans. */
const char *dfs_dataset_private_creator(const DfsDataset *ds, guint i);

/* The Specific Character Set in force for element i (the nearest enclosing
 * item or top level that has (0008,0005)), or NULL for the default
 * repertoire.  Owned by ds. */
const DfsCharset *dfs_dataset_charset(const DfsDataset *ds, guint i);

/* The transfer syntax UID of the data set (after the File Meta Information),
 * as detected when the file has none.  Owned by ds; never NULL. */
const char *dfs_dataset_transfer_syntax(const DfsDataset *ds);

/* Why the file could be read only in part, or NULL if it was read whole
 * (as far as asked: a header-only read does not look past Pixel Data).  A
 * damaged dataset holds every element before the one that could not be
 * read, which begins at byte *offset of the stream (may be NULL). */
const char *dfs_dataset_damage(const DfsDataset *ds, guint64 *offset);
/* "damaged at byte N: why", or NULL if whole.  Caller frees. */
char *dfs_dataset_damage_text(const DfsDataset *ds);

/* TRUE if the file had a 128-byte preamble and "DICM". */
gboolean dfs_dataset_has_preamble(const DfsDataset *ds);

/* TRUE if the dataset was read header-only (stopped at Pixel Data). */
gboolean dfs_dataset_is_header_only(const DfsDataset *ds);

/* Bytes of the stream held in memory (what a header-only read loaded). */
gsize dfs_dataset_loaded_size(const DfsDataset *ds);

/* Bytes of memory the dataset holds in all: the stream's buffers, the
 * element array's room and the other tables (what a cache should count). */
gsize dfs_dataset_memory(const DfsDataset *ds);

/* The index of top-level Pixel Data (7FE0,0010), or DFS_NO_INDEX.  In a
 * header-only read it is present (with DFS_ELEM_NOT_LOADED) but has no
 * fragments. */
guint dfs_dataset_pixel_data(const DfsDataset *ds);

/* Let a full read's native Pixel Data value go from memory (its element is
 * then DFS_ELEM_NOT_LOADED, as in a header-only read; its frames are read
 * from the file at their offsets): what the dataset holds is then its
 * attributes, those after Pixel Data included.  FALSE (nothing done) for
 * encapsulated or deflated data, a value not loaded, or no Pixel Data. */
gboolean dfs_dataset_drop_pixel_value(DfsDataset *ds);

/* The fragments of encapsulated Pixel Data (first: the Basic Offset Table). */
const DfsFragment *dfs_dataset_fragments(const DfsDataset *ds, guint *n_fragments);

/* Read `len` bytes at `offset` of the stream into buf: from memory where
 * loaded, otherwise with pread from the source file.  FALSE and an error if
 * the range is past the end or the file cannot be read. */
gboolean dfs_dataset_read_stream(const DfsDataset *ds, guint64 offset, void *buf, gsize len,
                                 GError **error);

/* --- typed accessors (top level or within an item) ------------------------ */

/* The whole value of a text element as UTF-8 (charset decoded, padding
 * trimmed, values joined by '\'); NULL if absent.  Caller frees. */
char *dfs_dataset_get_string(const DfsDataset *ds, guint parent, guint32 tag);
/* The same text appended to out; FALSE (nothing appended) if absent. */
gboolean dfs_dataset_append_string(const DfsDataset *ds, guint parent, guint32 tag, GString *out);

/* Value number `n` of an integer element (US SS UL SL SV UV, or IS text) in
 * *out.  FALSE if absent, not an integer, or out of range. */
gboolean dfs_dataset_get_int(const DfsDataset *ds, guint parent, guint32 tag, guint n,
                             gint64 *out);

/* Value number `n` of a numeric element (FL FD, DS text, or an integer VR). */
gboolean dfs_dataset_get_double(const DfsDataset *ds, guint parent, guint32 tag, guint n,
                                double *out);

G_END_DECLS
