/* Test helper: DICOM data sets built byte by byte from the encoding rules
 * of PS3.5 (7.1 element headers, 7.5 items) and PS3.10 (7.1 preamble and
 * meta), so tests state their input in the standard's terms. */
#pragma once

#include <glib.h>

#include "dicom/reader.h"

typedef struct {
    GByteArray *b;
    gboolean big;
    gboolean implicit;
} TestEnc;

void enc_put16(TestEnc *e, guint16 v);
void enc_put32(TestEnc *e, guint32 v);
void enc_tag(TestEnc *e, guint32 tag);
/* Element header, explicit or implicit per e->implicit. */
void enc_header(TestEnc *e, guint32 tag, const char *vr, guint32 len);
void enc_element(TestEnc *e, guint32 tag, const char *vr, const void *v, guint32 len);
/* Text padded to even length (NUL for UI, space otherwise). */
void enc_text(TestEnc *e, guint32 tag, const char *vr, const char *s);
void enc_item(TestEnc *e, guint32 len);
void enc_delim(TestEnc *e, guint32 tag);
/* Preamble, DICM and a meta group naming the transfer syntax. */
TestEnc enc_part10(const char *ts);
/* Read what was built (consumes e->b). */
DfsDataset *enc_read(TestEnc *e, DfsReadFlags flags, GError **error);
