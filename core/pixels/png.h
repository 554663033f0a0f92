/* dicomfs core: a display image (display.h) as a PNG file. */
#pragma once

#include <glib.h>
#include "pixels/display.h"

G_BEGIN_DECLS

/* The PNG of a display image.  PNGs are written without compression, so
 * their size depends on width, height and channels only and is known
 * without decoding anything (dfs_png_size). */
GBytes *dfs_png_encode(const DfsDisplay *d, GError **error);
gsize dfs_png_size(guint width, guint height, guint channels);

G_END_DECLS
