/* dicomfs core (internal): the inside of a DfsDataset, shared by the reader
 * that builds it and dataset.c that answers questions about it. */
#pragma once

#include "dicom/dataset.h"
#include "dicom/input.h"

struct _DfsDataset {
    gint refcount;
    DfsElement *elems; /* document order; a DFS_SCRATCH_ELEMS block at first */
    guint n_elems;
    guint elems_room;  /* elements elems has room for */
    gboolean elems_scratch;
    GArray *top;       /* guint32 indices of the top-level elements */
    gboolean top_sorted; /* ... in ascending tag order (binary search) */
    GArray *creators;  /* guint32 per element: offset of its Private Creator's
                          text in creator_text, or DFS_NO_INDEX */
    GString *creator_text; /* trimmed creator values, each NUL-terminated
                              (NULL until the first) */
    DfsInput *src;    /* the loaded stream */
    char *ts_uid;
    gboolean preamble;
    gboolean header_only;
    guint pixel_data;  /* index, or DFS_NO_INDEX */
    GArray *fragments; /* DfsFragment of top-level Pixel Data, or NULL (none) */
    char *path;        /* for reads of what was not loaded, or NULL */
    char *damage;      /* why reading stopped early, or NULL (whole) */
    guint64 damage_at; /* ... and where the element it stopped at begins */
    int fd;            /* caller's fd for such reads, or -1 */
    guint64 cut_at;    /* the loaded stream is the file from here on less */
    guint64 cut_len;   /* ... these bytes (dfs_dataset_drop_pixel_value), or 0 */

    /* Specific Character Sets, parsed once: root, and per item that has one. */
    DfsCharset *root_charset;
    GHashTable *item_charsets; /* item index -> DfsCharset*, or NULL */
};

DfsDataset *dfs_dataset_new_internal(DfsInput *src);
/* Extend the creators table (made by the caller) to n entries, the new
 * ones DFS_NO_INDEX. */
void dfs_dataset_pad_creators(DfsDataset *ds, guint n);

/* After parsing: parse character sets, trim arrays. */
void dfs_dataset_seal(DfsDataset *ds);
