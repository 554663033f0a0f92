/* dicomfs core: Siemens' ASCCONV text, the protocol as "key = value" lines
 * between "### ASCCONV BEGIN" and "### ASCCONV END ###" in the
 * MrPhoenixProtocol of the CSA series header (csa.h).  What the BIDS
 * sidecar needs of it: numbers (decimal or 0x hexadecimal) and quoted
 * strings, by key.
 *
 * The text is untrusted: lines longer than DFS_ASCCONV_MAX_LINE bytes are
 * skipped, at most DFS_ASCCONV_MAX_KEYS keys are kept (the first ones), a
 * key seen twice keeps its first value, and text cut anywhere (no END
 * line, a line without its end) gives the keys read whole before the cut.
 * Costs: one pass over the text; memory below the text's size. */
#pragma once

#include <glib.h>

#include "dicom/dataset.h"

G_BEGIN_DECLS

#define DFS_ASCCONV_MAX_LINE 4096
#define DFS_ASCCONV_MAX_KEYS 65536

typedef struct _DfsAscconv DfsAscconv;

/* The ASCCONV lines of text (len bytes, not necessarily NUL-terminated),
 * or NULL where it has none.  Free with dfs_ascconv_free. */
DfsAscconv *dfs_ascconv_parse(const char *text, gsize len);

/* The ASCCONV of ds's CSA series header (its MrPhoenixProtocol, else its
 * MrProtocol), or NULL. */
DfsAscconv *dfs_ascconv_from_dataset(const DfsDataset *ds);

void dfs_ascconv_free(DfsAscconv *a);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DfsAscconv, dfs_ascconv_free)

/* The number of keys kept. */
guint dfs_ascconv_size(const DfsAscconv *a);

/* Is the key there (whatever its value)? */
gboolean dfs_ascconv_has(const DfsAscconv *a, const char *key);

/* The value of key as a number (decimal, or 0x hexadecimal); FALSE where
 * the key is absent or its value is not a number. */
gboolean dfs_ascconv_number(const DfsAscconv *a, const char *key, double *out);

/* The value of key as a string: the text between its first quotes (the
 * protocol doubles them: ""text"" is text), or NULL where the key is
 * absent, its value not quoted or empty.  Owned by a. */
const char *dfs_ascconv_string(const DfsAscconv *a, const char *key);

/* The first key, in the text's order, that starts with prefix and ends
 * with suffix, or NULL.  Owned by a. */
const char *dfs_ascconv_first_key(const DfsAscconv *a, const char *prefix, const char *suffix);

G_END_DECLS
