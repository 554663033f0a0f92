/* Fuzz target for character-set decoding (charset.h).
 *
 * Input: one flags byte (bit 0: decode as PN, bit 1: no charset, the default
 * repertoire), one byte n, n bytes of a Specific Character Set value
 * ("ISO 2022 IR 6\ISO 2022 IR 87"), then the text to decode.  The text is
 * decoded whole and in two parts (at a split point taken from the flags),
 * and in both kinds.  The output is valid UTF-8 without NUL, appended to
 * what was there; the terms are valid UTF-8.  See fuzz.h. */
#include <string.h>

#include "dicom/charset.h"
#include "fuzz.h"

static void decode_check(const DfsCharset *cs, DfsTextKind kind, const guint8 *text, gsize len)
{
    static const char prefix[] = "kept\\";
    g_autoptr(GString) out = g_string_new(prefix);
    dfs_charset_decode(cs, kind, text, len, out);
    FUZZ_CHECK(out->len >= sizeof prefix - 1 && memcmp(out->str, prefix, sizeof prefix - 1) == 0);
    FUZZ_CHECK(g_utf8_validate(out->str, (gssize)out->len, NULL));
    FUZZ_CHECK(strlen(out->str) == out->len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    guint8 flags = data[0];
    gsize n = MIN((gsize)data[1], size - 2);
    const guint8 *value = data + 2, *text = data + 2 + n;
    gsize len = size - 2 - n;

    g_autoptr(DfsCharset) cs = dfs_charset_parse(value, n);
    FUZZ_CHECK(cs != NULL);
    const char *terms = dfs_charset_terms(cs);
    FUZZ_CHECK(terms != NULL && g_utf8_validate(terms, -1, NULL));
    (void)dfs_charset_has_unknown(cs);

    const DfsCharset *use = (flags & 2) ? NULL : cs;
    DfsTextKind kind = (flags & 1) ? DFS_TEXT_PN : DFS_TEXT_PLAIN;
    decode_check(use, kind, text, len);
    decode_check(use, kind == DFS_TEXT_PN ? DFS_TEXT_PLAIN : DFS_TEXT_PN, text, len);
    /* Decoding a value in parts (as values split at '\' are) never breaks
     * the output, wherever the split falls. */
    gsize split = len > 0 ? (flags >> 2) % (len + 1) : 0;
    decode_check(use, kind, text, split);
    decode_check(use, kind, text + split, len - split);
    return 0;
}
