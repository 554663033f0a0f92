/* dicomfs core: Siemens' CSA header.  See csa.h.  The SV10 layout: "SV10",
 * 4 bytes, the number of elements and 4 bytes; each element: a 64-byte
 * NUL-terminated name, VM, a 4-byte VR, a type, the number of items and 4
 * bytes; each item: four 32-bit numbers (the second its length) and its
 * bytes, padded to a multiple of 4.  All little endian. */
#include "volumes/csa.h"

#include <math.h>
#include <string.h>

#define CSA_CREATOR "SIEMENS CSA HEADER"
#define CSA_IMAGE_ELEMENT 0x10u
#define CSA_SERIES_ELEMENT 0x20u
#define MAX_ELEMENTS 4096
#define MAX_ITEMS 4096

static gboolean u32(const guint8 *p, gsize len, gsize at, guint32 *out)
{
    if (at > len || len - at < 4)
        return FALSE;
    *out = (guint32)p[at] | (guint32)p[at + 1] << 8 | (guint32)p[at + 2] << 16 |
           (guint32)p[at + 3] << 24;
    return TRUE;
}

/* (0029,xxEE) in the block its creator reserves: 10 or 11 in practice. */
static const guint8 *csa_header(const DfsDataset *ds, guint32 element, gsize *len)
{
    for (guint32 block = 0x10; block <= 0x11; block++) {
        guint i = dfs_dataset_find(ds, DFS_ROOT, 0x00290000u | block << 8 | element);
        if (i == DFS_NO_INDEX)
            continue;
        const char *creator = dfs_dataset_private_creator(ds, i);
        if (creator == NULL || strcmp(creator, CSA_CREATOR) != 0)
            continue;
        const guint8 *v = dfs_dataset_value(ds, i, len);
        if (v != NULL && *len >= 16 && memcmp(v, "SV10", 4) == 0)
            return v;
    }
    *len = 0;
    return NULL;
}

const guint8 *dfs_csa_image_header(const DfsDataset *ds, gsize *len)
{
    return csa_header(ds, CSA_IMAGE_ELEMENT, len);
}

const guint8 *dfs_csa_series_header(const DfsDataset *ds, gsize *len)
{
    return csa_header(ds, CSA_SERIES_ELEMENT, len);
}

const guint8 *dfs_csa_item(const guint8 *p, gsize len, const char *name, guint item,
                           gsize *text_len)
{
    guint32 n;
    if (p == NULL || !u32(p, len, 8, &n) || n > MAX_ELEMENTS)
        return NULL;
    gsize at = 16;
    for (guint32 e = 0; e < n; e++) {
        guint32 n_items;
        if (at > len || len - at < 84 || !u32(p, len, at + 76, &n_items) || n_items > MAX_ITEMS)
            return NULL;
        gboolean wanted = strncmp((const char *)p + at, name, 64) == 0 &&
                          memchr(p + at, '\0', 64) != NULL;
        at += 84;
        for (guint32 k = 0; k < n_items; k++) {
            guint32 item_len;
            if (!u32(p, len, at + 4, &item_len) || at + 16 > len || item_len > len - at - 16)
                return NULL;
            if (wanted && k == item) {
                *text_len = item_len;
                return p + at + 16;
            }
            at += 16 + ((gsize)item_len + 3) / 4 * 4;
        }
        if (wanted)
            return NULL;
    }
    return NULL;
}

gboolean dfs_csa_number(const guint8 *p, gsize len, const char *name, guint item, double *out)
{
    gsize item_len;
    const guint8 *v = dfs_csa_item(p, len, name, item, &item_len);
    if (v == NULL)
        return FALSE;
    char text[64];
    gsize m = MIN(item_len, sizeof text - 1);
    memcpy(text, v, m);
    text[m] = '\0';
    char *end;
    double x = g_ascii_strtod(g_strstrip(text), &end);
    if (end == text || !isfinite(x))
        return FALSE;
    *out = x;
    return TRUE;
}
