/* Fuzz target for the streaming DICOM JSON parser of QIDO-RS results
 * (web/qido.h).
 *
 * Input: one flags byte, then the JSON.  It is parsed whole, in pieces of 1
 * to 64 bytes (from the flags) and, up to 64 KiB, one byte at a time, with a
 * row bound of 4 KiB (flags bit 7) or the default: the three parses give the
 * same rows (a digest of every attribute's tag, VR, values, items, bulk data
 * URI and inline flag) and the same outcome, and a failure says why.  Every
 * row holds well-formed attributes: a VR of two capitals or none, values
 * that are strings, items only for SQ and values never for SQ.  See fuzz.h. */
#include <string.h>

#include "base/error.h"
#include "fuzz.h"
#include "web/qido.h"

#define BYTES_MAX (64 * 1024)

static gboolean digest_row(const DfsQidoRow *row, gpointer user, GError **error)
{
    GChecksum *sum = user;
    g_checksum_update(sum, (const guchar *)&row->index, sizeof row->index);
    for (guint k = 0; k < row->n_attrs; k++) {
        const DfsQidoAttr *a = &row->attrs[k];
        FUZZ_CHECK(a->vr[2] == '\0');
        FUZZ_CHECK(a->vr[0] == '\0' || (g_ascii_isupper(a->vr[0]) && g_ascii_isupper(a->vr[1])));
        gboolean sq = strcmp(a->vr, "SQ") == 0;
        FUZZ_CHECK(!sq || a->n_values == 0);
        FUZZ_CHECK(sq || a->n_items == 0);
        FUZZ_CHECK((a->n_values == 0) == (a->values == NULL));
        g_checksum_update(sum, (const guchar *)&a->tag, sizeof a->tag);
        g_checksum_update(sum, (const guchar *)a->vr, 3);
        g_checksum_update(sum, (const guchar *)&a->n_items, sizeof a->n_items);
        for (guint v = 0; v < a->n_values; v++) {
            FUZZ_CHECK(a->values[v] != NULL);
            g_checksum_update(sum, (const guchar *)a->values[v], (gssize)strlen(a->values[v]) + 1);
        }
        if (a->bulk_data_uri)
            g_checksum_update(sum, (const guchar *)a->bulk_data_uri, -1);
        g_checksum_update(sum, (const guchar *)&a->inline_binary, sizeof a->inline_binary);
    }
    return TRUE;
}

/* Parse in pieces of `piece` bytes; the digest of the rows and the outcome. */
static char *parse(const guint8 *data, gsize size, gsize piece, gsize max_row, int *code)
{
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    g_autoptr(DfsQidoParser) p = dfs_qido_parser_new(max_row, digest_row, sum);
    g_autoptr(GError) error = NULL;
    gboolean ok = TRUE;
    for (gsize at = 0; ok && at < size; at += piece)
        ok = dfs_qido_parser_feed(p, data + at, MIN(piece, size - at), &error);
    if (ok)
        ok = dfs_qido_parser_finish(p, &error);
    if (!ok) {
        FUZZ_CHECK_REASON(error);
        FUZZ_CHECK(error->domain == DFS_ERROR);
    }
    *code = ok ? -1 : error->code;
    char *digest = g_strdup(g_checksum_get_string(sum));
    g_checksum_free(sum);
    return digest;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    guint8 flags = data[0];
    data++;
    size--;
    gsize max_row = (flags & 0x80) ? 4096 : 0;
    int code_whole, code_pieces;
    g_autofree char *whole = parse(data, size, MAX(size, 1), max_row, &code_whole);
    g_autofree char *pieces = parse(data, size, (flags & 63) + 1, max_row, &code_pieces);
    /* A row bound is checked by slices, so only without one (or with the
     * same slices) must the rows agree exactly; the outcome's kind must. */
    if (max_row == 0) {
        FUZZ_CHECK(strcmp(whole, pieces) == 0);
        FUZZ_CHECK(code_whole == code_pieces);
    }
    if (size <= BYTES_MAX && max_row == 0) {
        int code_bytes;
        g_autofree char *bytes = parse(data, size, 1, max_row, &code_bytes);
        FUZZ_CHECK(strcmp(whole, bytes) == 0);
        FUZZ_CHECK(code_whole == code_bytes);
    }
    return 0;
}
