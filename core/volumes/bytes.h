/* dicomfs core (internal to volumes/): numbers into the volume formats'
 * files: binary header fields, little endian like every file dicomfs
 * writes, and text numbers as dcm2niix prints them. */
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

/* A number as dcm2niix prints it (%g: six significant digits), never -0. */
static inline void dfs_append_number(GString *out, double v)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    g_string_append(out, g_ascii_formatd(buf, sizeof buf, "%g", v == 0 ? 0 : v));
}

static inline void dfs_put_f32(guint8 *h, guint off, double v)
{
    float f = (float)v;
    memcpy(h + off, &f, 4);
}
