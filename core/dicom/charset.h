/* dicomfs core: Specific Character Set (0008,0005) decoding to UTF-8.
 *
 * PS3.5 6.1 and Annex H-K: single-byte sets (ISO_IR 100 ... 203, 13, 166),
 * the ISO 2022 code extension forms (ISO 2022 IR 6 ... IR 87, 159, 149, 58)
 * with escape sequences, and the multi-byte sets ISO_IR 192 (UTF-8), GB18030
 * and GBK.  Output is always valid UTF-8: bytes that cannot be decoded become
 * U+FFFD.  All functions are thread-safe. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _DfsCharset DfsCharset;

/* How delimiters reset ISO 2022 state (PS3.5 6.1.2.5.3): every value resets
 * at CR LF FF TAB and '\'; a PN also at '^' and '='. */
typedef enum {
    DFS_TEXT_PLAIN = 0, /* SH LO UC ST LT UT */
    DFS_TEXT_PN = 1,    /* PN: '^' and '=' also reset */
} DfsTextKind;

/* Parse the raw bytes of a (0008,0005) value ("ISO 2022 IR 6\ISO 2022 IR 87").
 * Unknown defined terms are kept as unknown (decoded as the default
 * repertoire) and reported by dfs_charset_has_unknown().  Returns a new
 * charset; free with dfs_charset_free().  Never fails. */
DfsCharset *dfs_charset_parse(const guint8 *value, gsize len);

void dfs_charset_free(DfsCharset *cs);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DfsCharset, dfs_charset_free)

/* TRUE if a term in the value was not a defined term. */
gboolean dfs_charset_has_unknown(const DfsCharset *cs);

/* The terms as written, trimmed, joined by '\' (for messages).  Owned by cs. */
const char *dfs_charset_terms(const DfsCharset *cs);

/* Decode `len` bytes to UTF-8 appended to `out`.  cs may be NULL for the
 * default repertoire (ISO_IR 6; bytes above 0x7F are taken as ISO 8859-1 as
 * pydicom and DCMTK do).  Never fails; invalid sequences become U+FFFD. */
void dfs_charset_decode(const DfsCharset *cs, DfsTextKind kind, const guint8 *bytes, gsize len,
                        GString *out);

G_END_DECLS
