/* dicomfs core: a frame as a viewer shows it, as 8-bit gray or RGB, and as
 * PNG (png.h).
 *
 * Grayscale (PS3.3 C.11, PS3.4 N.2): Modality LUT (Rescale Slope/Intercept,
 * or the first Modality LUT Sequence item), then the first VOI window
 * (Window Center/Width with VOI LUT Function LINEAR, LINEAR_EXACT or
 * SIGMOID) or the first VOI LUT Sequence item, else the frame's min-max;
 * MONOCHROME1 inverted.  Color: RGB as is, YBR_FULL converted (C.7.6.3.1.2),
 * PALETTE COLOR through its LUTs; samples above 8 bits scaled down. */
#pragma once

#include <glib.h>
#include "pixels/image.h"

G_BEGIN_DECLS

typedef struct {
    guint width, height;
    guint channels; /* 1 gray, 3 RGB */
    guint8 *pixels; /* width x height x channels bytes, owned */
} DfsDisplay;

/* Render one decoded frame (from dfs_image_decode) for display. */
gboolean dfs_display_render(const DfsDataset *ds, const DfsImage *img, const guint8 *frame,
                            DfsDisplay *out, GError **error);
void dfs_display_clear(DfsDisplay *d);

G_END_DECLS
