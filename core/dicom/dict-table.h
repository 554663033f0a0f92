/* dicomfs core: the tables behind dict.h, shared by dict.c, the generated
 * dict-table.c and tests/test-dict.c (which dumps them for the pydicom
 * oracle).  Not part of the library's interface. */
#pragma once

#include "dicom/dict.h"

G_BEGIN_DECLS

/* Plain public tags (mask 0xffffffff), sorted by tag; dfs_dict_plain_tags
 * holds the same tags densely so that the binary search stays in cache. */
extern const DfsDictEntry dfs_dict_plain[];
extern const guint32 dfs_dict_plain_tags[];
extern const guint dfs_dict_plain_count;

/* Repeating groups and elements; no tag matches two of them. */
extern const DfsDictEntry dfs_dict_repeating[];
extern const guint dfs_dict_repeating_count;

/* Plain and repeating entries that have a keyword, sorted by strcmp(). */
extern const DfsDictEntry *const dfs_dict_by_keyword[];
extern const guint dfs_dict_by_keyword_count;

/* One private creator's entries: dfs_dict_private[first, first + count),
 * sorted by (tag, mask), where the 'x' digits of the source are 0 in the tag
 * and in the mask. */
typedef struct {
    const char *creator;
    guint32 first;
    guint32 count;
} DfsPrivateCreator;

extern const DfsDictEntry dfs_dict_private[];
extern const guint dfs_dict_private_count;
extern const DfsPrivateCreator dfs_dict_private_creators[]; /* sorted by strcmp() */
extern const guint dfs_dict_private_creator_count;
/* The masks a private lookup tries, in order; the first is 0xffffffff. */
extern const guint32 dfs_dict_private_masks[];
extern const guint dfs_dict_private_mask_count;

/* Registered UIDs, sorted by strcmp(). */
extern const DfsUidEntry dfs_uid_table[];
extern const guint dfs_uid_count;

G_END_DECLS
