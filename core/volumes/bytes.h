/* dicomfs core (internal to volumes/): numbers into the headers of the
 * volume formats, little endian like every file dicomfs writes. */
#pragma once

#include <glib.h>
#include <string.h>

G_STATIC_ASSERT(G_BYTE_ORDER == G_LITTLE_ENDIAN); /* fields are stored as the host has them */

static inline void dfs_put_i16(guint8 *h, guint off, gint16 v)
{
    memcpy(h + off, &v, 2);
}

static inline void dfs_put_i32(guint8 *h, guint off, gint32 v)
{
    memcpy(h + off, &v, 4);
}

static inline void dfs_put_f32(guint8 *h, guint off, double v)
{
    float f = (float)v;
    memcpy(h + off, &f, 4);
}
