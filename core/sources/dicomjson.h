/* dicomfs core: DICOM JSON attributes (PS3.18 F.2) as a binary Part 10
 * file, so that a DICOMweb source's instances are read by our own reader
 * (dicom/reader.h) and named and valued exactly as a file on disk.
 *
 * An encoder collects the attributes of one instance, possibly from several
 * rows of the QIDO parser (web/qido.h): a study row, a series row, an
 * instance row; the first value given for a tag wins.  It then writes them
 * as a Part 10 file: the 128-byte preamble, "DICM", the File Meta
 * Information (PS3.10 7.1) made here, and the data set, its elements in tag
 * order.  What JSON carries and what it does not:
 *
 *   - text VRs (AE AS CS DA DS DT IS LO LT PN SH ST TM UC UI UR UT): the
 *     values joined by '\', padded to even length (UI with NUL, the others
 *     with a space, PS3.5 6.2).  A PN comes with its groups joined by '='
 *     (as the parser gives it).  DS and IS come as the JSON text of a
 *     number (F.2.3.1), kept as given when it fits the VR: a DS longer than
 *     16 characters is written again with fewer digits, an IS must be an
 *     integer (an integral "12.0" or "1e3" is written "12", "1000");
 *   - binary numbers (US SS UL SL FL FD SV UV, and AT as "GGGGEEEE"): each
 *     value parsed from its text; one that does not parse, or is out of the
 *     VR's range, is an error (DFS_ERROR_MALFORMED naming the tag);
 *   - SQ: the rows keep no items, so a sequence is written empty (defined
 *     length 0): present, with no items;
 *   - OB OD OF OL OV OW UN (bulk data, BulkDataURI or InlineBinary): the
 *     value is not here, so the element is written empty (length 0);
 *   - an attribute without a VR takes the dictionary's (dicom/dict.h; the
 *     first where it allows two), else UN; an unknown VR is UN;
 *   - group 0002 of the input is ignored (the meta is made here), group
 *     lengths (gggg,0000) and the item tags (FFFE,xxxx) are dropped;
 *   - Specific Character Set (0008,0005) is "ISO_IR 192" whenever any text
 *     value is present (JSON is UTF-8, PS3.18 F.2), whatever the row said.
 *
 * A value too long for its element's length field is DFS_ERROR_LIMIT:
 * over 65,534 bytes for the VRs with a 2-byte length in explicit VR (PS3.5
 * 7.1.2), over 0xFFFFFFFE bytes for the others.
 *
 * Costs: memory linear in the attributes added, each one's strings copied
 * once into one buffer, and a hash entry per tag; encoding sorts the
 * attributes (n log n) and writes each once, through one scratch buffer as
 * large as the largest value (a deflated data set takes one more buffer of
 * its size while it is compressed). */
#pragma once

#include <glib.h>

#include "web/qido.h"

G_BEGIN_DECLS

typedef struct _DfsDicomJson DfsDicomJson;

/* An empty encoder.  Free with dfs_dicomjson_free. */
DfsDicomJson *dfs_dicomjson_new(void);
void dfs_dicomjson_free(DfsDicomJson *j);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DfsDicomJson, dfs_dicomjson_free)

/* Empty again (for the next instance), its memory kept for reuse. */
void dfs_dicomjson_clear(DfsDicomJson *j);

/* Add every attribute of row, copied (the row may go once this returns). */
void dfs_dicomjson_add_row(DfsDicomJson *j, const DfsQidoRow *row);

/* Add one attribute, copied; ignored when the tag was added already. */
void dfs_dicomjson_add(DfsDicomJson *j, const DfsQidoAttr *a);

/* The attributes as a Part 10 file in out (emptied first): preamble,
 * "DICM", group 0002 (its group length, version, Media Storage SOP Class
 * and Instance UID from (0008,0016) and (0008,0018) where present, and
 * Transfer Syntax UID: transfer_syntax, or Explicit VR Little Endian when
 * NULL), then the data set in the encoding that transfer syntax says:
 * Implicit VR Little Endian, Explicit VR Big Endian, Deflated Explicit VR
 * Little Endian (PS3.5 A.5), or Explicit VR Little Endian for every other
 * (the encapsulated ones included).  The encoder is left as it was (it may
 * encode again).  FALSE with an error (see the header comment; a
 * transfer_syntax longer than a UID, DFS_ERROR_MALFORMED) and out undefined
 * on failure. */
gboolean dfs_dicomjson_encode(DfsDicomJson *j, const char *transfer_syntax, GString *out,
                              GError **error);

G_END_DECLS
