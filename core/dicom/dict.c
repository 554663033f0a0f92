/* dicomfs core: lookups in the generated tables of dict-table.c.
 *
 * Everything here is read-only static data and pure functions, so any thread
 * may call them at any time. */
#include <string.h>

#include "dicom/dict-table.h"

#define TAG_GROUP(t) ((guint16)((t) >> 16))
#define TAG_ELEM(t) ((guint16)((t)&0xffff))

/* PS3.5 7.2: every group may have a Group Length (gggg,0000), UL.  Only
 * (0000,0000) and (0002,0000) are still current, and they are in the plain
 * table; this entry answers for the retired rest, private groups included
 * (PS3.5 7.8.1 reserves only (gggg,0001-000F) there). */
static const DfsDictEntry group_length = {
    0x00000000u, 0x0000ffffu, DFS_VR_UL, DFS_VR_NONE, TRUE, "1", "", "Group Length",
};

/* PS3.5 7.8.1: (gggg,0010-00FF) of a private group reserve the blocks
 * (gggg,xx00-xxFF) for the creator named in their value.  The mask cannot
 * express 0010-00FF; dfs_dict_lookup checks the range itself. */
static const DfsDictEntry private_creator = {
    0x00010000u, 0x0001ff00u, DFS_VR_LO, DFS_VR_NONE, FALSE, "1", "PrivateCreator",
    "Private Creator",
};

/* Private groups are odd, but not 0001, 0003, 0005, 0007 or FFFF (PS3.5 7.8.1). */
static gboolean is_private_group(guint16 group)
{
    return (group & 1) && group > 0x0007 && group != 0xffff;
}

static const DfsDictEntry *lookup_plain(guint32 tag)
{
    /* The dense tag array keeps the ~13 probes in a few cache lines; this
     * runs for every element of an implicit VR file. */
    guint lo = 0, hi = dfs_dict_plain_count;
    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        guint32 t = dfs_dict_plain_tags[mid];
        if (t < tag)
            lo = mid + 1;
        else if (t > tag)
            hi = mid;
        else
            return &dfs_dict_plain[mid];
    }
    return NULL;
}

static const DfsDictEntry *lookup_repeating(guint32 tag)
{
    for (guint i = 0; i < dfs_dict_repeating_count; i++) {
        const DfsDictEntry *e = &dfs_dict_repeating[i];
        if ((tag & e->mask) != e->tag)
            continue;
        /* PS3.5 7.6: curves and overlays repeat in the even groups xx =
         * 00-1E of 50xx and 60xx.  7Fxx is held to the same range, which
         * also keeps 7FE0 (Pixel Data's group) out of it. */
        if ((e->mask >> 16) != 0xffff && (TAG_GROUP(tag) & 0x00e1) != 0)
            continue;
        return e;
    }
    return NULL;
}

const DfsDictEntry *dfs_dict_lookup(guint32 tag)
{
    const DfsDictEntry *e = lookup_plain(tag);
    if (e != NULL)
        return e;
    guint16 group = TAG_GROUP(tag), elem = TAG_ELEM(tag);
    if (elem == 0x0000)
        return &group_length;
    if (group & 1) {
        /* Odd groups hold no public attributes, only private ones. */
        if (is_private_group(group) && elem >= 0x0010 && elem <= 0x00ff)
            return &private_creator;
        return NULL;
    }
    return lookup_repeating(tag);
}

const DfsDictEntry *dfs_dict_lookup_keyword(const char *keyword)
{
    if (keyword == NULL || keyword[0] == '\0')
        return NULL;
    guint lo = 0, hi = dfs_dict_by_keyword_count;
    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        const DfsDictEntry *e = dfs_dict_by_keyword[mid];
        int c = strcmp(e->keyword, keyword);
        if (c < 0)
            lo = mid + 1;
        else if (c > 0)
            hi = mid;
        else
            return e;
    }
    return NULL;
}

static const DfsPrivateCreator *find_creator(const char *creator)
{
    guint lo = 0, hi = dfs_dict_private_creator_count;
    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        const DfsPrivateCreator *c = &dfs_dict_private_creators[mid];
        int d = strcmp(c->creator, creator);
        if (d < 0)
            lo = mid + 1;
        else if (d > 0)
            hi = mid;
        else
            return c;
    }
    return NULL;
}

/* The entry of one creator's block with exactly this (tag, mask); the block is
 * sorted by tag, then mask. */
static const DfsDictEntry *find_private(const DfsDictEntry *block, guint n, guint32 tag,
                                        guint32 mask)
{
    guint lo = 0, hi = n;
    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        const DfsDictEntry *e = &block[mid];
        if (e->tag < tag || (e->tag == tag && e->mask < mask))
            lo = mid + 1;
        else if (e->tag > tag || e->mask > mask)
            hi = mid;
        else
            return e;
    }
    return NULL;
}

const DfsDictEntry *dfs_dict_lookup_private(const char *creator, guint32 tag)
{
    if (creator == NULL || !is_private_group(TAG_GROUP(tag)))
        return NULL;
    const DfsPrivateCreator *c = find_creator(creator);
    if (c == NULL)
        return NULL;
    /* Most entries say 'ggggxxee': any block xx (PS3.5 7.8.1).  Below 0x1000
     * there are no blocks, so only an exact entry can apply (masks[0]). */
    guint n_masks = TAG_ELEM(tag) >= 0x1000 ? dfs_dict_private_mask_count : 1;
    const DfsDictEntry *block = &dfs_dict_private[c->first];
    for (guint m = 0; m < n_masks; m++) {
        guint32 mask = dfs_dict_private_masks[m];
        const DfsDictEntry *e = find_private(block, c->count, tag & mask, mask);
        if (e != NULL)
            return e;
    }
    return NULL;
}

const DfsUidEntry *dfs_uid_lookup(const char *uid)
{
    if (uid == NULL)
        return NULL;
    guint lo = 0, hi = dfs_uid_count;
    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        int c = strcmp(dfs_uid_table[mid].uid, uid);
        if (c < 0)
            lo = mid + 1;
        else if (c > 0)
            hi = mid;
        else
            return &dfs_uid_table[mid];
    }
    return NULL;
}
